//! Who, besides the user of the run, could change what a hook runs.
//!
//! A hook is sourced by whoever runs the pipeline, often root, so whoever can write the hook
//! file, or any directory on its path (and so rename it and put another file in its place),
//! can run code as that user. [`Trust`] judges a hook file from the owner and mode that the
//! listing's one `fstat` already gave, and each directory from the hook's up to `/` once per
//! run: results are cached by path, so 10,000 hooks in one directory cost one walk. A path
//! is suspicious when it is
//!
//! - owned by someone other than root or the run's effective user (an owner can always
//!   change the mode back);
//! - writable by every user, except a root-owned directory with the sticky bit (`/tmp`),
//!   where nobody may rename or remove what they do not own;
//! - writable by a group that is not its owner's primary group (`getpwuid`), since other
//!   users may be in it; when the owner has no passwd entry, any group write is suspicious.
//!   Root-owned sticky directories are exempt here too, for the same reason.
//!
//! A symbolic link on the way is not judged itself (nobody changes a link's mode; who may
//! replace it is the directory's business): its target's path is walked instead, so every
//! directory the kernel passes through on the way to the file is covered. What `lib.rs`
//! does with the answer (a warning, or with `--strict` a skip) is its business.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::{lstat, SFlag};
use nix::unistd::{Gid, Group, Uid, User};

use crate::scan::Owner;

/// How many symbolic links a walk follows before it gives up, as the kernel's `ELOOP` does.
const MAX_LINKS: u32 = 40;

/// One path that others could change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub path: PathBuf,
    pub why: String,
}

/// The judge, with what it learnt so far in this run.
#[derive(Debug)]
pub(crate) struct Trust {
    euid: u32,
    /// A path (a directory, or a link on the way) and what is wrong with it or beyond it.
    paths: HashMap<PathBuf, Vec<Problem>>,
    /// A uid's name and primary group, `None` when it has no passwd entry.
    users: HashMap<u32, Option<(String, u32)>>,
}

impl Trust {
    /// A judge for a run as the current effective user.
    pub(crate) fn new() -> Trust {
        Trust::as_user(nix::unistd::geteuid().as_raw())
    }

    /// A judge for a run as `euid`.
    pub(crate) fn as_user(euid: u32) -> Trust {
        Trust {
            euid,
            paths: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// What is wrong with a hook: the file `path` with the owner and mode its `fstat` gave,
    /// in directory `dir`. A hook that is a link is walked as a path instead (its target's
    /// directories count).
    pub(crate) fn hook(
        &mut self,
        dir: &Path,
        path: &Path,
        owner: Owner,
        link: bool,
    ) -> Vec<Problem> {
        let mut found = Vec::new();
        if link {
            self.walk(path, 0, &mut found);
        } else {
            if let Some(why) = self.judge(owner, false) {
                found.push(Problem {
                    path: path.to_owned(),
                    why,
                });
            }
            self.walk(dir, 0, &mut found);
        }
        dedup(found)
    }

    /// What is wrong with `path` or any directory on its way, the file itself included,
    /// following links.
    pub(crate) fn path(&mut self, path: &Path) -> Vec<Problem> {
        let mut found = Vec::new();
        self.walk(path, 0, &mut found);
        dedup(found)
    }

    /// The user of the run, for messages: `root`, `stack (uid 1000)`.
    pub(crate) fn run_user(&mut self) -> String {
        self.user_name(self.euid)
    }

    /// `path` and each of its ancestors.
    fn walk(&mut self, path: &Path, links: u32, found: &mut Vec<Problem>) {
        for prefix in path.ancestors() {
            if !prefix.as_os_str().is_empty() {
                self.node(prefix, links, found);
            }
        }
    }

    fn node(&mut self, path: &Path, links: u32, found: &mut Vec<Problem>) {
        if let Some(known) = self.paths.get(path) {
            found.extend(known.iter().cloned());
            return;
        }
        let mut own = Vec::new();
        // What cannot be seen cannot be judged; the listing reports its own errors.
        if let Ok(stat) = lstat(path) {
            let format = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
            if format == SFlag::S_IFLNK {
                if links < MAX_LINKS {
                    if let Ok(target) = std::fs::read_link(path) {
                        let parent = path.parent().unwrap_or(Path::new("/"));
                        self.walk(&parent.join(target), links + 1, &mut own);
                    }
                }
            } else if let Some(why) = self.judge(Owner::of(&stat), format == SFlag::S_IFDIR) {
                own.push(Problem {
                    path: path.to_owned(),
                    why,
                });
            }
        }
        found.extend(own.iter().cloned());
        self.paths.insert(path.to_owned(), own);
    }

    /// Why others could change a file or directory with this owner and mode, if they can.
    fn judge(&mut self, owner: Owner, is_dir: bool) -> Option<String> {
        let mode = owner.mode & 0o7777;
        if owner.uid != 0 && owner.uid != self.euid {
            let who = self.user_name(owner.uid);
            return Some(format!(
                "owned by {who}, neither root nor the user of this run"
            ));
        }
        // The sticky bit keeps others from renaming or removing what they do not own, and
        // everything here is owned by root or the run's user (checked above).
        let sticky_root_dir = is_dir && mode & 0o1000 != 0 && owner.uid == 0;
        if mode & 0o002 != 0 && !sticky_root_dir {
            return Some(format!("writable by every user (mode {mode:04o})"));
        }
        if mode & 0o020 != 0 && !sticky_root_dir {
            let group = group_name(owner.gid);
            return match self.user(owner.uid) {
                Some((_, primary)) if primary == owner.gid => None,
                Some((name, _)) => Some(format!(
                    "writable by group {group} (mode {mode:04o}), which is not the primary group of its owner {name}"
                )),
                None => Some(format!(
                    "writable by group {group} (mode {mode:04o}), and its owner uid {} has no passwd entry",
                    owner.uid
                )),
            };
        }
        None
    }

    fn user(&mut self, uid: u32) -> Option<(String, u32)> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                User::from_uid(Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|user| (user.name, user.gid.as_raw()))
            })
            .clone()
    }

    fn user_name(&mut self, uid: u32) -> String {
        match self.user(uid) {
            Some((name, _)) if uid == 0 => name,
            Some((name, _)) => format!("{name} (uid {uid})"),
            None => format!("uid {uid}"),
        }
    }
}

