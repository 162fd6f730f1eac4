//! DevStack's async jobs (`async_runfunc` in one phase, `async_wait` in a later one) under
//! hookpipe, end to end. `tests/fixtures/async` is a DevStack-shaped tree: DevStack's last
//! hook `80-tempest.sh` in its own shape (a 2-second `install_tempest` job started in
//! `stack install`, awaited in `stack test-config`), `40-jobs.sh` with more patterns
//! switched on by variables, and a legacy `stack.sh` that sources its own functions and an
//! in-shell `inc/async` (DevStack's contract, which would hang across phases) before
//! lib/hookpipe. Every process a run starts carries a tag in its environment, so "nothing
//! left behind" is a scan of /proc.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hookpipe_e2e::{
    assert_no_tagged_process, bin_dir, lib_dir, repo_root, run, scrub_env, wait_within, Run, Stack,
    SCRIPT_TIMEOUT,
};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

const TAG: &str = "HOOKPIPE_ASYNC_TEST_TAG";

/// The async fixture as a scripts/stack.sh tree, with tempest enabled and the tag set.
fn fixture() -> Stack {
    let mut stack = Stack::fixture("async");
    let root = stack.root().to_owned();
    stack
        .env("ENABLED_SERVICES", "tempest")
        .env("VERBOSE", "False")
        .env(TAG, root.to_str().expect("a UTF-8 temporary path"));
    stack
}

/// Fails unless no process tagged for `root` is alive (allowing them a moment to go).
#[track_caller]
fn assert_no_process_left(root: &Path) {
    assert_no_tagged_process(TAG, root.as_os_str());
}

/// The time a call took, from the `=== Hook calls ===` table of a report.
fn call_seconds(report: &str, id: &str) -> f64 {
    report
        .lines()
        .find(|line| line.split_whitespace().next() == Some(id))
        .and_then(|line| line.split_whitespace().last())
        .and_then(|time| time.trim_end_matches('s').parse().ok())
        .unwrap_or_else(|| panic!("no time for {id} in:\n{report}"))
}

/// The `job` records of a records file.
fn job_records(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["type"] == "job")
        .collect()
}

fn find_job<'a>(jobs: &'a [Value], event: &str, name: &str) -> &'a Value {
    jobs.iter()
        .find(|job| job["event"] == event && job["name"] == name)
        .unwrap_or_else(|| panic!("no `{event}` record of job {name} in {jobs:#?}"))
}

