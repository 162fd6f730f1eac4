//! Live progress on a terminal: one status line on stderr naming the running call and how
//! long it has run, with the counts so far, redrawn in place (`\r`, the text, erase to the
//! end of the line) ten times a second by a thread that does nothing else. The reading
//! loop only tells it when calls start and end ([`Handle`]), so records are never held
//! for it, and it keeps counting while a hook is silent.
//!
//! The log shares the terminal: [`Console`] wraps the console writer and erases the status
//! line before any log byte reaches the terminal, under the same lock the drawing thread
//! takes, so the two never interleave. While the console has an unfinished line (a prompt
//! written without a newline) nothing is drawn, so the prompt stays whole. `lib` turns
//! progress on only when stderr is a terminal: never in a pipe or a file.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::render::Paint;

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// Moves to the start of the line and erases it.
const ERASE: &str = "\r\x1b[K";

#[derive(Debug)]
struct State {
    /// The call running now and when phase-log saw it start.
    running: Option<(String, Instant)>,
    /// Since when nothing has run.
    idle_since: Instant,
    ok: u64,
    failed: u64,
    interrupted: u64,
    skipped: u64,
    /// A status line is on the terminal.
    drawn: bool,
    /// The console's last byte ended a line (or nothing was written yet).
    at_line_start: bool,
    /// The console is the same kind of device: only then can its open line be broken.
    console_tty: bool,
    color: bool,
    stopped: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the log with it: the state is plain counters.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the reading loop tells the status line; cheap, and called only on `start`, `end`
/// and `skip` records.
#[derive(Debug, Clone)]
pub struct Handle(Arc<Shared>);

impl Handle {
    pub fn started(&self, id: &str) {
        self.0.lock().running = Some((id.to_owned(), Instant::now()));
    }

    pub fn ended(&self, id: &str, status: &str) {
        let mut state = self.0.lock();
        match status {
            "ok" => state.ok += 1,
            "interrupted" => state.interrupted += 1,
            _ => state.failed += 1,
        }
        if state
            .running
            .as_ref()
            .is_some_and(|(running, _)| running == id)
        {
            state.running = None;
            state.idle_since = Instant::now();
        }
    }

    pub fn skipped(&self) {
        self.0.lock().skipped += 1;
    }

    /// The input ended: erase the line and draw no more.
    pub fn stop(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
        let mut state = self.0.lock();
        state.stopped = true;
        erase(&mut state);
    }
}

fn erase(state: &mut State) {
    if state.drawn {
        let _ = io::stderr().lock().write_all(ERASE.as_bytes());
        state.drawn = false;
    }
}

/// The console writer, erasing the status line before each write; see the module docs.
pub(crate) struct Console<W: Write> {
    inner: W,
    progress: Option<Handle>,
}

impl<W: Write> Console<W> {
    pub(crate) fn new(inner: W, progress: Option<Handle>) -> Console<W> {
        Console { inner, progress }
    }
}

impl<W: Write> Write for Console<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(progress) = &self.progress else {
            return self.inner.write(buf);
        };
        let mut state = progress.0.lock();
        erase(&mut state);
        let written = self.inner.write(buf)?;
        if let Some(&last) = buf[..written].last() {
            state.at_line_start = last == b'\n';
        }
        // Back at once below what was written, as cargo's bar does: waiting for the next
        // tick would make the line blink while a hook is busy.
        draw(&mut state);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The status line and its drawing thread.
#[derive(Debug)]
pub(crate) struct Progress {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing on stderr. `console_tty`: the console is a terminal too.
    pub(crate) fn start(color: bool, console_tty: bool) -> io::Result<Progress> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                running: None,
                idle_since: Instant::now(),
                ok: 0,
                failed: 0,
                interrupted: 0,
                skipped: 0,
                drawn: false,
                at_line_start: true,
                console_tty,
                color,
                stopped: false,
            }),
            stop: AtomicBool::new(false),
        });
        let drawer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || draw_loop(&drawer))?;
        Ok(Progress {
            shared,
            thread: Some(thread),
        })
    }

    pub(crate) fn handle(&self) -> Handle {
        Handle(Arc::clone(&self.shared))
    }

    /// Stops the thread and erases the line.
    pub(crate) fn finish(mut self) {
        self.handle().stop();
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn draw_loop(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::park_timeout(TICK);
        draw(&mut shared.lock());
    }
}

/// Draws the line, unless the run ended or the console has a line open.
fn draw(state: &mut State) {
    if state.stopped || (state.console_tty && !state.at_line_start) {
        return;
    }
    let line = render(state, Instant::now(), columns());
    // One write: the terminal never shows half a line.
    if io::stderr().lock().write_all(line.as_bytes()).is_ok() {
        state.drawn = true;
    }
}

