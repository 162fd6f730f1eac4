//! The reading loop: every record of the stream becomes a log line (or nothing), and
//! what the reports need goes into the [`Ledger`].
//!
//! `output` records are most of a stream, so they are decoded by hand (the record module's
//! [`output::decode`]), and
//! they (and `summary`, `warning`, `trace`) otherwise into borrowed views that allocate
//! nothing for plain text; their stamp is reformatted only when the time changes; and
//! nothing is flushed per line: the sinks are flushed when the reader is about to wait
//! for input (no whole record left in its buffer, known from the lines numbered under it by
//! `records::Tee`), so lines appear live without a write per line. `state` records are
//! never decoded.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use hookpipe::bytes::display;
use hookpipe::exit::Outcome;
use hookpipe::record::{
    host_of, output, Begin, Checkpoint, CheckpointAction, Data, Done, End, Hook, Hypervisor, Job,
    JobEvent, JobStatus, Record, Skip, SkipReason, Start, Stream, Timer,
};
use hookpipe::stream::{Malformed, RawRecord, ReadError, RecordReader};
use hookpipe::time::{now_ms, parse_rfc3339, push_log_stamp, write_stamp};

use crate::ledger::{EntrySkip, Ledger};
use crate::progress::Handle;
use crate::render::{
    for_console, is_output_noise, is_trace_noise, leading_stamp, secs, signal_name, Paint,
};
use crate::report::{self, Context};
use crate::sink::{Line, Route, Router};
use crate::{html, json_report, junit, records};

/// A JSON string borrowed from the input line when it has no escapes, owned otherwise.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor(std::marker::PhantomData))
    }
}

/// `output`, borrowed (see [`hookpipe::record::Output`] for the fields).
#[derive(Deserialize)]
struct OutputView<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    stream: Stream,
    #[serde(borrow, default)]
    text: Option<Str<'a>>,
    #[serde(borrow, default)]
    text_base64: Option<Str<'a>>,
    #[serde(default)]
    partial: bool,
    #[serde(borrow)]
    time: Str<'a>,
}

/// `summary`, `warning` and `trace`, borrowed (see [`hookpipe::record::Line`]).
#[derive(Deserialize)]
struct LineView<'a> {
    #[serde(borrow, default)]
    id: Option<Str<'a>>,
    #[serde(borrow, default)]
    text: Option<Str<'a>>,
    #[serde(borrow, default)]
    text_base64: Option<Str<'a>>,
    #[serde(borrow)]
    time: Str<'a>,
}

/// The fields of an `output` record, however it was decoded (by the record module's fast
/// path or by serde).
#[derive(Debug, Clone, Copy)]
struct Fields<'a> {
    id: &'a str,
    stream: Stream,
    text: Option<&'a str>,
    text_base64: Option<&'a str>,
    partial: bool,
    time: &'a str,
}

impl<'a> From<&output::Borrowed<'a>> for Fields<'a> {
    fn from(out: &output::Borrowed<'a>) -> Fields<'a> {
        Fields {
            id: out.id,
            stream: out.stream,
            text: Some(out.text),
            text_base64: None,
            partial: out.partial,
            time: out.time,
        }
    }
}

impl<'a> OutputView<'a> {
    fn fields(&'a self) -> Fields<'a> {
        Fields {
            id: &self.id.0,
            stream: self.stream,
            text: self.text.as_ref().map(|text| &*text.0),
            text_base64: self.text_base64.as_ref().map(|text| &*text.0),
            partial: self.partial,
            time: &self.time.0,
        }
    }
}

fn view<'a, T: Deserialize<'a>>(raw: &'a RawRecord<'_>) -> Result<T, Malformed> {
    serde_json::from_slice(raw.line).map_err(|err| Malformed {
        lineno: raw.lineno,
        reason: format!("bad `{}` record: {err}", raw.kind),
    })
}

/// The bytes of a text-or-bytes field pair, borrowed when they are text. Only bytes from
/// the base64 form may be invalid UTF-8; `Cow::Borrowed` here means "known UTF-8".
fn field_bytes<'a>(
    lineno: u64,
    text: Option<&'a str>,
    base64: Option<&str>,
) -> Result<Cow<'a, [u8]>, Malformed> {
    match (text, base64) {
        (Some(text), _) => Ok(Cow::Borrowed(text.as_bytes())),
        (None, Some(encoded)) => Data::from_base64("text", encoded)
            .map(|data| Cow::Owned(data.into_bytes()))
            .map_err(|reason| Malformed { lineno, reason }),
        (None, None) => Ok(Cow::Borrowed(&[])),
    }
}

