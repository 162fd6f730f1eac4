//! Waiting on processes and their traces: polling a condition under the hang limit, pids
//! that hooks write to files, and processes or process groups that must be gone.

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::{proc_pids, process_alive, read_pid, GONE, HANG};

/// Polls `ready` until it holds; fails after [`HANG`] naming `what`.
#[track_caller]
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The pid in a file a hook wrote, once it is there.
#[track_caller]
pub fn pid_from(path: &Path) -> i32 {
    wait_until(&format!("a pid in {}", path.display()), || {
        read_pid(path).is_some()
    });
    read_pid(path).expect("a pid")
}

/// Fails unless `pid` is gone within [`GONE`]; `what` names it in the message.
#[track_caller]
pub fn assert_gone(pid: i32, what: &str) {
    let deadline = Instant::now() + GONE;
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "{what} ({pid}) is still alive");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the background job a hook left when it returned normally: a daemon, which the run
/// rightly leaves alone (docs/architecture.md, "Ends of hooks"), so the test ends it.
pub fn dismiss_daemon(pid_file: &Path) {
    if let Some(pid) = read_pid(pid_file) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Fails unless nothing is left in the pipeline's process group.
#[track_caller]
pub fn assert_group_empty(group: Pid) {
    let deadline = Instant::now() + GONE;
    loop {
        match killpg(group, None) {
            Err(Errno::ESRCH) => return,
            _ => {
                // A member that is only a zombie waiting for its reaper counts as gone.
                let members = group_members(group.as_raw());
                if members.iter().all(|&pid| !process_alive(pid)) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "process group {group} still has {members:?}"
                );
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn group_members(group: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for pid in proc_pids() {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name: state, ppid, pgrp.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2).and_then(|f| f.parse::<i32>().ok()) == Some(group) {
            members.push(pid);
        }
    }
    members
}
