//! The reports printed at the end of every run, whether it succeeded or not (DevStack's
//! `time_totals` printed only on success: docs/devstack.md §9 item 11): every hook call with its
//! status and time, the time per stage, the slowest calls, the timer buckets, entries
//! that looked like mistakes, warnings, and for each call that did not end ok its last
//! lines of output. Times are plain sums of whole milliseconds, so nothing can go
//! negative. This module only builds lines from the [`Ledger`]; `sink` writes them.

use std::path::Path;

use crate::ledger::{Call, Ledger, ToolRun, LISTED, RING_LINES};
use crate::render::{plural, secs, signal_name, Paint};
use crate::sink::Seg;

/// Slowest calls listed.
const SLOWEST: usize = 10;

/// What the reports say beyond the ledger.
#[derive(Debug, Default)]
pub(crate) struct Context<'a> {
    /// The log file, named in the failure report.
    pub log: Option<&'a Path>,
    /// The exit status phase-log is about to end with.
    pub exit: u8,
    /// A signal phase-log itself got (it ends by it after the reports).
    pub signal: Option<i32>,
    /// Problems with the input (malformed lines), one line each.
    pub problems: Vec<String>,
}

type Lines = Vec<Vec<Seg>>;

fn width<'a>(title: &str, cells: impl Iterator<Item = &'a str>) -> usize {
    cells
        .map(|cell| cell.chars().count())
        .fold(title.len(), usize::max)
}

fn pad(text: &str, width: usize) -> String {
    let mut out = text.to_owned();
    out.extend(std::iter::repeat_n(
        ' ',
        width.saturating_sub(text.chars().count()),
    ));
    out
}

fn heading(out: &mut Lines, title: &str) {
    out.push(Vec::new());
    out.push(vec![Seg::painted(format!("=== {title} ==="), Paint::Bold)]);
}

/// A call's status word; `unfinished` when it has no `end`.
pub(crate) fn status_of(call: &Call) -> &str {
    call.end.as_ref().map_or("unfinished", |end| &*end.status)
}

/// A call's duration as the table shows it.
fn time_of(call: &Call) -> String {
    call.end
        .as_ref()
        .map_or("-".to_owned(), |end| secs(end.duration_ms))
}

/// The table of every call, handed out one line at a time: it is as long as the run
/// (200,000 calls make 200,000 lines) and is never held whole.
/// ` (reused)` after the status of a call replayed from a checkpoint (`--resume`).
fn reused_mark(call: &Call) -> &'static str {
    if call.is_reused() {
        " (reused)"
    } else {
        ""
    }
}

fn calls_table(ledger: &Ledger, emit: &mut dyn FnMut(Vec<Seg>)) {
    let mut head = Lines::new();
    heading(&mut head, "Hook calls");
    head.into_iter().for_each(&mut *emit);
    if ledger.calls.is_empty() {
        emit(vec![Seg::plain("no hook calls")]);
        return;
    }
    let show_hosts = ledger.show_hosts;
    let id_w = ledger
        .calls
        .iter()
        .map(|call| call.label(show_hosts).chars().count())
        .fold("call".chars().count(), usize::max);
    let stage_w = width("stage", ledger.calls.iter().map(|call| &*call.stage));
    let status_w = ledger
        .calls
        .iter()
        .map(|call| status_of(call).chars().count() + reused_mark(call).len())
        .fold("status".chars().count(), usize::max);
    let time_w = ledger
        .calls
        .iter()
        .map(|call| time_of(call).chars().count())
        .fold("time".chars().count(), usize::max);
    emit(vec![Seg::plain(format!(
        "{}  {}  {}  {:>time_w$}",
        pad("call", id_w),
        pad("stage", stage_w),
        pad("status", status_w),
        "time"
    ))]);
    for call in &ledger.calls {
        let status = status_of(call);
        let time = time_of(call);
        emit(vec![
            Seg::plain(format!(
                "{}  {}  ",
                pad(&call.label(show_hosts), id_w),
                pad(&call.stage, stage_w)
            )),
            Seg::painted(status, Paint::of_status(status)),
            Seg::plain(format!(
                "{}{}  {time:>time_w$}",
                reused_mark(call),
                pad(
                    "",
                    status_w - status.chars().count() - reused_mark(call).len()
                )
            )),
        ]);
    }
}

