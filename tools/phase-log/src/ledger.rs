//! What phase-log remembers of a run for its reports, and nothing more: one small entry per
//! hook call (its id, stage, name, when it started and ended and how), the last lines of a
//! call's output while it runs (kept only if it does not end ok), tools seen and their
//! `done` status, timer buckets, skips, summaries and warnings (the first [`KEPT`] of each
//! listed, the rest counted), the first and last record time. Output itself is never held,
//! so memory stays flat however long the run; `report` turns this into text and the exit
//! status, `json_report`, `junit` and `html` into files.
//!
//! Records of several hosts (a merged multi-node stream, `--merge`) are told apart by the
//! record's `host`, which the logger hands over with [`Ledger::set_host`] before each
//! record: calls, tools, skips and notes carry their host, a call is found by host and id,
//! and each host has its own span and upstream state ([`HostRun`]). A stream without hosts
//! is one host without a name, as before.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use hookpipe::record::{Begin, Checkpoint, CheckpointAction, Done, End, Skip, SkipReason, Start};
use hookpipe::time::parse_rfc3339;
use hookpipe::upstream::Upstream;

/// Lines of output kept per call for the failure report.
pub(crate) const RING_LINES: usize = 20;
/// A kept line longer than this is cut (marked), so twenty lines of a runaway call stay
/// small.
pub(crate) const RING_LINE_BYTES: usize = 4096;
/// Entries and warnings listed in the text reports; more are counted.
pub(crate) const LISTED: usize = 20;
/// Skips, summaries and warnings kept for the file reports; more are counted, so a stream
/// of a million warnings cannot grow phase-log.
pub(crate) const KEPT: usize = 10_000;

/// One line kept for the failure report.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// 0 stdout, 1 stderr.
    pub stream: u8,
    pub text: Vec<u8>,
    pub cut: bool,
}

