//! The toy hypervisor's life cycle, for real: bash sources `lib/functions` and
//! `lib/nova_plugins/hypervisor-toy` with `DEST` in a temporary directory and calls the
//! five functions in DevStack's order, and the test looks at the daemon and the files
//! between the steps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// process_alive: alive and not a zombie waiting for a parent that does not reap;
// wait_until: polls, giving up after a while so a broken daemon cannot hang the suite.
use hookpipe_e2e::{process_alive, wait_until};

fn repo() -> PathBuf {
    std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
}

/// Runs one plugin function in a fresh bash, as hyp-call's worker would: prelude, plugin,
/// then the call. Paths are arguments, never code.
fn call(dest: Option<&Path>, function: &str) -> Output {
    let repo = repo();
    let mut command = Command::new("bash");
    command
        .args([
            "--noprofile",
            "--norc",
            "-c",
            r#"set -o errexit; source "$1"; source "$2"; "$3""#,
            "toy-test",
        ])
        .arg(repo.join("lib/functions"))
        .arg(repo.join("lib/nova_plugins/hypervisor-toy"))
        .arg(function)
        .env_remove("BASH_ENV")
        .env_remove("DEST");
    if let Some(dest) = dest {
        command.env("DEST", dest);
    }
    command.output().expect("run bash")
}

fn expect_ok(output: &Output, function: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{function} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Kills the daemon if the test fails half-way, so it never outlives the test.
struct Reaper(Option<i32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            if process_alive(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(-pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

#[test]
fn the_toy_hypervisor_lives_and_dies() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path();
    let toy = dest.join("toyvisor");
    let pidfile = toy.join("toyvisor.pid");
    let mut reaper = Reaper(None);

    let out = expect_ok(&call(Some(dest), "install_nova_hypervisor"), "install");
    assert!(out.contains("Installing the toy hypervisor"), "{out}");
    assert!(toy.is_dir());

    let out = expect_ok(&call(Some(dest), "configure_nova_hypervisor"), "configure");
    assert!(out.contains("Configuring the toy hypervisor"), "{out}");
    let conf = std::fs::read_to_string(toy.join("toyvisor.conf")).unwrap();
    assert!(conf.contains("heartbeat="), "{conf}");

    let out = expect_ok(&call(Some(dest), "start_nova_hypervisor"), "start");
    assert!(out.contains("Starting the toy hypervisor"), "{out}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    reaper.0 = Some(pid);
    // The bash that started it has exited: the daemon is detached and really working.
    assert!(
        process_alive(pid),
        "daemon {pid} is not running after start"
    );
    let heartbeat = toy.join("heartbeat");
    wait_until("a heartbeat line", || {
        std::fs::read_to_string(&heartbeat).is_ok_and(|text| text.starts_with("beat 1 "))
    });
    assert!(process_alive(pid));

    let out = expect_ok(&call(Some(dest), "stop_nova_hypervisor"), "stop");
    assert!(out.contains("Stopping the toy hypervisor"), "{out}");
    wait_until("the daemon to go", || !process_alive(pid));
    assert!(!pidfile.exists());
    assert!(toy.is_dir(), "stop leaves the installation");

    let out = expect_ok(&call(Some(dest), "cleanup_nova_hypervisor"), "cleanup");
    assert!(out.contains("Cleaning up the toy hypervisor"), "{out}");
    assert!(!toy.exists());
    assert!(dest.exists(), "cleanup removes only its own directory");
}

#[test]
fn the_toy_hypervisor_dies_without_dest() {
    let output = call(None, "install_nova_hypervisor");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DEST must be set"), "{stderr}");
}

#[test]
fn cleanup_stops_a_running_toy_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path();
    for function in [
        "install_nova_hypervisor",
        "configure_nova_hypervisor",
        "start_nova_hypervisor",
    ] {
        expect_ok(&call(Some(dest), function), function);
    }
    let pidfile = dest.join("toyvisor/toyvisor.pid");
    let pid: i32 = std::fs::read_to_string(pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _reaper = Reaper(Some(pid));
    expect_ok(&call(Some(dest), "cleanup_nova_hypervisor"), "cleanup");
    wait_until("the daemon to go", || !process_alive(pid));
    assert!(!dest.join("toyvisor").exists());
}
