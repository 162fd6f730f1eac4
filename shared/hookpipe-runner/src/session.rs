//! One worker and the records its calls produce.
//!
//! A [`Session`] sends commands to its [`Worker`] and turns what comes back into records:
//! stdout and stderr lines become `output`, summaries framed in-band on stdout (and lines
//! written straight to fd 6) `summary`, events `warning`,
//! `timer` and `job`, xtrace lines `trace`, each attributed to the call that wrote them. Its poll loop
//! also watches the worker's exit, the call's deadline, the kill grace period and the signal
//! pipe.
//!
//! Hook calls run as a batch ([`Session::run_batch`]): the worker is given the whole list
//! and goes from one call to the next without waiting for the runner, which would otherwise
//! cost a round trip between two processes per hook. Attribution stays exact because after
//! each call the worker writes a marker down every output channel and then `done` to its
//! events: bytes before the marker on a channel are that call's, and the call's `end` is
//! written once its `done` has arrived and every channel has passed its marker. Set-up
//! commands (prelude, state, checks) run one at a time ([`Session::wait`]); there, a command's
//! writes are in the pipes before its `done`, so draining after `done` collects them all.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use bstr::ByteSlice;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use hookpipe::bytes;
use hookpipe::record::{Data, Line, Record, Stream, Timer};
use hookpipe::stream::RecordWriter;
use hookpipe::time::now_rfc3339;

use crate::signals::Signals;
use crate::worker::{Channel, Worker};

/// Output lines longer than this are cut into several `partial` records.
pub(crate) const LINE_CAP: usize = 64 * 1024;
/// An unfinished line is sent after this long without new bytes.
pub(crate) const PARTIAL_IDLE: Duration = Duration::from_millis(50);

/// The channels whose bytes are lines (all but the events).
const LINE_CHANNELS: [Channel; 4] = [
    Channel::Stdout,
    Channel::Stderr,
    Channel::Summary,
    Channel::Trace,
];

/// Why the session is stopping the worker's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    Timeout,
    Interrupt(i32),
    ReaderGone,
    /// Nothing will run in this stage (an upstream failure or interrupt).
    NotNeeded,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completion {
    /// The worker reported the command done with this status.
    Done(i32),
    /// The worker exited before reporting: the hook ended the shell.
    Exited(ExitStatus),
}

/// How one call of a batch ended, with what the runner needs for its `end` record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CallEnd {
    pub completion: Completion,
    /// Set when the runner was stopping the process group (timeout, interrupt).
    pub stopping: Option<StopReason>,
    /// The signal the worker said ended it (its TERM trap).
    pub signalled: Option<i32>,
    pub duration_ms: u64,
}

/// What a batch tells its reporter, in stream order.
#[derive(Debug)]
pub(crate) enum BatchEvent<'a> {
    /// Call N begins: write its `start` record now, before any of its output.
    Start(usize),
    /// Call N ended.
    End(usize, &'a CallEnd),
}

/// Splits one channel's bytes into lines.
#[derive(Debug, Default)]
struct LineBuffer {
    pending: Vec<u8>,
    last_bytes: Option<Instant>,
}

impl LineBuffer {
    /// Appends bytes and hands out every complete line (and cut pieces of overlong ones).
    fn feed(&mut self, data: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        self.pending.extend_from_slice(data);
        self.last_bytes = Some(Instant::now());
        let mut start = 0;
        while let Some(offset) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let mut piece_start = start;
            while end - piece_start > LINE_CAP {
                emit(&self.pending[piece_start..piece_start + LINE_CAP], true);
                piece_start += LINE_CAP;
            }
            emit(&self.pending[piece_start..end], false);
            start = end + 1;
        }
        while self.pending.len() - start > LINE_CAP {
            emit(&self.pending[start..start + LINE_CAP], true);
            start += LINE_CAP;
        }
        self.pending.drain(..start);
    }

    /// Hands out an unfinished line (if any) as partial.
    fn flush(&mut self, mut emit: impl FnMut(&[u8], bool)) {
        if !self.pending.is_empty() {
            emit(&self.pending, true);
            self.pending.clear();
        }
    }

    fn idle_since(&self) -> Option<Instant> {
        (!self.pending.is_empty())
            .then_some(self.last_bytes)
            .flatten()
    }
}

