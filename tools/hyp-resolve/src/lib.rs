//! hyp-resolve: maps a `VIRT_DRIVER` to its DevStack hypervisor plugin,
//! `lib/nova_plugins/hypervisor-<driver>`, and reports which of the five required functions
//! it defines, as one `hypervisor` record (or one per plugin with `--list`). The reading is
//! static ([`parse`], [`plugin`]); `--check` adds bash's own view ([`check`]). This module
//! owns the command line, the records and the exit status.
//!
//! Function names are identifiers, so a name that is not UTF-8 (bash allows one) is written
//! with `\xNN` escapes, as ids are ([`hookpipe::bytes::escaped`]); the plugin path follows
//! the text-or-bytes rule (`path` or `path_base64`).

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod check;
pub mod parse;
pub mod plugin;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hookpipe::bytes::{display, escaped};
use hookpipe::cli::Stage;
use hookpipe::exit::{is_broken_pipe, Fatal, Outcome};
use hookpipe::lifecycle::ReaderGone;
use hookpipe::record::{Data, Hypervisor, Line, Record, Skip, SkipReason};
use hookpipe::stream::RecordWriter;
use hookpipe::time::now_rfc3339;

use crate::plugin::{Coverage, Probe, PREFIX};

const AFTER_HELP: &str = "\
The plugin directory is --dir, or else $TOP_DIR/lib/nova_plugins (TOP_DIR defaults to the
current directory). A driver is a name, not a path: letters, digits and `_.+-`, not starting
with `.` or `-`.

Records (NDJSON on stdout; reads no input):
  begin, done        stage \"hypervisor\"
  hypervisor         driver, path, missing, functions, sourced
  skip               no-driver (no plugin file; names the available drivers); with --list
                     also not-a-hook, directory, not-regular, broken-link, unreadable
  warning            a `source` line not followed; with --check, bash -n errors and any
                     disagreement between the static reading and bash

Exit status:
  0    every plugin reported defines the five functions, or the driver has no plugin
       (DevStack then runs no hypervisor hook), or stdout was closed
  1    a plugin lacks required functions (unless --allow-missing), or --check found a
       syntax error
  2    bad usage or bad input: a refused driver name, a missing directory, an unreadable
       plugin, no plugin with --require, --check unable to run bash";

/// Command line of `hyp-resolve`.
#[derive(Debug, clap::Parser)]
#[command(name = "hyp-resolve", version, after_help = AFTER_HELP)]
#[command(
    about = "Find the hypervisor plugin for a driver and which of the five \
                   *_nova_hypervisor functions it defines"
)]
pub struct Args {
    /// The hypervisor driver [default: $VIRT_DRIVER, then libvirt, as DevStack's]
    // Not clap's `env`: a VIRT_DRIVER in the environment must not conflict with --list.
    #[arg(value_name = "DRIVER")]
    pub driver: Option<OsString>,

    /// The plugin directory, instead of $TOP_DIR/lib/nova_plugins
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Report every hypervisor-* plugin in the directory, in byte order of name
    #[arg(long, conflicts_with = "driver")]
    pub list: bool,

    /// Also source each plugin in bash (this runs its top level) and warn where bash
    /// disagrees with the static reading; a syntax error exits 1
    #[arg(long)]
    pub check: bool,

    /// A driver without a plugin file is an error (exit 2), not a skip (with --list: a
    /// directory without plugins)
    #[arg(long)]
    pub require: bool,

    /// Exit 0 even when a plugin lacks required functions
    #[arg(long)]
    pub allow_missing: bool,
}

