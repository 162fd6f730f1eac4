//! Pipelines of real processes, started as a shell starts a foreground job: every stage in
//! one process group, each stage's stderr kept in a file, a time limit that turns a hang into
//! a failure showing every stage's stderr, and a guard that kills the group when a test fails.
//! Also exit statuses as a shell shows them, and the peak memory of running processes.

use std::fs::{self, File};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::HANG;

/// A running pipeline: every stage in one process group of its own, each stage's stderr in
/// a file beside the output. Dropping it before [`Pipeline::wait`] kills the group.
pub struct Pipeline {
    children: Vec<Child>,
    names: Vec<String>,
    errs: Vec<PathBuf>,
    group: Option<Pid>,
    statuses: Vec<Option<ExitStatus>>,
}

impl Pipeline {
    /// Starts the stages; the first reads `input` (or /dev/null), the last writes `out`.
    pub fn start(stages: Vec<Command>, input: Option<&Path>, out: &Path) -> Pipeline {
        let count = stages.len();
        let mut pipeline = Pipeline {
            children: Vec::new(),
            names: Vec::new(),
            errs: Vec::new(),
            group: None,
            statuses: vec![None; count],
        };
        let mut previous = None;
        for (index, mut cmd) in stages.into_iter().enumerate() {
            let name = stage_name(&cmd);
            let stdin = match previous.take() {
                Some(upstream) => Stdio::from(upstream),
                None => match input {
                    Some(path) => Stdio::from(File::open(path).expect("open the input file")),
                    None => Stdio::null(),
                },
            };
            let last = index + 1 == count;
            let stdout = if last {
                Stdio::from(File::create(out).expect("create the output file"))
            } else {
                Stdio::piped()
            };
            let mut err = out.as_os_str().to_owned();
            err.push(format!(".stderr.{index}"));
            let err = PathBuf::from(err);
            cmd.stdin(stdin)
                .stdout(stdout)
                .stderr(File::create(&err).expect("create a stderr file"))
                .process_group(pipeline.group.map_or(0, Pid::as_raw));
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
            if pipeline.group.is_none() {
                pipeline.group = Some(Pid::from_raw(child.id() as i32));
            }
            previous = child.stdout.take();
            pipeline.children.push(child);
            pipeline.names.push(name);
            pipeline.errs.push(err);
        }
        pipeline
    }

    pub fn pid(&self, stage: usize) -> Pid {
        Pid::from_raw(self.children[stage].id() as i32)
    }

    pub fn group(&self) -> Pid {
        self.group.expect("a started pipeline has a group")
    }

    pub fn signal_group(&self, signal: Signal) {
        killpg(self.group(), signal).expect("signal the pipeline's process group");
    }

    pub fn signal(&self, stage: usize, signal: Signal) {
        kill(self.pid(stage), signal).expect("signal one stage");
    }

    /// True while stage `stage` has not ended (a failed check counts as running).
    pub fn is_running(&mut self, stage: usize) -> bool {
        self.children[stage].try_wait().ok().flatten().is_none()
    }

    /// What stage `index` wrote on stderr.
    pub fn stderr(&self, index: usize) -> String {
        String::from_utf8_lossy(&fs::read(&self.errs[index]).unwrap_or_default()).into_owned()
    }

    /// Waits for every stage; after [`HANG`] kills the group and fails with their stderr.
    pub fn wait(&mut self) -> Vec<ExitStatus> {
        let deadline = Instant::now() + HANG;
        loop {
            for (child, status) in self.children.iter_mut().zip(self.statuses.iter_mut()) {
                if status.is_none() {
                    *status = child.try_wait().expect("wait for a stage");
                }
            }
            if self.statuses.iter().all(Option::is_some) {
                return self.statuses.iter().flatten().copied().collect();
            }
            if Instant::now() >= deadline {
                let _ = killpg(self.group(), Signal::SIGKILL);
                for child in &mut self.children {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                panic!("the pipeline hung; killed it\n{}", self.report(&[]));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for every stage ([`Pipeline::wait`]), then fails if one panicked or if their
    /// statuses, as a shell shows them ([`codes`]), are not `expected`; returns the statuses.
    #[track_caller]
    pub fn wait_expecting(&mut self, expected: &[i32]) -> Vec<ExitStatus> {
        let statuses = self.wait();
        self.assert_no_panic(&statuses);
        assert_eq!(codes(&statuses), expected, "{}", self.report(&statuses));
        statuses
    }

    /// Every stage with its status (when known) and its stderr, for failure messages.
    pub fn report(&self, statuses: &[ExitStatus]) -> String {
        let mut text = String::new();
        for (index, name) in self.names.iter().enumerate() {
            let status = statuses
                .get(index)
                .map_or("?".to_owned(), |status| describe(*status));
            text.push_str(&format!(
                "stage {index} `{name}`: {status}\n{}",
                indent(&self.stderr(index))
            ));
        }
        text
    }

    /// Fails if any stage printed a Rust panic.
    #[track_caller]
    pub fn assert_no_panic(&self, statuses: &[ExitStatus]) {
        for index in 0..self.names.len() {
            assert!(
                !self.stderr(index).contains("panicked"),
                "a stage panicked:\n{}",
                self.report(statuses)
            );
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if self.statuses.iter().all(Option::is_some) {
            return;
        }
        if let Some(group) = self.group {
            let _ = killpg(group, Signal::SIGKILL);
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stage_name(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = program;
    for arg in cmd.get_args() {
        name.push(' ');
        name.push_str(&arg.to_string_lossy());
    }
    name.chars().take(100).collect()
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

/// The status as a shell shows it: the exit code, or 128+N after signal N.
pub fn code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The [`code`] of each status.
pub fn codes(statuses: &[ExitStatus]) -> Vec<i32> {
    statuses.iter().map(|status| code(*status)).collect()
}

/// A status in words: `exit N` or `killed by signal N`.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => format!("{status}"),
    }
}

/// The peak resident memory (VmHWM, KiB) of each pid, sampled every 10 ms until they end.
pub struct PeakMemory {
    stop: Arc<AtomicBool>,
    sampler: Option<thread::JoinHandle<Vec<u64>>>,
}

impl PeakMemory {
    pub fn watch(pids: Vec<Pid>) -> PeakMemory {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let sampler = thread::spawn(move || {
            let mut peaks = vec![0u64; pids.len()];
            while !flag.load(Ordering::SeqCst) {
                let mut any = false;
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    if let Some(kib) = vm_hwm(pid.as_raw()) {
                        *peak = (*peak).max(kib);
                        any = true;
                    }
                }
                if !any {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            peaks
        });
        PeakMemory {
            stop,
            sampler: Some(sampler),
        }
    }

    pub fn finish(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::SeqCst);
        self.sampler
            .take()
            .and_then(|sampler| sampler.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for PeakMemory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn vm_hwm(pid: i32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
