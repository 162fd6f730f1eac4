//! DevStack's asynchronous jobs in the reports: the `job` records of a run folded into one
//! row per job (who started it, who awaited it, when it ran, how it ended), for the text
//! report, the JSON report, JUnit and the HTML timeline; and the log line of each record.
//!
//! A job name may be used again once its job was collected, so a `start` always opens a new
//! row and later events go to the newest row of that name on that host (a merged
//! multi-node stream has one async directory per host).

use hookpipe::record::{Job, JobEvent, JobStatus};
use hookpipe::time::parse_rfc3339;

/// One job of the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct JobRow {
    /// The host whose records it came in (`None` in a stream without hosts).
    pub host: Option<String>,
    pub name: String,
    pub command: Option<String>,
    pub pid: Option<u32>,
    /// The call that started it (absent: the calling script, or a start not in this stream).
    pub started_by: Option<String>,
    /// The call that awaited it.
    pub waited_by: Option<String>,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// `running` (no end seen), `ok`, `failed`, `lost`, `stopped`, `unwaited`.
    pub status: String,
    pub exit_code: Option<i32>,
    /// Why it was stopped, or how it ended when not by itself.
    pub reason: Option<String>,
    /// Whether an `async_wait` (or `async_cleanup`) collected it in this stream.
    pub waited: bool,
    /// Whether `async_cleanup` found it never awaited.
    pub unwaited: bool,
}

impl JobRow {
    pub(crate) fn duration_ms(&self) -> Option<u64> {
        Some(self.end_ms?.saturating_sub(self.start_ms?))
    }

    pub(crate) fn ok(&self) -> bool {
        matches!(self.status.as_str(), "ok" | "running")
    }
}

/// Every job seen, in start order.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    pub rows: Vec<JobRow>,
    /// `async_wait` of names that had no job: (name, the waiting call).
    pub unknown: Vec<(String, Option<String>)>,
}

fn name_of(job: &Job) -> String {
    job.name
        .as_ref()
        .map(|name| hookpipe::bytes::escaped(name.as_bytes()))
        .unwrap_or_default()
}

impl Jobs {
    fn row(&mut self, host: Option<&str>, name: &str) -> usize {
        if let Some(at) = self
            .rows
            .iter()
            .rposition(|row| row.name == name && row.host.as_deref() == host)
        {
            return at;
        }
        self.rows.push(JobRow {
            host: host.map(str::to_owned),
            name: name.to_owned(),
            status: "running".into(),
            ..JobRow::default()
        });
        self.rows.len() - 1
    }

    /// Folds in one `job` record of `host`.
    pub(crate) fn record(&mut self, host: Option<&str>, job: &Job) {
        let name = name_of(job);
        let ms = |time: &Option<String>| time.as_deref().and_then(parse_rfc3339);
        if job.event == JobEvent::Unknown {
            self.unknown.push((name, job.id.clone()));
            return;
        }
        let at = if job.event == JobEvent::Start {
            self.rows.push(JobRow {
                host: host.map(str::to_owned),
                name: name.clone(),
                status: "running".into(),
                ..JobRow::default()
            });
            self.rows.len() - 1
        } else {
            self.row(host, &name)
        };
        let row = &mut self.rows[at];
        row.pid = row.pid.or(job.pid);
        row.start_ms = row.start_ms.or(ms(&job.started));
        if row.started_by.is_none() {
            row.started_by = match job.event {
                JobEvent::Start => job.id.clone(),
                _ => job.started_by.clone(),
            };
        }
        match job.event {
            JobEvent::Start => row.command = job.command.clone(),
            JobEvent::Wait => {
                row.waited = true;
                row.waited_by = job.id.clone();
                row.end_ms = ms(&job.ended).or(row.end_ms);
                row.status = job.status.unwrap_or(JobStatus::Failed).to_string();
                row.exit_code = job.exit_code;
                row.reason = job.reason.clone().or(row.reason.take());
            }
            JobEvent::Stop => {
                row.end_ms = ms(&job.ended).or(row.end_ms);
                row.status = JobStatus::Stopped.to_string();
                row.reason = job.reason.clone();
            }
            JobEvent::Unwaited => row.unwaited = true,
            JobEvent::Unknown => {}
        }
    }

