//! DevStack external plugins end to end: scripts/stack.sh, unstack.sh and clean.sh run on
//! the `plugins` fixture, whose local.conf enables two plugins with `enable_plugin` lines
//! and whose extras.d holds one hook. The plugins' checkouts (`tests/fixtures/plugins/dest/`)
//! are placed under DEST by each test, as DevStack's `fetch_plugins` would have cloned them.
//! Every hook file appends `<file> <mode> <phase> <$#>` to `$DEST/calls`, so the tables
//! below pin which file each script sources, with which arguments, in which order.

use std::fs;
use std::path::Path;

use hookpipe_e2e::{copy_tree, repo_root, Run, Stack};

/// One line of `$DEST/calls`: the file (`50-record.sh` or `<plugin>/<file>`), `$1` and
/// `$2` (empty when not given) and `$#`.
type Call = (&'static str, &'static str, &'static str, u8);

/// stack.sh: DevStack's seven `run_phase` calls (docs/devstack.md §1.3), each the extras.d
/// hooks first and then the plugins in enable order. DevStack would skip 50-record.sh in
/// every `run_phase` (its extras.d name filter passes only `80-tempest.sh`); hookpipe runs
/// every valid hook.
const STACK: &[Call] = &[
    // 1. override_defaults: plugin_override_defaults sources override-defaults, no arguments.
    ("50-record.sh", "override_defaults", "", 1),
    ("alpha/override-defaults", "", "", 0),
    ("bravo/override-defaults", "", "", 0),
    // 2. source: load_plugin_settings sources settings, no arguments (then
    // verify_disabled_services, which is no file).
    ("50-record.sh", "source", "", 1),
    ("alpha/settings", "", "", 0),
    ("bravo/settings", "", "", 0),
    // 3-7. stack PHASE: run_plugins sources plugin.sh with both arguments.
    ("50-record.sh", "stack", "pre-install", 2),
    ("alpha/plugin.sh", "stack", "pre-install", 2),
    ("bravo/plugin.sh", "stack", "pre-install", 2),
    ("50-record.sh", "stack", "install", 2),
    ("alpha/plugin.sh", "stack", "install", 2),
    ("bravo/plugin.sh", "stack", "install", 2),
    ("50-record.sh", "stack", "post-config", 2),
    ("alpha/plugin.sh", "stack", "post-config", 2),
    ("bravo/plugin.sh", "stack", "post-config", 2),
    ("50-record.sh", "stack", "extra", 2),
    ("alpha/plugin.sh", "stack", "extra", 2),
    ("bravo/plugin.sh", "stack", "extra", 2),
    ("50-record.sh", "stack", "test-config", 2),
    ("alpha/plugin.sh", "stack", "test-config", 2),
    ("bravo/plugin.sh", "stack", "test-config", 2),
];

/// unstack.sh (docs/devstack.md §1.4): the same order as DevStack's, whose `source` pass is
/// a hand loop over extras.d and then load_plugin_settings. hookpipe's pipeline starts
/// without state, so its `source` stage rebuilds it just as DevStack's unstack.sh does.
const UNSTACK: &[Call] = &[
    ("50-record.sh", "override_defaults", "", 1),
    ("alpha/override-defaults", "", "", 0),
    ("bravo/override-defaults", "", "", 0),
    ("50-record.sh", "source", "", 1),
    ("alpha/settings", "", "", 0),
    ("bravo/settings", "", "", 0),
    ("50-record.sh", "unstack", "", 1),
    ("alpha/plugin.sh", "unstack", "", 1),
    ("bravo/plugin.sh", "unstack", "", 1),
];

/// clean.sh's own pipeline, after its child `unstack.sh --all` has made the UNSTACK calls.
/// DevStack's clean.sh (docs/devstack.md §1.5) sources extras.d with `source` before the
/// child, never runs override_defaults, loads the settings after the child, and calls
/// extras.d hooks with `clean` twice (in run_phase and in a hand loop). hookpipe's starts
/// from no state after the child: override_defaults, then `source`, then `clean` once.
const CLEAN: &[Call] = &[
    ("50-record.sh", "override_defaults", "", 1),
    ("alpha/override-defaults", "", "", 0),
    ("bravo/override-defaults", "", "", 0),
    ("50-record.sh", "source", "", 1),
    ("alpha/settings", "", "", 0),
    ("bravo/settings", "", "", 0),
    ("50-record.sh", "clean", "", 1),
    ("alpha/plugin.sh", "clean", "", 1),
    ("bravo/plugin.sh", "clean", "", 1),
];

/// The fixture's TOP_DIR, with every plugin checkout of the fixture placed under `dest`.
fn plugins_stack() -> Stack {
    let stack = Stack::fixture("plugins/top");
    place_plugins(&stack.dest);
    stack
}

/// Copies the fixture's plugin checkouts (alpha, bravo, nosh) into `dest`.
fn place_plugins(dest: &Path) {
    let source = repo_root().join("tests/fixtures/plugins/dest");
    copy_tree(&source, dest)
        .unwrap_or_else(|err| panic!("cannot place the plugins in {}: {err}", dest.display()));
}

fn lines(table: &[Call]) -> Vec<String> {
    table
        .iter()
        .map(|(file, mode, phase, argc)| format!("{file} {mode} {phase} {argc}"))
        .collect()
}

/// The lines of `DIR/NAME`, then removes the file, so the next script starts afresh.
#[track_caller]
fn take_lines(dir: &Path, name: &str, run: &Run) -> Vec<String> {
    let path = dir.join(name);
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("no {}: {err}\n{run}", path.display()));
    fs::remove_file(&path).expect("remove a record file");
    text.lines().map(str::to_owned).collect()
}

