//! Golden output: a fixed, hand-written record stream (tests/fixtures/run.ndjson: an ok
//! call, a failure, a timeout, an interruption, a nested stamp, noise, a partial line,
//! timers, skips, invalid UTF-8, a `state` and an unknown type) must give exactly the
//! committed console output and log file. Times come from the records, so the output is
//! deterministic. `UPDATE_GOLDEN=1 cargo test -p phase-log --test golden` rewrites the
//! expected files; review the diff before committing it.

mod util;

use std::path::{Path, PathBuf};

fn here(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(path)
}

/// The temporary directory's path replaced by `$TMP`, so the expected files do not
/// depend on where the test ran.
fn portable(bytes: &[u8], tmp: &Path) -> Vec<u8> {
    let needle = tmp.to_str().expect("utf-8 temp path").as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(b"$TMP");
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fn check(name: &str, got: &[u8]) {
    let path = here(&format!("golden/{name}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).expect("write golden file");
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|err| {
        panic!(
            "{}: {err}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if want != got {
        let want = String::from_utf8_lossy(&want);
        let got = String::from_utf8_lossy(got);
        for (n, (w, g)) in want.lines().zip(got.lines()).enumerate() {
            assert_eq!(w, g, "{name}: first difference at line {}", n + 1);
        }
        panic!(
            "{name}: {} lines expected, {} written\n--- got ---\n{got}",
            want.lines().count(),
            got.lines().count()
        );
    }
}

#[test]
fn fixed_stream_gives_the_committed_console_output_and_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("logs/run.log");
    let input = std::fs::read(here("fixtures/run.ndjson")).unwrap();
    let output = util::run(&["--color", "never", "-o", log.to_str().unwrap()], &input);
    // The stream ends with an interrupted stage: its status 130 is the run's.
    assert_eq!(output.status.code(), Some(130), "{}", util::show(&output));
    assert!(output.stderr.is_empty(), "{}", util::show(&output));
    check("run.console", &portable(&output.stdout, tmp.path()));
    check(
        "run.log",
        &portable(&std::fs::read(&log).unwrap(), tmp.path()),
    );
}

#[test]
fn quiet_console_is_summaries_and_reports_only() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("logs/run.log");
    let input = std::fs::read(here("fixtures/run.ndjson")).unwrap();
    let mut cmd = util::command();
    cmd.env("VERBOSE", "False")
        .args(["--color", "never", "-o", log.to_str().unwrap()]);
    let output = util::run_with_input(&mut cmd, &input);
    check("run.quiet.console", &portable(&output.stdout, tmp.path()));
    // The file does not depend on VERBOSE.
    check(
        "run.log",
        &portable(&std::fs::read(&log).unwrap(), tmp.path()),
    );
}
