//! Resuming a failed run and reverse teardown, end to end (issue 19, docs/checkpoints.md):
//! scripts/stack.sh, unstack.sh and clean.sh on the `resume` fixture, whose two extras.d
//! hooks and plugin `gamma` append `<file> <mode> <phase>` to `$DEST/calls`, so each test
//! sees which stages ran. `10-base.sh` fails in `stack extra` until `$DEST/fixed` exists,
//! and there uses a function and a global it defined in `source` and a global it set in
//! `stack pre-install`, writing what it saw to `$DEST/saw`.

use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hookpipe_e2e::{bin_dir, copy_tree, lib_dir, repo_root, scrub_env, tagged_processes, Stack};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The stages of stack.sh that call hooks here, and each one's calls, in order.
const STAGES: &[(&str, &[&str])] = &[
    (
        "override_defaults",
        &[
            "10-base.sh override_defaults",
            "20-more.sh override_defaults",
        ],
    ),
    (
        "source",
        &["10-base.sh source", "20-more.sh source", "gamma/settings"],
    ),
    (
        "stack/pre-install",
        &[
            "10-base.sh stack pre-install",
            "20-more.sh stack pre-install",
            "gamma/plugin.sh stack pre-install",
        ],
    ),
    (
        "stack/install",
        &[
            "10-base.sh stack install",
            "20-more.sh stack install",
            "gamma/plugin.sh stack install",
        ],
    ),
    (
        "stack/post-config",
        &[
            "10-base.sh stack post-config",
            "20-more.sh stack post-config",
            "gamma/plugin.sh stack post-config",
        ],
    ),
    (
        "stack/extra",
        &[
            "10-base.sh stack extra",
            "20-more.sh stack extra",
            "gamma/plugin.sh stack extra",
        ],
    ),
    (
        "stack/test-config",
        &[
            "10-base.sh stack test-config",
            "20-more.sh stack test-config",
            "gamma/plugin.sh stack test-config",
        ],
    ),
];

/// The calls of the stages from `first` to `last` (inclusive), in order.
fn calls_of(first: &str, last: &str) -> Vec<String> {
    let from = STAGES
        .iter()
        .position(|(s, _)| *s == first)
        .expect("a stage");
    let to = STAGES
        .iter()
        .position(|(s, _)| *s == last)
        .expect("a stage");
    STAGES[from..=to]
        .iter()
        .flat_map(|(_, calls)| calls.iter().map(|c| (*c).to_owned()))
        .collect()
}

fn resume_stack() -> Stack {
    let stack = Stack::fixture("resume/top");
    copy_tree(&repo_root().join("tests/fixtures/resume/dest"), &stack.dest)
        .expect("place the gamma plugin under DEST");
    stack
}

/// The calls recorded since the last take, trimmed; the record file is removed.
fn take_calls(stack: &Stack) -> Vec<String> {
    let path = stack.dest.join("calls");
    let text = fs::read_to_string(&path).unwrap_or_default();
    let _ = fs::remove_file(&path);
    text.lines()
        .map(|line| line.trim_end().to_owned())
        .collect()
}

/// A failed first run (it fails in `stack extra`), its calls checked.
fn failed_first_run(stack: &Stack) {
    let out = stack.script("stack.sh", &[]);
    assert_eq!(
        out.code(),
        1,
        "the first run should fail in stack extra\n{out}"
    );
    let mut expected = calls_of("override_defaults", "stack/post-config");
    expected.push("10-base.sh stack extra".into());
    assert_eq!(take_calls(stack), expected, "{out}");
    let _ = fs::remove_file(stack.dest.join("saw"));
}

