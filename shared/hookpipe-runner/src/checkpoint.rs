//! Checkpoints: what a runner given a run directory (`--checkpoint-dir DIR`) keeps of a
//! completed stage, and how `--resume`, `--from` and `--until` use it. The format and the
//! rules are specified in `docs/checkpoints.md`; the `checkpoint` record in the record
//! contract (`hookpipe::record::Checkpoint`).
//!
//! This module owns the files (one `<stage>.checkpoint.json` and one
//! `<stage>.records.ndjson` per stage, written atomically, private, never through a planted
//! symlink), the fingerprint of what a stage depended on (SHA-256 of its hook, plugin and
//! prelude files, `local.conf`/`localrc`, a few settings and the planned calls), what a
//! runner learns about upstream stages from the stream, and the decision to reuse or run.
//! The stage runner (`stage.rs`) calls it at its barrier and when the stage ends.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use hookpipe::bytes;
use hookpipe::record::{Begin, Checkpoint, CheckpointAction, HookKind, State};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::stage::{Action, Call, Options};

/// The `format` and `version` every checkpoint file starts with.
pub const FORMAT: &str = "hookpipe-checkpoint";
pub const VERSION: u32 = 1;

/// The settings (environment variables, as `lib/stackrc` exports them from `localrc`) that
/// are part of every stage's fingerprint: changing one changes what the hooks do.
pub const SETTINGS: &[&str] = &[
    "TOP_DIR",
    "DEST",
    "ENABLED_SERVICES",
    "DISABLED_SERVICES",
    "DEVSTACK_PLUGINS",
    "VIRT_DRIVER",
];

/// The tools that run stages (and so write checkpoints); every other `begin` is a lister's.
const RUNNERS: &[&str] = &["hook-run", "hyp-call"];

/// What the command line asked for (`--checkpoint-dir`, `--resume`, `--from`, `--until`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckpointOptions {
    pub dir: PathBuf,
    pub resume: bool,
    pub from: Option<String>,
    pub until: Option<String>,
}

impl CheckpointOptions {
    /// Whether earlier checkpoints may be reused (`--from` implies it).
    pub fn resuming(&self) -> bool {
        self.resume || self.from.is_some()
    }
}

/// Whether `name` (as a user writes it: `stack/extra`, `stack extra`, `hypervisor/start`)
/// names the runner stage `stage`. A hyp-call stage of several actions
/// (`hypervisor/install+configure`) is named by each of its actions too.
pub fn stage_matches(stage: &str, name: &str) -> bool {
    let name = name.trim().replace(' ', "/");
    if stage == name {
        return true;
    }
    match (
        stage.strip_prefix("hypervisor/"),
        name.strip_prefix("hypervisor/"),
    ) {
        (Some(actions), Some(action)) => actions.split('+').any(|a| a == action),
        _ => false,
    }
}

/// What a runner learned about the stages upstream while forwarding their records.
#[derive(Debug, Default)]
pub struct Seen {
    /// The stages of upstream runners, nearest first: the order their `begin` records
    /// arrive in, since each runner writes its own `begin` before it forwards anything.
    pub runner_stages: Vec<String>,
    /// The `checkpoint` records of upstream runners.
    pub checkpoints: Vec<Checkpoint>,
    /// The first `begin` of a tool that is not a runner (the pipeline's head, a lister).
    pub head: Option<Begin>,
}

impl Seen {
    pub fn begin(&mut self, begin: &Begin) {
        if RUNNERS.contains(&begin.tool.as_str()) {
            if !self.runner_stages.contains(&begin.stage) {
                self.runner_stages.push(begin.stage.clone());
            }
        } else if self.head.is_none() {
            self.head = Some(begin.clone());
        }
    }

    pub fn checkpoint(&mut self, record: &Checkpoint) {
        self.checkpoints.push(record.clone());
    }

    /// Whether an upstream runner's stage is the one `name` names.
    pub fn passed(&self, name: &str) -> bool {
        self.runner_stages.iter().any(|s| stage_matches(s, name))
    }

