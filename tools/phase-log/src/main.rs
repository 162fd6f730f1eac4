//! `phase-log`: the end of every pipeline.
//!
//! Every tool's `main` is this same line: the lifecycle and the exit path live once, in
//! `hookpipe::lifecycle`; the tool itself lives in its library.

fn main() -> std::process::ExitCode {
    hookpipe::lifecycle::main::<phase_log::Tool>()
}
