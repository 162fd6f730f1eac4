//! The console a DevStack user reads (issue 16, "the console and the log"). Summaries keep
//! their place: a hook's `echo_summary` line comes before the output the hook wrote after
//! it, in the records, on the console and in the log, however fast the hook writes and
//! however loaded the machine is; DevStack's own echo_summary (stack.sh's, writing to fd 6),
//! which a legacy caller's state brings into the worker, lands the same way while the caller
//! keeps its own. And a legacy run's full report prints once, when the script exits, in
//! front of the script's own EXIT trap, which still sees the status and decides the exit.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hookpipe_e2e::{bin_dir, lib_dir, run, scrub_env, Run};

const PIPE_TIMEOUT: Duration = Duration::from_secs(90);

/// How many `a`, summary, `b` triples the hook writes.
const ROUNDS: usize = 300;

/// The hook: a line, a summary and a line, ROUNDS times, as fast as bash writes them.
fn ordering_hook() -> String {
    format!(
        "if [[ $1 == stack && $2 == install ]]; then\n\
         for ((i = 0; i < {ROUNDS}; i++)); do echo \"a$i\"; echo_summary \"S$i\"; echo \"b$i\"; done\n\
         fi\n"
    )
}

/// `a0 S0 b0 a1 S1 b1 ...`: what every view of the run must show, in this order.
fn expected() -> Vec<String> {
    (0..ROUNDS)
        .flat_map(|i| [format!("a{i}"), format!("S{i}"), format!("b{i}")])
        .collect()
}

