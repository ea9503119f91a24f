//! The MP4 probes on damaged and made-up files: whatever the bytes, neither
//! panics, and the stream probe (in any chunking) answers what the ranged
//! probe of the stored file answers. The fuzz target `fuzz/mp4_probe` runs
//! the same comparison coverage-guided.

use import_providers::mp4::{ProbeError, StreamProbe, Streamed, probe, probe_moov};
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use proptest::prelude::*;

/// Both probes of `file`, the stream one fed in chunks of `chunk` bytes
/// (keeping the `moov`, or only locating it when `read_back`).
fn both(
    file: &[u8],
    chunk: usize,
    read_back: bool,
) -> (
    Result<import_providers::mp4::Mp4Probe, ProbeError>,
    Result<import_providers::mp4::Mp4Probe, ProbeError>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = InMemory::new();
        let path = Path::from("v.mp4");
        let len = file.len() as u64;
        store.put(&path, file.to_vec().into()).await.unwrap();
        let stored = probe(&store as &dyn ObjectStore, &path, len).await;
        let mut stream = if read_back {
            StreamProbe::keeping(len, 0)
        } else {
            StreamProbe::new(len)
        };
        for piece in file.chunks(chunk.max(1)) {
            stream.update(piece);
        }
        let streamed = match stream.finish() {
            Ok(Streamed::Probed(found)) => Ok(found),
            Ok(Streamed::ReadBack(at)) => probe_moov(&store as &dyn ObjectStore, &path, &at).await,
            Err(e) => Err(e),
        };
        (stored, streamed)
    })
}

fn agree(file: &[u8], chunk: usize, read_back: bool) -> Result<(), TestCaseError> {
    match both(file, chunk, read_back) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (Err(ProbeError::Invalid(_)), Err(ProbeError::Invalid(_))) => {}
        (a, b) => prop_assert!(false, "ranged {:?}, streamed {:?}", a, b),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A real file with some of its bytes overwritten, cut short or not.
    #[test]
    fn damaged_files_get_one_answer(
        moov_at_end in any::<bool>(),
        changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        chunk in 1usize..5000,
        read_back in any::<bool>(),
    ) {
        let mut file = sample_mp4(&Mp4Spec {
            mdat_bytes: 2048,
            moov_at_end,
            ..Mp4Spec::default()
        });
        for (at, byte) in changes {
            let i = at.index(file.len());
            file[i] = byte;
        }
        if let Some(cut) = cut {
            file.truncate(cut.index(file.len()));
        }
        agree(&file, chunk, read_back)?;
    }

    /// Bytes made up from nothing, box headers likely: a size field and a
    /// known type at the start.
    #[test]
    fn made_up_files_get_one_answer(
        boxes in proptest::collection::vec(
            (0u32..4096, prop::sample::select(vec![*b"ftyp", *b"moov", *b"mdat", *b"free", [0; 4]]), proptest::collection::vec(any::<u8>(), 0..64)),
            0..8,
        ),
        chunk in 1usize..300,
        read_back in any::<bool>(),
    ) {
        let mut file = Vec::new();
        for (size, kind, body) in boxes {
            file.extend_from_slice(&size.to_be_bytes());
            file.extend_from_slice(&kind);
            file.extend_from_slice(&body);
        }
        agree(&file, chunk, read_back)?;
    }
}
