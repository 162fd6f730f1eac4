//! A small bash lexer and the static reading built on it: which functions a file defines
//! and which files it sources, without running anything.
//!
//! The lexer knows just enough of bash's grammar to tell code from data: comments, single,
//! double and `$'...'` quotes (over several lines), backslash escapes and line
//! continuations, `$(...)`, `` `...` ``, `${...}` and `$((...))` expansions, `((...))`,
//! array literals, extglob groups and here-documents (`<<EOF`, `<<-EOF` with its tab
//! stripping, quoted terminators, several on one line). The reader on top of it walks the
//! tokens with one bit of grammar, "is this word in command position", which is where bash
//! accepts `function name`, `name ()` and `source FILE`. Everything is bytes: plugin files
//! need not be UTF-8. [`crate::plugin`] turns a [`Reading`] into coverage.
//!
//! What no static reading can see: functions made by `eval`, by files it does not follow,
//! or under an alias; and whether a definition in a branch or a subshell ever runs.
//! `--check` asks bash about exactly these.

/// One piece of a word after quote removal, as much as source resolution needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal bytes, quoted or not.
    Lit(Vec<u8>),
    /// A plain parameter expansion, `$NAME` or `${NAME}`: the name.
    Param(Vec<u8>),
    /// Any other expansion (`$(...)`, `${x:-y}`, `$1`, arithmetic, an array literal).
    Other,
}

/// A shell word as written and after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// The bytes as they appear in the file.
    pub raw: Vec<u8>,
    /// Quote removal only: quotes and escapes gone, expansions kept as written. This is
    /// what bash compares a here-document terminator against.
    pub value: Vec<u8>,
    pub parts: Vec<Part>,
    /// Some quoting (`'`, `"`, `\`, `$'`) appears in the word.
    pub quoted: bool,
    /// Some expansion appears in the word.
    pub expanded: bool,
    /// The 1-based line the word starts on.
    pub line: usize,
}

impl Word {
    /// A word with neither quoting nor expansions: what a keyword or a function name is.
    fn plain(&self) -> Option<&[u8]> {
        (!self.quoted && !self.expanded).then_some(&self.value[..])
    }

    fn is(&self, keyword: &[u8]) -> bool {
        self.plain() == Some(keyword)
    }

    fn push_lit(&mut self, bytes: &[u8]) {
        self.value.extend_from_slice(bytes);
        if let Some(Part::Lit(last)) = self.parts.last_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.parts.push(Part::Lit(bytes.to_vec()));
        }
    }

    fn push_expansion(&mut self, part: Part, raw: &[u8]) {
        self.expanded = true;
        self.value.extend_from_slice(raw);
        self.parts.push(part);
    }
}

/// Control operators that matter to the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `;`, `&`, `&&`, `||`, `|`, `|&`, `;;`, `;&`, `;;&`: a new command follows.
    Separator,
    LParen,
    RParen,
    /// A redirection operator other than a here-document; its target word follows.
    Redirect,
    /// `<<` or `<<-`, whose terminator word the lexer has already consumed.
    HereDoc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(Word),
    Op(Op),
    Newline,
    /// `((...))`, an arithmetic command.
    Arith,
}

/// Reserved words after which bash still expects a command.
const KEEP_COMMAND: &[&[u8]] = &[
    b"{", b"}", b"if", b"then", b"else", b"elif", b"fi", b"do", b"done", b"while", b"until", b"!",
    b"time", b"esac",
];

/// Reserved words that cannot name a function.
const RESERVED: &[&[u8]] = &[
    b"{",
    b"}",
    b"if",
    b"then",
    b"else",
    b"elif",
    b"fi",
    b"do",
    b"done",
    b"while",
    b"until",
    b"!",
    b"time",
    b"esac",
    b"case",
    b"for",
    b"select",
    b"in",
    b"function",
    b"[[",
    b"]]",
    b"coproc",
];

