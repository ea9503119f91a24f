//! The sample files are real MP4s: mp4parse reads back what the spec says.

use std::io::Cursor;

use import_testkit::mp4::{
    Codec, Mp4Spec, jpeg_bytes, mp4_len, sample_mp4, streamed_mp4_to_file, truncated_mp4,
};
use mp4parse::{CodecType, MediaTimeScale, SampleEntry, TrackType};

/// Top-level boxes as `(type, start, header length, total length)`.
fn top_boxes(bytes: &[u8]) -> Vec<([u8; 4], usize, usize, usize)> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().unwrap();
        let (header, size) = if size == 1 {
            let large = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap());
            (16, large as usize)
        } else {
            (8, size)
        };
        boxes.push((kind, at, header, size));
        at += size;
    }
    boxes
}

/// The four-character code of the first sample entry, found by walking
/// moov/trak/mdia/minf/stbl/stsd (what mp4parse does not report for HEVC).
fn sample_entry_fourcc(bytes: &[u8]) -> [u8; 4] {
    fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
        let mut at = 0;
        while at + 8 <= body.len() {
            let size = u32::from_be_bytes(body[at..at + 4].try_into().unwrap()) as usize;
            if &body[at + 4..at + 8] == kind {
                return &body[at + 8..at + size];
            }
            at += size;
        }
        panic!("no {} box", String::from_utf8_lossy(kind));
    }
    let (_, start, header, size) = top_boxes(bytes)
        .into_iter()
        .find(|b| &b.0 == b"moov")
        .expect("a moov box");
    let moov = &bytes[start + header..start + size];
    let stbl = child(
        child(child(child(moov, b"trak"), b"mdia"), b"minf"),
        b"stbl",
    );
    let stsd = child(stbl, b"stsd");
    // Full box header (4) and entry count (4), then the entry's size (4).
    stsd[12..16].try_into().unwrap()
}

#[test]
fn mp4parse_reads_size_duration_and_codec() {
    for codec in [Codec::Avc1, Codec::Hvc1] {
        for moov_at_end in [false, true] {
            for (timescale, duration_ms) in [(1000, 12_345), (90_000, 4_000)] {
                let spec = Mp4Spec {
                    width: 1920,
                    height: 1080,
                    duration_ms,
                    timescale,
                    codec,
                    mdat_bytes: 100_003,
                    moov_at_end,
                    moov_padding: 0,
                };
                let what = format!("{spec:?}");
                let bytes = sample_mp4(&spec);
                assert_eq!(bytes.len() as u64, mp4_len(&spec), "{what}");
                assert_eq!(&bytes[4..8], b"ftyp", "{what}");

                let context = mp4parse::read_mp4(&mut Cursor::new(&bytes)).expect(&what);
                let expected_duration = u64::from(duration_ms) * u64::from(timescale) / 1000;
                assert_eq!(
                    context.timescale,
                    Some(MediaTimeScale(u64::from(timescale)))
                );
                assert_eq!(context.tracks.len(), 1, "{what}");
                let track = &context.tracks[0];
                assert_eq!(track.track_type, TrackType::Video, "{what}");
                let tkhd = track.tkhd.as_ref().expect("tkhd");
                assert_eq!(tkhd.width >> 16, 1920, "{what}");
                assert_eq!(tkhd.height >> 16, 1080, "{what}");
                assert_eq!(tkhd.duration, expected_duration, "{what}");
                assert_eq!(
                    track.timescale.map(|t| t.0),
                    Some(u64::from(timescale)),
                    "{what}"
                );
                assert_eq!(
                    track.duration.map(|d| d.0),
                    Some(expected_duration),
                    "{what}"
                );

                let stsd = track.stsd.as_ref().expect("stsd");
                assert_eq!(stsd.descriptions.len(), 1, "{what}");
                match (codec, &stsd.descriptions[0]) {
                    (Codec::Avc1, SampleEntry::Video(video)) => {
                        assert_eq!(video.codec_type, CodecType::H264, "{what}");
                        assert_eq!((video.width, video.height), (1920, 1080), "{what}");
                    }
                    // mp4parse 0.17 has no HEVC: the entry is unknown to it.
                    (Codec::Hvc1, SampleEntry::Unknown) => {}
                    (_, other) => panic!("{what}: unexpected sample entry {other:?}"),
                }
                assert_eq!(sample_entry_fourcc(&bytes), codec.fourcc(), "{what}");

                // The sample table covers exactly the mdat payload.
                let stsz = track.stsz.as_ref().expect("stsz");
                let total: u64 = stsz.sample_sizes.iter().map(|&s| u64::from(s)).sum();
                assert_eq!(total, spec.mdat_bytes as u64, "{what}");
                let stts = track.stts.as_ref().expect("stts");
                let ticks: u64 = stts
                    .samples
                    .iter()
                    .map(|s| u64::from(s.sample_count) * u64::from(s.sample_delta))
                    .sum();
                assert_eq!(ticks, expected_duration, "{what}");
                let stco = track.stco.as_ref().expect("stco");
                let (_, start, header, _) = top_boxes(&bytes)
                    .into_iter()
                    .find(|b| &b.0 == b"mdat")
                    .expect("an mdat box");
                assert_eq!(
                    stco.offsets.to_vec(),
                    vec![(start + header) as u64],
                    "{what}"
                );
                let order: Vec<[u8; 4]> = top_boxes(&bytes).iter().map(|b| b.0).collect();
                let expected_order = if moov_at_end {
                    [*b"ftyp", *b"mdat", *b"moov"]
                } else {
                    [*b"ftyp", *b"moov", *b"mdat"]
                };
                assert_eq!(order, expected_order, "{what}");
            }
        }
    }
}