fn stage_totals(out: &mut Lines, ledger: &Ledger) {
    let mut stages: Vec<(String, u64, u64)> = Vec::new();
    // Row of each stage title: a run of 5,000 stages must not compare every call with
    // every stage.
    let mut rows: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for call in &ledger.calls {
        let ms = call.end.as_ref().map_or(0, |end| end.duration_ms);
        let host = call.host.as_deref().filter(|_| ledger.show_hosts);
        let title = crate::view::title(host, &call.stage);
        match rows.get(&title) {
            Some(&at) => {
                let row = &mut stages[at];
                row.1 += 1;
                row.2 = row.2.saturating_add(ms);
            }
            None => {
                rows.insert(title.clone(), stages.len());
                stages.push((title, 1, ms));
            }
        }
    }
    if stages.is_empty() {
        return;
    }
    heading(out, "Time per stage");
    let stage_w = width("stage", stages.iter().map(|row| row.0.as_str()));
    let times: Vec<String> = stages.iter().map(|row| secs(row.2)).collect();
    let time_w = width("time", times.iter().map(String::as_str));
    out.push(vec![Seg::plain(format!(
        "{}  calls  {:>time_w$}",
        pad("stage", stage_w),
        "time"
    ))]);
    for ((stage, calls, _), time) in stages.iter().zip(&times) {
        out.push(vec![Seg::plain(format!(
            "{}  {calls:>5}  {time:>time_w$}",
            pad(stage, stage_w)
        ))]);
    }
}

