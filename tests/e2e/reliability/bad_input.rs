//! Bad input to each tool: malformed and unknown records, records refused after decoding, a
//! done status no tool writes, records naming devices, FIFOs or directories (audit finding
//! 7), and bad flags and environment values (huge timeouts, `--timeout 0`). Each is refused
//! naming its line, path or flag, with the documented exit status, or passed through; never
//! a panic.
//! Generated input is `generated.rs`.

use super::*;

// ---------------------------------------------------------------------------------------
// Bad input.

/// The tools that read records, with the arguments they run with here.
const READERS: &[(&str, &[&str])] = &[
    ("hook-run", &["stack", "install"]),
    ("hyp-call", &["install"]),
    ("phase-log", &[]),
];

/// What a bad-input case must do.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Exit 0 (or the given status) and say nothing.
    Exit(i32),
    /// Exit 2 with one stderr line naming `input line N`.
    Refused(u64),
    /// Runners forward the input byte for byte; phase-log ignores it (exit 0).
    PassedThrough,
}

fn unknown_record() -> String {
    json!({"type": "x-reliability", "note": "from a newer tool", "n": 1}).to_string()
}

/// The bad-input cases: the same for every reader, plus a known type of the wrong shape that
/// each one decodes.
fn bad_inputs(tool: &str) -> Vec<(String, Vec<u8>, Expect)> {
    let unknown = unknown_record();
    let mut cases = vec![
        ("empty input".to_owned(), Vec::new(), Expect::Exit(0)),
        (
            "blank lines only".to_owned(),
            b"\n  \n\t\n".to_vec(),
            Expect::Exit(0),
        ),
        (
            "random bytes on line 2".to_owned(),
            format!("{unknown}\n\x01\x7f garbage {{\n")
                .into_bytes()
                .into_iter()
                .chain(b"\xff\xfe\n".iter().copied())
                .collect(),
            Expect::Refused(2),
        ),
        (
            "invalid UTF-8 on line 1".to_owned(),
            b"\xff\xfe\xfd\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "truncated JSON on line 3 (after a blank line)".to_owned(),
            format!("{unknown}\n\n{{\"type\":\"begin\",\"tool\":\"x").into_bytes(),
            Expect::Refused(3),
        ),
        (
            "a JSON array".to_owned(),
            b"[1,2,3]\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "an object without a type".to_owned(),
            b"{\"kind\":\"extras\"}\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "a type that is not a string".to_owned(),
            b"{\"type\":5}\n".to_vec(),
            Expect::Refused(1),
        ),
        (
            "done with a status of the wrong type".to_owned(),
            json!({"type":"done","tool":"x","stage":"y","status":"bad","time":"t"})
                .to_string()
                .into_bytes(),
            Expect::Refused(1),
        ),
        (
            "a 10 MB line that is not JSON".to_owned(),
            vec![b'a'; 10 * 1024 * 1024],
            Expect::Refused(1),
        ),
        (
            "a 10 MB record of an unknown type".to_owned(),
            format!(
                "{}\n",
                json!({"type":"x-big","blob":"b".repeat(10 * 1024 * 1024)})
            )
            .into_bytes(),
            Expect::PassedThrough,
        ),
        (
            "unknown record types".to_owned(),
            format!(
                "{unknown}\n{}\n{}\n",
                json!({"type":"x-other","deep":{"nested":[1,{"a":null}]}}),
                json!({"type":"","empty":"type"})
            )
            .into_bytes(),
            Expect::PassedThrough,
        ),
    ];
    let wrong_shape = match tool {
        "hook-run" => json!({"type":"hook","name":5,"kind":"extras"}),
        "hyp-call" => json!({"type":"hypervisor","driver":7,"missing":[],"functions":[]}),
        _ => json!({"type":"end","id":1,"stage":"s","status":"ok","duration_ms":1,"time":"t"}),
    };
    cases.push((
        format!("a known type of the wrong shape: {wrong_shape}"),
        format!("{unknown}\n{wrong_shape}\n").into_bytes(),
        Expect::Refused(2),
    ));
    let state = json!({"type":"state","stage":"s","generation":"one","base":"full","time":"t"});
    if tool != "phase-log" {
        cases.push((
            format!("a state of the wrong shape: {state}"),
            format!("{state}\n").into_bytes(),
            Expect::Refused(1),
        ));
    }
    cases
}

