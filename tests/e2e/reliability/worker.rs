//! Hooks that abuse the bash worker they run in (issue 20 audit findings 1 and 9): descriptors
//! redirected or closed, builtins redefined or disabled, a state the worker cannot dump, a
//! readonly worker variable. Each spoils only its own call, or fails the stage by name.

use super::*;

// ---------------------------------------------------------------------------------------
// Audit finding 1 (issue 20): Descriptors a hook plays with.

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
    run.wait_expecting(&[0, 0, 0, 0, 0]);
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
// Audit finding 9 (issue 20): A hook that breaks the builtins the worker lives on.

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
    run.wait_expecting(&[0, 0, 0, 0, 0]);
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
    let stream = parse_records(&out);
    assert!(
        has_warning(&stream, "shell state could not be dumped"),
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
    let stream = parse_records(&out);
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
