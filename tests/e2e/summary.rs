//! Summaries keep their place (issue 16, "the console and the log"): a hook's `echo_summary`
//! line comes before the output the hook wrote after it, in the records, on the console and
//! in the log, however fast the hook writes and however loaded the machine is; and DevStack's
//! own echo_summary (stack.sh's, writing to fd 6), which a legacy caller's state brings into
//! the worker, lands the same way while the caller keeps its own.

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