/// The console form of `body`: bytes that came as JSON text (`known_utf8`) need no
/// escaping and no second UTF-8 check, which matters on the hot path.
fn console_form(known_utf8: bool, body: &[u8]) -> Cow<'_, [u8]> {
    if known_utf8 {
        Cow::Borrowed(body)
    } else {
        for_console(body)
    }
}

/// A path-like text-or-bytes field for people.
fn shown(data: Option<&Data>) -> Option<String> {
    data.map(|data| display(data.as_bytes()))
}

/// What phase-log knows of itself while it runs.
#[derive(Debug, Default)]
pub struct Options {
    /// Keep xtrace save/restore noise (`--keep-noise`).
    pub keep_noise: bool,
    /// The log file named in the reports.
    pub log_path: Option<PathBuf>,
    /// The file reports to write at the end (`--json-report`, `--junit`, `--html`).
    pub reports: Vec<ReportFile>,
    /// The live status line, when stderr is a terminal.
    pub progress: Option<Handle>,
    /// `--records FILE`: its name, for messages, and the file.
    pub records: Option<(String, File)>,
    /// Put each record's host before who a log line is about (a merged run of several
    /// hosts: `subnode1 stack/install/50-template.sh | text`).
    pub show_hosts: bool,
    /// `--brief`: the `Result:` line instead of the reports (one phase of a longer run).
    pub brief: bool,
}

/// Which file report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    Json,
    Junit,
    Html,
}

/// A file report, opened before the input is read (so a bad path fails at once) and
/// written after it ended.
pub struct ReportFile {
    pub kind: ReportKind,
    /// Its path, for messages.
    pub name: String,
    pub out: Box<dyn Write>,
}

impl fmt::Debug for ReportFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportFile")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ReportFile {
    fn write(&mut self, ledger: &Ledger, context: &Context<'_>) -> std::io::Result<()> {
        match self.kind {
            ReportKind::Json => json_report::write(&mut self.out, ledger, context),
            ReportKind::Junit => junit::write(&mut self.out, ledger, context),
            ReportKind::Html => html::write(&mut self.out, ledger, context),
        }?;
        self.out.flush()
    }
}

/// How a run ends: the outcome ([`Outcome::Signal`] when phase-log itself got one and
/// must end by it) and lines for stderr.
#[derive(Debug, PartialEq)]
pub struct Ending {
    pub outcome: Outcome,
    pub messages: Vec<String>,
}

struct Logger<'r, C: Write, F: Write> {
    router: &'r mut Router<C, F>,
    progress: Option<&'r Handle>,
    ledger: Ledger,
    keep_noise: bool,
    /// The stamp of the latest record time, `YYYY-MM-DD HH:MM:SS.mmm`.
    stamp: String,
    /// The time string `stamp` was made from: equal times are not formatted again.
    stamp_from: String,
    spare: String,
    /// Lent to [`output::decode`] for text with escapes.
    scratch: String,
    /// The id [`output::decode`] decoded last: its hint for the next line.
    last_id: String,
    /// `stamp_from` in epoch milliseconds, when it parsed.
    time_ms: Option<u64>,
    /// [`Options::show_hosts`].
    show_hosts: bool,
    /// Where a host-qualified `who` is built, reused from line to line.
    who_buf: String,
}

/// A record time as log lines stamp it (`2026-11-24 22:29:14.123`), or as it came.
fn stamp_text(time: &str) -> String {
    let mut out = String::new();
    if push_log_stamp(&mut out, time) {
        out
    } else {
        time.to_owned()
    }
}

