//! `hook-list` through the real binary: hooks that others could change get a warning, or
//! with `--strict` an `untrusted` skip and exit status 1. Tests run as root, so fixtures can
//! be given any owner, group and mode.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::unistd::{chown, Gid, Uid};
use util::Tree;

/// A gid and a uid no test system gives root or a real user.
const OTHER_GID: u32 = 4243;
const OTHER_UID: u32 = 4242;

fn warning(run: &util::Run, name: &str) -> String {
    let entry = run.entry(name);
    assert_eq!(entry["type"], "hook", "{run}");
    entry["warning"].as_str().unwrap_or_default().to_owned()
}

fn set_group(path: &Path, gid: u32) {
    chown(path, None, Some(Gid::from_raw(gid))).expect("chgrp (tests run as root)");
}

fn set_owner(path: &Path, uid: u32) {
    chown(path, Some(Uid::from_raw(uid)), None).expect("chown (tests run as root)");
}

fn shown(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_owned()
}

#[test]
fn a_world_writable_hook_is_named_with_why() {
    let tree = Tree::new();
    tree.file("d/50-open.sh", "true\n");
    tree.file("d/60-fine.sh", "true\n");
    tree.chmod("d/50-open.sh", 0o666);
    let run = tree.cmd().arg("d").run();
    assert_eq!(run.status, 0, "a warning does not fail the listing{run}");
    let text = warning(&run, "50-open.sh");
    let path = shown(&tree.path("d/50-open.sh"));
    assert!(
        text.contains(&format!("{path} is writable by every user (mode 0666)")),
        "{run}"
    );
    assert!(text.contains("run code as root"), "{run}");
    assert!(run.entry("60-fine.sh").get("warning").is_none(), "{run}");
}

#[test]
fn a_group_writable_dir_counts_unless_the_group_is_the_owners() {
    let tree = Tree::new();
    tree.file("top/d/50-a.sh", "true\n");
    tree.file("top/d/60-b.sh", "true\n");
    tree.chmod("top", 0o775);
    // root's own primary group: writable only by its owner's group, which is fine.
    let run = tree.cmd().arg("top/d").run();
    assert!(
        run.hooks().iter().all(|hook| hook.get("warning").is_none()),
        "{run}"
    );
    set_group(&tree.path("top"), OTHER_GID);
    let run = tree.cmd().arg("top/d").run();
    let top = shown(&tree.path("top"));
    for name in ["50-a.sh", "60-b.sh"] {
        let text = warning(&run, name);
        assert!(
            text.contains(&format!(
                "{top} is writable by group gid {OTHER_GID} (mode 0775)"
            )),
            "{run}"
        );
        assert!(
            text.contains("not the primary group of its owner root"),
            "{run}"
        );
    }
}

/// /tmp's shape: root-owned, world-writable, sticky. Nobody else may rename or remove what
/// root owns there, so it is no way in; without the sticky bit it is.
#[test]
fn a_sticky_root_owned_dir_is_fine() {
    let tree = Tree::new();
    tree.file("sticky/d/50-a.sh", "true\n");
    tree.file("sticky/60-b.sh", "true\n");
    tree.chmod("sticky", 0o1777);
    let meta = std::fs::metadata(tree.path("sticky")).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o1777);
    let run = tree.cmd().args(["sticky/d", "sticky"]).run();
    assert_eq!(run.hook_names(), ["50-a.sh", "60-b.sh"], "{run}");
    assert!(
        run.hooks().iter().all(|hook| hook.get("warning").is_none()),
        "{run}"
    );

    tree.chmod("sticky", 0o777);
    let run = tree.cmd().arg("sticky/d").run();
    assert!(
        warning(&run, "50-a.sh").contains("writable by every user (mode 0777)"),
        "{run}"
    );
    // The sticky bit spares root's directories only: another owner can chmod it back.
    tree.chmod("sticky", 0o1777);
    set_owner(&tree.path("sticky"), OTHER_UID);
    let run = tree.cmd().arg("sticky/d").run();
    assert!(
        warning(&run, "50-a.sh").contains(&format!("owned by uid {OTHER_UID}")),
        "{run}"
    );
}