    /// The upstream runner stages in pipeline order.
    fn upstream_stages(&self) -> impl Iterator<Item = &String> {
        self.runner_stages.iter().rev()
    }

    /// The checkpoint ids of the upstream stages, in pipeline order, when every one of them
    /// was reused; otherwise the first upstream stage that ran now.
    fn reused_chain(&self) -> Result<Vec<String>, String> {
        let mut chain = Vec::new();
        for stage in self.upstream_stages() {
            let reused = self
                .checkpoints
                .iter()
                .find(|c| &c.stage == stage && c.action == CheckpointAction::Reused)
                .and_then(|c| c.checkpoint.clone());
            match reused {
                Some(id) => chain.push(id),
                None => return Err(stage.clone()),
            }
        }
        Ok(chain)
    }

    /// The checkpoint ids of the upstream stages that have one (reused or saved), in
    /// pipeline order: what a checkpoint written now was made after.
    fn chain(&self) -> Vec<String> {
        self.upstream_stages()
            .filter_map(|stage| {
                self.checkpoints
                    .iter()
                    .rev()
                    .find(|c| &c.stage == stage && matches!(c.action.as_str(), "reused" | "saved"))
                    .and_then(|c| c.checkpoint.clone())
            })
            .collect()
    }

    /// The run this stage belongs to: `HOOKPIPE_RUN_ID` when set; otherwise the time and
    /// pid of the pipeline's head (the first lister's `begin`, which every runner of one
    /// pipeline sees), or of this runner when there is none.
    pub fn run_id(&self, own: &Begin) -> String {
        if let Some(id) = std::env::var("HOOKPIPE_RUN_ID")
            .ok()
            .filter(|id| !id.trim().is_empty())
        {
            return id;
        }
        let begin = self.head.as_ref().unwrap_or(own);
        let time: String = begin
            .time
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        format!("{time}-{}", begin.pid)
    }
}

/// One input of a stage's fingerprint: what it is, which one, and the SHA-256 of its
/// content (`absent` for a file that does not exist, `not-a-file` for anything else that
/// is not a readable regular file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub what: String,
    pub name: String,
    pub sha256: String,
}

/// Everything a stage depended on, hashed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fingerprint {
    pub inputs: Vec<Input>,
}

fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The SHA-256 of a file's content. A hook that is a symlink is followed, as DevStack
/// follows it: what it runs is the content.
fn file_sha256(path: &Path) -> String {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return "absent".into(),
        Err(_) => return "not-a-file".into(),
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return "not-a-file".into();
    }
    let mut hasher = Sha256::new();
    let mut reader = BufReader::new(file);
    match io::copy(&mut reader, &mut hasher) {
        Ok(_) => hex(&hasher.finalize()),
        Err(_) => "not-a-file".into(),
    }
}

