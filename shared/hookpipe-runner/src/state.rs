//! Shell state between stages: parsing a worker's dump, turning it into a bash script that
//! recreates it (whole, or only what differs from a worker that sourced the same prelude),
//! and the `--state FILE` that carries it across pipelines.
//!
//! A dump (written by `_hp_dump` in `worker.bash`) is every `declare -p` line (bash 5 prints
//! one line per variable, quoting newlines as `$'\n'`), then for each function a NUL, its
//! name, a newline and its `declare -f` text. What travels: functions and variables of every
//! kind (plain, exported, integer, indexed and associative arrays, namerefs, read-only ones),
//! and the unsetting of variables that were in the environment. What does not: bash's own
//! special variables ([`NOT_CARRIED`]), the worker's `_hp_` names, shell options, traps,
//! open descriptors, background jobs and the working directory.
//!
//! The script declares with `declare -g`, so it recreates globals even when sourced inside
//! a function (a legacy `run_phase` does that), and read-only variables that already exist
//! do not break loading.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Bash variables that describe the shell itself, not the run: never carried.
pub const NOT_CARRIED: &[&str] = &[
    "BASH",
    "BASHOPTS",
    "BASHPID",
    "BASH_ALIASES",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_ARGV0",
    "BASH_CMDS",
    "BASH_COMMAND",
    "BASH_EXECUTION_STRING",
    "BASH_LINENO",
    "BASH_LOADABLES_PATH",
    "BASH_REMATCH",
    "BASH_SOURCE",
    "BASH_SUBSHELL",
    "BASH_VERSINFO",
    "BASH_VERSION",
    "BASH_XTRACEFD",
    "COLUMNS",
    "COMP_WORDBREAKS",
    "DIRSTACK",
    "EPOCHREALTIME",
    "EPOCHSECONDS",
    "EUID",
    "FUNCNAME",
    "GROUPS",
    "HISTCMD",
    "HOSTNAME",
    "HOSTTYPE",
    "LINENO",
    "LINES",
    "MACHTYPE",
    "OLDPWD",
    "OPTERR",
    "OPTIND",
    "OSTYPE",
    "PIPESTATUS",
    "PPID",
    "PWD",
    "RANDOM",
    "SECONDS",
    "SHELLOPTS",
    "SHLVL",
    "SRANDOM",
    "UID",
    "_",
    "_HOOKPIPE_EVENT_FD",
];

fn carried(name: &str) -> bool {
    !name.starts_with("_hp_") && !NOT_CARRIED.contains(&name)
}

/// The worker's own `echo_summary` as `declare -f` prints it (`_hp_own_summary` in
/// `worker.bash`): it writes through the worker's private descriptors, which exist nowhere
/// else, so it is never carried, and it stands in for whatever echo_summary the state had
/// without changing it: a legacy caller keeps its own.
const WORKER_ECHO_SUMMARY: &[u8] = b"echo_summary () \n{ \n    _hp_summary \"$@\"\n}";
const ECHO_SUMMARY: &[u8] = b"echo_summary";

/// One variable of a dump: its `declare -p` line and whether it is read-only.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    line: Vec<u8>,
    readonly: bool,
}

/// A parsed worker dump.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dump {
    vars: BTreeMap<String, Var>,
    funcs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// echo_summary was the worker's own ([`WORKER_ECHO_SUMMARY`]): not carried, and not
    /// gone either.
    summary_stand_in: bool,
}

