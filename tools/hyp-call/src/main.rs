//! `hyp-call`: call a hypervisor plugin's functions.
//!
//! Every tool's `main` is this same line: the lifecycle and the exit path live once, in
//! `hookpipe::lifecycle`; the tool itself lives in its library.

fn main() -> std::process::ExitCode {
    hookpipe::lifecycle::main::<hyp_call::Tool>()
}
