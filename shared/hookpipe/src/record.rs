//! The record contract: the wire format every hookpipe tool reads and writes.
//!
//! This module's documentation is the specification; README links here, and the contract
//! tests in `shared/hookpipe/tests/contract.rs` decode golden files against a strict copy of it.
//!
//! # Framing
//!
//! A stream is newline-delimited JSON (NDJSON): one JSON object per line, UTF-8, no blank
//! lines written (a reader skips blank lines). Every object is flat (no nested objects; a
//! few fields are arrays of strings) and has a `"type"` field, written first, naming one of
//! the types below. So `jq 'select(.type=="end")'` is all a shell user needs.
//!
//! Readers are tolerant: unknown fields are ignored and unknown types are forwarded
//! unchanged. Writers are strict: they emit only the types and fields documented here.
//!
//! # Text or bytes
//!
//! Bytes from the outside world (hook output, file names, shell state) are not always
//! UTF-8. A field `F` holding such bytes is written as `F` (a JSON string) when the bytes are
//! valid UTF-8, and otherwise as `F_base64` (standard base64 with padding) carrying the exact
//! bytes. Exactly one of the two is present. Nothing is ever replaced by U+FFFD. In `jq`:
//! `.text // (.text_base64 | @base64d)` (the latter is lossy in jq itself, not on the wire).
//! Fields following this rule: `text`, `path`, `name`, `dir`, `script`.
//!
//! Where a record needs an identifier built from such bytes (`id`), invalid bytes are
//! written as `\xNN` escapes, so ids stay strings; the exact bytes are in the `name` field
//! of the matching records.
//!
//! # Times and ids
//!
//! `time` is RFC 3339 UTC with milliseconds (`2026-11-24T22:29:14.123Z`): when the event
//! happened (for `output`, when the runner read the line). Durations are whole milliseconds
//! (`duration_ms`, `ms`). `id` names one hook call and is unique in a pipeline:
//! `<stage>/<hook>`, for example `stack/install/50-template.sh`, `override_defaults/plugin:foo`
//! or `stack/install/hypervisor:fake`. A `stage` is `MODE` or `MODE/PHASE`. Calls that a
//! runner makes with `source` before its own mode, because it saw no state (docs/architecture.md,
//! "Shell state"), have the id `<stage>/<hook>#source`.
//!
//! # Hosts
//!
//! Every record may end with a `host` field: the machine that produced it, so the streams
//! of a multi-node run can be merged (`phase-log --merge`) and still say who did what. A
//! tool writes it when `HOOKPIPE_HOST` is set and not empty (the Ansible playbook sets it
//! to `inventory_hostname`), on every record it writes, as the last field
//! (`...,"time":"...","host":"subnode1"}`), so `"type"` stays first and the fast paths of
//! readers stay fast. Records a tool forwards keep the `host` they came with. A value that
//! is not UTF-8 is written with its invalid bytes as `\xNN`, as ids are. Absent means the
//! stream does not say (a single-host run); readers that merge give such records the host
//! of their file. In `jq`: `select(.host=="subnode1")`.
//!
//! # Checkpoints
//!
//! A runner given a run directory (`--checkpoint-dir DIR`) keeps each completed stage's
//! records and state there, with a SHA-256 fingerprint of what the stage depended on, and
//! with `--resume` replays them instead of running the stage again. The files (one
//! `<stage>.checkpoint.json` and one `<stage>.records.ndjson` per stage), the fingerprint
//! and the rules of reuse are specified in `docs/checkpoints.md`; on the wire, see the
//! `checkpoint` type and the `reused` field below.
//!
//! # Types
//!
//! | type | written by | meaning |
//! |---|---|---|
//! | `begin` | every tool but phase-log | a tool started: `tool`, `stage`, `pid`, `version`, `time` |
//! | `done` | every tool but phase-log | a tool ended: `tool`, `stage`, `status` (its exit status), `time`, and `message` when it failed |
//! | `hook` | hook-list | a hook to dispatch, in dispatch order (see [`Hook`]) |
//! | `skip` | all | an entry or call that will not run, with `reason` and `message` (see [`Skip`]) |
//! | `hypervisor` | hyp-resolve | a hypervisor plugin and which functions it defines (see [`Hypervisor`]) |
//! | `start` | hook-run, hyp-call | a hook call began (see [`Start`]) |
//! | `output` | hook-run, hyp-call | one line of a call's stdout or stderr (see [`Output`]) |
//! | `summary` | hook-run, hyp-call | an `echo_summary` line: `id`, `text`, `time` |
//! | `warning` | all | a warning: from a hook's `warn` (with `id`) or from a tool (without) |
//! | `trace` | hook-run, hyp-call | one `--xtrace` line: `id`, `text`, `time` |
//! | `timer` | hook-run, hyp-call | a `time_start`/`time_stop` pair closed: `id`, `name`, `ms`, `time` |
//! | `end` | hook-run, hyp-call | a hook call ended (see [`End`]) |
//! | `state` | hook-run, hyp-call | the bash state for the next stage (see [`State`]) |
//! | `job` | hook-run, hyp-call | a DevStack async job started, was awaited, was stopped or was never awaited (see [`Job`]) |
//! | `checkpoint` | hook-run, hyp-call | with a run directory: a stage reused from a checkpoint, run now (and why), or saved (see [`Checkpoint`]) |
//!
//! Records a runner replays from a checkpoint (`--resume`, see "Checkpoints") carry one more
//! field, `reused`: the id of the run that produced them; their `time` and `duration_ms` are
//! the original ones. In `jq`: `select(.reused)`.
//!
//! A `begin` without its `done` means the tool died without a word; a `done` with `status` of 2
//! or more, or an `end` whose `status` is not `ok`, is an upstream failure
//! (docs/architecture.md rule 3).
//!
//! # Example
//!
//! ```text
//! $ hook-list extras.d | hook-run stack install | jq -c 'select(.type!="state")'
//! {"type":"begin","tool":"hook-list","stage":"list","pid":4242,"version":"0.1.0","time":"2026-11-24T22:29:14.101Z"}
//! {"type":"done","tool":"hook-list","stage":"list","status":0,"time":"2026-11-24T22:29:14.102Z"}
//! {"type":"begin","tool":"hook-run","stage":"stack/install","pid":4243,"version":"0.1.0","time":"2026-11-24T22:29:14.100Z"}
//! {"type":"start","id":"stack/install/50-template.sh","stage":"stack/install","name":"50-template.sh","path":"extras.d/50-template.sh","kind":"extras","args":["stack","install"],"time":"2026-11-24T22:29:14.120Z"}
//! {"type":"summary","id":"stack/install/50-template.sh","text":"Installing template","time":"2026-11-24T22:29:14.121Z"}
//! {"type":"output","id":"stack/install/50-template.sh","stream":"stdout","text":"laid out 3 files","time":"2026-11-24T22:29:14.125Z"}
//! {"type":"end","id":"stack/install/50-template.sh","stage":"stack/install","status":"ok","exit_code":0,"duration_ms":6,"time":"2026-11-24T22:29:14.126Z"}
//! {"type":"hook","name":"50-template.sh","path":"extras.d/50-template.sh","kind":"extras","seq":"50","dir":"extras.d","services":["template"]}
//! {"type":"done","tool":"hook-run","stage":"stack/install","status":0,"time":"2026-11-24T22:29:14.130Z"}
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The environment variable naming the host every record is stamped with.
pub const HOST_VAR: &str = "HOOKPIPE_HOST";