/// `who` as a log line shows it: after the record's host when hosts are shown.
fn qualified<'a>(show: bool, host: Option<&str>, buf: &'a mut String, who: &'a str) -> &'a str {
    match host {
        Some(host) if show => {
            buf.clear();
            buf.push_str(host);
            if !who.is_empty() {
                buf.push(' ');
                buf.push_str(who);
            }
            buf
        }
        _ => who,
    }
}

impl<C: Write, F: Write> Logger<'_, C, F> {
    fn saw_time(&mut self, time: &str) {
        if time == self.stamp_from {
            return;
        }
        self.stamp_from.clear();
        self.stamp_from.push_str(time);
        self.spare.clear();
        // A time in a shape we do not know keeps the previous stamp.
        if push_log_stamp(&mut self.spare, time) {
            std::mem::swap(&mut self.stamp, &mut self.spare);
        }
        self.time_ms = parse_rfc3339(time);
        if let Some(ms) = self.time_ms {
            self.ledger.saw_time(ms);
        }
    }

    /// A line about something other than an output line.
    fn event(&mut self, route: Route, who: &str, mark: &str, paint: Paint, body: &str) {
        let who = qualified(self.show_hosts, self.ledger.host(), &mut self.who_buf, who);
        let line = Line {
            stamp: self.stamp.as_bytes(),
            who: who.as_bytes(),
            mark,
            paint,
            body: body.as_bytes(),
            body_console: body.as_bytes(),
            key: None,
            cont: false,
            partial: false,
        };
        self.router.line(route, &line);
    }

    fn record(&mut self, raw: &RawRecord<'_>) -> Result<(), Malformed> {
        match &*raw.kind {
            "output" => {
                // The scratch buffer is lent to the decoder and given back, so escaped
                // text allocates nothing once it has grown.
                let mut scratch = std::mem::take(&mut self.scratch);
                let result = match output::decode(raw.line, &mut scratch, &self.last_id) {
                    Some(out) => {
                        self.ledger.set_host(out.host);
                        if out.id != self.last_id {
                            self.last_id.clear();
                            self.last_id.push_str(out.id);
                        }
                        self.output(raw.lineno, Fields::from(&out))
                    }
                    None => {
                        self.ledger.set_host(host_of(raw.line).as_deref());
                        view::<OutputView<'_>>(raw)
                            .and_then(|out| self.output(raw.lineno, out.fields()))
                    }
                };
                self.scratch = scratch;
                result
            }
            "summary" | "warning" | "trace" => {
                self.ledger.set_host(host_of(raw.line).as_deref());
                self.text_line(raw, view(raw)?)
            }
            // Large, and only runners read it.
            "state" => Ok(()),
            _ => {
                self.ledger.set_host(host_of(raw.line).as_deref());
                match raw.decode()? {
                    Record::Begin(begin) => self.begin(&begin),
                    Record::Done(done) => self.done(&done),
                    Record::Hook(hook) => self.hook(&hook),
                    Record::Skip(skip) => self.skip(&skip),
                    Record::Hypervisor(hypervisor) => self.hypervisor(&hypervisor),
                    Record::Start(start) => self.start(&start),
                    Record::Timer(timer) => self.timer(&timer),
                    Record::End(end) => self.end(&end),
                    Record::Checkpoint(checkpoint) => self.checkpoint(&checkpoint),
                    Record::Job(job) => self.job(&job),
                    // Reached only by a type the fast path above already took.
                    Record::Output(_)
                    | Record::Summary(_)
                    | Record::Warning(_)
                    | Record::Trace(_)
                    | Record::State(_)
                    | Record::Unknown => {}
                }
                Ok(())
            }
        }
    }

    fn output(&mut self, lineno: u64, out: Fields<'_>) -> Result<(), Malformed> {
        let bytes = field_bytes(lineno, out.text, out.text_base64)?;
        self.saw_time(out.time);
        let stream = u8::from(out.stream == Stream::Stderr);
        let call = self.ledger.lookup(out.id);
        let open = call.and_then(|at| self.ledger.calls[at].open[usize::from(stream)]);
        let dropped = match open {
            Some(dropped) => dropped,
            None => !self.keep_noise && is_output_noise(&bytes),
        };
        if let Some(at) = call {
            let entry = &mut self.ledger.calls[at];
            entry.open[usize::from(stream)] = out.partial.then_some(dropped);
            if !dropped && entry.end.is_none() {
                if open.is_some() {
                    entry.ring.extend_last(stream, &bytes);
                } else {
                    entry.ring.push(stream, &bytes);
                }
            }
        }
        if dropped {
            return Ok(());
        }
        let (stamp, body) = match leading_stamp(&bytes) {
            Some(found) if open.is_none() => found,
            _ => (self.stamp.as_bytes(), &bytes[..]),
        };
        let console = console_form(matches!(bytes, Cow::Borrowed(_)), body);
        let who = qualified(
            self.show_hosts,
            self.ledger.host(),
            &mut self.who_buf,
            out.id,
        );
        let line = Line {
            stamp,
            who: who.as_bytes(),
            mark: if stream == 1 { "!" } else { "|" },
            paint: Paint::Plain,
            body,
            body_console: &console,
            key: call.map(|at| (at, stream)),
            cont: open.is_some(),
            partial: out.partial,
        };
        self.router.line(Route::Log, &line);
        Ok(())
    }

    fn text_line(&mut self, raw: &RawRecord<'_>, text: LineView<'_>) -> Result<(), Malformed> {
        let mut bytes = field_bytes(
            raw.lineno,
            text.text.as_ref().map(|text| &*text.0),
            text.text_base64.as_ref().map(|text| &*text.0),
        )?;
        if &*raw.kind == "warning" && hookpipe::bytes::needs_display(&bytes) {
            // A warning is a one-line message that names things (`warn` puts the hook's
            // path in it): written by the rule for names, so a name cannot drive the
            // terminal or forge a line.
            bytes = Cow::Owned(display(&bytes).into_bytes());
        }
        self.saw_time(&text.time.0);
        let who = text.id.as_ref().map_or("", |id| &id.0);
        let (route, mark, paint) = match &*raw.kind {
            "summary" => {
                self.ledger.summary(who, display(&bytes), self.time_ms);
                (Route::Summary, "[summary]", Paint::Bold)
            }
            "warning" => {
                self.ledger.warning(who, display(&bytes), self.time_ms);
                (Route::Log, "[warning]", Paint::Yellow)
            }
            _ => {
                if !self.keep_noise && is_trace_noise(&bytes) {
                    return Ok(());
                }
                (Route::FileOnly, "[trace]", Paint::Plain)
            }
        };
        let (stamp, body) = leading_stamp(&bytes).unwrap_or((self.stamp.as_bytes(), &bytes[..]));
        let console = console_form(matches!(bytes, Cow::Borrowed(_)), body);
        let who = qualified(self.show_hosts, self.ledger.host(), &mut self.who_buf, who);
        let line = Line {
            stamp,
            who: who.as_bytes(),
            mark,
            paint,
            body,
            body_console: &console,
            key: None,
            cont: false,
            partial: false,
        };
        self.router.line(route, &line);
        Ok(())
    }

    fn begin(&mut self, begin: &Begin) {
        self.saw_time(&begin.time);
        self.ledger.begin(begin);
        let who = format!("{} {}", begin.tool, begin.stage);
        let body = format!("pid {}, version {}", begin.pid, begin.version);
        self.event(Route::Records, &who, "[begin]", Paint::Plain, &body);
    }

    fn done(&mut self, done: &Done) {
        self.saw_time(&done.time);
        self.ledger.done(done);
        let who = format!("{} {}", done.tool, done.stage);
        let paint = if done.status == 0 {
            Paint::Green
        } else {
            Paint::Red
        };
        let body = format!("status {}", done.status);
        self.event(Route::Records, &who, "[done]", paint, &body);
    }

    fn hook(&mut self, hook: &Hook) {
        let who = shown(hook.path.as_ref())
            .or_else(|| shown(hook.name.as_ref()))
            .unwrap_or_default();
        let mut body = hook.kind.as_str().to_owned();
        if let Some(services) = &hook.services {
            body.push_str(&format!(", services {}", services.join(",")));
        }
        match hook.enabled {
            Some(true) => body.push_str(", enabled"),
            Some(false) => body.push_str(", not enabled"),
            None => {}
        }
        if let Some(warning) = &hook.warning {
            body.push_str(&format!(", warning: {warning}"));
            self.ledger.warning(&who, warning.clone(), None);
        }
        self.event(Route::Records, &who, "[hook]", Paint::Plain, &body);
    }

    /// A runner's word about its stage's checkpoint: a reused stage and the run it comes
    /// from (its replayed lines follow with their original times), or why a stage runs now
    /// although resuming was asked, on the console whatever VERBOSE says; a saved
    /// checkpoint in the log file only.
    fn checkpoint(&mut self, record: &Checkpoint) {
        self.saw_time(&record.time);
        let (route, body) = match record.action {
            CheckpointAction::Reused => (
                Route::Summary,
                format!(
                    "reused from run {}{}",
                    record.run,
                    match (&record.started, &record.finished) {
                        (Some(started), Some(finished)) => format!(
                            " (it ran {} to {})",
                            stamp_text(started),
                            stamp_text(finished)
                        ),
                        _ => String::new(),
                    }
                ),
            ),
            CheckpointAction::Run => (
                Route::Summary,
                format!(
                    "runs now: {}",
                    record.reason.as_deref().unwrap_or("no usable checkpoint")
                ),
            ),
            CheckpointAction::Saved => (
                Route::FileOnly,
                format!(
                    "checkpoint {} saved",
                    record.checkpoint.as_deref().unwrap_or("")
                ),
            ),
        };
        self.event(route, &record.stage, "[resume]", Paint::Bold, &body);
        self.ledger.checkpoint(record);
    }

    fn skip(&mut self, skip: &Skip) {
        if let Some(time) = &skip.time {
            self.saw_time(time);
        }
        if let Some(id) = &skip.id {
            self.ledger.run_skip(skip);
            if let Some(progress) = self.progress {
                progress.skipped();
            }
            // The failure behind these is named once, in the reports.
            let body = match skip.reason {
                SkipReason::UpstreamFailed | SkipReason::Stopped | SkipReason::Interrupted => {
                    skip.reason.as_str().to_owned()
                }
                _ => format!("{}: {}", skip.reason, skip.message),
            };
            self.event(Route::Log, id, "[skip]", Paint::Yellow, &body);
            return;
        }
        let what = shown(skip.path.as_ref())
            .or_else(|| shown(skip.name.as_ref()))
            .unwrap_or_default();
        let body = format!("{}: {}", skip.reason, skip.message);
        if skip.reason == SkipReason::NotAHook {
            self.event(Route::FileOnly, &what, "[skip]", Paint::Plain, &body);
            return;
        }
        self.event(Route::Log, &what, "[skip]", Paint::Yellow, &body);
        self.ledger.entry_skip(EntrySkip {
            host: None,
            what,
            reason: skip.reason.as_str().to_owned(),
            message: skip.message.clone(),
        });
    }

    fn hypervisor(&mut self, hypervisor: &Hypervisor) {
        let who = format!("hypervisor:{}", hypervisor.driver);
        let path = shown(hypervisor.path.as_ref()).unwrap_or_else(|| "(no plugin file)".to_owned());
        let body = if hypervisor.missing.is_empty() {
            format!("{path}: all required functions defined")
        } else {
            format!("{path}: missing {}", hypervisor.missing.join(", "))
        };
        let paint = if hypervisor.missing.is_empty() {
            Paint::Plain
        } else {
            Paint::Red
        };
        self.event(Route::Records, &who, "[hypervisor]", paint, &body);
    }

    fn start(&mut self, start: &Start) {
        self.saw_time(&start.time);
        self.ledger.start(start);
        if let Some(progress) = self.progress {
            progress.started(&start.id);
        }
        let mut body = shown(start.path.as_ref())
            .or_else(|| shown(start.name.as_ref()))
            .unwrap_or_default();
        if let Some(function) = &start.function {
            body.push_str(&format!(" {function}"));
        }
        for arg in &start.args {
            body.push(' ');
            body.push_str(arg);
        }
        self.event(
            Route::Log,
            &start.id,
            "[start]",
            Paint::Plain,
            body.trim_start(),
        );
    }

    fn timer(&mut self, timer: &Timer) {
        self.saw_time(&timer.time);
        self.ledger.timer(&timer.name, timer.ms);
        let body = format!("{} {}", timer.name, secs(timer.ms));
        self.event(Route::Log, &timer.id, "[timer]", Paint::Plain, &body);
    }

    fn job(&mut self, job: &Job) {
        self.saw_time(&job.time);
        let host = self.ledger.host().map(str::to_owned);
        self.ledger.jobs.record(host.as_deref(), job);
        let (who, body) = crate::jobs::log_line(job);
        let bad = matches!(
            job.status,
            Some(JobStatus::Failed | JobStatus::Lost | JobStatus::Stopped)
        ) || matches!(job.event, JobEvent::Unwaited | JobEvent::Unknown);
        let paint = if bad { Paint::Yellow } else { Paint::Plain };
        self.event(Route::Log, &who, "[job]", paint, &body);
    }

    fn end(&mut self, end: &End) {
        self.saw_time(&end.time);
        self.ledger.end(end);
        if let Some(progress) = self.progress {
            progress.ended(&end.id, end.status.as_str());
        }
        let mut body = String::new();
        if let Some(signal) = end.signal {
            body.push_str(&format!("{}, ", signal_name(signal)));
        } else if let Some(code) = end.exit_code.filter(|code| *code != 0) {
            body.push_str(&format!("exit {code}, "));
        }
        if end.exited {
            body.push_str("ended its shell, ");
        }
        body.push_str(&secs(end.duration_ms));
        let mark = format!("[{}]", end.status);
        let paint = Paint::of_status(end.status.as_str());
        self.event(Route::Log, &end.id, &mark, paint, &body);
    }

    fn malformed(&mut self, bad: &Malformed) {
        self.event(
            Route::Log,
            "phase-log",
            "[error]",
            Paint::Red,
            &bad.to_string(),
        );
    }

    fn noticed_signal(&mut self, signal: i32) {
        // This line is about now, not about a record.
        let mut stamp = String::new();
        write_stamp(&mut stamp, now_ms(), ' ');
        let body = format!(
            "got {}: logging until the input ends, then ending by it",
            signal_name(signal)
        );
        let line = Line {
            stamp: stamp.as_bytes(),
            who: b"phase-log",
            mark: "[signal]",
            paint: Paint::Yellow,
            body: body.as_bytes(),
            body_console: body.as_bytes(),
            key: None,
            cont: false,
            partial: false,
        };
        self.router.line(Route::Log, &line);
    }
}