#[test]
fn a_file_owned_by_someone_else_is_theirs_to_change() {
    let tree = Tree::new();
    let path = tree.file("d/50-theirs.sh", "true\n");
    set_owner(&path, OTHER_UID);
    let run = tree.cmd().arg("d").run();
    let text = warning(&run, "50-theirs.sh");
    assert!(
        text.contains(&format!(
            "owned by uid {OTHER_UID}, neither root nor the user of this run"
        )),
        "{run}"
    );
}

#[test]
fn strict_skips_untrusted_hooks_and_fails() {
    let tree = Tree::new();
    tree.file("d/50-open.sh", "true\n");
    tree.file("d/60-fine.sh", "true\n");
    tree.chmod("d/50-open.sh", 0o646);
    let run = tree.cmd().args(["--strict", "d"]).run();
    assert_eq!(run.status, 1, "{run}");
    assert!(run.stderr.is_empty(), "{run}");
    assert_eq!(
        run.verdicts(),
        [
            ("50-open.sh".into(), "untrusted".into()),
            ("60-fine.sh".into(), "hook".into())
        ],
        "{run}"
    );
    let message = run.entry("50-open.sh")["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("writable by every user (mode 0646)"),
        "{run}"
    );
    // Nothing to distrust: --strict changes nothing.
    tree.chmod("d/50-open.sh", 0o644);
    let run = tree.cmd().args(["--strict", "d"]).run();
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(run.hook_names(), ["50-open.sh", "60-fine.sh"], "{run}");
}

#[test]
fn trust_warnings_add_to_the_reserved_number_warning() {
    let tree = Tree::new();
    tree.file("d/00-early.sh", "true\n");
    tree.chmod("d/00-early.sh", 0o666);
    let run = tree.cmd().arg("d").run();
    let text = warning(&run, "00-early.sh");
    assert!(
        text.contains("reserved") && text.contains("writable by every user"),
        "{run}"
    );
}

/// A link is as trustworthy as the directories of its target.
#[test]
fn a_links_target_directories_count() {
    let tree = Tree::new();
    tree.file("open/50-real.sh", "true\n");
    tree.chmod("open", 0o777);
    tree.mkdir("d");
    tree.symlink(tree.path("open/50-real.sh"), "d/50-link.sh");
    let run = tree.cmd().arg("d").run();
    let text = warning(&run, "50-link.sh");
    let open = shown(&tree.path("open"));
    assert!(
        text.contains(&format!("{open} is writable by every user")),
        "{run}"
    );
    // A directory reached through a link is judged as its target.
    tree.symlink("open", "via");
    let run = tree.cmd().arg("via").run();
    assert!(
        warning(&run, "50-real.sh").contains(&format!("{open} is writable")),
        "{run}"
    );
}

#[test]
fn plugins_are_judged_by_their_files() {
    let tree = Tree::new();
    tree.mkdir("d");
    tree.file("p/one/devstack/plugin.sh", "true\n");
    tree.file("p/one/devstack/settings", "true\n");
    tree.chmod("p/one/devstack/settings", 0o666);
    let run = tree.cmd().args(["--plugin", "one=p/one", "d"]).run();
    let settings = shown(&tree.path("p/one/devstack/settings"));
    assert!(warning(&run, "plugin:one").contains(&settings), "{run}");
    let run = tree
        .cmd()
        .args(["--strict", "--plugin", "one=p/one", "d"])
        .run();
    assert_eq!(run.status, 1, "{run}");
    assert_eq!(run.entry("plugin:one")["reason"], "untrusted", "{run}");
}

#[test]
fn help_documents_strict_and_untrusted() {
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_hook-list"))
        .arg("--help")
        .output()
        .expect("hook-list --help");
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in ["--strict", "untrusted", "sticky", "primary group", "  1  "] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}
