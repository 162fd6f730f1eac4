//! `--merge FILE...` and `--host NAME=FILE`: the record files of several hosts read as one
//! stream, which the rest of phase-log logs and reports on as if it had come down a pipe.
//!
//! The rule (docs/multinode.md, "How times are merged"):
//!
//! - Every record ends up with a `host`: its own, else its file's (the `NAME` of
//!   `--host NAME=FILE`, else the first `host` any record of the file carries, else the
//!   file's path as given).
//! - Each file is read in its own order and is never reordered: a host's lane reads as the
//!   host wrote it, whatever its clock did.
//! - Between files, the record with the earliest *merge time* goes first: its own `time`,
//!   raised to the latest time its file showed before it (a stage's `begin` may carry an
//!   earlier time than the output of the stage before it), so each file's merge times never
//!   go back. A record without a time (`hook`, `hypervisor`) takes its file's latest time.
//!   Equal merge times go by host name, then by the order the files were given.
//! - Times are never changed: a host whose clock is off keeps its own times in every
//!   report, and its records are placed among the others' by them.
//!
//! Files are read a line at a time, so memory stays one line per file however long the
//! run. A line that is not a record is passed on as it is, for the logger to name.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use hookpipe::exit::Fatal;
use hookpipe::record::{host_field, host_of};
use hookpipe::stream::MAX_RECORD_BYTES;
use hookpipe::time::parse_rfc3339;

/// One input file and the host of its records that name none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// From `--host NAME=FILE`; `None` for `--merge FILE`, whose host is found in the file.
    pub host: Option<String>,
}

/// Parses `--host NAME=FILE`.
pub(crate) fn parse_host_source(arg: &str) -> Result<Source, String> {
    match arg.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(Source {
            path: PathBuf::from(path),
            host: Some(name.to_owned()),
        }),
        _ => Err(format!(
            "`{arg}`: expected NAME=FILE (a host name and its records file)"
        )),
    }
}

/// A record's `time`, if it has one; nothing else of the line is kept.
#[derive(Deserialize)]
struct Timed<'a> {
    #[serde(borrow, default)]
    time: Option<&'a str>,
}

/// One file being merged.
struct Stream {
    path: PathBuf,
    /// The host its records without one are given.
    host: String,
    /// `,"host":"NAME"` for those records.
    host_field: Vec<u8>,
    input: BufReader<File>,
    lineno: u64,
    /// The latest time this file showed, in epoch milliseconds.
    latest: u64,
    /// The next line (without its newline) and its merge time; `None` at the end.
    head: Option<(Vec<u8>, u64)>,
}

fn open(path: &Path) -> Result<File, Fatal> {
    File::open(path)
        .map_err(|err| Fatal::bad_input(format!("cannot read {}: {err}", path.display())))
}

/// The first `host` a record of the file names, read ahead of the merge.
fn first_host(path: &Path) -> Result<Option<String>, Fatal> {
    let mut input = BufReader::new(open(path)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut input)
            .take(MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|err| Fatal::bad_input(format!("reading {}: {err}", path.display())))?;
        if read == 0 {
            return Ok(None);
        }
        if let Some(host) = host_of(&line) {
            return Ok(Some(host.into_owned()));
        }
    }
}

impl Stream {
    fn open(source: &Source) -> Result<Stream, Fatal> {
        let host = match &source.host {
            Some(host) => host.clone(),
            None => first_host(&source.path)?.unwrap_or_else(|| source.path.display().to_string()),
        };
        let mut stream = Stream {
            path: source.path.clone(),
            host_field: host_field(&host),
            host,
            input: BufReader::with_capacity(256 * 1024, open(&source.path)?),
            lineno: 0,
            latest: 0,
            head: None,
        };
        stream.advance()?;
        Ok(stream)
    }

