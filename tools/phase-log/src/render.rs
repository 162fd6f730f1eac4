//! The small text rules of the log, kept pure so they are tested on their own: DevStack's
//! boolean words (`trueorfalse`), `tools/outfilter.py`'s already-stamped and noise tests,
//! colours for status words, and how durations and signals read. `sink` and `report` use
//! them; nothing here does I/O.

use std::sync::LazyLock;

use bstr::Finder;

/// DevStack's `trueorfalse`: its true and false words, anything else (unset, empty, a typo)
/// is the default.
pub fn trueorfalse(default: bool, value: Option<&str>) -> bool {
    match value {
        Some("1" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE") => true,
        Some("0" | "no" | "No" | "NO" | "false" | "False" | "FALSE") => false,
        _ => default,
    }
}

/// Length of DevStack's stamp, `YYYY-MM-DD HH:MM:SS.mmm`.
pub(crate) const STAMP_LEN: usize = 23;

/// A line that already starts with a log stamp (`YYYY-MM-DD HH:MM:SS?mmm |`, any character
/// before the milliseconds, as outfilter accepts) keeps its own stamp instead of getting a
/// second one. Returns the stamp and the text after `|` (and one space).
pub(crate) fn leading_stamp(text: &[u8]) -> Option<(&[u8], &[u8])> {
    const SHAPE: &[u8; STAMP_LEN + 2] = b"dddd-dd-dd dd:dd:dd?ddd |";
    // Cheap rejection first: nearly every output line fails here.
    if text.len() < SHAPE.len() || !text[0].is_ascii_digit() {
        return None;
    }
    let fits = SHAPE.iter().zip(text).all(|(want, &got)| match want {
        b'd' => got.is_ascii_digit(),
        b'?' => true,
        other => got == *other,
    });
    if !fits {
        return None;
    }
    let rest = &text[SHAPE.len()..];
    Some((&text[..STAMP_LEN], rest.strip_prefix(b" ").unwrap_or(rest)))
}

/// Whether a trace line is xtrace save/restore noise (`_XTRACE_X=$(set +o | grep xtrace)`,
/// `set +o xtrace`), which DevStack's outfilter drops.
pub(crate) fn is_trace_noise(text: &[u8]) -> bool {
    // Built once: a searcher per call cost more than the search on a busy stream.
    static SET_O: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("set +o"));
    static XTRACE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("xtrace"));
    SET_O.find(text).is_some() || XTRACE.find(text).is_some()
}

/// Whether an output line is xtrace noise. DevStack drops every line merely mentioning
/// xtrace (docs/devstack.md §9 item 15); hooks' own trace arrives as `trace` records, so only an
/// output line that looks like trace (starts with `+`) is dropped, and genuine text stays.
pub(crate) fn is_output_noise(text: &[u8]) -> bool {
    text.first() == Some(&b'+') && is_trace_noise(text)
}

/// A colour for a word on a terminal; files never get colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Plain,
    Green,
    Red,
    Yellow,
    Bold,
}

impl Paint {
    /// The escape sequence that starts this colour; empty for `Plain`.
    pub fn start(self) -> &'static str {
        match self {
            Paint::Plain => "",
            Paint::Green => "\x1b[32m",
            Paint::Red => "\x1b[31m",
            Paint::Yellow => "\x1b[33m",
            Paint::Bold => "\x1b[1m",
        }
    }

    pub const RESET: &'static str = "\x1b[0m";

    /// The colour of an `end` status word.
    pub fn of_status(status: &str) -> Paint {
        match status {
            "ok" => Paint::Green,
            "interrupted" => Paint::Yellow,
            _ => Paint::Red,
        }
    }
}

/// Milliseconds as seconds with three decimals (`0.006s`, `75.250s`): one unit everywhere,
/// so columns compare at a glance.
pub(crate) fn secs(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// `SIGTERM` for 15; the number alone for signals people rarely meet.
pub(crate) fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal} ({name})")
}

/// "1 call", "3 calls".
pub(crate) fn plural(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Bytes as they may be shown on a terminal: invalid UTF-8 as `\xNN`, the rest as is.
/// Borrowed when the bytes are valid UTF-8, which is nearly always.
pub(crate) fn for_console(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if std::str::from_utf8(bytes).is_ok() {
        std::borrow::Cow::Borrowed(bytes)
    } else {
        std::borrow::Cow::Owned(hookpipe::bytes::escaped(bytes).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trueorfalse_words() {
        for word in ["1", "yes", "Yes", "YES", "true", "True", "TRUE"] {
            assert!(trueorfalse(false, Some(word)), "{word}");
        }
        for word in ["0", "no", "No", "NO", "false", "False", "FALSE"] {
            assert!(!trueorfalse(true, Some(word)), "{word}");
        }
        for other in [None, Some(""), Some("yEs"), Some("on")] {
            assert!(trueorfalse(true, other));
            assert!(!trueorfalse(false, other));
        }
    }

    #[test]
    fn leading_stamp_matches_outfilter_shape() {
        let (stamp, rest) = leading_stamp(b"2026-11-24 22:29:14.123 | hello").unwrap();
        assert_eq!(stamp, b"2026-11-24 22:29:14.123");
        assert_eq!(rest, b"hello");
        // Any character before the milliseconds, and nothing after the bar.
        let (stamp, rest) = leading_stamp(b"2026-11-24 22:29:14,123 |").unwrap();
        assert_eq!(stamp, b"2026-11-24 22:29:14,123");
        assert_eq!(rest, b"");
        for not in [
            &b"2026-11-24 22:29:14.123 hello"[..],
            b"x 2026-11-24 22:29:14.123 | late",
            b"2026-11-24T22:29:14.123 | iso",
            b"2026-11-24 22:29:14.12 | short",
            b"",
        ] {
            assert!(leading_stamp(not).is_none(), "{}", bstr::BStr::new(not));
        }
    }

    #[test]
    fn noise_rules() {
        assert!(is_trace_noise(b"+ set +o xtrace"));
        assert!(is_trace_noise(b"++ _XTRACE_FOO=$(set +o | grep xtrace)"));
        assert!(!is_trace_noise(b"+ echo hello"));
        assert!(is_output_noise(b"+ set +o xtrace"));
        // Genuine text that mentions xtrace is not noise in output (weakness 15).
        assert!(!is_output_noise(b"turn on xtrace with --xtrace"));
        assert!(!is_output_noise(b"echo 'set +o'"));
    }

    #[test]
    fn durations_and_signals() {
        assert_eq!(secs(6), "0.006s");
        assert_eq!(secs(75_250), "75.250s");
        assert_eq!(signal_name(15), "signal 15 (SIGTERM)");
        assert_eq!(signal_name(40), "signal 40");
        assert_eq!(plural(1, "call", "calls"), "1 call");
        assert_eq!(plural(0, "call", "calls"), "0 calls");
    }

    #[test]
    fn console_escapes_invalid_utf8_only() {
        assert_eq!(&*for_console(b"caf\xc3\xa9"), "café".as_bytes());
        assert_eq!(&*for_console(b"a\xffb"), b"a\\xFFb");
    }
}
