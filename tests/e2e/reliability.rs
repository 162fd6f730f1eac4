//! Reliability and security: the five tools survive faults and hostile input, end to end.
//!
//! Each test starts the workspace's debug binaries as a real pipeline (every stage in one
//! process group of its own, as a shell starts a foreground job), hurts it (signals, timeouts,
//! readers that go away, floods, garbage input, hostile names, SIGKILL while state or logs are
//! written) and checks what docs/architecture.md rules 1-5 promise: the exit statuses, that
//! every record reaches the log, that nothing panics, and that no process is left behind. Hooks
//! and a hypervisor plugin come from `tests/fixtures/reliability/`.
//!
//! Every process a test starts carries `HOOKPIPE_RELIABILITY_TAG=<its temporary dir>` in its
//! environment (bash workers pass the environment on to hooks and their children, detached
//! or not), so "no process left" is a scan of /proc for that tag, and the [`Sandbox`] guard
//! kills whatever still carries it, even when the test fails.
//!
//! Not repeated here (tools/hook-run/tests): a hook ignoring TERM with one child under
//! `--timeout` (`cli.rs` timeout_stops_a_hook_that_ignores_term_and_its_group), hook-run's own
//! SIGINT and broken-pipe cases, a hook's INT trap, `exec`, `kill 0`, closing stdout, and 10 MB
//! without a newline as records (`misbehaving.rs`); phase-log's second signal and closed
//! console (`tools/phase-log/tests/cli.rs`); hook-list's and hyp-resolve's own hostile names.
//! README "Reliability" (its text: `tests/fixtures/reliability/RELIABILITY.md`) has the table
//! of what is proved where, the memory figures and the limits.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hookpipe_e2e::{bin_dir, lib_dir, process_alive, read_pid, repo_root, scrub_env};
use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

mod audit;

/// Only a hang waits this long: a pipeline that has not ended by then is killed and the test
/// fails, showing what each stage wrote on stderr.
const HANG: Duration = Duration::from_secs(90);
/// How long a stopped process may take to disappear on a loaded machine.
const GONE: Duration = Duration::from_secs(20);
/// The environment variable that marks every process a test started.
const TAG: &str = "HOOKPIPE_RELIABILITY_TAG";

fn fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/reliability")
}

// ---------------------------------------------------------------------------------------
// The sandbox: a temporary directory, commands that run in it, and the process guard.

