//! hook-run through its real binary: DevStack's call contract, shell state across stages and
//! pipelines, failures, output framing, timeouts, signals, broken pipes and daemons.
//!
//! Each test writes hook files into a temporary tree, feeds `hook` records (as hook-list
//! would write them) and reads the records back. Pipelines of several stages run under
//! `bash -c` so they are real pipes between real processes.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

#[test]
fn passes_devstack_arguments_and_arg_counts() {
    let mut tree = Tree::new();
    tree.hook("10-args.sh", "echo \"n=$# 1=${1-unset} 2=${2-unset}\"\n");
    let out = run(&tree, &["unstack", "--no-prelude"]);
    let recs = records(&out);
    // unstack with no state: the hook is first called with `source`, as unstack.sh does.
    assert_eq!(
        lines_of(&recs, "unstack/10-args.sh#source"),
        ["n=1 1=source 2=unset"],
        "{}",
        explain(&out)
    );
    assert_eq!(
        lines_of(&recs, "unstack/10-args.sh"),
        ["n=1 1=unstack 2=unset"]
    );
    let out = run(&tree, &["stack", "post-config"]);
    assert_eq!(
        lines_of(&records(&out), "stack/post-config/10-args.sh"),
        ["n=2 1=stack 2=post-config"]
    );
    assert!(out.status.success(), "{}", explain(&out));
}

#[test]
fn function_from_source_is_used_in_a_later_stage_of_one_pipeline() {
    let mut tree = Tree::new();
    tree.hook(
        "50-lib.sh",
        "if [[ $1 == source ]]; then install_it() { echo \"installing with $1\"; }; fi\n\
         if [[ $1 == stack && $2 == install ]]; then install_it from-source; fi\n",
    );
    let out = tree.pipeline("$HR source < \"$HOOKS\" | $HR stack install");
    let recs = records(&out);
    assert_eq!(
        lines_of(&recs, "stack/install/50-lib.sh"),
        ["installing with from-source"],
        "{}",
        explain(&out)
    );
    assert!(out.status.success());
}

#[test]
fn state_file_carries_functions_across_separate_pipelines() {
    let mut tree = Tree::new();
    tree.hook(
        "50-lib.sh",
        "if [[ $1 == source ]]; then helper() { echo \"helper: $*\"; }; FROM_SOURCE=yes; fi\n\
         if [[ $1 == stack ]]; then helper \"$FROM_SOURCE\"; fi\n",
    );
    let out = tree.pipeline(
        "$HR --state state.sh source < \"$HOOKS\" >/dev/null && \
         $HR --state state.sh stack install < \"$HOOKS\"",
    );
    let recs = records(&out);
    assert_eq!(
        lines_of(&recs, "stack/install/50-lib.sh"),
        ["helper: yes"],
        "{}",
        explain(&out)
    );
    // The state was loaded, so no `source` calls were made first.
    assert!(lines_of(&recs, "stack/install/50-lib.sh#source").is_empty());
    // The state file is plain bash that a calling script can source.
    let state = tree.path().join("state.sh");
    let check = Command::new("bash")
        .arg("-c")
        .arg("f() { source \"$1\"; }; f \"$1\"; helper back-in-shell; echo \"$FROM_SOURCE\"")
        .arg("x")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "helper: back-in-shell\nyes\n",
        "{}",
        explain(&check)
    );
}

#[test]
fn globals_of_every_kind_cross_stages_and_declare_stays_local() {
    let mut tree = Tree::new();
    tree.hook(
        "10-set.sh",
        r#"if [[ $1 == source ]]; then
    PLAIN='it'\''s "quoted" $x'
    MULTI=$'line one\nline two'
    export EXPORTED=exp
    INDEXED=(a "b c" $'d\ne')
    declare -g -A ASSOC=([key one]=1 [k2]=$'two\nlines')
    declare -g -i NUMBER=41
    readonly FIXED=stone
    declare LOCAL_ONLY=gone
    unset -v HOOKPIPE_TEST_UNSET_ME
fi
"#,
    );
    tree.hook(
        "20-read.sh",
        r#"if [[ $1 == stack ]]; then
    printf '%s|' "$PLAIN" "$MULTI" "${INDEXED[1]}" "${INDEXED[2]}" "${ASSOC[key one]}" "${ASSOC[k2]}" "$((NUMBER + 1))" "$FIXED" "${LOCAL_ONLY-unset}" "${HOOKPIPE_TEST_UNSET_ME-unset}"
    echo
    bash -c 'echo "child sees $EXPORTED"'
    declare -p FIXED
fi
"#,
    );
    let out = tree
        .bash("$HR source < \"$HOOKS\" | $HR stack extra")
        .env("HOOKPIPE_TEST_UNSET_ME", "present")
        .output()
        .unwrap();
    let recs = records(&out);
    let lines = lines_of(&recs, "stack/extra/20-read.sh").join("\n");
    assert_eq!(
        lines,
        "it's \"quoted\" $x|line one\nline two|b c|d\ne|1|two\nlines|42|stone|unset|unset|\n\
         child sees exp\ndeclare -r FIXED=\"stone\"",
        "{}",
        explain(&out)
    );
}

