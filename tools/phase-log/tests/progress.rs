//! The live status line through the real binary: on a pseudo-terminal it names the running
//! call, keeps counting while the hook is silent, and is erased before log lines and at
//! the end; in a pipe it never appears.

mod util;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use hookpipe_e2e::spawn_piped;
use util::{begin, done, end, line, start};

const ID: &str = "stack/install/50-template.sh";
const STAGE: &str = "stack/install";

/// A generous bound, only so a regression cannot hang the suite.
const PATIENCE: Duration = Duration::from_secs(20);

/// phase-log with stdout and stderr on a new pseudo-terminal, stdin a pipe; the bytes the
/// terminal shows arrive on the receiver.
fn on_pty(mut cmd: Command) -> (Child, Receiver<Vec<u8>>) {
    let size = nix::pty::Winsize {
        ws_row: 40,
        ws_col: 200,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
    let slave: OwnedFd = pty.slave;
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("spawn phase-log");
    // The command holds the parent's copies of the slave: closing them lets the reader
    // see the end once phase-log exits.
    drop(cmd);
    let (send, receive) = mpsc::channel();
    let mut master = std::fs::File::from(pty.master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once every copy of the slave is closed.
        while let Ok(read @ 1..) = master.read(&mut buf) {
            if send.send(buf[..read].to_vec()).is_err() {
                break;
            }
        }
    });
    (child, receive)
}

