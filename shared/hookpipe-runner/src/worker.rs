//! The bash worker: one bash process per stage that sources hooks on command.
//!
//! This module owns the process: starting `worker.bash` in a session of its own with
//! `/dev/null` as stdin and the environment unchanged, wiring its descriptors (output,
//! summaries, commands, events, trace; see the script's header), sending commands, and
//! stopping its process group and every process its hooks started elsewhere ([`tree`]).
//! What the bytes mean, and when to stop, is the runner's business ([`crate::stage`]).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{pipe2, Pid};

use crate::tree;

/// The worker script, embedded so the tools never depend on finding it at run time.
pub(crate) const SCRIPT: &str = include_str!("worker.bash");

/// Descriptor numbers inside the worker (see the script's header).
const CONSOLE_FD: RawFd = 3;
const SUMMARY_FD: RawFd = 6;
const COMMAND_FD: RawFd = 60;
const EVENT_FD: RawFd = 61;
const TRACE_FD: RawFd = 62;

/// Which of the worker's output channels a read came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Stdout,
    Stderr,
    Summary,
    Events,
    Trace,
}

impl Channel {
    pub(crate) const ALL: [Channel; 5] = [
        Channel::Stdout,
        Channel::Stderr,
        Channel::Summary,
        Channel::Events,
        Channel::Trace,
    ];
}

/// A running worker.
pub(crate) struct Worker {
    child: Child,
    /// `worker.bash` as a file bash runs, removed when the worker goes.
    _script: tempfile::TempPath,
    pidfd: OwnedFd,
    commands: Option<File>,
    channels: [File; 5],
    status: Option<ExitStatus>,
}

/// A pipe whose ends sit above the descriptor numbers the worker uses, close-on-exec, so
/// wiring them into place in the child can never clobber one another.
fn high_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = pipe2(OFlag::O_CLOEXEC)?;
    Ok((raise(read)?, raise(write)?))
}

fn raise(fd: OwnedFd) -> io::Result<OwnedFd> {
    let raised = fcntl(fd.as_fd(), FcntlArg::F_DUPFD_CLOEXEC(100))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raised) })
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: a plain syscall with integer arguments; the result is checked below.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid as nix::libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a new descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `worker.bash` written to a temporary file for bash to run as a script. Not `bash -c
/// SCRIPT`: that puts `c` in `$-`, which DevStack's hooks never see, and a plugin that saves
/// and restores its flags (`set -$saved`, as octavia's does) would fail on `set -c`.
fn script_file() -> io::Result<tempfile::TempPath> {
    let mut file = tempfile::Builder::new()
        .prefix("hookpipe-worker-")
        .suffix(".bash")
        .tempfile()?;
    io::Write::write_all(&mut file, SCRIPT.as_bytes())?;
    Ok(file.into_temp_path())
}