/// The host named by `HOOKPIPE_HOST`: `None` when unset or empty; bytes that are not
/// UTF-8 become `\xNN` (see "Hosts").
pub fn host_from_env() -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let value = std::env::var_os(HOST_VAR)?;
    (!value.is_empty()).then(|| crate::bytes::escaped(value.as_bytes()))
}

/// `,"host":"NAME"`: what a writer puts before a record's closing brace.
pub fn host_field(host: &str) -> Vec<u8> {
    let mut field = b",\"host\":".to_vec();
    // Serialising a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut field, host);
    field
}

/// The `host` of a record line, if it has one. Our writers put it last, where it is found
/// without parsing the line (`,"` cannot occur inside a JSON string, whose quotes are
/// escaped, so the match is the field); any other layout takes a full parse.
pub fn host_of(line: &[u8]) -> Option<Cow<'_, str>> {
    use bstr::ByteSlice;
    // Our layout, read from the end without a search: `,"host":"VALUE"}`, VALUE free of
    // escapes (the last quote before the closing one opens it).
    if let Some(body) = line.strip_suffix(b"\"}") {
        if let Some(open) = body.rfind_byte(b'"') {
            if body[..open].ends_with(b",\"host\":") {
                let value = &body[open + 1..];
                if !value.iter().any(|&b| b == b'\\' || b < 0x20) {
                    if let Ok(host) = std::str::from_utf8(value) {
                        return Some(Cow::Borrowed(host));
                    }
                }
            }
        }
    }
    // Any other layout: a full parse, only when the word is there at all (one shared
    // searcher: building one per line cost more than the search).
    static HOST_KEY: std::sync::LazyLock<bstr::Finder<'static>> =
        std::sync::LazyLock::new(|| bstr::Finder::new(b"\"host\""));
    HOST_KEY.find(line)?;
    #[derive(Deserialize)]
    struct HostOnly {
        host: Option<String>,
    }
    serde_json::from_slice::<HostOnly>(line)
        .ok()?
        .host
        .map(Cow::Owned)
}

