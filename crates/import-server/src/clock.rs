//! Time, in one place: the server's [`Clock`], and RFC 3339 text.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server's clock: the system's time, plus an offset that only a test
/// moves ([`Clock::advance`]) to make hours pass in an instant (key expiry,
/// the idempotency retention, leases seen from the database). Timers still
/// run on real time. Clones share the offset.
///
/// ```
/// use std::time::Duration;
/// use import_server::Clock;
///
/// let clock = Clock::default();
/// let before = clock.now_ms();
/// clock.advance(Duration::from_secs(3_600));
/// assert!(clock.now_ms() - before >= 3_600_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch, by this clock.
    pub fn now_ms(&self) -> i64 {
        system_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Move this clock (and its clones) ahead by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(by, Ordering::Relaxed);
    }
}

/// Milliseconds since the Unix epoch, by the system's clock (for what runs
/// before a server's clock exists: migrations, the command line's key
/// administration).
pub(crate) fn now_ms() -> i64 {
    system_ms()
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 UTC text of a time in milliseconds (`2026-11-28T17:34:06.123Z`).
pub(crate) fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(1_764_351_246_123),
            "2025-11-28T17:34:06.123Z"
        );
    }
}