fn bytes_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl Fingerprint {
    /// The fingerprint of a stage about to make `calls`: the prelude files, every file a
    /// call sources (hooks, plugin files, the hypervisor plugin), `local.conf` and
    /// `localrc` of `$TOP_DIR`, the [`SETTINGS`], and the plan itself (each call's id,
    /// kind, arguments, file, function, guard and planned skip, and the errexit and
    /// keep-going modes), so a hook added, removed or reordered counts as a change.
    pub fn of_stage(options: &Options, calls: &[Call]) -> Fingerprint {
        let mut inputs: Vec<Input> = Vec::new();
        let mut add = |what: &str, name: String, sha256: String| {
            if !inputs.iter().any(|i| i.what == what && i.name == name) {
                inputs.push(Input {
                    what: what.to_owned(),
                    name,
                    sha256,
                });
            }
        };
        for prelude in &options.prelude {
            add(
                "prelude",
                display(prelude.as_os_str().as_bytes()),
                file_sha256(prelude),
            );
        }
        let mut plan = Vec::new();
        for call in calls {
            let path = match &call.action {
                Action::Source { path, .. } => Some(path),
                Action::Function { path, .. } => path.as_ref(),
            };
            if let Some(path) = path.filter(|_| call.skip.is_none()) {
                let what = if call.kind == HookKind::Extras {
                    "hook"
                } else {
                    call.kind.as_str()
                };
                add(
                    what,
                    display(path),
                    file_sha256(Path::new(std::ffi::OsStr::from_bytes(path))),
                );
            }
            let function = match &call.action {
                Action::Function { function, .. } => function.as_str(),
                Action::Source { .. } => "",
            };
            let args = match &call.action {
                Action::Source { args, .. } | Action::Function { args, .. } => args.join("\u{1f}"),
            };
            let line = format!(
                "{}\0{}\0{}\0{}\0{}\0{}\0{}\n",
                call.id,
                call.kind,
                args,
                call.file.as_deref().unwrap_or(""),
                function,
                call.when_enabled.as_deref().unwrap_or(""),
                call.skip.as_ref().map_or("", |(reason, _)| reason.as_str()),
            );
            plan.extend_from_slice(line.as_bytes());
        }
        plan.extend_from_slice(
            format!(
                "errexit={} keep_going={}\n",
                options.errexit, options.keep_going
            )
            .as_bytes(),
        );
        if let Some(top) = std::env::var_os("TOP_DIR").filter(|v| !v.is_empty()) {
            for name in ["local.conf", "localrc"] {
                let path = PathBuf::from(&top).join(name);
                add(
                    "config",
                    display(path.as_os_str().as_bytes()),
                    file_sha256(&path),
                );
            }
        }
        for name in SETTINGS {
            let value = std::env::var_os(name).map(|v| v.as_bytes().to_vec());
            let sha256 = match value {
                Some(value) => bytes_sha256(&value),
                None => "absent".into(),
            };
            add("setting", (*name).to_owned(), sha256);
        }
        add("plan", options.stage.clone(), bytes_sha256(&plan));
        Fingerprint { inputs }
    }

    /// `sha256:` and the hash of every input's kind, name and hash, one per line.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for input in &self.inputs {
            hasher.update(input.what.as_bytes());
            hasher.update([0]);
            hasher.update(input.name.as_bytes());
            hasher.update([0]);
            hasher.update(input.sha256.as_bytes());
            hasher.update(b"\n");
        }
        format!("sha256:{}", hex(&hasher.finalize()))
    }

    /// Why `self` (now) differs from `before` (a checkpoint's), naming the first input that
    /// changed, appeared or went; `None` when they are the same.
    pub fn why_changed(&self, before: &[Input]) -> Option<String> {
        for input in &self.inputs {
            let label = match input.what.as_str() {
                "setting" => format!("setting {}", input.name),
                "plan" => "the stage's calls (a hook added, removed, reordered or guarded differently) or its errexit/keep-going mode".to_owned(),
                _ => input.name.clone(),
            };
            match before
                .iter()
                .find(|b| b.what == input.what && b.name == input.name)
            {
                None if input.what == "setting" || input.what == "plan" => {
                    return Some(format!("{label} changed"))
                }
                None => return Some(format!("{label} is new since the checkpoint")),
                Some(old) if old.sha256 != input.sha256 => {
                    return Some(match (old.sha256.as_str(), input.sha256.as_str()) {
                        ("absent", _) => format!("{label} appeared"),
                        (_, "absent") => format!("{label} was removed"),
                        _ => format!("{label} changed"),
                    })
                }
                Some(_) => {}
            }
        }
        before
            .iter()
            .find(|b| {
                !self
                    .inputs
                    .iter()
                    .any(|i| i.what == b.what && i.name == b.name)
            })
            .map(|gone| format!("{} is no longer called", gone.name))
    }
}

fn display(bytes: &[u8]) -> String {
    bytes::escaped(bytes)
}

/// The records file a checkpoint refers to, and how to check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsFile {
    pub file: String,
    pub sha256: String,
    pub lines: u64,
}

/// How one call of the stage ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallOutcome {
    pub id: String,
    pub status: String,
}

