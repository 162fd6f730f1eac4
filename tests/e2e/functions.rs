//! lib/functions through bash: the DevStack helpers a hook calls, checked by their exit
//! statuses and the exact shapes of their messages (docs/devstack.md §7 and §8), and the
//! helpers the demo adds: install_package, the daemon helpers, enable_plugin and the
//! local.conf section readers.

use std::fs;
use std::time::Duration;

use hookpipe_e2e::{process_alive, read_pid, wait_gone, Bash};

// ---- die, err, warn ----

#[test]
fn die_keeps_the_failing_status_and_prints_trace_then_error() {
    let bash = Bash::new();
    let out = bash.run("function f { (exit 3) || die $LINENO \"boom\" \"twice\"; }\nf\n");
    assert_eq!(out.code(), 3, "{out}");
    // The trace is outermost first and ends with the die call; the error names the line.
    assert_eq!(out.stdout, "[Call Trace]\nt.sh:3:f\nt.sh:2:die\n", "{out}");
    assert_eq!(out.stderr, "[ERROR] t.sh:2 boom twice\n", "{out}");
}

#[test]
fn die_exit_status_rules() {
    // One line per case: the code before die, and the status die must exit with.
    let cases = [
        ("(exit 7) || die $LINENO x", 7),
        ("true; die $LINENO x", 1),
        ("if ! (exit 3); then die $LINENO x; fi", 1),
        ("false || die $LINENO x", 1),
        ("(exit 200) || die $LINENO x", 200),
    ];
    let bash = Bash::new();
    for (code, status) in cases {
        let out = bash.run(&format!("{code}\necho not reached\n"));
        assert_eq!(out.code(), status, "{code}\n{out}");
        assert!(!out.stdout.contains("not reached"), "{code}\n{out}");
        assert_eq!(out.stderr, "[ERROR] t.sh:2 x\n", "{code}\n{out}");
    }
}

#[test]
fn warn_prints_on_stdout_and_keeps_the_status() {
    let bash = Bash::new();
    let out = bash.run("(exit 5); warn $LINENO \"careful\"; echo \"rc=$?\"\n");
    assert_eq!(out.stdout, "[WARNING] t.sh:2 careful\nrc=5\n", "{out}");
    assert_eq!(out.stderr, "", "{out}");
    // Without $LINENO the message lands in the line slot, with a trailing space (DevStack).
    let out = bash.run("warn \"no line\"\n");
    assert_eq!(out.stdout, "[WARNING] t.sh:no line \n", "{out}");
}

#[test]
fn err_prints_on_stderr_keeps_the_status_and_appends_to_the_error_log() {
    let mut bash = Bash::new();
    let logdir = bash.dir().join("logs");
    fs::create_dir(&logdir).expect("mkdir logs");
    bash.env("LOGDIR", logdir.to_str().expect("utf-8 temp path"));
    let out = bash.run("(exit 4); err $LINENO \"oops\"; echo \"rc=$?\"\n");
    assert_eq!(out.stdout, "rc=4\n", "{out}");
    assert_eq!(out.stderr, "[ERROR] t.sh:2 oops\n", "{out}");
    let log = fs::read_to_string(logdir.join("error.log")).expect("error.log");
    assert_eq!(log, "[ERROR] t.sh:2 oops\n");
}

// ---- trueorfalse ----

#[test]
fn trueorfalse_table() {
    // value, default, expected: DevStack's exact spellings, everything else the default.
    let cases = [
        ("1", "False", "True"),
        ("yes", "False", "True"),
        ("Yes", "False", "True"),
        ("YES", "False", "True"),
        ("true", "False", "True"),
        ("True", "False", "True"),
        ("TRUE", "False", "True"),
        ("0", "True", "False"),
        ("no", "True", "False"),
        ("No", "True", "False"),
        ("NO", "True", "False"),
        ("false", "True", "False"),
        ("False", "True", "False"),
        ("FALSE", "True", "False"),
        ("", "True", "True"),
        ("", "False", "False"),
        ("maybe", "True", "True"),
        ("on", "False", "False"),
        ("y", "False", "False"),
        ("tRUE", "False", "False"),
        (" True", "False", "False"),
    ];
    let mut body = String::new();
    for (value, default, _) in cases {
        body.push_str(&format!(
            "V='{value}'; echo \"$(trueorfalse {default} V)\"\n"
        ));
    }
    body.push_str("unset V; echo \"$(trueorfalse Maybe V)\"\n");
    let out = Bash::new().run(&body);
    let got: Vec<&str> = out.stdout.lines().collect();
    let mut want: Vec<&str> = cases.iter().map(|(_, _, want)| *want).collect();
    want.push("Maybe");
    assert_eq!(got, want, "{out}");
}

