//! DevStack's asynchronous jobs as the runners see them (`lib/async`, docs/async.md).
//!
//! A job is started by `async_run` in some bash shell of the run and supervised by a
//! process that leads its own process group; its files live in the run's async directory
//! (`$DEST/async`, named to the tools by `HOOKPIPE_ASYNC_DIR`): `NAME.ini` (DevStack's
//! `[job]` section: `command`, `start_time`, `pid`, and hookpipe's `hook`, the call that
//! started it) while it is not collected, and `NAME.status` (exit code, end time in epoch
//! ms, how it ended) once it has ended.
//!
//! This module owns two things: turning a worker's `job` event into a `job` record
//! ([`event_record`]), and stopping every job still running when the run is over without
//! success ([`stop_running`]): a failure, a timeout or an interrupt must not leave a job
//! behind, and the reason must be in the records.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::{getpgid, Pid};

use hookpipe::bytes;
use hookpipe::record::{Data, Job, JobEvent, JobStatus};
use hookpipe::time::{now_ms, now_rfc3339, rfc3339};

/// The environment variable naming the run's async directory.
pub(crate) const DIR_VARIABLE: &str = "HOOKPIPE_ASYNC_DIR";
/// The environment variable naming the run's leader (the script that called `async_init`).
pub(crate) const LEADER_VARIABLE: &str = "HOOKPIPE_RUN_PID";

/// Builds the `job` record of a worker event. `fields` are the event's fields after `job`:
/// EVENT NAME PID RC START_MS END_MS STARTED_BY DETAIL (empty when unknown), `id` the call
/// that was running (`None`: the calling script's own shell). An event `lib/async` never
/// sends (the worker's channel is ours) gives no record.
pub(crate) fn event_record(fields: &[&[u8]], id: Option<String>) -> Option<Job> {
    let field = |n: usize| fields.get(n).copied().unwrap_or_default();
    let text = |n: usize| Some(bytes::escaped(field(n))).filter(|t| !t.is_empty());
    let number = |n: usize| {
        std::str::from_utf8(field(n))
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
    };
    let event = JobEvent::parse(std::str::from_utf8(field(0)).ok()?)?;
    let exit_code = number(3).map(|rc| rc.min(i32::MAX as u64) as i32);
    let (started_ms, ended_ms) = (number(4), number(5));
    let detail = text(7);
    let mut job = Job {
        id,
        name: Some(Data::from_bytes(field(1))),
        pid: number(2).and_then(|pid| u32::try_from(pid).ok()),
        started: started_ms.map(rfc3339),
        ended: ended_ms.map(rfc3339),
        started_by: text(6),
        ..Job::new(event, now_rfc3339())
    };
    match event {
        JobEvent::Start => job.command = detail,
        JobEvent::Wait => {
            job.duration_ms = match (started_ms, ended_ms) {
                (Some(start), Some(end)) => Some(end.saturating_sub(start)),
                _ => None,
            };
            job.exit_code = exit_code;
            job.status = Some(match (detail.as_deref(), exit_code) {
                (Some(how), _) if how.starts_with("lost") => JobStatus::Lost,
                (Some(how), _) if how.starts_with("stopped") => JobStatus::Stopped,
                (_, Some(0)) => JobStatus::Ok,
                _ => JobStatus::Failed,
            });
            if detail.as_deref() != Some("finished") {
                job.reason = detail;
            }
        }
        JobEvent::Unknown => {
            job.status = Some(JobStatus::Failed);
            job.exit_code = exit_code;
            job.reason = detail;
        }
        JobEvent::Stop | JobEvent::Unwaited => {
            job.reason = detail.filter(|d| d != "never awaited");
        }
    }
    Some(job)
}

