//! A broken run never says ok (issue "Honest outcomes"): a stage that cannot start still
//! tells the stream, so phase-log's result, exit status, JSON and JUnit say failed and why,
//! once; a stage that wrote nothing at all fails the scripts' run all the same; and the
//! scripts write the reports they are asked for and end with DevStack's last line.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::process::Command;
use std::time::Duration;

use hookpipe_e2e::{bin_dir, lib_dir, repo_root, run, scrub_env, Run, Stack};

const PIPE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `script` under bash in a fresh directory, with `$B` naming the tools, `$C` a copy
/// of hook-run far from any lib/ (the tools built elsewhere, run by hand) and a link to the
/// repository's extras.d; `env` is added; HOOKPIPE_LIB is set unless `lib` is false.
fn pipeline(script: &str, env: &[(&str, &str)], lib: bool) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    symlink(repo_root().join("extras.d"), dir.path().join("extras.d")).expect("link extras.d");
    let copy = dir.path().join("elsewhere/bin");
    fs::create_dir_all(&copy).expect("mkdir elsewhere/bin");
    fs::copy(bin_dir().join("hook-run"), copy.join("hook-run")).expect("copy hook-run");
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(format!("set -o pipefail\n{script}"));
    scrub_env(&mut cmd);
    cmd.current_dir(dir.path())
        .env("B", bin_dir())
        .env("C", &copy);
    // A copy of the tools outside the checkout: no lib/functions next to them.
    cmd.env_remove("HOOKPIPE_LIB");
    if lib {
        cmd.env("HOOKPIPE_LIB", lib_dir());
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    (run(cmd, PIPE_TIMEOUT), dir)
}

fn json(path: &std::path::Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}\n{text}", path.display()))
}

/// Each way a stage can fail to start, piped into phase-log: failed, exit 2, the reason in
/// the console report, the JSON report and the JUnit file, said once.
#[test]
fn a_stage_that_cannot_start_fails_the_run_and_says_why_once() {
    // (what, the stage, its environment, whether HOOKPIPE_LIB is set)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        ("a typo in the phase", "$B/hook-run stack instal", &[], true),
        (
            "an unknown flag",
            "$B/hook-run --frobnicate stack install",
            &[],
            true,
        ),
        (
            "a bad HOOKPIPE_TIMEOUT",
            "$B/hook-run stack install",
            &[("HOOKPIPE_TIMEOUT", "5x")],
            true,
        ),
        (
            "no prelude to be found",
            "$C/hook-run stack install",
            &[],
            false,
        ),
        (
            "a missing prelude",
            "$B/hook-run --prelude /nonexistent/functions stack install",
            &[],
            true,
        ),
        (
            "an unreadable state file",
            "$B/hook-run --state a-directory stack install",
            &[],
            true,
        ),
        ("a bad hyp-call action", "$B/hyp-call instal", &[], true),
    ];
    let why: &[&str] = &[
        "unknown phase `instal`",
        "unexpected argument '--frobnicate'",
        "invalid value '5x'",
        "cannot find lib/functions",
        "/nonexistent/functions",
        "state file a-directory",
        "invalid value 'instal'",
    ];
    for ((what, stage, env, lib), why) in cases.iter().zip(why) {
        let script = format!(
            "mkdir a-directory\n\
             $B/hook-list extras.d | {stage} | $B/phase-log --json-report r.json --junit r.xml\n\
             status=(\"${{PIPESTATUS[@]}}\")\n\
             exit \"${{status[2]}}\""
        );
        let (out, dir) = pipeline(&script, env, *lib);
        assert_eq!(out.code(), 2, "{what}: phase-log's status\n{out}");
        assert!(
            out.stdout.contains("Result: failed (exit status 2)"),
            "{what}\n{out}"
        );
        assert_eq!(
            out.stdout.matches(why).count(),
            1,
            "{what}: the reason once in the console report\n{out}"
        );
        let report = json(&dir.path().join("r.json"));
        assert_eq!(report["result"], "failed", "{what}: {report}");
        assert_eq!(report["exit_status"], 2, "{what}: {report}");
        let failed = report["tools_failed"].as_array().expect("tools_failed");
        assert_eq!(failed.len(), 1, "{what}: {report}");
        assert!(
            failed[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains(why)),
            "{what}: {report}"
        );
        let junit = fs::read_to_string(dir.path().join("r.xml")).expect("r.xml");
        assert!(
            junit.contains(&why.replace('\'', "&apos;")) && junit.contains("type=\"tool-failed\""),
            "{what}: {junit}"
        );
    }
}

