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
//! Fields following this rule: `text`, `path`, `name`, `dir`, `script`. In Rust each is one
//! [`Data`] value (`Text` or `Bytes`), never the two fields.
//!
//! # Closed sets
//!
//! Some fields take one of a fixed set of values, each an enum here: `end` `status`
//! ([`EndStatus`]), `kind` ([`HookKind`]), `output` `stream` ([`Stream`]), `skip` `reason`
//! ([`SkipReason`]), `job` `event` and `status` ([`JobEvent`], [`JobStatus`]), `checkpoint`
//! `action` ([`CheckpointAction`]) and `state` `base` ([`StateBase`]). A value this version
//! does not know (a newer tool's, or a typo) makes the record a known type of the wrong
//! shape: a reader that decodes it stops with bad input naming the line and the value
//! (`input line 7: bad `end` record: unknown variant `skipped`, expected one of ...`), as
//! for any other malformed record, rather than guess whether it is a failure. A stage that
//! only forwards such a record (it does not consume that type) forwards it unchanged.
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
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

pub mod output;

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

// ----- Text or bytes --------------------------------------------------------------------

/// Bytes from the outside world as a record carries them (see "Text or bytes"): `Text`
/// when they are UTF-8, `Bytes` otherwise. ripgrep's JSON printer models its `Data` the
/// same way; our wire keeps the two forms in two flat fields (`F`, `F_base64`) instead of a
/// nested object, which the field modules below ([`text_field`] and its siblings) read and
/// write. Build one with [`Data::from_bytes`] or [`Data::from_vec`], which choose the form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    /// Valid UTF-8: written as `F`.
    Text(String),
    /// Anything else: written as `F_base64`. Bytes that happen to be UTF-8 are still written
    /// as `F`, so the rule holds however the value was built.
    Bytes(Vec<u8>),
}

impl Data {
    /// The form the rule gives `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Data {
        match std::str::from_utf8(bytes) {
            Ok(text) => Data::Text(text.to_owned()),
            Err(_) => Data::Bytes(bytes.to_vec()),
        }
    }

    /// [`from_bytes`](Self::from_bytes) without a copy.
    pub fn from_vec(bytes: Vec<u8>) -> Data {
        match String::from_utf8(bytes) {
            Ok(text) => Data::Text(text),
            Err(err) => Data::Bytes(err.into_bytes()),
        }
    }

    /// The exact bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Data::Text(text) => text.as_bytes(),
            Data::Bytes(bytes) => bytes,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Data::Text(text) => text.into_bytes(),
            Data::Bytes(bytes) => bytes,
        }
    }

    /// The text, when the bytes are UTF-8.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Data::Text(text) => Some(text),
            Data::Bytes(bytes) => std::str::from_utf8(bytes).ok(),
        }
    }

    /// Decodes the `F_base64` form of field `F`; the error names the field.
    pub fn from_base64(field: &str, encoded: &str) -> Result<Data, String> {
        STANDARD
            .decode(encoded)
            .map(Data::from_vec)
            .map_err(|err| format!("field {field}_base64 is not valid base64: {err}"))
    }

    /// The value of field `F` from its two forms as a line has them: `F` wins when both are
    /// there (readers are tolerant), `None` when neither is.
    pub fn from_fields(
        field: &str,
        text: Option<&str>,
        base64: Option<&str>,
    ) -> Result<Option<Data>, String> {
        match (text, base64) {
            (Some(text), _) => Ok(Some(Data::Text(text.to_owned()))),
            (None, Some(encoded)) => Data::from_base64(field, encoded).map(Some),
            (None, None) => Ok(None),
        }
    }
}

impl From<String> for Data {
    fn from(text: String) -> Data {
        Data::Text(text)
    }
}

impl From<&str> for Data {
    fn from(text: &str) -> Data {
        Data::Text(text.to_owned())
    }
}

