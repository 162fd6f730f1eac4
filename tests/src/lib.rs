//! The test-support crate of hookpipe (`hookpipe-e2e`): one copy of the helpers that the
//! end-to-end tests in `e2e/` and the per-tool binary tests (`tools/*/tests`, through a
//! dev-dependency) share. Here: where the repository and the workspace's debug binaries are,
//! temporary DevStack trees (a TOP_DIR, a DEST and a log directory) built from the fixtures
//! under `tests/fixtures/`, running scripts and bash with a clean DevStack environment and a
//! time limit, processes found by their environment, and a guard that kills every daemon a
//! test started under its tree, even when the test fails. The fault tests' harness lives in
//! modules: [`child`] (one tool as a piped child: input, signals, a
//! time limit), [`sandbox`] (a tagged temporary directory and its process guard), [`pipeline`]
//! (real pipelines in one process group, exit statuses, peak memory), [`process`] (waiting on
//! pids and process groups) and [`records`] (reading NDJSON streams and log files).
//!
//! The tests themselves: `e2e/stack.rs` drives scripts/stack.sh, unstack.sh and clean.sh;
//! `functions.rs` lib/functions through bash; `async.rs` DevStack's async jobs; `legacy.rs`,
//! `plugins.rs`, `resume.rs`, `multinode.rs`, `honest.rs` and `readme.rs` what their opening
//! comments say; `e2e/reliability/` the fault and hostile-input suite, one module per theme.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

pub mod child;
pub mod pipeline;
pub mod process;
pub mod records;
pub mod sandbox;

pub use child::{run_with_input, signal, spawn_piped, wait_within};
pub use pipeline::{code, codes, describe, PeakMemory, Pipeline};
pub use process::{assert_gone, assert_group_empty, dismiss_daemon, pid_from, wait_until};
pub use records::{
    assert_log_covers, contains, done_of, end_of, find, has_warning, parse_records, read_bytes,
    read_text, records, texts_of, time_of,
};
pub use sandbox::{full_pipeline, reliability_fixtures, Sandbox, TAG};

/// The five tools the scripts run.
pub const TOOLS: &[&str] = &[
    "hook-list",
    "hook-run",
    "hyp-resolve",
    "hyp-call",
    "phase-log",
];

/// How long one script may run before the test gives up on it: generous, only so that a
/// hang fails the test instead of blocking the suite.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Only a hang waits this long: a pipeline that has not ended by then is killed and the test
/// fails, showing what each stage wrote on stderr.
pub const HANG: Duration = Duration::from_secs(90);
/// How long a stopped process may take to disappear on a loaded machine.
pub const GONE: Duration = Duration::from_secs(20);

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // This crate is always the `tests` directory of the repository.
    manifest
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// The repository's lib/ (what HOOKPIPE_LIB names).
pub fn lib_dir() -> PathBuf {
    repo_root().join("lib")
}

/// The directory of the workspace's binaries for this test build: a test executable is
/// `target/<profile>/deps/<name>-<hash>`, the tools are in `target/<profile>/`. Panics with
/// what to do when a tool is missing.
#[track_caller]
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf();
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|tool| !is_executable(&dir.join(tool)))
        .collect();
    assert!(
        missing.is_empty(),
        "the tools {missing:?} are not built in {}: run `cargo test --workspace` (it builds \
         every member's binaries) or `cargo build --workspace` first",
        dir.display()
    );
    dir
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Variables that DevStack, hookpipe or the demo read: removed from every command, so that
/// the shell a developer runs the tests from cannot change their outcome.
const SCRUBBED: &[&str] = &[
    "TOP_DIR",
    "DEST",
    "ENABLED_SERVICES",
    "DISABLED_SERVICES",
    "DEVSTACK_PLUGINS",
    "VIRT_DRIVER",
    "NOVA_PLUGINS_DIR",
    "LOGFILE",
    "LOGDAYS",
    "LOGDIR",
    "VERBOSE",
    "VERBOSE_NO_TIMESTAMP",
    "HOOKPIPE_BIN",
    "HOOKPIPE_LIB",
    "HOOKPIPE_STATE",
    "HOOKPIPE_TIMEOUT",
    "HOOKPIPE_LOG_SESSION",
    "HOOKPIPE_INSTALL_PACKAGES",
    "HOOKPIPE_ASYNC_DIR",
    "HOOKPIPE_RUN_PID",
    "DEVSTACK_PARALLEL",
    "UNSTACK_ALL",
    "NO_COLOR",
    "HOOKPIPE_CHECKPOINT_DIR",
    "HOOKPIPE_RUN_DIR",
    "HOOKPIPE_RUN_ID",
    "HOOKPIPE_REVERSE",
    "HOOKPIPE_JOBS",
];

/// Removes the DevStack variables (and the demo's TEMPLATE_* and TOYVISOR_*) from `cmd`.
pub fn scrub_env(cmd: &mut Command) {
    for name in SCRUBBED {
        cmd.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        let bytes = name.as_bytes();
        if bytes.starts_with(b"TEMPLATE_") || bytes.starts_with(b"TOYVISOR_") {
            cmd.env_remove(&name);
        }
    }
}

