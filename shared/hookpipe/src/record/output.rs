//! The fast paths of the `output` record, most of every stream (phase-log and hook-run
//! move a gigabyte of them when a hook floods its output): written by hand and read by hand
//! in the exact layout serde gives [`Output`] (`{"type":"output","id":"...","stream":"...",
//! "text":"...",["partial":true,]"time":"..."[,"host":"..."]}`), beside the type so that a
//! change to one is seen at the other. The unit tests hold both to serde's answer.
//!
//! - [`Batch`] writes the records of the lines of one read (the id, stream and time are
//!   escaped once for all of them, not once per line); a line that is not UTF-8 goes
//!   through serde (`text_base64`).
//! - [`decode`] reads a line in that layout without a general JSON parse and without
//!   allocating. Anything else (another field order, whitespace, `text_base64`, an escape in
//!   `id`, a lone surrogate, a control character, a `stream` this version does not know)
//!   answers `None`, and the caller decodes the line with serde, which also names what is
//!   wrong with a malformed line. So this path only has to be right about what it accepts,
//!   never about what it refuses.

use std::io::{self, Write};

use bstr::ByteSlice;

use super::{Data, Output, Record, Stream};

/// The `output` records of lines one call wrote to one stream and that were read at one
/// moment: everything but the text is encoded once, when the batch is made.
#[derive(Debug)]
pub struct Batch<'a> {
    id: &'a str,
    stream: Stream,
    time: &'a str,
    host_field: &'a [u8],
    /// `{"type":"output","id":ID,"stream":STREAM,"text":`
    prefix: Vec<u8>,
    /// `,"time":TIME` and the host field, then `}` and the newline.
    suffix: Vec<u8>,
}

impl<'a> Batch<'a> {
    /// A batch for call `id`; `host_field` is what the writer puts before each record's
    /// closing brace ([`super::host_field`], or nothing).
    pub fn new(id: &'a str, stream: Stream, time: &'a str, host_field: &'a [u8]) -> Batch<'a> {
        let mut prefix = b"{\"type\":\"output\",\"id\":".to_vec();
        json_string(&mut prefix, id);
        prefix.extend_from_slice(b",\"stream\":\"");
        prefix.extend_from_slice(stream.as_str().as_bytes());
        prefix.extend_from_slice(b"\",\"text\":");
        let mut suffix = b",\"time\":".to_vec();
        json_string(&mut suffix, time);
        suffix.extend_from_slice(host_field);
        suffix.extend_from_slice(b"}\n");
        Batch {
            id,
            stream,
            time,
            host_field,
            prefix,
            suffix,
        }
    }

    /// Writes the record of one line (without its newline), ending with a newline.
    pub fn write<W: Write>(&self, out: &mut W, line: &[u8], partial: bool) -> io::Result<()> {
        let Ok(text) = std::str::from_utf8(line) else {
            return self.write_bytes(out, line, partial);
        };
        out.write_all(&self.prefix)?;
        serde_json::to_writer(&mut *out, text).map_err(io::Error::from)?;
        if partial {
            out.write_all(b",\"partial\":true")?;
        }
        out.write_all(&self.suffix)
    }

    /// A line that is not UTF-8, the rare case: through the record type.
    fn write_bytes<W: Write>(&self, out: &mut W, line: &[u8], partial: bool) -> io::Result<()> {
        let record = Record::Output(Output {
            id: self.id.to_owned(),
            stream: self.stream,
            text: Some(Data::Bytes(line.to_vec())),
            partial,
            time: self.time.to_owned(),
        });
        let mut body = serde_json::to_vec(&record).map_err(io::Error::from)?;
        // One JSON object: its last byte is the closing brace, which goes after the host.
        body.pop();
        out.write_all(&body)?;
        out.write_all(self.host_field)?;
        out.write_all(b"}\n")
    }
}

/// Appends `text` as a JSON string literal (serialising a string into a Vec cannot fail).
fn json_string(buf: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *buf, text);
}

/// An `output` record borrowed from its line by [`decode`]; `text` is borrowed from the
/// line, or from the caller's scratch buffer when it had escapes.
#[derive(Debug, PartialEq, Eq)]
pub struct Borrowed<'a> {
    pub id: &'a str,
    pub stream: Stream,
    pub text: &'a str,
    pub partial: bool,
    pub time: &'a str,
    /// The record's `host`, when it has one (record contract, "Hosts").
    pub host: Option<&'a str>,
}

