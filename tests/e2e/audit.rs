//! Issue 20, the adversarial audit's findings: one test per defect, each failing before its
//! fix, and the child subreaper ("no process escapes"). A module of `reliability.rs`: it runs
//! with that suite and uses its sandbox, pipelines and readers.

use super::*;

// ---------------------------------------------------------------------------------------
// 1. Descriptors a hook plays with.

/// What each `tamper-fds.sh` copy does, by its file name.
const TAMPERINGS: [&str; 7] = [
    "six-null",
    "six-stdout",
    "six-append",
    "close-3-9",
    "private-closed",
    "private-null",
    "stdin",
];

#[test]
fn a_hook_that_redirects_or_closes_its_descriptors_spoils_only_its_own_call() {
    let sb = Sandbox::new();
    for (index, tampering) in TAMPERINGS.iter().enumerate() {
        sb.hook(
            "extras.d",
            format!("{}0-{tampering}.sh", index + 1),
            "tamper-fds.sh",
        );
        sb.hook(
            "extras.d",
            format!("{}5-next.sh", index + 1),
            "echo-args.sh",
        );
    }
    // A hook that returned at once must never be a timeout: the limit only turns a
    // regression's hang into a failure.
    let mut run = full_pipeline(
        &sb,
        &[
            &["hook-run", "stack", "install", "--timeout", "20"],
            &["hook-run", "stack", "extra", "--timeout", "20", "--xtrace"],
        ],
        &[],
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(
        codes(&statuses),
        [0, 0, 0, 0, 0],
        "{}",
        run.report(&statuses)
    );
    let stream = records(&sb.join("records.ndjson"));
    for (index, tampering) in TAMPERINGS.iter().enumerate() {
        let id = format!("stack/install/{}0-{tampering}.sh", index + 1);
        assert_eq!(end_of(&stream, &id)["status"], "ok", "{id}");
        assert_eq!(texts_of(&stream, &id)[0], "before", "{id}");
        for stage in ["install", "extra"] {
            let next = format!("stack/{stage}/{}5-next.sh", index + 1);
            assert_eq!(end_of(&stream, &next)["status"], "ok", "{next}");
            assert_eq!(
                texts_of(&stream, &next),
                [format!("ran stack {stage}")],
                "{next} after {tampering}"
            );
        }
    }
    // fd 6 sent to stdout: the hook's own later summary is its own output, nobody else's.
    assert!(texts_of(&stream, "stack/install/20-six-stdout.sh").contains(&"summary after".into()));
    let summaries: Vec<&Value> = stream.iter().filter(|r| r["type"] == "summary").collect();
    for summary in &summaries {
        let id = summary["id"].as_str().unwrap_or("");
        assert!(
            !id.contains("-next.sh"),
            "a summary went to the wrong call: {summary}"
        );
    }
    let raw = read_bytes(&sb.join("records.ndjson"));
    assert!(
        !contains(&raw, b"hookpipe-mark-"),
        "marker bytes leaked into the records"
    );
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// No process escapes: the runner is a child subreaper and stops its hooks' whole tree.

/// The children `detached-children.sh` leaves outside the worker's process group.
const ESCAPERS: [&str; 3] = ["setsid", "double-fork", "own-group"];

/// Fails unless every escaper and the worker are gone while the `start_daemon` daemon still
/// runs; then ends the daemon (a test leaves nothing behind).
#[track_caller]
fn assert_tree_stopped_and_daemon_kept(sb: &Sandbox) {
    let pids = sb.join("pids");
    assert_gone(pid_from(&pids.join("worker")), "the worker");
    for name in ESCAPERS {
        assert_gone(pid_from(&pids.join(name)), &format!("the {name} child"));
    }
    let daemon = pid_from(&pids.join("daemon-self"));
    assert!(
        process_alive(daemon),
        "the daemon started with start_daemon was stopped with the hook"
    );
    let _ = kill(Pid::from_raw(daemon), Signal::SIGKILL);
    sb.assert_no_process_left();
}

/// Waits until the hook has started all its children.
fn wait_for_escapers(sb: &Sandbox) {
    let pids = sb.join("pids");
    for name in ["worker", "daemon-self"].iter().chain(ESCAPERS.iter()) {
        pid_from(&pids.join(name));
    }
}

#[test]
fn a_timeout_stops_setsid_double_forked_and_own_group_children_but_not_a_daemon() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-detached.sh", "detached-children.sh");
    let mut run = full_pipeline(
        &sb,
        &[&[
            "hook-run",
            "stack",
            "install",
            "--timeout",
            "2",
            "--kill-after",
            "1",
        ]],
        &[],
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 1, 0, 1], "{}", run.report(&statuses));
    let stream = records(&sb.join("records.ndjson"));
    let end = end_of(&stream, "stack/install/10-detached.sh");
    assert_eq!(end["status"], "timeout", "{end}");
    assert_tree_stopped_and_daemon_kept(&sb);
}