#[track_caller]
fn assert_calls(dest: &Path, expected: &[Call], run: &Run) {
    let calls = take_lines(dest, "calls", run);
    assert_eq!(
        calls,
        lines(expected),
        "the hook files were not called as DevStack calls them\n{run}"
    );
}

#[test]
fn every_stage_of_stack_unstack_and_clean_calls_the_plugin_files_in_enable_order() {
    let stack = plugins_stack();

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert_calls(&stack.dest, STACK, &out);

    let out = stack.script("unstack.sh", &[]);
    out.assert_ok();
    assert_calls(&stack.dest, UNSTACK, &out);

    // clean.sh runs unstack.sh first, as a child that reads localrc afresh: its
    // enable_plugin lines must not find the plugins already enabled by clean.sh's own.
    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    assert!(!out.stderr.contains("enabled twice"), "{out}");
    assert_calls(&stack.dest, &[UNSTACK, CLEAN].concat(), &out);
}

#[test]
fn override_defaults_are_printed_and_reach_later_stages() {
    let stack = plugins_stack();

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    // DevStack prints which plugin overrides defaults, then the file itself.
    let printed = out
        .stdout
        .find("bravo has overridden the following defaults")
        .unwrap_or_else(|| panic!("no override banner for bravo\n{out}"));
    assert!(
        out.stdout[printed..].contains("BRAVO_MODE=overridden"),
        "bravo's override-defaults file was not printed\n{out}"
    );
    let notes = take_lines(&stack.dest, "notes", &out);
    assert!(
        notes.contains(&"bravo extra: overridden".to_owned()),
        "override-defaults did not reach plugin.sh in stack extra: {notes:?}\n{out}"
    );
}

#[test]
fn a_function_from_settings_serves_plugin_sh_in_later_stages() {
    let stack = plugins_stack();

    // alpha/settings defines alpha_note in the `source` stage; alpha/plugin.sh calls it in
    // `stack extra` (a later pipeline stage, so it travels in the state), in `unstack` and
    // in `clean` (other scripts, so their `source` stage defines it again).
    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert_eq!(
        take_lines(&stack.dest, "notes", &out),
        [
            "alpha extra: hello from alpha settings",
            "bravo extra: overridden"
        ],
        "{out}"
    );
    let out = stack.script("unstack.sh", &[]);
    out.assert_ok();
    assert_eq!(
        take_lines(&stack.dest, "notes", &out),
        ["alpha unstack: hello from alpha settings"],
        "{out}"
    );
    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    assert_eq!(
        take_lines(&stack.dest, "notes", &out),
        [
            "alpha unstack: hello from alpha settings",
            "alpha clean: hello from alpha settings"
        ],
        "{out}"
    );
}

#[test]
fn a_plugin_enabled_twice_stops_stack_sh_with_devstacks_message() {
    let stack = plugins_stack();
    stack.write_top(
        "local.conf",
        "[[local|localrc]]\n\
         ENABLED_SERVICES=record\n\
         enable_plugin alpha https://example.invalid/alpha\n\
         enable_plugin bravo https://example.invalid/bravo\n\
         enable_plugin alpha https://example.invalid/alpha-fork stable/b\n",
    );

    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 1, "{out}");
    // DevStack's die names the second enable_plugin line's arguments.
    assert!(
        out.stderr.contains(
            "Plugin attempted to be enabled twice: alpha https://example.invalid/alpha-fork stable/b"
        ),
        "{out}"
    );
    assert!(
        !stack.dest.join("calls").exists(),
        "a hook ran after the error\n{out}"
    );
}

