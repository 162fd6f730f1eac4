//! `--junit FILE`: the run as JUnit XML, the format every CI understands (Jenkins' `junit`
//! step, GitLab's `artifacts:reports:junit`, Zuul's and GitHub's test-report actions).
//! Written at the end of every run, like the text reports, from the [`Ledger`] alone.
//!
//! The file validates against Jenkins' `junit-10.xsd` (the rules are listed in
//! docs/reports.md; `tests/junit_schema.rs` checks them with a real XML parser).
//!
//! Layout: `<testsuites>` (`name`, `tests`, `failures`, `errors`, `time`: that schema has no
//! `skipped` there) with one `<testsuite>` per stage of each host (`name` the stage,
//! after its host in a merged run: `subnode1: stack/install`; `tests`,
//! `failures`, `errors`, `skipped`, `time` in seconds summed over its calls), one
//! `<testcase>` per hook call (`classname` the suite's name, `name` the id within the stage, such
//! as `50-template.sh` or `10-cat.sh#source`, `time` in seconds). A call that failed,
//! timed out or was killed has a `<failure>`, one that was interrupted or never ended an
//! `<error>`, with `message` saying how it ended and its last 20 lines of output as text
//! (`| ` stdout, `! ` stderr); a skipped call has `<skipped message="reason: message">`.
//! So CI never shows green for a broken run, a tool that failed or vanished with no failed
//! call to say why is a `<testcase>` of its stage named `<tool> (tool)` with an `<error>`
//! (a runner that only stopped because a stage before it failed is not: its calls are
//! `<skipped>` with that reason, so one failed hook is one red entry),
//! listing entries skipped as mistakes (`bad-prefix`...) are skipped cases of a `list`
//! suite, and malformed input is an error case `input` of a `phase-log` suite. DevStack's
//! async jobs are the cases of an `async` suite (`name` the job, `time` its run): a job
//! that failed or was lost is a `<failure>`, one that was stopped an `<error>`, one not
//! awaited by the end of the records `<skipped>`.
//!
//! Hostile output is escaped by [`crate::xml::escape`], never put in CDATA.

use std::io::{self, Write};

use crate::ledger::Ledger;
use crate::render::secs;
use crate::report::{self, ending_text, Context};
use crate::view::{self, Row};
use crate::xml::Writer;

/// `0.006`: JUnit's seconds.
fn seconds(ms: u64) -> String {
    secs(ms).trim_end_matches('s').to_owned()
}

/// The `<failure>`/`<error>` text: the output tail, one line each.
fn tail(row: &Row<'_>) -> Vec<u8> {
    let mut text = Vec::new();
    if let Row::Call(call) = row {
        for kept in call.ring.lines() {
            text.extend_from_slice(if kept.stream == 1 { b"! " } else { b"| " });
            text.extend_from_slice(&kept.text);
            if kept.cut {
                text.extend_from_slice(b" [cut]");
            }
            text.push(b'\n');
        }
    }
    text
}

/// A suite's counts: tests, failures, errors, skipped, and its time.
#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    ms: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.ms = self.ms.saturating_add(other.ms);
    }

    fn attrs(&self) -> [(&'static str, String); 5] {
        [
            ("tests", self.tests.to_string()),
            ("failures", self.failures.to_string()),
            ("errors", self.errors.to_string()),
            ("skipped", self.skipped.to_string()),
            ("time", seconds(self.ms)),
        ]
    }
}