#[test]
fn bad_input_is_refused_naming_its_line_or_passed_through_never_a_panic() {
    let sb = Sandbox::new();
    let mut failures = Vec::new();
    for (tool, args) in READERS {
        for (name, input, expect) in bad_inputs(tool) {
            let (status, stdout, stderr) = feed(&sb, tool, args, &input);
            let mut problems = Vec::new();
            if stderr.contains("panicked") {
                problems.push("panicked".to_owned());
            }
            match expect {
                Expect::Exit(wanted) => {
                    if code(status) != wanted || !stderr.is_empty() {
                        problems.push(format!("expected exit {wanted} and no message"));
                    }
                }
                Expect::Refused(line) => {
                    let first = stderr.lines().next().unwrap_or("");
                    // phase-log reads on to report what it could; it may add a count of
                    // the later malformed lines.
                    let wanted = format!("{tool}: input line {line}:");
                    if code(status) != 2 || !first.starts_with(&wanted) {
                        problems.push(format!("expected exit 2 and first `{wanted} ...`"));
                    }
                }
                Expect::PassedThrough => {
                    if code(status) != 0 || !stderr.is_empty() {
                        problems.push("expected exit 0 and no message".to_owned());
                    }
                    let forwarded = input
                        .split(|&b| b == b'\n')
                        .filter(|line| !line.is_empty())
                        .all(|line| {
                            let mut whole = line.to_vec();
                            whole.push(b'\n');
                            contains(&stdout, &whole)
                        });
                    if *tool != "phase-log" && !forwarded {
                        problems.push("the records were not forwarded byte for byte".to_owned());
                    }
                }
            }
            if *tool != "phase-log" {
                // Whatever happened, the runner's last record is its done, with its status.
                let last = stdout
                    .split(|&b| b == b'\n')
                    .rfind(|line| !line.is_empty())
                    .and_then(|line| serde_json::from_slice::<Value>(line).ok());
                let done_status = last
                    .as_ref()
                    .filter(|r| r["type"] == "done")
                    .and_then(|r| r["status"].as_i64());
                if done_status != Some(i64::from(code(status))) {
                    problems.push(format!("last record is not done {}", code(status)));
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{tool} with {name}: {} (got {}; stderr: {})",
                    problems.join("; "),
                    describe(status),
                    stderr.trim()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    sb.assert_no_process_left();
}

#[test]
fn records_refused_after_decoding_name_their_input_line() {
    let sb = Sandbox::new();
    let unknown = unknown_record();
    let cases = [
        ("hook-run", json!({"type":"hook","kind":"extras"})),
        (
            "hook-run",
            json!({"type":"hook","kind":"extras","name":"10-x.sh","path_base64":"!!!"}),
        ),
        (
            "hyp-call",
            json!({"type":"hypervisor","driver":"x","missing":[],"functions":[]}),
        ),
    ];
    let mut failures = Vec::new();
    for (tool, record) in cases {
        let args: &[&str] = if tool == "hook-run" {
            &["stack", "install"]
        } else {
            &["install"]
        };
        let input = format!("{unknown}\n{record}\n");
        let (status, _, stderr) = feed(&sb, tool, args, input.as_bytes());
        if code(status) != 2 || !stderr.starts_with(&format!("{tool}: input line 2:")) {
            failures.push(format!(
                "{tool} with {record}: {} {stderr}",
                describe(status)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_done_status_no_tool_writes_is_not_success() {
    let sb = Sandbox::new();
    let time = "2026-11-24T22:29:14.000Z";
    let input = format!(
        "{}\n{}\n",
        json!({"type":"begin","tool":"hook-run","stage":"x","pid":1,"version":"0","time":time}),
        json!({"type":"done","tool":"hook-run","stage":"x","status":-1,"time":time})
    );
    let mut failures = Vec::new();
    for (tool, args) in READERS {
        let (status, _, stderr) = feed(&sb, tool, args, input.as_bytes());
        if code(status) == 0 {
            failures.push(format!("{tool} exited 0 {stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A command line and its environment.
type UsageCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

/// Runs a tool with no input and the given arguments and environment; returns the status
/// and stderr.
fn usage(sb: &Sandbox, argv: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut cmd = sb.stage(argv);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut run = Pipeline::start(vec![cmd], None, &sb.join("usage.out"));
    let statuses = run.wait();
    (statuses[0], run.stderr(0))
}

#[test]
fn bad_flag_and_environment_values_are_usage_errors_never_a_panic() {
    let sb = Sandbox::new();
    fs::write(sb.join("afile"), "").unwrap();
    let cases: &[UsageCase] = &[
        (&["hook-run", "stack", "install", "--timeout", "nan"], &[]),
        (&["hook-run", "stack", "install", "--timeout", "inf"], &[]),
        (&["hook-run", "stack", "install", "--timeout=-1"], &[]),
        (
            &["hook-run", "stack", "install", "--kill-after", "1e309"],
            &[],
        ),
        (&["hook-run", "stack", "install", "--kill-after", ""], &[]),
        (
            &["hook-run", "stack", "install"],
            &[("HOOKPIPE_TIMEOUT", "-1")],
        ),
        (&["hyp-call", "install"], &[("HOOKPIPE_TIMEOUT", "abc")]),
        (&["hook-run", "--any-phase", "a/b", "c"], &[]),
        (&["hook-run", "stack", "install", "--state", "afile/x"], &[]),
        (
            &["hook-run", "stack", "install", "--prelude", "/nonexistent"],
            &[],
        ),
        (&["hook-list", "--plugin", "noequals"], &[]),
        (&["hook-list", "--plugin", "=dir"], &[]),
        (&["hook-list", "afile"], &[]),
        (&["hyp-resolve", "--dir", "afile", "x"], &[]),
        (&["phase-log", "-o", "afile/x"], &[]),
        (&["phase-log", "--logfile", "log"], &[("LOGDAYS", "nan")]),
        (&["phase-log", "--logfile", "log"], &[("LOGDAYS", "-1")]),
    ];
    let mut failures = Vec::new();
    for (argv, env) in cases {
        let (status, stderr) = usage(&sb, argv, env);
        if code(status) != 2 || stderr.contains("panicked") || stderr.trim().is_empty() {
            failures.push(format!("{argv:?} {env:?}: {} {stderr}", describe(status)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn huge_timeouts_are_usage_errors_not_a_panic() {
    let sb = Sandbox::new();
    let cases: &[UsageCase] = &[
        (&["hook-run", "stack", "install", "--timeout", "1e20"], &[]),
        (
            &["hook-run", "stack", "install", "--kill-after", "1e20"],
            &[],
        ),
        (
            &[
                "hook-run",
                "stack",
                "install",
                "--timeout",
                "18446744073709551616",
            ],
            &[],
        ),
        (&["hyp-call", "install"], &[("HOOKPIPE_TIMEOUT", "1e20")]),
    ];
    let mut failures = Vec::new();
    for (argv, env) in cases {
        let (status, stderr) = usage(&sb, argv, env);
        if code(status) != 2 || stderr.contains("panicked") {
            failures.push(format!("{argv:?} {env:?}: {} {stderr}", describe(status)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Audit finding 12 (issue 20): `--timeout 0`.

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
// Audit finding 7 (issue 20): Records naming things that are not regular files.

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
