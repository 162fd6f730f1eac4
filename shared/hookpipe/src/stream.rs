//! Reading and writing NDJSON record streams.
//!
//! [`RecordReader`] yields raw lines with their line numbers and the record type, so a stage
//! can forward what it does not consume byte for byte (docs/architecture.md rule 1) and name
//! the line of a malformed one. [`RecordWriter`] buffers output in large blocks but is flushed
//! by its owner whenever the reader is about to wait for input ([`RecordReader::will_block`]),
//! so records never sit in a buffer while the pipeline is idle.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

use serde::Deserialize;

use crate::record::{output, Record, Stream};

/// Input lines longer than this are refused as malformed rather than buffered without
/// bound; the largest legitimate record, a `state`, stays far below it.
pub const MAX_RECORD_BYTES: usize = 256 * 1024 * 1024;

/// A record line that is not a record: the line number and what is wrong with it.
#[derive(Debug)]
pub struct Malformed {
    pub lineno: u64,
    pub reason: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input line {}: {}", self.lineno, self.reason)
    }
}

/// Why reading stopped early.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    Malformed(Malformed),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(err) => write!(f, "reading input: {err}"),
            ReadError::Malformed(bad) => bad.fmt(f),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

/// One input line: the bytes without the newline, where it was, and its type.
#[derive(Debug)]
pub struct RawRecord<'a> {
    pub line: &'a [u8],
    pub lineno: u64,
    pub kind: Cow<'a, str>,
}

impl RawRecord<'_> {
    /// Decodes the whole record. Known types with a field of the wrong shape are malformed;
    /// unknown types decode as [`Record::Unknown`].
    pub fn decode(&self) -> Result<Record, Malformed> {
        serde_json::from_slice(self.line).map_err(|err| Malformed {
            lineno: self.lineno,
            reason: format!("bad `{}` record: {err}", self.kind),
        })
    }
}

/// Reads NDJSON records line by line; see the module docs.
pub struct RecordReader<R> {
    input: BufReader<R>,
    line: Vec<u8>,
    lineno: u64,
}

impl<R: Read> RecordReader<R> {
    pub fn new(input: R) -> Self {
        RecordReader {
            input: BufReader::with_capacity(256 * 1024, input),
            line: Vec::with_capacity(4096),
            lineno: 0,
        }
    }

    /// True when the next [`next`](Self::next) call may wait for input: flush what you
    /// have written first.
    pub fn will_block(&self) -> bool {
        !self.input.buffer().contains(&b'\n')
    }

    /// The next non-blank record, or `None` at the end of input. A final line without a
    /// newline still counts.
    // Not `Iterator::next`: the record borrows the reader's line buffer, which an Iterator
    // cannot express, and copying every line would cost the hot path.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<RawRecord<'_>>, ReadError> {
        loop {
            self.line.clear();
            let read = (&mut self.input)
                .take(MAX_RECORD_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(ReadError::Io)?;
            if read == 0 {
                return Ok(None);
            }
            self.lineno += 1;
            if self.line.len() > MAX_RECORD_BYTES {
                return Err(ReadError::Malformed(Malformed {
                    lineno: self.lineno,
                    reason: format!("line longer than {MAX_RECORD_BYTES} bytes"),
                }));
            }
            if self.line.last() == Some(&b'\n') {
                self.line.pop();
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            break;
        }
        let lineno = self.lineno;
        let line = &self.line[..];
        if let Some(kind) = fast_kind(line) {
            return Ok(Some(RawRecord {
                line,
                lineno,
                kind: Cow::Borrowed(kind),
            }));
        }
        let envelope: Envelope<'_> = serde_json::from_slice(line).map_err(|err| {
            let reason = if std::str::from_utf8(line).is_err() {
                "not UTF-8, so not a JSON record".to_owned()
            } else if err.to_string().contains("missing field `type`") {
                "a JSON object without a \"type\" field".to_owned()
            } else {
                format!("not a JSON record: {err}")
            };
            ReadError::Malformed(Malformed { lineno, reason })
        })?;
        Ok(Some(RawRecord {
            line,
            lineno,
            kind: envelope.kind,
        }))
    }
}

