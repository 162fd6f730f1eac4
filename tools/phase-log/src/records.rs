//! `--records FILE`: the input stream exactly as it arrived, so `phase-log < FILE` replays
//! the run (same log lines, same reports). [`Tee`] sits under the record reader and writes
//! each block it reads to the file straight away, unbuffered: nothing waits in memory, so
//! a crash of phase-log or of the machine keeps everything read before it, and blank or
//! malformed lines are kept too. A write error stops the copy, not the run; it is
//! reported at the end.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::rc::Rc;

/// The first write error of a [`Tee`], shared with whoever reports it.
pub type Failure = Rc<RefCell<Option<io::Error>>>;

/// A reader that copies what it reads to a file; see the module docs.
pub struct Tee<R> {
    input: R,
    copy: Option<File>,
    failure: Failure,
}

impl<R: Read> Tee<R> {
    pub fn new(input: R, copy: Option<File>) -> (Tee<R>, Failure) {
        let failure = Failure::default();
        let tee = Tee {
            input,
            copy,
            failure: Rc::clone(&failure),
        };
        (tee, failure)
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.input.read(buf)?;
        if let Some(copy) = &mut self.copy {
            if let Err(err) = copy.write_all(&buf[..read]) {
                *self.failure.borrow_mut() = Some(err);
                self.copy = None;
            }
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_byte_read_as_it_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("records");
        let input: &[u8] = b"{\"type\":\"a\"}\n\n not json \xff\n{\"type\":\"b\"}";
        let (mut tee, failure) = Tee::new(input, Some(File::create(&path).unwrap()));
        let mut first = [0u8; 5];
        tee.read_exact(&mut first).unwrap();
        // Already on disk, before the rest is read.
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"typ");
        io::copy(&mut tee, &mut io::sink()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), input);
        assert!(failure.borrow().is_none());
    }
}
