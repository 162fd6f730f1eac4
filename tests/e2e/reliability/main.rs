//! Reliability and security: the five tools survive faults and hostile input, end to end.
//!
//! Each test starts the workspace's debug binaries as a real pipeline (every stage in one
//! process group of its own, as a shell starts a foreground job), hurts it (signals, timeouts,
//! readers that go away, floods, garbage input, hostile names, SIGKILL while state or logs are
//! written) and checks what docs/architecture.md rules 1-5 promise: the exit statuses, that
//! every record reaches the log, that nothing panics, and that no process is left behind. Hooks
//! and a hypervisor plugin come from `tests/fixtures/reliability/`. The harness (the tagged
//! [`Sandbox`] that kills whatever a test left even when it fails, [`Pipeline`], the record
//! readers) is the test-support crate's (`tests/src/`); this file keeps the few helpers that
//! several themes share. One test binary, one module per theme:
//!
//! - `signals`: Ctrl-C, SIGTERM to one stage, SIGHUP, SIGKILL;
//! - `process_trees`: timeouts and interrupts reach a hook's whole tree, daemons survive;
//! - `pipes`: a reader going away at each stage;
//! - `output`: floods, huge lines and raw bytes from hooks;
//! - `worker`: hooks that abuse the bash worker (descriptors, builtins, its variables);
//! - `bad_input`: malformed records, bad flags and environment values;
//! - `generated`: generated record streams (proptest);
//! - `names`: hostile hook, plugin and driver names;
//! - `files`: the state, records and log files under faults and attack.
//!
//! The findings of the adversarial audit (issue 20) sit in their themes, each under a heading
//! "Audit finding N".
//!
//! Not repeated here (tools/hook-run/tests): a hook ignoring TERM with one child under
//! `--timeout` (`cli.rs` timeout_stops_a_hook_that_ignores_term_and_its_group), hook-run's own
//! SIGINT and broken-pipe cases, a hook's INT trap, `exec`, `kill 0`, closing stdout, and 10 MB
//! without a newline as records (`misbehaving.rs`); phase-log's second signal and closed
//! console (`tools/phase-log/tests/cli.rs`); hook-list's and hyp-resolve's own hostile names.
//! README "Reliability" (its text: `tests/fixtures/reliability/RELIABILITY.md`) has the table
//! of what is proved where, the memory figures and the limits.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hookpipe_e2e::reliability_fixtures as fixtures;
use hookpipe_e2e::{
    assert_gone, assert_group_empty, assert_log_covers, code, codes, contains, describe,
    dismiss_daemon, done_of, end_of, find, full_pipeline, has_warning, parse_records, pid_from,
    process_alive, read_bytes, read_pid, read_text, records, texts_of, wait_gone, wait_until,
    PeakMemory, Pipeline, Sandbox, GONE, HANG,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

mod bad_input;
mod files;
mod generated;
mod names;
mod output;
mod pipes;
mod process_trees;
mod signals;
mod worker;

// ---------------------------------------------------------------------------------------
// Helpers more than one theme uses.

/// Runs one reader on `input` (through a file); returns the status, stdout and stderr.
fn feed(sb: &Sandbox, tool: &str, args: &[&str], input: &[u8]) -> (ExitStatus, Vec<u8>, String) {
    let path = sb.join("input");
    fs::write(&path, input).unwrap();
    let mut argv = vec![tool];
    argv.extend_from_slice(args);
    let out = sb.join("output");
    let mut run = Pipeline::start(vec![sb.stage(&argv)], Some(&path), &out);
    let statuses = run.wait();
    (statuses[0], read_bytes(&out), run.stderr(0))
}

fn hook_record(name: &str, path: &Path) -> String {
    json!({"type":"hook","name":name,"path":path.to_string_lossy(),"kind":"extras",
           "seq":&name[..2],"dir":"/d"})
    .to_string()
}

/// Writes `extras.d/NAME` acting only in `stack` calls.
fn inline_hook(sb: &Sandbox, name: &str, body: &str) {
    let dir = sb.join("extras.d");
    fs::create_dir_all(&dir).expect("create extras.d");
    fs::write(
        dir.join(name),
        format!("if [[ $1 == stack ]]; then\n{body}\nfi\n"),
    )
    .expect("write a hook");
}

/// The shortest logged run: `hook-list extras.d | hook-run stack install | phase-log -o
/// run.log`, the console thrown away; stage 1 is the runner, stage 2 phase-log.
fn log_pipeline(sb: &Sandbox) -> Pipeline {
    let stages = vec![
        sb.stage(&["hook-list", "extras.d"]),
        sb.stage(&["hook-run", "stack", "install"]),
        sb.stage(&["phase-log", "-o", "run.log"]),
    ];
    Pipeline::start(stages, None, Path::new("/dev/null"))
}
