//! Exit codes and printing.

use std::process::ExitCode;

use import_async::Error;

/// How a command ended; each has a documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success (every video uploaded, for waits).
    Ok,
    /// 1: an error from the API, the network or the server.
    Error,
    /// 2: bad usage or input; nothing was sent.
    Usage,
    /// 3: the import finished with failed videos.
    Failed,
    /// 4: waiting timed out.
    TimedOut,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Usage => 2,
            Exit::Failed => 3,
            Exit::TimedOut => 4,
        })
    }
}

/// Print an error the way every command does, and answer its exit code.
pub(crate) fn fail(err: &Error) -> Exit {
    eprintln!("error: {err}");
    match err {
        Error::InvalidInput(_) => Exit::Usage,
        Error::WaitTimedOut { .. } => Exit::TimedOut,
        _ => Exit::Error,
    }
}

/// Print a usage error and answer exit code 2.
pub(crate) fn usage(message: impl std::fmt::Display) -> Exit {
    eprintln!("error: {message}");
    Exit::Usage
}

/// Write to standard output (the `say!` macros). When the reader has gone
/// (a broken pipe), the process ends at once with code 0 and no message:
/// what was asked for was cut short by the reader itself. Any other write
/// failure is an error (code 1).
pub(crate) fn say(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Print a value as pretty JSON on standard output.
pub(crate) fn json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => say!("{text}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}