    /// Jobs started in this stream that nothing collected: still running when it ended,
    /// or found by `async_cleanup`.
    pub(crate) fn never_awaited(&self) -> impl Iterator<Item = &JobRow> {
        self.rows
            .iter()
            .filter(|row| row.unwaited || (!row.waited && row.status == "running"))
    }

    /// Jobs that ended badly (a failed status, lost, stopped) and waits for unknown names.
    pub(crate) fn failed(&self) -> impl Iterator<Item = &JobRow> {
        self.rows.iter().filter(|row| !row.ok())
    }
}

/// The log line of a `job` record: who it is about and what happened.
pub(crate) fn log_line(job: &Job) -> (String, String) {
    let name = name_of(job);
    let who = job.id.clone().unwrap_or_else(|| "async".to_owned());
    let mut body = format!("{} {name}", job.event);
    let secs = |ms: u64| format!("{}.{:03}s", ms / 1000, ms % 1000);
    match job.event.as_str() {
        "start" => {
            if let Some(pid) = job.pid {
                body.push_str(&format!(" (pid {pid})"));
            } else {
                body.push_str(" (inline)");
            }
            if let Some(command) = &job.command {
                body.push_str(&format!(": {command}"));
            }
        }
        "wait" | "stop" => {
            if let Some(status) = &job.status {
                body.push_str(&format!(": {status}"));
            }
            if let Some(code) = job.exit_code {
                body.push_str(&format!(", exit {code}"));
            }
            if let Some(ms) = job.duration_ms {
                body.push_str(&format!(", ran {}", secs(ms)));
            }
            if let Some(by) = &job.started_by {
                body.push_str(&format!(", started by {by}"));
            }
            if let Some(reason) = &job.reason {
                body.push_str(&format!(" ({reason})"));
            }
        }
        "unwaited" => {
            body.push_str(": never awaited");
            if let Some(by) = &job.started_by {
                body.push_str(&format!(", started by {by}"));
            }
        }
        "unknown" => body.push_str(": async_wait of a job that was never started"),
        _ => {}
    }
    (who, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(event: JobEvent, name: &str, id: &str) -> Job {
        Job {
            id: Some(id.into()),
            name: Some(name.into()),
            ..Job::new(event, "2026-12-04T16:31:20.257Z".into())
        }
    }

    #[test]
    fn start_and_wait_fold_into_one_row() {
        let mut jobs = Jobs::default();
        let mut start = job(
            JobEvent::Start,
            "install_tempest",
            "stack/install/80-tempest.sh",
        );
        start.started = Some("2026-12-04T16:31:20.000Z".into());
        jobs.record(None, &start);
        let mut wait = job(
            JobEvent::Wait,
            "install_tempest",
            "stack/test-config/80-tempest.sh",
        );
        wait.status = Some(JobStatus::Ok);
        wait.exit_code = Some(0);
        wait.ended = Some("2026-12-04T16:31:22.500Z".into());
        jobs.record(None, &wait);
        assert_eq!(jobs.rows.len(), 1);
        let row = &jobs.rows[0];
        assert_eq!(
            row.started_by.as_deref(),
            Some("stack/install/80-tempest.sh")
        );
        assert_eq!(
            row.waited_by.as_deref(),
            Some("stack/test-config/80-tempest.sh")
        );
        assert_eq!(row.duration_ms(), Some(2500));
        assert!(row.ok() && jobs.never_awaited().count() == 0);
    }

    #[test]
    fn a_start_without_wait_is_never_awaited_and_a_stop_is_a_failure() {
        let mut jobs = Jobs::default();
        jobs.record(None, &job(JobEvent::Start, "a", "x"));
        jobs.record(None, &job(JobEvent::Start, "b", "x"));
        let mut stop = job(JobEvent::Stop, "b", "x");
        stop.reason = Some("interrupted: the run was interrupted".into());
        jobs.record(None, &stop);
        let never: Vec<_> = jobs.never_awaited().map(|r| r.name.clone()).collect();
        assert_eq!(never, ["a"]);
        let failed: Vec<_> = jobs.failed().map(|r| r.name.clone()).collect();
        assert_eq!(failed, ["b"]);
    }
}
