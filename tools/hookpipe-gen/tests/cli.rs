//! hookpipe-gen through its binary: the files an install gets, and bad usage.

use std::path::Path;
use std::process::Command;

const TOOLS: &[&str] = &[
    "hook-list",
    "hook-run",
    "hyp-resolve",
    "hyp-call",
    "phase-log",
];

fn gen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hookpipe-gen"))
}

#[test]
fn writes_a_man_page_and_a_bash_completion_per_tool_and_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    let out = gen().arg(&share).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), 2 * TOOLS.len(), "{listed}");
    for tool in TOOLS {
        let man = share.join(format!("man/man1/{tool}.1"));
        let bash = share.join(format!("bash-completion/completions/{tool}"));
        for path in [&man, &bash] {
            assert!(listed.contains(&path.display().to_string()), "{listed}");
        }
        let page = std::fs::read_to_string(&man).unwrap();
        assert!(page.contains(".TH"), "{tool}.1 is not a man page:\n{page}");
        let script = std::fs::read_to_string(&bash).unwrap();
        assert!(script.contains(&format!(" {tool}\n")), "{script}");
    }
    assert!(!share.join("zsh").exists() && !share.join("fish").exists());
}

/// The completion must be something bash accepts: a syntax error would break every
/// interactive shell of the machine it is installed on.
#[test]
fn bash_completions_load_in_bash() {
    let dir = tempfile::tempdir().unwrap();
    let out = gen().arg(dir.path()).arg("--no-man").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for tool in TOOLS {
        let path = dir.path().join("bash-completion/completions").join(tool);
        let check = Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && complete -p \"$2\"")
            .arg("bash")
            .arg(&path)
            .arg(tool)
            .output()
            .unwrap();
        assert!(check.status.success(), "{tool}: {check:?}");
    }
    assert!(!dir.path().join("man").exists());
}

#[test]
fn other_shells_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = gen()
        .arg(dir.path())
        .args(["--no-man", "--shell", "zsh", "--shell", "fish"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(dir.path().join("zsh/site-functions/_hook-run").is_file());
    assert!(Path::new(&dir.path().join("fish/vendor_completions.d/phase-log.fish")).is_file());
    assert!(!dir.path().join("bash-completion").exists());
}

#[test]
fn an_unwritable_directory_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let out = gen().arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("hookpipe-gen: cannot write"), "{stderr}");
    let out = gen().output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// Man pages name each option's value in the SYNOPSIS and have an EXIT STATUS section of
/// their own (not clap_mangen's "EXTRA").
#[test]
fn man_pages_show_option_values_and_an_exit_status_section() {
    let tmp = tempfile::tempdir().unwrap();
    let out = gen().arg(tmp.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for tool in TOOLS {
        let page = std::fs::read_to_string(tmp.path().join(format!("man/man1/{tool}.1"))).unwrap();
        assert!(page.contains(".SH \"EXIT STATUS\""), "{tool}:\n{page}");
        assert!(!page.contains(".SH EXTRA"), "{tool}:\n{page}");
    }
    let page = std::fs::read_to_string(tmp.path().join("man/man1/hook-run.1")).unwrap();
    let synopsis = page
        .split(".SH SYNOPSIS\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_default();
    assert!(
        synopsis.contains("[\\fB\\-\\-timeout\\fR \\fISECONDS\\fR]"),
        "{synopsis}"
    );
}

/// bash completes hook-run's MODE and PHASE and hyp-call's ACTIONs, options and their
/// values skipped.
#[test]
fn bash_completes_modes_phases_and_actions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = gen().arg(tmp.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let dir = tmp.path().join("bash-completion/completions");
    let script = format!(
        "source '{0}/hook-run'; source '{0}/hyp-call'\n\
         t() {{ COMP_WORDS=(\"$@\"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()\n\
           local f; f=$(complete -p \"$1\" | sed 's/.*-F \\([^ ]*\\).*/\\1/')\n\
           \"$f\" \"$1\" \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; echo \"${{COMPREPLY[*]}}\"; }}\n\
         t hook-run st\n\
         t hook-run --timeout 5 stack p\n\
         t hyp-call install c\n",
        dir.display()
    );
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["stack", "pre-install post-config", "configure cleanup"],
        "{out:?}"
    );
}
