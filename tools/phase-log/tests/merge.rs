//! `phase-log --merge` and `--host` through the real binary: several hosts' record files
//! become one log and one set of reports (docs/multinode.md). Interleaving, ties, records
//! without a host, a host whose clock is off, and a host whose stream stops without its
//! `done`.

mod util;

use std::path::{Path, PathBuf};

use util::{begin, done, end, output, run, show, start, stdout};

/// A record with `,"host":"NAME"` added last, as a writer with HOOKPIPE_HOST writes it.
fn on(host: &str, record: String) -> String {
    let body = record.strip_suffix('}').expect("a record");
    format!(r#"{body},"host":"{host}"}}"#)
}

/// One host's stack/install stage: hook-run's begin, one call printing a line, done.
/// `at` shifts every time (a late host, or a skewed clock).
fn host_run(host: &str, at: u32, status: &str) -> Vec<String> {
    let stage = "stack/install";
    let id = "stack/install/50-template.sh";
    let code = i32::from(status != "ok");
    vec![
        on(host, begin("hook-run", stage, at)),
        on(host, start(id, stage, at + 10)),
        on(
            host,
            output(id, "stdout", &format!("hello from {host}"), at + 12),
        ),
        on(host, end(id, stage, status, code, 8, at + 18)),
        on(host, done("hook-run", stage, code, at + 20)),
    ]
}

fn write(dir: &Path, name: &str, records: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, records.join("\n") + "\n").expect("write records");
    path
}

/// Runs phase-log with `args` (no stdin) and returns the output and the merged records.
fn merge(dir: &Path, args: &[String]) -> (std::process::Output, Vec<serde_json::Value>) {
    let merged = dir.join("merged.ndjson");
    let mut all: Vec<&str> = vec!["--color", "never", "--records", merged.to_str().unwrap()];
    all.extend(args.iter().map(String::as_str));
    let out = run(&all, b"");
    let records = std::fs::read_to_string(&merged)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("merged line is JSON"))
        .collect();
    (out, records)
}

fn path_arg(path: &Path) -> String {
    path.to_str().expect("UTF-8 path").to_owned()
}

