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

/// Bytes for people: like [`escaped`], and control characters (a newline in a file name)
/// shown as escapes too, so one name stays on one line of a message.
pub fn display(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            if ch.is_control() {
                out.extend(ch.escape_default());
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
        assert_eq!(display(b"a\nb\xff"), "a\\nb\\xFF");
    }
}
