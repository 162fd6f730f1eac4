//! `--json-report FILE`: the run as one JSON document, for programs. Written at the end of
//! every run, whether it succeeded, failed or was interrupted (at the same point as the
//! text reports), from the [`Ledger`] alone: times come from the records, so replaying a
//! stream (`phase-log < records.ndjson`) writes the same document.
//!
//! # Schema (`schema_version` 2)
//!
//! Version 2 added the hosts of a multi-node run (record contract, "Hosts";
//! `phase-log --merge`): a `host` field (string, or null when the records named none) on
//! every call, stage row, skipped call, listing entry, summary, warning, tool and failed
//! tool, and the `hosts` array. A stage row is now per host and stage. Nothing was renamed
//! or removed: a version 1 reader that ignores unknown fields reads a version 2 document of
//! one host as before.
//!
//! Every field below is always present; `null` where the table says so. A later version
//! may add fields (readers should ignore unknown ones); renaming or removing one, or
//! changing its meaning, raises `schema_version`. Times are RFC 3339 UTC with milliseconds,
//! taken from the records; durations are whole milliseconds. Ids, names and messages that
//! came as bytes show invalid UTF-8 as `\xNN`, as in ids on the wire.
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `schema_version` | 2 | this schema |
//! | `tool`, `version` | string | `phase-log` and its version |
//! | `result` | string | `ok`, `failed` or `interrupted`: the `=== Result ===` word |
//! | `exit_status` | int | the status phase-log exits with (README, "Exit status") |
//! | `signal` | int or null | SIGINT/SIGTERM phase-log itself got (it then ends by it) |
//! | `first_time`, `last_time` | time or null | the first and last record time seen |
//! | `wall_ms` | int or null | `last_time` less `first_time` |
//! | `log` | string or null | the log file named in the failure report |
//! | `counts` | object | `calls` (hook calls seen), then one count per status: `ok`, `failed`, `timeout`, `killed`, `interrupted`, `unfinished` (no `end` record), and `skipped` (calls not run) |
//! | `calls` | array | every hook call in arrival order (below) |
//! | `stages` | array | `{host, stage, calls, duration_ms}` per host and stage, in first-seen order; `duration_ms` sums its calls |
//! | `skips` | object | below |
//! | `timers` | array | `{name, ms, calls}` per `time_start`/`time_stop` name, most time first |
//! | `summaries`, `warnings` | array | `{id, text, time}` per `echo_summary` / warning line: `id` is the call (for a listing warning, the entry's path), null for a tool's own warning; `time` null when unknown; the first 10,000 |
//! | `summaries_total`, `warnings_total` | int | how many there were |
//! | `tools` | array | `{tool, stage, status}` per `begin`/`done` pair; `status` null when the tool never wrote `done` |
//! | `tools_failed` | array | `{tool, stage, status, vanished, message}`: tools that exited non-zero (unless a call of their stage failed, which says why) or `vanished` without a `done` |
//! | `input_problems` | array of strings | malformed input lines (the first named, the rest counted), read errors |
//! | `resumed` | array | for a resumed run (`--resume`, `--from`; docs/checkpoints.md), per runner stage in order: `{host, stage, action, run, reason, started, finished}`, `action` `reused` (with the `run` it came from and its original `started`/`finished` times) or `run` (ran now, with the `reason`); empty for a run that did not resume |
//! | `hosts` | array | per host, in the order they first appeared: `{host, result, exit_status, first_time, last_time, wall_ms, counts}`, each as the run's fields above over that host's records alone (`exit_status` is the status its records give, 0, 1 or a tool's 2 or more); one entry with `host` null for a stream without hosts; empty for empty input |
//! | `jobs` | array | DevStack's async jobs (`job` records), in start order: `{host, name, command, pid, started_by, awaited_by, status, exit_code, start, end, duration_ms, reason, awaited}`; `status` is `ok`, `failed`, `lost`, `stopped` or `running` (no end in the records); `started_by`/`awaited_by` the calls (null: the calling script); `awaited` false for a job nothing collected |
//!
//! A call: `host`, `id`, `stage`; `name` and `kind` (`extras`, `plugin`, `hypervisor`) from its
//! `start`, null without one; `status` (`ok`, `failed`, `timeout`, `killed`,
//! `interrupted`, or `unfinished` when no `end` came); `exit_code`, `signal` (int or null)
//! and `exited` (bool) from its `end`; `duration_ms` (null when unfinished); `start` and
//! `end` times (null when unknown: a call with no `start` record starts at its end less its
//! duration); `output_tail`: for a call that did not end ok, its last 20 lines of output
//! (trace and xtrace noise excluded), oldest first, each `{stream, text | text_base64,
//! cut}` with exactly one of `text` (UTF-8) and `text_base64` (any other bytes), as in the
//! record contract; `cut` when the line was longer than 4096 bytes and was cut; empty for
//! calls that ended ok; `reused`: the run a call was replayed from (a stage reused from
//! its checkpoint), null for a call that ran now.
//!
//! `skips`: `total` (calls skipped plus listing entries skipped); `groups`: `{reason,
//! count, message}` as the text report groups them (`after-failure` for `upstream-failed`
//! and `stopped` together, named after the failure; `interrupted`; then each other
//! reason); `calls`: `{id, stage, reason, message, time}` per skipped call (the first
//! 10,000); `entries`: `{what, reason, message}` per listing entry that will not run and
//! looks like a mistake (`bad-prefix`, `overridden`...; never `not-a-hook`), the first
//! 10,000; `entries_total`.
//!
//! # Example
//!
//! ```text
//! {
//!   "schema_version": 2, "tool": "phase-log", "version": "0.1.0",
//!   "result": "failed", "exit_status": 1, "signal": null,
//!   "first_time": "2026-11-24T22:29:14.000Z", "last_time": "2026-11-24T22:29:14.007Z",
//!   "wall_ms": 7, "log": null,
//!   "counts": {"calls": 1, "ok": 0, "failed": 1, "timeout": 0, "killed": 0,
//!              "interrupted": 0, "unfinished": 0, "skipped": 0},
//!   "calls": [{"host": null, "id": "stack/install/60-broken.sh", "stage": "stack/install",
//!              "name": "60-broken.sh", "kind": "extras", "status": "failed",
//!              "exit_code": 3, "signal": null, "exited": false, "duration_ms": 5,
//!              "start": "2026-11-24T22:29:14.001Z", "end": "2026-11-24T22:29:14.006Z",
//!              "output_tail": [{"stream": "stderr", "text": "no such file", "cut": false}]}],
//!   "stages": [{"host": null, "stage": "stack/install", "calls": 1, "duration_ms": 5}],
//!   "skips": {"total": 0, "groups": [], "calls": [], "entries": [], "entries_total": 0},
//!   "timers": [], "summaries": [], "summaries_total": 0, "warnings": [],
//!   "warnings_total": 0,
//!   "tools": [{"host": null, "tool": "hook-run", "stage": "stack/install", "status": 1}],
//!   "tools_failed": [], "input_problems": [], "jobs": [],
//!   "hosts": [{"host": null, "result": "failed", "exit_status": 1,
//!              "first_time": "2026-11-24T22:29:14.000Z",
//!              "last_time": "2026-11-24T22:29:14.007Z", "wall_ms": 7,
//!              "counts": {"calls": 1, "ok": 0, "failed": 1, "timeout": 0, "killed": 0,
//!                         "interrupted": 0, "unfinished": 0, "skipped": 0}}]
//! }
//! ```