impl Kept {
    fn append(&mut self, bytes: &[u8]) {
        let room = RING_LINE_BYTES.saturating_sub(self.text.len());
        if bytes.len() > room {
            self.cut = true;
        }
        self.text.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// The last [`RING_LINES`] lines of a call; buffers are reused, so a long-running call
/// allocates nothing per line once the ring is full. One pointer while empty: most calls
/// end ok and never need theirs kept (200,000 calls must fit in 64 MiB, `scripts/bench`).
#[derive(Debug, Default)]
pub(crate) struct Ring {
    inner: Option<Box<RingLines>>,
}

#[derive(Debug, Default)]
struct RingLines {
    lines: Vec<Kept>,
    next: usize,
}

impl Ring {
    /// A new line.
    pub(crate) fn push(&mut self, stream: u8, bytes: &[u8]) {
        let ring = self.inner.get_or_insert_with(Box::default);
        if ring.lines.len() < RING_LINES {
            ring.lines.push(Kept::default());
            ring.next = ring.lines.len() % RING_LINES;
            let last = ring.lines.len() - 1;
            let kept = &mut ring.lines[last];
            kept.stream = stream;
            kept.append(bytes);
        } else {
            let next = ring.next;
            let kept = &mut ring.lines[next];
            kept.stream = stream;
            kept.text.clear();
            kept.cut = false;
            kept.append(bytes);
            ring.next = (next + 1) % RING_LINES;
        }
    }

    /// More text for the newest line (a partial line continued).
    pub(crate) fn extend_last(&mut self, stream: u8, bytes: &[u8]) {
        let newest = self.inner.as_mut().and_then(|ring| {
            let at = (ring.next + RING_LINES - 1) % RING_LINES;
            ring.lines.get_mut(at)
        });
        match newest {
            Some(kept) if kept.stream == stream => kept.append(bytes),
            _ => self.push(stream, bytes),
        }
    }

    /// Oldest first.
    pub(crate) fn lines(&self) -> impl Iterator<Item = &Kept> {
        let lines: &[Kept] = self.inner.as_ref().map_or(&[], |ring| &ring.lines);
        let next = self.inner.as_ref().map_or(0, |ring| ring.next);
        let (newer, older) = lines.split_at(next.min(lines.len()));
        older.iter().chain(newer)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.as_ref().is_none_or(|ring| ring.lines.is_empty())
    }

    /// Frees the ring: the call ended ok and its lines are not needed.
    pub(crate) fn release(&mut self) {
        self.inner = None;
    }
}

/// How a call ended, from its `end` record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ended {
    /// Interned: a handful of distinct values over a whole run.
    pub status: Rc<str>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub exited: bool,
    pub duration_ms: u64,
}

impl Ended {
    pub(crate) fn ok(&self) -> bool {
        &*self.status == "ok"
    }
}

/// One hook call.
#[derive(Debug)]
///
/// What is kept is kept compactly (the run's size is its number of calls: `scripts/bench`
/// checks 200,000 calls in 64 MiB): the strings few calls differ in (host, stage, kind,
/// status) are interned and shared, ids and names are exact-size boxes, and the ring of
/// last lines exists only while a call has output that may be needed.
pub(crate) struct Call {
    /// The host that made the call (record contract, "Hosts"); `None` in a stream without
    /// hosts.
    pub host: Option<Rc<str>>,
    pub id: Box<str>,
    pub stage: Rc<str>,
    /// The hook's name for people (`50-template.sh`, `plugin:foo`), from `start`, when it
    /// is not the id's last component ([`Call::name`]).
    name: Option<Box<str>>,
    /// The name is the id's last component (nearly always): not stored twice.
    name_in_id: bool,
    /// `extras`, `plugin` or `hypervisor`, from `start`: 1 + its index in
    /// [`Ledger::kinds`], 0 for none ([`Ledger::kind`]).
    kind: u16,
    /// When it started: the `start` record's time, else its end less its duration; when it
    /// ended: the `end` record's time. Milliseconds since the epoch, 0 for not known (no
    /// record of a run is that old), read through [`Call::start_ms`] and [`Call::end_ms`]:
    /// half the size of two options, times 200,000 calls.
    start: u64,
    end_at: u64,
    /// Arrival order among calls and skipped calls.
    pub seq: u32,
    /// `None` while running, and at the end for a call whose runner vanished.
    pub end: Option<Ended>,
    pub ring: Ring,
    /// Per stream (stdout, stderr): the previous piece was partial; `Some(dropped)` says
    /// whether that line is being dropped as noise, so its continuation follows suit.
    pub open: [Option<bool>; 2],
    /// For a call replayed from a checkpoint (`--resume`): 1 + the index of the run it was
    /// reused from in [`Ledger::reused_runs`]; 0 for a call that ran now ([`Ledger::reused_run`]).
    reused: u16,
}

impl Call {
    /// Whether the call was replayed from a checkpoint rather than run now.
    pub(crate) fn is_reused(&self) -> bool {
        self.reused != 0
    }

    pub(crate) fn start_ms(&self) -> Option<u64> {
        (self.start != 0).then_some(self.start)
    }

    pub(crate) fn end_ms(&self) -> Option<u64> {
        (self.end_at != 0).then_some(self.end_at)
    }

    /// The hook's name for people, from `start`.
    pub(crate) fn name(&self) -> Option<&str> {
        if self.name_in_id {
            self.id.rsplit('/').next()
        } else {
            self.name.as_deref()
        }
    }

    /// The call for people: its id, after its host in a merged run
    /// (`subnode1 stack/install/50-template.sh`, [`Ledger::show_hosts`]), as log lines
    /// show it.
    pub(crate) fn label(&self, show_hosts: bool) -> std::borrow::Cow<'_, str> {
        match &self.host {
            Some(host) if show_hosts => format!("{host} {}", self.id).into(),
            _ => (&*self.id).into(),
        }
    }
}

/// A tool of the pipeline, from its `begin`/`done`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolRun {
    pub host: Option<String>,
    pub tool: String,
    pub stage: String,
    pub done: Option<i32>,
    /// Why it failed, from its `done` (a stage that could not start says so there).
    pub message: Option<String>,
}

