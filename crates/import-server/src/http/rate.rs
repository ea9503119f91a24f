//! Rate limits per API key: a token bucket (GCRA, the `governor` crate) of
//! `--requests-per-minute` tokens that refills evenly over a minute. Each
//! process keeps its own buckets: N replicas allow a key up to N times the
//! limit.

use std::collections::HashMap;
use std::net::IpAddr;
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

/// Failed authentications per peer address: `--max-failed-auth-per-minute`
/// of them in a minute (a token bucket), after which the peer's requests are
/// `429` until its bucket refills, before any key is looked up. So a flood
/// of made-up keys from one address costs no database read past the limit.
pub(crate) struct AuthFailures {
    limiter: RateLimiter<IpAddr, HashMapStateStore<IpAddr>, DefaultClock>,
    clock: DefaultClock,
    /// Peers refused until the given time; only peers over the limit, and
    /// expired entries are dropped as new ones come.
    blocked: std::sync::Mutex<HashMap<IpAddr, Moment>>,
    /// Hashes of keys that authenticated lately (at most
    /// [`AUTH_FAILURE_PEERS`], forgotten all at once when full): they pass a
    /// blocked address.
    good: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A time of the limiter's clock.
type Moment = <DefaultClock as Clock>::Instant;

/// Peers whose buckets are kept before the idle ones are dropped.
const AUTH_FAILURE_PEERS: usize = 65_536;

impl AuthFailures {
    /// Buckets of `per_minute` failures; `None` when the limit is off (0).
    pub(crate) fn new(per_minute: u32) -> Option<AuthFailures> {
        let n = NonZeroU32::new(per_minute)?;
        let clock = DefaultClock::default();
        Some(AuthFailures {
            limiter: RateLimiter::new(
                Quota::per_minute(n),
                HashMapStateStore::default(),
                clock.clone(),
            ),
            clock,
            blocked: std::sync::Mutex::new(HashMap::new()),
            good: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Moment>> {
        match self.blocked.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Whole seconds `ip` must wait before its next attempt, if it is over
    /// the limit now.
    pub(crate) fn refused(&self, ip: IpAddr) -> Option<u64> {
        let now = self.clock.now();
        let mut blocked = self.blocked();
        let until = *blocked.get(&ip)?;
        if until <= now {
            blocked.remove(&ip);
            return None;
        }
        Some(whole_seconds(Duration::from(
            governor::clock::Reference::duration_since(&until, now),
        )))
    }

    fn good_keys(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        match self.good.lock() {
            Ok(set) => set,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Remember that the key of this hash authenticated.
    pub(crate) fn good(&self, key_hash: &str) {
        let mut good = self.good_keys();
        if good.len() >= AUTH_FAILURE_PEERS {
            good.clear();
        }
        good.insert(key_hash.to_owned());
    }

    /// Whether the key of this hash authenticated lately.
    pub(crate) fn known_good(&self, key_hash: &str) -> bool {
        self.good_keys().contains(key_hash)
    }

    /// Count one failed authentication of `ip`.
    pub(crate) fn failed(&self, ip: IpAddr) {
        if self.limiter.len() > AUTH_FAILURE_PEERS {
            self.limiter.retain_recent();
        }
        if let Err(not_until) = self.limiter.check_key(&ip) {
            let now = self.clock.now();
            let until = now + not_until.wait_time_from(now);
            let mut blocked = self.blocked();
            blocked.retain(|_, at| *at > now);
            blocked.insert(ip, until);
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

    #[test]
    fn a_peer_over_its_failed_authentications_waits_and_others_do_not() {
        let failures = AuthFailures::new(3).unwrap();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(failures.refused(a), None);
            failures.failed(a);
        }
        assert_eq!(
            failures.refused(a),
            None,
            "three failures are within the limit"
        );
        failures.failed(a);
        // One failure every 20 s refills.
        assert!(
            matches!(failures.refused(a), Some(19 | 20)),
            "{:?}",
            failures.refused(a)
        );
        assert_eq!(failures.refused(b), None);
        assert!(!failures.known_good("h1"));
        failures.good("h1");
        assert!(failures.known_good("h1"));
        assert!(AuthFailures::new(0).is_none());
    }
}
