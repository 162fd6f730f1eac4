//! phase-log: turns a record stream into a timestamped log and reports the run's status.

/// Command line of `phase-log`.
#[derive(Debug, clap::Parser)]
#[command(name = "phase-log", version, about)]
pub struct Args {}

pub fn main_with(_args: &Args) -> std::process::ExitCode {
    std::process::ExitCode::from(2)
}
