//! `vimport serve` and `vimport keys create`.

use import_server::{Server, ServerConfig};

use crate::cli::{KeysCreateArgs, KeysListArgs, KeysRevokeArgs, MediaOption, ServeArgs, StoreArgs};
use crate::output::Exit;

/// The server's configuration of the store arguments; the error (for
/// standard error) names a file that cannot be read, never its contents.
fn server_config(store: StoreArgs) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::new(store.data_dir);
    config.database_url = match store.database_url_file {
        Some(path) => {
            let text = read_secret_file(&path, "--database-url-file")?;
            let url = text.lines().next().unwrap_or_default().trim().to_owned();
            if url.is_empty() {
                return Err(format!(
                    "--database-url-file {}: the file is empty: write the database URL on its first line",
                    path.display()
                ));
            }
            Some(url)
        }
        None => store.database_url,
    };
    config.secret_key = std::env::var("VIMPORT_SECRET_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    Ok(config)
}

/// The text of a file that holds secrets, at most
/// [`MAX_SECRET_FILE_BYTES`](import_core::fields::MAX_SECRET_FILE_BYTES); the
/// error names the file and the flag, never what the file holds.
fn read_secret_file(path: &std::path::Path, flag: &str) -> Result<String, String> {
    use std::io::Read;
    let limit = import_core::fields::MAX_SECRET_FILE_BYTES;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("{flag} {}: cannot open the file: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{flag} {}: cannot read the file: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!(
            "{flag} {}: the file is larger than {} KiB; it should hold a few lines",
            path.display(),
            limit / 1024
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| format!("{flag} {}: the file is not UTF-8 text", path.display()))
}

/// The settings of a `--media-option-file`: one KEY=VALUE per line, blank
/// lines and `#` comments skipped.
fn media_option_file(path: &std::path::Path) -> Result<Vec<MediaOption>, String> {
    let text = read_secret_file(path, "--media-option-file")?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| MediaOption(l.to_owned()))
        .collect())
}

/// Run the server until SIGINT or SIGTERM.
pub(crate) async fn serve(args: ServeArgs) -> Exit {
    let mut config = match server_config(args.store) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    config.listen = args.listen;
    config.media_url = args.media_url;
    // The file's settings first, so that a --media-option given beside it wins.
    let mut raw = match args.media_option_file.as_deref().map(media_option_file) {
        Some(Ok(options)) => options,
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
        None => Vec::new(),
    };
    raw.extend(args.media_options);
    config.media_options = match media_options(&raw) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    config.max_in_flight = args.max_in_flight;
    config.copy_memory = args.copy_memory;
    config.allow_endpoints = args.allow_endpoints;
    config.source_proxy = args.source_proxy;
    config.source_name_servers = args.source_name_servers;
    config.hf_endpoint = args.hf_endpoint;
    config.lease = std::time::Duration::from_secs(args.lease_secs.max(1));
    config.max_object_size = args.max_object_size;
    config.min_source_rate = args.min_source_rate;
    config.source_rate_window = std::time::Duration::from_secs(args.source_rate_window);
    config.instance_timeout = std::time::Duration::from_secs(args.instance_timeout);
    config.header_timeout = std::time::Duration::from_secs(args.header_timeout);
    config.body_timeout = std::time::Duration::from_secs(args.body_timeout);
    config.idle_timeout = std::time::Duration::from_secs(args.idle_timeout);
    config.max_connections = args.max_connections;
    config.max_head_bytes = args.max_head_bytes;
    config.max_connections_per_peer = args.max_connections_per_peer;
    config.max_failed_auth_per_minute = args.max_failed_auth_per_minute;
    config.body_limit = args.body_limit;
    config.body_memory = args.body_memory;
    config.body_memory_wait = std::time::Duration::from_secs(args.body_memory_wait);
    config.max_objects = args.max_objects;
    config.requests_per_minute = args.requests_per_minute;
    config.max_pending_rows_per_org = args.max_pending_rows_per_org;
    let signals = StopSignals::listen();
    let server = match Server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Error;
        }
    };
    say!("vimport server listening on {}", server.base_url());
    signals.recv().await;
    tracing::info!("stopping: finishing the rows being copied, handing back the rest");
    server.shutdown().await;
    Exit::Ok
}

