//! POSIX extended regular expressions as bash's `[[ string =~ regex ]]` reads them: glibc's
//! `regcomp(REG_EXTENDED)` in the C locale, searched unanchored, answering only "does it
//! match". [`crate::services`] uses it to give DevStack's answers, where every service name is
//! a live regular expression; no regex crate is used because their dialects differ from
//! glibc's in exactly the corners DevStack users hit.
//!
//! The dialect, as glibc parses it (each point checked against bash in `tests/services/ere.tsv`):
//!
//! - literals, `.` (any byte but NUL, newline included), `[...]` bracket expressions
//!   (`]` first is literal, `-` first or last is literal, ranges by byte value, `[:alpha:]`
//!   classes, one-byte `[.c.]` and `[=c=]`, a backslash is an ordinary byte), `( )` groups,
//!   `|` alternation (empty branches allowed), `*`, `+`, `?`, `{m}`, `{m,}`, `{,n}`, `{m,n}`
//!   (at most 32767), stacked repeats (`a**`, `a{1}{2}`);
//! - `^` and `$` are anchors wherever they stand (so `a^b` never matches), and cannot be
//!   repeated; GNU's `\<`, `\>`, `\b`, `\B`, `` \` ``, `\'`, `\w`, `\W`, `\s`, `\S`; back
//!   references `\1`..`\9` to a group closed earlier in the same branch;
//! - any other escaped byte is itself (`\.`, `\{`, `\n` is the letter n); an unmatched `)` and
//!   a lone `}` are literals;
//! - errors: a repeat with nothing to repeat (`*a`, `(+a)`, `a|?b`, `^*`), a bad interval
//!   (`a{`, `a{2,1}`, `a{1a}`, `a{32768}`), an unclosed `(` or `[`, an invalid class, range
//!   or collating element, a trailing backslash, a back reference to an unknown group.
//!
//! bash's `=~` returns 2 for an invalid regex, which a condition reads as false, so
//! [`search`] answers `false` for one. A pattern whose expansion of counted repeats would
//! exceed [`MAX_PROGRAM`] instructions is refused (glibc would exhaust memory on the same
//! ones sooner or later), and a search with back references that needs more than
//! [`MAX_BACKREF_STEPS`] steps gives up with `false`; neither happens to a service name.
//!
//! Matching is a backtracking machine. Without back references it memoises failed
//! (instruction, position) pairs, which bounds it by program size times subject length;
//! with them it backtracks fully, allowing one empty iteration of a loop (so `(a*)*\1`
//! matches "b", as in glibc).

use std::fmt;

/// The largest compiled program [`Regex::new`] accepts, in instructions.
pub const MAX_PROGRAM: usize = 1 << 16;
/// The most steps a search with back references takes before it answers `false`.
pub const MAX_BACKREF_STEPS: usize = 10_000_000;
/// glibc's `RE_DUP_MAX`: the largest count in `{m,n}`.
const DUP_MAX: u32 = 0x7fff;
/// glibc's `BRACKET_NAME_BUF_SIZE`: a `[:name:]` of this length or more is an error.
const BRACKET_NAME_MAX: usize = 32;

/// Why a pattern is not a regular expression; glibc's `REG_E*` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `REG_EBRACK`: an unclosed `[`, or a bad `[:name:]`.
    Bracket,
    /// `REG_EPAREN`: an unclosed `(`.
    Paren,
    /// `REG_BADRPT`: `*`, `+`, `?` or `{` with nothing to repeat.
    BadRepeat,
    /// `REG_BADBR` / `REG_EBRACE`: a malformed interval.
    BadInterval,
    /// `REG_ESIZE`: an interval count above 32767.
    TooBig,
    /// `REG_ERANGE`: a range whose end sorts before its start, or a misplaced `-`.
    Range,
    /// `REG_ECTYPE`: an unknown `[:class:]`.
    Class,
    /// `REG_ECOLLATE`: a `[.x.]` or `[=x=]` that is not one byte.
    Collate,
    /// `REG_EESCAPE`: a trailing backslash.
    Escape,
    /// `REG_ESUBREG`: a back reference to a group not closed before it in its branch.
    BackReference,
    /// `REG_ESPACE`: the compiled program would exceed [`MAX_PROGRAM`].
    Space,
}

/// A pattern that is not a regular expression, and where the parser gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Byte offset in the pattern where the error was found.
    pub offset: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Bracket => "unmatched [ or bad [:name:]",
            ErrorKind::Paren => "unmatched (",
            ErrorKind::BadRepeat => "repetition with nothing to repeat",
            ErrorKind::BadInterval => "invalid interval",
            ErrorKind::TooBig => "interval count above 32767",
            ErrorKind::Range => "invalid range",
            ErrorKind::Class => "unknown character class",
            ErrorKind::Collate => "invalid collating element",
            ErrorKind::Escape => "trailing backslash",
            ErrorKind::BackReference => "invalid back reference",
            ErrorKind::Space => "regular expression too big",
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl std::error::Error for Error {}

/// bash's `[[ subject =~ pattern ]]`: true when the pattern matches somewhere in the subject;
/// false when it does not, or is not a valid regular expression.
pub fn search(pattern: &[u8], subject: &[u8]) -> bool {
    Regex::new(pattern).is_ok_and(|re| re.is_match(subject))
}

/// A compiled regular expression.
#[derive(Debug, Clone)]
pub struct Regex {
    prog: Vec<Inst>,
    sets: Vec<ByteSet>,
    /// Capture groups, counting from 1; slots 2n and 2n+1 hold group n.
    groups: usize,
    /// Loop registers, one per unbounded loop (back-reference mode only).
    loops: usize,
    backrefs: bool,
}

