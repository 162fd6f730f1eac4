//! The files a run writes, under faults and attack: the state file (SIGKILL while it is
//! written, concurrent pipelines, lost updates, write failures, paths that are FIFOs or
//! devices, planted symlinks, owner-only mode), and the records and output files (never written
//! through a planted symlink, owner-only). Audit findings 3 to 6.

use super::*;

// ---------------------------------------------------------------------------------------
// The state file under faults.

const STATE_HEADER: &str = "# hookpipe state generation ";

/// Fails unless `bytes` is a complete state script: the header, `functions` big functions,
/// the last function closed, and `bash -n` content with it.
#[track_caller]
fn assert_complete_state(sb: &Sandbox, bytes: &[u8], functions: usize, what: &str) {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with(STATE_HEADER), "{what}: no header");
    let count = text.matches("\nbig_function_").count();
    assert_eq!(count, functions, "{what}: {count} big functions");
    assert!(text.ends_with("}\n"), "{what}: cut short");
    let copy = sb.join("state-check.sh");
    fs::write(&copy, bytes).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&copy)
        .output()
        .expect("run bash -n");
    assert!(
        check.status.success(),
        "{what}: bash -n says {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The files of the state file's directory other than `known`.
fn strangers(dir: &Path, known: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !known.contains(&name.as_str()))
        .collect()
}

#[test]
fn sigkill_while_the_state_file_is_written_leaves_the_previous_state_intact() {
    let sb = Sandbox::new();
    let functions = 5000;
    sb.hook("extras.d", "10-big.sh", "big-state.sh");
    fs::create_dir_all(sb.join("state")).unwrap();
    let state = sb.join("state/state.sh");
    let stage = |sb: &Sandbox| {
        let mut stages = vec![
            sb.stage(&["hook-list", "extras.d"]),
            sb.stage(&["hook-run", "stack", "install", "--state", "state/state.sh"]),
        ];
        for cmd in &mut stages {
            cmd.env("RELIABILITY_FUNCTIONS", functions.to_string());
        }
        Pipeline::start(stages, None, Path::new("/dev/null"))
    };
    let mut first = stage(&sb);
    let statuses = first.wait();
    assert_eq!(codes(&statuses), [0, 0], "{}", first.report(&statuses));
    let known = ["state.sh", "state.sh.lock"];
    let mut hits = 0;
    for attempt in 0..4 {
        let before = read_bytes(&state);
        assert_complete_state(&sb, &before, functions, "the state before");
        let mut run = stage(&sb);
        // Kill the runner the moment a temporary file appears beside the state file.
        let mut seen = Vec::new();
        let deadline = Instant::now() + HANG;
        while run.is_running(1) && Instant::now() < deadline {
            seen = strangers(&sb.join("state"), &known);
            if !seen.is_empty() {
                run.signal(1, Signal::SIGKILL);
                break;
            }
        }
        let statuses = run.wait();
        let left = strangers(&sb.join("state"), &known);
        let after = read_bytes(&state);
        if !left.is_empty() {
            // Killed mid-write: the previous state is untouched.
            hits += 1;
            assert_eq!(
                code(statuses[1]),
                137,
                "attempt {attempt}: {}",
                run.report(&statuses)
            );
            assert!(after == before, "attempt {attempt}: the state file changed");
        }
        assert_complete_state(&sb, &after, functions, &format!("attempt {attempt}"));
        let load = sb
            .bash("source state/state.sh && big_function_4999 && echo \"count $COUNT\"")
            .output()
            .expect("run bash");
        let said = String::from_utf8_lossy(&load.stdout);
        assert!(
            said.starts_with("big function 4999\ncount "),
            "the state does not load: {said} {}",
            String::from_utf8_lossy(&load.stderr)
        );
        for name in left.iter().chain(&seen) {
            let _ = fs::remove_file(sb.join("state").join(name));
        }
    }
    eprintln!("SIGKILL during the state write: {hits} of 4 attempts hit the write itself");
    assert!(hits > 0, "no attempt caught the runner writing its state");
    sb.assert_no_process_left();
}

