//! phase-log: the end of every hookpipe pipeline. It reads every record, writes a human log
//! in DevStack's `outfilter` shape (`YYYY-MM-DD HH:MM:SS.mmm | ...`) to the console and to
//! log files, prints timing and failure reports at the end whether the run succeeded or
//! not, and ends with the run's exit status.
//!
//! This module owns the command line, the DevStack variables (VERBOSE, LOGFILE, LOGDAYS,
//! VERBOSE_NO_TIMESTAMP), opening the sinks and the signals. `logger` reads the stream
//! (`output` records through the record module's fast path, `records` copies the input for
//! `--records`, `merge` reads several hosts' record files as one stream for `--merge`),
//! `ledger` keeps what the reports need (`jobs` the async jobs), `report` writes the text reports,
//! `json_report`, `junit` and `html` (over `view` and `xml`) the file reports, `sink`
//! shapes and routes lines, `progress` draws the live status line, `logfile` names, links
//! and prunes log files, `render` holds the small text rules.

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod html;
mod jobs;
mod json_report;
mod junit;
mod ledger;
mod logfile;
mod logger;
mod merge;
mod progress;
mod records;
mod render;
mod report;
mod sink;
mod view;
mod xml;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use hookpipe::cli::ColorChoice;
use hookpipe::exit::{Fatal, Outcome};

pub use logfile::{local_timestamp, prune, session_files, start_devstack_log, LogFiles};
pub use logger::{run, Ending, Options, ReportFile, ReportKind};
pub use render::trueorfalse;
pub use sink::{Router, Sink};

const AFTER_HELP: &str = "\
Input: NDJSON records on stdin (specification: the hookpipe::record module). It reads them all:
  begin, done   tool lifecycle; a begin without its done means that tool crashed
  hook, skip    from hook-list; skips of reason not-a-hook go to the log file only, other
                listing skips (bad-prefix, dotfile, overridden...) are shown and reported;
                run skips (upstream-failed, stopped, interrupted, disabled) are counted and
                reported once per cause
  hypervisor    from hyp-resolve
  start, end    a hook call began, ended (status ok|failed|timeout|killed|interrupted)
  output        one line of a call's stdout (shown `ID | text`) or stderr (`ID ! text`)
  summary       echo_summary: shown on the console even when VERBOSE is False
  warning       shown and listed in the reports
  trace         --xtrace lines: log files only
  timer         time_start/time_stop: summed per name in the reports
  state         ignored; unknown types are ignored too
Output: log lines `YYYY-MM-DD HH:MM:SS.mmm | WHO MARK TEXT` (UTC, from the records' times) on
stdout and in the log files, then the reports (every call, time per stage, slowest calls,
timers, wall time, failures with their last 20 lines of output). Files get the exact bytes
hooks wrote; the console shows invalid UTF-8 as \\xNN.

File reports, written at the end of every run (ok, failed or interrupted), from the
records' times only, so a replay (`phase-log < RECORDS`) writes the same files:
  --json-report FILE  one JSON document, \"schema_version\": 2 (schema: phase-log's
                      json_report module docs): result, exit status, every call with its
                      times and status, skips, timers, summaries, warnings, failed tools
  --junit FILE        JUnit XML: a testsuite per stage, a testcase per hook call
  --html FILE         one self-contained page: a timeline of the calls, the result,
                      summaries and failures (no script, no network)
  --records FILE      the input stream byte for byte, written as it is read

Several hosts (docs/multinode.md): --merge FILE... and --host NAME=FILE read the record files
of a multi-node run instead of stdin, merged by time with the host as tie-break, each host's
records kept in their own order whatever its clock says. Every line then names its host, the
reports get a lane (HTML), a testsuite per host and stage (JUnit), a host on every call and a
hosts list (JSON), and the text report a row per host; --records writes the merged stream.
On a terminal, a status line on stderr shows the running call and its time (--progress).

