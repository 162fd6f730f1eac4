//! `hook-run --jobs N` through the real binary: which hooks overlap, the shell state a
//! parallel run ends with (the same as a serial one), conflicts, a failure stopping its
//! group, output in serial order, and interrupts and timeouts leaving no process.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hookpipe_e2e::time_of;
use serde_json::{json, Value};

/// The `hook` records of a tree, with the sequence number hook-list gives extras.d hooks
/// (the first two characters of the name), which is what groups them.
fn numbered(tree: &Tree) -> String {
    tree.records()
        .lines()
        .map(|line| {
            let mut record: Value = serde_json::from_str(line).unwrap();
            let seq = record["name"].as_str().unwrap()[..2].to_owned();
            record["seq"] = json!(seq);
            format!("{record}\n")
        })
        .collect()
}

fn run_jobs(tree: &Tree, args: &[&str]) -> std::process::Output {
    run_input(tree, args, &numbered(tree))
}

/// The script of the stage's `state` record.
fn state_script(records: &[Value]) -> String {
    of_type(records, "state").last().expect("a state record")["script"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn id(name: &str) -> String {
    format!("stack/install/{name}")
}

const SLOW: &str = "if [[ $1 == stack ]]; then sleep 0.6; fi\n";

#[test]
fn hooks_with_one_number_overlap_and_the_next_number_waits_for_them() {
    let mut tree = Tree::new();
    tree.hook("10-a.sh", SLOW)
        .hook("10-b.sh", SLOW)
        .hook("20-c.sh", SLOW)
        .hook("30-d.sh", SLOW);
    let out = run_jobs(&tree, &["stack", "install", "--jobs", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let recs = records(&out);
    let (a, b, c, d) = (id("10-a.sh"), id("10-b.sh"), id("20-c.sh"), id("30-d.sh"));
    // 10-a and 10-b ran at the same time: each started before the other ended.
    assert!(
        time_of(&recs, "start", &b) < time_of(&recs, "end", &a),
        "{}",
        explain(&out)
    );
    assert!(
        time_of(&recs, "start", &a) < time_of(&recs, "end", &b),
        "{}",
        explain(&out)
    );
    // Different numbers never overlap.
    assert!(time_of(&recs, "start", &c) >= time_of(&recs, "end", &a));
    assert!(time_of(&recs, "start", &c) >= time_of(&recs, "end", &b));
    assert!(time_of(&recs, "start", &d) >= time_of(&recs, "end", &c));

    // Serial by default: nothing overlaps.
    let out = run_jobs(&tree, &["stack", "install"]);
    let recs = records(&out);
    assert!(
        time_of(&recs, "start", &b) >= time_of(&recs, "end", &a),
        "{}",
        explain(&out)
    );
}

/// A tree whose hooks change every kind of shell state, in two groups.
fn stateful_tree() -> Tree {
    let mut tree = Tree::new();
    tree.hook(
        "10-funcs.sh",
        "if [[ $1 == stack ]]; then\n\
           sleep 0.2\n\
           function svc_a { echo \"a:$1\"; }\n\
           declare -ga LIST=(one 'two words' three)\n\
           declare -gA MAP=([k1]=v1 ['k 2']=\"v 2\")\n\
           export EXPORTED_A=yes\n\
           declare -gi COUNT=41; COUNT+=1\n\
           unset GONE_FROM_ENV\n\
         fi\n",
    )
    .hook(
        "10-more.sh",
        "if [[ $1 == stack ]]; then\n\
           function svc_b { echo \"b:$*\"; }\n\
           SHARED_SAME=1\n\
           unset -f to_remove\n\
           export -n PATH_LIKE\n\
           declare -gr FROZEN=ice\n\
         fi\n",
    )
    .hook(
        "10-same.sh",
        "if [[ $1 == stack ]]; then SHARED_SAME=1; fi\n",
    )
    .hook(
        "20-report.sh",
        "if [[ $1 == stack ]]; then\n\
           svc_a x; svc_b y z\n\
           declare -p LIST MAP EXPORTED_A COUNT SHARED_SAME FROZEN\n\
           echo \"gone: ${GONE_FROM_ENV-unset} path-like: $(env | grep -c '^PATH_LIKE=')\"\n\
           declare -F to_remove || echo 'to_remove is gone'\n\
         fi\n",
    );
    tree
}

#[test]
fn a_parallel_run_ends_in_the_same_state_as_a_serial_one() {
    let tree = stateful_tree();
    // A state to start from: a function the group removes, an environment variable one
    // hook unsets and another un-exports.
    let state = json!({
        "type": "state", "stage": "source", "generation": 1, "base": "full",
        "script": "to_remove () \n{ \n    :\n}\ndeclare -g -x PATH_LIKE=\"p\"\n",
        "time": "2026-01-01T00:00:00.000Z"
    });
    let input = format!("{}{state}\n", numbered(&tree));
    let run_with = |jobs: &str| {
        let mut child = std::process::Command::new(HOOK_RUN)
            .args(["stack", "install", "--jobs", jobs])
            .env("HOOKPIPE_LIB", lib_dir())
            .env("GONE_FROM_ENV", "here")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let serial = run_with("1");
    let parallel = run_with("4");
    assert_eq!(serial.status.code(), Some(0), "{}", explain(&serial));
    assert_eq!(parallel.status.code(), Some(0), "{}", explain(&parallel));
    let (serial, parallel) = (records(&serial), records(&parallel));
    assert!(
        of_type(&parallel, "warning").is_empty(),
        "no conflict expected: {parallel:?}"
    );
    let report = id("20-report.sh");
    assert_eq!(lines_of(&parallel, &report), lines_of(&serial, &report));
    assert!(lines_of(&parallel, &report).contains(&"a:x".to_owned()));
    assert!(lines_of(&parallel, &report).contains(&"gone: unset path-like: 0".to_owned()));
    assert_eq!(state_script(&parallel), state_script(&serial));
}

#[test]
fn a_conflict_reruns_the_group_serially_with_a_warning() {
    let mut tree = Tree::new();
    tree.hook(
        "10-one.sh",
        "if [[ $1 == stack ]]; then X=one; function f { echo one; }; touch \"$T/ran-one-$$\"; fi\n",
    )
    .hook(
        "10-two.sh",
        "if [[ $1 == stack ]]; then X=two; function f { echo two; }; fi\n",
    )
    .hook(
        "20-show.sh",
        "if [[ $1 == stack ]]; then echo \"X=$X $(f)\"; fi\n",
    );
    let out = run_jobs(&tree, &["stack", "install", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let recs = records(&out);
    let warning = of_type(&recs, "warning")
        .into_iter()
        .map(|w| w["text"].as_str().unwrap().to_owned())
        .find(|t| t.contains("conflict"))
        .unwrap_or_else(|| panic!("no conflict warning: {}", explain(&out)));
    assert!(
        warning.contains(&id("10-one.sh")) && warning.contains(&id("10-two.sh")),
        "{warning}"
    );
    assert!(warning.contains("changed X, f()"), "{warning}");
    // The rerun is serial and in order: 10-two's values win, as in a serial run.
    assert_eq!(
        lines_of(&recs, &id("20-show.sh")),
        vec!["X=two two".to_owned()]
    );
    let ends = |name: &str| {
        recs.iter()
            .filter(|r| r["type"] == "end" && r["id"] == id(name))
            .count()
    };
    assert_eq!((ends("10-one.sh"), ends("10-two.sh")), (2, 2));
}

#[test]
fn with_jobs_conflict_fail_a_conflict_fails_the_stage_naming_hooks_and_names() {
    let mut tree = Tree::new();
    tree.hook("10-one.sh", "if [[ $1 == stack ]]; then X=one; fi\n")
        .hook("10-two.sh", "if [[ $1 == stack ]]; then X=two; fi\n")
        .hook("20-after.sh", "if [[ $1 == stack ]]; then echo after; fi\n");
    let out = run_jobs(
        &tree,
        &["stack", "install", "--jobs", "2", "--jobs-conflict", "fail"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let recs = records(&out);
    let warning = of_type(&recs, "warning")[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        warning.contains(&id("10-one.sh"))
            && warning.contains(&id("10-two.sh"))
            && warning.contains(" X"),
        "{warning}"
    );
    let skip = of_type(&recs, "skip")[0];
    assert_eq!(skip["id"], id("20-after.sh"));
    assert!(
        skip["message"].as_str().unwrap().contains("conflict"),
        "{skip}"
    );
}

#[test]
fn a_failure_stops_the_rest_of_its_group() {
    let mut tree = Tree::new();
    tree.hook(
        "10-fails.sh",
        "if [[ $1 == stack ]]; then sleep 0.3; echo failing; false; fi\n",
    )
    .hook(
        "10-slow.sh",
        "if [[ $1 == stack ]]; then echo $$ > \"$T/slow.pid\"; sleep 300 & echo $! > \"$T/bg.pid\"; wait; fi\n",
    )
    .hook("10-queued.sh", "if [[ $1 == stack ]]; then echo queued ran; fi\n")
    .hook("20-after.sh", "if [[ $1 == stack ]]; then echo after; fi\n");
    let started = Instant::now();
    let out = run_jobs(&tree, &["stack", "install", "--jobs", "2"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the group was not stopped"
    );
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let recs = records(&out);
    assert_eq!(end_of(&recs, &id("10-fails.sh"))["status"], "failed");
    let slow = end_of(&recs, &id("10-slow.sh"));
    assert_eq!(slow["status"], "interrupted", "{}", explain(&out));
    assert!(of_type(&recs, "warning")
        .iter()
        .any(|w| w["id"] == id("10-slow.sh")
            && w["text"]
                .as_str()
                .unwrap()
                .contains(&format!("{} failed", id("10-fails.sh")))));
    let skipped: Vec<(String, String)> = of_type(&recs, "skip")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (id("10-queued.sh"), "stopped".to_owned()),
            (id("20-after.sh"), "stopped".to_owned())
        ]
    );
    assert!(!pid_alive(read_pid(&tree.path().join("slow.pid"))));
    assert!(!pid_alive(read_pid(&tree.path().join("bg.pid"))));

    // Keeping going, the others finish.
    let out = run_jobs(
        &tree,
        &[
            "stack",
            "install",
            "--jobs",
            "2",
            "--keep-going",
            "--timeout",
            "2",
        ],
    );
    let recs = records(&out);
    assert_eq!(
        lines_of(&recs, &id("10-queued.sh")),
        vec!["queued ran".to_owned()]
    );
    assert_eq!(
        lines_of(&recs, &id("20-after.sh")),
        vec!["after".to_owned()]
    );
}

#[test]
fn output_stays_grouped_by_hook_in_serial_order() {
    let mut tree = Tree::new();
    tree.hook(
        "10-first.sh",
        "if [[ $1 == stack ]]; then for i in 1 2 3; do echo first $i; sleep 0.2; done; fi\n",
    )
    .hook(
        "10-second.sh",
        "if [[ $1 == stack ]]; then for i in 1 2 3; do echo second $i; echo err $i >&2; done; fi\n",
    );
    let out = run_jobs(&tree, &["stack", "install", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let recs = records(&out);
    let order: Vec<String> = recs
        .iter()
        .filter(|r| matches!(r["type"].as_str(), Some("start" | "output" | "end")))
        .map(|r| {
            format!(
                "{} {}",
                r["type"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        })
        .collect();
    let first = id("10-first.sh");
    let second = id("10-second.sh");
    let last_of_first = order.iter().rposition(|e| e.ends_with(&first)).unwrap();
    let first_of_second = order.iter().position(|e| e.ends_with(&second)).unwrap();
    assert!(last_of_first < first_of_second, "interleaved: {order:#?}");
    let stream_of = |stream: &str| -> Vec<String> {
        recs.iter()
            .filter(|r| r["type"] == "output" && r["id"] == second && r["stream"] == stream)
            .map(|r| r["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(stream_of("stdout"), ["second 1", "second 2", "second 3"]);
    assert_eq!(stream_of("stderr"), ["err 1", "err 2", "err 3"]);
    assert_eq!(
        lines_of(&recs, &first),
        vec!["first 1", "first 2", "first 3"]
    );
    // The second hook ran while the first did: its end is earlier than the first's.
    assert!(time_of(&recs, "end", &second) < time_of(&recs, "end", &first));
}

const HANGS: &str = "if [[ $1 == stack ]]; then\n\
                       echo $$ > \"$T/$(basename \"$BASH_SOURCE\").pid\"\n\
                       bash -c 'trap \"\" TERM; echo $$ > \"$T/child-$PPID.pid\"; while :; do sleep 0.1; done' &\n\
                       setsid sleep 300 &\n\
                       echo $! > \"$T/setsid-$$.pid\"\n\
                       sleep 300\n\
                     fi\n";

/// Every pid file the hooks wrote, and whether any of those processes is alive.
fn survivors(tree: &Tree) -> Vec<String> {
    std::fs::read_dir(tree.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pid"))
        .filter(|e| pid_alive(read_pid(&e.path())))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn an_interrupt_with_a_group_running_leaves_no_process() {
    let mut tree = Tree::new();
    tree.hook("10-x.sh", HANGS).hook("10-y.sh", HANGS);
    let hooks = tree.path().join("numbered.ndjson");
    std::fs::write(&hooks, numbered(&tree)).unwrap();
    let child = spawn_group(
        &tree,
        &format!(
            "$HR stack install --jobs 2 --kill-after 0.5 < {} > out.ndjson; echo $? > status",
            hooks.display()
        ),
    );
    for name in ["10-x.sh.pid", "10-y.sh.pid"] {
        assert!(wait_for(&tree.path().join(name), Duration::from_secs(20)));
    }
    std::thread::sleep(Duration::from_millis(300));
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(tree.path().join("out.ndjson")).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for name in ["10-x.sh", "10-y.sh"] {
        assert_eq!(
            end_of(&recs, &id(name))["status"],
            "interrupted",
            "{}",
            explain(&output)
        );
    }
    assert_eq!(survivors(&tree), Vec::<String>::new(), "{text}");
}

#[test]
fn a_timeout_in_a_group_stops_it_and_leaves_no_process() {
    let mut tree = Tree::new();
    tree.hook("10-x.sh", HANGS).hook(
        "10-y.sh",
        "if [[ $1 == stack ]]; then echo $$ > \"$T/y.pid\"; sleep 300; fi\n",
    );
    let started = Instant::now();
    let out = run_jobs(
        &tree,
        &[
            "stack",
            "install",
            "--jobs",
            "2",
            "--timeout",
            "1",
            "--kill-after",
            "0.5",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
    let recs = records(&out);
    let statuses: Vec<&str> = ["10-x.sh", "10-y.sh"]
        .iter()
        .map(|name| end_of(&recs, &id(name))["status"].as_str().unwrap())
        .collect();
    // Both hang: each times out, or the first to time out stops the other.
    assert!(statuses.contains(&"timeout"), "{}", explain(&out));
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, "timeout" | "interrupted")),
        "{statuses:?}"
    );
    assert_eq!(survivors(&tree), Vec::<String>::new(), "{}", explain(&out));
}

#[test]
fn jobs_is_checked() {
    let tree = Tree::new();
    for bad in ["0", "65", "two"] {
        let out = run_jobs(&tree, &["stack", "install", "--jobs", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", explain(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("number of jobs"),
            "{}",
            explain(&out)
        );
    }
}

#[test]
fn the_plugin_requires_graph_decides_which_plugins_overlap() {
    let tree = Tree::new();
    let mut input = String::new();
    for (name, settings) in [
        ("base", ""),
        ("other", ""),
        ("needs-base", "plugin_requires needs-base base\n"),
    ] {
        let dir = tree.path().join(name);
        std::fs::create_dir_all(dir.join("devstack")).unwrap();
        std::fs::write(dir.join("devstack/settings"), settings).unwrap();
        std::fs::write(dir.join("devstack/plugin.sh"), SLOW).unwrap();
        let record = json!({
            "type": "hook", "name": format!("plugin:{name}"), "kind": "plugin",
            "path": dir.to_str().unwrap(), "dir": dir.to_str().unwrap(),
            "files": ["settings", "plugin.sh"],
        });
        input.push_str(&format!("{record}\n"));
    }
    let out = run_input(&tree, &["stack", "install", "--jobs", "4"], &input);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let recs = records(&out);
    let (base, other, needs) = (
        id("plugin:base"),
        id("plugin:other"),
        id("plugin:needs-base"),
    );
    // base and other have no path between them: they overlap.
    assert!(
        time_of(&recs, "start", &other) < time_of(&recs, "end", &base),
        "{}",
        explain(&out)
    );
    // needs-base requires base: it starts only after base (and the group) ended.
    assert!(
        time_of(&recs, "start", &needs) >= time_of(&recs, "end", &base),
        "{}",
        explain(&out)
    );
    assert!(time_of(&recs, "start", &needs) >= time_of(&recs, "end", &other));
}

#[test]
fn hooks_adding_different_keys_to_one_map_and_timing_themselves_do_not_conflict() {
    let mut tree = Tree::new();
    tree.hook(
        "05-map.sh",
        "if [[ $1 == stack ]]; then declare -gA ENDPOINTS=([existing]=1); fi\n",
    );
    for name in ["one", "two", "three"] {
        tree.hook(
            &format!("10-{name}.sh"),
            &format!(
                "if [[ $1 == stack ]]; then\n\
                   time_start pip_install; time_start {name}; sleep 0.2; time_stop {name}; time_stop pip_install\n\
                   ENDPOINTS[{name}]=\"http://{name} x\"\n\
                 fi\n"
            ),
        );
    }
    tree.hook(
        "20-show.sh",
        "if [[ $1 == stack ]]; then\n\
           for k in existing one two three; do echo \"$k=${ENDPOINTS[$k]}\"; done\n\
           for k in one two three; do echo \"timed $k: ${_TIME_TOTAL[$k]:+yes}\"; done\n\
           echo \"pip total: $(( _TIME_TOTAL[pip_install] >= 3 * ${_TIME_TOTAL[one]:-0} / 2 ))\"\n\
         fi\n",
    );
    let out = run_jobs(&tree, &["stack", "install", "--jobs", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let recs = records(&out);
    assert!(of_type(&recs, "warning").is_empty(), "{}", explain(&out));
    assert_eq!(
        lines_of(&recs, &id("20-show.sh")),
        [
            "existing=1",
            "one=http://one x",
            "two=http://two x",
            "three=http://three x",
            "timed one: yes",
            "timed two: yes",
            "timed three: yes",
            "pip total: 1"
        ]
    );
    // Overlapped: the three 0.2 s hooks did not take 0.6 s one after the other.
    assert!(time_of(&recs, "start", &id("10-three.sh")) < time_of(&recs, "end", &id("10-one.sh")));
}