/// Reads the terminal into `seen` until `done` says so.
fn read_until(receive: &Receiver<Vec<u8>>, seen: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match receive.recv_timeout(left) {
            Ok(bytes) => seen.extend_from_slice(&bytes),
            Err(_) => panic!(
                "the terminal never showed what was awaited:\n{:?}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

/// Every elapsed time the status line showed for the call: the `12.3s` after its id.
fn shown_times(seen: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(seen);
    let needle = format!("{ID} ");
    text.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &text[at + needle.len()..];
            let time: String = rest
                .chars()
                .take_while(|ch| ch.is_ascii_digit() || *ch == '.')
                .collect();
            rest[time.len()..].starts_with('s').then_some(time)
        })
        .filter(|time| !time.is_empty())
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// Writes the `begin` of a hook-run stage and the `start` of its one call, and flushes: the
/// call is running, silent, until the test writes more.
fn open_call(stdin: &mut impl Write) {
    writeln!(
        stdin,
        "{}\n{}",
        begin("hook-run", STAGE, 0),
        start(ID, STAGE, 10)
    )
    .unwrap();
    stdin.flush().unwrap();
}

/// Adds what the terminal still shows once the run has ended (the reader thread sends what
/// is left, then stops at EIO).
fn drain(receive: &Receiver<Vec<u8>>, seen: &mut Vec<u8>) {
    while let Ok(bytes) = receive.recv_timeout(PATIENCE) {
        seen.extend_from_slice(&bytes);
    }
}

/// Runs one call on a terminal: starts it, waits until the status line has counted it
/// twice while no record came, then ends the run. Returns everything the terminal showed.
fn silent_call_on_a_terminal(cmd: Command) -> Vec<u8> {
    let (mut child, receive) = on_pty(cmd);
    let mut stdin = child.stdin.take().unwrap();
    open_call(&mut stdin);
    let mut seen = Vec::new();
    read_until(&receive, &mut seen, |seen| {
        let mut times = shown_times(seen);
        times.dedup();
        times.len() >= 2
    });
    writeln!(
        stdin,
        "{}\n{}\n{}",
        line("summary", ID, "Installing template", 11),
        end(ID, STAGE, "ok", 0, 6, 16),
        done("hook-run", STAGE, 0, 20)
    )
    .unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    drain(&receive, &mut seen);
    assert_eq!(status.code(), Some(0), "{}", String::from_utf8_lossy(&seen));
    seen
}

#[test]
fn a_terminal_shows_the_running_call_while_it_is_silent_and_erases_it() {
    let seen = silent_call_on_a_terminal(util::command());
    let text = String::from_utf8_lossy(&seen);
    // Coloured (auto on a terminal), redrawn in place.
    assert!(
        text.contains("\r\x1b[1mrunning\x1b[0m stack/install/50-template.sh "),
        "{text:?}"
    );
    assert!(text.contains("\x1b[32m0 ok\x1b[0m"), "{text:?}");
    // Every drawing of the status line is followed by another drawing or by an erase:
    // no log byte ever lands on it.
    let mut draws = 0;
    let mut at = 0;
    while let Some(found) = find(&seen[at..], b"\r") {
        let here = at + found;
        let rest = &seen[here..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\r\x1b[K") {
            at = here + 2;
            continue;
        }
        draws += 1;
        let end = here + find(rest, b"\x1b[K").expect("a drawing ends with erase-line") + 3;
        assert!(
            seen[end..].starts_with(b"\r") && !seen[end..].starts_with(b"\r\n"),
            "a log line follows the status line: {text:?}"
        );
        at = end;
    }
    assert!(draws >= 2, "{text:?}");
    // Erased at the end: nothing of it after the reports.
    let last_draw = rfind(&seen, b"running").unwrap();
    let report = find(&seen, b"=== Result ===").unwrap();
    assert!(last_draw < report, "{text:?}");
    assert!(
        find(&seen[last_draw..report], b"\r\x1b[K").is_some(),
        "{text:?}"
    );
}

#[test]
fn no_colour_on_the_status_line_with_no_color_or_color_never() {
    for (var, flag) in [(Some("1"), None), (None, Some("never"))] {
        let mut cmd = util::command();
        if let Some(value) = var {
            cmd.env("NO_COLOR", value);
        }
        if let Some(when) = flag {
            cmd.args(["--color", when]);
        }
        let seen = silent_call_on_a_terminal(cmd);
        let text = String::from_utf8_lossy(&seen);
        assert!(
            text.contains("\rrunning stack/install/50-template.sh "),
            "{text:?}"
        );
        // Erase-line only: no colour sequence anywhere.
        assert!(!text.contains("\x1b[3"), "{text:?}");
        assert!(!text.contains("\x1b[1m"), "{text:?}");
        assert!(!text.contains("\x1b[0m"), "{text:?}");
    }
}

#[test]
fn progress_never_shows_on_a_terminal_when_asked_not_to() {
    let mut cmd = util::command();
    cmd.args(["--progress", "never"]);
    let (mut child, receive) = on_pty(cmd);
    let mut stdin = child.stdin.take().unwrap();
    open_call(&mut stdin);
    let mut seen = Vec::new();
    read_until(&receive, &mut seen, |seen| find(seen, b"[start]").is_some());
    // Room for several redraws, had there been any.
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    child.wait().unwrap();
    drain(&receive, &mut seen);
    let text = String::from_utf8_lossy(&seen);
    assert!(!text.contains("running"), "{text:?}");
    assert!(!text.contains("\x1b[K"), "{text:?}");
}

#[test]
fn a_pipe_never_gets_the_status_line() {
    let mut child = spawn_piped(&mut util::command());
    let mut stdin = child.stdin.take().unwrap();
    open_call(&mut stdin);
    // A silent hook: on a terminal the line would be redrawn several times meanwhile.
    std::thread::sleep(Duration::from_millis(500));
    writeln!(
        stdin,
        "{}\n{}",
        end(ID, STAGE, "ok", 0, 6, 16),
        done("hook-run", STAGE, 0, 20)
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", util::show(&out));
    assert!(out.stderr.is_empty(), "{}", util::show(&out));
    assert!(!out.stdout.contains(&b'\r'), "{}", util::show(&out));
    assert!(
        find(&out.stdout, b"\x1b[").is_none(),
        "{}",
        util::show(&out)
    );
}
