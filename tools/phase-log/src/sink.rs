//! Where log lines go: the console (stdout) and the log files (`-o`, `--logfile`, a session
//! file, and the summary file), each behind a large buffer.
//!
//! [`Router`] decides which sink gets which line (VERBOSE, file-only trace, summaries);
//! [`Sink`] writes one line in the log's shape: `STAMP | WHO MARK TEXT`. Files get the raw
//! bytes of a line and never colour; the console gets invalid UTF-8 escaped and, on a
//! terminal, coloured status words. A sink that fails to write is dropped and remembers
//! its first error: the console going away (EPIPE) must not stop the log file.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use crate::render::{Paint, STAMP_LEN};

/// Identifies one call's stream, so a partial line and its continuation are joined.
pub(crate) type Key = (usize, u8);

/// One event line, before a sink gives it its shape.
#[derive(Debug)]
pub struct Line<'a> {
    /// `YYYY-MM-DD HH:MM:SS.mmm`, from the record (or the text's own stamp).
    pub stamp: &'a [u8],
    /// The hook call id, tool or path the line is about; empty for none.
    pub who: &'a [u8],
    /// `|` (stdout), `!` (stderr), `+` (trace) or a bracketed event word (`[ok]`).
    pub mark: &'a str,
    pub paint: Paint,
    /// The text, raw for files.
    pub body: &'a [u8],
    /// The text for the console (invalid UTF-8 escaped).
    pub body_console: &'a [u8],
    /// The call and stream of an output line, for joining partial lines.
    pub key: Option<Key>,
    /// This text continues the previous partial line of `key`.
    pub cont: bool,
    /// The line is not finished: the next piece of `key` continues it.
    pub partial: bool,
}

/// A piece of a report line; only the console shows `paint`.
#[derive(Debug, Clone, PartialEq)]
pub struct Seg {
    pub text: String,
    pub paint: Paint,
}

impl Seg {
    pub fn plain(text: impl Into<String>) -> Seg {
        Seg {
            text: text.into(),
            paint: Paint::Plain,
        }
    }

    pub fn painted(text: impl Into<String>, paint: Paint) -> Seg {
        Seg {
            text: text.into(),
            paint,
        }
    }
}

/// One destination of lines; see the module docs.
pub struct Sink<W: Write> {
    out: BufWriter<W>,
    /// What people call it in a message: `stdout` or the file's path.
    pub name: String,
    /// Event lines start with the stamp.
    stamped: bool,
    /// Report lines start with the stamp (files), or not (the console, where a table reads
    /// better bare).
    stamp_reports: bool,
    color: bool,
    console: bool,
    open: Option<Key>,
    error: Option<io::Error>,
}

impl<W: Write> Sink<W> {
    /// The console: stamps as asked, colour as asked, invalid UTF-8 escaped.
    pub fn console(out: W, stamped: bool, color: bool) -> Sink<W> {
        Sink {
            out: BufWriter::with_capacity(256 * 1024, out),
            name: "stdout".to_owned(),
            stamped,
            stamp_reports: false,
            color,
            console: true,
            open: None,
            error: None,
        }
    }

    /// A log file: always stamped, raw bytes, no colour.
    pub fn file(out: W, path: PathBuf) -> Sink<W> {
        Sink {
            out: BufWriter::with_capacity(256 * 1024, out),
            name: path.display().to_string(),
            stamped: true,
            stamp_reports: true,
            color: false,
            console: false,
            open: None,
            error: None,
        }
    }

