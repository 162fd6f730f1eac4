//! The text-or-bytes rule of the record contract (see [`crate::record`], "Text or bytes"):
//! outside bytes travel as a JSON string when they are UTF-8 and as base64 otherwise, never
//! lossily. Every record field that carries file names or hook output goes through here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Splits bytes into the `(F, F_base64)` pair of a record field: exactly one is `Some`.
pub fn split(bytes: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_owned()), None),
        Err(_) => (None, Some(STANDARD.encode(bytes))),
    }
}

/// Joins the `(F, F_base64)` pair back into bytes. `None` when neither is present;
/// an invalid base64 value is an error naming the field.
pub fn join(
    field: &str,
    text: Option<&str>,
    base64: Option<&str>,
) -> Result<Option<Vec<u8>>, String> {
    match (text, base64) {
        (Some(text), _) => Ok(Some(text.as_bytes().to_vec())),
        (None, Some(encoded)) => STANDARD
            .decode(encoded)
            .map(Some)
            .map_err(|err| format!("field {field}_base64 is not valid base64: {err}")),
        (None, None) => Ok(None),
    }
}

/// An identifier for bytes that may not be UTF-8: the text itself, with every invalid
/// byte written as `\xNN`. Used for hook ids, which must stay JSON strings.
pub fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    out
}

/// Bytes for people: the one escaping rule for every name hookpipe writes (hook ids and
/// paths on the console, in the log, in warnings, in every report). Control characters (C0,
/// DEL and C1: a newline, an ESC that starts a terminal sequence, a CSI) are written as
/// `\xNN` of their code point, bytes that are not UTF-8 as `\xNN` of the byte, as JUnit and
/// HTML write them: one name stays one line and cannot drive a terminal. Everything else is
/// itself.
pub fn display(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch.is_control() {
                out.push_str(&format!("\\x{:02X}", u32::from(ch)));
            } else {
                out.push(ch);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    out
}

/// Whether [`display`] would change `bytes` (so the common clean name is not copied).
pub fn needs_display(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.chars().any(char::is_control),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stays_text() {
        assert_eq!(split(b"caf\xc3\xa9"), (Some("café".into()), None));
    }

    #[test]
    fn invalid_utf8_round_trips_through_base64() {
        let raw = b"bad \xff\xfe byte";
        let (text, b64) = split(raw);
        assert_eq!(text, None);
        let back = join("text", None, b64.as_deref()).unwrap();
        assert_eq!(back.as_deref(), Some(&raw[..]));
    }

    #[test]
    fn join_reports_bad_base64_with_field_name() {
        let err = join("path", None, Some("***")).unwrap_err();
        assert!(err.contains("path_base64"), "{err}");
    }

    #[test]
    fn escapes_invalid_bytes_and_controls() {
        assert_eq!(escaped(b"a\xffb"), "a\\xFFb");
        assert_eq!(display(b"a\nb\xff"), "a\\x0Ab\\xFF");
        assert_eq!(
            display("osc \u{1b}]0;t\u{7}csi \u{9b}".as_bytes()),
            "osc \\x1B]0;t\\x07csi \\x9B"
        );
        assert!(!needs_display("caf\u{e9} tab-free".as_bytes()));
        assert!(needs_display(b"a\tb") && needs_display(b"\xff"));
    }
}