impl Dump {
    /// Parses what `_hp_dump` wrote: `declare -F`, NUL, `declare -p`, NUL, `declare -f`,
    /// NUL, `end`. `None` when the trailer is missing (a dump cut short). The older
    /// per-function layout (`declare -p`, then for each function NUL, name, newline, text)
    /// is read too, for callers that write their own dump.
    pub fn parse(bytes: &[u8]) -> Option<Dump> {
        let Some(body) = bytes.strip_suffix(b"\0end\n") else {
            return Some(Dump::parse_per_function(bytes));
        };
        let mut sections = body.splitn(3, |&b| b == 0);
        let (names, vars, funcs) = (sections.next()?, sections.next()?, sections.next()?);
        let mut dump = Dump::default();
        dump.add_vars(vars);
        let names: Vec<&[u8]> = names
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let rest = line.strip_prefix(b"declare -f")?;
                let space = rest.iter().position(|&b| b == b' ')?;
                Some(&rest[space + 1..])
            })
            .collect();
        // `declare -f` prints the functions in `declare -F` order, each starting with the
        // lines `NAME () ` and `{ `: finding the next name's header at a line start marks the end of
        // the previous body, even when a body holds a here-document line like `}`.
        let header = |name: &[u8]| [name, b" () \n{ \n"].concat();
        let mut starts = Vec::with_capacity(names.len());
        let mut from = 0;
        for name in &names {
            let wanted = header(name);
            let found = (from..funcs.len()).find(|&at| {
                (at == 0 || funcs[at - 1] == b'\n') && funcs[at..].starts_with(&wanted)
            });
            match found {
                Some(at) => {
                    starts.push((name, at));
                    from = at + wanted.len();
                }
                None => return None,
            }
        }
        for (index, (name, start)) in starts.iter().enumerate() {
            let end = starts.get(index + 1).map_or(funcs.len(), |(_, next)| *next);
            dump.add_function(name, funcs[*start..end].trim_ascii_end());
        }
        Some(dump)
    }

    /// Keeps a function of the dump, unless it is the worker's own.
    fn add_function(&mut self, name: &[u8], text: &[u8]) {
        if name.is_empty() || name.starts_with(b"_hp_") {
            return;
        }
        if name == ECHO_SUMMARY && text == WORKER_ECHO_SUMMARY {
            self.summary_stand_in = true;
            return;
        }
        self.funcs.insert(name.to_vec(), text.to_vec());
    }

    /// The functions of `base` this state no longer has (the worker's stand-in for
    /// echo_summary does not take it away).
    fn gone_functions<'a>(&'a self, base: &'a Dump) -> impl Iterator<Item = &'a Vec<u8>> {
        let stands_in = move |name: &[u8]| self.summary_stand_in && name == ECHO_SUMMARY;
        base.funcs
            .keys()
            .filter(move |name| !self.funcs.contains_key(*name) && !stands_in(name))
    }

    fn parse_per_function(bytes: &[u8]) -> Dump {
        let mut dump = Dump::default();
        let mut sections = bytes.split(|&b| b == 0);
        dump.add_vars(sections.next().unwrap_or_default());
        for section in sections {
            let Some(newline) = section.iter().position(|&b| b == b'\n') else {
                continue;
            };
            dump.add_function(&section[..newline], section[newline + 1..].trim_ascii_end());
        }
        dump
    }

    fn add_vars(&mut self, vars: &[u8]) {
        for line in vars.split(|&b| b == b'\n') {
            if let Some((name, readonly)) = declared_name(line) {
                if carried(name) {
                    self.vars.insert(
                        name.to_owned(),
                        Var {
                            line: line.to_vec(),
                            readonly,
                        },
                    );
                }
            }
        }
    }

    /// The variable of this name.
    pub(crate) fn var(&self, name: &str) -> Option<&Var> {
        self.vars.get(name)
    }

    /// Whether a variable of this name is in the dump.
    #[cfg(test)]
    pub(crate) fn has_var(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// Whether a function of this name is in the dump.
    #[cfg(test)]
    pub(crate) fn has_function(&self, name: &str) -> bool {
        self.funcs.contains_key(name.as_bytes())
    }

    /// A script recreating the whole state. `environment` names the variables the worker
    /// inherited: those the dump no longer has were unset by a hook and are unset again.
    pub fn full_script(&self, environment: &HashSet<String>) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        for var in self.vars.values() {
            write_var(&mut out, var);
        }
        let mut gone: Vec<&String> = environment
            .iter()
            .filter(|name| carried(name) && is_identifier(name) && !self.vars.contains_key(*name))
            .collect();
        gone.sort();
        for name in gone {
            out.extend_from_slice(b"unset -v ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        for body in self.funcs.values() {
            out.extend_from_slice(body);
            out.push(b'\n');
        }
        out
    }

    /// A script that turns a worker in state `base` into this state: only the variables and
    /// functions that differ, and the unsetting of those that are gone.
    pub fn delta_script(&self, base: &Dump) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        for (name, var) in &self.vars {
            match base.vars.get(name) {
                Some(old) if old == var => continue,
                // `declare` adds attributes but never takes one away (`export -n`, an
                // array become a string): the old variable goes first.
                Some(old) if !old.readonly => {
                    // `unset -v` of a nameref would unset the variable it names.
                    let flags = old.line.split(|&b| b == b' ').nth(1).unwrap_or_default();
                    if flags.contains(&b'n') {
                        out.extend_from_slice(b"unset -n ");
                    } else {
                        out.extend_from_slice(b"unset -v ");
                    }
                    out.extend_from_slice(name.as_bytes());
                    out.push(b'\n');
                }
                _ => {}
            }
            write_var(&mut out, var);
        }
        for name in base.vars.keys().filter(|n| !self.vars.contains_key(*n)) {
            out.extend_from_slice(b"unset -v ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        for (name, body) in &self.funcs {
            if base.funcs.get(name) != Some(body) {
                out.extend_from_slice(body);
                out.push(b'\n');
            }
        }
        for name in self.gone_functions(base) {
            out.extend_from_slice(b"unset -f -- ");
            out.extend_from_slice(name);
            out.push(b'\n');
        }
        out
    }
}