#[test]
fn the_80_tempest_pattern_runs_through_scripts_stack_sh() {
    let stack = fixture();
    let reports = stack.root().join("reports");
    let report = |name: &str| reports.join(name).to_str().expect("UTF-8").to_owned();
    let (json, junit, html) = (report("r.json"), report("r.xml"), report("r.html"));
    fs::create_dir(&reports).expect("mkdir reports");
    let out = stack.script(
        "stack.sh",
        &["--json-report", &json, "--junit", &junit, "--html", &html],
    );
    out.assert_ok();
    // test-config configured what the job installed: the wait really waited.
    assert!(
        stack.dest.join("tempest/tempest.conf").exists(),
        "configure_tempest found no installed tempest\n{out}"
    );
    // The job ran in the background: the stage that started it returned at once, the
    // stage that awaited it waited for it.
    let install = call_seconds(&out.stdout, "stack/install/80-tempest.sh");
    let test_config = call_seconds(&out.stdout, "stack/test-config/80-tempest.sh");
    assert!(
        install < 1.0,
        "the install hook took {install}s: the job did not run in the background\n{out}"
    );
    assert!(
        test_config > 1.0,
        "the test-config hook took {test_config}s: async_wait did not wait\n{out}"
    );
    // The job is in the records, the log and the report, attributed to both hooks.
    let log = fs::read_to_string(stack.logfile()).expect("stack.sh wrote no LOGFILE");
    assert!(
        log.contains("stack/install/80-tempest.sh [job] start install_tempest (pid "),
        "no job start in the log:\n{log}"
    );
    assert!(
        log.contains("stack/test-config/80-tempest.sh [job] wait install_tempest: ok, exit 0"),
        "no job wait in the log:\n{log}"
    );
    // DevStack's messages and the job's own log, printed by async_wait.
    for needle in [
        "Async install_tempest:",
        "Waiting for completion of install_tempest",
        "install_tempest: done",
        "finished install_tempest with result 0 in",
    ] {
        assert!(log.contains(needle), "the log lacks {needle:?}:\n{log}");
    }
    let report = out
        .stdout
        .split("=== Async jobs ===")
        .nth(1)
        .unwrap_or_default();
    assert!(
        report
            .lines()
            .any(|line| line.starts_with("install_tempest")
                && line.contains("stack/install/80-tempest.sh")
                && line.contains("stack/test-config/80-tempest.sh")
                && line.contains(" ok ")),
        "no async job row in the report:\n{out}"
    );
    // The reports: the job in the JSON report, as an `async` test case, as a bar.
    let doc: Value = serde_json::from_str(&fs::read_to_string(&json).expect("r.json"))
        .expect("the JSON report parses");
    let job = &doc["jobs"][0];
    assert_eq!(job["name"], "install_tempest", "{doc:#}");
    assert_eq!(job["status"], "ok");
    assert_eq!(job["started_by"], "stack/install/80-tempest.sh");
    assert_eq!(job["awaited_by"], "stack/test-config/80-tempest.sh");
    assert!(job["duration_ms"].as_u64().unwrap_or(0) >= 1900, "{job}");
    let junit = fs::read_to_string(&junit).expect("r.xml");
    assert!(
        junit.contains(r#"<testcase classname="async" name="install_tempest""#),
        "{junit}"
    );
    let html = fs::read_to_string(&html).expect("r.html");
    assert!(
        html.contains("job install_tempest") && html.contains("async job install_tempest: ok"),
        "no bar of the job in the timeline"
    );
    // The ini file is collected, the log stays, as in DevStack.
    assert!(!stack.dest.join("async/install_tempest.ini").exists());
    assert!(stack.dest.join("async/install_tempest.log").exists());
    assert_no_process_left(stack.root());
}

#[test]
fn two_jobs_run_in_parallel() {
    let mut stack = fixture();
    stack.env("ASYNC_FIX_PAIR", "1");
    stack.env("ASYNC_FIX_INSTALL_SECONDS", "0");
    let started = Instant::now();
    let out = stack.script("stack.sh", &[]);
    let wall = started.elapsed();
    out.assert_ok();
    let log = fs::read_to_string(stack.logfile()).expect("stack.sh wrote no LOGFILE");
    // Each ran its two seconds; run one after the other they would take four.
    for name in ["pair_a", "pair_b"] {
        let line = log
            .lines()
            .find(|line| line.contains(&format!("[job] wait {name}: ok")))
            .unwrap_or_else(|| panic!("no wait of {name} in the log:\n{log}"));
        let ran: f64 = line
            .split(", ran ")
            .nth(1)
            .and_then(|rest| rest.split('s').next())
            .and_then(|secs| secs.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {line:?}"));
        assert!(ran >= 1.9, "{name} ran only {ran}s: {line}");
    }
    let post_config = call_seconds(&out.stdout, "stack/post-config/40-jobs.sh");
    assert!(
        post_config < 3.5,
        "waiting for both jobs took {post_config}s: they did not overlap\n{out}"
    );
    assert!(wall < Duration::from_secs(30), "the run took {wall:?}");
    assert_no_process_left(stack.root());
}

#[test]
fn a_failing_job_returns_its_status_and_stops_the_run() {
    let mut stack = fixture();
    stack.env("ASYNC_FIX_INSTALL_FAIL", "3");
    stack.env("ASYNC_FIX_INSTALL_SECONDS", "0");
    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 1, "a failed job must fail the run\n{out}");
    // Under errexit the waiting hook ended with the job's own status.
    let failures = out
        .stdout
        .split("=== Failures ===")
        .nth(1)
        .unwrap_or_default();
    assert!(
        failures.contains("stack/test-config/80-tempest.sh: failed, exit 3"),
        "the waiting hook did not fail with the job's status:\n{out}"
    );
    assert!(
        failures.contains("async job install_tempest: failed, exit 3, started by stack/install/80-tempest.sh, awaited by stack/test-config/80-tempest.sh"),
        "the failure report does not name the job:\n{out}"
    );
    // DevStack's dump and message, in the waiting hook's output.
    let log = fs::read_to_string(stack.logfile()).expect("stack.sh wrote no LOGFILE");
    assert!(log.contains("=== Wait failure dump from"), "{log}");
    assert!(
        log.contains("Stopping async wait due to error: install_tempest"),
        "{log}"
    );
    assert!(log.contains("install_tempest: pip failed"), "{log}");
    // errexit stopped the hook before it configured anything.
    assert!(!stack.dest.join("tempest/tempest.conf").exists());
    assert_no_process_left(stack.root());
}

#[test]
fn a_job_never_awaited_is_named_and_collected() {
    let mut stack = fixture();
    stack.env("ASYNC_FIX_ORPHAN", "1");
    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("not awaited: orphan (started by stack/install/40-jobs.sh"),
        "the report does not name the job nobody awaited:\n{out}"
    );
    // DevStack's async_cleanup, run by stack.sh at the end, names and collects it.
    assert!(
        out.stdout
            .contains("WARNING: uncollected async future orphan"),
        "{out}"
    );
    assert!(out.stdout.contains("fix_sleeper orphan: end"), "{out}");
    assert!(!stack.dest.join("async/orphan.ini").exists());
    assert_no_process_left(stack.root());
}