/// What a runner said about its stage's checkpoint (a `checkpoint` record): `reused` from
/// an earlier run, `run` now although resuming was asked (with the reason), or `saved`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StageResume {
    pub host: Option<String>,
    pub stage: String,
    pub action: CheckpointAction,
    pub run: String,
    pub reason: Option<String>,
    pub started: Option<String>,
    pub finished: Option<String>,
}

/// A timer bucket summed over the run.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub ms: u64,
    pub calls: u64,
}

/// A call that did not run (a `skip` record with an `id`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SkippedCall {
    pub host: Option<String>,
    pub id: String,
    pub stage: Option<String>,
    pub reason: SkipReason,
    pub message: String,
    pub time_ms: Option<u64>,
    /// Arrival order among calls and skipped calls.
    pub seq: usize,
}

/// A summary or warning line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Note {
    pub host: Option<String>,
    /// The call (or tool, or path) it is about; empty for none.
    pub who: String,
    pub text: String,
    pub time_ms: Option<u64>,
}

/// A listing entry that will not run and looks like a mistake.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EntrySkip {
    pub host: Option<String>,
    pub what: String,
    pub reason: String,
    pub message: String,
}

/// What is known of one host of the run: its span of record times and what its own
/// stream said about failures upstream.
#[derive(Debug, Default)]
pub(crate) struct HostRun {
    pub name: Option<String>,
    pub first_ms: Option<u64>,
    pub last_ms: Option<u64>,
    pub upstream: Upstream,
}

/// `host` and `id` as one index key: ids never hold a NUL, so the key is unambiguous.
fn key(host: Option<&str>, id: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // A fixed hasher: the index lives only as long as the run.
    let mut hasher =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    if let Some(host) = host {
        hasher.write(host.as_bytes());
        hasher.write_u8(0);
    }
    hasher.write(id.as_bytes());
    hasher.finish()
}

/// Everything the reports need; see the module docs.

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub calls: Vec<Call>,
    /// The newest call of each (host, id), by [`key`]'s hash: the id is not stored twice.
    /// A hash shared by two ids is told apart by the call it points to ([`Ledger::lookup`]).
    index: HashMap<u64, usize>,
    /// The strings calls share (hosts, stages, statuses), each stored once.
    symbols: HashSet<Rc<str>>,
    /// The kinds of calls seen (`extras`, `plugin`, `hypervisor`), in order.
    kinds: Vec<Box<str>>,
    /// The host of the record being read, and the same interned for its calls.
    host: Option<String>,
    host_symbol: Option<Rc<str>>,
    /// Every host seen, in the order they first appeared; index of the current one.
    pub hosts: Vec<HostRun>,
    /// Whether the text reports, JUnit and HTML name hosts: a merged run (`--merge`). A
    /// single host's run with `HOOKPIPE_HOST` set keeps its plain ids; its JSON still says
    /// the host.
    pub show_hosts: bool,
    current: usize,
    last: Option<usize>,
    pub tools: Vec<ToolRun>,
    pub timers: BTreeMap<String, Bucket>,
    pub entry_skips: Vec<EntrySkip>,
    pub entry_skips_total: u64,
    /// Run skips by reason.
    pub run_skips: BTreeMap<String, u64>,
    /// The first [`KEPT`] run skips.
    pub skipped: Vec<SkippedCall>,
    /// The first [`KEPT`] warnings.
    pub warnings: Vec<Note>,
    pub warnings_total: u64,
    /// The first [`KEPT`] summaries (`echo_summary`).
    pub summaries: Vec<Note>,
    pub summaries_total: u64,
    /// Calls and skipped calls seen so far.
    seq: usize,
    pub first_ms: Option<u64>,
    pub last_ms: Option<u64>,
    pub upstream: Upstream,
    /// DevStack's async jobs (`job` records).
    pub jobs: crate::jobs::Jobs,
    /// The stages (host, stage) that skipped calls because a stage before them failed: a
    /// runner's status 1 there is that failure's consequence, not a failure of its own.
    pub stopped_by_upstream: HashSet<(Option<String>, String)>,
    /// Every `checkpoint` record, in order.
    pub resumes: Vec<StageResume>,
    /// While a reused stage's records are replayed: its stage and the run they came from.
    /// Their times are the original ones, so they do not count in the run's wall time.
    replaying: Option<(String, String)>,
    /// The runs reused calls came from ([`Call`] holds an index, not the id).
    reused_runs: Vec<String>,
}