/// The failure is in the `done` record itself, for any reader of the stream.
#[test]
fn the_done_record_of_a_stage_that_cannot_start_carries_the_message() {
    let (out, _dir) = pipeline(
        "$B/hook-run stack instal </dev/null; echo \"status $?\"",
        &[],
        true,
    );
    let records: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).expect("a record"))
        .collect();
    assert_eq!(records.len(), 2, "{out}");
    assert_eq!(records[0]["type"], "begin");
    assert_eq!(records[0]["stage"], "stack/instal");
    assert_eq!(records[1]["type"], "done");
    assert_eq!(records[1]["status"], 2);
    assert!(
        records[1]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("unknown phase `instal`")),
        "{out}"
    );
    assert!(out.stdout.ends_with("status 2\n"), "{out}");
}

/// `HOOKPIPE_TIMEOUT=5x scripts/stack.sh`: every runner refuses the value; the run fails
/// with status 2, the reason is printed once, and the last line says failed.
#[test]
fn a_bad_setting_read_by_every_stage_fails_stack_sh_once() {
    let mut stack = Stack::demo();
    stack.env("HOOKPIPE_TIMEOUT", "5x");
    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 2, "{out}");
    let both = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(both.matches("invalid value '5x'").count(), 1, "{out}");
    assert!(!out.stdout.contains("Result: ok"), "{out}");
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("stack.sh failed (exit status 2)") && last.contains("full log in"),
        "{out}"
    );
    assert!(!stack.dest.exists(), "something ran\n{out}");
}

/// A stage that dies without writing a record is invisible to phase-log: the script's check
/// of every stage's status fails the run and says which stage, in one line.
#[test]
fn a_stage_that_wrote_nothing_is_never_ok() {
    let mut stack = Stack::demo();
    let bin = stack.root().join("bin");
    fs::create_dir(&bin).expect("mkdir bin");
    for tool in ["hook-list", "hook-run", "hyp-resolve", "phase-log"] {
        symlink(bin_dir().join(tool), bin.join(tool)).expect("link a tool");
    }
    let fake = bin.join("hyp-call");
    fs::write(
        &fake,
        "#!/bin/sh\necho 'hyp-call: out of luck' >&2\nexit 7\n",
    )
    .expect("fake");
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).expect("chmod");
    stack.env("HOOKPIPE_BIN", bin.to_str().expect("utf-8 temp path"));
    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 7, "{out}");
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|line| line.contains("reported nothing phase-log could see"))
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("stack.sh: stage 3 ") && lines[0].contains("hyp-call: out of luck"),
        "{out}"
    );
    assert!(
        out.stdout
            .lines()
            .last()
            .is_some_and(|last| last.starts_with("stack.sh failed (exit status 7)")),
        "{out}"
    );
}

/// The last line of a good run is DevStack's.
#[test]
fn a_good_run_ends_with_devstacks_last_line() {
    let stack = Stack::demo();
    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("stack.sh completed in ") && last.ends_with(" seconds."),
        "{out}"
    );
    stack.script("clean.sh", &[]).assert_ok();
}

/// clean.sh runs unstack.sh first but prints one report for the run.
#[test]
fn clean_sh_prints_one_report() {
    let stack = Stack::demo();
    stack.script("stack.sh", &[]).assert_ok();
    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    assert_eq!(out.stdout.matches("=== Result ===").count(), 1, "{out}");
    assert!(
        out.stdout.contains("unstack/"),
        "unstack's calls are in it\n{out}"
    );
    assert!(out.stdout.contains("clean/"), "{out}");
}

/// `run_phase` (lib/hookpipe) returns the failing hook's own status even when the caller has
/// no errexit (unstack.sh, clean.sh), where DevStack's would return 0: a failed phase never
/// looks ok at the call site.
#[test]
fn run_phase_without_errexit_returns_the_failing_hooks_status() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let extras = dir.path().join("extras.d");
    fs::create_dir(&extras).expect("mkdir extras.d");
    fs::write(
        extras.join("10-fail.sh"),
        "if [[ $1 == unstack ]]; then echo failing; return 3; fi\n",
    )
    .expect("write a hook");
    fs::write(
        extras.join("20-ok.sh"),
        "if [[ $1 == unstack ]]; then echo fine; fi\n",
    )
    .expect("write a hook");
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(
        "TOP_DIR=$PWD\nsource \"$LIB/hookpipe\"\nrun_phase unstack\necho \"run_phase returned $?\"",
    );
    scrub_env(&mut cmd);
    cmd.current_dir(dir.path())
        .env("HOOKPIPE_BIN", bin_dir())
        .env("LIB", lib_dir());
    let out = run(cmd, PIPE_TIMEOUT);
    // Then, as the script exits, its one full report.
    let (lines, report) = out
        .stdout
        .split_once("run_phase returned 3\n")
        .unwrap_or_else(|| panic!("run_phase's status is missing:\n{out}"));
    assert!(!lines.contains("=== Hook calls ==="), "{out}");
    assert_eq!(report.matches("=== Hook calls ===").count(), 1, "{out}");
    assert!(
        out.stdout.contains("fine"),
        "the next hook still ran\n{out}"
    );
}