/// One `<stage>.checkpoint.json` file (`docs/checkpoints.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub format: String,
    pub version: u32,
    pub id: String,
    pub run: String,
    pub tool: String,
    pub stage: String,
    pub started: String,
    pub finished: String,
    pub fingerprint: String,
    pub inputs: Vec<Input>,
    pub upstream: Vec<String>,
    pub calls: Vec<CallOutcome>,
    pub records: RecordsFile,
    pub state: Option<State>,
}

/// A stage's file name: its id with every byte but letters, digits, `-`, `_` and `+`
/// written as `.` (`stack/install` is `stack.install`); the stage inside the file is
/// checked on reading, so two stages that map to one name never mix.
pub fn file_stem(stage: &str) -> String {
    stage
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+') {
                c
            } else {
                '.'
            }
        })
        .collect()
}

/// Opens a file for reading without following a symlink in its place (a planted link is
/// an error, never the file it points to).
fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// The run directory: created private (0700) when missing; a symlink or a non-directory in
/// its place is refused.
pub fn prepare_dir(dir: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::other(format!(
            "{} is not a directory",
            display(dir.as_os_str().as_bytes())
        ))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)
        }
        Err(err) => Err(err),
    }
}

/// Why a checkpoint cannot be used, or the checkpoint.
pub enum Found {
    Missing,
    Unusable(String),
    Usable(Box<Stored>),
}

/// Reads and checks the checkpoint of `stage` in `dir`: the file parses, is this format and
/// version, names this stage, and its records file is there with the hash it recorded.
pub fn load(dir: &Path, stage: &str) -> Found {
    let path = dir.join(format!("{}.checkpoint.json", file_stem(stage)));
    let shown = display(path.as_os_str().as_bytes());
    let mut text = Vec::new();
    match open_no_follow(&path).and_then(|mut file| file.read_to_end(&mut text)) {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Found::Missing,
        Err(err) => return Found::Unusable(format!("cannot read {shown}: {err}")),
    }
    let stored: Stored = match serde_json::from_slice(&text) {
        Ok(stored) => stored,
        Err(err) => return Found::Unusable(format!("{shown} is corrupt: {err}")),
    };
    if stored.format != FORMAT || stored.version != VERSION {
        return Found::Unusable(format!("{shown} is not a version {VERSION} {FORMAT} file"));
    }
    if stored.stage != stage {
        return Found::Unusable(format!(
            "{shown} is the checkpoint of stage {}",
            stored.stage
        ));
    }
    if stored.records.file.contains('/') {
        return Found::Unusable(format!(
            "{shown} names a records file outside its directory"
        ));
    }
    let records = dir.join(&stored.records.file);
    let mut hasher = Sha256::new();
    let checked =
        open_no_follow(&records).and_then(|file| io::copy(&mut BufReader::new(file), &mut hasher));
    match checked {
        Ok(_) if hex(&hasher.finalize()) == stored.records.sha256 => {}
        Ok(_) => {
            return Found::Unusable(format!(
                "{} does not have the content its checkpoint recorded",
                display(records.as_os_str().as_bytes())
            ))
        }
        Err(err) => {
            return Found::Unusable(format!(
                "cannot read {}: {err}",
                display(records.as_os_str().as_bytes())
            ))
        }
    }
    Found::Usable(Box::new(stored))
}

/// Removes a stage's checkpoint (a stage that runs again makes a new one or none).
pub fn forget(dir: &Path, stage: &str) {
    let _ = fs::remove_file(dir.join(format!("{}.checkpoint.json", file_stem(stage))));
}

/// Writes `bytes` to `name` in `dir`: a new private file of a random name, synced, renamed
/// over the target, so a reader sees the old file or the new one and a planted symlink is
/// replaced, never followed.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut file = tempfile::Builder::new()
        .prefix(".hookpipe-checkpoint-")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(dir.join(name)).map_err(|err| err.error)?;
    Ok(())
}

/// The decision at a stage's barrier.
pub enum Decision {
    /// Replay this checkpoint instead of running.
    Reuse(Box<Stored>),
    /// Run now; the reason is for the `checkpoint` record (resuming was asked), and a
    /// warning when the checkpoint could not be read.
    Run {
        reason: String,
        warning: Option<String>,
    },
}

