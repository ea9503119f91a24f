//! The probe of a copied video (duration, size and codec from its `moov`
//! box, read as the bytes streamed past): its metadata, or its failure.

use import_core::FailureCode;
use import_core::wire::VideoMetadata;
use import_providers::mp4::ProbeError;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::copy::Copied;
use import_core::outcome::CopyEnd;

use super::lease::Fence;

/// The metadata of the video just stored at `dest`, from the probe made as
/// it was copied; a file that is not a playable MP4 fails its row and is
/// deleted (while the row's lease holds).
pub(super) async fn probe_stored(
    media: &dyn ObjectStore,
    dest: &StorePath,
    copied: Copied,
    xet_hash: Option<String>,
    lease: &dyn Fence,
) -> CopyEnd {
    match copied.probe {
        Ok(probe) => CopyEnd::Done(Box::new(VideoMetadata {
            size_bytes: Some(copied.size),
            sha256: Some(copied.sha256),
            duration_s: probe.duration_s,
            width: probe.width,
            height: probe.height,
            codec: probe.codec,
            verified_checksum: copied.verified,
            xet_hash,
        })),
        Err(ProbeError::Invalid(reason)) => {
            if let Err(lost) = lease.confirm().await {
                return lost;
            }
            let _ = media.delete(dest).await;
            CopyEnd::Fail(FailureCode::InvalidVideo, reason)
        }
        Err(e) => CopyEnd::Retry(
            FailureCode::StorageUnavailable,
            format!("probing the video failed: {e}"),
        ),
    }
}