/// A temporary directory for one test. Commands made by [`Sandbox::command`] run in it with
/// a clean DevStack environment, the tools first in PATH, `T` naming the directory, and the
/// tag. Dropping it kills every process that still carries the tag.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("hookpipe-reliability-")
            .tempdir()
            .expect("a temporary directory");
        Sandbox { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Copies `tests/fixtures/reliability/hooks/FIXTURE` to `DIR/NAME` (NAME may be any bytes).
    fn hook(&self, dir: &str, name: impl AsRef<OsStr>, fixture: &str) -> PathBuf {
        let dir = self.join(dir);
        fs::create_dir_all(&dir).expect("create the hook directory");
        let path = dir.join(name.as_ref());
        fs::copy(fixtures().join("hooks").join(fixture), &path)
            .unwrap_or_else(|err| panic!("cannot copy fixture {fixture}: {err}"));
        path
    }

    /// A command running in the sandbox (see the type's docs).
    fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        scrub_env(&mut cmd);
        let mut path = bin_dir().into_os_string();
        if let Some(system) = std::env::var_os("PATH") {
            path.push(":");
            path.push(system);
        }
        cmd.current_dir(self.path())
            .env("PATH", path)
            .env("HOOKPIPE_LIB", lib_dir())
            .env("T", self.path())
            .env("RELIABILITY_FIXTURES", fixtures())
            .env(TAG, self.path());
        cmd
    }

    /// One of the five tools, or any other program (`head`, `tee`, `bash`) by name.
    fn stage(&self, argv: &[&str]) -> Command {
        let program = if hookpipe_e2e::TOOLS.contains(&argv[0]) {
            bin_dir().join(argv[0]).into_os_string()
        } else {
            OsString::from(argv[0])
        };
        let mut cmd = self.command(program);
        cmd.args(&argv[1..]);
        cmd
    }

    /// `bash -c SCRIPT`.
    fn bash(&self, script: &str) -> Command {
        let mut cmd = self.command("bash");
        cmd.arg("-c").arg(script);
        cmd
    }

    /// Live processes (zombies do not count) carrying this sandbox's tag, with their
    /// command lines.
    fn leftovers(&self) -> Vec<(i32, String)> {
        hookpipe_e2e::tagged_processes(TAG, self.path().as_os_str())
    }

    /// Fails unless every process this test started is gone (allowing them [`GONE`] to go).
    #[track_caller]
    fn assert_no_process_left(&self) {
        let deadline = Instant::now() + GONE;
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processes of the run are still alive: {left:#?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fails if a file whose name starts with `pwned` exists under the sandbox, the test's
    /// working directory or the repository: a command inside a name ran.
    #[track_caller]
    fn assert_no_command_from_a_name_ran(&self) {
        let mut hits = Vec::new();
        find_pwned(self.path(), &mut hits, 8);
        for dir in [
            std::env::current_dir().unwrap_or_default(),
            repo_root(),
            lib_dir(),
        ] {
            find_pwned(&dir, &mut hits, 1);
        }
        assert!(hits.is_empty(), "a command inside a name ran: {hits:?}");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for _ in 0..20 {
            let left = self.leftovers();
            if left.is_empty() {
                return;
            }
            for (pid, _) in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

fn find_pwned(dir: &Path, hits: &mut Vec<PathBuf>, depth: u32) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().as_bytes().starts_with(b"pwned") {
            hits.push(path.clone());
        }
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir && depth > 1 {
            find_pwned(&path, hits, depth - 1);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pipelines.

/// A running pipeline: every stage in one process group of its own, each stage's stderr in
/// a file beside the output. Dropping it before [`Pipeline::wait`] kills the group.
struct Pipeline {
    children: Vec<Child>,
    names: Vec<String>,
    errs: Vec<PathBuf>,
    group: Option<Pid>,
    statuses: Vec<Option<ExitStatus>>,
}

impl Pipeline {
    /// Starts the stages; the first reads `input` (or /dev/null), the last writes `out`.
    fn start(stages: Vec<Command>, input: Option<&Path>, out: &Path) -> Pipeline {
        let count = stages.len();
        let mut pipeline = Pipeline {
            children: Vec::new(),
            names: Vec::new(),
            errs: Vec::new(),
            group: None,
            statuses: vec![None; count],
        };
        let mut previous = None;
        for (index, mut cmd) in stages.into_iter().enumerate() {
            let name = stage_name(&cmd);
            let stdin = match previous.take() {
                Some(upstream) => Stdio::from(upstream),
                None => match input {
                    Some(path) => Stdio::from(File::open(path).expect("open the input file")),
                    None => Stdio::null(),
                },
            };
            let last = index + 1 == count;
            let stdout = if last {
                Stdio::from(File::create(out).expect("create the output file"))
            } else {
                Stdio::piped()
            };
            let mut err = out.as_os_str().to_owned();
            err.push(format!(".stderr.{index}"));
            let err = PathBuf::from(err);
            cmd.stdin(stdin)
                .stdout(stdout)
                .stderr(File::create(&err).expect("create a stderr file"))
                .process_group(pipeline.group.map_or(0, Pid::as_raw));
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
            if pipeline.group.is_none() {
                pipeline.group = Some(Pid::from_raw(child.id() as i32));
            }
            previous = child.stdout.take();
            pipeline.children.push(child);
            pipeline.names.push(name);
            pipeline.errs.push(err);
        }
        pipeline
    }

    fn pid(&self, stage: usize) -> Pid {
        Pid::from_raw(self.children[stage].id() as i32)
    }

    fn group(&self) -> Pid {
        self.group.expect("a started pipeline has a group")
    }

    fn signal_group(&self, signal: Signal) {
        killpg(self.group(), signal).expect("signal the pipeline's process group");
    }

    fn signal(&self, stage: usize, signal: Signal) {
        kill(self.pid(stage), signal).expect("signal one stage");
    }

    /// What stage `index` wrote on stderr.
    fn stderr(&self, index: usize) -> String {
        String::from_utf8_lossy(&fs::read(&self.errs[index]).unwrap_or_default()).into_owned()
    }

    /// Waits for every stage; after [`HANG`] kills the group and fails with their stderr.
    fn wait(&mut self) -> Vec<ExitStatus> {
        let deadline = Instant::now() + HANG;
        loop {
            for (child, status) in self.children.iter_mut().zip(self.statuses.iter_mut()) {
                if status.is_none() {
                    *status = child.try_wait().expect("wait for a stage");
                }
            }
            if self.statuses.iter().all(Option::is_some) {
                return self.statuses.iter().flatten().copied().collect();
            }
            if Instant::now() >= deadline {
                let _ = killpg(self.group(), Signal::SIGKILL);
                for child in &mut self.children {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                panic!("the pipeline hung; killed it\n{}", self.report(&[]));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every stage with its status (when known) and its stderr, for failure messages.
    fn report(&self, statuses: &[ExitStatus]) -> String {
        let mut text = String::new();
        for (index, name) in self.names.iter().enumerate() {
            let status = statuses
                .get(index)
                .map_or("?".to_owned(), |status| describe(*status));
            text.push_str(&format!(
                "stage {index} `{name}`: {status}\n{}",
                indent(&self.stderr(index))
            ));
        }
        text
    }

    /// Fails if any stage printed a Rust panic.
    #[track_caller]
    fn assert_no_panic(&self, statuses: &[ExitStatus]) {
        for index in 0..self.names.len() {
            assert!(
                !self.stderr(index).contains("panicked"),
                "a stage panicked:\n{}",
                self.report(statuses)
            );
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if self.statuses.iter().all(Option::is_some) {
            return;
        }
        if let Some(group) = self.group {
            let _ = killpg(group, Signal::SIGKILL);
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stage_name(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = program;
    for arg in cmd.get_args() {
        name.push(' ');
        name.push_str(&arg.to_string_lossy());
    }
    name.chars().take(100).collect()
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

/// The status as a shell shows it: the exit code, or 128+N after signal N.
fn code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn codes(statuses: &[ExitStatus]) -> Vec<i32> {
    statuses.iter().map(|status| code(*status)).collect()
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => format!("{status}"),
    }
}

// ---------------------------------------------------------------------------------------
// Waiting and reading.

/// Polls `ready` until it holds; fails after [`HANG`] naming `what`.
#[track_caller]
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn read_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_default()
}

fn read_text(path: &Path) -> String {
    String::from_utf8_lossy(&read_bytes(path)).into_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The pid in a file a hook wrote, once it is there.
#[track_caller]
fn pid_from(path: &Path) -> i32 {
    wait_until(&format!("a pid in {}", path.display()), || {
        read_pid(path).is_some()
    });
    read_pid(path).expect("a pid")
}

#[track_caller]
fn assert_gone(pid: i32, what: &str) {
    let deadline = Instant::now() + GONE;
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "{what} ({pid}) is still alive");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the background job a hook left when it returned normally: a daemon, which the run
/// rightly leaves alone (docs/architecture.md, "Ends of hooks"), so the test ends it.
fn dismiss_daemon(pid_file: &Path) {
    if let Some(pid) = read_pid(pid_file) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Fails unless nothing is left in the pipeline's process group.
#[track_caller]
fn assert_group_empty(group: Pid) {
    let deadline = Instant::now() + GONE;
    loop {
        match killpg(group, None) {
            Err(Errno::ESRCH) => return,
            _ => {
                // A member that is only a zombie waiting for its reaper counts as gone.
                let members = group_members(group.as_raw());
                if members.iter().all(|&pid| !process_alive(pid)) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "process group {group} still has {members:?}"
                );
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn group_members(group: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name: state, ppid, pgrp.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2).and_then(|f| f.parse::<i32>().ok()) == Some(group) {
            members.push(pid);
        }
    }
    members
}

/// The records of an NDJSON file.
#[track_caller]
fn records(path: &Path) -> Vec<Value> {
    read_text(path)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("bad record {line}: {err}"))
        })
        .collect()
}

fn find<'a>(records: &'a [Value], kind: &str, id: &str) -> Option<&'a Value> {
    records.iter().find(|r| r["type"] == kind && r["id"] == id)
}

#[track_caller]
fn end_of<'a>(records: &'a [Value], id: &str) -> &'a Value {
    find(records, "end", id).unwrap_or_else(|| panic!("no end record for {id}"))
}

fn texts_of(records: &[Value], id: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["type"] == "output" && r["id"] == id)
        .filter_map(|r| r["text"].as_str().map(str::to_owned))
        .collect()
}

fn done_of<'a>(records: &'a [Value], stage: &str) -> Option<&'a Value> {
    records
        .iter()
        .find(|r| r["type"] == "done" && r["stage"] == stage)
}

/// Fails unless the log holds a line for every `output`, `end`, `skip` and `done` record of
/// the stream, in phase-log's documented forms (`ID | text`, `ID ! text`, `ID [status]`,
/// `ID [skip] reason`, `TOOL STAGE [done] status N`).
#[track_caller]
fn assert_log_covers(log: &str, stream: &[Value]) {
    let mut continued = std::collections::HashSet::new();
    for record in stream {
        let id = record["id"].as_str().unwrap_or("");
        let expected = match record["type"].as_str() {
            Some("output") => {
                let Some(text) = record["text"].as_str() else {
                    continue;
                };
                let mark = if record["stream"] == "stderr" {
                    "!"
                } else {
                    "|"
                };
                let piece = if continued.contains(id) {
                    text.to_owned()
                } else {
                    format!("{id} {mark} {text}")
                };
                if record["partial"] == true {
                    continued.insert(id.to_owned());
                } else {
                    continued.remove(id);
                }
                piece
            }
            Some("end") => format!("{id} [{}]", record["status"].as_str().unwrap_or("?")),
            Some("skip") if !id.is_empty() => {
                format!("{id} [skip] {}", record["reason"].as_str().unwrap_or("?"))
            }
            Some("done") => format!(
                "{} {} [done] status {}",
                record["tool"].as_str().unwrap_or("?"),
                record["stage"].as_str().unwrap_or("?"),
                record["status"]
            ),
            _ => continue,
        };
        // Names are written by hookpipe's one rule: a control character as `\xNN`.
        let escaped: String = expected
            .chars()
            .map(|ch| {
                if ch.is_control() {
                    format!("\\x{:02X}", u32::from(ch))
                } else {
                    ch.to_string()
                }
            })
            .collect();
        assert!(
            log.contains(&expected) || log.contains(&escaped),
            "the log lacks {expected:?} (from {record})\n--- log ---\n{log}"
        );
    }
}

/// The peak resident memory (VmHWM, KiB) of each pid, sampled every 10 ms until they end.
struct PeakMemory {
    stop: Arc<AtomicBool>,
    sampler: Option<thread::JoinHandle<Vec<u64>>>,
}

impl PeakMemory {
    fn watch(pids: Vec<Pid>) -> PeakMemory {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let sampler = thread::spawn(move || {
            let mut peaks = vec![0u64; pids.len()];
            while !flag.load(Ordering::SeqCst) {
                let mut any = false;
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    if let Some(kib) = vm_hwm(pid.as_raw()) {
                        *peak = (*peak).max(kib);
                        any = true;
                    }
                }
                if !any {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            peaks
        });
        PeakMemory {
            stop,
            sampler: Some(sampler),
        }
    }

    fn finish(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::SeqCst);
        self.sampler
            .take()
            .and_then(|sampler| sampler.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for PeakMemory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn vm_hwm(pid: i32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The pipeline most tests use: the tools with the record stream teed to `records.ndjson`
/// before phase-log, so a test can compare what was sent with what was logged. `tee -i`
/// ignores SIGINT, so an interrupt to the group does not cut the stream.
fn full_pipeline(sb: &Sandbox, runners: &[&[&str]], env: &[(&str, &str)]) -> Pipeline {
    let mut stages = vec![sb.stage(&["hook-list", "extras.d"])];
    for runner in runners {
        stages.push(sb.stage(runner));
    }
    stages.push(sb.stage(&["tee", "-i", "records.ndjson"]));
    stages.push(sb.stage(&["phase-log", "-o", "run.log"]));
    for stage in &mut stages {
        for (name, value) in env {
            stage.env(name, value);
        }
    }
    Pipeline::start(stages, None, &sb.join("console.txt"))
}

// ---------------------------------------------------------------------------------------
// 1. Interrupts.

/// Two hooks for the interrupt tests: 10-wait.sh waits in `stack install` until released,
/// 20-after.sh says it ran in every call.
fn interrupt_tree(sb: &Sandbox) {
    sb.hook("extras.d", "10-wait.sh", "wait-for-release.sh");
    sb.hook("extras.d", "20-after.sh", "echo-args.sh");
}

const WAIT_ID: &str = "stack/install/10-wait.sh";

#[test]
fn sigint_to_the_whole_pipeline_during_a_hook_ends_every_stage_and_everything_is_logged() {
    let sb = Sandbox::new();
    interrupt_tree(&sb);
    let script = "hook-list extras.d \
        | hook-run stack install --kill-after 1 \
        | hook-run stack extra --kill-after 1 \
        | tee -i records.ndjson \
        | phase-log -o run.log > console.txt; \
        echo \"${PIPESTATUS[*]}\" > status";
    let mut run = Pipeline::start(vec![sb.bash(script)], None, &sb.join("bash.out"));
    let log = sb.join("run.log");
    let worker = pid_from(&sb.join("worker.pid"));
    let background = pid_from(&sb.join("bg.pid"));
    wait_until(
        "the hook's first line and every stage's begin in the log",
        || {
            let text = read_text(&log);
            text.contains("10-wait.sh | started") && text.contains("hook-run stack/extra [begin]")
        },
    );
    run.signal_group(Signal::SIGINT);
    let statuses = run.wait();
    run.assert_no_panic(&statuses);

    // Every tool that got SIGINT ends by it after reporting, so bash stops the script at the
    // interrupt, unless the test's own `tee -i` (which ignores SIGINT and exits 0) is the
    // child it weighs: then it takes the signal as handled and runs the `echo`. Either way
    // every stage's status is the documented one; ctrl_c_always_stops_the_calling_script
    // proves the stop without tee.
    if statuses[0].signal() != Some(2) {
        assert_eq!(
            read_text(&sb.join("status")).trim(),
            "0 130 130 0 130",
            "hook-list, the two runners, tee -i, phase-log\n{}",
            run.report(&statuses)
        );
    }
    let stream = records(&sb.join("records.ndjson"));
    let end = end_of(&stream, WAIT_ID);
    assert_eq!(end["status"], "interrupted", "{end}");
    assert_eq!(texts_of(&stream, WAIT_ID), ["started"]);
    for (stage, status) in [("list", 0), ("stack/install", 130), ("stack/extra", 130)] {
        let done = done_of(&stream, stage).unwrap_or_else(|| panic!("no done of {stage}"));
        assert_eq!(done["status"], status, "{done}");
    }
    // After the interrupt no hook starts, in this stage or the next.
    for id in [
        "stack/install/20-after.sh",
        "stack/extra/10-wait.sh",
        "stack/extra/20-after.sh",
    ] {
        let skip = find(&stream, "skip", id).unwrap_or_else(|| panic!("no skip of {id}"));
        assert_eq!(skip["reason"], "interrupted", "{skip}");
        assert!(find(&stream, "start", id).is_none(), "{id} started");
    }
    let text = read_text(&log);
    assert_log_covers(&text, &stream);
    assert!(text.contains("Result: interrupted"), "{text}");

    assert_gone(worker, "the interrupted hook's worker");
    assert_gone(
        background,
        "the hook's background child (it ignores SIGINT)",
    );
    assert_group_empty(run.group());
    sb.assert_no_process_left();
}

// Regression: runners used to exit 130 without re-raising SIGINT, and bash, seeing a child
// that exited normally after the signal, may take it as handled and run the script's next
// command. Which child it reaps first varies, so one run proves little: four.
#[test]
fn ctrl_c_always_stops_the_calling_script() {
    let mut went_on = 0;
    for _ in 0..4 {
        let sb = Sandbox::new();
        interrupt_tree(&sb);
        let script = "hook-list extras.d | hook-run stack install --kill-after 1 \
            | phase-log -o run.log > console.txt; echo went on > status";
        let mut run = Pipeline::start(vec![sb.bash(script)], None, &sb.join("bash.out"));
        pid_from(&sb.join("worker.pid"));
        wait_until("the hook's first line in the log", || {
            read_text(&sb.join("run.log")).contains("10-wait.sh | started")
        });
        run.signal_group(Signal::SIGINT);
        let statuses = run.wait();
        if statuses[0].signal() != Some(2) || sb.join("status").exists() {
            went_on += 1;
        }
    }
    assert_eq!(
        went_on, 0,
        "the script went on after Ctrl-C in {went_on} of 4 runs"
    );
}

#[test]
fn sigterm_to_one_runner_during_its_hook_interrupts_it_and_the_rest_of_the_run_reports_it() {
    let sb = Sandbox::new();
    interrupt_tree(&sb);
    let mut run = full_pipeline(
        &sb,
        &[
            &["hook-run", "stack", "install", "--kill-after", "1"],
            &["hook-run", "stack", "extra"],
        ],
        &[],
    );
    let worker = pid_from(&sb.join("worker.pid"));
    let background = pid_from(&sb.join("bg.pid"));
    wait_until("every stage began", || {
        let text = read_text(&sb.join("run.log"));
        text.contains("10-wait.sh | started") && text.contains("hook-run stack/extra [begin]")
    });
    run.signal(1, Signal::SIGTERM);
    let statuses = run.wait();
    run.assert_no_panic(&statuses);

    // The runner that got TERM exits 143; the next one skips everything as an upstream
    // failure (1); phase-log reports the highest done status as its own, without a signal.
    assert_eq!(
        codes(&statuses),
        [0, 143, 1, 0, 143],
        "{}",
        run.report(&statuses)
    );
    assert_eq!(
        statuses[4].code(),
        Some(143),
        "phase-log exits, it got no signal"
    );
    let stream = records(&sb.join("records.ndjson"));
    let end = end_of(&stream, WAIT_ID);
    assert_eq!(end["status"], "interrupted", "{end}");
    assert_eq!(done_of(&stream, "stack/install").unwrap()["status"], 143);
    for id in [
        "stack/install/20-after.sh",
        "stack/extra/10-wait.sh",
        "stack/extra/20-after.sh",
    ] {
        assert!(
            find(&stream, "skip", id).is_some(),
            "no skip of {id}: {stream:#?}"
        );
        assert!(find(&stream, "start", id).is_none(), "{id} started");
    }
    assert_log_covers(&read_text(&sb.join("run.log")), &stream);
    assert_gone(worker, "the interrupted hook's worker");
    assert_gone(background, "the hook's background child");
    assert_group_empty(run.group());
    sb.assert_no_process_left();
}

#[test]
fn sigterm_to_a_runner_waiting_at_its_barrier_keeps_forwarding_until_its_input_ends() {
    let sb = Sandbox::new();
    interrupt_tree(&sb);
    let mut run = full_pipeline(
        &sb,
        &[
            &["hook-run", "stack", "install"],
            &["hook-run", "stack", "extra", "--kill-after", "1"],
        ],
        &[],
    );
    let log = sb.join("run.log");
    pid_from(&sb.join("worker.pid"));
    wait_until("every stage began", || {
        let text = read_text(&log);
        text.contains("10-wait.sh | started") && text.contains("hook-run stack/extra [begin]")
    });
    // The downstream runner waits at its barrier for the upstream stage, which is still in
    // its hook; it gets TERM there, and the upstream stage then finishes in peace.
    run.signal(2, Signal::SIGTERM);
    // The runner shows no sign of a signal at its barrier; the upstream hook still needs
    // a release, a poll and its own end before the barrier could open, so a moment is ample.
    thread::sleep(Duration::from_millis(300));
    fs::write(sb.join("release"), "").unwrap();
    let statuses = run.wait();
    run.assert_no_panic(&statuses);

    assert_eq!(
        codes(&statuses),
        [0, 0, 143, 0, 143],
        "{}",
        run.report(&statuses)
    );
    let stream = records(&sb.join("records.ndjson"));
    // Records that reached the signalled runner after its signal were still forwarded.
    assert_eq!(texts_of(&stream, WAIT_ID), ["started", "released"]);
    assert_eq!(end_of(&stream, WAIT_ID)["status"], "ok");
    assert_eq!(end_of(&stream, "stack/install/20-after.sh")["status"], "ok");
    assert_eq!(done_of(&stream, "stack/install").unwrap()["status"], 0);
    assert_eq!(done_of(&stream, "stack/extra").unwrap()["status"], 143);
    for id in ["stack/extra/10-wait.sh", "stack/extra/20-after.sh"] {
        let skip = find(&stream, "skip", id).unwrap_or_else(|| panic!("no skip of {id}"));
        assert_eq!(skip["reason"], "interrupted", "{skip}");
        assert!(find(&stream, "start", id).is_none(), "{id} started");
    }
    assert_log_covers(&read_text(&log), &stream);
    assert_group_empty(run.group());
    dismiss_daemon(&sb.join("bg.pid"));
    sb.assert_no_process_left();
}

#[test]
fn sigterm_to_phase_log_while_its_input_is_open_logs_to_the_end_then_dies_by_it() {
    let sb = Sandbox::new();
    interrupt_tree(&sb);
    let mut run = full_pipeline(&sb, &[&["hook-run", "stack", "install"]], &[]);
    let log = sb.join("run.log");
    pid_from(&sb.join("worker.pid"));
    wait_until("the hook's first line in the log", || {
        read_text(&log).contains("10-wait.sh | started")
    });
    run.signal(3, Signal::SIGTERM);
    thread::sleep(Duration::from_millis(200));
    fs::write(sb.join("release"), "").unwrap();
    let statuses = run.wait();
    run.assert_no_panic(&statuses);

    assert_eq!(
        codes(&statuses),
        [0, 0, 0, 143],
        "{}",
        run.report(&statuses)
    );
    assert_eq!(
        statuses[3].signal(),
        Some(15),
        "phase-log re-raises SIGTERM after its log and reports"
    );
    let stream = records(&sb.join("records.ndjson"));
    let text = read_text(&log);
    // What arrived after the signal is in the log, and so are the reports.
    assert!(text.contains("10-wait.sh | released"), "{text}");
    assert_log_covers(&text, &stream);
    assert!(text.contains("=== Result ==="), "{text}");
    dismiss_daemon(&sb.join("bg.pid"));
    sb.assert_no_process_left();
}

#[test]
fn sigterm_to_phase_log_busy_with_a_long_input_still_writes_everything_and_the_reports() {
    let sb = Sandbox::new();
    // 20000 calls: enough work that the signal lands while phase-log reads or reports.
    let mut input = String::new();
    let time = "2026-11-24T22:29:14.000Z";
    input.push_str(
        &json!({"type":"begin","tool":"hook-run","stage":"stack/install","pid":1,"version":"0","time":time}).to_string(),
    );
    input.push('\n');
    for n in 0..20_000 {
        let id = format!("stack/install/{n:05}-hook.sh");
        for record in [
            json!({"type":"start","id":id,"stage":"stack/install","kind":"extras","args":["stack","install"],"time":time}),
            json!({"type":"output","id":id,"stream":"stdout","text":format!("line of call {n}"),"time":time}),
            json!({"type":"end","id":id,"stage":"stack/install","status":"ok","exit_code":0,"duration_ms":1,"time":time}),
        ] {
            input.push_str(&record.to_string());
            input.push('\n');
        }
    }
    input.push_str(
        &json!({"type":"done","tool":"hook-run","stage":"stack/install","status":0,"time":time})
            .to_string(),
    );
    input.push('\n');
    fs::write(sb.join("input.ndjson"), &input).unwrap();
    let log = sb.join("run.log");
    let mut run = Pipeline::start(
        vec![sb.stage(&["phase-log", "-o", "run.log"])],
        Some(&sb.join("input.ndjson")),
        &sb.join("console.txt"),
    );
    wait_until("phase-log started writing", || {
        fs::metadata(&log).map(|m| m.len() > 0).unwrap_or(false)
    });
    run.signal(0, Signal::SIGTERM);
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(statuses[0].signal(), Some(15), "{}", run.report(&statuses));
    let text = read_text(&log);
    assert!(
        text.contains("19999-hook.sh | line of call 19999"),
        "last call missing"
    );
    assert!(
        text.contains("Result:") && text.contains("20000 hook calls"),
        "the reports are missing"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Timeouts.

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
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 1, 0, 1], "{}", run.report(&statuses));

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

// A hook's `setsid` child, double-forked grandchild and `set -m` job under `--timeout` and
// Ctrl-C: `audit.rs`, "No process escapes".

// ---------------------------------------------------------------------------------------
// 3. Broken pipes.

/// One broken-pipe case: the hooks, the pipeline (each stage's argv; `head -c N` last) and
/// the exit status every stage must end with.
struct PipeCase {
    name: &'static str,
    hooks: &'static [(&'static str, &'static str)],
    many_hooks: bool,
    env: &'static [(&'static str, &'static str)],
    stages: &'static [&'static [&'static str]],
    expect: &'static [i32],
    /// Stages that saw the broken pipe: their stderr must stay empty.
    quiet: &'static [usize],
}

const PIPE_CASES: &[PipeCase] = &[
    PipeCase {
        name: "a lister whose reader goes away",
        hooks: &[],
        many_hooks: true,
        env: &[],
        stages: &[&["hook-list", "extras.d"], &["head", "-c", "100"]],
        expect: &[0, 0],
        quiet: &[0],
    },
    PipeCase {
        name: "a runner forwarding upstream records when its reader goes away",
        hooks: &[],
        many_hooks: true,
        env: &[],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["head", "-c", "100"],
        ],
        expect: &[0, 141, 0],
        quiet: &[0, 1],
    },
    PipeCase {
        name: "a runner in a hook that prints forever",
        hooks: &[("10-spam.sh", "spam.sh")],
        many_hooks: false,
        env: &[],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 141, 0],
        quiet: &[1],
    },
    PipeCase {
        name: "the second runner, in a hook that prints forever",
        hooks: &[("10-spam.sh", "spam.sh")],
        many_hooks: false,
        env: &[("RELIABILITY_WHEN", "stack extra")],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["hook-run", "stack", "extra"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 0, 141, 0],
        quiet: &[2],
    },
    PipeCase {
        name: "a runner whose downstream runner went away (the pipe breaks twice)",
        hooks: &[("10-spam.sh", "spam.sh")],
        many_hooks: false,
        env: &[],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["hook-run", "stack", "extra"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 141, 141, 0],
        quiet: &[1, 2],
    },
    PipeCase {
        name: "phase-log whose console goes away",
        hooks: &[("10-flood.sh", "flood.sh")],
        many_hooks: false,
        env: &[("RELIABILITY_BYTES", "2000000")],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["phase-log", "-o", "run.log"],
            &["head", "-c", "100"],
        ],
        expect: &[0, 0, 141, 0],
        quiet: &[2],
    },
    PipeCase {
        name: "hyp-call in a function that prints forever",
        hooks: &[],
        many_hooks: false,
        env: &[("RELIABILITY_SPAM", "1")],
        stages: &[
            &["hyp-resolve", "--dir", "nova_plugins", "reliable"],
            &["hyp-call", "source", "install"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 141, 0],
        quiet: &[1],
    },
];

#[test]
fn a_reader_going_away_at_each_stage_ends_the_run_quietly_with_the_documented_statuses() {
    let mut failures = Vec::new();
    for case in PIPE_CASES {
        let sb = Sandbox::new();
        fs::create_dir_all(sb.join("extras.d")).unwrap();
        for (name, fixture) in case.hooks {
            sb.hook("extras.d", name, fixture);
        }
        if case.many_hooks {
            // 3000 entries list to ~600 KiB: far more than a pipe holds, so the writer
            // meets the closed pipe.
            for n in 0..3000 {
                let name = format!("50-hook-{n:04}-with-a-long-name-to-fill-the-pipe.sh");
                fs::write(sb.join("extras.d").join(name), "").unwrap();
            }
        }
        fs::create_dir_all(sb.join("nova_plugins")).unwrap();
        fs::copy(
            fixtures().join("nova_plugins/hypervisor-reliable"),
            sb.join("nova_plugins/hypervisor-reliable"),
        )
        .unwrap();
        let stages = case
            .stages
            .iter()
            .map(|argv| {
                let mut cmd = sb.stage(argv);
                for (name, value) in case.env {
                    cmd.env(name, value);
                }
                cmd
            })
            .collect();
        let mut run = Pipeline::start(stages, None, Path::new("/dev/null"));
        let statuses = run.wait();
        let mut problems = Vec::new();
        if codes(&statuses) != case.expect {
            problems.push(format!(
                "statuses {:?}, expected {:?}",
                codes(&statuses),
                case.expect
            ));
        }
        for index in 0..statuses.len() {
            let err = run.stderr(index);
            if err.contains("panicked") || (case.quiet.contains(&index) && !err.is_empty()) {
                problems.push(format!("stage {index} wrote on stderr: {err}"));
            }
        }
        if case.stages.iter().any(|argv| argv[0] == "phase-log") {
            let log = read_text(&sb.join("run.log"));
            if !log.contains("=== Result ===") || !log.contains("10-flood.sh [ok]") {
                problems.push("the log file is not complete".to_owned());
            }
        }
        if let Some(worker) = read_pid(&sb.join("worker.pid")) {
            let deadline = Instant::now() + GONE;
            while process_alive(worker) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(50));
            }
            if process_alive(worker) {
                problems.push(format!("the hook's worker {worker} is still alive"));
            }
        }
        let deadline = Instant::now() + GONE;
        while !sb.leftovers().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let left = sb.leftovers();
        if !left.is_empty() {
            problems.push(format!("processes left: {left:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  {}\n{}",
                case.name,
                problems.join("\n  "),
                run.report(&statuses)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// 4. Misbehaving hooks.

#[test]
fn a_hundred_megabytes_of_output_flow_through_in_bounded_memory() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-flood.sh", "flood.sh");
    let stages = vec![
        sb.stage(&["hook-list", "extras.d"]),
        sb.stage(&["hook-run", "stack", "install"]),
        sb.stage(&["phase-log", "-o", "run.log"]),
    ];
    let mut run = Pipeline::start(stages, None, Path::new("/dev/null"));
    let peaks = PeakMemory::watch(vec![run.pid(1), run.pid(2)]);
    let statuses = run.wait();
    let peaks = peaks.finish();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 0, 0], "{}", run.report(&statuses));
    eprintln!(
        "peak memory (VmHWM) with 100 MiB of hook output: hook-run {} KiB, phase-log {} KiB",
        peaks[0], peaks[1]
    );
    // Holding the flood would take 100 MiB or more; a bounded stage stays far below.
    for (tool, kib) in ["hook-run", "phase-log"].iter().zip(&peaks) {
        assert!(*kib > 0, "no memory sample of {tool}");
        assert!(*kib < 64 * 1024, "{tool} peaked at {kib} KiB");
    }
    let log = sb.join("run.log");
    assert!(fs::metadata(&log).unwrap().len() > 100 * 1024 * 1024);
    // 104857600 bytes of 87-byte lines: 1205259 whole lines and one cut short.
    let grep = Command::new("grep")
        .args(["-c", "-a", "-F", "stack/install/10-flood.sh | flood: "])
        .arg(&log)
        .output()
        .expect("run grep");
    assert_eq!(String::from_utf8_lossy(&grep.stdout).trim(), "1205260");
    let text = read_text(&sb.join("run.log.stderr.2"));
    assert!(text.is_empty(), "{text}");
    sb.assert_no_process_left();
}

#[test]
fn a_daemon_holding_the_hooks_output_hangs_neither_the_stage_nor_the_pipeline() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-daemon.sh", "careless-daemon.sh");
    sb.hook("extras.d", "20-after.sh", "echo-args.sh");
    let mut run = full_pipeline(
        &sb,
        &[
            &["hook-run", "stack", "install"],
            &["hook-run", "stack", "extra"],
        ],
        &[],
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(
        codes(&statuses),
        [0, 0, 0, 0, 0],
        "{}",
        run.report(&statuses)
    );
    let stream = records(&sb.join("records.ndjson"));
    assert_eq!(
        texts_of(&stream, "stack/install/10-daemon.sh"),
        ["daemon started"]
    );
    assert_eq!(
        texts_of(&stream, "stack/extra/20-after.sh"),
        ["ran stack extra"]
    );
    // A daemon is not the run's to kill (docs/architecture.md, "Ends of hooks"): it is still there.
    let daemon = pid_from(&sb.join("daemon.pid"));
    assert!(process_alive(daemon), "the daemon was killed");
    let _ = kill(Pid::from_raw(daemon), Signal::SIGKILL);
    sb.assert_no_process_left();
}

/// The log line of one output line: ` | ID | ` (stdout) or ` | ID ! ` (stderr), the exact
/// bytes, a newline.
fn logged(id: &str, stderr: bool, bytes: &[u8]) -> Vec<u8> {
    let mark = if stderr { "!" } else { "|" };
    let mut line = format!(" | {id} {mark} ").into_bytes();
    line.extend_from_slice(bytes);
    line.push(b'\n');
    line
}

#[test]
fn a_ten_megabyte_line_without_a_newline_reaches_the_log_file_whole() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-long.sh", "long-line.sh");
    let stages = vec![
        sb.stage(&["hook-list", "extras.d"]),
        sb.stage(&["hook-run", "stack", "install"]),
        sb.stage(&["phase-log", "-o", "run.log"]),
    ];
    let mut run = Pipeline::start(stages, None, Path::new("/dev/null"));
    let peaks = PeakMemory::watch(vec![run.pid(1), run.pid(2)]);
    let statuses = run.wait();
    let peaks = peaks.finish();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 0, 0], "{}", run.report(&statuses));
    eprintln!(
        "peak memory (VmHWM) with one 10 MiB line: hook-run {} KiB, phase-log {} KiB",
        peaks[0], peaks[1]
    );
    let log = read_bytes(&sb.join("run.log"));
    let expected = logged(
        "stack/install/10-long.sh",
        false,
        &vec![b'y'; 10 * 1024 * 1024],
    );
    assert!(
        contains(&log, &expected),
        "the 10 MiB line is not in the log in one piece"
    );
}

#[test]
fn nul_invalid_utf8_and_cr_line_ends_reach_the_log_file_byte_exact() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-odd.sh", "odd-bytes.sh");
    let mut run = full_pipeline(&sb, &[&["hook-run", "stack", "install"]], &[]);
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 0, 0, 0], "{}", run.report(&statuses));
    let log = read_bytes(&sb.join("run.log"));
    let id = "stack/install/10-odd.sh";
    for (stderr, bytes) in [
        (false, &b"nul\0inside"[..]),
        (false, b"cr\ronly\rends"),
        (false, b"crlf end\r"),
        (false, b"bad \xff\xfe utf-8"),
        (true, b"stderr \x80 too"),
        (false, b"unfinished"),
    ] {
        let line = logged(id, stderr, bytes);
        assert!(
            contains(&log, &line),
            "{:?} is not in the log byte for byte:\n{}",
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&log)
        );
    }
}

// ---------------------------------------------------------------------------------------
// 5. Bad input.

/// The tools that read records, with the arguments they run with here.
const READERS: &[(&str, &[&str])] = &[
    ("hook-run", &["stack", "install"]),
    ("hyp-call", &["install"]),
    ("phase-log", &[]),
];

/// What a bad-input case must do.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Exit 0 (or the given status) and say nothing.
    Exit(i32),
    /// Exit 2 with one stderr line naming `input line N`.
    Refused(u64),
    /// Runners forward the input byte for byte; phase-log ignores it (exit 0).
    PassedThrough,
}

