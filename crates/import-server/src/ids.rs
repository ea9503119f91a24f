//! New ids: sortable, prefixed by their kind, typed as the core's id types.

use std::marker::PhantomData;

use import_core::{FolderId, ImportJobId, IntegrationId, VideoId};

use crate::crypto::random_bytes;

/// An id type this server makes, with the prefix of its kind.
pub(crate) trait NewId: Sized {
    /// `ij_`, `vi_`, ...
    const PREFIX: &'static str;
    /// Wrap a generated id (valid by construction; the core checks again).
    fn wrap(id: String) -> Result<Self, import_core::Error>;
}

macro_rules! new_id {
    ($ty:ty, $prefix:literal) => {
        impl NewId for $ty {
            const PREFIX: &'static str = $prefix;
            fn wrap(id: String) -> Result<Self, import_core::Error> {
                <$ty>::new(id)
            }
        }
    };
}

new_id!(ImportJobId, "ij_");
new_id!(VideoId, "vi_");
new_id!(FolderId, "fo_");
new_id!(IntegrationId, "ci_");

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Sortable ids: a prefix, 48 bits of milliseconds and 80 bits that start random
/// and count up, in Crockford base32 (26 characters, like a ULID).
pub(crate) struct IdGen<T> {
    prefix: &'static str,
    millis: u64,
    counter: u128,
    kind: PhantomData<fn() -> T>,
}

impl<T> IdGen<T> {
    fn with_prefix(prefix: &'static str, millis: u64) -> IdGen<T> {
        let r = random_bytes::<10>();
        let mut counter = 0u128;
        for b in r {
            counter = (counter << 8) | u128::from(b);
        }
        // Leave room to count up without wrapping.
        counter >>= 1;
        IdGen {
            prefix,
            millis,
            counter,
            kind: PhantomData,
        }
    }

    /// The next id as text; each is greater than the one before.
    fn next_text(&mut self) -> String {
        let value =
            (u128::from(self.millis & 0xFFFF_FFFF_FFFF) << 80) | (self.counter & ((1 << 80) - 1));
        self.counter += 1;
        let mut out = String::with_capacity(self.prefix.len() + 26);
        out.push_str(self.prefix);
        for i in (0..26).rev() {
            let digit = (value >> (i * 5)) & 31;
            out.push(CROCKFORD[digit as usize] as char);
        }
        out
    }
}

impl<T: NewId> IdGen<T> {
    /// A generator whose ids sort after every id made before `millis`.
    pub(crate) fn new(millis: u64) -> IdGen<T> {
        IdGen::with_prefix(T::PREFIX, millis)
    }

    /// The next id; each is greater than the one before.
    pub(crate) fn next_id(&mut self) -> Result<T, import_core::Error> {
        T::wrap(self.next_text())
    }
}

/// One new id of a kind.
pub(crate) fn new_id<T: NewId>(millis: u64) -> Result<T, import_core::Error> {
    IdGen::new(millis).next_id()
}

/// A worker's id (`wk_...`), which names its leases.
pub(crate) fn new_worker_id(millis: u64) -> String {
    IdGen::<()>::with_prefix("wk_", millis).next_text()
}

/// A new server process id, `in_...`.
pub(crate) fn new_instance_id(millis: u64) -> String {
    IdGen::<()>::with_prefix("in_", millis).next_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_creation_order_and_carry_their_prefix() {
        let mut g = IdGen::<VideoId>::new(1_700_000_000_000);
        let ids: Vec<VideoId> = (0..1000).map(|_| g.next_id().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids[0].as_str().len(), 29);
        assert!(ids[0].as_str().starts_with("vi_"));
        let later: VideoId = new_id(1_700_000_000_001).unwrap();
        assert!(later > ids[999]);
        let job: ImportJobId = new_id(1).unwrap();
        assert!(job.as_str().starts_with("ij_"));
        assert!(new_worker_id(1).starts_with("wk_"));
    }
}