/// Words that open a compound command, the only thing a function body can be.
const COMPOUND: &[&[u8]] = &[
    b"{", b"[[", b"if", b"for", b"while", b"until", b"case", b"select",
];

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    /// Here-documents opened on the current line, whose bodies start after its newline.
    pending: Vec<(Vec<u8>, bool)>,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a [u8]) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
            pending: Vec::new(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        if byte == b'\n' {
            self.line += 1;
        }
        Some(byte)
    }

    fn bump_n(&mut self, count: usize) {
        for _ in 0..count {
            self.bump();
        }
    }

    fn token(&mut self) -> Option<Tok> {
        loop {
            while let Some(byte) = self.peek() {
                match byte {
                    b' ' | b'\t' => self.pos += 1,
                    b'\\' if self.peek_at(1) == Some(b'\n') => self.bump_n(2),
                    _ => break,
                }
            }
            let byte = self.peek()?;
            let next = self.peek_at(1);
            let (op, len) = match (byte, next) {
                (b'#', _) => {
                    while self.peek().is_some_and(|byte| byte != b'\n') {
                        self.pos += 1;
                    }
                    continue;
                }
                (b'\n', _) => {
                    self.bump();
                    self.heredoc_bodies();
                    return Some(Tok::Newline);
                }
                (b'(', Some(b'(')) => {
                    self.bump_n(2);
                    self.skip_balanced(2);
                    return Some(Tok::Arith);
                }
                (b'(', _) => (Op::LParen, 1),
                (b')', _) => (Op::RParen, 1),
                (b';', Some(b';')) if self.peek_at(2) == Some(b'&') => (Op::Separator, 3),
                (b';', Some(b';' | b'&')) => (Op::Separator, 2),
                (b';', _) => (Op::Separator, 1),
                (b'&', Some(b'&')) => (Op::Separator, 2),
                (b'&', Some(b'>')) if self.peek_at(2) == Some(b'>') => (Op::Redirect, 3),
                (b'&', Some(b'>')) => (Op::Redirect, 2),
                (b'&', _) => (Op::Separator, 1),
                (b'|', Some(b'|' | b'&')) => (Op::Separator, 2),
                (b'|', _) => (Op::Separator, 1),
                (b'<' | b'>', Some(b'(')) => return Some(Tok::Word(self.word())),
                (b'<', Some(b'<')) => match self.peek_at(2) {
                    Some(b'<') => (Op::Redirect, 3),
                    Some(b'-') => {
                        self.bump_n(3);
                        self.here_doc(true);
                        return Some(Tok::Op(Op::HereDoc));
                    }
                    _ => {
                        self.bump_n(2);
                        self.here_doc(false);
                        return Some(Tok::Op(Op::HereDoc));
                    }
                },
                (b'<', Some(b'&' | b'>')) => (Op::Redirect, 2),
                (b'>', Some(b'>' | b'&' | b'|')) => (Op::Redirect, 2),
                (b'<' | b'>', _) => (Op::Redirect, 1),
                _ => return Some(Tok::Word(self.word())),
            };
            self.bump_n(len);
            return Some(Tok::Op(op));
        }
    }

    /// After `<<` or `<<-`: the terminator word, whose body starts after this line.
    fn here_doc(&mut self, strip_tabs: bool) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        if self
            .peek()
            .is_some_and(|byte| !b"\n;&|()<>".contains(&byte))
        {
            let word = self.word();
            self.pending.push((word.value, strip_tabs));
        }
    }

    /// At the start of a line: skip the bodies of the here-documents opened on the last
    /// one, in order. A body without its terminator runs to the end of the file, as in bash.
    fn heredoc_bodies(&mut self) {
        for (terminator, strip_tabs) in std::mem::take(&mut self.pending) {
            while self.pos < self.src.len() {
                let rest = &self.src[self.pos..];
                let len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let mut line = &rest[..len];
                self.bump_n((len + 1).min(rest.len()));
                if strip_tabs {
                    while let [b'\t', tail @ ..] = line {
                        line = tail;
                    }
                }
                if line == &terminator[..] {
                    break;
                }
            }
        }
    }

    fn word(&mut self) -> Word {
        let start = self.pos;
        let mut word = Word {
            line: self.line,
            ..Word::default()
        };
        // A process substitution opens the word.
        if matches!(self.peek(), Some(b'<' | b'>')) && self.peek_at(1) == Some(b'(') {
            self.bump_n(2);
            self.command_substitution();
            word.push_expansion(Part::Other, &self.src[start..self.pos]);
        }
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b')' => break,
                b'(' => {
                    let so_far = &self.src[start..self.pos];
                    let from = self.pos;
                    if so_far.ends_with(b"=") && !word.quoted {
                        // An array literal: `NAME=(a b)`, with words, quotes and comments.
                        self.bump();
                        self.array_literal();
                    } else if so_far.last().is_some_and(|byte| b"?*+@!".contains(byte)) {
                        // An extglob group such as `@(a|b)`.
                        self.bump();
                        self.skip_balanced(1);
                    } else {
                        break;
                    }
                    word.push_expansion(Part::Other, &self.src[from..self.pos]);
                }
                b'\\' => {
                    self.bump();
                    match self.bump() {
                        Some(b'\n') => {}
                        Some(escaped) => {
                            word.quoted = true;
                            word.push_lit(&[escaped]);
                        }
                        None => word.push_lit(b"\\"),
                    }
                }
                b'\'' => {
                    word.quoted = true;
                    self.bump();
                    let from = self.pos;
                    while self.peek().is_some_and(|byte| byte != b'\'') {
                        self.bump();
                    }
                    let content = self.src[from..self.pos].to_vec();
                    self.bump();
                    word.push_lit(&content);
                }
                b'"' => {
                    word.quoted = true;
                    self.bump();
                    self.double_quoted(&mut word);
                }
                b'$' => self.dollar(&mut word, false),
                b'`' => {
                    let from = self.pos;
                    self.backquote();
                    word.push_expansion(Part::Other, &self.src[from..self.pos]);
                }
                _ => {
                    self.bump();
                    word.push_lit(&[byte]);
                }
            }
        }
        word.raw = self.src[start..self.pos].to_vec();
        word
    }

    /// Inside `"..."`, after the opening quote; consumes the closing one.
    fn double_quoted(&mut self, word: &mut Word) {
        while let Some(byte) = self.peek() {
            match byte {
                b'"' => {
                    self.bump();
                    return;
                }
                b'\\' => {
                    self.bump();
                    match self.peek() {
                        Some(b'\n') => {
                            self.bump();
                        }
                        Some(escaped @ (b'$' | b'`' | b'"' | b'\\')) => {
                            self.bump();
                            word.push_lit(&[escaped]);
                        }
                        _ => word.push_lit(b"\\"),
                    }
                }
                b'$' => self.dollar(word, true),
                b'`' => {
                    let from = self.pos;
                    self.backquote();
                    word.push_expansion(Part::Other, &self.src[from..self.pos]);
                }
                _ => {
                    self.bump();
                    word.push_lit(&[byte]);
                }
            }
        }
    }

    /// At a `$`: an expansion, a `$'...'` or `$"..."` quote, or a literal dollar sign.
    fn dollar(&mut self, word: &mut Word, in_double_quotes: bool) {
        let start = self.pos;
        let part = match self.peek_at(1) {
            Some(b'\'') if !in_double_quotes => {
                word.quoted = true;
                self.bump_n(2);
                let from = self.pos;
                while let Some(byte) = self.peek() {
                    if byte == b'\'' {
                        break;
                    }
                    self.bump_n(if byte == b'\\' { 2 } else { 1 });
                }
                let content = self.src[from..self.pos.min(self.src.len())].to_vec();
                self.bump();
                word.push_lit(&content);
                return;
            }
            Some(b'"') if !in_double_quotes => {
                word.quoted = true;
                self.bump_n(2);
                self.double_quoted(word);
                return;
            }
            Some(b'(') if self.peek_at(2) == Some(b'(') => {
                self.bump_n(3);
                self.skip_balanced(2);
                Part::Other
            }
            Some(b'(') => {
                self.bump_n(2);
                self.command_substitution();
                Part::Other
            }
            Some(b'[') => {
                self.bump_n(2);
                let mut depth = 1;
                while let Some(byte) = self.bump() {
                    match byte {
                        b'[' => depth += 1,
                        b']' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                Part::Other
            }
            Some(b'{') => {
                self.bump_n(2);
                let from = self.pos;
                self.braces(in_double_quotes);
                let inner = &self.src[from..self.pos.saturating_sub(1).max(from)];
                if is_identifier(inner) && self.src.get(self.pos.wrapping_sub(1)) == Some(&b'}') {
                    Part::Param(inner.to_vec())
                } else {
                    Part::Other
                }
            }
            Some(byte) if byte == b'_' || byte.is_ascii_alphabetic() => {
                self.bump();
                let from = self.pos;
                while self
                    .peek()
                    .is_some_and(|byte| byte == b'_' || byte.is_ascii_alphanumeric())
                {
                    self.bump();
                }
                Part::Param(self.src[from..self.pos].to_vec())
            }
            Some(byte) if byte.is_ascii_digit() || b"@*#?$!-".contains(&byte) => {
                self.bump_n(2);
                Part::Other
            }
            _ => {
                self.bump();
                word.push_lit(b"$");
                return;
            }
        };
        word.push_expansion(part, &self.src[start..self.pos]);
    }

    /// Inside `${...}`, after the brace; consumes the closing one.
    fn braces(&mut self, in_double_quotes: bool) {
        let mut scratch = Word::default();
        let mut depth = 1;
        while let Some(byte) = self.peek() {
            match byte {
                b'\\' => self.bump_n(2),
                b'\'' if !in_double_quotes => {
                    self.bump();
                    while self.peek().is_some_and(|byte| byte != b'\'') {
                        self.bump();
                    }
                    self.bump();
                }
                b'"' => {
                    self.bump();
                    self.double_quoted(&mut scratch);
                }
                b'$' => self.dollar(&mut scratch, in_double_quotes),
                b'`' => self.backquote(),
                b'{' => {
                    depth += 1;
                    self.bump();
                }
                b'}' => {
                    self.bump();
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// At a backquote: skips the whole `` `...` `` substitution.
    fn backquote(&mut self) {
        self.bump();
        while let Some(byte) = self.bump() {
            match byte {
                b'\\' => {
                    self.bump();
                }
                b'`' => return,
                _ => {}
            }
        }
    }

    /// Skips bytes until `depth` open parentheses are closed, minding quotes: arithmetic
    /// and extglob groups, where parentheses are data.
    fn skip_balanced(&mut self, mut depth: usize) {
        let mut scratch = Word::default();
        while let Some(byte) = self.peek() {
            match byte {
                b'(' => {
                    depth += 1;
                    self.bump();
                }
                b')' => {
                    self.bump();
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                b'\\' => self.bump_n(2),
                b'\'' => {
                    self.bump();
                    while self.peek().is_some_and(|byte| byte != b'\'') {
                        self.bump();
                    }
                    self.bump();
                }
                b'"' => {
                    self.bump();
                    self.double_quoted(&mut scratch);
                }
                b'$' => self.dollar(&mut scratch, false),
                b'`' => self.backquote(),
                _ => {
                    self.bump();
                }
            }
        }
    }

    /// Inside `$(...)` or `<(...)`: shell code, lexed as such (it may hold comments,
    /// here-documents and `case` patterns with unbalanced `)`), up to the closing `)`.
    fn command_substitution(&mut self) {
        let outer = std::mem::take(&mut self.pending);
        let mut depth = 0usize;
        let mut cases = 0usize;
        let mut command = true;
        while let Some(tok) = self.token() {
            match tok {
                Tok::Op(Op::RParen) if depth > 0 => depth -= 1,
                Tok::Op(Op::RParen) if cases > 0 => command = true,
                Tok::Op(Op::RParen) => break,
                Tok::Op(Op::LParen) => {
                    depth += 1;
                    command = true;
                }
                Tok::Op(Op::Redirect | Op::HereDoc) => {}
                Tok::Op(_) | Tok::Newline => command = true,
                Tok::Arith => command = false,
                Tok::Word(word) => {
                    if command && word.is(b"case") {
                        cases += 1;
                        command = false;
                    } else if command && word.is(b"esac") {
                        cases = cases.saturating_sub(1);
                    } else {
                        command = command && word.plain().is_some_and(keeps_command);
                    }
                }
            }
        }
        self.pending = outer;
    }

    /// Inside `NAME=(...)`, after the parenthesis: words up to the closing one.
    fn array_literal(&mut self) {
        let mut depth = 0usize;
        while let Some(tok) = self.token() {
            match tok {
                Tok::Op(Op::LParen) => depth += 1,
                Tok::Op(Op::RParen) if depth == 0 => return,
                Tok::Op(Op::RParen) => depth -= 1,
                _ => {}
            }
        }
    }
}

fn keeps_command(word: &[u8]) -> bool {
    KEEP_COMMAND.contains(&word)
}

fn is_identifier(bytes: &[u8]) -> bool {
    match bytes {
        [first, rest @ ..] => {
            (*first == b'_' || first.is_ascii_alphabetic())
                && rest.iter().all(|b| *b == b'_' || b.is_ascii_alphanumeric())
        }
        [] => false,
    }
}

/// `NAME=...`, `NAME+=...` or `NAME[...]=...`: an assignment, after which a command may
/// still follow on the same line.
fn is_assignment(word: &Word) -> bool {
    let raw = &word.raw;
    let name_len = raw
        .iter()
        .position(|b| !(*b == b'_' || b.is_ascii_alphanumeric()))
        .unwrap_or(raw.len());
    if name_len == 0 || raw[0].is_ascii_digit() {
        return false;
    }
    let rest = &raw[name_len..];
    let rest = match rest.strip_prefix(b"[") {
        Some(subscript) => match subscript.iter().position(|b| *b == b']') {
            Some(close) => &subscript[close + 1..],
            None => return false,
        },
        None => rest,
    };
    rest.starts_with(b"=") || rest.starts_with(b"+=")
}

/// A word bash would take as a function name: no quoting, no expansion, not a reserved
/// word, no `=` (bash accepts almost any other byte in non-POSIX mode).
fn function_name(word: &Word) -> Option<&[u8]> {
    let name = word.plain()?;
    if name.is_empty() || RESERVED.contains(&name) || name.contains(&b'=') {
        return None;
    }
    Some(name)
}

/// A function definition found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: Vec<u8>,
    pub line: usize,
}

/// A `source FILE` or `. FILE` command: the word naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub word: Word,
    pub line: usize,
}

/// What a static reading of one file found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reading {
    /// Every definition, repeated names included.
    pub definitions: Vec<Definition>,
    pub sources: Vec<Source>,
}

impl Reading {
    /// The names defined, each once, in the order of their first definition.
    pub fn function_names(&self) -> Vec<&[u8]> {
        let mut names: Vec<&[u8]> = Vec::new();
        for definition in &self.definitions {
            if !names.contains(&&definition.name[..]) {
                names.push(&definition.name);
            }
        }
        names
    }
}

/// Reads a whole file: its function definitions and `source` commands.
///
/// A definition is `function NAME [()]` or `NAME ()` in command position, followed
/// (newlines allowed) by a compound command: `{`, `(`, `((`, `[[`, `if`, `for`, `while`,
/// `until`, `case` or `select`. Definitions nested in `if`, `case`, loops, subshells or other
/// functions' bodies count (the text defines them); those inside `$(...)` do not (a
/// subshell's functions never reach the caller).
pub fn read(src: &[u8]) -> Reading {
    let mut lexer = Lexer::new(src);
    let mut toks = Vec::new();
    while let Some(tok) = lexer.token() {
        toks.push(tok);
    }
    let mut reading = Reading::default();
    let mut command = true;
    let mut i = 0;
    while let Some(tok) = toks.get(i) {
        i += 1;
        let word = match tok {
            Tok::Word(word) => word,
            Tok::Op(Op::Redirect) => {
                // The target is not a command word.
                if let Some(Tok::Word(_)) = toks.get(i) {
                    i += 1;
                }
                continue;
            }
            Tok::Op(Op::HereDoc) => continue,
            Tok::Op(_) | Tok::Newline => {
                command = true;
                continue;
            }
            Tok::Arith => {
                command = false;
                continue;
            }
        };
        if !command {
            continue;
        }
        let definition = if word.is(b"function") {
            match toks.get(i) {
                Some(Tok::Word(name)) => function_name(name).and_then(|bytes| {
                    let mut j = i + 1;
                    if toks.get(j) == Some(&Tok::Op(Op::LParen))
                        && toks.get(j + 1) == Some(&Tok::Op(Op::RParen))
                    {
                        j += 2;
                    }
                    body_at(&toks, j).map(|body| (bytes, name.line, body))
                }),
                _ => None,
            }
        } else {
            function_name(word).and_then(|bytes| {
                (toks.get(i) == Some(&Tok::Op(Op::LParen))
                    && toks.get(i + 1) == Some(&Tok::Op(Op::RParen)))
                .then(|| body_at(&toks, i + 2))
                .flatten()
                .map(|body| (bytes, word.line, body))
            })
        };
        if let Some((name, line, body)) = definition {
            reading.definitions.push(Definition {
                name: name.to_vec(),
                line,
            });
            // Resume at the body, which is read like any other code.
            i = body;
            command = true;
            continue;
        }
        if word.is(b"source") || word.is(b".") {
            if let Some(Tok::Word(file)) = toks.get(i) {
                reading.sources.push(Source {
                    word: file.clone(),
                    line: word.line,
                });
            }
        }
        command = word.plain().is_some_and(keeps_command) || is_assignment(word);
    }
    reading
}

/// Where a function body starts: the index of the compound command after `toks[from]`
/// and any newlines, or `None` when what follows cannot be a body.
fn body_at(toks: &[Tok], mut from: usize) -> Option<usize> {
    while toks.get(from) == Some(&Tok::Newline) {
        from += 1;
    }
    match toks.get(from)? {
        Tok::Op(Op::LParen) | Tok::Arith => Some(from),
        Tok::Word(word) if word.plain().is_some_and(|w| COMPOUND.contains(&w)) => Some(from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        read(src.as_bytes())
            .function_names()
            .into_iter()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect()
    }

    #[test]
    fn every_definition_form() {
        let cases: &[(&str, &[&str])] = &[
            ("function a {\n:\n}\n", &["a"]),
            ("function a() {\n:\n}\n", &["a"]),
            ("function a () {\n:\n}\n", &["a"]),
            ("function a\n{\n:\n}\n", &["a"]),
            ("a() {\n:\n}\n", &["a"]),
            ("a () {\n:\n}\n", &["a"]),
            ("a(){ :; }\n", &["a"]),
            ("a () (\n:\n)\n", &["a"]),
            ("a ()\n{\n:\n}\n", &["a"]),
            ("a ()\n\n  {\n:\n}\n", &["a"]),
            ("a() [[ -n x ]]\n", &["a"]),
            ("a() if true; then :; fi\n", &["a"]),
            ("a() ((1))\n", &["a"]),
            ("x=1; a() { :; }; b() { :; }\n", &["a", "b"]),
            ("x=1 a() { :; }\n", &["a"]),
            ("true && a() { :; }\n", &["a"]),
            ("a-b.c:d() { :; }\n", &["a-b.c:d"]),
        ];
        for (src, want) in cases {
            assert_eq!(names(src), *want, "{src:?}");
        }
    }

    #[test]
    fn definitions_nested_in_control_flow() {
        let src = "\
if [[ $X == y ]]; then
    function in_if {
        :
    }
else
    in_else() { :; }
fi
case $Y in
    a) in_case() { :; } ;;
    (b|c)
        function in_case_b { :; }
        ;;
esac
for i in 1; do looped() { :; }; done
outer() {
    inner() { :; }
}
";
        assert_eq!(
            names(src),
            [
                "in_if",
                "in_else",
                "in_case",
                "in_case_b",
                "looped",
                "outer",
                "inner"
            ]
        );
    }

    #[test]
    fn not_definitions() {
        let cases = [
            "echo a() {\n",
            "echo function a {\n",
            "a() b\n",
            "function {\n:\n}\n",
            "'a'() { :; }\n",
            "$a() { :; }\n",
            "x=( a () { :; } )\n",
            "a ( ) x\n",
            "if() { :; }\n",
        ];
        for src in cases {
            assert_eq!(names(src), Vec::<String>::new(), "{src:?}");
        }
    }

    #[test]
    fn comments_hide_definitions() {
        let src = "# function hidden {\n  #hidden2() {\nx=a#b; shown() { :; } # c() {\n";
        assert_eq!(names(src), ["shown"]);
    }

    #[test]
    fn strings_hide_definitions_across_lines() {
        let src = "\
echo 'first
function single {
}'
echo \"second
function double {
} \\\" still
\"
echo $'third \\'
function ansi {
}'
echo $\"locale
function locale { }\"
after() { :; }
";
        assert_eq!(names(src), ["after"]);
    }

    #[test]
    fn here_documents_hide_definitions() {
        let src = "\
cat <<EOF
function plain {
}
EOF
cat <<-EOF
\t\tfunction stripped {
\t\t}
\tEOF
cat <<'EOF' >/dev/null
function quoted {
EOF
cat << \"E O\"
function dq {
E O
cat <<A; cat <<-B
function first {
A
\tfunction second {
\tB
cat <<\\END
function escaped {
END
x() { :; }
";
        assert_eq!(names(src), ["x"]);
    }

    #[test]
    fn a_terminator_with_leading_tab_needs_dash() {
        // Without `-`, a tab-indented terminator does not end the body.
        let src = "cat <<EOF\n\tEOF\nfunction inside {\nEOF\nfunction outside { :; }\n";
        assert_eq!(names(src), ["outside"]);
    }

    #[test]
    fn here_string_and_arithmetic_are_not_here_documents() {
        let src = "x=$(( 1 << 2 ))\n(( y = 1 << 3 ))\ncat <<< \"z\"\nf() { :; }\n";
        assert_eq!(names(src), ["f"]);
    }

    #[test]
    fn substitutions_hide_definitions() {
        let src = "\
x=$(
  # a comment with ) in it
  sub() { :; }
  case $a in b) echo ;; esac
  cat <<EOF
)
EOF
)
y=`inner() { :; }`
z=${a:-$(b() { :; })}
w=<(procsub() { :; })
after() { :; }
";
        assert_eq!(names(src), ["after"]);
    }

    #[test]
    fn array_literals_and_extglob() {
        let src = "arr=(\n  one # two() {\n  'three'\n)\ndeclare -a b=(x y)\ncase $z in @(a|b)) ok() { :; } ;; esac\n";
        assert_eq!(names(src), ["ok"]);
    }

    #[test]
    fn line_continuations_join_lines() {
        assert_eq!(names("fun\\\nc() { :; }\n"), ["func"]);
        assert_eq!(names("echo \\\nf() { :; }\n"), Vec::<String>::new());
    }

    #[test]
    fn invalid_utf8_is_fine() {
        let src = b"# \xff\xfe\necho '\xff'\nf\xffg() { :; }\nh() { :; }\n";
        let reading = read(src);
        let got: Vec<&[u8]> = reading.function_names();
        assert_eq!(got, [&b"f\xffg"[..], &b"h"[..]]);
    }

    #[test]
    fn repeated_definitions_are_named_once() {
        assert_eq!(names("if x; then f() { :; }; else f() { :; }; fi\n"), ["f"]);
        assert_eq!(read(b"f() { :; }\nf() { :; }\n").definitions.len(), 2);
    }

    #[test]
    fn unterminated_constructs_end_quietly() {
        for src in [
            "echo 'open",
            "echo \"open",
            "x=$(",
            "cat <<EOF\nbody",
            "x=${",
            "`",
        ] {
            assert_eq!(names(src), Vec::<String>::new(), "{src:?}");
        }
    }

    #[test]
    fn sources_are_found_with_their_words() {
        let src = "\
source $TOP_DIR/lib/nova_plugins/functions-libvirt
. \"${NOVA_PLUGINS}/helper\"
echo source not-this
# source nor-this
if true; then source lib/x; fi
";
        let reading = read(src.as_bytes());
        let words: Vec<(&[u8], usize)> = reading
            .sources
            .iter()
            .map(|s| (&s.word.raw[..], s.line))
            .collect();
        assert_eq!(
            words,
            [
                (&b"$TOP_DIR/lib/nova_plugins/functions-libvirt"[..], 1),
                (&b"\"${NOVA_PLUGINS}/helper\""[..], 2),
                (&b"lib/x"[..], 5),
            ]
        );
        assert_eq!(
            reading.sources[0].word.parts,
            [
                Part::Param(b"TOP_DIR".to_vec()),
                Part::Lit(b"/lib/nova_plugins/functions-libvirt".to_vec())
            ]
        );
        assert_eq!(
            reading.sources[1].word.parts,
            [
                Part::Param(b"NOVA_PLUGINS".to_vec()),
                Part::Lit(b"/helper".to_vec())
            ]
        );
        let dynamic = read(b"source \"$(dirname \"$0\")/x\"\n");
        assert!(dynamic.sources[0].word.parts.contains(&Part::Other));
    }

    #[test]
    fn word_values_remove_quotes_only() {
        let reading = read(b"source 'a b'\"c$D\"\\e\n");
        let word = &reading.sources[0].word;
        assert_eq!(word.value, b"a bc$De");
        assert_eq!(
            word.parts,
            [
                Part::Lit(b"a bc".to_vec()),
                Part::Param(b"D".to_vec()),
                Part::Lit(b"e".to_vec())
            ]
        );
    }

    #[test]
    fn definition_lines_are_counted_through_strings_and_heredocs() {
        let src = "echo 'a\nb'\ncat <<E\nx\nE\n\nf() { :; }\n";
        assert_eq!(read(src.as_bytes()).definitions[0].line, 7);
    }
}
