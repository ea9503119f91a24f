//! Reading an MP4's metadata (duration, size, codec) from its `moov` box with
//! ranged reads, so memory stays small whatever the file's size.

use std::io::{Cursor, Read};

use import_core::fields::MAX_FTYP_BYTES;

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
            import_core::quote::four_cc(&kind)
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
        return Err(no_ftyp());
    };
    let Some(moov) = moov else {
        return Err(no_moov());
    };
    check_sizes(ftyp.size, moov.size)?;
    let ftyp_bytes = store
        .get_range(path, ftyp.offset..ftyp.offset + ftyp.size)
        .await?;
    let moov_bytes = store
        .get_range(path, moov.offset..moov.offset + moov.size)
        .await?;
    read_boxes(&ftyp_bytes, &moov_bytes)
}

/// Probe a stored MP4 whose `moov` box was too large for a [`StreamProbe`]
/// to keep: one ranged read of the box it found.
///
/// ```no_run
/// # async fn demo(store: &dyn object_store::ObjectStore, probe: import_providers::mp4::StreamProbe) -> Result<(), import_providers::mp4::ProbeError> {
/// use import_providers::mp4::{Streamed, probe_moov};
/// use object_store::path::Path;
/// let found = match probe.finish()? {
///     Streamed::Probed(found) => found,
///     Streamed::ReadBack(at) => probe_moov(store, &Path::from("videos/vi_1.mp4"), &at).await?,
/// };
/// println!("{:?} s", found.duration_s);
/// # Ok(()) }
/// ```
pub async fn probe_moov(
    store: &dyn ObjectStore,
    path: &Path,
    at: &MoovAt,
) -> Result<Mp4Probe, ProbeError> {
    // Streamed into one buffer allocated here, rather than one buffer made
    // on whichever thread the store reads on: a large allocation freed on
    // many threads stays in as many allocator arenas.
    let range = at.offset..at.offset + at.size;
    let mut chunks = store
        .get_opts(
            path,
            object_store::GetOptions {
                range: Some(range.into()),
                ..Default::default()
            },
        )
        .await?
        .into_stream();
    let mut moov = Vec::with_capacity(at.size as usize);
    while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
        let chunk = chunk?;
        if moov.len() + chunk.len() > at.size as usize {
            break;
        }
        moov.extend_from_slice(&chunk);
    }
    if moov.len() as u64 != at.size || moov.get(4..8) != Some(&b"moov"[..]) {
        return Err(ProbeError::Invalid(format!(
            "the stored file has no `moov` box at byte {} where its copy saw one; import it again",
            at.offset
        )));
    }
    read_boxes(&at.ftyp, &moov)
}

fn no_ftyp() -> ProbeError {
    ProbeError::Invalid("not an MP4: no `ftyp` box; convert the video to MP4".into())
}

fn no_moov() -> ProbeError {
    ProbeError::Invalid(
        "not a playable MP4: no `moov` box (the recording was cut off before it was finalised); re-export or re-upload it".into(),
    )
}

/// The bounds on the two boxes a probe reads.
fn check_sizes(ftyp: u64, moov: u64) -> Result<(), ProbeError> {
    if moov > MAX_MOOV_BYTES {
        return Err(ProbeError::Invalid(format!(
            "the MP4's `moov` box is {moov} bytes, more than the {MAX_MOOV_BYTES} this server reads; split the recording"
        )));
    }
    if ftyp > MAX_FTYP_BYTES {
        return Err(ProbeError::Invalid(
            "not a playable MP4: its `ftyp` box is implausibly large".into(),
        ));
    }
    Ok(())
}

