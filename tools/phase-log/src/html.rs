//! `--html FILE`: a page for people, one file that opens anywhere: a timeline of the run
//! (one row per hook call, grouped by stage in order, a bar from the call's start to its
//! end on one time axis, coloured by status, its duration beside it and in the bar's
//! `<title>` tooltip, a band per stage; in a merged multi-node run a lane per host, headed
//! by the host's name, result and span, holding that host's stages; below the stages a bar
//! per async job, from its start to its end), then the run's result, the `echo_summary` lines,
//! the failures with their last lines of output, timers, warnings and skips, and the whole
//! text report folded away.
//!
//! The page is self-contained: inline CSS and SVG, no script, no link to anything, so it
//! works from a CI artifact store or a mail attachment, offline. It is written as XHTML-
//! compatible HTML (every element closed, every attribute quoted, only XML's entities),
//! so an XML parser can check it. Rows are 16 pixels high and the page scrolls, which
//! keeps hundreds of calls readable. Like the other reports it is built from the
//! [`Ledger`] alone, after the input ended.

use std::io::{self, Write};

use crate::jobs::Jobs;
use crate::ledger::Ledger;
use crate::render::{plural, secs};
use crate::report::{self, ending_text, Context};
use crate::sink::Seg;
use crate::view::{self, Row};
use crate::xml::Writer;

/// Width of the time axis in SVG user units; bars are placed in these.
const AXIS: f64 = 1000.0;
/// The narrowest bar drawn, so an instant call still shows.
const MIN_BAR: f64 = 2.0;