Environment (DevStack's; booleans as its trueorfalse: 1 yes true True... / 0 no false...):
  VERBOSE               True (default): the console shows everything but trace; False: only
                        summaries and the reports (the log files still get everything)
  VERBOSE_NO_TIMESTAMP  True: console lines without the stamp (same as --no-timestamp)
  LOGFILE               as --logfile (empty: unset)
  LOGDAYS               as --logdays (default 7)
  HOOKPIPE_LOG_SESSION  as --session (empty: unset)
  NO_COLOR              no colour with --color auto

A run made of several pipelines writes one log: open it once with
  export HOOKPIPE_LOG_SESSION=\"$(phase-log --open-log --logfile \"$LOGFILE\")\"
and every later phase-log appends to it.

Exit status (the run's, so `set -o pipefail` scripts see the truth):
  0    every call ok, every tool done with 0 (also for empty input)
  1    a call failed, timed out, was killed or interrupted, or never ended; a tool ended with
       1 or vanished (begin without done)
  2+   the highest done status of 2 or more (2 bad input upstream, 130/143 interrupted)
  2    a malformed input line (named on stderr; the reports of what was read still come),
       or a log file that cannot be written
  141  the console went away (the log file is still written to the end)
  On SIGINT/SIGTERM/SIGHUP phase-log keeps logging until its input ends, writes the
  reports, then ends by that signal; a second signal ends it at once.";

/// Command line of `phase-log`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "phase-log",
    version,
    about = "Turn a hookpipe record stream into a timestamped log, reports and the run's exit status",
    after_help = AFTER_HELP
)]
pub struct Args {
    /// Append the log to FILE as well (its directories are created), as outfilter's -o.
    #[arg(short = 'o', long = "outfile", value_name = "FILE")]
    pub outfile: Option<PathBuf>,

    /// DevStack log: write PATH.<ts> (ts: %F-%H%M%S, local time) and the summary file
    /// PATH.summary.<ts>, with the links PATH and PATH.summary pointing at them. A PATH
    /// without a slash is in the current directory.
    #[arg(long, value_name = "PATH")]
    pub logfile: Option<PathBuf>,

    /// With --logfile: first remove PATH.<ts> and PATH.summary.<ts> files older than DAYS
    /// days (nothing else). Default: LOGDAYS, else 7.
    #[arg(long, value_name = "DAYS")]
    pub logdays: Option<u64>,

    /// Append to this log (and its PATH.summary.<ts> beside it), opened earlier by
    /// --open-log; wins over --logfile.
    #[arg(long, value_name = "FILE")]
    pub session: Option<PathBuf>,

    /// Open a log for a run of several pipelines (as --logfile, or reuse --session when
    /// set), print its absolute path and exit without reading input.
    #[arg(long)]
    pub open_log: bool,

    /// Show every line on the console, whatever VERBOSE says.
    #[arg(short, long, overrides_with = "quiet")]
    pub verbose: bool,

    /// Show only summaries and the reports on the console, whatever VERBOSE says.
    #[arg(short, long, overrides_with = "verbose")]
    pub quiet: bool,

    /// Console lines without the stamp (log files are always stamped).
    #[arg(long)]
    pub no_timestamp: bool,

    /// Keep xtrace save/restore noise (lines with `set +o` or `xtrace`) in the log.
    #[arg(long)]
    pub keep_noise: bool,

    /// Print only the `Result:` line at the end, not the reports: one phase of a longer run
    /// (lib/hookpipe's run_phase), whose full reports come once at its end.
    #[arg(long)]
    pub brief: bool,

    /// Show the bookkeeping lines (each tool's [begin] and [done], each [hook] and
    /// [hypervisor] listed) on the console too; they are always in the log file.
    #[arg(long)]
    pub show_records: bool,

    /// Print only the reports at the end on the console: no lines, no summaries (they were
    /// shown live already), and no log from LOGFILE or HOOKPIPE_LOG_SESSION. For a run's
    /// records read again at its end, as lib/hookpipe does when a legacy script exits.
    #[arg(long, conflicts_with_all = ["brief", "verbose"])]
    pub report_only: bool,

    /// Colour status words on the console.
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    pub color: ColorChoice,

    /// At the end, write the run as one JSON document (schema_version 2) to FILE.
    #[arg(long, value_name = "FILE")]
    pub json_report: Option<PathBuf>,

    /// At the end, write JUnit XML to FILE: a testsuite per stage, a testcase per call.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// At the end, write a self-contained HTML page with a timeline of the run to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Copy the input to FILE byte for byte as it is read: `phase-log < FILE` replays it.
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,

    /// A live status line on stderr (the running call and its time): auto shows it when
    /// stderr is a terminal, never in a pipe or file.
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    pub progress: ProgressChoice,

