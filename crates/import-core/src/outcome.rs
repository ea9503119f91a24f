//! What a finished copy means for its row: the server's outcome policy, a
//! pure function of how the copy ended and how many attempts the row has
//! used, like [`crate::RetryPolicy`] for requests.
//!
//! | the copy | attempts left | the row |
//! | --- | --- | --- |
//! | stored | any | `UPLOADED`, with its metadata |
//! | failed for good (a code) | any | `UPLOADING_FAILED` with that code |
//! | failed, may pass later | yes | back to `PENDING`, claimed again after a backoff |
//! | failed, may pass later | no | `UPLOADING_FAILED` with its code, the attempts named |
//!
//! Writing the outcome can fail too (a busy database): the write is tried
//! again at once a few times with a short backoff
//! ([`OutcomePolicy::after_failed_write`]); then
//! [`OutcomePolicy::after_unrecorded`] decides:
//!
//! | the write | free hand-backs used | attempts left | the row |
//! | --- | --- | --- | --- |
//! | refused a value (it will never pass) | any | any | `UPLOADING_FAILED`, `record_refused` |
//! | failed | fewer than [`MAX_FREE_HAND_BACKS`] | any | back to `PENDING`, the attempt not spent |
//! | failed | all | yes | back to `PENDING`, the attempt spent |
//! | failed | all | no | `UPLOADING_FAILED`, `interrupted` |
//!
//! So no row is copied again for free more than [`MAX_FREE_HAND_BACKS`]
//! times, and none loops for ever.
//!
//! ```
//! use std::time::Duration;
//! use import_core::outcome::{CopyEnd, OutcomePolicy, RowVerdict, WriteNext};
//! use import_core::FailureCode;
//!
//! let policy = OutcomePolicy::new(3, Duration::from_secs(2));
//! let flaky = || CopyEnd::Retry(FailureCode::SourceUnavailable, "503".into());
//! assert_eq!(
//!     policy.judge(flaky(), 1),
//!     RowVerdict::RetryAfter { wait: Duration::from_secs(2), reason: "503".into() }
//! );
//! assert!(matches!(policy.judge(flaky(), 3), RowVerdict::Failed(FailureCode::SourceUnavailable, _)));
//! assert_eq!(policy.after_failed_write(1), WriteNext::Retry(Duration::from_millis(100)));
//! assert_eq!(policy.after_failed_write(5), WriteNext::HandBack);
//! ```

use std::time::Duration;

use crate::RetryPolicy;
use crate::wire::{FailureCode, VideoMetadata};

/// How a transient failure's reason ends while the row will be tried again
/// (the providers' messages end so); a row that fails for good drops it.
pub const RETRY_PROMISE: &str = "; the import will try again later";

/// Claims of a row at most (its attempts): the reference server's cap.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Longest wait between two claims of a row whose copy may pass later.
pub const MAX_ROW_BACKOFF: Duration = Duration::from_secs(300);

/// Writes of a row's outcome tried again after the first fails.
pub const OUTCOME_WRITE_RETRIES: u32 = 4;

/// The wait before the first of those writes; it doubles each time (0.1,
/// 0.2, 0.4, 0.8 s: 1.5 s in all, well inside any lease).
pub const OUTCOME_WRITE_BACKOFF: Duration = Duration::from_millis(100);

/// Times a row may be handed back to the queue without spending an attempt
/// (its outcome could not be written): enough to ride out a database
/// restart, few enough that a row whose outcome never records cannot hold a
/// copy place for ever.
pub const MAX_FREE_HAND_BACKS: u32 = 3;

/// What becomes of a row whose outcome could not be written, after the
/// write's retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrecorded {
    /// Back to `PENDING`; `free` when the attempt its claim counted is given
    /// back.
    HandBack {
        /// Whether the attempt is given back.
        free: bool,
    },
    /// Failed for good with this code and reason (which hold no text from
    /// outside, so that writing them cannot be refused in turn).
    Fail(FailureCode, String),
}

/// How a copy ended, before the policy decides what it means for its row.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyEnd {
    /// Stored, with its metadata.
    Done(Box<VideoMetadata>),
    /// Failed for good: the row fails with this code and reason.
    Fail(FailureCode, String),
    /// Failed in a way that may pass later (a source or store briefly
    /// away); the code and reason stand if no attempt is left.
    Retry(FailureCode, String),
}