/// What an `ftyp` box and a `moov` box (each whole, header included) say
/// about the video; the parser reads one after the other, unjoined.
fn read_boxes(ftyp: &[u8], moov: &[u8]) -> Result<Mp4Probe, ProbeError> {
    let codec_fourcc = first_sample_entry(moov);
    let mut boxes = Cursor::new(ftyp).chain(Cursor::new(moov));
    let context = mp4parse::read_mp4(&mut boxes).map_err(|e| {
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

/// The `ftyp` and `moov` boxes of an MP4 picked out of its bytes as they
/// stream past, so that a copy can probe the video without reading the
/// stored file back. Feed every chunk in order with
/// [`update`](StreamProbe::update), then [`finish`](StreamProbe::finish).
/// Only the `ftyp` (at most 4 KiB) and a `moov` of at most
/// [`STREAMED_MOOV_MAX`](import_core::fields::STREAMED_MOOV_MAX) are kept;
/// every other box, `mdat` included, is only counted, and a larger `moov`
/// (up to [`MAX_MOOV_BYTES`]) only located, for [`probe_moov`] to read from
/// the stored file once the copy's buffers are given back. The answers and
/// errors are those of [`probe`].
///
/// ```
/// # fn demo(chunks: &[&[u8]], len: u64) -> Result<(), import_providers::mp4::ProbeError> {
/// let mut stream = import_providers::mp4::StreamProbe::new(len);
/// for chunk in chunks {
///     stream.update(chunk);
/// }
/// if let import_providers::mp4::Streamed::Probed(probe) = stream.finish()? {
///     println!("{:?} s, {:?}", probe.duration_s, probe.codec);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StreamProbe {
    len: u64,
    /// Largest `moov` kept.
    max_kept: u64,
    /// Bytes seen so far.
    offset: u64,
    /// A box header being read (8 or 16 bytes).
    head: Vec<u8>,
    /// The box whose body is streaming past.
    current: Option<Current>,
    boxes: usize,
    ftyp: Option<(u64, Vec<u8>)>,
    /// The `moov`'s offset and size, and its bytes if it was kept.
    moov: Option<(u64, u64, Option<Vec<u8>>)>,
    /// Nothing more to look at: the `moov` was found, or the walk gave up.
    done: bool,
    error: Option<String>,
}

#[derive(Debug)]
struct Current {
    kind: [u8; 4],
    end: u64,
    size: u64,
    keep: Option<Vec<u8>>,
}

impl StreamProbe {
    /// A probe of a file of `len` bytes.
    pub fn new(len: u64) -> StreamProbe {
        StreamProbe::keeping(len, import_core::fields::STREAMED_MOOV_MAX)
    }

    /// A probe of a file of `len` bytes that keeps a `moov` of at most
    /// `max_kept` bytes (a larger one is only located, for [`probe_moov`]).
    pub fn keeping(len: u64, max_kept: u64) -> StreamProbe {
        StreamProbe {
            max_kept: max_kept.min(MAX_MOOV_BYTES),
            len,
            offset: 0,
            head: Vec::with_capacity(16),
            current: None,
            boxes: 0,
            ftyp: None,
            moov: None,
            done: false,
            error: None,
        }
    }

    /// The next bytes of the file.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.done && self.error.is_none() {
            if let Some(current) = self.current.as_mut() {
                let take = usize::try_from(current.end - self.offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                if let Some(keep) = current.keep.as_mut() {
                    keep.extend_from_slice(&data[..take]);
                }
                self.offset += take as u64;
                data = &data[take..];
                if self.offset == current.end {
                    self.close_box();
                }
                continue;
            }
            // A box header: 8 bytes, or 16 when its 32-bit size is 1.
            let need = if self.head.len() >= 4 && self.head[..4] == [0, 0, 0, 1] {
                16
            } else {
                8
            };
            let take = (need - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            self.offset += take as u64;
            data = &data[take..];
            if self.head.len() == need && (need == 16 || self.head[..4] != [0, 0, 0, 1]) {
                self.open_box();
            }
        }
        if !data.is_empty() {
            // Past the `moov`, or given up: the rest is only counted.
            self.offset += data.len() as u64;
        }
    }

    fn open_box(&mut self) {
        let start = self.offset - self.head.len() as u64;
        let h = &self.head;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&h[4..8]);
        let size = match size32 {
            0 => self.len - start,
            1 => u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]),
            n => u64::from(n),
        };
        if size < h.len() as u64 || start.saturating_add(size) > self.len {
            self.error = Some(format!(
                "not a playable MP4: the `{}` box at byte {start} claims {size} bytes but the file has {}; the file is truncated or damaged, re-export or re-upload it",
                import_core::quote::four_cc(&kind),
                self.len
            ));
            return;
        }
        self.boxes += 1;
        let keep = match &kind {
            b"ftyp" if self.ftyp.is_none() && size <= MAX_FTYP_BYTES => Some(h.clone()),
            b"moov" if size <= self.max_kept => {
                let mut buf = Vec::with_capacity(size as usize);
                buf.extend_from_slice(h);
                Some(buf)
            }
            _ => None,
        };
        self.head.clear();
        self.current = Some(Current {
            kind,
            end: start + size,
            size,
            keep,
        });
        if self.offset == start + size {
            self.close_box();
        }
    }

    fn close_box(&mut self) {
        let Some(current) = self.current.take() else {
            return;
        };
        match &current.kind {
            b"ftyp" if self.ftyp.is_none() => {
                self.ftyp = Some((current.size, current.keep.unwrap_or_default()));
            }
            b"moov" => {
                let offset = current.end - current.size;
                self.moov = Some((offset, current.size, current.keep));
                self.done = true;
            }
            _ => {}
        }
        if self.boxes >= MAX_TOP_LEVEL_BOXES {
            self.done = true;
        }
    }

    /// What the `moov` box says, once every byte was given (or where to
    /// read a `moov` too large to keep).
    pub fn finish(self) -> Result<Streamed, ProbeError> {
        if let Some(error) = self.error {
            return Err(ProbeError::Invalid(error));
        }
        if !self.done && self.current.is_none() && !self.head.is_empty() {
            return Err(ProbeError::Invalid(format!(
                "not a playable MP4: {} stray bytes at the end of the file; re-export the recording",
                self.head.len()
            )));
        }
        let Some((ftyp_size, ftyp)) = self.ftyp else {
            return Err(no_ftyp());
        };
        let Some((offset, size, kept)) = self.moov else {
            return Err(no_moov());
        };
        check_sizes(ftyp_size, size)?;
        match kept {
            Some(moov) => read_boxes(&ftyp, &moov).map(Streamed::Probed),
            None => Ok(Streamed::ReadBack(MoovAt { ftyp, offset, size })),
        }
    }
}

