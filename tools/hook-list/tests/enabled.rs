//! `hook-list` through the real binary: the advisory `enabled` field that a hook's guard and
//! the environment's service lists give, and `--enabled-only`.

mod util;

use serde_json::{json, Value};
use util::{os, Tree};

/// A hook whose first command is DevStack's guard naming `services`.
fn guarded(tree: &Tree, name: &str, services: &str) {
    tree.file(
        format!("d/{name}"),
        &format!("#!/bin/bash\nif is_service_enabled {services}; then\n    touch ran\nfi\n"),
    );
}

/// The guard hooks every test here lists: one per kind of answer.
fn tree() -> Tree {
    let tree = Tree::new();
    guarded(&tree, "10-nova.sh", "nova");
    guarded(&tree, "20-keystone.sh", "keystone");
    guarded(&tree, "30-horizon.sh", "horizon");
    guarded(&tree, "40-any.sh", "horizon n.api");
    guarded(&tree, "50-cinder.sh", "cinder");
    tree.file("d/60-plain.sh", "touch ran\n");
    tree
}

fn enabled(run: &util::Run, name: &str) -> Option<Value> {
    run.entry(name).get("enabled").cloned()
}

#[test]
fn enabled_follows_devstacks_answer() {
    let tree = tree();
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", "key,n-api,c-api")
        .arg("d")
        .run();
    assert_eq!(run.status, 0, "{run}");
    // `nova` is not in the list, but DevStack's legacy rule takes `,n-` for it.
    assert_eq!(enabled(&run, "10-nova.sh"), Some(json!(true)), "{run}");
    // `key` is keystone only to is_keystone_enabled, which a listing cannot run.
    assert_eq!(enabled(&run, "20-keystone.sh"), None, "{run}");
    assert_eq!(enabled(&run, "30-horizon.sh"), Some(json!(false)), "{run}");
    // Any word will do, and a word is a regular expression.
    assert_eq!(enabled(&run, "40-any.sh"), Some(json!(true)), "{run}");
    // No legacy rule for cinder: only is_cinder_enabled knows.
    assert_eq!(enabled(&run, "50-cinder.sh"), None, "{run}");
    // No guard recognised: the hook always runs, so there is nothing to say.
    assert_eq!(enabled(&run, "60-plain.sh"), None, "{run}");
    assert!(!tree.path("ran").exists() && !tree.path("d/ran").exists());
}

/// DevStack's rules read ENABLED_SERVICES only (`disable_service` edits that list); what
/// DISABLED_SERVICES changes, it changes through is_<svc>_enabled functions, whose answer
/// is unknown here.
#[test]
fn disabled_services_change_only_unknown_answers() {
    let tree = tree();
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", "key,horizon")
        .env("DISABLED_SERVICES", "horizon,keystone")
        .arg("d")
        .run();
    assert_eq!(enabled(&run, "30-horizon.sh"), Some(json!(true)), "{run}");
    assert_eq!(enabled(&run, "20-keystone.sh"), None, "{run}");
    // is_nova_enabled would decide once no `n-` service is listed.
    assert_eq!(enabled(&run, "10-nova.sh"), None, "{run}");
}

/// Unset is not empty: stackrc would fill in its default list, so nothing is known; an
/// empty list (DevStack's `disable_all_services`) enables nothing.
#[test]
fn unset_is_unknown_and_empty_is_nothing() {
    let tree = tree();
    let run = tree.cmd().arg("d").run();
    assert!(
        run.hooks().iter().all(|hook| hook.get("enabled").is_none()),
        "{run}"
    );
    let run = tree.cmd().env("ENABLED_SERVICES", "").arg("d").run();
    assert_eq!(enabled(&run, "30-horizon.sh"), Some(json!(false)), "{run}");
    assert_eq!(enabled(&run, "40-any.sh"), Some(json!(false)), "{run}");
    assert_eq!(enabled(&run, "20-keystone.sh"), None, "{run}");
}

#[test]
fn plugins_have_no_enabled() {
    let tree = Tree::new();
    tree.mkdir("d");
    tree.file("p/one/devstack/plugin.sh", "true\n");
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", "one")
        .args(["--plugin", "one=p/one", "d"])
        .run();
    let plugin = run.entry("plugin:one");
    assert_eq!(plugin["type"], "hook", "{run}");
    assert!(plugin.get("enabled").is_none(), "{run}");
}