fn unknown_record() -> String {
    json!({"type": "x-reliability", "note": "from a newer tool", "n": 1}).to_string()
}

/// The bad-input cases: the same for every reader, plus a known type of the wrong shape that
/// each one decodes.
fn bad_inputs(tool: &str) -> Vec<(String, Vec<u8>, Expect)> {
    let unknown = unknown_record();
    let mut cases = vec![
        ("empty input".to_owned(), Vec::new(), Expect::Exit(0)),
        (
            "blank lines only".to_owned(),
            b"\n  \n\t\n".to_vec(),
            Expect::Exit(0),
        ),
        (
            "random bytes on line 2".to_owned(),
            format!("{unknown}\n\x01\x7f garbage {{\n")
                .into_bytes()
                .into_iter()
                .chain(b"\xff\xfe\n".iter().copied())
                .collect(),
            Expect::Refused(2),
        ),
        (
            "invalid UTF-8 on line 1".to_owned(),
            b"\xff\xfe\xfd\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "truncated JSON on line 3 (after a blank line)".to_owned(),
            format!("{unknown}\n\n{{\"type\":\"begin\",\"tool\":\"x").into_bytes(),
            Expect::Refused(3),
        ),
        (
            "a JSON array".to_owned(),
            b"[1,2,3]\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "an object without a type".to_owned(),
            b"{\"kind\":\"extras\"}\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "a type that is not a string".to_owned(),
            b"{\"type\":5}\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "done with a status of the wrong type".to_owned(),
            json!({"type":"done","tool":"x","stage":"y","status":"bad","time":"t"})
                .to_string()
                .into_bytes(),
            Expect::Refused(1),
        ),
        (
            "a 10 MB line that is not JSON".to_owned(),
            vec![b'a'; 10 * 1024 * 1024],
            Expect::Refused(1),
        ),
        (
            "a 10 MB record of an unknown type".to_owned(),
            format!(
                "{}\n",
                json!({"type":"x-big","blob":"b".repeat(10 * 1024 * 1024)})
            )
            .into_bytes(),
            Expect::PassedThrough,
        ),
        (
            "unknown record types".to_owned(),
            format!(
                "{unknown}\n{}\n{}\n",
                json!({"type":"x-other","deep":{"nested":[1,{"a":null}]}}),
                json!({"type":"","empty":"type"})
            )
            .into_bytes(),
            Expect::PassedThrough,
        ),
    ];
    let wrong_shape = match tool {
        "hook-run" => json!({"type":"hook","name":5,"kind":"extras"}),
        "hyp-call" => json!({"type":"hypervisor","driver":7,"missing":[],"functions":[]}),
        _ => json!({"type":"end","id":1,"stage":"s","status":"ok","duration_ms":1,"time":"t"}),
    };
    cases.push((
        format!("a known type of the wrong shape: {wrong_shape}"),
        format!("{unknown}\n{wrong_shape}\n").into_bytes(),
        Expect::Refused(2),
    ));
    let state = json!({"type":"state","stage":"s","generation":"one","base":"full","time":"t"});
    if tool != "phase-log" {
        cases.push((
            format!("a state of the wrong shape: {state}"),
            format!("{state}\n").into_bytes(),
            Expect::Refused(1),
        ));
    }
    cases
}

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

