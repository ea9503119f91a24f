//! `copy_object`: one object streamed from its source into the media store
//! with bounded memory, its signature checked on the way, its SHA-256
//! computed and checked against the checksum the source declares; the upload
//! is aborted on every early return and when the copy is dropped (a lost
//! lease), so no half-written multipart upload stays behind, and it is
//! completed only while the row's lease is confirmed.

use aws_lc_rs::digest;
use futures::StreamExt;
use import_core::{ChecksumAlgorithm, FailureCode, NotMp4, SNIFF_LEN, sniff_mp4};
use import_providers::{ChecksumCheck, DeclaredChecksums, FailureKind, classify};
use object_store::path::Path as StorePath;
use std::sync::Arc;

use object_store::multipart::MultipartStore;
use object_store::{GetResult, ObjectStore, PutPayloadMut};
use prometheus_client::metrics::counter::Counter;

use import_core::outcome::CopyEnd;

use super::lane::{SLOW_AFTER, SlowLane};
use super::lease::Fence;
use super::upload::{StagedUpload, start_upload};
use crate::crypto::hex;

/// Bytes per part written to the media store; memory per copy is a few parts.
pub(super) const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight per copy.
pub(super) const PARTS_IN_FLIGHT: usize = 2;
/// The largest object written with one `put` instead of a multipart upload
/// (two parts' worth, within the 24 MiB a copy may reserve of
/// `--copy-memory`): a video of 8 MiB and a few bytes of header is one
/// request, not an upload of a full part and a tiny one.
const WHOLE_PUT_MAX: u64 = 2 * PART_SIZE as u64;

/// What a finished copy knows of the bytes it wrote.
pub(super) struct Copied {
    /// Bytes written.
    pub(super) size: u64,
    /// SHA-256 of those bytes, in hex.
    pub(super) sha256: String,
    /// The source's checksum the bytes matched, if it declared one.
    pub(super) verified: Option<ChecksumAlgorithm>,
    /// What the video's `moov` box says, read from the bytes as they
    /// streamed past (the stored file is never read back).
    pub(super) probe: Result<import_providers::mp4::Streamed, import_providers::mp4::ProbeError>,
}

/// A source failure as a row outcome: transient ones are retried.
pub(super) fn source_failure(err: &object_store::Error) -> CopyEnd {
    let failure = classify(err);
    let code = match failure.kind {
        FailureKind::Transient => {
            return CopyEnd::Retry(FailureCode::SourceUnavailable, failure.message);
        }
        FailureKind::NotFound => FailureCode::NotFound,
        FailureKind::AccessDenied => FailureCode::AccessDenied,
        FailureKind::BadCredentials => FailureCode::BadCredentials,
        // `FailureKind` may grow: anything else is a source error.
        _ => FailureCode::SourceError,
    };
    CopyEnd::Fail(code, failure.message)
}

/// The least a source must deliver: `bytes_per_sec` on average over every
/// `window` of a copy, or the attempt stops (transient: it is retried).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateFloor {
    /// Bytes per second.
    pub(crate) bytes_per_sec: u64,
    /// The window the rate is measured over.
    pub(crate) window: std::time::Duration,
}

impl RateFloor {
    /// Move a copy that runs under the floor to the slow lane, once it has
    /// run [`SLOW_AFTER`].
    fn judge(&self, started: tokio::time::Instant, copied: u64, lane: &mut SlowLane) {
        let elapsed = started.elapsed();
        if !lane.open() || elapsed < SLOW_AFTER {
            return;
        }
        if (copied as f64) < self.bytes_per_sec as f64 * elapsed.as_secs_f64() && lane.enter() {
            tracing::info!(
                copied,
                elapsed_s = elapsed.as_secs(),
                "a copy under the rate floor moved to the slow lane; its worker goes on"
            );
        }
    }

    fn check(&self, bytes: u64) -> Result<(), CopyEnd> {
        let needed = self.bytes_per_sec as f64 * self.window.as_secs_f64();
        if bytes as f64 >= needed {
            return Ok(());
        }
        Err(CopyEnd::Retry(
            FailureCode::SourceUnavailable,
            format!(
                "the source sent {bytes} bytes in {:.0} s, less than the {} bytes/s this server requires (--min-source-rate over --source-rate-window); the attempt was stopped",
                self.window.as_secs_f64(),
                self.bytes_per_sec
            ),
        ))
    }
}

