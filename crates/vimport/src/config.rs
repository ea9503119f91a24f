//! Where the API key and base URL come from: flags, `VIMPORT_*` variables, or a
//! config file.

use std::path::PathBuf;

use serde::Deserialize;

use crate::cli::ApiArgs;

/// The config file: `{"api_key": "...", "base_url": "..."}`.
#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    api_key: Option<String>,
    base_url: Option<String>,
}

fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("vimport").join("config.json"))
}

/// A client from the flags, the environment and the config file (in that order).
pub(crate) fn client(api: &ApiArgs) -> Result<import_async::Client, String> {
    let (path, explicit) = match &api.config {
        Some(p) => (Some(p.clone()), true),
        None => (default_path(), false),
    };
    let file = match path {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str::<ConfigFile>(&text).map_err(|e| {
                format!(
                    "the config file {} is not valid JSON with `api_key` and `base_url`: {e}",
                    path.display()
                )
            })?,
            Err(e) if explicit => {
                return Err(format!(
                    "cannot read the config file {}: {e}",
                    path.display()
                ));
            }
            Err(_) => ConfigFile::default(),
        },
        None => ConfigFile::default(),
    };
    let Some(key) = api.api_key.clone().or(file.api_key) else {
        return Err(
            "no API key: pass --api-key, set VIMPORT_API_KEY, or put `api_key` in the config file"
                .into(),
        );
    };
    let mut builder = import_async::Client::builder().api_key(key);
    if let Some(url) = api.base_url.clone().or(file.base_url) {
        builder = builder.base_url(url);
    }
    builder.build().map_err(|e| e.to_string())
}
