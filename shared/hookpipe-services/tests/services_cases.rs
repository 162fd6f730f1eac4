//! One case table, two implementations: every line of `tests/services/cases.tsv` runs against
//! `lib/services` (one bash per case, through `tests/services/run-case.sh`) and against
//! `hookpipe-services`, and each must give the expected answer, so the shell and the Rust
//! side cannot drift from DevStack or from each other. `tests/services/ere.tsv` and
//! `glob.tsv` do the same for the two pattern dialects, against bash itself.
//!
//! The shell runs in an empty directory with `LC_ALL=C`, which is where `lib/services`
//! promises DevStack's answers.

use std::path::{Path, PathBuf};
use std::process::Command;

use hookpipe_services::ere::Regex;
use hookpipe_services::{self as services, Answer, Hooks, ServiceList};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lives in shared/ inside the repository")
        .to_path_buf()
}

/// `%XX` is the byte XX; anything else is itself.
fn decode(field: &str) -> Result<String, String> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = field
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {field:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{field:?} decodes to invalid UTF-8"))
}

/// Space-separated arguments; `'...'` is one argument, spaces included.
fn split_args(field: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut rest = field.trim_start_matches(' ');
    while !rest.is_empty() {
        let (arg, next) = if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted
                .find('\'')
                .ok_or_else(|| format!("unclosed quote in {field:?}"))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        args.push(decode(arg)?);
        rest = next.trim_start_matches(' ');
    }
    Ok(args)
}

/// The lines of a table that are neither comments nor blank, with their line numbers,
/// after a header that must read `header`.
fn table(name: &str, header: &str) -> Vec<(usize, Vec<String>)> {
    let path = repo().join("tests/services").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
    let (_, first) = lines.next().unwrap_or((0, ""));
    assert_eq!(first, header, "{name}: the header line");
    let width = header.split('\t').count();
    lines
        .map(|(n, line)| {
            let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
            assert_eq!(
                fields.len(),
                width,
                "{name}:{}: {} fields, expected {width}",
                n + 1,
                fields.len()
            );
            (n + 1, fields)
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    line: usize,
    id: String,
    before: ServiceList,
    hooks: bool,
    op: String,
    args: Vec<String>,
    expect: String,
    after: ServiceList,
    warnings: Vec<String>,
}

const HEADER: &str =
    "id\tenabled\tdisabled\thooks\top\targs\texpect\tenabled_after\tdisabled_after\twarnings\tnote";

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (line, f) in table("cases.tsv", HEADER) {
        let at = |what: String| format!("cases.tsv:{line} ({}): {what}", f[0]);
        let value = |field: &str| decode(field).unwrap_or_else(|err| panic!("{}", at(err)));
        let previous = cases.last().map(|case| case.after.clone());
        let carried = |field: &str, pick: fn(&ServiceList) -> &String| {
            if field == "^" {
                let previous = previous
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}", at("^ on the first case".into())));
                pick(previous).clone()
            } else {
                value(field)
            }
        };
        let before = ServiceList::new(
            carried(&f[1], |l| &l.enabled),
            carried(&f[2], |l| &l.disabled),
        );
        let after = ServiceList::new(
            if f[7] == "=" {
                before.enabled.clone()
            } else {
                value(&f[7])
            },
            if f[8] == "=" {
                before.disabled.clone()
            } else {
                value(&f[8])
            },
        );
        let hooks = match f[3].as_str() {
            "yes" => true,
            "no" => false,
            other => panic!("{}", at(format!("hooks must be yes or no, not {other:?}"))),
        };
        assert!(ids.insert(f[0].clone()), "{}", at("duplicate id".into()));
        cases.push(Case {
            line,
            id: f[0].clone(),
            before,
            hooks,
            op: f[4].clone(),
            args: split_args(&f[5]).unwrap_or_else(|err| panic!("{}", at(err))),
            expect: f[6].clone(),
            after,
            warnings: value(&f[9]).split_whitespace().map(str::to_owned).collect(),
        });
    }
    cases
}

/// What one implementation did with a case, in the table's own terms.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// `T`, `F` or `U` for `is`; `ok`, `U` or `die:ITEM` otherwise.
    result: String,
    /// The lists afterwards, where this side can tell them.
    lists: Option<ServiceList>,
    warnings: Vec<String>,
}

