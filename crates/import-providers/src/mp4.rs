//! Reading an MP4's metadata (duration, size, codec) from its `moov` box with
//! ranged reads, so memory stays small whatever the file's size.

use std::io::Cursor;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// Largest `moov` box read, into one buffer (a `moov` holds sample tables:
/// an hour of 30 fps video needs a few MiB, so many hours fit).
pub const MAX_MOOV_BYTES: u64 = 32 * 1024 * 1024;
/// Most top-level boxes walked before giving up.
const MAX_TOP_LEVEL_BOXES: usize = 10_000;

/// What the `moov` box says about a video.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mp4Probe {
    /// Duration in seconds of the first video track.
    pub duration_s: Option<f64>,
    /// Frame width in pixels.
    pub width: Option<u32>,
    /// Frame height in pixels.
    pub height: Option<u32>,
    /// Sample entry type of the video track (`avc1`, `hvc1`, `av01`, ...).
    pub codec: Option<String>,
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The file is not a playable MP4; the message says why, for a person.
    #[error("{0}")]
    Invalid(String),
    /// Reading the stored file failed.
    #[error("{0}")]
    Store(#[from] object_store::Error),
}

struct BoxHeader {
    kind: [u8; 4],
    offset: u64,
    size: u64,
}

async fn header_at(
    store: &dyn ObjectStore,
    path: &Path,
    offset: u64,
    len: u64,
) -> Result<BoxHeader, ProbeError> {
    let want = (len - offset).min(16);
    if want < 8 {
        return Err(ProbeError::Invalid(format!(
            "not a playable MP4: {} stray bytes at the end of the file; re-export the recording",
            len - offset
        )));
    }
    let bytes = store.get_range(path, offset..offset + want).await?;
    let size32 = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut kind = [0u8; 4];
    kind.copy_from_slice(&bytes[4..8]);
    let size = match size32 {
        0 => len - offset,
        1 if bytes.len() >= 16 => u64::from_be_bytes([
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15],
        ]),
        1 => 0,
        n => u64::from(n),
    };
    if size < 8 || offset.saturating_add(size) > len {
        return Err(ProbeError::Invalid(format!(
            "not a playable MP4: the `{}` box at byte {offset} claims {size} bytes but the file has {len}; the file is truncated or damaged, re-export or re-upload it",
            String::from_utf8_lossy(&kind)
        )));
    }
    Ok(BoxHeader { kind, offset, size })
}

/// Find the `ftyp` and `moov` boxes of a stored MP4 of `len` bytes and read
/// duration, width, height and codec from them with `mp4parse`.
///
/// ```no_run
/// # async fn demo(store: &dyn object_store::ObjectStore) -> Result<(), import_providers::mp4::ProbeError> {
/// use object_store::path::Path;
/// let probe = import_providers::mp4::probe(store, &Path::from("videos/vi_1.mp4"), 1_048_576).await?;
/// println!("{:?} s, {:?}x{:?}, {:?}", probe.duration_s, probe.width, probe.height, probe.codec);
/// # Ok(()) }
/// ```
pub async fn probe(store: &dyn ObjectStore, path: &Path, len: u64) -> Result<Mp4Probe, ProbeError> {
    let mut offset = 0u64;
    let mut ftyp: Option<BoxHeader> = None;
    let mut moov: Option<BoxHeader> = None;
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if offset >= len || moov.is_some() {
            break;
        }
        let header = header_at(store, path, offset, len).await?;
        offset += header.size;
        match &header.kind {
            b"ftyp" if ftyp.is_none() => ftyp = Some(header),
            b"moov" => moov = Some(header),
            _ => {}
        }
    }
    let Some(ftyp) = ftyp else {
        return Err(ProbeError::Invalid(
            "not an MP4: no `ftyp` box; convert the video to MP4".into(),
        ));
    };
    let Some(moov) = moov else {
        return Err(ProbeError::Invalid(
            "not a playable MP4: no `moov` box (the recording was cut off before it was finalised); re-export or re-upload it".into(),
        ));
    };
    if moov.size > MAX_MOOV_BYTES {
        return Err(ProbeError::Invalid(format!(
            "the MP4's `moov` box is {} bytes, more than the {MAX_MOOV_BYTES} this server reads; split the recording",
            moov.size
        )));
    }
    if ftyp.size > 4096 {
        return Err(ProbeError::Invalid(
            "not a playable MP4: its `ftyp` box is implausibly large".into(),
        ));
    }
    // One buffer: the `ftyp`, then the `moov` read in place after it.
    let ftyp_bytes = store
        .get_range(path, ftyp.offset..ftyp.offset + ftyp.size)
        .await?;
    let mut buf = Vec::with_capacity((ftyp.size + moov.size) as usize);
    buf.extend_from_slice(&ftyp_bytes);
    drop(ftyp_bytes);
    let moov_bytes = store
        .get_range(path, moov.offset..moov.offset + moov.size)
        .await?;
    buf.extend_from_slice(&moov_bytes);
    drop(moov_bytes);
    let codec_fourcc = first_sample_entry(&buf[ftyp.size as usize..]);
    let context = mp4parse::read_mp4(&mut Cursor::new(&buf)).map_err(|e| {
        ProbeError::Invalid(format!(
            "not a playable MP4: its `moov` box cannot be parsed ({e:?}); re-export the recording"
        ))
    })?;
    let Some(track) = context
        .tracks
        .iter()
        .find(|t| t.track_type == mp4parse::TrackType::Video)
    else {
        return Err(ProbeError::Invalid(
            "the MP4 has no video track; import files that contain video".into(),
        ));
    };
    let mut out = Mp4Probe {
        codec: codec_fourcc,
        ..Mp4Probe::default()
    };
    if let (Some(d), Some(ts)) = (track.duration, track.timescale)
        && ts.0 > 0
    {
        out.duration_s = Some(d.0 as f64 / ts.0 as f64);
    }
    let entry = track.stsd.as_ref().and_then(|s| {
        s.descriptions.iter().find_map(|e| match e {
            mp4parse::SampleEntry::Video(v) => Some(v),
            _ => None,
        })
    });
    if let Some(v) = entry {
        out.width = Some(u32::from(v.width));
        out.height = Some(u32::from(v.height));
    } else if let Some(tkhd) = &track.tkhd {
        out.width = Some(tkhd.width >> 16);
        out.height = Some(tkhd.height >> 16);
    }
    Ok(out)
}