#[test]
fn bad_input_is_refused_naming_its_line_or_passed_through_never_a_panic() {
    let sb = Sandbox::new();
    let mut failures = Vec::new();
    for (tool, args) in READERS {
        for (name, input, expect) in bad_inputs(tool) {
            let (status, stdout, stderr) = feed(&sb, tool, args, &input);
            let mut problems = Vec::new();
            if stderr.contains("panicked") {
                problems.push("panicked".to_owned());
            }
            match expect {
                Expect::Exit(wanted) => {
                    if code(status) != wanted || !stderr.is_empty() {
                        problems.push(format!("expected exit {wanted} and no message"));
                    }
                }
                Expect::Refused(line) => {
                    let first = stderr.lines().next().unwrap_or("");
                    // phase-log reads on to report what it could; it may add a count of
                    // the later malformed lines.
                    let wanted = format!("{tool}: input line {line}:");
                    if code(status) != 2 || !first.starts_with(&wanted) {
                        problems.push(format!("expected exit 2 and first `{wanted} ...`"));
                    }
                }
                Expect::PassedThrough => {
                    if code(status) != 0 || !stderr.is_empty() {
                        problems.push("expected exit 0 and no message".to_owned());
                    }
                    let forwarded = input
                        .split(|&b| b == b'\n')
                        .filter(|line| !line.is_empty())
                        .all(|line| {
                            let mut whole = line.to_vec();
                            whole.push(b'\n');
                            contains(&stdout, &whole)
                        });
                    if *tool != "phase-log" && !forwarded {
                        problems.push("the records were not forwarded byte for byte".to_owned());
                    }
                }
            }
            if *tool != "phase-log" {
                // Whatever happened, the runner's last record is its done, with its status.
                let last = stdout
                    .split(|&b| b == b'\n')
                    .rfind(|line| !line.is_empty())
                    .and_then(|line| serde_json::from_slice::<Value>(line).ok());
                let done_status = last
                    .as_ref()
                    .filter(|r| r["type"] == "done")
                    .and_then(|r| r["status"].as_i64());
                if done_status != Some(i64::from(code(status))) {
                    problems.push(format!("last record is not done {}", code(status)));
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{tool} with {name}: {} (got {}; stderr: {})",
                    problems.join("; "),
                    describe(status),
                    stderr.trim()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    sb.assert_no_process_left();
}

#[test]
fn records_refused_after_decoding_name_their_input_line() {
    let sb = Sandbox::new();
    let unknown = unknown_record();
    let cases = [
        ("hook-run", json!({"type":"hook","kind":"extras"})),
        (
            "hook-run",
            json!({"type":"hook","kind":"extras","name":"10-x.sh","path_base64":"!!!"}),
        ),
        (
            "hyp-call",
            json!({"type":"hypervisor","driver":"x","missing":[],"functions":[]}),
        ),
    ];
    let mut failures = Vec::new();
    for (tool, record) in cases {
        let args: &[&str] = if tool == "hook-run" {
            &["stack", "install"]
        } else {
            &["install"]
        };
        let input = format!("{unknown}\n{record}\n");
        let (status, _, stderr) = feed(&sb, tool, args, input.as_bytes());
        if code(status) != 2 || !stderr.starts_with(&format!("{tool}: input line 2:")) {
            failures.push(format!(
                "{tool} with {record}: {} {stderr}",
                describe(status)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_done_status_no_tool_writes_is_not_success() {
    let sb = Sandbox::new();
    let time = "2026-11-24T22:29:14.000Z";
    let input = format!(
        "{}\n{}\n",
        json!({"type":"begin","tool":"hook-run","stage":"x","pid":1,"version":"0","time":time}),
        json!({"type":"done","tool":"hook-run","stage":"x","status":-1,"time":time})
    );
    let mut failures = Vec::new();
    for (tool, args) in READERS {
        let (status, _, stderr) = feed(&sb, tool, args, input.as_bytes());
        if code(status) == 0 {
            failures.push(format!("{tool} exited 0 {stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A command line and its environment.
type UsageCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

/// Runs a tool with no input and the given arguments and environment; returns the status
/// and stderr.
fn usage(sb: &Sandbox, argv: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut cmd = sb.stage(argv);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut run = Pipeline::start(vec![cmd], None, &sb.join("usage.out"));
    let statuses = run.wait();
    (statuses[0], run.stderr(0))
}

#[test]
fn bad_flag_and_environment_values_are_usage_errors_never_a_panic() {
    let sb = Sandbox::new();
    fs::write(sb.join("afile"), "").unwrap();
    let cases: &[UsageCase] = &[
        (&["hook-run", "stack", "install", "--timeout", "nan"], &[]),
        (&["hook-run", "stack", "install", "--timeout", "inf"], &[]),
        (&["hook-run", "stack", "install", "--timeout=-1"], &[]),
        (
            &["hook-run", "stack", "install", "--kill-after", "1e309"],
            &[],
        ),
        (&["hook-run", "stack", "install", "--kill-after", ""], &[]),
        (
            &["hook-run", "stack", "install"],
            &[("HOOKPIPE_TIMEOUT", "-1")],
        ),
        (&["hyp-call", "install"], &[("HOOKPIPE_TIMEOUT", "abc")]),
        (&["hook-run", "--any-phase", "a/b", "c"], &[]),
        (&["hook-run", "stack", "install", "--state", "afile/x"], &[]),
        (
            &["hook-run", "stack", "install", "--prelude", "/nonexistent"],
            &[],
        ),
        (&["hook-list", "--plugin", "noequals"], &[]),
        (&["hook-list", "--plugin", "=dir"], &[]),
        (&["hook-list", "afile"], &[]),
        (&["hyp-resolve", "--dir", "afile", "x"], &[]),
        (&["phase-log", "-o", "afile/x"], &[]),
        (&["phase-log", "--logfile", "log"], &[("LOGDAYS", "nan")]),
        (&["phase-log", "--logfile", "log"], &[("LOGDAYS", "-1")]),
    ];
    let mut failures = Vec::new();
    for (argv, env) in cases {
        let (status, stderr) = usage(&sb, argv, env);
        if code(status) != 2 || stderr.contains("panicked") || stderr.trim().is_empty() {
            failures.push(format!("{argv:?} {env:?}: {} {stderr}", describe(status)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn huge_timeouts_are_usage_errors_not_a_panic() {
    let sb = Sandbox::new();
    let cases: &[UsageCase] = &[
        (&["hook-run", "stack", "install", "--timeout", "1e20"], &[]),
        (
            &["hook-run", "stack", "install", "--kill-after", "1e20"],
            &[],
        ),
        (
            &[
                "hook-run",
                "stack",
                "install",
                "--timeout",
                "18446744073709551616",
            ],
            &[],
        ),
        (&["hyp-call", "install"], &[("HOOKPIPE_TIMEOUT", "1e20")]),
    ];
    let mut failures = Vec::new();
    for (argv, env) in cases {
        let (status, stderr) = usage(&sb, argv, env);
        if code(status) != 2 || stderr.contains("panicked") {
            failures.push(format!("{argv:?} {env:?}: {} {stderr}", describe(status)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// Generated input: sequences of well-formed records (valid for every reader) and garbage
// lines (malformed for every reader), fed to each reader's binary.

/// One generated input line.
#[derive(Clone, Debug)]
enum GenLine {
    /// A well-formed record; `unknown` when its type is none the tools know.
    Record { bytes: Vec<u8>, unknown: bool },
    /// Blank or whitespace only: skipped by every reader.
    Blank(Vec<u8>),
    /// Not a record for any reader.
    Garbage(Vec<u8>),
    /// A known record with one field of another value or type: refused (exit 2) by a reader
    /// that decodes that type, forwarded or ignored by one that does not.
    Mutated(Vec<u8>),
}

fn any_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

fn record_strategy(hook: String, plugin: String) -> BoxedStrategy<(Value, bool)> {
    let time = "2026-11-24T22:29:14.123Z";
    let id = prop_oneof![
        Just("stack/install/10-a.sh".to_owned()),
        Just("hypervisor/install/reliable".to_owned()),
        any_text(),
    ];
    let stage = prop_oneof![Just("stack/install".to_owned()), any_text()];
    prop_oneof![
        (any_text(), stage.clone(), any::<u32>()).prop_map(move |(tool, stage, pid)| (
            json!({"type":"begin","tool":tool,"stage":stage,"pid":pid,"version":"0","time":time}),
            false
        )),
        (stage.clone(), prop::sample::select(vec![0, 1, 2, 130, 143])).prop_map(
            move |(stage, status)| (
                json!({"type":"done","tool":"hook-run","stage":stage,"status":status,"time":time}),
                false
            )
        ),
        (
            prop::sample::select(vec!["10-a.sh", "20-b.sh", "30-$(x) c.sh"]),
            prop_oneof![Just(hook.clone()), Just("/nonexistent/10-a.sh".to_owned())]
        )
            .prop_map(|(name, path)| (
                json!({"type":"hook","name":name,"path":path,"kind":"extras","seq":"10","dir":"/d"}),
                false
            )),
        prop_oneof![Just(plugin.clone()), Just("/nonexistent/hypervisor-x".to_owned())]
            .prop_map(|path| (
                json!({"type":"hypervisor","driver":"reliable","path":path,"missing":[],
                       "functions":["install_nova_hypervisor"]}),
                false
            )),
        (id.clone(), prop::bool::ANY, any_text(), prop::bool::ANY).prop_map(
            move |(id, stderr, text, partial)| (
                json!({"type":"output","id":id,"stream":if stderr {"stderr"} else {"stdout"},
                       "text":text,"partial":partial,"time":time}),
                false
            )
        ),
        (
            prop::sample::select(vec!["summary", "warning", "trace"]),
            id.clone(),
            any_text()
        )
            .prop_map(move |(kind, id, text)| (
                json!({"type":kind,"id":id,"text":text,"time":time}),
                false
            )),
        (
            id.clone(),
            prop::sample::select(vec!["ok", "failed", "timeout", "killed", "interrupted", "odd"]),
            any::<i32>()
        )
            .prop_map(move |(id, status, exit)| (
                json!({"type":"end","id":id,"stage":"stack/install","status":status,
                       "exit_code":exit,"duration_ms":5,"time":time}),
                false
            )),
        (id.clone(), any_text()).prop_map(move |(id, message)| (
            json!({"type":"skip","reason":"stopped","message":message,"id":id,"time":time}),
            false
        )),
        (id, any::<u32>()).prop_map(move |(id, ms)| (
            json!({"type":"timer","id":id,"name":"t","ms":ms,"time":time}),
            false
        )),
        (
            prop::sample::select(vec!["X=1", "declare -g Y=two", "f() { :; }", "((( broken"]),
            0u64..5
        )
            .prop_map(move |(script, generation)| (
                json!({"type":"state","stage":"s","generation":generation,"base":"full",
                       "script":script,"time":time}),
                false
            )),
        (any_text(), any_text()).prop_map(|(suffix, note)| (
            json!({"type":format!("x-{suffix}"),"note":note}),
            true
        )),
    ]
    .boxed()
}

fn line_strategy(hook: String, plugin: String) -> impl Strategy<Value = GenLine> {
    let record = record_strategy(hook, plugin);
    let truncated = record.clone().prop_flat_map(|(value, _)| {
        let bytes = value.to_string().into_bytes();
        let len = bytes.len();
        (Just(bytes), 1..len).prop_map(|(bytes, cut)| GenLine::Garbage(bytes[..cut].to_vec()))
    });
    let random = proptest::collection::vec(any::<u8>(), 1..64)
        .prop_filter("one line, not blank", |bytes| {
            !bytes.contains(&b'\n') && !bytes.iter().all(u8::is_ascii_whitespace)
        })
        .prop_map(GenLine::Garbage);
    let not_a_record = prop::sample::select(vec![
        "[1,2]",
        "\"text\"",
        "42",
        "null",
        "{}",
        "{\"type\":5}",
        "{\"type\":null}",
        "{\"a\":1",
    ])
    .prop_map(|text| GenLine::Garbage(text.as_bytes().to_vec()));
    let blank = prop::sample::select(vec!["", " ", "\t", "  \r"])
        .prop_map(|text| GenLine::Blank(text.as_bytes().to_vec()));
    let replacement = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        (-1e300f64..1e300).prop_map(Value::from),
        any_text().prop_map(Value::from),
        Just(json!([1, "a", null])),
        Just(json!({"nested": {"k": "v"}})),
    ];
    let mutated = (record.clone(), any::<prop::sample::Index>(), replacement).prop_filter_map(
        "a known type",
        |((value, unknown), index, replacement)| {
            let Value::Object(mut fields) = value else {
                return None;
            };
            let keys: Vec<String> = fields.keys().filter(|k| *k != "type").cloned().collect();
            if unknown || keys.is_empty() {
                return None;
            }
            let key = index.get(&keys).clone();
            // Paths and scripts are never random text: a runner sources them.
            let replacement = match replacement {
                Value::String(_) if key == "path" || key == "script" => Value::Null,
                other => other,
            };
            fields.insert(key, replacement);
            Some(GenLine::Mutated(
                Value::Object(fields).to_string().into_bytes(),
            ))
        },
    );
    prop_oneof![
        6 => record.prop_map(|(value, unknown)| GenLine::Record {
            bytes: value.to_string().into_bytes(),
            unknown,
        }),
        1 => truncated,
        1 => random,
        1 => not_a_record,
        1 => blank,
        2 => mutated,
    ]
}

/// Checks one generated case against a reader's binary.
fn check_generated(
    sb: &Sandbox,
    tool: &str,
    args: &[&str],
    lines: &[GenLine],
    final_newline: bool,
) -> Result<(), TestCaseError> {
    let mut input = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let (GenLine::Record { bytes, .. }
        | GenLine::Blank(bytes)
        | GenLine::Garbage(bytes)
        | GenLine::Mutated(bytes)) = line;
        input.extend_from_slice(bytes);
        if index + 1 < lines.len() || final_newline {
            input.push(b'\n');
        }
    }
    let (status, stdout, stderr) = feed(sb, tool, args, &input);
    let status = code(status);
    let shown = format!(
        "{tool} exited {status}\n--- stderr ---\n{stderr}\n--- input ---\n{}",
        String::from_utf8_lossy(&input)
    );
    prop_assert!(!stderr.contains("panicked"), "{}", shown);
    for line in stderr.lines() {
        prop_assert!(line.starts_with(&format!("{tool}: ")), "{}", shown);
    }
    let first_garbage = lines
        .iter()
        .position(|line| matches!(line, GenLine::Garbage(_)));
    let runner = tool != "phase-log";
    // A mutated record may be refused where it stands (only some readers decode it), so
    // what follows it says less: exact statuses are checked only without one.
    let first_mutated = lines
        .iter()
        .position(|line| matches!(line, GenLine::Mutated(_)));
    let modelled = first_mutated.is_none_or(|m| first_garbage.is_some_and(|g| g < m));
    if let (Some(index), true) = (first_garbage, modelled) {
        prop_assert!(
            stderr.contains(&format!("input line {}:", index + 1)),
            "{}",
            shown
        );
    }
    let clean_prefix = match (first_garbage, first_mutated) {
        (Some(g), Some(m)) => g.min(m),
        (Some(i), None) | (None, Some(i)) => i,
        (None, None) => lines.len(),
    };
    if runner {
        match first_garbage {
            _ if !modelled => prop_assert!((0..=2).contains(&status), "{}", shown),
            Some(_) => prop_assert_eq!(status, 2, "{}", shown),
            None => prop_assert!(status == 0 || status == 1, "{}", shown),
        }
        let mut out = Vec::new();
        for line in stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let record: Value = serde_json::from_slice(line)
                .map_err(|err| TestCaseError::fail(format!("bad output line {err}\n{shown}")))?;
            prop_assert!(record["type"].is_string(), "{}", shown);
            out.push((line, record));
        }
        let last = out.last().map(|(_, record)| record.clone());
        prop_assert!(
            last.as_ref()
                .is_some_and(|r| r["type"] == "done" && r["status"] == status),
            "{}",
            shown
        );
        // Unknown records before the first bad line are forwarded byte for byte, in order.
        let forwarded: Vec<&[u8]> = out.iter().map(|(line, _)| *line).collect();
        let mut at = 0;
        for line in &lines[..clean_prefix] {
            if let GenLine::Record {
                bytes,
                unknown: true,
            } = line
            {
                let found = forwarded[at..].iter().position(|l| *l == &bytes[..]);
                prop_assert!(found.is_some(), "not forwarded in order\n{}", shown);
                at += found.unwrap_or(0) + 1;
            }
        }
    } else if !modelled {
        // Any status of the table; the checks above (no panic, clear messages) hold.
    } else if first_garbage.is_some() {
        prop_assert!(status >= 2, "{}", shown);
    } else {
        let worst_done = lines
            .iter()
            .filter_map(|line| match line {
                GenLine::Record { bytes, .. } => serde_json::from_slice::<Value>(bytes).ok(),
                _ => None,
            })
            .filter(|r| r["type"] == "done")
            .filter_map(|r| r["status"].as_i64())
            .filter(|&s| s >= 2)
            .max();
        match worst_done {
            Some(worst) => prop_assert_eq!(i64::from(status), worst, "{}", shown),
            None => prop_assert!(status == 0 || status == 1, "{}", shown),
        }
    }
    Ok(())
}

fn generated_input_case(tool: &str, args: &[&str]) {
    let sb = Sandbox::new();
    let hook = sb.hook("extras.d", "10-a.sh", "echo-args.sh");
    fs::create_dir_all(sb.join("nova_plugins")).unwrap();
    let plugin = sb.join("nova_plugins/hypervisor-reliable");
    fs::copy(fixtures().join("nova_plugins/hypervisor-reliable"), &plugin).unwrap();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(32);
    let config = Config {
        cases,
        failure_persistence: None,
        // Each case starts a process (and a bash worker): shrink a little, not forever.
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let strategy = (
        proptest::collection::vec(
            line_strategy(
                hook.to_string_lossy().into_owned(),
                plugin.to_string_lossy().into_owned(),
            ),
            0..10,
        ),
        prop::bool::ANY,
    );
    let result = runner.run(&strategy, |(lines, final_newline)| {
        check_generated(&sb, tool, args, &lines, final_newline)
    });
    if let Err(err) = result {
        panic!("{tool}: {err}");
    }
    sb.assert_no_process_left();
}

#[test]
fn generated_input_never_panics_hook_run() {
    generated_input_case("hook-run", &["stack", "install"]);
}

#[test]
fn generated_input_never_panics_hyp_call() {
    generated_input_case("hyp-call", &["source", "install"]);
}

#[test]
fn generated_input_never_panics_phase_log() {
    generated_input_case("phase-log", &[]);
}

// ---------------------------------------------------------------------------------------
// 6. Hostile names.

/// Names with every shell metacharacter that matters, as bytes.
fn hostile_hook_names() -> Vec<Vec<u8>> {
    [
        &b"10-a b.sh"[..],
        b"11-q'uote.sh",
        b"12-d\"q.sh",
        b"13-$(touch pwned-dollar).sh",
        b"14-`touch pwned-backtick`.sh",
        b"15-x;touch pwned-semicolon;.sh",
        b"16-new\nline.sh",
        b"17-\xff\xfe.sh",
        b"18--rf.sh",
        b"19-*.sh",
        b"20-%s%n\\.sh",
        b"21-$IFS${PATH}.sh",
        b"22-<in >out |pipe &bg.sh",
    ]
    .iter()
    .map(|name| name.to_vec())
    .collect()
}

fn name_of(record: &Value) -> Option<Vec<u8>> {
    if let Some(name) = record["name"].as_str() {
        return Some(name.as_bytes().to_vec());
    }
    let encoded = record["name_base64"].as_str()?;
    Some(hookpipe_e2e::base64_decode(encoded))
}

#[test]
fn hostile_hook_file_names_run_as_data_through_the_whole_pipeline() {
    let sb = Sandbox::new();
    let names = hostile_hook_names();
    for name in &names {
        sb.hook("extras.d", OsString::from_vec(name.clone()), "echo-args.sh");
    }
    // Not NN-name.sh: listed as a skip with its reason, never run.
    sb.hook("extras.d", "-30-dash.sh", "echo-args.sh");
    let mut run = full_pipeline(
        &sb,
        &[&["hook-run", "source"], &["hook-run", "stack", "install"]],
        &[],
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(
        codes(&statuses),
        [0, 0, 0, 0, 0],
        "{}",
        run.report(&statuses)
    );
    let stream = records(&sb.join("records.ndjson"));
    for name in &names {
        let shown = String::from_utf8_lossy(name);
        for stage in ["source", "stack/install"] {
            let start = stream
                .iter()
                .find(|r| {
                    r["type"] == "start" && r["stage"] == stage && name_of(r).as_ref() == Some(name)
                })
                .unwrap_or_else(|| panic!("{shown:?} did not start in {stage}"));
            let id = start["id"].as_str().unwrap();
            assert_eq!(end_of(&stream, id)["status"], "ok", "{shown:?}");
            let said = if stage == "source" {
                "ran source"
            } else {
                "ran stack install"
            };
            assert_eq!(texts_of(&stream, id), [said], "{shown:?}");
        }
    }
    let skip = stream
        .iter()
        .find(|r| r["type"] == "skip" && r["name"] == "-30-dash.sh")
        .expect("a skip for -30-dash.sh");
    assert_eq!(skip["reason"], "bad-prefix", "{skip}");
    assert!(!skip["message"].as_str().unwrap_or("").is_empty());
    assert_log_covers(&read_text(&sb.join("run.log")), &stream);
    sb.assert_no_command_from_a_name_ran();
    sb.assert_no_process_left();
}

#[test]
fn control_characters_in_a_hook_name_cannot_forge_log_lines_or_drive_the_terminal() {
    let sb = Sandbox::new();
    sb.hook(
        "extras.d",
        "10-x\n2020-01-01 00:00:00.000 | forged [ok].sh",
        "echo-args.sh",
    );
    sb.hook("extras.d", "20-\x1b[2J\rclear.sh", "echo-args.sh");
    let mut run = full_pipeline(&sb, &[&["hook-run", "stack", "install"]], &[]);
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0, 0, 0, 0], "{}", run.report(&statuses));
    let stamped = |line: &str| {
        let bytes = line.as_bytes();
        // An empty report line is the stamp and " |" alone.
        bytes.len() >= 25
            && bytes[..23].iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b' ',
                13 | 16 => *b == b':',
                19 => *b == b'.',
                _ => b.is_ascii_digit(),
            })
            && (&bytes[23..] == b" |" || bytes[23..].starts_with(b" | "))
    };
    for file in ["run.log", "console.txt"] {
        // The hooks print only `ran ...`: every control byte here came from a name.
        let text = read_text(&sb.join(file));
        for line in text.lines() {
            // The console shows the reports unstamped; the log stamps every line.
            if file == "run.log" {
                assert!(stamped(line), "{file}: a line without its stamp: {line:?}");
            }
            assert!(
                !line.starts_with("2020-01-01"),
                "{file}: a forged line: {line:?}"
            );
            assert!(
                !line.contains(['\x1b', '\r']),
                "{file}: a raw control character: {line:?}"
            );
        }
    }
}

#[test]
fn hostile_plugin_names_and_directories_run_as_data_or_are_refused_with_a_reason() {
    let sb = Sandbox::new();
    let names: Vec<Vec<u8>> = [
        &b"a b"[..],
        b"q'uote",
        b"d\"q",
        b"$(touch pwned-dollar)",
        b"`touch pwned-backtick`",
        b"x;touch pwned-semicolon",
        b"-rf",
        b"\xff\xfe",
        b"new\nline",
        b"../escape",
        b"",
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect();
    let mut failures = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let shown = String::from_utf8_lossy(name).into_owned();
        // The directory holds the name too (where it is one path component).
        let mut dir = format!("plugins/{index} ").into_bytes();
        dir.extend(name.iter().map(|&b| if b == b'/' { b'_' } else { b }));
        let dir = sb.join(OsString::from_vec(dir));
        for file in ["plugin.sh", "settings", "override-defaults"] {
            fs::create_dir_all(dir.join("devstack")).unwrap();
            fs::copy(
                fixtures().join("hooks/echo-args.sh"),
                dir.join("devstack").join(file),
            )
            .unwrap();
        }
        let mut flag = b"--plugin=".to_vec();
        flag.extend_from_slice(name);
        flag.push(b'=');
        flag.extend_from_slice(dir.as_os_str().as_bytes());
        let mut list = sb.stage(&["hook-list", "--missing-ok", "extras.d"]);
        list.arg(OsString::from_vec(flag));
        let out = sb.join(format!("records.{index}"));
        let mut run = Pipeline::start(
            vec![
                list,
                sb.stage(&["hook-run", "override_defaults"]),
                sb.stage(&["hook-run", "source"]),
                sb.stage(&["hook-run", "stack", "install"]),
            ],
            None,
            &out,
        );
        let statuses = run.wait();
        if (0..statuses.len()).any(|i| run.stderr(i).contains("panicked")) {
            failures.push(format!("{shown:?}: a panic\n{}", run.report(&statuses)));
            continue;
        }
        let stream = records(&out);
        let listed = stream.iter().any(|r| r["type"] == "hook");
        if code(statuses[0]) == 2 {
            // Refused: one clear line naming the flag's problem, and nothing ran.
            let err = run.stderr(0);
            let clear = err.lines().count() == 1 && err.starts_with("hook-list: ");
            if !clear || listed || stream.iter().any(|r| r["type"] == "start") {
                failures.push(format!(
                    "{shown:?}: refused unclearly\n{}",
                    run.report(&statuses)
                ));
            }
            continue;
        }
        let ran = stream
            .iter()
            .filter(|r| r["type"] == "end" && r["status"] == "ok")
            .count();
        let said: Vec<String> = stream
            .iter()
            .filter(|r| r["type"] == "output")
            .filter_map(|r| r["text"].as_str().map(str::to_owned))
            .collect();
        // As in DevStack, override-defaults and settings are sourced without arguments.
        let expected = ["ran ", "ran stack install"];
        if codes(&statuses) != [0, 0, 0, 0]
            || ran < 3
            || !expected.iter().all(|e| said.iter().any(|s| s == e))
        {
            failures.push(format!(
                "{shown:?}: accepted but did not run cleanly: {said:?}\n{}",
                run.report(&statuses)
            ));
        }
    }
    // DevStack's list of plugin names, split on commas and blanks, with DEST holding them.
    let dest = sb.join("dest");
    for name in ["$(touch${IFS}pwned-list)", "x;touch${IFS}pwned-semi"] {
        fs::create_dir_all(dest.join(name).join("devstack")).unwrap();
        fs::copy(
            fixtures().join("hooks/echo-args.sh"),
            dest.join(name).join("devstack/plugin.sh"),
        )
        .unwrap();
    }
    let mut list = sb.stage(&["hook-list", "--missing-ok", "extras.d", "--dest"]);
    list.arg(&dest)
        .arg("--devstack-plugins")
        .arg("$(touch${IFS}pwned-list),x;touch${IFS}pwned-semi `touch pwned-tick`");
    let mut run = Pipeline::start(
        vec![list, sb.stage(&["hook-run", "stack", "install"])],
        None,
        &sb.join("records.list"),
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    let stream = records(&sb.join("records.list"));
    for name in ["$(touch${IFS}pwned-list)", "x;touch${IFS}pwned-semi"] {
        assert_eq!(
            texts_of(&stream, &format!("stack/install/plugin:{name}")),
            ["ran stack install"],
            "{}",
            run.report(&statuses)
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    sb.assert_no_command_from_a_name_ran();
    sb.assert_no_process_left();
}

#[test]
fn hostile_hypervisor_drivers_are_refused_and_hostile_plugin_paths_are_data() {
    let sb = Sandbox::new();
    let drivers: Vec<&[u8]> = vec![
        b"a b",
        b"q'uote",
        b"$(touch pwned-dollar)",
        b"`touch pwned-backtick`",
        b"x;touch pwned-semicolon",
        b"new\nline",
        b"-rf",
        b"\xff\xfe",
        b"../../etc/passwd",
    ];
    fs::create_dir_all(sb.join("nova_plugins")).unwrap();
    for driver in &drivers {
        for from_env in [false, true] {
            let mut cmd = sb.stage(&["hyp-resolve", "--dir", "nova_plugins"]);
            if from_env {
                cmd.env("VIRT_DRIVER", OsStr::from_bytes(driver));
            } else {
                cmd.arg("--").arg(OsStr::from_bytes(driver));
            }
            let out = sb.join("resolved");
            let mut run = Pipeline::start(vec![cmd], None, &out);
            let statuses = run.wait();
            let err = run.stderr(0);
            assert_eq!(code(statuses[0]), 2, "{}", run.report(&statuses));
            assert!(
                err.starts_with("hyp-resolve: driver `") && err.contains("refused"),
                "{err}"
            );
            assert!(
                !records(&out).iter().any(|r| r["type"] == "hypervisor"),
                "a refused driver was resolved"
            );
        }
    }

    // A plugin directory whose name is hostile: resolved, checked by bash, sourced, called.
    let dir = sb.join("plugins $(touch pwned-dir) `touch pwned-dir2`; x'\"");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(
        fixtures().join("nova_plugins/hypervisor-reliable"),
        dir.join("hypervisor-reliable"),
    )
    .unwrap();
    let mut resolve = sb.stage(&["hyp-resolve", "--check", "--dir"]);
    resolve.arg(&dir).arg("reliable");
    let mut run = Pipeline::start(
        vec![
            resolve,
            sb.stage(&["hyp-call", "source", "install", "configure"]),
            sb.stage(&["tee", "-i", "records.ndjson"]),
            sb.stage(&["phase-log", "-o", "run.log"]),
        ],
        None,
        &sb.join("console.txt"),
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 0, 0, 0], "{}", run.report(&statuses));
    let stream = records(&sb.join("records.ndjson"));
    assert_eq!(
        texts_of(&stream, "hypervisor/install/reliable"),
        [format!(
            "install ran from {}/hypervisor-reliable",
            dir.display()
        )]
    );
    assert_eq!(
        texts_of(&stream, "hypervisor/configure/reliable"),
        ["configure ran"]
    );

    // A hypervisor record nobody vetted: a hostile driver and file name still are data.
    let file = dir.join("hypervisor-$(touch pwned-file)");
    fs::copy(fixtures().join("nova_plugins/hypervisor-reliable"), &file).unwrap();
    let record = json!({"type":"hypervisor","driver":"$(touch pwned-record);`touch pwned-r`",
        "path":file.to_str().unwrap(),"missing":[],"functions":["install_nova_hypervisor"]});
    let (status, stdout, stderr) = feed(
        &sb,
        "hyp-call",
        &["install"],
        format!("{record}\n").as_bytes(),
    );
    assert_eq!(code(status), 0, "{stderr}");
    let said = String::from_utf8_lossy(&stdout);
    assert!(said.contains("install ran from"), "{said}");
    sb.assert_no_command_from_a_name_ran();
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// 7. State and logs under faults.

const STATE_HEADER: &str = "# hookpipe state generation ";

/// Fails unless `bytes` is a complete state script: the header, `functions` big functions,
/// the last function closed, and `bash -n` content with it.
#[track_caller]
fn assert_complete_state(sb: &Sandbox, bytes: &[u8], functions: usize, what: &str) {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with(STATE_HEADER), "{what}: no header");
    let count = text.matches("\nbig_function_").count();
    assert_eq!(count, functions, "{what}: {count} big functions");
    assert!(text.ends_with("}\n"), "{what}: cut short");
    let copy = sb.join("state-check.sh");
    fs::write(&copy, bytes).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&copy)
        .output()
        .expect("run bash -n");
    assert!(
        check.status.success(),
        "{what}: bash -n says {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The files of the state file's directory other than `known`.
fn strangers(dir: &Path, known: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !known.contains(&name.as_str()))
        .collect()
}

#[test]
fn sigkill_while_the_state_file_is_written_leaves_the_previous_state_intact() {
    let sb = Sandbox::new();
    let functions = 5000;
    sb.hook("extras.d", "10-big.sh", "big-state.sh");
    fs::create_dir_all(sb.join("state")).unwrap();
    let state = sb.join("state/state.sh");
    let stage = |sb: &Sandbox| {
        let mut stages = vec![
            sb.stage(&["hook-list", "extras.d"]),
            sb.stage(&["hook-run", "stack", "install", "--state", "state/state.sh"]),
        ];
        for cmd in &mut stages {
            cmd.env("RELIABILITY_FUNCTIONS", functions.to_string());
        }
        Pipeline::start(stages, None, Path::new("/dev/null"))
    };
    let mut first = stage(&sb);
    let statuses = first.wait();
    assert_eq!(codes(&statuses), [0, 0], "{}", first.report(&statuses));
    let known = ["state.sh", "state.sh.lock"];
    let mut hits = 0;
    for attempt in 0..4 {
        let before = read_bytes(&state);
        assert_complete_state(&sb, &before, functions, "the state before");
        let mut run = stage(&sb);
        // Kill the runner the moment a temporary file appears beside the state file.
        let mut seen = Vec::new();
        let deadline = Instant::now() + HANG;
        while run.children[1].try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            seen = strangers(&sb.join("state"), &known);
            if !seen.is_empty() {
                run.signal(1, Signal::SIGKILL);
                break;
            }
        }
        let statuses = run.wait();
        let left = strangers(&sb.join("state"), &known);
        let after = read_bytes(&state);
        if !left.is_empty() {
            // Killed mid-write: the previous state is untouched.
            hits += 1;
            assert_eq!(
                code(statuses[1]),
                137,
                "attempt {attempt}: {}",
                run.report(&statuses)
            );
            assert!(after == before, "attempt {attempt}: the state file changed");
        }
        assert_complete_state(&sb, &after, functions, &format!("attempt {attempt}"));
        let load = sb
            .bash("source state/state.sh && big_function_4999 && echo \"count $COUNT\"")
            .output()
            .expect("run bash");
        let said = String::from_utf8_lossy(&load.stdout);
        assert!(
            said.starts_with("big function 4999\ncount "),
            "the state does not load: {said} {}",
            String::from_utf8_lossy(&load.stderr)
        );
        for name in left.iter().chain(&seen) {
            let _ = fs::remove_file(sb.join("state").join(name));
        }
    }
    eprintln!("SIGKILL during the state write: {hits} of 4 attempts hit the write itself");
    assert!(hits > 0, "no attempt caught the runner writing its state");
    sb.assert_no_process_left();
}

#[test]
fn concurrent_pipelines_on_one_state_file_never_corrupt_it() {
    let sb = Arc::new(Sandbox::new());
    let functions = 1000;
    sb.hook("extras.d", "10-big.sh", "big-state.sh");
    let state = sb.join("state.sh");
    let stop = Arc::new(AtomicBool::new(false));
    // A watcher copies the file whenever it changes and checks every version it saw.
    let watcher = {
        let (stop, state) = (Arc::clone(&stop), state.clone());
        thread::spawn(move || {
            let mut versions = Vec::new();
            let mut last = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let now = read_bytes(&state);
                if !now.is_empty() && now != last {
                    versions.push(now.clone());
                    last = now;
                }
                thread::sleep(Duration::from_millis(2));
            }
            versions
        })
    };
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let sb = Arc::clone(&sb);
            thread::spawn(move || {
                let mut statuses = Vec::new();
                for _ in 0..10 {
                    let mut stages = vec![
                        sb.stage(&["hook-list", "extras.d"]),
                        sb.stage(&["hook-run", "stack", "install", "--state", "state.sh"]),
                        sb.stage(&["hook-run", "stack", "extra", "--state", "state.sh"]),
                    ];
                    for cmd in &mut stages {
                        cmd.env("RELIABILITY_FUNCTIONS", functions.to_string());
                    }
                    let mut run = Pipeline::start(stages, None, Path::new("/dev/null"));
                    let got = run.wait();
                    statuses.push((codes(&got), run.report(&got)));
                }
                statuses
            })
        })
        .collect();
    // A stage whose write would replace a generation another pipeline wrote after it read
    // is refused and fails with status 1 (audit.rs, "Lost updates"), and does not pass its
    // state on: the next stage starts from the file's.
    let mut installs_kept = 0;
    for worker in workers {
        for (statuses, report) in worker.join().expect("a pipeline thread") {
            assert!(
                statuses[0] == 0 && statuses[1..].iter().all(|&code| code == 0 || code == 1),
                "{statuses:?}\n{report}"
            );
            installs_kept += u32::from(statuses[1] == 0);
        }
    }
    stop.store(true, Ordering::SeqCst);
    let versions = watcher.join().expect("the watcher");
    assert!(!versions.is_empty());
    for (n, version) in versions.iter().enumerate() {
        assert_complete_state(&sb, version, functions, &format!("version {n} seen"));
    }
    let load = sb
        .bash("source state.sh && echo \"$COUNT\"")
        .output()
        .expect("run bash");
    let count: u32 = String::from_utf8_lossy(&load.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(
        count, installs_kept,
        "every install stage that succeeded added 1, and no update was lost"
    );
    eprintln!(
        "20 concurrent pipelines: {} versions of the state file seen, all complete; COUNT \
         {count}, {installs_kept} installs kept",
        versions.len()
    );
    sb.assert_no_process_left();
}

#[test]
fn planted_symlinks_beside_the_state_file_are_never_followed() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-a.sh", "echo-args.sh");
    fs::write(sb.join("hooks.ndjson"), "").unwrap();
    let mut list = Pipeline::start(
        vec![sb.stage(&["hook-list", "extras.d"])],
        None,
        &sb.join("hooks.ndjson"),
    );
    list.wait();
    // A runner waiting for its input, so its pid is known before it writes: a symlink at
    // the temporary name a pid would predict, and the state file itself a symlink.
    let fifo = sb.join("input.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut run = Pipeline::start(
        vec![sb.bash("exec hook-run stack install --state state.sh < input.fifo")],
        None,
        Path::new("/dev/null"),
    );
    let pid = run.pid(0).as_raw();
    let victims = [sb.join("victim-tmp"), sb.join("victim-state")];
    for victim in &victims {
        fs::write(victim, "precious\n").unwrap();
    }
    std::os::unix::fs::symlink(&victims[0], sb.join(format!("state.sh.tmp.{pid}"))).unwrap();
    std::os::unix::fs::symlink(&victims[1], sb.join("state.sh")).unwrap();
    fs::write(&fifo, read_bytes(&sb.join("hooks.ndjson"))).unwrap();
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0], "{}", run.report(&statuses));
    for victim in &victims {
        let after = read_text(victim);
        assert!(
            after == "precious\n",
            "{} was overwritten through a symlink with: {}...",
            victim.display(),
            after.chars().take(60).collect::<String>()
        );
    }
    // The state file was replaced by a regular file, not written through the link.
    let meta = fs::symlink_metadata(sb.join("state.sh")).unwrap();
    assert!(meta.file_type().is_file(), "state.sh is still a symlink");
    assert!(read_text(&sb.join("state.sh")).starts_with(STATE_HEADER));
}

#[test]
fn the_state_file_is_readable_by_its_owner_only() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-a.sh", "echo-args.sh");
    let mut run = Pipeline::start(
        vec![sb.bash(
            "umask 022; hook-list extras.d | hook-run stack install --state state.sh >/dev/null",
        )],
        None,
        Path::new("/dev/null"),
    );
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0], "{}", run.report(&statuses));
    let mode = fs::metadata(sb.join("state.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "state.sh has mode {mode:o}");
}

#[test]
fn sigkill_of_the_whole_pipeline_keeps_every_log_line_written_so_far_in_order() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-numbered.sh", "numbered.sh");
    let stages = vec![
        sb.stage(&["hook-list", "extras.d"]),
        sb.stage(&["hook-run", "stack", "install"]),
        sb.stage(&["phase-log", "-o", "run.log"]),
    ];
    let mut run = Pipeline::start(stages, None, Path::new("/dev/null"));
    let log = sb.join("run.log");
    wait_until("the log holds a few thousand lines", || {
        fs::metadata(&log)
            .map(|m| m.len() > 512 * 1024)
            .unwrap_or(false)
    });
    run.signal_group(Signal::SIGKILL);
    let statuses = run.wait();
    // hook-list may have finished before the kill; the runner and phase-log had not.
    assert_eq!(statuses[1].signal(), Some(9), "{}", run.report(&statuses));
    assert_eq!(statuses[2].signal(), Some(9), "{}", run.report(&statuses));
    let bytes = read_bytes(&log);
    let (whole, fragment) = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => (&bytes[..=end], &bytes[end + 1..]),
        None => (&bytes[..], &[][..]),
    };
    let prefix = " | stack/install/10-numbered.sh | line ";
    let mut next = 1u64;
    for line in whole.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let text = String::from_utf8_lossy(line);
        assert!(
            text.len() > 26 && text.as_bytes()[23..26] == *b" | ",
            "a garbled line: {text:?}"
        );
        if let Some(at) = text.find(prefix) {
            let number = &text[at + prefix.len()..];
            assert_eq!(number, next.to_string(), "lines out of order or garbled");
            next += 1;
        }
    }
    assert!(next > 1000, "only {} numbered lines", next - 1);
    // A cut inside the last line is all SIGKILL may leave: a prefix of the next line.
    let fragment = String::from_utf8_lossy(fragment);
    let expected_tail = format!("{prefix}{next}");
    if fragment.len() > 23 {
        assert!(
            expected_tail.starts_with(&fragment[23..]) || fragment[23..].starts_with(" | "),
            "the last fragment is garbled: {fragment:?}"
        );
    }
    eprintln!(
        "SIGKILL of the pipeline: {} numbered lines intact in the log, last fragment {} bytes",
        next - 1,
        fragment.len()
    );
    sb.assert_no_process_left();
}

#[test]
fn a_runner_killed_by_sigkill_leaves_no_worker_once_its_hook_returns() {
    let sb = Sandbox::new();
    interrupt_tree(&sb);
    let mut run = full_pipeline(&sb, &[&["hook-run", "stack", "install"]], &[]);
    let worker = pid_from(&sb.join("worker.pid"));
    wait_until("the hook's first line in the log", || {
        read_text(&sb.join("run.log")).contains("10-wait.sh | started")
    });
    // SIGKILL cannot be caught: the runner cannot stop its hook. The worker notices the
    // runner is gone when the hook returns and it reads its next command.
    run.signal(1, Signal::SIGKILL);
    thread::sleep(Duration::from_millis(200));
    fs::write(sb.join("release"), "").unwrap();
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(
        codes(&statuses),
        [0, 137, 0, 1],
        "{}",
        run.report(&statuses)
    );
    assert_gone(worker, "the worker of the killed runner");
    let log = read_text(&sb.join("run.log"));
    assert!(
        log.contains("hook-run (stack/install)"),
        "the vanished runner is not named:\n{log}"
    );
    // The hook's background sleep belongs to nobody now; the sandbox guard kills it.
}