const STYLE: &str = "
body { font: 13px/1.35 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 16px 20px; color: #1d1d1f; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 22px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 2px; }
h3 { font-size: 13px; margin: 12px 0 4px; font-family: ui-monospace, monospace; }
.sub { color: #555; margin: 0 0 10px; }
.word { padding: 1px 8px; border-radius: 3px; color: #fff; }
.legend span { margin-right: 14px; white-space: nowrap; }
.legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; border-radius: 2px; vertical-align: -1px; }
.timeline { border: 1px solid #ddd; border-radius: 4px; padding: 4px 0; }
.row { display: flex; align-items: center; height: 16px; padding: 0 8px; }
.row.call:hover { background: #f0f4ff; }
.label { flex: 0 0 26em; box-sizing: border-box; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font: 12px ui-monospace, monospace; padding-right: 8px; }
.call .label { padding-left: 1.5em; }
.track { flex: 1 1 auto; min-width: 0; height: 10px; }
.dur { flex: 0 0 6.5em; text-align: right; font: 11px ui-monospace, monospace; color: #444; }
.stage { height: 20px; margin-top: 4px; font-weight: 600; }
.stage .label { font-weight: 600; }
.stage .count { font-weight: 400; color: #666; }
.axis { height: 18px; border-bottom: 1px solid #ddd; margin-bottom: 2px; }
.ticks { flex: 1 1 auto; position: relative; height: 14px; font-size: 11px; color: #666; }
.ticks span { position: absolute; top: 0; padding-left: 2px; border-left: 1px solid #bbb; }
.band { fill: #e8eaf6; }
.host { height: 22px; margin-top: 10px; background: #eceff1; border-top: 2px solid #90a4ae; }
.host .label { font-weight: 700; }
.hostband { fill: #90a4ae; }
.ok { fill: #2e7d32; background: #2e7d32; }
.failed { fill: #c62828; background: #c62828; }
.timeout { fill: #ef6c00; background: #ef6c00; }
.interrupted { fill: #7b1fa2; background: #7b1fa2; }
.killed { fill: #ad1457; background: #ad1457; }
.unfinished { fill: #5d4037; background: #5d4037; }
.skipped { fill: #9e9e9e; background: #9e9e9e; }
.other { fill: #455a64; background: #455a64; }
pre { background: #f6f6f6; border: 1px solid #e3e3e3; border-radius: 3px; padding: 6px 8px; overflow-x: auto; font: 12px/1.4 ui-monospace, monospace; margin: 4px 0; }
.err { color: #b00020; }
table { border-collapse: collapse; }
td, th { padding: 1px 12px 1px 0; text-align: left; vertical-align: top; }
td.num { text-align: right; font-family: ui-monospace, monospace; }
.muted { color: #666; }
";

/// The CSS class of a status word: its own for the known ones.
fn class(status: &str) -> &'static str {
    match status {
        "ok" => "ok",
        "failed" => "failed",
        "timeout" => "timeout",
        "interrupted" => "interrupted",
        "killed" => "killed",
        "unfinished" => "unfinished",
        "skipped" => "skipped",
        _ => "other",
    }
}

/// The time axis: where the run starts and how long it is.
struct Axis {
    t0: u64,
    span: u64,
}

impl Axis {
    fn new(ledger: &Ledger, stages: &[view::Stage<'_>]) -> Axis {
        let rows = || stages.iter().flat_map(|stage| stage.rows.iter());
        let jobs = || ledger.jobs.rows.iter();
        let first = rows()
            .filter_map(Row::start_ms)
            .chain(jobs().filter_map(|job| job.start_ms))
            .chain(ledger.first_ms)
            .min()
            .unwrap_or(0);
        let last = rows()
            .filter_map(|row| row.end_ms().or(row.start_ms()))
            .chain(jobs().filter_map(|job| job.end_ms.or(job.start_ms)))
            .chain(ledger.last_ms)
            .max()
            .unwrap_or(first);
        Axis {
            t0: first,
            span: last.saturating_sub(first).max(1),
        }
    }

    fn x(&self, ms: u64) -> f64 {
        ms.saturating_sub(self.t0) as f64 / self.span as f64 * AXIS
    }

    /// `(x, width)` of a bar from `from` to `to`, at least [`MIN_BAR`] wide and inside.
    fn bar(&self, from: u64, to: u64) -> (f64, f64) {
        let x = self.x(from).min(AXIS);
        let width = (self.x(to.max(from)) - x).max(MIN_BAR);
        (x.min(AXIS - width).max(0.0), width)
    }

    fn end(&self) -> u64 {
        self.t0.saturating_add(self.span)
    }

    /// A round tick step giving at most 10 ticks.
    fn step(&self) -> u64 {
        let mut unit = 1u64;
        loop {
            for factor in [1, 2, 5] {
                let step = unit.saturating_mul(factor);
                if self.span / step <= 10 {
                    return step;
                }
            }
            unit = unit.saturating_mul(10);
        }
    }
}

/// `12s`, `1.5s`, `0.25s`: as many decimals as the step needs.
fn tick_label(ms: u64, step: u64) -> String {
    let secs = ms as f64 / 1000.0;
    match step {
        1000.. => format!("{}s", ms / 1000),
        100.. => format!("{secs:.1}s"),
        10.. => format!("{secs:.2}s"),
        _ => format!("{secs:.3}s"),
    }
}

fn num(value: f64) -> String {
    format!("{value:.2}")
}

/// One `<rect>` of a timeline row with its hover text (a call's or a job's bar, a stage's or
/// a host's band): every bar of the page is drawn here, so they stay alike.
fn timeline_rect(
    w: &mut Writer,
    class: &str,
    (x, width): (&str, &str),
    (y, height): (&str, &str),
    tip: &str,
) {
    w.open(
        "rect",
        &[
            ("class", class),
            ("x", x),
            ("y", y),
            ("width", width),
            ("height", height),
        ],
    );
    w.element("title", &[], tip.as_bytes());
    w.close("rect");
}

/// Vertical grid lines, one per tick, drawn by the tracks' background.
fn grid_style(axis: &Axis) -> String {
    let tile = axis.step() as f64 / axis.span as f64 * 100.0;
    format!(
        ".track {{ background-image: linear-gradient(to right, #e2e2e2 1px, transparent 1px); background-size: {tile:.4}% 100%; }}\n"
    )
}

fn timeline(w: &mut Writer, axis: &Axis, stages: &[view::Stage<'_>], jobs: &Jobs) {
    let step = axis.step();
    w.open("div", &[("class", "timeline")]);
    w.open("div", &[("class", "row axis")]);
    w.element(
        "span",
        &[("class", "label muted")],
        b"time from the first record",
    );
    w.open("div", &[("class", "ticks")]);
    let mut at = 0;
    while at <= axis.span {
        let left = format!("left: {:.3}%", at as f64 / axis.span as f64 * 100.0);
        w.element("span", &[("style", &left)], tick_label(at, step).as_bytes());
        at = match at.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    w.close("div");
    w.element("span", &[("class", "dur muted")], b"duration");
    w.close("div");
    let mut lane = None;
    for (at, stage) in stages.iter().enumerate() {
        if stage.host.is_some() && lane != Some(stage.host) {
            lane = Some(stage.host);
            let same: Vec<&view::Stage<'_>> = stages[at..]
                .iter()
                .take_while(|next| next.host == stage.host)
                .collect();
            host_row(w, axis, stage.host.unwrap_or_default(), &same);
        }
        stage_row(w, axis, stage);
        for row in &stage.rows {
            call_row(w, axis, stage, row);
        }
    }
    job_rows(w, axis, jobs);
    w.close("div");
}

/// DevStack's async jobs below the stages: a heading row, then one bar per job from its
/// start to its end (to the end of the axis while it still runs), coloured by how it ended.
fn job_rows(w: &mut Writer, axis: &Axis, jobs: &Jobs) {
    if jobs.rows.is_empty() {
        return;
    }
    w.open("div", &[("class", "row stage")]);
    let count = plural(jobs.rows.len() as u64, "job", "jobs");
    w.open("span", &[("class", "label"), ("title", "async jobs")]);
    w.inline("span", &[], b"async jobs");
    w.raw(" ");
    w.inline("span", &[("class", "count")], count.as_bytes());
    w.raw("\n");
    w.close("span");
    svg_open(w);
    w.close("svg");
    w.element("span", &[("class", "dur")], b"");
    w.close("div");
    for job in &jobs.rows {
        let status = match job.status.as_str() {
            "ok" => "ok",
            "stopped" => "interrupted",
            "running" => "unfinished",
            _ => "failed",
        };
        w.open("div", &[("class", "row call")]);
        w.element(
            "span",
            &[("class", "label"), ("title", &job.name)],
            format!("job {}", job.name).as_bytes(),
        );
        svg_open(w);
        let label = job.duration_ms().map_or_else(|| job.status.clone(), secs);
        let mut tip = format!("async job {}: {}", job.name, job.status);
        if let Some(code) = job.exit_code {
            tip.push_str(&format!(", exit {code}"));
        }
        tip.push_str(&format!(
            ", started by {}, awaited by {}",
            job.started_by.as_deref().unwrap_or("the calling script"),
            job.waited_by.as_deref().unwrap_or("nobody")
        ));
        if let Some(reason) = &job.reason {
            tip.push_str(&format!(" ({reason})"));
        }
        if let Some(from) = job.start_ms {
            let (x, width) = axis.bar(from, job.end_ms.unwrap_or_else(|| axis.end()));
            timeline_rect(
                w,
                &format!("bar {}", class(status)),
                (&num(x), &num(width)),
                ("0", "10"),
                &tip,
            );
        }
        w.close("svg");
        w.element("span", &[("class", "dur")], label.as_bytes());
        w.close("div");
    }
}

fn svg_open(w: &mut Writer) {
    w.open(
        "svg",
        &[
            ("class", "track"),
            ("viewBox", "0 0 1000 10"),
            ("preserveAspectRatio", "none"),
        ],
    );
}

/// The head of a host's lane: its name, calls and failures, and a band over its span.
fn host_row(w: &mut Writer, axis: &Axis, host: &str, stages: &[&view::Stage<'_>]) {
    let rows = || stages.iter().flat_map(|stage| stage.rows.iter());
    let calls = rows().count() as u64;
    let bad = rows()
        .filter(|row| !matches!(row.status(), "ok" | "skipped"))
        .count();
    let mut text = plural(calls, "call", "calls");
    if bad > 0 {
        text.push_str(&format!(", {bad} not ok"));
    }
    let word = if bad > 0 { "failed" } else { "ok" };
    w.open("div", &[("class", "row host")]);
    w.open("span", &[("class", "label"), ("title", host)]);
    w.inline("span", &[], format!("host {host}").as_bytes());
    w.raw(" ");
    w.inline(
        "span",
        &[("class", &format!("word {word}"))],
        word.as_bytes(),
    );
    w.raw(" ");
    w.inline("span", &[("class", "count")], text.as_bytes());
    w.raw("\n");
    w.close("span");
    svg_open(w);
    let spans: Vec<(u64, u64)> = stages.iter().filter_map(|stage| stage.span()).collect();
    if let (Some(from), Some(to)) = (
        spans.iter().map(|span| span.0).min(),
        spans.iter().map(|span| span.1).max(),
    ) {
        let (x, width) = axis.bar(from, to);
        let tip = format!("{host}: {text}, {}", secs(to.saturating_sub(from)));
        timeline_rect(w, "hostband", (&num(x), &num(width)), ("3", "4"), &tip);
    }
    w.close("svg");
    w.element("span", &[("class", "dur")], b"");
    w.close("div");
}

fn stage_row(w: &mut Writer, axis: &Axis, stage: &view::Stage<'_>) {
    w.open("div", &[("class", "row stage")]);
    let mut counts = vec![plural(stage.rows.len() as u64, "call", "calls")];
    for status in [
        "failed",
        "timeout",
        "killed",
        "interrupted",
        "unfinished",
        "skipped",
    ] {
        let n = stage.count(status);
        if n > 0 {
            counts.push(format!("{n} {status}"));
        }
    }
    let counts = counts.join(", ");
    w.open("span", &[("class", "label"), ("title", stage.name)]);
    w.inline("span", &[], stage.name.as_bytes());
    w.raw(" ");
    w.inline("span", &[("class", "count")], counts.as_bytes());
    w.raw("\n");
    w.close("span");
    svg_open(w);
    if let Some((from, to)) = stage.span() {
        let (x, width) = axis.bar(from, to);
        let tip = format!(
            "{}: {}, {} of calls",
            stage.name,
            counts,
            secs(stage.duration_ms())
        );
        timeline_rect(w, "band", (&num(x), &num(width)), ("0", "10"), &tip);
    }
    w.close("svg");
    w.element(
        "span",
        &[("class", "dur")],
        secs(stage.duration_ms()).as_bytes(),
    );
    w.close("div");
}

fn call_row(w: &mut Writer, axis: &Axis, stage: &view::Stage<'_>, row: &Row<'_>) {
    // A stage has a host only where hosts are shown (a merged run).
    let show_hosts = stage.host.is_some();
    let status = row.status();
    w.open("div", &[("class", "row call")]);
    w.element(
        "span",
        &[("class", "label"), ("title", row.id())],
        row.short_name(stage.name).as_bytes(),
    );
    svg_open(w);
    let (label, tip) = match row {
        Row::Call(call) => {
            let label = call
                .end
                .as_ref()
                .map_or_else(|| "unfinished".to_owned(), |end| secs(end.duration_ms));
            (
                label,
                format!("{}: {}", call.label(show_hosts), ending_text(call)),
            )
        }
        Row::Skipped(skip) => (
            "skipped".to_owned(),
            format!("{}: skipped, {}: {}", skip.id, skip.reason, skip.message),
        ),
    };
    if let Some(from) = row.start_ms() {
        // A call still running when the input ended reaches the end of the axis.
        let to = row.end_ms().unwrap_or_else(|| axis.end());
        let (x, width) = axis.bar(from, to);
        timeline_rect(
            w,
            &format!("bar {}", class(status)),
            (&num(x), &num(width)),
            ("0", "10"),
            &tip,
        );
    } else {
        // No time at all (a skip record without one): a bar at the start, so every call
        // still has exactly one.
        timeline_rect(
            w,
            &format!("bar {}", class(status)),
            ("0", &num(MIN_BAR)),
            ("0", "10"),
            &tip,
        );
    }
    w.close("svg");
    w.element("span", &[("class", "dur")], label.as_bytes());
    w.close("div");
}

fn legend(w: &mut Writer) {
    w.open("p", &[("class", "legend")]);
    for status in [
        "ok",
        "failed",
        "timeout",
        "killed",
        "interrupted",
        "unfinished",
        "skipped",
    ] {
        w.open("span", &[]);
        w.element("i", &[("class", class(status))], b"");
        w.raw(status);
        w.raw("\n");
        w.close("span");
    }
    w.close("p");
}

fn failures(w: &mut Writer, ledger: &Ledger) {
    let bad: Vec<_> = ledger
        .calls
        .iter()
        .filter(|call| call.end.as_ref().is_none_or(|end| !end.ok()))
        .collect();
    let tools = report::tool_failures(ledger);
    if bad.is_empty() && tools.is_empty() {
        return;
    }
    w.element("h2", &[], b"Failures");
    for call in bad {
        w.element(
            "h3",
            &[],
            format!("{}: {}", call.label(ledger.show_hosts), ending_text(call)).as_bytes(),
        );
        if call.ring.is_empty() {
            w.element("p", &[("class", "muted")], b"(no output)");
            continue;
        }
        w.open("pre", &[]);
        for kept in call.ring.lines() {
            let mut line = Vec::new();
            line.extend_from_slice(if kept.stream == 1 { b"! " } else { b"| " });
            line.extend_from_slice(&kept.text);
            if kept.cut {
                line.extend_from_slice(b" [cut]");
            }
            let class = if kept.stream == 1 { "err" } else { "out" };
            w.inline("span", &[("class", class)], &line);
            w.raw("\n");
        }
        // No indentation before the end tag: inside <pre> it would show as a blank line.
        w.close_inline("pre");
    }
    for (_, line) in tools {
        w.element("p", &[], line.as_bytes());
    }
}

/// A table of summary or warning lines; `show_hosts` puts each line's host before whom it
/// is about, as the log does in a merged run.
fn notes(w: &mut Writer, title: &str, notes: &[crate::ledger::Note], total: u64, show_hosts: bool) {
    if total == 0 {
        return;
    }
    w.element("h2", &[], title.as_bytes());
    w.open("table", &[]);
    for note in notes {
        w.open("tr", &[]);
        let mut when = String::new();
        if let Some(ms) = note.time_ms {
            hookpipe::time::write_stamp(&mut when, ms, ' ');
        }
        w.element("td", &[("class", "muted")], when.as_bytes());
        let who = match &note.host {
            Some(host) if show_hosts => format!("{host} {}", note.who),
            _ => note.who.clone(),
        };
        w.element("td", &[], who.as_bytes());
        w.element("td", &[], note.text.as_bytes());
        w.close("tr");
    }
    w.close("table");
    let more = total.saturating_sub(notes.len() as u64);
    if more > 0 {
        w.element(
            "p",
            &[("class", "muted")],
            format!("... and {more} more (see the log)").as_bytes(),
        );
    }
}

fn timers(w: &mut Writer, ledger: &Ledger) {
    if ledger.timers.is_empty() {
        return;
    }
    w.element("h2", &[], b"Timers (time_start/time_stop)");
    let mut rows: Vec<_> = ledger.timers.iter().collect();
    rows.sort_by(|a, b| b.1.ms.cmp(&a.1.ms).then_with(|| a.0.cmp(b.0)));
    w.open("table", &[]);
    w.raw("<tr><th>name</th><th>calls</th><th>time</th></tr>\n");
    for (name, bucket) in rows {
        w.open("tr", &[]);
        w.element("td", &[], name.as_bytes());
        w.element(
            "td",
            &[("class", "num")],
            bucket.calls.to_string().as_bytes(),
        );
        w.element("td", &[("class", "num")], secs(bucket.ms).as_bytes());
        w.close("tr");
    }
    w.close("table");
}

fn skips(w: &mut Writer, ledger: &Ledger) {
    let groups = report::skip_groups(ledger);
    if groups.is_empty() && ledger.entry_skips_total == 0 {
        return;
    }
    w.element("h2", &[], b"Skipped");
    for (_, _, line) in groups {
        w.element("p", &[], line.as_bytes());
    }
    for skip in &ledger.entry_skips {
        w.element(
            "p",
            &[],
            format!("{}: {}: {}", skip.what, skip.reason, skip.message).as_bytes(),
        );
    }
}

fn segs_text(segs: &[Seg]) -> String {
    segs.iter().map(|seg| seg.text.as_str()).collect()
}

/// Writes the page; see the module docs.
pub(crate) fn write(out: &mut dyn Write, ledger: &Ledger, ctx: &Context<'_>) -> io::Result<()> {
    let stages = view::stages(ledger);
    let axis = Axis::new(ledger, &stages);
    let (word, _) = report::verdict(ctx);
    let mut w = Writer::default();
    w.raw("<!DOCTYPE html>\n");
    w.open("html", &[("lang", "en")]);
    w.open("head", &[]);
    w.empty("meta", &[("charset", "utf-8")]);
    w.empty(
        "meta",
        &[
            ("name", "viewport"),
            ("content", "width=device-width, initial-scale=1"),
        ],
    );
    w.element("title", &[], format!("hookpipe run: {word}").as_bytes());
    // Raw: a style element's text is not entity-decoded by HTML parsers, and both parts are
    // our own constant CSS without `<` or `&`.
    w.raw("<style>");
    w.raw(STYLE);
    w.raw(&grid_style(&axis));
    w.raw("</style>\n");
    w.close("head");
    w.open("body", &[]);
    w.open("h1", &[]);
    w.raw("hookpipe run ");
    let result_class = match word {
        "ok" => "word ok",
        "interrupted" => "word interrupted",
        _ => "word failed",
    };
    w.inline("span", &[("class", result_class)], word.as_bytes());
    w.raw("\n");
    w.close("h1");
    // The text report's Result section, line for line.
    let lines = report::build(ledger, ctx);
    let result_at = lines
        .iter()
        .rposition(|segs| segs_text(segs) == "=== Result ===")
        .map_or(lines.len(), |at| at + 1);
    for segs in &lines[result_at..] {
        w.element("p", &[("class", "sub")], segs_text(segs).as_bytes());
    }
    legend(&mut w);
    if stages.is_empty() && ledger.jobs.rows.is_empty() {
        w.element("p", &[("class", "muted")], b"No hook calls.");
    } else {
        timeline(&mut w, &axis, &stages, &ledger.jobs);
    }
    notes(
        &mut w,
        "Summary",
        &ledger.summaries,
        ledger.summaries_total,
        ledger.show_hosts,
    );
    failures(&mut w, ledger);
    timers(&mut w, ledger);
    notes(
        &mut w,
        "Warnings",
        &ledger.warnings,
        ledger.warnings_total,
        ledger.show_hosts,
    );
    skips(&mut w, ledger);
    w.open("details", &[]);
    w.element("summary", &[], b"The text report");
    let text: String = lines.iter().map(|segs| segs_text(segs) + "\n").collect();
    w.element("pre", &[], text.trim_matches('\n').as_bytes());
    w.close("details");
    w.close("body");
    w.close("html");
    out.write_all(w.out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        let axis = |span| Axis { t0: 0, span };
        assert_eq!(axis(1).step(), 1);
        assert_eq!(axis(95).step(), 10);
        assert_eq!(axis(12_345).step(), 2000);
        assert_eq!(axis(3_600_000).step(), 500_000);
        assert_eq!(tick_label(1500, 500), "1.5s");
        assert_eq!(tick_label(12_000, 2000), "12s");
    }

    #[test]
    fn bars_stay_inside_the_axis_and_visible() {
        let axis = Axis {
            t0: 100,
            span: 1000,
        };
        assert_eq!(axis.bar(100, 100), (0.0, MIN_BAR));
        assert_eq!(axis.bar(1100, 1100), (AXIS - MIN_BAR, MIN_BAR));
        assert_eq!(axis.bar(600, 1100), (500.0, 500.0));
        // A time before the axis (a clock step) clamps rather than going negative.
        assert_eq!(axis.bar(0, 50), (0.0, MIN_BAR));
    }
}
