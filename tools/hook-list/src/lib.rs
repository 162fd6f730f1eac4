//! hook-list: lists extras.d hooks (and DevStack plugins) in dispatch order as `hook`
//! records, and every entry it will not run as a `skip` record with its reason.
//!
//! This module owns the command line, the order of the listing (byte order of names,
//! earlier directories overriding later ones, plugins after every extras.d hook) and the
//! records; `scan` judges directory entries, `guard` reads a hook's service guard,
//! `plugins` resolves DevStack's plugin list and `trust` finds hooks that others could change. All validation (plugin names, directories)
//! happens before the first hook record, so a failed listing never looks like a short one.

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod guard;
mod plan;
mod plugins;
mod scan;
mod trust;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hookpipe::bytes::display;
use hookpipe::cli::Stage;
use hookpipe::exit::{is_broken_pipe, Fatal, Outcome};
use hookpipe::lifecycle::ReaderGone;
use hookpipe::record::{Data, Hook, HookKind, Line, Record, Skip};
use hookpipe::stream::RecordWriter;
use hookpipe_services::{guard_enabled, Hooks, ServiceList};

use crate::plugins::{Found, Plugin};
use crate::scan::{skip, Reason, Verdict};
use crate::trust::Trust;

const AFTER_HELP: &str = "\
Output: NDJSON records on stdout, one per line (specification: the hookpipe::record module).
Reads no input.
  begin  first record (tool \"hook-list\", stage \"list\")
  hook   a hook to dispatch, in dispatch order: extras.d files (kind \"extras\") in byte
         order of their names whatever the locale, then plugins (kind \"plugin\") in enable
         order. Fields: name, path, kind, seq, dir, services, enabled, files, warning.
  skip   an entry that will not run: reason, message, name, path. Reasons: not-a-hook,
         bad-prefix, no-sh-suffix, dotfile, unreadable, broken-link, directory, not-regular,
         overridden, missing-plugin-dir, disabled (--enabled-only), untrusted (--strict).
  warning  ENABLED_SERVICES or DISABLED_SERVICES is not UTF-8: no hook gets `enabled`
  done   last record, with the exit status
A hook is a regular file (or a link to one) named NN-name.sh. Sequence numbers 00-09 and
90-99 are reserved for the framework: such hooks run, with a warning. A file nobody may
read (no r bit) is unreadable even for root.

`services` are the words of a hook's guard when its first command is
`if is_service_enabled WORD...; then`. `enabled` says whether DevStack's is_service_enabled
would say yes, from ENABLED_SERVICES and DISABLED_SERVICES in the environment, with every
is_<name>_enabled function of DevStack's tree assumed defined: true, false, or absent when
unknown (only such a function can tell, as for keystone, cinder or ovn_metadata_agent; or
ENABLED_SERVICES is unset), when no guard is recognised, and for plugins. Known answers:
`plugin` from DEVSTACK_PLUGINS (true when it is empty or enable_plugin built it),
`neutron_legacy` (always), `fips` (/proc/sys/crypto/fips_enabled), and
`nova_console_proxy_compute_tls` when NOVA_CONSOLE_PROXY_COMPUTE_TLS=True. It is advisory: the hook's own guard decides when it
runs.

A hook runs as the user of the run, often root, so a hook others could change gets a
`warning` naming each path and why (with --strict, a `skip` with reason `untrusted`): the
file, or a directory from its own up to /, owned by a user other than root and this run's
user, writable by every user (root-owned sticky directories such as /tmp excepted), or
writable by a group that is not its owner's primary group. Links are followed: a target's
directories count. For plugins, the files under devstack/ are judged the same way.

Exit status:
  0  listed (skipped entries do not change it); also when the reader goes away early
  1  with --strict: a hook was skipped as untrusted (the rest is listed all the same)
  2  bad usage: a missing DIR (unless --missing-ok), a DIR that is not a directory, a bad
     --plugin, a plugin enabled twice, --enabled-only with a service list that is not UTF-8";

/// Command line of `hook-list`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "hook-list",
    version,
    about = "List the hooks DevStack would dispatch, in order, and every entry it will not run",
    after_help = AFTER_HELP
)]
pub struct Args {
    /// Directories of extras.d hooks; for a name found in several, the earliest directory
    /// wins. Default: $TOP_DIR/extras.d when TOP_DIR is set and not empty, else ./extras.d.
    #[arg(value_name = "DIR", value_parser = any_path())]
    pub dirs: Vec<PathBuf>,

    /// A DIR that does not exist contributes no hooks instead of ending with status 2.
    #[arg(long)]
    pub missing_ok: bool,

    /// Enable plugin NAME, checked out in DIR (DevStack's GITDIR[NAME]). Repeatable; enable
    /// order is the order of the list, then of these flags for names it does not hold.
    #[arg(long = "plugin", value_name = "NAME=DIR")]
    pub plugins: Vec<OsString>,

    /// DevStack's list of enabled plugins, in enable order (",a,b": commas or blanks
    /// separate names).
    #[arg(
        long,
        env = "DEVSTACK_PLUGINS",
        hide_env_values = true,
        value_name = "LIST"
    )]
    pub devstack_plugins: Option<OsString>,

    /// Where plugins enabled without --plugin are checked out: DEST/NAME. Default (also
    /// when empty): /opt/stack.
    #[arg(long, env = "DEST", hide_env_values = true, value_name = "DIR", value_parser = any_path())]
    pub dest: Option<PathBuf>,

    /// A hook whose `enabled` is false becomes a `skip` with reason `disabled`, naming its
    /// guard's services; hooks whose answer is unknown are listed as usual.
    #[arg(long)]
    pub enabled_only: bool,

    /// A hook that others could change (see below) becomes a `skip` with reason
    /// `untrusted` instead of a hook with a warning, and the exit status is 1.
    #[arg(long)]
    pub strict: bool,

    /// Print, for people, what scripts/RUN.sh would call, stage by stage and in order
    /// (extras.d hooks, plugins, the hypervisor plugin) with each guard and whether it is
    /// enabled, then every entry that will not run and why. Nothing runs; no records.
    #[arg(long, value_name = "RUN", value_enum)]
    pub plan: Option<plan::Run>,

    /// DevStack's top directory, for the default DIR.
    #[arg(long, env = "TOP_DIR", hide_env_values = true, value_name = "DIR", value_parser = any_path())]
    pub top_dir: Option<PathBuf>,
}

