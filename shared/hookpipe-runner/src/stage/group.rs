//! Parallel groups (`--jobs N`): calls of one group run at once, each in a worker of its
//! own, and the stage continues as if they had run one after the other.
//!
//! - **Same start.** The stage's worker dumps its state; every member's worker sources the
//!   prelude and loads that state, so each hook starts from exactly what the first of them
//!   would have had in a serial run (what travels between stages: docs/architecture.md,
//!   "Shell state").
//! - **Up to N at a time**, started in serial order by a pool of threads, one
//!   [`Session`] each: output attribution, timeouts, interrupts and the process tree are
//!   the session's, as for a serial call.
//! - **Output in serial order.** Each member writes its records into its own buffer; the
//!   oldest member still running streams live, the others are written when their turn
//!   comes, so the log reads as a serial one while the records' times show the overlap.
//! - **Failure stops the group**, unless keeping going: the other running members' process
//!   groups get TERM (KILL after the grace period); they end `interrupted`, with a
//!   `warning` naming the failure, and members not started yet are skipped (`stopped`).
//! - **State merge.** Each member's state at its end is compared with the common start;
//!   the changes (variables set or unset, functions defined or removed) are applied in
//!   serial order to the stage's worker (associative arrays key by key, DevStack's timer
//!   totals `_TIME_TOTAL` added up). Two members that changed the same name
//!   differently are a conflict: `--jobs-conflict rerun` (the default) runs the group again
//!   serially from the state before it, with a `warning` naming hooks and names;
//!   `--jobs-conflict fail` fails the stage naming them.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use hookpipe::exit::Outcome;
use hookpipe::record::{Data, End, EndStatus, Line, Record, SkipReason};
use hookpipe::stream::RecordWriter;
use hookpipe::time::now_rfc3339;

use super::{
    batch_files, end_record, path_bytes, send_setup, skip_record, skipped_outcome, write_start,
    Call, CallStatus, Halt, JobsConflict, Options, Runner, Setup, StageError,
};
use crate::checkpoint::CallOutcome;
use crate::session::{Batch, BatchEvent, Completion, Session, Wait};
use crate::signals::Signals;
use crate::state::{assoc_elements, assoc_line, Change, Dump, Var};

/// What a member thread tells the stage, in order for each member.
enum Message {
    /// Records of member N (whole lines).
    Records(usize, Vec<u8>),
    /// Member N's worker runs as this process group.
    Started(usize, i32),
    /// Member N is over; `None` when the group stopped (or the run was interrupted)
    /// before its call began.
    Finished(usize, Option<Box<Member>>),
}

/// How one member went.
struct Member {
    /// The status of its `end` record (`interrupted` when the group stopped it).
    status: EndStatus,
    /// The signal that interrupted it, when the run was interrupted.
    signal: Option<i32>,
    /// Its shell state at its end, if one could be had.
    dump: Option<Dump>,
}

/// A writer that hands each flushed buffer to the stage as member N's records.
struct MemberRecords {
    index: usize,
    pending: Vec<u8>,
    to_stage: Sender<Message>,
}

impl Write for MemberRecords {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Sessions flush after whole records only, so each message holds whole lines.
    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let records = std::mem::take(&mut self.pending);
            // A stage that stopped listening has gone: nothing is left to report to.
            let _ = self.to_stage.send(Message::Records(self.index, records));
        }
        Ok(())
    }
}

/// What every member thread shares.
struct Shared<'a> {
    options: &'a Options,
    signals: &'a Signals,
    calls: &'a [Call],
    scratch: PathBuf,
    /// The state script every member loads.
    state: PathBuf,
    next: AtomicUsize,
    /// Set when a failure stops the group: no more members start.
    stopping: AtomicBool,
    /// Per member: the group stopped it (its `end` says `interrupted`).
    stopped: Vec<AtomicBool>,
    /// Why the group stopped (the failed call's id), for the stopped members' warnings.
    reason: std::sync::Mutex<String>,
}