/// `(host, type)` of each merged record.
fn sequence(records: &[serde_json::Value]) -> Vec<(String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap_or("").to_owned(),
                r["type"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn hosts_interleave_by_time_and_every_line_names_its_host() {
    let dir = tempfile::tempdir().unwrap();
    let ctl = write(dir.path(), "ctl.ndjson", &host_run("ctl", 0, "ok"));
    let sub = write(dir.path(), "sub.ndjson", &host_run("sub1", 5, "ok"));
    let (out, records) = merge(
        dir.path(),
        &["--merge".into(), path_arg(&ctl), path_arg(&sub)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let got: Vec<String> = sequence(&records)
        .into_iter()
        .map(|(host, kind)| format!("{host} {kind}"))
        .collect();
    assert_eq!(
        got,
        [
            "ctl begin",
            "sub1 begin",
            "ctl start",
            "ctl output",
            "sub1 start",
            "sub1 output",
            "ctl end",
            "ctl done",
            "sub1 end",
            "sub1 done"
        ]
    );
    let text = stdout(&out);
    assert!(
        text.contains("| ctl stack/install/50-template.sh | hello from ctl"),
        "{text}"
    );
    assert!(
        text.contains("| sub1 stack/install/50-template.sh | hello from sub1"),
        "{text}"
    );
    assert!(text.contains("=== Hosts ==="), "{text}");
    assert!(
        text.contains("ctl   ok: 1 hook call: 1 ok, 0.020s"),
        "{text}"
    );
    assert!(
        text.contains("sub1  ok: 1 hook call: 1 ok, 0.020s"),
        "{text}"
    );
    assert!(
        text.contains("Result: ok (exit status 0), 2 hook calls: 2 ok"),
        "{text}"
    );
}

#[test]
fn equal_times_go_by_host_name() {
    let dir = tempfile::tempdir().unwrap();
    // Given in reverse order, at the very same times.
    let zed = write(dir.path(), "z.ndjson", &host_run("zed", 0, "ok"));
    let abe = write(dir.path(), "a.ndjson", &host_run("abe", 0, "ok"));
    let (out, records) = merge(
        dir.path(),
        &["--merge".into(), path_arg(&zed), path_arg(&abe)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let hosts: Vec<String> = sequence(&records).into_iter().map(|(h, _)| h).collect();
    assert_eq!(
        hosts,
        ["abe", "zed", "abe", "zed", "abe", "zed", "abe", "zed", "abe", "zed"]
    );
}

#[test]
fn records_without_a_host_take_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let bare: Vec<String> = host_run("x", 0, "ok")
        .into_iter()
        .map(|line| line.replace(r#","host":"x""#, ""))
        .collect();
    let named = write(dir.path(), "named.ndjson", &bare);
    let found = write(dir.path(), "found.ndjson", &{
        // Only the last record names its host: the whole file is that host's.
        let mut lines = bare.clone();
        let last = lines.pop().unwrap();
        lines.push(on("sub2", last));
        lines
    });
    let (out, records) = merge(
        dir.path(),
        &[
            "--merge".into(),
            path_arg(&found),
            "--host".into(),
            format!("ctl={}", path_arg(&named)),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut count = std::collections::BTreeMap::new();
    for (host, _) in sequence(&records) {
        *count.entry(host).or_insert(0) += 1;
    }
    assert_eq!(
        count.into_iter().collect::<Vec<_>>(),
        [("ctl".to_owned(), 5), ("sub2".to_owned(), 5)]
    );
    // A bad --host and a missing file are usage errors, before anything is read.
    let bad = run(&["--host", "ctl"], b"");
    assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
    let missing = run(&["--merge", "/nonexistent/records.ndjson"], b"");
    assert_eq!(missing.status.code(), Some(2), "{}", show(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/records.ndjson"),
        "{}",
        show(&missing)
    );
}

#[test]
fn a_skewed_host_keeps_its_own_order_and_its_own_times() {
    let dir = tempfile::tempdir().unwrap();
    let ctl = write(dir.path(), "ctl.ndjson", &host_run("ctl", 1000, "ok"));
    // sub1's clock is a second behind, and its done even carries a time before its begin.
    let mut skewed = host_run("sub1", 0, "ok");
    let last = skewed.len() - 1;
    skewed[last] = on("sub1", done("hook-run", "stack/install", 0, 0));
    let sub = write(dir.path(), "sub.ndjson", &skewed);
    let (out, records) = merge(
        dir.path(),
        &["--merge".into(), path_arg(&ctl), path_arg(&sub)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let kinds = |host: &str| -> Vec<String> {
        sequence(&records)
            .into_iter()
            .filter(|(h, _)| h == host)
            .map(|(_, kind)| kind)
            .collect()
    };
    let own_order = ["begin", "start", "output", "end", "done"];
    assert_eq!(kinds("sub1"), own_order);
    assert_eq!(kinds("ctl"), own_order);
    // The skewed host comes first, by its own times, which are never rewritten.
    assert_eq!(records[0]["host"], "sub1");
    assert_eq!(records[4]["time"], "2026-11-24T22:29:14.000Z");
}

#[test]
fn a_host_that_stops_without_done_fails_the_run_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ctl = write(dir.path(), "ctl.ndjson", &host_run("ctl", 0, "ok"));
    // sub1 was stopped in the middle of its call: no end, no done.
    let cut: Vec<String> = host_run("sub1", 5, "ok").into_iter().take(3).collect();
    let sub = write(dir.path(), "sub.ndjson", &cut);
    let failing = write(dir.path(), "sub2.ndjson", &host_run("sub2", 7, "failed"));
    let json = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let html = dir.path().join("report.html");
    let (out, records) = merge(
        dir.path(),
        &[
            "--json-report".into(),
            path_arg(&json),
            "--junit".into(),
            path_arg(&junit),
            "--html".into(),
            path_arg(&html),
            "--merge".into(),
            path_arg(&ctl),
            path_arg(&sub),
            path_arg(&failing),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(records.len(), 13);
    let text = stdout(&out);
    assert!(
        text.contains("sub1  failed: 1 hook call: 1 unfinished"),
        "{text}"
    );
    assert!(
        text.contains("sub2  failed: 1 hook call: 1 failed"),
        "{text}"
    );
    assert!(text.contains("ctl   ok: 1 hook call: 1 ok"), "{text}");
    assert!(
        text.contains("sub1: hook-run (stack/install) ended without a done record"),
        "{text}"
    );

    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("JSON report");
    assert_eq!(doc["schema_version"], 2);
    let hosts: Vec<(String, String, i64)> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap().to_owned(),
                h["result"].as_str().unwrap().to_owned(),
                h["exit_status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [
            ("ctl".into(), "ok".into(), 0),
            ("sub1".into(), "failed".into(), 1),
            ("sub2".into(), "failed".into(), 1)
        ]
    );
    let failed: Vec<&str> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "ok")
        .map(|c| c["host"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["sub1", "sub2"]);

    let xml = std::fs::read_to_string(&junit).unwrap();
    for suite in [
        r#"<testsuite name="ctl: stack/install" tests="1" failures="0" errors="0""#,
        r#"<testsuite name="sub1: stack/install" tests="2" failures="0" errors="2""#,
        r#"<testsuite name="sub2: stack/install" tests="1" failures="1" errors="0""#,
    ] {
        assert!(xml.contains(suite), "{suite}\n{xml}");
    }

    let page = std::fs::read_to_string(&html).unwrap();
    let lanes: Vec<&str> = page
        .match_indices("<span>host ")
        .map(|(at, _)| &page[at + 11..at + 15])
        .collect();
    assert_eq!(lanes, ["ctl<", "sub1", "sub2"], "{page}");
}
