//! `phase-log`: the end of every pipeline. Everything lives in the library's `run`.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = phase_log::Args::parse();
    phase_log::main_with(&args)
}
