//! `hook-list` through the real binary: listing order, overrides, every skip reason, guards,
//! file names that are not text, broken pipes and DevStack plugins, each on a fixture tree
//! built by `util::Tree`.

mod util;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use serde_json::json;
use util::{bytes, os, path_bytes, text, Tree};

const TEMPLATE: &str = "\
#!/bin/bash
# 50-template.sh - DevStack's dispatch shape

if is_service_enabled template; then
    if [[ \"$1\" == \"source\" ]]; then
        :
    fi
fi
";

#[test]
fn happy_path_lists_hooks_with_their_fields() {
    let tree = Tree::new();
    tree.file("extras.d/50-template.sh", TEMPLATE);
    tree.file("extras.d/80-tempest.sh", "echo no guard here\n");
    let run = tree.cmd().arg("extras.d").run();
    assert_eq!(run.status, 0, "{run}");
    assert!(run.stderr.is_empty(), "{run}");
    let dir = tree.path("extras.d");
    let dir = dir.to_str().expect("a UTF-8 temporary path");
    assert_eq!(
        run.hooks(),
        [
            &json!({"type": "hook", "name": "50-template.sh", "path": format!("{dir}/50-template.sh"),
                    "kind": "extras", "seq": "50", "dir": dir, "services": ["template"]}),
            &json!({"type": "hook", "name": "80-tempest.sh", "path": format!("{dir}/80-tempest.sh"),
                    "kind": "extras", "seq": "80", "dir": dir}),
        ],
        "{run}"
    );
    assert_eq!(run.records.len(), 4, "begin, two hooks, done{run}");
    assert!(run.records[0]["pid"].as_u64().is_some(), "{run}");
}

#[test]
fn paths_are_absolute_without_resolving_symlinks() {
    let tree = Tree::new();
    tree.file("real/50-a.sh", "true\n");
    tree.symlink("real", "link");
    let run = tree.cmd().arg("./link/").run();
    let hook = run.entry("50-a.sh");
    assert_eq!(bytes(hook, "dir"), path_bytes(&tree.path("link")), "{run}");
    assert_eq!(
        bytes(hook, "path"),
        path_bytes(&tree.path("link/50-a.sh")),
        "{run}"
    );
}

#[test]
fn order_is_byte_order_whatever_the_locale() {
    let tree = Tree::new();
    let names = [
        "_z.sh",
        "a.sh",
        "Z.sh",
        "9-z.sh",
        "80-tempest.sh",
        "10_a.sh",
        "100-y.sh",
        "10-b.sh",
        "10-B.sh",
        "05-a.sh",
    ];
    for name in names {
        tree.file(format!("d/{name}"), "true\n");
    }
    // en_US collation would give 05-a 100-y 10_a 10-b 10-B ... (docs/devstack.md §2).
    let run = tree.cmd().env("LC_ALL", "en_US.UTF-8").arg("d").run();
    let order: Vec<String> = run.verdicts().into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        order,
        [
            "05-a.sh",
            "10-B.sh",
            "10-b.sh",
            "100-y.sh",
            "10_a.sh",
            "80-tempest.sh",
            "9-z.sh",
            "Z.sh",
            "_z.sh",
            "a.sh"
        ],
        "{run}"
    );
    assert_eq!(
        run.hook_names(),
        ["05-a.sh", "10-B.sh", "10-b.sh", "80-tempest.sh"],
        "{run}"
    );
}

#[test]
fn an_earlier_dir_overrides_a_later_one() {
    let tree = Tree::new();
    tree.file("one/50-a.sh", "true\n");
    tree.file("two/50-a.sh", "true\n");
    tree.file("two/40-b.sh", "true\n");
    tree.file("one/60-c.sh", "true\n");
    tree.mkdir("one/70-masked.sh");
    tree.file("two/70-masked.sh", "true\n");
    tree.file("one/README.md", "");
    tree.file("two/README.md", "");
    let run = tree.cmd().args(["one", "two"]).run();
    assert_eq!(
        run.verdicts(),
        [
            ("40-b.sh".into(), "hook".into()),
            ("50-a.sh".into(), "hook".into()),
            ("50-a.sh".into(), "overridden".into()),
            ("60-c.sh".into(), "hook".into()),
            ("70-masked.sh".into(), "directory".into()),
            ("70-masked.sh".into(), "overridden".into()),
            ("README.md".into(), "not-a-hook".into()),
            ("README.md".into(), "not-a-hook".into()),
        ],
        "{run}"
    );
    let entries = run.entries();
    assert_eq!(
        bytes(entries[1], "path"),
        path_bytes(&tree.path("one/50-a.sh"))
    );
    let loser = entries[2];
    assert_eq!(bytes(loser, "path"), path_bytes(&tree.path("two/50-a.sh")));
    let winner = tree.path("one/50-a.sh");
    let message = loser["message"].as_str().unwrap_or_default();
    assert!(message.contains(winner.to_str().unwrap_or("?")), "{run}");
    // One directory named twice is read once: nothing overrides itself.
    let run = tree.cmd().args(["one", "./one/"]).run();
    assert_eq!(run.hook_names(), ["50-a.sh", "60-c.sh"], "{run}");
    assert_eq!(run.entries().len(), 4, "{run}");
    // The other way round, the other directory wins.
    let run = tree.cmd().args(["two", "one"]).run();
    let first = run
        .entries()
        .into_iter()
        .find(|r| r["name"] == "50-a.sh")
        .cloned();
    assert_eq!(
        first.map(|r| bytes(&r, "path")),
        Some(path_bytes(&tree.path("two/50-a.sh"))),
        "{run}"
    );
}

#[test]
fn every_entry_that_will_not_run_says_why() {
    let tree = Tree::new();
    let d = "d";
    tree.mkdir(d);
    for name in [
        "5-x.sh",
        "100-x.sh",
        "ab-x.sh",
        "50-.sh",
        "70-trove",
        "Makefile",
        ".50-hidden.sh",
        "README",
        "README.md",
        "notes.txt",
        "index.rst",
        "50-x.sh~",
        "50-x.sh.orig",
        "50-x.sh.dpkg-old",
        "50-secret.sh",
        "50-target.sh",
    ] {
        tree.file(format!("{d}/{name}"), "true\n");
    }
    tree.chmod("d/50-secret.sh", 0o000);
    tree.symlink("nowhere", "d/50-dangling.sh");
    tree.symlink("50-loop.sh", "d/50-loop.sh");
    tree.symlink("50-target.sh", "d/50-link.sh");
    tree.mkdir("d/50-dir.sh");
    tree.symlink("50-dir.sh", "d/50-dirlink.sh");
    tree.fifo("d/50-fifo.sh");
    tree.socket("d/50-sock.sh");
    let run = tree.cmd().arg(d).run();
    assert_eq!(run.status, 0, "skips do not fail the listing{run}");
    let expected = [
        (".50-hidden.sh", "dotfile"),
        ("100-x.sh", "bad-prefix"),
        ("5-x.sh", "bad-prefix"),
        ("50-.sh", "bad-prefix"),
        ("50-dangling.sh", "broken-link"),
        ("50-dir.sh", "directory"),
        ("50-dirlink.sh", "directory"),
        ("50-fifo.sh", "not-regular"),
        ("50-link.sh", "hook"),
        ("50-loop.sh", "broken-link"),
        ("50-secret.sh", "unreadable"),
        ("50-sock.sh", "not-regular"),
        ("50-target.sh", "hook"),
        ("50-x.sh.dpkg-old", "not-a-hook"),
        ("50-x.sh.orig", "not-a-hook"),
        ("50-x.sh~", "not-a-hook"),
        ("70-trove", "no-sh-suffix"),
        ("Makefile", "no-sh-suffix"),
        ("README", "not-a-hook"),
        ("README.md", "not-a-hook"),
        ("ab-x.sh", "bad-prefix"),
        ("index.rst", "not-a-hook"),
        ("notes.txt", "not-a-hook"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(name, verdict)| ((*name).to_owned(), (*verdict).to_owned()))
        .collect();
    assert_eq!(run.verdicts(), expected, "{run}");
    let broken = run.entry("50-dangling.sh");
    assert!(
        broken["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nowhere"),
        "a broken link names its target{run}"
    );
}

/// Tests run as root, where permission bits stop no read: the rule is that a file with no
/// read bit at all is unreadable for everyone, root included (and for other users, what
/// `eaccess` says). A readable-by-owner-only file stays a hook for its owner.
#[test]
fn unreadable_goes_by_read_bits_even_for_root() {
    let tree = Tree::new();
    tree.file("d/50-none.sh", "true\n");
    tree.file("d/50-owner.sh", "true\n");
    tree.chmod("d/50-none.sh", 0o000);
    tree.chmod("d/50-owner.sh", 0o400);
    let run = tree.cmd().arg("d").run();
    assert_eq!(
        run.verdicts(),
        [
            ("50-none.sh".into(), "unreadable".into()),
            ("50-owner.sh".into(), "hook".into())
        ],
        "{run}"
    );
}

#[test]
fn reserved_sequence_numbers_run_with_a_warning() {
    let tree = Tree::new();
    for name in [
        "00-a.sh", "09-a.sh", "10-a.sh", "89-a.sh", "90-a.sh", "99-a.sh",
    ] {
        tree.file(format!("d/{name}"), "true\n");
    }
    let run = tree.cmd().arg("d").run();
    let warned: Vec<(String, bool)> = run
        .hooks()
        .iter()
        .map(|hook| (text(hook, "name"), hook.get("warning").is_some()))
        .collect();
    let expected: Vec<(String, bool)> = [
        ("00-a.sh", true),
        ("09-a.sh", true),
        ("10-a.sh", false),
        ("89-a.sh", false),
        ("90-a.sh", true),
        ("99-a.sh", true),
    ]
    .iter()
    .map(|(name, warned)| ((*name).to_owned(), *warned))
    .collect();
    assert_eq!(warned, expected, "{run}");
    let warning = run.entry("00-a.sh")["warning"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(warning.contains("reserved"), "{warning}");
}

#[test]
fn guards_are_read_not_run() {
    let tree = Tree::new();
    tree.file(
        "d/50-several.sh",
        "# several\nif is_service_enabled n-cpu q-svc placement-api; then\n  touch ran\nfi\n",
    );
    tree.file(
        "d/51-then-below.sh",
        "if is_service_enabled cinder\nthen\n  touch ran\nfi\n",
    );
    tree.file("d/52-none.sh", "touch ran\n");
    tree.file(
        "d/53-not-first.sh",
        "set -o xtrace\nif is_service_enabled nova; then\n  touch ran\nfi\n",
    );
    tree.file(
        "d/54-brackets.sh",
        "if [[ is_service_enabled nova ]]; then\n  touch ran\nfi\n",
    );
    let run = tree.cmd().arg("d").run();
    let services = |name: &str| run.entry(name).get("services").cloned();
    assert_eq!(
        services("50-several.sh"),
        Some(json!(["n-cpu", "q-svc", "placement-api"])),
        "{run}"
    );
    assert_eq!(
        services("51-then-below.sh"),
        Some(json!(["cinder"])),
        "{run}"
    );
    assert_eq!(services("52-none.sh"), None, "{run}");
    assert_eq!(services("53-not-first.sh"), None, "{run}");
    assert_eq!(services("54-brackets.sh"), None, "{run}");
    assert!(run.hooks().iter().all(|hook| hook.get("enabled").is_none()));
    assert!(!tree.path("ran").exists(), "nothing is executed");
}

#[test]
fn a_missing_dir_is_bad_usage_unless_missing_ok() {
    let tree = Tree::new();
    tree.file("d/50-a.sh", "true\n");
    let run = tree.cmd().args(["d", "nope"]).run();
    assert_eq!(run.status, 2, "{run}");
    assert_eq!(
        run.stderr, "hook-list: nope: No such file or directory\n",
        "{run}"
    );
    assert_eq!(run.records.len(), 2, "begin and done only{run}");
    assert_eq!(run.records[1]["status"], 2, "{run}");

    let run = tree.cmd().args(["--missing-ok", "d", "nope"]).run();
    assert_eq!(run.status, 0, "{run}");
    assert!(run.stderr.is_empty(), "{run}");
    assert_eq!(run.hook_names(), ["50-a.sh"], "{run}");

    // Not a directory is not missing: --missing-ok does not cover it.
    let run = tree.cmd().args(["--missing-ok", "d/50-a.sh"]).run();
    assert_eq!(run.status, 2, "{run}");
    assert_eq!(
        run.stderr, "hook-list: d/50-a.sh: Not a directory\n",
        "{run}"
    );
}

#[test]
fn the_default_dir_is_top_dir_extras_d() {
    let tree = Tree::new();
    tree.file("extras.d/50-here.sh", "true\n");
    tree.file("top/extras.d/50-top.sh", "true\n");
    let run = tree.cmd().run();
    assert_eq!(run.hook_names(), ["50-here.sh"], "{run}");
    let run = tree.cmd().env("TOP_DIR", tree.path("top")).run();
    assert_eq!(run.hook_names(), ["50-top.sh"], "{run}");
    let run = tree.cmd().env("TOP_DIR", "").run();
    assert_eq!(run.hook_names(), ["50-here.sh"], "{run}");
    let run = tree.cmd().env("TOP_DIR", tree.path("nowhere")).run();
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.stderr.contains("nowhere/extras.d: No such file"),
        "{run}"
    );
}

#[test]
fn an_empty_dir_lists_nothing() {
    let tree = Tree::new();
    tree.mkdir("d");
    let run = tree.cmd().arg("d").run();
    assert_eq!(run.status, 0, "{run}");
    assert!(run.entries().is_empty(), "{run}");
    assert!(run.stderr.is_empty(), "{run}");
}

#[test]
fn file_names_are_bytes() {
    let tree = Tree::new();
    let name = b"50-caf\xe9.sh";
    tree.mkdir("d");
    std::fs::write(tree.path("d").join(OsStr::from_bytes(name)), "true\n").expect("write");
    let weird_dir = tree.mkdir(os(b"dir-\xff"));
    std::fs::write(weird_dir.join("60-ok.sh"), "true\n").expect("write");
    let run = tree.cmd().arg("d").arg(&weird_dir).run();
    let hooks = run.hooks();
    assert_eq!(hooks.len(), 2, "{run}");
    let latin = hooks[0];
    assert!(latin.get("name").is_none(), "{run}");
    assert_eq!(bytes(latin, "name"), name, "{run}");
    let mut expected_path = path_bytes(&tree.path("d"));
    expected_path.extend_from_slice(b"/50-caf\xe9.sh");
    assert_eq!(bytes(latin, "path"), expected_path, "{run}");
    assert!(latin.get("dir").is_some(), "a UTF-8 dir stays text{run}");
    let ok = hooks[1];
    assert_eq!(ok["name"], "60-ok.sh", "{run}");
    assert!(ok.get("dir").is_none() && ok.get("path").is_none(), "{run}");
    assert_eq!(bytes(ok, "dir"), path_bytes(&weird_dir), "{run}");
}

#[test]
fn hostile_names_are_listed_and_never_run() {
    let tree = Tree::new();
    let names = [
        "50-a\n$(touch pwned).sh",
        "51-it's \"quoted\" `touch pwned2`.sh",
        "52-with spaces.sh",
    ];
    for name in names {
        tree.file(format!("d/{name}"), "touch pwned3\n");
    }
    let run = tree.cmd().arg("d").run();
    assert_eq!(run.hook_names(), names, "{run}");
    for file in ["pwned", "pwned2", "pwned3", "d/pwned", "d/pwned3"] {
        assert!(!tree.path(file).exists(), "{file} exists: something ran");
    }
}

/// Regression: a lister whose reader goes away must leave quietly with status 0
/// (docs/architecture.md rule 5), not panic on EPIPE. 5000 hooks make the output far larger
/// than a pipe buffer.
#[test]
fn a_closed_pipe_ends_the_listing_quietly() {
    let tree = Tree::new();
    let dir = tree.mkdir("big");
    for i in 0..5000 {
        std::fs::write(
            dir.join(format!("{:02}-hook-{i:05}.sh", 10 + i % 80)),
            "true\n",
        )
        .expect("write");
    }
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#""$1" "$2" | head -n 1; echo "status=${PIPESTATUS[0]}""#)
        .arg("bash")
        .arg(env!("CARGO_BIN_EXE_hook-list"))
        .arg(&dir)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "stdout: {stdout}\nstderr: {stderr}");
    assert!(lines[0].starts_with(r#"{"type":"begin""#), "{stdout}");
    assert_eq!(lines[1], "status=0", "stderr: {stderr}");
    assert!(stderr.is_empty(), "stderr: {stderr}");
}

fn plugin(tree: &Tree, dir: &str, files: &[&str]) {
    tree.mkdir(format!("{dir}/devstack"));
    for file in files {
        tree.file(format!("{dir}/devstack/{file}"), "true\n");
    }
}

#[test]
fn plugins_follow_extras_in_enable_order() {
    let tree = Tree::new();
    tree.file("extras.d/90-late.sh", "true\n");
    plugin(&tree, "dest/bravo", &["plugin.sh"]);
    plugin(
        &tree,
        "dest/alpha",
        &["settings", "plugin.sh", "override-defaults"],
    );
    plugin(&tree, "src/charlie", &["plugin.sh"]);
    plugin(&tree, "src/bravo-dev", &["settings"]);
    let run = tree
        .cmd()
        .env("DEVSTACK_PLUGINS", ",bravo,,alpha")
        .env("DEST", tree.path("dest"))
        .args([
            "--plugin",
            "charlie=src/charlie",
            "--plugin",
            "bravo=src/bravo-dev",
        ])
        .arg("extras.d")
        .run();
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(
        run.hook_names(),
        [
            "90-late.sh",
            "plugin:bravo",
            "plugin:alpha",
            "plugin:charlie"
        ],
        "{run}"
    );
    let hooks = run.hooks();
    let bravo = hooks[1];
    assert_eq!(bravo["kind"], "plugin", "{run}");
    assert_eq!(
        bytes(bravo, "path"),
        path_bytes(&tree.path("src/bravo-dev"))
    );
    assert_eq!(bravo["dir"], bravo["path"], "{run}");
    assert_eq!(bravo["files"], json!(["settings"]), "{run}");
    assert!(
        bravo["warning"]
            .as_str()
            .unwrap_or_default()
            .contains("plugin.sh"),
        "a plugin without plugin.sh is listed with a warning{run}"
    );
    assert!(bravo.get("seq").is_none(), "{run}");
    let alpha = hooks[2];
    assert_eq!(bytes(alpha, "path"), path_bytes(&tree.path("dest/alpha")));
    assert_eq!(
        alpha["files"],
        json!(["settings", "override-defaults", "plugin.sh"]),
        "{run}"
    );
    assert!(alpha.get("warning").is_none(), "{run}");
}

#[test]
fn plugins_default_to_opt_stack() {
    let tree = Tree::new();
    tree.mkdir("extras.d");
    let run = tree
        .cmd()
        .env("DEVSTACK_PLUGINS", ",hookpipe-test-nothing-here")
        .run();
    let skip = run.entry("plugin:hookpipe-test-nothing-here");
    assert_eq!(skip["reason"], "missing-plugin-dir", "{run}");
    assert_eq!(
        skip["path"], "/opt/stack/hookpipe-test-nothing-here",
        "{run}"
    );
}

#[test]
fn a_missing_plugin_dir_is_a_skip() {
    let tree = Tree::new();
    tree.mkdir("extras.d");
    plugin(&tree, "p/here", &["plugin.sh"]);
    let run = tree
        .cmd()
        .args(["--plugin", "gone=p/gone", "--plugin", "here=p/here"])
        .run();
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(
        run.verdicts(),
        [
            ("plugin:gone".into(), "missing-plugin-dir".into()),
            ("plugin:here".into(), "hook".into())
        ],
        "{run}"
    );
    assert_eq!(
        bytes(run.entry("plugin:gone"), "path"),
        path_bytes(&tree.path("p/gone"))
    );
}

#[test]
fn plugin_dirs_may_hold_spaces() {
    let tree = Tree::new();
    tree.mkdir("extras.d");
    plugin(&tree, "my plugins/one", &["plugin.sh"]);
    plugin(&tree, "dest with space/two", &["plugin.sh"]);
    let run = tree
        .cmd()
        .env("DEVSTACK_PLUGINS", "two")
        .env("DEST", "dest with space")
        .args(["--plugin", "one=my plugins/one"])
        .run();
    assert_eq!(run.hook_names(), ["plugin:two", "plugin:one"], "{run}");
    let hooks = run.hooks();
    assert_eq!(
        bytes(hooks[0], "path"),
        path_bytes(&tree.path("dest with space/two"))
    );
    assert_eq!(
        bytes(hooks[1], "path"),
        path_bytes(&tree.path("my plugins/one"))
    );
    assert!(hooks
        .iter()
        .all(|hook| hook["files"] == json!(["plugin.sh"])));
}

#[test]
fn a_plugin_enabled_twice_is_devstacks_error() {
    let tree = Tree::new();
    tree.file("extras.d/50-a.sh", "true\n");
    let cases = [
        tree.cmd().env("DEVSTACK_PLUGINS", ",foo,bar,foo"),
        tree.cmd().args(["--plugin", "foo=a", "--plugin", "foo=b"]),
    ];
    for cmd in cases {
        let run = cmd.run();
        assert_eq!(run.status, 2, "{run}");
        assert_eq!(
            run.stderr, "hook-list: Plugin attempted to be enabled twice: foo\n",
            "{run}"
        );
        assert!(run.entries().is_empty(), "nothing listed{run}");
    }
}

#[test]
fn plugin_names_must_be_one_path_component() {
    let tree = Tree::new();
    tree.mkdir("extras.d");
    let cases = [
        tree.cmd().env("DEVSTACK_PLUGINS", "../etc"),
        tree.cmd().env("DEVSTACK_PLUGINS", ",."),
        tree.cmd().args(["--plugin", "a/b=x"]),
        tree.cmd().args(["--plugin", "..=x"]),
        tree.cmd().args(["--plugin", "no-dir-given"]),
    ];
    for cmd in cases {
        let run = cmd.run();
        assert_eq!(run.status, 2, "{run}");
        assert!(run.stderr.starts_with("hook-list: "), "{run}");
        assert_eq!(run.stderr.lines().count(), 1, "{run}");
    }
}

#[test]
fn help_names_records_and_exit_statuses() {
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_hook-list"))
        .arg("--help")
        .output()
        .expect("hook-list --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "begin",
        "hook",
        "skip",
        "done",
        "Exit status",
        "0 ",
        "2 ",
        "TOP_DIR",
        "DEVSTACK_PLUGINS",
        "DEST",
        "--missing-ok",
        "--plugin",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}