#[test]
fn enabled_only_skips_what_is_known_to_be_off() {
    let tree = tree();
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", "key,n-api")
        .args(["--enabled-only", "d"])
        .run();
    assert_eq!(run.status, 0, "{run}");
    let verdicts: Vec<(String, String)> = [
        ("10-nova.sh", "hook"),
        ("20-keystone.sh", "hook"),
        ("30-horizon.sh", "disabled"),
        ("40-any.sh", "hook"),
        ("50-cinder.sh", "hook"),
        ("60-plain.sh", "hook"),
    ]
    .iter()
    .map(|(name, verdict)| ((*name).to_owned(), (*verdict).to_owned()))
    .collect();
    assert_eq!(run.verdicts(), verdicts, "{run}");
    let skip = run.entry("30-horizon.sh");
    let message = skip["message"].as_str().unwrap_or_default();
    assert!(message.contains("is_service_enabled horizon"), "{run}");
    assert!(skip.get("enabled").is_none(), "{run}");
    // Unknown answers still run: keystone's guard is left to the hook.
    assert!(
        run.entry("20-keystone.sh").get("enabled").is_none(),
        "{run}"
    );
}

/// An overridden hook names a winner that is disabled, not one that runs.
#[test]
fn enabled_only_shows_in_overrides() {
    let tree = Tree::new();
    guarded(&tree, "50-x.sh", "horizon");
    tree.file("e/50-x.sh", "true\n");
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", "key")
        .args(["--enabled-only", "d", "e"])
        .run();
    let entries = run.entries();
    assert_eq!(entries[0]["reason"], "disabled", "{run}");
    assert_eq!(entries[1]["reason"], "overridden", "{run}");
    let message = entries[1]["message"].as_str().unwrap_or_default();
    assert!(message.contains("(disabled)"), "{run}");
}

#[test]
fn lists_that_are_not_text_leave_enabled_out() {
    let tree = tree();
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", os(b"n-api,caf\xe9"))
        .arg("d")
        .run();
    assert_eq!(run.status, 0, "{run}");
    assert!(
        run.hooks().iter().all(|hook| hook.get("enabled").is_none()),
        "{run}"
    );
    let warnings = run.warnings();
    assert_eq!(warnings.len(), 1, "{run}");
    assert!(warnings[0].contains("ENABLED_SERVICES"), "{run}");
    // Where the answer decides what is listed, a guess is not good enough.
    let run = tree
        .cmd()
        .env("DISABLED_SERVICES", os(b"\xff"))
        .env("ENABLED_SERVICES", "key")
        .args(["--enabled-only", "d"])
        .run();
    assert_eq!(run.status, 2, "{run}");
    assert!(run.stderr.contains("DISABLED_SERVICES"), "{run}");
    assert!(run.entries().is_empty(), "{run}");
}

#[test]
fn help_says_enabled_is_advisory() {
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_hook-list"))
        .arg("--help")
        .output()
        .expect("hook-list --help");
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--enabled-only",
        "enabled",
        "advisory",
        "ENABLED_SERVICES",
        "DISABLED_SERVICES",
        "disabled",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

/// Guards on names DevStack's own functions decide (issue "Honest outcomes"): `plugin`
/// follows DEVSTACK_PLUGINS as `is_plugin_enabled` with no name does, `neutron_legacy` is
/// always enabled, and `ovn_metadata_agent` and `nova_console_proxy_compute_tls` are never
/// false when only DevStack can tell; `--enabled-only` keeps such hooks.
#[test]
fn guards_decided_by_devstack_functions_are_never_wrongly_false() {
    let tree = Tree::new();
    guarded(&tree, "10-plugin.sh", "plugin");
    guarded(&tree, "20-ovn-meta.sh", "ovn_metadata_agent");
    guarded(&tree, "30-console-tls.sh", "nova_console_proxy_compute_tls");
    guarded(&tree, "40-legacy.sh", "neutron_legacy");
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", "key")
        .env("DEVSTACK_PLUGINS", ",alpha")
        .args(["--enabled-only", "d"])
        .run();
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(enabled(&run, "10-plugin.sh"), Some(json!(true)), "{run}");
    assert_eq!(enabled(&run, "20-ovn-meta.sh"), None, "{run}");
    assert_eq!(enabled(&run, "30-console-tls.sh"), None, "{run}");
    assert_eq!(enabled(&run, "40-legacy.sh"), Some(json!(true)), "{run}");
    let run = tree
        .cmd()
        .env("ENABLED_SERVICES", "key")
        .env("DEVSTACK_PLUGINS", "alpha")
        .env("NOVA_CONSOLE_PROXY_COMPUTE_TLS", "True")
        .arg("d")
        .run();
    // A list enable_plugin did not build: no double comma, so `plugin` is not enabled.
    assert_eq!(enabled(&run, "10-plugin.sh"), Some(json!(false)), "{run}");
    assert_eq!(
        enabled(&run, "30-console-tls.sh"),
        Some(json!(true)),
        "{run}"
    );
}
