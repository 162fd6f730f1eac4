//! phase-log through the real binary: the outfilter rules, VERBOSE, exit statuses, bytes,
//! log files, sessions, signals and a console that goes away.

mod util;

use std::io::{BufRead, BufReader, Lines, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command};
use std::time::{Duration, SystemTime};

use hookpipe_e2e::{signal, spawn_piped, wait_within};
use nix::sys::signal::Signal;
use util::{begin, done, end, line, ok_run, output, run, show, start, stdout, stream};

const ID: &str = "stack/install/50-template.sh";
const STAGE: &str = "stack/install";

fn call_with(lines: &[String]) -> Vec<String> {
    let mut records = vec![begin("hook-run", STAGE, 0), start(ID, STAGE, 1)];
    records.extend_from_slice(lines);
    records.push(end(ID, STAGE, "ok", 0, 5, 90));
    records.push(done("hook-run", STAGE, 0, 99));
    records
}

#[test]
fn all_ok_exits_0_with_stamped_lines_and_reports() {
    let out = run(&["--color", "never"], &stream(&ok_run()));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "2026-11-24 22:29:14.012 | stack/install/50-template.sh | laid out 3 files\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("stack/install/50-template.sh [ok] 0.006s"),
        "{text}"
    );
    assert!(text.contains("=== Hook calls ==="), "{text}");
    assert!(
        text.contains("Result: ok (exit status 0), 1 hook call: 1 ok"),
        "{text}"
    );
}

// DevStack's outfilter: a line that already carries a stamp is not stamped twice.
#[test]
fn an_already_stamped_line_keeps_its_own_stamp_only() {
    let nested = "2026-01-02 03:04:05.678 | from a nested run";
    let records = call_with(&[output(ID, "stdout", nested, 10)]);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let out = run(&["-o", log.to_str().unwrap()], &stream(&records));
    for text in [stdout(&out), util::read(&log)] {
        let hits: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("from a nested run"))
            .collect();
        assert_eq!(
            hits,
            ["2026-01-02 03:04:05.678 | stack/install/50-template.sh | from a nested run"],
            "{text}"
        );
    }
}

