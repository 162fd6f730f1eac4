//! Adoption inside an existing DevStack tree. `tests/fixtures/legacy` is a DevStack-shaped
//! tree with its own `functions` (DevStack's in-shell run_phase), `stackrc`, `stack.sh`,
//! `unstack.sh` and `clean.sh`, extras.d hooks, a plugin and a hypervisor plugin. Each case
//! runs a script twice: as it is, and with `HOOKPIPE_ADOPT=1`, which adds the one line that
//! sources lib/hookpipe. The hook calls with their arguments, the final globals, the summary
//! lines (fd 6) and the exit status must be the same; the hookpipe run also leaves records
//! and a log. Last, scripts/install.sh into a temporary prefix, adopted from there.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hookpipe_e2e::{bin_dir, repo_root, run, scrub_env, tagged_processes, Run, SCRIPT_TIMEOUT};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How the fixture finds run_phase.
#[derive(Debug, Clone)]
enum Adopt {
    /// DevStack's own, in the fixture's `functions`.
    No,
    /// lib/hookpipe from this repository, tools from the workspace build.
    Repo,
    /// lib/hookpipe from an installed prefix, tools found beside it (no HOOKPIPE_BIN).
    Installed(PathBuf),
}

/// What one run of a fixture script left.
struct Outcome {
    run: Run,
    out: tempfile::TempDir,
    /// Every file the fixture writes into FIXTURE_OUT: calls, summary, globals.SCRIPT,
    /// status.SCRIPT (bytes: summaries need not be UTF-8).
    files: BTreeMap<String, Vec<u8>>,
}

impl Outcome {
    fn text(&self, name: &str) -> String {
        String::from_utf8_lossy(self.files.get(name).map_or(&[][..], Vec::as_slice)).into_owned()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.out.path().join(name)
    }
}

fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/legacy")
}

/// The command for `SCRIPT` of the fixture, writing into `out`.
fn command(script: &str, adopt: &Adopt, out: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(fixture().join(script));
    scrub_env(&mut cmd);
    cmd.current_dir(out)
        .env("FIXTURE_OUT", out)
        .env("TMPDIR", out.join("tmp"))
        .env_remove("HOOKPIPE_ADOPT")
        .env_remove("HOOKPIPE_SOURCE")
        .env_remove("HOOKPIPE_RECORDS")
        .env_remove("FIXTURE_FAIL")
        .env_remove("FIXTURE_SLEEP")
        .env_remove("FIXTURE_PLUGIN_CLEAN_STATUS");
    match adopt {
        Adopt::No => {}
        Adopt::Repo => {
            cmd.env("HOOKPIPE_ADOPT", "1")
                .env("HOOKPIPE_BIN", bin_dir())
                .env("HOOKPIPE_RECORDS", out.join("records"))
                .env("LOGFILE", out.join("stack.log"));
        }
        Adopt::Installed(prefix) => {
            cmd.env("HOOKPIPE_ADOPT", "1")
                .env("HOOKPIPE_SOURCE", prefix.join("lib/hookpipe/hookpipe"))
                .env("HOOKPIPE_RECORDS", out.join("records"))
                // Nothing but the prefix can provide the tools.
                .env("PATH", "/usr/local/bin:/usr/bin:/bin");
        }
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd
}

fn collect(run: Run, out: tempfile::TempDir) -> Outcome {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(out.path())
        .expect("read FIXTURE_OUT")
        .flatten()
    {
        if entry.file_type().is_ok_and(|kind| kind.is_file()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            files.insert(name, fs::read(entry.path()).expect("read a result file"));
        }
    }
    Outcome { run, out, files }
}

/// Runs `SCRIPT` of the fixture to its end.
fn legacy(script: &str, adopt: Adopt, env: &[(&str, &str)]) -> Outcome {
    let out = tempfile::Builder::new()
        .prefix("hookpipe-legacy-")
        .tempdir()
        .expect("a temporary directory");
    fs::create_dir(out.path().join("tmp")).expect("create tmp/");
    let run = run(command(script, &adopt, out.path(), env), SCRIPT_TIMEOUT);
    collect(run, out)
}

/// The files both runs must have written identically.
const COMPARED: &[&str] = &["calls", "summary", "globals.", "status."];

/// Runs `SCRIPT` plain and adopted; panics on any difference in the compared files or the
/// exit status; returns both.
#[track_caller]
fn same_both_ways(script: &str, env: &[(&str, &str)]) -> (Outcome, Outcome) {
    let plain = legacy(script, Adopt::No, env);
    let adopted = legacy(script, Adopt::Repo, env);
    assert_same(&plain, &adopted);
    (plain, adopted)
}

#[track_caller]
fn assert_same(plain: &Outcome, adopted: &Outcome) {
    let compared = |outcome: &Outcome| -> BTreeMap<String, Vec<u8>> {
        outcome
            .files
            .iter()
            .filter(|(name, _)| COMPARED.iter().any(|prefix| name.starts_with(prefix)))
            .map(|(name, bytes)| (name.clone(), bytes.clone()))
            .collect()
    };
    let (a, b) = (compared(plain), compared(adopted));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "different result files\n--- plain ---\n{}\n--- adopted ---\n{}",
        plain.run,
        adopted.run
    );
    for (name, bytes) in &a {
        assert!(
            Some(bytes) == b.get(name),
            "{name} differs\n--- plain ---\n{}\n--- adopted ---\n{}\n--- adopted run ---\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[name]),
            adopted.run
        );
    }
    assert_eq!(
        plain.run.code(),
        adopted.run.code(),
        "exit status\n--- plain ---\n{}\n--- adopted ---\n{}",
        plain.run,
        adopted.run
    );
}

