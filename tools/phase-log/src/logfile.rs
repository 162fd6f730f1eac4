//! Log files as DevStack names them, with its weaknesses fixed (docs/devstack.md §7, §9 item 16).
//!
//! `--logfile PATH` (LOGFILE) writes `PATH.<ts>` and the summary `PATH.summary.<ts>` (one
//! timestamp, not two), points the links `PATH` and `PATH.summary` at the newest, and first
//! removes files of exactly those two name shapes in that directory whose mtime is more
//! than LOGDAYS days old; nothing else is touched. `<ts>` is DevStack's TIMESTAMP_FORMAT,
//! `%F-%H%M%S` in local time. A LOGFILE without a slash lives in the current directory.
//!
//! A run made of several pipelines writes one log through a session: `phase-log
//! --open-log` opens the files as above and prints the log's path; the caller exports it
//! as `HOOKPIPE_LOG_SESSION`, and every later phase-log appends to that file (and to its
//! summary, found by name). Opening when a session is already set reuses it, so a child
//! script (clean.sh running unstack.sh) stays in its parent's log.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::libc;

/// Length of a `%F-%H%M%S` timestamp: `2026-07-17-203012`.
const TS_LEN: usize = 17;

/// Whether `text` is a `%F-%H%M%S` timestamp.
fn is_timestamp(text: &[u8]) -> bool {
    const SHAPE: &[u8; TS_LEN] = b"dddd-dd-dd-dddddd";
    text.len() == TS_LEN
        && SHAPE.iter().zip(text).all(|(want, &got)| match want {
            b'd' => got.is_ascii_digit(),
            other => got == *other,
        })
}

/// DevStack's TIMESTAMP_FORMAT (`%F-%H%M%S`) for `when`, in local time (TZ respected).
pub fn local_timestamp(when: SystemTime) -> String {
    let secs = when
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let time = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: `tm` is plain data for which all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call; localtime_r is the
    // thread-safe form and writes only into `tm`.
    let converted = unsafe { !libc::localtime_r(&time, &mut tm).is_null() };
    if !converted {
        // A time outside the C library's range: UTC is still a usable name.
        let mut stamp = String::new();
        hookpipe::time::write_stamp(&mut stamp, secs.saturating_mul(1000), '-');
        return stamp[..19].replace(':', "");
    }
    format!(
        "{:04}-{:02}-{:02}-{:02}{:02}{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// The files of one log: the log itself and its summary file, if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFiles {
    pub log: PathBuf,
    pub summary: Option<PathBuf>,
}

/// Problems that do not stop the run (a link or an old file that could not be changed),
/// for stderr.
pub(crate) type Notes = Vec<String>;

/// Where `--logfile PATH` lives: the directory (the current one when PATH has no slash)
/// and the base name.
fn split_logfile(path: &Path) -> io::Result<(PathBuf, OsString)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_os_string()))
}

fn with_suffix(name: &OsString, suffix: &str) -> OsString {
    let mut out = name.clone();
    out.push(suffix);
    out
}

/// Whether a directory entry is one of our logs: `NAME.<ts>` or `NAME.summary.<ts>`.
fn is_our_log(entry: &[u8], name: &[u8]) -> bool {
    let Some(rest) = entry.strip_prefix(name) else {
        return false;
    };
    let ts = rest
        .strip_prefix(b".summary.")
        .or_else(|| rest.strip_prefix(b"."));
    ts.is_some_and(is_timestamp)
}

/// Removes `NAME.<ts>` and `NAME.summary.<ts>` regular files in `dir` last modified more
/// than `days` days before `now`. Returns what was removed; problems go to `notes`.
pub fn prune(
    dir: &Path,
    name: &OsString,
    days: u64,
    now: SystemTime,
    notes: &mut Notes,
) -> Vec<PathBuf> {
    let max_age = Duration::from_secs(days.saturating_mul(86_400));
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            notes.push(format!("cannot prune old logs in {}: {err}", dir.display()));
            return removed;
        }
    };
    for entry in entries.flatten() {
        if !is_our_log(entry.file_name().as_bytes(), name.as_bytes()) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > max_age);
        if meta.file_type().is_file() && old {
            match fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(err) => notes.push(format!("cannot remove old log {}: {err}", path.display())),
            }
        }
    }
    removed.sort();
    removed
}

/// Points `link` at `target` (a name in the same directory), replacing what was there in
/// one step, so a reader never finds the link missing.
fn relink(dir: &Path, link: &OsString, target: &OsString) -> io::Result<()> {
    let mut tmp_name = OsString::from(".");
    tmp_name.push(link);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(&tmp_name);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, dir.join(link)).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// Every file phase-log writes is opened here, never through a final symbolic link: in a
