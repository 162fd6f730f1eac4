//! What every tool's command line and lifecycle share: the `begin`/`done` pair that tells
//! later stages a tool ran and how it ended (written by [`crate::lifecycle`]), and the colour choice of people-facing output
//! (`--color`, `NO_COLOR`, terminal detection, as fd and hyperfine do).

use std::io::IsTerminal;

use crate::exit::Outcome;
use crate::record::{Begin, Done, Record};
use crate::time::now_rfc3339;

/// The crate version, which every tool reports as its own.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A tool's identity in the stream: its name and its role in this pipeline.
#[derive(Debug, Clone)]
pub struct Stage {
    pub tool: &'static str,
    pub stage: String,
}

impl Stage {
    pub fn new(tool: &'static str, stage: impl Into<String>) -> Stage {
        Stage {
            tool,
            stage: stage.into(),
        }
    }

    /// The `begin` record, written first.
    pub fn begin(&self) -> Record {
        Record::Begin(Begin {
            tool: self.tool.to_owned(),
            stage: self.stage.clone(),
            pid: std::process::id(),
            version: VERSION.to_owned(),
            time: now_rfc3339(),
        })
    }

    /// The `done` record, written last, carrying the exit status about to be returned and,
    /// for a failure, why.
    pub fn done(&self, outcome: Outcome, message: Option<String>) -> Record {
        Record::Done(Done {
            tool: self.tool.to_owned(),
            stage: self.stage.clone(),
            status: outcome.status(),
            time: now_rfc3339(),
            message,
        })
    }
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when the output is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream, given whether it is a terminal.
    pub fn enabled_for(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
            }
        }
    }

    /// Whether to colour this process's stdout.
    pub fn for_stdout(self) -> bool {
        self.enabled_for(std::io::stdout().is_terminal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choices_ignore_the_terminal() {
        assert!(ColorChoice::Always.enabled_for(false));
        assert!(!ColorChoice::Never.enabled_for(true));
        assert!(!ColorChoice::Auto.enabled_for(false));
    }

    #[test]
    fn done_carries_the_exit_status() {
        let stage = Stage::new("hook-run", "stack/install");
        match stage.done(Outcome::Signal(2), None) {
            Record::Done(done) => assert_eq!(done.status, 130),
            other => panic!("{other:?}"),
        }
    }
}
