//! The file reports through the real binary: `--json-report` against a strict copy of its
//! documented schema, `--junit` and `--html` read back by Python's XML parser (an
//! independent reader, on every machine), hostile hook output, and `--records` replaying
//! to identical reports.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use hookpipe_e2e::{signal, spawn_piped};
use nix::sys::signal::Signal;
use util::{begin, done, end, line, output, run, show, start, stream};

const STAGE: &str = "stack/install";

fn fixture() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run.ndjson");
    std::fs::read(path).unwrap()
}

/// The three report flags into `dir`, and the paths.
fn report_args(dir: &Path) -> (Vec<String>, [PathBuf; 3]) {
    let paths = [dir.join("r.json"), dir.join("r.xml"), dir.join("r.html")];
    let args = ["--json-report", "--junit", "--html"]
        .iter()
        .zip(&paths)
        .flat_map(|(flag, path)| [flag.to_string(), path.to_str().unwrap().to_owned()])
        .collect();
    (args, paths)
}

fn run_args(args: &[String], input: &[u8]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, input)
}

// --- JSON: a strict mirror of the schema in src/json_report.rs ----------------------------
// Every field required (nullable ones through `nullable`), no unknown field allowed: a
// renamed, added or dropped field fails here before it reaches a user.

fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::deserialize(deserializer)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Doc {
    schema_version: u32,
    tool: String,
    version: String,
    result: String,
    exit_status: u8,
    #[serde(deserialize_with = "nullable")]
    signal: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    first_time: Option<String>,
    #[serde(deserialize_with = "nullable")]
    last_time: Option<String>,
    #[serde(deserialize_with = "nullable")]
    wall_ms: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    log: Option<String>,
    counts: Counts,
    calls: Vec<Call>,
    stages: Vec<StageRow>,
    skips: Skips,
    timers: Vec<Timer>,
    summaries: Vec<Text>,
    summaries_total: u64,
    warnings: Vec<Text>,
    warnings_total: u64,
    tools: Vec<Tool>,
    tools_failed: Vec<ToolFailed>,
    input_problems: Vec<String>,
    jobs: Vec<JobRow>,
    hosts: Vec<HostRow>,
    resumed: Vec<ResumedRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ResumedRow {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    stage: String,
    action: String,
    run: String,
    #[serde(deserialize_with = "nullable")]
    reason: Option<String>,
    #[serde(deserialize_with = "nullable")]
    started: Option<String>,
    #[serde(deserialize_with = "nullable")]
    finished: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HostRow {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    result: String,
    exit_status: u8,
    #[serde(deserialize_with = "nullable")]
    first_time: Option<String>,
    #[serde(deserialize_with = "nullable")]
    last_time: Option<String>,
    #[serde(deserialize_with = "nullable")]
    wall_ms: Option<u64>,
    counts: Counts,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct JobRow {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    name: String,
    #[serde(deserialize_with = "nullable")]
    command: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pid: Option<u32>,
    #[serde(deserialize_with = "nullable")]
    started_by: Option<String>,
    #[serde(deserialize_with = "nullable")]
    awaited_by: Option<String>,
    status: String,
    #[serde(deserialize_with = "nullable")]
    exit_code: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    start: Option<String>,
    #[serde(deserialize_with = "nullable")]
    end: Option<String>,
    #[serde(deserialize_with = "nullable")]
    duration_ms: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    reason: Option<String>,
    awaited: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Counts {
    calls: u64,
    ok: u64,
    failed: u64,
    timeout: u64,
    killed: u64,
    interrupted: u64,
    unfinished: u64,
    skipped: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Call {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    id: String,
    stage: String,
    #[serde(deserialize_with = "nullable")]
    name: Option<String>,
    #[serde(deserialize_with = "nullable")]
    kind: Option<String>,
    status: String,
    #[serde(deserialize_with = "nullable")]
    exit_code: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    signal: Option<i32>,
    exited: bool,
    #[serde(deserialize_with = "nullable")]
    duration_ms: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    start: Option<String>,
    #[serde(deserialize_with = "nullable")]
    end: Option<String>,
    output_tail: Vec<TailLine>,
    #[serde(deserialize_with = "nullable")]
    reused: Option<String>,
}

/// Exactly one of `text` and `text_base64`: checked in [`check_schema`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TailLine {
    stream: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    text_base64: Option<String>,
    cut: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct StageRow {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    stage: String,
    calls: u64,
    duration_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Skips {
    total: u64,
    groups: Vec<Group>,
    calls: Vec<SkippedCall>,
    entries: Vec<Entry>,
    entries_total: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    reason: String,
    count: u64,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SkippedCall {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    id: String,
    #[serde(deserialize_with = "nullable")]
    stage: Option<String>,
    reason: String,
    message: String,
    #[serde(deserialize_with = "nullable")]
    time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Entry {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    what: String,
    reason: String,
    message: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Timer {
    name: String,
    ms: u64,
    calls: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Text {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    #[serde(deserialize_with = "nullable")]
    id: Option<String>,
    text: String,
    #[serde(deserialize_with = "nullable")]
    time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Tool {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    tool: String,
    stage: String,
    #[serde(deserialize_with = "nullable")]
    status: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ToolFailed {
    #[serde(deserialize_with = "nullable")]
    host: Option<String>,
    tool: String,
    stage: String,
    #[serde(deserialize_with = "nullable")]
    status: Option<i32>,
    vanished: bool,
    message: String,
}

fn check_schema(path: &Path) -> Doc {
    let bytes = std::fs::read(path).unwrap();
    let doc: Doc = serde_json::from_slice(&bytes).unwrap_or_else(|err| {
        panic!("{err}\n{}", String::from_utf8_lossy(&bytes));
    });
    assert_eq!(doc.schema_version, 2);
    assert_eq!(doc.tool, "phase-log");
    for call in &doc.calls {
        for tail in &call.output_tail {
            assert!(
                tail.text.is_some() != tail.text_base64.is_some(),
                "{tail:?}"
            );
            assert!(matches!(tail.stream.as_str(), "stdout" | "stderr"));
        }
    }
    doc
}

#[test]
fn json_report_follows_its_schema_and_tells_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, [json, ..]) = report_args(tmp.path());
    let out = run_args(&args, &fixture());
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    let doc = check_schema(&json);
    assert_eq!((doc.result.as_str(), doc.exit_status), ("interrupted", 130));
    assert_eq!(doc.wall_ms, Some(31_910));
    assert_eq!(doc.first_time.as_deref(), Some("2026-11-24T22:29:14.100Z"));
    assert_eq!(
        doc.counts,
        Counts {
            calls: 5,
            ok: 2,
            failed: 1,
            timeout: 1,
            killed: 0,
            interrupted: 1,
            unfinished: 0,
            skipped: 2
        }
    );
    let broken = doc
        .calls
        .iter()
        .find(|call| call.id == "unstack/20-broken.sh")
        .unwrap();
    assert_eq!(
        (broken.status.as_str(), broken.exit_code, broken.duration_ms),
        ("failed", Some(1), Some(35))
    );
    assert_eq!(broken.start.as_deref(), Some("2026-11-24T22:29:14.300Z"));
    assert_eq!(broken.end.as_deref(), Some("2026-11-24T22:29:14.335Z"));
    assert_eq!(broken.name.as_deref(), Some("20-broken.sh"));
    // Invalid UTF-8 is carried exactly, as on the wire.
    assert_eq!(
        broken.output_tail[1].text_base64.as_deref(),
        Some("bGF0aW4tMTogY2Fm6SD/")
    );
    let slow = doc
        .calls
        .iter()
        .find(|c| c.id == "unstack/30-slow.sh")
        .unwrap();
    assert_eq!((slow.status.as_str(), slow.signal), ("timeout", Some(15)));
    assert!(doc
        .calls
        .iter()
        .filter(|call| call.status == "ok")
        .all(|call| call.output_tail.is_empty()));
    assert_eq!(
        doc.stages,
        [
            StageRow {
                host: None,
                stage: "override_defaults".into(),
                calls: 1,
                duration_ms: 4
            },
            StageRow {
                host: None,
                stage: "unstack".into(),
                calls: 4,
                duration_ms: 31_545
            }
        ]
    );
    assert_eq!(doc.skips.total, 3);
    assert_eq!(doc.skips.groups.len(), 1);
    assert_eq!(
        (
            doc.skips.groups[0].reason.as_str(),
            doc.skips.groups[0].count
        ),
        ("interrupted", 2)
    );
    assert_eq!(
        doc.skips.groups[0].message,
        "2 calls skipped after the interrupt"
    );
    let skipped: Vec<&str> = doc.skips.calls.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(skipped, ["unstack/50-after.sh", "unstack/60-after.sh"]);
    assert_eq!(doc.skips.entries_total, 1);
    assert_eq!(doc.skips.entries[0].reason, "bad-prefix");
    assert_eq!(
        doc.timers,
        [
            Timer {
                name: "pip_install".into(),
                ms: 1000,
                calls: 2
            },
            Timer {
                name: "git_timed".into(),
                ms: 12,
                calls: 1
            }
        ]
    );
    assert_eq!(doc.summaries_total, 1);
    assert_eq!(doc.summaries[0].text, "Stopping template");
    assert_eq!(
        doc.summaries[0].time.as_deref(),
        Some("2026-11-24T22:29:14.201Z")
    );
    assert_eq!(doc.warnings_total, 1);
    assert_eq!(doc.tools.len(), 3);
    // hook-run (unstack) ended 130, but its interrupted call already says why.
    assert!(doc.tools_failed.is_empty(), "{:?}", doc.tools_failed);
    assert!(doc.input_problems.is_empty());
}

// A resumed run (the record contract's golden stream: `source` reused, `stack/install`
// run now because of `--from`): the JSON says which stage came from which run, and which
// calls were replayed; the text report has its `Resumed run` section.
#[test]
fn a_resumed_run_says_which_stages_were_reused_from_which_run() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/hookpipe/tests/golden/resume.ndjson");
    let input = std::fs::read(golden).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (args, paths) = report_args(dir.path());
    let out = run_args(&args, &input);
    assert!(out.status.success(), "{}", show(&out));
    let doc = check_schema(&paths[0]);
    let rows: Vec<(&str, &str)> = doc
        .resumed
        .iter()
        .map(|row| (row.stage.as_str(), row.action.as_str()))
        .collect();
    assert_eq!(rows, [("source", "reused"), ("stack/install", "run")]);
    let reused = &doc.resumed[0];
    assert_eq!(reused.run, "20261204T165851.281Z-20059");
    assert_eq!(reused.started.as_deref(), Some("2026-12-04T16:58:51.293Z"));
    assert_eq!(
        doc.resumed[1].reason.as_deref(),
        Some("--from stack/install")
    );
    for call in &doc.calls {
        let expected = (call.stage == "source").then_some("20261204T165851.281Z-20059");
        assert_eq!(call.reused.as_deref(), expected, "{}", call.id);
    }
    // The replayed records' old times do not stretch the run's wall time.
    assert_eq!(doc.first_time.as_deref(), Some("2026-12-04T16:58:51.336Z"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("=== Resumed run ==="), "{text}");
    assert!(
        text.contains("source [resume] reused from run 20261204T165851.281Z-20059"),
        "{text}"
    );
    assert!(
        text.contains("stack/install [resume] runs now: --from stack/install"),
        "{text}"
    );
    assert!(text.contains("ok (reused)"), "{text}");
}

#[test]
fn json_report_names_unfinished_calls_vanished_tools_and_bad_input() {
    let id = "stack/install/50-template.sh";
    let mut input = stream(&[
        begin("hook-list", "list", 0),
        begin("hook-run", STAGE, 1),
        start(id, STAGE, 2),
        output(id, "stdout", "half way", 3),
        output(id, "stdout", &"x".repeat(5000), 3),
    ]);
    input.extend_from_slice(b"{\"type\":\n");
    let tmp = tempfile::tempdir().unwrap();
    let (args, [json, ..]) = report_args(tmp.path());
    let out = run_args(&args, &input);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let doc = check_schema(&json);
    assert_eq!((doc.result.as_str(), doc.exit_status), ("failed", 2));
    let call = &doc.calls[0];
    assert_eq!(call.status, "unfinished");
    assert_eq!((call.duration_ms, call.end.as_deref()), (None, None));
    assert_eq!(call.output_tail[0].text.as_deref(), Some("half way"));
    assert!(!call.output_tail[0].cut);
    // Kept lines are cut at 4096 bytes, and say so.
    assert!(call.output_tail[1].cut);
    assert_eq!(
        call.output_tail[1].text.as_ref().map(String::len),
        Some(4096)
    );
    let vanished: Vec<(&str, bool)> = doc
        .tools_failed
        .iter()
        .map(|tool| (tool.tool.as_str(), tool.vanished))
        .collect();
    assert_eq!(vanished, [("hook-list", true), ("hook-run", true)]);
    assert!(
        doc.input_problems[0].starts_with("input line 6: not a JSON record"),
        "{:?}",
        doc.input_problems
    );
}

// --- JUnit and HTML, read back by Python ----------------------------------------------

/// Runs `script` with `python3 -c`, the path as its argument; its stdout is JSON.
fn python(script: &str, path: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 is on every machine");
    assert!(
        out.status.success(),
        "python3 failed on {}:\n{}\n--- file ---\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default())
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const JUNIT_PY: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
def case(c):
    out = {"classname": c.get("classname"), "name": c.get("name"), "time": c.get("time")}
    for kind in ("failure", "error", "skipped"):
        e = c.find(kind)
        if e is not None:
            out[kind] = {"message": e.get("message"), "type": e.get("type"), "text": e.text}
    return out
print(json.dumps({
    "tag": root.tag,
    "attrs": dict(root.attrib),
    "suites": [{"attrs": dict(s.attrib), "cases": [case(c) for c in s.findall("testcase")]}
               for s in root.findall("testsuite")],
}))
"#;

/// A failed call whose output and name are as hostile as output gets.
fn hostile_run() -> Vec<u8> {
    let id = "stack/install/60-<evil>&\"quote'.sh";
    let mut records = vec![
        begin("hook-run", STAGE, 0),
        start("stack/install/50-template.sh", STAGE, 1),
        end("stack/install/50-template.sh", STAGE, "ok", 0, 4, 5),
        start(id, STAGE, 6),
        output(id, "stdout", "cdata end ]]> and <tag> & \"q\" 'a'", 7),
        output(
            id,
            "stderr",
            "nul \0 esc \x1b[31mred\x1b[0m bell \x07 cr\r",
            8,
        ),
        output(id, "stdout", "line\u{fffe}end", 8),
    ];
    // "bad \xff\xfe bytes" as base64.
    records.push(format!(
        r#"{{"type":"output","id":"{}","stream":"stdout","text_base64":"YmFkIP/+IGJ5dGVz","time":"{}"}}"#,
        id.replace('"', "\\\""),
        util::time(9)
    ));
    records.push(end(id, STAGE, "failed", 3, 1250, 1256));
    records.push(
        r#"{"type":"skip","reason":"stopped","message":"not run: <60> failed & \"more\"","id":"stack/install/70-next.sh","stage":"stack/install"}"#
            .to_owned(),
    );
    records.push(done("hook-run", STAGE, 1, 1257));
    // The builders write ids raw; JSON-escape the quote in this one.
    stream(
        &records
            .into_iter()
            .map(|record| {
                record.replace(
                    "\"id\":\"stack/install/60-<evil>&\"quote'.sh\"",
                    "\"id\":\"stack/install/60-<evil>&\\\"quote'.sh\"",
                )
            })
            .collect::<Vec<_>>(),
    )
}

#[test]
fn junit_is_well_formed_with_a_case_per_call_and_hostile_output_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, [_, xml, _]) = report_args(tmp.path());
    let out = run_args(&args, &hostile_run());
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let got = python(JUNIT_PY, &xml);
    assert_eq!(got["tag"], "testsuites");
    assert_eq!(got["attrs"]["tests"], "3");
    assert_eq!(got["attrs"]["failures"], "1");
    let suites = got["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 1, "{got}");
    let suite = &suites[0];
    assert_eq!(suite["attrs"]["name"], STAGE);
    for (attr, want) in [
        ("tests", "3"),
        ("failures", "1"),
        ("errors", "0"),
        ("skipped", "1"),
        ("time", "1.254"),
    ] {
        assert_eq!(suite["attrs"][attr], want, "{attr}: {suite}");
    }
    let cases = suite["cases"].as_array().unwrap();
    assert_eq!(cases[0]["name"], "50-template.sh");
    assert_eq!(cases[0]["classname"], STAGE);
    assert_eq!(cases[0]["time"], "0.004");
    assert!(cases[0].get("failure").is_none());

    let failed = &cases[1];
    assert_eq!(failed["name"], "60-<evil>&\"quote'.sh");
    assert_eq!(failed["time"], "1.250");
    assert_eq!(failed["failure"]["type"], "failed");
    assert_eq!(failed["failure"]["message"], "failed, exit 3, after 1.250s");
    let text = failed["failure"]["text"].as_str().unwrap();
    assert_eq!(
        text,
        "| cdata end ]]> and <tag> & \"q\" 'a'\n\
         ! nul \\x00 esc \\x1B[31mred\\x1B[0m bell \\x07 cr\r\n\
         | line\\uFFFEend\n\
         | bad \\xFF\\xFE bytes\n"
    );
    assert_eq!(cases[2]["name"], "70-next.sh");
    assert_eq!(
        cases[2]["skipped"]["message"],
        "stopped: not run: <60> failed & \"more\""
    );
}

#[test]
fn junit_makes_an_error_of_a_vanished_tool_and_of_bad_input() {
    let mut input = stream(&[begin("hook-run", STAGE, 0)]);
    input.extend_from_slice(b"not json\n");
    let tmp = tempfile::tempdir().unwrap();
    let (args, [_, xml, _]) = report_args(tmp.path());
    run_args(&args, &input);
    let got = python(JUNIT_PY, &xml);
    let cases: Vec<(String, String, String)> = got["suites"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|suite| suite["cases"].as_array().unwrap().clone())
        .map(|case| {
            (
                case["classname"].as_str().unwrap().to_owned(),
                case["name"].as_str().unwrap().to_owned(),
                case["error"]["type"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        cases,
        [
            (STAGE.into(), "hook-run (tool)".into(), "vanished".into()),
            ("phase-log".into(), "input".into(), "malformed-input".into())
        ]
    );
    assert_eq!(got["attrs"]["errors"], "2");
}

const HTML_PY: &str = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
def classes(e):
    return (e.get("class") or "").split()
bars = [e for e in root.iter() if "bar" in classes(e)]
rows = [e for e in root.iter() if "call" in classes(e) and "row" in classes(e)]
def title(e):
    t = e.find("title")
    return t.text if t is not None else None
print(json.dumps({
    "tag": root.tag,
    "bars": [{"status": [c for c in classes(b) if c != "bar"], "title": title(b)} for b in bars],
    "rows": len(rows),
    "labels": [r.find("span").text for r in rows],
    "durations": [r.findall("span")[-1].text for r in rows],
    "pre": ["".join(p.itertext()) for p in root.iter("pre")],
    "title": root.find("head/title").text,
}))
"#;

#[test]
fn html_is_well_formed_with_one_bar_per_call_and_no_external_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, [_, _, html]) = report_args(tmp.path());
    for (input, calls) in [(fixture(), 7), (hostile_run(), 3)] {
        run_args(&args, &input);
        let page = std::fs::read_to_string(&html).unwrap();
        for banned in [
            "http:", "https:", "<link", "<script", "src=", "url(", "@import",
        ] {
            assert!(!page.contains(banned), "{banned} in the page");
        }
        let got = python(HTML_PY, &html);
        assert_eq!(got["tag"], "html");
        let bars = got["bars"].as_array().unwrap();
        assert_eq!(bars.len(), calls, "{got}");
        assert_eq!(got["rows"], calls);
        assert!(bars.iter().all(|bar| bar["title"].is_string()), "{got}");
    }
    // The last run was the hostile one.
    let got = python(HTML_PY, &html);
    let statuses: Vec<&str> = got["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bar| bar["status"][0].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "failed", "skipped"]);
    assert_eq!(got["labels"][1], "60-<evil>&\"quote'.sh");
    assert_eq!(got["durations"][1], "1.250s");
    assert_eq!(
        got["bars"][1]["title"],
        "stack/install/60-<evil>&\"quote'.sh: failed, exit 3, after 1.250s"
    );
    assert_eq!(got["title"], "hookpipe run: failed");
    let failure = got["pre"][0].as_str().unwrap();
    assert!(
        failure.contains("! nul \\x00 esc \\x1B[31mred\\x1B[0m bell \\x07 cr\r"),
        "{failure:?}"
    );
    assert!(failure.contains("| cdata end ]]> and <tag>"), "{failure:?}");
}

#[test]
fn html_rows_follow_stages_in_order_with_times_from_the_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, [_, _, html]) = report_args(tmp.path());
    run_args(&args, &fixture());
    let got = python(HTML_PY, &html);
    let labels: Vec<&str> = got["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|label| label.as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "50-template.sh",
            "10-template.sh",
            "20-broken.sh",
            "30-slow.sh",
            "40-ctrlc.sh",
            "50-after.sh",
            "60-after.sh"
        ]
    );
    let statuses: Vec<&str> = got["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bar| bar["status"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "ok",
            "ok",
            "failed",
            "timeout",
            "interrupted",
            "skipped",
            "skipped"
        ]
    );
    assert_eq!(got["durations"][3], "30.000s");
}

// --- records and replay -------------------------------------------------------------------

#[test]
fn records_replay_to_identical_reports() {
    let tmp = tempfile::tempdir().unwrap();
    // Blank lines, a malformed line, a final line without its newline: all kept.
    let mut input = fixture();
    input.extend_from_slice(b"\n   \nnot a record \xff\n");
    input.extend_from_slice(util::line("summary", "", "last", 9999).as_bytes());
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    std::fs::create_dir_all(&first).unwrap();
    let records = first.join("run.ndjson");
    let (mut args, paths) = report_args(&first);
    args.extend(["--records".into(), records.to_str().unwrap().into()]);
    let out = run_args(&args, &input);
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert_eq!(std::fs::read(&records).unwrap(), input);

    // Replayed later, in another directory: the same files, byte for byte.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (args, again) = report_args(&second);
    let replay = run_args(&args, &std::fs::read(&records).unwrap());
    assert_eq!(replay.status.code(), Some(130), "{}", show(&replay));
    assert_eq!(replay.stdout, out.stdout);
    for (a, b) in paths.iter().zip(&again) {
        let (a_bytes, b_bytes) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        assert!(!a_bytes.is_empty());
        assert!(
            a_bytes == b_bytes,
            "{} differs from its replay",
            a.display()
        );
    }
}

#[test]
fn records_are_on_disk_while_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let records = tmp.path().join("run.ndjson");
    let mut child = spawn_piped(util::command().args([
        "--records",
        records.to_str().unwrap(),
        "--show-records",
    ]));
    let mut stdin = child.stdin.take().unwrap();
    let mut console = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = format!("{}\n", begin("hook-run", STAGE, 0));
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Once phase-log has logged the record, the copy holds it: nothing waits in a buffer.
    let logged = console
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("[begin]"));
    assert!(logged);
    assert_eq!(std::fs::read(&records).unwrap(), first.as_bytes());
    drop(stdin);
    child.wait().unwrap();
}

#[test]
fn reports_are_written_on_an_interrupt_too() {
    let tmp = tempfile::tempdir().unwrap();
    let (args, [json, xml, html]) = report_args(tmp.path());
    let mut child = spawn_piped(util::command().args(&args));
    let mut stdin = child.stdin.take().unwrap();
    let mut console = BufReader::new(child.stdout.take().unwrap()).lines();
    let id = "stack/install/50-template.sh";
    writeln!(
        stdin,
        "{}\n{}",
        begin("hook-run", STAGE, 0),
        start(id, STAGE, 1)
    )
    .unwrap();
    stdin.flush().unwrap();
    assert!(console
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("[start]")));
    signal(&child, Signal::SIGINT);
    writeln!(stdin, "{}", line("summary", id, "still logging", 2)).unwrap();
    drop(stdin);
    for _ in console {}
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(2), "{status:?}");
    let doc = check_schema(&json);
    assert_eq!(
        (doc.result.as_str(), doc.exit_status, doc.signal),
        ("interrupted", 130, Some(2))
    );
    assert_eq!(doc.calls[0].status, "unfinished");
    assert_eq!(doc.summaries[0].text, "still logging");
    // The unfinished call, and its runner that never wrote done.
    assert_eq!(python(JUNIT_PY, &xml)["attrs"]["errors"], "2");
    assert_eq!(python(HTML_PY, &html)["bars"].as_array().unwrap().len(), 1);
}

#[test]
fn a_report_that_cannot_be_created_is_bad_usage_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let path = blocker.join("r.xml");
    let out = run(
        &["--junit", path.to_str().unwrap()],
        &stream(&util::ok_run()),
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("phase-log: cannot create report"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{}", show(&out));
}

#[test]
fn report_directories_are_created() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ci/reports/junit.xml");
    let out = run(
        &["--junit", path.to_str().unwrap()],
        &stream(&util::ok_run()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let got = python(JUNIT_PY, &path);
    assert_eq!(got["attrs"]["tests"], "1");
    assert_eq!(got["attrs"]["failures"], "0");
}

// The sinks are flushed when no whole line is left to read, judged from the newlines
// counted under the reader: blank and malformed lines must not throw the count off, or
// a line would wait in a buffer while the pipeline is idle.
#[test]
fn lines_show_live_after_blank_and_malformed_lines() {
    let mut child = spawn_piped(util::command().arg("--show-records"));
    let mut stdin = child.stdin.take().unwrap();
    let console = child.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(console).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let id = "stack/install/50-template.sh";
    let steps = [
        format!("{}\n\n   \n", begin("hook-run", STAGE, 0)),
        "not a record\n\n".to_owned(),
        format!("{}\n", line("summary", id, "first", 1)),
        format!("\n{}\n", line("summary", id, "second", 2)),
    ];
    for (step, want) in steps.iter().zip(["[begin]", "[error]", "first", "second"]) {
        stdin.write_all(step.as_bytes()).unwrap();
        stdin.flush().unwrap();
        // Input stays open: only a flush before waiting can show the line.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match receive.recv_timeout(left) {
                Ok(line) if line.contains(want) => break,
                Ok(_) => {}
                Err(_) => panic!("{want:?} was not shown while input stayed open"),
            }
        }
    }
    drop(stdin);
    child.wait().unwrap();
}