impl Ledger {
    /// The host of the records that follow (`None`: the stream does not say).
    pub(crate) fn set_host(&mut self, host: Option<&str>) {
        if self.host.as_deref() == host && !self.hosts.is_empty() {
            return;
        }
        self.host = host.map(str::to_owned);
        self.host_symbol = host.map(|host| self.symbol(host));
        self.current = match self
            .hosts
            .iter()
            .position(|run| run.name.as_deref() == host)
        {
            Some(at) => at,
            None => {
                self.hosts.push(HostRun {
                    name: host.map(str::to_owned),
                    ..HostRun::default()
                });
                self.hosts.len() - 1
            }
        };
    }

    /// The current host's entry, made on first use.
    fn host_run(&mut self) -> &mut HostRun {
        if self.hosts.is_empty() {
            self.set_host(None);
        }
        &mut self.hosts[self.current]
    }

    /// The host of the record being read.
    pub(crate) fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// A record's time, for the wall time of the run and of its host.
    pub(crate) fn saw_time(&mut self, ms: u64) {
        if self.replaying.is_some() {
            return;
        }
        self.first_ms = Some(self.first_ms.map_or(ms, |first| first.min(ms)));
        self.last_ms = Some(self.last_ms.map_or(ms, |last| last.max(ms)));
        let run = self.host_run();
        run.first_ms = Some(run.first_ms.map_or(ms, |first| first.min(ms)));
        run.last_ms = Some(run.last_ms.map_or(ms, |last| last.max(ms)));
    }

    pub(crate) fn begin(&mut self, begin: &Begin) {
        self.upstream.begin(begin);
        self.host_run().upstream.begin(begin);
        self.tools.push(ToolRun {
            host: self.host.clone(),
            tool: begin.tool.clone(),
            stage: begin.stage.clone(),
            done: None,
            message: None,
        });
    }

    pub(crate) fn done(&mut self, done: &Done) {
        if self
            .replaying
            .as_ref()
            .is_some_and(|(stage, _)| *stage == done.stage)
        {
            self.replaying = None;
        }
        self.upstream.done(done);
        self.host_run().upstream.done(done);
        let host = self.host.as_deref();
        let open = self.tools.iter_mut().find(|run| {
            run.done.is_none()
                && run.tool == done.tool
                && run.stage == done.stage
                && run.host.as_deref() == host
        });
        match open {
            Some(run) => {
                run.done = Some(done.status);
                run.message.clone_from(&done.message);
            }
            None => self.tools.push(ToolRun {
                host: self.host.clone(),
                tool: done.tool.clone(),
                stage: done.stage.clone(),
                done: Some(done.status),
                message: done.message.clone(),
            }),
        }
    }

    /// A call's kind, from its `start`.
    pub(crate) fn kind(&self, call: &Call) -> Option<&str> {
        let at = usize::from(call.kind).checked_sub(1)?;
        self.kinds.get(at).map(|kind| &**kind)
    }

    /// `text`, stored once for the whole run however many calls name it.
    fn symbol(&mut self, text: &str) -> Rc<str> {
        if let Some(known) = self.symbols.get(text) {
            return Rc::clone(known);
        }
        let new: Rc<str> = Rc::from(text);
        self.symbols.insert(Rc::clone(&new));
        new
    }

