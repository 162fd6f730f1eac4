//! hyp-resolve through its binary: fixture plugins in `tests/fixtures/`, trees built in
//! temporary directories, the repository's own `lib/nova_plugins`, exit statuses, and
//! records checked against the contract types.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hookpipe::record::{Data, Hypervisor, Record, Skip, SkipReason};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hyp-resolve");

const FIVE: [&str; 5] = [
    "install_nova_hypervisor",
    "configure_nova_hypervisor",
    "start_nova_hypervisor",
    "stop_nova_hypervisor",
    "cleanup_nova_hypervisor",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn repo() -> PathBuf {
    fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
}

/// One run of the binary, with what a failing assertion should show.
struct Run {
    shown: String,
    status: i32,
    stderr: String,
    records: Vec<Record>,
}

impl Run {
    fn hypervisors(&self) -> Vec<&Hypervisor> {
        self.records
            .iter()
            .filter_map(|record| match record {
                Record::Hypervisor(hypervisor) => Some(hypervisor),
                _ => None,
            })
            .collect()
    }

    fn only_hypervisor(&self) -> &Hypervisor {
        let found = self.hypervisors();
        assert_eq!(found.len(), 1, "{}", self.shown);
        found[0]
    }

    fn skips(&self) -> Vec<&Skip> {
        self.records
            .iter()
            .filter_map(|record| match record {
                Record::Skip(skip) => Some(skip),
                _ => None,
            })
            .collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.records
            .iter()
            .filter_map(|record| match record {
                Record::Warning(line) => {
                    assert_eq!(line.id, None, "a tool's own warning has no id");
                    line.text
                        .as_ref()
                        .and_then(Data::as_text)
                        .map(str::to_owned)
                }
                _ => None,
            })
            .collect()
    }

    fn expect_status(&self, status: i32) -> &Self {
        assert_eq!(self.status, status, "{}", self.shown);
        self
    }

    /// Every run opens with `begin` and closes with a `done` carrying the exit status.
    fn framed(&self) {
        match (self.records.first(), self.records.last()) {
            (Some(Record::Begin(begin)), Some(Record::Done(done))) => {
                assert_eq!(begin.tool, "hyp-resolve");
                assert_eq!(begin.stage, "hypervisor");
                assert_eq!(done.status, self.status, "{}", self.shown);
            }
            _ => panic!("not framed by begin/done:\n{}", self.shown),
        }
    }
}

fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = std::process::Command::new(BIN);
    command.args(args).current_dir(cwd);
    // No VIRT_DRIVER, TOP_DIR, HOOKPIPE_LIB or other DevStack variable of the caller's shell.
    hookpipe_e2e::scrub_env(&mut command);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run hyp-resolve");
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8 JSON");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let shown = format!(
        "hyp-resolve {args:?} env {env:?} in {}\n--- status {:?}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        cwd.display(),
        output.status.code()
    );
    let records = stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("bad line {line:?}: {err}\n{shown}"));
            assert!(value["type"].is_string(), "{shown}");
            serde_json::from_value(value).unwrap_or_else(|err| panic!("{line}: {err}"))
        })
        .collect();
    let run = Run {
        status: output.status.code().expect("exited, not killed"),
        shown,
        stderr,
        records,
    };
    run.framed();
    run
}

fn run(args: &[&str]) -> Run {
    let cwd = tempfile::tempdir().unwrap();
    run_in(cwd.path(), args, &[])
}

fn fixture(case: &str) -> String {
    fixtures().join(case).to_str().unwrap().to_owned()
}

fn names(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// A temporary plugin directory holding `files`.
fn plugin_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(tmp.path().join(name), text).unwrap();
    }
    let dir = tmp.path().to_str().unwrap().to_owned();
    (tmp, dir)
}

fn complete_text() -> String {
    FIVE.iter()
        .map(|f| format!("function {f} {{\n    :\n}}\n"))
        .collect()
}

#[test]
fn a_complete_plugin() {
    let out = run(&["complete", "--dir", &fixture("complete")]);
    out.expect_status(0);
    let hyp = out.only_hypervisor();
    assert_eq!(hyp.driver, "complete");
    let expected = fs::canonicalize(fixtures().join("complete/hypervisor-complete")).unwrap();
    assert_eq!(
        hyp.path.as_ref().and_then(Data::as_text),
        expected.to_str(),
        "path is absolute"
    );
    assert!(hyp.missing.is_empty());
    assert_eq!(names(&hyp.functions), FIVE);
    assert!(hyp.sourced.is_empty());
    assert!(out.warnings().is_empty(), "{}", out.shown);
}

