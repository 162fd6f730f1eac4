//! POSIX extended regular expressions as bash's `[[ string =~ regex ]]` reads them.
//!
//! bash hands the pattern to the C library's `regcomp(REG_EXTENDED)` and the string to
//! `regexec`; so does this module, so its answers are bash's by construction, corners
//! included (`n.api` and `x|key` are live, `a^b` never matches, `a{,3}` is an interval,
//! `\<` is GNU's word start). [`crate::services`] uses it where DevStack treats a service
//! name as a regular expression. `tests/services/ere.tsv` runs the corners DevStack users
//! hit through bash and through this module, so a C library that reads one differently is
//! caught by a test, not by a user.
//!
//! The C library reads patterns in the process's locale, as bash does in the user's: a
//! tool calls [`use_environment_locale`] once at start (`hook-list` does); until then a
//! process is in the C locale, byte for byte, which is where the case tables were written.
//!
//! bash's `=~` returns 2 for a pattern that is not a regular expression, which a condition
//! reads as false, so [`search`] answers `false` for one; [`Regex::new`] says why.

use std::ffi::{CStr, CString};
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Once;

/// A pattern the C library refused, with its own words for why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// `regerror`'s message, or a note that the pattern holds a NUL byte.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Takes the locale from the environment (`LC_ALL`, `LC_CTYPE`, `LANG`...), as bash does at
/// start, so patterns and subjects are read as the user's shell reads them. Once per
/// process; call it before other threads start (`setlocale` is not thread-safe).
pub fn use_environment_locale() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the argument is a NUL-terminated empty string, which asks for the
        // environment's locale; `Once` keeps this to one call, made by the tool's main
        // thread before it starts any other (the caller's promise above).
        unsafe {
            libc::setlocale(libc::LC_ALL, c"".as_ptr());
        }
    });
}

/// bash's `[[ subject =~ pattern ]]`: true when the pattern matches somewhere in the subject;
/// false when it does not, or is not a valid regular expression.
pub fn search(pattern: &[u8], subject: &[u8]) -> bool {
    Regex::new(pattern).is_ok_and(|re| re.is_match(subject))
}

/// A compiled regular expression: the C library's `regex_t`, freed on drop.
pub struct Regex {
    compiled: Box<libc::regex_t>,
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Regex").finish_non_exhaustive()
    }
}

impl Regex {
    /// Compiles a pattern with `regcomp(REG_EXTENDED)`, as bash does, or says why the C
    /// library refuses it. A NUL byte cannot reach bash's `=~` (bash strings end there),
    /// so a pattern holding one is refused.
    pub fn new(pattern: &[u8]) -> Result<Regex, Error> {
        let pattern = CString::new(pattern).map_err(|_| Error {
            message: "a NUL byte in the pattern".to_owned(),
        })?;
        let mut compiled = Box::new(MaybeUninit::<libc::regex_t>::uninit());
        // SAFETY: `compiled` is writable memory the size of a `regex_t`, which `regcomp`
        // initialises; `pattern` is a NUL-terminated string that outlives the call.
        let code =
            unsafe { libc::regcomp(compiled.as_mut_ptr(), pattern.as_ptr(), libc::REG_EXTENDED) };
        if code != 0 {
            let message = error_message(code, compiled.as_ptr());
            // A failed `regcomp` frees what it allocated; nothing is left to `regfree`.
            return Err(Error { message });
        }
        // SAFETY: `regcomp` returned 0, so it initialised the whole `regex_t`.
        let compiled = unsafe { Box::from_raw(Box::into_raw(compiled).cast::<libc::regex_t>()) };
        Ok(Regex { compiled })
    }

    /// True when the expression matches anywhere in `subject`, which may hold any bytes
    /// (`REG_STARTEND` bounds it, so no copy is needed and a NUL does not end it).
    pub fn is_match(&self, subject: &[u8]) -> bool {
        let Ok(end) = libc::regoff_t::try_from(subject.len()) else {
            // Longer than the C library can index: no service list is.
            return false;
        };
        let mut bounds = [libc::regmatch_t {
            rm_so: 0,
            rm_eo: end,
        }];
        // SAFETY: `compiled` was initialised by a successful `regcomp` and is not freed
        // before drop; with `REG_STARTEND`, `regexec` reads the subject only from
        // `bounds[0].rm_so` to `rm_eo`, which lie inside `subject`, and writes at most one
        // `regmatch_t`, the size of `bounds`.
        let code = unsafe {
            libc::regexec(
                &*self.compiled,
                subject.as_ptr().cast(),
                bounds.len(),
                bounds.as_mut_ptr(),
                libc::REG_STARTEND,
            )
        };
        code == 0
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: `compiled` holds what a successful `regcomp` built, freed only here.
        unsafe { libc::regfree(&mut *self.compiled) }
    }
}

/// `regerror`'s words for `code`.
fn error_message(code: libc::c_int, compiled: *const libc::regex_t) -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: `regerror` writes at most `buffer.len()` bytes, NUL-terminated, and only
    // reads `compiled` (glibc ignores it) for the message.
    unsafe {
        libc::regerror(code, compiled, buffer.as_mut_ptr().cast(), buffer.len());
    }
    CStr::from_bytes_until_nul(&buffer).map_or_else(
        |_| format!("invalid regular expression (code {code})"),
        |text| text.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_metacharacters_are_read_as_bash_reads_them() {
        assert!(search(b",n.api,", b",key,n-api,"));
        assert!(search(b",x|key,", b",key,"));
        assert!(!search(b"a^b", b"a^b"));
        assert!(search(b"a{,3}b", b"aab"));
    }

    #[test]
    fn a_refused_pattern_says_why_and_never_matches() {
        let err = Regex::new(b"a{2,1}").expect_err("a reversed interval");
        assert!(!err.message.is_empty());
        assert!(!search(b"(", b"("));
        assert!(Regex::new(b"a\0b").is_err());
    }

    #[test]
    fn subjects_are_bounded_by_length_not_by_nul() {
        let re = Regex::new(b"b$").expect("a valid pattern");
        assert!(re.is_match(b"ab"));
        assert!(!re.is_match(b"ab\0c"));
        assert!(re.is_match(&b"abc"[..2]));
    }
}
