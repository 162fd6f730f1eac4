//! The command-line flags `hook-run` and `hyp-call` share, defined once and flattened into
//! each tool's arguments, and their translation into runner [`Options`].

use std::path::PathBuf;
use std::time::Duration;

use hookpipe::exit::Fatal;

use crate::checkpoint::CheckpointOptions;
use crate::stage::{default_prelude, parse_seconds, parse_timeout, JobsConflict, Options};

/// How the hooks of a stage run.
#[derive(Debug, Clone, clap::Args)]
pub struct RunnerFlags {
    /// Source FILE in the worker before any hook (repeatable; default: this project's
    /// lib/functions, or $HOOKPIPE_LIB/functions).
    #[arg(long, value_name = "FILE")]
    pub prelude: Vec<PathBuf>,
    /// Source no prelude (a legacy caller's state already holds DevStack's functions).
    #[arg(long, conflicts_with = "prelude")]
    pub no_prelude: bool,
    /// Run every hook even after one failed, and even after an upstream failure
    /// (default for unstack and clean).
    #[arg(long, overrides_with = "stop_on_failure")]
    pub keep_going: bool,
    /// Stop at the first failure, here or upstream (default for every other mode).
    #[arg(long, overrides_with = "keep_going")]
    pub stop_on_failure: bool,
    /// Run hooks under `set -o errexit` (default for every mode but unstack and clean).
    #[arg(long, overrides_with = "no_errexit")]
    pub errexit: bool,
    /// Run hooks without errexit.
    #[arg(long, overrides_with = "errexit")]
    pub no_errexit: bool,
    /// Stop a hook that runs longer than SECONDS: TERM to its process group, then KILL
    /// after --kill-after. No limit by default, as in DevStack.
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, env = "HOOKPIPE_TIMEOUT")]
    pub timeout: Option<Duration>,
    /// Grace period between TERM and KILL when stopping a hook.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "5")]
    pub kill_after: Duration,
    /// Trace hooks with `set -x`; the lines become `trace` records.
    #[arg(long)]
    pub xtrace: bool,
    /// Load the shell state from FILE when it is newer than the stream's, and replace FILE
    /// with the state this stage ends with (plain bash: `source FILE` takes it back).
    #[arg(long, value_name = "FILE", env = "HOOKPIPE_STATE")]
    pub state: Option<PathBuf>,
    /// Also write FILE, a script that turns the shell whose state this stage loaded into
    /// the state the stage ends with: only the variables and functions that changed, and
    /// the unsetting of those that are gone (what lib/hookpipe sources back into its
    /// caller, instead of the whole state). Not written when the stage runs nothing.
    #[arg(long, value_name = "FILE")]
    pub state_delta: Option<PathBuf>,
    /// Keep a checkpoint of this stage in the run directory DIR when it completes: its
    /// records, the state after it, and a fingerprint of what it depended on
    /// (docs/checkpoints.md).
    #[arg(long, value_name = "DIR", env = "HOOKPIPE_CHECKPOINT_DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Reuse this stage's checkpoint instead of running it, when every upstream stage was
    /// reused and nothing it depends on changed; its records are replayed, marked `reused`.
    #[arg(long)]
    pub resume: bool,
    /// With --resume implied: run STAGE and every stage after it, reusing those before it.
    #[arg(long, value_name = "STAGE")]
    pub from: Option<String>,
    /// Run nothing after STAGE: later stages skip their calls (reason `until`) and pass
    /// the state on; STAGE keeps its checkpoint.
    #[arg(long, value_name = "STAGE")]
    pub until: Option<String>,
    /// Run up to N hooks of one group at once: extras.d hooks with the same number, and
    /// plugins with no plugin_requires path between them. Each starts from the same shell
    /// state and their changes are merged in serial order (README "Parallel hooks").
    /// 1 (the default) runs every hook one after the other.
    #[arg(long, value_name = "N", env = "HOOKPIPE_JOBS", default_value = "1",
          value_parser = parse_jobs)]
    pub jobs: usize,
    /// When hooks of one parallel group changed the same shell variable or function
    /// differently: run the group again serially from the state before it (rerun), or
    /// fail the stage naming them (fail).
    #[arg(long, value_name = "WHAT", value_enum, default_value = "rerun")]
    pub jobs_conflict: JobsConflict,
}

/// The most hooks one group runs at once: each is a bash worker, and the signal handler
/// keeps their process groups in a fixed table (`signals.rs`).
pub const MAX_JOBS: usize = 64;

/// `--jobs N`: a whole number from 1 to [`MAX_JOBS`].
fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(jobs) if (1..=MAX_JOBS).contains(&jobs) => Ok(jobs),
        _ => Err(format!(
            "`{text}` is not a number of jobs from 1 to {MAX_JOBS} (1 runs hooks one after \
             the other)"
        )),
    }
}

impl RunnerFlags {
    /// Options for a stage, given the mode's defaults (DevStack: errexit and stop at the
    /// first failure in stack.sh; neither in unstack.sh and clean.sh).
    pub fn options(
        &self,
        tool: &'static str,
        stage: String,
        teardown: bool,
    ) -> Result<Options, Fatal> {
        let prelude = if self.no_prelude {
            Vec::new()
        } else if !self.prelude.is_empty() {
            self.prelude.clone()
        } else {
            vec![default_prelude().ok_or_else(|| {
                Fatal::bad_input(
                    "cannot find lib/functions for the prelude: set HOOKPIPE_LIB, \
                     pass --prelude FILE, or --no-prelude",
                )
            })?]
        };
        for file in &prelude {
            if !file.is_file() {
                return Err(Fatal::bad_input(format!(
                    "prelude {}: No such file",
                    hookpipe::bytes::display(std::os::unix::ffi::OsStrExt::as_bytes(
                        file.as_os_str()
                    ))
                )));
            }
        }
        let keep_going = if self.keep_going {
            true
        } else if self.stop_on_failure {
            false
        } else {
            teardown
        };
        let errexit = if self.errexit {
            true
        } else if self.no_errexit {
            false
        } else {
            !teardown
        };
        let checkpoint_dir = self
            .checkpoint_dir
            .clone()
            .filter(|dir| !dir.as_os_str().is_empty());
        let checkpoints = match checkpoint_dir {
            Some(dir) => Some(CheckpointOptions {
                dir,
                resume: self.resume,
                from: self.from.clone(),
                until: self.until.clone(),
            }),
            None if self.resume || self.from.is_some() => {
                return Err(Fatal::bad_input(
                    "--resume and --from need the run directory: --checkpoint-dir DIR \
                     (or HOOKPIPE_CHECKPOINT_DIR)",
                ))
            }
            None => None,
        };
        Ok(Options {
            tool,
            stage,
            prelude,
            errexit,
            keep_going,
            timeout: self.timeout,
            kill_after: self.kill_after,
            xtrace: self.xtrace,
            state_file: self.state.clone(),
            state_delta: self.state_delta.clone(),
            checkpoints,
            until: self.until.clone(),
            jobs: self.jobs,
            jobs_conflict: self.jobs_conflict,
        })
    }
}