/// The calls of one run_phase as the hooks record them: each extras.d file in byte order
/// with MODE [PHASE], then the plugin's FILE (`plugin.sh` with the same arguments;
/// `settings` and `override-defaults` with none).
fn phase_calls(mode: &str, phase: &str, plugin_file: &str) -> Vec<String> {
    let count = if phase.is_empty() { 1 } else { 2 };
    let mut calls: Vec<String> = ["10-base.sh", "20-db.sh", "30-app.sh", "60-fail.sh"]
        .iter()
        .map(|hook| format!("extras.d/{hook} {mode} {phase} {count}"))
        .collect();
    calls.push(if plugin_file == "plugin.sh" {
        format!("dest/fixplug/devstack/plugin.sh {mode} {phase} {count}")
    } else {
        format!("dest/fixplug/devstack/{plugin_file}   0")
    });
    calls
}

/// The calls DevStack makes in stack.sh, in its order: the seven phases, the hypervisor's
/// install and configure between pre-install and install, its start between post-config
/// and extra.
fn expected_stack_calls() -> Vec<String> {
    let hypervisor = |function: &str| vec![format!("hypervisor {function}_nova_hypervisor 0")];
    [
        phase_calls("override_defaults", "", "override-defaults"),
        phase_calls("source", "", "settings"),
        phase_calls("stack", "pre-install", "plugin.sh"),
        hypervisor("install"),
        hypervisor("configure"),
        phase_calls("stack", "install", "plugin.sh"),
        phase_calls("stack", "post-config", "plugin.sh"),
        hypervisor("start"),
        phase_calls("stack", "extra", "plugin.sh"),
        phase_calls("stack", "test-config", "plugin.sh"),
    ]
    .concat()
}