#[test]
fn odd_sizes_and_tiny_files_parse() {
    for (width, height, mdat_bytes, duration_ms) in
        [(1, 1, 0, 0), (641, 479, 1, 1), (3840, 2160, 10, 33)]
    {
        let spec = Mp4Spec {
            width,
            height,
            duration_ms,
            mdat_bytes,
            ..Mp4Spec::default()
        };
        let bytes = sample_mp4(&spec);
        let context = mp4parse::read_mp4(&mut Cursor::new(&bytes)).expect("parses");
        let tkhd = context.tracks[0].tkhd.as_ref().expect("tkhd");
        assert_eq!(
            (tkhd.width >> 16, tkhd.height >> 16),
            (u32::from(width), u32::from(height))
        );
    }
}

#[test]
fn streamed_file_has_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for moov_at_end in [false, true] {
        let spec = Mp4Spec {
            mdat_bytes: 3 * (1 << 20) + 17,
            moov_at_end,
            codec: Codec::Hvc1,
            ..Mp4Spec::default()
        };
        let path = dir.path().join(format!("big-{moov_at_end}.mp4"));
        let len = streamed_mp4_to_file(&path, &spec).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(len, on_disk.len() as u64);
        assert!(on_disk == sample_mp4(&spec), "streamed bytes differ");
        let mut file = std::fs::File::open(&path).unwrap();
        let context = mp4parse::read_mp4(&mut file).expect("parses from the file");
        assert_eq!(context.tracks.len(), 1);
    }
}

#[test]
fn bad_samples_are_bad() {
    let truncated = truncated_mp4();
    assert_eq!(&truncated[4..8], b"ftyp");
    assert!(truncated.windows(4).any(|w| w == b"moov"));
    assert!(mp4parse::read_mp4(&mut Cursor::new(&truncated)).is_err());

    let jpeg = jpeg_bytes();
    assert_eq!(&jpeg[..4], &[0xFF, 0xD8, 0xFF, 0xE0]);
    assert_eq!(&jpeg[6..11], b"JFIF\0");
    assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
    assert!(mp4parse::read_mp4(&mut Cursor::new(&jpeg)).is_err());

    assert!(mp4parse::read_mp4(&mut Cursor::new(Vec::<u8>::new())).is_err());
}

#[test]
fn samples_are_length_prefixed_filler_nal_units() {
    for codec in [Codec::Avc1, Codec::Hvc1] {
        let spec = Mp4Spec {
            codec,
            duration_ms: 2_000,
            mdat_bytes: 60_001,
            ..Mp4Spec::default()
        };
        let bytes = sample_mp4(&spec);
        let context = mp4parse::read_mp4(&mut Cursor::new(&bytes)).unwrap();
        let track = &context.tracks[0];
        let mut at = track.stco.as_ref().unwrap().offsets[0] as usize;
        let payload_start = at;
        let sizes = &track.stsz.as_ref().unwrap().sample_sizes;
        assert_eq!(sizes.len(), 60, "30 samples a second");
        for &size in sizes.iter() {
            let sample = &bytes[at..at + size as usize];
            let nal_len = u32::from_be_bytes(sample[..4].try_into().unwrap());
            assert_eq!(nal_len, size - 4);
            match codec {
                Codec::Avc1 => assert_eq!(sample[4] & 0x1F, 12, "filler data"),
                Codec::Hvc1 => assert_eq!(sample[4] >> 1, 38, "FD_NUT"),
            }
            let last = at + size as usize - 1;
            assert_eq!(bytes[last], ((last - payload_start) % 251) as u8);
            at += size as usize;
        }
    }
}