fn run_rust(case: &Case) -> Result<Outcome, String> {
    let hooks = if case.hooks {
        Hooks::devstack()
    } else {
        Hooks::none()
    };
    let mut list = case.before.clone();
    let mut warnings = Vec::new();
    let mut lists_known = true;
    let result = match case.op.as_str() {
        "is" => {
            lists_known = false;
            match services::is_service_enabled(&case.args, &list, &hooks) {
                Answer::True => "T",
                Answer::False => "F",
                Answer::Unknown => "U",
            }
            .to_owned()
        }
        "enable" => match services::enable_service(&mut list, &case.args, &hooks) {
            Ok(warned) => {
                warnings = warned.into_iter().map(|w| w.service).collect();
                "ok".to_owned()
            }
            Err(undecided) => {
                if list != case.before {
                    return Err(format!("undecided ({undecided}) yet the lists changed"));
                }
                lists_known = false;
                "U".to_owned()
            }
        },
        "disable" => {
            services::disable_service(&mut list, &case.args);
            "ok".to_owned()
        }
        "negate" => {
            services::disable_negated_services(&mut list);
            "ok".to_owned()
        }
        "cleanup" => {
            list.enabled = services::cleanup_service_list(&list.enabled);
            "ok".to_owned()
        }
        "disable_all" => {
            services::disable_all_services(&mut list);
            "ok".to_owned()
        }
        "verify" => match services::verify_disabled_services(&list) {
            Ok(()) => "ok".to_owned(),
            Err(overridden) => format!("die:{}", overridden.service),
        },
        other => return Err(format!("unknown op {other:?}")),
    };
    Ok(Outcome {
        result,
        lists: lists_known.then_some(list),
        warnings,
    })
}

fn run_shell(case: &Case, dir: &Path) -> Result<Outcome, String> {
    let result_file = dir.join("result");
    let _ = std::fs::remove_file(&result_file);
    let cwd = dir.join("cwd");
    std::fs::create_dir_all(&cwd).map_err(|err| err.to_string())?;
    let output = Command::new("bash")
        .arg(repo().join("tests/services/run-case.sh"))
        .arg(repo())
        .arg(&result_file)
        .arg(if case.hooks { "yes" } else { "no" })
        .arg(&case.op)
        .arg(&case.before.enabled)
        .arg(&case.before.disabled)
        .args(&case.args)
        .current_dir(&cwd)
        .env("LC_ALL", "C")
        .env_remove("_HOOKPIPE_EVENT_FD")
        .env_remove("LOGDIR")
        .env_remove("TARGET_ENABLE_OVN_AGENT")
        .output()
        .map_err(|err| format!("cannot run bash: {err}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = || {
        format!(
            "status {:?}\nstdout:\n{stdout}stderr:\n{stderr}",
            output.status.code()
        )
    };

    let mut warnings = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("[WARNING] ") else {
            continue;
        };
        // "<file>:<line> <message>"
        let (place, message) = rest
            .split_once(' ')
            .ok_or_else(|| format!("bad warning {line:?}"))?;
        let line_no = place.rsplit_once(':').map(|(_, n)| n).unwrap_or("");
        if line_no.is_empty() || !line_no.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("warning without <file>:<line>: {line:?}"));
        }
        let service = message
            .strip_prefix("Attempt to enable_service ")
            .and_then(|m| m.strip_suffix(" when it has been disabled"))
            .ok_or_else(|| format!("unexpected warning {line:?}"))?;
        warnings.push(service.to_owned());
    }

    if case.op == "verify" && output.status.code() == Some(1) && !result_file.exists() {
        let error = stderr
            .lines()
            .find_map(|line| line.strip_prefix("[ERROR] "))
            .ok_or_else(|| format!("died without [ERROR]\n{}", shown()))?;
        let (place, message) = error.split_once(' ').unwrap_or(("", error));
        if !place.contains(':') {
            return Err(format!("[ERROR] without <file>:<line>\n{}", shown()));
        }
        if !stdout.lines().any(|line| line == "[Call Trace]") {
            return Err(format!("died without [Call Trace]\n{}", shown()));
        }
        let service = message
            .strip_prefix("ENABLED_SERVICES directly modified to overcome 'disable_service ")
            .and_then(|m| m.strip_suffix('\''))
            .ok_or_else(|| format!("unexpected error {message:?}"))?;
        return Ok(Outcome {
            result: format!("die:{service}"),
            lists: None,
            warnings,
        });
    }
    if !output.status.success() {
        return Err(format!("bash failed\n{}", shown()));
    }
    let raw =
        std::fs::read(&result_file).map_err(|err| format!("no result ({err})\n{}", shown()))?;
    let text = String::from_utf8(raw).map_err(|_| "result is not UTF-8".to_owned())?;
    let parts: Vec<&str> = text.split('\0').collect();
    let [status, enabled, disabled, ""] = parts.as_slice() else {
        return Err(format!("malformed result {text:?}"));
    };
    let result = match (case.op.as_str(), *status) {
        ("is", "0") => "T",
        ("is", "1") => "F",
        (_, "0") => "ok",
        (_, other) => return Err(format!("status {other}\n{}", shown())),
    };
    Ok(Outcome {
        result: result.to_owned(),
        lists: Some(ServiceList::new(*enabled, *disabled)),
        warnings,
    })
}