/// The type of a line our writers wrote: they put `"type"` first, so `{"type":"NAME",` at
/// the start names it without parsing the rest. Parsing every forwarded line in full cost
/// more than all the other work of a stage that only forwards it; a line that is not
/// what it seems is still refused by whichever stage decodes it. Anything else takes the
/// full parse.
fn fast_kind(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(b"{\"type\":\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    if rest[end] != b'"' || rest.get(end + 1) != Some(&b',') || line.last() != Some(&b'}') {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

/// Writes records as NDJSON through a large buffer; the owner flushes it (see module docs).
///
/// Every record it writes ends with the `host` field of the record contract when the
/// writer has a host ([`RecordWriter::new`] takes it from `HOOKPIPE_HOST`), so every tool
/// stamps its records the same way without knowing about hosts.
pub struct RecordWriter<W: Write> {
    out: BufWriter<W>,
    /// `,"host":"NAME"`, the bytes that go before a record's closing brace; empty without
    /// a host.
    host_field: Vec<u8>,
    /// Where a record is serialised before its host is added.
    scratch: Vec<u8>,
}

impl<W: Write> RecordWriter<W> {
    /// A writer whose records carry the host named by `HOOKPIPE_HOST`
    /// ([`record::host_from_env`](crate::record::host_from_env)).
    pub fn new(out: W) -> Self {
        RecordWriter::with_host(out, crate::record::host_from_env().as_deref())
    }

    /// A writer whose records carry `host` (none when `None`), whatever the environment.
    pub fn with_host(out: W, host: Option<&str>) -> Self {
        RecordWriter {
            out: BufWriter::with_capacity(128 * 1024, out),
            host_field: host.map(crate::record::host_field).unwrap_or_default(),
            scratch: Vec::new(),
        }
    }

    /// Writes one record. Serialisation of our own types cannot fail; I/O can.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        if self.host_field.is_empty() {
            serde_json::to_writer(&mut self.out, record).map_err(io::Error::from)?;
            return self.out.write_all(b"\n");
        }
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, record).map_err(io::Error::from)?;
        // A record serialises as one JSON object: its last byte is the closing brace.
        let body = self.scratch.strip_suffix(b"}").unwrap_or(&self.scratch);
        self.out.write_all(body)?;
        self.out.write_all(&self.host_field)?;
        self.out.write_all(b"}\n")
    }

    /// Writes the `output` records of `lines` (each without its newline, and whether it is
    /// partial), which call `id` wrote to `stream` and which were read at `time`: by the
    /// record module's fast path ([`output::Batch`]), in the exact shape
    /// [`write`](Self::write) would give.
    pub fn write_outputs<'l>(
        &mut self,
        id: &str,
        stream: Stream,
        time: &str,
        lines: impl IntoIterator<Item = (&'l [u8], bool)>,
    ) -> io::Result<()> {
        let batch = output::Batch::new(id, stream, time, &self.host_field);
        for (line, partial) in lines {
            batch.write(&mut self.out, line, partial)?;
        }
        Ok(())
    }

    /// Appends bytes as they are: whole records another writer already wrote, newlines
    /// included (a parallel group's members, written in the stage's order).
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// Forwards a raw input line unchanged.
    pub fn write_raw(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer, behind the buffer: [`flush`](Self::flush) first for it to
    /// have seen every record written so far.
    pub fn get_mut(&mut self) -> &mut W {
        self.out.get_mut()
    }

    /// The underlying writer, for tests.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner().map_err(|err| err.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Line, Record};

    fn read_all(input: &[u8]) -> Result<Vec<(u64, String)>, ReadError> {
        let mut reader = RecordReader::new(input);
        let mut out = Vec::new();
        while let Some(raw) = reader.next()? {
            out.push((raw.lineno, raw.kind.into_owned()));
        }
        Ok(out)
    }

    #[test]
    fn yields_types_with_line_numbers_and_skips_blank_lines() {
        let input = b"{\"type\":\"hook\"}\n\n{\"x\":1,\"type\":\"mystery\"}\n{\"type\":\"done\"}";
        let got = read_all(input).unwrap();
        assert_eq!(
            got,
            vec![
                (1, "hook".into()),
                (3, "mystery".into()),
                (4, "done".into())
            ]
        );
    }

    #[test]
    fn names_the_line_of_a_malformed_record() {
        for (input, needle) in [
            (
                &b"{\"type\":\"hook\"}\n{\"type\":\n"[..],
                "not a JSON record",
            ),
            (b"{\"type\":\"hook\"}\n{\"kind\":1}\n", "without a \"type\""),
            (b"{\"type\":\"hook\"}\n\xff\xfe\n", "not UTF-8"),
            (b"{\"type\":\"hook\"}\n[1,2]\n", "not a JSON record"),
        ] {
            match read_all(input) {
                Err(ReadError::Malformed(bad)) => {
                    assert_eq!(bad.lineno, 2);
                    assert!(bad.to_string().contains(needle), "{bad}");
                }
                other => panic!("expected malformed line 2, got {other:?}"),
            }
        }
    }

    #[test]
    fn our_own_lines_take_the_fast_path_and_others_the_full_parse() {
        assert_eq!(
            fast_kind(b"{\"type\":\"output\",\"id\":\"x\"}"),
            Some("output")
        );
        assert_eq!(fast_kind(b"{\"type\":\"out\\\"put\",\"id\":1}"), None);
        assert_eq!(fast_kind(b"{\"id\":1,\"type\":\"output\"}"), None);
        assert_eq!(fast_kind(b"{\"type\":\"output\"}"), None);
        let got = read_all(b"{\"id\":1,\"type\":\"late\"}\n").unwrap();
        assert_eq!(got, vec![(1, "late".into())]);
    }

    #[test]
    fn writer_round_trips_records() {
        let record = Record::Summary(Line {
            id: Some("stack/install/50-x.sh".into()),
            text: Some("Installing x".into()),
            time: "2026-11-24T22:29:14.123Z".into(),
        });
        let mut writer = RecordWriter::with_host(Vec::new(), None);
        writer.write(&record).unwrap();
        let bytes = writer.into_inner().unwrap();
        assert!(bytes.starts_with(b"{\"type\":\"summary\","));
        let mut reader = RecordReader::new(&bytes[..]);
        let raw = reader.next().unwrap().unwrap();
        assert_eq!(raw.decode().unwrap(), record);
        assert_eq!(crate::record::host_of(raw.line), None);
    }

    #[test]
    fn a_writer_with_a_host_ends_every_record_with_it() {
        let record = Record::Summary(Line {
            id: Some("stack/install/50-x.sh".into()),
            text: Some("Installing x".into()),
            time: "2026-11-24T22:29:14.123Z".into(),
        });
        let mut writer = RecordWriter::with_host(Vec::new(), Some("sub\"1"));
        writer.write(&record).unwrap();
        let bytes = writer.into_inner().unwrap();
        assert!(bytes.starts_with(b"{\"type\":\"summary\","));
        assert!(bytes.ends_with(b",\"host\":\"sub\\\"1\"}\n"), "{bytes:?}");
        let mut reader = RecordReader::new(&bytes[..]);
        let raw = reader.next().unwrap().unwrap();
        assert_eq!(raw.kind, "summary");
        assert_eq!(raw.decode().unwrap(), record);
        assert_eq!(crate::record::host_of(raw.line).as_deref(), Some("sub\"1"));
    }
}