#[test]
fn xtrace_noise_is_dropped_unless_kept_and_genuine_text_stays() {
    let records = call_with(&[
        output(ID, "stdout", "+ set +o xtrace", 10),
        output(ID, "stderr", "++ _XTRACE_X=$(set +o | grep xtrace)", 11),
        output(ID, "stdout", "run with --xtrace to see more", 12),
        line(
            "trace",
            ID,
            "+ ./extras.d/50-template.sh:3 : install_template",
            13,
        ),
        line(
            "trace",
            ID,
            "+ [[ -n $_XTRACE_TEMPLATE ]] && set -o xtrace",
            14,
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let dropped = tmp.path().join("dropped");
    let kept = tmp.path().join("kept");
    let out = run(&["-o", dropped.to_str().unwrap()], &stream(&records));
    run(
        &["--keep-noise", "-o", kept.to_str().unwrap()],
        &stream(&records),
    );
    let dropped = util::read(&dropped);
    let kept = util::read(&kept);
    for noise in ["+ set +o xtrace", "_XTRACE_X=", "set -o xtrace"] {
        assert!(!dropped.contains(noise), "{noise}:\n{dropped}");
        assert!(kept.contains(noise), "{noise}:\n{kept}");
    }
    // Only trace-looking output is noise: DevStack's weakness 15 is not repeated.
    assert!(
        dropped.contains("run with --xtrace to see more"),
        "{dropped}"
    );
    // Trace goes to the file only.
    assert!(dropped.contains("[trace] + ./extras.d/50-template.sh:3 : install_template"));
    assert!(!stdout(&out).contains("[trace]"), "{}", show(&out));
}

#[test]
fn verbose_false_shows_summaries_and_reports_and_the_file_gets_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let mut cmd = util::command();
    cmd.env("VERBOSE", "False")
        .args(["-o", log.to_str().unwrap()]);
    let out = util::run_with_input(&mut cmd, &stream(&ok_run()));
    let console = stdout(&out);
    assert!(
        console.starts_with(
            "2026-11-24 22:29:14.011 | stack/install/50-template.sh [summary] Installing template\n"
        ),
        "{console}"
    );
    assert!(!console.contains("laid out 3 files"), "{console}");
    assert!(!console.contains("[start]"), "{console}");
    assert!(console.contains("=== Result ==="), "{console}");
    let file = util::read(&log);
    assert!(
        file.contains("| stack/install/50-template.sh | laid out 3 files"),
        "{file}"
    );
    assert!(file.contains("[summary] Installing template"), "{file}");

    // -v beats VERBOSE=False; -q beats the default.
    let mut cmd = util::command();
    cmd.env("VERBOSE", "False").arg("-v");
    assert!(
        stdout(&util::run_with_input(&mut cmd, &stream(&ok_run()))).contains("laid out 3 files")
    );
    assert!(!stdout(&run(&["-q"], &stream(&ok_run()))).contains("laid out 3 files"));
    // A word trueorfalse does not know keeps the default (True).
    let mut cmd = util::command();
    cmd.env("VERBOSE", "maybe");
    assert!(
        stdout(&util::run_with_input(&mut cmd, &stream(&ok_run()))).contains("laid out 3 files")
    );
}

// DevStack ignores VERBOSE_NO_TIMESTAMP (weakness 15); phase-log honours it.
#[test]
fn no_timestamp_drops_the_stamp_on_the_console_only() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let mut cmd = util::command();
    cmd.env("VERBOSE_NO_TIMESTAMP", "True")
        .args(["-o", log.to_str().unwrap()]);
    let out = util::run_with_input(&mut cmd, &stream(&ok_run()));
    assert!(
        stdout(&out).contains("\nstack/install/50-template.sh | laid out 3 files\n"),
        "{}",
        show(&out)
    );
    assert!(util::read(&log)
        .contains("2026-11-24 22:29:14.012 | stack/install/50-template.sh | laid out 3 files"));
    let out = run(&["--no-timestamp"], &stream(&ok_run()));
    assert!(stdout(&out).contains("\nstack/install/50-template.sh | laid out 3 files\n"));
}

#[test]
fn partial_lines_are_joined() {
    let records = call_with(&[
        format!(
            r#"{{"type":"output","id":"{ID}","stream":"stdout","text":"Password: ","partial":true,"time":"{}"}}"#,
            util::time(10)
        ),
        output(ID, "stdout", "ok", 11),
    ]);
    let text = stdout(&run(&[], &stream(&records)));
    assert!(
        text.contains("2026-11-24 22:29:14.010 | stack/install/50-template.sh | Password: ok\n"),
        "{text}"
    );
}

#[test]
fn invalid_utf8_reaches_the_file_byte_for_byte_and_the_console_escaped() {
    // "caf\xe9 \xff\xfe end" in base64.
    let record = format!(
        r#"{{"type":"output","id":"{ID}","stream":"stdout","text_base64":"Y2Fm6SD//iBlbmQ=","time":"{}"}}"#,
        util::time(10)
    );
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let out = run(
        &["-o", log.to_str().unwrap()],
        &stream(&call_with(&[record])),
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let file = std::fs::read(&log).unwrap();
    let want: &[u8] =
        b"2026-11-24 22:29:14.010 | stack/install/50-template.sh | caf\xe9 \xff\xfe end\n";
    assert!(
        file.windows(want.len()).any(|w| w == want),
        "{}",
        String::from_utf8_lossy(&file)
    );
    assert!(
        stdout(&out).contains("| caf\\xE9 \\xFF\\xFE end\n"),
        "{}",
        show(&out)
    );
}

#[test]
fn exit_status_table() {
    let id2 = "stack/install/60-broken.sh";
    let failed = vec![
        begin("hook-run", STAGE, 0),
        start(id2, STAGE, 1),
        end(id2, STAGE, "failed", 3, 5, 6),
        done("hook-run", STAGE, 1, 7),
    ];
    let cases: Vec<(&str, Vec<String>, i32)> = vec![
        ("all ok", ok_run(), 0),
        ("a call failed", failed, 1),
        (
            "begin without done",
            vec![
                begin("hook-list", "list", 0),
                begin("hook-run", STAGE, 1),
                done("hook-list", "list", 0, 2),
            ],
            1,
        ),
        (
            "a tool ended with 1",
            vec![
                begin("hyp-resolve", "hypervisor", 0),
                done("hyp-resolve", "hypervisor", 1, 1),
            ],
            1,
        ),
        (
            "bad input upstream",
            vec![
                begin("hook-list", "list", 0),
                done("hook-list", "list", 2, 1),
            ],
            2,
        ),
        (
            "an interrupted stage",
            vec![begin("hook-run", STAGE, 0), done("hook-run", STAGE, 130, 1)],
            130,
        ),
        (
            "a terminated stage",
            vec![begin("hook-run", STAGE, 0), done("hook-run", STAGE, 143, 1)],
            143,
        ),
        (
            "a call that never ended",
            vec![
                begin("hook-run", STAGE, 0),
                start(ID, STAGE, 1),
                done("hook-run", STAGE, 0, 2),
            ],
            1,
        ),
    ];
    for (what, records, code) in cases {
        let out = run(&[], &stream(&records));
        assert_eq!(out.status.code(), Some(code), "{what}: {}", show(&out));
        assert!(
            stdout(&out).contains("=== Result ==="),
            "{what}: {}",
            show(&out)
        );
    }
}

#[test]
fn a_vanished_tool_is_named_in_the_failure_report() {
    let records = vec![begin("hook-list", "list", 0), begin("hook-run", STAGE, 1)];
    let out = run(&[], &stream(&records));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    for tool in ["hook-list (list)", "hook-run (stack/install)"] {
        assert!(
            stdout(&out).contains(&format!("{tool} ended without a done record")),
            "{}",
            show(&out)
        );
    }
}

#[test]
fn a_malformed_line_exits_2_naming_it_and_still_reports() {
    let mut input = stream(&ok_run()[..5]);
    input.extend_from_slice(b"{\"type\":\n");
    input.extend_from_slice(&stream(&ok_run()[5..]));
    let out = run(&["--show-records"], &input);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("phase-log: input line 6: not a JSON record"),
        "{}",
        show(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("stack/install/50-template.sh  stack/install  ok"),
        "{text}"
    );
    // The records after the bad line were read too.
    assert!(
        text.contains("hook-run stack/install [done] status 0"),
        "{text}"
    );
    assert!(text.contains("Input: input line 6"), "{text}");

    let bad_field = format!(r#"{{"type":"end","id":"{ID}","time":"x"}}"#);
    let out = run(&[], &stream(&[begin("hook-run", STAGE, 0), bad_field]));
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("input line 2: bad `end` record"),
        "{}",
        show(&out)
    );
}

#[test]
fn empty_input_is_an_empty_report_and_exit_0() {
    let out = run(&[], b"");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(stdout(&out).contains("no hook calls"), "{}", show(&out));
    assert!(out.stderr.is_empty(), "{}", show(&out));
}

#[test]
fn state_content_is_never_printed() {
    let state = r#"{"type":"state","stage":"stack/install","generation":1,"base":"full","prelude":[],"script":"declare -- PASSWORD=hunter2","time":"2026-11-24T22:29:14.050Z"}"#;
    let mut records = ok_run();
    records.insert(5, state.to_owned());
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let out = run(&["-o", log.to_str().unwrap()], &stream(&records));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(!stdout(&out).contains("hunter2"));
    assert!(!util::read(&log).contains("hunter2"));
}

#[test]
fn run_skips_are_grouped_under_the_failure_that_caused_them() {
    let broken = "stack/install/60-broken.sh";
    let mut records = vec![
        begin("hook-run", STAGE, 0),
        start(broken, STAGE, 1),
        output(broken, "stderr", "no such file", 2),
        end(broken, STAGE, "failed", 3, 5, 6),
        done("hook-run", STAGE, 1, 7),
        begin("hook-run", "stack/post-config", 8),
    ];
    for n in 0..3 {
        records.push(format!(
            r#"{{"type":"skip","reason":"upstream-failed","message":"not run: {broken} failed","id":"stack/post-config/{n}0-x.sh","stage":"stack/post-config"}}"#
        ));
    }
    records.push(done("hook-run", "stack/post-config", 1, 9));
    let out = run(&[], &stream(&records));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text.contains("3 calls skipped after stack/install/60-broken.sh failed\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("not run: stack/install/60-broken.sh failed")
            .count(),
        0,
        "{text}"
    );
    assert!(
        text.contains("stack/install/60-broken.sh: failed, exit 3, after 0.005s"),
        "{text}"
    );
    assert!(text.contains("    ! no such file"), "{text}");
}

#[test]
fn the_failure_report_keeps_the_last_20_lines_without_trace() {
    let broken = "stack/install/60-broken.sh";
    let mut records = vec![begin("hook-run", STAGE, 0), start(broken, STAGE, 1)];
    for n in 0..30 {
        records.push(output(broken, "stdout", &format!("line {n}"), 2));
        records.push(line("trace", broken, &format!("+ trace {n}"), 2));
    }
    records.push(end(broken, STAGE, "failed", 1, 5, 6));
    records.push(done("hook-run", STAGE, 1, 7));
    let text = stdout(&run(&[], &stream(&records)));
    let report = text
        .split("=== Failures ===")
        .nth(1)
        .expect("failure report");
    assert!(report.contains("last 20 lines of output:"), "{report}");
    assert!(!report.contains("| line 9\n"), "{report}");
    for n in 10..30 {
        assert!(report.contains(&format!("    | line {n}\n")), "{report}");
    }
    assert!(!report.contains("trace"), "{report}");
}

#[test]
fn colour_only_when_asked() {
    let records = stream(&ok_run());
    let always = stdout(&run(&["--color", "always"], &records));
    assert!(always.contains("\x1b[32m[ok]\x1b[0m"), "{always}");
    // auto: stdout is a pipe here.
    assert!(!stdout(&run(&[], &records)).contains('\x1b'));
    assert!(!stdout(&run(&["--color", "never"], &records)).contains('\x1b'));
}

#[test]
fn help_names_the_record_types_and_exit_statuses() {
    let out = run(&["--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for word in [
        "begin",
        "done",
        "hook",
        "skip",
        "hypervisor",
        "start",
        "output",
        "summary",
        "warning",
        "trace",
        "timer",
        "end",
        "state",
        "Exit status",
        "141",
        "VERBOSE",
        "LOGFILE",
        "LOGDAYS",
        "HOOKPIPE_LOG_SESSION",
    ] {
        assert!(help.contains(word), "{word}:\n{help}");
    }
}

fn set_age(path: &Path, days: u64) {
    let when = SystemTime::now() - Duration::from_secs(days * 86_400 + 60);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn logfile_names_links_and_prunes_only_its_own_old_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let old = [
        "stack.log.2020-01-01-000000",
        "stack.log.summary.2020-01-01-000000",
    ];
    let untouched = [
        "stack.log.2020-01-02-000000", // ours, but recent
        "stack.log.old",               // not our name shape
        "stack.log.2020-01-01-000000.bak",
        "other.log.2020-01-01-000000",
    ];
    for name in old.iter().chain(&untouched) {
        std::fs::write(dir.join(name), "x").unwrap();
        set_age(&dir.join(name), 3);
    }
    set_age(&dir.join("stack.log.2020-01-02-000000"), 1);
    let mut cmd = util::command();
    cmd.env("LOGFILE", dir.join("stack.log"))
        .env("LOGDAYS", "2");
    let out = util::run_with_input(&mut cmd, &stream(&ok_run()));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    let now = names(&dir);
    for name in old {
        assert!(
            !now.contains(&name.to_owned()),
            "{name} not pruned: {now:?}"
        );
    }
    for name in untouched {
        assert!(now.contains(&name.to_owned()), "{name} removed: {now:?}");
    }
    let log = std::fs::read_link(dir.join("stack.log")).unwrap();
    let summary = std::fs::read_link(dir.join("stack.log.summary")).unwrap();
    let ts = log
        .to_str()
        .unwrap()
        .strip_prefix("stack.log.")
        .expect("log name");
    assert_eq!(ts.len(), "2026-07-17-203012".len(), "{log:?}");
    assert_eq!(summary.to_str().unwrap(), format!("stack.log.summary.{ts}"));
    let text = util::read(&dir.join("stack.log"));
    assert!(
        text.contains("| stack/install/50-template.sh | laid out 3 files"),
        "{text}"
    );
    assert!(text.contains("=== Result ==="), "{text}");
    let sum = util::read(&dir.join("stack.log.summary"));
    assert_eq!(
        sum,
        "2026-11-24 22:29:14.011 | stack/install/50-template.sh [summary] Installing template\n"
    );
}

// DevStack's weakness 16: a LOGFILE without a slash made a directory of that name.
#[test]
fn a_slashless_logfile_lives_in_the_current_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = util::command();
    cmd.current_dir(tmp.path()).env("LOGFILE", "stack.log");
    let out = util::run_with_input(&mut cmd, &stream(&ok_run()));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let meta = std::fs::symlink_metadata(tmp.path().join("stack.log")).unwrap();
    assert!(meta.file_type().is_symlink(), "{:?}", names(tmp.path()));
    assert_eq!(names(tmp.path()).len(), 4, "{:?}", names(tmp.path()));
}

#[test]
fn a_session_gathers_several_pipelines_in_one_log() {
    let tmp = tempfile::tempdir().unwrap();
    let logfile = tmp.path().join("logs/stack.log");
    let mut cmd = util::command();
    cmd.args(["--open-log", "--logfile", logfile.to_str().unwrap()]);
    let opened = util::run_with_input(&mut cmd, b"");
    assert_eq!(opened.status.code(), Some(0), "{}", show(&opened));
    let session = stdout(&opened).trim_end().to_owned();
    assert!(Path::new(&session).is_absolute(), "{session}");
    assert_eq!(
        std::fs::canonicalize(&session).unwrap(),
        std::fs::canonicalize(&logfile).unwrap(),
        "the link points at the session log"
    );

    for phase in ["pre-install", "install"] {
        let stage = format!("stack/{phase}");
        let id = format!("{stage}/50-template.sh");
        let records = vec![
            begin("hook-run", &stage, 0),
            start(&id, &stage, 1),
            line("summary", &id, &format!("summary of {phase}"), 2),
            end(&id, &stage, "ok", 0, 1, 3),
            done("hook-run", &stage, 0, 4),
        ];
        let mut cmd = util::command();
        // LOGFILE stays set, as in a legacy script: the session wins.
        cmd.env("HOOKPIPE_LOG_SESSION", &session)
            .env("LOGFILE", &logfile);
        let out = util::run_with_input(&mut cmd, &stream(&records));
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
    // A child script opening again stays in the same log.
    let mut cmd = util::command();
    cmd.env("HOOKPIPE_LOG_SESSION", &session).args([
        "--open-log",
        "--logfile",
        logfile.to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&util::run_with_input(&mut cmd, b"")).trim_end(),
        session
    );

    let logs: Vec<String> = names(logfile.parent().unwrap());
    assert_eq!(logs.len(), 4, "one log, one summary, two links: {logs:?}");
    let text = util::read(Path::new(&session));
    assert!(
        text.contains("stack/pre-install/50-template.sh [ok]"),
        "{text}"
    );
    assert!(text.contains("stack/install/50-template.sh [ok]"), "{text}");
    let sum = util::read(&logfile.with_file_name("stack.log.summary"));
    assert!(
        sum.contains("summary of pre-install") && sum.contains("summary of install"),
        "{sum}"
    );
}

#[test]
fn open_log_without_a_log_is_bad_usage() {
    let out = run(&["--open-log"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("phase-log: --open-log needs"));
}

/// Reads console lines until one contains `needle`.
fn wait_for(lines: &mut impl Iterator<Item = std::io::Result<String>>, needle: &str) {
    for line in lines.by_ref() {
        if line.expect("console line").contains(needle) {
            return;
        }
    }
    panic!("the console ended before showing {needle:?}");
}

/// Starts phase-log (`cmd`) on the first three records of [`ok_run`] and waits until the
/// call's summary is on the console: shown live, so phase-log is reading (its signal handlers
/// are installed before it reads). Returns the child, its stdin, its console lines and the
/// whole of `ok_run`, for the test to write the rest.
fn reading_a_call(
    cmd: &mut Command,
) -> (
    Child,
    ChildStdin,
    Lines<BufReader<ChildStdout>>,
    Vec<String>,
) {
    let mut child = spawn_piped(cmd);
    let mut stdin = child.stdin.take().unwrap();
    let mut console = BufReader::new(child.stdout.take().unwrap()).lines();
    let records = ok_run();
    writeln!(stdin, "{}\n{}\n{}", records[0], records[1], records[2]).unwrap();
    stdin.flush().unwrap();
    wait_for(&mut console, "Installing template");
    (child, stdin, console, records)
}

#[test]
fn sigint_keeps_logging_until_input_ends_then_dies_by_sigint() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let (mut child, mut stdin, mut console, records) =
        reading_a_call(util::command().args(["-o", log.to_str().unwrap()]));

    signal(&child, Signal::SIGINT);
    writeln!(stdin, "{}", records[3]).unwrap();
    stdin.flush().unwrap();
    wait_for(&mut console, "[signal]");
    // Upstream is still finishing: what comes now is logged too.
    writeln!(stdin, "{}\n{}", records[4], records[5]).unwrap();
    drop(stdin);
    let rest: Vec<String> = console.map(|line| line.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(2), "{status:?}\n{}", rest.join("\n"));
    let text = util::read(&log);
    assert!(
        text.contains("stack/install/50-template.sh [ok] 0.006s"),
        "{text}"
    );
    assert!(
        text.contains("hook-run stack/install [done] status 0"),
        "{text}"
    );
    assert!(
        text.contains("Result: interrupted (exit status 130)"),
        "{text}"
    );
    assert!(
        rest.iter().any(|line| line.contains("=== Result ===")),
        "{rest:?}"
    );
}

#[test]
fn a_closed_console_still_gets_the_whole_log_and_exits_141() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let mut child = spawn_piped(util::command().args(["-o", log.to_str().unwrap()]));
    // The reader of the console goes away before anything is written.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    let mut records = vec![begin("hook-run", STAGE, 0), start(ID, STAGE, 1)];
    for n in 0..5000 {
        records.push(output(ID, "stdout", &format!("line {n}"), 2));
    }
    records.push(end(ID, STAGE, "ok", 0, 5, 90));
    records.push(done("hook-run", STAGE, 0, 99));
    stdin.write_all(&stream(&records)).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", show(&out));
    assert!(out.stderr.is_empty(), "{}", show(&out));
    let text = util::read(&log);
    assert!(text.contains("| line 4999\n"), "log incomplete");
    assert!(text.contains("hook-run stack/install [done] status 0"));
    assert!(text.contains("=== Result ==="));
}

// DevStack treats an empty variable as unset; a LOGDAYS that is not a number is bad usage.
#[test]
fn empty_log_variables_are_unset_and_a_bad_logdays_is_bad_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = util::command();
    cmd.current_dir(tmp.path())
        .env("LOGFILE", "")
        .env("LOGDAYS", "")
        .env("HOOKPIPE_LOG_SESSION", "");
    let out = util::run_with_input(&mut cmd, &stream(&ok_run()));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));

    let mut cmd = util::command();
    cmd.env("LOGFILE", tmp.path().join("stack.log"))
        .env("LOGDAYS", "a week");
    let out = util::run_with_input(&mut cmd, &stream(&ok_run()));
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "phase-log: LOGDAYS=a week: not a number of days\n"
    );
}

