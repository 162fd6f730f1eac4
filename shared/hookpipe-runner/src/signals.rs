//! SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped ssh: treated like TERM) for the
//! runners: the first one is recorded and wakes the poll loop
//! through a self-pipe, so the runner can stop its hook's process group in order and keep
//! forwarding upstream records; a second one ends the process at once, taking the worker's
//! process group with it. Nothing here ignores a signal, so bash children inherit the
//! default dispositions and a hook's own `trap ... INT` works.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::OFlag;
use nix::unistd::pipe2;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The first signal received (0 for none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The process group to kill if a second signal arrives (0 for none).
static WORKER_GROUP: AtomicI32 = AtomicI32::new(0);
/// The process groups of a parallel group's workers (`group.rs`), killed with it; free
/// slots hold 0. A fixed array: the handler may only touch atomics.
static MEMBER_GROUPS: [AtomicI32; MEMBER_SLOTS] = [const { AtomicI32::new(0) }; MEMBER_SLOTS];
const MEMBER_SLOTS: usize = 64;

/// The installed handlers and the read end of their wake-up pipe.
#[derive(Debug)]
pub struct Signals {
    wake: OwnedFd,
    /// The write end of the wake-up pipe, to wake every thread polling it again.
    rewake: OwnedFd,
}

impl Signals {
    /// Installs the handlers. Call once per process.
    pub fn install() -> io::Result<Signals> {
        let (read, write) = pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            // SAFETY: the handler only uses atomics, kill, signal-hook's
            // emulate_default_handler and _exit, which are async-signal-safe.
            unsafe {
                signal_hook::low_level::register(signal, move || {
                    if RECEIVED.load(Ordering::SeqCst) != 0 {
                        let group = WORKER_GROUP.load(Ordering::SeqCst);
                        if group > 0 {
                            nix::libc::kill(-group, nix::libc::SIGKILL);
                        }
                        for slot in &MEMBER_GROUPS {
                            let member = slot.load(Ordering::SeqCst);
                            if member > 0 {
                                nix::libc::kill(-member, nix::libc::SIGKILL);
                            }
                        }
                        // End by the signal itself, so the calling shell stops too; the
                        // status is the fallback should it not kill.
                        let _ = signal_hook::low_level::emulate_default_handler(signal);
                        nix::libc::_exit(128 + signal);
                    }
                    RECEIVED.store(signal, Ordering::SeqCst);
                    // The exit path ends the process by it, whatever the result.
                    hookpipe::exit::note_signal(signal);
                })?;
            }
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        let rewake = write.try_clone()?;
        Ok(Signals { wake: read, rewake })
    }

    /// Makes the wake-up pipe readable again: with several threads polling it (a
    /// parallel group), the one that drained it must not leave the others asleep.
    pub(crate) fn wake(&self) {
        let _ = nix::unistd::write(&self.rewake, &[1]);
    }

    /// Readable after a signal arrived; drain it with [`Signals::drain`].
    pub(crate) fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Empties the wake-up pipe.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(&self.wake, &mut buf), Ok(n) if n > 0) {}
    }

    /// The first signal received, if any.
    pub(crate) fn received(&self) -> Option<i32> {
        match RECEIVED.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// Names the process group a second signal must kill (0 for none).
    pub(crate) fn set_worker_group(&self, group: i32) {
        WORKER_GROUP.store(group, Ordering::SeqCst);
    }

    /// Adds a group member's worker to what a second signal kills; `false` when every
    /// slot is taken (the group then waits for a free one).
    pub(crate) fn add_member_group(&self, group: i32) -> bool {
        MEMBER_GROUPS.iter().any(|slot| {
            slot.compare_exchange(0, group, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
    }

    /// Removes a member's worker added by [`Signals::add_member_group`].
    pub(crate) fn remove_member_group(&self, group: i32) {
        for slot in &MEMBER_GROUPS {
            let _ = slot.compare_exchange(group, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
}