/// One `<testcase>` to write.
struct Case {
    classname: String,
    name: String,
    ms: u64,
    /// `(element, type, message, text)` of a `<failure>`, `<error>` or `<skipped>`.
    outcome: Option<(&'static str, String, String, Vec<u8>)>,
}

fn count(cases: &[Case]) -> Counts {
    let mut counts = Counts::default();
    for case in cases {
        counts.tests += 1;
        counts.ms = counts.ms.saturating_add(case.ms);
        match case.outcome.as_ref().map(|outcome| outcome.0) {
            Some("failure") => counts.failures += 1,
            Some("error") => counts.errors += 1,
            Some("skipped") => counts.skipped += 1,
            _ => {}
        }
    }
    counts
}

fn suite(w: &mut Writer, name: &str, cases: &[Case]) {
    let counts = count(cases);
    let attrs = counts.attrs();
    let mut all = vec![("name", name)];
    all.extend(attrs.iter().map(|(key, value)| (*key, value.as_str())));
    w.open("testsuite", &all);
    for case in cases {
        let time = seconds(case.ms);
        let attrs = [
            ("classname", case.classname.as_str()),
            ("name", case.name.as_str()),
            ("time", time.as_str()),
        ];
        match &case.outcome {
            None => w.empty("testcase", &attrs),
            Some((element, kind, message, text)) => {
                w.open("testcase", &attrs);
                let mut inner = vec![("message", message.as_str())];
                if element != &"skipped" {
                    inner.push(("type", kind.as_str()));
                }
                if text.is_empty() {
                    w.empty(element, &inner);
                } else {
                    w.element(element, &inner, text);
                }
                w.close("testcase");
            }
        }
    }
    w.close("testsuite");
}

fn cases(ledger: &Ledger) -> Vec<(String, Vec<Case>)> {
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    for stage in view::stages(ledger) {
        let cases = stage
            .rows
            .iter()
            .map(|row| {
                let status = row.status();
                let outcome = match (row, status) {
                    (_, "ok") => None,
                    (Row::Skipped(skip), _) => Some((
                        "skipped",
                        skip.reason.as_str().to_owned(),
                        format!("{}: {}", skip.reason, skip.message),
                        Vec::new(),
                    )),
                    (Row::Call(call), "interrupted" | "unfinished") => {
                        Some(("error", status.to_owned(), ending_text(call), tail(row)))
                    }
                    (Row::Call(call), _) => {
                        Some(("failure", status.to_owned(), ending_text(call), tail(row)))
                    }
                };
                Case {
                    classname: stage.title(),
                    name: row.short_name(stage.name).to_owned(),
                    ms: row.duration_ms().unwrap_or(0),
                    outcome,
                }
            })
            .collect();
        suites.push((stage.title(), cases));
    }
    for (run, message) in report::tool_failures(ledger) {
        let host = run.host.as_deref().filter(|_| ledger.show_hosts);
        let suite = view::title(host, &run.stage);
        let case = Case {
            classname: suite.clone(),
            name: format!("{} (tool)", run.tool),
            ms: 0,
            outcome: Some((
                "error",
                if run.done.is_none() {
                    "vanished".to_owned()
                } else {
                    "tool-failed".to_owned()
                },
                message,
                Vec::new(),
            )),
        };
        match suites.iter_mut().find(|(name, _)| *name == suite) {
            Some((_, cases)) => cases.push(case),
            None => suites.push((suite, vec![case])),
        }
    }
    if !ledger.jobs.rows.is_empty() {
        let cases = ledger
            .jobs
            .rows
            .iter()
            .map(|job| {
                let message = format!(
                    "async job {}: {}{}, started by {}",
                    job.name,
                    job.status,
                    job.exit_code
                        .map_or_else(String::new, |code| format!(", exit {code}")),
                    job.started_by.as_deref().unwrap_or("the calling script")
                );
                let reason = job.reason.clone().unwrap_or_default().into_bytes();
                let outcome = match job.status.as_str() {
                    "ok" => None,
                    "running" => Some(("skipped", "not-awaited".to_owned(), message, reason)),
                    "stopped" => Some(("error", "stopped".to_owned(), message, reason)),
                    status => Some(("failure", status.to_owned(), message, reason)),
                };
                Case {
                    classname: "async".to_owned(),
                    name: job.name.clone(),
                    ms: job.duration_ms().unwrap_or(0),
                    outcome,
                }
            })
            .collect();
        suites.push(("async".to_owned(), cases));
    }
    if ledger.entry_skips_total > 0 {
        let cases = ledger
            .entry_skips
            .iter()
            .map(|skip| Case {
                classname: "list".to_owned(),
                name: skip.what.clone(),
                ms: 0,
                outcome: Some((
                    "skipped",
                    skip.reason.clone(),
                    format!("{}: {}", skip.reason, skip.message),
                    Vec::new(),
                )),
            })
            .collect();
        suites.push(("list".to_owned(), cases));
    }
    suites
}

/// Writes the JUnit document; see the module docs.
pub(crate) fn write(out: &mut dyn Write, ledger: &Ledger, ctx: &Context<'_>) -> io::Result<()> {
    let mut w = Writer::default();
    w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut suites = cases(ledger);
    if !ctx.problems.is_empty() {
        let case = Case {
            classname: "phase-log".to_owned(),
            name: "input".to_owned(),
            ms: 0,
            outcome: Some((
                "error",
                "malformed-input".to_owned(),
                ctx.problems.join("; "),
                ctx.problems.join("\n").into_bytes(),
            )),
        };
        suites.push(("phase-log".to_owned(), vec![case]));
    }
    let mut total = Counts::default();
    for (_, cases) in &suites {
        total.add(&count(cases));
    }
    let attrs = total.attrs();
    let mut all = vec![("name", "hookpipe")];
    // junit-10.xsd (Jenkins) allows `skipped` on <testsuite> but not on <testsuites>.
    all.extend(
        attrs
            .iter()
            .filter(|(key, _)| *key != "skipped")
            .map(|(key, value)| (*key, value.as_str())),
    );
    w.open("testsuites", &all);
    for (name, cases) in &suites {
        suite(&mut w, name, cases);
    }
    w.close("testsuites");
    out.write_all(w.out.as_bytes())
}