/// scripts/stack.sh started in a process group of its own, as a shell runs a job.
fn spawn_stack(stack: &Stack, env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = Command::new(repo_root().join("scripts/stack.sh"));
    scrub_env(&mut cmd);
    cmd.current_dir(stack.root())
        .env("TOP_DIR", &stack.top)
        .env("DEST", &stack.dest)
        .env("LOGFILE", stack.logfile())
        .env("HOOKPIPE_BIN", bin_dir())
        .env("HOOKPIPE_LIB", lib_dir())
        .env("ENABLED_SERVICES", "tempest")
        .env("VERBOSE", "False")
        .env(TAG, stack.root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.spawn().expect("start scripts/stack.sh")
}

/// Waits until `path` exists, failing after a minute.
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_while_a_job_runs_leaves_no_process() {
    let stack = fixture();
    let mut child = spawn_stack(&stack, &[("ASYNC_FIX_FOREVER", "1")]);
    // The job runs, and the extra stage waits for it.
    wait_for(&stack.dest.join("async/forever.log"));
    let log_of = |name: &str| fs::read_to_string(stack.dest.join("async").join(name));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log_of("forever.log")
        .unwrap_or_default()
        .contains("fix_sleeper forever: start")
    {
        assert!(Instant::now() < deadline, "the job never started");
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(500));
    let group = Pid::from_raw(child.id() as i32);
    killpg(group, Signal::SIGINT).expect("SIGINT to the run");
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for stack.sh") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "stack.sh did not end after Ctrl-C"
        );
        thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.code() == Some(130) || status.signal() == Some(2),
        "stack.sh ended with {status:?} after Ctrl-C"
    );
    assert_no_process_left(stack.root());
    // The stop, and why, are in the log.
    let log = fs::read_to_string(stack.logfile()).expect("stack.sh wrote no LOGFILE");
    assert!(
        log.contains("[job] stop forever: stopped") && log.contains("interrupted"),
        "the log does not say the job was stopped by the interrupt:\n{log}"
    );
    let status = fs::read_to_string(stack.dest.join("async/forever.status")).unwrap_or_default();
    assert!(status.contains("stopped"), "forever.status: {status:?}");
}

#[test]
fn a_timeout_stops_the_running_jobs_with_the_reason() {
    let mut stack = fixture();
    stack.env("ASYNC_FIX_FOREVER", "1");
    stack.env("ASYNC_FIX_INSTALL_SECONDS", "60");
    stack.env("HOOKPIPE_TIMEOUT", "2");
    let started = Instant::now();
    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 1, "a timed-out hook must fail the run\n{out}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the run took {:?}",
        started.elapsed()
    );
    assert!(
        out.stdout.contains("stack/extra/40-jobs.sh: timeout"),
        "the waiting hook did not time out:\n{out}"
    );
    // Both jobs (the one awaited and tempest's) were stopped, and the records say why.
    let log = fs::read_to_string(stack.logfile()).expect("stack.sh wrote no LOGFILE");
    for name in ["forever", "install_tempest"] {
        assert!(
            log.lines()
                .any(|line| line.contains(&format!("[job] stop {name}: stopped"))
                    && line.contains("timeout: stack/extra/40-jobs.sh timed out")),
            "no stop of {name} with the timeout as reason:\n{log}"
        );
    }
    assert!(
        out.stdout.contains("async job forever: stopped"),
        "the failure report does not name the stopped job:\n{out}"
    );
    assert_no_process_left(stack.root());
}

