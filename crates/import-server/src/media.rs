//! The media store: where imported videos are written, opened from
//! `--media-url` and `--media-option`, and its layout, written once here
//! ([`video_path`]: each claim of a row writes `videos/{id}.{claim}.mp4`, and
//! the row records which claim's copy is its video; copies made before
//! claims were counted are `videos/{id}.mp4`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use import_core::VideoId;
use object_store::ObjectStore;
use object_store::path::Path as StorePath;

use crate::config::ServerConfig;
use crate::error::StartupError;

/// The folder of the media store that holds the imported videos.
const VIDEOS_DIR: &str = "videos";
/// The extension of every stored video.
const VIDEO_EXTENSION: &str = ".mp4";

/// The name of the copy that claim `claim` of the video `id` writes:
/// `{id}.{claim}.mp4`, or `{id}.mp4` for a copy made before claims were
/// counted (`None`).
fn video_name(id: &VideoId, claim: Option<u32>) -> String {
    match claim {
        Some(claim) => format!("{id}.{claim}{VIDEO_EXTENSION}"),
        None => format!("{id}{VIDEO_EXTENSION}"),
    }
}

/// Where claim `claim` of the video `id` writes its copy in the media
/// store: `videos/{id}.{claim}.mp4` (`None`: `videos/{id}.mp4`, a copy made
/// before claims were counted).
pub(crate) fn video_path(id: &VideoId, claim: Option<u32>) -> StorePath {
    StorePath::from(format!("{VIDEOS_DIR}/{}", video_name(id, claim)))
}

/// The folder of a local media store (`media`) that holds the videos.
pub(crate) fn videos_folder(media: &Path) -> PathBuf {
    media.join(VIDEOS_DIR)
}

/// The file of claim `claim` of the video `id` in a local media store
/// (`media`), as [`video_path`] names it.
pub(crate) fn video_file(media: &Path, id: &VideoId, claim: Option<u32>) -> PathBuf {
    videos_folder(media).join(video_name(id, claim))
}

/// The video and claim a file name of [`videos_folder`] (`ID.CLAIM.mp4`,
/// or `ID.mp4`) belongs to, if any.
pub(crate) fn video_of_file(name: &str) -> Option<(VideoId, Option<u32>)> {
    let stem = name.strip_suffix(VIDEO_EXTENSION)?;
    match stem.split_once('.') {
        Some((id, claim)) => Some((id.parse().ok()?, Some(claim.parse().ok()?))),
        None => Some((stem.parse().ok()?, None)),
    }
}

/// Open the media store a configuration names: the default folder, a folder
/// (`/path`, `file:///path`, or a relative path), or a bucket (`s3://bucket/prefix`,
/// the `https://` forms of S3 and R2, `gs://bucket/prefix`). A bucket store starts
/// from the standard environment variables (`AWS_*` for S3, `GOOGLE_*` for GCS)
/// and `config.media_options` override them; an unknown option is an error, not
/// silently dropped. Objects are written under the URL's path.
pub(crate) fn open(config: &ServerConfig) -> Result<Media, StartupError> {
    if let Some(folder) = media_folder(config) {
        let what = match config.media_url {
            None => "the default media folder",
            Some(_) => "a media folder",
        };
        refuse_options_for_folder(config, what)?;
        return Ok(Media {
            store: local_media(&folder)?,
            multipart: None,
            folder: Some(folder),
        });
    }
    let url = config.media_url.as_deref().unwrap_or_default();
    let shown = crate::config::redact_url(url);
    let what = || format!("media URL `{shown}`");
    let parsed = url::Url::parse(url).map_err(|e| StartupError::Config {
        what: what(),
        fix: format!(
            "use a folder path, file:///path, or a bucket URL such as s3://bucket/prefix ({e})"
        ),
    })?;
    let unsupported = || {
        StartupError::Config {
        what: what(),
        fix: "use a folder path, file:///path, s3://bucket/prefix (S3, R2, MinIO) or gs://bucket/prefix".into(),
    }
    };
    let (scheme, prefix) =
        object_store::ObjectStoreScheme::parse(&parsed).map_err(|_| unsupported())?;
    // Secrets that must not reach an error message, whatever the builder says.
    let mut secrets: Vec<String> = config
        .media_options
        .iter()
        .filter(|(key, _)| crate::config::is_secret_option(key))
        .map(|(_, value)| value.clone())
        .chain(parsed.password().map(str::to_owned))
        .collect();
    let built = |e: object_store::Error, secrets: &[String]| StartupError::Config {
        what: what(),
        fix: format!(
            "the media store could not be set up: {}; check --media-url and --media-option",
            scrub(&e.to_string(), secrets)
        ),
    };
    match scheme {
        object_store::ObjectStoreScheme::AmazonS3 => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            secrets.extend(env_secrets("AWS_"));
            let mut builder = AmazonS3Builder::from_env().with_url(url);
            for (key, value) in &config.media_options {
                let parsed_key: AmazonS3ConfigKey = media_option_key(
                    key,
                    "an s3:// media store",
                    "aws_endpoint, aws_access_key_id, aws_secret_access_key, aws_session_token, \
                     aws_region, aws_allow_http, aws_virtual_hosted_style_request",
                )?;
                builder = builder.with_config(parsed_key, value);
            }
            let store = builder.build().map_err(|e| built(e, &secrets))?;
            Ok(under_prefix(store, prefix))
        }
        object_store::ObjectStoreScheme::GoogleCloudStorage => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            secrets.extend(env_secrets("GOOGLE_"));
            let mut builder = GoogleCloudStorageBuilder::from_env().with_url(url);
            for (key, value) in &config.media_options {
                let parsed_key: GoogleConfigKey = media_option_key(
                    key,
                    "a gs:// media store",
                    "google_service_account (a key file path), google_service_account_key \
                     (the key's JSON), google_bearer_token",
                )?;
                builder = builder.with_config(parsed_key, value);
            }
            let store = builder.build().map_err(|e| built(e, &secrets))?;
            Ok(under_prefix(store, prefix))
        }
        _ => Err(unsupported()),
    }
}

