//! The two ways a copy is written: a multipart upload into a media bucket
//! (its upload id kept with the row), or a staging file in a media folder
//! renamed on completion.

use std::sync::{Arc, Mutex};

use import_core::FailureCode;
use import_core::outcome::CopyEnd;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as StorePath;
use object_store::{
    MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload, PutPayloadMut, PutResult, UploadPart,
    WriteMultipart,
};

use super::copy::{PART_SIZE, PARTS_IN_FLIGHT};
use super::lease::Fence;

/// A multipart upload into a bucket through its `MultipartStore`, whose id
/// the copy knows (and keeps with its row), as `WriteMultipart` drives it.
pub(super) struct TrackedUpload {
    store: Arc<dyn MultipartStore>,
    path: StorePath,
    id: String,
    /// Each part's id, by index, as its upload finishes.
    parts: Arc<Mutex<Vec<Option<PartId>>>>,
    next: usize,
}

impl std::fmt::Debug for TrackedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedUpload")
            .field("path", &self.path)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl MultipartUpload for TrackedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let index = self.next;
        self.next += 1;
        let (store, path, id, parts) = (
            self.store.clone(),
            self.path.clone(),
            self.id.clone(),
            self.parts.clone(),
        );
        Box::pin(async move {
            let part = store.put_part(&path, &id, index, data).await?;
            let mut parts = parts.lock().map_err(|_| object_store::Error::Generic {
                store: "media",
                source: "a part's bookkeeping was poisoned".into(),
            })?;
            if parts.len() <= index {
                parts.resize(index + 1, None);
            }
            parts[index] = Some(part);
            Ok(())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let parts: Option<Vec<PartId>> = self
            .parts
            .lock()
            .map_err(|_| object_store::Error::Generic {
                store: "media",
                source: "a part's bookkeeping was poisoned".into(),
            })?
            .iter()
            .cloned()
            .collect();
        let parts = parts.ok_or_else(|| object_store::Error::Generic {
            store: "media",
            source: "a part of the upload did not finish".into(),
        })?;
        self.store
            .complete_multipart(&self.path, &self.id, parts)
            .await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.store.abort_multipart(&self.path, &self.id).await
    }
}

/// A multipart upload that is aborted unless [`StagedUpload::finish`] ends it.
///
/// Once `finish` has taken the writer, a copy dropped while the final part
/// and the completion are in flight is not aborted here: in a media folder
/// the staging sweep removes what stays (`worker::sweep`), in a bucket the
/// lifecycle rule of `docs/operations.md` does.
///
/// An object of at most [`WHOLE_PUT_MAX`] is not a multipart upload at all: its
/// bytes are kept (`whole`) and written with one `put` once checked, which
/// is atomic in a folder and in a bucket alike, leaves nothing to abort and
/// costs one request instead of three.
pub(super) struct StagedUpload {
    pub(super) writer: Option<WriteMultipart>,
    pub(super) whole: Option<PutPayloadMut>,
}

impl StagedUpload {
    pub(super) async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), CopyEnd> {
        if let Some(whole) = self.whole.as_mut() {
            whole.push(chunk);
            return Ok(());
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(CopyEnd::Retry(
                FailureCode::StorageUnavailable,
                "the upload to the media store was already closed".into(),
            ));
        };
        writer
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(|e| {
                CopyEnd::Retry(
                    FailureCode::StorageUnavailable,
                    format!("writing to the media store failed: {e}"),
                )
            })?;
        writer.put(chunk);
        Ok(())
    }

    pub(super) async fn finish(
        mut self,
        media: &dyn ObjectStore,
        dest: &StorePath,
    ) -> Result<(), CopyEnd> {
        if let Some(whole) = self.whole.take() {
            return media
                .put(dest, whole.freeze())
                .await
                .map(drop)
                .map_err(|e| {
                    CopyEnd::Retry(
                        FailureCode::StorageUnavailable,
                        format!("writing to the media store failed: {e}"),
                    )
                });
        }
        let Some(writer) = self.writer.take() else {
            return Err(CopyEnd::Retry(
                FailureCode::StorageUnavailable,
                "the upload to the media store was already closed".into(),
            ));
        };
        writer.finish().await.map(drop).map_err(|e| {
            CopyEnd::Retry(
                FailureCode::StorageUnavailable,
                format!("finishing the upload to the media store failed: {e}"),
            )
        })
    }
}

impl StagedUpload {
    /// Abort now, and wait for it: the staged parts are gone when this returns.
    pub(super) async fn abort(mut self) {
        if let Some(writer) = self.writer.take()
            && let Err(e) = writer.abort().await
        {
            tracing::warn!(error = %e, "aborting an unfinished upload failed");
        }
    }
}

impl Drop for StagedUpload {
    fn drop(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        // Dropped before `finish`: an early return, or the copy's future was
        // dropped (its lease was lost). Abort in the background.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, "aborting an unfinished upload failed");
                }
            });
        }
    }
}

/// Start the multipart upload of an object larger than one part.
pub(super) async fn start_upload(
    media: &dyn ObjectStore,
    media_multipart: Option<&Arc<dyn MultipartStore>>,
    dest: &StorePath,
    lease: &dyn Fence,
) -> Result<WriteMultipart, CopyEnd> {
    let refused = |e: object_store::Error| {
        CopyEnd::Retry(
            FailureCode::StorageUnavailable,
            format!("the media store refused the upload: {e}"),
        )
    };
    let upload: Box<dyn MultipartUpload> = match media_multipart {
        // A bucket: the upload id is kept with the row before any part is
        // sent, so whoever takes the row over can abort what this copy leaves.
        Some(multipart) => {
            let id = multipart.create_multipart(dest).await.map_err(refused)?;
            let tracked = TrackedUpload {
                store: multipart.clone(),
                path: dest.clone(),
                id: id.clone(),
                parts: Arc::default(),
                next: 0,
            };
            if let Err(lost) = lease.record_upload(Some(&id)).await {
                let _ = multipart.abort_multipart(dest, &id).await;
                return Err(lost);
            }
            Box::new(tracked)
        }
        None => media.put_multipart(dest).await.map_err(refused)?,
    };
    Ok(WriteMultipart::new_with_chunk_size(upload, PART_SIZE))
}