#[test]
fn ctrl_c_of_the_whole_pipeline_stops_every_escaped_child_but_not_a_daemon() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-detached.sh", "detached-children.sh");
    let script = "hook-list extras.d | hook-run stack install --kill-after 1 \
        | hook-run stack extra --kill-after 1 | phase-log -o run.log > console.txt; \
        echo went on > status";
    let mut run = Pipeline::start(vec![sb.bash(script)], None, &sb.join("bash.out"));
    wait_for_escapers(&sb);
    run.signal_group(Signal::SIGINT);
    let statuses = run.wait();
    assert!(
        !sb.join("status").exists(),
        "the script went on after Ctrl-C"
    );
    assert_eq!(statuses[0].signal(), Some(2), "{}", run.report(&statuses));
    assert_tree_stopped_and_daemon_kept(&sb);
}

#[test]
fn a_background_job_left_by_a_hook_that_ended_normally_keeps_running() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-careless.sh", "careless-daemon.sh");
    let mut run = full_pipeline(
        &sb,
        &[&["hook-run", "stack", "install", "--timeout", "20"]],
        &[],
    );
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0, 0, 0, 0], "{}", run.report(&statuses));
    let pid_file = sb.join("daemon.pid");
    let daemon = pid_from(&pid_file);
    assert!(
        process_alive(daemon),
        "the hook's background job was stopped"
    );
    dismiss_daemon(&pid_file);
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// 2. SIGHUP: a closed terminal or a dropped ssh.

#[test]
fn sighup_to_the_whole_pipeline_is_handled_like_sigterm_and_reported() {
    let sb = Sandbox::new();
    interrupt_tree(&sb);
    let stages = vec![
        sb.stage(&["hook-list", "extras.d"]),
        sb.stage(&["hook-run", "stack", "install", "--kill-after", "1"]),
        sb.stage(&["phase-log", "-o", "run.log", "--json-report", "run.json"]),
    ];
    let mut run = Pipeline::start(stages, None, &sb.join("console.txt"));
    let log = sb.join("run.log");
    let worker = pid_from(&sb.join("worker.pid"));
    let background = pid_from(&sb.join("bg.pid"));
    wait_until("the hook's first line in the log", || {
        read_text(&log).contains("10-wait.sh | started")
    });
    run.signal_group(Signal::SIGHUP);
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 129, 129], "{}", run.report(&statuses));
    assert_eq!(statuses[1].signal(), Some(1), "hook-run re-raises SIGHUP");
    assert_eq!(statuses[2].signal(), Some(1), "phase-log re-raises SIGHUP");
    let text = read_text(&log);
    assert!(text.contains(&format!("{WAIT_ID} [interrupted]")), "{text}");
    assert!(text.contains("stack/install [done] status 129"), "{text}");
    let report: Value = serde_json::from_str(&read_text(&sb.join("run.json")))
        .unwrap_or_else(|err| panic!("no JSON report after SIGHUP: {err}\n{text}"));
    assert!(report.is_object());
    assert_gone(worker, "the worker");
    assert_gone(background, "the hook's background child");
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// 12. `--timeout 0`.