/// The `type` values this version writes, in the order of the table above.
pub const TYPES: &[&str] = &[
    "begin",
    "done",
    "hook",
    "skip",
    "hypervisor",
    "start",
    "output",
    "summary",
    "warning",
    "trace",
    "timer",
    "end",
    "state",
    "checkpoint",
    "job",
];

/// `begin`: a tool started. `stage` is the tool's role in the pipeline (`list`,
/// `stack/install`, `hypervisor`...), so two runners of one pipeline are told apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Begin {
    pub tool: String,
    pub stage: String,
    pub pid: u32,
    pub version: String,
    pub time: String,
}

/// `done`: a tool ended; `status` is the exit status it is about to return (README, "Exit
/// status"). The last record a tool writes. `message` says why a tool failed (status 2: a
/// usage error, bad input, a prelude that is missing, bash that would not start), the
/// same line the tool prints on stderr; absent otherwise. A tool that cannot start still
/// writes `begin` and this `done`, so the end of the pipeline knows why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub tool: String,
    pub stage: String,
    pub status: i32,
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
}

/// `hook`: one hook to dispatch, written by `hook-list` in dispatch order.
///
/// - `kind`: `extras` (an `extras.d/NN-name.sh` file) or `plugin` (a DevStack plugin
///   directory; then `path` is the plugin directory, `name` is `plugin:<name>` and `files`
///   lists which of `settings`, `override-defaults`, `plugin.sh` exist under `devstack/`).
/// - `seq`: the two-digit sequence prefix of an extras file; absent for plugins.
/// - `dir`: the directory the hook was found in (`path` is `dir/name` for extras).
/// - `services`: the services named by the file's `is_service_enabled` guard when it has the
///   usual dispatch shape; absent when no guard was recognised (the hook always runs).
/// - `enabled`: whether the guard is satisfied by `ENABLED_SERVICES`: `true`, `false`, or
///   absent when unknown (no guard, or a service whose answer only a shell can give). It is
///   advisory: the hook's own guard decides at run time.
/// - `warning`: set when the hook runs but something about it deserves a look (a sequence
///   number reserved for the framework, a plugin without `plugin.sh`, a file or directory
///   on its path that others could change).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Hook {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_base64: Option<String>,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dir_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub services: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub files: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warning: Option<String>,
}