    /// Reads the next non-blank line into `head`.
    fn advance(&mut self) -> Result<(), Fatal> {
        self.head = None;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut self.input)
                .take(MAX_RECORD_BYTES as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|err| {
                    Fatal::bad_input(format!("reading {}: {err}", self.path.display()))
                })?;
            if read == 0 {
                return Ok(());
            }
            self.lineno += 1;
            if line.len() > MAX_RECORD_BYTES {
                return Err(Fatal::bad_input(format!(
                    "{} line {}: longer than {MAX_RECORD_BYTES} bytes",
                    self.path.display(),
                    self.lineno
                )));
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let time = serde_json::from_slice::<Timed<'_>>(&line)
            .ok()
            .and_then(|timed| timed.time.and_then(parse_rfc3339));
        if let Some(ms) = time {
            self.latest = self.latest.max(ms);
        }
        let is_object = line.first() == Some(&b'{') && line.last() == Some(&b'}');
        if is_object && host_of(&line).is_none() {
            line.pop();
            line.extend_from_slice(&self.host_field);
            line.push(b'}');
        }
        self.head = Some((line, self.latest));
        Ok(())
    }
}

/// The merged stream, as a reader of NDJSON lines; see the module docs.
pub(crate) struct Merged {
    streams: Vec<Stream>,
    out: Vec<u8>,
    at: usize,
}

impl Merged {
    /// Opens every file (a missing or unreadable one fails here, before anything is read).
    pub(crate) fn open(sources: &[Source]) -> Result<Merged, Fatal> {
        let streams = sources
            .iter()
            .map(Stream::open)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Merged {
            streams,
            out: Vec::new(),
            at: 0,
        })
    }

    /// The stream whose head goes next: earliest merge time, then host, then file order.
    fn next_stream(&self) -> Option<usize> {
        self.streams
            .iter()
            .enumerate()
            .filter_map(|(at, stream)| {
                let (_, key) = stream.head.as_ref()?;
                Some(((*key, stream.host.as_str(), at), at))
            })
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, at)| at)
    }

    /// Moves up to about 64 KiB of merged lines into the output buffer.
    fn fill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.at = 0;
        while self.out.len() < 64 * 1024 {
            let Some(at) = self.next_stream() else {
                break;
            };
            let stream = &mut self.streams[at];
            if let Some((line, _)) = stream.head.take() {
                self.out.extend_from_slice(&line);
                self.out.push(b'\n');
            }
            stream
                .advance()
                .map_err(|fatal| io::Error::other(fatal.to_string()))?;
        }
        Ok(())
    }
}

