//! Reading extras.d directories and judging each entry.
//!
//! [`list`] turns the DIR arguments into absolute directories and the names they hold;
//! [`classify`] decides, for one name in one directory, whether it is a hook (with its
//! sequence number, guard services and warning) or a skip with its [`Reason`]. Ordering and
//! overrides between directories are `lib.rs`'s business; guard parsing is `guard.rs`'s.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::unistd::AccessFlags;

use crate::guard;
use crate::Error;

/// Why an entry will not run: the stable `reason` code of its `skip` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Documentation or a backup copy: README*, LICENSE*, *.md, *.txt, *.rst, *~, *.orig...
    NotAHook,
    /// A `.sh` file whose name is not `NN-name.sh`.
    BadPrefix,
    /// Not a `.sh` file: DevStack's `*.sh` glob never sees it.
    NoShSuffix,
    /// A name starting with `.`, which the glob does not match either.
    Dotfile,
    /// A hook the user running the listing may not read, or that nobody may read.
    Unreadable,
    /// A symbolic link whose target does not exist (or loops).
    BrokenLink,
    /// A directory (or a link to one).
    Directory,
    /// A FIFO, socket or device (or a link to one).
    NotRegular,
    /// A same-named entry in an earlier directory wins.
    Overridden,
    /// An enabled plugin whose directory does not exist.
    MissingPluginDir,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::NotAHook => "not-a-hook",
            Reason::BadPrefix => "bad-prefix",
            Reason::NoShSuffix => "no-sh-suffix",
            Reason::Dotfile => "dotfile",
            Reason::Unreadable => "unreadable",
            Reason::BrokenLink => "broken-link",
            Reason::Directory => "directory",
            Reason::NotRegular => "not-regular",
            Reason::Overridden => "overridden",
            Reason::MissingPluginDir => "missing-plugin-dir",
        }
    }
}

/// What the listing says about one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Hook {
        seq: String,
        services: Option<Vec<String>>,
        warning: Option<String>,
    },
    Skip {
        reason: Reason,
        message: String,
    },
}

fn skip(reason: Reason, message: impl Into<String>) -> Verdict {
    Verdict::Skip {
        reason,
        message: message.into(),
    }
}

/// A name found in one of the directories; `dir` indexes the list of directories.
#[derive(Debug)]
pub struct Entry {
    pub name: OsString,
    pub dir: usize,
}

/// Reads every directory. Directories are made absolute against the current directory
/// without resolving symlinks, and a directory named twice is read once. A missing
/// directory is an error unless `missing_ok`; one that is not a directory always is.
pub fn list(dirs: &[PathBuf], missing_ok: bool) -> Result<(Vec<PathBuf>, Vec<Entry>), Error> {
    let mut absolutes: Vec<PathBuf> = Vec::with_capacity(dirs.len());
    let mut entries = Vec::new();
    for given in dirs {
        if given.as_os_str().is_empty() {
            // `hook-list "$UNSET"`: what the shell does with an empty path.
            let err = io::Error::from_raw_os_error(nix::libc::ENOENT);
            if missing_ok {
                continue;
            }
            return Err(Error::Dir {
                path: given.clone(),
                err,
            });
        }
        let dir = absolute(given).map_err(|err| Error::Dir {
            path: given.clone(),
            err,
        })?;
        if absolutes.contains(&dir) {
            continue;
        }
        match fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::Dir {
                    path: given.clone(),
                    err: io::Error::from_raw_os_error(nix::libc::ENOTDIR),
                })
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound && missing_ok => continue,
            Err(err) => {
                return Err(Error::Dir {
                    path: given.clone(),
                    err,
                })
            }
        }
        let index = absolutes.len();
        let read = |err| Error::Dir {
            path: given.clone(),
            err,
        };
        for entry in fs::read_dir(&dir).map_err(read)? {
            entries.push(Entry {
                name: entry.map_err(read)?.file_name(),
                dir: index,
            });
        }
        absolutes.push(dir);
    }
    Ok((absolutes, entries))
}

/// `path` made absolute against the current directory, without resolving symlinks or
/// `..`; `.` components and a trailing slash go, so `./d/` and `d` name one directory.
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    Ok(std::path::absolute(path)?.components().collect())
}