/// `skip`: something that will not run, and why.
///
/// `reason` is a stable code a consumer can filter on; `message` is for people. Listing
/// reasons: `not-a-hook` (plainly not a hook, e.g. `README.md`: hidden by phase-log),
/// `bad-prefix`, `no-sh-suffix`, `dotfile`, `unreadable`, `broken-link`, `directory`,
/// `not-regular`, `overridden` (a same-named hook in an earlier directory wins),
/// `disabled` (with `--enabled-only`), `untrusted` (with `--strict`: others could change
/// the hook), `missing-plugin-dir`, `no-driver`. Run reasons:
/// `upstream-failed`, `stopped` (an earlier hook of this stage failed), `interrupted`,
/// `disabled`. Either `path`/`name` (an entry) or `id` (a call) says what was skipped.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Skip {
    pub reason: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time: Option<String>,
}

/// `hypervisor`: a `lib/nova_plugins/hypervisor-<driver>` file and its coverage of the five
/// required functions. `missing` lists the required functions it does not define;
/// `functions` every function the file itself defines, in file order; `sourced` the
/// functions it only gets from files it sources (`source`/`.` lines naming a file found
/// beside it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Hypervisor {
    pub driver: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_base64: Option<String>,
    pub missing: Vec<String>,
    pub functions: Vec<String>,
    #[serde(default)]
    pub sourced: Vec<String>,
}

/// `start`: a hook call began. `args` are the positional parameters the hook sees (`$1`,
/// `$2`; `$#` is their count). `kind` is `extras`, `plugin` or `hypervisor`; `file` is what
/// was sourced (`plugin.sh`, `settings`, `override-defaults`) for plugins, `function` the
/// function called for hypervisor actions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Start {
    pub id: String,
    pub stage: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_base64: Option<String>,
    pub kind: String,
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub function: Option<String>,
    pub time: String,
}

/// `output`: one line a hook wrote, without its `\n` (a `\r` stays in the text).
///
/// `stream` is `stdout` or `stderr`. `partial` is `true` when the text does not end a line:
/// a line longer than 64 KiB is cut into several records, all but the last marked partial;
/// an unfinished line (a prompt written with `echo -n`) is sent partial after 50 ms without
/// new bytes, or when its hook ends. Absent means `false`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Output {
    pub id: String,
    pub stream: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text_base64: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub partial: bool,
    pub time: String,
}

/// `summary`, `warning` and `trace`: one line of text. `id` is absent on warnings a tool
/// writes about itself rather than about a hook call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Line {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text_base64: Option<String>,
    pub time: String,
}

/// `timer`: a hook's `time_start NAME` / `time_stop NAME` pair, `ms` milliseconds apart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Timer {
    pub id: String,
    pub name: String,
    pub ms: u64,
    pub time: String,
}

/// `end`: a hook call ended.
///
/// `status`: `ok` (returned 0), `failed` (returned non-zero, or a failing command ended it
/// under errexit, or it called `exit N` with N > 0), `timeout` (stopped after `--timeout`),
/// `killed` (ended by a signal nobody in the run sent), `interrupted` (stopped because the
/// runner got SIGINT or SIGTERM). `exit_code` is present when the call ended with a status;
/// `signal` (a number) when it ended by a signal. `exited` is `true` when the hook ended the
/// whole worker shell (`exit N`, errexit), so later hooks ran in a new one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct End {
    pub id: String,
    pub stage: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub signal: Option<i32>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub exited: bool,
    pub duration_ms: u64,
    pub time: String,
}

/// `state`: bash code that recreates the shell state (variables and functions) a stage
/// ended with. Only runners read it; each consumes the states it reads and writes one
/// replacement just before its `done`. `generation` increases with each replacement, so a
/// reader that sees several (or also loads `--state FILE`) keeps the highest and a stale
/// state never wins. `base` names what `script` is relative to: `full` (the whole state)
/// or `prelude` (only what differs from a worker that has sourced the same prelude files,
/// listed in `prelude`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    pub stage: String,
    pub generation: u64,
    pub base: String,
    #[serde(default)]
    pub prelude: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub script_base64: Option<String>,
    pub time: String,
}