#[test]
fn a_plugin_lacking_two_functions_exits_1_unless_allowed() {
    let out = run(&["partial", "--dir", &fixture("partial")]);
    out.expect_status(1);
    let hyp = out.only_hypervisor();
    assert_eq!(
        names(&hyp.missing),
        ["stop_nova_hypervisor", "cleanup_nova_hypervisor"]
    );
    assert_eq!(names(&hyp.functions), FIVE[..3]);

    let allowed = run(&["partial", "--dir", &fixture("partial"), "--allow-missing"]);
    allowed.expect_status(0);
    assert_eq!(allowed.only_hypervisor().missing, hyp.missing);
}

#[test]
fn every_definition_form_is_recognised() {
    let out = run(&["forms", "--dir", &fixture("forms")]);
    out.expect_status(0);
    assert_eq!(
        names(&out.only_hypervisor().functions),
        [
            "install_nova_hypervisor",   // function name {
            "configure_nova_hypervisor", // function name() {
            "start_nova_hypervisor",     // function name () {
            "stop_nova_hypervisor",      // name() {
            "cleanup_nova_hypervisor",   // name () (
            "brace_on_next_line",
            "keyword_brace_on_next_line",
            "indented_in_if",
            "indented_in_else",
            "indented_in_case",
            "one_line",
        ]
    );
}

#[test]
fn check_agrees_with_the_forms_fixture_except_the_branch_not_taken() {
    // Sourcing proves the fixture is real bash; the one disagreement is a definition in
    // an `if` branch that does not run, which only --check can know.
    let out = run(&["forms", "--dir", &fixture("forms"), "--check"]);
    out.expect_status(0);
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{}", out.shown);
    assert!(
        warnings[0].contains("`indented_in_if`") && warnings[0].contains("does not define"),
        "{}",
        out.shown
    );
    assert!(
        out.stderr.contains("executing the top level"),
        "--check must say it ran the plugin:\n{}",
        out.shown
    );
}

#[test]
fn names_in_comments_strings_and_here_documents_are_not_definitions() {
    let out = run(&["hidden", "--dir", &fixture("hidden")]);
    out.expect_status(1);
    let hyp = out.only_hypervisor();
    assert_eq!(
        names(&hyp.missing),
        ["stop_nova_hypervisor", "cleanup_nova_hypervisor"]
    );
    assert_eq!(names(&hyp.functions), FIVE[..3]);

    // And bash agrees.
    let checked = run(&["hidden", "--dir", &fixture("hidden"), "--check"]);
    checked.expect_status(1);
    assert!(checked.warnings().is_empty(), "{}", checked.shown);
}

#[test]
fn functions_from_a_sourced_helper_are_listed_apart() {
    let out = run(&["sourced", "--dir", &fixture("sourced"), "--check"]);
    out.expect_status(0);
    let hyp = out.only_hypervisor();
    assert!(hyp.missing.is_empty(), "{}", out.shown);
    assert_eq!(
        names(&hyp.functions),
        ["install_nova_hypervisor", "configure_nova_hypervisor"]
    );
    assert_eq!(
        names(&hyp.sourced),
        [
            "sourced_helper",
            "start_nova_hypervisor",
            "stop_nova_hypervisor",
            "cleanup_nova_hypervisor"
        ]
    );
    assert!(out.warnings().is_empty(), "{}", out.shown);
}

#[test]
fn top_dir_locates_the_plugins_and_their_helpers() {
    // DevStack's own spelling: `source $TOP_DIR/lib/nova_plugins/functions-libvirt`.
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("lib/nova_plugins");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("hypervisor-virt"),
        "source $TOP_DIR/lib/nova_plugins/functions-virt\nfunction install_nova_hypervisor { :; }\n",
    )
    .unwrap();
    let helper: String = FIVE[1..]
        .iter()
        .map(|f| format!("function {f} {{ :; }}\n"))
        .collect();
    fs::write(dir.join("functions-virt"), helper).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let top_dir = top.path().to_str().unwrap();

    let out = run_in(
        elsewhere.path(),
        &["virt", "--check"],
        &[("TOP_DIR", top_dir)],
    );
    out.expect_status(0);
    let hyp = out.only_hypervisor();
    assert_eq!(names(&hyp.sourced), FIVE[1..]);
    assert!(out.warnings().is_empty(), "{}", out.shown);

    // Without TOP_DIR, the current directory is the top.
    let here = run_in(top.path(), &["virt"], &[]);
    here.expect_status(0);
    assert_eq!(names(&here.only_hypervisor().sourced), FIVE[1..]);
}

