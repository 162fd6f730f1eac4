//! `hook-run`: run every hook of one phase. Everything lives in the library's `run`.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = hook_run::Args::parse();
    let result = hook_run::run(&args, std::io::stdin().lock(), std::io::stdout().lock());
    hookpipe::exit::finish("hook-run", result)
}