/// How a text-or-bytes field is read and written, once for all of them; each field module
/// ([`text_field`]...) only names its two keys. The field is flattened into its record
/// (`#[serde(flatten, with = "...")]`), so these see the record's own map.
mod data_field {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    use super::{Data, STANDARD};
    use base64::Engine as _;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Data>,
        keys: &'static [&'static str; 2],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(value) = value {
            match value.as_text() {
                Some(text) => map.serialize_entry(keys[0], text)?,
                None => map.serialize_entry(keys[1], &STANDARD.encode(value.as_bytes()))?,
            }
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
        keys: &'static [&'static str; 2],
    ) -> Result<Option<Data>, D::Error> {
        struct Fields<'de> {
            keys: &'static [&'static str; 2],
            marker: PhantomData<&'de ()>,
        }
        impl<'de> Visitor<'de> for Fields<'de> {
            type Value = Option<Data>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string `{}` or `{}`", self.keys[0], self.keys[1])
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut text, mut base64) = (None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    // A JSON null counts as absent, as it does for every optional field.
                    let value = map.next_value::<Option<String>>()?;
                    if key == self.keys[0] {
                        text = value;
                    } else if key == self.keys[1] {
                        base64 = value;
                    }
                }
                Data::from_fields(self.keys[0], text.as_deref(), base64.as_deref())
                    .map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_struct(
            "text or bytes",
            keys,
            Fields {
                keys,
                marker: PhantomData,
            },
        )
    }
}

/// Declares the serde module of each text-or-bytes field: `name: "F", "F_base64"`.
macro_rules! data_fields {
    ($($module:ident: $text:literal, $base64:literal;)*) => {$(
        #[doc = concat!("The text-or-bytes field `", $text, "` (or `", $base64, "`): for `#[serde(flatten, with = \"", stringify!($module), "\")]`.")]
        pub mod $module {
            const KEYS: &[&str; 2] = &[$text, $base64];
            pub fn serialize<S: serde::Serializer>(
                value: &Option<super::Data>,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                super::data_field::serialize(value, KEYS, serializer)
            }
            pub fn deserialize<'de, D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Option<super::Data>, D::Error> {
                super::data_field::deserialize(deserializer, KEYS)
            }
        }
    )*};
}

data_fields! {
    text_field: "text", "text_base64";
    path_field: "path", "path_base64";
    name_field: "name", "name_base64";
    dir_field: "dir", "dir_base64";
    script_field: "script", "script_base64";
}

// ----- Closed sets ----------------------------------------------------------------------

/// Declares the enum of a closed set of values, each written once with its wire name.
/// A value this version does not know is refused when a record is decoded (see "Closed
/// sets" above): serde's error names the value and the ones expected, and the reader puts
/// the input line in front.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant,)*
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The value as the wire writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }

            /// The value the wire writes as `text`, if this version knows it.
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|value| value.as_str() == text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// `stream` of an `output` record: which of a hook's descriptors wrote the line.
    pub enum Stream {
        Stdout => "stdout",
        Stderr => "stderr",
    }
}

wire_enum! {
    /// `kind` of a `hook` or `start` record: what sort of hook it is.
    pub enum HookKind {
        /// An `extras.d/NN-name.sh` file.
        Extras => "extras",
        /// A DevStack plugin directory.
        Plugin => "plugin",
        /// A hypervisor plugin's function (`start` records of hyp-call only).
        Hypervisor => "hypervisor",
        /// hook-run's own `verify_disabled_services` call (`start` records only).
        Check => "check",
    }
}

wire_enum! {
    /// `status` of an `end` record: how a hook call ended (see [`End`]).
    pub enum EndStatus {
        Ok => "ok",
        Failed => "failed",
        Timeout => "timeout",
        Killed => "killed",
        Interrupted => "interrupted",
    }
}

wire_enum! {
    /// `reason` of a `skip` record: why an entry or call will not run (see [`Skip`]).
    pub enum SkipReason {
        /// Plainly not a hook (`README.md`, a backup copy): phase-log hides it.
        NotAHook => "not-a-hook",
        /// A `.sh` file whose name is not `NN-name.sh`.
        BadPrefix => "bad-prefix",
        /// Not a `.sh` file.
        NoShSuffix => "no-sh-suffix",
        /// A name starting with `.`.
        Dotfile => "dotfile",
        Unreadable => "unreadable",
        BrokenLink => "broken-link",
        Directory => "directory",
        /// A FIFO, socket or device.
        NotRegular => "not-regular",
        /// A same-named hook in an earlier directory wins.
        Overridden => "overridden",
        /// `--enabled-only`, or a call whose service is not enabled.
        Disabled => "disabled",
        /// `--strict`: others could change the hook.
        Untrusted => "untrusted",
        /// An enabled plugin whose directory does not exist.
        MissingPluginDir => "missing-plugin-dir",
        /// A hypervisor plugin file that names no driver.
        NoDriver => "no-driver",
        /// A plugin without `devstack/plugin.sh`, for a mode that needs it.
        NoPluginSh => "no-plugin-sh",
        /// `start_nova_hypervisor` of a driver DevStack does not start.
        NotStarted => "not-started",
        /// Something upstream failed.
        UpstreamFailed => "upstream-failed",
        /// An earlier hook of this stage failed.
        Stopped => "stopped",
        /// The prelude could not be sourced.
        PreludeFailed => "prelude-failed",
        Interrupted => "interrupted",
        /// `--until` stopped the run before this call.
        Until => "until",
    }
}