/// How a [`StreamProbe`] ended.
#[derive(Debug)]
pub enum Streamed {
    /// What the kept boxes say.
    Probed(Mp4Probe),
    /// The `moov` was too large to keep: read it with [`probe_moov`].
    ReadBack(MoovAt),
}

/// Where a `moov` too large to keep is, with the `ftyp` seen before it.
#[derive(Debug)]
pub struct MoovAt {
    ftyp: Vec<u8>,
    offset: u64,
    size: u64,
}

impl MoovAt {
    /// The `moov` box's size in bytes (what reading it back holds, before
    /// the parser's tables).
    pub fn size(&self) -> u64 {
        self.size
    }
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
        return Some(import_core::quote::four_cc(entry));
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

    /// The streaming probe answers what the stored-file probe answers, in
    /// any chunking, for a `moov` before or after the `mdat` and for broken
    /// files.
    #[tokio::test]
    async fn the_streaming_probe_agrees_with_the_stored_file_probe() {
        use import_testkit::mp4::{Mp4Spec, sample_mp4, truncated_mp4};
        // A `moov` over what the streaming probe keeps is read back, at the
        // start of the file or at its end.
        let big_moov = |moov_at_end| Mp4Spec {
            moov_padding: import_core::fields::STREAMED_MOOV_MAX as usize,
            moov_at_end,
            ..Mp4Spec::default()
        };
        let mut files = vec![
            sample_mp4(&big_moov(false)),
            sample_mp4(&big_moov(true)),
            sample_mp4(&Mp4Spec::default()),
            sample_mp4(&Mp4Spec {
                mdat_bytes: 300_000,
                moov_at_end: true,
                ..Mp4Spec::default()
            }),
            truncated_mp4(),
            ftyp(),
            b"not a video at all".to_vec(),
        ];
        let mut stray = sample_mp4(&Mp4Spec::default());
        stray.extend_from_slice(&[0, 0, 0]);
        files.push(stray);
        let mut over = ftyp();
        over.extend_from_slice(&[0, 0, 0, 200]);
        over.extend_from_slice(b"free");
        files.push(over);
        for bytes in files {
            let (store, path, len) = stored(bytes.clone()).await;
            let stored = probe(&store as &dyn ObjectStore, &path, len).await;
            for chunk in [1usize, 7, 4096, usize::MAX] {
                let mut stream = StreamProbe::new(len);
                for piece in bytes.chunks(chunk.min(bytes.len().max(1))) {
                    stream.update(piece);
                }
                let streamed = match stream.finish() {
                    Ok(Streamed::Probed(found)) => Ok(found),
                    Ok(Streamed::ReadBack(at)) => {
                        probe_moov(&store as &dyn ObjectStore, &path, &at).await
                    }
                    Err(e) => Err(e),
                };
                match (&stored, &streamed) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("stored {a:?}, streamed {b:?} (chunks of {chunk})"),
                }
            }
        }
    }

    /// A `moov` over what the streaming probe keeps is located, not kept; a
    /// small one is kept and probed at once.
    #[test]
    fn a_moov_over_what_is_kept_is_only_located() {
        use import_core::fields::STREAMED_MOOV_MAX;
        use import_testkit::mp4::{Mp4Spec, sample_mp4};
        for (padding, kept) in [(STREAMED_MOOV_MAX as usize, false), (1000, true)] {
            let bytes = sample_mp4(&Mp4Spec {
                moov_padding: padding,
                ..Mp4Spec::default()
            });
            let mut stream = StreamProbe::new(bytes.len() as u64);
            stream.update(&bytes);
            match stream.finish().unwrap() {
                Streamed::ReadBack(at) => {
                    assert!(!kept, "a moov of {} bytes was not kept", at.size());
                    assert!(at.size() > STREAMED_MOOV_MAX);
                }
                Streamed::Probed(found) => {
                    assert!(kept, "a moov over {STREAMED_MOOV_MAX} bytes was kept");
                    assert_eq!(found.width, Some(1280));
                }
            }
        }
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
