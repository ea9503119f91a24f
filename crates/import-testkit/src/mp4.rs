//! Sample videos written by code: real MP4 files, and deliberately bad ones.
//!
//! [`sample_mp4`] writes an ISO base media file with an `ftyp` box
//! (`isom`, compatible `isom iso2 avc1 mp41`, or `hvc1` in place of `avc1`
//! for HEVC), a `moov` with one video track and an `mdat` of filler bytes,
//! `moov` first (a "fast start" file) or last. The track is complete and
//! consistent: `tkhd` carries the width and height (16.16 fixed point),
//! `mvhd`/`tkhd`/`mdhd` the duration in the chosen timescale, `hdlr` is
//! `vide`, and the sample table (`stts`, `stsc`, `stsz`, `stco`) describes a
//! single chunk of about 30 samples a second that exactly covers the `mdat`
//! payload. The `avc1` sample entry carries an `avcC` with a real
//! baseline-profile SPS (its macroblock size and cropping match the width
//! and height) and PPS; the `hvc1` entry carries a minimal `hvcC` (Main
//! profile, no parameter-set arrays). Each sample is one length-prefixed
//! filler-data NAL unit (type 12 for AVC, 38 for HEVC) whose payload is a
//! counting pattern (byte `i` of the `mdat` payload is `i % 251` outside the
//! NAL headers), so decoders skip the samples instead of failing on them,
//! and a misplaced byte range shows. There are no pictures to decode.
//!
//! Parsers see what the spec says. `mp4parse::read_mp4` gives the `tkhd`
//! width and height, the `mdhd` duration and timescale, and
//! `CodecType::H264` for `avc1`; mp4parse 0.17 does not know HEVC, so for
//! `hvc1` it reports the sample description as `SampleEntry::Unknown`, and
//! whoever needs the codec of an HEVC file must read the sample entry's
//! four-character code itself. ffprobe reports codec, size, duration and
//! frame count, with warnings that no picture decodes.
//!
//! [`streamed_mp4_to_file`] writes the same bytes to a file without holding
//! the `mdat` in memory (for multi-GiB sources). The bad samples are
//! [`jpeg_bytes`] (a real JPEG, to be renamed `.mp4`), [`truncated_mp4`]
//! (cut in the middle of `moov`) and, for an empty file, `Vec::new()`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The video codec of a sample file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Codec {
    /// H.264/AVC, an `avc1` sample entry with an `avcC` box.
    #[default]
    Avc1,
    /// H.265/HEVC, an `hvc1` sample entry with an `hvcC` box.
    Hvc1,
}

impl Codec {
    /// The sample entry's four-character code: `avc1` or `hvc1`.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Codec::Avc1 => *b"avc1",
            Codec::Hvc1 => *b"hvc1",
        }
    }
}

/// What [`sample_mp4`] writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mp4Spec {
    /// Width in pixels (the `tkhd` and the sample entry).
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Duration in milliseconds; written as `duration_ms * timescale / 1000`
    /// units of the timescale (rounded down).
    pub duration_ms: u32,
    /// Units per second of the movie and media timescales (default 1000;
    /// 0 is written as 1000).
    pub timescale: u32,
    /// The codec of the sample entry.
    pub codec: Codec,
    /// Size of the `mdat` payload in bytes, filler split into the samples.
    pub mdat_bytes: usize,
    /// Put `moov` after `mdat` (as a camera writes it) instead of before.
    pub moov_at_end: bool,
    /// Bytes of a `free` box inside the `moov`, after the track (cameras
    /// write such padding and `udta` boxes): a `moov` as large as a long
    /// recording's sample tables, for tests of memory.
    pub moov_padding: usize,
}

impl Default for Mp4Spec {
    /// 1280×720, 10 s, timescale 1000, AVC, 64 KiB of payload, `moov` first.
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            duration_ms: 10_000,
            timescale: 1000,
            codec: Codec::Avc1,
            mdat_bytes: 64 * 1024,
            moov_at_end: false,
            moov_padding: 0,
        }
    }
}

