//! A small XML writer for the JUnit and HTML reports, and the one escaping rule both use.
//! Hook output is hostile text: any byte may come, so everything from the stream goes
//! through [`escape`], which yields well-formed XML 1.0 whatever the input.
//!
//! The rule: `& < > " '` become entities; tab and newline stay; a carriage return becomes
//! `&#13;` (a parser would turn a raw one into a newline), and in attributes tab and
//! newline become `&#9;`/`&#10;` (a parser would turn them into spaces). Other control
//! characters (C0, DEL, C1) are written as `\x1B`, bytes that are not UTF-8 as `\xNN`, as
//! everywhere hookpipe writes a name (`hookpipe::bytes::display`), and U+FFFE and U+FFFF,
//! which XML 1.0 forbids, as `\uFFFE`. Text is escaped rather than put in CDATA, so `]]>` needs no care.

/// Where escaped text goes: element content or an attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Text,
    Attr,
}

/// Appends `bytes` to `out` escaped for `place`; see the module docs.
pub(crate) fn escape(out: &mut String, bytes: &[u8], place: Place) {
    use std::fmt::Write as _;
    for chunk in bytes.utf8_chunks() {
        for ch in chunk.valid().chars() {
            match ch {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\r' => out.push_str("&#13;"),
                '\t' | '\n' if place == Place::Attr => {
                    let _ = write!(out, "&#{};", u32::from(ch));
                }
                '\t' | '\n' => out.push(ch),
                // Every other control character, C1 included (a CSI drives a terminal that
                // shows the page's source), by the rule of `hookpipe::bytes::display`.
                ch if ch.is_control() => {
                    let _ = write!(out, "\\x{:02X}", u32::from(ch));
                }
                '\u{fffe}' | '\u{ffff}' => {
                    let _ = write!(out, "\\u{:04X}", u32::from(ch));
                }
                _ => out.push(ch),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02X}");
        }
    }
}

/// A document being written: elements opened and closed in order, indented by depth.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub out: String,
    depth: usize,
}

impl Writer {
    fn indent(&mut self) {
        self.out.extend(std::iter::repeat_n("  ", self.depth));
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape(&mut self.out, value.as_bytes(), Place::Attr);
            self.out.push('"');
        }
    }

    /// `<name attrs>` on its own line; what follows is indented one more level.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.tag(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    /// `</name>` on its own line.
    pub(crate) fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `</name>` right where the writer is, for elements whose content is preformatted.
    pub(crate) fn close_inline(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name attrs/>` on its own line.
    pub(crate) fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        self.tag(name, attrs);
        self.out.push_str("/>\n");
    }

    /// `<name attrs>text</name>` on one line (the text keeps its own newlines).
    pub(crate) fn element(&mut self, name: &str, attrs: &[(&str, &str)], text: &[u8]) {
        self.indent();
        self.inline(name, attrs, text);
        self.out.push('\n');
    }

    /// `<name attrs>text</name>` where the writer is, for mixed content.
    pub(crate) fn inline(&mut self, name: &str, attrs: &[(&str, &str)], text: &[u8]) {
        self.tag(name, attrs);
        self.out.push('>');
        escape(&mut self.out, text, Place::Text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Markup written as is: only for constant text of our own.
    pub(crate) fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        let mut out = String::new();
        escape(&mut out, bytes, Place::Text);
        out
    }

    #[test]
    fn escapes_markup_controls_and_bad_bytes() {
        assert_eq!(text(b"a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(text(b"]]>"), "]]&gt;");
        assert_eq!(text(b"nul\0esc\x1b[0m"), "nul\\x00esc\\x1B[0m");
        assert_eq!(text(b"tab\tline\ncr\r"), "tab\tline\ncr&#13;");
        assert_eq!(text(b"bad \xff\xfe!"), "bad \\xFF\\xFE!");
        assert_eq!(text("\u{fffe}\u{ffff}é".as_bytes()), "\\uFFFE\\uFFFFé");
        let mut attr = String::new();
        escape(&mut attr, b"two\nlines\tx", Place::Attr);
        assert_eq!(attr, "two&#10;lines&#9;x");
    }

    #[test]
    fn writer_nests_and_indents() {
        let mut w = Writer::default();
        w.open("a", &[("x", "1<2")]);
        w.empty("b", &[]);
        w.element("c", &[], b"t&t");
        w.close("a");
        assert_eq!(w.out, "<a x=\"1&lt;2\">\n  <b/>\n  <c>t&amp;t</c>\n</a>\n");
    }
}
