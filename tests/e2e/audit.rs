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
        sb.hook("extras.d", format!("{}5-next.sh", index + 1), "echo-args.sh");
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
    assert_eq!(codes(&statuses), [0, 0, 0, 0, 0], "{}", run.report(&statuses));
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
