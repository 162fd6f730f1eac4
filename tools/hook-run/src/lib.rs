//! hook-run: runs every hook of one DevStack phase in a bash worker and reports each call.
//!
//! This crate owns what is particular to hooks: which MODE and PHASE exist, and which file
//! of a hook or plugin is sourced with which arguments in each mode (docs/devstack.md §1,
//! the call contract). Running, reporting, state and signals are the shared runner's
//! (`hookpipe-runner`), which `hyp-call` uses too.

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;

use hookpipe::bytes;
use hookpipe::cli::Stage;
use hookpipe::exit::{Fatal, Outcome};
use hookpipe::lifecycle::ReaderGone;
use hookpipe::record::{Data, Hook, HookKind, Record, SkipReason};
use hookpipe_runner::checkpoint::Tee;
use hookpipe_runner::flags::RunnerFlags;
use hookpipe_runner::signals::Signals;
use hookpipe_runner::{run_stage, Action, Call, Plan};

/// DevStack's modes and the phases each takes.
pub const MODES: &[(&str, &[&str])] = &[
    ("override_defaults", &[]),
    ("source", &[]),
    (
        "stack",
        &[
            "pre-install",
            "install",
            "post-config",
            "extra",
            "test-config",
        ],
    ),
    ("unstack", &[]),
    ("clean", &[]),
];

/// Command line of `hook-run`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "hook-run",
    version,
    about = "Run every hook of one phase in a bash worker and report each call as records",
    after_help = "Reads: hook (acts on them), state (consumes the newest), every other record \
                  (forwarded unchanged).\nWrites: begin, start, output, summary, warning, trace, \
                  timer, end, skip, state, checkpoint (with --checkpoint-dir), done.\n\nExit status: 0 all hooks ok; 1 a hook failed \
                  or timed out, or an upstream failure stopped the stage; 2 bad usage or bad \
                  input; 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP; 141 the reader went away."
)]
pub struct Args {
    /// The mode: override_defaults, source, stack, unstack or clean.
    pub mode: String,
    /// The phase, for stack: pre-install, install, post-config, extra or test-config.
    pub phase: Option<String>,
    /// Accept any MODE and PHASE (for your own phased hook scripts).
    #[arg(long)]
    pub any_phase: bool,
    /// After a `source` stage, call verify_disabled_services (stack.sh does; unstack.sh
    /// and clean.sh do not).
    #[arg(long)]
    pub verify_disabled: bool,
    /// Call the hooks in reverse dispatch order: plugins before extras.d (the last enabled
    /// first), then extras.d hooks higher numbers first, as run-parts --reverse does. For
    /// teardown (unstack, clean), where a later service depends on an earlier one; the
    /// `source` calls a stage without state makes first keep DevStack's order.
    #[arg(long)]
    pub reverse: bool,
    #[command(flatten)]
    pub runner: RunnerFlags,
}