#[test]
fn failing_hook_stops_the_stage_and_later_hooks_are_skipped() {
    let mut tree = Tree::new();
    tree.hook("10-ok.sh", "echo first\n");
    tree.hook(
        "20-fail.sh",
        "if [[ $1 == stack ]]; then echo 'about to fail'; false; echo 'not reached'; fi\n",
    );
    tree.hook("30-later.sh", "echo later\n");
    let out = run(&tree, &["stack", "install"]);
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let recs = records(&out);
    let end = end_of(&recs, "stack/install/20-fail.sh");
    assert_eq!(end["status"], "failed");
    assert_eq!(end["exit_code"], 1);
    assert_eq!(end["exited"], true);
    assert_eq!(
        lines_of(&recs, "stack/install/20-fail.sh"),
        ["about to fail"]
    );
    let skips = of_type(&recs, "skip");
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0]["id"], "stack/install/30-later.sh");
    assert_eq!(skips[0]["reason"], "stopped");
    assert_eq!(of_type(&recs, "done").last().unwrap()["status"], 1);
}

#[test]
fn keep_going_runs_later_hooks_in_a_new_worker_with_the_state_so_far() {
    let mut tree = Tree::new();
    tree.hook("10-set.sh", "if [[ $1 == stack ]]; then SO_FAR=kept; fi\n");
    tree.hook("20-fail.sh", "if [[ $1 == stack ]]; then false; fi\n");
    tree.hook(
        "30-later.sh",
        "if [[ $1 == stack ]]; then echo \"later sees $SO_FAR\"; fi\n",
    );
    let out = run(&tree, &["stack", "install", "--keep-going"]);
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out);
    assert_eq!(
        lines_of(&recs, "stack/install/30-later.sh"),
        ["later sees kept"],
        "{}",
        explain(&out)
    );
}