/// An element of the schema: its name, required attributes, optional attributes, and the
/// elements it may hold.
type Element = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

/// What Jenkins' junit-10.xsd allows (the rules are listed in docs/reports.md).
const JUNIT_10: &[Element] = &[
    (
        "testsuites",
        &[],
        &["name", "time", "tests", "failures", "disabled", "errors"],
        &["testsuite"],
    ),
    (
        "testsuite",
        &["tests"],
        &[
            "name",
            "failures",
            "errors",
            "time",
            "disabled",
            "skipped",
            "skips",
            "timestamp",
            "hostname",
            "id",
            "package",
            "assertions",
            "file",
            "skip",
            "log",
            "url",
        ],
        &[
            "testsuite",
            "properties",
            "testcase",
            "system-out",
            "system-err",
        ],
    ),
    (
        "testcase",
        &["name"],
        &[
            "assertions",
            "time",
            "timestamp",
            "classname",
            "status",
            "class",
            "file",
            "line",
            "log",
            "group",
            "url",
        ],
        &[
            "skipped",
            "error",
            "failure",
            "rerunFailure",
            "rerunError",
            "system-out",
            "system-err",
        ],
    ),
    ("failure", &[], &["type", "message"], &[]),
    ("error", &[], &["type", "message"], &[]),
    ("skipped", &[], &["type", "message"], &[]),
    ("properties", &[], &[], &["property"]),
    ("property", &["name", "value"], &[], &[]),
    ("system-out", &[], &[], &[]),
    ("system-err", &[], &[], &[]),
];

/// Parses `xml` with a real XML parser and checks every element against [`JUNIT_10`].
fn assert_junit_10(xml: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|err| panic!("not XML: {err}\n{xml}"));
    assert_eq!(doc.root_element().tag_name().name(), "testsuites", "{xml}");
    for node in doc.descendants().filter(roxmltree::Node::is_element) {
        let name = node.tag_name().name();
        let (_, required, optional, children) = JUNIT_10
            .iter()
            .find(|(element, ..)| *element == name)
            .unwrap_or_else(|| panic!("<{name}> is not in junit-10.xsd\n{xml}"));
        for attr in node.attributes() {
            assert!(
                required.contains(&attr.name()) || optional.contains(&attr.name()),
                "<{name} {}> is not allowed by junit-10.xsd\n{xml}",
                attr.name()
            );
        }
        for attr in *required {
            assert!(node.has_attribute(*attr), "<{name}> needs {attr}\n{xml}");
        }
        for child in node.children().filter(roxmltree::Node::is_element) {
            assert!(
                children.contains(&child.tag_name().name()),
                "<{}> inside <{name}>\n{xml}",
                child.tag_name().name()
            );
        }
    }
    doc
}

/// One failed hook is one failure in the JUnit file: the stages after it that only stopped
/// because of it are not errors, their calls are skipped with the reason; and the file
/// validates against junit-10.xsd.
#[test]
fn one_failed_hook_is_one_junit_failure_and_the_file_is_junit_10() {
    let stack = Stack::fixture("failing");
    let junit = stack.root().join("junit.xml");
    let json_path = stack.root().join("report.json");
    let out = stack.script(
        "stack.sh",
        &[
            "--junit",
            junit.to_str().expect("utf-8 temp path"),
            "--json-report",
            json_path.to_str().expect("utf-8 temp path"),
        ],
    );
    assert_eq!(out.code(), 1, "{out}");
    let xml = fs::read_to_string(&junit).expect("the JUnit file");
    let doc = assert_junit_10(&xml);
    let root = doc.root_element();
    assert_eq!(root.attribute("failures"), Some("1"), "{xml}");
    assert_eq!(root.attribute("errors"), Some("0"), "{xml}");
    let red: Vec<_> = doc
        .descendants()
        .filter(|node| matches!(node.tag_name().name(), "failure" | "error"))
        .collect();
    assert_eq!(red.len(), 1, "{xml}");
    assert_eq!(
        red[0].parent().and_then(|case| case.attribute("name")),
        Some("20-fail.sh"),
        "{xml}"
    );
    let skipped: Vec<_> = doc
        .descendants()
        .filter(|node| node.tag_name().name() == "skipped")
        .collect();
    assert!(!skipped.is_empty(), "{xml}");
    assert!(
        skipped.iter().all(|node| node
            .attribute("message")
            .is_some_and(|m| m.contains("20-fail.sh"))),
        "every skip names the failure it follows\n{xml}"
    );
    // The console's Failures section and the JSON report say the same: one failure.
    assert!(!out.stdout.contains("exited with status 1"), "{out}");
    let report = json(&json_path);
    assert_eq!(report["tools_failed"], serde_json::json!([]), "{report}");
}