/// A line channel: bytes read but not yet attributed, which call they belong to, and the
/// unfinished line of that call.
#[derive(Debug, Default)]
struct Cursor {
    raw: Vec<u8>,
    /// Index (in the batch) of the call the bytes in `raw` belong to.
    at: usize,
    lines: LineBuffer,
}

/// One `done` event of a batch: status and the worker's clock around the call.
#[derive(Debug, Clone, Copy)]
struct DoneEvent {
    status: i32,
    duration_ms: Option<u64>,
}

/// A worker, its channel buffers, and the calls its output belongs to.
pub(crate) struct Session {
    pub worker: Worker,
    cursors: [Cursor; 4],
    events: Vec<u8>,
    /// The ids output is attributed to: the batch's calls, or one set-up command.
    ids: Vec<String>,
    /// The call (index into `ids`) whose `start` has been written and `end` not yet.
    current: usize,
    dones: Vec<DoneEvent>,
    /// The worker said the batch is over (all run, or stopped at a failure).
    batch_over: bool,
    /// Whether the command in progress is a batch (markers expected).
    in_batch: bool,
    marker: Vec<u8>,
    /// Set once the runner starts stopping the process group.
    pub stopping: Option<StopReason>,
    kill_at: Option<Instant>,
    killed: bool,
    /// The signal the worker said ended it (its TERM trap), if any.
    pub signalled: Option<i32>,
    /// Whether `--xtrace` is on: only then does the worker mark the trace channel, and
    /// otherwise a hook's own `set -x` lines go to the call in progress.
    pub traced: bool,
    /// The worker's exit descriptor was readable: worth asking for its status.
    exit_seen: bool,
    read_buf: Vec<u8>,
}

/// Index of the stdout channel among [`LINE_CHANNELS`] (it carries the summaries too).
const STDOUT: usize = 0;
/// Index of the trace channel among [`LINE_CHANNELS`].
const TRACE: usize = 3;

/// A batch of calls for [`Session::run_batch`].
pub(crate) struct Batch<'a> {
    /// The calls' ids, in order.
    pub ids: Vec<String>,
    /// The calls' fields and the script that refers to them (`_hp_batch` in `worker.bash`).
    pub data: &'a Path,
    pub script: &'a Path,
    /// End the batch at the first call that fails.
    pub stop_at_failure: bool,
}

/// What the poll loop should wait for.
pub(crate) struct Wait {
    /// The call's deadline (`--timeout`), if any.
    pub timeout: Option<Duration>,
    pub kill_after: Duration,
}

fn read_some(file: &std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut file = file;
    match file.read(buf) {
        Ok(n) => Ok(n),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(err) if err.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(err) => Err(err),
    }
}

/// A token no hook output is expected to contain, to mark the end of each call's bytes.
fn new_marker() -> Vec<u8> {
    let mut random = [0u8; 12];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random));
    if read.is_err() {
        // No /dev/urandom: the clock and pid still make a token no hook will guess.
        let seed = hookpipe::time::now_ms() ^ (u64::from(std::process::id()) << 32);
        random[..8].copy_from_slice(&seed.to_le_bytes());
    }
    let mut marker = b"hookpipe-mark-".to_vec();
    for byte in random {
        marker.extend_from_slice(format!("{byte:02x}").as_bytes());
    }
    marker
}

impl Session {
    pub(crate) fn start(current: impl Into<String>) -> io::Result<Session> {
        Ok(Session {
            worker: Worker::spawn()?,
            cursors: Default::default(),
            events: Vec::new(),
            ids: vec![current.into()],
            current: 0,
            dones: Vec::new(),
            batch_over: false,
            in_batch: false,
            marker: new_marker(),
            stopping: None,
            kill_at: None,
            killed: false,
            signalled: None,
            traced: false,
            exit_seen: true,
            read_buf: vec![0u8; 64 * 1024],
        })
    }

    /// The marker the worker must write after each call of a batch (sent at set-up).
    pub(crate) fn marker(&self) -> &[u8] {
        &self.marker
    }

    /// Sends a command; `false` when the worker is already gone.
    pub(crate) fn send(&mut self, fields: &[&[u8]]) -> bool {
        self.worker.send(fields).is_ok()
    }

    /// Attributes what the next set-up command writes to `id`.
    pub(crate) fn set_current(&mut self, id: impl Into<String>) {
        self.ids = vec![id.into()];
        self.current = 0;
        for cursor in &mut self.cursors {
            cursor.at = 0;
        }
    }