    fn add_call(&mut self, id: &str, stage: &str) -> usize {
        let at = self.calls.len();
        self.seq += 1;
        let stage = self.symbol(stage);
        let reused = self.reused_index();
        self.calls.push(Call {
            host: self.host_symbol.clone(),
            id: id.into(),
            stage,
            name: None,
            name_in_id: false,
            kind: 0,
            start: 0,
            end_at: 0,
            seq: u32::try_from(self.seq).unwrap_or(u32::MAX),
            end: None,
            ring: Ring::default(),
            open: [None, None],
            reused,
        });
        self.index.insert(key(self.host.as_deref(), id), at);
        self.last = Some(at);
        at
    }

    /// A call began; a second `start` of the same id is a new call.
    pub(crate) fn start(&mut self, start: &Start) -> usize {
        let at = self.add_call(&start.id, &start.stage);
        let kind = match self
            .kinds
            .iter()
            .position(|known| **known == *start.kind.as_str())
        {
            Some(at) => at,
            None => {
                self.kinds.push(start.kind.as_str().into());
                self.kinds.len() - 1
            }
        };
        let call = &mut self.calls[at];
        let name = start
            .name
            .as_ref()
            .map(|name| hookpipe::bytes::display(name.as_bytes()));
        call.name_in_id = name
            .as_deref()
            .is_some_and(|name| call.id.rsplit('/').next() == Some(name));
        if !call.name_in_id {
            call.name = name.map(String::into_boxed_str);
        }
        call.kind = u16::try_from(kind + 1).unwrap_or(0);
        call.start = parse_rfc3339(&start.time).unwrap_or(0);
        at
    }

    /// The newest call with this id. Output comes in runs of one call, so the last answer
    /// is checked first, which spares hashing on nearly every line.
    pub(crate) fn lookup(&mut self, id: &str) -> Option<usize> {
        let host = self.host.as_deref();
        let this = |call: &Call| &*call.id == id && call.host.as_deref() == host;
        if let Some(last) = self.last {
            if this(&self.calls[last]) {
                return Some(last);
            }
        }
        let found = match self.index.get(&key(host, id)) {
            Some(&at) if this(&self.calls[at]) => Some(at),
            // Another id with the same hash, or none: the calls themselves say.
            Some(_) => self.calls.iter().rposition(this),
            None => None,
        };
        if found.is_some() {
            self.last = found;
        }
        found
    }

    /// A call ended: its lines are freed when it ended ok, kept otherwise.
    pub(crate) fn end(&mut self, end: &End) -> usize {
        self.upstream.end(end);
        self.host_run().upstream.end(end);
        let at = match self.lookup(&end.id) {
            Some(at) if self.calls[at].end.is_none() => at,
            _ => self.add_call(&end.id, &end.stage),
        };
        let stage = self.symbol(&end.stage);
        let status = self.symbol(end.status.as_str());
        let call = &mut self.calls[at];
        call.stage = stage;
        let ended = Ended {
            status,
            exit_code: end.exit_code,
            signal: end.signal,
            exited: end.exited,
            duration_ms: end.duration_ms,
        };
        if ended.ok() {
            call.ring.release();
        }
        call.end_at = parse_rfc3339(&end.time).unwrap_or(0);
        if call.start == 0 && call.end_at != 0 {
            call.start = call.end_at.saturating_sub(end.duration_ms);
        }
        call.open = [None, None];
        call.end = Some(ended);
        at
    }

    /// 1 + the index of the run being replayed in [`Ledger::reused_runs`], 0 for none.
    fn reused_index(&mut self) -> u16 {
        let Some((_, run)) = &self.replaying else {
            return 0;
        };
        let at = match self.reused_runs.iter().position(|known| known == run) {
            Some(at) => at,
            None => {
                self.reused_runs.push(run.clone());
                self.reused_runs.len() - 1
            }
        };
        u16::try_from(at + 1).unwrap_or(u16::MAX)
    }

    /// The run a call was reused from, when it was replayed from a checkpoint.
    pub(crate) fn reused_run(&self, call: &Call) -> Option<&str> {
        let at = usize::from(call.reused).checked_sub(1)?;
        self.reused_runs
            .get(at)
            .or(self.reused_runs.last())
            .map(String::as_str)
    }