#[test]
fn an_unfollowed_source_line_is_a_warning() {
    let text = format!("source \"$(dirname \"$0\")/helper\"\n{}", complete_text());
    let (_tmp, dir) = plugin_dir(&[("hypervisor-x", &text), ("helper", "f() { :; }\n")]);
    let out = run(&["x", "--dir", &dir]);
    out.expect_status(0);
    assert!(out.only_hypervisor().sourced.is_empty());
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{}", out.shown);
    assert!(warnings[0].contains("line 1") && warnings[0].contains("not followed"));
}

#[test]
fn check_reports_a_syntax_error_with_bashs_message() {
    let text = format!(
        "{}function broken {{\n    if true; then\n}}\n",
        complete_text()
    );
    let (_tmp, dir) = plugin_dir(&[("hypervisor-broken", &text)]);

    // The static reading alone does not judge syntax.
    run(&["broken", "--dir", &dir]).expect_status(0);

    let out = run(&["broken", "--dir", &dir, "--check"]);
    out.expect_status(1);
    let warnings = out.warnings();
    assert!(!warnings.is_empty(), "{}", out.shown);
    assert!(
        warnings
            .iter()
            .all(|warning| warning.starts_with("--check: syntax error: ")),
        "{}",
        out.shown
    );
    assert!(
        warnings
            .iter()
            .any(|warning| warning.contains("syntax error near unexpected token")),
        "{}",
        out.shown
    );
    // A file bash refuses is never run.
    assert!(!out.stderr.contains("executing"), "{}", out.shown);
}

#[test]
fn check_reports_functions_only_bash_sees() {
    // `eval` defines a function no static reading can see.
    let text = format!("{}eval \"generated() {{ :; }}\"\n", complete_text());
    let (_tmp, dir) = plugin_dir(&[("hypervisor-gen", &text)]);
    let out = run(&["gen", "--dir", &dir, "--check"]);
    out.expect_status(0);
    let warnings = out.warnings();
    assert_eq!(warnings.len(), 1, "{}", out.shown);
    assert!(warnings[0].contains("defines `generated`"), "{}", out.shown);
}

#[test]
fn check_passes_file_names_as_data() {
    // A directory name that would break out of any script it was pasted into.
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("a'b\"$(touch pwned)`x`");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("hypervisor-x"), complete_text()).unwrap();
    let out = run(&["x", "--dir", dir.to_str().unwrap(), "--check"]);
    out.expect_status(0);
    assert!(out.warnings().is_empty(), "{}", out.shown);
    assert!(!base.path().join("pwned").exists());
}

#[test]
fn an_unreadable_plugin_exits_2_naming_it() {
    let (tmp, dir) = plugin_dir(&[("hypervisor-locked", &complete_text())]);
    let path = tmp.path().join("hypervisor-locked");
    // Mode 000 is unreadable even for root, by the documented rule.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    let out = run(&["locked", "--dir", &dir]);
    out.expect_status(2);
    assert!(out.hypervisors().is_empty());
    assert!(out.stderr.contains("hypervisor-locked"), "{}", out.shown);
    assert!(out.stderr.contains("not readable"), "{}", out.shown);
}

