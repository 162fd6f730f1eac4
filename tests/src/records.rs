//! Reading what a run wrote: files as bytes or text, NDJSON record streams and the records
//! of one hook call or stage in them, and the check that a phase-log log file holds a line
//! for every record of the stream it was given.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use serde_json::Value;

/// The bytes of a file; nothing when it is missing.
pub fn read_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_default()
}

/// The text of a file, invalid UTF-8 replaced; nothing when it is missing.
pub fn read_text(path: &Path) -> String {
    String::from_utf8_lossy(&read_bytes(path)).into_owned()
}

/// True when `needle` occurs in `haystack` (bytes).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The records of an NDJSON file.
#[track_caller]
pub fn records(path: &Path) -> Vec<Value> {
    parse_records(&read_bytes(path))
}

/// The records of an NDJSON stream (a tool's stdout); blank lines are skipped, a line that
/// is not JSON fails the test naming it.
#[track_caller]
pub fn parse_records(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("bad record {line}: {err}"))
        })
        .collect()
}

/// The first record of type `kind` for hook call `id`.
pub fn find<'a>(records: &'a [Value], kind: &str, id: &str) -> Option<&'a Value> {
    records.iter().find(|r| r["type"] == kind && r["id"] == id)
}

/// The `time` of the record of type `kind` for hook call `id` (RFC 3339 with milliseconds,
/// so the strings compare as times); fails when there is none.
#[track_caller]
pub fn time_of(records: &[Value], kind: &str, id: &str) -> String {
    find(records, kind, id).unwrap_or_else(|| panic!("no {kind} record for {id}"))["time"]
        .as_str()
        .expect("a time")
        .to_owned()
}

/// The `end` record of hook call `id`; fails when there is none.
#[track_caller]
pub fn end_of<'a>(records: &'a [Value], id: &str) -> &'a Value {
    find(records, "end", id).unwrap_or_else(|| panic!("no end record for {id}"))
}

/// The text of every `output` record of hook call `id`, in order.
pub fn texts_of(records: &[Value], id: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r["type"] == "output" && r["id"] == id)
        .filter_map(|r| r["text"].as_str().map(str::to_owned))
        .collect()
}

/// True when a `warning` record's text contains `text`.
pub fn has_warning(records: &[Value], text: &str) -> bool {
    records
        .iter()
        .any(|r| r["type"] == "warning" && r["text"].as_str().is_some_and(|t| t.contains(text)))
}

/// The `done` record of stage `stage`.
pub fn done_of<'a>(records: &'a [Value], stage: &str) -> Option<&'a Value> {
    records
        .iter()
        .find(|r| r["type"] == "done" && r["stage"] == stage)
}

/// Fails unless the log holds a line for every `output`, `end`, `skip` and `done` record of
/// the stream, in phase-log's documented forms (`ID | text`, `ID ! text`, `ID [status]`,
/// `ID [skip] reason`, `TOOL STAGE [done] status N`).
#[track_caller]
pub fn assert_log_covers(log: &str, stream: &[Value]) {
    let mut continued = HashSet::new();
    for record in stream {
        let id = record["id"].as_str().unwrap_or("");
        let expected = match record["type"].as_str() {
            Some("output") => {
                let Some(text) = record["text"].as_str() else {
                    continue;
                };
                let mark = if record["stream"] == "stderr" {
                    "!"
                } else {
                    "|"
                };
                let piece = if continued.contains(id) {
                    text.to_owned()
                } else {
                    format!("{id} {mark} {text}")
                };
                if record["partial"] == true {
                    continued.insert(id.to_owned());
                } else {
                    continued.remove(id);
                }
                piece
            }
            Some("end") => format!("{id} [{}]", record["status"].as_str().unwrap_or("?")),
            Some("skip") if !id.is_empty() => {
                format!("{id} [skip] {}", record["reason"].as_str().unwrap_or("?"))
            }
            Some("done") => format!(
                "{} {} [done] status {}",
                record["tool"].as_str().unwrap_or("?"),
                record["stage"].as_str().unwrap_or("?"),
                record["status"]
            ),
            _ => continue,
        };
        // Names are written by hookpipe's one rule: a control character as `\xNN`.
        let escaped: String = expected
            .chars()
            .map(|ch| {
                if ch.is_control() {
                    format!("\\x{:02X}", u32::from(ch))
                } else {
                    ch.to_string()
                }
            })
            .collect();
        assert!(
            log.contains(&expected) || log.contains(&escaped),
            "the log lacks {expected:?} (from {record})\n--- log ---\n{log}"
        );
    }
}