/// Paths as given, the empty one included: `TOP_DIR=` or `DEST=` in the environment means
/// "unset" to DevStack, not a usage error (clap's own path parser refuses empty values).
fn any_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser as _;
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

/// Why a listing failed. Every variant but `Write` is bad usage (exit 2), reported after
/// `begin` and a `done` with status 2.
#[derive(Debug)]
pub enum Error {
    /// A directory that cannot be listed: missing, not a directory, unreadable.
    Dir { path: PathBuf, err: io::Error },
    /// A `--plugin` value that is not `NAME=DIR`.
    PluginSpec { spec: OsString },
    /// A plugin name that is not one path component (empty, `.`, `..`, contains `/`).
    PluginName { name: OsString },
    /// DevStack's `enable_plugin` error: the same plugin enabled twice.
    PluginTwice { name: OsString },
    /// `plugin_requires` refuses the enabled plugins: one enabled before one it requires,
    /// or a cycle (`hookpipe::requires`).
    Requires(hookpipe::requires::GraphError),
    /// `--enabled-only` with service lists that cannot be read.
    Services { message: String },
    /// Writing records failed.
    Write(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |bytes: &OsStr| display(bytes.as_bytes());
        match self {
            Error::Dir { path, err } => {
                write!(f, "{}: {}", shown(path.as_os_str()), scan::describe(err))
            }
            Error::PluginSpec { spec } => {
                write!(f, "--plugin expects NAME=DIR, got '{}'", shown(spec))
            }
            Error::PluginName { name } => write!(
                f,
                "bad plugin name '{}': a plugin name is one path component (not empty, '.' or '..', no '/')",
                shown(name)
            ),
            Error::PluginTwice { name } => {
                write!(f, "Plugin attempted to be enabled twice: {}", shown(name))
            }
            Error::Requires(err) => write!(f, "{err}"),
            Error::Services { message } => {
                write!(f, "--enabled-only needs the service lists: {message}")
            }
            Error::Write(err) => write!(f, "writing output: {}", scan::describe(err)),
        }
    }
}

