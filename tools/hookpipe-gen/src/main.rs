//! `hookpipe-gen`: write the tools' man pages and completions. Everything lives in the
//! library's `run`.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = hookpipe_gen::Args::parse();
    let result = hookpipe_gen::run(&args, std::io::stdout().lock());
    hookpipe::exit::finish("hookpipe-gen", result)
}
