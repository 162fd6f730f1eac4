//! Hostile names: hook file names, plugin names and directories, and hypervisor drivers with
//! shell metacharacters, control characters and terminal sequences run as data or are refused
//! with a reason; they never run a command, forge a log line or drive the terminal, and are
//! written by one escaping rule everywhere (audit finding 10).

use super::*;

// ---------------------------------------------------------------------------------------
// Hostile names.

/// Names with every shell metacharacter that matters, as bytes.
fn hostile_hook_names() -> Vec<Vec<u8>> {
    [
        &b"10-a b.sh"[..],
        b"11-q'uote.sh",
        b"12-d\"q.sh",
        b"13-$(touch pwned-dollar).sh",
        b"14-`touch pwned-backtick`.sh",
        b"15-x;touch pwned-semicolon;.sh",
        b"16-new\nline.sh",
        b"17-\xff\xfe.sh",
        b"18--rf.sh",
        b"19-*.sh",
        b"20-%s%n\\.sh",
        b"21-$IFS${PATH}.sh",
        b"22-<in >out |pipe &bg.sh",
    ]
    .iter()
    .map(|name| name.to_vec())
    .collect()
}

fn name_of(record: &Value) -> Option<Vec<u8>> {
    if let Some(name) = record["name"].as_str() {
        return Some(name.as_bytes().to_vec());
    }
    let encoded = record["name_base64"].as_str()?;
    Some(hookpipe_e2e::base64_decode(encoded))
}

#[test]
fn hostile_hook_file_names_run_as_data_through_the_whole_pipeline() {
    let sb = Sandbox::new();
    let names = hostile_hook_names();
    for name in &names {
        sb.hook("extras.d", OsString::from_vec(name.clone()), "echo-args.sh");
    }
    // Not NN-name.sh: listed as a skip with its reason, never run.
    sb.hook("extras.d", "-30-dash.sh", "echo-args.sh");
    let mut run = full_pipeline(
        &sb,
        &[&["hook-run", "source"], &["hook-run", "stack", "install"]],
        &[],
    );
    run.wait_expecting(&[0, 0, 0, 0, 0]);
    let stream = records(&sb.join("records.ndjson"));
    for name in &names {
        let shown = String::from_utf8_lossy(name);
        for stage in ["source", "stack/install"] {
            let start = stream
                .iter()
                .find(|r| {
                    r["type"] == "start" && r["stage"] == stage && name_of(r).as_ref() == Some(name)
                })
                .unwrap_or_else(|| panic!("{shown:?} did not start in {stage}"));
            let id = start["id"].as_str().unwrap();
            assert_eq!(end_of(&stream, id)["status"], "ok", "{shown:?}");
            let said = if stage == "source" {
                "ran source"
            } else {
                "ran stack install"
            };
            assert_eq!(texts_of(&stream, id), [said], "{shown:?}");
        }
    }
    let skip = stream
        .iter()
        .find(|r| r["type"] == "skip" && r["name"] == "-30-dash.sh")
        .expect("a skip for -30-dash.sh");
    assert_eq!(skip["reason"], "bad-prefix", "{skip}");
    assert!(!skip["message"].as_str().unwrap_or("").is_empty());
    assert_log_covers(&read_text(&sb.join("run.log")), &stream);
    sb.assert_no_command_from_a_name_ran();
    sb.assert_no_process_left();
}

#[test]
fn control_characters_in_a_hook_name_cannot_forge_log_lines_or_drive_the_terminal() {
    let sb = Sandbox::new();
    sb.hook(
        "extras.d",
        "10-x\n2020-01-01 00:00:00.000 | forged [ok].sh",
        "echo-args.sh",
    );
    sb.hook("extras.d", "20-\x1b[2J\rclear.sh", "echo-args.sh");
    let mut run = full_pipeline(&sb, &[&["hook-run", "stack", "install"]], &[]);
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0, 0, 0, 0], "{}", run.report(&statuses));
    let stamped = |line: &str| {
        let bytes = line.as_bytes();
        // An empty report line is the stamp and " |" alone.
        bytes.len() >= 25
            && bytes[..23].iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b' ',
                13 | 16 => *b == b':',
                19 => *b == b'.',
                _ => b.is_ascii_digit(),
            })
            && (&bytes[23..] == b" |" || bytes[23..].starts_with(b" | "))
    };
    for file in ["run.log", "console.txt"] {
        // The hooks print only `ran ...`: every control byte here came from a name.
        let text = read_text(&sb.join(file));
        for line in text.lines() {
            // The console shows the reports unstamped; the log stamps every line.
            if file == "run.log" {
                assert!(stamped(line), "{file}: a line without its stamp: {line:?}");
            }
            assert!(
                !line.starts_with("2020-01-01"),
                "{file}: a forged line: {line:?}"
            );
            assert!(
                !line.contains(['\x1b', '\r']),
                "{file}: a raw control character: {line:?}"
            );
        }
    }
}