impl Regex {
    /// Compiles a pattern, or says why glibc would refuse it.
    pub fn new(pattern: &[u8]) -> Result<Regex, Error> {
        let mut parser = Parser::new(pattern);
        let ast = parser.parse()?;
        let mut compiler = Compiler {
            prog: Vec::new(),
            sets: parser.sets,
            loops: 0,
            backrefs: parser.backrefs,
            offset: pattern.len(),
        };
        compiler.node(&ast)?;
        compiler.emit(Inst::Match)?;
        Ok(Regex {
            prog: compiler.prog,
            sets: compiler.sets,
            groups: parser.groups,
            loops: compiler.loops,
            backrefs: compiler.backrefs,
        })
    }

    /// True when the expression matches anywhere in `subject`.
    pub fn is_match(&self, subject: &[u8]) -> bool {
        let mut machine = Machine {
            re: self,
            subject,
            visited: if self.backrefs {
                Vec::new()
            } else {
                vec![0u64; (self.prog.len() * (subject.len() + 1)).div_ceil(64)]
            },
            caps: vec![None; 2 * (self.groups + 1)],
            regs: vec![0; self.loops],
            stack: Vec::new(),
            steps: 0,
        };
        (0..=subject.len()).any(|start| machine.run(start))
    }
}

/// A set of bytes, for brackets and the `\w`, `\s` classes (and bash's glob brackets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ByteSet([u64; 4]);

impl ByteSet {
    pub(crate) fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }
    pub(crate) fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
    pub(crate) fn negate(&mut self) {
        for word in &mut self.0 {
            *word = !*word;
        }
    }
    pub(crate) fn union(&mut self, other: &ByteSet) {
        for (word, bits) in self.0.iter_mut().zip(other.0) {
            *word |= bits;
        }
    }
    /// The C locale's `[:name:]` class, or `None` for an unknown name.
    pub(crate) fn class(name: &[u8]) -> Option<ByteSet> {
        let test: fn(u8) -> bool = match name {
            b"alpha" => |b| b.is_ascii_alphabetic(),
            b"upper" => |b| b.is_ascii_uppercase(),
            b"lower" => |b| b.is_ascii_lowercase(),
            b"digit" => |b| b.is_ascii_digit(),
            b"xdigit" => |b| b.is_ascii_hexdigit(),
            b"alnum" => |b| b.is_ascii_alphanumeric(),
            // C's isspace includes the vertical tab, which Rust's is_ascii_whitespace omits.
            b"space" => |b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
            b"blank" => |b| b == b' ' || b == b'\t',
            b"punct" => |b| b.is_ascii_punctuation(),
            b"print" => |b| (0x20..=0x7e).contains(&b),
            b"graph" => |b| b.is_ascii_graphic(),
            b"cntrl" => |b| b.is_ascii_control(),
            _ => return None,
        };
        let mut set = ByteSet::default();
        for b in 0..=255u8 {
            if test(b) {
                set.insert(b);
            }
        }
        Some(set)
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Zero-width assertions. glibc builds `\b` as "word start or word end" and `\B` as
/// "inside a word or inside a non-word", and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assert {
    LineStart,
    LineEnd,
    BufStart,
    BufEnd,
    WordStart,
    WordEnd,
    Boundary,
    NotBoundary,
}

impl Assert {
    fn holds(self, s: &[u8], pos: usize) -> bool {
        let before = pos > 0 && is_word(s[pos - 1]);
        let after = pos < s.len() && is_word(s[pos]);
        match self {
            Assert::LineStart | Assert::BufStart => pos == 0,
            Assert::LineEnd | Assert::BufEnd => pos == s.len(),
            Assert::WordStart => !before && after,
            Assert::WordEnd => before && !after,
            Assert::Boundary => before != after,
            Assert::NotBoundary => before == after,
        }
    }
}

/// glibc's tokens for the ERE syntax (`peek_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Char(u8),
    Alt,
    Star,
    Plus,
    Quest,
    OpenDup,
    CloseDup,
    Open,
    Close,
    Bracket,
    Period,
    Anchor(Assert),
    BackRef(usize),
    /// `\w` (false) or `\W` (true).
    Word(bool),
    /// `\s` (false) or `\S` (true).
    Space(bool),
    /// A backslash at the end of the pattern.
    BackSlash,
    End,
}

/// The parse tree. `Empty` is glibc's NULL tree: nothing to match, and nothing a repeat
/// can apply to (unlike `()`, which is a group).
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Byte(u8),
    Any,
    Set(usize),
    Assert(Assert),
    Group(Box<Node>, usize),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
    BackRef(usize),
}

struct Parser<'p> {
    pat: &'p [u8],
    /// Offset just past the current token.
    pos: usize,
    tok: Tok,
    /// Groups opened so far.
    groups: usize,
    /// glibc's `completed_bkref_map`: groups 1..9 closed so far in this branch.
    completed: u16,
    sets: Vec<ByteSet>,
    backrefs: bool,
}

