//! The sandbox of the fault tests (`e2e/reliability/`): a temporary directory whose commands
//! run with a clean DevStack environment, the workspace's tools first in PATH and a tag in
//! their environment, and a guard that kills every process still carrying the tag when the
//! test ends, even when it fails. Hooks come from `tests/fixtures/reliability/hooks/`.
//!
//! Every process a test starts carries `HOOKPIPE_RELIABILITY_TAG=<its temporary dir>` (bash
//! workers pass the environment on to hooks and their children, detached or not), so "no
//! process left" is a scan of /proc for that tag.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{
    assert_no_tagged_process, bin_dir, lib_dir, repo_root, scrub_env, tagged_processes, Pipeline,
    TOOLS,
};

/// The environment variable that marks every process a test started.
pub const TAG: &str = "HOOKPIPE_RELIABILITY_TAG";

/// `tests/fixtures/reliability/`: the hooks, plugins and texts of the fault tests.
pub fn reliability_fixtures() -> PathBuf {
    repo_root().join("tests/fixtures/reliability")
}

/// A temporary directory for one test. Commands made by [`Sandbox::command`] run in it with
/// a clean DevStack environment, the tools first in PATH, `T` naming the directory, and the
/// tag. Dropping it kills every process that still carries the tag.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("hookpipe-reliability-")
            .tempdir()
            .expect("a temporary directory");
        Sandbox { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Copies `tests/fixtures/reliability/hooks/FIXTURE` to `DIR/NAME` (NAME may be any bytes).
    pub fn hook(&self, dir: &str, name: impl AsRef<OsStr>, fixture: &str) -> PathBuf {
        let dir = self.join(dir);
        fs::create_dir_all(&dir).expect("create the hook directory");
        let path = dir.join(name.as_ref());
        fs::copy(reliability_fixtures().join("hooks").join(fixture), &path)
            .unwrap_or_else(|err| panic!("cannot copy fixture {fixture}: {err}"));
        path
    }

    /// A command running in the sandbox (see the type's docs).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
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
            .env("RELIABILITY_FIXTURES", reliability_fixtures())
            .env(TAG, self.path());
        cmd
    }

    /// One of the five tools, or any other program (`head`, `tee`, `bash`) by name.
    pub fn stage(&self, argv: &[&str]) -> Command {
        let program = if TOOLS.contains(&argv[0]) {
            bin_dir().join(argv[0]).into_os_string()
        } else {
            OsString::from(argv[0])
        };
        let mut cmd = self.command(program);
        cmd.args(&argv[1..]);
        cmd
    }

    /// `bash -c SCRIPT`.
    pub fn bash(&self, script: &str) -> Command {
        let mut cmd = self.command("bash");
        cmd.arg("-c").arg(script);
        cmd
    }

    /// Live processes (zombies do not count) carrying this sandbox's tag, with their
    /// command lines.
    pub fn leftovers(&self) -> Vec<(i32, String)> {
        tagged_processes(TAG, self.path().as_os_str())
    }

    /// Fails unless every process this test started is gone (allowing them [`GONE`] to go).
    #[track_caller]
    pub fn assert_no_process_left(&self) {
        assert_no_tagged_process(TAG, self.path().as_os_str());
    }

    /// Fails if a file whose name starts with `pwned` exists under the sandbox, the test's
    /// working directory or the repository: a command inside a name ran.
    #[track_caller]
    pub fn assert_no_command_from_a_name_ran(&self) {
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

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
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

/// The pipeline most tests use: the tools with the record stream teed to `records.ndjson`
/// before phase-log, so a test can compare what was sent with what was logged. `tee -i`
/// ignores SIGINT, so an interrupt to the group does not cut the stream.
pub fn full_pipeline(sb: &Sandbox, runners: &[&[&str]], env: &[(&str, &str)]) -> Pipeline {
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