/// Input problems: the first is named, the rest counted.
#[derive(Default)]
struct Problems {
    first: Option<String>,
    more: u64,
    read_error: Option<String>,
}

impl Problems {
    fn malformed(&mut self, bad: &Malformed) {
        if self.first.is_none() {
            self.first = Some(bad.to_string());
        } else {
            self.more += 1;
        }
    }

    fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.first.iter().cloned().collect();
        if self.more > 0 {
            out.push(format!(
                "{} more malformed input line{}",
                self.more,
                if self.more == 1 { "" } else { "s" }
            ));
        }
        out.extend(self.read_error.iter().cloned());
        out
    }

    fn any(&self) -> bool {
        self.first.is_some() || self.read_error.is_some()
    }
}

/// Reads the whole stream from `input` into `router`'s sinks, then writes the reports.
/// `signal` says whether phase-log got SIGINT or SIGTERM (and which); it keeps reading
/// anyway, since the stages before it are finishing, and the ending asks `main` to end
/// by that signal once everything is written.
pub fn run<R: Read, C: Write, F: Write>(
    input: R,
    router: &mut Router<C, F>,
    options: &mut Options,
    signal: &dyn Fn() -> Option<i32>,
) -> Ending {
    let mut stamp = String::new();
    write_stamp(&mut stamp, now_ms(), ' ');
    let mut logger = Logger {
        router,
        progress: options.progress.as_ref(),
        ledger: Ledger::default(),
        keep_noise: options.keep_noise,
        stamp,
        stamp_from: String::new(),
        spare: String::new(),
        scratch: String::new(),
        last_id: String::new(),
        time_ms: None,
        show_hosts: options.show_hosts,
        who_buf: String::new(),
    };
    logger.ledger.show_hosts = options.show_hosts;
    let (records_name, copy) = options.records.take().unzip();
    let (input, copy_failed, waiting_upto) = records::Tee::new(input, copy);
    let mut reader = RecordReader::new(input);
    // Lines the reader has consumed, blank and malformed ones included.
    let mut consumed = 0u64;
    let mut problems = Problems::default();
    let mut noticed = None;
    loop {
        if noticed.is_none() {
            noticed = signal();
            if let Some(sig) = noticed {
                logger.noticed_signal(sig);
            }
        }
        // No record waits whole in the reader's buffer: the next read may wait for input.
        if waiting_upto.get() <= consumed {
            logger.router.flush();
        }
        let result = match reader.next() {
            Ok(Some(raw)) => {
                consumed = raw.lineno;
                logger.record(&raw)
            }
            Ok(None) => break,
            Err(ReadError::Malformed(bad)) => {
                consumed = bad.lineno;
                Err(bad)
            }
            Err(ReadError::Io(err)) => {
                problems.read_error = Some(format!("reading input: {err}"));
                break;
            }
        };
        if let Err(bad) = result {
            logger.malformed(&bad);
            problems.malformed(&bad);
        }
    }
    let noticed = noticed.or_else(signal);
    if let Some(progress) = &options.progress {
        progress.stop();
    }
    let mut ledger = logger.ledger;
    let stamp = logger.stamp;
    ledger.finish();
    router.close_open_lines();

    let mut outcome = Outcome::Run(ledger.status());
    // A problem of phase-log's own (bad input, a report it could not write) makes the run
    // at least bad input, below a signal.
    let own_problem = |outcome: &mut Outcome| *outcome = outcome.worst(Outcome::BadInput);
    if problems.any() {
        own_problem(&mut outcome);
    }
    let console_gone = |router: &Router<C, F>| router.console.error().is_some();
    let shown_exit = match noticed {
        Some(sig) => Outcome::Signal(sig).code(),
        None if console_gone(router) => hookpipe::exit::BROKEN_PIPE,
        None => outcome.code(),
    };
    let context = Context {
        log: options.log_path.as_deref(),
        exit: shown_exit,
        signal: noticed,
        problems: problems.lines(),
    };
    if options.brief {
        router.report(stamp.as_bytes(), &report::result_line(&ledger, &context));
    } else {
        report::write(&ledger, &context, &mut |segs| {
            router.report(stamp.as_bytes(), &segs);
        });
    }
    router.flush();

    let mut messages = problems.lines();
    if let (Some(err), Some(name)) = (copy_failed.borrow_mut().take(), records_name) {
        messages.push(format!("writing {name}: {err}"));
        own_problem(&mut outcome);
    }
    for report in &mut options.reports {
        if let Err(err) = report.write(&ledger, &context) {
            messages.push(format!("writing {}: {err}", report.name));
            own_problem(&mut outcome);
        }
    }
    for sink in router.logs.iter().chain(router.summary.as_ref()) {
        if let Some(err) = sink.error() {
            messages.push(format!("writing {}: {err}", sink.name));
            own_problem(&mut outcome);
        }
    }
    if let Some(err) = router.console.error() {
        if hookpipe::exit::is_broken_pipe(err) {
            outcome = Outcome::BrokenPipe;
        } else {
            messages.push(format!("writing to stdout: {err}"));
            outcome = Outcome::Run(outcome.code().max(hookpipe::exit::BAD_INPUT));
        }
    }
    Ending {
        outcome: noticed.map_or(outcome, Outcome::Signal),
        messages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Sink;

    fn run_on(input: &str, verbose: bool) -> (String, String, Ending) {
        let mut router = Router {
            console: Sink::console(Vec::new(), true, false),
            verbose,
            show_records: true,
            summaries_on_console: true,
            logs: vec![Sink::file(Vec::new(), "log".into())],
            summary: None,
        };
        let ending = run(
            input.as_bytes(),
            &mut router,
            &mut Options::default(),
            &|| None,
        );
        let Router { console, logs, .. } = router;
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        let log = logs.into_iter().next().unwrap().into_inner().unwrap();
        (text(console.into_inner().unwrap()), text(log), ending)
    }

    const T: &str = "2026-11-24T22:29:14.123Z";

    #[test]
    fn a_noise_line_split_in_pieces_is_dropped_whole() {
        let input = format!(
            "{{\"type\":\"start\",\"id\":\"s/x.sh\",\"stage\":\"s\",\"kind\":\"extras\",\"args\":[],\"time\":\"{T}\"}}\n\
             {{\"type\":\"output\",\"id\":\"s/x.sh\",\"stream\":\"stdout\",\"text\":\"+ set +o \",\"partial\":true,\"time\":\"{T}\"}}\n\
             {{\"type\":\"output\",\"id\":\"s/x.sh\",\"stream\":\"stdout\",\"text\":\"xtrace\",\"time\":\"{T}\"}}\n\
             {{\"type\":\"output\",\"id\":\"s/x.sh\",\"stream\":\"stdout\",\"text\":\"kept\",\"time\":\"{T}\"}}\n"
        );
        let (_, log, _) = run_on(&input, true);
        assert!(!log.contains("xtrace"), "{log}");
        assert!(
            log.contains("2026-11-24 22:29:14.123 | s/x.sh | kept\n"),
            "{log}"
        );
    }

    #[test]
    fn output_of_a_call_never_started_is_still_logged() {
        let input = format!(
            "{{\"type\":\"output\",\"id\":\"s/ghost.sh\",\"stream\":\"stderr\",\"text\":\"boo\",\"time\":\"{T}\"}}\n"
        );
        let (console, log, ending) = run_on(&input, true);
        assert!(
            console.starts_with("2026-11-24 22:29:14.123 | s/ghost.sh ! boo\n"),
            "{console}"
        );
        assert!(log.contains("s/ghost.sh ! boo"), "{log}");
        assert_eq!(ending.outcome.code(), 0);
    }

    #[test]
    fn unknown_types_and_fields_are_ignored() {
        let input = format!(
            "{{\"type\":\"future\",\"x\":{{\"deep\":1}}}}\n\
             {{\"type\":\"summary\",\"text\":\"hi\",\"new_field\":true,\"time\":\"{T}\"}}\n"
        );
        let (console, _, ending) = run_on(&input, false);
        assert!(
            console.starts_with("2026-11-24 22:29:14.123 | [summary] hi\n"),
            "{console}"
        );
        assert_eq!(
            ending,
            Ending {
                outcome: Outcome::Run(0),
                messages: vec![]
            }
        );
    }

    #[test]
    fn bad_base64_is_a_malformed_line() {
        let input = format!(
            "{{\"type\":\"output\",\"id\":\"s/x.sh\",\"stream\":\"stdout\",\"text_base64\":\"***\",\"time\":\"{T}\"}}\n"
        );
        let (_, log, ending) = run_on(&input, true);
        assert_eq!(ending.outcome.code(), 2);
        assert!(
            ending.messages[0].starts_with("input line 1: field text_base64"),
            "{:?}",
            ending.messages
        );
        assert!(log.contains("phase-log [error] input line 1"), "{log}");
    }
}
