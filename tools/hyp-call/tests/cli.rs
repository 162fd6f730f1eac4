//! hyp-call through its real binary: each action calls the right function with the prelude
//! loaded, guards and DevStack's start rule, failures stop the stage, missing functions fail.

use std::fs;
use std::process::{Command, Output};

use hookpipe_e2e::{lib_dir, parse_records, run_with_input};
use serde_json::{json, Value};

const HYP_CALL: &str = env!("CARGO_BIN_EXE_hyp-call");

const PLUGIN: &str = r#"# A fixture hypervisor plugin that records each call in $CALLS.
PLUGIN_SOURCED=$((${PLUGIN_SOURCED:-0} + 1))
function install_nova_hypervisor { echo "install sourced=$PLUGIN_SOURCED prelude=$(type -t echo_summary)" >>"$CALLS"; }
function configure_nova_hypervisor { echo configure >>"$CALLS"; }
function start_nova_hypervisor { echo start >>"$CALLS"; }
function stop_nova_hypervisor { echo stop >>"$CALLS"; false; echo "stop went on" >>"$CALLS"; }
"#;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(driver: &str) -> (Fixture, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("hypervisor-{driver}"));
        fs::write(&path, PLUGIN).unwrap();
        let record = json!({
            "type": "hypervisor", "driver": driver, "path": path.to_str().unwrap(),
            "missing": ["cleanup_nova_hypervisor"],
            "functions": ["install_nova_hypervisor", "configure_nova_hypervisor",
                          "start_nova_hypervisor", "stop_nova_hypervisor"],
            "sourced": [],
        });
        (Fixture { dir }, format!("{record}\n"))
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default()
    }

    fn run(&self, args: &[&str], input: &str, services: &str) -> Output {
        // A usage error exits before reading: run_with_input takes a closed pipe as fine.
        let mut cmd = Command::new(HYP_CALL);
        cmd.args(args)
            .env("HOOKPIPE_LIB", lib_dir())
            .env("CALLS", self.dir.path().join("calls"))
            .env("ENABLED_SERVICES", services);
        run_with_input(&mut cmd, input.as_bytes())
    }
}

fn records(output: &Output) -> Vec<Value> {
    parse_records(&output.stdout)
}

fn ends(records: &[Value]) -> Vec<(String, String)> {
    records
        .iter()
        .filter(|r| r["type"] == "end")
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn actions_call_their_functions_in_order_with_the_prelude() {
    let (fixture, input) = Fixture::new("toy");
    let out = fixture.run(&["install", "configure", "start"], &input, "n-cpu");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The plugin is sourced once: later functions exist already and are not re-sourced.
    assert_eq!(
        fixture.calls(),
        "install sourced=1 prelude=function\nconfigure\nstart\n"
    );
    let recs = records(&out);
    assert_eq!(
        ends(&recs),
        [
            ("hypervisor/install/toy".into(), "ok".into()),
            ("hypervisor/configure/toy".into(), "ok".into()),
            ("hypervisor/start/toy".into(), "ok".into()),
        ]
    );
    let start = recs.iter().find(|r| r["type"] == "start").unwrap();
    assert_eq!(start["function"], "install_nova_hypervisor");
    assert_eq!(start["kind"], "hypervisor");
    // The hypervisor record is handed on for the next stage.
    assert!(recs.iter().any(|r| r["type"] == "hypervisor"));
}

#[test]
fn source_then_call_through_the_state_does_not_resource() {
    let (fixture, input) = Fixture::new("toy");
    let script = format!("printf '%s' \"$IN\" | {HYP_CALL} source | {HYP_CALL} install",);
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("IN", &input)
        .env("HOOKPIPE_LIB", lib_dir())
        .env("CALLS", fixture.dir.path().join("calls"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fixture.calls(), "install sourced=1 prelude=function\n");
}

#[test]
fn devstack_does_not_start_the_fake_driver() {
    let (fixture, input) = Fixture::new("fake");
    let out = fixture.run(&["start"], &input, "n-cpu");
    let recs = records(&out);
    let skip = recs
        .iter()
        .find(|r| r["type"] == "skip")
        .expect("skip record");
    assert_eq!(skip["reason"], "not-started");
    assert_eq!(fixture.calls(), "");
    let out = fixture.run(&["start", "--always-start"], &input, "n-cpu");
    assert!(out.status.success());
    assert_eq!(fixture.calls(), "start\n");
}

#[test]
fn when_enabled_guards_both_ways() {
    let (fixture, input) = Fixture::new("toy");
    let out = fixture.run(
        &["--when-enabled", "n-cpu", "install"],
        &input,
        "key,template",
    );
    let recs = records(&out);
    let skip = recs
        .iter()
        .find(|r| r["type"] == "skip")
        .expect("skip record");
    assert_eq!(skip["reason"], "disabled");
    assert!(out.status.success());
    assert_eq!(fixture.calls(), "");
    let out = fixture.run(&["--when-enabled", "n-cpu", "install"], &input, "key,n-cpu");
    assert!(out.status.success());
    assert_eq!(ends(&records(&out)).len(), 1);
}

#[test]
fn failing_function_stops_like_a_failing_hook_and_missing_function_fails() {
    let (fixture, input) = Fixture::new("toy");
    // stop fails under errexit (forced here; teardown defaults to no errexit).
    let out = fixture.run(
        &["--errexit", "--stop-on-failure", "stop", "cleanup"],
        &input,
        "n-cpu",
    );
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out);
    assert_eq!(
        ends(&recs),
        [("hypervisor/stop/toy".into(), "failed".into())]
    );
    assert_eq!(fixture.calls(), "stop\n");
    let skip = recs.iter().find(|r| r["type"] == "skip").unwrap();
    assert_eq!(skip["id"], "hypervisor/cleanup/toy");
    // Teardown defaults: keep going, no errexit; the missing cleanup function is a failure.
    let out = fixture.run(&["stop", "cleanup"], &input, "n-cpu");
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out);
    assert_eq!(
        ends(&recs),
        [
            ("hypervisor/stop/toy".into(), "ok".into()),
            ("hypervisor/cleanup/toy".into(), "failed".into()),
        ]
    );
    let end = recs.iter().rfind(|r| r["type"] == "end").unwrap();
    assert_eq!(end["exit_code"], 127);
    let said: Vec<&str> = recs
        .iter()
        .filter(|r| r["type"] == "output" && r["stream"] == "stderr")
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert!(
        said.iter()
            .any(|t| t.contains("cleanup_nova_hypervisor is not defined")),
        "{said:?}"
    );
}

#[test]
fn unknown_action_is_a_usage_error() {
    let (fixture, input) = Fixture::new("toy");
    let out = fixture.run(&["reboot"], &input, "n-cpu");
    assert_eq!(out.status.code(), Some(2));
}
