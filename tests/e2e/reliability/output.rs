//! What hooks write: a hundred megabytes through the pipeline in bounded memory, a daemon still
//! holding the hook's output, a ten-megabyte line without a newline, and NUL, invalid UTF-8
//! and CR line ends, each reaching the log file byte-exact.

use super::*;

// ---------------------------------------------------------------------------------------
// Misbehaving hooks.

#[test]
fn a_hundred_megabytes_of_output_flow_through_in_bounded_memory() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-flood.sh", "flood.sh");
    let mut run = log_pipeline(&sb);
    let peaks = PeakMemory::watch(vec![run.pid(1), run.pid(2)]);
    let statuses = run.wait();
    let peaks = peaks.finish();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 0, 0], "{}", run.report(&statuses));
    eprintln!(
        "peak memory (VmHWM) with 100 MiB of hook output: hook-run {} KiB, phase-log {} KiB",
        peaks[0], peaks[1]
    );
    // Holding the flood would take 100 MiB or more; a bounded stage stays far below.
    for (tool, kib) in ["hook-run", "phase-log"].iter().zip(&peaks) {
        assert!(*kib > 0, "no memory sample of {tool}");
        assert!(*kib < 64 * 1024, "{tool} peaked at {kib} KiB");
    }
    let log = sb.join("run.log");
    assert!(fs::metadata(&log).unwrap().len() > 100 * 1024 * 1024);
    // 104857600 bytes of 87-byte lines: 1205259 whole lines and one cut short.
    let grep = Command::new("grep")
        .args(["-c", "-a", "-F", "stack/install/10-flood.sh | flood: "])
        .arg(&log)
        .output()
        .expect("run grep");
    assert_eq!(String::from_utf8_lossy(&grep.stdout).trim(), "1205260");
    let text = read_text(&sb.join("run.log.stderr.2"));
    assert!(text.is_empty(), "{text}");
    sb.assert_no_process_left();
}

#[test]
fn a_daemon_holding_the_hooks_output_hangs_neither_the_stage_nor_the_pipeline() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-daemon.sh", "careless-daemon.sh");
    sb.hook("extras.d", "20-after.sh", "echo-args.sh");
    let mut run = full_pipeline(
        &sb,
        &[
            &["hook-run", "stack", "install"],
            &["hook-run", "stack", "extra"],
        ],
        &[],
    );
    run.wait_expecting(&[0, 0, 0, 0, 0]);
    let stream = records(&sb.join("records.ndjson"));
    assert_eq!(
        texts_of(&stream, "stack/install/10-daemon.sh"),
        ["daemon started"]
    );
    assert_eq!(
        texts_of(&stream, "stack/extra/20-after.sh"),
        ["ran stack extra"]
    );
    // A daemon is not the run's to kill (docs/architecture.md, "Ends of hooks"): it is still there.
    let daemon = pid_from(&sb.join("daemon.pid"));
    assert!(process_alive(daemon), "the daemon was killed");
    let _ = kill(Pid::from_raw(daemon), Signal::SIGKILL);
    sb.assert_no_process_left();
}

/// The log line of one output line: ` | ID | ` (stdout) or ` | ID ! ` (stderr), the exact
/// bytes, a newline.
fn logged(id: &str, stderr: bool, bytes: &[u8]) -> Vec<u8> {
    let mark = if stderr { "!" } else { "|" };
    let mut line = format!(" | {id} {mark} ").into_bytes();
    line.extend_from_slice(bytes);
    line.push(b'\n');
    line
}

#[test]
fn a_ten_megabyte_line_without_a_newline_reaches_the_log_file_whole() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-long.sh", "long-line.sh");
    let mut run = log_pipeline(&sb);
    let peaks = PeakMemory::watch(vec![run.pid(1), run.pid(2)]);
    let statuses = run.wait();
    let peaks = peaks.finish();
    run.assert_no_panic(&statuses);
    assert_eq!(codes(&statuses), [0, 0, 0], "{}", run.report(&statuses));
    eprintln!(
        "peak memory (VmHWM) with one 10 MiB line: hook-run {} KiB, phase-log {} KiB",
        peaks[0], peaks[1]
    );
    let log = read_bytes(&sb.join("run.log"));
    let expected = logged(
        "stack/install/10-long.sh",
        false,
        &vec![b'y'; 10 * 1024 * 1024],
    );
    assert!(
        contains(&log, &expected),
        "the 10 MiB line is not in the log in one piece"
    );
}

#[test]
fn nul_invalid_utf8_and_cr_line_ends_reach_the_log_file_byte_exact() {
    let sb = Sandbox::new();
    sb.hook("extras.d", "10-odd.sh", "odd-bytes.sh");
    let mut run = full_pipeline(&sb, &[&["hook-run", "stack", "install"]], &[]);
    run.wait_expecting(&[0, 0, 0, 0]);
    let log = read_bytes(&sb.join("run.log"));
    let id = "stack/install/10-odd.sh";
    for (stderr, bytes) in [
        (false, &b"nul\0inside"[..]),
        (false, b"cr\ronly\rends"),
        (false, b"crlf end\r"),
        (false, b"bad \xff\xfe utf-8"),
        (true, b"stderr \x80 too"),
        (false, b"unfinished"),
    ] {
        let line = logged(id, stderr, bytes);
        assert!(
            contains(&log, &line),
            "{:?} is not in the log byte for byte:\n{}",
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&log)
        );
    }
}