#[test]
fn devstack_parallel_false_runs_jobs_inline() {
    let mut stack = fixture();
    stack.env("DEVSTACK_PARALLEL", "False");
    stack.env("ASYNC_FIX_PAIR", "1");
    stack.env("ASYNC_FIX_INSTALL_SECONDS", "1");
    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    let log = fs::read_to_string(stack.logfile()).expect("stack.sh wrote no LOGFILE");
    assert!(
        log.contains("Running synchronously: fix_sleeper a 2")
            && log.contains("[job] start pair_a (inline)"),
        "the jobs did not run inline:\n{log}"
    );
    // Inline: the stage that starts the jobs does their work.
    let install = call_seconds(&out.stdout, "stack/install/40-jobs.sh");
    assert!(
        install >= 3.9,
        "two 2-second inline jobs took {install}s\n{out}"
    );
    assert!(stack.dest.join("tempest/tempest.conf").exists(), "{out}");
    assert!(!stack.dest.join("async/pair_a.fifo").exists());
    assert_no_process_left(stack.root());
}

/// The legacy caller of the fixture, run in `out`: its own functions and inc/async, then
/// lib/hookpipe from this repository when `adopt`.
fn legacy(out: &Path, adopt: bool, env: &[(&str, &str)]) -> Run {
    run(legacy_command(out, adopt, env), SCRIPT_TIMEOUT)
}

/// The command of [`legacy`], with the fixture copied to `out/top`.
fn legacy_command(out: &Path, adopt: bool, env: &[(&str, &str)]) -> Command {
    let top = out.join("top");
    hookpipe_e2e::copy_tree(&repo_root().join("tests/fixtures/async"), &top)
        .expect("copy the fixture");
    let mut cmd = Command::new(top.join("stack.sh"));
    scrub_env(&mut cmd);
    cmd.current_dir(out)
        .env("FIXTURE_OUT", out)
        .env("DEST", out.join("dest"))
        .env("VERBOSE", "False")
        .env("TMPDIR", out)
        .env(TAG, out);
    if adopt {
        cmd.env("HOOKPIPE_SOURCE", repo_root().join("lib/hookpipe"))
            .env("HOOKPIPE_BIN", bin_dir())
            .env("HOOKPIPE_RECORDS", out.join("records"));
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd
}

#[test]
fn a_legacy_caller_with_lib_hookpipe_waits_across_phases_both_ways() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path();
    let result = legacy(out, true, &[("ASYNC_FIX_CALLER", "1")]);
    result.assert_ok();
    let summary = fs::read_to_string(out.join("summary")).unwrap_or_default();
    assert_eq!(
        summary,
        "Installing Tempest\nstack.sh collected hook_job\nInitializing Tempest\n\
         Installing Tempest Plugins\nstack.sh completed\n",
        "{result}"
    );
    let dest = out.join("dest");
    assert!(dest.join("tempest/tempest.conf").exists(), "{result}");
    // The caller's job, awaited in a hook; the hook's job, awaited by the caller.
    assert!(dest.join("caller_job.done").exists(), "{result}");
    assert!(
        result
            .stdout
            .contains("finished fix_sleeper hook 1 with result 0"),
        "{result}"
    );
    // DevStack's async_print_timing, in the caller, with the background time the hooks'
    // waits added (it travels back in the state).
    let timing = result
        .stdout
        .split(" Async summary")
        .nth(1)
        .unwrap_or_default();
    assert!(
        timing.contains("Time spent in the background minus waits: "),
        "no async summary:\n{result}"
    );
    let jobs = job_records(&out.join("records"));
    let tempest = find_job(&jobs, "wait", "install_tempest");
    assert_eq!(tempest["started_by"], "stack/install/80-tempest.sh");
    assert_eq!(tempest["id"], "stack/test-config/80-tempest.sh");
    assert_eq!(tempest["status"], "ok");
    let caller = find_job(&jobs, "wait", "caller_job");
    assert_eq!(caller["id"], "stack/post-config/40-jobs.sh");
    assert!(caller.get("started_by").is_none(), "{caller}");
    let hook = find_job(&jobs, "start", "hook_job");
    assert_eq!(hook["id"], "stack/post-config/40-jobs.sh");
    // The caller's own start and wait, reported by the next pipeline, without an id.
    let caller_start = find_job(&jobs, "start", "caller_job");
    assert!(caller_start.get("id").is_none(), "{caller_start}");
    let caller_wait = find_job(&jobs, "wait", "hook_job");
    assert!(caller_wait.get("id").is_none(), "{caller_wait}");
    assert_eq!(caller_wait["started_by"], "stack/post-config/40-jobs.sh");
    assert_eq!(caller_wait["status"], "ok");
    assert_no_process_left(out);

    // The same script without hookpipe (DevStack's in-shell run_phase and its own
    // inc/async) says the same: the fixture is faithful to DevStack.
    let plain_dir = tempfile::tempdir().expect("a temporary directory");
    let plain = legacy(plain_dir.path(), false, &[("ASYNC_FIX_CALLER", "1")]);
    plain.assert_ok();
    let plain_summary = fs::read_to_string(plain_dir.path().join("summary")).unwrap_or_default();
    assert_eq!(plain_summary, summary, "{plain}");
    assert_no_process_left(plain_dir.path());
}