/// Media options only configure a bucket; on a folder they are a mistake.
fn refuse_options_for_folder(config: &ServerConfig, which: &str) -> Result<(), StartupError> {
    match config.media_options.first() {
        None => Ok(()),
        Some((key, _)) => Err(StartupError::Config {
            what: format!("media option `{key}`"),
            fix: format!(
                "media options configure a bucket, but the media store is {which}; \
                 set --media-url to s3://bucket/prefix or gs://bucket/prefix, or drop \
                 --media-option (and VIMPORT_MEDIA_OPTIONS)"
            ),
        }),
    }
}

/// Parse a media option's key (any case) as a configuration key of the store.
fn media_option_key<K: std::str::FromStr>(
    key: &str,
    store: &str,
    examples: &str,
) -> Result<K, StartupError> {
    key.trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| StartupError::Config {
            what: format!("media option `{key}`"),
            fix: format!(
                "this is not a setting of {store}; use object_store configuration keys such as {examples}"
            ),
        })
}

/// The values of secret-looking environment variables under a prefix (`AWS_`).
fn env_secrets(prefix: &str) -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(key, _)| key.starts_with(prefix) && crate::config::is_secret_option(key))
        .map(|(_, value)| value)
        .collect()
}

/// A message with every secret value (of 4 characters or more) replaced.
fn scrub(message: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(message.to_owned(), |m, s| {
            m.replace(s.as_str(), "<redacted>")
        })
}

/// The media store, and for a bucket its multipart interface (whose upload
/// ids are kept with the rows being copied), or for a folder its path (whose
/// staging files are swept).
pub(crate) struct Media {
    /// Where imported videos are written.
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The bucket's multipart interface (`None` for a folder).
    pub(crate) multipart: Option<Arc<dyn object_store::multipart::MultipartStore>>,
    /// The folder, when the media store is a local folder.
    pub(crate) folder: Option<PathBuf>,
}

/// A bucket store that reads and writes under `prefix` (the URL's path).
fn under_prefix<S: ObjectStore + object_store::multipart::MultipartStore>(
    store: S,
    prefix: object_store::path::Path,
) -> Media {
    if prefix.as_ref().is_empty() {
        let store = Arc::new(store);
        Media {
            store: store.clone(),
            multipart: Some(store),
            folder: None,
        }
    } else {
        let store = Arc::new(object_store::prefix::PrefixStore::new(store, prefix));
        Media {
            store: store.clone(),
            multipart: Some(store),
            folder: None,
        }
    }
}

fn local_media(dir: &Path) -> Result<Arc<dyn ObjectStore>, StartupError> {
    std::fs::create_dir_all(dir).map_err(|e| StartupError::Io {
        what: format!("creating the media folder {}", dir.display()),
        source: e,
    })?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(|e| {
        StartupError::Config {
            what: format!("media folder {}", dir.display()),
            fix: e.to_string(),
        }
    })?;
    Ok(Arc::new(store))
}

/// The media folder of a configuration whose media store is a local folder.
fn media_folder(config: &ServerConfig) -> Option<PathBuf> {
    match config.media_url.as_deref() {
        None => Some(config.data_dir.join("media")),
        Some(url) if url.starts_with("file://") || !url.contains("://") => {
            Some(PathBuf::from(url.strip_prefix("file://").unwrap_or(url)))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_one_file_per_claim_of_a_video_under_videos() {
        let id: VideoId = "vi_0123456789abcdef".parse().unwrap();
        assert_eq!(
            video_path(&id, Some(2)).as_ref(),
            "videos/vi_0123456789abcdef.2.mp4"
        );
        assert_eq!(
            video_path(&id, None).as_ref(),
            "videos/vi_0123456789abcdef.mp4"
        );
        let file = video_file(Path::new("/data/media"), &id, Some(2));
        assert_eq!(
            file,
            Path::new("/data/media/videos/vi_0123456789abcdef.2.mp4")
        );
        let name = file.file_name().unwrap().to_str().unwrap();
        assert_eq!(video_of_file(name), Some((id.clone(), Some(2))));
        assert_eq!(video_of_file("vi_0123456789abcdef.mp4"), Some((id, None)));
        assert_eq!(video_of_file("vi_0123456789abcdef.x.mp4"), None);
        assert_eq!(video_of_file("notes.txt"), None);
        assert_eq!(
            video_of_file("x.mp4#1"),
            None,
            "a staging name is not a video"
        );
    }
}