#[test]
fn unstack_keeps_going_without_errexit() {
    let mut tree = Tree::new();
    tree.hook(
        "10-fail.sh",
        "if [[ $1 == unstack ]]; then false; echo 'errexit is off'; return 4; fi\n",
    );
    tree.hook(
        "20-later.sh",
        "if [[ $1 == unstack ]]; then echo later; fi\n",
    );
    let out = run(&tree, &["unstack"]);
    let recs = records(&out);
    assert_eq!(lines_of(&recs, "unstack/10-fail.sh"), ["errexit is off"]);
    assert_eq!(end_of(&recs, "unstack/10-fail.sh")["exit_code"], 4);
    assert_eq!(
        lines_of(&recs, "unstack/20-later.sh"),
        ["later"],
        "{}",
        explain(&out)
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn top_level_exit_ends_the_hook_with_its_status() {
    let mut tree = Tree::new();
    tree.hook(
        "10-exit0.sh",
        "if [[ $1 == stack ]]; then AFTER_EXIT0=yes; exit 0; fi\n",
    );
    tree.hook(
        "20-exit3.sh",
        "if [[ $1 == stack ]]; then echo \"$AFTER_EXIT0\"; exit 3; fi\n",
    );
    let out = run(&tree, &["stack", "install"]);
    let recs = records(&out);
    let zero = end_of(&recs, "stack/install/10-exit0.sh");
    assert_eq!(zero["status"], "ok", "{}", explain(&out));
    assert_eq!(zero["exited"], true);
    let three = end_of(&recs, "stack/install/20-exit3.sh");
    assert_eq!(three["status"], "failed");
    assert_eq!(three["exit_code"], 3);
    // The new worker continued from the state the exiting one left.
    assert_eq!(lines_of(&recs, "stack/install/20-exit3.sh"), ["yes"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn stdin_of_a_hook_is_empty_and_the_stream_survives() {
    let mut tree = Tree::new();
    tree.hook(
        "10-read.sh",
        "if [[ $1 == stack ]]; then if read -r line; then echo \"stole: $line\"; else echo eof; fi; cat; fi\n",
    );
    let mut input = tree.records();
    input.push_str("{\"type\":\"mystery\",\"keep\":\"me\"}\n");
    let out = run_input(&tree, &["stack", "install"], &input);
    let recs = records(&out);
    assert_eq!(lines_of(&recs, "stack/install/10-read.sh"), ["eof"]);
    assert!(recs
        .iter()
        .any(|r| r["type"] == "mystery" && r["keep"] == "me"));
    assert!(out.status.success(), "{}", explain(&out));
}

#[test]
fn stdout_and_stderr_are_attributed_and_named() {
    let mut tree = Tree::new();
    tree.hook(
        "10-both.sh",
        "if [[ $1 == stack ]]; then for i in 1 2 3 4 5; do echo \"out $i\"; echo \"err $i\" >&2; done; fi\n",
    );
    tree.hook("20-next.sh", "if [[ $1 == stack ]]; then echo next; fi\n");
    let out = run(&tree, &["stack", "install"]);
    let recs = records(&out);
    let of_stream = |stream: &str| -> Vec<String> {
        recs.iter()
            .filter(|r| {
                r["type"] == "output"
                    && r["id"] == "stack/install/10-both.sh"
                    && r["stream"] == stream
            })
            .map(|r| r["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        of_stream("stdout"),
        ["out 1", "out 2", "out 3", "out 4", "out 5"]
    );
    assert_eq!(
        of_stream("stderr"),
        ["err 1", "err 2", "err 3", "err 4", "err 5"]
    );
    assert_eq!(lines_of(&recs, "stack/install/20-next.sh"), ["next"]);
}

#[test]
fn partial_long_and_invalid_lines_arrive_byte_exact() {
    let mut tree = Tree::new();
    tree.hook(
        "10-odd.sh",
        "if [[ $1 == stack ]]; then\n\
           printf 'prompt> '\n\
           sleep 0.3\n\
           printf 'answer\\n'\n\
           head -c 1048576 /dev/zero | tr '\\0' x; echo\n\
           printf 'bad \\xff\\xfe bytes\\r\\n'\n\
           printf 'no newline at end'\n\
         fi\n",
    );
    let out = run(&tree, &["stack", "install"]);
    let recs = records(&out);
    let outputs: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "output" && r["id"] == "stack/install/10-odd.sh")
        .collect();
    // The prompt went out on its own, after the idle time, marked partial.
    assert_eq!(outputs[0]["text"], "prompt> ", "{}", explain(&out));
    assert_eq!(outputs[0]["partial"], true);
    assert_eq!(outputs[1]["text"], "answer");
    // The 1 MB line: cut into 64 KiB pieces, all but the last partial, nothing lost.
    let long: Vec<&&Value> = outputs
        .iter()
        .filter(|r| r["text"].as_str().is_some_and(|t| t.starts_with('x')))
        .collect();
    // 16 pieces, or more when the machine is so loaded that `tr` paused past the idle time
    // (50 ms) and the runner sent what it had: the framing is the point, not the count.
    assert!(long.len() >= 16, "{}", long.len());
    assert!(long
        .iter()
        .all(|r| r["text"].as_str().is_some_and(|t| t.len() <= 65_536)));
    let (last, rest) = long.split_last().expect("pieces");
    assert!(rest.iter().all(|r| r["partial"] == true));
    // The line ends with the last piece, or (when the writer paused longer than the idle
    // flush after the last byte, as on a loaded machine) with an empty record right after.
    let after = outputs
        .iter()
        .position(|r| std::ptr::eq(*r, **last))
        .and_then(|at| outputs.get(at + 1));
    assert!(
        last.get("partial").is_none()
            || after.is_some_and(|r| r["text"] == "" && r.get("partial").is_none()),
        "{}",
        explain(&out)
    );
    let total: usize = long.iter().map(|r| r["text"].as_str().unwrap().len()).sum();
    assert_eq!(total, 1_048_576);
    // Invalid UTF-8 travels as base64, the \r kept.
    let bad = outputs
        .iter()
        .find(|r| r.get("text_base64").is_some())
        .expect("base64 line");
    let decoded = base64_decode(bad["text_base64"].as_str().unwrap());
    assert_eq!(decoded, b"bad \xff\xfe bytes\r");
    let last = outputs.last().unwrap();
    assert_eq!(last["text"], "no newline at end");
    assert_eq!(last["partial"], true);
}

#[test]
fn timeout_stops_a_hook_that_ignores_term_and_its_group() {
    let mut tree = Tree::new();
    tree.hook(
        "10-hang.sh",
        "if [[ $1 == stack ]]; then\n\
           trap '' TERM\n\
           bash -c 'trap \"\" TERM; echo $$ > \"$T/child.pid\"; while :; do sleep 0.1; done' &\n\
           echo $$ > \"$T/worker.pid\"\n\
           while :; do sleep 0.1; done\n\
         fi\n",
    );
    tree.hook("20-after.sh", "echo after\n");
    let started = Instant::now();
    let out = run(
        &tree,
        &["stack", "install", "--timeout", "1", "--kill-after", "0.5"],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let recs = records(&out);
    let end = end_of(&recs, "stack/install/10-hang.sh");
    assert_eq!(end["status"], "timeout", "{}", explain(&out));
    assert_eq!(end["signal"], 9);
    assert_eq!(out.status.code(), Some(1));
    let child = read_pid(&tree.path().join("child.pid"));
    let worker = read_pid(&tree.path().join("worker.pid"));
    assert!(!pid_alive(child), "the TERM-ignoring child survived");
    assert!(!pid_alive(worker));
    assert_eq!(of_type(&recs, "skip")[0]["reason"], "stopped");
}

#[test]
fn sigint_to_the_pipeline_interrupts_stops_hooks_and_exits_130() {
    let mut tree = Tree::new();
    tree.hook(
        "10-slow.sh",
        "if [[ $1 == stack ]]; then\n\
           sleep 300 &\n\
           echo $! > \"$T/bg.pid\"\n\
           echo $$ > \"$T/worker.pid\"\n\
           echo started\n\
           sleep 300\n\
         fi\n",
    );
    tree.hook("20-never.sh", "if [[ $1 == stack ]]; then echo never; fi\n");
    let child = spawn_group(
        &tree,
        "$HR source < \"$HOOKS\" | $HR stack install | $HR stack extra > out.ndjson; \
         echo \"${PIPESTATUS[*]}\" > status",
    );
    assert!(wait_for(
        &tree.path().join("worker.pid"),
        Duration::from_secs(20)
    ));
    std::thread::sleep(Duration::from_millis(200));
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    // The runners end by SIGINT after reporting, so the calling shell stops too.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(2), "{}", explain(&output));
    let text = fs::read_to_string(tree.path().join("out.ndjson")).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done_of = |stage: &str| {
        recs.iter()
            .find(|r| r["type"] == "done" && r["stage"] == stage)
            .map(|r| r["status"].clone())
    };
    assert_eq!(done_of("source"), Some(json!(0)));
    assert_eq!(done_of("stack/install"), Some(json!(130)));
    assert_eq!(done_of("stack/extra"), Some(json!(130)));
    assert_eq!(
        end_of(&recs, "stack/install/10-slow.sh")["status"],
        "interrupted"
    );
    assert!(lines_of(&recs, "stack/install/10-slow.sh").contains(&"started".to_owned()));
    let skipped: Vec<&Value> = of_type(&recs, "skip");
    assert!(skipped
        .iter()
        .any(|s| s["id"] == "stack/install/20-never.sh" && s["reason"] == "interrupted"));
    // The downstream stage ran nothing after the interrupt.
    assert!(!recs
        .iter()
        .any(|r| r["type"] == "start" && r["stage"] == "stack/extra"));
    assert!(!pid_alive(read_pid(&tree.path().join("worker.pid"))));
    assert!(
        !pid_alive(read_pid(&tree.path().join("bg.pid"))),
        "background child survived"
    );
}

#[test]
fn a_hooks_own_int_trap_runs() {
    let mut tree = Tree::new();
    tree.hook(
        "10-trap.sh",
        "if [[ $1 == stack ]]; then\n\
           trap 'echo \"trap ran\"; exit 7' INT\n\
           echo $$ > \"$T/worker.pid\"\n\
           while :; do sleep 0.1; done\n\
         fi\n",
    );
    let child = spawn_group(
        &tree,
        "$HR stack install < \"$HOOKS\" > out.ndjson; echo $? > status",
    );
    assert!(wait_for(
        &tree.path().join("worker.pid"),
        Duration::from_secs(20)
    ));
    std::thread::sleep(Duration::from_millis(200));
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = fs::read_to_string(tree.path().join("out.ndjson")).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines_of(&recs, "stack/install/10-trap.sh"),
        ["trap ran"],
        "{}",
        explain(&output)
    );
    let end = end_of(&recs, "stack/install/10-trap.sh");
    assert_eq!(end["status"], "interrupted");
    assert_eq!(end["exit_code"], 7);
    assert_eq!(of_type(&recs, "done")[0]["status"], 130);
}

#[test]
fn reader_going_away_stops_the_hook_and_exits_141_quietly() {
    let mut tree = Tree::new();
    tree.hook(
        "10-forever.sh",
        "echo $$ > \"$T/worker.pid\"; while :; do echo spam; done\n",
    );
    let out = tree.pipeline(
        "$HR stack install < \"$HOOKS\" | head -c 5000 >/dev/null; echo \"${PIPESTATUS[0]}\"",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "141",
        "{}",
        explain(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "{}",
        explain(&out)
    );
    let worker = read_pid(&tree.path().join("worker.pid"));
    assert!(!pid_alive(worker));
}

#[test]
fn daemon_started_with_the_helper_survives_and_does_not_hang_the_stage() {
    let mut tree = Tree::new();
    tree.hook(
        "10-daemon.sh",
        "if [[ $1 == stack ]]; then start_daemon \"$T/d.pid\" \"$T/d.log\" sleep 300; echo started; fi\n",
    );
    tree.hook(
        "20-careless.sh",
        "if [[ $1 == stack ]]; then sleep 300 & echo $! > \"$T/careless.pid\"; fi\n",
    );
    let started = Instant::now();
    let out = run(&tree, &["stack", "extra"]);
    assert!(out.status.success(), "{}", explain(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    let daemon = read_pid(&tree.path().join("d.pid"));
    let careless = read_pid(&tree.path().join("careless.pid"));
    assert!(pid_alive(daemon), "the daemon was killed by the stage");
    assert!(
        pid_alive(careless),
        "a background job was killed by the stage"
    );
    for pid in [daemon, careless] {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn upstream_failure_makes_the_stage_skip_unless_keep_going() {
    let mut tree = Tree::new();
    tree.hook("10-x.sh", "echo ran\n");
    let failed = "{\"type\":\"end\",\"id\":\"stack/install/05-bad.sh\",\"stage\":\"stack/install\",\"status\":\"failed\",\"exit_code\":1,\"duration_ms\":1,\"time\":\"2026-11-24T00:00:00.000Z\"}\n";
    let input = format!("{failed}{}", tree.records());
    let out = run_input(&tree, &["stack", "extra"], &input);
    let recs = records(&out);
    let skips: Vec<&Value> = of_type(&recs, "skip")
        .into_iter()
        .filter(|s| s["id"] == "stack/extra/10-x.sh")
        .collect();
    assert_eq!(skips.len(), 1, "{}", explain(&out));
    assert_eq!(skips[0]["reason"], "upstream-failed");
    assert!(skips[0]["message"].as_str().unwrap().contains("05-bad.sh"));
    assert_eq!(out.status.code(), Some(1));
    let out = run_input(&tree, &["stack", "extra", "--keep-going"], &input);
    assert!(lines_of(&records(&out), "stack/extra/10-x.sh").contains(&"ran".to_owned()));
}

#[test]
fn begin_without_done_upstream_counts_as_failure() {
    let mut tree = Tree::new();
    tree.hook("10-x.sh", "echo ran\n");
    let begin = "{\"type\":\"begin\",\"tool\":\"hook-list\",\"stage\":\"list\",\"pid\":1,\"version\":\"0\",\"time\":\"2026-11-24T00:00:00.000Z\"}\n";
    let out = run_input(
        &tree,
        &["stack", "extra"],
        &format!("{begin}{}", tree.records()),
    );
    let recs = records(&out);
    let skipped = of_type(&recs, "skip")
        .iter()
        .any(|s| s["id"] == "stack/extra/10-x.sh" && s["reason"] == "upstream-failed");
    assert!(skipped, "{}", explain(&out));
}

#[test]
fn malformed_input_is_exit_2_naming_the_line_and_earlier_records_arrive() {
    let tree = Tree::new();
    let input = "{\"type\":\"mystery\"}\n{\"type\": oops}\n";
    let out = run_input(&tree, &["stack", "install"], input);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("hook-run: input line 2:"), "{stderr}");
    let recs = records(&out);
    assert!(recs.iter().any(|r| r["type"] == "mystery"));
    assert_eq!(of_type(&recs, "done")[0]["status"], 2);
}

#[test]
fn unknown_mode_is_a_usage_error_listing_the_valid_ones() {
    let tree = Tree::new();
    let out = run_input(&tree, &["stack", "post-extra"], "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("test-config") && stderr.contains("override_defaults"),
        "{stderr}"
    );
    let out = run_input(&tree, &["--any-phase", "deploy", "canary"], "");
    assert!(out.status.success(), "{}", explain(&out));
}

#[test]
fn file_names_are_data_not_code() {
    let mut tree = Tree::new();
    let name = "50-$(touch pwned) `touch pwned2`; x'\".sh";
    tree.hook(name, "echo \"ran as $1\"\n");
    let out = run(&tree, &["source"]);
    let recs = records(&out);
    let id = format!("source/{name}");
    assert_eq!(lines_of(&recs, &id), ["ran as source"], "{}", explain(&out));
    assert!(!tree.path().join("pwned").exists());
    assert!(!tree.path().join("pwned2").exists());
    assert!(!Path::new("pwned").exists());
}

#[test]
fn xtrace_lines_become_trace_records_not_output() {
    let mut tree = Tree::new();
    tree.hook(
        "10-t.sh",
        "if [[ $1 == stack ]]; then X=1; echo visible; fi\n",
    );
    let out = run(&tree, &["stack", "install", "--xtrace"]);
    let recs = records(&out);
    let traces: Vec<String> = of_type(&recs, "trace")
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(traces.iter().any(|t| t.ends_with("X=1")), "{traces:?}");
    assert!(!traces.iter().any(|t| t.contains("_hp_")), "{traces:?}");
    assert_eq!(lines_of(&recs, "stack/install/10-t.sh"), ["visible"]);
}

#[test]
fn unreadable_prelude_is_a_clear_usage_error() {
    let tree = Tree::new();
    let out = run_input(
        &tree,
        &["source", "--prelude", "/nonexistent/functions"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/functions"));
    let _ = fs::set_permissions(tree.path(), fs::Permissions::from_mode(0o755));
}

#[test]
fn failing_prelude_skips_every_hook_and_exits_2() {
    let mut tree = Tree::new();
    tree.hook("10-x.sh", "echo ran\n");
    let prelude = tree.path().join("broken-prelude");
    fs::write(&prelude, "echo 'prelude says hi'\nreturn 3\n").unwrap();
    let out = run(&tree, &["source", "--prelude", prelude.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed with status 3"));
    let recs = records(&out);
    let skip = of_type(&recs, "skip");
    assert_eq!(skip[0]["reason"], "prelude-failed");
    assert_eq!(lines_of(&recs, "source/prelude"), ["prelude says hi"]);
}

#[test]
fn a_stage_that_runs_nothing_leaves_the_state_file_alone() {
    let mut tree = Tree::new();
    tree.hook("10-x.sh", "if [[ $1 == source ]]; then KEEP_ME=1; fi\n");
    let out = tree.pipeline("$HR --state st.sh source < \"$HOOKS\" >/dev/null");
    assert!(out.status.success(), "{}", explain(&out));
    let before = fs::read(tree.path().join("st.sh")).unwrap();
    let failed = "{\"type\":\"end\",\"id\":\"x\",\"stage\":\"s\",\"status\":\"failed\",\"duration_ms\":1,\"time\":\"2026-11-24T00:00:00.000Z\"}\n";
    let state_arg = tree.path().join("st.sh");
    let out = run_input(
        &tree,
        &["stack", "install", "--state", state_arg.to_str().unwrap()],
        &format!("{failed}{}", tree.records()),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(fs::read(tree.path().join("st.sh")).unwrap(), before);
}

/// Hooks see DevStack's `$-`: the worker runs a script file, not `bash -c`, so there is no
/// `c`, and a plugin that saves and restores its flags (`set -$saved`, as octavia's does)
/// works.
#[test]
fn hooks_see_devstacks_flags_and_can_restore_them() {
    let mut tree = Tree::new();
    tree.hook(
        "10-flags.sh",
        "if [[ $1 == stack ]]; then\n\
           echo \"flags=$-\"\n\
           saved=$-\n\
           set +o xtrace\n\
           set -$saved\n\
           echo restored\n\
         fi\n",
    );
    let out = run(&tree, &["stack", "install"]);
    let recs = records(&out);
    let lines = lines_of(&recs, "stack/install/10-flags.sh");
    assert_eq!(lines.len(), 2, "{}", explain(&out));
    let flags = lines[0].strip_prefix("flags=").expect("the flags line");
    assert!(!flags.contains('c'), "{flags}");
    assert!(
        flags.contains('e') && flags.contains('h') && flags.contains('B'),
        "{flags}"
    );
    assert_eq!(lines[1], "restored");
    assert_eq!(end_of(&recs, "stack/install/10-flags.sh")["status"], "ok");
}

/// `--state-delta`: from a caller's raw dump in the state file (what lib/hookpipe writes),
/// the delta holds only what the hooks changed, unset variables and functions included,
/// and sourced into the caller's own shell it gives the state the stage ended with.
#[test]
fn state_delta_holds_only_what_the_hooks_changed() {
    let mut tree = Tree::new();
    tree.hook(
        "50-change.sh",
        "KEPT_CHANGED=new; unset GONE; unset -f gone_fn; added_fn() { echo added; }\n",
    );
    // The caller's dump, written by the same builtins lib/hookpipe uses.
    let caller = "KEPT=same KEPT_CHANGED=old GONE=doomed; kept_fn() { :; }; gone_fn() { :; }";
    let out = tree.pipeline(&format!(
        "bash -c '{caller}; {{ printf \"# hookpipe dump generation 0\\n\"; declare -F; \
         printf \"\\0\"; declare -p; printf \"\\0\"; declare -f; printf \"\\0end\\n\"; }} \
         > dump.sh' && $HR --no-prelude --state dump.sh --state-delta delta.sh stack install \
         < \"$HOOKS\""
    ));
    assert!(out.status.success(), "{}", explain(&out));
    let delta = fs::read_to_string(tree.path().join("delta.sh")).unwrap();
    assert!(
        delta.contains("declare -g -- KEPT_CHANGED=\"new\"\n"),
        "{delta}"
    );
    assert!(delta.contains("unset -v GONE\n"), "{delta}");
    assert!(delta.contains("unset -f -- gone_fn\n"), "{delta}");
    assert!(delta.contains("added_fn () \n"), "{delta}");
    for unchanged in ["KEPT=", "kept_fn", "BASH", "_hp_", "PATH="] {
        assert!(!delta.contains(unchanged), "{unchanged} in {delta}");
    }
    // Sourced back into a shell like the caller's, inside a function as lib/hookpipe does.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{caller}; f() {{ source \"$1\"; }}; f \"$1\"; \
             echo \"$KEPT $KEPT_CHANGED ${{GONE-unset}}\"; declare -F | cut -d' ' -f3 | tr '\\n' ' '"
        ))
        .arg("x")
        .arg(tree.path().join("delta.sh"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "same new unset\nadded_fn f kept_fn ",
        "{}",
        explain(&check)
    );
}

/// A usage error still names the stage its MODE and PHASE give, in both its `begin` and its
/// `done`, as a good run would; `unknown` only where the words cannot tell (before this,
/// every unknown flag gave `unknown`).
#[test]
fn a_usage_error_names_the_stage_its_words_give() {
    let tree = Tree::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--frobnicate", "stack", "install"], "stack/install"),
        (&["stack", "install", "--frobnicate"], "stack/install"),
        (&["--frobnicate=3", "unstack"], "unstack"),
        (&["-Z", "clean"], "clean"),
        (&["--timeout", "5x", "stack", "install"], "stack/install"),
        // Is `3` the flag's value or the mode? Nobody can tell.
        (&["--frobnicate", "3", "unstack"], "unknown"),
        (&["--frobnicate"], "unknown"),
    ];
    for (args, stage) in cases {
        let out = run_input(&tree, args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", explain(&out));
        let recs = records(&out);
        for kind in ["begin", "done"] {
            let record = of_type(&recs, kind);
            assert_eq!(record.len(), 1, "{args:?}\n{}", explain(&out));
            assert_eq!(
                record[0]["stage"],
                *stage,
                "{args:?} {kind}\n{}",
                explain(&out)
            );
        }
    }
}