fn slowest(out: &mut Lines, ledger: &Ledger) {
    let mut ended: Vec<(u64, std::borrow::Cow<'_, str>)> = ledger
        .calls
        .iter()
        .filter_map(|call| {
            Some((
                call.end.as_ref()?.duration_ms,
                call.label(ledger.show_hosts),
            ))
        })
        .collect();
    if ended.is_empty() {
        return;
    }
    // Stable: equal times keep the order the calls ran in.
    ended.sort_by_key(|&(ms, _)| std::cmp::Reverse(ms));
    ended.truncate(SLOWEST);
    heading(out, "Slowest calls");
    let time_w = ended
        .iter()
        .map(|(ms, _)| secs(*ms).len())
        .max()
        .unwrap_or(0);
    for (ms, id) in ended {
        out.push(vec![Seg::plain(format!("{:>time_w$}  {id}", secs(ms)))]);
    }
}

fn timers(out: &mut Lines, ledger: &Ledger) {
    if ledger.timers.is_empty() {
        return;
    }
    heading(out, "Timers (time_start/time_stop)");
    let mut rows: Vec<_> = ledger.timers.iter().collect();
    rows.sort_by(|a, b| b.1.ms.cmp(&a.1.ms).then_with(|| a.0.cmp(b.0)));
    let name_w = width("name", rows.iter().map(|(name, _)| name.as_str()));
    let times: Vec<String> = rows.iter().map(|(_, bucket)| secs(bucket.ms)).collect();
    let time_w = width("time", times.iter().map(String::as_str));
    out.push(vec![Seg::plain(format!(
        "{}  calls  {:>time_w$}",
        pad("name", name_w),
        "time"
    ))]);
    for ((name, bucket), time) in rows.iter().zip(&times) {
        out.push(vec![Seg::plain(format!(
            "{}  {:>5}  {time:>time_w$}",
            pad(name, name_w),
            bucket.calls
        ))]);
    }
}

/// DevStack's async jobs: one row per job (who started it, who awaited it, how it ended,
/// how long it ran), the jobs nobody awaited, and DevStack's `async_print_timing` figure:
/// the time spent in the background minus the time spent waiting for it.
fn async_jobs(out: &mut Lines, ledger: &Ledger) {
    let jobs = &ledger.jobs;
    if jobs.rows.is_empty() && jobs.unknown.is_empty() {
        return;
    }
    heading(out, "Async jobs");
    let by = |who: &Option<String>| who.clone().unwrap_or_else(|| "-".to_owned());
    let rows: Vec<[String; 5]> = jobs
        .rows
        .iter()
        .map(|row| {
            [
                row.name.clone(),
                by(&row.started_by),
                by(&row.waited_by),
                match row.exit_code {
                    Some(code) if row.status == "failed" => format!("failed {code}"),
                    _ => row.status.clone(),
                },
                row.duration_ms().map_or_else(|| "-".to_owned(), secs),
            ]
        })
        .collect();
    let titles = ["job", "started by", "awaited by", "status", "time"];
    let widths: Vec<usize> = (0..5)
        .map(|col| width(titles[col], rows.iter().map(|row| row[col].as_str())))
        .collect();
    let line = |cells: [&str; 5]| {
        format!(
            "{}  {}  {}  {}  {:>w4$}",
            pad(cells[0], widths[0]),
            pad(cells[1], widths[1]),
            pad(cells[2], widths[2]),
            pad(cells[3], widths[3]),
            cells[4],
            w4 = widths[4]
        )
    };
    out.push(vec![Seg::plain(line(titles))]);
    for (row, cells) in jobs.rows.iter().zip(&rows) {
        let text = line([&cells[0], &cells[1], &cells[2], &cells[3], &cells[4]]);
        let paint = if row.ok() { Paint::Plain } else { Paint::Red };
        out.push(vec![Seg::painted(text, paint)]);
        if let Some(reason) = &row.reason {
            out.push(vec![Seg::plain(format!("    {reason}"))]);
        }
    }
    for row in jobs.never_awaited() {
        let started_by = row.started_by.as_deref().unwrap_or("the calling script");
        let text = if row.unwaited {
            format!("never awaited: {} (started by {started_by})", row.name)
        } else {
            format!(
                "not awaited: {} (started by {started_by}, still running when the records ended)",
                row.name
            )
        };
        out.push(vec![Seg::painted(text, Paint::Yellow)]);
    }
    for (name, id) in &jobs.unknown {
        out.push(vec![Seg::painted(
            format!(
                "async_wait {name} in {}: no such job was started",
                id.as_deref().unwrap_or("the calling script")
            ),
            Paint::Red,
        )]);
    }
    // As DevStack's _ASYNC_BG_TIME: the jobs that were collected.
    let background: u64 = jobs
        .rows
        .iter()
        .filter(|row| row.waited)
        .filter_map(|row| row.duration_ms())
        .sum();
    let waited = ledger
        .timers
        .get("async_wait")
        .map_or(0, |bucket| bucket.ms);
    let saved = background.saturating_sub(waited);
    let mut line = format!(
        "Time in the background: {}, waiting for it: {}, saved: {}",
        secs(background),
        secs(waited),
        secs(saved)
    );
    // DevStack's "Time if we did everything serially" and "Speedup".
    if let (Some(first), Some(last)) = (ledger.first_ms, ledger.last_ms) {
        let wall = last.saturating_sub(first);
        if wall > 0 {
            let serial = wall + saved;
            line.push_str(&format!(
                "; serially {} instead of {} (speedup {:.2})",
                secs(serial),
                secs(wall),
                serial as f64 / wall as f64
            ));
        }
    }
    out.push(vec![Seg::plain(line)]);
}

fn entry_skips(out: &mut Lines, ledger: &Ledger) {
    if ledger.entry_skips_total == 0 {
        return;
    }
    heading(out, "Entries not dispatched");
    for skip in ledger.entry_skips.iter().take(LISTED) {
        out.push(vec![
            Seg::plain(format!("{}: ", skip.what)),
            Seg::painted(skip.reason.clone(), Paint::Yellow),
            Seg::plain(format!(": {}", skip.message)),
        ]);
    }
    let more = ledger.entry_skips_total - ledger.entry_skips.len().min(LISTED) as u64;
    if more > 0 {
        out.push(vec![Seg::plain(format!(
            "... and {more} more (see the log)"
        ))]);
    }
}

fn warnings(out: &mut Lines, ledger: &Ledger) {
    if ledger.warnings_total == 0 {
        return;
    }
    heading(out, "Warnings");
    for note in ledger.warnings.iter().take(LISTED) {
        let who = if note.who.is_empty() {
            String::new()
        } else {
            format!("{}: ", note.who)
        };
        out.push(vec![Seg::plain(who), Seg::plain(note.text.clone())]);
    }
    let more = ledger.warnings_total - ledger.warnings.len().min(LISTED) as u64;
    if more > 0 {
        out.push(vec![Seg::plain(format!(
            "... and {more} more (see the log)"
        ))]);
    }
}

/// [`how_it_ended`] as plain text, for the file reports.
pub(crate) fn ending_text(call: &Call) -> String {
    how_it_ended(call).into_iter().map(|seg| seg.text).collect()
}

/// `failed, exit 3, after 0.010s`.
fn how_it_ended(call: &Call) -> Vec<Seg> {
    let Some(end) = &call.end else {
        return vec![
            Seg::painted("unfinished", Paint::Red),
            Seg::plain(": no end record (its runner stopped without a word)"),
        ];
    };
    let mut detail = String::new();
    if let Some(signal) = end.signal {
        detail.push_str(&format!(", {}", signal_name(signal)));
    } else if let Some(code) = end.exit_code {
        detail.push_str(&format!(", exit {code}"));
    }
    if end.exited {
        detail.push_str(", ended its shell");
    }
    detail.push_str(&format!(", after {}", secs(end.duration_ms)));
    vec![
        Seg::painted(end.status.to_string(), Paint::of_status(&end.status)),
        Seg::plain(detail),
    ]
}

/// Tools that ended badly (status 1 or more, or no `done`), each with a line for people,
/// unless a call of their stage already says why, or the tool is a runner that only stopped
/// because a stage before it failed (its calls are skipped with that reason): one failed
/// hook is one failure, in every report.
pub(crate) fn tool_failures(ledger: &Ledger) -> Vec<(&ToolRun, String)> {
    let something_failed = ledger
        .calls
        .iter()
        .any(|call| call.end.as_ref().is_none_or(|end| !end.ok()))
        || ledger
            .tools
            .iter()
            .any(|run| run.done.is_none_or(|status| status >= 2));
    ledger
        .tools
        .iter()
        .filter_map(|run| {
            let own_calls = || {
                ledger.calls.iter().filter(|call| {
                    *call.stage == *run.stage && call.host.as_deref() == run.host.as_deref()
                })
            };
            let explained = own_calls().any(|call| call.end.as_ref().is_none_or(|end| !end.ok()));
            let runner = matches!(run.tool.as_str(), "hook-run" | "hyp-call");
            let consequence = run.done == Some(1)
                && runner
                && (ledger
                    .stopped_by_upstream
                    .contains(&(run.host.clone(), run.stage.clone()))
                    || (something_failed && own_calls().next().is_none()));
            let tool = match &run.host {
                Some(host) if ledger.show_hosts => format!("{host}: {}", run.tool),
                _ => run.tool.clone(),
            };
            match run.done {
                None => Some((
                    run,
                    format!(
                        "{tool} ({}) ended without a done record: it crashed or was killed",
                        run.stage
                    ),
                )),
                Some(0) => None,
                Some(_) if explained || consequence => None,
                Some(status) => {
                    let mut line = format!("{tool} ({}) exited with status {status}", run.stage);
                    if let Some(message) = &run.message {
                        line.push_str(": ");
                        line.push_str(message);
                    }
                    Some((run, line))
                }
            }
        })
        .collect()
}

fn failures(out: &mut Lines, ledger: &Ledger, ctx: &Context<'_>) {
    let bad_calls: Vec<&Call> = ledger
        .calls
        .iter()
        .filter(|call| call.end.as_ref().is_none_or(|end| !end.ok()))
        .collect();
    let bad_tools: Vec<String> = tool_failures(ledger)
        .into_iter()
        .map(|(_, line)| line)
        .collect();
    let bad_jobs: Vec<_> = ledger.jobs.failed().collect();
    if bad_calls.is_empty() && bad_tools.is_empty() && bad_jobs.is_empty() {
        return;
    }
    heading(out, "Failures");
    for call in &bad_calls {
        let mut line = vec![Seg::plain(format!("{}: ", call.label(ledger.show_hosts)))];
        line.extend(how_it_ended(call));
        out.push(line);
        if call.ring.is_empty() {
            out.push(vec![Seg::plain("    (no output)")]);
        } else {
            let count = call.ring.lines().count();
            let title = if count == RING_LINES {
                format!("    last {RING_LINES} lines of output:")
            } else {
                format!("    output ({}):", plural(count as u64, "line", "lines"))
            };
            out.push(vec![Seg::plain(title)]);
            for kept in call.ring.lines() {
                let mark = if kept.stream == 1 { "!" } else { "|" };
                let cut = if kept.cut { " [cut]" } else { "" };
                out.push(vec![Seg::plain(format!(
                    "    {mark} {}{cut}",
                    hookpipe::bytes::escaped(&kept.text)
                ))]);
            }
        }
    }
    for job in bad_jobs {
        let mut line = format!("async job {}: {}", job.name, job.status);
        if let Some(code) = job.exit_code {
            line.push_str(&format!(", exit {code}"));
        }
        if let Some(by) = &job.started_by {
            line.push_str(&format!(", started by {by}"));
        }
        if let Some(by) = &job.waited_by {
            line.push_str(&format!(", awaited by {by}"));
        }
        if let Some(reason) = &job.reason {
            line.push_str(&format!(" ({reason})"));
        }
        out.push(vec![Seg::plain(line)]);
    }
    for line in bad_tools {
        out.push(vec![Seg::plain(line)]);
    }
    if let Some(log) = ctx.log {
        out.push(vec![Seg::plain(format!("Full log: {}", log.display()))]);
    }
}

/// Run skips grouped as the text report groups them: `(reason, count, line for people)`.
/// Skips after a failure (`upstream-failed`, `stopped`) are one group named after the
/// failure, with the reason `after-failure`; the interrupt's are another.
pub(crate) fn skip_groups(ledger: &Ledger) -> Vec<(String, u64, String)> {
    let mut groups = Vec::new();
    let count = |reason: &str| ledger.run_skips.get(reason).copied().unwrap_or(0);
    let after_failure = count("upstream-failed") + count("stopped");
    if after_failure > 0 {
        let cause = ledger.upstream.failure().map_or_else(
            || "an upstream failure".to_owned(),
            |failure| failure.describe(),
        );
        let line = format!(
            "{} skipped after {cause}",
            plural(after_failure, "call", "calls")
        );
        groups.push(("after-failure".to_owned(), after_failure, line));
    }
    let interrupted = count("interrupted");
    if interrupted > 0 {
        let line = format!(
            "{} skipped after the interrupt",
            plural(interrupted, "call", "calls")
        );
        groups.push(("interrupted".to_owned(), interrupted, line));
    }
    for (reason, count) in &ledger.run_skips {
        if !matches!(
            reason.as_str(),
            "upstream-failed" | "stopped" | "interrupted"
        ) {
            let line = format!("{} skipped: {reason}", plural(*count, "call", "calls"));
            groups.push((reason.clone(), *count, line));
        }
    }
    groups
}

/// Run skips grouped: the failure that caused them is named once.
fn run_skips(out: &mut Lines, ledger: &Ledger) {
    if ledger.run_skips.is_empty() {
        return;
    }
    heading(out, "Skipped calls");
    for (_, _, line) in skip_groups(ledger) {
        out.push(vec![Seg::plain(line)]);
    }
}

/// The run's result word (`ok`, `failed`, `interrupted`) and its colour.
pub(crate) fn verdict(ctx: &Context<'_>) -> (&'static str, Paint) {
    match (ctx.signal, ctx.exit) {
        (Some(_), _) => ("interrupted", Paint::Yellow),
        (None, 0) => ("ok", Paint::Green),
        (None, code) if code >= 128 => ("interrupted", Paint::Yellow),
        _ => ("failed", Paint::Red),
    }
}

/// The result word of one host of a merged run, from the status its records give.
pub(crate) fn host_verdict(status: u8) -> &'static str {
    match status {
        0 => "ok",
        130 | 143 => "interrupted",
        _ => "failed",
    }
}