impl std::error::Error for Error {}

/// hook-list for [`hookpipe::lifecycle::main`].
pub struct Tool;

impl hookpipe::lifecycle::Tool for Tool {
    const NAME: &'static str = "hook-list";
    const USAGE_STAGE: Option<&'static str> = Some("list");
    type Args = Args;

    fn run(args: &Args) -> Result<Outcome, Fatal> {
        // Service names are regular expressions read in the user's locale, as the shell
        // that runs the hooks reads them. Here, before any thread could be started.
        hookpipe_services::ere::use_environment_locale();
        run(args, io::stdout().lock())
    }
}

/// Writes the listing to `out`: `begin`, the hooks and skips, `done`, judging guards by the
/// service lists of the environment. A reader that goes away ends the listing quietly with
/// [`Outcome::Ok`], as a lister should.
pub fn run(args: &Args, out: impl Write) -> Result<Outcome, Fatal> {
    // Unset is not DevStack's empty list (that is `disable_all_services`): stackrc would put
    // its default there, so outside a DevStack run the answer is unknown.
    let services = match std::env::var_os("ENABLED_SERVICES") {
        None => Ok(None),
        Some(_) => ServiceList::from_env().map(Some),
    };
    run_with(args, services, out)
}

/// [`run`] with the service lists given: `None` when unknown, an error when unreadable.
pub fn run_with(
    args: &Args,
    services: Result<Option<ServiceList>, String>,
    out: impl Write,
) -> Result<Outcome, Fatal> {
    if let Some(run) = args.plan {
        return plan_run(args, run, services, out);
    }
    let stage = Stage::new("hook-list", "list");
    stage.run(out, ReaderGone::Quiet, |writer| {
        list(args, services, writer).map_err(fatal)
    })
}

fn fatal(err: Error) -> Fatal {
    match err {
        Error::Write(err) if is_broken_pipe(&err) => Fatal::broken_pipe(),
        err @ Error::Write(_) => Fatal::internal(err.to_string()),
        err => Fatal::usage(err.to_string()),
    }
}

/// `--plan RUN`: the listing made into memory, then shown as the run's plan.
fn plan_run(
    args: &Args,
    run: plan::Run,
    services: Result<Option<ServiceList>, String>,
    mut out: impl Write,
) -> Result<Outcome, Fatal> {
    let known = services.clone().ok().flatten();
    let mut listing = Vec::new();
    let outcome = {
        let mut writer = RecordWriter::new(&mut listing);
        let outcome = list(args, services, &mut writer).map_err(fatal)?;
        writer.flush().map_err(|err| fatal(Error::Write(err)))?;
        outcome
    };
    let driver = std::env::var("VIRT_DRIVER")
        .ok()
        .filter(|driver| !driver.is_empty())
        .unwrap_or_else(|| "libvirt".to_owned());
    let hooks = devstack_hooks(args.devstack_plugins.as_deref());
    let ctx = plan::Context {
        run,
        services: known.as_ref(),
        hooks: &hooks,
        driver,
        jobs: std::env::var("HOOKPIPE_JOBS")
            .ok()
            .and_then(|jobs| jobs.trim().parse().ok())
            .unwrap_or(1),
    };
    match plan::write(&listing, &ctx, &mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(outcome),
        Err(err) if is_broken_pipe(&err) => Ok(outcome),
        Err(err) => Err(Fatal::internal(format!("writing the plan: {err}"))),
    }
}

