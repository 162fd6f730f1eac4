//! Broken pipes: a reader going away at each stage of the pipeline (`head -c N` last) ends the
//! run quietly, with the statuses docs/architecture.md documents per tool, and leaves no process.

use super::*;

// ---------------------------------------------------------------------------------------
// Broken pipes.

/// One broken-pipe case: the hooks, the pipeline (each stage's argv; `head -c N` last) and
/// the exit status every stage must end with.
struct PipeCase {
    name: &'static str,
    hooks: &'static [(&'static str, &'static str)],
    many_hooks: bool,
    env: &'static [(&'static str, &'static str)],
    stages: &'static [&'static [&'static str]],
    expect: &'static [i32],
    /// Stages that saw the broken pipe: their stderr must stay empty.
    quiet: &'static [usize],
}

const PIPE_CASES: &[PipeCase] = &[
    PipeCase {
        name: "a lister whose reader goes away",
        hooks: &[],
        many_hooks: true,
        env: &[],
        stages: &[&["hook-list", "extras.d"], &["head", "-c", "100"]],
        expect: &[0, 0],
        quiet: &[0],
    },
    PipeCase {
        name: "a runner forwarding upstream records when its reader goes away",
        hooks: &[],
        many_hooks: true,
        env: &[],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["head", "-c", "100"],
        ],
        expect: &[0, 141, 0],
        quiet: &[0, 1],
    },
    PipeCase {
        name: "a runner in a hook that prints forever",
        hooks: &[("10-spam.sh", "spam.sh")],
        many_hooks: false,
        env: &[],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 141, 0],
        quiet: &[1],
    },
    PipeCase {
        name: "the second runner, in a hook that prints forever",
        hooks: &[("10-spam.sh", "spam.sh")],
        many_hooks: false,
        env: &[("RELIABILITY_WHEN", "stack extra")],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["hook-run", "stack", "extra"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 0, 141, 0],
        quiet: &[2],
    },
    PipeCase {
        name: "a runner whose downstream runner went away (the pipe breaks twice)",
        hooks: &[("10-spam.sh", "spam.sh")],
        many_hooks: false,
        env: &[],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["hook-run", "stack", "extra"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 141, 141, 0],
        quiet: &[1, 2],
    },
    PipeCase {
        name: "phase-log whose console goes away",
        hooks: &[("10-flood.sh", "flood.sh")],
        many_hooks: false,
        env: &[("RELIABILITY_BYTES", "2000000")],
        stages: &[
            &["hook-list", "extras.d"],
            &["hook-run", "stack", "install"],
            &["phase-log", "-o", "run.log"],
            &["head", "-c", "100"],
        ],
        expect: &[0, 0, 141, 0],
        quiet: &[2],
    },
    PipeCase {
        name: "hyp-call in a function that prints forever",
        hooks: &[],
        many_hooks: false,
        env: &[("RELIABILITY_SPAM", "1")],
        stages: &[
            &["hyp-resolve", "--dir", "nova_plugins", "reliable"],
            &["hyp-call", "source", "install"],
            &["head", "-c", "10000"],
        ],
        expect: &[0, 141, 0],
        quiet: &[1],
    },
];

#[test]
fn a_reader_going_away_at_each_stage_ends_the_run_quietly_with_the_documented_statuses() {
    let mut failures = Vec::new();
    for case in PIPE_CASES {
        let sb = Sandbox::new();
        fs::create_dir_all(sb.join("extras.d")).unwrap();
        for (name, fixture) in case.hooks {
            sb.hook("extras.d", name, fixture);
        }
        if case.many_hooks {
            // 3000 entries list to ~600 KiB: far more than a pipe holds, so the writer
            // meets the closed pipe.
            for n in 0..3000 {
                let name = format!("50-hook-{n:04}-with-a-long-name-to-fill-the-pipe.sh");
                fs::write(sb.join("extras.d").join(name), "").unwrap();
            }
        }
        fs::create_dir_all(sb.join("nova_plugins")).unwrap();
        fs::copy(
            fixtures().join("nova_plugins/hypervisor-reliable"),
            sb.join("nova_plugins/hypervisor-reliable"),
        )
        .unwrap();
        let stages = case
            .stages
            .iter()
            .map(|argv| {
                let mut cmd = sb.stage(argv);
                for (name, value) in case.env {
                    cmd.env(name, value);
                }
                cmd
            })
            .collect();
        let mut run = Pipeline::start(stages, None, Path::new("/dev/null"));
        let statuses = run.wait();
        let mut problems = Vec::new();
        if codes(&statuses) != case.expect {
            problems.push(format!(
                "statuses {:?}, expected {:?}",
                codes(&statuses),
                case.expect
            ));
        }
        for index in 0..statuses.len() {
            let err = run.stderr(index);
            if err.contains("panicked") || (case.quiet.contains(&index) && !err.is_empty()) {
                problems.push(format!("stage {index} wrote on stderr: {err}"));
            }
        }
        if case.stages.iter().any(|argv| argv[0] == "phase-log") {
            let log = read_text(&sb.join("run.log"));
            if !log.contains("=== Result ===") || !log.contains("10-flood.sh [ok]") {
                problems.push("the log file is not complete".to_owned());
            }
        }
        if let Some(worker) = read_pid(&sb.join("worker.pid")) {
            if !wait_gone(worker, GONE) {
                problems.push(format!("the hook's worker {worker} is still alive"));
            }
        }
        let deadline = Instant::now() + GONE;
        while !sb.leftovers().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let left = sb.leftovers();
        if !left.is_empty() {
            problems.push(format!("processes left: {left:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  {}\n{}",
                case.name,
                problems.join("\n  "),
                run.report(&statuses)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