    /// Starts stopping the process group: `signal` now, KILL after the grace period.
    pub(crate) fn stop(&mut self, reason: StopReason, signal: Signal, grace: Duration) {
        if self.stopping.is_none() {
            self.stopping = Some(reason);
        }
        self.worker.signal_group(signal);
        let kill_at = Instant::now() + grace;
        self.kill_at = Some(self.kill_at.map_or(kill_at, |at| at.min(kill_at)));
    }

    fn current_id(&self) -> String {
        self.ids
            .get(self.current)
            .or(self.ids.last())
            .cloned()
            .unwrap_or_default()
    }

    /// Writes the records of complete lines of one channel, for the current call.
    fn write_lines<W: Write>(
        &mut self,
        channel: Channel,
        lines: Vec<(Vec<u8>, bool)>,
        out: &mut RecordWriter<W>,
    ) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        // Lines handled together were read at one moment: one timestamp serves them all.
        let time = now_rfc3339();
        let id = self.current_id();
        let stream = match channel {
            Channel::Stdout => Some(Stream::Stdout),
            Channel::Stderr => Some(Stream::Stderr),
            _ => None,
        };
        if let Some(stream) = stream {
            let lines = lines.iter().map(|(line, partial)| (&line[..], *partial));
            return out.write_outputs(&id, stream, &time, lines);
        }
        for (line, _) in lines {
            let text = Some(Data::from_bytes(&line));
            let record = match channel {
                Channel::Summary => Record::Summary(Line {
                    id: Some(id.clone()),
                    text,
                    time: time.clone(),
                }),
                Channel::Trace => {
                    if is_worker_trace(&line) {
                        continue;
                    }
                    Record::Trace(Line {
                        id: Some(id.clone()),
                        text,
                        time: time.clone(),
                    })
                }
                _ => continue,
            };
            out.write(&record)?;
        }
        Ok(())
    }

    /// Feeds bytes of the current call to a channel's line buffer and writes its lines.
    fn feed<W: Write>(
        &mut self,
        index: usize,
        data: &[u8],
        out: &mut RecordWriter<W>,
    ) -> io::Result<()> {
        let mut lines = Vec::new();
        self.cursors[index]
            .lines
            .feed(data, |line, partial| lines.push((line.to_vec(), partial)));
        self.write_lines(LINE_CHANNELS[index], lines, out)
    }

    fn flush_line<W: Write>(&mut self, index: usize, out: &mut RecordWriter<W>) -> io::Result<()> {
        let mut lines = Vec::new();
        self.cursors[index]
            .lines
            .flush(|line, partial| lines.push((line.to_vec(), partial)));
        self.write_lines(LINE_CHANNELS[index], lines, out)
    }

    /// Attributes the raw bytes of every channel up to the current call: bytes before a
    /// marker close their call; bytes of a call not started yet wait in `raw`. On stdout,
    /// summary frames (`_hp_summary` in `worker.bash`) become `summary` records where they
    /// stand among the lines.
    fn attribute<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        for index in 0..LINE_CHANNELS.len() {
            loop {
                if self.cursors[index].at > self.current || self.cursors[index].raw.is_empty() {
                    break;
                }
                let raw = std::mem::take(&mut self.cursors[index].raw);
                let scan = Scan {
                    ends: self.in_batch && (index != TRACE || self.traced),
                    summaries: index == STDOUT,
                };
                match next_frame(&raw, &self.marker, scan) {
                    Frame::End { start, end } => {
                        self.feed(index, &raw[..start], out)?;
                        self.flush_line(index, out)?;
                        self.cursors[index].raw = raw[end..].to_vec();
                        self.cursors[index].at += 1;
                    }
                    Frame::Summary { start, text, end } => {
                        // An unfinished line before the summary was written before it.
                        self.feed(index, &raw[..start], out)?;
                        self.flush_line(index, out)?;
                        self.write_summary(&raw[text], out)?;
                        self.cursors[index].raw = raw[end..].to_vec();
                    }
                    Frame::None { keep } => {
                        // Hold back what could be the start of a frame split across reads.
                        let split = raw.len() - keep;
                        self.feed(index, &raw[..split], out)?;
                        self.cursors[index].raw = raw[split..].to_vec();
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes one in-band summary of the current call: a record per line of its text.
    fn write_summary<W: Write>(&self, text: &[u8], out: &mut RecordWriter<W>) -> io::Result<()> {
        let time = now_rfc3339();
        let id = self.current_id();
        for line in text.split(|&b| b == b'\n') {
            out.write(&Record::Summary(Line {
                id: Some(id.clone()),
                text: Some(Data::from_bytes(line)),
                time: time.clone(),
            }))?;
        }
        Ok(())
    }

    /// Handles events in order: `warning`, `timer` and `job` become records of the call they came
    /// from, `done` is queued; events after a `done` wait until that call has ended.
    fn pump_events<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        loop {
            if self.dones.len() > self.current {
                // Later events belong to a call whose start is not written yet.
                return Ok(());
            }
            let fields: Vec<&[u8]> = self.events.split(|&b| b == 0).collect();
            // The last piece is an unfinished field (or empty after a final NUL).
            let complete = fields.len().saturating_sub(1);
            if complete == 0 {
                return Ok(());
            }
            let id = self.current_id();
            let (consumed, record) = match fields[0] {
                b"warning" if complete >= 2 => {
                    let record = Record::Warning(Line {
                        id: Some(id),
                        text: Some(Data::from_bytes(fields[1])),
                        time: now_rfc3339(),
                    });
                    (2, Some(record))
                }
                b"timer" if complete >= 3 => {
                    let ms = parse_number(fields[2]).unwrap_or(0);
                    let record = Record::Timer(Timer {
                        id,
                        name: bytes::escaped(fields[1]),
                        ms,
                        time: now_rfc3339(),
                    });
                    (3, Some(record))
                }
                b"job" if complete >= 9 => {
                    let record = crate::jobs::event_record(&fields[1..9], Some(id));
                    (9, record.map(Record::Job))
                }
                b"signal" if complete >= 2 => {
                    self.signalled = parse_number(fields[1]).map(|n| n as i32);
                    (2, None)
                }
                b"done" if complete >= 4 => {
                    let status = std::str::from_utf8(fields[1])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(1);
                    let duration_ms = match (seconds(fields[2]), seconds(fields[3])) {
                        (Some(t0), Some(t1)) if t1 >= t0 => Some(((t1 - t0) * 1000.0) as u64),
                        _ => None,
                    };
                    self.dones.push(DoneEvent {
                        status,
                        duration_ms,
                    });
                    (4, None)
                }
                b"batch" => {
                    self.batch_over = true;
                    (1, None)
                }
                b"warning" | b"timer" | b"job" | b"signal" | b"done" => return Ok(()),
                _ => (1, None),
            };
            let used: usize = fields[..consumed].iter().map(|f| f.len() + 1).sum();
            self.events.drain(..used);
            if let Some(record) = record {
                out.write(&record)?;
            }
        }
    }

    /// Reads what is available on the channels that poll found ready (all when `None`).
    fn read_channels(&mut self, ready: Option<&[bool; 5]>) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.read_buf);
        for channel in Channel::ALL {
            if ready.is_some_and(|r| !r[channel as usize]) {
                continue;
            }
            // Read until empty, but not forever: a hook printing without pause must not
            // starve the other channels.
            for _ in 0..16 {
                let n = read_some(self.worker.channel(channel), &mut buf)?;
                if n == 0 {
                    break;
                }
                match channel {
                    Channel::Events => self.events.extend_from_slice(&buf[..n]),
                    other => {
                        let index = LINE_CHANNELS.iter().position(|c| *c == other).unwrap_or(0);
                        self.cursors[index].raw.extend_from_slice(&buf[..n]);
                    }
                }
                if n < buf.len() {
                    break;
                }
            }
        }
        self.read_buf = buf;
        Ok(())
    }

    /// Sends every unfinished line of the current call as partial.
    fn flush_all_lines<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        for index in 0..LINE_CHANNELS.len() {
            self.flush_line(index, out)?;
        }
        Ok(())
    }

    /// Everything still held belongs to the current call (its worker is gone, or a set-up
    /// command is done).
    fn settle<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        self.attribute(out)?;
        for index in 0..LINE_CHANNELS.len() {
            let raw = std::mem::take(&mut self.cursors[index].raw);
            self.feed(index, &raw, out)?;
        }
        self.flush_all_lines(out)
    }

    /// Sends unfinished lines that have been idle long enough, as partial.
    fn flush_idle<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        let now = Instant::now();
        for index in 0..LINE_CHANNELS.len() {
            let idle = self.cursors[index]
                .lines
                .idle_since()
                .is_some_and(|since| now >= since + PARTIAL_IDLE);
            if idle && self.cursors[index].at == self.current {
                self.flush_line(index, out)?;
            }
        }
        Ok(())
    }

    /// Reacts to signals, the deadline and the grace period.
    fn enforce(&mut self, deadline: Option<Instant>, wait: &Wait, signals: &Signals) {
        if let Some(signal) = signals.received() {
            if !matches!(self.stopping, Some(StopReason::Interrupt(_))) {
                // The hook gets the signal the runner got; a hang-up is a TERM for it, so
                // the worker's TERM trap keeps the state as for any stop.
                let sig = match Signal::try_from(signal) {
                    Ok(Signal::SIGHUP) | Err(_) => Signal::SIGTERM,
                    Ok(sig) => sig,
                };
                self.stopping = Some(StopReason::Interrupt(signal));
                self.stop(StopReason::Interrupt(signal), sig, wait.kill_after);
            }
        }
        let now = Instant::now();
        if self.stopping.is_none() && deadline.is_some_and(|d| now >= d) {
            self.stop(StopReason::Timeout, Signal::SIGTERM, wait.kill_after);
        }
        if self.kill_at.is_some_and(|at| now >= at) && !self.killed {
            self.killed = true;
            self.worker.signal_group(Signal::SIGKILL);
        }
    }

    /// Waits for something to happen: a channel, the worker's exit, a signal, or a timer.
    fn poll_once(&mut self, deadline: Option<Instant>, signals: &Signals) -> io::Result<()> {
        let now = Instant::now();
        let mut timeout = Duration::from_secs(60);
        for cursor in &self.cursors {
            if let Some(since) = cursor.lines.idle_since() {
                timeout = timeout.min((since + PARTIAL_IDLE).saturating_duration_since(now));
            }
        }
        if let (Some(deadline), None) = (deadline, self.stopping) {
            timeout = timeout.min(deadline.saturating_duration_since(now));
        }
        if let (Some(kill_at), false) = (self.kill_at, self.killed) {
            timeout = timeout.min(kill_at.saturating_duration_since(now));
        }
        let exited = self.exit_seen && self.worker.try_status()?.is_some();
        if exited {
            // Exited but its group lingers: check again shortly.
            timeout = timeout.min(Duration::from_millis(20));
        }
        let mut ready = [false; 5];
        {
            let mut fds: Vec<PollFd<'_>> = Channel::ALL
                .iter()
                .map(|&c| PollFd::new(self.worker.channel(c).as_fd(), PollFlags::POLLIN))
                .collect();
            if !exited {
                fds.push(PollFd::new(self.worker.exit_fd(), PollFlags::POLLIN));
            }
            fds.push(PollFd::new(signals.wake_fd(), PollFlags::POLLIN));
            let millis = timeout.as_millis().min(60_000) as u16;
            match poll(&mut fds, PollTimeout::from(millis)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(err) => return Err(err.into()),
            }
            for (index, fd) in fds.iter().take(Channel::ALL.len()).enumerate() {
                ready[index] = fd
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
            }
            if !exited
                && fds[Channel::ALL.len()]
                    .revents()
                    .is_some_and(|r| !r.is_empty())
            {
                self.exit_seen = true;
            }
        }
        signals.drain();
        self.read_channels(Some(&ready))
    }

    /// Whether the worker is gone, and its whole group too once a stop began (up to the
    /// KILL, after which it cannot linger).
    fn finished_exiting(&mut self) -> io::Result<Option<ExitStatus>> {
        // Asking costs a system call: only after the exit descriptor said so.
        if !self.exit_seen {
            return Ok(None);
        }
        let Some(status) = self.worker.try_status()? else {
            self.exit_seen = false;
            return Ok(None);
        };
        if self.stopping.is_none() || self.killed || !self.worker.group_alive() {
            Ok(Some(status))
        } else {
            Ok(None)
        }
    }

    /// Runs the poll loop until the worker reports the set-up command done or exits,
    /// emitting records as they come and flushing them after every wake-up.
    pub(crate) fn wait<W: Write>(
        &mut self,
        wait: &Wait,
        signals: &Signals,
        out: &mut RecordWriter<W>,
    ) -> io::Result<Completion> {
        self.in_batch = false;
        self.dones.clear();
        self.current = 0;
        loop {
            self.enforce(None, wait, signals);
            self.attribute(out)?;
            self.pump_events(out)?;
            if let Some(done) = self.dones.pop() {
                self.read_channels(None)?;
                self.settle(out)?;
                out.flush()?;
                return Ok(Completion::Done(done.status));
            }
            if let Some(status) = self.finished_exiting()? {
                self.read_channels(None)?;
                self.settle(out)?;
                out.flush()?;
                return Ok(Completion::Exited(status));
            }
            self.flush_idle(out)?;
            out.flush()?;
            self.poll_once(None, signals)?;
        }
    }

    /// Runs a batch of calls: `data` and `script` as `_hp_batch` in `worker.bash` reads
    /// them; `ids` names the calls in order. The reporter is told when to
    /// write each call's `start` and `end`. Returns how each call that ran ended: fewer than
    /// `ids` when the batch stopped at a failure or the worker exited.
    pub(crate) fn run_batch<W: Write>(
        &mut self,
        batch: Batch<'_>,
        wait: &Wait,
        signals: &Signals,
        out: &mut RecordWriter<W>,
        report: &mut dyn FnMut(BatchEvent<'_>, &mut RecordWriter<W>) -> io::Result<()>,
    ) -> io::Result<Vec<CallEnd>> {
        let Batch {
            ids,
            data,
            script,
            stop_at_failure,
        } = batch;
        let total = ids.len();
        self.ids = ids;
        self.current = 0;
        self.dones.clear();
        self.batch_over = false;
        self.in_batch = true;
        for cursor in &mut self.cursors {
            cursor.at = 0;
        }
        let mut results = Vec::with_capacity(total);
        let mode: &[u8] = if stop_at_failure { b"stop" } else { b"go" };
        self.send(&[
            b"batch",
            data.as_os_str().as_bytes(),
            script.as_os_str().as_bytes(),
            mode,
        ]);
        report(BatchEvent::Start(0), out)?;
        let mut started = Instant::now();
        loop {
            let deadline = wait.timeout.map(|t| started + t);
            self.enforce(deadline, wait, signals);
            // Attribute, then close every call whose done arrived and whose bytes are all in.
            loop {
                self.attribute(out)?;
                self.pump_events(out)?;
                let call = self.current;
                let traced = self.traced;
                let closed = call < total
                    && call < self.dones.len()
                    && self
                        .cursors
                        .iter()
                        .enumerate()
                        .all(|(index, c)| c.at > call || (index == TRACE && !traced));
                if !closed {
                    break;
                }
                self.flush_all_lines(out)?;
                let done = self.dones[call];
                let end = CallEnd {
                    completion: Completion::Done(done.status),
                    stopping: self.stopping,
                    signalled: None,
                    duration_ms: done
                        .duration_ms
                        .unwrap_or_else(|| started.elapsed().as_millis() as u64),
                };
                report(BatchEvent::End(call, &end), out)?;
                results.push(end);
                self.current += 1;
                if !self.traced {
                    self.cursors[TRACE].at = self.current;
                }
                let stopped = stop_at_failure && done.status != 0;
                if self.current < total && !stopped && self.stopping.is_none() {
                    report(BatchEvent::Start(self.current), out)?;
                    started = Instant::now();
                } else {
                    // Nothing more runs in this batch; the worker says `batch` next.
                    self.in_batch = false;
                    self.settle_after_batch(out)?;
                    out.flush()?;
                    if self.stopping.is_some() {
                        // Stopping between calls: let the group go before returning.
                        continue_until_exit(self, wait, signals)?;
                    }
                    return Ok(results);
                }
            }
            if let Some(status) = self.finished_exiting()? {
                // The worker is gone: what it wrote before exiting is in the pipes.
                self.read_channels(None)?;
                self.attribute(out)?;
                self.pump_events(out)?;
                self.settle(out)?;
                let end = CallEnd {
                    completion: Completion::Exited(status),
                    stopping: self.stopping,
                    signalled: self.signalled,
                    duration_ms: started.elapsed().as_millis() as u64,
                };
                report(BatchEvent::End(self.current, &end), out)?;
                results.push(end);
                self.in_batch = false;
                out.flush()?;
                return Ok(results);
            }
            self.flush_idle(out)?;
            out.flush()?;
            self.poll_once(deadline, signals)?;
        }
    }

    /// After the last call of a batch: wait for the worker's `batch` event so the next
    /// command starts clean, attributing anything left (a daemon's late output) to the last
    /// call.
    fn settle_after_batch<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        self.current = self.current.saturating_sub(1);
        let until = Instant::now() + Duration::from_secs(5);
        while !self.batch_over && Instant::now() < until {
            if self.worker.try_status()?.is_some() {
                break;
            }
            self.read_channels(None)?;
            self.pump_batch_end();
            if self.batch_over {
                break;
            }
            let mut fds = [PollFd::new(
                self.worker.channel(Channel::Events).as_fd(),
                PollFlags::POLLIN,
            )];
            let _ = poll(&mut fds, PollTimeout::from(50u16));
        }
        self.pump_batch_end();
        for cursor in &mut self.cursors {
            cursor.at = 0;
        }
        self.dones.clear();
        self.settle(out)
    }

    /// Takes the `batch` event (and any stray `done`) off the event buffer.
    fn pump_batch_end(&mut self) {
        while let Some(position) = self.events.find(b"batch\0") {
            self.events.drain(..position + 6);
            self.batch_over = true;
        }
    }
}