/// shared directory a link planted at a predictable name (DevStack's log names are) would
/// make phase-log truncate or append to another user's file. Such a path is refused, naming
/// it. The links the system provides for a process's own descriptors (`/dev/stdout`,
/// `/dev/fd/N`, `/proc/self/fd/N`) are followed: nobody can plant those.
fn open_output(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    create_parent(path)?;
    if !path.starts_with("/dev") && !path.starts_with("/proc") {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path).map_err(|err| {
        if err.raw_os_error() == Some(libc::ELOOP) {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link: refused (phase-log does not write through one)",
            )
        } else {
            err
        }
    })
}

/// Creates (or empties) a report file, and its directories; mode 0666 less the umask.
pub(crate) fn create(path: &Path) -> io::Result<File> {
    open_output(
        path,
        OpenOptions::new().write(true).create(true).truncate(true),
    )
}

/// Creates (or empties) a file readable by its owner only (mode 0600, whatever the umask,
/// and an existing file's mode too): `--records` holds every `state` record, so every
/// variable of the run, passwords included.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let file = open_output(
        path,
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600),
    )?;
    if file.metadata()?.file_type().is_file() {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Opens `path` for appending, creating it (mode 0666 less the umask) and its parent
/// directories.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    open_output(path, OpenOptions::new().create(true).append(true))
}

/// Starts a DevStack log for `--logfile PATH` at `now`: prunes, names the files, creates
/// them, moves the links. Two runs in the same second share the files (DevStack appends
/// too).
pub fn start_devstack_log(
    path: &Path,
    days: u64,
    now: SystemTime,
    notes: &mut Notes,
) -> io::Result<LogFiles> {
    let (dir, name) = split_logfile(path)?;
    fs::create_dir_all(&dir)?;
    prune(&dir, &name, days, now, notes);
    let ts = local_timestamp(now);
    let log_name = with_suffix(&name, &format!(".{ts}"));
    let summary_name = with_suffix(&name, &format!(".summary.{ts}"));
    let files = LogFiles {
        log: dir.join(&log_name),
        summary: Some(dir.join(&summary_name)),
    };
    open_append(&files.log)?;
    open_append(&dir.join(&summary_name))?;
    for (link, target) in [
        (name.clone(), log_name),
        (with_suffix(&name, ".summary"), summary_name),
    ] {
        if let Err(err) = relink(&dir, &link, &target) {
            notes.push(format!(
                "cannot point {} at the new log: {err}",
                dir.join(&link).display()
            ));
        }
    }
    Ok(files)
}

/// The files of a session log: the log, and its summary when the log has our name shape
/// (`NAME.<ts>` beside `NAME.summary.<ts>`).
pub fn session_files(log: &Path) -> LogFiles {
    let summary = log.file_name().and_then(|file| {
        let bytes = file.as_bytes();
        let dot = bytes.iter().rposition(|&b| b == b'.')?;
        let (name, ts) = (&bytes[..dot], &bytes[dot + 1..]);
        if name.is_empty() || !is_timestamp(ts) {
            return None;
        }
        let mut summary = name.to_vec();
        summary.extend_from_slice(b".summary.");
        summary.extend_from_slice(ts);
        Some(log.with_file_name(OsString::from_vec(summary)))
    });
    LogFiles {
        log: log.to_path_buf(),
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_shape() {
        let ts = local_timestamp(SystemTime::now());
        assert!(is_timestamp(ts.as_bytes()), "{ts}");
        assert!(!is_timestamp(b"2026-07-17-20301"));
        assert!(!is_timestamp(b"2026-07-17T203012"));
    }

    #[test]
    fn our_log_names_and_nothing_else() {
        let name = b"stack.log";
        for yes in [
            &b"stack.log.2026-07-17-203012"[..],
            b"stack.log.summary.2026-07-17-203012",
        ] {
            assert!(is_our_log(yes, name));
        }
        for no in [
            &b"stack.log"[..],
            b"stack.log.summary",
            b"stack.log.2026-07-17-203012.summary.2026-07-17-203012",
            b"stack.log.old",
            b"stack.logx.2026-07-17-203012",
            b"other.2026-07-17-203012",
        ] {
            assert!(!is_our_log(no, name), "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn slashless_logfile_is_in_the_current_directory() {
        let (dir, name) = split_logfile(Path::new("stack.log")).unwrap();
        assert_eq!(dir, PathBuf::from("."));
        assert_eq!(name, "stack.log");
        let (dir, _) = split_logfile(Path::new("/opt/stack/logs/stack.log")).unwrap();
        assert_eq!(dir, PathBuf::from("/opt/stack/logs"));
    }

    #[test]
    fn session_summary_is_found_by_name() {
        let files = session_files(Path::new("/l/stack.log.2026-07-17-203012"));
        assert_eq!(
            files.summary,
            Some(PathBuf::from("/l/stack.log.summary.2026-07-17-203012"))
        );
        assert_eq!(session_files(Path::new("/l/my.log")).summary, None);
    }
}