/// Checks MODE and PHASE against DevStack's list.
pub fn check_phase(mode: &str, phase: Option<&str>) -> Result<(), Fatal> {
    let valid = MODES
        .iter()
        .map(|(mode, phases)| {
            if phases.is_empty() {
                (*mode).to_owned()
            } else {
                format!("{mode} {}", phases.join("|"))
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let Some((_, phases)) = MODES.iter().find(|(name, _)| *name == mode) else {
        return Err(Fatal::usage(format!(
            "unknown mode `{mode}`; valid: {valid} (or --any-phase)"
        )));
    };
    match phase {
        None if phases.is_empty() => Ok(()),
        None => Err(Fatal::usage(format!(
            "mode `{mode}` needs a phase: {}",
            phases.join(", ")
        ))),
        Some(phase) if phases.contains(&phase) => Ok(()),
        Some(phase) => Err(Fatal::usage(format!(
            "unknown phase `{phase}` for mode `{mode}`; valid: {valid} (or --any-phase)"
        ))),
    }
}

/// What hook-run calls for the `hook` records of one stage.
pub struct HookPlan {
    pub mode: String,
    pub phase: Option<String>,
    pub verify_disabled: bool,
    /// Call the stage's own mode in reverse dispatch order (`--reverse`).
    pub reverse: bool,
}

impl HookPlan {
    fn stage(&self) -> String {
        match &self.phase {
            Some(phase) => format!("{}/{phase}", self.mode),
            None => self.mode.clone(),
        }
    }

    /// A mode that DevStack's unstack.sh and clean.sh prepare by sourcing every hook with
    /// `source` first, when no state says it was done.
    fn needs_source_first(&self) -> bool {
        matches!(self.mode.as_str(), "stack" | "unstack" | "clean")
    }
}

fn field_bytes<'h>(data: &'h Option<Data>, what: &str) -> Result<&'h [u8], Fatal> {
    data.as_ref()
        .map(Data::as_bytes)
        .ok_or_else(|| Fatal::bad_input(format!("hook record without `{what}`")))
}

fn plugin_file(dir: &[u8], file: &str) -> Vec<u8> {
    let mut path = dir.to_vec();
    path.extend_from_slice(b"/devstack/");
    path.extend_from_slice(file.as_bytes());
    path
}

impl Plan for HookPlan {
    fn consumes(&self, kind: &str) -> bool {
        kind == "hook"
    }

    fn check(&self, record: &Record) -> Result<(), String> {
        if let Record::Hook(hook) = record {
            field_bytes(&hook.name, "name").map_err(|f| f.message)?;
            field_bytes(&hook.path, "path").map_err(|f| f.message)?;
        }
        Ok(())
    }

    fn calls(&self, consumed: &[Record], have_state: bool) -> Result<Vec<Call>, Fatal> {
        let stage = self.stage();
        let hooks: Vec<&Hook> = consumed
            .iter()
            .filter_map(|record| match record {
                Record::Hook(hook) => Some(hook),
                _ => None,
            })
            .collect();
        let mut calls = Vec::new();
        if self.needs_source_first() && !have_state {
            for hook in &hooks {
                if let Some(call) = self.call_for(hook, "source", None, &stage, "#source")? {
                    calls.push(call);
                }
            }
        }
        let groups = hookpipe::requires::groups(&hooks);
        let ordered: Vec<(&&Hook, &Option<String>)> = if self.reverse {
            hooks.iter().zip(&groups).rev().collect()
        } else {
            hooks.iter().zip(&groups).collect()
        };
        for (hook, group) in ordered {
            if let Some(mut call) =
                self.call_for(hook, &self.mode, self.phase.as_deref(), &stage, "")?
            {
                call.group.clone_from(group);
                calls.push(call);
            }
        }
        if self.verify_disabled && self.mode == "source" {
            calls.push(Call {
                action: Action::Function {
                    path: None,
                    function: "verify_disabled_services".into(),
                    args: Vec::new(),
                },
                ..Call::source(
                    format!("{stage}/verify_disabled_services"),
                    &stage,
                    b"verify_disabled_services",
                    b"",
                    HookKind::Check,
                    Vec::new(),
                )
            });
        }
        Ok(calls)
    }
}

impl HookPlan {
    /// The call one hook gets in `mode` (which differs from the stage's mode for the
    /// `source` calls made first); `None` when DevStack calls nothing for it.
    fn call_for(
        &self,
        hook: &Hook,
        mode: &str,
        phase: Option<&str>,
        stage: &str,
        suffix: &str,
    ) -> Result<Option<Call>, Fatal> {
        let name = field_bytes(&hook.name, "name")?;
        let path = field_bytes(&hook.path, "path")?;
        let id = format!("{stage}/{}{suffix}", bytes::escaped(name));
        let mut args = vec![mode.to_owned()];
        args.extend(phase.map(str::to_owned));
        if hook.kind != HookKind::Plugin {
            return Ok(Some(Call::source(id, stage, name, path, hook.kind, args)));
        }
        let files = hook.files.clone().unwrap_or_default();
        let has = |file: &str| files.iter().any(|f| f == file);
        let plugin_name = name.strip_prefix(b"plugin:").unwrap_or(name).to_vec();
        let (file, args, preface) = match mode {
            "override_defaults" if has("override-defaults") => {
                let file_path = plugin_file(path, "override-defaults");
                let mut preface =
                    vec![[&plugin_name[..], b" has overridden the following defaults"].concat()];
                if let Ok(text) = std::fs::read(std::ffi::OsStr::from_bytes(&file_path)) {
                    preface.extend(text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
                    if preface.last().is_some_and(Vec::is_empty) {
                        preface.pop();
                    }
                }
                ("override-defaults", Vec::new(), preface)
            }
            "source" if has("settings") => ("settings", Vec::new(), Vec::new()),
            "override_defaults" | "source" => return Ok(None),
            _ if has("plugin.sh") => ("plugin.sh", args, Vec::new()),
            _ => {
                let mut call = Call::source(id, stage, name, path, HookKind::Plugin, args);
                call.skip = Some((
                    SkipReason::NoPluginSh,
                    format!(
                        "plugin {} has no devstack/plugin.sh",
                        bytes::display(&plugin_name)
                    ),
                ));
                return Ok(Some(call));
            }
        };
        let file_path = plugin_file(path, file);
        let mut call = Call::source(id, stage, name, &file_path, HookKind::Plugin, args);
        call.file = Some(file.to_owned());
        call.preface = preface;
        call.plugin = Some((plugin_name.clone(), path.to_vec()));
        Ok(Some(call))
    }
}

/// hook-run for [`hookpipe::lifecycle::main`].
pub struct Tool;

impl hookpipe::lifecycle::Tool for Tool {
    const NAME: &'static str = "hook-run";
    const USAGE_STAGE: Option<&'static str> = Some("unknown");
    type Args = Args;

    /// `stack/install` from `hook-run --timeout 5x stack install`, so the failed stage is
    /// named as in a good run.
    fn usage_stage() -> Option<String> {
        use clap::CommandFactory;
        let matches = Args::command().ignore_errors(true).try_get_matches().ok()?;
        let word = |name: &str| matches.try_get_one::<String>(name).ok().flatten().cloned();
        let stage = match (word("mode"), word("phase")) {
            (Some(mode), Some(phase)) => format!("{mode}/{phase}"),
            (Some(mode), None) => mode,
            _ => return Self::USAGE_STAGE.map(str::to_owned),
        };
        Some(stage)
    }

    fn run(args: &Args) -> Result<Outcome, Fatal> {
        run(args, std::io::stdin().lock(), std::io::stdout().lock())
    }
}

/// Runs the stage: the caller passes its stdin and stdout. Everything that can refuse to
/// start (the phase, the flags, the prelude, signal handlers) happens after `begin`, so
/// the stream says why.
pub fn run(args: &Args, input: impl Read, output: impl Write) -> Result<Outcome, Fatal> {
    let plan = HookPlan {
        mode: args.mode.clone(),
        phase: args.phase.clone(),
        verify_disabled: args.verify_disabled,
        reverse: args.reverse,
    };
    let stage = Stage::new("hook-run", plan.stage());
    stage.run(Tee::new(output), ReaderGone::BrokenPipe, |out| {
        if !args.any_phase {
            check_phase(&args.mode, args.phase.as_deref())?;
        } else if args.mode.is_empty() || args.mode.contains('/') {
            return Err(Fatal::usage("MODE must be a non-empty word without `/`"));
        }
        let teardown = matches!(args.mode.as_str(), "unstack" | "clean");
        let options = args.runner.options("hook-run", plan.stage(), teardown)?;
        let signals = Signals::install()
            .map_err(|err| Fatal::internal(format!("cannot install signal handlers: {err}")))?;
        run_stage(&options, &plan, input, out, &signals)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_checked_against_devstack() {
        assert!(check_phase("stack", Some("install")).is_ok());
        assert!(check_phase("unstack", None).is_ok());
        assert!(check_phase("stack", None).is_err());
        assert!(check_phase("stack", Some("post-extra")).is_err());
        let err = check_phase("stak", None).unwrap_err();
        assert!(err.message.contains("override_defaults"), "{err}");
    }
}
