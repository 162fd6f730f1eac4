//! Reading extras.d directories and judging each entry.
//!
//! [`list`] opens the DIR arguments (made absolute) and reads the names they hold, with the
//! file type the directory listing gives; [`classify`] decides, for one name in one directory,
//! whether it is a hook (with its sequence number, guard services, warning and the owner and
//! mode that `trust` judges) or a skip with its [`Reason`]. Ordering and overrides between
//! directories are `lib.rs`'s business; guard parsing is `guard.rs`'s.
//!
//! Listing 10,000 hooks should cost little more than `grep -m1` over them (scripts/bench
//! `listing`), so a regular file costs four system calls, as grep's do: `openat` relative to
//! the directory's descriptor, one `fstat`, one `read` when the file fits the buffer, `close`.
//! The type comes from the directory entry (`d_type`); only links and entries of unknown type
//! are stat'ed, and readability is what `open` and the mode bits say, not a separate
//! `access` call.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Type;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

use crate::guard;
use crate::Error;

/// Why an entry will not run: the `reason` of its `skip` record, one of the record
/// contract's closed set (the listing reasons of [`SkipReason`]).
pub(crate) use hookpipe::record::SkipReason as Reason;

/// Who owns a file and who may write it: what `trust` needs, from a stat already made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    pub(crate) fn of(stat: &FileStat) -> Owner {
        Owner {
            mode: stat.st_mode,
            uid: stat.st_uid,
            gid: stat.st_gid,
        }
    }
}

/// What the listing says about one entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    Hook {
        seq: String,
        services: Option<Vec<String>>,
        warning: Option<String>,
        /// The file read (a link's target): its owner and mode.
        owner: Owner,
        /// The entry is a symbolic link, so its target's directories matter too.
        link: bool,
    },
    Skip {
        reason: Reason,
        message: String,
    },
}

pub(crate) fn skip(reason: Reason, message: impl Into<String>) -> Verdict {
    Verdict::Skip {
        reason,
        message: message.into(),
    }
}

/// One directory being listed: its absolute path and the open directory, which every entry
/// is examined and opened relative to (one name to look up per file, not a whole path).
pub(crate) struct Dir {
    pub path: PathBuf,
    stream: nix::dir::Dir,
}

impl fmt::Debug for Dir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dir").field("path", &self.path).finish()
    }
}

impl Dir {
    fn open(path: PathBuf) -> nix::Result<Dir> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let stream = nix::dir::Dir::open(&path, flags, Mode::empty())?;
        Ok(Dir { path, stream })
    }
}

/// A name found in one of the directories; `dir` indexes the list of directories and
/// `kind` is the type the listing gave (`None`: the file system did not say).
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: OsString,
    pub dir: usize,
    pub kind: Option<Type>,
}

/// Reads every directory. Directories are made absolute against the current directory
/// without resolving symlinks, and a directory named twice is read once. A missing
/// directory is an error unless `missing_ok`; one that is not a directory always is.
pub(crate) fn list(dirs: &[PathBuf], missing_ok: bool) -> Result<(Vec<Dir>, Vec<Entry>), Error> {
    let mut opened: Vec<Dir> = Vec::with_capacity(dirs.len());
    let mut entries = Vec::new();
    for given in dirs {
        let error = |errno: Errno| Error::Dir {
            path: given.clone(),
            err: io::Error::from(errno),
        };
        if given.as_os_str().is_empty() {
            // `hook-list "$UNSET"`: what the shell does with an empty path.
            if missing_ok {
                continue;
            }
            return Err(error(Errno::ENOENT));
        }
        let path = absolute(given).map_err(|err| Error::Dir {
            path: given.clone(),
            err,
        })?;
        if opened.iter().any(|dir| dir.path == path) {
            continue;
        }
        let mut dir = match Dir::open(path) {
            Ok(dir) => dir,
            Err(Errno::ENOENT) if missing_ok => continue,
            Err(errno) => return Err(error(errno)),
        };
        let index = opened.len();
        for entry in dir.stream.iter() {
            let entry = entry.map_err(error)?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            entries.push(Entry {
                name: OsStr::from_bytes(name).to_owned(),
                dir: index,
                kind: entry.file_type(),
            });
        }
        opened.push(dir);
    }
    Ok((opened, entries))
}

/// `path` made absolute against the current directory, without resolving symlinks or
/// `..`; `.` components and a trailing slash go, so `./d/` and `d` name one directory.
pub(crate) fn absolute(path: &Path) -> io::Result<PathBuf> {
    Ok(std::path::absolute(path)?.components().collect())
}