    /// A `checkpoint` record; `reused` starts the replay of its stage's records, which
    /// ends with that stage's `done`.
    pub(crate) fn checkpoint(&mut self, record: &Checkpoint) {
        self.resumes.push(StageResume {
            host: self.host.clone(),
            stage: record.stage.clone(),
            action: record.action,
            run: record.run.clone(),
            reason: record.reason.clone(),
            started: record.started.clone(),
            finished: record.finished.clone(),
        });
        if record.action == CheckpointAction::Reused {
            self.replaying = Some((record.stage.clone(), record.run.clone()));
        }
    }

    /// The stages reused from earlier runs and those that ran now although resuming was
    /// asked: what the reports say about a resumed run (nothing when none was).
    pub(crate) fn resumed(&self) -> impl Iterator<Item = &StageResume> {
        self.resumes
            .iter()
            .filter(|r| r.action != CheckpointAction::Saved)
    }

    pub(crate) fn timer(&mut self, name: &str, ms: u64) {
        let bucket = match self.timers.get_mut(name) {
            Some(bucket) => bucket,
            None => self.timers.entry(name.to_owned()).or_default(),
        };
        bucket.ms = bucket.ms.saturating_add(ms);
        bucket.calls += 1;
    }

    /// A listing entry that looks like a mistake; its host is the current one.
    pub(crate) fn entry_skip(&mut self, mut skip: EntrySkip) {
        skip.host.clone_from(&self.host);
        self.entry_skips_total += 1;
        if self.entry_skips.len() < KEPT {
            self.entry_skips.push(skip);
        }
    }

    /// A call that will not run: `skip` has an `id`.
    pub(crate) fn run_skip(&mut self, skip: &Skip) {
        *self
            .run_skips
            .entry(skip.reason.as_str().to_owned())
            .or_default() += 1;
        if skip.reason == SkipReason::UpstreamFailed {
            if let Some(stage) = &skip.stage {
                self.stopped_by_upstream
                    .insert((self.host.clone(), stage.clone()));
            }
        }
        self.seq += 1;
        if self.skipped.len() < KEPT {
            self.skipped.push(SkippedCall {
                host: self.host.clone(),
                id: skip.id.clone().unwrap_or_default(),
                stage: skip.stage.clone(),
                reason: skip.reason,
                message: skip.message.clone(),
                time_ms: skip.time.as_deref().and_then(parse_rfc3339),
                seq: self.seq,
            });
        }
    }

    pub(crate) fn warning(&mut self, who: &str, text: String, time_ms: Option<u64>) {
        self.warnings_total += 1;
        if self.warnings.len() < KEPT {
            self.warnings.push(Note {
                host: self.host.clone(),
                who: who.to_owned(),
                text,
                time_ms,
            });
        }
    }

    pub(crate) fn summary(&mut self, who: &str, text: String, time_ms: Option<u64>) {
        self.summaries_total += 1;
        if self.summaries.len() < KEPT {
            self.summaries.push(Note {
                host: self.host.clone(),
                who: who.to_owned(),
                text,
                time_ms,
            });
        }
    }

    /// Call at the end of input.
    pub(crate) fn finish(&mut self) {
        self.upstream.finish();
        for run in &mut self.hosts {
            run.upstream.finish();
        }
    }

    /// The run's exit status from the stream (docs/architecture.md rule 5): the highest `done`
    /// status of 2 or more (bad input, a signal); else 1 when anything was negative (a call not
    /// ok or unfinished, a tool that vanished or ended with 1); else 0. Over every host.
    pub(crate) fn status(&self) -> u8 {
        let negative =
            self.upstream.negative() || self.hosts.iter().any(|run| run.upstream.negative());
        self.status_where(|_| true, negative)
    }

    /// [`status`](Self::status) of one host's records alone.
    pub(crate) fn host_status(&self, run: &HostRun) -> u8 {
        let name = run.name.as_deref();
        self.status_where(|host| host == name, run.upstream.negative())
    }