    /// Read these hosts' record files instead of stdin, merged by time (host as
    /// tie-break, each file kept in its own order); a record without a `host` takes the
    /// first one its file names, else the file's path.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub merge: Vec<PathBuf>,

    /// As --merge, for FILE whose records without a `host` are NAME's (repeatable;
    /// together with --merge the files are merged in the order given, --host ones last).
    #[arg(long = "host", value_name = "NAME=FILE", value_parser = merge::parse_host_source)]
    pub hosts: Vec<merge::Source>,
}

/// `--progress` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressChoice {
    /// When stderr is a terminal.
    #[default]
    Auto,
    Never,
}

/// The settings of a run, from the flags and DevStack's variables (flags win; an empty
/// variable counts as unset, as in DevStack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub verbose: bool,
    pub console_stamps: bool,
    /// `--logfile` or LOGFILE.
    pub logfile: Option<PathBuf>,
    /// `--logdays` or LOGDAYS, else 7.
    pub logdays: u64,
    /// `--session` or HOOKPIPE_LOG_SESSION.
    pub session: Option<PathBuf>,
}

impl Config {
    /// Flags win over the environment; `env` reads a variable. A LOGDAYS that is not a
    /// number is bad usage.
    pub fn new(args: &Args, env: impl Fn(&str) -> Option<OsString>) -> Result<Config, Fatal> {
        let var = |name: &str| env(name).filter(|value| !value.is_empty());
        let text = |name: &str| var(name).map(|value| value.to_string_lossy().into_owned());
        let verbose = if args.verbose {
            true
        } else if args.quiet {
            false
        } else {
            trueorfalse(true, text("VERBOSE").as_deref())
        };
        // DevStack normalises this from VERBOSE by mistake (docs/devstack.md §7); we read it.
        let no_stamps =
            args.no_timestamp || trueorfalse(false, text("VERBOSE_NO_TIMESTAMP").as_deref());
        let logdays = match (args.logdays, text("LOGDAYS")) {
            (Some(days), _) => days,
            (None, Some(days)) => days
                .trim()
                .parse()
                .map_err(|_| Fatal::bad_input(format!("LOGDAYS={days}: not a number of days")))?,
            (None, None) => 7,
        };
        // --report-only reads a run already logged: DevStack's LOGFILE or a session in the
        // environment must not get its lines twice (a flag still names a log on purpose).
        let path = |flag: &Option<PathBuf>, name: &str| {
            non_empty(flag).map(Path::to_path_buf).or_else(|| {
                (!args.report_only)
                    .then(|| var(name).map(PathBuf::from))
                    .flatten()
            })
        };
        Ok(Config {
            verbose,
            console_stamps: !no_stamps,
            logfile: path(&args.logfile, "LOGFILE"),
            logdays,
            session: path(&args.session, "HOOKPIPE_LOG_SESSION"),
        })
    }
}

/// An empty variable means unset, as in DevStack.
fn non_empty(path: &Option<PathBuf>) -> Option<&Path> {
    path.as_deref().filter(|path| !path.as_os_str().is_empty())
}

/// The log files of a run.
struct Files {
    logs: Vec<(PathBuf, std::fs::File)>,
    summary: Option<(PathBuf, std::fs::File)>,
    /// The log named in the reports.
    main: Option<PathBuf>,
}

fn cannot(path: &Path, err: io::Error) -> Fatal {
    Fatal::bad_input(format!("cannot open log {}: {err}", path.display()))
}

fn open_files(args: &Args, config: &Config, notes: &mut Vec<String>) -> Result<Files, Fatal> {
    let mut files = Files {
        logs: Vec::new(),
        summary: None,
        main: None,
    };
    if let Some(path) = &args.outfile {
        let file = logfile::open_append(path).map_err(|err| cannot(path, err))?;
        files.logs.push((path.clone(), file));
        files.main = Some(path.clone());
    }
    let log = if let Some(session) = &config.session {
        Some(session_files(session))
    } else if let Some(path) = &config.logfile {
        Some(
            start_devstack_log(path, config.logdays, SystemTime::now(), notes)
                .map_err(|err| cannot(path, err))?,
        )
    } else {
        None
    };
    if let Some(log) = log {
        let file = logfile::open_append(&log.log).map_err(|err| cannot(&log.log, err))?;
        files.logs.push((log.log.clone(), file));
        if let Some(summary) = log.summary {
            let file = logfile::open_append(&summary).map_err(|err| cannot(&summary, err))?;
            files.summary = Some((summary, file));
        }
        files.main = Some(log.log);
    }
    Ok(files)
}

