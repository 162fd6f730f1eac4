//! `hook-list`: find the hooks to dispatch. Everything lives in the library's `run`.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = hook_list::Args::parse();
    hookpipe::exit::finish("hook-list", hook_list::run(&args, std::io::stdout().lock()))
}