use std::io::{self, Write};

use serde::Serialize;

use hookpipe::record::{Data, Stream};

use crate::ledger::{Kept, Ledger, Note};
use crate::report::{self, status_of, Context};

pub(crate) const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    tool: &'static str,
    version: &'static str,
    result: &'static str,
    exit_status: u8,
    signal: Option<i32>,
    first_time: Option<String>,
    last_time: Option<String>,
    wall_ms: Option<u64>,
    log: Option<String>,
    counts: Counts,
    calls: Vec<Call<'a>>,
    stages: Vec<Stage<'a>>,
    skips: Skips<'a>,
    timers: Vec<Timer<'a>>,
    summaries: Vec<Text<'a>>,
    summaries_total: u64,
    warnings: Vec<Text<'a>>,
    warnings_total: u64,
    tools: Vec<Tool<'a>>,
    tools_failed: Vec<ToolFailed<'a>>,
    input_problems: &'a [String],
    jobs: Vec<Job<'a>>,
    hosts: Vec<Host<'a>>,
    resumed: Vec<Resumed<'a>>,
}

/// A stage of a resumed run: reused from an earlier run, or run now although resuming was
/// asked (`checkpoint` records; docs/checkpoints.md).
#[derive(Serialize)]
struct Resumed<'a> {
    host: Option<&'a str>,
    stage: &'a str,
    action: &'a str,
    run: &'a str,
    reason: Option<&'a str>,
    started: Option<&'a str>,
    finished: Option<&'a str>,
}

