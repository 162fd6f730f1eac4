//! hyp-call: sources a hypervisor plugin (`lib/nova_plugins/hypervisor-<driver>`) in a bash
//! worker and calls its `install_`, `configure_`, `start_`, `stop_` and
//! `cleanup_nova_hypervisor` functions, at the points DevStack does.
//!
//! This crate owns the mapping from actions to functions and DevStack's rules about them
//! (which drivers `start` applies to); running and reporting are the shared runner's, the
//! same code `hook-run` uses.

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};

use hookpipe::cli::Stage;
use hookpipe::exit::{Fatal, Outcome};
use hookpipe::lifecycle::ReaderGone;
use hookpipe::record::{Data, HookKind, Record, SkipReason};
use hookpipe_runner::checkpoint::Tee;
use hookpipe_runner::flags::RunnerFlags;
use hookpipe_runner::signals::Signals;
use hookpipe_runner::{run_stage, Action, Call, Plan};

pub use hookpipe::hypervisor::{ACTIONS, NOT_STARTED};

/// Command line of `hyp-call`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "hyp-call",
    version,
    about = "Source a hypervisor plugin and call its functions, reporting each call as records",
    after_help = "Reads: hypervisor (acts on them), state (consumes the newest), every other record \
                  (forwarded unchanged).\nWrites: begin, start, output, summary, warning, trace, \
                  timer, end, skip, state, checkpoint (with --checkpoint-dir), done.\n\nAn action's function is called after sourcing \
                  the plugin file, unless the shell state already defines it (an upstream \
                  `hyp-call source` put it there). `start` is skipped for the drivers DevStack \
                  does not start (libvirt, lxd, docker, zun, fake) unless --always-start.\n\n\
                  Exit status: 0 all calls ok; 1 a call failed (a missing function is a failure) \
                  or an upstream failure stopped the stage; 2 bad usage or bad input; 130/143 \
                  interrupted; 141 the reader went away."
)]
pub struct Args {
    /// Actions in the order to run them: source, install, configure, start, stop, cleanup.
    #[arg(required = true, value_parser = clap::builder::PossibleValuesParser::new(["source", "install", "configure", "start", "stop", "cleanup"]))]
    pub actions: Vec<String>,
    /// Skip every action (with a `skip` record) unless SERVICE is enabled in the worker's
    /// shell: DevStack guards install, configure, start and stop by n-cpu, source and
    /// cleanup by nova.
    #[arg(long, value_name = "SERVICE")]
    pub when_enabled: Option<String>,
    /// Call start_nova_hypervisor for every driver, not only those DevStack starts.
    #[arg(long)]
    pub always_start: bool,
    #[command(flatten)]
    pub runner: RunnerFlags,
}

/// The calls for the `hypervisor` records of a stage.
pub struct HypervisorPlan {
    pub actions: Vec<String>,
    pub when_enabled: Option<String>,
    pub always_start: bool,
}

impl HypervisorPlan {
    fn stage(&self) -> String {
        format!("hypervisor/{}", self.actions.join("+"))
    }
}

impl Plan for HypervisorPlan {
    fn consumes(&self, kind: &str) -> bool {
        kind == "hypervisor"
    }

    fn check(&self, record: &Record) -> Result<(), String> {
        if let Record::Hypervisor(plugin) = record {
            plugin
                .path
                .as_ref()
                .ok_or("hypervisor record without `path`")?;
        }
        Ok(())
    }

    fn calls(&self, consumed: &[Record], _have_state: bool) -> Result<Vec<Call>, Fatal> {
        let mut calls = Vec::new();
        for record in consumed {
            let Record::Hypervisor(plugin) = record else {
                continue;
            };
            let path = plugin
                .path
                .as_ref()
                .map(Data::as_bytes)
                .ok_or_else(|| Fatal::bad_input("hypervisor record without `path`"))?;
            let name = format!("hypervisor-{}", plugin.driver);
            for action in &self.actions {
                let function = hookpipe::hypervisor::function(action);
                let stage = format!("hypervisor/{action}");
                let id = format!("{stage}/{}", plugin.driver);
                let mut call = Call::source(
                    id,
                    &stage,
                    name.as_bytes(),
                    path,
                    HookKind::Hypervisor,
                    Vec::new(),
                );
                if let Some(function) = function {
                    call.action = Action::Function {
                        path: Some(path.to_vec()),
                        function: function.to_owned(),
                        args: Vec::new(),
                    };
                }
                call.when_enabled = self.when_enabled.clone();
                if action == "start"
                    && !self.always_start
                    && NOT_STARTED.contains(&plugin.driver.as_str())
                {
                    call.skip = Some((
                        SkipReason::NotStarted,
                        format!(
                            "DevStack does not call start_nova_hypervisor for the {} driver",
                            plugin.driver
                        ),
                    ));
                }
                calls.push(call);
            }
        }
        Ok(calls)
    }
}

/// hyp-call for [`hookpipe::lifecycle::main`].
pub struct Tool;

impl hookpipe::lifecycle::Tool for Tool {
    const NAME: &'static str = "hyp-call";
    const USAGE_STAGE: Option<&'static str> = Some("hypervisor");
    type Args = Args;

    fn run(args: &Args) -> Result<Outcome, Fatal> {
        run(args, std::io::stdin().lock(), std::io::stdout().lock())
    }
}

/// Runs the stage: the caller passes its stdin and stdout. What can refuse to start (the
/// flags, the prelude) happens after `begin`, so the stream says why.
pub fn run(args: &Args, input: impl Read, output: impl Write) -> Result<Outcome, Fatal> {
    let plan = HypervisorPlan {
        actions: args.actions.clone(),
        when_enabled: args.when_enabled.clone(),
        always_start: args.always_start,
    };
    let stage = Stage::new("hyp-call", plan.stage());
    stage.run(Tee::new(output), ReaderGone::BrokenPipe, |out| {
        let teardown = args.actions.iter().all(|a| a == "stop" || a == "cleanup");
        let options = args.runner.options("hyp-call", plan.stage(), teardown)?;
        let signals = Signals::install()
            .map_err(|err| Fatal::internal(format!("cannot install signal handlers: {err}")))?;
        run_stage(&options, &plan, input, out, &signals)
    })
}