/// A merged run's row per host: its result, calls by status and wall time (from its own
/// records' times, so a skewed clock shows in its own row only).
fn hosts(out: &mut Lines, ledger: &Ledger) {
    if !ledger.show_hosts {
        return;
    }
    heading(out, "Hosts");
    let names: Vec<&str> = ledger
        .hosts
        .iter()
        .map(|run| run.name.as_deref().unwrap_or("(no host)"))
        .collect();
    let host_w = width("host", names.iter().copied());
    for (run, name) in ledger.hosts.iter().zip(&names) {
        let mine = || {
            ledger
                .calls
                .iter()
                .filter(|call| call.host.as_deref() == run.name.as_deref())
        };
        let mut tally: Vec<(&str, u64)> = Vec::new();
        for call in mine() {
            let status = status_of(call);
            match tally.iter_mut().find(|(seen, _)| *seen == status) {
                Some(row) => row.1 += 1,
                None => tally.push((status, 1)),
            }
        }
        let skipped = ledger
            .skipped
            .iter()
            .filter(|skip| skip.host == run.name)
            .count() as u64;
        if skipped > 0 {
            tally.push(("skipped", skipped));
        }
        let parts: Vec<String> = tally
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        let calls = plural(mine().count() as u64, "hook call", "hook calls");
        let wall = match (run.first_ms, run.last_ms) {
            (Some(first), Some(last)) => format!(
                ", {} ({} to {})",
                secs(last.saturating_sub(first)),
                stamp_of(first),
                stamp_of(last)
            ),
            _ => String::new(),
        };
        let word = host_verdict(ledger.host_status(run));
        let paint = if word == "ok" {
            Paint::Green
        } else {
            Paint::Red
        };
        out.push(vec![
            Seg::plain(format!("{}  ", pad(name, host_w))),
            Seg::painted(word, paint),
            Seg::plain(format!(": {calls}: {}{wall}", parts.join(", "))),
        ]);
    }
}

