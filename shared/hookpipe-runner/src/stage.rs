//! The stage runner that `hook-run` and `hyp-call` share: read the stream, forward what is
//! not ours, collect what is (the barrier), then run the planned calls in a bash worker and
//! report them, and hand the shell state on.
//!
//! The order of a stage (docs/architecture.md, "The order of a stage"):
//! 1. `begin`; start the worker and queue the prelude, before any input arrives;
//! 2. forward every record we do not consume as it arrives, flushing whenever input would
//!    block; keep the `state` with the highest generation;
//! 3. at the end of input, decide: an interrupt or an upstream failure (unless
//!    `--keep-going`) turns every call into a `skip`;
//! 4. load the state (or, with none, call the hooks with `source` first when the plan asks);
//! 5. run each call: `start`, its records, `end`; stop at the first failure unless keeping
//!    going; a hook that ends the shell is followed by a new worker from the state it left;
//! 6. forward the consumed records, write the new `state` and the state file, then `done`.
//!
//! With a run directory (`--checkpoint-dir`), a stage that completed saves a checkpoint
//! after step 6, and with `--resume` step 5 may be a replay of one (`checkpoint.rs`).
//!
//! What to call is the tool's [`Plan`]; how a call is reported is here, once.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use hookpipe::bytes;
use hookpipe::exit::{Fatal, Outcome};
use hookpipe::record::{
    Begin, Checkpoint, CheckpointAction, Data, End, EndStatus, HookKind, Record, Skip, SkipReason,
    Start, State, StateBase, Stream,
};
use hookpipe::stream::{ReadError, RecordReader, RecordWriter};
use hookpipe::time::now_rfc3339;
use hookpipe::upstream::Upstream;

use crate::checkpoint::{self, CallOutcome, Capture, CheckpointOptions, Decision, Seen, Tee};
use crate::session::{Batch, BatchEvent, CallEnd, Completion, Session, StopReason, Wait};
use crate::signals::Signals;
use crate::state::{Dump, StateFile};

mod group;

/// What a planned call does in the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `source PATH ARGS...` inside a function, with exactly these positional parameters.
    Source { path: Vec<u8>, args: Vec<String> },
    /// Source `path` (when given), then call `function` with `args`.
    Function {
        path: Option<Vec<u8>>,
        function: String,
        args: Vec<String>,
    },
}

/// One call the stage will make (or report as skipped).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: String,
    pub stage: String,
    pub name: Vec<u8>,
    pub path: Vec<u8>,
    pub kind: HookKind,
    pub action: Action,
    /// For plugins: which file is sourced (`plugin.sh`, `settings`, `override-defaults`).
    pub file: Option<String>,
    /// Lines reported as the call's output before it runs (DevStack prints a plugin's
    /// override-defaults file before sourcing it).
    pub preface: Vec<Vec<u8>>,
    /// Run only if `is_service_enabled SERVICE` holds in the worker.
    pub when_enabled: Option<String>,
    /// A skip decided while planning: (reason, message).
    pub skip: Option<(SkipReason, String)>,
    /// For a DevStack plugin's files: its name and checkout, set as `GITDIR[name]` before
    /// the call unless the shell state has it (DevStack records it at `enable_plugin`, and
    /// an associative array cannot travel through the environment).
    pub plugin: Option<(Vec<u8>, Vec<u8>)>,
    /// With `--jobs`, consecutive calls with the same group may run at once
    /// (`stage/group.rs`); `None` always runs alone.
    pub group: Option<String>,
}

impl Call {
    /// A call that sources `path` with `args`, as DevStack sources hooks.
    pub fn source(
        id: String,
        stage: &str,
        name: &[u8],
        path: &[u8],
        kind: HookKind,
        args: Vec<String>,
    ) -> Call {
        Call {
            id,
            stage: stage.to_owned(),
            name: name.to_vec(),
            path: path.to_vec(),
            kind,
            action: Action::Source {
                path: path.to_vec(),
                args,
            },
            file: None,
            preface: Vec::new(),
            when_enabled: None,
            skip: None,
            plugin: None,
            group: None,
        }
    }

    fn args(&self) -> &[String] {
        match &self.action {
            Action::Source { args, .. } | Action::Function { args, .. } => args,
        }
    }

    /// The file the worker will source for this call, if any.
    fn sourced(&self) -> Option<&[u8]> {
        match &self.action {
            Action::Source { path, .. } => Some(path),
            Action::Function { path, .. } => path.as_deref(),
        }
    }

    /// Why the file this call sources must not be sourced: it exists and is not a regular
    /// file (or a link to one). A device never ends (`/dev/zero` grows the worker without
    /// bound) and a FIFO blocks; `hook-list` refuses both, and a record naming one anyway is
    /// refused here as late as possible, just before the batch starts. The worker checks
    /// again at the moment of sourcing (`_hp_source`). A missing file is left to `source`,
    /// whose error is the call's.
    fn refusal(&self) -> Option<(SkipReason, String)> {
        let path = Path::new(std::ffi::OsStr::from_bytes(self.sourced()?));
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_file() {
            return None;
        }
        let kind = file_kind(&meta.file_type());
        Some((
            SkipReason::NotRegular,
            format!(
                "not run: {} is {kind}, not a regular file",
                bytes::display(self.sourced()?)
            ),
        ))
    }
}

/// What a file that is not a regular one is, for messages.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// What a tool decides: which records it consumes and what to call for them.
pub trait Plan {
    /// Whether records of this type are the stage's to act on (held until the barrier).
    fn consumes(&self, kind: &str) -> bool;
    /// Refuses a consumed record the plan could not act on (a hook without a name), as it
    /// arrives, so the message can name its input line.
    fn check(&self, _record: &Record) -> Result<(), String> {
        Ok(())
    }
    /// The calls for the consumed records. `have_state` says whether a state was loaded.
    fn calls(&self, consumed: &[Record], have_state: bool) -> Result<Vec<Call>, Fatal>;
}