/// The events `lib/async` queued in the calling script's own shell (lib/hookpipe's caller,
/// where no runner listens) in `HOOKPIPE_ASYNC_DIR/.events.LEADER` (LEADER the script's
/// pid, `HOOKPIPE_RUN_PID`, so another script never reports them), in the worker's event
/// format: taken (renamed away, so two runners never both report them) and turned into
/// `job` records without an `id`. The first runner of the next pipeline writes them.
pub(crate) fn take_queued() -> Vec<Job> {
    let (Some(dir), Some(leader)) = (
        std::env::var_os(DIR_VARIABLE).filter(|d| !d.is_empty()),
        std::env::var_os(LEADER_VARIABLE).and_then(|l| l.into_string().ok()),
    ) else {
        return Vec::new();
    };
    let dir = PathBuf::from(dir);
    let queue = dir.join(format!(".events.{leader}"));
    let taken = dir.join(format!(".taken.{}", std::process::id()));
    if fs::rename(&queue, &taken).is_err() {
        return Vec::new();
    }
    let bytes = fs::read(&taken).unwrap_or_default();
    let _ = fs::remove_file(&taken);
    queued_records(&bytes)
}

/// The `job` records of queued events: `job` and eight fields each, NUL-terminated; an
/// event cut short (a writer killed mid-way) is dropped.
fn queued_records(bytes: &[u8]) -> Vec<Job> {
    let mut fields: Vec<&[u8]> = bytes.split(|&b| b == 0).collect();
    // What follows the last NUL is an unfinished field.
    fields.pop();
    let mut jobs = Vec::new();
    let mut at = 0;
    while at < fields.len() {
        if fields[at] == b"job" && at + 9 <= fields.len() {
            jobs.extend(event_record(&fields[at + 1..at + 9], None));
            at += 9;
        } else {
            at += 1;
        }
    }
    jobs
}

/// One job found running in the async directory.
struct Running {
    name: String,
    pid: i32,
    started_ms: Option<u64>,
    started_by: Option<String>,
}

/// The `[job]` keys of a DevStack ini file that the runners need.
fn ini_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().rev().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// The jobs of `dir` that have an ini file with a pid and no status yet: running, or gone
/// without a word (a runner's tree stop on a timeout may have killed them already).
fn running_jobs(dir: &Path) -> Vec<Running> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut jobs = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".ini")) else {
            continue;
        };
        if dir.join(format!("{name}.status")).exists() {
            continue;
        }
        let Ok(text) = fs::read_to_string(entry.path()) else {
            continue;
        };
        let Some(pid) = ini_value(&text, "pid").and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if pid <= 1 {
            continue;
        }
        jobs.push(Running {
            name: name.to_owned(),
            pid,
            started_ms: ini_value(&text, "start_time").and_then(|t| t.parse().ok()),
            started_by: ini_value(&text, "hook").map(str::to_owned),
        });
    }
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    jobs
}

/// Signals a job's process group, but only while its pid still leads a group: a pid
/// reused by an unrelated process is not a group leader of ours.
fn signal_job(pid: i32, signal: Signal) {
    if getpgid(Some(Pid::from_raw(pid))) == Ok(Pid::from_raw(pid)) {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// Whether any process of group `pgid` still runs. Zombies do not count: `kill(-pgid, 0)`
/// would, and a slow init may take seconds to reap a job's processes.
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return killpg(Pid::from_raw(pgid), None).is_ok();
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the parenthesised command name: state, ppid, pgrp.
        let Some(rest) = stat.rfind(')').map(|end| &stat[end + 1..]) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        pgrp == Some(pgid) && state != Some("Z")
    })
}

/// Writes `NAME.status` the way `lib/async` does (write, then rename), so a later
/// `async_wait` reports the stop instead of waiting.
fn write_status(dir: &Path, name: &str, rc: i32, ended_ms: u64, how: &str) {
    let temporary: PathBuf = dir.join(format!("{name}.status.{}", std::process::id()));
    let written = fs::File::create(&temporary)
        .and_then(|mut file| writeln!(file, "{rc}\n{ended_ms}\n{how}"))
        .and_then(|()| fs::rename(&temporary, dir.join(format!("{name}.status"))));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
}