/// What a row becomes once its copy ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RowVerdict {
    /// `UPLOADED`.
    Uploaded(Box<VideoMetadata>),
    /// `UPLOADING_FAILED` with a code and a reason a person understands.
    Failed(FailureCode, String),
    /// Back to `PENDING`, claimable again after `wait`.
    RetryAfter {
        /// How long the row waits before its next claim.
        wait: Duration,
        /// Why, kept on the row meanwhile.
        reason: String,
    },
}

/// What to do after the `n`th failed write of a row's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteNext {
    /// Write again after this wait.
    Retry(Duration),
    /// Give up writing: hand the row back to the queue without spending its
    /// attempt, so that it is copied again at once.
    HandBack,
}

/// The outcome policy: the attempt cap, the backoff between attempts and the
/// retries of a failed outcome write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomePolicy {
    max_attempts: u32,
    retry: RetryPolicy,
    write: RetryPolicy,
}

impl OutcomePolicy {
    /// Rows claimed at most `max_attempts` times (at least once), waiting
    /// `retry_base` after the first transient failure, doubling up to
    /// [`MAX_ROW_BACKOFF`].
    pub fn new(max_attempts: u32, retry_base: Duration) -> OutcomePolicy {
        OutcomePolicy {
            max_attempts: max_attempts.max(1),
            retry: RetryPolicy::default()
                .with_initial_backoff(retry_base)
                .with_max_backoff(MAX_ROW_BACKOFF),
            write: RetryPolicy::default()
                .with_initial_backoff(OUTCOME_WRITE_BACKOFF)
                .with_max_retries(OUTCOME_WRITE_RETRIES),
        }
    }

    /// The attempt cap.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// What a copy that ended as `end` means for its row, which has been
    /// claimed `attempts` times (this claim included).
    pub fn judge(&self, end: CopyEnd, attempts: u32) -> RowVerdict {
        match end {
            CopyEnd::Done(meta) => RowVerdict::Uploaded(meta),
            CopyEnd::Fail(code, reason) => RowVerdict::Failed(code, reason),
            // Failed for good: the reason no longer promises another try.
            CopyEnd::Retry(code, reason) if attempts >= self.max_attempts => RowVerdict::Failed(
                code,
                format!(
                    "the source kept failing after {attempts} attempts: {}; retry the row once the source is fixed",
                    reason.strip_suffix(RETRY_PROMISE).unwrap_or(&reason)
                ),
            ),
            CopyEnd::Retry(_, reason) => RowVerdict::RetryAfter {
                wait: self.retry.backoff(attempts.saturating_sub(1)),
                reason,
            },
        }
    }

    /// What becomes of a row whose outcome could not be written after the
    /// write's retries: `refused` when the database refused a value (the
    /// write will never pass), `hand_backs` the times it was handed back
    /// before, `attempts` its claims (this one included).
    pub fn after_unrecorded(&self, refused: bool, hand_backs: u32, attempts: u32) -> Unrecorded {
        if refused {
            Unrecorded::Fail(
                FailureCode::RecordRefused,
                "the database refused to record this video's outcome (a value it cannot store); the server's log has the details: report it, then retry the row"
                    .to_owned(),
            )
        } else if hand_backs < MAX_FREE_HAND_BACKS {
            Unrecorded::HandBack { free: true }
        } else if attempts < self.max_attempts {
            Unrecorded::HandBack { free: false }
        } else {
            Unrecorded::Fail(
                FailureCode::Interrupted,
                format!(
                    "the outcome of this video's copy could not be recorded in {attempts} attempts (the database kept failing); retry the row"
                ),
            )
        }
    }