impl Worker {
    /// Starts a worker. Nothing is sourced yet: the runner sends the prelude as commands.
    pub(crate) fn spawn() -> io::Result<Worker> {
        // Orphans of the hooks come to the runner, so a stop can find them (see [`tree`]).
        tree::become_subreaper();
        let (out_r, out_w) = high_pipe()?;
        let (err_r, err_w) = high_pipe()?;
        let (sum_r, sum_w) = high_pipe()?;
        let (evt_r, evt_w) = high_pipe()?;
        let (trace_r, trace_w) = high_pipe()?;
        let (cmd_r, cmd_w) = high_pipe()?;
        let wiring = [
            (out_w.as_raw_fd(), CONSOLE_FD),
            (sum_w.as_raw_fd(), SUMMARY_FD),
            (cmd_r.as_raw_fd(), COMMAND_FD),
            (evt_w.as_raw_fd(), EVENT_FD),
            (trace_w.as_raw_fd(), TRACE_FD),
        ];
        // The worker reopens its descriptors from the runner's ends of the pipes after each
        // call (`_hp_restore` in the script): it is told where they are.
        let ends = [
            std::process::id() as RawFd,
            out_r.as_raw_fd(),
            err_r.as_raw_fd(),
            sum_r.as_raw_fd(),
            evt_r.as_raw_fd(),
            trace_r.as_raw_fd(),
            cmd_w.as_raw_fd(),
        ];
        let script = script_file()?;
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc"])
            .arg(&script)
            .args(ends.map(|n| n.to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_w.try_clone()?))
            .stderr(Stdio::from(err_w));
        // SAFETY: the closure runs in the child between fork and exec and only makes
        // async-signal-safe calls (setsid, dup2, signal).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                nix::libc::setsid();
                for (from, to) in wiring {
                    if nix::libc::dup2(from, to) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                // Rust ignores SIGPIPE and an ignored signal survives exec: give hooks the
                // default back, so `yes | head -1` in a hook behaves as in any shell.
                nix::libc::signal(nix::libc::SIGPIPE, nix::libc::SIG_DFL);
                Ok(())
            });
        }
        let child = command.spawn()?;
        tree::register_worker(Pid::from_raw(child.id() as i32));
        drop((out_w, sum_w, cmd_r, evt_w, trace_w));
        let pidfd = pidfd_open(child.id())?;
        let channels = [out_r, err_r, sum_r, evt_r, trace_r].map(File::from);
        for channel in &channels {
            set_nonblocking(channel.as_fd())?;
        }
        Ok(Worker {
            child,
            _script: script,
            pidfd,
            commands: Some(File::from(cmd_w)),
            channels,
            status: None,
        })
    }

    /// The worker's pid, which is also its process group and session id.
    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Readable when the worker has exited.
    pub(crate) fn exit_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// The read end of one output channel (non-blocking).
    pub(crate) fn channel(&self, channel: Channel) -> &File {
        &self.channels[channel as usize]
    }

    /// Sends one command: fields separated and ended by NUL. A worker that has exited
    /// makes this a `BrokenPipe` error.
    pub(crate) fn send(&mut self, fields: &[&[u8]]) -> io::Result<()> {
        let Some(commands) = self.commands.as_mut() else {
            return Err(io::ErrorKind::BrokenPipe.into());
        };
        let mut message = Vec::with_capacity(64);
        for field in fields {
            message.extend_from_slice(field);
            message.push(0);
        }
        commands.write_all(&message)
    }

    /// Reaps the worker if it has exited.
    pub(crate) fn try_status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
            if self.status.is_some() {
                tree::forget_worker(self.pid());
            }
        }
        Ok(self.status)
    }

    /// Sends a signal to the worker's whole process group (hooks' children included) and to
    /// every other process of the runner's tree: `setsid` children, `set -m` jobs and
    /// double-forked orphans the runner inherited; daemons started with `start_daemon` are
    /// left alone. Returns false when none of them exists any more.
    pub(crate) fn signal_group(&self, signal: Signal) -> bool {
        let group = killpg(self.pid(), signal).is_ok();
        tree::signal_all(signal, self.pid()) > 0 || group
    }

    /// Whether any process of the worker's group or of the runner's tree is still alive.
    /// Reaps the inherited orphans that have exited on the way.
    pub(crate) fn group_alive(&self) -> bool {
        tree::reap_inherited(self.pid());
        killpg(self.pid(), None).is_ok() || !tree::hooks_processes(self.pid()).is_empty()
    }

    /// Asks the worker to finish: closes its command pipe, so its loop ends.
    pub(crate) fn close_commands(&mut self) {
        self.commands = None;
    }

    /// Waits for the worker to exit (after [`close_commands`](Self::close_commands) or a
    /// signal).
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = self.child.wait()?;
        self.status = Some(status);
        tree::forget_worker(self.pid());
        tree::reap_inherited(self.pid());
        Ok(status)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A worker is never left behind by its runner, whatever path dropped it; a hook's
        // detached daemons are in sessions of their own and are not touched.
        if self.status.is_none() {
            self.commands = None;
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = killpg(self.pid(), Signal::SIGKILL);
                let _ = self.child.wait();
            }
            tree::forget_worker(self.pid());
        }
    }
}
