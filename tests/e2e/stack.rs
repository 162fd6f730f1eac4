//! The main job end to end: scripts/stack.sh, unstack.sh and clean.sh run on temporary
//! trees with the workspace's debug binaries, checked by what they leave on disk (pid files,
//! live processes, heartbeats, logs) and what they print.

use std::fs;
use std::time::Duration;

use hookpipe_e2e::{positions, process_alive, wait_gone, Stack};

const TEMPLATE_PID: &str = "template/data/template.pid";
const TEMPLATE_HEARTBEAT: &str = "template/data/heartbeat";
const TOYVISOR_PID: &str = "toyvisor/toyvisor.pid";

/// Long enough for a loaded machine to reap a stopped daemon; only a hang waits this long.
const GONE_TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn stack_unstack_clean_lifecycle() {
    let stack = Stack::demo();

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    let template = stack
        .pid(TEMPLATE_PID)
        .expect("stack.sh left no template pid file");
    let toyvisor = stack
        .pid(TOYVISOR_PID)
        .expect("stack.sh left no toyvisor pid file");
    assert!(
        process_alive(template),
        "template-daemon {template} is not running\n{out}"
    );
    assert!(
        process_alive(toyvisor),
        "toyvisor {toyvisor} is not running\n{out}"
    );
    let beats = fs::read_to_string(stack.dest.join(TEMPLATE_HEARTBEAT)).expect("heartbeats");
    assert!(
        beats
            .lines()
            .all(|line| line.ends_with(": Hello from hookpipe"))
            && !beats.is_empty(),
        "heartbeats without the default greeting:\n{beats}"
    );

    // The log holds the summary lines in DevStack's phase order: pre-install, the
    // hypervisor's install and configure, install, post-config, the hypervisor's start,
    // extra (50 then 60, as their names sort), test-config.
    let log = fs::read_to_string(stack.logfile()).expect("stack.sh wrote no LOGFILE");
    let order = positions(
        &log,
        &[
            "Installing template prerequisites",
            "Installing the toy hypervisor",
            "Configuring the toy hypervisor",
            "Installing template\n",
            "Configuring template\n",
            "Starting the toy hypervisor",
            "Initializing and starting template",
            "Checking that template is alive",
            "Final template check",
        ],
    );
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "summary lines out of phase order {order:?}:\n{log}"
    );

    let out = stack.script("unstack.sh", &[]);
    out.assert_ok();
    assert!(
        wait_gone(template, GONE_TIMEOUT),
        "template-daemon {template} outlived unstack.sh\n{out}"
    );
    assert!(
        wait_gone(toyvisor, GONE_TIMEOUT),
        "toyvisor {toyvisor} outlived unstack.sh\n{out}"
    );
    assert!(
        !stack.dest.join(TEMPLATE_PID).exists(),
        "pid file left\n{out}"
    );
    // unstack stops; removing state is clean's job.
    assert!(
        stack.dest.join(TEMPLATE_HEARTBEAT).exists(),
        "unstack.sh removed state\n{out}"
    );
    assert!(out.stdout.contains("Stopping template"), "{out}");

    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    assert!(
        !stack.dest.join("template").exists(),
        "clean.sh left $DEST/template\n{out}"
    );
    assert!(
        !stack.dest.join("toyvisor").exists(),
        "clean.sh left $DEST/toyvisor\n{out}"
    );
    assert!(out.stdout.contains("Cleaning up template"), "{out}");
}

#[test]
fn local_conf_greeting_reaches_the_hooks_and_beats_the_environment() {
    let mut stack = Stack::fixture("local-conf");
    // localrc settings win over the environment, as in DevStack.
    stack.env("TEMPLATE_GREETING", "Hello from the environment");

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    // 60-template-check.sh prints the last heartbeat, which carries the configured greeting.
    assert!(
        out.stdout.contains("last heartbeat: ")
            && out.stdout.contains("beat 1: Hello from local.conf"),
        "the check hook did not see local.conf's greeting:\n{out}"
    );
    let conf = fs::read_to_string(stack.dest.join("template/etc/template.conf")).expect("conf");
    assert!(conf.contains("greeting=Hello from local.conf\n"), "{conf}");
    // Only [[local|localrc]] is bash: the other section's line never ran.
    let auto = fs::read_to_string(stack.top.join(".localrc.auto")).expect(".localrc.auto");
    assert!(
        auto.contains("TEMPLATE_GREETING=\"Hello from local.conf\""),
        "{auto}"
    );
    assert!(!auto.contains("wrong-section"), "{auto}");
    stack.script("unstack.sh", &[]).assert_ok();
}