/// Judges the entry `name` of the absolute directory `dir`.
///
/// Checks run from the most to the least obvious: dotfiles and plainly-not-hook names
/// first (so a consumer can hide them whatever they are), then the file type, then the
/// name's shape, then readability; only then is the file opened to look for its guard.
pub fn classify(dir: &Path, name: &OsStr) -> Verdict {
    let bytes = name.as_bytes();
    if bytes.starts_with(b".") {
        return skip(
            Reason::Dotfile,
            "hidden file: DevStack's *.sh glob does not match names starting with '.'",
        );
    }
    if is_plainly_not_a_hook(bytes) {
        return skip(
            Reason::NotAHook,
            "documentation or a backup copy, not a hook",
        );
    }
    let path = dir.join(name);
    let meta = match file_metadata(&path) {
        Ok(meta) => meta,
        Err(verdict) => return verdict,
    };
    if let Some(verdict) = type_verdict(&meta) {
        return verdict;
    }
    let Some(stem) = bytes.strip_suffix(b".sh") else {
        return if sequence(bytes).is_some() {
            skip(
                Reason::NoShSuffix,
                "named like a hook but without the .sh suffix: DevStack never runs it",
            )
        } else {
            skip(
                Reason::NoShSuffix,
                "not a .sh file: DevStack's *.sh glob never sees it",
            )
        };
    };
    let seq = match sequence(stem) {
        Some(seq) if stem.len() > 3 => seq,
        _ => {
            return skip(
                Reason::BadPrefix,
                "a hook is named NN-name.sh: two digits, a dash, a non-empty name",
            )
        }
    };
    if let Some(verdict) = unreadable(&path, &meta) {
        return verdict;
    }
    let services = match read_guard(&path) {
        Ok(services) => services,
        Err(verdict) => return verdict,
    };
    let warning = reserved(seq).then(|| {
        format!(
            "sequence number {seq} is reserved for the framework (00-09 and 90-99); the hook runs anyway"
        )
    });
    Verdict::Hook {
        seq: seq.to_owned(),
        services,
        warning,
    }
}

/// The `NN` of a name starting `NN-`.
fn sequence(bytes: &[u8]) -> Option<&str> {
    match bytes {
        [a, b, b'-', ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
            std::str::from_utf8(&bytes[..2]).ok()
        }
        _ => None,
    }
}

fn reserved(seq: &str) -> bool {
    seq.starts_with('0') || seq.starts_with('9')
}

/// Names nobody means as a hook: documentation and the copies editors, patch and package
/// managers leave behind. They get their own reason so a consumer can hide them.
fn is_plainly_not_a_hook(name: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[b"readme", b"license", b"copying"];
    const SUFFIXES: &[&[u8]] = &[
        b".md",
        b".txt",
        b".rst",
        b"~",
        b".orig",
        b".rej",
        b".bak",
        b".swp",
        b".dpkg-old",
        b".dpkg-new",
        b".dpkg-dist",
        b".dpkg-bak",
        b".rpmsave",
        b".rpmnew",
        b".rpmorig",
        b".ucf-old",
        b".ucf-new",
        b".ucf-dist",
    ];
    let lower = name.to_ascii_lowercase();
    PREFIXES.iter().any(|prefix| lower.starts_with(prefix))
        || SUFFIXES.iter().any(|suffix| lower.ends_with(suffix))
}

/// The metadata of what `path` names, following a symlink; a link that leads nowhere is a
/// verdict of its own.
fn file_metadata(path: &Path) -> Result<Metadata, Verdict> {
    let own = fs::symlink_metadata(path).map_err(|err| {
        skip(
            Reason::Unreadable,
            format!("cannot stat it: {}", describe(&err)),
        )
    })?;
    if !own.file_type().is_symlink() {
        return Ok(own);
    }
    fs::metadata(path).map_err(|err| {
        let target = fs::read_link(path)
            .map(|target| hookpipe::bytes::display(target.as_os_str().as_bytes()))
            .unwrap_or_else(|_| "?".to_owned());
        skip(
            Reason::BrokenLink,
            format!("symbolic link to {target}: {}", describe(&err)),
        )
    })
}