    fn status_where(&self, on: impl Fn(Option<&str>) -> bool, negative: bool) -> u8 {
        let tools = || self.tools.iter().filter(|run| on(run.host.as_deref()));
        let highest = tools().filter_map(|run| run.done).max().unwrap_or(0);
        if highest >= 2 {
            return u8::try_from(highest).unwrap_or(u8::MAX);
        }
        let call_not_ok = self
            .calls
            .iter()
            .filter(|call| on(call.host.as_deref()))
            .any(|call| call.end.as_ref().is_none_or(|end| !end.ok()));
        let vanished = tools().any(|run| run.done.is_none());
        if call_not_ok || negative || vanished {
            hookpipe::exit::NEGATIVE
        } else {
            hookpipe::exit::OK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpipe::record::{EndStatus, HookKind};

    fn texts(ring: &Ring) -> Vec<String> {
        ring.lines()
            .map(|kept| String::from_utf8_lossy(&kept.text).into_owned())
            .collect()
    }

    #[test]
    fn ring_keeps_the_last_lines_oldest_first() {
        let mut ring = Ring::default();
        for n in 0..25 {
            ring.push(0, format!("line {n}").as_bytes());
        }
        let got = texts(&ring);
        assert_eq!(got.len(), RING_LINES);
        assert_eq!(got.first().unwrap(), "line 5");
        assert_eq!(got.last().unwrap(), "line 24");
    }

    #[test]
    fn ring_joins_continued_lines_and_cuts_long_ones() {
        let mut ring = Ring::default();
        ring.push(0, b"Password: ");
        ring.extend_last(0, b"ok");
        ring.extend_last(1, b"other stream");
        ring.push(0, &vec![b'x'; RING_LINE_BYTES + 10]);
        assert_eq!(texts(&ring)[..2], ["Password: ok", "other stream"]);
        let long = ring.lines().last().unwrap();
        assert!(long.cut);
        assert_eq!(long.text.len(), RING_LINE_BYTES);
    }

    fn end(id: &str, status: &str) -> End {
        let status = EndStatus::parse(status).unwrap();
        End::new(id.into(), "s".into(), status, String::new())
    }

    fn start(id: &str) -> Start {
        Start::new(id.into(), "s".into(), HookKind::Extras, String::new())
    }

    fn done(tool: &str, status: i32) -> Done {
        Done {
            tool: tool.into(),
            stage: "s".into(),
            status,
            time: String::new(),
            message: None,
        }
    }

    #[test]
    fn status_table() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.status(), 0);
        ledger.end(&end("s/a.sh", "ok"));
        assert_eq!(ledger.status(), 0);
        ledger.end(&end("s/b.sh", "failed"));
        assert_eq!(ledger.status(), 1);
        ledger.done(&done("hook-run", 1));
        assert_eq!(ledger.status(), 1);
        ledger.done(&done("hook-run", 130));
        assert_eq!(ledger.status(), 130);
    }

    #[test]
    fn a_call_without_end_is_negative() {
        let mut ledger = Ledger::default();
        ledger.start(&start("s/a.sh"));
        assert_eq!(ledger.status(), 1);
    }

    #[test]
    fn ok_calls_free_their_lines_and_failed_calls_keep_them() {
        let mut ledger = Ledger::default();
        for id in ["s/a.sh", "s/b.sh"] {
            let at = ledger.start(&start(id));
            ledger.calls[at].ring.push(0, b"hello");
        }
        ledger.end(&end("s/a.sh", "ok"));
        ledger.end(&end("s/b.sh", "failed"));
        assert!(ledger.calls[0].ring.is_empty());
        assert!(!ledger.calls[1].ring.is_empty());
    }
}

#[cfg(test)]
mod size {
    /// What a call costs is what a long run costs (README "Performance"): a call must not
    /// grow unnoticed.
    #[test]
    fn a_call_stays_small() {
        assert!(std::mem::size_of::<super::Call>() <= 152);
    }
}