/// Copy the object of the source's answer `got` (one `GET`: its size, ETag
/// and checksums come from that answer, and one answer is one version of
/// the object, so nothing can mix) to `dest` of `media`. The copy fails when
/// the first bytes are not an MP4 signature, and is retried when the source
/// delivers another number of bytes than its size or bytes that do not match
/// the checksum it declares. The upload is completed only after the row's
/// lease is confirmed, within [`Fence::safe_for`].
#[allow(clippy::too_many_arguments)]
pub(super) async fn copy_object(
    got: GetResult,
    media: &dyn ObjectStore,
    media_multipart: Option<&Arc<dyn MultipartStore>>,
    dest: &StorePath,
    copied_bytes: &Counter,
    floor: RateFloor,
    lease: &dyn Fence,
    lane: &mut SlowLane,
) -> Result<Copied, CopyEnd> {
    let size = got.meta.size;
    let check = got
        .extensions
        .get::<DeclaredChecksums>()
        .and_then(ChecksumCheck::new);
    let mut upload = if size <= WHOLE_PUT_MAX {
        StagedUpload {
            writer: None,
            whole: Some(PutPayloadMut::new()),
        }
    } else {
        StagedUpload {
            writer: Some(start_upload(media, media_multipart, dest, lease).await?),
            whole: None,
        }
    };
    let stream = got.into_stream();
    match stream_into(
        &mut upload,
        stream,
        size,
        copied_bytes,
        floor,
        check,
        Some(lane),
    )
    .await
    {
        Ok(copied) => {
            if let Err(lost) = lease.confirm().await {
                upload.abort().await;
                return Err(lost);
            }
            match tokio::time::timeout(lease.safe_for(), upload.finish(media, dest)).await {
                Ok(done) => done?,
                Err(_) => {
                    return Err(CopyEnd::Retry(
                        FailureCode::StorageUnavailable,
                        format!(
                            "the media store took more than {} s to complete the upload; it was abandoned",
                            lease.safe_for().as_secs()
                        ),
                    ));
                }
            }
            Ok(copied)
        }
        Err(failure) => {
            upload.abort().await;
            Err(failure)
        }
    }
}

/// Write the whole stream, checking the signature and the size and hashing
/// on the way.
async fn stream_into(
    upload: &mut StagedUpload,
    mut stream: futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    size: u64,
    copied_bytes: &Counter,
    floor: RateFloor,
    mut check: Option<ChecksumCheck>,
    mut lane: Option<&mut SlowLane>,
) -> Result<Copied, CopyEnd> {
    let mut hasher = digest::Context::new(&digest::SHA256);
    let mut boxes = import_providers::mp4::StreamProbe::new(size);
    let mut head_bytes: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
    let mut copied: u64 = 0;
    // The rate floor: bytes received in the current window.
    let started = tokio::time::Instant::now();
    let mut window_start = started;
    let mut window_bytes: u64 = 0;
    loop {
        // A copy that may still move to the slow lane is judged every second
        // from SLOW_AFTER on, even while its source sends nothing.
        let judge = lane.as_ref().is_some_and(|l| l.open()) && floor.bytes_per_sec > 0;
        let window_end = window_start + floor.window;
        let wake = if judge {
            let next_second = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
            window_end.min(next_second.max(started + SLOW_AFTER))
        } else {
            window_end
        };
        let next = match tokio::time::timeout_at(wake, stream.next()).await {
            Ok(next) => next,
            Err(_) if tokio::time::Instant::now() < window_end => {
                if let Some(lane) = lane.as_deref_mut() {
                    floor.judge(started, copied, lane);
                }
                continue;
            }
            Err(_) => {
                // A whole window without a chunk, or too few bytes in it.
                floor.check(window_bytes)?;
                window_start = tokio::time::Instant::now();
                window_bytes = 0;
                continue;
            }
        };
        let Some(chunk) = next else {
            break;
        };
        let chunk = chunk.map_err(|e| source_failure(&e))?;
        window_bytes += chunk.len() as u64;
        if tokio::time::Instant::now() >= window_start + floor.window {
            floor.check(window_bytes)?;
            window_start = tokio::time::Instant::now();
            window_bytes = 0;
        }
        if head_bytes.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - head_bytes.len()).min(chunk.len());
            head_bytes.extend_from_slice(&chunk[..take]);
            if head_bytes.len() == SNIFF_LEN {
                sniff(&head_bytes)?;
            }
        }
        // Never more than the source declared: a body that runs on is cut
        // here, not written to the end.
        if copied + chunk.len() as u64 > size {
            return Err(CopyEnd::Retry(
                FailureCode::SourceError,
                format!(
                    "the source sent more than the {size} bytes it declared for the object; the copy was stopped"
                ),
            ));
        }
        hasher.update(&chunk);
        boxes.update(&chunk);
        if let Some(check) = check.as_mut() {
            check.update(&chunk);
        }
        copied += chunk.len() as u64;
        if judge && let Some(lane) = lane.as_deref_mut() {
            floor.judge(started, copied, lane);
        }
        copied_bytes.inc_by(chunk.len() as u64);
        upload.write(chunk).await?;
    }
    if head_bytes.len() < SNIFF_LEN {
        sniff(&head_bytes)?;
    }
    if copied != size {
        return Err(CopyEnd::Retry(
            FailureCode::SourceUnavailable,
            format!("the object changed while it was copied: {copied} bytes read, {size} expected"),
        ));
    }
    let sha256 = hasher.finish();
    let verified = match check {
        Some(check) => Some(check.finish(sha256.as_ref()).map_err(|mismatch| {
            CopyEnd::Retry(FailureCode::ChecksumMismatch, mismatch.to_string())
        })?),
        None => None,
    };
    Ok(Copied {
        size: copied,
        sha256: hex(sha256.as_ref()),
        verified,
        probe: boxes.finish(),
    })
}