/// `--open-log`: opens (or reuses) the run's log and prints its absolute path.
fn open_log(config: &Config, notes: &mut Vec<String>) -> Result<(), Fatal> {
    let log = if let Some(session) = &config.session {
        session_files(session)
    } else if let Some(path) = &config.logfile {
        start_devstack_log(path, config.logdays, SystemTime::now(), notes)
            .map_err(|err| cannot(path, err))?
    } else {
        return Err(Fatal::bad_input(
            "--open-log needs --logfile PATH (or LOGFILE, or a session)",
        ));
    };
    for path in std::iter::once(&log.log).chain(log.summary.as_ref()) {
        logfile::open_append(path).map_err(|err| cannot(path, err))?;
    }
    let absolute = std::path::absolute(&log.log).unwrap_or(log.log);
    let mut stdout = io::stdout().lock();
    let written = stdout
        .write_all(absolute.as_os_str().as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    match written {
        Err(err) if !hookpipe::exit::is_broken_pipe(&err) => {
            Err(Fatal::bad_input(format!("writing to stdout: {err}")))
        }
        _ => Ok(()),
    }
}

/// SIGINT, SIGTERM and SIGHUP (a closed terminal: like TERM): the first is noted (phase-log
/// keeps logging until its input ends), a second ends the process at once, by that signal.
fn install_signals() -> io::Result<Arc<AtomicUsize>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let got = Arc::new(AtomicUsize::new(0));
    let again = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // Registration order is call order: the default action fires only once the flag
        // was set by an earlier signal.
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&again))?;
        signal_hook::flag::register(signal, Arc::clone(&again))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&got), signal as usize)?;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            signal_hook::low_level::register(signal, move || hookpipe::exit::note_signal(signal))?;
        }
    }
    Ok(got)
}

/// The file reports asked for, created now so a bad path fails before any input is read.
fn open_reports(args: &Args) -> Result<Vec<ReportFile>, Fatal> {
    let asked = [
        (ReportKind::Json, &args.json_report),
        (ReportKind::Junit, &args.junit),
        (ReportKind::Html, &args.html),
    ];
    let mut reports = Vec::new();
    for (kind, path) in asked {
        let Some(path) = non_empty(path) else {
            continue;
        };
        let file = logfile::create(path).map_err(|err| {
            Fatal::bad_input(format!("cannot create report {}: {err}", path.display()))
        })?;
        reports.push(ReportFile {
            kind,
            name: path.display().to_string(),
            out: Box::new(io::BufWriter::new(file)),
        });
    }
    Ok(reports)
}

/// Lets a pipe on stdin hold 1 MiB instead of 64 KiB, so a stage that writes a burst
/// (a hook printing a million lines) and phase-log take turns sixteen times less often.
/// Only the capacity changes: phase-log still reads whatever has arrived at once, so
/// lines are as live as before. Not a pipe, or a lower system limit: nothing happens.
fn widen_input_pipe() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let stdin = io::stdin();
        let _ = nix::fcntl::fcntl(&stdin, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    }
}