#[test]
fn an_unknown_driver_is_a_skip_naming_the_available_ones() {
    let (_tmp, dir) = plugin_dir(&[
        ("hypervisor-toy", &complete_text()),
        ("hypervisor-fake", &complete_text()),
        ("functions-libvirt", ""),
    ]);
    let out = run(&["xen", "--dir", &dir]);
    out.expect_status(0);
    assert!(out.hypervisors().is_empty());
    let skips = out.skips();
    assert_eq!(skips.len(), 1, "{}", out.shown);
    assert_eq!(skips[0].reason, SkipReason::NoDriver);
    assert!(
        skips[0].message.contains("`xen`") && skips[0].message.contains("fake, toy"),
        "{}",
        out.shown
    );
    assert_eq!(skips[0].name, Some(Data::from("hypervisor-xen")));

    let required = run(&["xen", "--dir", &dir, "--require"]);
    required.expect_status(2);
    assert_eq!(required.skips().len(), 1, "the skip is still written");
    assert!(required.stderr.contains("fake, toy"), "{}", required.shown);
}

#[test]
fn path_like_drivers_are_refused() {
    let (_tmp, dir) = plugin_dir(&[("hypervisor-x", &complete_text())]);
    for driver in ["../x", "a/b", ".hidden", "-x", "a b", "x*", ""] {
        let out = run(&["--dir", &dir, "--", driver]);
        if driver.is_empty() {
            // An empty driver means the default, as `${VIRT_DRIVER:-libvirt}` does.
            out.expect_status(0);
            continue;
        }
        out.expect_status(2);
        assert!(out.hypervisors().is_empty() && out.skips().is_empty());
        assert!(
            out.stderr.contains("refused") && out.stderr.contains("not a path"),
            "{}",
            out.shown
        );
    }
    // The environment is refused the same way.
    let cwd = tempfile::tempdir().unwrap();
    let out = run_in(cwd.path(), &["--dir", &dir], &[("VIRT_DRIVER", "../x")]);
    out.expect_status(2);
    assert!(out.stderr.contains("`../x` refused"), "{}", out.shown);
}

#[test]
fn virt_driver_is_the_default_then_libvirt() {
    let (_tmp, dir) = plugin_dir(&[("hypervisor-toy", &complete_text())]);
    let cwd = tempfile::tempdir().unwrap();
    let from_env = run_in(cwd.path(), &["--dir", &dir], &[("VIRT_DRIVER", "toy")]);
    from_env.expect_status(0);
    assert_eq!(from_env.only_hypervisor().driver, "toy");

    // The argument wins over the environment.
    let argument = run_in(
        cwd.path(),
        &["toy", "--dir", &dir],
        &[("VIRT_DRIVER", "nope")],
    );
    assert_eq!(argument.only_hypervisor().driver, "toy");

    for env in [&[][..], &[("VIRT_DRIVER", "")][..]] {
        let default = run_in(cwd.path(), &["--dir", &dir], env);
        default.expect_status(0);
        let skips = default.skips();
        assert_eq!(skips.len(), 1, "{}", default.shown);
        assert!(skips[0].message.contains("`libvirt`"), "{}", default.shown);
    }
}

#[test]
fn list_reports_every_plugin_in_byte_order() {
    let partial = "function install_nova_hypervisor { :; }\n";
    let (tmp, dir) = plugin_dir(&[
        ("hypervisor-b", &complete_text()),
        ("hypervisor-B", &complete_text()),
        ("hypervisor-a", partial),
        ("hypervisor-c~", &complete_text()),
        ("functions-a", "function cleanup_nova_hypervisor { :; }\n"),
        ("README", "not a plugin\n"),
    ]);
    fs::create_dir(tmp.path().join("hypervisor-d")).unwrap();

    let out = run(&["--list", "--dir", &dir]);
    out.expect_status(1);
    let drivers: Vec<&str> = out
        .hypervisors()
        .iter()
        .map(|h| h.driver.as_str())
        .collect();
    assert_eq!(drivers, ["B", "a", "b"], "byte order, capitals first");
    assert_eq!(names(&out.hypervisors()[1].missing), FIVE[1..]);
    let skips: Vec<(&str, Option<&str>)> = out
        .skips()
        .iter()
        .map(|s| (s.reason.as_str(), s.name.as_ref().and_then(Data::as_text)))
        .collect();
    assert_eq!(
        skips,
        [
            ("not-a-hook", Some("hypervisor-c~")),
            ("directory", Some("hypervisor-d"))
        ]
    );
    // Records come in name order, skips among them.
    let order: Vec<&str> = out
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Hypervisor(h) => {
                Some(h.path.as_ref().and_then(Data::as_text).unwrap_or_default())
            }
            Record::Skip(s) => s.path.as_ref().and_then(Data::as_text),
            _ => None,
        })
        .map(|p| p.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        order,
        [
            "hypervisor-B",
            "hypervisor-a",
            "hypervisor-b",
            "hypervisor-c~",
            "hypervisor-d"
        ]
    );

    run(&["--list", "--dir", &dir, "--allow-missing"]).expect_status(0);

    // VIRT_DRIVER in the environment does not get in the way of --list; a DRIVER does.
    let cwd = tempfile::tempdir().unwrap();
    let with_env = run_in(
        cwd.path(),
        &["--list", "--dir", &dir],
        &[("VIRT_DRIVER", "b")],
    );
    assert_eq!(with_env.hypervisors().len(), 3, "{}", with_env.shown);
    let output = assert_cmd::Command::new(BIN)
        .args(["--list", "b", "--dir", &dir])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn list_with_an_unreadable_plugin_exits_2_after_listing_the_rest() {
    let (tmp, dir) = plugin_dir(&[
        ("hypervisor-a", &complete_text()),
        ("hypervisor-z", &complete_text()),
    ]);
    fs::set_permissions(
        tmp.path().join("hypervisor-a"),
        fs::Permissions::from_mode(0o200),
    )
    .unwrap();
    let out = run(&["--list", "--dir", &dir]);
    out.expect_status(2);
    assert_eq!(out.hypervisors().len(), 1);
    assert_eq!(out.skips()[0].reason, SkipReason::Unreadable);
    assert!(out.stderr.contains("hypervisor-a"), "{}", out.shown);
}