/// How a stage runs: the options common to `hook-run` and `hyp-call`.
#[derive(Debug, Clone)]
pub struct Options {
    pub tool: &'static str,
    pub stage: String,
    pub prelude: Vec<PathBuf>,
    pub errexit: bool,
    pub keep_going: bool,
    pub timeout: Option<Duration>,
    pub kill_after: Duration,
    pub xtrace: bool,
    pub state_file: Option<PathBuf>,
    /// `--state-delta FILE`: where the change from the loaded state goes (`state::Delta`).
    pub state_delta: Option<PathBuf>,
    /// The run directory and what to do with its checkpoints.
    pub checkpoints: Option<CheckpointOptions>,
    /// `--until STAGE`: run nothing once STAGE has run upstream.
    pub until: Option<String>,
    /// `--jobs N`: how many calls of one group may run at once (1: serial).
    pub jobs: usize,
    /// `--jobs-conflict`: what a conflict between a group's changes to the shell does.
    pub jobs_conflict: JobsConflict,
}

/// What a parallel group whose hooks changed the same name differently does
/// (`--jobs-conflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JobsConflict {
    /// Run the group again, serially, from the state before it (with a `warning`).
    Rerun,
    /// Fail the stage, naming the hooks and the names.
    Fail,
}

/// Why the stage stopped calling hooks.
#[derive(Debug, Clone)]
enum Halt {
    Upstream(String),
    Prelude(String),
    Failed(String),
    Interrupted,
    /// `--until STAGE` and STAGE ran upstream.
    Until(String),
    /// Hooks of a parallel group changed the same names differently (`--jobs-conflict
    /// fail`): the message says which.
    Conflict(String),
}

struct Runner<'a, W: Write> {
    options: &'a Options,
    out: &'a mut RecordWriter<Tee<W>>,
    signals: &'a Signals,
    scratch: tempfile::TempDir,
    /// Replies the worker still owes for its set-up commands.
    setup: Vec<Setup>,
    /// The dump the current worker started from, or left when it exited.
    last_dump: Option<Dump>,
    /// The state loaded at the start of the stage (script, base), re-sent if no dump can be had.
    loaded: Option<State>,
    /// The loaded state as a dump, when it came as one (a caller's raw dump in the state
    /// file): the base of `--state-delta`.
    loaded_dump: Option<Dump>,
    session: Option<Session>,
    /// The dump taken right after the prelude: deltas are relative to it.
    base: Option<Dump>,
    environment: HashSet<String>,
    outcome: Outcome,
    prelude_failed: Option<String>,
    /// How each call of the stage ended, for its checkpoint.
    call_outcomes: Vec<CallOutcome>,
    /// The `end` status of the first call that did not end `ok` (why the run stops).
    failure_status: Option<EndStatus>,
}

/// Runs one stage between the `begin` and `done` that [`hookpipe::cli::Stage::run`] writes (the caller
/// wraps this in it, with [`crate::lifecycle::ReaderGone::BrokenPipe`]). The output is a
/// [`Tee`] (`Tee::new(stdout)`), through which a checkpoint captures the stage's records.
pub fn run_stage<R: Read, W: Write>(
    options: &Options,
    plan: &dyn Plan,
    input: R,
    out: &mut RecordWriter<Tee<W>>,
    signals: &Signals,
) -> Result<Outcome, Fatal> {
    let scratch = tempfile::Builder::new()
        .prefix("hookpipe-")
        .tempdir()
        .map_err(|err| Fatal::internal(format!("cannot create a scratch directory: {err}")))?;
    let mut runner = Runner {
        options,
        out,
        signals,
        scratch,
        setup: Vec::new(),
        last_dump: None,
        loaded: None,
        loaded_dump: None,
        session: None,
        base: None,
        environment: std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect(),
        outcome: Outcome::Ok,
        prelude_failed: None,
        call_outcomes: Vec::new(),
        failure_status: None,
    };
    match runner.run(plan, input) {
        Ok(outcome) => Ok(outcome),
        Err(StageError::ReaderGone) => {
            runner.stop_everything(StopReason::ReaderGone);
            Err(Fatal::broken_pipe())
        }
        Err(StageError::Fatal(fatal)) => {
            runner.stop_everything(StopReason::ReaderGone);
            Err(fatal)
        }
    }
}

enum StageError {
    ReaderGone,
    Fatal(Fatal),
}

impl From<io::Error> for StageError {
    fn from(err: io::Error) -> StageError {
        if hookpipe::exit::is_broken_pipe(&err) {
            StageError::ReaderGone
        } else {
            StageError::Fatal(Fatal::internal(format!("writing records: {err}")))
        }
    }
}

