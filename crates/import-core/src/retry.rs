//! When to retry a request and how long to wait first.
//!
//! The core decides, the transport sleeps: after each exchange the transport
//! describes what happened as an [`Outcome`], asks
//! [`RetryPolicy::decide`], and either sleeps for [`Decision::Retry`]'s
//! `after` and sends the same request again, or returns the response/error.
//! The policy reads no clock and owns no randomness: `now` is passed in and
//! the jitter comes from the small deterministic generator in
//! [`RetryState`], seeded by the caller.
//!
//! The rule (see the API contract): statuses `408`, `429`, `502`, `503`,
//! `504` and the transport failures (timeout, connection, other) are retried,
//! but only for idempotent requests (GET, or a POST carrying an
//! `Idempotency-Key`; the caller decides). A `Retry-After` from the server is
//! a floor on the wait; one longer than [`RetryPolicy::max_retry_after`]
//! makes the policy give up instead.

use std::time::{Duration, SystemTime};

use http::StatusCode;

/// Retry limits and backoff settings.
///
/// The wait before retry number `n` (counting from 0) is
/// `initial_backoff * 2^n`, capped at `max_backoff`. With jitter on, the
/// wait is drawn uniformly from `[base / 2, base]` ("equal jitter"), so
/// clients that failed together do not retry together. A `Retry-After` from
/// the server raises the wait to at least what it asked for.
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// use http::StatusCode;
/// use import_core::{Decision, Outcome, RetryPolicy, RetryState};
///
/// let policy = RetryPolicy::default();
/// let mut state = RetryState::new(42);
/// let now = SystemTime::UNIX_EPOCH;
///
/// let busy = Outcome::Status { status: StatusCode::SERVICE_UNAVAILABLE, retry_after: Some("2") };
/// match policy.decide(&mut state, true, busy, now) {
///     Decision::Retry { after } => assert!(after >= Duration::from_secs(2)),
///     other => panic!("expected a retry, got {other:?}"),
/// }
/// assert_eq!(state.attempt(), 1);
///
/// let bad = Outcome::Status { status: StatusCode::BAD_REQUEST, retry_after: None };
/// assert_eq!(policy.decide(&mut state, true, bad, now), Decision::DoNotRetry);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    jitter: bool,
    every_server_error: bool,
}

impl Default for RetryPolicy {
    /// 4 retries, 500 ms doubling up to 30 s, `Retry-After` up to 120 s,
    /// jitter on.
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            jitter: true,
            every_server_error: false,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries: every retryable failure gives up at once.
    #[must_use]
    pub fn none() -> Self {
        Self::default().with_max_retries(0)
    }

    /// Sets how many retries (not counting the first attempt) are allowed.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the wait before the first retry; it doubles for each later one.
    #[must_use]
    pub fn with_initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Sets the cap on the computed backoff (a `Retry-After` may exceed it).
    #[must_use]
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Sets the longest `Retry-After` the client will honour; a server asking
    /// for more makes the policy give up instead of waiting.
    #[must_use]
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// Turns jitter on (wait drawn from `[base / 2, base]`) or off (exact).
    #[must_use]
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Retries every `5xx` too (`500`, `501`, ...), not only the gateway and
    /// overload statuses `502`, `503` and `504`: for a peer whose `500`s pass
    /// (the Hugging Face Hub's do), where this API's `500` is a bug that a
    /// retry would only repeat.
    #[must_use]
    pub fn with_every_server_error(mut self, every: bool) -> Self {
        self.every_server_error = every;
        self
    }

    /// How many retries are allowed after the first attempt.
    #[must_use]
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The wait before the first retry.
    #[must_use]
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The cap on the computed backoff.
    #[must_use]
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The longest `Retry-After` the client will honour.
    #[must_use]
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Whether the backoff is jittered.
    #[must_use]
    pub fn jitter(&self) -> bool {
        self.jitter
    }