/// What a finished command did.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The exit code, or 128+N when a signal ended it.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    /// Panics, showing everything, unless the command exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(self.status.success(), "expected success:\n{self}");
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.code(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `cmd` in a process group of its own, with no stdin, capturing stdout and stderr.
/// After `timeout` the whole group is killed and the test panics with what it printed.
pub fn run(mut cmd: Command, timeout: Duration) -> Run {
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => break None,
            Err(err) => panic!("cannot wait for {what}: {err}"),
        }
    };
    let Some(status) = status else {
        // The child leads its group (process_group(0)), so this reaches the whole pipeline.
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = child.wait();
        let out = collect(&stdout, Instant::now() + Duration::from_secs(1));
        let err = collect(&stderr, Instant::now() + Duration::from_secs(1));
        panic!(
            "{what} did not end within {timeout:?}; killed it\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.unwrap_or_default(),
            err.unwrap_or_default()
        );
    };
    // A process that outlives the command while holding its stdout or stderr (a daemon
    // started without detaching) keeps the pipe open: that is a failure, not a hang.
    let grace = Instant::now() + Duration::from_secs(10);
    let (Some(out), Some(err)) = (collect(&stdout, grace), collect(&stderr, grace)) else {
        panic!("{what} exited with {status}, but something it started still holds its output");
    };
    Run {
        what,
        status,
        stdout: out,
        stderr: err,
    }
}

/// Reads a pipe to its end on a thread; the bytes arrive on the channel.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        let _ = send.send(buf);
    });
    receive
}

/// What a pipe held, once it closed before `deadline`.
fn collect(pipe: &mpsc::Receiver<Vec<u8>>, deadline: Instant) -> Option<String> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let bytes = pipe.recv_timeout(wait).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// True when `pid` is a live process (a zombie waiting to be reaped counts as gone).
pub fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => match stat.rfind(')') {
            Some(end) => !stat[end + 1..].trim_start().starts_with('Z'),
            None => true,
        },
        Err(_) => false,
    }
}

/// Waits up to `timeout` for `pid` to be gone; true when it is.
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while process_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Live processes (zombies do not count) whose environment holds `NAME=VALUE`, with their
/// command lines (the first 120 characters). Every process a test starts inherits the
/// variable, detached or not, so this finds whatever a run left behind.
pub fn tagged_processes(name: &str, value: &OsStr) -> Vec<(i32, String)> {
    let mut needle = format!("{name}=").into_bytes();
    needle.extend_from_slice(value.as_bytes());
    needle.push(0);
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for pid in proc_pids() {
        if pid == me {
            continue;
        }
        let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let tagged = environ
            .split_inclusive(|&b| b == 0)
            .any(|var| var == needle);
        if tagged && process_alive(pid) {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((pid, cmdline.chars().take(120).collect()));
        }
    }
    found
}

/// Every pid listed in /proc (live or zombie); none when /proc cannot be read.
pub(crate) fn proc_pids() -> impl Iterator<Item = i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
}