impl<W: Write> Runner<'_, W> {
    fn run<R: Read>(&mut self, plan: &dyn Plan, input: R) -> Result<Outcome, StageError> {
        // This runner's own `begin` (written by the lifecycle): the run id when nothing
        // upstream names one.
        let own_begin = Begin {
            tool: self.options.tool.to_owned(),
            stage: self.options.stage.clone(),
            pid: std::process::id(),
            version: String::new(),
            time: now_rfc3339(),
        };
        // The async jobs the calling script started or awaited since the last pipeline.
        for job in crate::jobs::take_queued() {
            self.out.write(&Record::Job(job))?;
        }
        self.start_worker(None)?;

        // Steps 2 and 3: forward, collect, decide.
        let mut reader = RecordReader::new(input);
        let mut upstream = Upstream::default();
        let mut consumed: Vec<Record> = Vec::new();
        let mut consumed_raw: Vec<Vec<u8>> = Vec::new();
        let mut stream_state: Option<State> = None;
        let mut seen = Seen::default();
        loop {
            if reader.will_block() {
                self.out.flush()?;
            }
            let raw = match reader.next() {
                Ok(Some(raw)) => raw,
                Ok(None) => break,
                Err(ReadError::Malformed(bad)) => {
                    return Err(StageError::Fatal(Fatal::bad_input(bad.to_string())));
                }
                Err(ReadError::Io(err)) => {
                    return Err(StageError::Fatal(Fatal::bad_input(format!(
                        "reading input: {err}"
                    ))));
                }
            };
            let kind = raw.kind.as_ref();
            let ours = plan.consumes(kind);
            if matches!(kind, "begin" | "done" | "end" | "state" | "checkpoint") || ours {
                let record = raw
                    .decode()
                    .map_err(|bad| StageError::Fatal(Fatal::bad_input(bad.to_string())))?;
                match &record {
                    Record::Begin(begin) => {
                        upstream.begin(begin);
                        seen.begin(begin);
                    }
                    Record::Checkpoint(record) => seen.checkpoint(record),
                    Record::Done(done) => upstream.done(done),
                    Record::End(end) => upstream.end(end),
                    Record::State(state) => {
                        if stream_state
                            .as_ref()
                            .is_none_or(|s| state.generation >= s.generation)
                        {
                            stream_state = Some(state.clone());
                        }
                        continue;
                    }
                    _ => {}
                }
                if ours {
                    if let Err(reason) = plan.check(&record) {
                        return Err(StageError::Fatal(Fatal::bad_input(format!(
                            "input line {}: {reason}",
                            raw.lineno
                        ))));
                    }
                    consumed_raw.push(raw.line.to_vec());
                    consumed.push(record);
                    continue;
                }
            }
            self.out.write_raw(raw.line)?;
        }
        upstream.finish();
        self.out.flush()?;

        let halt = if self.signals.received().is_some() || upstream.interrupted() {
            Some(Halt::Interrupted)
        } else if let (Some(failure), false) = (upstream.failure(), self.options.keep_going) {
            Some(Halt::Upstream(failure.describe()))
        } else {
            None
        };

        // Step 4: the prelude must have loaded; then the state. When nothing will run, the
        // worker is not waited for: it is stopped.
        let halted_at_barrier = halt.is_some();
        let mut halt = halt;
        if halted_at_barrier {
            self.stop_everything(StopReason::NotNeeded);
        } else {
            self.finish_prelude()?;
            if self.signals.received().is_some() {
                halt = Some(Halt::Interrupted);
            } else if let Some(message) = &self.prelude_failed {
                halt = Some(Halt::Prelude(message.clone()));
            }
        }
        if halt.is_none() {
            if let Some(until) = self.options.until.as_ref().filter(|u| seen.passed(u)) {
                halt = Some(Halt::Until(until.clone()));
            }
        }

        // Checkpoints: with --resume, the stage may be a replay of its checkpoint.
        let run_id = seen.run_id(&own_begin);
        let checkpoints = match (&self.options.checkpoints, &halt) {
            (Some(options), None) => match checkpoint::prepare_dir(&options.dir) {
                Ok(()) => Some(options),
                Err(err) => {
                    self.warn(format!(
                        "no checkpoint for {}: run directory {}: {err}",
                        self.options.stage,
                        display_path(&options.dir)
                    ))?;
                    None
                }
            },
            _ => None,
        };
        let mut reused = false;
        if let Some(options) = checkpoints.filter(|o| o.resuming()) {
            let calls = plan
                .calls(&consumed, stream_state.is_some())
                .map_err(StageError::Fatal)?;
            let now = checkpoint::Fingerprint::of_stage(self.options, &calls);
            match checkpoint::decide(options, &self.options.stage, &seen, &now) {
                Decision::Reuse(stored) => {
                    self.reuse(&options.dir, &stored)?;
                    reused = true;
                }
                Decision::Run { reason, warning } => {
                    if let Some(warning) = warning {
                        self.warn(warning)?;
                    }
                    self.checkpoint_record(
                        CheckpointAction::Run,
                        run_id.clone(),
                        None,
                        Some(reason),
                        None,
                    )?;
                }
            }
        }

        let (generation, have_state) = if halt.is_none() && !reused {
            self.load_state(stream_state.as_ref())?
        } else {
            (
                stream_state.as_ref().map_or(0, |s| s.generation),
                stream_state.is_some(),
            )
        };
        let calls = if reused {
            Vec::new()
        } else {
            plan.calls(&consumed, have_state)
                .map_err(StageError::Fatal)?
        };

        // Step 5, its records captured for the checkpoint.
        let ran = halt.is_none();
        let capture = match checkpoints.filter(|_| !reused) {
            Some(options) => {
                checkpoint::forget(&options.dir, &self.options.stage);
                self.out.flush()?;
                match Capture::start(&options.dir) {
                    Ok(capture) => Some(capture),
                    Err(err) => {
                        self.warn(format!("no checkpoint for {}: {err}", self.options.stage))?;
                        None
                    }
                }
            }
            None => None,
        };
        self.out.get_mut().capture = capture;
        let started = now_rfc3339();
        let halted = self.run_calls(&calls, halt)?;
        self.out.flush()?;
        let capture = self.out.get_mut().capture.take();
        let finished = now_rfc3339();
        if matches!(halted, Some(Halt::Upstream(_) | Halt::Interrupted)) {
            self.outcome = self.outcome.worst(Outcome::Negative);
        }
        self.stop_jobs(halted.as_ref())?;

        // Step 6. A stage that ran nothing hands the upstream state on unchanged (and
        // leaves the state file alone).
        for line in &consumed_raw {
            self.out.write_raw(line)?;
        }
        if ran {
            let state = self.emit_state(generation + 1)?;
            let completed = halted.is_none()
                && self.outcome == Outcome::Ok
                && self.signals.received().is_none();
            if let (Some(options), Some(capture), true) = (checkpoints, capture, completed) {
                let fingerprint = checkpoint::Fingerprint::of_stage(self.options, &calls);
                let saved = checkpoint::save(
                    &options.dir,
                    capture,
                    checkpoint::Completed {
                        run: run_id.clone(),
                        tool: self.options.tool,
                        stage: &self.options.stage,
                        started: started.clone(),
                        finished: finished.clone(),
                        fingerprint: &fingerprint,
                        upstream: checkpoint::upstream_chain(&seen),
                        calls: std::mem::take(&mut self.call_outcomes),
                        state,
                    },
                );
                match saved {
                    Ok(id) => self.checkpoint_record(
                        CheckpointAction::Saved,
                        run_id,
                        Some(id),
                        None,
                        Some((started, finished)),
                    )?,
                    Err(err) => self.warn(format!(
                        "cannot save the checkpoint of {} in {}: {err}",
                        self.options.stage,
                        display_path(&options.dir)
                    ))?,
                }
            }
        } else if let Some(state) = &stream_state {
            self.out.write(&Record::State(state.clone()))?;
        }
        self.finish_worker();
        if let Some(signal) = self.signals.received() {
            self.outcome = self.outcome.worst(Outcome::Signal(signal));
        }
        if let Some(message) = self.prelude_failed.take() {
            return Err(StageError::Fatal(Fatal::bad_input(message)));
        }
        Ok(self.outcome)
    }

    fn wait_settings(&self) -> Wait {
        Wait {
            timeout: None,
            kill_after: self.options.kill_after,
        }
    }

    /// Starts a worker and queues its set-up: the exit dump, tracing, errexit, the prelude,
    /// the baseline dump and (for a replacement worker) the state to continue from. The
    /// replies are collected by [`Runner::finish_prelude`].
    fn start_worker(&mut self, state: Option<&[u8]>) -> Result<(), StageError> {
        let prelude_id = format!("{}/prelude", self.options.stage);
        let mut session = Session::start(prelude_id).map_err(|err| {
            StageError::Fatal(Fatal::internal(format!("cannot start bash: {err}")))
        })?;
        session.traced = self.options.xtrace;
        self.signals.set_worker_group(session.worker.pid().as_raw());
        let exit_dump = self.scratch.path().join("exit-dump");
        let base = self
            .base
            .is_none()
            .then(|| self.scratch.path().join("base"));
        let state_path = match state {
            Some(state) => {
                let path = self.scratch.path().join("restart-state");
                std::fs::write(&path, state).map_err(|err| {
                    StageError::Fatal(Fatal::internal(format!("writing scratch state: {err}")))
                })?;
                Some(path)
            }
            None => None,
        };
        self.setup = send_setup(
            &mut session,
            self.options,
            &exit_dump,
            base.as_deref(),
            state_path.as_deref(),
        );
        self.session = Some(session);
        Ok(())
    }

    /// Collects the replies to the set-up commands. A prelude that fails is the stage's
    /// configuration error (exit 2), reported after the stream is handed on.
    fn finish_prelude(&mut self) -> Result<(), StageError> {
        let steps = std::mem::take(&mut self.setup);
        for step in steps {
            let completion = self.wait_command()?;
            match (step, completion) {
                (Setup::Prelude(path), Completion::Done(status)) if status != 0 => {
                    self.prelude_failed.get_or_insert(format!(
                        "prelude {} failed with status {status}",
                        display_path(&path)
                    ));
                }
                (Setup::Base(path), Completion::Done(0)) => {
                    self.base = std::fs::read(&path)
                        .ok()
                        .and_then(|bytes| Dump::parse(&bytes));
                }
                (Setup::Load, Completion::Done(status)) if status != 0 => {
                    self.warn(format!(
                        "loading the shell state returned status {status}; some of it may be missing"
                    ))?;
                }
                (_, Completion::Exited(_)) if self.signals.received().is_some() => {
                    self.session = None;
                    return Ok(());
                }
                (_, Completion::Exited(status)) => {
                    self.session = None;
                    return Err(StageError::Fatal(Fatal::bad_input(format!(
                        "the bash worker exited while loading the prelude ({status})"
                    ))));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Waits for the current command of the live session.
    fn wait_command(&mut self) -> Result<Completion, StageError> {
        let wait = self.wait_settings();
        let Some(session) = self.session.as_mut() else {
            return Err(StageError::Fatal(Fatal::bad_input(
                "no bash worker is running",
            )));
        };
        Ok(session.wait(&wait, self.signals, self.out)?)
    }

    /// A `warning` record from the runner itself.
    fn warn(&mut self, message: String) -> Result<(), StageError> {
        self.out.write(&Record::Warning(hookpipe::record::Line {
            id: None,
            text: Some(Data::from(message)),
            time: now_rfc3339(),
        }))?;
        Ok(())
    }

    /// Loads the newest state: from the stream or the state file, whichever is newer.
    /// Returns its generation and whether there was one.
    fn load_state(&mut self, stream: Option<&State>) -> Result<(u64, bool), StageError> {
        let mut chosen: Option<State> = stream.cloned();
        if let Some(path) = &self.options.state_file {
            match StateFile::new(path).read_with_dump() {
                Ok(Some(stored)) => {
                    let (generation, script) = (stored.generation, stored.script);
                    if chosen.as_ref().is_none_or(|s| generation > s.generation) {
                        self.loaded_dump = stored.dump;
                        chosen = Some(State {
                            stage: "state-file".into(),
                            generation,
                            base: StateBase::Full,
                            prelude: Vec::new(),
                            script: Some(Data::from_vec(script)),
                            time: now_rfc3339(),
                        });
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    return Err(StageError::Fatal(Fatal::bad_input(format!(
                        "state file {}: {err}",
                        display_path(path)
                    ))))
                }
            }
        }
        let Some(state) = chosen else {
            return Ok((0, false));
        };
        let generation = state.generation;
        self.load_script(state)?;
        Ok((generation, true))
    }

    /// Loads one state into the worker and keeps it as the stage's loaded state.
    fn load_script(&mut self, state: State) -> Result<(), StageError> {
        let script = state.script.as_ref().map_or(&[][..], Data::as_bytes);
        if let Some(status) = self.source_in_worker("state-in", script)? {
            if status != 0 {
                self.warn(format!(
                    "loading the shell state returned status {status}; some of it may be missing"
                ))?;
            }
        }
        self.loaded = Some(state);
        Ok(())
    }

    /// Writes `script` to the scratch file `name` and sources it in the live worker.
    /// Returns the status it reported; `None` with no worker, or one that exited.
    fn source_in_worker(&mut self, name: &str, script: &[u8]) -> Result<Option<i32>, StageError> {
        let path = self.scratch.path().join(name);
        std::fs::write(&path, script).map_err(|err| {
            StageError::Fatal(Fatal::internal(format!("writing scratch state: {err}")))
        })?;
        let Some(session) = self.session.as_mut() else {
            return Ok(None);
        };
        session.set_current(format!("{}/state", self.options.stage));
        session.send(&[b"load", &path_bytes(&path)]);
        match self.wait_command()? {
            Completion::Done(status) => Ok(Some(status)),
            Completion::Exited(_) => Ok(None),
        }
    }
}

impl<W: Write> Runner<'_, W> {
    /// Step 5: every call in order, or its `skip`. Consecutive calls that need no guard
    /// check run as one batch in the worker.
    fn run_calls(
        &mut self,
        calls: &[Call],
        mut halt: Option<Halt>,
    ) -> Result<Option<Halt>, StageError> {
        let mut next = 0;
        while next < calls.len() {
            let call = &calls[next];
            if halt.is_none() && self.signals.received().is_some() {
                halt = Some(Halt::Interrupted);
            }
            if let Some(reason) = &halt {
                let (code, message) = match reason {
                    Halt::Upstream(failure) => (
                        SkipReason::UpstreamFailed,
                        format!("not run: upstream {failure}"),
                    ),
                    Halt::Failed(id) => (
                        SkipReason::Stopped,
                        format!("not run: {id} failed earlier in this stage"),
                    ),
                    Halt::Prelude(message) => {
                        (SkipReason::PreludeFailed, format!("not run: {message}"))
                    }
                    Halt::Conflict(message) => (SkipReason::Stopped, format!("not run: {message}")),
                    Halt::Interrupted => (
                        SkipReason::Interrupted,
                        "not run: the run was interrupted".to_owned(),
                    ),
                    Halt::Until(until) => (
                        SkipReason::Until,
                        format!("not run: --until {until} stopped the run after {until}"),
                    ),
                };
                self.skip(call, code, message)?;
                next += 1;
                continue;
            }
            if let Some((code, message)) = call.skip.clone().or_else(|| call.refusal()) {
                self.skip(call, code, message)?;
                next += 1;
                continue;
            }
            if let Some(service) = &call.when_enabled {
                if !self.service_enabled(service)? {
                    self.skip(
                        call,
                        SkipReason::Disabled,
                        format!("not run: service {service} is not enabled"),
                    )?;
                    next += 1;
                    continue;
                }
            }
            // With --jobs, a run of calls of one group runs at once (stage/group.rs).
            if let Some(end) = self.parallel_run(calls, next) {
                if let Some(stopped) = self.run_group(&calls[next..end])? {
                    halt = Some(stopped);
                }
                next = end;
                continue;
            }
            // The batch: this call and the following ones that need no decision first.
            let mut end = next + 1;
            while end < calls.len()
                && calls[end].skip.is_none()
                && calls[end].when_enabled.is_none()
                && calls[end].refusal().is_none()
                && self.parallel_run(calls, end).is_none()
            {
                end += 1;
            }
            let statuses = self.run_batch(&calls[next..end])?;
            for (offset, status) in statuses.iter().enumerate() {
                match status {
                    CallStatus::Ok => {}
                    CallStatus::Failed => {
                        self.outcome = self.outcome.worst(Outcome::Negative);
                        if !self.options.keep_going {
                            halt = Some(Halt::Failed(calls[next + offset].id.clone()));
                        }
                    }
                    CallStatus::Interrupted(signal) => {
                        self.outcome = self.outcome.worst(Outcome::Signal(*signal));
                        halt = Some(Halt::Interrupted);
                    }
                }
            }
            // A batch that stopped early (a failure, an exited worker) leaves the rest to
            // the next turn: skipped when halted, else a new batch in a new worker.
            next += statuses.len().max(1);
        }
        Ok(halt)
    }

    fn skip(&mut self, call: &Call, reason: SkipReason, message: String) -> Result<(), StageError> {
        self.call_outcomes.push(skipped_outcome(call, reason));
        self.out.write(&skip_record(call, reason, message))?;
        Ok(())
    }

    /// A live session, replacing a worker that a hook ended with one that continues from
    /// the state that worker left.
    fn live_session(&mut self) -> Result<(), StageError> {
        let alive = match self.session.as_mut() {
            Some(session) => session.worker.try_status()?.is_none(),
            None => false,
        };
        if !alive {
            self.session = None;
            let state = self
                .last_dump
                .as_ref()
                .map(|dump| dump.full_script(&self.environment))
                .or_else(|| {
                    self.loaded
                        .as_ref()
                        .and_then(|s| s.script.as_ref().map(|script| script.as_bytes().to_vec()))
                });
            self.start_worker(state.as_deref())?;
            self.finish_prelude()?;
        }
        Ok(())
    }

    fn service_enabled(&mut self, service: &str) -> Result<bool, StageError> {
        self.live_session()?;
        if let Some(session) = self.session.as_mut() {
            session.send(&[b"check", service.as_bytes()]);
        }
        Ok(matches!(self.wait_command()?, Completion::Done(0)))
    }

    /// Runs calls as one batch in the worker and reports each: `start`, what it printed,
    /// `end`. Returns the status of each call that ran, in order.
    fn run_batch(&mut self, calls: &[Call]) -> Result<Vec<CallStatus>, StageError> {
        self.live_session()?;
        let (data, script) = batch_files(calls);
        let data_path = self.scratch.path().join("batch-data");
        let script_path = self.scratch.path().join("batch-script");
        std::fs::write(&data_path, &data)
            .and_then(|()| std::fs::write(&script_path, &script))
            .map_err(|err| {
                StageError::Fatal(Fatal::internal(format!("writing scratch batch: {err}")))
            })?;
        let ids: Vec<String> = calls.iter().map(|call| call.id.clone()).collect();
        let wait = Wait {
            timeout: self.options.timeout,
            kill_after: self.options.kill_after,
        };
        let stop_at_failure = !self.options.keep_going;
        let Some(mut session) = self.session.take() else {
            return Err(StageError::Fatal(Fatal::bad_input(
                "no bash worker is running",
            )));
        };
        let mut statuses = Vec::with_capacity(calls.len());
        let mut warnings = Vec::new();
        let outcomes = &mut self.call_outcomes;
        let batch = Batch {
            ids,
            data: &data_path,
            script: &script_path,
            stop_at_failure,
        };
        let mut failure_status = self.failure_status.take();
        let ends =
            session.run_batch(
                batch,
                &wait,
                self.signals,
                self.out,
                &mut |event, out| match event {
                    BatchEvent::Start(index) => write_start(&calls[index], out),
                    BatchEvent::End(index, end) => {
                        let (record, status, warning) = end_record(&calls[index], end);
                        if record.status != EndStatus::Ok && failure_status.is_none() {
                            failure_status = Some(record.status);
                        }
                        statuses.push(status);
                        warnings.extend(warning);
                        outcomes.push(CallOutcome {
                            id: record.id.clone(),
                            status: record.status.to_string(),
                        });
                        out.write(&Record::End(record))
                    }
                },
            );
        self.session = Some(session);
        self.failure_status = failure_status;
        let ends = ends?;
        for warning in warnings {
            self.warn(warning)?;
        }
        if ends
            .last()
            .is_some_and(|end| matches!(end.completion, Completion::Exited(_)))
        {
            // The worker is gone: keep the state it left for the next one.
            let dump_path = self.scratch.path().join("exit-dump");
            if let Ok(bytes) = std::fs::read(&dump_path) {
                if let Some(dump) = Dump::parse(&bytes) {
                    self.last_dump = Some(dump);
                }
                let _ = std::fs::remove_file(&dump_path);
            }
            self.session = None;
        }
        self.out.flush()?;
        Ok(statuses)
    }

    /// Step 6: the state record and the state file. Returns the state written.
    fn emit_state(&mut self, generation: u64) -> Result<Option<State>, StageError> {
        let mut dump = None;
        let alive = match self.session.as_mut() {
            Some(session) => session.worker.try_status()?.is_none(),
            None => false,
        };
        if alive && self.signals.received().is_none() {
            let path = self.scratch.path().join("final");
            if let Some(session) = self.session.as_mut() {
                session.set_current(format!("{}/state", self.options.stage));
                session.send(&[b"dump", &path_bytes(&path)]);
            }
            if let Completion::Done(0) = self.wait_command()? {
                dump = std::fs::read(&path)
                    .ok()
                    .and_then(|bytes| Dump::parse(&bytes));
            }
            if dump.is_none() {
                // A live worker that cannot dump its shell (a hook broke something the dump
                // needs) must not pass an older state on as if it were this stage's.
                self.outcome = self.outcome.worst(Outcome::Negative);
                self.warn(format!(
                    "{}: the shell state could not be dumped at the end of the stage (did a \
                     hook redefine or disable a builtin?); later stages start from an older \
                     state",
                    self.options.stage
                ))?;
            }
        }
        let dump = dump.or_else(|| self.last_dump.take());
        let (base, script, full) = match (&dump, &self.base) {
            (Some(dump), Some(base)) if !self.options.prelude.is_empty() => (
                StateBase::Prelude,
                dump.delta_script(base),
                Some(dump.full_script(&self.environment)),
            ),
            (Some(dump), _) => {
                let full = dump.full_script(&self.environment);
                (StateBase::Full, full.clone(), Some(full))
            }
            (None, _) => match &self.loaded {
                Some(state) => {
                    let mut state = state.clone();
                    state.generation = generation;
                    state.time = now_rfc3339();
                    self.out.write(&Record::State(state.clone()))?;
                    return Ok(Some(state));
                }
                None => return Ok(None),
            },
        };
        if let (Some(path), Some(full)) = (&self.options.state_file, &full) {
            if let Err(err) = StateFile::new(path).write(generation, full) {
                // The next pipeline would start from an old state or none: a failure.
                self.outcome = self.outcome.worst(Outcome::Negative);
                self.warn(format!(
                    "cannot write the state file {}: {err}",
                    display_path(path)
                ))?;
                if err.kind() == std::io::ErrorKind::AlreadyExists {
                    // Based on a generation another run has replaced: passing it on would
                    // let the next stage write it over that run's changes.
                    return Ok(None);
                }
            }
        }
        if let Some(path) = &self.options.state_delta {
            // Relative to the caller's own dump when the state came as one; else the whole
            // state, which recreates it as well.
            let delta = match (&dump, &self.loaded_dump) {
                (Some(now), Some(loaded)) => now.delta_script(loaded),
                _ => full.clone().unwrap_or_default(),
            };
            if let Err(err) = crate::state::write_delta(path, &delta) {
                self.outcome = self.outcome.worst(Outcome::Negative);
                self.warn(format!(
                    "cannot write the state delta {}: {err}",
                    display_path(path)
                ))?;
            }
        }
        let state = State {
            stage: self.options.stage.clone(),
            generation,
            base,
            prelude: self
                .options
                .prelude
                .iter()
                .map(|p| display_path(p))
                .collect(),
            script: Some(Data::from_vec(script)),
            time: now_rfc3339(),
        };
        self.out.write(&Record::State(state.clone()))?;
        Ok(Some(state))
    }

    /// A `checkpoint` record about this stage.
    fn checkpoint_record(
        &mut self,
        action: CheckpointAction,
        run: String,
        id: Option<String>,
        reason: Option<String>,
        times: Option<(String, String)>,
    ) -> Result<(), StageError> {
        let (started, finished) = times.unzip();
        self.out.write(&Record::Checkpoint(Checkpoint {
            tool: self.options.tool.to_owned(),
            stage: self.options.stage.clone(),
            action,
            run,
            checkpoint: id,
            reason,
            started,
            finished,
            time: now_rfc3339(),
        }))?;
        Ok(())
    }

    /// Step 5 replaced by a checkpoint: its `checkpoint` record, its records replayed
    /// (marked `reused`), and its state loaded into the worker, so step 6 hands on exactly
    /// the state the stage left when it ran (and writes the state file from it).
    fn reuse(&mut self, dir: &Path, stored: &checkpoint::Stored) -> Result<(), StageError> {
        self.checkpoint_record(
            CheckpointAction::Reused,
            stored.run.clone(),
            Some(stored.id.clone()),
            None,
            Some((stored.started.clone(), stored.finished.clone())),
        )?;
        let out = &mut *self.out;
        checkpoint::replay(dir, stored, |line| out.write_raw(line)).map_err(|err| {
            if hookpipe::exit::is_broken_pipe(&err) {
                StageError::ReaderGone
            } else {
                StageError::Fatal(Fatal::bad_input(format!(
                    "replaying the checkpoint of {}: {err}",
                    self.options.stage
                )))
            }
        })?;
        if let Some(state) = &stored.state {
            // Into the worker, whose dump step 6 hands on (never the state file: the
            // checkpoint's state is the one this stage left).
            self.load_script(state.clone())?;
        }
        self.out.flush()?;
        Ok(())
    }

    /// The run is over without success (a failure that stops it, a timeout, an interrupt,
    /// or one of those upstream): DevStack's async jobs still running are stopped, each with
    /// a `job` record saying why (`jobs::stop_running`). A stage that keeps going after a
    /// failure leaves them running.
    fn stop_jobs(&mut self, halted: Option<&Halt>) -> Result<(), StageError> {
        let (reason, message) = match halted {
            _ if self.signals.received().is_some() => {
                ("interrupted", "the run was interrupted".to_owned())
            }
            Some(Halt::Interrupted) => ("interrupted", "the run was interrupted".to_owned()),
            Some(Halt::Failed(id)) => match &self.failure_status {
                Some(EndStatus::Timeout) => ("timeout", format!("{id} timed out")),
                _ => ("failed", format!("{id} failed")),
            },
            Some(Halt::Upstream(failure)) => ("upstream-failed", format!("upstream {failure}")),
            Some(Halt::Prelude(message) | Halt::Conflict(message)) => ("failed", message.clone()),
            // --until: the run ends where it was asked to, not in failure.
            None | Some(Halt::Until(_)) => return Ok(()),
        };
        for job in crate::jobs::stop_running(reason, &message, self.options.kill_after) {
            self.out.write(&Record::Job(job))?;
        }
        Ok(())
    }

    /// Lets the worker finish: it is idle, so closing its commands ends it.
    fn finish_worker(&mut self) {
        if let Some(mut session) = self.session.take() {
            session.worker.close_commands();
            let _ = session.worker.wait();
        }
        self.signals.set_worker_group(0);
    }

    /// Stops the worker's whole process group: TERM, the grace period, KILL.
    fn stop_everything(&mut self, reason: StopReason) {
        if let Some(mut session) = self.session.take() {
            session.stop(reason, Signal::SIGTERM, self.options.kill_after);
            let until = Instant::now() + self.options.kill_after;
            while session.worker.group_alive() && Instant::now() < until {
                let _ = session.worker.try_status();
                std::thread::sleep(Duration::from_millis(10));
            }
            session.worker.signal_group(Signal::SIGKILL);
            let _ = session.worker.wait();
        }
        self.signals.set_worker_group(0);
    }
}

/// The two files of a batch (`_hp_batch` in `worker.bash`): the calls' paths, functions
/// and arguments as NUL-separated data, and a script that calls `_hp_batch_source` or
/// `_hp_batch_call` for each with `"${_hp_fields[N]}"` references into that data. Only
/// indices are written into the script; names and arguments stay data.
pub(crate) fn batch_files(calls: &[Call]) -> (Vec<u8>, String) {
    use std::fmt::Write as _;
    let mut data = Vec::with_capacity(calls.len() * 64);
    let mut script = String::with_capacity(calls.len() * 96);
    let mut next = 0usize;
    let mut field = |script: &mut String, bytes: &[u8]| {
        data.extend_from_slice(bytes);
        data.push(0);
        let _ = write!(script, " \"${{_hp_fields[{next}]}}\"");
        next += 1;
    };
    for call in calls {
        // The call's id, for lib/async: a job records which hook started it.
        script.push_str("printf -v _hp_call_id %s");
        field(&mut script, call.id.as_bytes());
        script.push('\n');
        if let Some((name, dir)) = &call.plugin {
            script.push_str("_hp_gitdir");
            field(&mut script, name);
            field(&mut script, dir);
            script.push('\n');
        }
        match &call.action {
            Action::Source { path, args } => {
                script.push_str("_hp_batch_source");
                field(&mut script, path);
                for arg in args {
                    field(&mut script, arg.as_bytes());
                }
            }
            Action::Function {
                path,
                function,
                args,
            } => {
                script.push_str("_hp_batch_call");
                field(&mut script, path.as_deref().unwrap_or_default());
                field(&mut script, function.as_bytes());
                for arg in args {
                    field(&mut script, arg.as_bytes());
                }
            }
        }
        script.push_str("\n((_hp_stop)) && return\n");
    }
    (data, script)
}

/// The `skip` record of a call that will not run.
fn skip_record(call: &Call, reason: SkipReason, message: String) -> Record {
    Record::Skip(Skip {
        name: Some(Data::from_bytes(&call.name)),
        id: Some(call.id.clone()),
        stage: Some(call.stage.clone()),
        time: Some(now_rfc3339()),
        ..Skip::new(reason, message)
    })
}

/// How a skipped call is recorded in its stage's checkpoint.
fn skipped_outcome(call: &Call, reason: SkipReason) -> CallOutcome {
    CallOutcome {
        id: call.id.clone(),
        status: format!("skipped ({reason})"),
    }
}

/// The `start` record of a call, and the lines it reports before running.
fn write_start<W: Write>(call: &Call, out: &mut RecordWriter<W>) -> io::Result<()> {
    let function = match &call.action {
        Action::Function { function, .. } => Some(function.clone()),
        Action::Source { .. } => None,
    };
    let time = now_rfc3339();
    out.write(&Record::Start(Start {
        id: call.id.clone(),
        stage: call.stage.clone(),
        name: Some(Data::from_bytes(&call.name)),
        path: Some(Data::from_bytes(&call.path)),
        kind: call.kind,
        args: call.args().to_vec(),
        file: call.file.clone(),
        function,
        time: time.clone(),
    }))?;
    let preface = call.preface.iter().map(|line| (&line[..], false));
    out.write_outputs(&call.id, Stream::Stdout, &time, preface)?;
    Ok(())
}

/// The `end` record of a call, what it means for the stage, and a warning to add.
fn end_record(call: &Call, end: &CallEnd) -> (End, CallStatus, Option<String>) {
    let (exit_code, signal, exited);
    let mut warning = None;
    let (status, call_status) = match end.completion {
        Completion::Done(code) => {
            (exit_code, signal, exited) = (Some(code), None, false);
            match end.stopping {
                Some(StopReason::Interrupt(signal)) => {
                    (EndStatus::Interrupted, CallStatus::Interrupted(signal))
                }
                Some(StopReason::Timeout) => (EndStatus::Timeout, CallStatus::Failed),
                _ if code == 0 => (EndStatus::Ok, CallStatus::Ok),
                _ => (EndStatus::Failed, CallStatus::Failed),
            }
        }
        Completion::Exited(exit) => {
            let (mut code, mut by_signal) = crate::session::exit_parts(exit);
            // The worker's TERM trap exits 143 to keep the state: report the signal.
            if let Some(trapped) = end.signalled {
                code = None;
                by_signal = Some(trapped);
            }
            (exit_code, signal, exited) = (code, by_signal, true);
            match end.stopping {
                Some(StopReason::Interrupt(sig)) => {
                    (EndStatus::Interrupted, CallStatus::Interrupted(sig))
                }
                Some(StopReason::Timeout) => (EndStatus::Timeout, CallStatus::Failed),
                _ if code == Some(0) => {
                    warning = Some(format!(
                        "{} called exit 0: the shell it ran in ended, later hooks run in a new one",
                        call.id
                    ));
                    (EndStatus::Ok, CallStatus::Ok)
                }
                _ if code.is_some() => (EndStatus::Failed, CallStatus::Failed),
                _ => (EndStatus::Killed, CallStatus::Failed),
            }
        }
    };
    let record = End {
        id: call.id.clone(),
        stage: call.stage.clone(),
        status,
        exit_code,
        signal,
        exited,
        duration_ms: end.duration_ms,
        time: now_rfc3339(),
    };
    (record, call_status, warning)
}

/// How one call went, for the stage's decisions.
enum CallStatus {
    Ok,
    Failed,
    Interrupted(i32),
}

/// Sends a new worker its set-up commands: the marker, where to leave its state should a
/// hook end it (`exit_dump`), tracing, the prelude without errexit, the baseline dump
/// (`base`, when wanted), the state to continue from (`state`, a script), then the
/// stage's errexit. Returns what each reply means, in order.
fn send_setup(
    session: &mut Session,
    options: &Options,
    exit_dump: &Path,
    base: Option<&Path>,
    state: Option<&Path>,
) -> Vec<Setup> {
    let _ = std::fs::remove_file(exit_dump);
    let mut steps: Vec<(Setup, Vec<Vec<u8>>)> = vec![
        (
            Setup::Plain,
            vec![b"marker".to_vec(), session.marker().to_vec()],
        ),
        (
            Setup::Plain,
            vec![b"exitdump".to_vec(), path_bytes(exit_dump)],
        ),
        (
            Setup::Plain,
            vec![b"trace".to_vec(), on_off(options.xtrace)],
        ),
        (Setup::Plain, vec![b"errexit".to_vec(), on_off(false)]),
    ];
    for prelude in &options.prelude {
        steps.push((
            Setup::Prelude(prelude.clone()),
            vec![b"source".to_vec(), path_bytes(prelude), b"0".to_vec()],
        ));
    }
    if let Some(base) = base {
        steps.push((
            Setup::Base(base.to_path_buf()),
            vec![b"dump".to_vec(), path_bytes(base)],
        ));
    }
    if let Some(path) = state {
        steps.push((Setup::Load, vec![b"load".to_vec(), path_bytes(path)]));
    }
    steps.push((
        Setup::Plain,
        vec![b"errexit".to_vec(), on_off(options.errexit)],
    ));
    for (_, command) in &steps {
        let fields: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
        session.send(&fields);
    }
    steps.into_iter().map(|(step, _)| step).collect()
}

/// A set-up command whose reply matters.
#[derive(Debug)]
enum Setup {
    Plain,
    Prelude(PathBuf),
    Base(PathBuf),
    Load,
}

fn path_bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

fn display_path(path: &Path) -> String {
    bytes::display(path.as_os_str().as_bytes())
}

fn on_off(value: bool) -> Vec<u8> {
    if value {
        b"on".to_vec()
    } else {
        b"off".to_vec()
    }
}

/// Where the default prelude, this project's `lib/functions`, is: `$HOOKPIPE_LIB/functions`
/// when set; otherwise next to the tools, as installed (`<prefix>/bin` beside
/// `<prefix>/lib/hookpipe`) or as built in this repository (`target/<profile>/` two levels
/// below `lib/`).
pub(crate) fn default_prelude() -> Option<PathBuf> {
    if let Some(lib) = std::env::var_os("HOOKPIPE_LIB").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(lib).join("functions"));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let candidates = [
        dir.join("../lib/hookpipe/functions"),
        dir.join("../../lib/functions"),
        dir.join("../../../lib/functions"),
    ];
    candidates.into_iter().find(|path| path.is_file())
}

/// `--timeout SECONDS`: like [`parse_seconds`], but more than zero; a limit of 0 would stop
/// every hook the moment it starts. No limit is the flag left out.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let limit = parse_seconds(text)?;
    if limit.is_zero() {
        return Err(format!(
            "`{text}`: a timeout must be more than 0 seconds (for no limit, leave it out)"
        ));
    }
    Ok(limit)
}

/// Parses a duration given in seconds (`1.5`, `30`), for `--timeout` and `--kill-after`.
pub(crate) fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a number of seconds"));
    }
    // Beyond a year is surely a typo, and far beyond it does not fit a Duration.
    if seconds > 366.0 * 24.0 * 3600.0 {
        return Err(format!("`{text}` seconds is longer than a year"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("`{text}`: {err}"))
}