/// One name a hook changed, relative to the state it started from: a variable or a
/// function, with what it became (`None`: unset).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Var(String, Option<Var>),
    Func(Vec<u8>, Option<Vec<u8>>),
}

impl Change {
    /// The name as people read it: `X` for a variable, `f()` for a function.
    pub(crate) fn name(&self) -> String {
        match self {
            Change::Var(name, _) => name.clone(),
            Change::Func(name, _) => format!("{}()", String::from_utf8_lossy(name)),
        }
    }

    /// Whether two changes are to the same name (whatever they made of it).
    pub(crate) fn same_name(&self, other: &Change) -> bool {
        match (self, other) {
            (Change::Var(a, _), Change::Var(b, _)) => a == b,
            (Change::Func(a, _), Change::Func(b, _)) => a == b,
            _ => false,
        }
    }
}

impl Dump {
    /// Every name that differs between `base` and this state: set, changed or unset.
    pub(crate) fn changes_from(&self, base: &Dump) -> Vec<Change> {
        let mut changes = Vec::new();
        for (name, var) in &self.vars {
            if base.vars.get(name) != Some(var) {
                changes.push(Change::Var(name.clone(), Some(var.clone())));
            }
        }
        for name in base.vars.keys().filter(|n| !self.vars.contains_key(*n)) {
            changes.push(Change::Var(name.clone(), None));
        }
        for (name, body) in &self.funcs {
            if base.funcs.get(name) != Some(body) {
                changes.push(Change::Func(name.clone(), Some(body.clone())));
            }
        }
        for name in self.gone_functions(base) {
            changes.push(Change::Func(name.clone(), None));
        }
        changes
    }

    /// This state with `changes` made to it.
    pub(crate) fn with_changes<'a>(&self, changes: impl IntoIterator<Item = &'a Change>) -> Dump {
        let mut dump = self.clone();
        for change in changes {
            match change {
                Change::Var(name, Some(var)) => {
                    dump.vars.insert(name.clone(), var.clone());
                }
                Change::Var(name, None) => {
                    dump.vars.remove(name);
                }
                Change::Func(name, Some(body)) => {
                    dump.funcs.insert(name.clone(), body.clone());
                }
                Change::Func(name, None) => {
                    dump.funcs.remove(name);
                }
            }
        }
        dump
    }
}