#[test]
fn a_timeout_of_zero_is_a_usage_error_naming_the_flag_value() {
    let sb = Sandbox::new();
    let cases: &[UsageCase] = &[
        (&["hook-run", "stack", "install", "--timeout", "0"], &[]),
        (&["hook-run", "stack", "install", "--timeout", "0.0"], &[]),
        (&["hyp-call", "install"], &[("HOOKPIPE_TIMEOUT", "0")]),
    ];
    for (argv, env) in cases {
        let (status, stderr) = usage(&sb, argv, env);
        assert_eq!(code(status), 2, "{argv:?} {env:?}: {stderr}");
        assert!(
            stderr.contains("a timeout must be more than 0 seconds"),
            "{argv:?} {env:?}: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 7. Records naming things that are not regular files.

fn hook_record(name: &str, path: &Path) -> String {
    json!({"type":"hook","name":name,"path":path.to_string_lossy(),"kind":"extras",
           "seq":&name[..2],"dir":"/d"})
    .to_string()
}

#[track_caller]
fn assert_refused(stream: &[Value], id: &str, path: &Path) {
    let skip = find(stream, "skip", id).unwrap_or_else(|| panic!("no skip of {id}"));
    assert_eq!(skip["reason"], "not-regular", "{skip}");
    let message = skip["message"].as_str().unwrap_or("");
    assert!(message.contains(&*path.to_string_lossy()), "{skip}");
    assert!(find(stream, "start", id).is_none(), "{id} started");
}

#[test]
fn hook_and_hypervisor_records_naming_devices_fifos_or_directories_are_skipped_with_a_reason() {
    let sb = Sandbox::new();
    let fifo = sb.join("fifo.sh");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let good = sb.hook("extras.d", "50-good.sh", "echo-args.sh");
    let zero = Path::new("/dev/zero");
    let cases = [
        ("10-zero.sh", zero),
        ("20-fifo.sh", fifo.as_path()),
        ("30-dir.sh", sb.path()),
    ];
    let mut input = String::new();
    for (name, path) in cases {
        input.push_str(&hook_record(name, path));
        input.push('\n');
    }
    input.push_str(&hook_record("50-good.sh", &good));
    input.push('\n');
    let (status, out, stderr) = feed(
        &sb,
        "hook-run",
        &["stack", "install", "--timeout", "20"],
        input.as_bytes(),
    );
    assert_eq!(code(status), 0, "{stderr}");
    let stream: Vec<Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a record"))
        .collect();
    for (name, path) in cases {
        for call in ["#source", ""] {
            assert_refused(&stream, &format!("stack/install/{name}{call}"), path);
        }
    }
    assert_eq!(
        texts_of(&stream, "stack/install/50-good.sh"),
        ["ran stack install"]
    );

    let urandom = Path::new("/dev/urandom");
    let record = json!({"type":"hypervisor","driver":"reliable","path":urandom.to_string_lossy(),
                        "missing":[],"functions":["install_nova_hypervisor"]});
    let (status, out, stderr) = feed(
        &sb,
        "hyp-call",
        &["install", "--timeout", "20"],
        format!("{record}\n").as_bytes(),
    );
    assert_eq!(code(status), 0, "{stderr}");
    let stream: Vec<Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a record"))
        .collect();
    assert_refused(&stream, "hypervisor/install/reliable", urandom);
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// 9. A hook that breaks the builtins the worker lives on.

/// Writes `extras.d/NAME` acting only in `stack` calls.
fn inline_hook(sb: &Sandbox, name: &str, body: &str) {
    let dir = sb.join("extras.d");
    fs::create_dir_all(&dir).expect("create extras.d");
    fs::write(
        dir.join(name),
        format!("if [[ $1 == stack ]]; then\n{body}\nfi\n"),
    )
    .expect("write a hook");
}

fn stdout_records(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a record"))
        .collect()
}

#[test]
fn redefined_or_disabled_builtins_spoil_neither_the_stage_nor_its_state() {
    let sb = Sandbox::new();
    let breakers = [
        "printf() { :; }",
        "read() { :; }",
        "source() { :; }",
        "set() { :; }",
        "declare() { :; }",
        "builtin() { :; }",
        "command() { :; }",
        "exec() { :; }",
        "enable -n read",
        "enable -n printf",
        "enable -n source",
    ];
    for (index, breaker) in breakers.iter().enumerate() {
        inline_hook(&sb, &format!("{}-break.sh", 10 + index * 5), breaker);
        inline_hook(
            &sb,
            &format!("{}-next.sh", 12 + index * 5),
            &format!("echo \"next $2\"; NEXT_{index}=$2"),
        );
    }
    let mut run = full_pipeline(
        &sb,
        &[
            &["hook-run", "stack", "install", "--timeout", "20"],
            &["hook-run", "stack", "extra", "--timeout", "20"],
        ],
        &[],
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    assert_eq!(
        codes(&statuses),
        [0, 0, 0, 0, 0],
        "{}",
        run.report(&statuses)
    );
    let stream = records(&sb.join("records.ndjson"));
    for (index, breaker) in breakers.iter().enumerate() {
        for stage in ["install", "extra"] {
            let id = format!("stack/{stage}/{}-next.sh", 12 + index * 5);
            assert_eq!(
                texts_of(&stream, &id),
                [format!("next {stage}")],
                "{id} after `{breaker}`"
            );
        }
    }
    let state = stream
        .iter()
        .rev()
        .find(|r| r["type"] == "state" && r["stage"] == "stack/extra")
        .expect("the last stage's state record");
    let script = state["script"].as_str().unwrap_or("");
    for index in 0..breakers.len() {
        assert!(
            script.contains(&format!("NEXT_{index}=\"extra\"")),
            "NEXT_{index} is not in the state: {script}"
        );
    }
    sb.assert_no_process_left();
}

#[test]
fn a_state_the_worker_cannot_dump_or_a_readonly_worker_variable_fails_the_stage_by_name() {
    let sb = Sandbox::new();
    inline_hook(
        &sb,
        "10-undumpable.sh",
        "enable -n declare; enable -n enable",
    );
    let mut input = String::new();
    input.push_str(&hook_record(
        "10-undumpable.sh",
        &sb.join("extras.d/10-undumpable.sh"),
    ));
    input.push('\n');
    let (status, out, stderr) = feed(&sb, "hook-run", &["stack", "install"], input.as_bytes());
    assert_eq!(code(status), 1, "{stderr}");
    let stream = stdout_records(&out);
    assert!(
        stream.iter().any(|r| r["type"] == "warning"
            && r["text"]
                .as_str()
                .is_some_and(|t| t.contains("shell state could not be dumped"))),
        "no warning names the lost state: {stream:?}"
    );
    assert!(
        !stream.iter().any(|r| r["type"] == "state"),
        "an older state was passed on as this stage's"
    );

    inline_hook(&sb, "20-readonly.sh", "readonly _hp_status");
    let input = format!(
        "{}\n",
        hook_record("20-readonly.sh", &sb.join("extras.d/20-readonly.sh"))
    );
    let (status, out, stderr) = feed(&sb, "hook-run", &["stack", "install"], input.as_bytes());
    assert_eq!(code(status), 1, "{stderr}");
    let stream = stdout_records(&out);
    let end = end_of(&stream, "stack/install/20-readonly.sh");
    assert_eq!(end["status"], "failed", "{end}");
    assert!(
        texts_of(&stream, "stack/install/20-readonly.sh")
            .iter()
            .any(|line| line.contains("_hp_status")),
        "the failure does not name the variable: {stream:?}"
    );
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// 8. Ctrl-C at any moment stops the calling script.

// Bash takes a pipeline member that exited normally after its SIGINT as having handled it,
// and runs the script's next command. The audit caught a runner exiting 141 (its reader had
// died by the signal) in 2 of 44 runs. Every tool now ends by the signal on every path, with
// no window between its last look at the signal and its exit. The sweep lands the signal
// at start-up, while hooks are listed, while one runs and while stages wind down, with the
// eleven delays running at once (load widens the windows), three times.
#[test]
fn ctrl_c_at_any_moment_stops_the_calling_script() {
    let mut went_on = Vec::new();
    for _round in 0..3 {
        let runs: Vec<thread::JoinHandle<Option<String>>> = (0..=500u64)
            .step_by(50)
            .map(|delay_ms| thread::spawn(move || interrupted_pipeline(delay_ms)))
            .collect();
        went_on.extend(
            runs.into_iter()
                .filter_map(|run| run.join().expect("a sweep run")),
        );
    }
    assert!(
        went_on.is_empty(),
        "the script went on after Ctrl-C: {went_on:?}"
    );
}

/// One run of the sweep: `Some` says how the script went on after SIGINT at `delay_ms`.
fn interrupted_pipeline(delay_ms: u64) -> Option<String> {
    let sb = Sandbox::new();
    interrupt_tree(&sb);
    let script = "set -o pipefail; hook-list extras.d \
        | hook-run stack install --kill-after 1 | hook-run stack extra --kill-after 1 \
        | phase-log -o run.log > console.txt; echo \"${PIPESTATUS[*]}\" > status";
    let mut run = Pipeline::start(vec![sb.bash(script)], None, &sb.join("bash.out"));
    thread::sleep(Duration::from_millis(delay_ms));
    run.signal_group(Signal::SIGINT);
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    sb.assert_no_process_left();
    let status = sb.join("status");
    (statuses[0].signal() != Some(2) || status.exists()).then(|| {
        format!(
            "{delay_ms} ms: {}, statuses {}",
            describe(statuses[0]),
            read_text(&status).trim()
        )
    })
}

// ---------------------------------------------------------------------------------------
// 5. State writes that fail, and state paths that are not regular files.

#[test]
fn a_state_path_that_is_a_fifo_or_a_device_is_refused_naming_it() {
    let sb = Sandbox::new();
    let hook = sb.hook("extras.d", "10-a.sh", "echo-args.sh");
    let input = format!("{}\n", hook_record("10-a.sh", &hook));
    let fifo = sb.join("state.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    for path in [fifo.to_string_lossy().into_owned(), "/dev/zero".to_owned()] {
        let (status, _, stderr) = feed(
            &sb,
            "hook-run",
            &["stack", "install", "--state", &path],
            input.as_bytes(),
        );
        assert_eq!(code(status), 2, "{path}: {stderr}");
        assert!(
            stderr.contains(&format!("{path} is not a regular file")),
            "{path}: {stderr}"
        );
    }
    assert!(
        !Path::new("/dev/zero.lock").exists(),
        "a lock was created in /dev"
    );
}

#[test]
fn a_state_file_that_cannot_be_written_fails_the_stage_with_the_reason() {
    let sb = Sandbox::new();
    // The hook takes the state's directory away and leaves a file in its place: the write
    // at the end of the stage cannot succeed (as on a full disk, it must not pass silently).
    inline_hook(
        &sb,
        "10-spoil.sh",
        "rm -rf \"$T/states\"; echo not a directory > \"$T/states\"",
    );
    let hook = sb.join("extras.d/10-spoil.sh");
    fs::create_dir_all(sb.join("states")).unwrap();
    let input = format!("{}\n", hook_record("10-spoil.sh", &hook));
    let (status, out, stderr) = feed(
        &sb,
        "hook-run",
        &["stack", "install", "--state", "states/state.sh"],
        input.as_bytes(),
    );
    assert_eq!(code(status), 1, "{stderr}");
    let stream = stdout_records(&out);
    assert!(
        stream.iter().any(|r| r["type"] == "warning"
            && r["text"]
                .as_str()
                .is_some_and(|t| t.contains("cannot write the state file states/state.sh"))),
        "no warning gives the reason: {stream:?}"
    );
    assert_eq!(done_of(&stream, "stack/install").unwrap()["status"], 1);
}

// ---------------------------------------------------------------------------------------
// 6. Lost updates: concurrent pipelines on one state file.

#[test]
fn concurrent_pipelines_never_lose_an_update_silently() {
    let sb = Sandbox::new();
    // Each run adds 1 to COUNT, slowly enough that runs overlap.
    inline_hook(&sb, "10-count.sh", "COUNT=$((${COUNT:-0} + 1)); sleep 0.3");
    let hook = sb.join("extras.d/10-count.sh");
    fs::write(
        sb.join("input"),
        format!("{}\n", hook_record("10-count.sh", &hook)),
    )
    .unwrap();
    let runs: Vec<Pipeline> = (0..8)
        .map(|index| {
            let stage = sb.stage(&["hook-run", "stack", "install", "--state", "state.sh"]);
            Pipeline::start(
                vec![stage],
                Some(&sb.join("input")),
                &sb.join(format!("out.{index}")),
            )
        })
        .collect();
    let mut kept = 0;
    let mut refused = 0;
    for (index, mut run) in runs.into_iter().enumerate() {
        let statuses = run.wait();
        let out = read_bytes(&sb.join(format!("out.{index}")));
        let said = stdout_records(&out).iter().any(|r| {
            r["type"] == "warning"
                && r["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("another run replaced it"))
        });
        match code(statuses[0]) {
            0 => kept += 1,
            1 if said => refused += 1,
            other => panic!("run {index} ended {other}: {}", run.report(&statuses)),
        }
    }
    let state = read_text(&sb.join("state.sh"));
    assert!(
        state.contains(&format!("COUNT=\"{kept}\"")),
        "{kept} runs succeeded ({refused} refused) but the state says otherwise:\n{state}"
    );
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// 3. Files created through planted symlinks; 4. the records file is private.

/// A file that must survive: what a planted link points at.
const PRECIOUS: &str = "precious\n";

#[test]
fn output_files_are_never_written_through_a_planted_symlink() {
    let sb = Sandbox::new();
    fs::write(sb.join("empty.ndjson"), "").unwrap();
    let victim = sb.join("victim");
    // Every flag that names a file phase-log writes, and a DevStack log name for the next
    // few seconds (predictable: `LOGFILE.<%F-%H%M%S>`).
    let mut cases: Vec<(Vec<String>, PathBuf)> =
        ["--html", "--junit", "--json-report", "--records", "-o"]
            .iter()
            .map(|flag| {
                let link = sb.join(format!("link{flag}"));
                (
                    vec![flag.to_string(), link.to_string_lossy().into_owned()],
                    link.clone(),
                )
            })
            .collect();
    let stamps = Command::new("bash")
        .arg("-c")
        .arg("now=$(date +%s); for i in 0 1 2 3 4 5; do date -d @$((now + i)) +%F-%H%M%S; done")
        .output()
        .expect("date runs");
    let logfile = sb.join("logs/stack.log");
    fs::create_dir_all(sb.join("logs")).unwrap();
    for stamp in String::from_utf8_lossy(&stamps.stdout).lines() {
        for name in [
            format!("stack.log.{stamp}"),
            format!("stack.log.summary.{stamp}"),
        ] {
            let link = sb.join("logs").join(name);
            if !link.exists() {
                std::os::unix::fs::symlink(&victim, &link).unwrap();
            }
        }
    }
    cases.push((
        vec!["--logfile".into(), logfile.to_string_lossy().into_owned()],
        sb.join("logs/stack.log"),
    ));
    for (args, link) in &cases {
        fs::write(&victim, PRECIOUS).unwrap();
        if !link.starts_with(sb.join("logs")) {
            let _ = fs::remove_file(link);
            std::os::unix::fs::symlink(&victim, link).unwrap();
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (status, _, stderr) = feed(&sb, "phase-log", &argv, b"");
        assert_eq!(code(status), 2, "{args:?}: {stderr}");
        assert!(stderr.contains("symbolic link"), "{args:?}: {stderr}");
        assert_eq!(
            read_text(&victim),
            PRECIOUS,
            "{args:?} wrote through the link"
        );
    }

    // The state file's lock, FILE.lock.
    fs::write(&victim, PRECIOUS).unwrap();
    std::os::unix::fs::symlink(&victim, sb.join("state.sh.lock")).unwrap();
    let hook = sb.hook("extras.d", "10-a.sh", "echo-args.sh");
    let input = format!("{}\n", hook_record("10-a.sh", &hook));
    let (status, _, stderr) = feed(
        &sb,
        "hook-run",
        &["stack", "install", "--state", "state.sh"],
        input.as_bytes(),
    );
    assert_eq!(code(status), 2, "{stderr}");
    assert!(
        stderr.contains("state.sh.lock is a symbolic link"),
        "{stderr}"
    );
    assert_eq!(read_text(&victim), PRECIOUS);
}

#[test]
fn the_records_file_is_readable_by_its_owner_only() {
    let sb = Sandbox::new();
    let state = r#"{"type":"state","stage":"s","generation":1,"base":"full","prelude":[],"script":"declare -g -- PASSWORD=\"secret\"\n","time":"2026-11-24T22:29:14.123Z"}"#;
    fs::write(sb.join("records.ndjson"), "old\n").unwrap();
    fs::set_permissions(sb.join("records.ndjson"), fs::Permissions::from_mode(0o644)).unwrap();
    for path in ["records.ndjson", "new/records.ndjson"] {
        let mut cmd = sb.bash(&format!(
            "umask 022; exec phase-log --records {path} < input"
        ));
        fs::write(sb.join("input"), format!("{state}\n")).unwrap();
        let out = cmd.output().expect("phase-log runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mode = fs::metadata(sb.join(path)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{path}: mode {mode:o}");
        assert!(read_text(&sb.join(path)).contains("secret"));
    }
}

// ---------------------------------------------------------------------------------------
// 10. One escaping rule wherever hookpipe writes a name.

#[test]
fn a_name_with_a_terminal_sequence_is_written_by_one_rule_everywhere() {
    let sb = Sandbox::new();
    let name = "10-\u{1b}]0;pwned\u{7}csi\u{9b}.sh";
    inline_hook(&sb, name, "warn $LINENO careful; echo hi; false");
    let stages = vec![
        sb.stage(&["hook-list", "extras.d"]),
        sb.stage(&["hook-run", "stack", "install"]),
        sb.stage(&[
            "phase-log",
            "-o",
            "run.log",
            "--junit",
            "run.xml",
            "--html",
            "run.html",
        ]),
    ];
    let mut run = Pipeline::start(stages, None, &sb.join("console.txt"));
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0, 1, 1], "{}", run.report(&statuses));
    let shown = "10-\\x1B]0;pwned\\x07csi\\x9B.sh";
    for file in ["console.txt", "run.log", "run.xml", "run.html"] {
        let bytes = read_bytes(&sb.join(file));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains(shown),
            "{file} does not show {shown}:\n{text}"
        );
        for raw in ["\u{1b}", "\u{7}", "\u{9b}"] {
            assert!(!text.contains(raw), "{file} holds a raw {raw:?}:\n{text}");
        }
    }
    // The warning names the hook's path (lib/functions' `warn`) by the same rule.
    let log = read_text(&sb.join("run.log"));
    assert!(
        log.lines()
            .any(|line| line.contains("[warning]") && line.contains(&format!("{shown}:2 careful"))),
        "{log}"
    );
}