/// A cursor over a line known to be UTF-8.
struct Cursor<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, literal: &[u8]) -> Option<()> {
        let rest = self.line.as_bytes().get(self.at..)?;
        rest.starts_with(literal).then(|| self.at += literal.len())
    }

    /// A JSON string without escapes (the opening quote already eaten).
    fn plain(&mut self) -> Option<&'a str> {
        let (end, stop) = self.scan()?;
        if stop != b'"' {
            return None;
        }
        let text = self.line.get(self.at..end)?;
        self.at = end + 1;
        Some(text)
    }

    /// [`plain`](Self::plain), trying `hint` first: the id of the previous output line,
    /// which nearly every line repeats. Sound only because `hint` came out of `plain`, so
    /// it holds no quote, backslash or control character.
    fn plain_like(&mut self, hint: &str) -> Option<&'a str> {
        let rest = self.line.as_bytes().get(self.at..)?;
        if !hint.is_empty()
            && rest.starts_with(hint.as_bytes())
            && rest.get(hint.len()) == Some(&b'"')
        {
            let text = self.line.get(self.at..self.at + hint.len())?;
            self.at += hint.len() + 1;
            return Some(text);
        }
        self.plain()
    }

    /// Where the next `"` or `\` is, and which; `None` at a control character (which JSON
    /// forbids raw: serde names the error) or at the end of the line.
    fn scan(&self) -> Option<(usize, u8)> {
        let rest = self.line.as_bytes().get(self.at..)?;
        // memchr for the quote, then one branch-free pass for the rest: a byte loop with
        // three tests was the largest cost of the whole tool.
        let quote = rest.find_byte(b'"')?;
        let body = &rest[..quote];
        let (len, stop) = match body.find_byte(b'\\') {
            Some(slash) => (slash, b'\\'),
            None => (quote, b'"'),
        };
        let controls = body[..len]
            .iter()
            .fold(false, |seen, &byte| seen | (byte < 0x20));
        (!controls).then_some((self.at + len, stop))
    }

    /// A JSON string that may have escapes, decoded into `scratch` when it does.
    fn string(&mut self, scratch: &'a mut String) -> Option<&'a str> {
        let (end, stop) = self.scan()?;
        if stop == b'"' {
            let text = self.line.get(self.at..end)?;
            self.at = end + 1;
            return Some(text);
        }
        scratch.clear();
        let bytes = self.line.as_bytes();
        let mut from = self.at;
        let mut end = end;
        let mut stop = stop;
        loop {
            scratch.push_str(self.line.get(from..end)?);
            if stop == b'"' {
                self.at = end + 1;
                return Some(scratch.as_str());
            }
            // A backslash: one escape.
            let kind = *bytes.get(end + 1)?;
            let mut next = end + 2;
            let ch = match kind {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let unit = hex4(bytes.get(next..next + 4)?)?;
                    next += 4;
                    match unit {
                        0xD800..=0xDBFF => {
                            // A surrogate pair, or serde's error for a lone one.
                            if bytes.get(next..next + 2)? != b"\\u" {
                                return None;
                            }
                            let low = hex4(bytes.get(next + 2..next + 6)?)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return None;
                            }
                            next += 6;
                            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                        }
                        _ => char::from_u32(unit)?,
                    }
                }
                _ => return None,
            };
            scratch.push(ch);
            self.at = next;
            from = next;
            (end, stop) = self.scan()?;
        }
    }
}

fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, &digit| {
        let nibble = char::from(digit).to_digit(16)?;
        Some(value << 4 | nibble)
    })
}