/// An associative array's elements: (key, value), each as bash quotes it.
pub(crate) type Elements = Vec<(Vec<u8>, Vec<u8>)>;

/// An associative array's `declare -p` line taken apart: its flags (`-A`, `-Ax`...) and its
/// elements as written (key and value each still quoted as bash printed them, so two
/// elements compare equal exactly when bash would print them the same). `None` for any
/// other line, or one this parser does not follow (it then compares whole).
pub(crate) fn assoc_elements(line: &[u8]) -> Option<(Vec<u8>, Elements)> {
    let rest = line.strip_prefix(b"declare -")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let flags = &rest[..space];
    if !flags.contains(&b'A') {
        return None;
    }
    let after = &rest[space + 1..];
    // `declare -A X` alone (declared, never assigned) has no elements.
    if !after.contains(&b'=') {
        return Some((flags.to_vec(), Vec::new()));
    }
    let open = after.windows(2).position(|w| w == b"=(")?;
    let mut body = &after[open + 2..];
    let mut elements = Vec::new();
    loop {
        while let Some(tail) = body.strip_prefix(b" ") {
            body = tail;
        }
        if body == b")" {
            return Some((flags.to_vec(), elements));
        }
        body = body.strip_prefix(b"[")?;
        let key_len = quoted_word(body, b']')?;
        let key = body[..key_len].to_vec();
        body = body[key_len..].strip_prefix(b"]=")?;
        let value_len = quoted_word(body, b' ')?;
        elements.push((key, body[..value_len].to_vec()));
        body = &body[value_len..];
    }
}