impl<'p> Parser<'p> {
    fn new(pat: &'p [u8]) -> Parser<'p> {
        Parser {
            pat,
            pos: 0,
            tok: Tok::End,
            groups: 0,
            completed: 0,
            sets: Vec::new(),
            backrefs: false,
        }
    }

    fn err(&self, kind: ErrorKind) -> Error {
        Error {
            kind,
            offset: self.pos,
        }
    }

    fn parse(&mut self) -> Result<Node, Error> {
        self.fetch();
        // At the top level an unmatched `)` is a literal, so only the end stops this.
        self.reg_exp(0)
    }

    /// Reads the token at `pos` into `tok` and moves past it.
    fn fetch(&mut self) {
        let (tok, len) = self.peek();
        self.tok = tok;
        self.pos += len;
    }

    fn peek(&self) -> (Tok, usize) {
        let Some(&c) = self.pat.get(self.pos) else {
            return (Tok::End, 0);
        };
        if c == b'\\' {
            let Some(&c2) = self.pat.get(self.pos + 1) else {
                return (Tok::BackSlash, 1);
            };
            let tok = match c2 {
                b'1'..=b'9' => Tok::BackRef(usize::from(c2 - b'0')),
                b'<' => Tok::Anchor(Assert::WordStart),
                b'>' => Tok::Anchor(Assert::WordEnd),
                b'b' => Tok::Anchor(Assert::Boundary),
                b'B' => Tok::Anchor(Assert::NotBoundary),
                b'`' => Tok::Anchor(Assert::BufStart),
                b'\'' => Tok::Anchor(Assert::BufEnd),
                b'w' => Tok::Word(false),
                b'W' => Tok::Word(true),
                b's' => Tok::Space(false),
                b'S' => Tok::Space(true),
                _ => Tok::Char(c2),
            };
            return (tok, 2);
        }
        let tok = match c {
            b'|' => Tok::Alt,
            b'*' => Tok::Star,
            b'+' => Tok::Plus,
            b'?' => Tok::Quest,
            b'{' => Tok::OpenDup,
            b'}' => Tok::CloseDup,
            b'(' => Tok::Open,
            b')' => Tok::Close,
            b'[' => Tok::Bracket,
            b'.' => Tok::Period,
            b'^' => Tok::Anchor(Assert::LineStart),
            b'$' => Tok::Anchor(Assert::LineEnd),
            _ => Tok::Char(c),
        };
        (tok, 1)
    }

    /// `parse_reg_exp`: branches separated by `|`.
    fn reg_exp(&mut self, nest: usize) -> Result<Node, Error> {
        let initial = self.completed;
        let mut branches = vec![self.branch(nest)?];
        while self.tok == Tok::Alt {
            self.fetch();
            if self.tok != Tok::Alt && self.tok != Tok::End && (nest == 0 || self.tok != Tok::Close)
            {
                // A back reference may only name a group closed in its own branch.
                let accumulated = self.completed;
                self.completed = initial;
                branches.push(self.branch(nest)?);
                self.completed |= accumulated;
            } else {
                branches.push(Node::Empty);
            }
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    /// `parse_branch`: a concatenation.
    fn branch(&mut self, nest: usize) -> Result<Node, Error> {
        let mut items = Vec::new();
        let first = self.expression(nest)?;
        items.push(first);
        while self.tok != Tok::Alt && self.tok != Tok::End && (nest == 0 || self.tok != Tok::Close)
        {
            let next = self.expression(nest)?;
            items.push(next);
        }
        items.retain(|node| !matches!(node, Node::Empty));
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    /// `parse_expression`: one element and the repeats that follow it.
    fn expression(&mut self, nest: usize) -> Result<Node, Error> {
        let mut node = match self.tok {
            Tok::Char(c) => Node::Byte(c),
            Tok::Open => self.sub_exp(nest + 1)?,
            Tok::Bracket => self.bracket()?,
            Tok::BackRef(n) => {
                if self.completed & (1 << (n - 1)) == 0 {
                    return Err(self.err(ErrorKind::BackReference));
                }
                self.backrefs = true;
                Node::BackRef(n)
            }
            Tok::OpenDup | Tok::Star | Tok::Plus | Tok::Quest => {
                return Err(self.err(ErrorKind::BadRepeat));
            }
            Tok::Close => Node::Byte(b')'),
            Tok::CloseDup => Node::Byte(b'}'),
            Tok::Anchor(a) => {
                // glibc returns before looking for repeats: `^*` is a repeat of nothing.
                self.fetch();
                return Ok(Node::Assert(a));
            }
            Tok::Period => Node::Any,
            Tok::Word(negated) => self.class_set(b"alnum", b"_", negated),
            Tok::Space(negated) => self.class_set(b"space", b"", negated),
            Tok::Alt | Tok::End => return Ok(Node::Empty),
            Tok::BackSlash => return Err(self.err(ErrorKind::Escape)),
        };
        self.fetch();
        while matches!(self.tok, Tok::Star | Tok::Plus | Tok::Quest | Tok::OpenDup) {
            node = self.dup_op(node)?;
        }
        Ok(node)
    }

    fn class_set(&mut self, class: &[u8], extra: &[u8], negated: bool) -> Node {
        let mut set = ByteSet::class(class).unwrap_or_default();
        for &b in extra {
            set.insert(b);
        }
        if negated {
            set.negate();
        }
        self.sets.push(set);
        Node::Set(self.sets.len() - 1)
    }

    /// `parse_sub_exp`: the current token is `(`.
    fn sub_exp(&mut self, nest: usize) -> Result<Node, Error> {
        let index = self.groups;
        self.groups += 1;
        self.fetch();
        let body = if self.tok == Tok::Close {
            Node::Empty
        } else {
            let body = self.reg_exp(nest)?;
            if self.tok != Tok::Close {
                return Err(self.err(ErrorKind::Paren));
            }
            body
        };
        if index < 9 {
            self.completed |= 1 << index;
        }
        Ok(Node::Group(Box::new(body), index + 1))
    }

    /// `parse_dup_op`: the current token is `*`, `+`, `?` or `{`.
    fn dup_op(&mut self, elem: Node) -> Result<Node, Error> {
        let (min, max) = match self.tok {
            Tok::Star => (0, None),
            Tok::Plus => (1, None),
            Tok::Quest => (0, Some(1)),
            _ => self.interval()?,
        };
        self.fetch();
        if matches!(elem, Node::Empty) || max == Some(0) {
            return Ok(Node::Empty);
        }
        Ok(Node::Repeat(Box::new(elem), min, max))
    }

    /// The `{m,n}` after the current `{`, as glibc's `fetch_number` reads it (token by
    /// token, so `\,` counts as a comma and a back reference as a bad digit).
    fn interval(&mut self) -> Result<(u32, Option<u32>), Error> {
        const NONE: i64 = -1;
        const BAD: i64 = -2;
        let mut start = self.number();
        if start == NONE {
            if self.tok == Tok::Char(b',') {
                start = 0;
            } else {
                return Err(self.err(ErrorKind::BadInterval));
            }
        }
        let mut end = BAD;
        if start != BAD {
            end = match self.tok {
                Tok::CloseDup => start,
                Tok::Char(b',') => self.number(),
                _ => BAD,
            };
        }
        if start == BAD || end == BAD {
            return Err(self.err(ErrorKind::BadInterval));
        }
        if (end != NONE && start > end) || self.tok != Tok::CloseDup {
            return Err(self.err(ErrorKind::BadInterval));
        }
        let top = if end == NONE { start } else { end };
        if top > i64::from(DUP_MAX) {
            return Err(self.err(ErrorKind::TooBig));
        }
        let min = u32::try_from(start).map_err(|_| self.err(ErrorKind::BadInterval))?;
        let max = if end == NONE {
            None
        } else {
            Some(u32::try_from(end).map_err(|_| self.err(ErrorKind::BadInterval))?)
        };
        Ok((min, max))
    }

    /// glibc's `fetch_number`: -1 for no digits, -2 for a bad one or the end of the pattern.
    fn number(&mut self) -> i64 {
        let mut num: i64 = -1;
        loop {
            self.fetch();
            match self.tok {
                Tok::End => return -2,
                Tok::CloseDup | Tok::Char(b',') => return num,
                Tok::Char(c @ b'0'..=b'9') if num != -2 => {
                    let digit = i64::from(c - b'0');
                    num = if num == -1 {
                        digit
                    } else {
                        (num * 10 + digit).min(i64::from(DUP_MAX) + 1)
                    };
                }
                _ => num = -2,
            }
        }
    }

    /// `parse_bracket_exp`: the current token is `[`; `pos` is just past it.
    fn bracket(&mut self) -> Result<Node, Error> {
        let mut set = ByteSet::default();
        let mut negated = false;
        let (mut tok, mut len) = self.peek_bracket();
        if tok == BTok::End {
            return Err(self.err(ErrorKind::Bracket));
        }
        if tok == BTok::NonMatch {
            negated = true;
            self.pos += len;
            (tok, len) = self.peek_bracket();
            if tok == BTok::End {
                return Err(self.err(ErrorKind::Bracket));
            }
        }
        // The first `]` is an ordinary byte.
        if tok == BTok::Close {
            tok = BTok::Char(b']');
        }
        let mut first = true;
        loop {
            let start = self.bracket_element(tok, len, first)?;
            first = false;
            (tok, len) = self.peek_bracket();
            let mut range_end = None;
            if !matches!(start, Elem::Class(_) | Elem::Equiv(_)) {
                if tok == BTok::End {
                    return Err(self.err(ErrorKind::Bracket));
                }
                if tok == BTok::Range {
                    self.pos += len;
                    let (tok2, len2) = self.peek_bracket();
                    if tok2 == BTok::End {
                        return Err(self.err(ErrorKind::Bracket));
                    }
                    if tok2 == BTok::Close {
                        // A `-` just before the closing `]` is an ordinary byte.
                        self.pos -= len;
                        tok = BTok::Char(b'-');
                    } else {
                        range_end = Some(self.bracket_element(tok2, len2, true)?);
                        (tok, len) = self.peek_bracket();
                    }
                }
            }
            match range_end {
                Some(end) => {
                    let lo = self.range_point(start)?;
                    let hi = self.range_point(end)?;
                    if lo > hi {
                        return Err(self.err(ErrorKind::Range));
                    }
                    for b in lo..=hi {
                        set.insert(b);
                    }
                }
                None => match start {
                    Elem::Byte(b) => set.insert(b),
                    Elem::Coll(name) | Elem::Equiv(name) => match name.as_slice() {
                        [b] => set.insert(*b),
                        _ => return Err(self.err(ErrorKind::Collate)),
                    },
                    Elem::Class(name) => {
                        let class = ByteSet::class(&name).ok_or(self.err(ErrorKind::Class))?;
                        set.union(&class);
                    }
                },
            }
            if tok == BTok::End {
                return Err(self.err(ErrorKind::Bracket));
            }
            if tok == BTok::Close {
                break;
            }
        }
        self.pos += len;
        if negated {
            set.negate();
        }
        self.sets.push(set);
        Ok(Node::Set(self.sets.len() - 1))
    }

    fn range_point(&self, elem: Elem) -> Result<u8, Error> {
        match elem {
            Elem::Byte(b) => Ok(b),
            Elem::Coll(name) => match name.as_slice() {
                [b] => Ok(*b),
                _ => Err(self.err(ErrorKind::Collate)),
            },
            Elem::Class(_) | Elem::Equiv(_) => Err(self.err(ErrorKind::Range)),
        }
    }

    /// `peek_token_bracket`.
    fn peek_bracket(&self) -> (BTok, usize) {
        let Some(&c) = self.pat.get(self.pos) else {
            return (BTok::End, 0);
        };
        if c == b'[' {
            return match self.pat.get(self.pos + 1) {
                Some(b'.') => (BTok::OpenColl, 2),
                Some(b'=') => (BTok::OpenEquiv, 2),
                Some(b':') => (BTok::OpenClass, 2),
                _ => (BTok::Char(b'['), 1),
            };
        }
        let tok = match c {
            b'-' => BTok::Range,
            b']' => BTok::Close,
            b'^' => BTok::NonMatch,
            _ => BTok::Char(c),
        };
        (tok, 1)
    }

    /// `parse_bracket_element`: one byte, or a `[.x.]`, `[=x=]`, `[:name:]`.
    fn bracket_element(
        &mut self,
        tok: BTok,
        len: usize,
        accept_hyphen: bool,
    ) -> Result<Elem, Error> {
        self.pos += len;
        let delim = match tok {
            BTok::OpenColl => b'.',
            BTok::OpenEquiv => b'=',
            BTok::OpenClass => b':',
            BTok::Range if !accept_hyphen => {
                // A `-` that starts an element is only allowed just before the `]`.
                if self.peek_bracket().0 != BTok::Close {
                    return Err(self.err(ErrorKind::Range));
                }
                return Ok(Elem::Byte(b'-'));
            }
            BTok::Range => return Ok(Elem::Byte(b'-')),
            BTok::Char(c) => return Ok(Elem::Byte(c)),
            BTok::Close => return Ok(Elem::Byte(b']')),
            BTok::NonMatch => return Ok(Elem::Byte(b'^')),
            BTok::End => return Err(self.err(ErrorKind::Bracket)),
        };
        // `parse_bracket_symbol`: the name runs to the first `delim ]`, at least one byte.
        let mut name = Vec::new();
        if self.pos >= self.pat.len() {
            return Err(self.err(ErrorKind::Bracket));
        }
        loop {
            if name.len() >= BRACKET_NAME_MAX {
                return Err(self.err(ErrorKind::Bracket));
            }
            let ch = self.pat[self.pos];
            self.pos += 1;
            if self.pos >= self.pat.len() {
                return Err(self.err(ErrorKind::Bracket));
            }
            if ch == delim && self.pat[self.pos] == b']' {
                break;
            }
            name.push(ch);
        }
        self.pos += 1;
        Ok(match tok {
            BTok::OpenColl => Elem::Coll(name),
            BTok::OpenEquiv => Elem::Equiv(name),
            _ => Elem::Class(name),
        })
    }
}

/// Tokens inside a bracket expression (`peek_token_bracket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BTok {
    Char(u8),
    OpenColl,
    OpenEquiv,
    OpenClass,
    Range,
    Close,
    NonMatch,
    End,
}

/// One element of a bracket expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    Byte(u8),
    Coll(Vec<u8>),
    Equiv(Vec<u8>),
    Class(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inst {
    Byte(u8),
    Set(usize),
    Any,
    Assert(Assert),
    /// Try the first target, then the second.
    Split(usize, usize),
    Jmp(usize),
    Save(usize),
    BackRef(usize),
    /// Remember where this loop iteration started.
    LoopMark(usize),
    /// Go back to `head` if the iteration consumed something, else leave the loop.
    LoopEnd {
        reg: usize,
        head: usize,
        exit: usize,
    },
    Match,
}

struct Compiler {
    prog: Vec<Inst>,
    sets: Vec<ByteSet>,
    loops: usize,
    backrefs: bool,
    offset: usize,
}

impl Compiler {
    fn emit(&mut self, inst: Inst) -> Result<usize, Error> {
        if self.prog.len() >= MAX_PROGRAM {
            return Err(Error {
                kind: ErrorKind::Space,
                offset: self.offset,
            });
        }
        self.prog.push(inst);
        Ok(self.prog.len() - 1)
    }

    fn patch(&mut self, at: usize, inst: Inst) {
        self.prog[at] = inst;
    }

    fn node(&mut self, node: &Node) -> Result<(), Error> {
        match node {
            Node::Empty => {}
            Node::Byte(b) => {
                self.emit(Inst::Byte(*b))?;
            }
            Node::Any => {
                self.emit(Inst::Any)?;
            }
            Node::Set(i) => {
                self.emit(Inst::Set(*i))?;
            }
            Node::Assert(a) => {
                self.emit(Inst::Assert(*a))?;
            }
            Node::BackRef(n) => {
                self.emit(Inst::BackRef(*n))?;
            }
            Node::Group(body, n) => {
                // Only back references read captures; without them, groups cost nothing.
                if self.backrefs {
                    self.emit(Inst::Save(2 * n))?;
                }
                self.node(body)?;
                if self.backrefs {
                    self.emit(Inst::Save(2 * n + 1))?;
                }
            }
            Node::Concat(items) => {
                for item in items {
                    self.node(item)?;
                }
            }
            Node::Alt(branches) => {
                let mut jumps = Vec::new();
                for (i, branch) in branches.iter().enumerate() {
                    if i + 1 < branches.len() {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.node(branch)?;
                        jumps.push(self.emit(Inst::Jmp(0))?);
                        let next = self.prog.len();
                        self.patch(split, Inst::Split(split + 1, next));
                    } else {
                        self.node(branch)?;
                    }
                }
                let end = self.prog.len();
                for jump in jumps {
                    self.patch(jump, Inst::Jmp(end));
                }
            }
            Node::Repeat(body, min, max) => {
                // glibc expands counted repeats into copies; so do we.
                for _ in 0..*min {
                    self.node(body)?;
                }
                match max {
                    None => self.star(body)?,
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.emit(Inst::Split(0, 0))?);
                            self.node(body)?;
                        }
                        let end = self.prog.len();
                        for split in splits {
                            self.patch(split, Inst::Split(split + 1, end));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn star(&mut self, body: &Node) -> Result<(), Error> {
        let head = self.emit(Inst::Split(0, 0))?;
        if self.backrefs {
            let reg = self.loops;
            self.loops += 1;
            self.emit(Inst::LoopMark(reg))?;
            self.node(body)?;
            let end = self.emit(Inst::LoopEnd { reg, head, exit: 0 })?;
            let exit = self.prog.len();
            self.patch(end, Inst::LoopEnd { reg, head, exit });
            self.patch(head, Inst::Split(head + 1, exit));
        } else {
            // The memo of visited (instruction, position) pairs ends empty loops.
            self.node(body)?;
            self.emit(Inst::Jmp(head))?;
            let exit = self.prog.len();
            self.patch(head, Inst::Split(head + 1, exit));
        }
        Ok(())
    }
}

enum Job {
    Try(usize, usize),
    RestoreCap(usize, Option<usize>),
    RestoreReg(usize, usize),
}

struct Machine<'r, 's> {
    re: &'r Regex,
    subject: &'s [u8],
    /// Failed (instruction, position) pairs, when there are no back references.
    visited: Vec<u64>,
    caps: Vec<Option<usize>>,
    regs: Vec<usize>,
    stack: Vec<Job>,
    steps: usize,
}

impl Machine<'_, '_> {
    /// True when the first time this pair is seen (memo mode), or always (back references).
    fn visit(&mut self, pc: usize, pos: usize) -> bool {
        if self.re.backrefs {
            self.steps += 1;
            return self.steps <= MAX_BACKREF_STEPS;
        }
        let bit = pc * (self.subject.len() + 1) + pos;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if self.visited[word] & mask != 0 {
            return false;
        }
        self.visited[word] |= mask;
        true
    }

    fn run(&mut self, start: usize) -> bool {
        let s = self.subject;
        self.stack.clear();
        self.caps.iter_mut().for_each(|cap| *cap = None);
        self.stack.push(Job::Try(0, start));
        while let Some(job) = self.stack.pop() {
            let (mut pc, mut pos) = match job {
                Job::Try(pc, pos) => (pc, pos),
                Job::RestoreCap(slot, old) => {
                    self.caps[slot] = old;
                    continue;
                }
                Job::RestoreReg(reg, old) => {
                    self.regs[reg] = old;
                    continue;
                }
            };
            loop {
                if !self.visit(pc, pos) {
                    break;
                }
                match self.re.prog[pc] {
                    Inst::Byte(b) => {
                        if s.get(pos) != Some(&b) {
                            break;
                        }
                        pc += 1;
                        pos += 1;
                    }
                    Inst::Set(i) => match s.get(pos) {
                        Some(&b) if self.re.sets[i].contains(b) => {
                            pc += 1;
                            pos += 1;
                        }
                        _ => break,
                    },
                    Inst::Any => match s.get(pos) {
                        Some(&b) if b != 0 => {
                            pc += 1;
                            pos += 1;
                        }
                        _ => break,
                    },
                    Inst::Assert(a) => {
                        if !a.holds(s, pos) {
                            break;
                        }
                        pc += 1;
                    }
                    Inst::Split(first, second) => {
                        self.stack.push(Job::Try(second, pos));
                        pc = first;
                    }
                    Inst::Jmp(to) => pc = to,
                    Inst::Save(slot) => {
                        self.stack.push(Job::RestoreCap(slot, self.caps[slot]));
                        self.caps[slot] = Some(pos);
                        pc += 1;
                    }
                    Inst::BackRef(n) => {
                        let (Some(from), Some(to)) = (self.caps[2 * n], self.caps[2 * n + 1])
                        else {
                            break;
                        };
                        let Some(text) = s.get(from..to) else {
                            break;
                        };
                        if !s[pos..].starts_with(text) {
                            break;
                        }
                        pos += text.len();
                        pc += 1;
                    }
                    Inst::LoopMark(reg) => {
                        self.stack.push(Job::RestoreReg(reg, self.regs[reg]));
                        self.regs[reg] = pos;
                        pc += 1;
                    }
                    Inst::LoopEnd { reg, head, exit } => {
                        pc = if pos > self.regs[reg] { head } else { exit };
                    }
                    Inst::Match => return true,
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bash's status for `[[ subject =~ pattern ]]`: 0 match, 1 no match, 2 invalid.
    fn status(pattern: &str, subject: &str) -> u8 {
        match Regex::new(pattern.as_bytes()) {
            Err(_) => 2,
            Ok(re) => u8::from(!re.is_match(subject.as_bytes())),
        }
    }

    /// Each row is (pattern, subject, bash's status), observed with bash 5.2 / glibc 2.36
    /// under LC_ALL=C.
    fn check(rows: &[(&str, &str, u8)]) {
        let mut failures = Vec::new();
        for &(pattern, subject, expected) in rows {
            let got = status(pattern, subject);
            if got != expected {
                failures.push(format!(
                    "{pattern:?} on {subject:?}: got {got}, bash gives {expected}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn literals_and_unanchored_search() {
        check(&[
            ("abc", "abc", 0),
            ("b", "abc", 0),
            ("abd", "abc", 1),
            ("", "", 0),
            ("", "abc", 0),
            (",key,", ",key,n-api,", 0),
            (",ke,", ",key,n-api,", 1),
            ("n-api", "x,n-api,y", 0),
        ]);
    }

    #[test]
    fn period_matches_any_byte_including_newline() {
        check(&[
            ("n.api", "n-api", 0),
            ("n.api", "napi", 1),
            ("a.b", "a\nb", 0),
            (".{3}", "abc", 0),
            (".{4}", "abc", 1),
        ]);
    }

    #[test]
    fn anchors_hold_anywhere_and_cannot_repeat() {
        check(&[
            ("^a", "abc", 0),
            ("^b", "abc", 1),
            ("c$", "abc", 0),
            ("^^a", "abc", 0),
            ("c$$", "abc", 0),
            ("a^", "abc", 1),
            ("$a", "abc", 1),
            ("a^b", "a^b", 1),
            ("(^a)", "abc", 0),
            ("(c$)", "abc", 0),
            ("a|^b", "abc", 0),
            ("^$", "", 0),
            ("a$", "a\nb", 1),
            ("^b", "a\nb", 1),
            (",^key,", ",key,", 1),
            ("^*", "abc", 2),
            ("$*", "abc", 2),
            ("b^*", "abc", 2),
        ]);
    }

    #[test]
    fn alternation_splits_the_comma_frame() {
        check(&[
            (",x|key,", ",key,", 0),
            (",n|zzz,", ",key,n-api,", 0),
            ("a|", "abc", 0),
            ("|a", "abc", 0),
            ("a||b", "abc", 0),
            ("x|", "abc", 0),
            ("(|a)", "abc", 0),
            ("(a|)", "abc", 0),
            ("(|)", "abc", 0),
            ("x|y", "abc", 1),
        ]);
    }

    #[test]
    fn repeats_stack_and_need_an_operand() {
        check(&[
            ("a**", "abc", 0),
            ("a+*", "abc", 0),
            ("a*+", "abc", 0),
            ("a??", "abc", 0),
            ("a+?", "abc", 0),
            ("x*", "abc", 0),
            ("*a", "abc", 2),
            ("+a", "abc", 2),
            ("?a", "abc", 2),
            ("(*a)", "abc", 2),
            ("a|*b", "abc", 2),
            (",*,", ",,", 0),
            (",n-*,", ",n,", 0),
            (",n-*,", ",n-api,", 1),
            ("(a*)*", "abc", 0),
            ("(a*)+$", "abc", 0),
            ("(a|b)*c", "ababc", 0),
            ("^(a|b)+$", "abab", 0),
            ("^(a|b)+$", "abcb", 1),
            ("(a*)*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", 1),
        ]);
    }

    #[test]
    fn intervals_as_glibc_reads_them() {
        check(&[
            ("a{,2}c", "abc", 0),
            ("a{2,1}", "abc", 2),
            ("a{1}{2}", "abc", 1),
            ("a{1}{2}", "aab", 0),
            ("a{32767}", "abc", 1),
            ("a{32768}", "abc", 2),
            ("a{", "abc", 2),
            ("a{1", "abc", 2),
            ("a{1,", "abc", 2),
            ("{", "abc", 2),
            ("{1}", "abc", 2),
            ("a{1,2,3}", "abc", 2),
            ("a{ 1}", "abc", 2),
            ("a{1a}", "abc", 2),
            ("x{0,}", "abc", 0),
            ("a{,}", "abc", 0),
            ("a{}", "abc", 2),
            ("a{0}", "abc", 0),
            ("a{0,0}bc", "abc", 0),
            ("^a{0}bc", "abc", 1),
            ("a{1,2}{3}", "abc", 1),
            ("a{1,2}{3}", "aaab", 0),
            ("a{1}*", "abc", 0),
            ("a*{2}", "abc", 0),
            ("a{1}?", "abc", 0),
            ("a?{2}", "abc", 0),
            ("b{1}{1}c", "abc", 0),
            ("^a{2,3}$", "aa", 0),
            ("^a{2,3}$", "aaaa", 1),
            ("^a{2,}$", "aaaaa", 0),
            ("a}", "a}", 0),
            ("}", "abc", 1),
            ("a\\{1\\}", "a{1}", 0),
            (",{,", ",,", 2),
        ]);
    }

    #[test]
    fn groups_and_unmatched_parentheses() {
        check(&[
            ("()", "abc", 0),
            ("(", "abc", 2),
            ("(a", "abc", 2),
            (")", "abc", 1),
            (")", "a)", 0),
            ("b)", "abc", 1),
            ("a)", "a)", 0),
            ("((a)", "abc", 2),
            ("(a))", "a)", 0),
            ("(?:a)", "abc", 2),
        ]);
    }

    #[test]
    fn escapes_are_gnu_operators_or_literals() {
        check(&[
            ("\\", "abc", 2),
            ("a\\", "abc", 2),
            ("\\a", "abc", 0),
            ("\\n", "abc", 1),
            ("\\n", "n", 0),
            ("\\.", "abc", 1),
            ("\\.", "a.c", 0),
            ("n\\.api", "n-api", 1),
            ("n\\.api", "n.api", 0),
            ("\\*", "a*", 0),
            ("\\(", "(", 0),
            ("\\|", "|", 0),
            ("\\{", "{", 0),
            ("\\}", "}", 0),
            ("\\d", "1", 1),
            ("\\d", "d", 0),
            ("\\t", "\t", 1),
            ("\\w", "abc", 0),
            ("\\w", "-", 1),
            ("\\W", "abc", 1),
            ("\\W", "a-c", 0),
            ("\\s", "abc", 1),
            ("\\s", "a b", 0),
            ("a\\sb", "a\nb", 0),
            ("\\S", "abc", 0),
            ("\\S", " ", 1),
        ]);
    }

    #[test]
    fn word_and_buffer_anchors() {
        check(&[
            ("\\b", "abc", 0),
            ("\\b", "", 1),
            ("\\B", "", 0),
            ("\\B", "abc", 0),
            ("ab\\Bc", "abc", 0),
            ("\\<a", "abc", 0),
            ("c\\>", "abc", 0),
            ("\\ba", "a-b", 0),
            ("a\\b", "a-b", 0),
            ("-\\b", "a-b", 0),
            ("\\B-", "a-b", 1),
            ("a\\B", "a-b", 1),
            ("\\<-", "a-b", 1),
            ("\\>", "a-b", 0),
            ("\\`a", "abc", 0),
            ("\\`b", "abc", 1),
            ("c\\'", "abc", 0),
            ("b\\'", "abc", 1),
            ("\\<*", "abc", 2),
        ]);
    }

    #[test]
    fn bracket_expressions() {
        check(&[
            ("[", "abc", 2),
            ("[a", "abc", 2),
            ("[]", "abc", 2),
            ("[]a]", "abc", 0),
            ("[]a]", "]", 0),
            ("[]a]", "x", 1),
            ("[^]a]", "abc", 0),
            ("[^]a]", "a]", 1),
            ("[a-]", "-", 0),
            ("[a-]", "b", 1),
            ("[-a]", "-", 0),
            ("[]-a]", "^", 0),
            ("[]-a]", "b", 1),
            ("[z-a]", "abc", 2),
            ("[a-a]", "abc", 0),
            ("[a-c-e]", "abc", 2),
            ("[%--]", "abc", 1),
            ("[%--]", "+", 0),
            ("[--/]", ".", 0),
            ("[--/]", "abc", 1),
            ("[a-]]", "a]", 0),
            ("[a-]]", "abc", 1),
            ("[a]]", "abc", 1),
            ("[a]]", "a]", 0),
            ("[\\]", "\\", 0),
            ("[\\]", "abc", 1),
            ("[\\n]", "n", 0),
            ("[!a]", "!", 0),
            ("[^a]", "abc", 0),
            ("[^a]", "aaa", 1),
            ("[^a]", "\n", 0),
            ("[^-a]", "-", 1),
            ("[.]", "abc", 1),
            ("[*]", "a*", 0),
            ("[[]", "abc", 1),
            ("[[]", "[", 0),
            ("[[]]", "[]", 0),
            ("[[a]", "abc", 0),
            ("[a[]", "abc", 0),
            ("[[-a]", "_", 0),
            ("n[-.]api", "n-api", 0),
            ("n[-.]api", "n_api", 1),
        ]);
    }

    #[test]
    fn bracket_classes_and_collating_elements() {
        check(&[
            ("[[:alpha:]]", "abc", 0),
            ("[[:alpha:]]", "123", 1),
            ("[[:foo:]]", "abc", 2),
            ("[[:ALPHA:]]", "abc", 2),
            ("[[:alpha:]", "abc", 2),
            ("[[:alpha:", "abc", 2),
            ("[[:digit:][:alpha:]]", "abc", 0),
            ("[^[:alpha:]]", "abc", 1),
            ("[[:alpha:]-z]", "abc", 2),
            ("[[:alpha:]-]", "-", 0),
            ("[a-[:alpha:]]", "abc", 2),
            ("[[:a]", "abc", 2),
            ("[[:]", "abc", 2),
            ("[[::]]", "abc", 2),
            ("[[:space:]]", "a\u{b}b", 0),
            ("[[:blank:]]", "a\nb", 1),
            ("[[:punct:]]", "a-b", 0),
            ("[[:upper:][:digit:]]", "abc", 1),
            ("[[:xdigit:]]", "xyz", 1),
            ("[[:xdigit:]]", "F", 0),
            ("[[.a.]]", "abc", 0),
            ("[[=a=]]", "abc", 0),
            ("[[.-.]]", "abc", 1),
            ("[[.-.]]", "-", 0),
            ("[[.].]]", "]", 0),
            ("[[.[.]]", "[", 0),
            ("[[=]=]]", "]", 0),
            ("[[.hyphen.]]", "abc", 2),
            ("[[.space.]]", "abc", 2),
            ("[[.ab.]]", "abc", 2),
            ("[[=ab=]]", "abc", 2),
            ("[[..]]", "abc", 2),
            ("[[.]", "abc", 2),
            ("[[=]", "abc", 2),
            ("[[.a", "abc", 2),
            ("[[.a.]-c]", "b", 0),
            ("[[=a=]-c]", "b", 2),
            ("[a-z", "abc", 2),
        ]);
    }

    #[test]
    fn back_references() {
        check(&[
            ("(a)\\1", "abc", 1),
            ("(a)\\1", "aa", 0),
            ("\\1", "abc", 2),
            ("(a\\1)", "abc", 2),
            ("(a)|\\1", "abc", 2),
            ("(a)\\2", "abc", 2),
            ("((a)|b)\\2", "abc", 1),
            ("((a)|b)\\2", "aa", 0),
            ("(a)(b)\\2", "abb", 0),
            ("(a){0}\\1", "abc", 1),
            ("(x)?a\\1", "abc", 1),
            ("((a))\\2", "aa", 0),
            ("(a(b))\\2", "abb", 0),
            ("(a*)*\\1", "b", 0),
            ("(a*)+\\1", "b", 0),
            ("(a|())*\\2", "b", 0),
            ("^(a*)*\\1$", "b", 1),
            ("^(a*)*\\1$", "aa", 0),
            ("^(a)*\\1$", "aa", 0),
            ("(a){2}\\1", "aa", 1),
            ("^(a)*\\1$", "aaa", 0),
            ("^(a*)\\1$", "aaa", 1),
            ("^(a*)(\\1)a$", "aaa", 0),
            ("^(ab)\\1$", "abab", 0),
            ("^(a|ab)(b|)\\1", "abab", 0),
            ("([a-z]+)\\1", "xyzxyz", 0),
            ("([a-z]+)\\1", "xyzxy", 1),
            ("^((a)|b)+\\2$", "aba", 0),
            ("^((a)|b)*\\2$", "aba", 0),
            ("^((a)|b)+\\2$", "abb", 1),
            ("^((a)|b)+\\2$", "ab", 1),
        ]);
    }

    #[test]
    fn counted_repeats_that_expand_too_far_are_refused() {
        let err = Regex::new(b"((a{1000}){1000}){10}").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Space);
        assert!(!search(b"((a{1000}){1000}){10}", b"a"));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        // Without back references the memo bounds the work by program size times length.
        let subject = "a".repeat(200);
        assert!(!search(b"(a*)*(a*)*(a*)*b", subject.as_bytes()));
        assert!(!search(b"(a|aa)+$b", subject.as_bytes()));
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = Regex::new(b"ab(").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Paren);
        assert_eq!(err.to_string(), "unmatched ( at byte 3");
        assert_eq!(
            Regex::new(b"[[:nope:]]").unwrap_err().kind,
            ErrorKind::Class
        );
        assert_eq!(Regex::new(b"a\\").unwrap_err().kind, ErrorKind::Escape);
        assert_eq!(Regex::new(b"a{99999}").unwrap_err().kind, ErrorKind::TooBig);
        assert_eq!(Regex::new(b"[b-a]").unwrap_err().kind, ErrorKind::Range);
        assert_eq!(
            Regex::new(b"[[.xx.]]").unwrap_err().kind,
            ErrorKind::Collate
        );
        assert_eq!(
            Regex::new(b"\\3").unwrap_err().kind,
            ErrorKind::BackReference
        );
        assert_eq!(Regex::new(b"a|*").unwrap_err().kind, ErrorKind::BadRepeat);
        assert_eq!(
            Regex::new(b"a{1,0}").unwrap_err().kind,
            ErrorKind::BadInterval
        );
    }

    #[test]
    fn search_reads_an_invalid_pattern_as_no_match() {
        assert!(!search(b"(", b"("));
        assert!(search(b"\\(", b"("));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_plain_bytes() {
        assert!(search(b"a.c", b"a\xffc"));
        assert!(search(b"\xff", b"x\xffy"));
        assert!(search(b"[^a]", b"\xfe"));
    }
}