impl Default for Trust {
    fn default() -> Trust {
        Trust::new()
    }
}

fn group_name(gid: u32) -> String {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(group)) => format!("{} (gid {gid})", group.name),
        _ => format!("gid {gid}"),
    }
}

/// Each path once, in the order found.
fn dedup(found: Vec<Problem>) -> Vec<Problem> {
    let mut seen: Vec<Problem> = Vec::with_capacity(found.len());
    for problem in found {
        if !seen.iter().any(|known| known.path == problem.path) {
            seen.push(problem);
        }
    }
    seen
}

/// The problems of one hook as one line for people: each path and why, then what it means.
pub(crate) fn describe(problems: &[Problem], run_user: &str) -> String {
    let mut text = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        let path = hookpipe::bytes::display(problem.path.as_os_str().as_bytes());
        // `write!` to a String cannot fail.
        let _ = write!(text, "{path} is {}", problem.why);
    }
    let them = if problems.len() == 1 { "it" } else { "them" };
    let _ = write!(
        text,
        ": whoever can change {them} can run code as {run_user}, the user of this run"
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(mode: u32, uid: u32, gid: u32) -> Owner {
        Owner { mode, uid, gid }
    }

    #[test]
    fn judges_owner_and_mode() {
        let mut trust = Trust::as_user(0);
        let cases = [
            (owner(0o100644, 0, 0), false, None),
            (owner(0o100664, 0, 0), false, None),
            (owner(0o100666, 0, 0), false, Some("every user")),
            (owner(0o040777, 0, 0), true, Some("every user")),
            (owner(0o041777, 0, 0), true, None),
            (owner(0o041777, 0, 0), false, Some("every user")),
            (owner(0o100644, 4242, 0), false, Some("owned by uid 4242")),
        ];
        for (owner, is_dir, expected) in cases {
            let why = trust.judge(owner, is_dir);
            match expected {
                None => assert_eq!(why, None, "{owner:?}"),
                Some(needle) => {
                    let why = why.unwrap_or_default();
                    assert!(why.contains(needle), "{owner:?}: {why}");
                }
            }
        }
    }

    /// Root's primary group is 0 on every system tests run on; any other group that root
    /// owns a group-writable file with is someone else's way in.
    #[test]
    fn group_writes_go_by_the_owners_primary_group() {
        let mut trust = Trust::as_user(0);
        assert_eq!(trust.judge(owner(0o100664, 0, 0), false), None);
        let why = trust
            .judge(owner(0o100664, 0, 4243), false)
            .unwrap_or_default();
        assert!(
            why.contains("not the primary group of its owner root"),
            "{why}"
        );
        // The run's own user, unknown to passwd: any group write is suspicious.
        let mut trust = Trust::as_user(4244);
        assert_eq!(trust.judge(owner(0o100644, 4244, 4244), false), None);
        let why = trust
            .judge(owner(0o100664, 4244, 4244), false)
            .unwrap_or_default();
        assert!(why.contains("no passwd entry"), "{why}");
    }

    #[test]
    fn describe_names_every_path_and_the_user() {
        let problems = [
            Problem {
                path: PathBuf::from("/a/50-x.sh"),
                why: "writable by every user (mode 0666)".to_owned(),
            },
            Problem {
                path: PathBuf::from("/a"),
                why: "owned by uid 7, neither root nor the user of this run".to_owned(),
            },
        ];
        assert_eq!(
            describe(&problems, "root"),
            "/a/50-x.sh is writable by every user (mode 0666); /a is owned by uid 7, neither \
             root nor the user of this run: whoever can change them can run code as root, the \
             user of this run"
        );
    }

    /// Regression guard for the listing's speed: a directory is looked at once per run,
    /// however many hooks it holds.
    #[test]
    fn each_directory_is_walked_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let mut trust = Trust::as_user(0);
        let file = owner(0o100644, 0, 0);
        for name in ["50-a.sh", "60-b.sh", "70-c.sh"] {
            assert_eq!(trust.hook(&dir, &dir.join(name), file, false), []);
        }
        assert_eq!(trust.paths.len(), dir.ancestors().count());
        assert!(dir.ancestors().all(|path| trust.paths.contains_key(path)));
    }
}
