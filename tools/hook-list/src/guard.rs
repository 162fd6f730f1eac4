//! Recognising a hook's service guard without running it.
//!
//! DevStack's template puts a hook's whole body inside `if is_service_enabled svc...; then`
//! (docs/devstack.md §2). When a file's first command has exactly that shape,
//! [`services`] returns the guard's words so `hook-list` can put them in the `services` field;
//! deciding whether they are enabled is left to the shared service-list code and, at run
//! time, to the hook itself. Anything less plain (quotes, expansions, globs, `[[`, `!`, `&&`,
//! a command before the guard) is not recognised: better no answer than a wrong one.

use std::io::{self, Read};

/// How much of a file is read to find its guard: the guard is the first command, so a
/// file whose first 64 KiB are comments has none we will report.
pub(crate) const HEAD_LIMIT: usize = 64 * 1024;

/// Reads at most [`HEAD_LIMIT`] bytes of `file` into `buf`, which holds at least one byte
/// more; returns how many it read and whether that was the whole file. `size` is the size
/// `fstat` gave (0 when unknown): a file that fits is read with one `read`, without a
/// second one to see the end.
pub(crate) fn read_head(
    mut file: impl Read,
    size: u64,
    buf: &mut [u8],
) -> io::Result<(usize, bool)> {
    let buf = &mut buf[..HEAD_LIMIT + 1];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if size > 0 && filled as u64 >= size {
                    break;
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok((filled.min(HEAD_LIMIT), filled <= HEAD_LIMIT))
}

/// The services named by the file's guard, when its first command (after blank and comment
/// lines) is `if is_service_enabled WORD...; then` or the same with `then` on a later line.
/// `complete` says whether `head` is the whole file; if not, its last unfinished line is
/// ignored, since it may be cut in the middle of a word.
pub(crate) fn services(head: &[u8], complete: bool) -> Option<Vec<String>> {
    let usable = if complete {
        head
    } else {
        let end = head.iter().rposition(|&byte| byte == b'\n')?;
        &head[..end]
    };
    let mut lines = usable.split(|&byte| byte == b'\n');
    let first = next_command_line(&mut lines)?;
    let rest = keyword(first, b"if")?;
    let mut rest = keyword(rest, b"is_service_enabled")?;
    let mut words = Vec::new();
    let then_follows_here = loop {
        rest = trim_blanks(rest);
        match rest.first() {
            None | Some(b'#') => break false,
            Some(b';') => {
                let after = trim_blanks(&rest[1..]);
                if after.is_empty() || after[0] == b'#' {
                    break false;
                }
                keyword(after, b"then")?;
                break true;
            }
            Some(_) => {
                let end = rest
                    .iter()
                    .position(|&byte| is_blank(byte) || byte == b';')
                    .unwrap_or(rest.len());
                words.push(service_word(&rest[..end])?);
                rest = &rest[end..];
            }
        }
    };
    if words.is_empty() {
        return None;
    }
    if !then_follows_here {
        // A newline ends the condition list as `;` does; bash allows blank and comment
        // lines before `then`, but any other command would become part of the condition.
        let line = next_command_line(&mut lines)?;
        keyword(line, b"then")?;
    }
    Some(words)
}

/// The next line that holds a command, without its leading blanks.
fn next_command_line<'a>(lines: &mut impl Iterator<Item = &'a [u8]>) -> Option<&'a [u8]> {
    lines
        .map(trim_blanks)
        .find(|line| !line.is_empty() && line[0] != b'#')
}

/// When `line` starts with the shell word `word` (followed by a blank or the end of the
/// line), what follows it.
fn keyword<'a>(line: &'a [u8], word: &[u8]) -> Option<&'a [u8]> {
    let rest = trim_blanks(line).strip_prefix(word)?;
    match rest.first() {
        None => Some(rest),
        Some(&byte) if is_blank(byte) => Some(rest),
        Some(_) => None,
    }
}