/// Decodes `line` if it is an `output` record in our writers' layout; see the module docs.
/// `last_id` is the `id` of the previous record this function decoded (or empty).
pub fn decode<'a>(line: &'a [u8], scratch: &'a mut String, last_id: &str) -> Option<Borrowed<'a>> {
    // One UTF-8 check for the whole line (serde makes the same promise); every boundary
    // the cursor cuts at is an ASCII byte, so the slices below stay valid.
    let line = std::str::from_utf8(line).ok()?;
    let mut cur = Cursor { line, at: 0 };
    cur.eat(br#"{"type":"output","id":""#)?;
    let id = cur.plain_like(last_id)?;
    cur.eat(br#","stream":""#)?;
    let stream = Stream::parse(cur.plain()?)?;
    cur.eat(br#","text":""#)?;
    let text = cur.string(scratch)?;
    let partial = cur.eat(br#","partial":true"#).is_some();
    cur.eat(br#","time":""#)?;
    let time = cur.plain()?;
    let host = match cur.eat(br#","host":""#) {
        Some(()) => Some(cur.plain()?),
        None => None,
    };
    cur.eat(b"}")?;
    (cur.at == line.len()).then_some(Borrowed {
        id,
        stream,
        text,
        partial,
        time,
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::host_field;
    use crate::stream::RecordWriter;
    use proptest::prelude::*;

    /// What serde makes of the line, in this module's shape.
    fn by_serde(line: &[u8]) -> Option<(String, Stream, String, bool, String)> {
        match serde_json::from_slice::<Record>(line).ok()? {
            Record::Output(out) => Some((
                out.id,
                out.stream,
                out.text?.as_text()?.to_owned(),
                out.partial,
                out.time,
            )),
            _ => None,
        }
    }

    fn by_hand(line: &[u8]) -> Option<(String, Stream, String, bool, String)> {
        let mut scratch = String::new();
        let out = decode(line, &mut scratch, "")?;
        Some((
            out.id.into(),
            out.stream,
            out.text.into(),
            out.partial,
            out.time.into(),
        ))
    }

    fn written(text: &str, partial: bool) -> Vec<u8> {
        serde_json::to_vec(&Record::Output(Output {
            id: "stack/install/50-x.sh".into(),
            stream: Stream::Stderr,
            text: Some(text.into()),
            partial,
            time: "2026-11-24T22:29:14.123Z".into(),
        }))
        .unwrap()
    }

    #[test]
    fn hand_written_output_records_equal_the_serialised_ones() {
        let lines = [
            (&b"plain"[..], false),
            (b"quote \" and \\ and \x01 tab\t", true),
            (b"bad \xff", false),
        ];
        for host in [None, Some("sub-1")] {
            let field = host.map(host_field).unwrap_or_default();
            let batch = Batch::new("s/1\"x", Stream::Stderr, "T", &field);
            let mut fast = Vec::new();
            for (line, partial) in lines {
                batch.write(&mut fast, line, partial).unwrap();
            }
            let mut slow = RecordWriter::with_host(Vec::new(), host);
            for (line, partial) in lines {
                slow.write(&Record::Output(Output {
                    id: "s/1\"x".into(),
                    stream: Stream::Stderr,
                    text: Some(Data::from_bytes(line)),
                    partial,
                    time: "T".into(),
                }))
                .unwrap();
            }
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(slow.into_inner().unwrap()).unwrap()
            );
        }
    }

    #[test]
    fn our_writers_lines_take_the_fast_path() {
        for (text, partial) in [
            ("plain", false),
            ("Password: ", true),
            ("", false),
            (
                "quote \" back \\ slash / tab\t cr\r bell\u{7} esc\u{1b}[0m",
                false,
            ),
            ("café ☃ 𝄞 \u{fffe}", false),
        ] {
            let line = written(text, partial);
            let got = by_hand(&line);
            assert!(got.is_some(), "{}", String::from_utf8_lossy(&line));
            assert_eq!(got, by_serde(&line));
        }
    }

    #[test]
    fn a_host_at_the_end_takes_the_fast_path_too() {
        let mut line = written("plain", false);
        line.pop();
        line.extend_from_slice(&host_field("sub-1"));
        line.push(b'}');
        let mut scratch = String::new();
        let out = decode(&line, &mut scratch, "").unwrap();
        assert_eq!(out.host, Some("sub-1"));
        assert_eq!(by_hand(&line), by_serde(&line));
        let escaped =
            br#"{"type":"output","id":"a","stream":"stdout","text":"x","time":"t","host":"a"b"}"#;
        assert_eq!(by_hand(escaped), None);
    }

    #[test]
    fn other_layouts_fall_back() {
        for line in [
            &br#"{"type":"output","stream":"stdout","id":"a","text":"x","time":"t"}"#[..],
            br#"{"type":"output","id":"a","stream":"stdout","text_base64":"eA==","time":"t"}"#,
            br#"{"type":"output","id":"a","stream":"stdout","text":"x","time":"t","new":1}"#,
            br#"{"type":"output","id":"a","stream":"stdout","text":"x","partial":false,"time":"t"}"#,
            br#"{"type":"output", "id":"a","stream":"stdout","text":"x","time":"t"}"#,
            br#"{"type":"output","id":"a\\xFF","stream":"stdout","text":"x","time":"t"}"#,
            br#"{"type":"output","id":"a","stream":"stdout","text":"\ud800","time":"t"}"#,
            br#"{"type":"output","id":"a","stream":"stdout","text":"\ud800\u0041","time":"t"}"#,
            br#"{"type":"output","id":"a","stream":"stdout","text":"\x","time":"t"}"#,
            br#"{"type":"output","id":"a","stream":"stdout","text":"x","time":"t"}  "#,
            b"{\"type\":\"output\",\"id\":\"a\",\"stream\":\"stdout\",\"text\":\"raw\ttab\",\"time\":\"t\"}",
            b"{\"type\":\"output\",\"id\":\"a\",\"stream\":\"stdout\",\"text\":\"\xff\",\"time\":\"t\"}",
            br#"{"type":"output","id":"a","stream":"stdout","text":"unterminated"#,
            br#"{"type":"output","id":"a","stream":"stdin","text":"x","time":"t"}"#,
        ] {
            assert_eq!(by_hand(line), None, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn the_id_hint_is_only_a_shortcut() {
        let line = br#"{"type":"output","id":"s/ab.sh","stream":"stdout","text":"x","time":"t"}"#;
        for hint in ["", "s/ab.sh", "s/a", "s/ab.sh\"", "s/ab.shx", "other"] {
            let mut scratch = String::new();
            let out = decode(line, &mut scratch, hint).unwrap();
            assert_eq!(out.id, "s/ab.sh", "hint {hint:?}");
            assert_eq!(out.stream, Stream::Stdout, "hint {hint:?}");
        }
    }

    proptest! {
        #[test]
        fn any_hint_gives_serde_s_answer(hint in "[a-z/.]{0,6}", id in "[a-z/.]{0,6}") {
            let line = format!(
                r#"{{"type":"output","id":"{id}","stream":"stdout","text":"x","time":"t"}}"#
            );
            let mut scratch = String::new();
            let got = decode(line.as_bytes(), &mut scratch, &hint).map(|out| out.id.to_owned());
            prop_assert_eq!(got, by_serde(line.as_bytes()).map(|out| out.0));
        }

        // Whatever our writers write, the hand decoder reads exactly as serde does.
        #[test]
        fn agrees_with_serde_on_written_lines(text in "\\PC*|[\\x00-\\x7f]*", partial: bool) {
            let line = written(&text, partial);
            prop_assert_eq!(by_hand(&line), by_serde(&line));
        }

        // Whatever it accepts from arbitrary bytes, serde accepts the same way.
        #[test]
        fn never_accepts_what_serde_reads_otherwise(
            body in proptest::collection::vec(any::<u8>(), 0..40)
        ) {
            let mut line = br#"{"type":"output","id":"a","stream":"stdout","text":""#.to_vec();
            line.extend_from_slice(&body);
            line.extend_from_slice(br#"","time":"t"}"#);
            if let Some(got) = by_hand(&line) {
                prop_assert_eq!(Some(got), by_serde(&line));
            }
        }

        #[test]
        fn escapes_agree_with_serde(units in proptest::collection::vec(0u32..0x11000, 0..8)) {
            let mut text = String::new();
            for unit in units {
                text.push_str(&format!("\\u{:04x}", unit & 0xffff));
                text.push('a');
            }
            let line = format!(
                r#"{{"type":"output","id":"a","stream":"stdout","text":"{text}","time":"t"}}"#
            );
            if let Some(got) = by_hand(line.as_bytes()) {
                prop_assert_eq!(Some(got), by_serde(line.as_bytes()));
            } else {
                // Refused only where serde has something to say, or a pair it joins.
                let serde = by_serde(line.as_bytes());
                prop_assert!(serde.is_none() || text.contains("\\ud"), "{}", line);
            }
        }
    }
}