/// Keeps polling until the worker and its group are gone (after a stop between calls).
fn continue_until_exit(session: &mut Session, wait: &Wait, signals: &Signals) -> io::Result<()> {
    loop {
        session.exit_seen = true;
        if session.finished_exiting()?.is_some() {
            return Ok(());
        }
        session.enforce(None, wait, signals);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Which frames to look for on a channel.
#[derive(Debug, Clone, Copy)]
struct Scan {
    /// End-of-call markers `\0MARKER\0` (in a batch).
    ends: bool,
    /// Summaries `\0MARKER\x01TEXT\0` (on stdout, always).
    summaries: bool,
}

/// The first frame in a channel's raw bytes.
#[derive(Debug, PartialEq)]
enum Frame {
    /// An end-of-call marker from `start` to `end`.
    End { start: usize, end: usize },
    /// A summary from `start` to `end`, its text at `text`.
    Summary {
        start: usize,
        text: std::ops::Range<usize>,
        end: usize,
    },
    /// No complete frame: the last `keep` bytes may begin one and wait for more.
    None { keep: usize },
}

/// Finds the first frame `scan` asks for in `raw`.
fn next_frame(raw: &[u8], marker: &[u8], scan: Scan) -> Frame {
    if !scan.ends && !scan.summaries {
        return Frame::None { keep: 0 };
    }
    let mut from = 0;
    while let Some(offset) = raw[from..].find(marker) {
        let start = from + offset;
        let after = start + marker.len();
        if start > 0 && raw[start - 1] == 0 {
            match raw.get(after) {
                Some(0) if scan.ends => {
                    return Frame::End {
                        start: start - 1,
                        end: after + 1,
                    }
                }
                Some(1) if scan.summaries => {
                    let text = after + 1;
                    return match raw[text..].iter().position(|&b| b == 0) {
                        Some(len) => Frame::Summary {
                            start: start - 1,
                            text: text..text + len,
                            end: text + len + 1,
                        },
                        // The rest of the summary is still on its way.
                        None => Frame::None {
                            keep: raw.len() - (start - 1),
                        },
                    };
                }
                None => {
                    return Frame::None {
                        keep: raw.len() - (start - 1),
                    }
                }
                _ => {}
            }
        }
        from = start + 1;
    }
    Frame::None {
        keep: marker_prefix_len(raw, marker),
    }
}

/// How many bytes at the end of `raw` could begin `\0MARKER\0` (to hold back).
fn marker_prefix_len(raw: &[u8], marker: &[u8]) -> usize {
    let framed_len = marker.len() + 2;
    let window = raw.len().min(framed_len - 1);
    for keep in (1..=window).rev() {
        let tail = &raw[raw.len() - keep..];
        if tail[0] == 0 && marker.starts_with(&tail[1..]) {
            return keep;
        }
        if tail.len() == framed_len - 1 && tail[0] == 0 && &tail[1..] == marker {
            return keep;
        }
    }
    0
}

fn parse_number(field: &[u8]) -> Option<u64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// `EPOCHREALTIME` (`1795991354.123456`, or with a comma in some locales) as seconds.
fn seconds(field: &[u8]) -> Option<f64> {
    std::str::from_utf8(field)
        .ok()?
        .replace(',', ".")
        .parse()
        .ok()
}

/// The worker's own bookkeeping lines that `set -x` traces around a call.
fn is_worker_trace(line: &[u8]) -> bool {
    let text = line.trim_ascii_start();
    let body = match text.iter().position(|&b| b != b'+') {
        Some(i) => text[i..].trim_ascii_start(),
        None => return false,
    };
    let body = body.strip_prefix(b"builtin ").unwrap_or(body);
    body.starts_with(b"_hp_") || body == b"set +e +x" || body == b"set +x"
}

/// Describes how a worker exited, for `end` records: (exit code, signal).
pub(crate) fn exit_parts(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    (status.code(), status.signal())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut buffer = LineBuffer::default();
        let mut out = Vec::new();
        for chunk in chunks {
            buffer.feed(chunk, |line, partial| out.push((line.to_vec(), partial)));
        }
        buffer.flush(|line, partial| out.push((line.to_vec(), partial)));
        out
    }

    #[test]
    fn splits_on_newline_only_and_keeps_cr() {
        let got = lines_of(&[b"a\r\nb", b"c\n", b"tail"]);
        assert_eq!(
            got,
            vec![
                (b"a\r".to_vec(), false),
                (b"bc".to_vec(), false),
                (b"tail".to_vec(), true)
            ]
        );
    }

    #[test]
    fn cuts_overlong_lines_into_partial_pieces() {
        let long = vec![b'x'; LINE_CAP * 2 + 10];
        let mut input = long.clone();
        input.push(b'\n');
        let got = lines_of(&[&input]);
        assert_eq!(got.len(), 3);
        assert!(got[0].1 && got[1].1 && !got[2].1);
        let joined: Vec<u8> = got.iter().flat_map(|(l, _)| l.clone()).collect();
        assert_eq!(joined, long);
    }

    #[test]
    fn worker_trace_lines_are_recognised() {
        assert!(is_worker_trace(b"+ _hp_status=0"));
        assert!(is_worker_trace(b"++ set +x"));
        assert!(is_worker_trace(b"+ builtin set +e +x"));
        assert!(!is_worker_trace(b"++ echo hi"));
    }

    const BOTH: Scan = Scan {
        ends: true,
        summaries: true,
    };

    #[test]
    fn markers_are_found_only_when_framed() {
        let marker = b"hookpipe-mark-00";
        assert_eq!(
            next_frame(b"ab\0hookpipe-mark-00\0cd", marker, BOTH),
            Frame::End { start: 2, end: 20 }
        );
        // Unframed: only the last NUL, which could begin a frame, waits.
        assert_eq!(
            next_frame(b"hookpipe-mark-00\0", marker, BOTH),
            Frame::None { keep: 1 }
        );
        assert_eq!(
            next_frame(b"x\0hookpipe-mark-0", marker, BOTH),
            Frame::None { keep: 16 }
        );
        // Outside a batch an end marker is plain bytes.
        let summaries_only = Scan {
            ends: false,
            summaries: true,
        };
        assert_eq!(
            next_frame(b"ab\0hookpipe-mark-00\0cd", marker, summaries_only),
            Frame::None { keep: 0 }
        );
    }

    #[test]
    fn summary_frames_are_found_whole_or_held_back() {
        let marker = b"hookpipe-mark-00";
        assert_eq!(
            next_frame(b"a\n\0hookpipe-mark-00\x01S\0b\n", marker, BOTH),
            Frame::Summary {
                start: 2,
                text: 20..21,
                end: 22
            }
        );
        // The text has not all arrived: everything from the frame's start waits.
        assert_eq!(
            next_frame(b"a\n\0hookpipe-mark-00\x01Sum", marker, BOTH),
            Frame::None { keep: 21 }
        );
        assert_eq!(
            next_frame(b"a\n\0hookpipe-mark-00", marker, BOTH),
            Frame::None { keep: 17 }
        );
        // Not on a channel that carries no summaries.
        let ends_only = Scan {
            ends: true,
            summaries: false,
        };
        assert_eq!(
            next_frame(b"\0hookpipe-mark-00\x01S\0x", marker, ends_only),
            Frame::None { keep: 0 }
        );
    }

    #[test]
    fn a_split_marker_is_held_back_and_plain_text_is_not() {
        let marker = b"hookpipe-mark-00";
        assert_eq!(marker_prefix_len(b"prompt> ", marker), 0);
        assert_eq!(marker_prefix_len(b"abc\0hook", marker), 5);
        assert_eq!(marker_prefix_len(b"abc\0", marker), 1);
        assert_eq!(marker_prefix_len(b"abc\0hookpipe-mark-00", marker), 17);
        assert_eq!(marker_prefix_len(b"a\0b", marker), 0);
    }
}