    /// What to do after the `failed`th failed write (1 for the first) of a
    /// row's outcome: write again after a short backoff, up to
    /// [`OUTCOME_WRITE_RETRIES`] times, then hand the row back.
    pub fn after_failed_write(&self, failed: u32) -> WriteNext {
        if failed == 0 || failed > self.write.max_retries() {
            WriteNext::HandBack
        } else {
            WriteNext::Retry(self.write.backoff(failed - 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Box<VideoMetadata> {
        Box::new(VideoMetadata {
            size_bytes: Some(7),
            ..VideoMetadata::default()
        })
    }

    #[test]
    fn each_end_and_attempt_count_has_one_verdict() {
        let policy = OutcomePolicy::new(3, Duration::from_secs(1));
        let retry = |r: &str| CopyEnd::Retry(FailureCode::SourceUnavailable, r.into());
        let table: Vec<(CopyEnd, u32, RowVerdict)> = vec![
            (CopyEnd::Done(meta()), 1, RowVerdict::Uploaded(meta())),
            (CopyEnd::Done(meta()), 9, RowVerdict::Uploaded(meta())),
            (
                CopyEnd::Fail(FailureCode::NotMp4, "a JPEG".into()),
                1,
                RowVerdict::Failed(FailureCode::NotMp4, "a JPEG".into()),
            ),
            (
                retry("503"),
                1,
                RowVerdict::RetryAfter {
                    wait: Duration::from_secs(1),
                    reason: "503".into(),
                },
            ),
            (
                retry("503"),
                2,
                RowVerdict::RetryAfter {
                    wait: Duration::from_secs(2),
                    reason: "503".into(),
                },
            ),
            (
                retry("503"),
                3,
                RowVerdict::Failed(
                    FailureCode::SourceUnavailable,
                    "the source kept failing after 3 attempts: 503; retry the row once the source is fixed".into(),
                ),
            ),
            (
                retry("503"),
                7,
                RowVerdict::Failed(
                    FailureCode::SourceUnavailable,
                    "the source kept failing after 7 attempts: 503; retry the row once the source is fixed".into(),
                ),
            ),
            // A reason that promised another try no longer does.
            (
                retry("503; the import will try again later"),
                3,
                RowVerdict::Failed(
                    FailureCode::SourceUnavailable,
                    "the source kept failing after 3 attempts: 503; retry the row once the source is fixed".into(),
                ),
            ),
        ];
        for (end, attempts, verdict) in table {
            assert_eq!(
                policy.judge(end.clone(), attempts),
                verdict,
                "{end:?} at {attempts}"
            );
        }
    }

    #[test]
    fn the_backoff_between_attempts_doubles_up_to_its_cap() {
        let policy = OutcomePolicy::new(u32::MAX, Duration::from_secs(10));
        let wait = |attempts| match policy.judge(
            CopyEnd::Retry(FailureCode::SourceUnavailable, String::new()),
            attempts,
        ) {
            RowVerdict::RetryAfter { wait, .. } => wait,
            other => panic!("{other:?}"),
        };
        assert_eq!(wait(1), Duration::from_secs(10));
        assert_eq!(wait(4), Duration::from_secs(80));
        assert_eq!(wait(40), MAX_ROW_BACKOFF);
    }

    #[test]
    fn an_unrecorded_row_is_handed_back_for_free_a_bounded_number_of_times() {
        let policy = OutcomePolicy::new(3, Duration::from_secs(1));
        let free = Unrecorded::HandBack { free: true };
        let spent = Unrecorded::HandBack { free: false };
        let table = [
            // (refused, hand-backs before, attempts) -> what becomes of it
            ((false, 0, 1), Some(&free)),
            ((false, MAX_FREE_HAND_BACKS - 1, 1), Some(&free)),
            ((false, MAX_FREE_HAND_BACKS, 1), Some(&spent)),
            ((false, MAX_FREE_HAND_BACKS, 2), Some(&spent)),
            ((false, MAX_FREE_HAND_BACKS, 3), None),
            ((false, 99, 9), None),
        ];
        for ((refused, hand_backs, attempts), want) in table {
            let got = policy.after_unrecorded(refused, hand_backs, attempts);
            match want {
                Some(want) => assert_eq!(&got, want, "{hand_backs} {attempts}"),
                None => assert!(
                    matches!(got, Unrecorded::Fail(FailureCode::Interrupted, _)),
                    "{got:?}"
                ),
            }
        }
        for hand_backs in [0, 5] {
            assert!(matches!(
                policy.after_unrecorded(true, hand_backs, 1),
                Unrecorded::Fail(FailureCode::RecordRefused, _)
            ));
        }
    }

    #[test]
    fn at_least_one_attempt_and_a_bounded_number_of_writes() {
        let policy = OutcomePolicy::new(0, Duration::from_secs(1));
        assert_eq!(policy.max_attempts(), 1);
        let waits: Vec<WriteNext> = (1..=6).map(|n| policy.after_failed_write(n)).collect();
        assert_eq!(
            waits,
            [
                WriteNext::Retry(Duration::from_millis(100)),
                WriteNext::Retry(Duration::from_millis(200)),
                WriteNext::Retry(Duration::from_millis(400)),
                WriteNext::Retry(Duration::from_millis(800)),
                WriteNext::HandBack,
                WriteNext::HandBack,
            ]
        );
    }
}