/// Why hyp-resolve could not do its job (exit 2, except an output error).
#[derive(Debug)]
pub enum Error {
    /// The driver is not a plain name.
    BadDriver { driver: Vec<u8>, why: &'static str },
    /// The plugin directory is missing or not a directory.
    Dir { dir: PathBuf, why: String },
    /// The plugin file is there but cannot be read.
    Plugin { path: PathBuf, why: String },
    /// `--require`, and the driver has no plugin file.
    NoPlugin { message: String },
    /// `--list` met plugin files it could not read (each already named on stderr).
    Unusable { count: usize },
    /// `--check` could not find the prelude or run bash.
    Check { why: String },
    /// Writing records failed.
    Output(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadDriver { driver, why } => write!(
                f,
                "driver `{}` refused: {why}; a driver is a name, not a path (letters, digits \
                 and `_.+-`, not starting with `.` or `-`)",
                display(driver)
            ),
            Error::Dir { dir, why } => write!(f, "plugin directory {}: {why}", path_text(dir)),
            Error::Plugin { path, why } => write!(f, "{} {why}", path_text(path)),
            Error::NoPlugin { message } => f.write_str(message),
            Error::Unusable { count } => write!(f, "{count} plugin file(s) could not be read"),
            Error::Check { why } => f.write_str(why),
            Error::Output(err) => write!(f, "writing records: {err}"),
        }
    }
}

impl From<Error> for Fatal {
    fn from(err: Error) -> Fatal {
        let message = err.to_string();
        match err {
            Error::BadDriver { .. } => Fatal::usage(message),
            Error::Output(_) => Fatal::internal(message),
            _ => Fatal::bad_input(message),
        }
    }
}

fn path_text(path: &Path) -> String {
    display(path.as_os_str().as_bytes())
}

/// hyp-resolve for [`hookpipe::lifecycle::main`].
pub struct Tool;

impl hookpipe::lifecycle::Tool for Tool {
    const NAME: &'static str = "hyp-resolve";
    const USAGE_STAGE: Option<&'static str> = Some("hypervisor");
    type Args = Args;

    fn run(args: &Args) -> Result<Outcome, Fatal> {
        run(args, io::stdout().lock(), io::stderr())
    }
}

/// Runs hyp-resolve: records to `out`, words for people to `err`. A reader that goes away
/// ends it quietly with status 0, as a lister should (docs/architecture.md rule 5).
pub fn run(args: &Args, out: impl Write, mut err: impl Write) -> Result<Outcome, Fatal> {
    let stage = Stage::new("hyp-resolve", "hypervisor");
    stage.run(out, ReaderGone::Quiet, |writer| {
        match resolve(args, writer, &mut err) {
            Err(Error::Output(error)) if is_broken_pipe(&error) => Err(Fatal::broken_pipe()),
            other => other.map_err(Fatal::from),
        }
    })
}

/// Where plugins live: the canonical directory and, when known, the DevStack top
/// directory it belongs to (for `--check`'s `TOP_DIR`).
fn plugin_dir(args: &Args) -> Result<(PathBuf, Option<PathBuf>), Error> {
    let (dir, top) = match &args.dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let top = std::env::var_os("TOP_DIR")
                .filter(|top| !top.is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from);
            (top.join("lib/nova_plugins"), Some(top))
        }
    };
    let canonical = std::fs::canonicalize(&dir).map_err(|error| Error::Dir {
        dir: dir.clone(),
        why: error.to_string(),
    })?;
    if !canonical.is_dir() {
        return Err(Error::Dir {
            dir,
            why: "not a directory".into(),
        });
    }
    // Without TOP_DIR, a directory named .../lib/nova_plugins still tells where the top is.
    let top = top
        .and_then(|top| std::fs::canonicalize(top).ok())
        .or_else(|| {
            canonical
                .ends_with("lib/nova_plugins")
                .then(|| canonical.parent().and_then(Path::parent))
                .flatten()
                .map(Path::to_path_buf)
        });
    Ok((canonical, top))
}