fn list<W: Write>(
    args: &Args,
    services: Result<Option<ServiceList>, String>,
    out: &mut RecordWriter<W>,
) -> Result<Outcome, Error> {
    let dest = args
        .dest
        .clone()
        .filter(|dest| !dest.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("/opt/stack"));
    let plugins = plugins::resolve(&args.plugins, args.devstack_plugins.as_deref(), &dest)?;
    plugins::check_requires(&plugins).map_err(Error::Requires)?;
    let given = if args.dirs.is_empty() {
        vec![default_dir(args.top_dir.as_deref())]
    } else {
        args.dirs.clone()
    };
    let (dirs, mut entries) = scan::list(&given, args.missing_ok)?;
    let services = match services {
        Ok(services) => services,
        Err(message) if args.enabled_only => return Err(Error::Services { message }),
        Err(message) => {
            out.write(&Record::Warning(Line {
                text: Some(format!("{message}: hooks are listed without `enabled`").into()),
                time: hookpipe::time::now_rfc3339(),
                ..Line::default()
            }))
            .map_err(Error::Write)?;
            None
        }
    };
    let mut judge = Judge {
        services: services.as_ref(),
        hooks: devstack_hooks(args.devstack_plugins.as_deref()),
        enabled_only: args.enabled_only,
        strict: args.strict,
        trust: Trust::new(),
        untrusted: false,
    };
    // Byte order, never the locale's collation (docs/devstack.md §9, item 3);
    // for one name, the earliest directory comes first and wins.
    entries.sort_by(|a, b| {
        a.name
            .as_bytes()
            .cmp(b.name.as_bytes())
            .then(a.dir.cmp(&b.dir))
    });
    let mut head = vec![0; guard::HEAD_LIMIT + 1];
    // The entry that won its name (an index into `entries`), and its reason if it is a skip.
    let mut winner: Option<(usize, Option<Reason>)> = None;
    for (index, entry) in entries.iter().enumerate() {
        let dir = &dirs[entry.dir];
        let path = dir.path.join(&entry.name);
        let verdict = scan::classify(dir, &entry.name, entry.kind, &mut head);
        let (verdict, enabled) = match winner {
            Some((won, reason)) if entries[won].name == entry.name => {
                let won = &entries[won];
                let winner = dirs[won.dir].path.join(&won.name);
                (overridden(verdict, &winner, reason), None)
            }
            _ => {
                let (verdict, enabled) = judge.hook(&dir.path, &path, verdict);
                let reason = match &verdict {
                    Verdict::Hook { .. } => None,
                    Verdict::Skip { reason, .. } => Some(*reason),
                };
                winner = Some((index, reason));
                (verdict, enabled)
            }
        };
        let record = extras_record(&entry.name, &dir.path, &path, verdict, enabled);
        out.write(&record).map_err(Error::Write)?;
    }
    for plugin in &plugins {
        let found = judge.plugin(plugin, plugins::inspect(plugin));
        out.write(&plugin_record(plugin, found))
            .map_err(Error::Write)?;
    }
    Ok(if judge.untrusted {
        Outcome::Negative
    } else {
        Outcome::Ok
    })
}

/// What the listing decides about a hook beyond its file: whether others could change it,
/// and whether its guard is satisfied.
struct Judge<'a> {
    /// `None` when ENABLED_SERVICES is unset or the lists could not be read.
    services: Option<&'a ServiceList>,
    /// DevStack's `is_<name>_enabled` functions, with the answers this run can know.
    hooks: Hooks,
    enabled_only: bool,
    strict: bool,
    trust: Trust,
    /// Set when `--strict` turned a hook into a skip.
    untrusted: bool,
}