/// Fails unless no live process carries `NAME=VALUE` in its environment
/// ([`tagged_processes`]), allowing them [`GONE`] to go.
#[track_caller]
pub fn assert_no_tagged_process(name: &str, value: &OsStr) {
    let deadline = Instant::now() + GONE;
    loop {
        let left = tagged_processes(name, value);
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

/// Waits up to `limit` for `path` to exist and hold something (a hook writes its pid
/// there); true when it does.
pub fn wait_for_file(path: &Path, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if fs::metadata(path).is_ok_and(|meta| meta.len() > 0) {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The bytes of a `*_base64` field, decoded by coreutils' `base64 -d` (an independent
/// decoder, so a test does not check the tools' encoding with their own code).
pub fn base64_decode(text: &str) -> Vec<u8> {
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64 starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    std::io::Write::write_all(&mut stdin, text.as_bytes()).expect("base64 reads its input");
    drop(stdin);
    let out = child.wait_with_output().expect("base64 ends");
    assert!(out.status.success(), "base64 -d refused {text:?}");
    out.stdout
}

/// Reads a pid file: None when it is missing or holds no number.
pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A temporary DevStack tree: `top/` (TOP_DIR), `dest/` (DEST) and `logs/` (LOGFILE is
/// `logs/stack.log`). Dropping it kills every daemon whose pid file lies under it.
pub struct Stack {
    root: tempfile::TempDir,
    pub top: PathBuf,
    pub dest: PathBuf,
    pub logs: PathBuf,
    env: Vec<(String, String)>,
}

impl Stack {
    /// A tree whose extras.d/ and lib/ are links to the repository's: the demo as shipped.
    pub fn demo() -> Stack {
        let stack = Stack::empty();
        stack.link_repo_dirs();
        stack
    }

    /// A copy of `tests/fixtures/NAME`, with links to the repository's extras.d/ and lib/
    /// where the fixture has none of its own.
    pub fn fixture(name: &str) -> Stack {
        let stack = Stack::empty();
        let source = repo_root().join("tests/fixtures").join(name);
        copy_tree(&source, &stack.top)
            .unwrap_or_else(|err| panic!("cannot copy fixture {}: {err}", source.display()));
        stack.link_repo_dirs();
        stack
    }

    fn empty() -> Stack {
        let root = tempfile::Builder::new()
            .prefix("hookpipe-e2e-")
            .tempdir()
            .expect("a temporary directory");
        let top = root.path().join("top");
        let dest = root.path().join("dest");
        let logs = root.path().join("logs");
        fs::create_dir(&top).expect("create top/");
        Stack {
            root,
            top,
            dest,
            logs,
            env: Vec::new(),
        }
    }

    fn link_repo_dirs(&self) {
        for dir in ["extras.d", "lib"] {
            let link = self.top.join(dir);
            if fs::symlink_metadata(&link).is_err() {
                symlink(repo_root().join(dir), &link).expect("link a repository directory");
            }
        }
    }

    /// The temporary directory holding the tree.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Sets a variable for every later script run.
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes `text` to `top/NAME`.
    pub fn write_top(&self, name: &str, text: &str) {
        fs::write(self.top.join(name), text).expect("write into top/");
    }

    /// The LOGFILE the scripts get; stack.sh's newest log is behind this link.
    pub fn logfile(&self) -> PathBuf {
        self.logs.join("stack.log")
    }

    /// Runs `scripts/NAME ARGS...` from the repository on this tree.
    pub fn script(&self, name: &str, args: &[&str]) -> Run {
        let mut cmd = Command::new(repo_root().join("scripts").join(name));
        cmd.args(args);
        scrub_env(&mut cmd);
        cmd.current_dir(self.root.path())
            .env("TOP_DIR", &self.top)
            .env("DEST", &self.dest)
            .env("LOGFILE", self.logfile())
            .env("HOOKPIPE_BIN", bin_dir())
            .env("HOOKPIPE_LIB", lib_dir());
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        run(cmd, SCRIPT_TIMEOUT)
    }

    /// The pid in `dest/RELATIVE`, if the file holds one.
    pub fn pid(&self, relative: &str) -> Option<i32> {
        read_pid(&self.dest.join(relative))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        kill_daemons_under(self.root.path());
    }
}

/// Kills (process group and process) every daemon named in a `*.pid` file under `root`
/// whose command line mentions `root`, so a recycled pid is never hit.
pub fn kill_daemons_under(root: &Path) {
    let mut pid_files = Vec::new();
    find_files(root, &mut pid_files, &|path| {
        path.extension() == Some(OsStr::new("pid"))
    });
    let needle = root.as_os_str().as_bytes();
    for file in pid_files {
        let Some(pid) = read_pid(&file) else { continue };
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if !cmdline.windows(needle.len()).any(|window| window == needle) {
            continue;
        }
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

fn find_files(dir: &Path, found: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Links (extras.d and lib point into the repository) are not followed.
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => find_files(&path, found, keep),
            Ok(kind) if kind.is_file() && keep(&path) => found.push(path),
            _ => {}
        }
    }
}

/// Copies a directory tree: files keep their permissions, links stay links.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            symlink(fs::read_link(entry.path())?, &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The position of each needle in `haystack`, in order; panics naming the first missing.
#[track_caller]
pub fn positions(haystack: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|needle| {
            haystack
                .find(needle)
                .unwrap_or_else(|| panic!("{needle:?} is missing from:\n{haystack}"))
        })
        .collect()
}

/// A temporary directory for bash-level tests of lib/functions: scripts written there run
/// with lib/functions already sourced. Dropping it kills every daemon whose pid file lies
/// under it.
pub struct Bash {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Bash {
    pub fn new() -> Bash {
        let dir = tempfile::Builder::new()
            .prefix("hookpipe-e2e-bash-")
            .tempdir()
            .expect("a temporary directory");
        Bash {
            dir,
            env: Vec::new(),
        }
    }

    /// The temporary directory (the scripts' working directory, also exported as $D).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sets a variable for every later script.
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes an executable file (a fake command, a daemon script) into the directory.
    pub fn executable(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create the file's directory");
        }
        fs::write(&path, text).expect("write an executable");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod 755");
        path
    }

    /// Runs `bash t.sh`, where t.sh is `source "$HOOKPIPE_LIB/functions"` followed by
    /// `body`: the body's first line is line 2 of t.sh.
    pub fn run(&self, body: &str) -> Run {
        let script = self.dir.path().join("t.sh");
        fs::write(
            &script,
            format!("source \"$HOOKPIPE_LIB/functions\"\n{body}"),
        )
        .expect("write t.sh");
        let mut cmd = Command::new("bash");
        cmd.arg("t.sh");
        scrub_env(&mut cmd);
        cmd.current_dir(self.dir.path())
            .env("HOOKPIPE_LIB", lib_dir())
            .env("D", self.dir.path());
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        run(cmd, Duration::from_secs(60))
    }
}

impl Default for Bash {
    fn default() -> Bash {
        Bash::new()
    }
}

impl Drop for Bash {
    fn drop(&mut self) {
        kill_daemons_under(self.dir.path());
    }
}