#[test]
fn the_repositorys_own_plugins_are_complete() {
    let dir = repo().join("lib/nova_plugins");
    let out = run(&["--list", "--check", "--dir", dir.to_str().unwrap()]);
    out.expect_status(0);
    let found: Vec<(&str, bool)> = out
        .hypervisors()
        .iter()
        .map(|h| (h.driver.as_str(), h.missing.is_empty()))
        .collect();
    assert!(found.contains(&("fake", true)), "{}", out.shown);
    assert!(found.contains(&("toy", true)), "{}", out.shown);
    assert!(out.warnings().is_empty(), "{}", out.shown);

    // And found from the repository's top directory by default.
    let top = run_in(&repo(), &["fake"], &[]);
    top.expect_status(0);
    assert_eq!(names(&top.only_hypervisor().functions), FIVE);
}

#[test]
fn a_missing_directory_exits_2() {
    let out = run(&["--dir", "/nonexistent/nova_plugins", "fake"]);
    out.expect_status(2);
    assert!(
        out.stderr.contains("/nonexistent/nova_plugins"),
        "{}",
        out.shown
    );
}

#[test]
fn invalid_utf8_paths_travel_as_base64() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join(std::ffi::OsStr::from_bytes(b"d\xff"));
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("hypervisor-x"), complete_text()).unwrap();
    let mut command = assert_cmd::Command::new(BIN);
    let output = command
        .arg("x")
        .arg("--dir")
        .arg(&dir)
        .output()
        .expect("run hyp-resolve");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let hyp: Hypervisor = stdout
        .lines()
        .find_map(|line| match serde_json::from_str(line) {
            Ok(Record::Hypervisor(h)) => Some(h),
            _ => None,
        })
        .expect("a hypervisor record");
    // Read back from `path_base64`: the bytes, not text.
    let Some(Data::Bytes(bytes)) = hyp.path else {
        panic!("the path is not bytes: {:?}", hyp.path);
    };
    let expected = fs::canonicalize(&dir).unwrap().join("hypervisor-x");
    assert_eq!(bytes, expected.as_os_str().as_bytes());
}

#[test]
fn a_closed_stdout_ends_quietly_with_0() {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let output = std::process::Command::new(BIN)
        .args(["--list", "--dir"])
        .arg(repo().join("lib/nova_plugins"))
        .stdout(std::process::Stdio::from(write))
        .output()
        .expect("run hyp-resolve");
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn help_names_records_and_exit_statuses() {
    let output = assert_cmd::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "hypervisor",
        "skip",
        "warning",
        "begin",
        "done",
        "no-driver",
        "Exit status",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    for status in ["\n  0 ", "\n  1 ", "\n  2 "] {
        assert!(
            help.contains(status),
            "--help lacks status {status:?}:\n{help}"
        );
    }
}
