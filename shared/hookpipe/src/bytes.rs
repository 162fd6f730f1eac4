//! Bytes from the outside world made into names: `\xNN` escapes for ids and hosts, which
//! must stay JSON strings, and the one rule for showing a name to people. (The record
//! fields that carry such bytes exactly are [`crate::record::Data`].)

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
