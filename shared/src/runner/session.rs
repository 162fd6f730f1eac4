//! One worker and the records its calls produce.
//!
//! A [`Session`] sends commands to its [`Worker`] and turns what comes back into records:
//! stdout and stderr lines become `output`, fd 6 lines `summary`, events `warning` and
//! `timer`, xtrace lines `trace`, each attributed to the call in progress. Its poll loop also
//! watches the worker's exit, the call's deadline, the kill grace period and the signal
//! pipe. Attribution rests on one ordering fact: a hook's writes are in the pipe before the
//! worker reports the hook done, so draining every channel after reading `done` collects all
//! of that hook's output, however late the runner gets to it.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use crate::bytes;
use crate::record::{Line, Output, Record, Timer};
use crate::signals::Signals;
use crate::stream::RecordWriter;
use crate::time::now_rfc3339;
use crate::worker::{Channel, Worker};

/// Output lines longer than this are cut into several `partial` records.
pub const LINE_CAP: usize = 64 * 1024;
/// An unfinished line is sent after this long without new bytes.
pub const PARTIAL_IDLE: Duration = Duration::from_millis(50);

/// Why the session is stopping the worker's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Timeout,
    Interrupt(i32),
    ReaderGone,
    /// Nothing will run in this stage (an upstream failure or interrupt).
    NotNeeded,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The worker reported the command done with this status.
    Done(i32),
    /// The worker exited before reporting: the hook ended the shell.
    Exited(ExitStatus),
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

/// A worker, its channel buffers, and the call its output belongs to.
pub struct Session {
    pub worker: Worker,
    buffers: [LineBuffer; 5],
    events: Vec<u8>,
    /// The id output is attributed to.
    pub current: String,
    /// Set once the runner starts stopping the process group.
    pub stopping: Option<StopReason>,
    kill_at: Option<Instant>,
    killed: bool,
    time: String,
    /// The signal the worker said ended it (its TERM trap), if any.
    pub signalled: Option<i32>,
}

/// What the poll loop should wait for.
pub struct Wait {
    /// The call's deadline (`--timeout`), if any.
    pub deadline: Option<Instant>,
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

impl Session {
    pub fn start(current: impl Into<String>) -> io::Result<Session> {
        Ok(Session {
            worker: Worker::spawn()?,
            buffers: Default::default(),
            events: Vec::new(),
            current: current.into(),
            stopping: None,
            kill_at: None,
            killed: false,
            time: String::new(),
            signalled: None,
        })
    }

    /// Sends a command; `false` when the worker is already gone.
    pub fn send(&mut self, fields: &[&[u8]]) -> bool {
        self.worker.send(fields).is_ok()
    }

    /// Starts stopping the process group: `signal` now, KILL after the grace period.
    pub fn stop(&mut self, reason: StopReason, signal: Signal, grace: Duration) {
        if self.stopping.is_none() {
            self.stopping = Some(reason);
        }
        self.worker.signal_group(signal);
        let kill_at = Instant::now() + grace;
        self.kill_at = Some(self.kill_at.map_or(kill_at, |at| at.min(kill_at)));
    }

    /// Emits the records for one channel's complete lines.
    fn emit_lines<W: Write>(
        &mut self,
        channel: Channel,
        data: &[u8],
        out: &mut RecordWriter<W>,
    ) -> io::Result<()> {
        let mut lines: Vec<(Vec<u8>, bool)> = Vec::new();
        if channel == Channel::Events {
            self.events.extend_from_slice(data);
            return self.emit_events(out);
        }
        self.buffers[channel as usize].feed(data, |line, partial| {
            lines.push((line.to_vec(), partial));
        });
        self.write_lines(channel, lines, out)
    }