/// The type of the first sample entry of the first `stsd` box inside a `moov`
/// (`avc1`, `hvc1`, ...): found by walking the box tree, not by searching bytes.
fn first_sample_entry(moov: &[u8]) -> Option<String> {
    fn children(data: &[u8]) -> impl Iterator<Item = (&[u8; 4], &[u8])> {
        let mut at = 0usize;
        std::iter::from_fn(move || {
            let head = data.get(at..at + 8)?;
            let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let kind: &[u8; 4] = head[4..8].try_into().ok()?;
            if size < 8 || at + size > data.len() {
                return None;
            }
            let body = &data[at + 8..at + size];
            at += size;
            Some((kind, body))
        })
    }
    let (_, moov_body) = children(moov).find(|(k, _)| *k == b"moov")?;
    for (kind, trak) in children(moov_body) {
        if kind != b"trak" {
            continue;
        }
        let (_, mdia) = children(trak).find(|(k, _)| *k == b"mdia")?;
        let (_, minf) = children(mdia).find(|(k, _)| *k == b"minf")?;
        if !children(minf).any(|(k, _)| k == b"vmhd") {
            continue;
        }
        let (_, stbl) = children(minf).find(|(k, _)| *k == b"stbl")?;
        let (_, stsd) = children(stbl).find(|(k, _)| *k == b"stsd")?;
        // version/flags (4) and entry count (4), then the first entry box.
        let (entry, _) = children(stsd.get(8..)?).next()?;
        return Some(String::from_utf8_lossy(entry).into_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::{ObjectStore, ObjectStoreExt};

    use super::*;

    async fn stored(bytes: Vec<u8>) -> (InMemory, Path, u64) {
        let store = InMemory::new();
        let path = Path::from("v.mp4");
        let len = bytes.len() as u64;
        store.put(&path, bytes.into()).await.unwrap();
        (store, path, len)
    }

    fn ftyp() -> Vec<u8> {
        let mut b = vec![0, 0, 0, 24];
        b.extend_from_slice(b"ftypisom\0\0\0\0isommp41");
        b
    }

    #[tokio::test]
    async fn a_moov_over_the_cap_fails_with_its_size_and_is_not_read() {
        let size = MAX_MOOV_BYTES + 8;
        let mut bytes = ftyp();
        bytes.extend_from_slice(&(size as u32).to_be_bytes());
        bytes.extend_from_slice(b"moov");
        bytes.resize(bytes.len() + size as usize - 8, 0);
        let (store, path, len) = stored(bytes).await;
        let err = probe(&store as &dyn ObjectStore, &path, len)
            .await
            .unwrap_err();
        match err {
            ProbeError::Invalid(reason) => {
                assert!(
                    reason.contains(&format!("`moov` box is {size} bytes")),
                    "{reason}"
                );
                assert!(reason.contains(&MAX_MOOV_BYTES.to_string()), "{reason}");
            }
            other => panic!("another error: {other}"),
        }
    }
}