/// A guard word, when the shell would pass it to `is_service_enabled` unchanged: no
/// quoting, expansion, globbing or control characters, ASCII only.
fn service_word(word: &[u8]) -> Option<String> {
    const SPECIAL: &[u8] = b"|&;<>()$`\\\"'*?[]{}#~!";
    let plain = word
        .iter()
        .all(|&byte| byte.is_ascii_graphic() && !SPECIAL.contains(&byte));
    if !plain {
        return None;
    }
    std::str::from_utf8(word).ok().map(str::to_owned)
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim_blanks(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&byte| !is_blank(byte))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(text: &str) -> Option<Vec<String>> {
        services(text.as_bytes(), true)
    }

    fn words(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|word| (*word).to_owned()).collect())
    }

    #[test]
    fn recognised_shapes() {
        let cases: &[(&str, &[&str])] = &[
            (
                "if is_service_enabled tempest; then\n  :\nfi\n",
                &["tempest"],
            ),
            (
                "#!/bin/bash\n# comment\n\nif is_service_enabled a b-c; then\nfi\n",
                &["a", "b-c"],
            ),
            (
                "  if\tis_service_enabled  n-cpu   q-svc ;then :; fi",
                &["n-cpu", "q-svc"],
            ),
            ("if is_service_enabled foo\nthen\nfi\n", &["foo"]),
            ("if is_service_enabled foo;\n  then\nfi\n", &["foo"]),
            (
                "if is_service_enabled foo # why\n# more\n\nthen\nfi\n",
                &["foo"],
            ),
            ("if is_service_enabled foo; then # body\n", &["foo"]),
            ("if is_service_enabled n.api a,b; then\n", &["n.api", "a,b"]),
        ];
        for (text, expected) in cases {
            assert_eq!(guard(text), words(expected), "{text:?}");
        }
    }

    #[test]
    fn unrecognised_shapes() {
        let cases = [
            "echo hi\nif is_service_enabled foo; then\nfi\n",
            "if [[ is_service_enabled foo ]]; then\n",
            "if ! is_service_enabled foo; then\n",
            "if is_service_enabled foo && is_service_enabled bar; then\n",
            "if is_service_enabled \"foo\"; then\n",
            "if is_service_enabled $SVC; then\n",
            "if is_service_enabled foo*; then\n",
            "if is_service_enabled; then\n",
            "if is_service_enabled foo\nbar\nthen\n",
            "if is_service_enabled foo; the\n",
            "if is_service_enabled foo; then;\n",
            "if is_service_enabled foo\n",
            "if is_service_enabledfoo; then\n",
            "ifis_service_enabled foo; then\n",
            "if is_service_enabled foo; then\r\n",
            "if is_service_enabled caf\u{e9}; then\n",
            "",
            "# only comments\n",
        ];
        for text in cases {
            assert_eq!(guard(text), None, "{text:?}");
        }
    }

    #[test]
    fn non_utf8_bytes_elsewhere_do_not_matter() {
        let text = b"# caf\xe9\nif is_service_enabled foo; then\n\xff\nfi\n";
        assert_eq!(services(text, true), words(&["foo"]));
    }

    #[test]
    fn an_incomplete_head_drops_its_cut_line() {
        // The file goes on: `tempest` might be the start of `tempest-x`.
        assert_eq!(services(b"if is_service_enabled tempest", false), None);
        assert_eq!(
            services(b"if is_service_enabled tempest; then\n:", false),
            words(&["tempest"])
        );
    }

    #[test]
    fn read_head_stops_at_the_limit() {
        let mut buf = vec![0; HEAD_LIMIT + 1];
        let big = vec![b'#'; HEAD_LIMIT + 10];
        for size in [0, big.len() as u64] {
            assert_eq!(
                read_head(&big[..], size, &mut buf).unwrap(),
                (HEAD_LIMIT, false)
            );
            assert_eq!(
                read_head(&big[..HEAD_LIMIT], size, &mut buf).unwrap(),
                (HEAD_LIMIT, true)
            );
        }
        assert_eq!(read_head(&b""[..], 0, &mut buf).unwrap(), (0, true));
    }

    /// A reader that hands out at most `step` bytes a call and counts the calls.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn read_head_trusts_the_size_to_skip_the_end_of_file_read() {
        let mut buf = vec![0; HEAD_LIMIT + 1];
        let data = b"if is_service_enabled a; then\nfi\n";
        let mut once = Trickle {
            data,
            step: usize::MAX,
            calls: 0,
        };
        assert_eq!(
            read_head(&mut once, data.len() as u64, &mut buf).unwrap(),
            (data.len(), true)
        );
        assert_eq!(once.calls, 1);
        // Short reads are retried, and without a size the end is read to be seen.
        let mut short = Trickle {
            data,
            step: 5,
            calls: 0,
        };
        assert_eq!(
            read_head(&mut short, 0, &mut buf).unwrap(),
            (data.len(), true)
        );
        assert_eq!(&buf[..data.len()], data);
        assert_eq!(short.calls, data.len().div_ceil(5) + 1);
    }
}