impl Judge<'_> {
    /// The final verdict on the extras entry `path` in `dir` that won its name, with its
    /// `enabled` field. Trust comes first: with `--strict`, a hook others could change is
    /// `untrusted` whether or not it is enabled.
    fn hook(&mut self, dir: &Path, path: &Path, verdict: Verdict) -> (Verdict, Option<bool>) {
        let Verdict::Hook {
            seq,
            services,
            warning,
            owner,
            link,
        } = verdict
        else {
            return (verdict, None);
        };
        let problems = self.trust.hook(dir, path, owner, link);
        let warning = match self.distrust(&problems, warning) {
            Ok(warning) => warning,
            Err(message) => return (skip(Reason::Untrusted, message), None),
        };
        let enabled = match (&services, self.services) {
            (Some(guard), Some(list)) => guard_enabled(guard, list, &self.hooks),
            _ => None,
        };
        if enabled == Some(false) && self.enabled_only {
            let guard = services.unwrap_or_default().join(" ");
            let message = format!(
                "not enabled: no service of its guard `is_service_enabled {guard}` is enabled \
                 (ENABLED_SERVICES, DISABLED_SERVICES)"
            );
            return (skip(Reason::Disabled, message), None);
        }
        let verdict = Verdict::Hook {
            seq,
            services,
            warning,
            owner,
            link,
        };
        (verdict, enabled)
    }

    /// A plugin's files under `devstack/` (and their directories) judged as hooks are.
    fn plugin(&mut self, plugin: &Plugin, found: Found) -> Found {
        let Found::Plugin { files, warning } = found else {
            return found;
        };
        let devstack = plugin.dir.join("devstack");
        let mut problems: Vec<trust::Problem> = Vec::new();
        for file in &files {
            for problem in self.trust.path(&devstack.join(file)) {
                if !problems.iter().any(|known| known.path == problem.path) {
                    problems.push(problem);
                }
            }
        }
        match self.distrust(&problems, warning) {
            Ok(warning) => Found::Plugin { files, warning },
            Err(message) => Found::Untrusted { message },
        }
    }

    /// `warning` with the trust problems added, or with `--strict` the message of the
    /// `untrusted` skip.
    fn distrust(
        &mut self,
        problems: &[trust::Problem],
        warning: Option<String>,
    ) -> Result<Option<String>, String> {
        if problems.is_empty() {
            return Ok(warning);
        }
        let text = trust::describe(problems, &self.trust.run_user());
        if self.strict {
            self.untrusted = true;
            return Err(text);
        }
        Ok(Some(match warning {
            Some(warning) => format!("{warning}; {text}"),
            None => text,
        }))
    }
}

/// DevStack's `is_<name>_enabled` functions as a hook will find them, with what this run
/// knows of their answers: `is_plugin_enabled` (with no name, as `is_service_enabled plugin`
/// calls it) from DEVSTACK_PLUGINS, and `is_nova_console_proxy_compute_tls_enabled` when
/// the environment sets NOVA_CONSOLE_PROXY_COMPUTE_TLS=True (otherwise lib/nova's default
/// or local.conf decides, which this side cannot see: unknown).
fn devstack_hooks(devstack_plugins: Option<&OsStr>) -> Hooks {
    let mut hooks = Hooks::devstack();
    match devstack_plugins.map(OsStr::to_str) {
        None => hooks = hooks.knowing_plugins(None),
        Some(Some(list)) => hooks = hooks.knowing_plugins(Some(list)),
        Some(None) => {}
    }
    if std::env::var_os("NOVA_CONSOLE_PROXY_COMPUTE_TLS").is_some_and(|value| value == "True") {
        hooks = hooks.knowing("nova_console_proxy_compute_tls", true);
    }
    hooks
}

fn default_dir(top_dir: Option<&Path>) -> PathBuf {
    match top_dir {
        Some(top) if !top.as_os_str().is_empty() => top.join("extras.d"),
        _ => PathBuf::from("extras.d"),
    }
}

/// A same-named entry of a later directory. One that would not run anyway keeps its own
/// reason (a README in two directories stays `not-a-hook`); a hook is `overridden`, even
/// when the winner does not run itself: an earlier directory can mask a hook, as systemd's
/// drop-in directories do.
fn overridden(own: Verdict, winner: &Path, winner_reason: Option<Reason>) -> Verdict {
    if let Verdict::Skip { .. } = own {
        return own;
    }
    let winner = display(winner.as_os_str().as_bytes());
    let message = match winner_reason {
        None => format!("overridden by {winner}"),
        Some(reason) => format!(
            "overridden by {winner}, which will not run either ({})",
            reason.as_str()
        ),
    };
    Verdict::Skip {
        reason: Reason::Overridden,
        message,
    }
}

fn extras_record(
    name: &OsStr,
    dir: &Path,
    path: &Path,
    verdict: Verdict,
    enabled: Option<bool>,
) -> Record {
    let name = Some(Data::from_bytes(name.as_bytes()));
    let path = Some(Data::from_bytes(path.as_os_str().as_bytes()));
    match verdict {
        Verdict::Hook {
            seq,
            services,
            warning,
            ..
        } => Record::Hook(Hook {
            name,
            path,
            seq: Some(seq),
            dir: Some(Data::from_bytes(dir.as_os_str().as_bytes())),
            services,
            enabled,
            warning,
            ..Hook::new(HookKind::Extras)
        }),
        Verdict::Skip { reason, message } => Record::Skip(Skip {
            path,
            name,
            ..Skip::new(reason, message)
        }),
    }
}

