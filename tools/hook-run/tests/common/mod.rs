//! Helpers shared by hook-run's binary tests: temporary hook trees, running the binary
//! alone or in `bash -c` pipelines, and reading its records back.
#![allow(dead_code)]

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

pub const HOOK_RUN: &str = env!("CARGO_BIN_EXE_hook-run");

/// A temporary tree of hooks and the `hook` records that list them.
pub struct Tree {
    dir: tempfile::TempDir,
    hooks: Vec<PathBuf>,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().expect("temp dir"),
            hooks: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds `extras.d/NAME` with BODY; hooks are listed in the order added.
    pub fn hook(&mut self, name: &str, body: &str) -> &mut Tree {
        let dir = self.path().join("extras.d");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, body).unwrap();
        self.hooks.push(path);
        self
    }

    pub fn records(&self) -> String {
        let mut out = String::new();
        for path in &self.hooks {
            let record = json!({
                "type": "hook",
                "name": path.file_name().unwrap().to_str().unwrap(),
                "path": path.to_str().unwrap(),
                "kind": "extras",
                "dir": path.parent().unwrap().to_str().unwrap(),
            });
            out.push_str(&record.to_string());
            out.push('\n');
        }
        out
    }

    pub fn write_records(&self) -> PathBuf {
        let path = self.path().join("hooks.ndjson");
        fs::write(&path, self.records()).unwrap();
        path
    }

    /// `bash -c SCRIPT` in the tree, with `$HR` naming hook-run and `$HOOKS` the hook
    /// records file (written now), and no stdin.
    pub fn bash(&self, script: &str) -> Command {
        let hooks = self.write_records();
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .current_dir(self.path())
            .env("HR", HOOK_RUN)
            .env("HOOKS", hooks)
            .env("HOOKPIPE_LIB", lib_dir())
            .env("T", self.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a shell pipeline in the tree ([`Tree::bash`]); returns its output.
    pub fn pipeline(&self, script: &str) -> Output {
        self.bash(script).output().expect("run bash")
    }
}

pub fn run(tree: &Tree, args: &[&str]) -> Output {
    run_input(tree, args, &tree.records())
}

/// Runs hook-run in the tree with `args` and `input` on stdin.
pub fn run_input(tree: &Tree, args: &[&str], input: &str) -> Output {
    let mut cmd = Command::new(HOOK_RUN);
    cmd.args(args)
        .current_dir(tree.path())
        .env("HOOKPIPE_LIB", lib_dir())
        .env("T", tree.path());
    run_with_input(&mut cmd, input.as_bytes())
}

/// The records hook-run wrote on stdout.
pub fn records(output: &Output) -> Vec<Value> {
    parse_records(&output.stdout)
}

pub fn explain(output: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The text of every `output` record of one call, in order.
pub fn lines_of(records: &[Value], id: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["type"] == "output" && r["id"] == id)
        .map(|r| r["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

pub fn end_of<'a>(records: &'a [Value], id: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["type"] == "end" && r["id"] == id)
        .unwrap_or_else(|| panic!("no end record for {id}"))
}

pub fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

// Process and file helpers shared with the end-to-end tests: one copy, in the support crate.
// Not every test file uses each of them (the functions here are under dead_code for that).
#[allow(unused_imports)]
pub use hookpipe_e2e::{
    base64_decode, lib_dir, process_alive as pid_alive, wait_for_file as wait_for,
};
use hookpipe_e2e::{parse_records, run_with_input};

/// The pid a hook wrote to `path`.
pub fn read_pid(path: &Path) -> i32 {
    hookpipe_e2e::read_pid(path).expect("a pid in the file")
}

/// Starts `script` under bash in a process group of its own, as a terminal runs a
/// foreground pipeline.
pub fn spawn_group(tree: &Tree, script: &str) -> std::process::Child {
    tree.bash(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap()
}