#[test]
fn ctrl_c_in_a_legacy_caller_stops_its_jobs() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path();
    let mut cmd = legacy_command(
        out,
        true,
        &[
            ("ASYNC_FIX_FOREVER", "1"),
            ("ASYNC_FIX_INSTALL_SECONDS", "60"),
        ],
    );
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = cmd.spawn().expect("start the legacy stack.sh");
    // The extra phase waits for the job started in install.
    let log = out.join("dest/async/forever.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("fix_sleeper forever: start")
    {
        assert!(Instant::now() < deadline, "the job never started");
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(500));
    killpg(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT to the run");
    assert!(
        wait_within(&mut child, SCRIPT_TIMEOUT).is_some(),
        "stack.sh did not end after Ctrl-C"
    );
    assert_no_process_left(out);
    let jobs = job_records(&out.join("records"));
    for name in ["forever", "install_tempest"] {
        let stop = find_job(&jobs, "stop", name);
        assert_eq!(
            stop["reason"], "interrupted: the run was interrupted",
            "{stop}"
        );
    }
}

/// lib/functions alone, through bash: DEST is the test's directory.
fn bash_async(body: &str) -> Run {
    let mut bash = hookpipe_e2e::Bash::new();
    let dir: PathBuf = bash.dir().to_owned();
    let dir = dir.to_str().expect("a UTF-8 temporary path").to_owned();
    bash.env("DEST", &dir).env(TAG, &dir);
    let out = bash.run(body);
    assert_no_process_left(Path::new(&dir));
    out
}

#[test]
fn a_wait_for_a_name_never_started_fails_at_once() {
    let started = Instant::now();
    let out = bash_async("async_init\nasync_wait no_such_job\necho \"status $?\"\n");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(out.stdout.contains("status 1"), "{out}");
    assert!(
        out.stdout.contains(
            "Not waiting for async task no_such_job that we never started or has already been waited for"
        ) && out
            .stderr
            .contains("async_wait: no job named no_such_job was started in this run"),
        "{out}"
    );
    // DevStack's stack.sh waits for jobs its disabled services never started: a name that
    // is a function (a possible async_runfunc) keeps DevStack's status 0.
    let out = bash_async(
        "async_init\nfunction create_swift_accounts { :; }\n\
         async_wait create_swift_accounts\necho \"status $?\"\n",
    );
    assert!(out.stdout.contains("status 0"), "{out}");
}

#[test]
fn a_job_whose_process_vanished_is_lost_not_awaited_forever() {
    let started = Instant::now();
    let out = bash_async(
        "async_init\nasync_run doomed sleep 300\n\
         pid=$(async_pidof doomed)\nkill -KILL -- -\"$pid\"\n\
         async_wait doomed\necho \"status $?\"\n",
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "async_wait took {:?}",
        started.elapsed()
    );
    assert!(out.stdout.contains("status 1"), "{out}");
    assert!(
        out.stdout.contains("lost: its process (PID")
            && out.stdout.contains("ended without recording a status"),
        "{out}"
    );
}

#[test]
fn a_signal_to_the_supervisor_alone_stops_the_whole_job() {
    // DevStack's exit_trap kills `jobs -p`: the supervisor's pid, not its group.
    let out = bash_async(
        "async_init\nasync_run victim sleep 300\npid=$(async_pidof victim)\nsleep 0.3\n\
         kill -TERM \"$pid\"\nasync_wait victim\necho \"status $?\"\n",
    );
    assert!(out.stdout.contains("status 143"), "{out}");
    assert!(
        out.stdout.contains("stopped: its supervisor got a signal"),
        "{out}"
    );
}

#[test]
fn a_job_stops_when_the_script_leading_the_run_is_killed() {
    // The leader dies by SIGKILL: no trap, no runner; the supervisor notices by itself.
    let started = Instant::now();
    let out = bash_async(
        "bash -c 'source \"$HOOKPIPE_LIB/functions\"; async_init; async_run orphan sleep 300; \
         kill -KILL $$'\nwhile [[ ! -e \"$DEST/async/orphan.status\" ]]; do sleep 0.1; done\n\
         cat \"$DEST/async/orphan.status\"\n",
    );
    assert!(
        out.stdout
            .contains("stopped: the run ended (its leader, PID"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