/// `checkpoint`: what a runner given a run directory (`--checkpoint-dir`) did about its
/// stage's checkpoint (`docs/checkpoints.md` specifies the files and the rules). `action`:
///
/// - `reused`: the stage did not run; its records follow, replayed from the checkpoint and
///   marked `reused`, then its state. `run` is the run they come from, `started` and
///   `finished` the stage's original times, `checkpoint` the checkpoint's id.
/// - `run`: resuming was asked for (`--resume`, `--from`) but the stage runs now; `reason`
///   says why (`no checkpoint`, `extras.d/50-template.sh changed`, `upstream stage
///   stack/install ran now`, `--from stack/extra`, an unreadable checkpoint). `run` is the
///   current run.
/// - `saved`: the stage ran now, completed, and its checkpoint `checkpoint` was written;
///   `started` and `finished` are its times.
///
/// A later runner reuses its own checkpoint only when every runner upstream wrote `reused`,
/// with the very checkpoints its own was made after.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tool: String,
    pub stage: String,
    pub action: String,
    pub run: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checkpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finished: Option<String>,
    pub time: String,
}

/// `job`: an event of one of DevStack's asynchronous jobs (`async_run`, `async_runfunc`;
/// `lib/async`, docs/async.md). A job outlives the stage that starts it, so each event is
/// its own record, attributed (`id`) to the call it happened in; `id` is absent when the
/// event did not happen in a hook (a runner stopping the job).
///
/// - `event`: `start` (the job began: `pid`, `command`, `started`), `wait` (`async_wait`
///   collected it: `status`, `exit_code`, `started`, `ended`, `duration_ms`), `stop` (the
///   run failed, timed out or was interrupted while the job ran, and a runner stopped its
///   whole process group: `reason`, `status` `stopped`), `unwaited` (`async_cleanup` found
///   it never awaited at the end of the run), `unknown` (`async_wait` of a name no job had:
///   `status` `failed`).
/// - `name`/`name_base64`: the job's name (`$DEST/async/NAME.ini`).
/// - `pid`: the job's process (also its process group); absent when it ran inline
///   (`DEVSTACK_PARALLEL=False`, DevStack's pid `self`).
/// - `status`: `ok`, `failed` (a non-zero exit), `lost` (its process vanished without a
///   status), `stopped`; `exit_code` the job's own status.
/// - `started`, `ended`: when the job began and ended (RFC 3339); `duration_ms` between them.
/// - `started_by`: the call that started the job, when it was a hook (absent: the calling
///   script's own shell, or unknown).
/// - `reason`: for `stop`, why (`interrupted`, `failed`, `timeout`, `upstream-failed`), and
///   for `wait` of a job that did not finish by itself, how it ended.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Job {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ended: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub started_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    pub time: String,
}

/// A record as the tools use it; `Unknown` is any other type, forwarded untouched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    Begin(Begin),
    Done(Done),
    Hook(Hook),
    Skip(Skip),
    Hypervisor(Hypervisor),
    Start(Start),
    Output(Output),
    Summary(Line),
    Warning(Line),
    Trace(Line),
    Timer(Timer),
    End(End),
    State(State),
    Checkpoint(Checkpoint),
    Job(Job),
    #[serde(other, skip_serializing)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_read_from_the_end_of_our_lines_and_from_anywhere_else() {
        let ours = br#"{"type":"end","id":"s/a.sh","time":"t","host":"ctl"}"#;
        assert_eq!(host_of(ours).as_deref(), Some("ctl"));
        let moved = br#"{"type":"end","host":"sub 1","id":"s/a.sh","time":"t"}"#;
        assert_eq!(host_of(moved).as_deref(), Some("sub 1"));
        let escaped = br#"{"type":"end","id":"s","host":"a\"b"}"#;
        assert_eq!(host_of(escaped).as_deref(), Some("a\"b"));
        let none = br#"{"type":"end","id":"s/a.sh","time":"t"}"#;
        assert_eq!(host_of(none), None);
        // The words inside a string are not the field.
        let text = br#"{"type":"output","text":"\",\"host\":\"evil\"}"}"#;
        assert_eq!(host_of(text), None);
        assert_eq!(host_of(b"not json \"host\""), None);
    }

    #[test]
    fn host_field_is_escaped_json() {
        assert_eq!(host_field("a\"b"), br#","host":"a\"b""#.to_vec());
    }
}
