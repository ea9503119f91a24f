//! The MP4 probes on untrusted bytes, against each other: the stream probe
//! (fed in chunks whose sizes come from the input) and the ranged probe of
//! the same bytes stored. No input panics, allocates past the probes'
//! bounds or loops; both probes give the same answer, or both refuse.
//!
//! The input's first byte picks whether the stream probe keeps the `moov`
//! (even) or only locates it for a read back (odd), and the chunk size
//! (its upper 7 bits: 1 to 127 bytes, or 0 for the whole file); the rest is
//! the file.
#![no_main]

use import_providers::mp4::{ProbeError, StreamProbe, Streamed, probe, probe_moov};
use libfuzzer_sys::fuzz_target;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let chunk = match pick >> 1 {
        0 => file.len().max(1),
        n => usize::from(n),
    };
    let max_kept = if pick & 1 == 1 {
        0
    } else {
        import_providers::mp4::MAX_MOOV_BYTES
    };
    let store = InMemory::new();
    let path = Path::from("v.mp4");
    let len = file.len() as u64;
    futures::executor::block_on(async {
        store
            .put(&path, file.to_vec().into())
            .await
            .expect("an in-memory put");
        let stored = probe(&store as &dyn ObjectStore, &path, len).await;
        let mut stream = StreamProbe::keeping(len, max_kept);
        for piece in file.chunks(chunk) {
            stream.update(piece);
        }
        let streamed = match stream.finish() {
            Ok(Streamed::Probed(found)) => Ok(found),
            Ok(Streamed::ReadBack(at)) => probe_moov(&store as &dyn ObjectStore, &path, &at).await,
            Err(e) => Err(e),
        };
        match (&stored, &streamed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the probes disagree"),
            (Err(ProbeError::Invalid(_)), Err(ProbeError::Invalid(_))) => {}
            (a, b) => panic!("ranged probe {a:?}, stream probe {b:?}"),
        }
    });
});