#[test]
fn a_second_signal_ends_phase_log_at_once() {
    let (mut child, mut stdin, mut console, records) = reading_a_call(&mut util::command());
    signal(&child, Signal::SIGTERM);
    writeln!(stdin, "{}", records[3]).unwrap();
    stdin.flush().unwrap();
    wait_for(&mut console, "[signal]");
    signal(&child, Signal::SIGINT);
    // Input stays open: only the second signal can end it. A generous bound keeps a
    // regression from hanging the suite.
    let Some(status) = wait_within(&mut child, Duration::from_secs(10)) else {
        child.kill().unwrap();
        panic!("phase-log still running 10 s after a second signal");
    };
    drop(stdin);
    assert_eq!(status.signal(), Some(2), "{status:?}");
}

/// Bookkeeping lines ([begin], [done], [hook]) are in the log file, not on the console,
/// unless --show-records: a DevStack user reads the calls.
#[test]
fn bookkeeping_is_in_the_log_and_on_the_console_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("run.log");
    let input = stream(&ok_run());
    let out = run(&["-o", log.to_str().unwrap()], &input);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let console = stdout(&out);
    assert!(
        !console.contains("[begin]") && !console.contains("[done]"),
        "{console}"
    );
    let text = util::read(&log);
    assert!(
        text.contains("[begin]") && text.contains("[done]"),
        "{text}"
    );
    let out = run(&["--show-records"], &input);
    assert!(stdout(&out).contains("[done]"), "{}", show(&out));
}