/// Stops every job still running in the run's async directory (`HOOKPIPE_ASYNC_DIR`):
/// records the stop in its status file first, then TERM to its process group, then KILL to
/// what is left after `grace`. Returns one `stop` record per job, with `reason` (a code:
/// `interrupted`, `failed`, `timeout`, `upstream-failed`) and `message` saying why.
pub(crate) fn stop_running(reason: &str, message: &str, grace: Duration) -> Vec<Job> {
    let Some(dir) = std::env::var_os(DIR_VARIABLE).filter(|d| !d.is_empty()) else {
        return Vec::new();
    };
    let dir = PathBuf::from(dir);
    let jobs = running_jobs(&dir);
    if jobs.is_empty() {
        return Vec::new();
    }
    let ended_ms = now_ms();
    for job in &jobs {
        write_status(
            &dir,
            &job.name,
            143,
            ended_ms,
            &format!("stopped: {message}"),
        );
        signal_job(job.pid, Signal::SIGTERM);
    }
    let until = Instant::now() + grace;
    while Instant::now() < until && jobs.iter().any(|job| group_alive(job.pid)) {
        std::thread::sleep(Duration::from_millis(10));
    }
    for job in &jobs {
        signal_job(job.pid, Signal::SIGKILL);
    }
    jobs.into_iter()
        .map(|job| Job {
            name: Some(Data::from(job.name)),
            pid: u32::try_from(job.pid).ok(),
            status: Some(JobStatus::Stopped),
            started: job.started_ms.map(rfc3339),
            ended: Some(rfc3339(ended_ms)),
            duration_ms: job.started_ms.map(|start| ended_ms.saturating_sub(start)),
            started_by: job.started_by,
            reason: Some(format!("{reason}: {message}")),
            ..Job::new(JobEvent::Stop, now_rfc3339())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_event_becomes_a_start_record() {
        let fields: [&[u8]; 8] = [
            b"start",
            b"install_tempest",
            b"4242",
            b"",
            b"1796401880257",
            b"",
            b"stack/install/80-tempest.sh",
            b"install_tempest",
        ];
        let job = event_record(&fields, Some("stack/install/80-tempest.sh".into())).unwrap();
        assert_eq!(job.event, JobEvent::Start);
        assert_eq!(job.name, Some(Data::from("install_tempest")));
        assert_eq!(job.pid, Some(4242));
        assert_eq!(job.command.as_deref(), Some("install_tempest"));
        assert_eq!(job.started.as_deref(), Some("2026-12-04T16:31:20.257Z"));
        assert_eq!(job.status, None);
    }

    #[test]
    fn a_wait_event_carries_status_and_duration() {
        let fields: [&[u8]; 8] = [
            b"wait",
            b"j",
            b"7",
            b"3",
            b"1000",
            b"3500",
            b"",
            b"finished",
        ];
        let job = event_record(&fields, Some("x".into())).unwrap();
        assert_eq!(job.status, Some(JobStatus::Failed));
        assert_eq!(job.exit_code, Some(3));
        assert_eq!(job.duration_ms, Some(2500));
        assert_eq!(job.started_by, None);
        assert_eq!(job.reason, None);
        let lost: [&[u8]; 8] = [
            b"wait",
            b"j",
            b"7",
            b"1",
            b"1000",
            b"3500",
            b"",
            b"lost: gone",
        ];
        assert_eq!(
            event_record(&lost, Some("x".into())).unwrap().status,
            Some(JobStatus::Lost)
        );
    }

    #[test]
    fn queued_events_become_records_without_an_id() {
        let mut queue = Vec::new();
        for field in [
            &b"job"[..],
            b"wait",
            b"caller_job",
            b"9",
            b"0",
            b"1000",
            b"2000",
            b"",
            b"finished",
            b"job",
            b"start",
            b"cut",
        ] {
            queue.extend_from_slice(field);
            queue.push(0);
        }
        let jobs = queued_records(&queue);
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!(jobs[0].id, None);
        assert_eq!(jobs[0].event, JobEvent::Wait);
        assert_eq!(jobs[0].status, Some(JobStatus::Ok));
        assert_eq!(jobs[0].duration_ms, Some(1000));
    }

    #[test]
    fn ini_values_are_read_as_devstack_writes_them() {
        let ini = "[job]\ncommand = a b = c\nstart_time = 12\npid = 34\n";
        assert_eq!(ini_value(ini, "pid"), Some("34"));
        assert_eq!(ini_value(ini, "start_time"), Some("12"));
        assert_eq!(ini_value(ini, "hook"), None);
    }
}
