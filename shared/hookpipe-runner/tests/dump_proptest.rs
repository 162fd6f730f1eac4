//! Property test: the shell-state dump parser never panics on any input, and what it
//! accepts it can always turn back into a script. `PROPTEST_CASES` bounds the run (CI uses
//! the default 256).

use hookpipe_runner::state::Dump;
use proptest::prelude::*;

proptest! {
    #[test]
    fn dump_parser_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        if let Some(dump) = Dump::parse(&data) {
            let _ = dump.full_script(&Default::default());
            let _ = dump.delta_script(&Dump::default());
        }
    }
}
