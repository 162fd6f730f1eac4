//! `plugin_requires` through hook-list's binary: the enable order checked against it (an
//! error naming both plugins and the fix), cycles refused, and `--plan` showing which
//! hooks and plugins would run at once under `--jobs`.

mod util;

use util::Tree;

/// A checked-out plugin in `dest/NAME` with a plugin.sh and these settings.
fn plugin(tree: &Tree, name: &str, settings: &str) {
    tree.mkdir(format!("dest/{name}/devstack"));
    tree.file(format!("dest/{name}/devstack/plugin.sh"), "true\n");
    tree.file(format!("dest/{name}/devstack/settings"), settings);
}

fn listing(tree: &Tree, plugins: &str) -> util::Run {
    tree.cmd()
        .env("DEVSTACK_PLUGINS", plugins)
        .env("DEST", tree.path("dest"))
        .arg("extras.d")
        .run()
}

#[test]
fn a_plugin_enabled_before_one_it_requires_is_an_error_naming_both_and_the_fix() {
    let tree = Tree::new();
    tree.file("extras.d/50-a.sh", "true\n");
    plugin(
        &tree,
        "octavia",
        "define_plugin octavia\nplugin_requires octavia barbican\n",
    );
    plugin(&tree, "barbican", "define_plugin barbican\n");
    let run = listing(&tree, ",octavia,barbican");
    assert_eq!(run.status, 2, "{run}");
    assert_eq!(
        run.stderr,
        "hook-list: plugin octavia requires plugin barbican (plugin_requires in its settings), \
         but octavia is enabled before barbican: move `enable_plugin barbican` above \
         `enable_plugin octavia` in local.conf\n",
        "{run}"
    );
    assert!(run.entries().is_empty(), "nothing listed{run}");
    // In the right order, the same plugins list.
    let run = listing(&tree, ",barbican,octavia");
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(
        run.hook_names(),
        ["50-a.sh", "plugin:barbican", "plugin:octavia"]
    );
}

#[test]
fn a_plugin_requires_cycle_is_an_error_naming_it() {
    let tree = Tree::new();
    tree.mkdir("extras.d");
    plugin(&tree, "one", "plugin_requires one two\n");
    plugin(&tree, "two", "plugin_requires two three\n");
    plugin(&tree, "three", "plugin_requires three one\n");
    let run = listing(&tree, ",one,two,three");
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.stderr.contains(
            "plugin_requires goes round in a cycle: one requires two requires three requires one"
        ),
        "{run}"
    );
}

#[test]
fn the_plan_shows_the_groups_that_run_at_once() {
    let tree = Tree::new();
    tree.file("extras.d/10-a.sh", "true\n");
    tree.file("extras.d/10-b.sh", "true\n");
    tree.file("extras.d/20-c.sh", "true\n");
    plugin(&tree, "base", "");
    plugin(&tree, "other", "");
    plugin(&tree, "needs-base", "plugin_requires needs-base base\n");
    // The plan is text, not records: the binary is run directly.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hook-list"))
        .current_dir(tree.root())
        .env("DEVSTACK_PLUGINS", ",base,other,needs-base")
        .env("DEST", tree.path("dest"))
        .env("HOOKPIPE_JOBS", "4")
        .args(["--plan", "stack", "extras.d"])
        .output()
        .expect("hook-list runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let install: Vec<&str> = stdout
        .lines()
        .skip_while(|line| *line != "stack/install")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect();
    let note = |line: &str| line.split_once("  [").map(|(_, note)| note.to_owned());
    let notes: Vec<Option<String>> = install.iter().map(|line| note(line)).collect();
    let extras = Some("group extras.d 10, 2 hooks: up to 2 at once (HOOKPIPE_JOBS=4)]".to_owned());
    let plugins = Some("group plugins 0, 2 hooks: up to 2 at once (HOOKPIPE_JOBS=4)]".to_owned());
    assert_eq!(
        notes,
        [extras.clone(), extras, None, plugins.clone(), plugins, None],
        "{stdout}"
    );
}
