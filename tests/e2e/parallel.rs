//! Parallel hooks end to end: `HOOKPIPE_JOBS` in local.conf reaching `scripts/stack.sh`'s
//! runners, lib/ini-config's INI helpers (DevStack's calls, each edit locked) and eight
//! hooks writing one file at once, and lib/hookpipe putting the locked helpers in place of
//! DevStack's.

use std::fs;
use std::process::Command;
use std::time::Duration;

use hookpipe_e2e::{bin_dir, lib_dir, records, repo_root, run, scrub_env, time_of, Bash, Stack};

#[test]
fn hookpipe_jobs_in_local_conf_runs_same_number_hooks_at_once_with_the_serial_result() {
    let stack = Stack::fixture("parallel");
    let kept = stack.root().join("records.ndjson");
    let out = stack.script("stack.sh", &["--records", kept.to_str().expect("utf-8")]);
    out.assert_ok();
    let recs = records(&kept);
    let id = |name: &str| format!("stack/install/20-{name}.sh");
    // The four 20 hooks overlapped: each started before each other one ended.
    for a in ["alpha", "bravo", "charlie", "delta"] {
        for b in ["alpha", "bravo", "charlie", "delta"] {
            assert!(
                time_of(&recs, "start", &id(a)) < time_of(&recs, "end", &id(b)),
                "{a} started after {b} ended:\n{out}"
            );
        }
    }
    // Their variables and functions reached the next stage, and their keys the file.
    assert!(
        out.stdout.contains("installed: True True True True"),
        "{out}"
    );
    assert!(out.stdout.contains("delta is installed"), "{out}");
    let conf = fs::read_to_string(stack.dest.join("etc/shared.conf")).expect("shared.conf");
    for name in ["alpha", "bravo", "charlie", "delta"] {
        for n in 1..=5 {
            assert!(conf.contains(&format!("key{n} = value {n}")), "{conf}");
            assert!(
                conf.contains(&format!("{name}_{n} = yes")),
                "{name}_{n}:\n{conf}"
            );
        }
    }
}

#[test]
fn ini_helpers_keep_devstacks_calls_and_results() {
    let bash = Bash::new();
    let out = bash.run(
        "f=$D/a.conf\n\
         iniset $f DEFAULT debug True\n\
         iniset $f DEFAULT debug False\n\
         iniset $f database connection 'mysql://u:p@h/db?x=\\1&y'\n\
         iniset $f DEFAULT verbose 'a  b'\n\
         iniset_multiline $f filter ops one two\n\
         iniadd $f filter ops three 'four five'\n\
         iniadd_literal $f DEFAULT lit v1\n\
         inicomment $f DEFAULT verbose\n\
         ini_has_option $f DEFAULT verbose || echo 'verbose commented'\n\
         iniuncomment $f DEFAULT verbose\n\
         echo \"[$(iniget $f DEFAULT verbose)] [$(iniget_multiline $f filter ops)] [$(iniget $f x y)]\"\n\
         iniset $f '' empty section; iniset $f s '' empty-option\n\
         inidelete $f database connection\n\
         cat $f\n",
    );
    out.assert_ok();
    assert_eq!(
        out.stdout,
        "verbose commented\n\
         [a  b] [one two three four five] []\n\
         \n\
         [DEFAULT]\n\
         lit = v1\n\
         verbose = a  b\n\
         debug = False\n\
         \n\
         [database]\n\
         \n\
         [filter]\n\
         ops = one\n\
         ops = two\n\
         ops = three\n\
         ops = four five\n",
        "{out}"
    );
}

#[test]
fn eight_hooks_writing_one_file_at_once_lose_no_key() {
    let tree = tempfile::tempdir().expect("a temporary directory");
    let extras = tree.path().join("extras.d");
    fs::create_dir(&extras).expect("extras.d");
    for hook in 1..=8 {
        fs::write(
            extras.join(format!("50-writer{hook}.sh")),
            format!(
                "if [[ $1 == stack ]]; then\n\
                   for n in $(seq 1 15); do\n\
                     iniset \"$CONF\" \"section$((n % 3))\" \"writer{hook}_$n\" \"$n\"\n\
                     iniadd \"$CONF\" list items \"w{hook}-$n\"\n\
                   done\n\
                 fi\n"
            ),
        )
        .expect("a hook");
    }
    let conf = tree.path().join("shared.conf");
    let kept = tree.path().join("records.ndjson");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(
            "set -o pipefail; \"$B/hook-list\" extras.d | \"$B/hook-run\" --jobs 8 stack install \
             | tee records.ndjson | \"$B/phase-log\" -q",
        )
        .current_dir(tree.path());
    scrub_env(&mut cmd);
    cmd.env("B", bin_dir())
        .env("HOOKPIPE_LIB", lib_dir())
        .env("CONF", &conf);
    let out = run(cmd, Duration::from_secs(120));
    out.assert_ok();
    let recs = records(&kept);
    let id = |hook: u32| format!("stack/install/50-writer{hook}.sh");
    // The writers did run at the same time (the first started before the last ended), so
    // the file was written by several at once.
    assert!(
        time_of(&recs, "start", &id(8)) < time_of(&recs, "end", &id(1)),
        "{out}"
    );
    let text = fs::read_to_string(&conf).expect("the config file");
    for hook in 1..=8 {
        for n in 1..=15 {
            assert!(
                text.contains(&format!("writer{hook}_{n} = {n}\n")),
                "writer{hook}_{n} lost:\n{text}"
            );
            assert!(
                text.contains(&format!("items = w{hook}-{n}\n")),
                "w{hook}-{n} lost:\n{text}"
            );
        }
    }
    // No temporary file of an edit is left behind.
    let names: Vec<String> = fs::read_dir(tree.path())
        .expect("the tree")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("shared.conf"))
        .collect();
    assert_eq!(names, ["shared.conf"]);
}

#[test]
fn lib_hookpipe_puts_the_locked_ini_helpers_in_place_of_devstacks() {
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(
        "function iniset { echo \"DevStack's unlocked iniset\"; }\n\
         source \"$L/hookpipe\"\n\
         iniset \"$T/x.conf\" s k v && cat \"$T/x.conf\"",
    );
    let tree = tempfile::tempdir().expect("a temporary directory");
    scrub_env(&mut cmd);
    cmd.env("L", repo_root().join("lib"))
        .env("T", tree.path())
        .env("HOOKPIPE_BIN", bin_dir())
        .env("DEST", tree.path());
    let out = run(cmd, Duration::from_secs(60));
    out.assert_ok();
    assert_eq!(out.stdout, "\n[s]\nk = v\n", "{out}");
}