/// Judges the entry `name` (of type `kind`, when the listing said) of `dir`. `head` is a
/// buffer of at least [`guard::HEAD_LIMIT`] + 1 bytes, reused from file to file.
///
/// Checks run from the most to the least obvious: dotfiles and plainly-not-hook names
/// first (so a consumer can hide them whatever they are), then the file type, then the
/// name's shape, then readability; only then is the file read for its guard.
pub(crate) fn classify(dir: &Dir, name: &OsStr, kind: Option<Type>, head: &mut [u8]) -> Verdict {
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
    let link = match entry_kind(dir, name, kind) {
        Ok(link) => link,
        Err(verdict) => return verdict,
    };
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
    let (owner, services) = match read_guard(dir, name, head) {
        Ok(found) => found,
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
        owner,
        link,
    }
}

/// Whether the entry is a regular file (`Ok(false)`) or a link to one (`Ok(true)`), from the
/// listing's type where it is known; links and unknown types are stat'ed.
fn entry_kind(dir: &Dir, name: &OsStr, kind: Option<Type>) -> Result<bool, Verdict> {
    match kind {
        Some(Type::File) => Ok(false),
        Some(Type::Symlink) => follow(dir, name).map(|()| true),
        Some(other) => Err(type_verdict(other).unwrap_or_else(|| {
            skip(
                Reason::NotRegular,
                "not a regular file: only regular files are hooks",
            )
        })),
        None => {
            let own =
                nix::sys::stat::fstatat(dir.stream.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|errno| {
                        skip(
                            Reason::Unreadable,
                            format!("cannot stat it: {}", errno.desc()),
                        )
                    })?;
            match type_of(&own) {
                Type::Symlink => follow(dir, name).map(|()| true),
                other => type_verdict(other).map_or(Ok(false), Err),
            }
        }
    }
}

/// The type of what the link `name` leads to, as a verdict when it is not a regular file; a
/// link that leads nowhere is a verdict of its own.
fn follow(dir: &Dir, name: &OsStr) -> Result<(), Verdict> {
    match nix::sys::stat::fstatat(dir.stream.as_fd(), name, AtFlags::empty()) {
        Ok(target) => type_verdict(type_of(&target)).map_or(Ok(()), Err),
        Err(errno) => {
            let target = nix::fcntl::readlinkat(dir.stream.as_fd(), name)
                .map(|target| hookpipe::bytes::display(target.as_bytes()))
                .unwrap_or_else(|_| "?".to_owned());
            Err(skip(
                Reason::BrokenLink,
                format!("symbolic link to {target}: {}", errno.desc()),
            ))
        }
    }
}

fn type_of(stat: &FileStat) -> Type {
    let format = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    match format {
        SFlag::S_IFDIR => Type::Directory,
        SFlag::S_IFLNK => Type::Symlink,
        SFlag::S_IFIFO => Type::Fifo,
        SFlag::S_IFSOCK => Type::Socket,
        SFlag::S_IFCHR => Type::CharacterDevice,
        SFlag::S_IFBLK => Type::BlockDevice,
        _ => Type::File,
    }
}

/// `None` for a regular file, else why the entry is not a hook.
fn type_verdict(kind: Type) -> Option<Verdict> {
    let what = match kind {
        Type::File => return None,
        Type::Directory => return Some(skip(Reason::Directory, "a directory, not a hook file")),
        Type::Fifo => "a FIFO",
        Type::Socket => "a socket",
        Type::CharacterDevice => "a character device",
        Type::BlockDevice => "a block device",
        Type::Symlink => "not a regular file",
    };
    Some(skip(
        Reason::NotRegular,
        format!("{what}: only regular files are hooks"),
    ))
}