#[test]
fn concurrent_pipelines_on_one_state_file_never_corrupt_it() {
    let sb = Arc::new(Sandbox::new());
    let functions = 1000;
    sb.hook("extras.d", "10-big.sh", "big-state.sh");
    let state = sb.join("state.sh");
    let stop = Arc::new(AtomicBool::new(false));
    // A watcher copies the file whenever it changes and checks every version it saw.
    let watcher = {
        let (stop, state) = (Arc::clone(&stop), state.clone());
        thread::spawn(move || {
            let mut versions = Vec::new();
            let mut last = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let now = read_bytes(&state);
                if !now.is_empty() && now != last {
                    versions.push(now.clone());
                    last = now;
                }
                thread::sleep(Duration::from_millis(2));
            }
            versions
        })
    };
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let sb = Arc::clone(&sb);
            thread::spawn(move || {
                let mut statuses = Vec::new();
                for _ in 0..10 {
                    let mut stages = vec![
                        sb.stage(&["hook-list", "extras.d"]),
                        sb.stage(&["hook-run", "stack", "install", "--state", "state.sh"]),
                        sb.stage(&["hook-run", "stack", "extra", "--state", "state.sh"]),
                    ];
                    for cmd in &mut stages {
                        cmd.env("RELIABILITY_FUNCTIONS", functions.to_string());
                    }
                    let mut run = Pipeline::start(stages, None, Path::new("/dev/null"));
                    let got = run.wait();
                    statuses.push((codes(&got), run.report(&got)));
                }
                statuses
            })
        })
        .collect();
    // A stage whose write would replace a generation another pipeline wrote after it read
    // is refused and fails with status 1 (audit finding 6 below, "Lost updates"), and does
    // not pass its state on: the next stage starts from the file's.
    let mut installs_kept = 0;
    for worker in workers {
        for (statuses, report) in worker.join().expect("a pipeline thread") {
            assert!(
                statuses[0] == 0 && statuses[1..].iter().all(|&code| code == 0 || code == 1),
                "{statuses:?}\n{report}"
            );
            installs_kept += u32::from(statuses[1] == 0);
        }
    }
    stop.store(true, Ordering::SeqCst);
    let versions = watcher.join().expect("the watcher");
    assert!(!versions.is_empty());
    for (n, version) in versions.iter().enumerate() {
        assert_complete_state(&sb, version, functions, &format!("version {n} seen"));
    }
    let load = sb
        .bash("source state.sh && echo \"$COUNT\"")
        .output()
        .expect("run bash");
    let count: u32 = String::from_utf8_lossy(&load.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert_eq!(
        count, installs_kept,
        "every install stage that succeeded added 1, and no update was lost"
    );
    eprintln!(
        "20 concurrent pipelines: {} versions of the state file seen, all complete; COUNT \
         {count}, {installs_kept} installs kept",
        versions.len()
    );
    sb.assert_no_process_left();
}

#[test]
fn planted_symlinks_beside_the_state_file_are_never_followed() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-a.sh", "echo-args.sh");
    fs::write(sb.join("hooks.ndjson"), "").unwrap();
    let mut list = Pipeline::start(
        vec![sb.stage(&["hook-list", "extras.d"])],
        None,
        &sb.join("hooks.ndjson"),
    );
    list.wait();
    // A runner waiting for its input, so its pid is known before it writes: a symlink at
    // the temporary name a pid would predict, and the state file itself a symlink.
    let fifo = sb.join("input.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut run = Pipeline::start(
        vec![sb.bash("exec hook-run stack install --state state.sh < input.fifo")],
        None,
        Path::new("/dev/null"),
    );
    let pid = run.pid(0).as_raw();
    let victims = [sb.join("victim-tmp"), sb.join("victim-state")];
    for victim in &victims {
        fs::write(victim, "precious\n").unwrap();
    }
    std::os::unix::fs::symlink(&victims[0], sb.join(format!("state.sh.tmp.{pid}"))).unwrap();
    std::os::unix::fs::symlink(&victims[1], sb.join("state.sh")).unwrap();
    fs::write(&fifo, read_bytes(&sb.join("hooks.ndjson"))).unwrap();
    run.wait_expecting(&[0]);
    for victim in &victims {
        let after = read_text(victim);
        assert!(
            after == "precious\n",
            "{} was overwritten through a symlink with: {}...",
            victim.display(),
            after.chars().take(60).collect::<String>()
        );
    }
    // The state file was replaced by a regular file, not written through the link.
    let meta = fs::symlink_metadata(sb.join("state.sh")).unwrap();
    assert!(meta.file_type().is_file(), "state.sh is still a symlink");
    assert!(read_text(&sb.join("state.sh")).starts_with(STATE_HEADER));
}

#[test]
fn the_state_file_is_readable_by_its_owner_only() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-a.sh", "echo-args.sh");
    let mut run = Pipeline::start(
        vec![sb.bash(
            "umask 022; hook-list extras.d | hook-run stack install --state state.sh >/dev/null",
        )],
        None,
        Path::new("/dev/null"),
    );
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0], "{}", run.report(&statuses));
    let mode = fs::metadata(sb.join("state.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "state.sh has mode {mode:o}");
}

// ---------------------------------------------------------------------------------------
// Audit finding 5 (issue 20): State writes that fail, and state paths that are not regular
// files.

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
    let stream = parse_records(&out);
    assert!(
        has_warning(&stream, "cannot write the state file states/state.sh"),
        "no warning gives the reason: {stream:?}"
    );
    assert_eq!(done_of(&stream, "stack/install").unwrap()["status"], 1);
}

// ---------------------------------------------------------------------------------------
// Audit finding 6 (issue 20): Lost updates: concurrent pipelines on one state file.

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
        let said = has_warning(&parse_records(&out), "another run replaced it");
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
// Audit findings 3 and 4 (issue 20): Files created through planted symlinks; the records
// file is private.

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
