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
