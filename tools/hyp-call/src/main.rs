//! `hyp-call`: call a hypervisor plugin's functions. Everything lives in the library's `run`.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = hyp_call::Args::parse();
    let result = hyp_call::run(&args, std::io::stdin().lock(), std::io::stdout().lock());
    hookpipe::exit::finish("hyp-call", result)
}
