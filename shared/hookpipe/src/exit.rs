//! The one exit-status table of all five tools (docs/architecture.md rule 5, README "Exit status").
//! Tools build an [`Outcome`] or a [`Fatal`] error of a [`Kind`]; only [`finish`] turns it
//! into a process status, so the mapping exists once.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

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
    /// Exit with the run's status as found in the stream (phase-log passes on the worst
    /// `done` status, 130 included, without ending itself by a signal it never got).
    Run(u8),
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
            Outcome::Run(code) => code,
        }
    }

    /// The status as an `i32`, as `done` records carry it.
    pub fn status(self) -> i32 {
        i32::from(self.code())
    }

    /// The worse of two outcomes: a signal beats everything, bad input beats a negative
    /// result, which beats success. A [`Outcome::Run`] status ranks with its row.
    pub fn worst(self, other: Outcome) -> Outcome {
        fn rank(outcome: Outcome) -> u8 {
            match outcome {
                Outcome::Ok => 0,
                Outcome::Negative => 1,
                Outcome::BadInput => 2,
                Outcome::BrokenPipe => 3,
                Outcome::Signal(_) => 4,
                Outcome::Run(code) => match code {
                    0 | 1 => code,
                    2..=127 => 2,
                    BROKEN_PIPE => 3,
                    _ => 4,
                },
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// Why a tool could not do its work. Each tool types its errors as one of these; the
/// mapping to the exit table is [`Kind::outcome`], here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line is wrong: an unknown flag or phase, a bad value (`--timeout 5x`).
    Usage,
    /// The input is wrong: a malformed record, a missing directory or prelude, an
    /// unreadable state file.
    BadInput,
    /// The tool could not work although its input was fine: bash would not start, no
    /// scratch directory, a write to stdout that failed for another reason than its reader
    /// leaving. Exit 2 as well (the table has no separate row), but said as such.
    Internal,
    /// An ending that is not an error of the tool's own: a signal, or its reader left.
    Outcome(Outcome),
}

impl Kind {
    /// The one mapping from error kinds to the exit table.
    pub fn outcome(self) -> Outcome {
        match self {
            Kind::Usage | Kind::BadInput | Kind::Internal => Outcome::BadInput,
            Kind::Outcome(outcome) => outcome,
        }
    }
}

/// A fatal error: one line on stderr (`<tool>: <message>`), and in the stream the `done`
/// record's `message`; the exit status is its kind's row of the table.
#[derive(Debug)]
pub struct Fatal {
    pub kind: Kind,
    pub message: String,
}

impl Fatal {
    /// Bad usage (exit 2).
    pub fn usage(message: impl Into<String>) -> Fatal {
        Fatal {
            kind: Kind::Usage,
            message: message.into(),
        }
    }

    /// Bad input (exit 2).
    pub fn bad_input(message: impl Into<String>) -> Fatal {
        Fatal {
            kind: Kind::BadInput,
            message: message.into(),
        }
    }

    /// The tool itself could not work (exit 2).
    pub fn internal(message: impl Into<String>) -> Fatal {
        Fatal {
            kind: Kind::Internal,
            message: message.into(),
        }
    }

    /// The reader went away (exit 141, silent).
    pub fn broken_pipe() -> Fatal {
        Fatal {
            kind: Kind::Outcome(Outcome::BrokenPipe),
            message: String::new(),
        }
    }

    /// The outcome this error ends the tool with.
    pub fn outcome(&self) -> Outcome {
        self.kind.outcome()
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fatal {}

/// The one exit path of every tool (`main` calls it through [`crate::lifecycle`]): prints a
/// fatal error as one stderr line and returns the exit status; a signal is re-raised after
/// stdout is flushed. A broken pipe is silent, whatever produced it.
pub fn finish(tool: &str, result: Result<Outcome, Fatal>) -> ExitCode {
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(fatal) => {
            if fatal.outcome() != Outcome::BrokenPipe && !fatal.message.is_empty() {
                // Not eprintln!: a closed stderr must not turn into a panic.
                let _ = writeln!(std::io::stderr().lock(), "{tool}: {}", fatal.message);
            }
            fatal.outcome()
        }
    };
    if let Outcome::Signal(signal) = outcome {
        note_signal(signal);
    }
    // Ended by Ctrl-C, TERM or HUP, whatever the result: end by the same signal, so the
    // calling shell sees an interrupted command and stops, rather than a status it may take
    // as handled. The status 128+N stays the fallback.
    end_by_noted_signal();
    ExitCode::from(outcome.code())
}

/// The signals the tools handle rather than die by at once: Ctrl-C, TERM, and HUP (a closed
/// terminal, a dropped ssh), which is handled like TERM.
pub const HANDLED_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// The first handled signal the tool got (0 for none): every handler notes it here.
static NOTED_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Notes that `signal` arrived, unless one was noted already. Called from signal handlers:
/// async-signal-safe.
pub fn note_signal(signal: i32) {
    let _ = NOTED_SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
}

/// A tool's last act: if a handled signal arrived at any time, end the process by it.
///
/// A shell running a pipeline decides whether it was interrupted from how each member ended,
/// and takes one that exited normally after Ctrl-C as having handled it: the script goes
/// on. So no path may exit normally once a signal came (a runner whose reader died of the
/// signal ends with a broken pipe, error paths too), and the window between the last look
/// at the signal and the exit must be closed. Hence the order: every handled signal gets its
/// default action back first, and only then is the note read. A signal that came before the
/// reset was noted; one that comes after kills the process by its default action.
fn end_by_noted_signal() {
    for signal in HANDLED_SIGNALS {
        // SAFETY: resetting a disposition to its default is always sound; nothing after
        // this relies on the handlers.
        unsafe {
            nix::libc::signal(signal, nix::libc::SIG_DFL);
        }
    }
    let signal = NOTED_SIGNAL.load(Ordering::SeqCst);
    if signal != 0 {
        let _ = std::io::stdout().flush();
        let _ = signal_hook::low_level::emulate_default_handler(signal);
    }
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
    fn kinds_map_to_the_table() {
        assert_eq!(Fatal::usage("x").outcome().code(), 2);
        assert_eq!(Fatal::bad_input("x").outcome().code(), 2);
        assert_eq!(Fatal::internal("x").outcome().code(), 2);
        assert_eq!(Fatal::broken_pipe().outcome().code(), 141);
    }

    #[test]
    fn worst_prefers_signals() {
        assert_eq!(Outcome::Ok.worst(Outcome::Negative), Outcome::Negative);
        assert_eq!(
            Outcome::Signal(2).worst(Outcome::BadInput),
            Outcome::Signal(2)
        );
        // A problem of phase-log's own raises the run's status to 2, never above a signal.
        assert_eq!(Outcome::Run(1).worst(Outcome::BadInput), Outcome::BadInput);
        assert_eq!(
            Outcome::Run(130).worst(Outcome::BadInput),
            Outcome::Run(130)
        );
        assert_eq!(Outcome::Run(5).worst(Outcome::BadInput).code(), 5);
    }
}