#[test]
fn a_run_failing_in_stack_extra_resumes_there_with_its_state_once_fixed() {
    let stack = resume_stack();
    failed_first_run(&stack);
    fs::write(stack.dest.join("fixed"), "").expect("fix the machine");

    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    // Earlier stages did not run again; stack extra and test-config did.
    assert_eq!(
        take_calls(&stack),
        calls_of("stack/extra", "stack/test-config"),
        "{out}"
    );
    // What source and pre-install defined reached the resumed stage.
    let saw = fs::read_to_string(stack.dest.join("saw")).expect("stack extra ran");
    assert_eq!(
        saw, "hello from base_greet\nBASE_GLOBAL=set in source\nPRE_GLOBAL=set in pre-install\n",
        "{out}"
    );
    // The console and its reports say what was reused, from which run, and what ran now.
    for stage in [
        "override_defaults",
        "source",
        "stack/pre-install",
        "stack/post-config",
    ] {
        assert!(
            out.stdout
                .contains(&format!("{stage} [resume] reused from run ")),
            "{stage} not reported reused\n{out}"
        );
    }
    assert!(
        out.stdout
            .contains("stack/extra [resume] runs now: no checkpoint in"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("stack/test-config [resume] runs now: upstream stage stack/extra ran now"),
        "{out}"
    );
    let report = out
        .stdout
        .split("=== Resumed run ===")
        .nth(1)
        .unwrap_or_else(|| panic!("no Resumed run report\n{out}"));
    assert!(report.contains("reused from run"), "{out}");
    assert!(report.contains("ran now: no checkpoint"), "{out}");
    assert!(
        out.stdout.contains("stack/install/10-base.sh") && out.stdout.contains("ok (reused)"),
        "{out}"
    );
    assert!(
        out.stdout.contains("reused from earlier runs)"),
        "the result line does not count reused calls\n{out}"
    );
    // The log reads as one run: the reused stages' output is there, with their old times.
    let log = fs::read_to_string(stack.logfile()).expect("the log of the resumed run");
    assert!(
        log.contains("stack/pre-install/10-base.sh | pre-install output of 10-base.sh"),
        "the reused stage's output is not in the log\n{log}"
    );

    // Resuming a run that completed reuses every stage and runs no hook.
    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert_eq!(take_calls(&stack), Vec::<String>::new(), "{out}");
    assert!(!out.stdout.contains("runs now"), "{out}");
}

#[test]
fn an_edited_plugin_file_invalidates_its_first_stage_and_every_later_one() {
    let stack = resume_stack();
    fs::write(stack.dest.join("fixed"), "").expect("fix the machine");
    let out = stack.script("stack.sh", &[]);
    out.assert_ok();
    take_calls(&stack);

    // gamma's plugin.sh is first sourced in stack pre-install.
    let plugin = stack.dest.join("gamma/devstack/plugin.sh");
    let mut text = fs::read_to_string(&plugin).expect("plugin.sh");
    text.push_str("# edited\n");
    fs::write(&plugin, text).expect("edit plugin.sh");

    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("stack/pre-install", "stack/test-config"),
        "{out}"
    );
    assert!(
        out.stdout.contains(&format!(
            "stack/pre-install [resume] runs now: {} changed",
            plugin.display()
        )),
        "the reason does not name the edited file\n{out}"
    );
    assert!(
        out.stdout
            .contains("stack/install [resume] runs now: upstream stage stack/pre-install ran now"),
        "{out}"
    );

    // A setting changed in local.conf invalidates every stage.
    let conf = stack.top.join("local.conf");
    let mut text = fs::read_to_string(&conf).expect("local.conf");
    text.push_str("DISABLED_SERVICES=nothing\n");
    fs::write(&conf, text).expect("edit local.conf");
    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("override_defaults", "stack/test-config"),
        "{out}"
    );
    assert!(
        out.stdout.contains("override_defaults [resume] runs now: "),
        "{out}"
    );
    assert!(out.stdout.contains("local.conf changed"), "{out}");
}

