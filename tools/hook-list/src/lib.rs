//! hook-list: lists extras.d hooks (and DevStack plugins) in dispatch order as `hook`
//! records, and every entry it will not run as a `skip` record with its reason.

use std::io::Write;
use std::path::PathBuf;

use hookpipe::exit::{Fatal, Outcome};

/// Command line of `hook-list`.
#[derive(Debug, clap::Parser)]
#[command(name = "hook-list", version, about)]
pub struct Args {
    /// Directories to search, earlier ones winning over later ones for the same name.
    pub dirs: Vec<PathBuf>,
}

pub fn run(_args: &Args, _out: impl Write) -> Result<Outcome, Fatal> {
    Err(Fatal::bad_input("not built yet"))
}
