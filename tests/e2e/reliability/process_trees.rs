//! A hook's whole process tree: `--timeout` and Ctrl-C stop every process a hook started,
//! including TERM-ignoring ones, `setsid` children, double-forked grandchildren and `set -m`
//! jobs (the runner is a child subreaper), while a daemon started with `start_daemon` and a
//! background job of a hook that ended normally keep running.

use super::*;

// ---------------------------------------------------------------------------------------
// Timeouts.

#[test]
fn timeout_kills_a_whole_tree_of_term_ignoring_processes_and_the_stage_goes_on() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-tree.sh", "term-tree.sh");
    sb.hook("extras.d", "20-after.sh", "echo-args.sh");
    let mut run = full_pipeline(
        &sb,
        &[&[
            "hook-run",
            "stack",
            "install",
            "--timeout",
            "1",
            "--kill-after",
            "1",
            "--keep-going",
        ]],
        &[],
    );
    run.wait_expecting(&[0, 1, 0, 1]);

    let stream = records(&sb.join("records.ndjson"));
    let id = "stack/install/10-tree.sh";
    let end = end_of(&stream, id);
    assert_eq!(end["status"], "timeout", "{end}");
    assert_eq!(end["signal"], 9, "only KILL ends this tree: {end}");
    let lines = texts_of(&stream, id);
    assert_eq!(lines.first().map(String::as_str), Some("tree started"));
    assert!(
        lines.iter().any(|l| l == "hook got TERM, carrying on"),
        "output written in the grace period is kept: {lines:?}"
    );
    assert_eq!(
        texts_of(&stream, "stack/install/20-after.sh"),
        ["ran stack install"]
    );
    assert_log_covers(&read_text(&sb.join("run.log")), &stream);
    for name in ["worker", "child", "child.child"] {
        assert_gone(pid_from(&sb.join("pids").join(name)), name);
    }
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// No process escapes (issue 20 audit): the runner is a child subreaper and stops its hooks'
// whole tree.

/// The children `detached-children.sh` leaves outside the worker's process group.
const ESCAPERS: [&str; 3] = ["setsid", "double-fork", "own-group"];

/// Fails unless every escaper and the worker are gone while the `start_daemon` daemon still
/// runs; then ends the daemon (a test leaves nothing behind).
#[track_caller]
fn assert_tree_stopped_and_daemon_kept(sb: &Sandbox) {
    let pids = sb.join("pids");
    assert_gone(pid_from(&pids.join("worker")), "the worker");
    for name in ESCAPERS {
        assert_gone(pid_from(&pids.join(name)), &format!("the {name} child"));
    }
    let daemon = pid_from(&pids.join("daemon-self"));
    assert!(
        process_alive(daemon),
        "the daemon started with start_daemon was stopped with the hook"
    );
    let _ = kill(Pid::from_raw(daemon), Signal::SIGKILL);
    sb.assert_no_process_left();
}

/// Waits until the hook has started all its children.
fn wait_for_escapers(sb: &Sandbox) {
    let pids = sb.join("pids");
    for name in ["worker", "daemon-self"].iter().chain(ESCAPERS.iter()) {
        pid_from(&pids.join(name));
    }
}

#[test]
fn a_timeout_stops_setsid_double_forked_and_own_group_children_but_not_a_daemon() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-detached.sh", "detached-children.sh");
    let mut run = full_pipeline(
        &sb,
        &[&[
            "hook-run",
            "stack",
            "install",
            "--timeout",
            "2",
            "--kill-after",
            "1",
        ]],
        &[],
    );
    run.wait_expecting(&[0, 1, 0, 1]);
    let stream = records(&sb.join("records.ndjson"));
    let end = end_of(&stream, "stack/install/10-detached.sh");
    assert_eq!(end["status"], "timeout", "{end}");
    assert_tree_stopped_and_daemon_kept(&sb);
}

#[test]
fn ctrl_c_of_the_whole_pipeline_stops_every_escaped_child_but_not_a_daemon() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-detached.sh", "detached-children.sh");
    let script = "hook-list extras.d | hook-run stack install --kill-after 1 \
        | hook-run stack extra --kill-after 1 | phase-log -o run.log > console.txt; \
        echo went on > status";
    let mut run = Pipeline::start(vec![sb.bash(script)], None, &sb.join("bash.out"));
    wait_for_escapers(&sb);
    run.signal_group(Signal::SIGINT);
    let statuses = run.wait();
    assert!(
        !sb.join("status").exists(),
        "the script went on after Ctrl-C"
    );
    assert_eq!(statuses[0].signal(), Some(2), "{}", run.report(&statuses));
    assert_tree_stopped_and_daemon_kept(&sb);
}

#[test]
fn a_background_job_left_by_a_hook_that_ended_normally_keeps_running() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-careless.sh", "careless-daemon.sh");
    let mut run = full_pipeline(
        &sb,
        &[&["hook-run", "stack", "install", "--timeout", "20"]],
        &[],
    );
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0, 0, 0, 0], "{}", run.report(&statuses));
    let pid_file = sb.join("daemon.pid");
    let daemon = pid_from(&pid_file);
    assert!(
        process_alive(daemon),
        "the hook's background job was stopped"
    );
    dismiss_daemon(&pid_file);
    sb.assert_no_process_left();
}