/// The terminal's width, from stderr.
fn columns() -> usize {
    let mut size = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize we pass a pointer to, and nothing else; fd 2
    // stays open for the life of the process.
    let found = unsafe { nix::libc::ioctl(2, nix::libc::TIOCGWINSZ, &mut size) } == 0;
    if found && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// `12.3s`.
fn elapsed(since: Instant, now: Instant) -> String {
    let tenths = now.saturating_duration_since(since).as_millis() / 100;
    format!("{}.{}s", tenths / 10, tenths % 10)
}

/// The whole redraw: `\r`, the status text cut to the width, erase to the end of line.
fn render(state: &State, now: Instant, columns: usize) -> String {
    let paint = |text: &str, paint: Paint| {
        if state.color && paint != Paint::Plain {
            format!("{}{text}{}", paint.start(), Paint::RESET)
        } else {
            text.to_owned()
        }
    };
    let (word, what, time) = match &state.running {
        Some((id, since)) => ("running", id.as_str(), elapsed(*since, now)),
        None => ("waiting", "for input", elapsed(state.idle_since, now)),
    };
    let mut counts: Vec<(String, Paint)> = vec![(format!("{} ok", state.ok), Paint::Green)];
    for (count, word, color) in [
        (state.failed, "failed", Paint::Red),
        (state.interrupted, "interrupted", Paint::Yellow),
        (state.skipped, "skipped", Paint::Plain),
    ] {
        if count > 0 {
            counts.push((format!("{count} {word}"), color));
        }
    }
    let counts_len: usize = counts.iter().map(|(text, _)| text.len() + 2).sum();
    // Room for the id: the line stays one character short of the width, so the cursor
    // never wraps.
    let fixed = word.len() + 1 + 1 + time.len() + 3 + counts_len;
    let room = columns.saturating_sub(1).saturating_sub(fixed);
    let chars = what.chars().count();
    let what = if chars <= room {
        what.to_owned()
    } else if room == 0 {
        String::new()
    } else {
        // The end of an id names the hook: keep it.
        let keep: String = what.chars().skip(chars - (room - 1)).collect();
        format!("~{keep}")
    };
    let mut line = String::from("\r");
    line.push_str(&paint(word, Paint::Bold));
    line.push(' ');
    line.push_str(&what);
    line.push(' ');
    line.push_str(&time);
    line.push_str("  |");
    for (text, color) in counts {
        line.push_str("  ");
        line.push_str(&paint(&text, color));
    }
    line.push_str("\x1b[K");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(color: bool) -> State {
        State {
            running: None,
            idle_since: Instant::now(),
            ok: 3,
            failed: 1,
            interrupted: 0,
            skipped: 2,
            drawn: false,
            at_line_start: true,
            console_tty: true,
            color,
            stopped: false,
        }
    }

    #[test]
    fn names_the_running_call_and_its_time() {
        let mut st = state(false);
        let start = Instant::now();
        st.running = Some(("stack/install/50-template.sh".into(), start));
        let line = render(&st, start + Duration::from_millis(12_345), 200);
        assert_eq!(
            line,
            "\rrunning stack/install/50-template.sh 12.3s  |  3 ok  1 failed  2 skipped\x1b[K"
        );
    }

    #[test]
    fn a_long_id_is_cut_from_the_left_to_fit() {
        let mut st = state(false);
        let start = Instant::now();
        st.running = Some((format!("stack/install/{}-end.sh", "x".repeat(200)), start));
        let line = render(&st, start, 80);
        let visible = line.trim_start_matches('\r').trim_end_matches("\x1b[K");
        assert_eq!(visible.chars().count(), 79, "{visible}");
        assert!(visible.contains("~xxx"), "{visible}");
        assert!(visible.contains("x-end.sh 0.0s"), "{visible}");
    }

    #[test]
    fn colour_only_when_asked() {
        let st = state(true);
        let line = render(&st, Instant::now(), 100);
        assert!(line.contains("\x1b[32m3 ok\x1b[0m"), "{line:?}");
        assert!(line.contains("\x1b[31m1 failed\x1b[0m"), "{line:?}");
        assert!(!render(&state(false), Instant::now(), 100).contains("\x1b[3"));
    }

    #[test]
    fn console_writes_erase_a_drawn_line_and_track_the_line_start() {
        let mut quiet = state(false);
        // Nothing drawn on the test's own stderr.
        quiet.stopped = true;
        let progress = Progress {
            shared: Arc::new(Shared {
                state: Mutex::new(quiet),
                stop: AtomicBool::new(true),
            }),
            thread: None,
        };
        let mut console = Console::new(Vec::new(), Some(progress.handle()));
        console.write_all(b"Password: ").unwrap();
        assert!(!progress.shared.lock().at_line_start);
        console.write_all(b"ok\n").unwrap();
        assert!(progress.shared.lock().at_line_start);
        assert_eq!(console.inner, b"Password: ok\n");
    }
}