/// How long the word at the start of `text` is: `"..."` or `$'...'` (with backslash
/// escapes), or a bare word up to `end`.
fn quoted_word(text: &[u8], end: u8) -> Option<usize> {
    let (start, close) = match text {
        [b'"', ..] => (1, b'"'),
        [b'$', b'\'', ..] => (2, b'\''),
        _ => return text.iter().position(|&b| b == end || b == b')'),
    };
    let mut at = start;
    while at < text.len() {
        match text[at] {
            b'\\' => at += 2,
            byte if byte == close => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

/// The `declare -p` line of associative array `name` with these flags and elements.
pub(crate) fn assoc_line(name: &str, flags: &[u8], elements: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut line = b"declare -".to_vec();
    line.extend_from_slice(flags);
    line.push(b' ');
    line.extend_from_slice(name.as_bytes());
    line.extend_from_slice(b"=(");
    for (key, value) in elements {
        line.push(b'[');
        line.extend_from_slice(key);
        line.extend_from_slice(b"]=");
        line.extend_from_slice(value);
        line.push(b' ');
    }
    line.push(b')');
    line
}

impl Var {
    /// The `declare -p` line.
    pub(crate) fn line(&self) -> &[u8] {
        &self.line
    }

    /// A variable of this line (a merged associative array).
    pub(crate) fn from_line(line: Vec<u8>) -> Option<Var> {
        let (_, readonly) = declared_name(&line)?;
        Some(Var { line, readonly })
    }
}

/// `declare -x PATH=...` becomes `declare -g -x PATH=...`; a read-only one is guarded so
/// that loading it where it already exists read-only is not an error.
fn write_var(out: &mut Vec<u8>, var: &Var) {
    let rest = &var.line[b"declare ".len()..];
    if var.readonly {
        out.extend_from_slice(b"{ declare -g ");
        out.extend_from_slice(rest);
        out.extend_from_slice(b"; } 2>/dev/null || :\n");
    } else {
        out.extend_from_slice(b"declare -g ");
        out.extend_from_slice(rest);
        out.push(b'\n');
    }
}

/// The name and read-only flag of a `declare -FLAGS NAME[=VALUE]` line.
fn declared_name(line: &[u8]) -> Option<(&str, bool)> {
    let rest = line.strip_prefix(b"declare -")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let flags = &rest[..space];
    let after = &rest[space + 1..];
    let end = after.iter().position(|&b| b == b'=').unwrap_or(after.len());
    let name = std::str::from_utf8(&after[..end]).ok()?;
    is_identifier(name).then_some((name, flags.contains(&b'r')))
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The header line of a state file: `# hookpipe state generation N`.
const HEADER: &[u8] = b"# hookpipe state generation ";

/// The header of a raw dump that a calling shell wrote into the state file itself (see
/// `lib/hookpipe`): the same format as a worker's dump, so the caller's variables and
/// functions are filtered by the same rules before any worker sees them.
pub(crate) const DUMP_HEADER: &[u8] = b"# hookpipe dump generation ";

/// What a state file holds: its generation, the script that recreates its state, and, when
/// it was a caller's raw dump, that dump (the base a `--state-delta` is relative to).
pub(crate) struct FileState {
    pub(crate) generation: u64,
    pub(crate) script: Vec<u8>,
    pub(crate) dump: Option<Dump>,
}

/// A state file shared by separate pipelines (`--state FILE`, `HOOKPIPE_STATE`).
///
/// Readers and writers take an advisory lock on `FILE.lock` only for the moment of reading
/// or replacing, never across a stage, so the stages of one pipeline cannot deadlock on it.
/// Replacement is a write to a temporary file and a rename: a crash leaves the old state.
#[derive(Debug, Clone)]
pub(crate) struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub(crate) fn new(path: impl Into<PathBuf>) -> StateFile {
        StateFile { path: path.into() }
    }

    fn lock(&self) -> io::Result<Flock<File>> {
        // Refused before anything is created beside it (`/dev/zero.lock`).
        match fs::metadata(&self.path) {
            Ok(meta) if !meta.is_file() => return Err(not_regular(&self.path)),
            _ => {}
        }
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        // Never through a planted symlink: in a shared directory it would create or touch
        // another user's file.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&lock_path)
            .map_err(|err| refuse_link(err, Path::new(&lock_path)))?;
        require_regular(&file, Path::new(&lock_path))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| io::Error::from(errno))
    }

    /// Opens the state file for reading, if there is one. It must be a regular file (or a
    /// link to one): a FIFO would hang the stage and a device never end. Opened without
    /// blocking, so a FIFO is found out rather than waited on.
    fn open_existing(&self) -> io::Result<Option<File>> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&self.path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        require_regular(&file, &self.path)?;
        Ok(Some(file))
    }

    /// The generation and script in the file; `None` when there is no file yet.
    #[cfg(test)]
    pub(crate) fn read(&self) -> io::Result<Option<(u64, Vec<u8>)>> {
        Ok(self
            .read_with_dump()?
            .map(|stored| (stored.generation, stored.script)))
    }

    /// What the file holds, with the caller's raw dump parsed when it holds one; `None`
    /// when there is no file yet.
    pub(crate) fn read_with_dump(&self) -> io::Result<Option<FileState>> {
        let _lock = self.lock()?;
        let mut bytes = Vec::new();
        match self.open_existing()? {
            Some(mut file) => file.read_to_end(&mut bytes)?,
            None => return Ok(None),
        };
        let generation = |header: &[u8]| -> Option<(u64, usize)> {
            let rest = bytes.strip_prefix(header)?;
            let end = rest.iter().position(|&b| b == b'\n')?;
            let generation = std::str::from_utf8(&rest[..end])
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((generation, header.len() + end + 1))
        };
        if let Some((number, body)) = generation(DUMP_HEADER) {
            // A caller's raw dump: everything it had is the state; nothing was unset.
            let dump = Dump::parse(&bytes[body..]).unwrap_or_default();
            let script = dump.full_script(&HashSet::new());
            return Ok(Some(FileState {
                generation: number,
                script,
                dump: Some(dump),
            }));
        }
        let number = generation(HEADER).map_or(0, |(number, _)| number);
        Ok(Some(FileState {
            generation: number,
            script: bytes,
            dump: None,
        }))
    }

    /// Replaces the file with `script` at `generation`, the one after the generation this
    /// stage started from. When the file holds `generation` or a later one, another run
    /// wrote it after this stage read it: replacing it would silently lose that run's
    /// changes, so the write is refused ([`io::ErrorKind::AlreadyExists`], the message says
    /// which generations); the caller fails the stage.
    pub(crate) fn write(&self, generation: u64, script: &[u8]) -> io::Result<()> {
        let _lock = self.lock()?;
        if let Some(mut file) = self.open_existing()? {
            let mut head = [0u8; 64];
            let n = file.read(&mut head)?;
            if let Some(rest) = head[..n].strip_prefix(HEADER) {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let existing: u64 = std::str::from_utf8(&rest[..end])
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
                if existing >= generation {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "another run replaced it (generation {existing}) after this stage \
                             read generation {}: not replaced, so that run's changes are kept, \
                             and this stage's shell state is not passed on (later stages start \
                             from the file's)",
                            generation.saturating_sub(1)
                        ),
                    ));
                }
            }
        }
        let mut header = HEADER.to_vec();
        header.extend_from_slice(format!("{generation}\n").as_bytes());
        replace_private(&self.path, &[&header, script], true)
    }
}