    fn write_lines<W: Write>(
        &mut self,
        channel: Channel,
        lines: Vec<(Vec<u8>, bool)>,
        out: &mut RecordWriter<W>,
    ) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        // Lines from one read were read at one moment: one timestamp serves them all.
        self.time = now_rfc3339();
        for (line, partial) in lines {
            let (text, text_base64) = bytes::split(&line);
            let record = match channel {
                Channel::Stdout | Channel::Stderr => Record::Output(Output {
                    id: self.current.clone(),
                    stream: if channel == Channel::Stdout {
                        "stdout"
                    } else {
                        "stderr"
                    }
                    .to_owned(),
                    text,
                    text_base64,
                    partial,
                    time: self.time.clone(),
                }),
                Channel::Summary => Record::Summary(Line {
                    id: Some(self.current.clone()),
                    text,
                    text_base64,
                    time: self.time.clone(),
                }),
                Channel::Trace => {
                    if is_worker_trace(&line) {
                        continue;
                    }
                    Record::Trace(Line {
                        id: Some(self.current.clone()),
                        text,
                        text_base64,
                        time: self.time.clone(),
                    })
                }
                Channel::Events => continue,
            };
            out.write(&record)?;
        }
        Ok(())
    }

    /// Emits `warning` and `timer` events; leaves `done` tokens for [`Session::take_done`].
    fn emit_events<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        loop {
            let fields: Vec<&[u8]> = self.events.split(|&b| b == 0).collect();
            // The last piece is an unfinished field (or empty after a final NUL).
            let complete = fields.len().saturating_sub(1);
            if complete == 0 {
                return Ok(());
            }
            let (consumed, record) = match fields[0] {
                b"warning" if complete >= 2 => {
                    let (text, text_base64) = bytes::split(fields[1]);
                    let record = Record::Warning(Line {
                        id: Some(self.current.clone()),
                        text,
                        text_base64,
                        time: now_rfc3339(),
                    });
                    (2, Some(record))
                }
                b"timer" if complete >= 3 => {
                    let ms = std::str::from_utf8(fields[2])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let record = Record::Timer(Timer {
                        id: self.current.clone(),
                        name: bytes::escaped(fields[1]),
                        ms,
                        time: now_rfc3339(),
                    });
                    (3, Some(record))
                }
                b"signal" if complete >= 2 => {
                    self.signalled = std::str::from_utf8(fields[1])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    (2, None)
                }
                b"done" => return Ok(()),
                b"warning" | b"timer" | b"signal" => return Ok(()),
                _ => (1, None),
            };
            let used: usize = fields[..consumed].iter().map(|f| f.len() + 1).sum();
            self.events.drain(..used);
            if let Some(record) = record {
                out.write(&record)?;
            }
        }
    }

    /// Takes a `done STATUS` event from the front of the event buffer.
    fn take_done(&mut self) -> Option<i32> {
        let mut fields = self.events.split(|&b| b == 0);
        if fields.next()? != b"done" {
            return None;
        }
        let status = fields.next()?;
        // The status must be a complete field: followed by a NUL.
        let used = 5 + status.len() + 1;
        if self.events.len() < used {
            return None;
        }
        let status = std::str::from_utf8(status).ok()?.parse().unwrap_or(1);
        self.events.drain(..used);
        Some(status)
    }

    /// Reads everything available on every channel, emitting records.
    pub fn drain<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        for channel in Channel::ALL {
            loop {
                let n = read_some(self.worker.channel(channel), &mut buf)?;
                if n == 0 {
                    break;
                }
                self.emit_lines(channel, &buf[..n], out)?;
            }
        }
        Ok(())
    }

    /// Sends every unfinished line as partial (at the end of a call).
    pub fn flush_partials<W: Write>(&mut self, out: &mut RecordWriter<W>) -> io::Result<()> {
        for channel in [
            Channel::Stdout,
            Channel::Stderr,
            Channel::Summary,
            Channel::Trace,
        ] {
            let mut lines = Vec::new();
            self.buffers[channel as usize]
                .flush(|line, partial| lines.push((line.to_vec(), partial)));
            self.write_lines(channel, lines, out)?;
        }
        Ok(())
    }

    /// Runs the poll loop until the worker reports the command done or exits, emitting
    /// records as they come and flushing them after every batch. Handles the deadline, the
    /// grace period and signals; a write error (the reader went away) stops the group and
    /// is returned.
    pub fn wait<W: Write>(
        &mut self,
        wait: &Wait,
        signals: &Signals,
        out: &mut RecordWriter<W>,
    ) -> io::Result<Completion> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(signal) = signals.received() {
                if self.stopping.is_none() || self.stopping == Some(StopReason::Timeout) {
                    let sig = Signal::try_from(signal).unwrap_or(Signal::SIGTERM);
                    self.stopping = Some(StopReason::Interrupt(signal));
                    self.stop(StopReason::Interrupt(signal), sig, wait.kill_after);
                }
            }
            let now = Instant::now();
            if self.stopping.is_none() {
                if let Some(deadline) = wait.deadline {
                    if now >= deadline {
                        self.stop(StopReason::Timeout, Signal::SIGTERM, wait.kill_after);
                    }
                }
            }
            if let Some(kill_at) = self.kill_at {
                if now >= kill_at && !self.killed {
                    self.killed = true;
                    self.worker.signal_group(Signal::SIGKILL);
                }
            }
            if let Some(status) = self.take_done() {
                self.drain(out)?;
                out.flush()?;
                return Ok(Completion::Done(status));
            }
            if let Some(status) = self.worker.try_status()? {
                // Whatever it wrote before exiting is in the pipes now.
                self.drain(out)?;
                if let Some(done) = self.take_done() {
                    out.flush()?;
                    return Ok(Completion::Done(done));
                }
                // When stopping, wait for the rest of the group too (up to the KILL).
                if self.stopping.is_none() || !self.worker.group_alive() || self.killed {
                    out.flush()?;
                    return Ok(Completion::Exited(status));
                }
            }

            let mut timeout = Duration::from_secs(3600);
            for buffer in &self.buffers {
                if let Some(since) = buffer.idle_since() {
                    timeout = timeout.min((since + PARTIAL_IDLE).saturating_duration_since(now));
                }
            }
            if let (Some(deadline), None) = (wait.deadline, self.stopping) {
                timeout = timeout.min(deadline.saturating_duration_since(now));
            }
            if let Some(kill_at) = self.kill_at {
                if !self.killed {
                    timeout = timeout.min(kill_at.saturating_duration_since(now));
                }
            }
            if self.worker.try_status()?.is_some() {
                // Exited but its group lingers: check again shortly.
                timeout = timeout.min(Duration::from_millis(20));
            }
            let exited = self.worker.try_status()?.is_some();
            let ready = {
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
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(err) => return Err(err.into()),
                }
                Channel::ALL
                    .iter()
                    .zip(fds.iter())
                    .map(|(&c, fd)| {
                        (
                            c,
                            fd.revents().is_some_and(|r| {
                                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP)
                            }),
                        )
                    })
                    .collect::<Vec<_>>()
            };
            signals.drain();
            for (channel, readable) in ready {
                if !readable {
                    continue;
                }
                let n = read_some(self.worker.channel(channel), &mut buf)?;
                if n > 0 {
                    self.emit_lines(channel, &buf[..n], out)?;
                }
            }
            // Unfinished lines that have been idle long enough go out as partial.
            let now = Instant::now();
            for channel in [Channel::Stdout, Channel::Stderr, Channel::Summary] {
                let idle = self.buffers[channel as usize]
                    .idle_since()
                    .is_some_and(|since| now >= since + PARTIAL_IDLE);
                if idle {
                    let mut lines = Vec::new();
                    self.buffers[channel as usize]
                        .flush(|line, partial| lines.push((line.to_vec(), partial)));
                    self.write_lines(channel, lines, out)?;
                }
            }
            out.flush()?;
        }
    }

    /// Whether the session has sent KILL.
    pub fn killed(&self) -> bool {
        self.killed
    }
}

/// The worker's own bookkeeping lines that `set -x` traces around a call.
fn is_worker_trace(line: &[u8]) -> bool {
    let text = line.trim_ascii_start();
    let body = match text.iter().position(|&b| b != b'+') {
        Some(i) => text[i..].trim_ascii_start(),
        None => return false,
    };
    body.starts_with(b"_hp_") || body == b"set +e +x" || body == b"set +x"
}

/// Describes how a worker exited, for `end` records: (exit code, signal).
pub fn exit_parts(status: ExitStatus) -> (Option<i32>, Option<i32>) {
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
        assert!(!is_worker_trace(b"++ echo hi"));
    }
}