fn type_verdict(meta: &Metadata) -> Option<Verdict> {
    let kind = meta.file_type();
    if kind.is_dir() {
        return Some(skip(Reason::Directory, "a directory, not a hook file"));
    }
    if kind.is_file() {
        return None;
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    };
    Some(skip(
        Reason::NotRegular,
        format!("{what}: only regular files are hooks"),
    ))
}

/// DevStack skips a hook that fails bash's `-r` test, which asks the kernel for the
/// effective user (`eaccess`). That test always passes for root, but DevStack refuses to
/// run as root, and a hook author who removes every read bit means "do not run this": so a
/// file with no read bit at all is unreadable for every user, root included.
fn unreadable(path: &Path, meta: &Metadata) -> Option<Verdict> {
    if meta.permissions().mode() & 0o444 == 0 {
        return Some(skip(
            Reason::Unreadable,
            "no read permission for anyone (mode has no r bit)",
        ));
    }
    nix::unistd::eaccess(path, AccessFlags::R_OK)
        .err()
        .map(|errno| {
            skip(
                Reason::Unreadable,
                format!("no read permission for this user: {}", errno.desc()),
            )
        })
}

/// Opens the file without blocking (it may have been swapped for a FIFO since it was
/// examined) and looks for its guard in the first [`guard::HEAD_LIMIT`] bytes.
fn read_guard(path: &Path) -> Result<Option<Vec<String>>, Verdict> {
    let cannot_read = |err: io::Error| {
        skip(
            Reason::Unreadable,
            format!("cannot read it: {}", describe(&err)),
        )
    };
    let file = File::options()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path)
        .map_err(cannot_read)?;
    let meta = file.metadata().map_err(cannot_read)?;
    if let Some(verdict) = type_verdict(&meta) {
        return Err(verdict);
    }
    let (head, complete) = guard::read_head(file).map_err(cannot_read)?;
    Ok(guard::services(&head, complete))
}

/// An I/O error as the C library words it (`No such file or directory`), without Rust's
/// `(os error N)` suffix.
pub fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(dir: &Path, name: &str) -> Option<&'static str> {
        match classify(dir, OsStr::new(name)) {
            Verdict::Hook { .. } => None,
            Verdict::Skip { reason, .. } => Some(reason.code()),
        }
    }

    #[test]
    fn names_decide_before_the_file_is_looked_at() {
        let tmp = tempfile::tempdir().unwrap();
        let names = [
            ("50-x.sh", None),
            ("50-a b$(c).sh", None),
            ("5-x.sh", Some("bad-prefix")),
            ("100-x.sh", Some("bad-prefix")),
            ("ab-x.sh", Some("bad-prefix")),
            ("50-.sh", Some("bad-prefix")),
            ("50_x.sh", Some("bad-prefix")),
            ("tempest.sh", Some("bad-prefix")),
            ("70-trove", Some("no-sh-suffix")),
            ("50-x.SH", Some("no-sh-suffix")),
            ("Makefile", Some("no-sh-suffix")),
            (".50-x.sh", Some("dotfile")),
            ("README", Some("not-a-hook")),
            ("README.md", Some("not-a-hook")),
            ("notes.txt", Some("not-a-hook")),
            ("index.rst", Some("not-a-hook")),
            ("50-x.sh~", Some("not-a-hook")),
            ("50-x.sh.orig", Some("not-a-hook")),
            ("50-x.sh.dpkg-old", Some("not-a-hook")),
        ];
        for (name, _) in names {
            fs::write(tmp.path().join(name), "true\n").unwrap();
        }
        for (name, expected) in names {
            assert_eq!(reason_of(tmp.path(), name), expected, "{name}");
        }
    }

    #[test]
    fn reserved_numbers_warn_but_run() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, warns) in [
            ("00-a.sh", true),
            ("09-a.sh", true),
            ("10-a.sh", false),
            ("89-a.sh", false),
            ("90-a.sh", true),
            ("99-a.sh", true),
        ] {
            fs::write(tmp.path().join(name), "true\n").unwrap();
            match classify(tmp.path(), OsStr::new(name)) {
                Verdict::Hook { warning, seq, .. } => {
                    assert_eq!(warning.is_some(), warns, "{name}");
                    assert_eq!(seq, name[..2], "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn describe_drops_the_os_error_suffix() {
        let err = io::Error::from_raw_os_error(nix::libc::ENOENT);
        assert_eq!(describe(&err), "No such file or directory");
    }
}
