//! Fixture trees and runs of the real `hook-list` binary for the binary tests.
//!
//! [`Tree`] builds a temporary directory of hooks (files, links, FIFOs, sockets, modes);
//! [`Tree::cmd`] runs the binary there with a clean DevStack environment, and [`Run`] holds
//! the decoded records. Every run is checked against the record contract on the way (the
//! frame, the fields each type may carry, the reason codes), and a [`Run`] prints the
//! command, stdout and stderr when a test fails, so a failure shows what the tool did.

#![allow(dead_code)] // each test file uses its own part of the helper

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub const REASONS: &[&str] = &[
    "not-a-hook",
    "bad-prefix",
    "no-sh-suffix",
    "dotfile",
    "unreadable",
    "broken-link",
    "directory",
    "not-regular",
    "overridden",
    "missing-plugin-dir",
    "disabled",
    "untrusted",
];

/// A temporary tree; paths are relative to its root unless absolute.
pub struct Tree {
    tmp: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            tmp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub fn path(&self, rel: impl AsRef<OsStr>) -> PathBuf {
        self.root().join(rel.as_ref())
    }

    /// Writes a file, creating its parent directories.
    pub fn file(&self, rel: impl AsRef<OsStr>, body: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("parent directory");
        }
        fs::write(&path, body).expect("fixture file");
        path
    }

    pub fn mkdir(&self, rel: impl AsRef<OsStr>) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(&path).expect("fixture directory");
        path
    }

    pub fn symlink(&self, target: impl AsRef<Path>, rel: impl AsRef<OsStr>) -> PathBuf {
        let path = self.path(rel);
        std::os::unix::fs::symlink(target, &path).expect("fixture symlink");
        path
    }

    pub fn fifo(&self, rel: impl AsRef<OsStr>) -> PathBuf {
        let path = self.path(rel);
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o644))
            .expect("fixture FIFO");
        path
    }

    /// A socket file; it stays on disk after the listener is gone.
    pub fn socket(&self, rel: impl AsRef<OsStr>) -> PathBuf {
        let path = self.path(rel);
        drop(std::os::unix::net::UnixListener::bind(&path).expect("fixture socket"));
        path
    }

    pub fn chmod(&self, rel: impl AsRef<OsStr>, mode: u32) {
        fs::set_permissions(self.path(rel), fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// The binary, run in the tree's root with no DevStack variables set (the support
    /// crate's `scrub_env`).
    pub fn cmd(&self) -> Cmd {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hook-list"));
        cmd.current_dir(self.root());
        hookpipe_e2e::scrub_env(&mut cmd);
        Cmd {
            cmd: assert_cmd::Command::from_std(cmd),
            shown: vec!["hook-list".to_owned()],
        }
    }
}

pub struct Cmd {
    cmd: assert_cmd::Command,
    shown: Vec<String>,
}

impl Cmd {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.shown.push(format!("{:?}", arg.as_ref()));
        self.cmd.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn env_remove(mut self, var: &str) -> Cmd {
        self.cmd.env_remove(var);
        self
    }

    pub fn env(mut self, var: &str, value: impl AsRef<OsStr>) -> Cmd {
        self.shown.insert(0, format!("{var}={:?}", value.as_ref()));
        self.cmd.env(var, value);
        self
    }

    pub fn run(mut self) -> Run {
        let output = self.cmd.output().expect("running hook-list");
        let run = Run {
            command: self.shown.join(" "),
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            records: Vec::new(),
        };
        run.decoded()
    }
}

/// One finished run: exit status, records, stderr.
pub struct Run {
    pub command: String,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub records: Vec<Value>,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n$ {}\nstatus: {}\n--- stdout\n{}--- stderr\n{}---",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Decodes stdout and checks it against the record contract.
    fn decoded(mut self) -> Run {
        let mut records = Vec::new();
        for line in self.stdout.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(value) => records.push(value),
                Err(err) => panic!("not JSON ({err}): {line:?}{self}"),
            }
        }
        self.records = records;
        self.check_contract();
        self
    }

    fn check_contract(&self) {
        let first = self.records.first().map(|r| r["type"].clone());
        assert_eq!(first, Some("begin".into()), "first record{self}");
        let last = self.records.last().expect("records");
        assert_eq!(last["type"], "done", "last record{self}");
        assert_eq!(last["status"], self.status, "done carries the status{self}");
        for record in &self.records {
            let object = record.as_object().expect("a JSON object");
            let allowed: &[&str] = match object["type"].as_str() {
                Some("begin") => &["type", "tool", "stage", "pid", "version", "time"],
                Some("done") => &["type", "tool", "stage", "status", "time", "message"],
                Some("hook") => &[
                    "type",
                    "name",
                    "name_base64",
                    "path",
                    "path_base64",
                    "kind",
                    "seq",
                    "dir",
                    "dir_base64",
                    "services",
                    "enabled",
                    "files",
                    "warning",
                ],
                Some("skip") => &[
                    "type",
                    "reason",
                    "message",
                    "name",
                    "name_base64",
                    "path",
                    "path_base64",
                ],
                Some("warning") => &["type", "text", "text_base64", "time"],
                other => panic!("unexpected record type {other:?}{self}"),
            };
            for key in object.keys() {
                assert!(
                    allowed.contains(&key.as_str()),
                    "field {key} in {record}{self}"
                );
            }
            if matches!(object["type"].as_str(), Some("begin" | "done")) {
                assert_eq!(record["tool"], "hook-list", "{self}");
                assert_eq!(record["stage"], "list", "{self}");
                continue;
            }
            if record["type"] == "warning" {
                assert!(record["time"].is_string(), "{self}");
                continue;
            }
            for field in ["name", "path"] {
                let both = [field.to_owned(), format!("{field}_base64")];
                let present = both.iter().filter(|key| object.contains_key(*key)).count();
                assert_eq!(present, 1, "exactly one of {both:?} in {record}{self}");
            }
            if record["type"] == "skip" {
                let reason = record["reason"].as_str().unwrap_or_default();
                assert!(REASONS.contains(&reason), "reason {reason}{self}");
                assert!(
                    !record["message"].as_str().unwrap_or_default().is_empty(),
                    "a skip says why{self}"
                );
            }
        }
    }

    /// Hook and skip records, in output order.
    pub fn entries(&self) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["type"] == "hook" || r["type"] == "skip")
            .collect()
    }

    pub fn hooks(&self) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["type"] == "hook")
            .collect()
    }

    /// The tool's own `warning` records (those without a hook), their texts.
    pub fn warnings(&self) -> Vec<String> {
        self.records
            .iter()
            .filter(|r| r["type"] == "warning")
            .map(|r| text(r, "text"))
            .collect()
    }

    /// Names of the hook records, in order.
    pub fn hook_names(&self) -> Vec<String> {
        self.hooks().iter().map(|r| text(r, "name")).collect()
    }

    /// `(name, type or skip reason)` of every entry, in order.
    pub fn verdicts(&self) -> Vec<(String, String)> {
        self.entries()
            .iter()
            .map(|r| {
                let verdict = match r["reason"].as_str() {
                    Some(reason) => reason.to_owned(),
                    None => "hook".to_owned(),
                };
                (text(r, "name"), verdict)
            })
            .collect()
    }

    /// The only entry with this name.
    pub fn entry(&self, name: &str) -> &Value {
        let found: Vec<_> = self
            .entries()
            .into_iter()
            .filter(|r| r["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "one entry named {name:?}{self}");
        found[0]
    }
}

/// A text-or-bytes field decoded to bytes (`F` or `F_base64`), as a lossy string.
pub fn text(record: &Value, field: &str) -> String {
    String::from_utf8_lossy(&bytes(record, field)).into_owned()
}

/// A text-or-bytes field decoded to its exact bytes.
pub fn bytes(record: &Value, field: &str) -> Vec<u8> {
    hookpipe::record::Data::from_fields(
        field,
        record[field].as_str(),
        record[format!("{field}_base64")].as_str(),
    )
    .expect("valid base64")
    .map(hookpipe::record::Data::into_bytes)
    .unwrap_or_default()
}

/// A path as the tool writes it: lossless, as bytes.
pub fn path_bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

pub fn os(bytes: &[u8]) -> OsString {
    OsStr::from_bytes(bytes).to_owned()
}
