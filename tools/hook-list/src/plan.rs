//! `hook-list --plan RUN`: what `scripts/stack.sh`, `unstack.sh` or `clean.sh` would call,
//! for people, as `run-parts --test` shows what would run. Per stage of the run, in order:
//! the extras.d hooks, the plugins' files, the hypervisor plugin's functions, each with its
//! guard and whether it is enabled; then every entry that will not run, with its reason.
//! Nothing runs and no record is written: the listing is made as usual, into memory, and
//! read back.
//!
//! The stages are the scripts' pipelines (`tests/e2e/honest.rs` compares this plan with the
//! calls a real run makes).

use std::io::{self, Write};

use hookpipe::bytes::display;
use hookpipe::record::{Data, Hook, HookKind, Record, Skip};
use hookpipe::stream::RecordReader;
use hookpipe_services::{guard_enabled, Hooks, ServiceList};

/// One stage of a run.
enum Step {
    /// `hook-run MODE [PHASE]`; `verify` adds `verify_disabled_services` (stack.sh's
    /// `source` stage).
    Hooks {
        mode: &'static str,
        phase: Option<&'static str>,
        verify: bool,
    },
    /// `hyp-call --when-enabled SERVICE ACTION...`.
    Hypervisor {
        actions: &'static [&'static str],
        when: &'static str,
    },
}

const fn hooks(mode: &'static str, phase: Option<&'static str>) -> Step {
    Step::Hooks {
        mode,
        phase,
        verify: false,
    }
}

const STACK: &[Step] = &[
    hooks("override_defaults", None),
    Step::Hypervisor {
        actions: &["source"],
        when: "nova",
    },
    Step::Hooks {
        mode: "source",
        phase: None,
        verify: true,
    },
    hooks("stack", Some("pre-install")),
    Step::Hypervisor {
        actions: &["install", "configure"],
        when: "n-cpu",
    },
    hooks("stack", Some("install")),
    hooks("stack", Some("post-config")),
    Step::Hypervisor {
        actions: &["start"],
        when: "n-cpu",
    },
    hooks("stack", Some("extra")),
    hooks("stack", Some("test-config")),
];

const UNSTACK: &[Step] = &[
    hooks("override_defaults", None),
    Step::Hypervisor {
        actions: &["source"],
        when: "nova",
    },
    hooks("source", None),
    hooks("unstack", None),
    Step::Hypervisor {
        actions: &["stop"],
        when: "n-cpu",
    },
];

const CLEAN: &[Step] = &[
    hooks("override_defaults", None),
    Step::Hypervisor {
        actions: &["source"],
        when: "nova",
    },
    hooks("source", None),
    hooks("clean", None),
    Step::Hypervisor {
        actions: &["cleanup"],
        when: "nova",
    },
];

/// `--plan` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Run {
    Stack,
    Unstack,
    Clean,
}

/// What the plan needs besides the listing.
pub(crate) struct Context<'a> {
    pub(crate) run: Run,
    pub(crate) services: Option<&'a ServiceList>,
    pub(crate) hooks: &'a Hooks,
    /// `VIRT_DRIVER`, default `libvirt`.
    pub(crate) driver: String,
    /// `HOOKPIPE_JOBS` (1 when unset or not a number): how many hooks of a group the run
    /// would run at once.
    pub(crate) jobs: usize,
}

/// Writes the plan of `ctx.run` from `listing` (hook-list's records) to `out`.
pub(crate) fn write(listing: &[u8], ctx: &Context<'_>, out: &mut impl Write) -> io::Result<()> {
    let mut reader = RecordReader::new(listing);
    let mut hooks: Vec<Hook> = Vec::new();
    let mut skips: Vec<Skip> = Vec::new();
    while let Ok(Some(raw)) = reader.next() {
        match raw.decode() {
            Ok(Record::Hook(hook)) => hooks.push(hook),
            Ok(Record::Skip(skip)) => skips.push(skip),
            _ => {}
        }
    }
    let (script, runs): (&str, Vec<(&str, &[Step])>) = match ctx.run {
        Run::Stack => ("stack.sh", vec![("", STACK)]),
        Run::Unstack => ("unstack.sh", vec![("", UNSTACK)]),
        Run::Clean => (
            "clean.sh",
            vec![
                ("unstack.sh --all, first:", UNSTACK),
                ("then clean.sh:", CLEAN),
            ],
        ),
    };
    writeln!(
        out,
        "{script} would make these calls, in order (nothing runs now):"
    )?;
    let width = name_width(&hooks, &ctx.driver);
    for (title, steps) in runs {
        if !title.is_empty() {
            writeln!(out, "\n{title}")?;
        }
        for step in steps {
            write_step(step, &hooks, ctx, width, out)?;
        }
    }
    if !skips.is_empty() {
        writeln!(out, "\nnot run:")?;
        for skip in &skips {
            let name = shown(skip.name.as_ref());
            writeln!(out, "  {name}  {}: {}", skip.reason, skip.message)?;
        }
    }
    Ok(())
}

fn shown(name: Option<&Data>) -> String {
    name.map(|name| display(name.as_bytes()))
        .unwrap_or_default()
}

fn yes_no(answer: Option<bool>) -> &'static str {
    match answer {
        Some(true) => "enabled",
        Some(false) => "NOT enabled: skips itself",
        None => "unknown until it runs",
    }
}

/// The width of the name column: the longest name, hypervisor plugin included.
fn name_width(hooks: &[Hook], driver: &str) -> usize {
    hooks
        .iter()
        .map(|hook| shown(hook.name.as_ref()).chars().count())
        .chain(std::iter::once(
            "hypervisor-".len() + driver.chars().count(),
        ))
        .chain(std::iter::once("verify_disabled_services".len()))
        .max()
        .unwrap_or(0)
}