impl<W: Write> Runner<'_, W> {
    /// Where a parallel group starts at `at`: the end of the run of calls that share its
    /// group and need no decision first, when `--jobs` allows it and the run holds two or
    /// more calls.
    pub(super) fn parallel_run(&self, calls: &[Call], at: usize) -> Option<usize> {
        if self.options.jobs < 2 {
            return None;
        }
        let group = calls.get(at)?.group.as_ref()?;
        let runnable = |call: &Call| {
            call.group.as_ref() == Some(group)
                && call.skip.is_none()
                && call.when_enabled.is_none()
                && call.refusal().is_none()
        };
        if !runnable(&calls[at]) {
            return None;
        }
        let end = at + calls[at..].iter().take_while(|c| runnable(c)).count();
        (end - at >= 2).then_some(end)
    }

    /// Runs one group at once and merges its state into the stage's worker. Returns why
    /// the stage stops, if it does.
    pub(super) fn run_group(&mut self, calls: &[Call]) -> Result<Option<Halt>, StageError> {
        self.live_session()?;
        let Some(base) = self.group_base()? else {
            self.warn(format!(
                "{}: the shell state could not be dumped before a parallel group; its hooks \
                 run one after the other",
                self.options.stage
            ))?;
            return self.run_serially(calls);
        };
        let members = self.run_members(calls, &base)?;

        // The outcome of each call, in serial order.
        let mut halt = None;
        let mut outcomes = Vec::with_capacity(calls.len());
        let mut failed = false;
        for (call, member) in calls.iter().zip(&members) {
            let Some(member) = member else {
                outcomes.push(skipped_outcome(call, SkipReason::Stopped));
                continue;
            };
            outcomes.push(CallOutcome {
                id: call.id.clone(),
                status: member.status.to_string(),
            });
            if member.status == EndStatus::Ok {
                continue;
            }
            if let Some(signal) = member.signal {
                self.outcome = self.outcome.worst(Outcome::Signal(signal));
                halt = Some(Halt::Interrupted);
                continue;
            }
            if member.status == EndStatus::Interrupted {
                // Stopped because another member failed: that one is the reason.
                continue;
            }
            failed = true;
            self.outcome = self.outcome.worst(Outcome::Negative);
            if self.failure_status.is_none() {
                self.failure_status = Some(member.status);
            }
            if !self.options.keep_going && halt.is_none() {
                halt = Some(Halt::Failed(call.id.clone()));
            }
        }

        if self.signals.received().is_some() {
            // Interrupted: nothing runs after this group, and the stage's worker is being
            // stopped like every other; its state is not worth a merge.
            self.call_outcomes.extend(outcomes);
            return Ok(Some(Halt::Interrupted));
        }

        // The merge: each member's changes in serial order; a name changed differently by
        // two members is a conflict.
        let mut merged: Vec<Change> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        let mut conflicts: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        let mut lost = Vec::new();
        for (index, member) in members.iter().enumerate() {
            let Some(member) = member else { continue };
            let Some(dump) = &member.dump else {
                if member.status == EndStatus::Ok {
                    lost.push(calls[index].id.clone());
                }
                continue;
            };
            for change in dump.changes_from(&base) {
                match merged.iter().position(|c| c.same_name(&change)) {
                    Some(at) if merged[at] != change => {
                        if let Some(both) = merge_elements(&base, &merged[at], &change) {
                            merged[at] = both;
                            continue;
                        }
                        conflicts
                            .entry((owner[at], index))
                            .or_default()
                            .push(change.name());
                        merged[at] = change;
                        owner[at] = index;
                    }
                    Some(_) => {}
                    None => {
                        merged.push(change);
                        owner.push(index);
                    }
                }
            }
        }
        for id in &lost {
            self.outcome = self.outcome.worst(Outcome::Negative);
            self.warn(format!(
                "{id}: its shell state could not be dumped at its end (did it redefine or \
                 disable a builtin?); its changes to the shell are lost"
            ))?;
        }
        if !conflicts.is_empty() && halt.is_none() && !failed {
            let described = conflicts
                .iter()
                .map(|((first, second), names)| {
                    format!(
                        "{} and {} both changed {}",
                        calls[*first].id,
                        calls[*second].id,
                        names.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            match self.options.jobs_conflict {
                JobsConflict::Rerun => {
                    self.warn(format!(
                        "parallel group conflict: {described}; running the group again, one \
                         hook after the other, from the state before it"
                    ))?;
                    return self.run_serially(calls);
                }
                JobsConflict::Fail => {
                    let message = format!(
                        "parallel group conflict: {described} (--jobs-conflict fail; \
                         --jobs-conflict rerun runs such a group serially)"
                    );
                    self.warn(message.clone())?;
                    self.call_outcomes.extend(outcomes);
                    self.outcome = self.outcome.worst(Outcome::Negative);
                    return Ok(Some(Halt::Conflict(message)));
                }
            }
        }
        self.call_outcomes.extend(outcomes);
        let delta = base.with_changes(&merged).delta_script(&base);
        self.load_delta(&delta)?;
        Ok(halt)
    }

    /// The calls of a group one after the other in the stage's worker, as without --jobs.
    fn run_serially(&mut self, calls: &[Call]) -> Result<Option<Halt>, StageError> {
        let mut halt = None;
        let statuses = self.run_batch(calls)?;
        for (call, status) in calls.iter().zip(&statuses) {
            match status {
                CallStatus::Ok => {}
                CallStatus::Failed => {
                    self.outcome = self.outcome.worst(Outcome::Negative);
                    if !self.options.keep_going && halt.is_none() {
                        halt = Some(Halt::Failed(call.id.clone()));
                    }
                }
                CallStatus::Interrupted(signal) => {
                    self.outcome = self.outcome.worst(Outcome::Signal(*signal));
                    halt = Some(Halt::Interrupted);
                }
            }
        }
        // A batch cut short by an exited worker leaves the rest to a new one.
        if statuses.len() < calls.len() && halt.is_none() {
            return self.run_serially(&calls[statuses.len().max(1)..]);
        }
        Ok(halt)
    }

    /// The state the group starts from, dumped by the stage's worker.
    fn group_base(&mut self) -> Result<Option<Dump>, StageError> {
        let path = self.scratch.path().join("group-base");
        if let Some(session) = self.session.as_mut() {
            session.set_current(format!("{}/state", self.options.stage));
            session.send(&[b"dump", &path_bytes(&path)]);
        }
        if !matches!(self.wait_command()?, Completion::Done(0)) {
            return Ok(None);
        }
        Ok(std::fs::read(&path).ok().and_then(|b| Dump::parse(&b)))
    }

    /// Loads the merged changes into the stage's worker.
    fn load_delta(&mut self, delta: &[u8]) -> Result<(), StageError> {
        if delta.is_empty() {
            return Ok(());
        }
        if let Some(status) = self.source_in_worker("group-merged", delta)? {
            if status != 0 {
                self.outcome = self.outcome.worst(Outcome::Negative);
                self.warn(format!(
                    "loading the merged shell state of a parallel group returned status \
                     {status}; some of it may be missing"
                ))?;
            }
        }
        Ok(())
    }

    /// Runs the members on a pool of `--jobs` threads and writes their records in serial
    /// order. Returns each member's result (`None`: not started, a `skip` was written).
    fn run_members(
        &mut self,
        calls: &[Call],
        base: &Dump,
    ) -> Result<Vec<Option<Member>>, StageError> {
        // What every member loads: the group's start, as the stage's state records it.
        let script = match (&self.base, self.options.prelude.is_empty()) {
            (Some(prelude), false) => base.delta_script(prelude),
            _ => base.full_script(&self.environment),
        };
        let state = self.scratch.path().join("group-state");
        std::fs::write(&state, &script).map_err(|err| {
            StageError::Fatal(hookpipe::exit::Fatal::internal(format!(
                "writing scratch state: {err}"
            )))
        })?;
        let shared = Shared {
            options: self.options,
            signals: self.signals,
            calls,
            scratch: self.scratch.path().to_path_buf(),
            state,
            next: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            stopped: calls.iter().map(|_| AtomicBool::new(false)).collect(),
            reason: std::sync::Mutex::new(String::new()),
        };
        let threads = self.options.jobs.min(calls.len());
        let (to_stage, from_members) = mpsc::channel();
        let out = &mut *self.out;
        let keep_going = self.options.keep_going;
        let kill_after = self.options.kill_after;
        let mut members: Vec<Option<Member>> = calls.iter().map(|_| None).collect();
        let written = std::thread::scope(|scope| -> io::Result<()> {
            for _ in 0..threads {
                let to_stage = to_stage.clone();
                let shared = &shared;
                scope.spawn(move || member_thread(shared, &to_stage));
            }
            drop(to_stage);
            let mut waiting: Vec<Vec<u8>> = calls.iter().map(|_| Vec::new()).collect();
            let mut groups: Vec<Option<i32>> = calls.iter().map(|_| None).collect();
            let mut finished: Vec<bool> = calls.iter().map(|_| false).collect();
            let mut oldest = 0;
            let mut kill_at: Option<Instant> = None;
            loop {
                let message = match from_members.recv_timeout(Duration::from_millis(50)) {
                    Ok(message) => Some(message),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                match message {
                    Some(Message::Records(index, records)) if index == oldest => {
                        out.append(&records)?;
                        out.flush()?;
                    }
                    Some(Message::Records(index, records)) => {
                        waiting[index].extend_from_slice(&records);
                    }
                    Some(Message::Started(index, group)) => {
                        groups[index] = Some(group);
                        if shared.stopping.load(Ordering::SeqCst) {
                            // Started as the group was being stopped.
                            shared.stopped[index].store(true, Ordering::SeqCst);
                            let _ = killpg(Pid::from_raw(group), Signal::SIGTERM);
                        }
                    }
                    Some(Message::Finished(index, member)) => {
                        groups[index] = None;
                        finished[index] = true;
                        let failed = member.as_ref().is_some_and(|member| {
                            member.status != EndStatus::Ok
                                && member.signal.is_none()
                                && !shared.stopped[index].load(Ordering::SeqCst)
                        });
                        members[index] = member.map(|member| *member);
                        if failed && !keep_going && !shared.stopping.swap(true, Ordering::SeqCst) {
                            if let Ok(mut reason) = shared.reason.lock() {
                                reason.clone_from(&calls[index].id);
                            }
                            for (other, group) in groups.iter().enumerate() {
                                if let Some(group) = group {
                                    shared.stopped[other].store(true, Ordering::SeqCst);
                                    let _ = killpg(Pid::from_raw(*group), Signal::SIGTERM);
                                }
                            }
                            kill_at = Some(Instant::now() + kill_after);
                        }
                        // The oldest member is over: the next one's records follow it.
                        while finished.get(oldest).is_some_and(|done| *done) {
                            if members[oldest].is_none() {
                                out.write(&not_run(&shared, &calls[oldest]))?;
                            }
                            oldest += 1;
                            if let Some(records) = waiting.get_mut(oldest) {
                                out.append(&std::mem::take(records))?;
                            }
                        }
                        out.flush()?;
                    }
                    None => {}
                }
                if shared.signals.received().is_some() {
                    // Several threads poll the wake-up pipe: one drained it, wake the rest.
                    shared.signals.wake();
                }
                if kill_at.is_some_and(|at| Instant::now() >= at) {
                    for group in groups.iter().flatten() {
                        let _ = killpg(Pid::from_raw(*group), Signal::SIGKILL);
                    }
                    kill_at = None;
                }
            }
            // Members never started come last: every started one is over.
            for (index, call) in calls.iter().enumerate().skip(oldest) {
                out.append(&waiting[index])?;
                if members[index].is_none() {
                    out.write(&not_run(&shared, call))?;
                }
            }
            Ok(())
        });
        written?;
        self.out.flush()?;
        Ok(members)
    }
}

/// Two hooks' changes to one associative array, merged key by key when they touched
/// different keys (two hooks each adding their service to a map), or made the same change;
/// DevStack's timer totals (`_TIME_TOTAL`, milliseconds per name) add up, as they would
/// have serially. `None`: a real conflict.
fn merge_elements(base: &Dump, earlier: &Change, later: &Change) -> Option<Change> {
    let (Change::Var(name, Some(earlier)), Change::Var(_, Some(later))) = (earlier, later) else {
        return None;
    };
    let (flags, mut merged) = assoc_elements(earlier.line())?;
    let (later_flags, later_elements) = assoc_elements(later.line())?;
    let base_elements = match base.var(name) {
        Some(var) => {
            let (base_flags, elements) = assoc_elements(var.line())?;
            if base_flags != flags {
                return None;
            }
            elements
        }
        None => Vec::new(),
    };
    if later_flags != flags {
        return None;
    }
    let find = |elements: &[(Vec<u8>, Vec<u8>)], key: &[u8]| {
        elements
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| v.clone())
    };
    let mut keys: Vec<Vec<u8>> = base_elements.iter().map(|(k, _)| k.clone()).collect();
    for (key, _) in &later_elements {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    for key in keys {
        let (was, now) = (find(&base_elements, &key), find(&later_elements, &key));
        if was == now {
            continue;
        }
        let current = find(&merged, &key);
        let value = if current == was || current == now {
            now
        } else if name == "_TIME_TOTAL" {
            let number = |value: &Option<Vec<u8>>| -> Option<i64> {
                let text = value.as_deref().unwrap_or(b"\"0\"");
                std::str::from_utf8(text)
                    .ok()?
                    .trim_matches('"')
                    .parse()
                    .ok()
            };
            let total = number(&current)? + number(&now)? - number(&was)?;
            Some(format!("\"{total}\"").into_bytes())
        } else {
            return None;
        };
        merged.retain(|(k, _)| *k != key);
        if let Some(value) = value {
            merged.push((key, value));
        }
    }
    let var = Var::from_line(assoc_line(name, &flags, &merged))?;
    Some(Change::Var(name.clone(), Some(var)))
}

/// The `skip` of a member that never began: the group stopped, or the run was interrupted.
fn not_run(shared: &Shared<'_>, call: &Call) -> Record {
    if shared.signals.received().is_some() {
        return skip_record(
            call,
            SkipReason::Interrupted,
            "not run: the run was interrupted".into(),
        );
    }
    let failed = shared.reason.lock().map(|r| r.clone()).unwrap_or_default();
    skip_record(
        call,
        SkipReason::Stopped,
        format!("not run: {failed} failed earlier in its parallel group"),
    )
}

/// One thread of the pool: runs members in serial order until none is left or the group
/// stops.
fn member_thread(shared: &Shared<'_>, to_stage: &Sender<Message>) {
    loop {
        if shared.stopping.load(Ordering::SeqCst) || shared.signals.received().is_some() {
            return;
        }
        let index = shared.next.fetch_add(1, Ordering::SeqCst);
        let Some(call) = shared.calls.get(index) else {
            return;
        };
        let mut out = RecordWriter::new(MemberRecords {
            index,
            pending: Vec::new(),
            to_stage: to_stage.clone(),
        });
        let member = run_member(shared, index, call, &mut out, to_stage);
        let _ = out.flush();
        let _ = to_stage.send(Message::Finished(index, member.map(Box::new)));
    }
}

/// One member: a worker with the prelude and the group's state, the call, its state.
fn run_member(
    shared: &Shared<'_>,
    index: usize,
    call: &Call,
    out: &mut RecordWriter<MemberRecords>,
    to_stage: &Sender<Message>,
) -> Option<Member> {
    let options = shared.options;
    let mut member = Member {
        status: EndStatus::Failed,
        signal: None,
        dump: None,
    };
    let dir = shared.scratch.join(format!("member-{index}"));
    let mut session = match std::fs::create_dir_all(&dir)
        .and_then(|()| Session::start(format!("{}/prelude", options.stage)))
    {
        Ok(session) => session,
        Err(err) => {
            let _ = write_start(call, out);
            let _ = unstarted(call, out, format!("cannot start bash for it: {err}"));
            return Some(member);
        }
    };
    session.traced = options.xtrace;
    let group = session.worker.pid().as_raw();
    shared.signals.add_member_group(group);
    let _ = to_stage.send(Message::Started(index, group));
    let exit_dump = dir.join("exit-dump");
    let setup = send_setup(&mut session, options, &exit_dump, None, Some(&shared.state));
    let ready = prepare(&mut session, setup, shared, out);
    let _ = out.flush();
    let not_begun =
        shared.stopped[index].load(Ordering::SeqCst) || shared.signals.received().is_some();
    if not_begun {
        // The group stopped, or the run was interrupted, while the worker was being made.
        end_member(&mut session, shared, group);
        return None;
    }
    if let Err(problem) = ready {
        let _ = write_start(call, out);
        let _ = unstarted(call, out, problem);
    } else {
        run_call(&mut session, shared, index, call, &dir, out, &mut member);
    }
    if session.worker.try_status().ok().flatten().is_none() && member.dump.is_none() {
        let path = dir.join("final");
        session.set_current(format!("{}/state", options.stage));
        session.send(&[b"dump", &path_bytes(&path)]);
        let wait = Wait {
            timeout: None,
            kill_after: options.kill_after,
        };
        if let Ok(Completion::Done(0)) = session.wait(&wait, shared.signals, out) {
            member.dump = std::fs::read(&path).ok().and_then(|b| Dump::parse(&b));
        }
    } else if member.dump.is_none() {
        member.dump = std::fs::read(&exit_dump).ok().and_then(|b| Dump::parse(&b));
    }
    end_member(&mut session, shared, group);
    Some(member)
}

/// Ends a member's worker: it is idle, so closing its commands ends it; one that does not
/// end within the grace period (a hook's trap, a stopped group) is killed with its group.
fn end_member(session: &mut Session, shared: &Shared<'_>, group: i32) {
    session.worker.close_commands();
    let until = Instant::now() + shared.options.kill_after;
    while matches!(session.worker.try_status(), Ok(None)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    if matches!(session.worker.try_status(), Ok(None)) {
        session.worker.signal_group(Signal::SIGKILL);
    }
    let _ = session.worker.wait();
    shared.signals.remove_member_group(group);
}

/// Collects the replies to a member worker's set-up commands.
fn prepare(
    session: &mut Session,
    setup: Vec<Setup>,
    shared: &Shared<'_>,
    out: &mut RecordWriter<MemberRecords>,
) -> Result<(), String> {
    let wait = Wait {
        timeout: None,
        kill_after: shared.options.kill_after,
    };
    for step in setup {
        let completion = session
            .wait(&wait, shared.signals, out)
            .map_err(|err| format!("cannot prepare its worker: {err}"))?;
        match (step, completion) {
            (Setup::Prelude(path), Completion::Done(status)) if status != 0 => {
                return Err(format!(
                    "prelude {} failed with status {status} in its worker",
                    super::display_path(&path)
                ));
            }
            (Setup::Load, Completion::Done(status)) if status != 0 => {
                return Err(format!(
                    "loading the group's shell state returned status {status} in its worker"
                ));
            }
            (_, Completion::Exited(status)) => {
                return Err(format!("its worker exited while being prepared ({status})"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `warning` and failed `end` of a member whose worker could not be made ready.
fn unstarted(
    call: &Call,
    out: &mut RecordWriter<MemberRecords>,
    problem: String,
) -> io::Result<()> {
    write_warning(out, &call.id, format!("{}: not run: {problem}", call.id))?;
    out.write(&Record::End(End::new(
        call.id.clone(),
        call.stage.clone(),
        EndStatus::Failed,
        now_rfc3339(),
    )))
}

fn write_warning(out: &mut RecordWriter<MemberRecords>, id: &str, text: String) -> io::Result<()> {
    out.write(&Record::Warning(Line {
        id: Some(id.to_owned()),
        text: Some(Data::from(text)),
        time: now_rfc3339(),
    }))
}

/// Runs the member's call as a batch of one in its worker and reports it.
fn run_call(
    session: &mut Session,
    shared: &Shared<'_>,
    index: usize,
    call: &Call,
    dir: &Path,
    out: &mut RecordWriter<MemberRecords>,
    member: &mut Member,
) {
    let options = shared.options;
    let (data, script) = batch_files(std::slice::from_ref(call));
    let data_path = dir.join("batch-data");
    let script_path = dir.join("batch-script");
    if let Err(err) =
        std::fs::write(&data_path, &data).and_then(|()| std::fs::write(&script_path, &script))
    {
        let _ = write_start(call, out);
        let _ = unstarted(call, out, format!("cannot write its batch: {err}"));
        return;
    }
    let wait = Wait {
        timeout: options.timeout,
        kill_after: options.kill_after,
    };
    let batch = Batch {
        ids: vec![call.id.clone()],
        data: &data_path,
        script: &script_path,
        stop_at_failure: true,
    };
    let mut note = None;
    let stopped = &shared.stopped[index];
    let result = session.run_batch(
        batch,
        &wait,
        shared.signals,
        out,
        &mut |event, out| match event {
            BatchEvent::Start(_) => write_start(call, out),
            BatchEvent::End(_, end) => {
                let (mut record, status, warning) = end_record(call, end);
                if let CallStatus::Interrupted(signal) = status {
                    member.signal = Some(signal);
                } else if record.status != EndStatus::Ok && stopped.load(Ordering::SeqCst) {
                    record.status = EndStatus::Interrupted;
                    let failed = shared.reason.lock().map(|r| r.clone()).unwrap_or_default();
                    write_warning(
                        out,
                        &call.id,
                        format!(
                            "{}: stopped because {failed} failed in the same parallel group",
                            call.id
                        ),
                    )?;
                }
                member.status = record.status;
                note = warning;
                out.write(&Record::End(record))
            }
        },
    );
    if let Err(err) = result {
        let _ = write_warning(out, &call.id, format!("{}: {err}", call.id));
    }
    if let Some(note) = note {
        let _ = write_warning(out, &call.id, note);
    }
    if session.worker.try_status().ok().flatten().is_some() {
        let exit_dump = dir.join("exit-dump");
        member.dump = std::fs::read(&exit_dump).ok().and_then(|b| Dump::parse(&b));
    }
}