#[test]
fn until_stops_after_a_stage_and_from_runs_from_one() {
    let stack = resume_stack();
    fs::write(stack.dest.join("fixed"), "").expect("fix the machine");

    let out = stack.script("stack.sh", &["--until", "stack/install"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("override_defaults", "stack/install"),
        "{out}"
    );
    assert!(
        out.stdout.contains("skipped: until"),
        "the later calls are not reported skipped by --until\n{out}"
    );
    assert!(
        stack
            .dest
            .join(".hookpipe-run/stack.install.checkpoint.json")
            .is_file(),
        "--until did not keep the checkpoint of its stage\n{out}"
    );

    // --resume continues after it.
    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("stack/post-config", "stack/test-config"),
        "{out}"
    );

    // --from runs a stage whose checkpoint is valid, and every later one.
    let out = stack.script("stack.sh", &["--from", "stack/extra"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("stack/extra", "stack/test-config"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("stack/extra [resume] runs now: --from stack/extra"),
        "{out}"
    );

    // Both together: one stage alone.
    let out = stack.script(
        "stack.sh",
        &["--from", "stack install", "--until", "stack/install"],
    );
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("stack/install", "stack/install"),
        "{out}"
    );

    // A stage stack.sh does not have is a usage error naming it and the stages.
    let out = stack.script("stack.sh", &["--from", "stack/deploy"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("unknown stage stack/deploy"), "{out}");
    assert!(out.stderr.contains("stack/test-config"), "{out}");
    assert_eq!(take_calls(&stack), Vec::<String>::new(), "{out}");
}

#[test]
fn a_corrupt_or_missing_checkpoint_runs_the_stage_and_says_why() {
    let stack = resume_stack();
    failed_first_run(&stack);
    fs::write(stack.dest.join("fixed"), "").expect("fix the machine");

    // A damaged checkpoint of `source`: that stage and every later one run.
    let run_dir = stack.dest.join(".hookpipe-run");
    fs::write(
        run_dir.join("source.checkpoint.json"),
        "{\"format\": \"hookp",
    )
    .expect("damage");
    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert_eq!(
        take_calls(&stack),
        calls_of("source", "stack/test-config"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("source [resume] runs now: unusable checkpoint: "),
        "{out}"
    );
    assert!(
        out.stdout.contains("source.checkpoint.json is corrupt"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("override_defaults [resume] reused from run"),
        "{out}"
    );

    // A records file changed behind the checkpoint's back is refused too.
    let records = run_dir.join("stack.install.records.ndjson");
    fs::write(&records, "{}\n").expect("damage the records");
    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("stack/install", "stack/test-config"),
        "{out}"
    );
    assert!(out.stdout.contains("does not have the content"), "{out}");

    // No run directory at all: everything runs, and the console says so.
    fs::remove_dir_all(&run_dir).expect("remove the run directory");
    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("override_defaults", "stack/test-config"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("override_defaults [resume] runs now: no checkpoint in"),
        "{out}"
    );
}

#[test]
fn a_user_named_run_directory_holds_the_checkpoints() {
    let stack = resume_stack();
    fs::write(stack.dest.join("fixed"), "").expect("fix the machine");
    let runs = stack.root().join("runs");
    let runs_text = runs.to_str().expect("a UTF-8 temporary path");
    let out = stack.script("stack.sh", &["--run-dir", runs_text]);
    out.assert_ok();
    take_calls(&stack);
    assert!(runs.join("stack.extra.checkpoint.json").is_file(), "{out}");
    assert!(!stack.dest.join(".hookpipe-run").exists(), "{out}");
    let out = stack.script("stack.sh", &["--resume", "--run-dir", runs_text]);
    out.assert_ok();
    assert_eq!(take_calls(&stack), Vec::<String>::new(), "{out}");
}

/// How long an interrupted run may take to end, and its processes to go.
const GONE: Duration = Duration::from_secs(30);

#[test]
fn ctrl_c_during_a_resumed_run_stops_it_and_leaves_no_process() {
    let stack = resume_stack();
    failed_first_run(&stack);
    fs::write(stack.dest.join("fixed"), "").expect("fix the machine");
    fs::write(stack.dest.join("slow"), "").expect("make test-config wait");

    let tag = format!("resume-ctrl-c-{}", std::process::id());
    let mut cmd = Command::new(repo_root().join("scripts/stack.sh"));
    cmd.arg("--resume");
    scrub_env(&mut cmd);
    cmd.current_dir(stack.root())
        .env("TOP_DIR", &stack.top)
        .env("DEST", &stack.dest)
        .env("HOOKPIPE_BIN", bin_dir())
        .env("HOOKPIPE_LIB", lib_dir())
        .env("VERBOSE", "False")
        .env("HOOKPIPE_RESUME_TEST_TAG", &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, as a shell starts a foreground job: Ctrl-C reaches all.
        .process_group(0);
    let child = cmd.spawn().expect("start stack.sh --resume");
    let group = Pid::from_raw(child.id() as i32);
    let deadline = Instant::now() + GONE;
    while !stack.dest.join("sleeping").exists() {
        assert!(
            Instant::now() < deadline,
            "stack test-config never started waiting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    killpg(group, Signal::SIGINT).expect("Ctrl-C to the run");
    let output = child.wait_with_output().expect("stack.sh ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let status = output.status;
    assert!(
        status.signal() == Some(2) || status.code() == Some(130),
        "stack.sh did not end by the interrupt: {status:?}\n{stdout}"
    );
    assert!(stdout.contains("reused from run"), "{stdout}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    let deadline = Instant::now() + GONE;
    loop {
        let left = tagged_processes("HOOKPIPE_RESUME_TEST_TAG", std::ffi::OsStr::new(&tag));
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes left after Ctrl-C: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The interrupted stage kept no checkpoint: the next resume runs it.
    fs::remove_file(stack.dest.join("slow")).expect("no more waiting");
    take_calls(&stack);
    let out = stack.script("stack.sh", &["--resume"]);
    out.assert_ok();
    assert_eq!(
        take_calls(&stack),
        calls_of("stack/test-config", "stack/test-config"),
        "{out}"
    );
}

/// The order of the calls of one mode in `$DEST/calls`.
fn mode_calls(calls: &[String], mode: &str) -> Vec<String> {
    let prefix = format!(" {mode}");
    calls
        .iter()
        .filter(|line| line.ends_with(&prefix) || line.contains(&format!("{prefix} ")))
        .cloned()
        .collect()
}

#[test]
fn reverse_teardown_calls_plugins_first_and_higher_numbers_first() {
    let stack = resume_stack();
    fs::write(stack.dest.join("fixed"), "").expect("fix the machine");
    stack.script("stack.sh", &[]).assert_ok();
    fs::remove_file(stack.dest.join("calls")).expect("calls");

    // DevStack's order stays the default.
    let out = stack.script("unstack.sh", &[]);
    out.assert_ok();
    assert_eq!(
        mode_calls(&take_calls(&stack), "unstack"),
        [
            "10-base.sh unstack",
            "20-more.sh unstack",
            "gamma/plugin.sh unstack"
        ],
        "{out}"
    );

    let out = stack.script("unstack.sh", &["--reverse"]);
    out.assert_ok();
    let calls = take_calls(&stack);
    assert_eq!(
        mode_calls(&calls, "unstack"),
        [
            "gamma/plugin.sh unstack",
            "20-more.sh unstack",
            "10-base.sh unstack"
        ],
        "{out}"
    );
    // The `source` pass that prepares the teardown keeps DevStack's order.
    assert_eq!(
        mode_calls(&calls, "source"),
        ["10-base.sh source", "20-more.sh source"],
        "{out}"
    );

    // The setting, in local.conf: clean.sh's child unstack.sh and its own clean stage.
    let conf = stack.top.join("local.conf");
    let mut text = fs::read_to_string(&conf).expect("local.conf");
    text.push_str("HOOKPIPE_REVERSE=True\n");
    fs::write(&conf, text).expect("edit local.conf");
    let out = stack.script("clean.sh", &[]);
    out.assert_ok();
    let calls = take_calls(&stack);
    assert_eq!(
        mode_calls(&calls, "unstack"),
        [
            "gamma/plugin.sh unstack",
            "20-more.sh unstack",
            "10-base.sh unstack"
        ],
        "{out}"
    );
    assert_eq!(
        mode_calls(&calls, "clean"),
        [
            "gamma/plugin.sh clean",
            "20-more.sh clean",
            "10-base.sh clean"
        ],
        "{out}"
    );
    // clean.sh forgets the checkpoints of the stack it removed.
    assert!(!stack.dest.join(".hookpipe-run").exists(), "{out}");
}

#[test]
fn a_hand_made_pipeline_resumes_too() {
    // The runners do it all: no script involved.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let top = dir.path();
    fs::create_dir(top.join("extras.d")).expect("extras.d");
    fs::write(
        top.join("extras.d/50-count.sh"),
        "echo \"$1 ${2-}\" >>\"$COUNT_FILE\"\nif [[ $1 == source ]]; then COUNTED=yes; fi\n\
         if [[ ${2-} == install ]]; then [[ $COUNTED == yes && -e ok ]]; fi\n",
    )
    .expect("a hook");
    let bin = bin_dir();
    let script = format!(
        "set -o pipefail; {b}/hook-list extras.d | {b}/hook-run --checkpoint-dir run $FLAGS source \
         | {b}/hook-run --checkpoint-dir run $FLAGS stack install | {b}/phase-log",
        b = bin.display()
    );
    let run = |flags: &str| {
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(&script);
        scrub_env(&mut cmd);
        cmd.current_dir(top)
            .env("HOOKPIPE_LIB", lib_dir())
            .env("COUNT_FILE", top.join("count"))
            .env("FLAGS", flags)
            .env("VERBOSE", "False");
        hookpipe_e2e::run(cmd, Duration::from_secs(60))
    };
    let out = run("");
    assert_eq!(out.code(), 1, "{out}");
    fs::write(top.join("ok"), "").expect("fix");
    fs::remove_file(top.join("count")).expect("count");
    let out = run("--resume");
    out.assert_ok();
    assert_eq!(
        fs::read_to_string(top.join("count")).expect("count"),
        "stack install\n",
        "{out}"
    );
    assert!(Path::new(&top.join("run/source.checkpoint.json")).is_file());
}