/// Replaces `path` with `parts`: a new file of a random name beside it, created exclusively
/// and readable by its owner only (a state holds every variable, passwords included), then
/// renamed over it, so a planted symlink is never followed, a reader never sees half a
/// file and a crash leaves the previous one. `sync` for a file that must survive a crash.
fn replace_private(path: &Path, parts: &[&[u8]], sync: bool) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".hookpipe-state-")
        .tempfile_in(dir)?;
    for part in parts {
        file.write_all(part)?;
    }
    if sync {
        file.as_file().sync_all()?;
    }
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// Writes a `--state-delta` script (see [`Dump::delta_script`]): read once by the one
/// caller that asked for it, so it is not synced to disk.
pub(crate) fn write_delta(path: &Path, script: &[u8]) -> io::Result<()> {
    replace_private(path, &[script], false)
}

/// Fails unless `file` (opened from `path`) is a regular file.
fn require_regular(file: &File, path: &Path) -> io::Result<()> {
    if file.metadata()?.file_type().is_file() {
        return Ok(());
    }
    Err(not_regular(path))
}

fn not_regular(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is not a regular file: refused (a FIFO would hang the stage, a device never end)",
            display_path(path)
        ),
    )
}

/// The error of an `O_NOFOLLOW` open that met a symbolic link, said as such.
fn refuse_link(err: io::Error, path: &Path) -> io::Error {
    if err.raw_os_error() == Some(nix::libc::ELOOP) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link: refused, not followed",
                display_path(path)
            ),
        );
    }
    err
}

