//! Helpers for the phase-log binary tests: running the real binary on a record stream in a
//! clean environment, building records, and showing everything when an assertion fails.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub use hookpipe_e2e::run_with_input;
use hookpipe_e2e::scrub_env;

pub const BIN: &str = env!("CARGO_BIN_EXE_phase-log");

/// `phase-log` with a clean environment (the support crate's `scrub_env`: no DevStack or
/// hookpipe variable of the caller's shell) and times in UTC.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    scrub_env(&mut cmd);
    cmd.env("TZ", "UTC");
    cmd
}

/// Runs phase-log with `args` on `input`.
pub fn run(args: &[&str], input: &[u8]) -> Output {
    let mut cmd = command();
    cmd.args(args);
    run_with_input(&mut cmd, input)
}

/// Everything about a run, for assertion messages.
pub fn show(output: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).expect("read log")).into_owned()
}

/// Record builders; `ms` counts from 2026-11-24T22:29:14.000Z.
pub fn time(ms: u32) -> String {
    let base = hookpipe::time::parse_rfc3339("2026-11-24T22:29:14.000Z").expect("base time");
    hookpipe::time::rfc3339(base + u64::from(ms))
}

pub fn begin(tool: &str, stage: &str, ms: u32) -> String {
    format!(
        r#"{{"type":"begin","tool":"{tool}","stage":"{stage}","pid":7,"version":"0.1.0","time":"{}"}}"#,
        time(ms)
    )
}

pub fn done(tool: &str, stage: &str, status: i32, ms: u32) -> String {
    format!(
        r#"{{"type":"done","tool":"{tool}","stage":"{stage}","status":{status},"time":"{}"}}"#,
        time(ms)
    )
}

pub fn start(id: &str, stage: &str, ms: u32) -> String {
    format!(
        r#"{{"type":"start","id":"{id}","stage":"{stage}","kind":"extras","args":["stack","install"],"time":"{}"}}"#,
        time(ms)
    )
}

pub fn output(id: &str, stream: &str, text: &str, ms: u32) -> String {
    format!(
        r#"{{"type":"output","id":"{id}","stream":"{stream}","text":{},"time":"{}"}}"#,
        serde_json::to_string(text).expect("json string"),
        time(ms)
    )
}

pub fn line(kind: &str, id: &str, text: &str, ms: u32) -> String {
    format!(
        r#"{{"type":"{kind}","id":"{id}","text":{},"time":"{}"}}"#,
        serde_json::to_string(text).expect("json string"),
        time(ms)
    )
}

pub fn end(id: &str, stage: &str, status: &str, code: i32, duration: u64, ms: u32) -> String {
    format!(
        r#"{{"type":"end","id":"{id}","stage":"{stage}","status":"{status}","exit_code":{code},"duration_ms":{duration},"time":"{}"}}"#,
        time(ms)
    )
}

/// Records joined as an NDJSON stream.
pub fn stream(records: &[String]) -> Vec<u8> {
    let mut out = records.join("\n").into_bytes();
    out.push(b'\n');
    out
}

/// One ok hook call in stage `stack/install`, between a begin and a done of hook-run.
pub fn ok_run() -> Vec<String> {
    let stage = "stack/install";
    let id = "stack/install/50-template.sh";
    vec![
        begin("hook-run", stage, 0),
        start(id, stage, 10),
        line("summary", id, "Installing template", 11),
        output(id, "stdout", "laid out 3 files", 12),
        end(id, stage, "ok", 0, 6, 16),
        done("hook-run", stage, 0, 20),
    ]
}