    /// The first write error, once the sink has given up.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    fn attempt(&mut self, write: impl FnOnce(&mut Self) -> io::Result<()>) {
        if self.error.is_none() {
            if let Err(err) = write(self) {
                self.error = Some(err);
            }
        }
    }

    fn put_mark(&mut self, mark: &str, paint: Paint) -> io::Result<()> {
        let mark = one_line(mark.as_bytes());
        if self.color && paint != Paint::Plain {
            self.out.write_all(paint.start().as_bytes())?;
            self.out.write_all(&mark)?;
            self.out.write_all(Paint::RESET.as_bytes())
        } else {
            self.out.write_all(&mark)
        }
    }

    /// Writes one event line (or the rest of a partial one).
    pub fn line(&mut self, line: &Line<'_>) {
        self.attempt(|sink| sink.write_line(line));
    }

    fn write_line(&mut self, line: &Line<'_>) -> io::Result<()> {
        let body = if self.console {
            line.body_console
        } else {
            line.body
        };
        if let Some(open) = self.open.take() {
            if line.cont && line.key == Some(open) {
                self.out.write_all(body)?;
                return self.end_line(line);
            }
            // Something else comes between the pieces: end the piece shown so far.
            self.out.write_all(b"\n")?;
        }
        if self.stamped {
            self.out.write_all(line.stamp)?;
            self.out.write_all(b" | ")?;
        }
        if !line.who.is_empty() {
            self.out.write_all(&one_line(line.who))?;
            self.out.write_all(b" ")?;
        }
        self.put_mark(line.mark, line.paint)?;
        if !body.is_empty() {
            self.out.write_all(b" ")?;
            self.out.write_all(body)?;
        }
        self.end_line(line)
    }

    fn end_line(&mut self, line: &Line<'_>) -> io::Result<()> {
        match line.key {
            Some(key) if line.partial => {
                self.open = Some(key);
                Ok(())
            }
            _ => self.out.write_all(b"\n"),
        }
    }

    /// Ends a partial line left open, before the reports or at the end.
    pub fn close_open_line(&mut self) {
        if self.open.take().is_some() {
            self.attempt(|sink| sink.out.write_all(b"\n"));
        }
    }

    /// Writes one report line; `stamp` is used where report lines are stamped.
    pub fn report(&mut self, stamp: &[u8], segs: &[Seg]) {
        self.close_open_line();
        self.attempt(|sink| {
            if sink.stamp_reports {
                sink.out.write_all(stamp)?;
                sink.out
                    .write_all(if segs.is_empty() { b" |" } else { b" | " })?;
            }
            for seg in segs {
                sink.put_mark(&seg.text, seg.paint)?;
            }
            sink.out.write_all(b"\n")
        });
    }

    pub fn flush(&mut self) {
        self.attempt(|sink| sink.out.flush());
    }

    /// Flushes and hands back the writer, for in-process tests.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        self.out.into_inner().map_err(|err| err.into_error())
    }
}

/// Which sinks a line goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The log files, and the console when VERBOSE.
    Log,
    /// The log files only: trace lines, hidden skips.
    FileOnly,
    /// Bookkeeping (`begin`, `done`, `hook`, `hypervisor`): the log files, and the console
    /// only with `--show-records` (and VERBOSE), so a DevStack user reads calls, not
    /// plumbing.
    Records,
    /// The log files, the summary file and the console, whatever VERBOSE says.
    Summary,
}

/// Every sink of a run and the rule of which line goes where.
pub struct Router<C: Write, F: Write> {
    pub console: Sink<C>,
    /// VERBOSE: the console shows everything; otherwise summaries and reports only.
    pub verbose: bool,
    /// `--show-records`: the bookkeeping lines reach the console too (when VERBOSE).
    pub show_records: bool,
    /// Summaries reach the console (all but `--report-only`).
    pub summaries_on_console: bool,
    pub logs: Vec<Sink<F>>,
    pub summary: Option<Sink<F>>,
}

impl<C: Write, F: Write> Router<C, F> {
    pub fn line(&mut self, route: Route, line: &Line<'_>) {
        for log in &mut self.logs {
            log.line(line);
        }
        match route {
            Route::Log if self.verbose => self.console.line(line),
            Route::Records if self.verbose && self.show_records => self.console.line(line),
            Route::Log | Route::FileOnly | Route::Records => {}
            Route::Summary => {
                if let Some(summary) = &mut self.summary {
                    summary.line(line);
                }
                if self.summaries_on_console {
                    self.console.line(line);
                }
            }
        }
    }

