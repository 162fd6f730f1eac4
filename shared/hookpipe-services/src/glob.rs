//! bash's pattern matching, for the two places where DevStack's service functions use a name
//! as a glob: `[[ $remove == $service ]]` in `disable_negated_services` (where bash reads the
//! pattern as if `extglob` were on) and `${list//,$service,/,}` in `disable_service` (plain
//! globs, as DevStack never turns `extglob` on). Byte-wise, as in the C locale.
//!
//! `*`, `?`, `[...]` (`!` or `^` negates, `]` first is literal, ranges by byte value, an empty
//! range matches nothing, `[:class:]`, one-byte `[.c.]` and `[=c=]`, a backslash escapes),
//! `\` escapes, an unterminated `[` is a literal `[`; with extglob, `?(..)`, `*(..)`, `+(..)`,
//! `@(..)`, `!(..)` with `|` between alternatives, and an extglob operator whose `(` is never
//! closed makes the rest of the pattern a literal string (bash's `STRCOMPARE` fallback).
//! Named collating symbols (`[.hyphen.]`) are not supported: they match nothing.

#[derive(Debug, Clone)]
enum Elem {
    Byte(u8),
    Any,
    Star,
    Set(ByteSet),
    Ext(u8, Vec<Vec<Elem>>),
    /// The rest of the pattern, compared as a plain string.
    Rest(Vec<u8>),
}

/// True when `pattern` matches all of `subject`.
pub(crate) fn matches(pattern: &[u8], subject: &[u8], extglob: bool) -> bool {
    let elems = parse(pattern, extglob);
    if is_simple(&elems) {
        prefix_ends(&elems, subject)[subject.len()]
    } else {
        full(&elems, subject)
    }
}

/// No extglob group: [`prefix_ends`] can answer.
fn is_simple(elems: &[Elem]) -> bool {
    !elems
        .iter()
        .any(|elem| matches!(elem, Elem::Ext(..) | Elem::Rest(_)))
}

/// bash's `${subject//pattern/with}`: every non-overlapping match, leftmost and then
/// longest, replaced.
pub(crate) fn replace_all(subject: &[u8], pattern: &[u8], with: &[u8], extglob: bool) -> Vec<u8> {
    let elems = parse(pattern, extglob);
    let simple = is_simple(&elems);
    let mut out = Vec::with_capacity(subject.len());
    let mut i = 0;
    while i < subject.len() {
        let rest = &subject[i..];
        let longest = if simple {
            prefix_ends(&elems, rest).iter().rposition(|&end| end)
        } else {
            (0..=rest.len())
                .rev()
                .find(|&len| full(&elems, &rest[..len]))
        };
        match longest {
            Some(len) if len > 0 => {
                out.extend_from_slice(with);
                i += len;
            }
            Some(_) => {
                out.extend_from_slice(with);
                out.push(subject[i]);
                i += 1;
            }
            None => {
                out.push(subject[i]);
                i += 1;
            }
        }
    }
    out
}

/// For a pattern without extglob groups, which prefixes of `s` it matches: entry `n` says
/// whether it matches `s[..n]`. One pass over `s` with the set of pattern positions
/// reachable so far, so a long list costs length times pattern size, not a backtrack.
fn prefix_ends(elems: &[Elem], s: &[u8]) -> Vec<bool> {
    let m = elems.len();
    // A star may match nothing: its position reaches the next one for free.
    let close = |states: &mut Vec<bool>| {
        for j in 0..m {
            if states[j] && matches!(elems[j], Elem::Star) {
                states[j + 1] = true;
            }
        }
    };
    let mut states = vec![false; m + 1];
    states[0] = true;
    close(&mut states);
    let mut ends = vec![false; s.len() + 1];
    ends[0] = states[m];
    for (k, &b) in s.iter().enumerate() {
        let mut next = vec![false; m + 1];
        for j in (0..m).filter(|&j| states[j]) {
            match &elems[j] {
                Elem::Byte(c) if *c == b => next[j + 1] = true,
                Elem::Any => next[j + 1] = true,
                Elem::Set(set) if set.contains(b) => next[j + 1] = true,
                Elem::Star => next[j] = true,
                _ => {}
            }
        }
        close(&mut next);
        ends[k + 1] = next[m];
        if !next.contains(&true) {
            break;
        }
        states = next;
    }
    ends
}

