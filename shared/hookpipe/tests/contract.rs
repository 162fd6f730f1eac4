//! The wire contract, pinned: strict mirror types of every record (unknown fields refused)
//! decode real tool output kept in `tests/golden/`, so renaming or adding a field fails
//! here before it surprises a `jq` user. The mirrors are written out again on purpose
//! rather than derived from `hookpipe::record`: they are the second opinion.
//!
//! `golden/pipeline.ndjson` was produced by
//! `{ hook-list extras.d; hyp-resolve fake; } | hook-run source | hook-run stack install
//! --xtrace --keep-going | hyp-call --when-enabled n-cpu install` over a small tree with a
//! README, a bad prefix and a non-UTF-8 name; regenerate it the same way when the contract
//! changes on purpose. Its last lines are the `job` records of two runs of
//! `hook-list extras.d | hook-run stack install | hook-run stack test-config` after
//! `async_init`, over a hook that starts two jobs in install and, in test-config, awaits one,
//! calls `async_cleanup` and awaits a name never started (start, wait, unwaited, unknown),
//! and again with the install hook failing while a job runs (a runner's `stop`).
//! `golden/host.ndjson` is the same kind of pipeline (`hook-list`,
//! `hyp-resolve fake`, `hook-run source`, `hook-run stack install --xtrace`, `hyp-call
//! --when-enabled n-cpu install`) over one hook that prints, warns, summarises and times,
//! run with `HOOKPIPE_HOST=ctl`: every record ends with the `host` field.
//! `golden/resume.ndjson` is the second run of `hook-list extras.d | hook-run
//! --checkpoint-dir run source | hook-run --checkpoint-dir run stack install` over one hook
//! that defines a function in `source` and prints, summarises, warns and times in `stack
//! install`, the second time with `--from stack/install` on both runners: `source` is
//! reused (`checkpoint` records, replayed records marked `reused`), `stack/install` runs
//! and saves its checkpoint.

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Begin {
    r#type: String,
    host: Option<String>,
    tool: String,
    stage: String,
    pid: u32,
    version: String,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Done {
    r#type: String,
    host: Option<String>,
    tool: String,
    stage: String,
    status: i32,
    time: String,
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Hook {
    r#type: String,
    host: Option<String>,
    name: Option<String>,
    name_base64: Option<String>,
    path: Option<String>,
    path_base64: Option<String>,
    kind: String,
    seq: Option<String>,
    dir: Option<String>,
    dir_base64: Option<String>,
    services: Option<Vec<String>>,
    enabled: Option<bool>,
    files: Option<Vec<String>>,
    warning: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Skip {
    r#type: String,
    host: Option<String>,
    reused: Option<String>,
    reason: String,
    message: String,
    name: Option<String>,
    name_base64: Option<String>,
    path: Option<String>,
    path_base64: Option<String>,
    id: Option<String>,
    stage: Option<String>,
    time: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Hypervisor {
    r#type: String,
    host: Option<String>,
    driver: String,
    path: Option<String>,
    path_base64: Option<String>,
    missing: Vec<String>,
    functions: Vec<String>,
    sourced: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Start {
    r#type: String,
    host: Option<String>,
    reused: Option<String>,
    id: String,
    stage: String,
    name: Option<String>,
    name_base64: Option<String>,
    path: Option<String>,
    path_base64: Option<String>,
    kind: String,
    args: Vec<String>,
    file: Option<String>,
    function: Option<String>,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Output {
    r#type: String,
    host: Option<String>,
    reused: Option<String>,
    id: String,
    stream: String,
    text: Option<String>,
    text_base64: Option<String>,
    partial: Option<bool>,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Line {
    r#type: String,
    host: Option<String>,
    reused: Option<String>,
    id: Option<String>,
    text: Option<String>,
    text_base64: Option<String>,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Timer {
    r#type: String,
    host: Option<String>,
    reused: Option<String>,
    id: String,
    name: String,
    ms: u64,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct End {
    r#type: String,
    host: Option<String>,
    reused: Option<String>,
    id: String,
    stage: String,
    status: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    exited: Option<bool>,
    duration_ms: u64,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct State {
    r#type: String,
    host: Option<String>,
    stage: String,
    generation: u64,
    base: String,
    prelude: Vec<String>,
    script: Option<String>,
    script_base64: Option<String>,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Checkpoint {
    r#type: String,
    host: Option<String>,
    tool: String,
    stage: String,
    action: String,
    run: String,
    checkpoint: Option<String>,
    reason: Option<String>,
    started: Option<String>,
    finished: Option<String>,
    time: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Job {
    r#type: String,
    host: Option<String>,
    id: Option<String>,
    event: String,
    name: Option<String>,
    name_base64: Option<String>,
    pid: Option<u32>,
    command: Option<String>,
    status: Option<String>,
    exit_code: Option<i32>,
    started: Option<String>,
    ended: Option<String>,
    duration_ms: Option<u64>,
    started_by: Option<String>,
    reason: Option<String>,
    time: String,
}

/// Decodes one line strictly by its type; returns the type.
fn check_line(line: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let kind = value["type"].as_str().ok_or("no type")?.to_owned();
    let strict = |r: Result<(), serde_json::Error>| r.map_err(|e| format!("{kind}: {e}"));
    match kind.as_str() {
        "begin" => strict(serde_json::from_str::<Begin>(line).map(drop))?,
        "done" => strict(serde_json::from_str::<Done>(line).map(drop))?,
        "hook" => strict(serde_json::from_str::<Hook>(line).map(drop))?,
        "skip" => strict(serde_json::from_str::<Skip>(line).map(drop))?,
        "hypervisor" => strict(serde_json::from_str::<Hypervisor>(line).map(drop))?,
        "start" => strict(serde_json::from_str::<Start>(line).map(drop))?,
        "output" => strict(serde_json::from_str::<Output>(line).map(drop))?,
        "summary" | "warning" | "trace" => strict(serde_json::from_str::<Line>(line).map(drop))?,
        "timer" => strict(serde_json::from_str::<Timer>(line).map(drop))?,
        "end" => strict(serde_json::from_str::<End>(line).map(drop))?,
        "state" => strict(serde_json::from_str::<State>(line).map(drop))?,
        "checkpoint" => strict(serde_json::from_str::<Checkpoint>(line).map(drop))?,
        "job" => strict(serde_json::from_str::<Job>(line).map(drop))?,
        other => return Err(format!("undocumented type {other}")),
    }
    // The text-or-bytes rule: never both forms of one field.
    for field in ["name", "path", "dir", "text", "script"] {
        if value.get(field).is_some() && value.get(format!("{field}_base64")).is_some() {
            return Err(format!("{kind}: both {field} and {field}_base64"));
        }
    }
    // Writers put the type first, which readers may rely on for a fast path.
    if !line.starts_with("{\"type\":") {
        return Err(format!("{kind}: type is not the first field"));
    }
    Ok(kind)
}

#[test]
fn golden_pipeline_output_matches_the_strict_contract() {
    let mut seen = std::collections::BTreeSet::new();
    for (file, golden) in [
        ("pipeline.ndjson", include_str!("golden/pipeline.ndjson")),
        ("resume.ndjson", include_str!("golden/resume.ndjson")),
    ] {
        for (number, line) in golden.lines().enumerate() {
            match check_line(line) {
                Ok(kind) => {
                    seen.insert(kind);
                }
                Err(err) => panic!("{file} line {}: {err}\n{line}", number + 1),
            }
        }
    }
    let all: std::collections::BTreeSet<String> = hookpipe::record::TYPES
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
    assert_eq!(
        seen, all,
        "the golden stream should hold every documented type"
    );
}

#[test]
fn every_record_of_a_host_ends_with_its_host() {
    let golden = include_str!("golden/host.ndjson");
    let mut seen = std::collections::BTreeSet::new();
    for (number, line) in golden.lines().enumerate() {
        let kind = check_line(line).unwrap_or_else(|err| panic!("host line {}: {err}", number + 1));
        assert!(
            line.ends_with(r#","host":"ctl"}"#),
            "host line {}: host is not the last field: {line}",
            number + 1
        );
        assert_eq!(
            hookpipe::record::host_of(line.as_bytes()).as_deref(),
            Some("ctl")
        );
        seen.insert(kind);
    }
    for kind in [
        "begin",
        "done",
        "hook",
        "skip",
        "hypervisor",
        "start",
        "output",
        "end",
    ] {
        assert!(seen.contains(kind), "host.ndjson has no {kind} record");
    }
    // Records without a host stay without one.
    let plain = include_str!("golden/pipeline.ndjson");
    assert!(plain
        .lines()
        .all(|line| hookpipe::record::host_of(line.as_bytes()).is_none()));
}

#[test]
fn every_golden_record_round_trips_through_the_library_types() {
    let golden = include_str!("golden/pipeline.ndjson");
    for line in golden.lines() {
        let record: hookpipe::record::Record = serde_json::from_str(line).unwrap();
        let again = serde_json::to_string(&record).unwrap();
        let before: serde_json::Value = serde_json::from_str(line).unwrap();
        let after: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(before, after, "round trip changed {line}");
    }
}

/// The typed records write what the tools wrote, to the byte: field order, the absent
/// optional fields, the text-or-bytes forms and the closed sets' names (the host through the
/// writer that adds it). Replayed records are left out: `reused` is the replaying
/// runner's own field, not the library types'.
#[test]
fn every_golden_record_is_written_again_byte_for_byte() {
    for (file, golden, host) in [
        (
            "pipeline.ndjson",
            include_str!("golden/pipeline.ndjson"),
            None,
        ),
        ("resume.ndjson", include_str!("golden/resume.ndjson"), None),
        (
            "host.ndjson",
            include_str!("golden/host.ndjson"),
            Some("ctl"),
        ),
    ] {
        for (number, line) in golden.lines().enumerate() {
            if line.contains(r#""reused":""#) {
                continue;
            }
            let record: hookpipe::record::Record = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{file} line {}: {err}", number + 1));
            let mut writer = hookpipe::stream::RecordWriter::with_host(Vec::new(), host);
            writer.write(&record).unwrap();
            let again = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            assert_eq!(again, format!("{line}\n"), "{file} line {}", number + 1);
        }
    }
}

/// A value of a closed set that this version does not know (a newer tool's status, say) is
/// refused by name, never taken for another; see the record module, "Closed sets".
#[test]
fn an_unknown_value_of_a_closed_set_is_refused_by_name() {
    for (line, value) in [
        (
            r#"{"type":"end","id":"x","stage":"s","status":"skipped","duration_ms":1,"time":"t"}"#,
            "skipped",
        ),
        (
            r#"{"type":"output","id":"x","stream":"stdin","text":"a","time":"t"}"#,
            "stdin",
        ),
        (
            r#"{"type":"hook","name":"a","path":"a","kind":"python"}"#,
            "python",
        ),
        (
            r#"{"type":"skip","reason":"because","message":"m"}"#,
            "because",
        ),
    ] {
        let err = serde_json::from_str::<hookpipe::record::Record>(line).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("unknown variant `{value}`")),
            "{err}"
        );
    }
}

#[test]
fn replayed_records_say_the_run_they_come_from() {
    let golden = include_str!("golden/resume.ndjson");
    let reused: Vec<serde_json::Value> = golden
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|value: &serde_json::Value| value.get("reused").is_some())
        .collect();
    assert!(!reused.is_empty(), "no replayed record");
    let checkpoint = golden
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|value| value["type"] == "checkpoint" && value["action"] == "reused")
        .expect("a reused checkpoint record");
    for record in &reused {
        assert_eq!(record["reused"], checkpoint["run"], "{record}");
        assert_eq!(record["stage"], checkpoint["stage"], "{record}");
    }
}

#[test]
fn a_renamed_field_is_caught() {
    let renamed = r#"{"type":"end","id":"x","stage":"s","state":"ok","duration_ms":1,"time":"t"}"#;
    assert!(check_line(renamed).is_err());
    let extra =
        r#"{"type":"output","id":"x","stream":"stdout","text":"a","colour":"red","time":"t"}"#;
    assert!(check_line(extra).is_err());
}

#[test]
fn invalid_utf8_names_travel_as_base64() {
    let golden = include_str!("golden/pipeline.ndjson");
    let hook = golden
        .lines()
        .find(|l| l.starts_with("{\"type\":\"hook\"") && l.contains("name_base64"))
        .expect("a hook with a non-UTF-8 name");
    let value: serde_json::Value = serde_json::from_str(hook).unwrap();
    let name = hookpipe::record::Data::from_base64("name", value["name_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(name.as_bytes(), b"30-caf\xe9.sh");
}