/// A resumed run (`--resume`, `--from`): which stages were reused from which run, with
/// the times they originally ran, and which ran now and why.
fn resumed(out: &mut Lines, ledger: &Ledger) {
    let rows: Vec<_> = ledger.resumed().collect();
    if rows.is_empty() {
        return;
    }
    heading(out, "Resumed run");
    let labels: Vec<String> = rows
        .iter()
        .map(|row| match &row.host {
            Some(host) if ledger.show_hosts => format!("{host} {}", row.stage),
            _ => row.stage.clone(),
        })
        .collect();
    let stage_w = width("stage", labels.iter().map(String::as_str));
    for (row, label) in rows.iter().zip(&labels) {
        let text = match row.action.as_str() {
            "reused" => {
                let times = match (
                    row.started
                        .as_deref()
                        .and_then(hookpipe::time::parse_rfc3339),
                    row.finished
                        .as_deref()
                        .and_then(hookpipe::time::parse_rfc3339),
                ) {
                    (Some(start), Some(end)) => format!(
                        " (ran {} to {}, {})",
                        stamp_of(start),
                        stamp_of(end),
                        secs(end.saturating_sub(start))
                    ),
                    _ => String::new(),
                };
                format!("reused from run {}{times}", row.run)
            }
            _ => format!(
                "ran now: {}",
                row.reason.as_deref().unwrap_or("no usable checkpoint")
            ),
        };
        out.push(vec![Seg::plain(format!("{}  {text}", pad(label, stage_w)))]);
    }
}