#[derive(Serialize)]
struct Host<'a> {
    host: Option<&'a str>,
    result: &'static str,
    exit_status: u8,
    first_time: Option<String>,
    last_time: Option<String>,
    wall_ms: Option<u64>,
    counts: Counts,
}

#[derive(Serialize)]
struct Job<'a> {
    host: Option<&'a str>,
    name: &'a str,
    command: Option<&'a str>,
    pid: Option<u32>,
    started_by: Option<&'a str>,
    awaited_by: Option<&'a str>,
    status: &'a str,
    exit_code: Option<i32>,
    start: Option<String>,
    end: Option<String>,
    duration_ms: Option<u64>,
    reason: Option<&'a str>,
    awaited: bool,
}

#[derive(Serialize)]
struct Counts {
    calls: usize,
    ok: usize,
    failed: usize,
    timeout: usize,
    killed: usize,
    interrupted: usize,
    unfinished: usize,
    skipped: u64,
}

#[derive(Serialize)]
struct Call<'a> {
    host: Option<&'a str>,
    id: &'a str,
    stage: &'a str,
    name: Option<&'a str>,
    kind: Option<&'a str>,
    status: &'a str,
    exit_code: Option<i32>,
    signal: Option<i32>,
    exited: bool,
    duration_ms: Option<u64>,
    start: Option<String>,
    end: Option<String>,
    output_tail: Vec<TailLine>,
    reused: Option<&'a str>,
}

#[derive(Serialize)]
struct TailLine {
    stream: Stream,
    /// `text` or `text_base64`, by the record contract's rule.
    #[serde(flatten, with = "hookpipe::record::text_field")]
    text: Option<Data>,
    cut: bool,
}

#[derive(Serialize)]
struct Stage<'a> {
    host: Option<&'a str>,
    stage: &'a str,
    calls: u64,
    duration_ms: u64,
}

#[derive(Serialize)]
struct Skips<'a> {
    total: u64,
    groups: Vec<Group>,
    calls: Vec<SkippedCall<'a>>,
    entries: Vec<Entry<'a>>,
    entries_total: u64,
}

#[derive(Serialize)]
struct Group {
    reason: String,
    count: u64,
    message: String,
}

#[derive(Serialize)]
struct SkippedCall<'a> {
    host: Option<&'a str>,
    id: &'a str,
    stage: Option<&'a str>,
    reason: &'a str,
    message: &'a str,
    time: Option<String>,
}

#[derive(Serialize)]
struct Entry<'a> {
    host: Option<&'a str>,
    what: &'a str,
    reason: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct Timer<'a> {
    name: &'a str,
    ms: u64,
    calls: u64,
}

#[derive(Serialize)]
struct Text<'a> {
    host: Option<&'a str>,
    id: Option<&'a str>,
    text: &'a str,
    time: Option<String>,
}

#[derive(Serialize)]
struct Tool<'a> {
    host: Option<&'a str>,
    tool: &'a str,
    stage: &'a str,
    status: Option<i32>,
}

#[derive(Serialize)]
struct ToolFailed<'a> {
    host: Option<&'a str>,
    tool: &'a str,
    stage: &'a str,
    status: Option<i32>,
    vanished: bool,
    message: String,
}

fn time(ms: Option<u64>) -> Option<String> {
    ms.map(hookpipe::time::rfc3339)
}

fn tail_line(kept: &Kept) -> TailLine {
    TailLine {
        stream: if kept.stream == 1 {
            Stream::Stderr
        } else {
            Stream::Stdout
        },
        text: Some(Data::from_bytes(&kept.text)),
        cut: kept.cut,
    }
}

fn texts(notes: &[Note]) -> Vec<Text<'_>> {
    notes
        .iter()
        .map(|note| Text {
            host: note.host.as_deref(),
            id: Some(note.who.as_str()).filter(|who| !who.is_empty()),
            text: &note.text,
            time: time(note.time_ms),
        })
        .collect()
}