/// One stage of work; `Ok` carries the outcome for `done`.
fn resolve<W: Write>(
    args: &Args,
    writer: &mut RecordWriter<W>,
    err: &mut impl Write,
) -> Result<Outcome, Error> {
    // Empty counts as unset, as in DevStack's `${VIRT_DRIVER:-libvirt}`.
    let driver: OsString = args
        .driver
        .clone()
        .or_else(|| std::env::var_os("VIRT_DRIVER"))
        .filter(|driver| !driver.is_empty())
        .unwrap_or_else(|| OsString::from("libvirt"));
    if !args.list {
        plugin::check_driver(driver.as_bytes()).map_err(|why| Error::BadDriver {
            driver: driver.as_bytes().to_vec(),
            why,
        })?;
    }
    let (dir, top_dir) = plugin_dir(args)?;
    let prelude = if args.check {
        Some(check::find_prelude().map_err(|why| Error::Check { why })?)
    } else {
        None
    };
    let mut job = Job {
        args,
        dir: &dir,
        top_dir: top_dir.as_deref(),
        prelude: prelude.as_deref(),
        writer,
        err,
    };
    if args.list {
        job.list()
    } else {
        job.one(&driver)
    }
}

struct Job<'a, W: Write, E: Write> {
    args: &'a Args,
    dir: &'a Path,
    top_dir: Option<&'a Path>,
    prelude: Option<&'a Path>,
    writer: &'a mut RecordWriter<W>,
    err: &'a mut E,
}