/// Decides whether the stage is reused: resuming was asked, `--from` names no stage at or
/// before this one, every upstream runner was reused, and this stage's checkpoint is usable,
/// made after those very upstream checkpoints, with the fingerprint the stage has now.
pub fn decide(
    checkpoints: &CheckpointOptions,
    stage: &str,
    seen: &Seen,
    now: &Fingerprint,
) -> Decision {
    let run = |reason: String| Decision::Run {
        reason,
        warning: None,
    };
    if let Some(from) = &checkpoints.from {
        if stage_matches(stage, from) || seen.passed(from) {
            return run(format!("--from {from}"));
        }
    }
    let chain = match seen.reused_chain() {
        Ok(chain) => chain,
        Err(ran) => return run(format!("upstream stage {ran} ran now")),
    };
    let stored = match load(&checkpoints.dir, stage) {
        Found::Missing => {
            return run(format!(
                "no checkpoint in {}",
                display(checkpoints.dir.as_os_str().as_bytes())
            ))
        }
        Found::Unusable(why) => {
            return Decision::Run {
                reason: format!("unusable checkpoint: {why}"),
                warning: Some(format!(
                    "checkpoint of {stage} not used, the stage runs: {why}"
                )),
            }
        }
        Found::Usable(stored) => stored,
    };
    if stored.upstream != chain {
        return run(
            "its checkpoint was made after other upstream checkpoints (an upstream stage ran since)"
                .into(),
        );
    }
    if stored.fingerprint != now.digest() {
        let why = now
            .why_changed(&stored.inputs)
            .unwrap_or_else(|| "its fingerprint changed".into());
        return run(why);
    }
    Decision::Reuse(stored)
}

/// A copy of what a stage writes, taken while the stage runs its calls: the bytes go to a
/// private temporary file in the run directory and into a hash.
pub struct Capture {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
    lines: u64,
    failed: Option<io::Error>,
}

impl Capture {
    pub fn start(dir: &Path) -> io::Result<Capture> {
        let file = tempfile::Builder::new()
            .prefix(".hookpipe-records-")
            .tempfile_in(dir)?;
        Ok(Capture {
            file,
            hasher: Sha256::new(),
            lines: 0,
            failed: None,
        })
    }

    fn copy(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.hasher.update(bytes);
        self.lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Err(err) = self.file.write_all(bytes) {
            self.failed = Some(err);
        }
    }
}

/// The runner's output: every byte goes to the next stage, and while a [`Capture`] is on,
/// into it too.
pub struct Tee<W: Write> {
    inner: W,
    pub capture: Option<Capture>,
}

