//! Rate limits per API key: a token bucket (GCRA, the `governor` crate) of
//! `--requests-per-minute` tokens that refills evenly over a minute. Each
//! process keeps its own buckets: N replicas allow a key up to N times the
//! limit.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use import_core::api::{
    RATE_LIMIT_LIMIT_HEADER, RATE_LIMIT_REMAINING_HEADER, RATE_LIMIT_RESET_HEADER,
};

type Limiter =
    RateLimiter<String, HashMapStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The buckets of every API key seen by this process (one per key id: only
/// keys that authenticated get one, so the map is bounded by the keys of the
/// database).
pub(crate) struct RateLimits {
    limiter: Limiter,
    clock: DefaultClock,
    per_minute: u32,
}

/// The `RateLimit-*` headers of one answer, and for a refusal its wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateState {
    limit: u32,
    remaining: u32,
    reset_secs: u64,
    /// Whole seconds to wait before the next request may pass, when refused.
    pub(crate) retry_after: Option<u64>,
}

impl RateLimits {
    /// Buckets of `per_minute` tokens; `None` when the limit is off (0).
    pub(crate) fn new(per_minute: u32) -> Option<RateLimits> {
        let n = NonZeroU32::new(per_minute)?;
        let clock = DefaultClock::default();
        Some(RateLimits {
            limiter: Limiter::new(
                Quota::per_minute(n),
                HashMapStateStore::default(),
                clock.clone(),
            ),
            clock,
            per_minute,
        })
    }

    /// Take a token for `key_id`.
    pub(crate) fn check(&self, key_id: &str) -> RateState {
        let per_token = 60.0 / f64::from(self.per_minute);
        match self.limiter.check_key(&key_id.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let empty = f64::from(self.per_minute.saturating_sub(remaining));
                RateState {
                    limit: self.per_minute,
                    remaining,
                    reset_secs: (empty * per_token).ceil() as u64,
                    retry_after: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = whole_seconds(wait);
                RateState {
                    limit: self.per_minute,
                    remaining: 0,
                    reset_secs: (f64::from(self.per_minute) * per_token).ceil() as u64,
                    retry_after: Some(secs),
                }
            }
        }
    }
}

/// A wait in whole seconds, rounded up, at least 1.
fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl RateState {
    /// Add the `RateLimit-*` headers.
    pub(crate) fn write(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            (RATE_LIMIT_LIMIT_HEADER, u64::from(self.limit)),
            (RATE_LIMIT_REMAINING_HEADER, u64::from(self.remaining)),
            (RATE_LIMIT_RESET_HEADER, self.reset_secs),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_refusal_with_a_whole_second_wait() {
        let limits = RateLimits::new(3).unwrap();
        let states: Vec<RateState> = (0..3).map(|_| limits.check("ak_a")).collect();
        assert_eq!(
            states.iter().map(|s| s.remaining).collect::<Vec<_>>(),
            [2, 1, 0]
        );
        assert!(states.iter().all(|s| s.retry_after.is_none()));
        let refused = limits.check("ak_a");
        // One token every 20 s.
        assert!(matches!(refused.retry_after, Some(19 | 20)), "{refused:?}");
        // Another key has its own bucket.
        assert_eq!(limits.check("ak_b").remaining, 2);
        let mut h = HeaderMap::new();
        refused.write(&mut h);
        assert_eq!(h[RATE_LIMIT_LIMIT_HEADER], "3");
        assert_eq!(h[RATE_LIMIT_REMAINING_HEADER], "0");
        assert_eq!(h[RATE_LIMIT_RESET_HEADER], "60");
        assert!(RateLimits::new(0).is_none());
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(2001)), 3);
    }
}