#[test]
fn hostile_plugin_names_and_directories_run_as_data_or_are_refused_with_a_reason() {
    let sb = Sandbox::new();
    let names: Vec<Vec<u8>> = [
        &b"a b"[..],
        b"q'uote",
        b"d\"q",
        b"$(touch pwned-dollar)",
        b"`touch pwned-backtick`",
        b"x;touch pwned-semicolon",
        b"-rf",
        b"\xff\xfe",
        b"new\nline",
        b"../escape",
        b"",
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect();
    let mut failures = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let shown = String::from_utf8_lossy(name).into_owned();
        // The directory holds the name too (where it is one path component).
        let mut dir = format!("plugins/{index} ").into_bytes();
        dir.extend(name.iter().map(|&b| if b == b'/' { b'_' } else { b }));
        let dir = sb.join(OsString::from_vec(dir));
        for file in ["plugin.sh", "settings", "override-defaults"] {
            fs::create_dir_all(dir.join("devstack")).unwrap();
            fs::copy(
                fixtures().join("hooks/echo-args.sh"),
                dir.join("devstack").join(file),
            )
            .unwrap();
        }
        let mut flag = b"--plugin=".to_vec();
        flag.extend_from_slice(name);
        flag.push(b'=');
        flag.extend_from_slice(dir.as_os_str().as_bytes());
        let mut list = sb.stage(&["hook-list", "--missing-ok", "extras.d"]);
        list.arg(OsString::from_vec(flag));
        let out = sb.join(format!("records.{index}"));
        let mut run = Pipeline::start(
            vec![
                list,
                sb.stage(&["hook-run", "override_defaults"]),
                sb.stage(&["hook-run", "source"]),
                sb.stage(&["hook-run", "stack", "install"]),
            ],
            None,
            &out,
        );
        let statuses = run.wait();
        if (0..statuses.len()).any(|i| run.stderr(i).contains("panicked")) {
            failures.push(format!("{shown:?}: a panic\n{}", run.report(&statuses)));
            continue;
        }
        let stream = records(&out);
        let listed = stream.iter().any(|r| r["type"] == "hook");
        if code(statuses[0]) == 2 {
            // Refused: one clear line naming the flag's problem, and nothing ran.
            let err = run.stderr(0);
            let clear = err.lines().count() == 1 && err.starts_with("hook-list: ");
            if !clear || listed || stream.iter().any(|r| r["type"] == "start") {
                failures.push(format!(
                    "{shown:?}: refused unclearly\n{}",
                    run.report(&statuses)
                ));
            }
            continue;
        }
        let ran = stream
            .iter()
            .filter(|r| r["type"] == "end" && r["status"] == "ok")
            .count();
        let said: Vec<String> = stream
            .iter()
            .filter(|r| r["type"] == "output")
            .filter_map(|r| r["text"].as_str().map(str::to_owned))
            .collect();
        // As in DevStack, override-defaults and settings are sourced without arguments.
        let expected = ["ran ", "ran stack install"];
        if codes(&statuses) != [0, 0, 0, 0]
            || ran < 3
            || !expected.iter().all(|e| said.iter().any(|s| s == e))
        {
            failures.push(format!(
                "{shown:?}: accepted but did not run cleanly: {said:?}\n{}",
                run.report(&statuses)
            ));
        }
    }
    // DevStack's list of plugin names, split on commas and blanks, with DEST holding them.
    let dest = sb.join("dest");
    for name in ["$(touch${IFS}pwned-list)", "x;touch${IFS}pwned-semi"] {
        fs::create_dir_all(dest.join(name).join("devstack")).unwrap();
        fs::copy(
            fixtures().join("hooks/echo-args.sh"),
            dest.join(name).join("devstack/plugin.sh"),
        )
        .unwrap();
    }
    let mut list = sb.stage(&["hook-list", "--missing-ok", "extras.d", "--dest"]);
    list.arg(&dest)
        .arg("--devstack-plugins")
        .arg("$(touch${IFS}pwned-list),x;touch${IFS}pwned-semi `touch pwned-tick`");
    let mut run = Pipeline::start(
        vec![list, sb.stage(&["hook-run", "stack", "install"])],
        None,
        &sb.join("records.list"),
    );
    let statuses = run.wait();
    run.assert_no_panic(&statuses);
    let stream = records(&sb.join("records.list"));
    for name in ["$(touch${IFS}pwned-list)", "x;touch${IFS}pwned-semi"] {
        assert_eq!(
            texts_of(&stream, &format!("stack/install/plugin:{name}")),
            ["ran stack install"],
            "{}",
            run.report(&statuses)
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    sb.assert_no_command_from_a_name_ran();
    sb.assert_no_process_left();
}

#[test]
fn hostile_hypervisor_drivers_are_refused_and_hostile_plugin_paths_are_data() {
    let sb = Sandbox::new();
    let drivers: Vec<&[u8]> = vec![
        b"a b",
        b"q'uote",
        b"$(touch pwned-dollar)",
        b"`touch pwned-backtick`",
        b"x;touch pwned-semicolon",
        b"new\nline",
        b"-rf",
        b"\xff\xfe",
        b"../../etc/passwd",
    ];
    fs::create_dir_all(sb.join("nova_plugins")).unwrap();
    for driver in &drivers {
        for from_env in [false, true] {
            let mut cmd = sb.stage(&["hyp-resolve", "--dir", "nova_plugins"]);
            if from_env {
                cmd.env("VIRT_DRIVER", OsStr::from_bytes(driver));
            } else {
                cmd.arg("--").arg(OsStr::from_bytes(driver));
            }
            let out = sb.join("resolved");
            let mut run = Pipeline::start(vec![cmd], None, &out);
            let statuses = run.wait();
            let err = run.stderr(0);
            assert_eq!(code(statuses[0]), 2, "{}", run.report(&statuses));
            assert!(
                err.starts_with("hyp-resolve: driver `") && err.contains("refused"),
                "{err}"
            );
            assert!(
                !records(&out).iter().any(|r| r["type"] == "hypervisor"),
                "a refused driver was resolved"
            );
        }
    }

    // A plugin directory whose name is hostile: resolved, checked by bash, sourced, called.
    let dir = sb.join("plugins $(touch pwned-dir) `touch pwned-dir2`; x'\"");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(
        fixtures().join("nova_plugins/hypervisor-reliable"),
        dir.join("hypervisor-reliable"),
    )
    .unwrap();
    let mut resolve = sb.stage(&["hyp-resolve", "--check", "--dir"]);
    resolve.arg(&dir).arg("reliable");
    let mut run = Pipeline::start(
        vec![
            resolve,
            sb.stage(&["hyp-call", "source", "install", "configure"]),
            sb.stage(&["tee", "-i", "records.ndjson"]),
            sb.stage(&["phase-log", "-o", "run.log"]),
        ],
        None,
        &sb.join("console.txt"),
    );
    run.wait_expecting(&[0, 0, 0, 0]);
    let stream = records(&sb.join("records.ndjson"));
    assert_eq!(
        texts_of(&stream, "hypervisor/install/reliable"),
        [format!(
            "install ran from {}/hypervisor-reliable",
            dir.display()
        )]
    );
    assert_eq!(
        texts_of(&stream, "hypervisor/configure/reliable"),
        ["configure ran"]
    );

    // A hypervisor record nobody vetted: a hostile driver and file name still are data.
    let file = dir.join("hypervisor-$(touch pwned-file)");
    fs::copy(fixtures().join("nova_plugins/hypervisor-reliable"), &file).unwrap();
    let record = json!({"type":"hypervisor","driver":"$(touch pwned-record);`touch pwned-r`",
        "path":file.to_str().unwrap(),"missing":[],"functions":["install_nova_hypervisor"]});
    let (status, stdout, stderr) = feed(
        &sb,
        "hyp-call",
        &["install"],
        format!("{record}\n").as_bytes(),
    );
    assert_eq!(code(status), 0, "{stderr}");
    let said = String::from_utf8_lossy(&stdout);
    assert!(said.contains("install ran from"), "{said}");
    sb.assert_no_command_from_a_name_ran();
    sb.assert_no_process_left();
}

// ---------------------------------------------------------------------------------------
// Audit finding 10 (issue 20): One escaping rule wherever hookpipe writes a name.

#[test]
fn a_name_with_a_terminal_sequence_is_written_by_one_rule_everywhere() {
    let sb = Sandbox::new();
    let name = "10-\u{1b}]0;pwned\u{7}csi\u{9b}.sh";
    inline_hook(&sb, name, "warn $LINENO careful; echo hi; false");
    let stages = vec![
        sb.stage(&["hook-list", "extras.d"]),
        sb.stage(&["hook-run", "stack", "install"]),
        sb.stage(&[
            "phase-log",
            "-o",
            "run.log",
            "--junit",
            "run.xml",
            "--html",
            "run.html",
        ]),
    ];
    let mut run = Pipeline::start(stages, None, &sb.join("console.txt"));
    let statuses = run.wait();
    assert_eq!(codes(&statuses), [0, 1, 1], "{}", run.report(&statuses));
    let shown = "10-\\x1B]0;pwned\\x07csi\\x9B.sh";
    for file in ["console.txt", "run.log", "run.xml", "run.html"] {
        let bytes = read_bytes(&sb.join(file));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains(shown),
            "{file} does not show {shown}:\n{text}"
        );
        for raw in ["\u{1b}", "\u{7}", "\u{9b}"] {
            assert!(!text.contains(raw), "{file} holds a raw {raw:?}:\n{text}");
        }
    }
    // The warning names the hook's path (lib/functions' `warn`) by the same rule.
    let log = read_text(&sb.join("run.log"));
    assert!(
        log.lines()
            .any(|line| line.contains("[warning]") && line.contains(&format!("{shown}:2 careful"))),
        "{log}"
    );
}
