//! The one lifecycle of every hookpipe tool and its one way out.
//!
//! Every `main.rs` is one line, `hookpipe::lifecycle::main::<the_tool::Tool>()`: parse the
//! command line, run, and leave through [`crate::exit::finish`], which owns the exit
//! table. A tool that writes records wraps its work in [`Stage::run`]: `begin` first, the
//! work, `done` last with the exit status (and, on failure, the message), a reader that
//! went away handled as the tool's [`ReaderGone`] says.
//!
//! A stage that cannot start (a command line that does not parse, a bad value such as
//! `HOOKPIPE_TIMEOUT=5x`, a missing prelude, an unreadable state file) goes through the
//! same path: it still writes its `begin` and a `done` with status 2 and the message before
//! it exits, so phase-log at the end of the pipeline says the run failed and why, instead
//! of seeing an empty stream and calling it ok. It does not read its input: the stages
//! before it see their reader leave and stop.

use std::io::{self, Write};
use std::process::ExitCode;

use crate::cli::Stage;
use crate::exit::{finish, is_broken_pipe, Fatal, Kind, Outcome};
use crate::stream::RecordWriter;

/// A tool as the lifecycle runs it.
pub trait Tool {
    /// The tool's name, as in `begin`/`done` and in front of its error messages.
    const NAME: &'static str;
    /// The stage named in `begin`/`done` when the command line cannot be parsed (a stage
    /// that cannot start still tells the stream), or `None` for a tool whose stdout is not
    /// a record stream (phase-log, hookpipe-gen).
    const USAGE_STAGE: Option<&'static str>;
    /// The command line.
    type Args: clap::Parser;
    /// The stage of a command line clap refused, from what could be read of it (hook-run
    /// reads its MODE and PHASE); [`Tool::USAGE_STAGE`] when nothing could.
    fn usage_stage() -> Option<String> {
        Self::USAGE_STAGE.map(str::to_owned)
    }
    /// The work, given the parsed command line.
    fn run(args: &Self::Args) -> Result<Outcome, Fatal>;
}

/// The whole of every tool's `main`.
pub fn main<T: Tool>() -> ExitCode {
    let result = match <T::Args as clap::Parser>::try_parse() {
        Ok(args) => T::run(&args),
        Err(err) => usage_error(T::NAME, T::usage_stage().as_deref(), &err),
    };
    finish(T::NAME, result)
}

/// A command line clap refused: clap's own message on stderr (with the usage line), and for
/// a record-writing tool the `begin`/`done` pair carrying its first line. `--help` and
/// `--version` are not errors.
fn usage_error(
    tool: &'static str,
    stage: Option<&str>,
    err: &clap::Error,
) -> Result<Outcome, Fatal> {
    let _ = err.print();
    if !err.use_stderr() {
        return Ok(Outcome::Ok);
    }
    let rendered = err.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    if let Some(stage) = stage {
        Stage::new(tool, stage).cannot_start(io::stdout().lock(), &Fatal::usage(message));
    }
    // Said on stderr already, by clap.
    Err(Fatal::usage(String::new()))
}

/// What a stage does when its reader goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderGone {
    /// A lister (`hook-list | head -1`) ends quietly with status 0.
    Quiet,
    /// A runner ends with 141, after stopping its hook.
    BrokenPipe,
}

impl ReaderGone {
    fn result(self) -> Result<Outcome, Fatal> {
        match self {
            ReaderGone::Quiet => Ok(Outcome::Ok),
            ReaderGone::BrokenPipe => Err(Fatal::broken_pipe()),
        }
    }
}