fn parse(p: &[u8], extglob: bool) -> Vec<Elem> {
    let mut elems = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        if extglob && matches!(c, b'?' | b'*' | b'+' | b'@' | b'!') && p.get(i + 1) == Some(&b'(') {
            match ext_alternatives(p, i + 2) {
                Some((alts, next)) => {
                    let alts = alts.iter().map(|alt| parse(alt, true)).collect();
                    elems.push(Elem::Ext(c, alts));
                    i = next;
                }
                None => {
                    elems.push(Elem::Rest(p[i..].to_vec()));
                    return elems;
                }
            }
            continue;
        }
        i += 1;
        match c {
            b'?' => elems.push(Elem::Any),
            b'*' => elems.push(Elem::Star),
            b'\\' => match p.get(i) {
                Some(&next) => {
                    elems.push(Elem::Byte(next));
                    i += 1;
                }
                // A trailing backslash matches a backslash.
                None => elems.push(Elem::Byte(b'\\')),
            },
            b'[' => match bracket(p, i) {
                Some((set, next)) => {
                    elems.push(Elem::Set(set));
                    i = next;
                }
                None => elems.push(Elem::Byte(b'[')),
            },
            _ => elems.push(Elem::Byte(c)),
        }
    }
    elems
}

/// The alternatives of an extglob group whose body starts at `start`, and the index just
/// past its `)`; `None` when the `(` is never closed (bash's `PATSCAN`).
fn ext_alternatives(p: &[u8], start: usize) -> Option<(Vec<&[u8]>, usize)> {
    let mut alts = Vec::new();
    let mut from = start;
    let (mut pnest, mut bnest) = (0usize, 0usize);
    let mut bfirst = 0;
    let mut cchar = 0u8;
    let mut i = start;
    while i < p.len() {
        match p[i] {
            b'\\' => i += 1,
            b'[' if bnest == 0 => {
                bfirst = i + 1;
                if matches!(p.get(bfirst), Some(b'!' | b'^')) {
                    bfirst += 1;
                }
                bnest += 1;
            }
            b'[' if matches!(p.get(i + 1), Some(b':' | b'.' | b'=')) => cchar = p[i + 1],
            b']' if bnest > 0 => {
                if cchar != 0 && p[i - 1] == cchar {
                    cchar = 0;
                } else if i != bfirst {
                    bnest -= 1;
                }
            }
            b'(' if bnest == 0 => pnest += 1,
            b')' if bnest == 0 => {
                if pnest == 0 {
                    alts.push(&p[from..i]);
                    return Some((alts, i + 1));
                }
                pnest -= 1;
            }
            b'|' if bnest == 0 && pnest == 0 => {
                alts.push(&p[from..i]);
                from = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A bracket expression whose body starts at `i` (just past the `[`), as bash's
/// `BRACKMATCH` reads it: the set and the index past its `]`, or `None` when it is never
/// closed (then the `[` is literal).
fn bracket(p: &[u8], mut i: usize) -> Option<(ByteSet, usize)> {
    let at = |i: usize| p.get(i).copied();
    // A bracket that bash refuses outright (a backslash or a range end at the very end).
    let never = |i: usize| Some((ByteSet::default(), i));
    let mut set = ByteSet::default();
    let negate = matches!(at(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut c = at(i)?;
    i += 1;
    loop {
        if c == b'['
            && at(i) == Some(b'=')
            && at(i + 1).is_some()
            && at(i + 2) == Some(b'=')
            && at(i + 3) == Some(b']')
        {
            set.insert(p[i + 1]);
            i += 4;
            c = at(i)?;
            i += 1;
            if c == b']' {
                break;
            }
            continue;
        }
        if c == b'[' && at(i) == Some(b':') {
            let close =
                (i + 1..p.len().saturating_sub(1)).find(|&k| p[k] == b':' && p[k + 1] == b']');
            if let Some(close) = close {
                if let Some(class) = ByteSet::class(&p[i + 1..close]) {
                    set.union(&class);
                }
                i = close + 2;
            }
            // Without its `:]`, bash drops the `[` and reads on from the `:`.
            c = at(i)?;
            i += 1;
            if c == b']' && close.is_some() {
                break;
            }
            continue;
        }
        let mut start = Some(c);
        if c == b'[' && at(i) == Some(b'.') {
            let (value, next) = collating_symbol(p, i + 1)?;
            start = value;
            i = next;
        } else if c == b'\\' {
            let Some(escaped) = at(i) else {
                return never(i);
            };
            start = Some(escaped);
            i += 1;
        }
        c = at(i)?;
        i += 1;
        if c == b'-' && at(i) != Some(b']') {
            let Some(mut end_byte) = at(i) else {
                return never(i);
            };
            i += 1;
            if end_byte == b'\\' {
                let Some(escaped) = at(i) else {
                    return never(i);
                };
                end_byte = escaped;
                i += 1;
            }
            let mut end = Some(end_byte);
            if end_byte == b'[' && at(i) == Some(b'.') {
                let (value, next) = collating_symbol(p, i + 1)?;
                end = value;
                i = next;
            }
            c = at(i)?;
            i += 1;
            if let (Some(lo), Some(hi)) = (start, end) {
                // An empty range matches nothing; the rest of the bracket still counts.
                for b in lo..=hi {
                    set.insert(b);
                }
            }
        } else if let Some(b) = start {
            set.insert(b);
        }
        if c == b']' {
            break;
        }
    }
    if negate {
        set.negate();
    }
    Some((set, i))
}

/// `[.x.]` whose name starts at `i`: the byte (`None` for a name bash would look up in its
/// table, which matches nothing here) and the index past `.]`; `None` if never closed.
fn collating_symbol(p: &[u8], i: usize) -> Option<(Option<u8>, usize)> {
    let close = (i..p.len().saturating_sub(1)).find(|&k| p[k] == b'.' && p[k + 1] == b']')?;
    let value = match &p[i..close] {
        [b] => Some(*b),
        _ => None,
    };
    Some((value, close + 2))
}

fn full(elems: &[Elem], s: &[u8]) -> bool {
    let Some((first, rest)) = elems.split_first() else {
        return s.is_empty();
    };
    match first {
        Elem::Byte(b) => s.first() == Some(b) && full(rest, &s[1..]),
        Elem::Any => !s.is_empty() && full(rest, &s[1..]),
        Elem::Set(set) => s.first().is_some_and(|&b| set.contains(b)) && full(rest, &s[1..]),
        Elem::Star => (0..=s.len()).any(|k| full(rest, &s[k..])),
        Elem::Rest(literal) => s == literal.as_slice(),
        Elem::Ext(op, alts) => {
            let one = |seg: &[u8]| alts.iter().any(|alt| full(alt, seg));
            match op {
                b'@' => (0..=s.len()).any(|k| one(&s[..k]) && full(rest, &s[k..])),
                b'?' => full(rest, s) || (0..=s.len()).any(|k| one(&s[..k]) && full(rest, &s[k..])),
                b'!' => (0..=s.len()).any(|k| !one(&s[..k]) && full(rest, &s[k..])),
                // `*(..)` and `+(..)`: one segment, then the rest or (after a non-empty
                // segment, so this ends) the whole group again.
                _ => {
                    (*op == b'*' && full(rest, s))
                        || (0..=s.len()).any(|k| {
                            one(&s[..k]) && (full(rest, &s[k..]) || (k > 0 && full(elems, &s[k..])))
                        })
                }
            }
        }
    }
}

/// A set of bytes: one bracket expression of a glob.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, subject, extglob, bash's answer), observed with bash 5.2 under LC_ALL=C.
    #[test]
    fn patterns_match_as_bash_matches_them() {
        let rows: &[(&str, &str, bool, bool)] = &[
            ("n-*", "n-api", false, true),
            ("n-*", "g-api", false, false),
            ("a?c", "abc", false, true),
            ("a?c", "ac", false, false),
            ("a\\*", "a*", false, true),
            ("a\\*", "ab", false, false),
            ("a\\", "a\\", false, true),
            ("[ab]", "b", false, true),
            ("[!a]", "a", false, false),
            ("[^a]", "b", false, true),
            ("[]a]", "]", false, true),
            ("[a-]", "-", false, true),
            ("[z-ab]", "b", false, true),
            ("[z-a]", "a", false, false),
            ("[\\]]", "]", false, true),
            ("[\\]]", "\\", false, false),
            ("[a", "[a", false, true),
            ("[a", "x", false, false),
            ("[[:alpha:]]", "a", false, true),
            ("[[:alpha:]]", "1", false, false),
            ("[[=a=]]", "a", false, true),
            ("[[=a=]]", "b", false, false),
            ("[[:a]", ":", false, true),
            ("[[:a]", "[", false, false),
            ("[[.-.]]", "-", false, true),
            ("@(a|b)", "a", true, true),
            ("@(a|b)", "@(a|b)", false, true),
            ("@(a|b)", "c", true, false),
            ("!(a)", "b", true, true),
            ("!(a)", "a", true, false),
            ("!(a)", "", true, true),
            ("a!(b)", "ab", true, false),
            ("a!(b)", "ac", true, true),
            ("+(a|b)", "ab", true, true),
            ("*(a|b)", "ab", true, true),
            ("*(a)", "", true, true),
            ("+(a)b", "aab", true, true),
            ("?(a)", "", true, true),
            ("?(a)", "a", true, true),
            ("?(a)", "aa", true, false),
            ("@(a", "@(a", true, true),
            ("@(a|b", "x", true, false),
            ("?(a", "?(a", true, true),
            ("?(a", "x(a", true, false),
        ];
        let mut failures = Vec::new();
        for &(pattern, subject, extglob, expected) in rows {
            if matches(pattern.as_bytes(), subject.as_bytes(), extglob) != expected {
                failures.push(format!(
                    "{pattern:?} vs {subject:?} (extglob {extglob}): bash says {expected}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn replacement_takes_the_leftmost_longest_match_and_does_not_overlap() {
        let r = |s: &str, p: &str| {
            String::from_utf8(replace_all(s.as_bytes(), p.as_bytes(), b",", false))
                .unwrap_or_default()
        };
        assert_eq!(r(",a,a,b,", ",a,"), ",a,b,");
        assert_eq!(r(",key,n-api,n-cpu,", ",n*,"), ",key,");
        assert_eq!(r(",a,b,", ",@(a|b),"), ",a,b,");
        assert_eq!(r(",a,b,a,", ",a,"), ",b,");
        assert_eq!(r(",x,", ",y,"), ",x,");
        assert_eq!(r(",a,b,c,", ",[ab]?,"), ",a,b,c,");
        assert_eq!(r(",ab,b,c,", ",[ab]?,"), ",b,c,");
        assert_eq!(r(",a,\\,b,", ",\\\\,"), ",a,b,");
    }

    #[test]
    fn prefix_table_agrees_with_the_backtracker() {
        let subjects = ["", "a", "ab", "abc", "a*c", "aaa", ",a,b,", "xyz"];
        let patterns = [
            "", "a", "a*", "*", "*c", "a?c", "[ab]*", "a\\*", "**a", "?*?",
        ];
        for pattern in patterns {
            let elems = parse(pattern.as_bytes(), false);
            for subject in subjects {
                let s = subject.as_bytes();
                let ends = prefix_ends(&elems, s);
                for n in 0..=s.len() {
                    assert_eq!(
                        ends[n],
                        full(&elems, &s[..n]),
                        "{pattern:?} on {:?}",
                        &subject[..n]
                    );
                }
            }
        }
    }

    #[test]
    fn a_long_list_is_not_a_cubic_search() {
        let list = format!(",{},", vec!["n-api"; 2000].join(","));
        let out = replace_all(list.as_bytes(), b",*,", b",", false);
        assert_eq!(out, b",");
    }
}