fn plugin_record(plugin: &Plugin, found: Found) -> Record {
    let mut full_name = b"plugin:".to_vec();
    full_name.extend_from_slice(plugin.name.as_bytes());
    let name = Some(Data::from_vec(full_name));
    let path = Some(Data::from_bytes(plugin.dir.as_os_str().as_bytes()));
    let (reason, message) = match found {
        Found::Plugin { files, warning } => {
            return Record::Hook(Hook {
                name,
                dir: path.clone(),
                path,
                files: Some(files),
                warning,
                ..Hook::new(HookKind::Plugin)
            })
        }
        Found::Missing { message } => (Reason::MissingPluginDir, message),
        Found::Untrusted { message } => (Reason::Untrusted, message),
    };
    Record::Skip(Skip {
        path,
        name,
        ..Skip::new(reason, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use hookpipe::stream::RecordReader;

    fn listing(argv: &[&OsStr]) -> (Result<Outcome, Fatal>, Vec<Record>) {
        let mut full: Vec<&OsStr> = vec![OsStr::new("hook-list")];
        full.extend_from_slice(argv);
        let args = Args::try_parse_from(full).unwrap();
        let mut out = Vec::new();
        let services = ServiceList::new("key,n-api", "");
        let result = run_with(&args, Ok(Some(services)), &mut out);
        let mut reader = RecordReader::new(&out[..]);
        let mut records = Vec::new();
        while let Some(raw) = reader.next().unwrap() {
            records.push(raw.decode().unwrap());
        }
        (result, records)
    }

    #[test]
    fn begin_hooks_done_in_byte_order() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["80-y.sh", "10-x.sh", "10-X.sh"] {
            std::fs::write(tmp.path().join(name), "true\n").unwrap();
        }
        let (result, records) = listing(&[tmp.path().as_os_str()]);
        assert_eq!(result.unwrap(), Outcome::Ok);
        let names: Vec<_> = records
            .iter()
            .filter_map(|record| match record {
                Record::Hook(hook) => hook.name.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(
            names,
            ["10-X.sh", "10-x.sh", "80-y.sh"].map(hookpipe::record::Data::from)
        );
        assert!(matches!(records.first(), Some(Record::Begin(_))));
        assert!(matches!(records.last(), Some(Record::Done(done)) if done.status == 0));
    }

    #[test]
    fn a_failure_still_ends_the_stream_with_done() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let (result, records) = listing(&[missing.as_os_str()]);
        let fatal = result.unwrap_err();
        assert_eq!(fatal.outcome(), Outcome::BadInput);
        assert!(fatal.message.ends_with("nope: No such file or directory"));
        assert_eq!(records.len(), 2);
        assert!(matches!(records.last(), Some(Record::Done(done)) if done.status == 2));
    }

    #[test]
    fn an_overridden_skip_keeps_its_own_reason() {
        let own = Verdict::Skip {
            reason: Reason::NotAHook,
            message: String::new(),
        };
        assert_eq!(overridden(own.clone(), Path::new("/a/README"), None), own);
        let hook = Verdict::Hook {
            seq: "50".into(),
            services: None,
            warning: None,
            owner: scan::Owner {
                mode: 0o100644,
                uid: 0,
                gid: 0,
            },
            link: false,
        };
        match overridden(hook, Path::new("/a/50-x.sh"), Some(Reason::Directory)) {
            Verdict::Skip { reason, message } => {
                assert_eq!(reason, Reason::Overridden);
                assert!(message.contains("/a/50-x.sh"), "{message}");
                assert!(message.contains("directory"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_dir_follows_top_dir() {
        assert_eq!(default_dir(None), PathBuf::from("extras.d"));
        assert_eq!(default_dir(Some(Path::new(""))), PathBuf::from("extras.d"));
        assert_eq!(
            default_dir(Some(Path::new("/opt/devstack"))),
            PathBuf::from("/opt/devstack/extras.d")
        );
    }
}