impl Stage {
    /// The lifecycle of a record-writing tool: `begin`, `work`, `done` with the outcome and,
    /// when `work` failed, its message. A reader that went away ends the stage as `gone`
    /// says; another write error is the tool's own failure.
    pub fn run<W: Write>(
        &self,
        out: W,
        gone: ReaderGone,
        work: impl FnOnce(&mut RecordWriter<W>) -> Result<Outcome, Fatal>,
    ) -> Result<Outcome, Fatal> {
        let mut writer = RecordWriter::new(out);
        if let Err(err) = writer.write(&self.begin()).and_then(|()| writer.flush()) {
            return write_failed(err, gone);
        }
        let result = work(&mut writer);
        let done = match &result {
            Err(fatal) if fatal.kind == Kind::Outcome(Outcome::BrokenPipe) => {
                return gone.result();
            }
            Ok(outcome) => self.done(*outcome, None),
            Err(fatal) => self.done(fatal.outcome(), message_of(fatal)),
        };
        match writer.write(&done).and_then(|()| writer.flush()) {
            Ok(()) => result,
            // The failure is worth more than the news that nobody reads it.
            Err(_) if result.is_err() => result,
            Err(err) => write_failed(err, gone),
        }
    }

    /// A stage that cannot start still tells the stream: `begin`, then `done` with the
    /// status and message of `fatal`. Write errors are ignored; the caller exits with
    /// `fatal` anyway.
    pub fn cannot_start(&self, out: impl Write, fatal: &Fatal) {
        let mut writer = RecordWriter::new(out);
        let _ = writer
            .write(&self.begin())
            .and_then(|()| writer.write(&self.done(fatal.outcome(), message_of(fatal))))
            .and_then(|()| writer.flush());
    }
}

fn message_of(fatal: &Fatal) -> Option<String> {
    (!fatal.message.is_empty()).then(|| fatal.message.clone())
}

fn write_failed(err: io::Error, gone: ReaderGone) -> Result<Outcome, Fatal> {
    if is_broken_pipe(&err) {
        gone.result()
    } else {
        Err(Fatal::internal(format!("writing records: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;
    use crate::stream::RecordReader;

    fn records(bytes: &[u8]) -> Vec<Record> {
        let mut reader = RecordReader::new(bytes);
        let mut records = Vec::new();
        while let Some(raw) = reader.next().unwrap() {
            records.push(raw.decode().unwrap());
        }
        records
    }

    #[test]
    fn a_failed_stage_ends_with_done_and_its_message() {
        let mut out = Vec::new();
        let stage = Stage::new("hook-run", "stack/instal");
        let result = stage.run(&mut out, ReaderGone::BrokenPipe, |_| {
            Err(Fatal::usage("unknown phase `instal`"))
        });
        assert_eq!(result.unwrap_err().outcome(), Outcome::BadInput);
        match records(&out).as_slice() {
            [Record::Begin(begin), Record::Done(done)] => {
                assert_eq!(begin.stage, "stack/instal");
                assert_eq!(done.status, 2);
                assert_eq!(done.message.as_deref(), Some("unknown phase `instal`"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_good_stage_has_no_message() {
        let mut out = Vec::new();
        let stage = Stage::new("hook-list", "list");
        let result = stage.run(&mut out, ReaderGone::Quiet, |_| Ok(Outcome::Negative));
        assert_eq!(result.unwrap(), Outcome::Negative);
        match records(&out).as_slice() {
            [Record::Begin(_), Record::Done(done)] => {
                assert_eq!((done.status, done.message.as_deref()), (1, None));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A writer whose reader left.
    struct Gone;
    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_reader_that_left_is_quiet_for_listers_and_141_for_runners() {
        let stage = Stage::new("hook-list", "list");
        assert_eq!(
            stage
                .run(Gone, ReaderGone::Quiet, |_| Ok(Outcome::Ok))
                .unwrap(),
            Outcome::Ok
        );
        let fatal = stage
            .run(Gone, ReaderGone::BrokenPipe, |_| Ok(Outcome::Ok))
            .unwrap_err();
        assert_eq!(fatal.outcome(), Outcome::BrokenPipe);
    }

    /// A writer whose reader leaves after the first flush (after `begin`).
    struct LeavesAfterBegin(bool);
    impl Write for LeavesAfterBegin {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if self.0 {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0 = true;
            Ok(())
        }
    }

    #[test]
    fn a_failure_is_reported_when_nobody_reads_its_done() {
        let stage = Stage::new("hook-list", "list");
        let fatal = stage
            .run(LeavesAfterBegin(false), ReaderGone::Quiet, |_| {
                Err(Fatal::bad_input("x"))
            })
            .unwrap_err();
        assert_eq!(fatal.message, "x");
    }
}
