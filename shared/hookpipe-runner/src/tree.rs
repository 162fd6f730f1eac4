//! The runner's process tree: every process a worker's hooks started, wherever it went.
//!
//! A runner makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`, as tini and systemd
//! do), so a process orphaned below it (a double fork, a `setsid` child whose parent ended)
//! is handed to the runner instead of init. Every process a hook started, in whatever
//! session or process group, is then a descendant of the runner, found by walking `/proc`'s
//! parent links; stopping a hook stops that whole tree. Two kinds of process are left
//! alone: daemons started on purpose, marked with `HOOKPIPE_DAEMON=1` in their environment
//! (`start_daemon` in `lib/functions` sets it), with everything below them; and anything
//! outside the runner's tree. What the runner inherits and sees exit, it reaps.
//!
//! With `--jobs`, several workers run at once (`group.rs`): each registers itself here
//! ([`register_worker`]), and what one worker stops or waits for never includes another
//! live worker or the processes below it, nor does it reap another worker's exit.

use std::collections::HashMap;
use std::fs;
use std::sync::Mutex;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// The environment entry that marks a daemon started on purpose.
pub(crate) const DAEMON_MARK: &[u8] = b"HOOKPIPE_DAEMON=1";

/// The live workers of this runner (their pids, which are their process groups).
static WORKERS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn workers() -> Vec<i32> {
    WORKERS.lock().map(|list| list.clone()).unwrap_or_default()
}

/// Records a live worker: other workers' stops and waits leave it and its tree alone.
pub(crate) fn register_worker(pid: Pid) {
    if let Ok(mut list) = WORKERS.lock() {
        list.push(pid.as_raw());
    }
}

/// Forgets a worker that has been reaped.
pub(crate) fn forget_worker(pid: Pid) {
    if let Ok(mut list) = WORKERS.lock() {
        list.retain(|&other| other != pid.as_raw());
    }
}

/// Makes this process the reaper of its orphaned descendants. Failure (an old kernel) only
/// means orphans go to init as before, out of reach: nothing to report at each call.
pub(crate) fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// One process as `/proc/PID/stat` describes it.
struct Entry {
    parent: i32,
    group: i32,
    zombie: bool,
}

/// Every process's parent and whether it is a zombie.
fn snapshot() -> HashMap<i32, Entry> {
    let mut table = HashMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return table;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name (which may hold anything, hence the last `)`): state, ppid.
        let mut fields = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace())
            .into_iter()
            .flatten();
        let state = fields.next().unwrap_or("");
        let mut number = || fields.next().and_then(|field| field.parse().ok());
        let (Some(parent), Some(group)) = (number(), number()) else {
            continue;
        };
        table.insert(
            pid,
            Entry {
                parent,
                group,
                zombie: state == "Z" || state == "X",
            },
        );
    }
    table
}

fn is_daemon(pid: i32) -> bool {
    fs::read(format!("/proc/{pid}/environ"))
        .map(|environ| environ.split(|&b| b == 0).any(|entry| entry == DAEMON_MARK))
        .unwrap_or(false)
}

/// The live descendants of this process (the runner) that belong to worker `own`'s
/// stops: daemons and their trees left out, and so are the other live workers and theirs.
pub(crate) fn hooks_processes(own: Pid) -> Vec<Pid> {
    descendants(own, None)
}

/// The processes of worker `own`'s stops (see [`hooks_processes`]), less the members of
/// process group `skip` (when given).
fn descendants(own: Pid, skip: Option<Pid>) -> Vec<Pid> {
    let me = std::process::id() as i32;
    let others: Vec<i32> = workers()
        .into_iter()
        .filter(|&pid| pid != own.as_raw())
        .collect();
    let table = snapshot();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, entry) in &table {
        children.entry(entry.parent).or_default().push(pid);
    }
    let mut found = Vec::new();
    let mut stack = vec![me];
    while let Some(parent) = stack.pop() {
        for &child in children.get(&parent).into_iter().flatten() {
            if others.contains(&child) || is_daemon(child) {
                continue;
            }
            let wanted = table.get(&child).is_some_and(|entry| {
                !entry.zombie && skip.is_none_or(|group| entry.group != group.as_raw())
            });
            if wanted {
                found.push(Pid::from_raw(child));
            }
            stack.push(child);
        }
    }
    found
}

/// Sends `signal` to every process of the tree outside process group `signalled` (which
/// the caller signals as a whole: a process signalled twice, such as a bash worker whose
/// EXIT trap is writing its state, could be cut short by the second one); returns how many
/// there were.
pub(crate) fn signal_all(signal: Signal, signalled: Pid) -> usize {
    let processes = descendants(signalled, Some(signalled));
    for &pid in &processes {
        let _ = kill(pid, signal);
    }
    processes.len()
}

/// Reaps every exited child of this process except `keep` and the other live workers
/// (whose `Child` reaps them): the orphans the runner inherited as subreaper.
pub(crate) fn reap_inherited(keep: Pid) {
    let live = workers();
    for child in own_children() {
        if child != keep && !live.contains(&child.as_raw()) {
            let _ = waitpid(child, Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// This process's children, from every thread's `children` list.
fn own_children() -> Vec<Pid> {
    let mut found = Vec::new();
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return found;
    };
    for task in tasks.flatten() {
        let Ok(list) = fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        found.extend(
            list.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .map(Pid::from_raw),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_in_the_tree_until_it_ends_and_is_reaped() {
        become_subreaper();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep starts");
        let pid = Pid::from_raw(child.id() as i32);
        let nobody = Pid::from_raw(0);
        assert!(hooks_processes(nobody).contains(&pid));
        let _ = kill(pid, Signal::SIGKILL);
        let _ = child.wait();
        assert!(!hooks_processes(nobody).contains(&pid));
    }
}