impl<W: Write> Tee<W> {
    pub fn new(inner: W) -> Tee<W> {
        Tee {
            inner,
            capture: None,
        }
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        if let Some(capture) = self.capture.as_mut() {
            capture.copy(&buf[..written]);
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What a completed stage saves.
pub struct Completed<'a> {
    pub run: String,
    pub tool: &'a str,
    pub stage: &'a str,
    pub started: String,
    pub finished: String,
    pub fingerprint: &'a Fingerprint,
    pub upstream: Vec<String>,
    pub calls: Vec<CallOutcome>,
    pub state: Option<State>,
}

/// Saves a completed stage: its captured records under `<stage>.records.ndjson`, then
/// `<stage>.checkpoint.json` (whose presence makes the checkpoint). Returns its id.
pub fn save(dir: &Path, capture: Capture, done: Completed<'_>) -> io::Result<String> {
    let Capture {
        file,
        hasher,
        lines,
        failed,
    } = capture;
    if let Some(err) = failed {
        return Err(err);
    }
    file.as_file().sync_all()?;
    let stem = file_stem(done.stage);
    let records_name = format!("{stem}.records.ndjson");
    let records_sha256 = hex(&hasher.finalize());
    file.persist(dir.join(&records_name))
        .map_err(|err| err.error)?;
    let digest = done.fingerprint.digest();
    let id = {
        let seed = format!(
            "{}\0{}\0{}\0{}",
            done.run, done.stage, done.finished, digest
        );
        format!(
            "{}:{}",
            file_stem(done.stage),
            &bytes_sha256(seed.as_bytes())[..16]
        )
    };
    let stored = Stored {
        format: FORMAT.into(),
        version: VERSION,
        id: id.clone(),
        run: done.run,
        tool: done.tool.to_owned(),
        stage: done.stage.to_owned(),
        started: done.started,
        finished: done.finished,
        fingerprint: digest,
        inputs: done.fingerprint.inputs.clone(),
        upstream: done.upstream,
        calls: done.calls,
        records: RecordsFile {
            file: records_name,
            sha256: records_sha256,
            lines,
        },
        state: done.state,
    };
    let mut json = serde_json::to_vec_pretty(&stored).map_err(io::Error::other)?;
    json.push(b'\n');
    write_atomically(dir, &format!("{stem}.checkpoint.json"), &json)?;
    Ok(id)
}

/// The upstream chain a checkpoint written now records.
pub fn upstream_chain(seen: &Seen) -> Vec<String> {
    seen.chain()
}

/// Calls `each` with every line of a checkpoint's records file, marked `reused` with the
/// run it came from: `,"reused":"RUN"` goes before the closing brace, or before a `host`
/// field our writers put last, so `host` stays last (record contract, "Hosts").
pub fn replay(
    dir: &Path,
    stored: &Stored,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let file = open_no_follow(&dir.join(&stored.records.file))?;
    let mut reader = BufReader::new(file);
    let mut field = b",\"reused\":".to_vec();
    serde_json::to_writer(&mut field, &stored.run).map_err(io::Error::other)?;
    let mut line = Vec::new();
    let mut marked = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        if body.is_empty() {
            continue;
        }
        marked.clear();
        mark_reused(body, &field, &mut marked);
        each(&marked)?;
    }
}

fn mark_reused(body: &[u8], field: &[u8], out: &mut Vec<u8>) {
    use bstr::ByteSlice;
    let Some(open) = body.strip_suffix(b"}") else {
        out.extend_from_slice(body);
        return;
    };
    let at = match hookpipe::record::host_of(body) {
        // Our writers' layout: the host is the last field, found by its key.
        Some(_) => body
            .rfind(b",\"host\":")
            .filter(|&at| body[at..].ends_with(b"\"}"))
            .unwrap_or(open.len()),
        None => open.len(),
    };
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(field);
    out.extend_from_slice(&body[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_stage_names_match_runner_stages() {
        assert!(stage_matches("stack/extra", "stack/extra"));
        assert!(stage_matches("stack/extra", "stack extra"));
        assert!(stage_matches(
            "hypervisor/install+configure",
            "hypervisor/configure"
        ));
        assert!(!stage_matches(
            "hypervisor/install+configure",
            "stack/install"
        ));
        assert!(!stage_matches("stack/extra", "stack/test-config"));
    }

    #[test]
    fn reused_records_keep_their_host_last() {
        let field = b",\"reused\":\"r1\"";
        let mut out = Vec::new();
        mark_reused(
            br#"{"type":"end","id":"a","time":"t","host":"ctl"}"#,
            field,
            &mut out,
        );
        assert_eq!(
            out,
            br#"{"type":"end","id":"a","time":"t","reused":"r1","host":"ctl"}"#.to_vec()
        );
        out.clear();
        mark_reused(br#"{"type":"end","id":"a","time":"t"}"#, field, &mut out);
        assert_eq!(
            out,
            br#"{"type":"end","id":"a","time":"t","reused":"r1"}"#.to_vec()
        );
    }

    #[test]
    fn file_stems_are_one_path_component() {
        assert_eq!(file_stem("stack/install"), "stack.install");
        assert_eq!(
            file_stem("hypervisor/install+configure"),
            "hypervisor.install+configure"
        );
        assert_eq!(file_stem("../x"), "...x");
    }

    fn input(what: &str, name: &str, sha: &str) -> Input {
        Input {
            what: what.into(),
            name: name.into(),
            sha256: sha.into(),
        }
    }

    #[test]
    fn a_change_names_the_input() {
        let before = vec![
            input("hook", "extras.d/50-a.sh", "1"),
            input("setting", "DEST", "2"),
        ];
        let same = Fingerprint {
            inputs: before.clone(),
        };
        assert_eq!(same.why_changed(&before), None);
        let edited = Fingerprint {
            inputs: vec![
                input("hook", "extras.d/50-a.sh", "9"),
                input("setting", "DEST", "2"),
            ],
        };
        assert_eq!(
            edited.why_changed(&before).as_deref(),
            Some("extras.d/50-a.sh changed")
        );
        assert_ne!(edited.digest(), same.digest());
        let setting = Fingerprint {
            inputs: vec![
                input("hook", "extras.d/50-a.sh", "1"),
                input("setting", "DEST", "3"),
            ],
        };
        assert_eq!(
            setting.why_changed(&before).as_deref(),
            Some("setting DEST changed")
        );
        let added = Fingerprint {
            inputs: vec![
                input("hook", "extras.d/50-a.sh", "1"),
                input("hook", "extras.d/60-b.sh", "4"),
                input("setting", "DEST", "2"),
            ],
        };
        assert_eq!(
            added.why_changed(&before).as_deref(),
            Some("extras.d/60-b.sh is new since the checkpoint")
        );
        let gone = Fingerprint {
            inputs: vec![input("setting", "DEST", "2")],
        };
        assert_eq!(
            gone.why_changed(&before).as_deref(),
            Some("extras.d/50-a.sh is no longer called")
        );
    }

    #[test]
    fn saved_checkpoints_load_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let run_dir = dir.path().join("run");
        prepare_dir(&run_dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&run_dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let mut capture = Capture::start(&run_dir).unwrap();
        capture.copy(b"{\"type\":\"end\",\"id\":\"s/a\"}\n");
        let fingerprint = Fingerprint {
            inputs: vec![input("hook", "a", "1")],
        };
        let id = save(
            &run_dir,
            capture,
            Completed {
                run: "r1".into(),
                tool: "hook-run",
                stage: "stack/install",
                started: "t0".into(),
                finished: "t1".into(),
                fingerprint: &fingerprint,
                upstream: vec!["u".into()],
                calls: Vec::new(),
                state: None,
            },
        )
        .unwrap();
        let file = run_dir.join("stack.install.checkpoint.json");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let Found::Usable(stored) = load(&run_dir, "stack/install") else {
            panic!("not usable")
        };
        assert_eq!(stored.id, id);
        let mut lines = Vec::new();
        replay(&run_dir, &stored, |line| {
            lines.push(line.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            lines,
            vec![br#"{"type":"end","id":"s/a","reused":"r1"}"#.to_vec()]
        );
        assert!(matches!(load(&run_dir, "stack/extra"), Found::Missing));

        // A records file changed behind the checkpoint's back.
        fs::write(run_dir.join("stack.install.records.ndjson"), b"{}\n").unwrap();
        match load(&run_dir, "stack/install") {
            Found::Unusable(why) => assert!(why.contains("does not have the content"), "{why}"),
            _ => panic!("a damaged records file was accepted"),
        }
        // A corrupt checkpoint file.
        fs::write(&file, b"{\"format\": \"hookpipe-checkpoint\", ").unwrap();
        match load(&run_dir, "stack/install") {
            Found::Unusable(why) => assert!(why.contains("is corrupt"), "{why}"),
            _ => panic!("a corrupt checkpoint was accepted"),
        }
        // A symlink planted in its place is not followed.
        fs::remove_file(&file).unwrap();
        let elsewhere = dir.path().join("elsewhere.json");
        fs::write(&elsewhere, b"{}").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        match load(&run_dir, "stack/install") {
            Found::Unusable(why) => assert!(why.contains("cannot read"), "{why}"),
            _ => panic!("a planted symlink was followed"),
        }
    }
}