fn sniff(head: &[u8]) -> Result<(), CopyEnd> {
    sniff_mp4(head).map(drop).map_err(|not_mp4: NotMp4| {
        let code = match not_mp4 {
            NotMp4::Empty => FailureCode::Empty,
            _ => FailureCode::NotMp4,
        };
        CopyEnd::Fail(code, not_mp4.to_string())
    })
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, WriteMultipart};

    use super::*;

    /// The first bytes of an MP4: an `ftyp` box.
    fn ftyp() -> bytes::Bytes {
        let mut b = vec![0, 0, 0, 24];
        b.extend_from_slice(b"ftypisom\0\0\0\0isommp41");
        bytes::Bytes::from(b)
    }

    /// A floor no test source falls under.
    fn no_floor() -> RateFloor {
        RateFloor {
            bytes_per_sec: 0,
            window: std::time::Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn a_source_slower_than_the_floor_is_stopped_within_a_window() {
        let media = InMemory::new();
        let mut upload = staged(&media).await;
        // 1 KiB every 50 ms (20 KiB/s) against a floor of 100 KiB/s over 1 s.
        let drip = futures::stream::once(async { Ok(ftyp()) })
            .chain(futures::stream::unfold((), |()| async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Some((Ok(bytes::Bytes::from(vec![0u8; 1024])), ()))
            }))
            .boxed();
        let floor = RateFloor {
            bytes_per_sec: 100 * 1024,
            window: std::time::Duration::from_secs(1),
        };
        let started = std::time::Instant::now();
        let result = stream_into(
            &mut upload,
            drip,
            10 << 20,
            &Counter::default(),
            floor,
            None,
            None,
        )
        .await;
        let took = started.elapsed();
        match result {
            Err(CopyEnd::Retry(FailureCode::SourceUnavailable, reason)) => {
                assert!(reason.contains("less than the 102400 bytes/s"), "{reason}");
            }
            _ => panic!("a drip-fed source was not stopped"),
        }
        assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
        upload.abort().await;
    }

    /// The probe comes from the bytes as they stream past (a `moov` after
    /// the `mdat`, odd chunk sizes): the stored file is never read back.
    #[tokio::test]
    async fn the_video_is_probed_from_the_bytes_as_they_stream_past() {
        use import_testkit::mp4::{Mp4Spec, sample_mp4};
        let media = InMemory::new();
        let mut upload = staged(&media).await;
        let bytes = sample_mp4(&Mp4Spec {
            width: 640,
            height: 480,
            mdat_bytes: 200_000,
            moov_at_end: true,
            ..Mp4Spec::default()
        });
        let size = bytes.len() as u64;
        let chunks: Vec<object_store::Result<bytes::Bytes>> = bytes
            .chunks(4093)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let result = stream_into(
            &mut upload,
            futures::stream::iter(chunks).boxed(),
            size,
            &Counter::default(),
            no_floor(),
            None,
            None,
        )
        .await;
        let Ok(copied) = result else {
            panic!("the copy failed");
        };
        let Ok(import_providers::mp4::Streamed::Probed(probe)) = copied.probe else {
            panic!("a small moov is probed on the way: {:?}", copied.probe);
        };
        assert_eq!((probe.width, probe.height), (Some(640), Some(480)));
        assert_eq!(probe.codec.as_deref(), Some("avc1"));
        upload.abort().await;
    }

    #[tokio::test]
    async fn a_source_that_stalls_is_stopped_at_the_end_of_the_window() {
        let media = InMemory::new();
        let mut upload = staged(&media).await;
        let stalled = futures::stream::once(async { Ok(ftyp()) })
            .chain(futures::stream::pending())
            .boxed();
        let floor = RateFloor {
            bytes_per_sec: 1,
            window: std::time::Duration::from_secs(1),
        };
        let result = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream_into(
                &mut upload,
                stalled,
                1_000,
                &Counter::default(),
                floor,
                None,
                None,
            ),
        )
        .await
        .expect("a stalled source is stopped");
        assert!(matches!(
            result,
            Err(CopyEnd::Retry(FailureCode::SourceUnavailable, _))
        ));
        upload.abort().await;
    }

    /// A fence that answers as told.
    struct TestFence(bool);

    impl Fence for TestFence {
        fn record_upload<'a>(
            &'a self,
            _upload_id: Option<&'a str>,
        ) -> futures::future::BoxFuture<'a, Result<(), CopyEnd>> {
            Box::pin(async { Ok(()) })
        }
        fn confirm(&self) -> futures::future::BoxFuture<'_, Result<(), CopyEnd>> {
            let held = self.0;
            Box::pin(async move {
                if held {
                    Ok(())
                } else {
                    Err(CopyEnd::Retry(FailureCode::Interrupted, "lost".into()))
                }
            })
        }
        fn safe_for(&self) -> std::time::Duration {
            std::time::Duration::from_secs(5)
        }
    }

    fn lane() -> SlowLane {
        SlowLane {
            place: None,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            permit: None,
        }
    }

    /// A worker whose lease was lost never completes its upload: the media
    /// store keeps the file of the worker that took the row over.
    #[tokio::test]
    async fn a_copy_whose_lease_is_lost_never_writes_the_media_file() {
        let source = InMemory::new();
        let mut body = ftyp().to_vec();
        body.extend_from_slice(&[7u8; 10_000]);
        let path = StorePath::from("in/x.mp4");
        source.put(&path, body.clone().into()).await.unwrap();
        let media = InMemory::new();
        let dest = StorePath::from("videos/x.mp4");
        // The file the new owner of the row wrote.
        media
            .put(&dest, b"the other worker's copy".to_vec().into())
            .await
            .unwrap();
        let lost = copy_object(
            source.get(&path).await.unwrap(),
            &media,
            None,
            &dest,
            &Counter::default(),
            no_floor(),
            &TestFence(false),
            &mut lane(),
        )
        .await;
        assert!(matches!(
            lost,
            Err(CopyEnd::Retry(FailureCode::Interrupted, _))
        ));
        let kept = media.get(&dest).await.unwrap().bytes().await.unwrap();
        assert_eq!(&kept[..], b"the other worker's copy");
        // Held: the copy replaces it.
        let held = copy_object(
            source.get(&path).await.unwrap(),
            &media,
            None,
            &dest,
            &Counter::default(),
            no_floor(),
            &TestFence(true),
            &mut lane(),
        )
        .await;
        assert!(held.is_ok());
        let stored = media.get(&dest).await.unwrap().bytes().await.unwrap();
        assert_eq!(stored.len(), body.len());
    }

    async fn staged(media: &InMemory) -> StagedUpload {
        let upload = media
            .put_multipart(&StorePath::from("videos/x.mp4"))
            .await
            .unwrap();
        StagedUpload {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)),
            whole: None,
        }
    }

    #[tokio::test]
    async fn a_body_that_runs_on_is_cut_at_the_declared_size() {
        let media = InMemory::new();
        let mut upload = staged(&media).await;
        // An endless body behind an object that declares 100,000 bytes.
        let endless = futures::stream::once(async { Ok(ftyp()) })
            .chain(futures::stream::repeat_with(|| {
                Ok(bytes::Bytes::from(vec![0u8; 64 * 1024]))
            }))
            .boxed();
        let written = Counter::default();
        let result = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream_into(
                &mut upload,
                endless,
                100_000,
                &written,
                no_floor(),
                None,
                None,
            ),
        )
        .await
        .expect("the copy ends");
        match result {
            Err(CopyEnd::Retry(FailureCode::SourceError, reason)) => {
                assert!(reason.contains("more than the 100000 bytes"), "{reason}");
            }
            Err(CopyEnd::Retry(..) | CopyEnd::Fail(..)) => panic!("another failure"),
            Ok(_) | Err(CopyEnd::Done(_)) => panic!("an endless body was accepted"),
        }
        assert!(written.get() <= 100_000, "wrote {}", written.get());
        upload.abort().await;
    }

    #[tokio::test]
    async fn a_body_shorter_than_declared_fails() {
        let media = InMemory::new();
        let mut upload = staged(&media).await;
        let short = futures::stream::once(async { Ok(ftyp()) }).boxed();
        let result = stream_into(
            &mut upload,
            short,
            1_000,
            &Counter::default(),
            no_floor(),
            None,
            None,
        )
        .await;
        assert!(
            matches!(result, Err(CopyEnd::Retry(FailureCode::SourceUnavailable, ref r)) if r.contains("24 bytes read, 1000 expected")),
            "a short body was accepted"
        );
        upload.abort().await;
    }
}