wire_enum! {
    /// `event` of a `job` record (see [`Job`]).
    pub enum JobEvent {
        Start => "start",
        Wait => "wait",
        Stop => "stop",
        Unwaited => "unwaited",
        Unknown => "unknown",
    }
}

wire_enum! {
    /// `status` of a `job` record (see [`Job`]).
    pub enum JobStatus {
        Ok => "ok",
        Failed => "failed",
        Lost => "lost",
        Stopped => "stopped",
    }
}

wire_enum! {
    /// `action` of a `checkpoint` record (see [`Checkpoint`]).
    pub enum CheckpointAction {
        Reused => "reused",
        Run => "run",
        Saved => "saved",
    }
}

wire_enum! {
    /// `base` of a `state` record: what its script is relative to (see [`State`]).
    pub enum StateBase {
        Full => "full",
        Prelude => "prelude",
    }
}

// ----- Records --------------------------------------------------------------------------

/// Declares a record struct: every `Option` field is left out of the line when it is
/// `None` (and is `None` when a line leaves it out, as serde reads any `Option`), the one
/// rule of optional fields, written once here rather than on each of them.
macro_rules! record_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        record_struct!(@fields [$(#[$meta])* pub struct $name] [] $($body)*);
    };
    (@fields $head:tt [$($done:tt)*]
        $(#[$fmeta:meta])* pub $field:ident: Option<$ty:ty> $(, $($rest:tt)*)?
    ) => {
        record_struct!(@fields $head [
            $($done)*
            $(#[$fmeta])* #[serde(skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>,
        ] $($($rest)*)?);
    };
    (@fields $head:tt [$($done:tt)*]
        $(#[$fmeta:meta])* pub $field:ident: $ty:ty $(, $($rest:tt)*)?
    ) => {
        record_struct!(@fields $head [$($done)* $(#[$fmeta])* pub $field: $ty,] $($($rest)*)?);
    };
    (@fields [$($head:tt)*] [$($done:tt)*]) => {
        $($head)* { $($done)* }
    };
}

record_struct! {
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
}

record_struct! {
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
        pub message: Option<String>,
    }
}

record_struct! {
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
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Hook {
        #[serde(flatten, with = "name_field")]
        pub name: Option<Data>,
        #[serde(flatten, with = "path_field")]
        pub path: Option<Data>,
        pub kind: HookKind,
        pub seq: Option<String>,
        #[serde(flatten, with = "dir_field")]
        pub dir: Option<Data>,
        pub services: Option<Vec<String>>,
        pub enabled: Option<bool>,
        pub files: Option<Vec<String>>,
        pub warning: Option<String>,
    }
}

impl Hook {
    /// A hook of `kind` with every optional field absent.
    pub fn new(kind: HookKind) -> Hook {
        Hook {
            name: None,
            path: None,
            kind,
            seq: None,
            dir: None,
            services: None,
            enabled: None,
            files: None,
            warning: None,
        }
    }
}

record_struct! {
    /// `skip`: something that will not run, and why.
    ///
    /// `reason` is a stable code a consumer can filter on ([`SkipReason`]); `message` is for
    /// people. Listing reasons: `not-a-hook` (plainly not a hook, e.g. `README.md`: hidden by
    /// phase-log), `bad-prefix`, `no-sh-suffix`, `dotfile`, `unreadable`, `broken-link`,
    /// `directory`, `not-regular`, `overridden` (a same-named hook in an earlier directory
    /// wins), `disabled` (with `--enabled-only`), `untrusted` (with `--strict`: others could
    /// change the hook), `missing-plugin-dir`, `no-driver`. Run reasons: `upstream-failed`,
    /// `stopped` (an earlier hook of this stage failed), `interrupted`, `prelude-failed`,
    /// `until` (`--until` ended the run), `disabled`, `not-regular`, `no-plugin-sh`,
    /// `not-started`. Either `path`/`name` (an entry) or `id` (a call) says what was skipped.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Skip {
        pub reason: SkipReason,
        pub message: String,
        #[serde(flatten, with = "path_field")]
        pub path: Option<Data>,
        #[serde(flatten, with = "name_field")]
        pub name: Option<Data>,
        pub id: Option<String>,
        pub stage: Option<String>,
        pub time: Option<String>,
    }
}

impl Skip {
    /// A skip for `reason` with every optional field absent.
    pub fn new(reason: SkipReason, message: String) -> Skip {
        Skip {
            reason,
            message,
            path: None,
            name: None,
            id: None,
            stage: None,
            time: None,
        }
    }
}

record_struct! {
    /// `hypervisor`: a `lib/nova_plugins/hypervisor-<driver>` file and its coverage of the five
    /// required functions. `missing` lists the required functions it does not define;
    /// `functions` every function the file itself defines, in file order; `sourced` the
    /// functions it only gets from files it sources (`source`/`.` lines naming a file found
    /// beside it).
    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Hypervisor {
        pub driver: String,
        #[serde(flatten, with = "path_field")]
        pub path: Option<Data>,
        pub missing: Vec<String>,
        pub functions: Vec<String>,
        #[serde(default)]
        pub sourced: Vec<String>,
    }
}

record_struct! {
    /// `start`: a hook call began. `args` are the positional parameters the hook sees (`$1`,
    /// `$2`; `$#` is their count). `kind` is `extras`, `plugin`, `hypervisor` or `check` (the
    /// `verify_disabled_services` call of `hook-run --verify-disabled`); `file` is what
    /// was sourced (`plugin.sh`, `settings`, `override-defaults`) for plugins, `function` the
    /// function called for hypervisor actions.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Start {
        pub id: String,
        pub stage: String,
        #[serde(flatten, with = "name_field")]
        pub name: Option<Data>,
        #[serde(flatten, with = "path_field")]
        pub path: Option<Data>,
        pub kind: HookKind,
        pub args: Vec<String>,
        pub file: Option<String>,
        pub function: Option<String>,
        pub time: String,
    }
}

impl Start {
    /// A call with no arguments and every optional field absent.
    pub fn new(id: String, stage: String, kind: HookKind, time: String) -> Start {
        Start {
            id,
            stage,
            name: None,
            path: None,
            kind,
            args: Vec::new(),
            file: None,
            function: None,
            time,
        }
    }
}

record_struct! {
    /// `output`: one line a hook wrote, without its `\n` (a `\r` stays in the text).
    ///
    /// `stream` is `stdout` or `stderr`. `partial` is `true` when the text does not end a line:
    /// a line longer than 64 KiB is cut into several records, all but the last marked partial;
    /// an unfinished line (a prompt written with `echo -n`) is sent partial after 50 ms without
    /// new bytes, or when its hook ends. Absent means `false`. Most of every stream is these
    /// records: [`output`] writes and reads them without serde, in exactly this layout.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Output {
        pub id: String,
        pub stream: Stream,
        #[serde(flatten, with = "text_field")]
        pub text: Option<Data>,
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        pub partial: bool,
        pub time: String,
    }
}

record_struct! {
    /// `summary`, `warning` and `trace`: one line of text. `id` is absent on warnings a tool
    /// writes about itself rather than about a hook call.
    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Line {
        pub id: Option<String>,
        #[serde(flatten, with = "text_field")]
        pub text: Option<Data>,
        pub time: String,
    }
}

record_struct! {
    /// `timer`: a hook's `time_start NAME` / `time_stop NAME` pair, `ms` milliseconds apart.
    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    pub struct Timer {
        pub id: String,
        pub name: String,
        pub ms: u64,
        pub time: String,
    }
}

record_struct! {
    /// `end`: a hook call ended.
    ///
    /// `status` ([`EndStatus`]): `ok` (returned 0), `failed` (returned non-zero, or a failing
    /// command ended it under errexit, or it called `exit N` with N > 0), `timeout` (stopped
    /// after `--timeout`), `killed` (ended by a signal nobody in the run sent), `interrupted`
    /// (stopped because the runner got SIGINT or SIGTERM). `exit_code` is present when the
    /// call ended with a status; `signal` (a number) when it ended by a signal. `exited` is
    /// `true` when the hook ended the whole worker shell (`exit N`, errexit), so later hooks
    /// ran in a new one.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct End {
        pub id: String,
        pub stage: String,
        pub status: EndStatus,
        pub exit_code: Option<i32>,
        pub signal: Option<i32>,
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        pub exited: bool,
        pub duration_ms: u64,
        pub time: String,
    }
}

impl End {
    /// An end with `status` after 0 ms and every optional field absent.
    pub fn new(id: String, stage: String, status: EndStatus, time: String) -> End {
        End {
            id,
            stage,
            status,
            exit_code: None,
            signal: None,
            exited: false,
            duration_ms: 0,
            time,
        }
    }
}

record_struct! {
    /// `state`: bash code that recreates the shell state (variables and functions) a stage
    /// ended with. Only runners read it; each consumes the states it reads and writes one
    /// replacement just before its `done`. `generation` increases with each replacement, so a
    /// reader that sees several (or also loads `--state FILE`) keeps the highest and a stale
    /// state never wins. `base` ([`StateBase`]) names what `script` is relative to: `full` (the
    /// whole state) or `prelude` (only what differs from a worker that has sourced the same
    /// prelude files, listed in `prelude`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct State {
        pub stage: String,
        pub generation: u64,
        pub base: StateBase,
        #[serde(default)]
        pub prelude: Vec<String>,
        #[serde(flatten, with = "script_field")]
        pub script: Option<Data>,
        pub time: String,
    }
}

record_struct! {
    /// `checkpoint`: what a runner given a run directory (`--checkpoint-dir`) did about its
    /// stage's checkpoint (`docs/checkpoints.md` specifies the files and the rules). `action`
    /// ([`CheckpointAction`]):
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
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Checkpoint {
        pub tool: String,
        pub stage: String,
        pub action: CheckpointAction,
        pub run: String,
        pub checkpoint: Option<String>,
        pub reason: Option<String>,
        pub started: Option<String>,
        pub finished: Option<String>,
        pub time: String,
    }
}

record_struct! {
    /// `job`: an event of one of DevStack's asynchronous jobs (`async_run`, `async_runfunc`;
    /// `lib/async`, docs/async.md). A job outlives the stage that starts it, so each event is
    /// its own record, attributed (`id`) to the call it happened in; `id` is absent when the
    /// event did not happen in a hook (a runner stopping the job).
    ///
    /// - `event` ([`JobEvent`]): `start` (the job began: `pid`, `command`, `started`), `wait`
    ///   (`async_wait` collected it: `status`, `exit_code`, `started`, `ended`,
    ///   `duration_ms`), `stop` (the run failed, timed out or was interrupted while the job
    ///   ran, and a runner stopped its whole process group: `reason`, `status` `stopped`),
    ///   `unwaited` (`async_cleanup` found it never awaited at the end of the run), `unknown`
    ///   (`async_wait` of a name no job had: `status` `failed`).
    /// - `name`/`name_base64`: the job's name (`$DEST/async/NAME.ini`).
    /// - `pid`: the job's process (also its process group); absent when it ran inline
    ///   (`DEVSTACK_PARALLEL=False`, DevStack's pid `self`).
    /// - `status` ([`JobStatus`]): `ok`, `failed` (a non-zero exit), `lost` (its process
    ///   vanished without a status), `stopped`; `exit_code` the job's own status.
    /// - `started`, `ended`: when the job began and ended (RFC 3339); `duration_ms` between them.
    /// - `started_by`: the call that started the job, when it was a hook (absent: the calling
    ///   script's own shell, or unknown).
    /// - `reason`: for `stop`, why (`interrupted`, `failed`, `timeout`, `upstream-failed`), and
    ///   for `wait` of a job that did not finish by itself, how it ended (free text).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Job {
        pub id: Option<String>,
        pub event: JobEvent,
        #[serde(flatten, with = "name_field")]
        pub name: Option<Data>,
        pub pid: Option<u32>,
        pub command: Option<String>,
        pub status: Option<JobStatus>,
        pub exit_code: Option<i32>,
        pub started: Option<String>,
        pub ended: Option<String>,
        pub duration_ms: Option<u64>,
        pub started_by: Option<String>,
        pub reason: Option<String>,
        pub time: String,
    }
}

impl Job {
    /// A job `event` at `time` with every optional field absent.
    pub fn new(event: JobEvent, time: String) -> Job {
        Job {
            id: None,
            event,
            name: None,
            pid: None,
            command: None,
            status: None,
            exit_code: None,
            started: None,
            ended: None,
            duration_ms: None,
            started_by: None,
            reason: None,
            time,
        }
    }
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
