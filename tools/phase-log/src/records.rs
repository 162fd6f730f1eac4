//! What passes under the record reader: [`Tee`] sees each block read from stdin.
//!
//! For `--records FILE` it writes the block to the file straight away, unbuffered, so the
//! file is the input stream exactly as it arrived and `phase-log < FILE` replays the run
//! (same log lines, same reports): nothing waits in memory, a crash of phase-log or of the
//! machine keeps everything read before it, and blank or malformed lines are kept too. A
//! write error stops the copy, not the run; it is reported at the end.
//!
//! It also numbers the lines read, and remembers the number of the last whole line that is
//! not blank ([`Lines`]). The reader numbers every line it consumes, blank ones too, and
//! skips blank ones without returning; so while the record last returned has a lower
//! number, a record is waiting whole in the buffer and the next read cannot block, and
//! `logger` flushes the sinks only when it can. Counting newlines once per block (a vector
//! loop) is cheaper than searching the buffer before every record.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Read, Write};
use std::rc::Rc;

use bstr::ByteSlice;

/// The first write error of a [`Tee`], shared with whoever reports it.
pub(crate) type Failure = Rc<RefCell<Option<io::Error>>>;

/// The number (counting from 1, as the reader does) of the last whole line read that is
/// not blank; 0 before there is one. Shared with whoever reads through the [`Tee`].
pub(crate) type Lines = Rc<Cell<u64>>;

/// A reader that copies what it reads to a file and counts its lines; see the module docs.
pub(crate) struct Tee<R> {
    input: R,
    copy: Option<File>,
    failure: Failure,
    /// Newlines read so far.
    newlines: u64,
    /// The line not yet ended has something other than whitespace.
    open_has_text: bool,
    last_text_line: Lines,
}

impl<R: Read> Tee<R> {
    pub(crate) fn new(input: R, copy: Option<File>) -> (Tee<R>, Failure, Lines) {
        let failure = Failure::default();
        let lines = Lines::default();
        let tee = Tee {
            input,
            copy,
            failure: Rc::clone(&failure),
            newlines: 0,
            open_has_text: false,
            last_text_line: Rc::clone(&lines),
        };
        (tee, failure, lines)
    }

    /// Numbers the lines of a block just read; see the module docs.
    fn saw(&mut self, block: &[u8]) {
        let before = self.newlines;
        self.newlines += count_newlines(block);
        let has_text = |bytes: &[u8]| bytes.iter().any(|byte| !byte.is_ascii_whitespace());
        // From the end: past the unfinished line, then past blank lines, to the last line
        // with text. One step nearly always: our writers write no blank lines.
        let Some(last) = block.rfind_byte(b'\n') else {
            self.open_has_text |= has_text(block);
            return;
        };
        let open_has_text = has_text(&block[last + 1..]);
        let mut end = last;
        let mut number = self.newlines;
        loop {
            match block[..end].rfind_byte(b'\n') {
                Some(start) if has_text(&block[start + 1..end]) => break,
                Some(start) => end = start,
                None => {
                    if !(self.open_has_text || has_text(&block[..end])) {
                        // Only blank lines ended in this block.
                        number = before;
                    }
                    break;
                }
            }
            number -= 1;
        }
        if number > before {
            self.last_text_line.set(number);
        }
        self.open_has_text = open_has_text;
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.input.read(buf)?;
        self.saw(&buf[..read]);
        if let Some(copy) = &mut self.copy {
            if let Err(err) = copy.write_all(&buf[..read]) {
                *self.failure.borrow_mut() = Some(err);
                self.copy = None;
            }
        }
        Ok(read)
    }
}

/// Counts in byte-wide lanes, 255 bytes at a time so no lane overflows: the compiler
/// makes a vector loop of this, where a plain `filter().count()` stays a byte loop.
fn count_newlines(bytes: &[u8]) -> u64 {
    bytes
        .chunks(255)
        .map(|chunk| {
            let lanes = chunk
                .iter()
                .fold(0u8, |count, &byte| count + u8::from(byte == b'\n'));
            u64::from(lanes)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last line with text after reading `blocks`, one read each.
    fn last_text_line(blocks: &[&[u8]]) -> u64 {
        let (mut tee, _, lines) = Tee::new(io::empty(), None);
        for block in blocks {
            tee.saw(block);
        }
        lines.get()
    }

    #[test]
    fn numbers_the_last_line_with_text_whatever_the_blocks() {
        let cases: &[(&[&[u8]], u64)] = &[
            (&[], 0),
            (&[b"{}"], 0),
            (&[b"{}\n"], 1),
            (&[b"{}\n\n  \n"], 1),
            (&[b"{}\n\n{}\n half"], 3),
            (&[b"\n \n\t\n"], 0),
            (&[b"{", b"}", b"\n"], 1),
            (&[b"{}\n", b"\n", b" \n"], 1),
            (&[b"{}\n", b"\n", b"x\n"], 3),
            (&[b"{}\n{", b"\n"], 2),
            (&[b"{}\n ", b" \n"], 1),
            (&[b"a\nb\nc\n", b"\r\n"], 3),
        ];
        for (blocks, want) in cases {
            assert_eq!(last_text_line(blocks), *want, "{blocks:?}");
        }
    }

    #[test]
    fn counts_newlines_across_lanes() {
        for len in [0, 1, 254, 255, 256, 1000] {
            let bytes: Vec<u8> = (0..len)
                .map(|n| if n % 3 == 0 { b'\n' } else { b'x' })
                .collect();
            let want = bytes.iter().filter(|&&byte| byte == b'\n').count() as u64;
            assert_eq!(count_newlines(&bytes), want, "{len}");
        }
        assert_eq!(count_newlines(&[b'\n'; 600]), 600);
    }

    #[test]
    fn copies_every_byte_read_as_it_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("records");
        let input: &[u8] = b"{\"type\":\"a\"}\n\n not json \xff\n{\"type\":\"b\"}";
        let (mut tee, failure, lines) = Tee::new(input, Some(File::create(&path).unwrap()));
        let mut first = [0u8; 5];
        tee.read_exact(&mut first).unwrap();
        // Already on disk, before the rest is read.
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"typ");
        io::copy(&mut tee, &mut io::sink()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), input);
        assert!(failure.borrow().is_none());
        assert_eq!(lines.get(), 3);
    }
}
