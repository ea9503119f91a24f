//! The probe of a copied video (duration, size and codec from its `moov`
//! box, read as the bytes streamed past): its metadata, or its failure.

use import_core::FailureCode;
use import_core::wire::VideoMetadata;
use import_providers::mp4::{ProbeError, Streamed};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::copy::Copied;
use import_core::outcome::CopyEnd;

use super::lease::Fence;
use crate::budget::MemoryBudget;

/// Where a copy was stored, and the memory a `moov` read back takes from.
pub(super) struct Stored<'a> {
    pub(super) media: &'a dyn ObjectStore,
    pub(super) dest: &'a StorePath,
    /// `--copy-memory`.
    pub(super) memory: &'a MemoryBudget,
}

/// The metadata of the video just stored, from the probe made as it was
/// copied (a `moov` too large to keep on the way read back from the stored
/// file, within its own reservation of the copy memory); a file that is not
/// a playable MP4 fails its row and is deleted (while the row's lease holds).
pub(super) async fn probe_stored(
    stored: &Stored<'_>,
    copied: Copied,
    xet_hash: Option<String>,
    lease: &dyn Fence,
) -> CopyEnd {
    let (media, dest) = (stored.media, stored.dest);
    let probed = match copied.probe {
        Ok(Streamed::Probed(found)) => Ok(found),
        Ok(Streamed::ReadBack(at)) => {
            let _memory = stored
                .memory
                .reserve(import_core::fields::moov_read_back_holds(at.size()))
                .await;
            import_providers::mp4::probe_moov(media, dest, &at).await
        }
        Err(e) => Err(e),
    };
    match probed {
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