/// A stage that cannot start: one error, and still a valid junit-10 file.
#[test]
fn a_stage_that_cannot_start_is_one_junit_error_in_a_valid_file() {
    let (out, dir) = pipeline(
        "$B/hook-list extras.d | $B/hook-run stack instal | $B/phase-log --junit r.xml",
        &[],
        true,
    );
    assert_eq!(out.code(), 2, "{out}");
    let xml = fs::read_to_string(dir.path().join("r.xml")).expect("r.xml");
    let doc = assert_junit_10(&xml);
    assert_eq!(doc.root_element().attribute("errors"), Some("1"), "{xml}");
    assert_eq!(doc.root_element().attribute("failures"), Some("0"), "{xml}");
}

/// `stack.sh --dry-run` prints the plan and runs nothing; the plan's calls, stage by stage,
/// are the calls a real run then makes, in the same order.
#[test]
fn the_dry_run_plan_is_what_the_run_calls() {
    let stack = Stack::demo();
    let dry = stack.script("stack.sh", &["--dry-run"]);
    dry.assert_ok();
    assert!(!stack.dest.exists(), "--dry-run ran something\n{dry}");
    assert!(
        dry.stdout.starts_with("stack.sh would make these calls"),
        "{dry}"
    );
    let mut planned: Vec<(String, String)> = Vec::new();
    let mut stage = String::new();
    for line in dry.stdout.lines().skip(1) {
        if line.is_empty() || line.starts_with("not run") {
            continue;
        }
        match line.strip_prefix("  ") {
            None => stage = line.to_owned(),
            Some(call) => {
                let name = call.split_whitespace().next().unwrap_or_default();
                planned.push((stage.clone(), name.to_owned()));
            }
        }
    }
    let records = stack.root().join("run.ndjson");
    let out = stack.script(
        "stack.sh",
        &["--records", records.to_str().expect("utf-8 temp path")],
    );
    out.assert_ok();
    let made: Vec<(String, String)> = fs::read_to_string(&records)
        .expect("the records")
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["type"] == "start")
        .map(|record| {
            (
                record["stage"].as_str().unwrap_or_default().to_owned(),
                record["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(planned, made, "plan:\n{}\nrun:\n{out}", dry.stdout);
    stack.script("clean.sh", &[]).assert_ok();
}

/// lib/hookpipe prints one `Result:` line per run_phase, not the full reports each time;
/// the whole run's reports come once, when the script exits.
#[test]
fn run_phase_prints_one_line_per_call_and_the_reports_come_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let extras = dir.path().join("extras.d");
    fs::create_dir(&extras).expect("mkdir extras.d");
    fs::write(extras.join("10-a.sh"), "echo \"a $1\"\n").expect("write a hook");
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(
        "TOP_DIR=$PWD\nHOOKPIPE_RECORDS=$PWD/run.ndjson\nsource \"$LIB/functions\"\n\
         source \"$LIB/hookpipe\"\n\
         run_phase override_defaults\nrun_phase source\nrun_phase unstack\n\
         echo '--- end of the run'",
    );
    scrub_env(&mut cmd);
    cmd.current_dir(dir.path())
        .env("HOOKPIPE_BIN", bin_dir())
        .env("LIB", lib_dir());
    let out = run(cmd, PIPE_TIMEOUT);
    assert_eq!(out.code(), 0, "{out}");
    let (run, end) = out
        .stdout
        .split_once("--- end of the run")
        .expect("the marker");
    assert_eq!(run.matches("Result: ok").count(), 3, "{out}");
    assert!(!run.contains("=== Hook calls ==="), "{out}");
    assert_eq!(end.matches("=== Hook calls ===").count(), 1, "{out}");
    assert!(
        end.contains("Result: ok (exit status 0), 4 hook calls"),
        "{out}"
    );
}