impl<W: Write, E: Write> Job<'_, W, E> {
    fn emit(&mut self, record: Record) -> Result<(), Error> {
        self.writer.write(&record).map_err(Error::Output)
    }

    fn warn(&mut self, text: &str) -> Result<(), Error> {
        self.emit(Record::Warning(Line {
            text: Some(text.into()),
            time: now_rfc3339(),
            ..Line::default()
        }))
    }

    fn say(&mut self, message: &str) {
        // stderr is for people; losing it must not change the outcome.
        let _ = writeln!(self.err, "hyp-resolve: {message}");
    }

    /// The default mode: one driver.
    fn one(&mut self, driver: &OsStr) -> Result<Outcome, Error> {
        let mut name = PREFIX.to_vec();
        name.extend_from_slice(driver.as_bytes());
        let path = self.dir.join(OsStr::from_bytes(&name));
        match plugin::probe(&path) {
            Probe::Readable => self.report(driver.as_bytes(), &path),
            Probe::Unusable(_, why) => Err(Error::Plugin { path, why }),
            Probe::Absent => {
                let available = self.available()?;
                let message = format!(
                    "no hypervisor plugin for driver `{}` in {} ({}); no hypervisor function \
                     will run",
                    display(driver.as_bytes()),
                    path_text(self.dir),
                    if available.is_empty() {
                        "it holds no hypervisor-* plugin".to_owned()
                    } else {
                        format!("available drivers: {}", available.join(", "))
                    }
                );
                self.emit(Record::Skip(Skip {
                    path: Some(Data::from_bytes(path.as_os_str().as_bytes())),
                    name: Some(Data::from_bytes(&name)),
                    ..Skip::new(SkipReason::NoDriver, message.clone())
                }))?;
                if self.args.require {
                    Err(Error::NoPlugin { message })
                } else {
                    Ok(Outcome::Ok)
                }
            }
        }
    }

    /// The drivers with a usable plugin file, in byte order.
    fn available(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(driver, path)| {
                plugin::check_driver(driver).is_ok() && plugin::probe(path) == Probe::Readable
            })
            .map(|(driver, _)| display(&driver))
            .collect())
    }

    /// Every `hypervisor-*` entry: its driver part and path, in byte order of name.
    fn entries(&self) -> Result<Vec<(Vec<u8>, PathBuf)>, Error> {
        let read = std::fs::read_dir(self.dir).map_err(|error| Error::Dir {
            dir: self.dir.to_path_buf(),
            why: error.to_string(),
        })?;
        let mut entries = Vec::new();
        for entry in read {
            let entry = entry.map_err(|error| Error::Dir {
                dir: self.dir.to_path_buf(),
                why: error.to_string(),
            })?;
            let name = entry.file_name();
            if let Some(driver) = name.as_bytes().strip_prefix(PREFIX) {
                entries.push((driver.to_vec(), entry.path()));
            }
        }
        entries.sort();
        Ok(entries)
    }

    /// `--list`: every plugin in the directory.
    fn list(&mut self) -> Result<Outcome, Error> {
        let mut outcome = Outcome::Ok;
        let mut unusable = 0;
        let entries = self.entries()?;
        for (driver, path) in &entries {
            let (reason, message) = match plugin::check_driver(driver) {
                Err(why) => (
                    SkipReason::NotAHook,
                    format!(
                        "not a plugin: `{}` is not a driver name ({why})",
                        display(driver)
                    ),
                ),
                Ok(()) => match plugin::probe(path) {
                    Probe::Readable => {
                        outcome = outcome.worst(self.report(driver, path)?);
                        continue;
                    }
                    Probe::Absent => continue,
                    Probe::Unusable(reason, why) => {
                        if matches!(reason, SkipReason::Unreadable | SkipReason::BrokenLink) {
                            unusable += 1;
                            self.say(&format!("{} {why}", path_text(path)));
                        }
                        (reason, format!("{} {why}", path_text(path)))
                    }
                },
            };
            let file_name = path.file_name().unwrap_or_default().as_bytes();
            self.emit(Record::Skip(Skip {
                path: Some(Data::from_bytes(path.as_os_str().as_bytes())),
                name: Some(Data::from_bytes(file_name)),
                ..Skip::new(reason, message)
            }))?;
        }
        if entries.is_empty() && self.args.require {
            return Err(Error::NoPlugin {
                message: format!("no hypervisor-* plugin in {}", path_text(self.dir)),
            });
        }
        if unusable > 0 {
            return Err(Error::Unusable { count: unusable });
        }
        Ok(outcome)
    }

    /// Reads one readable plugin and writes its record and warnings.
    fn report(&mut self, driver: &[u8], path: &Path) -> Result<Outcome, Error> {
        let text = std::fs::read(path).map_err(|error| Error::Plugin {
            path: path.to_path_buf(),
            why: format!("cannot be read: {error}"),
        })?;
        let coverage = plugin::cover(self.dir, path, &text);
        self.emit(Record::Hypervisor(Hypervisor {
            // check_driver admits ASCII only.
            driver: String::from_utf8_lossy(driver).into_owned(),
            path: Some(Data::from_bytes(path.as_os_str().as_bytes())),
            missing: coverage.missing.iter().map(|&m| m.to_owned()).collect(),
            functions: coverage.functions.iter().map(|f| escaped(f)).collect(),
            sourced: coverage.sourced.iter().map(|f| escaped(f)).collect(),
        }))?;
        for note in &coverage.notes {
            self.warn(note)?;
        }
        let mut outcome = if coverage.missing.is_empty() || self.args.allow_missing {
            Outcome::Ok
        } else {
            Outcome::Negative
        };
        if let Some(prelude) = self.prelude {
            outcome = outcome.worst(self.check(path, prelude, &coverage)?);
        }
        Ok(outcome)
    }

    fn check(
        &mut self,
        path: &Path,
        prelude: &Path,
        coverage: &Coverage,
    ) -> Result<Outcome, Error> {
        let names: Vec<Vec<u8>> = coverage.all().cloned().collect();
        let setting = check::Setting {
            prelude,
            dir: self.dir,
            top_dir: self.top_dir,
        };
        let syntax = check::syntax(path).map_err(|error| Error::Check {
            why: format!("--check: running bash -n on {}: {error}", path_text(path)),
        })?;
        if !syntax.is_empty() {
            for line in &syntax {
                self.warn(&format!("--check: syntax error: {line}"))?;
            }
            return Ok(Outcome::Negative);
        }
        // Said before: a plugin that hangs should not leave people guessing.
        self.say(&format!(
            "--check: executing the top level of {} in bash (after {})",
            path_text(path),
            path_text(prelude)
        ));
        let warnings = check::compare(path, &names, &setting).map_err(|error| Error::Check {
            why: format!("--check: running bash on {}: {error}", path_text(path)),
        })?;
        for warning in &warnings {
            self.warn(warning)?;
        }
        Ok(Outcome::Ok)
    }
}