/// Writes a complete MP4 file in memory.
///
/// ```
/// use import_testkit::mp4::{sample_mp4, Mp4Spec};
/// let bytes = sample_mp4(&Mp4Spec { width: 640, height: 480, ..Mp4Spec::default() });
/// assert_eq!(&bytes[4..8], b"ftyp");
/// ```
pub fn sample_mp4(spec: &Mp4Spec) -> Vec<u8> {
    let layout = Layout::new(spec);
    let mut out = Vec::with_capacity(layout.len_usize());
    out.extend_from_slice(&layout.head);
    layout
        .write_payload(spec.codec, |bytes| {
            out.extend_from_slice(bytes);
            Ok(())
        })
        .expect("writing to a Vec cannot fail");
    out.extend_from_slice(&layout.tail);
    out
}

/// The size in bytes of the file [`sample_mp4`] or [`streamed_mp4_to_file`]
/// writes for `spec`.
pub fn mp4_len(spec: &Mp4Spec) -> u64 {
    Layout::new(spec).len()
}

/// Writes the same bytes as [`sample_mp4`] to a file, the `mdat` payload in
/// chunks of at most 1 MiB, so memory does not grow with `mdat_bytes` (only
/// the sample table does, by 4 bytes a sample). Returns the file's size.
pub fn streamed_mp4_to_file(path: impl AsRef<Path>, spec: &Mp4Spec) -> io::Result<u64> {
    let layout = Layout::new(spec);
    let mut out = BufWriter::with_capacity(PAYLOAD_CHUNK, File::create(path)?);
    out.write_all(&layout.head)?;
    layout.write_payload(spec.codec, |bytes| out.write_all(bytes))?;
    out.write_all(&layout.tail)?;
    out.flush()?;
    Ok(layout.len())
}

/// An MP4 cut in the middle of its `moov` box: it starts with a valid
/// `ftyp`, so a signature check passes, but no parser can read the track.
pub fn truncated_mp4() -> Vec<u8> {
    let spec = Mp4Spec {
        mdat_bytes: 4096,
        ..Mp4Spec::default()
    };
    let mut bytes = sample_mp4(&spec);
    let ftyp_len = ftyp(spec.codec).len();
    let moov_len = moov(&spec, &Samples::new(&spec), 0).len();
    bytes.truncate(ftyp_len + moov_len / 2);
    bytes
}