fn document<'a>(ledger: &'a Ledger, ctx: &'a Context<'_>) -> Document<'a> {
    let calls = calls(ledger);
    let skipped: u64 = ledger.run_skips.values().sum();
    let totals = count_calls(&calls, skipped);
    let hosts = hosts(ledger, &calls);
    Document {
        schema_version: SCHEMA_VERSION,
        tool: "phase-log",
        version: hookpipe::cli::VERSION,
        result: report::verdict(ctx).0,
        exit_status: ctx.exit,
        signal: ctx.signal,
        first_time: time(ledger.first_ms),
        last_time: time(ledger.last_ms),
        wall_ms: ledger
            .first_ms
            .zip(ledger.last_ms)
            .map(|(first, last)| last.saturating_sub(first)),
        log: ctx.log.map(|path| path.display().to_string()),
        counts: totals,
        calls,
        stages: stages(ledger),
        skips: skips(ledger, skipped),
        timers: timers(ledger),
        summaries: texts(&ledger.summaries),
        summaries_total: ledger.summaries_total,
        warnings: texts(&ledger.warnings),
        warnings_total: ledger.warnings_total,
        tools: tools(ledger),
        tools_failed: tools_failed(ledger),
        input_problems: &ctx.problems,
        jobs: jobs(ledger),
        hosts,
        resumed: ledger
            .resumed()
            .map(|row| Resumed {
                host: row.host.as_deref(),
                stage: &row.stage,
                action: row.action.as_str(),
                run: &row.run,
                reason: row.reason.as_deref(),
                started: row.started.as_deref(),
                finished: row.finished.as_deref(),
            })
            .collect(),
    }
}

/// One entry per hook call, with the tail of its output when it did not end ok.
fn calls(ledger: &Ledger) -> Vec<Call<'_>> {
    ledger
        .calls
        .iter()
        .map(|call| {
            let end = call.end.as_ref();
            let failed = end.is_none_or(|end| !end.ok());
            Call {
                host: call.host.as_deref(),
                id: &call.id,
                stage: &call.stage,
                name: call.name(),
                kind: ledger.kind(call),
                status: status_of(call),
                exit_code: end.and_then(|end| end.exit_code),
                signal: end.and_then(|end| end.signal),
                exited: end.is_some_and(|end| end.exited),
                duration_ms: end.map(|end| end.duration_ms),
                start: time(call.start_ms()),
                end: time(call.end_ms()),
                output_tail: if failed {
                    call.ring.lines().map(tail_line).collect()
                } else {
                    Vec::new()
                },
                reused: ledger.reused_run(call),
            }
        })
        .collect()
}

/// One entry per host, counting that host's calls.
fn hosts<'a>(ledger: &'a Ledger, calls: &[Call<'a>]) -> Vec<Host<'a>> {
    ledger
        .hosts
        .iter()
        .map(|run| {
            let host = run.name.as_deref();
            let mine: Vec<&Call<'_>> = calls.iter().filter(|call| call.host == host).collect();
            let skipped = ledger
                .skipped
                .iter()
                .filter(|skip| skip.host.as_deref() == host)
                .count() as u64;
            let exit_status = ledger.host_status(run);
            Host {
                host,
                result: report::host_verdict(exit_status),
                exit_status,
                first_time: time(run.first_ms),
                last_time: time(run.last_ms),
                wall_ms: run
                    .first_ms
                    .zip(run.last_ms)
                    .map(|(first, last)| last.saturating_sub(first)),
                counts: count_calls(mine, skipped),
            }
        })
        .collect()
}

/// Calls and time per stage (and host), in the order stages first appear.
fn stages(ledger: &Ledger) -> Vec<Stage<'_>> {
    let mut stages: Vec<Stage<'_>> = Vec::new();
    for call in &ledger.calls {
        let ms = call.end.as_ref().map_or(0, |end| end.duration_ms);
        let host = call.host.as_deref();
        match stages
            .iter_mut()
            .find(|row| row.stage == &*call.stage && row.host == host)
        {
            Some(row) => {
                row.calls += 1;
                row.duration_ms = row.duration_ms.saturating_add(ms);
            }
            None => stages.push(Stage {
                host,
                stage: &call.stage,
                calls: 1,
                duration_ms: ms,
            }),
        }
    }

    stages
}

/// The `time_start`/`time_stop` buckets, slowest first.
fn timers(ledger: &Ledger) -> Vec<Timer<'_>> {
    let mut timers: Vec<Timer<'_>> = ledger
        .timers
        .iter()
        .map(|(name, bucket)| Timer {
            name,
            ms: bucket.ms,
            calls: bucket.calls,
        })
        .collect();
    timers.sort_by(|a, b| b.ms.cmp(&a.ms).then_with(|| a.name.cmp(b.name)));
    timers
}

/// Every skip: of calls, grouped by reason, and of entries.
fn skips(ledger: &Ledger, skipped: u64) -> Skips<'_> {
    Skips {
        total: skipped + ledger.entry_skips_total,
        groups: report::skip_groups(ledger)
            .into_iter()
            .map(|(reason, count, message)| Group {
                reason,
                count,
                message,
            })
            .collect(),
        calls: ledger
            .skipped
            .iter()
            .map(|skip| SkippedCall {
                host: skip.host.as_deref(),
                id: &skip.id,
                stage: skip.stage.as_deref(),
                reason: skip.reason.as_str(),
                message: &skip.message,
                time: time(skip.time_ms),
            })
            .collect(),
        entries: ledger
            .entry_skips
            .iter()
            .map(|skip| Entry {
                host: skip.host.as_deref(),
                what: &skip.what,
                reason: skip.reason.as_str(),
                message: &skip.message,
            })
            .collect(),
        entries_total: ledger.entry_skips_total,
    }
}