// ---- time_start, time_stop ----

#[test]
fn time_start_twice_dies() {
    let out = Bash::new().run("time_start build\ntime_start build\necho not reached\n");
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr
            .contains("Trying to start the clock on build, but it's already been started"),
        "{out}"
    );
    assert!(!out.stdout.contains("not reached"), "{out}");
}

#[test]
fn time_stop_without_start_dies() {
    let out = Bash::new().run("time_stop build\necho not reached\n");
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stderr
            .contains("Trying to stop the clock on build, but it was never started"),
        "{out}"
    );
}

#[test]
fn time_start_stop_adds_to_the_bucket_and_may_start_again() {
    let out = Bash::new().run(
        "time_start b; sleep 0.05; time_stop b\ntime_start b; time_stop b\n\
         echo \"total=${_TIME_TOTAL[b]}\"\n",
    );
    out.assert_ok();
    let total: u64 = out
        .stdout
        .trim()
        .strip_prefix("total=")
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no total: {out}"));
    assert!(total >= 50, "{out}");
}

// ---- install_package ----

/// Fake dpkg-query (only `present` is installed), apt-get (records its arguments and
/// DEBIAN_FRONTEND, exits with $APT_STATUS) and sudo (runs its command), first on PATH.
fn fake_packaging(bash: &mut Bash) {
    bash.executable(
        "fake/dpkg-query",
        "#!/bin/bash\n[[ ${!#} == present ]] || exit 1\necho -n 'install ok installed'\n",
    );
    bash.executable(
        "fake/apt-get",
        "#!/bin/bash\necho \"$DEBIAN_FRONTEND $*\" >>\"$D/apt-get.calls\"\nexit \"${APT_STATUS:-0}\"\n",
    );
    bash.executable(
        "fake/sudo",
        "#!/bin/bash\n[[ $1 == -n ]] && shift\nexec \"$@\"\n",
    );
    let path = format!(
        "{}:{}",
        bash.dir().join("fake").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    bash.env("PATH", &path);
}

#[test]
fn install_package_without_permission_warns_and_installs_nothing() {
    let mut bash = Bash::new();
    fake_packaging(&mut bash);
    for permission in ["", "False", "no", "maybe"] {
        let mut bash_with = Bash::new();
        fake_packaging(&mut bash_with);
        if !permission.is_empty() {
            bash_with.env("HOOKPIPE_INSTALL_PACKAGES", permission);
        }
        let out = bash_with
            .run("install_package present hookpipe-e2e-a hookpipe-e2e-b\necho \"rc=$?\"\n");
        assert!(
            out.stdout.starts_with("[WARNING] ")
                && out.stdout.contains(
                    "would install hookpipe-e2e-a hookpipe-e2e-b; set HOOKPIPE_INSTALL_PACKAGES=True"
                )
                && out.stdout.ends_with("rc=0\n"),
            "HOOKPIPE_INSTALL_PACKAGES={permission:?}\n{out}"
        );
        assert!(
            !bash_with.dir().join("apt-get.calls").exists(),
            "apt-get ran\n{out}"
        );
    }
    // Nothing missing: nothing to say, even without permission.
    let out = bash.run("install_package present\necho \"rc=$?\"\n");
    assert_eq!(out.stdout, "rc=0\n", "{out}");
}

#[test]
fn install_package_with_permission_installs_only_the_missing_packages() {
    let mut bash = Bash::new();
    fake_packaging(&mut bash);
    bash.env("HOOKPIPE_INSTALL_PACKAGES", "True");
    let out = bash.run("install_package present one two\necho \"rc=$?\"\n");
    assert_eq!(out.stdout, "rc=0\n", "{out}");
    let calls = fs::read_to_string(bash.dir().join("apt-get.calls")).expect("apt-get ran");
    assert_eq!(calls, "noninteractive install -y -qq one two\n", "{out}");
}

#[test]
fn install_package_returns_the_status_of_a_failing_apt_get() {
    let mut bash = Bash::new();
    fake_packaging(&mut bash);
    bash.env("HOOKPIPE_INSTALL_PACKAGES", "yes")
        .env("APT_STATUS", "100");
    let out = bash.run("install_package one\necho \"rc=$?\"\n");
    assert_eq!(out.stdout, "rc=100\n", "{out}");
}

// ---- start_daemon, daemon_running, stop_daemon ----

#[test]
fn start_daemon_detaches_and_stop_daemon_stops_it() {
    let bash = Bash::new();
    bash.executable(
        "daemon.sh",
        "#!/bin/bash\necho \"started with $1\"\nsleep 300 &\nwait\n",
    );
    // The script ends while the daemon runs: run() fails if the daemon held its output.
    let out = bash.run(
        "start_daemon \"$D/run/d.pid\" \"$D/logs/d.log\" \"$D/daemon.sh\" arg\n\
         daemon_running \"$D/run/d.pid\" && echo running\n",
    );
    assert_eq!(out.stdout, "running\n", "{out}");
    let pid = read_pid(&bash.dir().join("run/d.pid")).expect("pid file");
    assert!(process_alive(pid), "{out}");
    // Its own session: setsid made it the leader.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    assert_eq!(
        fields.get(3),
        Some(&pid.to_string().as_str()),
        "session of {pid}: {stat}"
    );
    let log = wait_for_text(&bash.dir().join("logs/d.log"), "started with arg");
    assert!(log, "the daemon's output did not reach its log file");

    let out = bash.run("stop_daemon \"$D/run/d.pid\"; echo \"rc=$?\"\n");
    assert_eq!(out.stdout, "rc=0\n", "{out}");
    assert!(
        wait_gone(pid, Duration::from_secs(20)),
        "daemon {pid} survived stop_daemon"
    );
    assert!(!bash.dir().join("run/d.pid").exists(), "pid file left");
}