/// The stdout lines and summaries of the call `id`, in record order.
fn ordered_texts(records: &str, id: &str) -> Vec<String> {
    records
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|r| r["id"] == id)
        .filter(|r| r["type"] == "summary" || (r["type"] == "output" && r["stream"] == "stdout"))
        .map(|r| r["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The text of console or log lines of the call `id` (`ID | text`, `ID [summary] text`).
fn rendered_texts(view: &str, id: &str) -> Vec<String> {
    let output = format!("{id} | ");
    let summary = format!("{id} [summary] ");
    view.lines()
        .filter_map(|line| {
            line.find(&output)
                .map(|at| &line[at + output.len()..])
                .or_else(|| line.find(&summary).map(|at| &line[at + summary.len()..]))
        })
        .map(str::to_owned)
        .collect()
}

/// Busy loops on every core, killed when dropped.
struct Load(Vec<Child>);

impl Load {
    fn start(n: usize) -> Load {
        Load(
            (0..n)
                .map(|_| {
                    Command::new("bash")
                        .args(["-c", "while :; do :; done"])
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("start a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `hook-list | hook-run stack install | tee records | phase-log -v -o log` on a tree
/// with the ordering hook; returns the run, the records and the log.
fn run_ordering_pipeline() -> (Run, String, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::create_dir(dir.path().join("extras.d")).expect("mkdir extras.d");
    fs::write(dir.path().join("extras.d/10-order.sh"), ordering_hook()).expect("write the hook");
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(
        "set -o pipefail\n\
         \"$B/hook-list\" extras.d | \"$B/hook-run\" stack install | tee records |\n\
         \"$B/phase-log\" -v --no-timestamp --color never -o log",
    );
    scrub_env(&mut cmd);
    cmd.current_dir(dir.path())
        .env("B", bin_dir())
        .env("HOOKPIPE_LIB", lib_dir());
    let run = run(cmd, PIPE_TIMEOUT);
    let records = fs::read_to_string(dir.path().join("records")).unwrap_or_default();
    let log = fs::read_to_string(dir.path().join("log")).unwrap_or_default();
    (run, records, log)
}

fn assert_in_order(run: &Run, records: &str, log: &str) {
    run.assert_ok();
    let id = "stack/install/10-order.sh";
    let want = expected();
    assert_eq!(ordered_texts(records, id), want, "records\n{run}");
    assert_eq!(rendered_texts(&run.stdout, id), want, "console\n{run}");
    assert_eq!(rendered_texts(log, id), want, "log\n{log}");
}

/// Before summaries travelled in-band, the runner read stdout before fd 6 at each wake-up,
/// so a hook writing quickly had its summaries after lines written later.
#[test]
fn a_summary_stays_between_the_lines_written_before_and_after_it() {
    let (run, records, log) = run_ordering_pipeline();
    assert_in_order(&run, &records, &log);
}

/// The same with every core busy: the order is the pipe's, never a matter of timing.
#[test]
fn a_summary_keeps_its_place_under_cpu_load() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let _load = Load::start(cores);
    let (run, records, log) = run_ordering_pipeline();
    assert_in_order(&run, &records, &log);
}

/// A legacy caller shaped like DevStack's stack.sh: its own echo_summary writes to fd 6
/// (stack.sh's, without the spinner), which reaches the worker in the caller's state. The
/// hook's summaries land in order, as summaries; afterwards the caller's echo_summary is
/// still its own, writing to its fd 6.
#[test]
fn devstacks_echo_summary_lands_in_order_and_the_caller_keeps_its_own() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::create_dir(dir.path().join("extras.d")).expect("mkdir extras.d");
    fs::write(dir.path().join("extras.d/10-order.sh"), ordering_hook()).expect("write the hook");
    let script = r#"
TOP_DIR=$PWD
DEST=$PWD/dest
source "$HOOKPIPE_LIB/hookpipe"
exec 3>&1 6>>"$PWD/summary"
# stack.sh's echo_summary when fd 3 is not a terminal: word-split, as DevStack writes it.
function echo_summary {
    echo -e $@ >&6
}
set -o errexit
run_phase stack install
echo_summary "caller after run_phase"
declare -f echo_summary >"$PWD/echo_summary.after"
"#;
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script);
    scrub_env(&mut cmd);
    cmd.current_dir(dir.path())
        .env("HOOKPIPE_BIN", bin_dir())
        .env("HOOKPIPE_LIB", lib_dir())
        .env("HOOKPIPE_RECORDS", dir.path().join("records"));
    let run = run(cmd, PIPE_TIMEOUT);
    run.assert_ok();
    let records = fs::read_to_string(dir.path().join("records")).expect("HOOKPIPE_RECORDS");
    assert_eq!(
        ordered_texts(&records, "stack/install/10-order.sh"),
        expected(),
        "{run}"
    );
    let after = fs::read_to_string(dir.path().join("echo_summary.after")).expect("the dump");
    assert!(
        after.contains(">&6") && !after.contains("_hp_"),
        "the caller's echo_summary was replaced:\n{after}"
    );
    let summary = fs::read_to_string(dir.path().join("summary")).expect("the summary file");
    assert!(
        summary.ends_with("S299\ncaller after run_phase\n"),
        "the caller's fd 6:\n{summary}"
    );
}

/// A legacy script shaped like DevStack's stack.sh: lib/hookpipe adopted, fd 3 the console,
/// its output to a log, an EXIT trap like DevStack's exit_trap (it reads `$?`, says it, and
/// ends with `exit $r`), errexit and xtrace on, two phases, then `BODY`.
fn legacy_script(body: &str) -> String {
    format!(
        r#"TOP_DIR=$PWD
DEST=$PWD/dest
source "$HOOKPIPE_LIB/hookpipe"
exec 3>&1 6>/dev/null
exec 1>>"$PWD/out.log" 2>&1
function exit_trap {{
    local r=$?
    echo "exit_trap saw $r" >&3
    exit $r
}}
trap exit_trap EXIT
set -o errexit
set -o xtrace
{body}
"#
    )
}

/// Runs a legacy script in a tree whose one hook fails in the phase named by $FAIL.
fn run_legacy(script: &str, fail: &str) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::create_dir(dir.path().join("extras.d")).expect("mkdir extras.d");
    fs::write(
        dir.path().join("extras.d/10-x.sh"),
        "if [[ $1 == stack ]]; then echo \"hook $2\"; [[ $FAIL != \"$2\" ]]; fi\n",
    )
    .expect("write the hook");
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script);
    scrub_env(&mut cmd);
    cmd.current_dir(dir.path())
        .env("HOOKPIPE_BIN", bin_dir())
        .env("HOOKPIPE_LIB", lib_dir())
        .env("FAIL", fail)
        .env("TMPDIR", dir.path());
    let run = run(cmd, PIPE_TIMEOUT);
    let left: Vec<_> = fs::read_dir(dir.path())
        .expect("read the tree")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("hookpipe"))
        .collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}\n{run}");
    run
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The full report prints once, after the last phase and before the script's own trap,
/// which sees the script's status; the exit status is the script's, ok, failed or its own.
#[test]
fn a_legacy_run_prints_its_full_report_once_when_the_script_exits() {
    // (the script's body, the failing phase, the exit status, the report's result)
    let cases = [
        (
            "run_phase stack pre-install\nrun_phase stack install\n",
            "",
            0,
            "Result: ok (exit status 0), 2 hook calls: 2 ok",
        ),
        (
            "run_phase stack pre-install\nrun_phase stack install\necho never >&3\n",
            "install",
            1,
            "Result: failed (exit status 1), 2 hook calls: 1 ok, 1 failed",
        ),
        (
            "run_phase stack pre-install\nrun_phase stack install\nexit 7\n",
            "",
            7,
            "Result: ok (exit status 0), 2 hook calls: 2 ok",
        ),
        // The script's trap set after a phase is kept, behind the report, all the same.
        (
            "run_phase stack pre-install\ntrap 'echo \"late trap saw $?\" >&3; exit_trap' EXIT\n\
             run_phase stack install\n",
            "",
            0,
            "Result: ok (exit status 0), 2 hook calls: 2 ok",
        ),
    ];
    for (body, fail, status, result) in cases {
        let run = run_legacy(&legacy_script(body), fail);
        assert_eq!(run.code(), status, "{body}\n{run}");
        let out = &run.stdout;
        assert_eq!(count(out, "=== Hook calls ==="), 1, "{body}\n{run}");
        assert_eq!(count(out, result), 1, "{body}\n{run}");
        assert!(!out.contains("never"), "{run}");
        let report = out.find("=== Hook calls ===").unwrap_or(0);
        let trap = out
            .find(&format!("exit_trap saw {status}"))
            .unwrap_or_else(|| panic!("the script's trap did not see {status}:\n{run}"));
        assert!(
            report < trap,
            "the report comes before the script's trap:\n{run}"
        );
        // The report is the calls', not their lines again.
        let after_report = &out[report..];
        assert!(!after_report.contains("10-x.sh | hook"), "{run}");
    }
}

/// A script that sources lib/hookpipe but never runs a phase prints no report, and its
/// trap and status are untouched.
#[test]
fn a_script_that_ran_no_phase_prints_no_report() {
    for (body, status) in [("true\n", 0), ("false\n", 1)] {
        let run = run_legacy(&legacy_script(body), "");
        assert_eq!(run.code(), status, "{run}");
        assert!(!run.stdout.contains("==="), "{run}");
        assert_eq!(run.stdout, format!("exit_trap saw {status}\n"), "{run}");
    }
}

/// The documented call, `phase-log --report-only < "$HOOKPIPE_RECORDS"`: the reports only,
/// none of the lines or summaries already shown.
#[test]
fn report_only_prints_the_reports_and_nothing_else() {
    let (run, records, _) = run_ordering_pipeline();
    run.assert_ok();
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg("\"$B/phase-log\" --report-only --color never <\"$R\"");
    scrub_env(&mut cmd);
    let dir = tempfile::tempdir().expect("a temporary directory");
    fs::write(dir.path().join("records"), &records).expect("write the records");
    cmd.current_dir(dir.path())
        .env("B", bin_dir())
        .env("R", dir.path().join("records"));
    let report = run_cmd(cmd);
    report.assert_ok();
    assert_eq!(count(&report.stdout, "=== Hook calls ==="), 1, "{report}");
    assert!(
        report.stdout.contains("Result: ok (exit status 0)"),
        "{report}"
    );
    assert!(!report.stdout.contains("[summary]"), "{report}");
    assert!(!report.stdout.contains(" | a0"), "{report}");
}

fn run_cmd(cmd: Command) -> Run {
    run(cmd, PIPE_TIMEOUT)
}