/// A real, minimal JPEG (an 8×8 grey baseline picture: SOI, APP0 JFIF,
/// DQT, SOF0, DHT, SOS, one block, EOI), for "a JPEG renamed `.mp4`".
/// It starts `FF D8 FF E0` followed by the JFIF header.
pub fn jpeg_bytes() -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let mut segment = |marker: u8, body: &[u8]| {
        out.extend_from_slice(&[0xFF, marker]);
        let len = u16::try_from(body.len() + 2).expect("JPEG segments here are tiny");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(body);
    };
    // APP0: "JFIF\0", version 1.01, no units, 1:1 density, no thumbnail.
    segment(0xE0, b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    // DQT: table 0, 8-bit, all ones.
    let mut dqt = vec![0x00];
    dqt.extend_from_slice(&[1; 64]);
    segment(0xDB, &dqt);
    // SOF0: 8-bit, 8x8, one component (id 1, 1x1 sampling, table 0).
    segment(0xC0, &[8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    // DHT: DC table 0 and AC table 0, each one 1-bit code for symbol 0
    // (DC: difference category 0; AC: end of block).
    let mut dht = vec![0x00, 1];
    dht.extend_from_slice(&[0; 15]);
    dht.push(0x00);
    segment(0xC4, &dht);
    dht[0] = 0x10;
    segment(0xC4, &dht);
    // SOS: one component, tables 0/0, full spectral range.
    segment(0xDA, &[1, 1, 0x00, 0, 63, 0]);
    // One block: DC code `0`, EOB code `0`, padded with ones.
    out.push(0b0011_1111);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// The largest piece of payload handed to a writer at once.
const PAYLOAD_CHUNK: usize = 1 << 20;

/// The period of the counting pattern; a prime, so it does not line up with
/// powers of two (and never yields two zero bytes in a row).
const PATTERN_PERIOD: usize = 251;

/// Everything but the `mdat` payload.
struct Layout {
    /// `ftyp`, `moov` when first, and the `mdat` header.
    head: Vec<u8>,
    /// `moov` when last, else empty.
    tail: Vec<u8>,
    payload: u64,
    samples: Samples,
}

impl Layout {
    fn new(spec: &Mp4Spec) -> Self {
        let samples = Samples::new(spec);
        let payload = spec.mdat_bytes as u64;
        let ftyp = ftyp(spec.codec);
        let mdat_header = mdat_header(payload);
        let mut head = ftyp;
        if spec.moov_at_end {
            let data_offset = (head.len() + mdat_header.len()) as u64;
            head.extend_from_slice(&mdat_header);
            let tail = moov(spec, &samples, data_offset);
            Self {
                head,
                tail,
                payload,
                samples,
            }
        } else {
            // The chunk offset is a fixed-width field, so the moov's length
            // does not depend on its value: measure, then write for real.
            let moov_len = moov(spec, &samples, 0).len();
            let data_offset = (head.len() + moov_len + mdat_header.len()) as u64;
            head.extend_from_slice(&moov(spec, &samples, data_offset));
            head.extend_from_slice(&mdat_header);
            Self {
                head,
                tail: Vec::new(),
                payload,
                samples,
            }
        }
    }

    fn len(&self) -> u64 {
        self.head.len() as u64 + self.payload + self.tail.len() as u64
    }

    /// Hands the `mdat` payload to `sink` in pieces of at most
    /// [`PAYLOAD_CHUNK`] bytes: each sample is a 4-byte length and a
    /// filler-data NAL header (when the sample has room for them), then the
    /// counting pattern.
    fn write_payload(
        &self,
        codec: Codec,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let nal_header: &[u8] = match codec {
            // nal_ref_idc 0, nal_unit_type 12 (filler data).
            Codec::Avc1 => &[0x0C],
            // nal_unit_type 38 (FD_NUT), layer 0, temporal id 1.
            Codec::Hvc1 => &[38 << 1, 0x01],
        };
        let largest = self.samples.sizes.iter().copied().max().unwrap_or(0) as usize;
        let pattern: Vec<u8> = (0..largest.min(PAYLOAD_CHUNK) + PATTERN_PERIOD)
            .map(|i| (i % PATTERN_PERIOD) as u8)
            .collect();
        let mut offset = 0u64;
        for &size in &self.samples.sizes {
            let size = u64::from(size);
            let mut done = 0u64;
            let header_len = (4 + nal_header.len()) as u64;
            if size >= header_len {
                let nal_len = u32::try_from(size - 4).expect("sample sizes are u32");
                let mut header = nal_len.to_be_bytes().to_vec();
                header.extend_from_slice(nal_header);
                sink(&header)?;
                done = header_len;
            }
            while done < size {
                let n = (size - done).min(PAYLOAD_CHUNK as u64) as usize;
                let phase = ((offset + done) % PATTERN_PERIOD as u64) as usize;
                sink(&pattern[phase..phase + n])?;
                done += n as u64;
            }
            offset += size;
        }
        Ok(())
    }

    fn len_usize(&self) -> usize {
        usize::try_from(self.len()).unwrap_or(usize::MAX)
    }
}

/// Samples per second the sample table pretends to hold.
const FRAME_RATE: u64 = 30;
/// At most this many samples, unless the sizes or durations need more.
const MAX_FRAMES: u64 = 1_000_000;

/// The sample table: one chunk of `count` samples.
struct Samples {
    timescale: u32,
    /// The track duration in timescale units.
    duration: u64,
    count: u64,
    /// `(sample_count, sample_delta)` runs of `stts`.
    deltas: Vec<(u32, u32)>,
    sizes: Vec<u32>,
}

impl Samples {
    fn new(spec: &Mp4Spec) -> Self {
        let timescale = if spec.timescale == 0 {
            1000
        } else {
            spec.timescale
        };
        let duration = u64::from(spec.duration_ms) * u64::from(timescale) / 1000;
        let payload = spec.mdat_bytes as u64;
        let max = u64::from(u32::MAX - 1);
        let frames = (u64::from(spec.duration_ms) * FRAME_RATE).div_ceil(1000);
        let count = frames
            .min(MAX_FRAMES)
            .max(payload.div_ceil(max))
            .max(duration.div_ceil(max))
            .max(1);

        let delta = duration / count;
        let longer = duration % count;
        let mut deltas = Vec::with_capacity(2);
        let as_u32 =
            |v: u64| u32::try_from(v).expect("sample count and delta fit in u32 by construction");
        if count > longer {
            deltas.push((as_u32(count - longer), as_u32(delta)));
        }
        if longer > 0 {
            deltas.push((as_u32(longer), as_u32(delta + 1)));
        }

        let size = payload / count;
        let bigger = payload % count;
        let sizes = (0..count)
            .map(|i| as_u32(size + u64::from(i < bigger)))
            .collect();
        Self {
            timescale,
            duration,
            count,
            deltas,
            sizes,
        }
    }
}

/// Appends a box: 32-bit size, type, body.
fn put_box(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(kind);
    body(out);
    let size = u32::try_from(out.len() - start).expect("header boxes stay far below 4 GiB");
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Appends a full box: a box whose body starts with version and flags.
fn put_full_box(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    put_box(out, kind, |out| {
        out.push(version);
        out.extend_from_slice(&flags.to_be_bytes()[1..]);
        body(out);
    });
}

fn u16be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u32be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u64be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn ftyp(codec: Codec) -> Vec<u8> {
    let mut out = Vec::new();
    put_box(&mut out, b"ftyp", |out| {
        out.extend_from_slice(b"isom");
        u32be(out, 0x200);
        out.extend_from_slice(b"isom");
        out.extend_from_slice(b"iso2");
        out.extend_from_slice(&codec.fourcc());
        out.extend_from_slice(b"mp41");
    });
    out
}

fn mdat_header(payload: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    match u32::try_from(payload + 8) {
        Ok(size) => {
            u32be(&mut out, size);
            out.extend_from_slice(b"mdat");
        }
        Err(_) => {
            // 64-bit "largesize" form.
            u32be(&mut out, 1);
            out.extend_from_slice(b"mdat");
            u64be(&mut out, payload + 16);
        }
    }
    out
}

/// The identity matrix of `mvhd` and `tkhd`.
fn matrix(out: &mut Vec<u8>) {
    for v in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000u32] {
        u32be(out, v);
    }
}

/// Writes a 32- or 64-bit duration field, choosing the box version.
fn version_for(duration: u64) -> u8 {
    if duration >= u64::from(u32::MAX) {
        1
    } else {
        0
    }
}

fn times_and(out: &mut Vec<u8>, version: u8, middle: impl FnOnce(&mut Vec<u8>), duration: u64) {
    // Creation and modification times: zero (1904-01-01), as many muxers do
    // when they have no clock.
    if version == 1 {
        u64be(out, 0);
        u64be(out, 0);
    } else {
        u32be(out, 0);
        u32be(out, 0);
    }
    middle(out);
    if version == 1 {
        u64be(out, duration);
    } else {
        // `version_for` picked 0, so it fits.
        u32be(out, u32::try_from(duration).unwrap_or(u32::MAX - 1));
    }
}

fn moov(spec: &Mp4Spec, samples: &Samples, data_offset: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let version = version_for(samples.duration);
    put_box(&mut out, b"moov", |out| {
        put_full_box(out, b"mvhd", version, 0, |out| {
            times_and(
                out,
                version,
                |out| u32be(out, samples.timescale),
                samples.duration,
            );
            u32be(out, 0x0001_0000); // rate 1.0
            u16be(out, 0x0100); // volume 1.0
            out.extend_from_slice(&[0; 10]); // reserved
            matrix(out);
            out.extend_from_slice(&[0; 24]); // pre_defined
            u32be(out, 2); // next_track_ID
        });
        put_box(out, b"trak", |out| trak(out, spec, samples, data_offset));
        if spec.moov_padding > 0 {
            put_box(out, b"free", |out| {
                out.resize(out.len() + spec.moov_padding, 0);
            });
        }
    });
    out
}

fn trak(out: &mut Vec<u8>, spec: &Mp4Spec, samples: &Samples, data_offset: u64) {
    let version = version_for(samples.duration);
    // Flags: track enabled, in movie.
    put_full_box(out, b"tkhd", version, 0x3, |out| {
        times_and(
            out,
            version,
            |out| {
                u32be(out, 1); // track_ID
                u32be(out, 0); // reserved
            },
            samples.duration,
        );
        out.extend_from_slice(&[0; 8]); // reserved
        u16be(out, 0); // layer
        u16be(out, 0); // alternate_group
        u16be(out, 0); // volume: 0 for video
        u16be(out, 0); // reserved
        matrix(out);
        u32be(out, u32::from(spec.width) << 16);
        u32be(out, u32::from(spec.height) << 16);
    });
    put_box(out, b"mdia", |out| {
        put_full_box(out, b"mdhd", version, 0, |out| {
            times_and(
                out,
                version,
                |out| u32be(out, samples.timescale),
                samples.duration,
            );
            u16be(out, 0x55C4); // language "und"
            u16be(out, 0); // pre_defined
        });
        put_full_box(out, b"hdlr", 0, 0, |out| {
            u32be(out, 0); // pre_defined
            out.extend_from_slice(b"vide");
            out.extend_from_slice(&[0; 12]); // reserved
            out.extend_from_slice(b"VideoHandler\0");
        });
        put_box(out, b"minf", |out| {
            put_full_box(out, b"vmhd", 0, 1, |out| {
                out.extend_from_slice(&[0; 8]); // graphicsmode, opcolor
            });
            put_box(out, b"dinf", |out| {
                put_full_box(out, b"dref", 0, 0, |out| {
                    u32be(out, 1);
                    // Flag 1: the media data is in this file.
                    put_full_box(out, b"url ", 0, 1, |_| {});
                });
            });
            put_box(out, b"stbl", |out| stbl(out, spec, samples, data_offset));
        });
    });
}

fn stbl(out: &mut Vec<u8>, spec: &Mp4Spec, samples: &Samples, data_offset: u64) {
    put_full_box(out, b"stsd", 0, 0, |out| {
        u32be(out, 1);
        put_box(out, &spec.codec.fourcc(), |out| {
            visual_sample_entry(out, spec);
            match spec.codec {
                Codec::Avc1 => put_box(out, b"avcC", |out| avc_config(out, spec)),
                Codec::Hvc1 => put_box(out, b"hvcC", hevc_config),
            }
        });
    });
    put_full_box(out, b"stts", 0, 0, |out| {
        u32be(out, samples.deltas.len() as u32);
        for &(count, delta) in &samples.deltas {
            u32be(out, count);
            u32be(out, delta);
        }
    });
    put_full_box(out, b"stsc", 0, 0, |out| {
        u32be(out, 1);
        u32be(out, 1); // first_chunk
        u32be(out, samples.sizes.len() as u32); // samples_per_chunk
        u32be(out, 1); // sample_description_index
    });
    put_full_box(out, b"stsz", 0, 0, |out| {
        u32be(out, 0); // sizes follow
        u32be(out, samples.sizes.len() as u32);
        for &size in &samples.sizes {
            u32be(out, size);
        }
    });
    debug_assert_eq!(samples.sizes.len() as u64, samples.count);
    match u32::try_from(data_offset) {
        Ok(offset) => put_full_box(out, b"stco", 0, 0, |out| {
            u32be(out, 1);
            u32be(out, offset);
        }),
        Err(_) => put_full_box(out, b"co64", 0, 0, |out| {
            u32be(out, 1);
            u64be(out, data_offset);
        }),
    }
    // Every sample is a sync sample: no `stss` box needed.
}

fn visual_sample_entry(out: &mut Vec<u8>, spec: &Mp4Spec) {
    out.extend_from_slice(&[0; 6]); // reserved
    u16be(out, 1); // data_reference_index
    out.extend_from_slice(&[0; 16]); // pre_defined, reserved
    u16be(out, spec.width);
    u16be(out, spec.height);
    u32be(out, 0x0048_0000); // 72 dpi
    u32be(out, 0x0048_0000);
    u32be(out, 0); // reserved
    u16be(out, 1); // frame_count
    let name: &[u8] = match spec.codec {
        Codec::Avc1 => b"import-testkit AVC",
        Codec::Hvc1 => b"import-testkit HEVC",
    };
    let mut compressor = [0u8; 32];
    compressor[0] = name.len() as u8;
    compressor[1..=name.len()].copy_from_slice(name);
    out.extend_from_slice(&compressor);
    u16be(out, 0x0018); // depth
    u16be(out, 0xFFFF); // pre_defined = -1
}

/// `AVCDecoderConfigurationRecord`: baseline profile, level 3.0, 4-byte
/// lengths, one SPS, one PPS.
fn avc_config(out: &mut Vec<u8>, spec: &Mp4Spec) {
    let sps = avc_sps(spec.width, spec.height);
    let pps = avc_pps();
    out.extend_from_slice(&[1, 66, 0xC0, 30]);
    out.push(0xFC | 3); // lengthSizeMinusOne = 3
    out.push(0xE0 | 1); // one SPS
    u16be(out, sps.len() as u16);
    out.extend_from_slice(&sps);
    out.push(1); // one PPS
    u16be(out, pps.len() as u16);
    out.extend_from_slice(&pps);
}

/// `HEVCDecoderConfigurationRecord`: Main profile, level 3.1, 4:2:0 8-bit,
/// 4-byte lengths, no parameter-set arrays.
fn hevc_config(out: &mut Vec<u8>) {
    out.push(1); // configurationVersion
    out.push(0x01); // profile space 0, tier 0, profile Main
    u32be(out, 0x6000_0000); // compatible with Main and Main 10
    out.extend_from_slice(&[0x90, 0, 0, 0, 0, 0]); // progressive, frame-only
    out.push(93); // level 3.1
    u16be(out, 0xF000); // min_spatial_segmentation_idc 0
    out.push(0xFC); // parallelismType 0
    out.push(0xFD); // chroma_format_idc 1 (4:2:0)
    out.push(0xF8); // bit_depth_luma_minus8 0
    out.push(0xF8); // bit_depth_chroma_minus8 0
    u16be(out, 0); // avgFrameRate unknown
    out.push(0x0F); // 1 temporal layer, nested, lengthSizeMinusOne 3
    out.push(0); // numOfArrays
}

/// Bits of an H.264 RBSP, most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u8,
}

impl BitWriter {
    fn bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit && let Some(last) = self.bytes.last_mut() {
            *last |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    fn bits(&mut self, value: u32, n: u32) {
        for i in (0..n).rev() {
            self.bit(value >> i & 1 == 1);
        }
    }

    /// Unsigned Exp-Golomb.
    fn ue(&mut self, value: u32) {
        let code = u64::from(value) + 1;
        let len = 64 - code.leading_zeros();
        for _ in 1..len {
            self.bit(false);
        }
        for i in (0..len).rev() {
            self.bit(code >> i & 1 == 1);
        }
    }

    /// `rbsp_trailing_bits`, then emulation prevention, after a NAL header.
    fn into_nal(mut self, header: u8) -> Vec<u8> {
        self.bit(true);
        let mut nal = vec![header];
        let mut zeros = 0;
        for b in self.bytes {
            if zeros >= 2 && b <= 3 {
                nal.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            nal.push(b);
        }
        nal
    }
}

/// A baseline-profile SPS for a `width`×`height` 4:2:0 frame.
fn avc_sps(width: u16, height: u16) -> Vec<u8> {
    let mbs_w = u32::from(width).div_ceil(16).max(1);
    let mbs_h = u32::from(height).div_ceil(16).max(1);
    // Cropping is in units of 2 luma samples for 4:2:0 frames.
    let crop_right = (mbs_w * 16).saturating_sub(u32::from(width)) / 2;
    let crop_bottom = (mbs_h * 16).saturating_sub(u32::from(height)) / 2;
    let mut w = BitWriter::default();
    w.bits(66, 8); // profile_idc: baseline
    w.bits(0xC0, 8); // constraint_set0 and constraint_set1
    w.bits(30, 8); // level_idc 3.0
    w.ue(0); // seq_parameter_set_id
    w.ue(0); // log2_max_frame_num_minus4
    w.ue(2); // pic_order_cnt_type
    w.ue(1); // max_num_ref_frames
    w.bit(false); // gaps_in_frame_num_value_allowed_flag
    w.ue(mbs_w - 1); // pic_width_in_mbs_minus1
    w.ue(mbs_h - 1); // pic_height_in_map_units_minus1
    w.bit(true); // frame_mbs_only_flag
    w.bit(true); // direct_8x8_inference_flag
    let crop = crop_right > 0 || crop_bottom > 0;
    w.bit(crop); // frame_cropping_flag
    if crop {
        w.ue(0);
        w.ue(crop_right);
        w.ue(0);
        w.ue(crop_bottom);
    }
    w.bit(false); // vui_parameters_present_flag
    w.into_nal(0x67)
}

/// The matching PPS: CAVLC, one slice group, deblocking control present.
fn avc_pps() -> Vec<u8> {
    let mut w = BitWriter::default();
    w.ue(0); // pic_parameter_set_id
    w.ue(0); // seq_parameter_set_id
    w.bit(false); // entropy_coding_mode_flag: CAVLC
    w.bit(false); // bottom_field_pic_order_in_frame_present_flag
    w.ue(0); // num_slice_groups_minus1
    w.ue(0); // num_ref_idx_l0_default_active_minus1
    w.ue(0); // num_ref_idx_l1_default_active_minus1
    w.bit(false); // weighted_pred_flag
    w.bits(0, 2); // weighted_bipred_idc
    w.ue(0); // pic_init_qp_minus26 (se 0)
    w.ue(0); // pic_init_qs_minus26 (se 0)
    w.ue(0); // chroma_qp_index_offset (se 0)
    w.bit(true); // deblocking_filter_control_present_flag
    w.bit(false); // constrained_intra_pred_flag
    w.bit(false); // redundant_pic_cnt_present_flag
    w.into_nal(0x68)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb() {
        let mut w = BitWriter::default();
        // 0 -> 1, 1 -> 010, 2 -> 011, 3 -> 00100
        w.ue(0);
        w.ue(1);
        w.ue(2);
        w.ue(3);
        assert_eq!(w.bytes, vec![0b1010_0110, 0b0100_0000]);
    }

    #[test]
    fn emulation_prevention() {
        let w = BitWriter {
            bytes: vec![0, 0, 1, 0, 0, 0],
            used: 0,
        };
        assert_eq!(w.into_nal(0x67), vec![0x67, 0, 0, 3, 1, 0, 0, 3, 0, 0x80]);
    }

    #[test]
    fn sample_table_covers_payload_and_duration() {
        for spec in [
            Mp4Spec::default(),
            Mp4Spec {
                duration_ms: 1001,
                mdat_bytes: 7,
                ..Mp4Spec::default()
            },
            Mp4Spec {
                duration_ms: 0,
                mdat_bytes: 0,
                ..Mp4Spec::default()
            },
        ] {
            let s = Samples::new(&spec);
            assert_eq!(
                s.sizes.iter().map(|&x| u64::from(x)).sum::<u64>(),
                spec.mdat_bytes as u64
            );
            let total: u64 = s
                .deltas
                .iter()
                .map(|&(c, d)| u64::from(c) * u64::from(d))
                .sum();
            assert_eq!(total, s.duration);
            let count: u64 = s.deltas.iter().map(|&(c, _)| u64::from(c)).sum();
            assert_eq!(count, s.count);
        }
    }

    #[test]
    fn big_payload_gets_a_largesize_mdat() {
        assert_eq!(mdat_header(10).len(), 8);
        assert_eq!(mdat_header(u64::from(u32::MAX)).len(), 16);
    }
}