fn run_process(args: &Args) -> Result<Ending, Fatal> {
    let config = Config::new(args, |name| std::env::var_os(name))?;
    let mut notes = Vec::new();
    if args.open_log {
        open_log(&config, &mut notes)?;
        return Ok(Ending {
            outcome: Outcome::Ok,
            messages: notes,
        });
    }
    let files = open_files(args, &config, &mut notes)?;
    let reports = open_reports(args)?;
    let records = match non_empty(&args.records) {
        Some(path) => Some((
            path.display().to_string(),
            logfile::create_private(path).map_err(|err| {
                Fatal::bad_input(format!("cannot create {}: {err}", path.display()))
            })?,
        )),
        None => None,
    };
    let sources: Vec<merge::Source> = args
        .merge
        .iter()
        .map(|path| merge::Source {
            path: path.clone(),
            host: None,
        })
        .chain(args.hosts.iter().cloned())
        .collect();
    let merged = if sources.is_empty() {
        None
    } else {
        Some(merge::Merged::open(&sources)?)
    };
    let got = install_signals()
        .map_err(|err| Fatal::bad_input(format!("cannot handle signals: {err}")))?;
    if merged.is_none() {
        widen_input_pipe();
    }
    let color = args.color.for_stdout();
    let stderr_tty = io::stderr().is_terminal();
    let progress = match args.progress {
        ProgressChoice::Auto if stderr_tty => {
            // Without a thread there is no status line, and the log does not need one.
            progress::Progress::start(
                args.color.enabled_for(stderr_tty),
                io::stdout().is_terminal(),
            )
            .ok()
        }
        _ => None,
    };
    let handle = progress.as_ref().map(progress::Progress::handle);
    let console = progress::Console::new(io::stdout().lock(), handle.clone());
    let mut router = Router {
        console: Sink::console(console, config.console_stamps, color),
        verbose: config.verbose && !args.report_only,
        show_records: args.show_records,
        summaries_on_console: !args.report_only,
        logs: files
            .logs
            .into_iter()
            .map(|(path, file)| Sink::file(file, path))
            .collect(),
        summary: files.summary.map(|(path, file)| Sink::file(file, path)),
    };
    let mut options = Options {
        keep_noise: args.keep_noise,
        log_path: files.main,
        reports,
        progress: handle,
        records,
        show_hosts: merged.is_some(),
        brief: args.brief,
    };
    let signal = || match got.load(Ordering::SeqCst) {
        0 => None,
        signal => i32::try_from(signal).ok(),
    };
    let mut ending = match merged {
        Some(merged) => run(merged, &mut router, &mut options, &signal),
        None => run(io::stdin().lock(), &mut router, &mut options, &signal),
    };
    drop(router);
    if let Some(progress) = progress {
        progress.finish();
    }
    notes.append(&mut ending.messages);
    ending.messages = notes;
    Ok(ending)
}

/// phase-log for [`hookpipe::lifecycle::main`]: its stdout is for people, so it writes no
/// `begin`/`done`; its exit status is the run's.
pub struct Tool;

impl hookpipe::lifecycle::Tool for Tool {
    const NAME: &'static str = "phase-log";
    const USAGE_STAGE: Option<&'static str> = None;
    type Args = Args;

    /// Notes go to stderr here; a signal phase-log got is re-raised by the exit path, after
    /// every buffer was written.
    fn run(args: &Args) -> Result<Outcome, Fatal> {
        let ending = run_process(args)?;
        // Not eprintln!: a closed stderr must not turn into a panic.
        let mut stderr = io::stderr().lock();
        for message in &ending.messages {
            let _ = writeln!(stderr, "phase-log: {message}");
        }
        Ok(ending.outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(argv: &[&str], vars: &[(&str, &str)]) -> Result<Config, Fatal> {
        let args =
            Args::try_parse_from(std::iter::once("phase-log").chain(argv.iter().copied())).unwrap();
        Config::new(&args, |name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| OsString::from(value))
        })
    }

    #[test]
    fn flags_win_over_devstack_variables() {
        let quiet = [("VERBOSE", "False")];
        assert!(!config(&[], &quiet).unwrap().verbose);
        assert!(config(&["-v"], &quiet).unwrap().verbose);
        assert!(!config(&["-q"], &[]).unwrap().verbose);
        // --report-only never takes a log from the environment.
        let logged = [
            ("LOGFILE", "/tmp/stack.log"),
            ("HOOKPIPE_LOG_SESSION", "/tmp/s"),
        ];
        let report = config(&["--report-only"], &logged).unwrap();
        assert!(report.logfile.is_none() && report.session.is_none());
        assert!(config(&[], &logged).unwrap().logfile.is_some());
        assert!(config(&[], &[]).unwrap().console_stamps);
        assert!(
            !config(&[], &[("VERBOSE_NO_TIMESTAMP", "yes")])
                .unwrap()
                .console_stamps
        );
        let logs = config(
            &["--logdays", "3"],
            &[("LOGDAYS", "9"), ("LOGFILE", "a.log")],
        )
        .unwrap();
        assert_eq!(
            (logs.logdays, logs.logfile),
            (3, Some(PathBuf::from("a.log")))
        );
        let logs = config(&["--logfile", "b.log"], &[("LOGFILE", "a.log")]).unwrap();
        assert_eq!(logs.logfile, Some(PathBuf::from("b.log")));
        assert_eq!(config(&[], &[("LOGDAYS", " 9 ")]).unwrap().logdays, 9);
        assert!(config(&[], &[("LOGDAYS", "-1")]).is_err());
    }
}