fn result(out: &mut Lines, ledger: &Ledger, ctx: &Context<'_>) {
    heading(out, "Result");
    let (word, paint) = verdict(ctx);
    let mut tally: Vec<(&str, u64)> = Vec::new();
    for call in &ledger.calls {
        let status = status_of(call);
        match tally.iter_mut().find(|(seen, _)| *seen == status) {
            Some(row) => row.1 += 1,
            None => tally.push((status, 1)),
        }
    }
    let calls = if ledger.calls.is_empty() {
        "no hook calls".to_owned()
    } else {
        let parts: Vec<String> = tally
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        let reused = ledger.calls.iter().filter(|call| call.is_reused()).count();
        let reused = if reused > 0 {
            format!(" ({reused} reused from earlier runs)")
        } else {
            String::new()
        };
        format!(
            "{}: {}{reused}",
            plural(ledger.calls.len() as u64, "hook call", "hook calls"),
            parts.join(", ")
        )
    };
    out.push(vec![
        Seg::plain("Result: "),
        Seg::painted(word, paint),
        Seg::plain(format!(" (exit status {}), {calls}", ctx.exit)),
    ]);
    if let (Some(first), Some(last)) = (ledger.first_ms, ledger.last_ms) {
        out.push(vec![Seg::plain(format!(
            "Wall time: {} (first record {}, last {})",
            secs(last.saturating_sub(first)),
            stamp_of(first),
            stamp_of(last)
        ))]);
    }
    if let Some(signal) = ctx.signal {
        out.push(vec![Seg::plain(format!(
            "phase-log got {}: it logged until its input ended and now ends by it",
            signal_name(signal)
        ))]);
    }
    for problem in &ctx.problems {
        out.push(vec![Seg::plain(format!("Input: {problem}"))]);
    }
}