/// Split each `--media-option` into its key and value. The error names the
/// option by position, never by its text (the value may be a secret).
fn media_options(raw: &[MediaOption]) -> Result<Vec<(String, String)>, String> {
    raw.iter()
        .enumerate()
        .map(|(i, option)| {
            let n = i + 1;
            let (key, value) = option.0.split_once('=').ok_or_else(|| {
                format!(
                    "media option #{n} (--media-option-file, then --media-option or VIMPORT_MEDIA_OPTIONS) has no `=`: \
                     write KEY=VALUE, for example --media-option aws_region=us-east-1"
                )
            })?;
            let key = key.trim();
            if key.is_empty() {
                return Err(format!(
                    "media option #{n} (--media-option-file, then --media-option or VIMPORT_MEDIA_OPTIONS) has no KEY \
                     before `=`: write KEY=VALUE, for example --media-option aws_region=us-east-1"
                ));
            }
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// SIGINT and SIGTERM, listened for from before the server starts: a signal
/// that arrives while it starts (or just after it prints its address) stops
/// it gracefully instead of killing it with the default action.
struct StopSignals {
    #[cfg(unix)]
    listened: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Install the handlers now.
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                listened: signal(SignalKind::interrupt())
                    .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                    .ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Wait for the first of them.
    async fn recv(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.listened {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Create an API key and print it as the last line.
pub(crate) async fn keys_create(args: KeysCreateArgs) -> Exit {
    let config = match server_config(args.store) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    match import_server::create_api_key_expiring(
        &config,
        &args.user,
        &args.org,
        args.name.as_deref(),
        args.expires_in,
    )
    .await
    {
        Ok(key) => {
            say!(
                "Created an API key for user `{}` of org `{}`.",
                args.user.trim(),
                args.org.trim()
            );
            say!("Store it now: it is kept only as a hash and cannot be shown again.");
            say!("{key}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: creating the API key: {e}");
            Exit::Error
        }
    }
}

/// An API key as `vimport keys list --json` prints it.
#[derive(serde::Serialize)]
struct ListedKey {
    id: String,
    user: String,
    org: String,
    name: Option<String>,
    created_at: String,
    last_used_at: Option<String>,
    expires_at: Option<String>,
    revoked_at: Option<String>,
}

fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(t).to_string()
}

pub(crate) async fn keys_list(args: KeysListArgs) -> Exit {
    let config = match server_config(args.store) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let keys = match import_server::list_api_keys(&config).await {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("error: listing the API keys: {e}");
            return Exit::Error;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let listed: Vec<ListedKey> = keys
        .into_iter()
        .filter(|k| args.all || (k.revoked_at.is_none() && k.expires_at.is_none_or(|at| at > now)))
        .map(|k| ListedKey {
            id: k.id,
            user: k.principal.user_id,
            org: k.principal.org_id,
            name: k.principal.display_name,
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
            expires_at: k.expires_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
        })
        .collect();
    if args.json {
        match serde_json::to_string_pretty(&listed) {
            Ok(text) => say!("{text}"),
            Err(e) => {
                eprintln!("error: encoding the list: {e}");
                return Exit::Error;
            }
        }
        return Exit::Ok;
    }
    if listed.is_empty() {
        say!("No API keys; create one with `vimport keys create --user USER --org ORG`.");
        return Exit::Ok;
    }
    say!("ID                   USER  ORG  NAME  CREATED  LAST USED  EXPIRES  REVOKED");
    let dash = || "-".to_owned();
    for k in listed {
        say!(
            "{}  {}  {}  {}  {}  {}  {}  {}",
            k.id,
            k.user,
            k.org,
            k.name.unwrap_or_else(dash),
            k.created_at,
            k.last_used_at.unwrap_or_else(dash),
            k.expires_at.unwrap_or_else(dash),
            k.revoked_at.unwrap_or_else(dash),
        );
    }
    Exit::Ok
}

pub(crate) async fn keys_revoke(args: KeysRevokeArgs) -> Exit {
    let config = match server_config(args.store) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    match import_server::revoke_api_key(&config, &args.id).await {
        Ok(import_server::Revoked::Now) => {
            say!(
                "Revoked API key `{}`: every server on this database refuses it from its next request.",
                args.id.trim()
            );
            Exit::Ok
        }
        Ok(import_server::Revoked::Already) => {
            say!("API key `{}` was already revoked.", args.id.trim());
            Exit::Ok
        }
        Ok(import_server::Revoked::Unknown) => {
            eprintln!(
                "error: no API key has the id `{}`; `vimport keys list` shows the ids",
                args.id.trim()
            );
            Exit::Usage
        }
        Err(e) => {
            eprintln!("error: revoking the API key: {e}");
            Exit::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(items: &[&str]) -> Vec<MediaOption> {
        items.iter().map(|s| MediaOption((*s).to_owned())).collect()
    }

    #[test]
    fn copy_memory_and_copies_in_flight_are_bounded_flags() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(["vimport", "serve"].iter().chain(args))
        };
        let serve = |cli: crate::cli::Cli| match cli.command {
            crate::cli::Command::Serve(args) => args,
            _ => unreachable!("serve was parsed"),
        };
        let defaults = serve(parse(&[]).unwrap());
        assert_eq!(
            defaults.max_in_flight,
            import_core::fields::DEFAULT_MAX_IN_FLIGHT
        );
        assert_eq!(
            defaults.copy_memory,
            import_core::fields::DEFAULT_COPY_MEMORY
        );
        let set = serve(parse(&["--copy-memory", "64MiB", "--workers", "8"]).unwrap());
        assert_eq!((set.copy_memory, set.max_in_flight), (64 << 20, 8));
        let too_little = parse(&["--copy-memory", "512KiB"]).unwrap_err().to_string();
        assert!(too_little.contains("at least 1MiB"), "{too_little}");
        assert!(parse(&["--max-in-flight", "5000"]).is_err());
    }

    #[test]
    fn media_options_split_on_the_first_equals_sign() {
        let parsed = media_options(&raw(&[
            "aws_region=us-east-1",
            " aws_secret_access_key=a=b/c+d",
        ]))
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                ("aws_region".to_owned(), "us-east-1".to_owned()),
                ("aws_secret_access_key".to_owned(), "a=b/c+d".to_owned()),
            ]
        );
    }

    #[test]
    fn a_malformed_media_option_is_named_by_position_not_by_its_text() {
        let e = media_options(&raw(&["aws_region=x", "sekrit-value-no-equals"])).unwrap_err();
        assert!(e.contains("#2") && e.contains("KEY=VALUE"), "{e}");
        assert!(!e.contains("sekrit"), "{e}");
        let e = media_options(&raw(&["=sekrit"])).unwrap_err();
        assert!(e.contains("no KEY") && !e.contains("sekrit"), "{e}");
    }

    #[test]
    fn media_option_debug_hides_the_value() {
        let shown = format!("{:?}", raw(&["aws_secret_access_key=sekrit", "sekrit2"]));
        assert!(shown.contains("aws_secret_access_key"), "{shown}");
        assert!(!shown.contains("sekrit"), "{shown}");
    }
}