#[test]
fn every_case_agrees_with_devstack_in_shell_and_in_rust() {
    let cases = cases();
    assert!(cases.len() >= 80, "the table should hold 80 cases or more");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut failures = Vec::new();
    for case in &cases {
        let here = format!("case {} (cases.tsv:{})", case.id, case.line);
        let (rust_expect, shell_expect) = match case.expect.split_once(':') {
            Some(("U", shell)) => ("U".to_owned(), shell.to_owned()),
            _ if case.expect == "U" => ("U".to_owned(), "ok".to_owned()),
            _ => (case.expect.clone(), case.expect.clone()),
        };
        let expected_lists = (!case.expect.starts_with("die:")).then(|| case.after.clone());

        match run_rust(case) {
            Err(err) => failures.push(format!("{here}, Rust: {err}")),
            Ok(rust) => {
                if rust.result != rust_expect {
                    failures.push(format!(
                        "{here}, Rust: answered {}, expected {rust_expect}",
                        rust.result
                    ));
                }
                if let (Some(got), Some(want)) = (&rust.lists, &expected_lists) {
                    if got != want {
                        failures.push(format!("{here}, Rust: lists {got:?}, expected {want:?}"));
                    }
                }
                if rust.warnings != case.warnings {
                    failures.push(format!(
                        "{here}, Rust: warned {:?}, expected {:?}",
                        rust.warnings, case.warnings
                    ));
                }
            }
        }

        match run_shell(case, dir.path()) {
            Err(err) => failures.push(format!("{here}, shell: {err}")),
            Ok(shell) => {
                if shell.result != shell_expect {
                    failures.push(format!(
                        "{here}, shell: answered {}, expected {shell_expect}",
                        shell.result
                    ));
                }
                if let (Some(got), Some(want)) = (&shell.lists, &expected_lists) {
                    if got != want {
                        failures.push(format!("{here}, shell: lists {got:?}, expected {want:?}"));
                    }
                }
                if shell.warnings != case.warnings {
                    failures.push(format!(
                        "{here}, shell: warned {:?}, expected {:?}",
                        shell.warnings, case.warnings
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Runs `[[ subject OP pattern ]]` for each (pattern, subject) pair in one bash, with
/// every value passed as an argument; returns bash's statuses.
fn bash_statuses(op: &str, pairs: &[(String, String)]) -> Vec<String> {
    let script = match op {
        "=~" => r#"while (($#)); do [[ $2 =~ $1 ]]; echo $?; shift 2; done"#,
        _ => r#"while (($#)); do [[ $2 == $1 ]]; echo $?; shift 2; done"#,
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("bash")
        .args(pairs.iter().flat_map(|(p, s)| [p, s]))
        .current_dir(dir.path())
        .env("LC_ALL", "C")
        .output()
        .expect("bash runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn pattern_rows(name: &str, header: &str) -> Vec<(usize, String, String, String)> {
    table(name, header)
        .into_iter()
        .map(|(line, f)| {
            let value =
                |field: &str| decode(field).unwrap_or_else(|err| panic!("{name}:{line}: {err}"));
            (line, value(&f[0]), value(&f[1]), f[2].clone())
        })
        .collect()
}

#[test]
fn the_regex_dialect_is_bashs() {
    let rows = pattern_rows("ere.tsv", "pattern\tsubject\tstatus");
    assert!(rows.len() >= 200);
    let pairs: Vec<(String, String)> = rows
        .iter()
        .map(|(_, p, s, _)| (p.clone(), s.clone()))
        .collect();
    let bash = bash_statuses("=~", &pairs);
    assert_eq!(bash.len(), rows.len(), "bash answered every row");
    let mut failures = Vec::new();
    for ((line, pattern, subject, expected), bash) in rows.iter().zip(&bash) {
        let rust = match Regex::new(pattern.as_bytes()) {
            Err(_) => "2",
            Ok(re) if re.is_match(subject.as_bytes()) => "0",
            Ok(_) => "1",
        };
        if rust != expected || bash != expected {
            failures.push(format!(
                "ere.tsv:{line}: [[ {subject:?} =~ {pattern:?} ]]: expected {expected}, bash {bash}, Rust {rust}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_glob_dialect_is_bashs() {
    let rows = pattern_rows("glob.tsv", "pattern\tsubject\tstatus");
    let pairs: Vec<(String, String)> = rows
        .iter()
        .map(|(_, p, s, _)| (p.clone(), s.clone()))
        .collect();
    let bash = bash_statuses("==", &pairs);
    assert_eq!(bash.len(), rows.len(), "bash answered every row");
    let mut failures = Vec::new();
    for ((line, pattern, subject, expected), bash) in rows.iter().zip(&bash) {
        // disable_negated_services's test, which is the only public way to reach the glob.
        let mut list = ServiceList::new(format!("{pattern},-{subject}"), "");
        let simple = !pattern.is_empty()
            && !subject.is_empty()
            && !pattern.starts_with('-')
            && !format!("{pattern}{subject}").contains([',', ' ', '\t', '\n']);
        if !simple {
            failures.push(format!(
                "glob.tsv:{line}: pattern and subject must be plain list items"
            ));
            continue;
        }
        services::disable_negated_services(&mut list);
        let rust = if list.enabled.is_empty() { "0" } else { "1" };
        if rust != expected || bash != expected {
            failures.push(format!(
                "glob.tsv:{line}: [[ {subject:?} == {pattern:?} ]]: expected {expected}, bash {bash}, Rust {rust}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `script` in a bash that has sourced lib/functions, from an empty directory.
fn bash_with_functions(script: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("a temporary directory");
    Command::new("bash")
        .arg("-c")
        .arg(format!("source \"$1\"\n{script}"))
        .arg("bash")
        .arg(repo().join("lib/functions"))
        .current_dir(dir.path())
        .env("LC_ALL", "C")
        .env_remove("ENABLED_SERVICES")
        .env_remove("DISABLED_SERVICES")
        .env_remove("_HOOKPIPE_EVENT_FD")
        .output()
        .expect("bash runs")
}

/// DevStack's helpers turn xtrace off inside and restore it after, so a traced stack.sh
/// shows the calls but not their insides.
#[test]
fn xtrace_is_kept_on_or_off_and_the_insides_stay_untraced() {
    let out = bash_with_functions(
        "ENABLED_SERVICES=key\nset -x\nis_service_enabled key\nenable_service a\n\
         disable_service a\ndisable_negated_services\n[[ $- == *x* ]] && echo still-on",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("still-on"), "xtrace was lost: {stderr}");
    assert!(
        stderr.contains("is_service_enabled key"),
        "the call is traced: {stderr}"
    );
    assert!(
        !stderr.contains("read -r"),
        "the insides are not traced: {stderr}"
    );

    let out = bash_with_functions("is_service_enabled key\n[[ $- == *x* ]] || echo still-off");
    assert!(String::from_utf8_lossy(&out.stdout).contains("still-off"));
}

/// Hooks run under `set -o errexit` and often `nounset`; a false answer or an unset list
/// must not end the shell.
#[test]
fn the_functions_survive_errexit_and_nounset_with_unset_lists() {
    let out = bash_with_functions(
        "set -o errexit -o nounset\n\
         if is_service_enabled key; then echo wrong; fi\n\
         enable_service a\ndisable_service b\ndisable_negated_services\nverify_disabled_services\n\
         echo \"E=$ENABLED_SERVICES D=$DISABLED_SERVICES\"",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "E=a D=b\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
}