/// Every tool run and its `done` status.
fn tools(ledger: &Ledger) -> Vec<Tool<'_>> {
    ledger
        .tools
        .iter()
        .map(|run| Tool {
            host: run.host.as_deref(),
            tool: &run.tool,
            stage: &run.stage,
            status: run.done,
        })
        .collect()
}

/// The tools that failed or vanished, with why.
fn tools_failed(ledger: &Ledger) -> Vec<ToolFailed<'_>> {
    report::tool_failures(ledger)
        .into_iter()
        .map(|(run, message)| ToolFailed {
            host: run.host.as_deref(),
            tool: &run.tool,
            stage: &run.stage,
            status: run.done,
            vanished: run.done.is_none(),
            message,
        })
        .collect()
}

/// DevStack's async jobs, as the run saw them.
fn jobs(ledger: &Ledger) -> Vec<Job<'_>> {
    ledger
        .jobs
        .rows
        .iter()
        .map(|row| Job {
            host: row.host.as_deref(),
            name: &row.name,
            command: row.command.as_deref(),
            pid: row.pid,
            started_by: row.started_by.as_deref(),
            awaited_by: row.waited_by.as_deref(),
            status: &row.status,
            exit_code: row.exit_code,
            start: time(row.start_ms),
            end: time(row.end_ms),
            duration_ms: row.duration_ms(),
            reason: row.reason.as_deref(),
            awaited: row.waited,
        })
        .collect()
}

/// The counts of `calls` (one host's, or all), with `skipped` calls not run.
fn count_calls<'c, 'a: 'c>(calls: impl IntoIterator<Item = &'c Call<'a>>, skipped: u64) -> Counts {
    let mut counts = Counts {
        calls: 0,
        ok: 0,
        failed: 0,
        timeout: 0,
        killed: 0,
        interrupted: 0,
        unfinished: 0,
        skipped,
    };
    for call in calls {
        counts.calls += 1;
        match call.status {
            "ok" => counts.ok += 1,
            "failed" => counts.failed += 1,
            "timeout" => counts.timeout += 1,
            "killed" => counts.killed += 1,
            "interrupted" => counts.interrupted += 1,
            "unfinished" => counts.unfinished += 1,
            _ => {}
        }
    }
    counts
}

/// Writes the document, pretty-printed, with a final newline.
pub(crate) fn write(out: &mut dyn Write, ledger: &Ledger, ctx: &Context<'_>) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(ledger, ctx))?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpipe::record::{End, EndStatus, HookKind, Start};

    #[test]
    fn a_failed_call_carries_its_tail_and_an_ok_one_none() {
        let mut ledger = Ledger::default();
        for id in ["s/ok.sh", "s/bad.sh"] {
            let at = ledger.start(&Start {
                name: Some(id[2..].into()),
                ..Start::new(
                    id.into(),
                    "s".into(),
                    HookKind::Extras,
                    "2026-11-24T22:29:14.000Z".into(),
                )
            });
            ledger.calls[at].ring.push(1, b"bad \xff byte");
        }
        for (id, status) in [("s/ok.sh", EndStatus::Ok), ("s/bad.sh", EndStatus::Failed)] {
            ledger.end(&End {
                exit_code: Some(i32::from(status != EndStatus::Ok)),
                duration_ms: 7,
                ..End::new(
                    id.into(),
                    "s".into(),
                    status,
                    "2026-11-24T22:29:14.007Z".into(),
                )
            });
        }
        let ctx = Context {
            exit: 1,
            ..Context::default()
        };
        let mut out = Vec::new();
        write(&mut out, &ledger, &ctx).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["result"], "failed");
        assert_eq!(doc["counts"]["failed"], 1);
        assert_eq!(doc["calls"][0]["output_tail"], serde_json::json!([]));
        assert_eq!(
            doc["calls"][1]["output_tail"],
            serde_json::json!([{"stream": "stderr", "text_base64": "YmFkIP8gYnl0ZQ==", "cut": false}])
        );
        assert_eq!(doc["calls"][1]["start"], "2026-11-24T22:29:14.000Z");
        assert_eq!(doc["calls"][1]["end"], "2026-11-24T22:29:14.007Z");
    }
}