fn write_step(
    step: &Step,
    hooks: &[Hook],
    ctx: &Context<'_>,
    width: usize,
    out: &mut impl Write,
) -> io::Result<()> {
    match step {
        Step::Hooks {
            mode,
            phase,
            verify,
        } => {
            let stage = phase.map_or_else(|| (*mode).to_owned(), |phase| format!("{mode}/{phase}"));
            writeln!(out, "{stage}")?;
            let args = phase.map_or_else(|| (*mode).to_owned(), |phase| format!("{mode} {phase}"));
            let together = parallel_groups(hooks, mode, ctx.jobs);
            for (hook, group) in hooks.iter().zip(&together) {
                let name = shown(hook.name.as_ref());
                if hook.kind == HookKind::Plugin {
                    write_plugin_call(&format!("{name:<width$}"), hook, mode, &args, group, out)?;
                    continue;
                }
                let guard = match &hook.services {
                    Some(services) => format!(
                        "guard {}: {}",
                        services.join(" "),
                        yes_no(
                            ctx.services
                                .and_then(|list| guard_enabled(services, list, ctx.hooks))
                        )
                    ),
                    None => "no guard: always runs".to_owned(),
                };
                writeln!(out, "  {name:<width$}  {args}  ({guard}){group}")?;
            }
            if *verify {
                writeln!(out, "  verify_disabled_services")?;
            }
        }
        Step::Hypervisor { actions, when } => {
            for action in *actions {
                writeln!(out, "hypervisor/{action}")?;
                let plugin = format!("hypervisor-{}", ctx.driver);
                let name = format!("{plugin:<width$}");
                let enabled = yes_no(
                    ctx.services
                        .and_then(|list| guard_enabled(&[(*when).to_owned()], list, ctx.hooks)),
                );
                let call = match hookpipe::hypervisor::function(action) {
                    Some(function) => function.to_owned(),
                    None => format!("source lib/nova_plugins/{plugin}"),
                };
                if *action == "start"
                    && hookpipe::hypervisor::NOT_STARTED.contains(&ctx.driver.as_str())
                {
                    writeln!(
                        out,
                        "  {name}  skipped: DevStack does not call start_nova_hypervisor for the {} driver",
                        ctx.driver
                    )?;
                } else {
                    writeln!(out, "  {name}  {call}  (guard {when}: {enabled})")?;
                }
            }
        }
    }
    Ok(())
}

/// A plugin's file for `mode`, as hook-run calls it.
fn write_plugin_call(
    name: &str,
    hook: &Hook,
    mode: &str,
    args: &str,
    group: &str,
    out: &mut impl Write,
) -> io::Result<()> {
    match plugin_call(hook, mode) {
        Some(PluginCall::File("plugin.sh")) => {
            writeln!(out, "  {name}  devstack/plugin.sh {args}{group}")
        }
        Some(PluginCall::File(file)) => writeln!(out, "  {name}  devstack/{file}{group}"),
        Some(PluginCall::NoPluginSh) => writeln!(out, "  {name}  skipped: no devstack/plugin.sh"),
        None => Ok(()),
    }
}

/// What hook-run does with a plugin in `mode`.
enum PluginCall {
    /// Sources this file of `devstack/`.
    File(&'static str),
    /// Reports it skipped.
    NoPluginSh,
}

/// The plugin's call in `mode`; `None` when hook-run calls nothing for it.
fn plugin_call(hook: &Hook, mode: &str) -> Option<PluginCall> {
    let files = hook.files.clone().unwrap_or_default();
    let has = |file: &str| files.iter().any(|f| f == file);
    match mode {
        "override_defaults" if has("override-defaults") => {
            Some(PluginCall::File("override-defaults"))
        }
        "source" if has("settings") => Some(PluginCall::File("settings")),
        "override_defaults" | "source" => None,
        _ if has("plugin.sh") => Some(PluginCall::File("plugin.sh")),
        _ => Some(PluginCall::NoPluginSh),
    }
}

/// For each hook, what the plan adds to its line about `--jobs`: the parallel group of
/// the calls hook-run makes in `mode` (`hookpipe::requires::groups`; consecutive calls
/// of one group, two or more), or nothing.
fn parallel_groups(hooks: &[Hook], mode: &str, jobs: usize) -> Vec<String> {
    let refs: Vec<&Hook> = hooks.iter().collect();
    let keys = hookpipe::requires::groups(&refs);
    // The calls, in order: (hook, its group), a skipped call without one (it breaks a
    // group); a plugin without a call in this mode is not among them.
    let calls: Vec<(usize, Option<&String>)> = hooks
        .iter()
        .zip(&keys)
        .enumerate()
        .filter_map(|(index, (hook, key))| match hook.kind.as_str() {
            "plugin" => match plugin_call(hook, mode)? {
                PluginCall::File(_) => Some((index, key.as_ref())),
                PluginCall::NoPluginSh => Some((index, None)),
            },
            _ => Some((index, key.as_ref())),
        })
        .collect();
    let mut notes = vec![String::new(); hooks.len()];
    let mut at = 0;
    while at < calls.len() {
        let Some(key) = calls[at].1 else {
            at += 1;
            continue;
        };
        let size = calls[at..]
            .iter()
            .take_while(|(_, other)| *other == Some(key))
            .count();
        if size >= 2 {
            let how = if jobs >= 2 {
                format!("up to {} at once (HOOKPIPE_JOBS={jobs})", jobs.min(size))
            } else {
                "at once with --jobs".to_owned()
            };
            for (index, _) in &calls[at..at + size] {
                notes[*index] = format!("  [group {key}, {size} hooks: {how}]");
            }
        }
        at += size;
    }
    notes
}