#[test]
fn stop_daemon_without_a_live_daemon_is_quiet() {
    let bash = Bash::new();
    fs::write(bash.dir().join("stale.pid"), "not-a-pid\n").expect("write");
    let out = bash.run(
        "stop_daemon \"$D/stale.pid\"; echo \"rc=$?\"\nstop_daemon \"$D/none.pid\"; echo \"rc=$?\"\n\
         daemon_running \"$D/none.pid\" || echo \"not running\"\n",
    );
    assert_eq!(out.stdout, "rc=0\nrc=0\nnot running\n", "{out}");
    assert_eq!(out.stderr, "", "{out}");
    assert!(!bash.dir().join("stale.pid").exists());
}

fn wait_for_text(path: &std::path::Path, text: &str) -> bool {
    for _ in 0..200 {
        if fs::read_to_string(path).is_ok_and(|got| got.contains(text)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

// ---- enable_plugin, local.conf sections ----

#[test]
fn enable_plugin_records_enable_order_and_refuses_twice() {
    let mut bash = Bash::new();
    bash.env("DEST", "/srv/stack");
    let out = bash.run(
        "enable_plugin b https://example.invalid/b\nenable_plugin a https://example.invalid/a stable\n\
         echo \"$DEVSTACK_PLUGINS ${GITDIR[a]} ${GITBRANCH[a]} ${GITBRANCH[b]}\"\n\
         is_plugin_enabled b && echo b-enabled\nis_plugin_enabled c || echo c-not\n\
         enable_plugin b other\necho not reached\n",
    );
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout
            .starts_with(",b,a /srv/stack/a stable master\nb-enabled\nc-not\n"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("Plugin attempted to be enabled twice: b other master"),
        "{out}"
    );
}

#[test]
fn local_conf_sections_are_read_as_devstack_reads_them() {
    let bash = Bash::new();
    fs::write(
        bash.dir().join("local.conf"),
        "[[local|localrc]]\nA=1\n[[post-config|$NOVA_CONF]]\n[DEFAULT]\nA=2\n\
         [[local|localrc]]\nB=3\n",
    )
    .expect("write local.conf");
    let out = bash.run(
        "get_meta_section_files local.conf local\nget_meta_section_files local.conf post-config\n\
         echo ---\nget_meta_section local.conf local localrc\necho ---\n\
         extract_localrc_section local.conf localrc auto\ncat auto\n",
    );
    out.assert_ok();
    assert_eq!(
        out.stdout,
        "localrc\nlocalrc\n$NOVA_CONF\n---\nA=1\nB=3\n---\n\
         # Generated file, do not edit\nA=1\nB=3\n",
        "{out}"
    );
}