    /// A report line: the console and the log files (not the summary file).
    pub fn report(&mut self, stamp: &[u8], segs: &[Seg]) {
        debug_assert!(stamp.len() == STAMP_LEN || stamp.is_empty());
        self.console.report(stamp, segs);
        for log in &mut self.logs {
            log.report(stamp, segs);
        }
    }

    /// Ends every open partial line.
    pub fn close_open_lines(&mut self) {
        self.console.close_open_line();
        for sink in self.logs.iter_mut().chain(self.summary.as_mut()) {
            sink.close_open_line();
        }
    }

    /// Pushes everything written so far out, so lines appear live while input is idle.
    pub fn flush(&mut self) {
        self.console.flush();
        for sink in self.logs.iter_mut().chain(self.summary.as_mut()) {
            sink.flush();
        }
    }
}

/// Names that come from the outside world (a hook's file name in its call id) are written
/// with control characters and invalid bytes escaped, so a newline in a name cannot start
/// a forged log line and an escape sequence cannot drive the terminal. Text without them,
/// nearly always, is written as it is.
fn one_line(text: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if hookpipe::bytes::needs_display(text) {
        std::borrow::Cow::Owned(hookpipe::bytes::display(text).into_bytes())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(body: &'a [u8], key: Option<Key>, cont: bool, partial: bool) -> Line<'a> {
        Line {
            stamp: b"2026-11-24 22:29:14.123",
            who: b"s/x.sh",
            mark: "|",
            paint: Paint::Plain,
            body,
            body_console: body,
            key,
            cont,
            partial,
        }
    }

    fn text(sink: Sink<Vec<u8>>) -> String {
        String::from_utf8(sink.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn file_lines_are_stamped_and_console_lines_as_asked() {
        let mut file = Sink::file(Vec::new(), "f".into());
        let mut console = Sink::console(Vec::new(), false, false);
        for sink in [&mut file, &mut console] {
            sink.line(&line(b"hello", None, false, false));
        }
        assert_eq!(text(file), "2026-11-24 22:29:14.123 | s/x.sh | hello\n");
        assert_eq!(text(console), "s/x.sh | hello\n");
    }

    #[test]
    fn partial_pieces_join_unless_something_comes_between() {
        let mut sink = Sink::file(Vec::new(), "f".into());
        sink.line(&line(b"Password: ", Some((0, 0)), false, true));
        sink.line(&line(b"ok", Some((0, 0)), true, false));
        sink.line(&line(b"half", Some((0, 0)), false, true));
        sink.line(&line(b"other", Some((1, 0)), false, false));
        sink.line(&line(b"rest", Some((0, 0)), true, true));
        sink.close_open_line();
        assert_eq!(
            text(sink),
            "2026-11-24 22:29:14.123 | s/x.sh | Password: ok\n\
             2026-11-24 22:29:14.123 | s/x.sh | half\n\
             2026-11-24 22:29:14.123 | s/x.sh | other\n\
             2026-11-24 22:29:14.123 | s/x.sh | rest\n"
        );
    }

    #[test]
    fn colour_only_where_asked() {
        let mut console = Sink::console(Vec::new(), false, true);
        let mut ok = line(b"0.006s", None, false, false);
        ok.mark = "[ok]";
        ok.paint = Paint::Green;
        console.line(&ok);
        assert_eq!(text(console), "s/x.sh \x1b[32m[ok]\x1b[0m 0.006s\n");
    }

    struct Gone;
    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_sink_keeps_its_first_error_and_stops() {
        let mut sink = Sink::console(Gone, true, false);
        sink.line(&line(b"x", None, false, false));
        sink.flush();
        sink.flush();
        assert_eq!(sink.error().unwrap().kind(), io::ErrorKind::BrokenPipe);
    }
}