#[test]
fn a_plugin_without_plugin_sh_still_gets_its_other_files_and_a_warning() {
    let stack = plugins_stack();
    stack.write_top(
        "local.conf",
        "[[local|localrc]]\n\
         ENABLED_SERVICES=record\n\
         enable_plugin nosh https://example.invalid/nosh\n\
         enable_plugin alpha https://example.invalid/alpha\n",
    );

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    let mut expected = vec![
        ("50-record.sh", "override_defaults", "", 1),
        ("nosh/override-defaults", "", "", 0),
        ("alpha/override-defaults", "", "", 0),
        ("50-record.sh", "source", "", 1),
        ("nosh/settings", "", "", 0),
        ("alpha/settings", "", "", 0),
    ];
    for phase in [
        "pre-install",
        "install",
        "post-config",
        "extra",
        "test-config",
    ] {
        expected.push(("50-record.sh", "stack", phase, 2));
        expected.push(("alpha/plugin.sh", "stack", phase, 2));
    }
    assert_calls(&stack.dest, &expected, &out);
    assert!(
        out.stdout.contains("no devstack/plugin.sh"),
        "no warning about nosh's missing plugin.sh\n{out}"
    );
    assert!(
        out.stdout
            .contains("stack/extra/plugin:nosh [skip] no-plugin-sh"),
        "nosh's stack calls are not reported as skipped\n{out}"
    );

    let out = stack.script("unstack.sh", &[]);
    out.assert_ok();
    assert_calls(
        &stack.dest,
        &[
            ("50-record.sh", "override_defaults", "", 1),
            ("nosh/override-defaults", "", "", 0),
            ("alpha/override-defaults", "", "", 0),
            ("50-record.sh", "source", "", 1),
            ("nosh/settings", "", "", 0),
            ("alpha/settings", "", "", 0),
            ("50-record.sh", "unstack", "", 1),
            ("alpha/plugin.sh", "unstack", "", 1),
        ],
        &out,
    );
    assert!(
        out.stdout
            .contains("unstack/plugin:nosh [skip] no-plugin-sh"),
        "{out}"
    );
}

#[test]
fn plugin_directories_with_spaces_and_a_later_dest_line_keep_enable_time_paths() {
    let mut stack = Stack::fixture("plugins/top");
    // DevStack reads DEST when enable_plugin runs: a `DEST=` line after it moves what the
    // hooks see as $DEST (here, where the calls go), not the plugins' checkouts.
    let first = stack.root().join("first dest");
    let later = stack.root().join("later dest");
    place_plugins(&first);
    let (Some(first_text), Some(later_text)) = (first.to_str(), later.to_str()) else {
        panic!("the temporary directory is not UTF-8");
    };
    stack.env("DEST", first_text);
    stack.write_top(
        "local.conf",
        &format!(
            "[[local|localrc]]\n\
             ENABLED_SERVICES=record\n\
             enable_plugin alpha https://example.invalid/alpha\n\
             enable_plugin bravo https://example.invalid/bravo stable/fixture\n\
             DEST=\"{later_text}\"\n"
        ),
    );

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert!(!out.stdout.contains("missing-plugin-dir"), "{out}");
    assert!(
        out.stdout.contains(&format!(
            "{first_text}/alpha/devstack/plugin.sh stack install"
        )),
        "alpha did not run from its enable-time checkout\n{out}"
    );
    assert_calls(&later, STACK, &out);

    let out = stack.script("unstack.sh", &[]);
    out.assert_ok();
    assert_calls(&later, UNSTACK, &out);

    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    assert!(!out.stdout.contains("missing-plugin-dir"), "{out}");
    assert_calls(&later, &[UNSTACK, CLEAN].concat(), &out);
}

#[test]
fn a_plugin_that_is_not_checked_out_fails_stack_sh_before_any_hook_runs() {
    let stack = plugins_stack();
    stack.write_top(
        "local.conf",
        "[[local|localrc]]\n\
         ENABLED_SERVICES=record\n\
         enable_plugin alpha https://example.invalid/alpha\n\
         enable_plugin ghost https://example.invalid/ghost stable/g\n",
    );
    let ghost = stack.dest.join("ghost");
    let ghost = ghost.to_string_lossy();

    // DevStack's stack.sh clones every plugin before the first run_phase and dies when a
    // clone fails; hookpipe does not clone, so a missing checkout is that failure.
    let out = stack.script("stack.sh", &[]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "plugin ghost (https://example.invalid/ghost stable/g) is not checked out in \
             {ghost}: hookpipe does not clone plugins, clone it there first"
        )),
        "{out}"
    );
    assert!(
        !stack.dest.join("calls").exists(),
        "a hook ran before the error\n{out}"
    );

    // Teardown goes on without it, and says so in the log.
    let out = stack.script("unstack.sh", &[]);
    out.assert_ok();
    assert!(
        out.stdout.contains(&format!(
            "{ghost} [skip] missing-plugin-dir: plugin directory {ghost}: No such file or directory"
        )),
        "{out}"
    );
    assert_calls(
        &stack.dest,
        &[
            ("50-record.sh", "override_defaults", "", 1),
            ("alpha/override-defaults", "", "", 0),
            ("50-record.sh", "source", "", 1),
            ("alpha/settings", "", "", 0),
            ("50-record.sh", "unstack", "", 1),
            ("alpha/plugin.sh", "unstack", "", 1),
        ],
        &out,
    );
    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    assert!(out.stdout.contains("missing-plugin-dir"), "{out}");
}

// DevStack's plugins run in the shell where enable_plugin set GITDIR[name], and some find
// their own files through it. hookpipe's hooks run in bash workers, which no associative
// array can reach through the environment, so hook-run sets GITDIR[<name>] from the
// plugin's `hook` record before sourcing one of its files.
#[test]
fn plugin_files_find_their_checkout_in_gitdir() {
    let stack = plugins_stack();

    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    assert_eq!(
        take_lines(&stack.dest, "gitdir", &out),
        [stack.dest.join("alpha").to_string_lossy()],
        "alpha/plugin.sh does not see GITDIR[alpha]\n{out}"
    );
}