#[test]
fn stack_sh_runs_the_same_with_hookpipe_adopted() {
    let (plain, adopted) = same_both_ways("stack.sh", &[]);
    plain.run.assert_ok();

    // The comparison means something only if the plain run is DevStack's.
    let calls: Vec<String> = plain.text("calls").lines().map(str::to_owned).collect();
    assert_eq!(calls, expected_stack_calls());
    let globals = plain.text("globals.stack");
    for line in [
        // a read-only caller variable, read by a hook
        "declare -- FIX_APP_SEEN_RELEASE=\"2026.2\"",
        "declare -r FIX_RELEASE=\"2026.2\"",
        // a caller variable read by a hook, before and after the caller changed it
        "declare -- FIX_APP_NOTE_AT_INSTALL=\"set by stack.sh\"",
        "declare -- FIX_APP_NOTE_AT_POST_CONFIG=\"changed by stack.sh after install\"",
        // functions and settings from one hook used by another, in a later phase
        "declare -- FIX_APP_DB=\"mysql://root@localhost/fixapp\"",
        "declare -- FIX_APP_GREETING=\"hello from fixplug to fixapp\"",
        "declare -- FIX_APP_TESTED_WITH=\"yes\"",
        // override-defaults runs after the extras.d hooks
        "declare -- FIX_BASE_PORT=\"9000\"",
        "declare -i FIX_CALLS=\"6\"",
        "declare -x FIX_EXPORTED=\"exported by 10-base.sh\"",
        "declare -r FIX_APP_NAME=\"fixapp\"",
        "declare -- FIX_HYP_CONF=\"port 9000\"",
        "function fix_plugin_hello",
    ] {
        assert!(globals.contains(line), "no `{line}` in\n{globals}");
    }
    // A hook's top-level declare is local to run_phase; a hook unset a caller variable.
    assert!(!globals.contains("FIX_LOCAL_ONLY") && !globals.contains("FIX_DOOMED="));
    assert!(plain
        .text("summary")
        .contains("Installing fixapp at http://localhost:9000/app"));

    // The hookpipe run has its records and its log; the records (every variable of the run)
    // are their owner's only (issue 20, item 4).
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(adopted.path("records")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "HOOKPIPE_RECORDS has mode {mode:o}");
    let records = adopted.text("records");
    let starts = records
        .lines()
        .filter(|line| line.starts_with("{\"type\":\"start\""))
        .count();
    // Every hook and hypervisor call, plus the verify_disabled_services check of `source`.
    assert_eq!(starts, calls.len() + 1, "{records}");
    let log = adopted.text("stack.log");
    assert!(
        log.contains("| stack/install/30-app.sh [summary] Installing fixapp at"),
        "{log}"
    );
    assert!(log.contains("| hypervisor/start/fixture [ok]"), "{log}");
    // No temporary files left behind.
    let tmp: Vec<_> = fs::read_dir(adopted.path("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "left in TMPDIR: {tmp:?}");
}

/// Under stack.sh's errexit a failing hook stops the script with the hook's own status,
/// and the state of that moment is what the exit trap sees.
#[test]
fn a_failing_hook_stops_stack_sh_with_its_own_status() {
    let (plain, adopted) = same_both_ways("stack.sh", &[("FIXTURE_FAIL", "stack install")]);
    assert_eq!(plain.run.code(), 7, "{}", plain.run);
    let calls = plain.text("calls");
    assert!(
        calls.ends_with("extras.d/60-fail.sh stack install 2\n"),
        "{calls}"
    );
    let globals = adopted.text("globals.stack");
    assert!(globals.contains("FIX_FAIL_REACHED=\"yes\"") && !globals.contains("FIX_FAIL_WENT_ON"));
    assert!(adopted.text("summary").ends_with("60-fail.sh fails now\n"));
    let records = adopted.text("records");
    assert!(
        records.lines().any(|line| line.starts_with(
            "{\"type\":\"end\",\"id\":\"stack/install/60-fail.sh\",\"stage\":\"stack/install\",\"status\":\"failed\",\"exit_code\":7"
        )),
        "{records}"
    );
}

/// unstack.sh has no errexit: a failing hook does not stop it, and run_phase returns what
/// the last plugin returned (0 here).
#[test]
fn unstack_sh_goes_on_after_a_failing_hook() {
    let (plain, _) = same_both_ways("unstack.sh", &[("FIXTURE_FAIL", "unstack")]);
    plain.run.assert_ok();
    let globals = plain.text("globals.unstack");
    assert!(globals.contains("FIX_FAIL_WENT_ON=\"yes\""), "{globals}");
    assert!(
        globals.contains("FIX_UNSTACK_PHASE_STATUS=\"0\""),
        "{globals}"
    );
    assert!(globals.contains("FIX_HYP_STOPPED=\"yes\""), "{globals}");
    assert!(plain
        .text("calls")
        .contains("dest/fixplug/devstack/plugin.sh unstack  1"));
}

/// clean.sh: unstack.sh as a child, hand loops around run_phase clean, whose status is the
/// plugin's own (5).
#[test]
fn clean_sh_runs_the_same_and_run_phase_returns_the_plugins_status() {
    let (plain, _) = same_both_ways(
        "clean.sh",
        &[
            ("FIXTURE_FAIL", "clean"),
            ("FIXTURE_PLUGIN_CLEAN_STATUS", "5"),
        ],
    );
    plain.run.assert_ok();
    let globals = plain.text("globals.clean");
    assert!(
        globals.contains("FIX_CLEAN_PHASE_STATUS=\"5\""),
        "{globals}"
    );
    assert!(plain.files.contains_key("globals.unstack"));
    assert!(plain
        .text("calls")
        .ends_with("hypervisor cleanup_nova_hypervisor 0\n"));
}

/// Ctrl-C in the middle of a phase stops the calling script by SIGINT, as it stops
/// DevStack's, with the state of the hooks that ran (what its exit trap sees).
#[test]
fn ctrl_c_stops_the_caller_too() {
    let run_interrupted = |adopt: Adopt| -> Outcome {
        let out = tempfile::Builder::new()
            .prefix("hookpipe-legacy-")
            .tempdir()
            .expect("a temporary directory");
        fs::create_dir(out.path().join("tmp")).expect("create tmp/");
        let mut cmd = command(
            "stack.sh",
            &adopt,
            out.path(),
            &[("FIXTURE_SLEEP", "stack extra")],
        );
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().expect("start stack.sh");
        let group = Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
        let marker = out.path().join("sleeping");
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        // The hook touches the marker, then starts `sleep 60`. A SIGINT that lands while
        // `touch` still runs is taken by bash as handled by that child (it exited 0), and
        // the script goes on: a terminal user's Ctrl-C in that instant does the same. So the
        // interrupt waits until the sleep itself is running, as a person's would.
        let sleeping = || {
            tagged_processes("FIXTURE_OUT", out.path().as_os_str())
                .iter()
                .any(|(_, cmdline)| cmdline.starts_with("sleep 60"))
        };
        while !marker.exists() || !sleeping() {
            assert!(Instant::now() < deadline, "the sleeping hook never started");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("stack.sh ended before the sleeping hook: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // As a terminal does: the whole foreground process group.
        killpg(group, Signal::SIGINT).expect("send SIGINT");
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = killpg(group, Signal::SIGKILL);
                panic!("stack.sh did not stop after SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.signal(), Some(2), "{adopt:?}: {status}");
        let run = Run {
            what: format!("{cmd:?}"),
            status,
            stdout: String::new(),
            stderr: String::new(),
        };
        collect(run, out)
    };
    let plain = run_interrupted(Adopt::No);
    let adopted = run_interrupted(Adopt::Repo);
    assert_same(&plain, &adopted);
    assert!(!plain.text("calls").contains("test-config"));
    assert!(plain
        .text("globals.stack")
        .contains("FIX_APP_GREETING=\"hello from fixplug to fixapp\""));
    let tmp: Vec<_> = fs::read_dir(adopted.path("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "left in TMPDIR: {tmp:?}");
}

/// scripts/install.sh into a temporary prefix (with the workspace's binaries, so no cargo
/// runs inside the test), then the fixture adopted from there: lib/hookpipe finds the
/// tools beside itself, hook-run its prelude in PREFIX/lib/hookpipe.
#[test]
fn install_sh_installs_a_prefix_the_fixture_adopts() {
    let bins = bin_dir();
    assert!(
        bins.join("hookpipe-gen").is_file(),
        "hookpipe-gen is not built in {}: run `cargo test --workspace`",
        bins.display()
    );
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().join("prefix");
    let mut cmd = Command::new(repo_root().join("scripts/install.sh"));
    scrub_env(&mut cmd);
    cmd.arg("--bin-dir").arg(&bins).arg(&prefix);
    run(cmd, SCRIPT_TIMEOUT).assert_ok();

    for tool in hookpipe_e2e::TOOLS {
        assert!(prefix.join("bin").join(tool).is_file(), "bin/{tool}");
        let man = fs::read_to_string(prefix.join(format!("share/man/man1/{tool}.1"))).unwrap();
        assert!(man.contains(".TH"), "{tool}.1");
        assert!(prefix
            .join(format!("share/bash-completion/completions/{tool}"))
            .is_file());
    }
    assert!(!prefix.join("bin/hookpipe-gen").exists());
    for file in [
        "functions",
        "services",
        "hookpipe",
        "nova_plugins/hypervisor-fake",
    ] {
        assert!(
            prefix.join("lib/hookpipe").join(file).is_file(),
            "lib/{file}"
        );
    }

    // hook-run finds its default prelude at <exe>/../lib/hookpipe/functions.
    let mut hook_run = Command::new(prefix.join("bin/hook-run"));
    scrub_env(&mut hook_run);
    hook_run.args(["stack", "install"]);
    run(hook_run, SCRIPT_TIMEOUT).assert_ok();

    let plain = legacy("stack.sh", Adopt::No, &[]);
    let installed = legacy("stack.sh", Adopt::Installed(prefix), &[]);
    assert_same(&plain, &installed);
    installed.run.assert_ok();
    assert!(installed.text("records").contains("\"type\":\"start\""));
}

/// `hookpipe_hypervisor` where lib/nova calls the five functions: the `--when-enabled`
/// guard, and the function's own status, returned without errexit and ending the caller
/// under it.
#[test]
fn hookpipe_hypervisor_calls_the_plugin_functions_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("nova_plugins");
    fs::create_dir(&plugins).unwrap();
    fs::write(
        plugins.join("hypervisor-broken"),
        "function install_nova_hypervisor { echo installed >>\"$OUT\"; return 3; }\n\
         function configure_nova_hypervisor { :; }\n\
         function start_nova_hypervisor { :; }\n\
         function stop_nova_hypervisor { echo stopped >>\"$OUT\"; }\n\
         function cleanup_nova_hypervisor { :; }\n",
    )
    .unwrap();
    let script = r#"
        source "$FIXTURE/functions"
        source "$REPO/lib/hookpipe"
        TOP_DIR=$FIXTURE
        NOVA_PLUGINS=$PLUGINS
        VIRT_DRIVER=broken
        ENABLED_SERVICES=key,nova
        hookpipe_hypervisor --when-enabled n-cpu stop >/dev/null
        echo "guarded $?"
        ENABLED_SERVICES=key,nova,n-cpu
        hookpipe_hypervisor --when-enabled n-cpu stop >/dev/null
        echo "stop $?"
        hookpipe_hypervisor install >/dev/null
        echo "install $?"
        set -o errexit
        hookpipe_hypervisor install >/dev/null
        echo "not reached"
    "#;
    let out_file = dir.path().join("calls");
    let mut cmd = Command::new("bash");
    scrub_env(&mut cmd);
    cmd.arg("-c")
        .arg(script)
        .env("FIXTURE", fixture())
        .env("REPO", repo_root())
        .env("PLUGINS", &plugins)
        .env("OUT", &out_file)
        .env("HOOKPIPE_BIN", bin_dir())
        .env("TMPDIR", dir.path());
    let result = run(cmd, SCRIPT_TIMEOUT);
    assert_eq!(result.code(), 3, "{result}");
    // Then the run's full report, once, as the script exits.
    let (lines, report) = result
        .stdout
        .split_once("\n\n")
        .unwrap_or((&result.stdout, ""));
    assert_eq!(lines, "guarded 0\nstop 0\ninstall 3", "{result}");
    assert_eq!(report.matches("=== Hook calls ===").count(), 1, "{result}");
    assert_eq!(
        fs::read_to_string(&out_file).unwrap(),
        "stopped\ninstalled\ninstalled\n"
    );
}