fn stamp_of(ms: u64) -> String {
    let mut out = String::new();
    hookpipe::time::write_stamp(&mut out, ms, ' ');
    out
}

/// Every report, in order.
pub(crate) fn build(ledger: &Ledger, ctx: &Context<'_>) -> Lines {
    let mut out = Lines::new();
    write(ledger, ctx, &mut |line| out.push(line));
    out
}

/// `--brief`: the one `Result:` line of the run.
pub(crate) fn result_line(ledger: &Ledger, ctx: &Context<'_>) -> Vec<Seg> {
    let mut out = Lines::new();
    result(&mut out, ledger, ctx);
    out.into_iter()
        .find(|line| {
            line.first()
                .is_some_and(|seg| seg.text.starts_with("Result:"))
        })
        .unwrap_or_default()
}

/// Every report, in order, one line at a time to `emit`: what the console and the log get,
/// without the whole of a long run's reports in memory at once.
pub(crate) fn write(ledger: &Ledger, ctx: &Context<'_>, emit: &mut dyn FnMut(Vec<Seg>)) {
    calls_table(ledger, emit);
    let mut out = Lines::new();
    stage_totals(&mut out, ledger);
    slowest(&mut out, ledger);
    timers(&mut out, ledger);
    async_jobs(&mut out, ledger);
    entry_skips(&mut out, ledger);
    warnings(&mut out, ledger);
    failures(&mut out, ledger, ctx);
    run_skips(&mut out, ledger);
    resumed(&mut out, ledger);
    hosts(&mut out, ledger);
    result(&mut out, ledger, ctx);
    out.into_iter().for_each(emit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpipe::record::{End, EndStatus, Job, JobEvent, JobStatus};

    fn text(lines: &Lines) -> String {
        lines
            .iter()
            .map(|segs| segs.iter().map(|seg| seg.text.as_str()).collect::<String>() + "\n")
            .collect()
    }

    fn end(id: &str, stage: &str, status: &str, ms: u64) -> End {
        End {
            exit_code: Some(if status == "ok" { 0 } else { 1 }),
            duration_ms: ms,
            ..End::new(
                id.into(),
                stage.into(),
                EndStatus::parse(status).unwrap(),
                String::new(),
            )
        }
    }

    #[test]
    fn empty_run_says_so() {
        let report = text(&build(&Ledger::default(), &Context::default()));
        assert!(report.contains("no hook calls"), "{report}");
        assert!(report.contains("Result: ok (exit status 0)"), "{report}");
        assert!(!report.contains("Failures"), "{report}");
    }

    #[test]
    fn slowest_first_and_stage_totals() {
        let mut ledger = Ledger::default();
        ledger.end(&end("a/1.sh", "a", "ok", 5));
        ledger.end(&end("a/2.sh", "a", "ok", 50));
        ledger.end(&end("b/3.sh", "b", "ok", 20));
        let report = text(&build(&ledger, &Context::default()));
        let slow = report.split("=== Slowest calls ===\n").nth(1).unwrap();
        let order: Vec<&str> = slow.lines().take(3).collect();
        assert_eq!(
            order,
            ["0.050s  a/2.sh", "0.020s  b/3.sh", "0.005s  a/1.sh"]
        );
        assert!(report.contains("a          2  0.055s"), "{report}");
    }

    #[test]
    fn timers_sum_names_and_calls() {
        let mut ledger = Ledger::default();
        ledger.timer("pip_install", 700);
        ledger.timer("pip_install", 300);
        ledger.timer("git_timed", 5);
        let report = text(&build(&ledger, &Context::default()));
        assert!(report.contains("pip_install      2  1.000s"), "{report}");
        assert!(report.contains("git_timed        1  0.005s"), "{report}");
    }

    fn job(event: &str, name: &str, id: &str) -> Job {
        Job {
            id: Some(id.into()),
            name: Some(name.into()),
            ..Job::new(
                JobEvent::parse(event).unwrap(),
                "2026-12-04T16:31:20.000Z".into(),
            )
        }
    }

    #[test]
    fn async_jobs_are_reported_with_both_hooks_and_failures_name_them() {
        let mut ledger = Ledger::default();
        let mut start = job("start", "install_tempest", "stack/install/80-tempest.sh");
        start.started = Some("2026-12-04T16:31:20.000Z".into());
        ledger.jobs.record(None, &start);
        let mut wait = job("wait", "install_tempest", "stack/test-config/80-tempest.sh");
        wait.status = Some(JobStatus::Failed);
        wait.exit_code = Some(3);
        wait.ended = Some("2026-12-04T16:31:22.000Z".into());
        ledger.jobs.record(None, &wait);
        ledger
            .jobs
            .record(None, &job("start", "orphan", "stack/install/40-jobs.sh"));
        ledger.timer("async_wait", 1500);
        let report = text(&build(&ledger, &Context::default()));
        let jobs = report.split("=== Async jobs ===\n").nth(1).unwrap();
        assert!(
            jobs.lines().any(|line| line.starts_with("install_tempest")
                && line.contains("stack/install/80-tempest.sh")
                && line.contains("stack/test-config/80-tempest.sh")
                && line.contains("failed 3")
                && line.ends_with("2.000s")),
            "{report}"
        );
        assert!(
            jobs.contains("not awaited: orphan (started by stack/install/40-jobs.sh"),
            "{report}"
        );
        assert!(
            jobs.contains("Time in the background: 2.000s, waiting for it: 1.500s, saved: 0.500s"),
            "{report}"
        );
        assert!(
            report.contains("async job install_tempest: failed, exit 3, started by stack/install/80-tempest.sh, awaited by stack/test-config/80-tempest.sh"),
            "{report}"
        );
    }
}
