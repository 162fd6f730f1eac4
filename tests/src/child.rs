//! One tool as a child process, for the per-tool binary tests (`tools/*/tests`): started with
//! every stream piped, fed its input, signalled, and waited for with a limit, so that a
//! regression that hangs fails the test instead of blocking the suite. Whole pipelines in a
//! process group of their own are [`crate::pipeline`]'s.

use std::io::Write;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Starts `cmd` with stdin, stdout and stderr piped; fails naming the program.
#[track_caller]
pub fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {:?}: {err}", cmd.get_program()))
}

/// Runs `cmd` with `input` on its stdin and collects stdout, stderr and the status. The input
/// is written from a thread, so a tool that writes much before it reads cannot deadlock, and
/// a tool that exits before reading (a usage error) is not a failure of the test.
#[track_caller]
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = spawn_piped(cmd);
    let mut stdin = child.stdin.take().expect("a piped stdin");
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for the tool");
    writer.join().expect("the input writer");
    output
}

/// Sends `signal` to the child process itself (not to its group).
#[track_caller]
pub fn signal(child: &Child, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in i32"));
    kill(pid, signal).expect("signal the child");
}

/// Waits up to `limit` for `child` to end; None while it still runs (the caller decides
/// whether that is a failure, and kills it).
pub fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}