#[test]
fn localrc_wins_over_local_conf() {
    let stack = Stack::fixture("local-conf");
    stack.write_top("localrc", "TEMPLATE_GREETING='Hello from localrc'\n");

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("localrc and local.conf:[[local]] both exist, using localrc"),
        "no warning about the two files:\n{out}"
    );
    let conf = fs::read_to_string(stack.dest.join("template/etc/template.conf")).expect("conf");
    assert!(
        conf.contains("greeting=Hello from localrc\n"),
        "{conf}\n{out}"
    );
    stack.script("unstack.sh", &[]).assert_ok();
}

#[test]
fn failing_hook_stops_the_run_at_its_stage() {
    let stack = Stack::fixture("failing");

    let out = stack.script("stack.sh", &[]);
    assert_eq!(
        out.code(),
        1,
        "stack.sh must fail with the hook's failure\n{out}"
    );
    assert!(
        out.stdout.contains("stack/install/20-fail.sh")
            && out.stdout.contains("20-fail: about to fail"),
        "the failure is not reported:\n{out}"
    );
    assert!(!out.stdout.contains("20-fail: not reached"), "{out}");

    let calls = fs::read_to_string(stack.dest.join("calls")).expect("the hooks ran");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(
        calls,
        [
            "10 override_defaults",
            "20 override_defaults",
            "30 override_defaults",
            "10 source",
            "20 source",
            "30 source",
            "10 stack pre-install",
            "20 stack pre-install",
            "30 stack pre-install",
            "10 stack install",
            "20 stack install",
        ],
        "stages ran after the failure\n{out}"
    );
    // The hypervisor was installed and configured before the failure, never started.
    assert!(stack.dest.join("toyvisor/toyvisor.conf").exists(), "{out}");
    assert_eq!(
        stack.pid(TOYVISOR_PID),
        None,
        "toyvisor started after a failure\n{out}"
    );
}

#[test]
fn demo_hooks_do_nothing_when_template_is_not_enabled() {
    let mut stack = Stack::demo();
    stack.env("ENABLED_SERVICES", "n-cpu");

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert!(
        !stack.dest.join("template").exists(),
        "template ran while disabled\n{out}"
    );
    assert!(!out.stdout.contains("Installing template"), "{out}");
    assert!(
        stack.pid(TOYVISOR_PID).is_some(),
        "n-cpu alone still runs the hypervisor\n{out}"
    );
    stack.script("clean.sh", &[]).assert_ok();
    assert!(!stack.dest.join("toyvisor").exists());
}

#[test]
fn unstack_and_clean_on_a_fresh_tree_succeed() {
    let stack = Stack::demo();
    stack.script("unstack.sh", &[]).assert_ok();
    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    assert!(!stack.dest.join("template").exists(), "{out}");
}

#[test]
fn a_bad_setting_fails_the_stage_that_reads_it() {
    let mut stack = Stack::demo();
    stack.env("TEMPLATE_INTERVAL", "soon");

    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout.contains("stack/post-config/50-template.sh")
            && out
                .stdout
                .contains("TEMPLATE_INTERVAL must be a positive whole number"),
        "{out}"
    );
    assert_eq!(
        stack.pid(TEMPLATE_PID),
        None,
        "template started after a failure\n{out}"
    );
}

#[test]
fn a_hookpipe_bin_without_the_tools_is_refused_before_anything_runs() {
    let mut stack = Stack::demo();
    let empty = stack.root().join("no-tools");
    fs::create_dir(&empty).expect("mkdir");
    stack.env("HOOKPIPE_BIN", empty.to_str().expect("utf-8 temp path"));

    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr
            .contains("HOOKPIPE_BIN has no executable hook-list"),
        "{out}"
    );
    assert!(!stack.dest.exists(), "something ran\n{out}");
}

#[test]
fn service_lines_in_local_conf_drive_the_guards() {
    let stack = Stack::demo();
    // n-cpu off: the hypervisor plugin is neither sourced (nova) nor installed (n-cpu).
    stack.write_top(
        "local.conf",
        "[[local|localrc]]\ndisable_service n-cpu\nenable_service extra-thing\n",
    );

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert!(
        !stack.dest.join("toyvisor").exists(),
        "the hypervisor ran\n{out}"
    );
    assert!(
        stack.pid(TEMPLATE_PID).is_some(),
        "template did not start\n{out}"
    );
    stack.script("unstack.sh", &[]).assert_ok();
}