    /// The wait before retry number `retry` (counting from 0), without
    /// jitter: `initial_backoff * 2^retry`, capped at `max_backoff`. Whoever
    /// schedules a retry itself (the server's queue) uses this rule too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use import_core::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default()
    ///     .with_initial_backoff(Duration::from_secs(1))
    ///     .with_max_backoff(Duration::from_secs(5));
    /// assert_eq!(policy.backoff(0), Duration::from_secs(1));
    /// assert_eq!(policy.backoff(2), Duration::from_secs(4));
    /// assert_eq!(policy.backoff(40), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn backoff(&self, retry: u32) -> Duration {
        self.initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff)
    }

    /// Decides what to do after an exchange ended with `outcome`.
    ///
    /// - A status that is not retried (2xx, 3xx, most 4xx, `500`, `501`, ...)
    ///   gives [`Decision::DoNotRetry`].
    /// - A retryable failure gives [`Decision::GiveUp`] when the request is
    ///   not `idempotent`, when `state` has used up
    ///   [`max_retries`](Self::max_retries), or when the server's
    ///   `Retry-After` exceeds [`max_retry_after`](Self::max_retry_after).
    /// - Otherwise [`Decision::Retry`], waiting the larger of the backoff and
    ///   the `Retry-After` (an HTTP date is measured from `now`; an
    ///   unparseable value is ignored). Only this decision advances `state`.
    #[must_use]
    pub fn decide(
        &self,
        state: &mut RetryState,
        idempotent: bool,
        outcome: Outcome<'_>,
        now: SystemTime,
    ) -> Decision {
        let retry_after = match outcome {
            Outcome::Status {
                status,
                retry_after,
            } => {
                if !(is_retryable_status(status)
                    || (self.every_server_error && status.is_server_error()))
                {
                    return Decision::DoNotRetry;
                }
                retry_after.and_then(|value| parse_retry_after(value, now))
            }
            Outcome::Timeout | Outcome::Connect | Outcome::Transport => None,
        };
        if !idempotent || state.attempt >= self.max_retries {
            return Decision::GiveUp;
        }
        if retry_after.is_some_and(|wait| wait > self.max_retry_after) {
            return Decision::GiveUp;
        }
        let base = self.backoff(state.attempt);
        let backoff = if self.jitter {
            equal_jitter(base, state.next_u64())
        } else {
            base
        };
        state.attempt = state.attempt.saturating_add(1);
        Decision::Retry {
            after: backoff.max(retry_after.unwrap_or(Duration::ZERO)),
        }
    }
}

/// How one exchange ended, as the transport saw it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// The server answered with a status.
    Status {
        /// The response status.
        status: StatusCode,
        /// The raw `Retry-After` header value, if the response carried one.
        retry_after: Option<&'a str>,
    },
    /// No answer arrived in time.
    Timeout,
    /// The connection was refused or reset before or during the exchange.
    Connect,
    /// Any other transport failure (TLS, reading the body, ...).
    Transport,
}

/// What the transport should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sleep for `after`, then send the same request again.
    Retry {
        /// How long to wait before the next attempt.
        after: Duration,
    },
    /// The failure is of a retryable kind, but the policy stops here (request
    /// not idempotent, retries used up, or the server asked for too long a
    /// wait): return the failure to the caller.
    GiveUp,
    /// The outcome is not one the policy retries (a success, or a status such
    /// as `400`, `404` or `500`): return it to the caller as it is.
    DoNotRetry,
}

/// Per-request retry bookkeeping: the retries made so far and the jitter
/// generator (splitmix64, deterministic for a given seed).
#[derive(Debug, Clone)]
pub struct RetryState {
    attempt: u32,
    rng: u64,
}

impl RetryState {
    /// A fresh state whose jitter is drawn from a generator seeded by `seed`
    /// (the transport seeds it from whatever randomness it has; tests use a
    /// constant).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            attempt: 0,
            rng: seed,
        }
    }

    /// How many retries have been decided so far.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts counting retries from zero again (the generator keeps going).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// splitmix64.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Parses a `Retry-After` value: whole seconds (`"3"`) or an HTTP date,
/// measured from `now` (a date in the past gives zero). Surrounding
/// whitespace is ignored; anything else gives `None`. A number of seconds too
/// large for a `u64` saturates.
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// use import_core::parse_retry_after;
///
/// let now = SystemTime::UNIX_EPOCH;
/// assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
/// assert_eq!(
///     parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now),
///     Some(Duration::from_secs(10)),
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Some(secs) = retry_after_seconds(value) {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value.trim()).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The delay-seconds form of `Retry-After` (`"120"`; a huge number saturates),
/// or `None` for an HTTP date or garbage. [`parse_retry_after`] also reads
/// the date form; this is for a caller without a clock.
pub(crate) fn retry_after_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u64>().unwrap_or(u64::MAX))
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 502 | 503 | 504)
}

/// A wait drawn from `[base / 2, base]` using `random`.
fn equal_jitter(base: Duration, random: u64) -> Duration {
    let base = base.as_nanos();
    let half = base / 2;
    let span = base - half;
    let offset = u128::from(random) % (span + 1);
    duration_from_nanos(half + offset)
}

fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, sub)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn exact() -> RetryPolicy {
        RetryPolicy::default().with_jitter(false)
    }

    fn status(code: u16, retry_after: Option<&str>) -> Outcome<'_> {
        let status = StatusCode::from_u16(code).expect("valid status code");
        Outcome::Status {
            status,
            retry_after,
        }
    }

    fn first(policy: &RetryPolicy, idempotent: bool, outcome: Outcome<'_>) -> Decision {
        policy.decide(&mut RetryState::new(7), idempotent, outcome, now())
    }

    #[test]
    fn retried_outcomes() {
        let mut outcomes: Vec<Outcome<'_>> =
            [408, 429, 502, 503, 504].map(|c| status(c, None)).to_vec();
        outcomes.extend([Outcome::Timeout, Outcome::Connect, Outcome::Transport]);
        for outcome in outcomes {
            let mut state = RetryState::new(1);
            let decision = exact().decide(&mut state, true, outcome, now());
            assert_eq!(decision, Decision::Retry { after: ms(500) }, "{outcome:?}");
            assert_eq!(state.attempt(), 1);
        }
    }

    #[test]
    fn other_statuses_not_retried() {
        for code in [200, 201, 204, 304, 400, 401, 404, 409, 422, 500, 501] {
            let mut state = RetryState::new(1);
            let decision = exact().decide(&mut state, true, status(code, Some("1")), now());
            assert_eq!(decision, Decision::DoNotRetry, "{code}");
            assert_eq!(state.attempt(), 0);
        }
    }

    #[test]
    fn every_server_error_is_retried_only_when_asked() {
        let every = exact().with_every_server_error(true);
        for code in [500, 501, 505, 599] {
            let mut state = RetryState::new(1);
            assert_eq!(
                every.decide(&mut state, true, status(code, None), now()),
                Decision::Retry { after: ms(500) },
                "{code}"
            );
            let mut state = RetryState::new(1);
            assert_eq!(
                exact().decide(&mut state, true, status(code, None), now()),
                Decision::DoNotRetry,
                "{code}"
            );
        }
        for code in [400, 404, 422] {
            let mut state = RetryState::new(1);
            assert_eq!(
                every.decide(&mut state, true, status(code, None), now()),
                Decision::DoNotRetry
            );
        }
    }

    #[test]
    fn non_idempotent_never_retried() {
        let outcomes = [
            status(503, Some("1")),
            status(429, None),
            Outcome::Timeout,
            Outcome::Connect,
        ];
        for outcome in outcomes {
            assert_eq!(
                first(&exact(), false, outcome),
                Decision::GiveUp,
                "{outcome:?}"
            );
        }
        assert_eq!(
            first(&exact(), false, status(400, None)),
            Decision::DoNotRetry
        );
    }

    #[test]
    fn gives_up_after_max_retries() {
        let policy = exact().with_max_retries(3);
        let mut state = RetryState::new(1);
        for _ in 0..3 {
            let decision = policy.decide(&mut state, true, Outcome::Timeout, now());
            assert!(matches!(decision, Decision::Retry { .. }));
        }
        assert_eq!(state.attempt(), 3);
        assert_eq!(
            policy.decide(&mut state, true, Outcome::Timeout, now()),
            Decision::GiveUp
        );
        assert_eq!(state.attempt(), 3);
        state.reset();
        assert_eq!(
            policy.decide(&mut state, true, Outcome::Timeout, now()),
            Decision::Retry { after: ms(500) }
        );
        assert_eq!(
            first(&RetryPolicy::none(), true, Outcome::Timeout),
            Decision::GiveUp
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = exact()
            .with_max_retries(10)
            .with_initial_backoff(ms(100))
            .with_max_backoff(Duration::from_secs(1));
        let mut state = RetryState::new(1);
        let delays: Vec<Duration> = (0..6)
            .map(
                |_| match policy.decide(&mut state, true, Outcome::Connect, now()) {
                    Decision::Retry { after } => after,
                    other => panic!("expected a retry, got {other:?}"),
                },
            )
            .collect();
        let expected = [100, 200, 400, 800, 1000, 1000].map(ms);
        assert_eq!(delays, expected);
    }

    #[test]
    fn huge_attempt_counts_saturate() {
        let policy = exact()
            .with_max_retries(u32::MAX)
            .with_initial_backoff(Duration::MAX);
        let mut state = RetryState::new(1);
        state.attempt = u32::MAX - 1;
        let decision = policy.decide(&mut state, true, Outcome::Transport, now());
        assert_eq!(
            decision,
            Decision::Retry {
                after: policy.max_backoff()
            }
        );
        assert_eq!(
            policy.decide(&mut state, true, Outcome::Transport, now()),
            Decision::GiveUp
        );
    }

    fn jittered(seed: u64, policy: &RetryPolicy) -> Vec<Duration> {
        let mut state = RetryState::new(seed);
        (0..8)
            .map(
                |_| match policy.decide(&mut state, true, Outcome::Timeout, now()) {
                    Decision::Retry { after } => after,
                    other => panic!("expected a retry, got {other:?}"),
                },
            )
            .collect()
    }

    #[test]
    fn jitter_stays_within_half_to_full_base() {
        let policy = RetryPolicy::default()
            .with_max_retries(8)
            .with_initial_backoff(Duration::from_secs(1))
            .with_max_backoff(Duration::from_secs(64));
        for seed in 0..200 {
            for (n, after) in jittered(seed, &policy).into_iter().enumerate() {
                let base = Duration::from_secs(1 << n).min(policy.max_backoff());
                assert!(
                    (base / 2..=base).contains(&after),
                    "seed {seed} retry {n}: {after:?}"
                );
            }
        }
        assert_eq!(jittered(42, &policy), jittered(42, &policy));
        assert_ne!(jittered(1, &policy), jittered(2, &policy));
    }

    #[test]
    fn retry_after_seconds_is_a_floor() {
        assert_eq!(
            first(&exact(), true, status(503, Some("3"))),
            Decision::Retry {
                after: Duration::from_secs(3)
            }
        );
        assert_eq!(
            first(&exact(), true, status(429, Some("0"))),
            Decision::Retry { after: ms(500) }
        );
        assert_eq!(
            parse_retry_after(" 7 ", now()),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn retry_after_http_date() {
        let header = httpdate::fmt_http_date(now() + Duration::from_secs(10));
        assert_eq!(
            parse_retry_after(&header, now()),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            first(&exact(), true, status(503, Some(header.as_str()))),
            Decision::Retry {
                after: Duration::from_secs(10)
            }
        );
    }

    #[test]
    fn retry_after_in_the_past_keeps_backoff() {
        let header = httpdate::fmt_http_date(now() - Duration::from_secs(60));
        assert_eq!(parse_retry_after(&header, now()), Some(Duration::ZERO));
        assert_eq!(
            first(&exact(), true, status(503, Some(header.as_str()))),
            Decision::Retry { after: ms(500) }
        );
    }

    #[test]
    fn garbage_retry_after_is_ignored() {
        for value in ["soon", "", "  ", "-1", "+3", "1.5", "3s"] {
            assert_eq!(parse_retry_after(value, now()), None, "{value:?}");
            assert_eq!(
                first(&exact(), true, status(503, Some(value))),
                Decision::Retry { after: ms(500) },
                "{value:?}"
            );
        }
    }

    #[test]
    fn too_long_retry_after_gives_up() {
        let policy = exact();
        assert_eq!(
            first(&policy, true, status(503, Some("120"))),
            Decision::Retry {
                after: Duration::from_secs(120)
            }
        );
        let far = httpdate::fmt_http_date(now() + Duration::from_secs(3600));
        for value in ["121", "99999999999999999999999", far.as_str()] {
            let mut state = RetryState::new(1);
            let decision = policy.decide(&mut state, true, status(429, Some(value)), now());
            assert_eq!(decision, Decision::GiveUp, "{value:?}");
            assert_eq!(state.attempt(), 0);
        }
    }

    proptest! {
        #[test]
        fn delay_never_exceeds_cap(
            attempt in any::<u32>(),
            seed in any::<u64>(),
            initial_ms in any::<u64>(),
            max_ms in any::<u64>(),
            retry_after in proptest::option::of(0u64..100_000),
            jitter in any::<bool>(),
        ) {
            let policy = RetryPolicy::default()
                .with_max_retries(u32::MAX)
                .with_initial_backoff(Duration::from_millis(initial_ms))
                .with_max_backoff(Duration::from_millis(max_ms))
                .with_max_retry_after(Duration::MAX)
                .with_jitter(jitter);
            let mut state = RetryState::new(seed);
            state.attempt = attempt;
            let header = retry_after.map(|secs| secs.to_string());
            let floor = Duration::from_secs(retry_after.unwrap_or(0));
            let decision = policy.decide(&mut state, true, status(503, header.as_deref()), now());
            if let Decision::Retry { after } = decision {
                prop_assert!(after <= policy.max_backoff().max(floor));
                prop_assert!(after >= floor);
                prop_assert_eq!(state.attempt(), attempt + 1);
            } else {
                prop_assert_eq!(decision, Decision::GiveUp);
                prop_assert_eq!(attempt, u32::MAX);
            }
        }
    }
}