/// Opens the file relative to its directory, without blocking (it may have been swapped for
/// a FIFO since it was listed), and looks for its guard in the first [`guard::HEAD_LIMIT`]
/// bytes. The one `fstat` gives the type, the mode and the owner.
///
/// DevStack skips a hook that fails bash's `-r` test, which asks the kernel for the
/// effective user. `open` asks the same question, so its `EACCES` is that answer. The test
/// always passes for root, but DevStack refuses to run as root, and a hook author who
/// removes every read bit means "do not run this": so a file with no read bit at all is
/// unreadable for every user, root included.
fn read_guard(
    dir: &Dir,
    name: &OsStr,
    head: &mut [u8],
) -> Result<(Owner, Option<Vec<String>>), Verdict> {
    let cannot_read = |errno: Errno| {
        skip(
            Reason::Unreadable,
            format!("cannot read it: {}", errno.desc()),
        )
    };
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::openat(dir.stream.as_fd(), name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::EACCES) => {
            let no_bit = nix::sys::stat::fstatat(dir.stream.as_fd(), name, AtFlags::empty())
                .is_ok_and(|stat| stat.st_mode & 0o444 == 0);
            return Err(if no_bit {
                no_read_bit()
            } else {
                skip(
                    Reason::Unreadable,
                    format!("no read permission for this user: {}", Errno::EACCES.desc()),
                )
            });
        }
        Err(errno) => return Err(cannot_read(errno)),
    };
    let stat = nix::sys::stat::fstat(&fd).map_err(cannot_read)?;
    if let Some(verdict) = type_verdict(type_of(&stat)) {
        return Err(verdict);
    }
    if stat.st_mode & 0o444 == 0 {
        return Err(no_read_bit());
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    let (len, complete) = guard::read_head(File::from(fd), size, head).map_err(|err| {
        skip(
            Reason::Unreadable,
            format!("cannot read it: {}", describe(&err)),
        )
    })?;
    Ok((Owner::of(&stat), guard::services(&head[..len], complete)))
}

fn no_read_bit() -> Verdict {
    skip(
        Reason::Unreadable,
        "no read permission for anyone (mode has no r bit)",
    )
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
    let starts = |prefix: &[u8]| {
        name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    let ends = |suffix: &[u8]| {
        name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    PREFIXES.iter().any(|prefix| starts(prefix)) || SUFFIXES.iter().any(|suffix| ends(suffix))
}

/// An I/O error as the C library words it (`No such file or directory`), without Rust's
/// `(os error N)` suffix.
pub(crate) fn describe(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// The verdict on `name` in `dir`, with the type the listing gives or, with
    /// `unknown_type`, as on a file system whose listing gives none.
    fn judge(dir: &Path, name: &str, unknown_type: bool) -> Verdict {
        let (dirs, entries) = list(&[dir.to_path_buf()], false).unwrap();
        let entry = entries.iter().find(|entry| entry.name == name).unwrap();
        let kind = if unknown_type { None } else { entry.kind };
        classify(
            &dirs[0],
            &entry.name,
            kind,
            &mut vec![0; guard::HEAD_LIMIT + 1],
        )
    }

    fn reason_of(dir: &Path, name: &str) -> Option<&'static str> {
        match judge(dir, name, false) {
            Verdict::Hook { .. } => None,
            Verdict::Skip { reason, .. } => Some(reason.as_str()),
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
            match judge(tmp.path(), name, false) {
                Verdict::Hook { warning, seq, .. } => {
                    assert_eq!(warning.is_some(), warns, "{name}");
                    assert_eq!(seq, name[..2], "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    /// Some file systems list no types (`DT_UNKNOWN`): then every entry is stat'ed, and the
    /// verdicts must be the ones the listing's types give.
    #[test]
    fn an_unknown_type_is_stated_to_the_same_verdict() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(
            dir.join("50-file.sh"),
            "if is_service_enabled a; then\nfi\n",
        )
        .unwrap();
        fs::create_dir(dir.join("50-dir.sh")).unwrap();
        std::os::unix::fs::symlink("50-file.sh", dir.join("50-link.sh")).unwrap();
        std::os::unix::fs::symlink("50-dir.sh", dir.join("50-dirlink.sh")).unwrap();
        std::os::unix::fs::symlink("nowhere", dir.join("50-dangling.sh")).unwrap();
        nix::unistd::mkfifo(&dir.join("50-fifo.sh"), Mode::from_bits_truncate(0o644)).unwrap();
        fs::write(dir.join("README"), "").unwrap();
        for name in [
            "50-file.sh",
            "50-dir.sh",
            "50-link.sh",
            "50-dirlink.sh",
            "50-dangling.sh",
            "50-fifo.sh",
            "README",
        ] {
            assert_eq!(judge(dir, name, true), judge(dir, name, false), "{name}");
        }
        assert!(matches!(
            judge(dir, "50-link.sh", true),
            Verdict::Hook { link: true, .. }
        ));
        assert!(matches!(
            judge(dir, "50-file.sh", true),
            Verdict::Hook {
                link: false,
                services: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn describe_drops_the_os_error_suffix() {
        let err = io::Error::from_raw_os_error(nix::libc::ENOENT);
        assert_eq!(describe(&err), "No such file or directory");
    }
}
