//! Hooks that misbehave: each is reported for what it did, its output arrives byte-exact,
//! and the hooks after it still run as DevStack would run them.

mod common;

use common::*;
use serde_json::Value;

fn outputs<'a>(recs: &'a [Value], id: &str) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| r["type"] == "output" && r["id"] == id)
        .collect()
}

#[test]
fn exec_of_another_program_replaces_the_shell_and_the_stage_goes_on() {
    let mut tree = Tree::new();
    tree.hook(
        "10-exec.sh",
        "if [[ $1 == stack ]]; then BEFORE=kept; exec echo replaced; fi\n",
    );
    tree.hook(
        "20-next.sh",
        "if [[ $1 == stack ]]; then echo \"next ${BEFORE-lost}\"; fi\n",
    );
    let out = run(&tree, &["stack", "install"]);
    let recs = records(&out);
    assert_eq!(
        lines_of(&recs, "stack/install/10-exec.sh"),
        ["replaced"],
        "{}",
        explain(&out)
    );
    let end = end_of(&recs, "stack/install/10-exec.sh");
    assert_eq!(end["status"], "ok");
    assert_eq!(end["exited"], true);
    // exec left no EXIT trap behind, so the state of that moment is lost: the next worker
    // starts from the stage's starting state.
    assert_eq!(lines_of(&recs, "stack/install/20-next.sh"), ["next lost"]);
    assert!(out.status.success());
}

#[test]
fn killing_its_own_process_group_is_reported_as_a_signal() {
    let mut tree = Tree::new();
    tree.hook(
        "10-kill.sh",
        "if [[ $1 == stack ]]; then echo before; kill -TERM 0; sleep 5; fi\n",
    );
    tree.hook("20-next.sh", "if [[ $1 == stack ]]; then echo next; fi\n");
    let out = run(&tree, &["stack", "install", "--keep-going"]);
    let recs = records(&out);
    let end = end_of(&recs, "stack/install/10-kill.sh");
    assert_eq!(end["status"], "killed", "{}", explain(&out));
    assert_eq!(end["signal"], 15);
    assert_eq!(lines_of(&recs, "stack/install/10-kill.sh"), ["before"]);
    assert_eq!(lines_of(&recs, "stack/install/20-next.sh"), ["next"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn closing_stdout_spoils_only_that_hook() {
    let mut tree = Tree::new();
    tree.hook(
        "10-close.sh",
        "if [[ $1 == stack ]]; then echo first; exec 1>&-; echo lost || echo 'write failed' >&2; fi\n",
    );
    tree.hook(
        "20-next.sh",
        "if [[ $1 == stack ]]; then echo still-visible; fi\n",
    );
    let out = run(&tree, &["stack", "install", "--no-errexit"]);
    let recs = records(&out);
    let stderr: Vec<String> = outputs(&recs, "stack/install/10-close.sh")
        .iter()
        .filter(|r| r["stream"] == "stderr")
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        stderr.iter().any(|l| l == "write failed"),
        "{}",
        explain(&out)
    );
    assert_eq!(
        lines_of(&recs, "stack/install/20-next.sh"),
        ["still-visible"]
    );
}

#[test]
fn changed_directory_and_nounset_persist_as_in_one_devstack_shell() {
    let mut tree = Tree::new();
    tree.hook(
        "10-cd.sh",
        "if [[ $1 == stack ]]; then cd /; set -o nounset; fi\n",
    );
    tree.hook(
        "20-pwd.sh",
        "if [[ $1 == stack ]]; then pwd; echo \"${NOT_SET_ANYWHERE}\"; fi\n",
    );
    tree.hook("30-after.sh", "if [[ $1 == stack ]]; then echo after; fi\n");
    let out = run(&tree, &["stack", "install", "--keep-going"]);
    let recs = records(&out);
    assert_eq!(
        lines_of(&recs, "stack/install/20-pwd.sh")[0],
        "/",
        "{}",
        explain(&out)
    );
    let end = end_of(&recs, "stack/install/20-pwd.sh");
    assert_eq!(end["status"], "failed");
    assert_eq!(lines_of(&recs, "stack/install/30-after.sh"), ["after"]);
}

#[test]
fn nul_bytes_and_cr_only_line_ends_arrive_byte_exact() {
    let mut tree = Tree::new();
    tree.hook(
        "10-odd.sh",
        "if [[ $1 == stack ]]; then printf 'a\\0b\\rc\\rd\\n'; fi\n",
    );
    let out = run(&tree, &["stack", "install"]);
    let recs = records(&out);
    assert_eq!(
        lines_of(&recs, "stack/install/10-odd.sh"),
        ["a\0b\rc\rd"],
        "{}",
        explain(&out)
    );
}

#[test]
fn ten_megabytes_without_a_newline_arrive_in_bounded_pieces() {
    let mut tree = Tree::new();
    tree.hook(
        "10-big.sh",
        "if [[ $1 == stack ]]; then head -c 10485760 /dev/zero | tr '\\0' y; fi\n",
    );
    let out = run(&tree, &["stack", "install"]);
    let recs = records(&out);
    let pieces = outputs(&recs, "stack/install/10-big.sh");
    // 160 pieces of 64 KiB when the bytes flow without a pause; a writer that stalls for
    // longer than the idle flush (a loaded machine) adds a shorter piece, never a longer one.
    assert!(
        pieces.len() >= 160,
        "{} pieces\n{}",
        pieces.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(pieces.iter().all(|r| r["partial"] == true));
    let sizes: Vec<usize> = pieces
        .iter()
        .map(|r| r["text"].as_str().unwrap().len())
        .collect();
    assert!(sizes.iter().all(|&size| size <= 64 * 1024), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 10_485_760);
}
