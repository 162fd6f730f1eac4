//! The one exit-status table of all five tools (DESIGN.md rule 5, README "Exit status").
//! Tools build an [`Outcome`] or a [`Fatal`] error; only `main` turns it into a process
//! status, here, so the mapping exists once.

use std::fmt;
use std::process::ExitCode;

/// Everything went as it should.
pub const OK: u8 = 0;
/// The tool worked and the outcome is negative: a hook failed or timed out, a plugin lacks
/// required functions, an upstream stage failed.
pub const NEGATIVE: u8 = 1;
/// Bad usage or bad input: an unknown flag, a malformed record, a missing directory.
pub const BAD_INPUT: u8 = 2;
/// 128 + SIGPIPE: the reader of a runner or of phase-log went away.
pub const BROKEN_PIPE: u8 = 141;

/// How a run ended, in the terms of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1.
    Negative,
    /// Exit 2 (use [`Fatal`] when there is a message to print).
    BadInput,
    /// Exit 128 + N: the run was ended by signal N (130 for SIGINT, 143 for SIGTERM).
    Signal(i32),
    /// Exit 141 without a message.
    BrokenPipe,
}

impl Outcome {
    /// The process exit status for this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Ok => OK,
            Outcome::Negative => NEGATIVE,
            Outcome::BadInput => BAD_INPUT,
            Outcome::Signal(signal) => 128u8.saturating_add(signal.clamp(0, 127) as u8),
            Outcome::BrokenPipe => BROKEN_PIPE,
        }
    }

    /// The status as an `i32`, as `done` records carry it.
    pub fn status(self) -> i32 {
        i32::from(self.code())
    }

    /// The worse of two outcomes: a signal beats everything, bad input beats a negative
    /// result, which beats success.
    pub fn worst(self, other: Outcome) -> Outcome {
        fn rank(outcome: Outcome) -> u8 {
            match outcome {
                Outcome::Ok => 0,
                Outcome::Negative => 1,
                Outcome::BadInput => 2,
                Outcome::BrokenPipe => 3,
                Outcome::Signal(_) => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// A fatal error: one line on stderr (`<tool>: <message>`), then exit with `outcome`
/// (usually [`Outcome::BadInput`]).
#[derive(Debug)]
pub struct Fatal {
    pub outcome: Outcome,
    pub message: String,
}

impl Fatal {
    /// Bad usage or bad input (exit 2).
    pub fn bad_input(message: impl Into<String>) -> Fatal {
        Fatal {
            outcome: Outcome::BadInput,
            message: message.into(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fatal {}

/// What `main` does with a tool's result: prints a fatal error as one stderr line and
/// returns the exit status. A broken pipe is silent, whatever produced it.
///
/// Whatever the result, a tool that got SIGINT, SIGTERM or SIGHUP ends by it, so the calling
/// shell sees an interrupted command and stops ([`crate::signals::end_by_received_signal`]);
/// the status 128+N stays the fallback.
pub fn finish(tool: &str, result: Result<Outcome, Fatal>) -> ExitCode {
    let code = match result {
        Ok(Outcome::Signal(signal)) => {
            crate::signals::note(signal);
            Outcome::Signal(signal).code()
        }
        Ok(outcome) => outcome.code(),
        Err(fatal) => {
            if fatal.outcome != Outcome::BrokenPipe && !fatal.message.is_empty() {
                eprintln!("{tool}: {}", fatal.message);
            }
            fatal.outcome.code()
        }
    };
    crate::signals::end_by_received_signal();
    ExitCode::from(code)
}

/// Whether an I/O error means our reader went away.
pub fn is_broken_pipe(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            (Outcome::Ok, 0),
            (Outcome::Negative, 1),
            (Outcome::BadInput, 2),
            (Outcome::Signal(2), 130),
            (Outcome::Signal(15), 143),
            (Outcome::BrokenPipe, 141),
        ];
        for (outcome, code) in cases {
            assert_eq!(outcome.code(), code, "{outcome:?}");
        }
    }

    #[test]
    fn worst_prefers_signals() {
        assert_eq!(Outcome::Ok.worst(Outcome::Negative), Outcome::Negative);
        assert_eq!(
            Outcome::Signal(2).worst(Outcome::BadInput),
            Outcome::Signal(2)
        );
    }
}
