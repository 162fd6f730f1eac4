//! Every example of README.md runs as written: each fenced block is a command block (```sh,
//! or a block that starts with a tool's name), a transcript (`$ COMMAND` then its output),
//! or the output of a command named in [`OUTPUTS`]. They run from a sandbox that looks like
//! a checkout (links to scripts/, lib/, extras.d/, tests/), with the workspace's tools on
//! PATH and in HOOKPIPE_BIN, and DEST inside the sandbox; after each block, `clean.sh`
//! stops whatever the example started. A block the test cannot classify fails it, so a new
//! example is run too.

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command;
use std::time::Duration;

use hookpipe_e2e::{bin_dir, repo_root, run, scrub_env, Run};

const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Example lines not run here, with the reason.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "cargo test --workspace",
        "it runs this very test (CI runs it as .ci/run's last step)",
    ),
    (
        "source /usr/local/lib/hookpipe/hookpipe",
        "a line for a DevStack tree's scripts: tests/e2e/legacy.rs installs a prefix and runs it",
    ),
];

/// Blocks another test runs, by their first line: (first line, the test).
const RUN_ELSEWHERE: &[(&str, &str)] = &[
    (
        "[controller]",
        "tests/e2e/multinode.rs runs README's inventory with real Ansible",
    ),
    (
        "export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml",
        "tests/e2e/multinode.rs runs these playbooks on that inventory",
    ),
    (
        "hookpipe: stack.sh failed on sub2",
        "tests/e2e/multinode.rs checks the failure card",
    ),
    (
        "$ cp -r tests/fixtures/resume/dest /tmp/demo-dest",
        "tests/e2e/resume.rs runs this failed run and its resume on the same fixture and \
         checks the calls, the state, the [resume] lines and the Resumed run report",
    ),
];

/// Output blocks and the command in the text before them that prints them: (the block's
/// first line, the command).
const OUTPUTS: &[(&str, &str)] = &[(
    "=== Failures ===",
    "TOP_DIR=tests/fixtures/failing DEST=$(mktemp -d) VERBOSE=False scripts/stack.sh",
)];

/// The tools a command block may start with.
const TOOLS: &[&str] = &[
    "hook-list",
    "hook-run",
    "hyp-resolve",
    "hyp-call",
    "phase-log",
    "{ ",
];

struct Block {
    line: usize,
    info: String,
    text: String,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in readme.lines().enumerate() {
        if let Some(info) = line.strip_prefix("```") {
            match open.take() {
                Some(block) => blocks.push(block),
                None => {
                    open = Some(Block {
                        line: index + 1,
                        info: info.trim().to_owned(),
                        text: String::new(),
                    })
                }
            }
        } else if let Some(block) = open.as_mut() {
            block.text.push_str(line);
            block.text.push('\n');
        }
    }
    assert!(open.is_none(), "README.md ends inside a code block");
    blocks
}

/// A directory that looks like the checkout, for the examples' relative paths.
fn sandbox() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hookpipe-readme-")
        .tempdir()
        .expect("a temporary directory");
    for entry in ["scripts", "lib", "extras.d", "tests", "Cargo.toml"] {
        symlink(repo_root().join(entry), dir.path().join(entry)).expect("link the checkout");
    }
    dir
}

/// Runs `script` under bash in `dir` as a user would, with the tools on PATH.
fn bash(dir: &std::path::Path, script: &str) -> Run {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(format!("set -o pipefail\n{script}"));
    scrub_env(&mut cmd);
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.current_dir(dir)
        .env("PATH", path)
        .env("HOOKPIPE_BIN", bin_dir())
        .env("DEST", dir.join(".stack"));
    run(cmd, EXAMPLE_TIMEOUT)
}

/// Stops what an example started.
fn clean(dir: &std::path::Path) {
    let _ = bash(dir, "scripts/clean.sh >/dev/null 2>&1");
}

fn not_run(line: &str) -> bool {
    NOT_RUN
        .iter()
        .any(|(command, _)| line.split('#').next().unwrap_or_default().trim() == *command)
}

/// A `sh` block or a block that starts with a tool: every command in it, in order, in one
/// shell, each one succeeding.
fn run_commands(block: &Block) {
    let dir = sandbox();
    let mut script = String::from("set -o errexit\n");
    for line in block.text.lines() {
        if not_run(line) {
            continue;
        }
        script.push_str(line);
        script.push('\n');
    }
    let out = bash(dir.path(), &script);
    clean(dir.path());
    assert_eq!(out.code(), 0, "README.md line {}:\n{out}", block.line);
}

/// The lines of an expected output worth comparing: no elided part, no time.
fn stable_lines(expected: &str) -> Vec<&str> {
    expected
        .lines()
        .filter(|line| !line.contains("...") && !line.trim().is_empty())
        .filter(|line| {
            line.starts_with("Result:")
                || line.starts_with('{')
                || line.starts_with("=== ")
                || line.contains("[summary]")
                || line.contains("calls skipped after")
                || line.contains(": failed, exit")
        })
        .collect()
}

/// Whether `got` shows `expected`: the same text, with times and durations free.
fn shows(got: &str, expected: &str) -> bool {
    let strip = |line: &str| -> String {
        let line = match line.find(" | ") {
            // A console stamp `2026-11-24 23:30:26.880 | `.
            Some(at) if line[..at].starts_with("20") => &line[at + 3..],
            _ => line,
        };
        // A duration such as `after 0.004s`.
        match line.rfind(", after ") {
            Some(at) => line[..at].to_owned(),
            None => line.to_owned(),
        }
    };
    let wanted = strip(expected);
    got.lines().any(|line| strip(line) == wanted)
}

fn check_output(line: usize, command: &str, expected: &str) {
    let dir = sandbox();
    let out = bash(dir.path(), command);
    clean(dir.path());
    let wanted = stable_lines(expected);
    assert!(
        !wanted.is_empty(),
        "README.md line {line}: nothing to compare"
    );
    for want in wanted {
        assert!(
            shows(&out.stdout, want),
            "README.md line {line}: `{command}` does not show\n  {want}\n{out}"
        );
    }
}

#[test]
fn every_readme_example_runs_as_written() {
    let readme = fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    for (command, why) in NOT_RUN {
        assert!(
            readme.contains(command),
            "NOT_RUN names `{command}` ({why}), which README.md no longer has"
        );
    }
    let blocks = blocks(&readme);
    assert!(blocks.len() >= 5, "{} blocks", blocks.len());
    for block in &blocks {
        let first = block.text.lines().next().unwrap_or_default();
        if RUN_ELSEWHERE
            .iter()
            .any(|(head, _)| first.starts_with(head))
        {
            continue;
        }
        if let Some(command) = first.strip_prefix("$ ") {
            let expected: String = block.text.lines().skip(1).collect::<Vec<_>>().join("\n");
            check_output(block.line, command, &expected);
        } else if block.info == "sh" || TOOLS.iter().any(|tool| first.starts_with(tool)) {
            run_commands(block);
        } else if let Some((_, command)) = OUTPUTS.iter().find(|(head, _)| first == *head) {
            assert!(
                readme.contains(command),
                "README.md line {}: its command `{command}` is not in the text",
                block.line
            );
            check_output(block.line, command, &block.text);
        } else {
            panic!(
                "README.md line {}: a block this test cannot run (add it to OUTPUTS):\n{}",
                block.line, block.text
            );
        }
    }
}