impl Read for Merged {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.out.len() {
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, id: &str, time: &str, host: Option<&str>) -> String {
        let host = host.map_or(String::new(), |host| format!(r#","host":"{host}""#));
        format!(r#"{{"type":"{kind}","id":"{id}","time":"{time}"{host}}}"#)
    }

    fn t(ms: u64) -> String {
        format!("2026-12-04T10:00:{:02}.{:03}Z", ms / 1000, ms % 1000)
    }

    /// Merges files holding `lines`; answers (host, id) in merged order.
    fn merge(files: &[(Option<&str>, Vec<String>)]) -> Vec<(String, String)> {
        let dir = tempfile::tempdir().unwrap();
        let sources: Vec<Source> = files
            .iter()
            .enumerate()
            .map(|(n, (host, lines))| {
                let path = dir.path().join(format!("f{n}.ndjson"));
                std::fs::write(&path, lines.join("\n") + "\n").unwrap();
                Source {
                    path,
                    host: host.map(str::to_owned),
                }
            })
            .collect();
        let mut text = String::new();
        Merged::open(&sources)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                (
                    value["host"].as_str().unwrap_or("").to_owned(),
                    value["id"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(host, id)| ((*host).to_owned(), (*id).to_owned()))
            .collect()
    }

    #[test]
    fn interleaves_by_time() {
        let got = merge(&[
            (
                None,
                vec![
                    record("start", "a1", &t(100), Some("ctl")),
                    record("end", "a2", &t(300), Some("ctl")),
                ],
            ),
            (
                None,
                vec![
                    record("start", "b1", &t(200), Some("sub")),
                    record("end", "b2", &t(400), Some("sub")),
                ],
            ),
        ]);
        assert_eq!(
            got,
            pairs(&[("ctl", "a1"), ("sub", "b1"), ("ctl", "a2"), ("sub", "b2")])
        );
    }

    #[test]
    fn equal_times_go_by_host_name_then_file_order() {
        let got = merge(&[
            (None, vec![record("start", "z", &t(100), Some("zeta"))]),
            (None, vec![record("start", "a", &t(100), Some("alpha"))]),
            (Some("alpha"), vec![record("start", "a2", &t(100), None)]),
        ]);
        assert_eq!(
            got,
            pairs(&[("alpha", "a"), ("alpha", "a2"), ("zeta", "z")])
        );
    }

    #[test]
    fn a_record_without_host_takes_its_files() {
        let got = merge(&[
            (
                None,
                vec![
                    record("start", "untagged-first", &t(1), None),
                    record("start", "tagged", &t(2), Some("ctl")),
                ],
            ),
            (Some("sub"), vec![record("start", "named", &t(3), None)]),
            (None, vec![record("start", "nameless", &t(4), None)]),
        ]);
        assert_eq!(got[0], ("ctl".into(), "untagged-first".into()));
        assert_eq!(got[1], ("ctl".into(), "tagged".into()));
        assert_eq!(got[2], ("sub".into(), "named".into()));
        // No host anywhere in the file: its path names it.
        assert!(got[3].0.ends_with("f2.ndjson"), "{:?}", got[3]);
    }

    #[test]
    fn a_skewed_host_keeps_its_own_order() {
        // sub's clock jumps back 10 s in the middle of its run, and its later records
        // carry times before ctl's: they still follow sub's earlier ones.
        let got = merge(&[
            (
                None,
                vec![
                    record("start", "c1", &t(20_000), Some("ctl")),
                    record("end", "c2", &t(30_000), Some("ctl")),
                ],
            ),
            (
                None,
                vec![
                    record("start", "s1", &t(25_000), Some("sub")),
                    record("output", "s2", &t(15_000), Some("sub")),
                    record("end", "s3", &t(26_000), Some("sub")),
                ],
            ),
        ]);
        assert_eq!(
            got,
            pairs(&[
                ("ctl", "c1"),
                ("sub", "s1"),
                ("sub", "s2"),
                ("sub", "s3"),
                ("ctl", "c2")
            ])
        );
    }

    #[test]
    fn records_without_time_and_bad_lines_stay_in_place() {
        let got = merge(&[
            (
                None,
                vec![
                    r#"{"type":"hook","name":"h","kind":"extras","host":"ctl"}"#.to_owned(),
                    record("start", "c1", &t(50), Some("ctl")),
                ],
            ),
            (None, vec![record("start", "s1", &t(10), Some("sub"))]),
        ]);
        // The timeless hook sorts at the start of its file, before sub's first record.
        assert_eq!(got[0], ("ctl".into(), String::new()));
        assert_eq!(got[1], ("sub".into(), "s1".into()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.ndjson");
        std::fs::write(&path, "not json\n\n{\"type\":\"x\"}\n").unwrap();
        let mut text = String::new();
        Merged::open(&[Source {
            path,
            host: Some("h".into()),
        }])
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
        assert_eq!(text, "not json\n{\"type\":\"x\",\"host\":\"h\"}\n");
    }

    #[test]
    fn a_missing_file_fails_before_anything_is_read() {
        let err = Merged::open(&[Source {
            path: PathBuf::from("/nonexistent/records.ndjson"),
            host: None,
        }])
        .err()
        .unwrap();
        assert!(err.to_string().contains("/nonexistent/records.ndjson"));
    }

    #[test]
    fn host_arguments_need_a_name_and_a_file() {
        assert_eq!(
            parse_host_source("ctl=a/records.ndjson").unwrap(),
            Source {
                path: PathBuf::from("a/records.ndjson"),
                host: Some("ctl".into())
            }
        );
        for bad in ["ctl", "=x", "ctl="] {
            assert!(parse_host_source(bad).is_err(), "{bad}");
        }
    }
}
