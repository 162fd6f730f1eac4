//! `hyp-resolve`: find a driver's hypervisor plugin. Everything lives in the library's `run`.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = hyp_resolve::Args::parse();
    let result = hyp_resolve::run(&args, std::io::stdout().lock(), std::io::stderr());
    hookpipe::exit::finish("hyp-resolve", result)
}