/// The path as bytes for messages.
pub fn display_path(path: &Path) -> String {
    hookpipe::bytes::display(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &[u8] = b"declare -- A=\"1\"\ndeclare -x PATH=\"/bin\"\ndeclare -r RO=\"x\"\ndeclare -- _hp_op=\"dump\"\ndeclare -i SECONDS=\"3\"\n\0f\nf () \n{ \n    cat <<EOT\n}\nEOT\n\n}\n\0_hp_source\n_hp_source () \n{ \n    :\n}\n";

    /// The definition the worker installs (`_hp_own_summary`), printed by this machine's
    /// bash, is exactly the text the state leaves out.
    #[test]
    fn the_workers_echo_summary_is_never_carried() {
        let definition = "echo_summary() { _hp_summary \"$@\"; }";
        assert!(crate::worker::SCRIPT.contains(definition));
        let printed = std::process::Command::new("bash")
            .args(["--noprofile", "--norc", "-c"])
            .arg(format!("{definition}\ndeclare -f echo_summary"))
            .output()
            .expect("bash runs");
        assert_eq!(printed.stdout.trim_ascii_end(), WORKER_ECHO_SUMMARY);
        // A caller's state with DevStack's echo_summary; the worker ends with its own
        // standing in: the function is neither carried back nor unset.
        let devstack = b"echo_summary () \n{ \n    echo -e $@ >&6\n}";
        let mut base = Dump::default();
        base.add_function(b"echo_summary", devstack);
        let mut after = Dump::default();
        after.add_function(b"echo_summary", WORKER_ECHO_SUMMARY);
        assert!(after.funcs.is_empty() && after.changes_from(&base).is_empty());
        assert!(after.delta_script(&base).is_empty());
        // A hook that unset it (the worker's is gone too) still unsets it.
        assert_eq!(
            Dump::default().delta_script(&base),
            b"unset -f -- echo_summary\n"
        );
    }

    #[test]
    fn parses_vars_and_functions_without_worker_internals() {
        let dump = Dump::parse(DUMP).unwrap();
        assert!(dump.has_var("A") && dump.has_var("PATH") && dump.has_var("RO"));
        assert!(!dump.has_var("_hp_op") && !dump.has_var("SECONDS"));
        assert!(dump.has_function("f") && !dump.has_function("_hp_source"));
    }

    #[test]
    fn full_script_declares_globals_and_unsets_lost_environment() {
        let dump = Dump::parse(DUMP).unwrap();
        let env: HashSet<String> = ["PATH", "GONE", "SHLVL"].map(String::from).into();
        let script = String::from_utf8(dump.full_script(&env)).unwrap();
        assert!(script.contains("declare -g -- A=\"1\"\n"), "{script}");
        assert!(script.contains("{ declare -g -r RO=\"x\"; } 2>/dev/null || :"));
        assert!(script.contains("unset -v GONE\n"));
        assert!(!script.contains("SHLVL"));
        assert!(script.contains("    cat <<EOT\n}\nEOT\n"), "{script}");
    }

    #[test]
    fn reads_the_workers_three_section_dump() {
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(concat!(
                "a() { cat <<EOT\n}\nb () \nEOT\n}\n b() { echo b; }\n _hp_x() { :; }\n",
                "V=$'x\\ny'\n",
                "{ declare -F; printf '\\0'; declare -p; printf '\\0'; declare -f; printf '\\0end\\n'; }",
            ))
            .output()
            .unwrap();
        let dump = Dump::parse(&output.stdout).expect("complete dump");
        assert!(dump.has_function("a") && dump.has_function("b"));
        assert!(!dump.has_function("_hp_x"));
        let a = String::from_utf8(dump.funcs[&b"a".to_vec()].clone()).unwrap();
        assert!(a.contains("cat <<EOT\n}\nb () \nEOT"), "{a}");
        assert!(dump.has_var("V"));
        // Cut short: no trailer, not trusted.
        let cut = &output.stdout[..output.stdout.len() - 4];
        assert!(
            Dump::parse(cut).is_some_and(|d| !d.has_function("b")) || Dump::parse(cut).is_none()
        );
    }

    /// A state and a later one: A kept, B unset, C set, f removed, g defined.
    fn before_and_after() -> (Dump, Dump) {
        let base =
            Dump::parse(b"declare -- A=\"1\"\ndeclare -- B=\"2\"\n\0f\nf () \n{ \n    :\n}\n")
                .unwrap();
        let now =
            Dump::parse(b"declare -- A=\"1\"\ndeclare -- C=\"3\"\n\0g\ng () \n{ \n    :\n}\n")
                .unwrap();
        (base, now)
    }

    #[test]
    fn delta_holds_only_changes() {
        let (base, now) = before_and_after();
        let script = String::from_utf8(now.delta_script(&base)).unwrap();
        assert_eq!(
            script,
            "declare -g -- C=\"3\"\nunset -v B\ng () \n{ \n    :\n}\nunset -f -- f\n"
        );
    }

    #[test]
    fn a_delta_takes_attributes_away_by_declaring_afresh() {
        let base = Dump::parse(b"declare -x P=\"1\"\ndeclare -a L=([0]=\"x\")\n").unwrap();
        let now = Dump::parse(b"declare -- P=\"1\"\ndeclare -- L=\"x\"\n").unwrap();
        let script = String::from_utf8(now.delta_script(&base)).unwrap();
        assert_eq!(
            script,
            "unset -v L\ndeclare -g -- L=\"x\"\nunset -v P\ndeclare -g -- P=\"1\"\n"
        );
    }

    #[test]
    fn associative_arrays_are_taken_apart_as_bash_prints_them() {
        let line =
            br#"declare -Ax M=(["]"]="z" [b]="" [a]="1" [$'n\nl']=$'x\ny' ["k 2"]="v \"q\" \$x" )"#;
        let (flags, elements) = assoc_elements(line).unwrap();
        assert_eq!(flags, b"Ax");
        let keys: Vec<&[u8]> = elements.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [&b"\"]\""[..], b"b", b"a", b"$'n\\nl'", b"\"k 2\""]);
        assert_eq!(elements[4].1, br#""v \"q\" \$x""#);
        assert_eq!(assoc_line("M", &flags, &elements), line);
        assert_eq!(
            assoc_elements(b"declare -A E=()"),
            Some((b"A".to_vec(), vec![]))
        );
        assert_eq!(assoc_elements(b"declare -a L=([0]=\"x\")"), None);
    }

    #[test]
    fn a_changed_nameref_is_unset_as_a_nameref() {
        let base = Dump::parse(b"declare -n R=\"A\"\ndeclare -- A=\"1\"\n").unwrap();
        let now = Dump::parse(b"declare -n R=\"B\"\ndeclare -- A=\"1\"\n").unwrap();
        let script = String::from_utf8(now.delta_script(&base)).unwrap();
        assert_eq!(script, "unset -n R\ndeclare -g -n R=\"B\"\n");
    }

    #[test]
    fn changes_name_what_differs_and_merge_back() {
        let (base, now) = before_and_after();
        let changes = now.changes_from(&base);
        let names: Vec<String> = changes.iter().map(Change::name).collect();
        assert_eq!(names, ["C", "B", "g()", "f()"]);
        assert_eq!(base.with_changes(&changes), now);
    }

    #[test]
    fn a_callers_raw_dump_is_read_as_a_full_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let mut raw = DUMP_HEADER.to_vec();
        raw.extend_from_slice(b"4\n");
        raw.extend_from_slice(DUMP);
        std::fs::write(&path, raw).unwrap();
        let (generation, script) = StateFile::new(&path).read().unwrap().unwrap();
        assert_eq!(generation, 4);
        let script = String::from_utf8(script).unwrap();
        assert!(script.contains("declare -g -- A=\"1\""), "{script}");
        assert!(!script.contains("SECONDS") && !script.contains("_hp_"));
    }

    #[test]
    fn state_file_is_private_and_replaced_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let target = dir.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        StateFile::new(&path).write(1, b"A=1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }

    #[test]
    fn a_write_based_on_a_stale_generation_is_refused_and_keeps_the_newer_state() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("state"));
        assert_eq!(file.read().unwrap(), None);
        file.write(3, b"A=1\n").unwrap();
        for stale in [2, 3] {
            let err = file.write(stale, b"A=stale\n").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
            assert!(err.to_string().contains("generation 3"), "{err}");
        }
        let (generation, script) = file.read().unwrap().unwrap();
        assert_eq!(generation, 3);
        assert!(script.ends_with(b"A=1\n"));
        file.write(4, b"A=2\n").unwrap();
    }

    #[test]
    fn a_state_path_that_is_not_a_regular_file_is_refused() {
        let file = StateFile::new("/dev/zero");
        let err = file.read().unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
