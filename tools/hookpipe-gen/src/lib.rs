//! hookpipe-gen: the man pages and shell completions of the five tools, generated from the
//! very clap definitions the tools parse their arguments with (each tool crate's `Args`),
//! so they cannot drift from `--help`. `scripts/install.sh` runs it into `PREFIX/share`.
//!
//! Layout under the output directory, as distributions expect it under `/usr/share`:
//! `man/man1/<tool>.1`, `bash-completion/completions/<tool>`, `zsh/site-functions/_<tool>`
//! and `fish/vendor_completions.d/<tool>.fish`.

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, ValueEnum};
use hookpipe::exit::{is_broken_pipe, Fatal, Outcome};

/// Command line of `hookpipe-gen`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "hookpipe-gen",
    version,
    about = "Write the man pages and shell completions of the hookpipe tools",
    after_help = "Writes DIR/man/man1/<tool>.1 and, per --shell, \
                  DIR/bash-completion/completions/<tool>, DIR/zsh/site-functions/_<tool> or \
                  DIR/fish/vendor_completions.d/<tool>.fish for hook-list, hook-run, \
                  hyp-resolve, hyp-call and phase-log, and prints each path it wrote.\n\n\
                  Exit status: 0 written; 2 bad usage or a file that cannot be written."
)]
pub struct Args {
    /// The share directory to write into (for an install: PREFIX/share).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Shells to write completions for (repeatable).
    #[arg(long = "shell", value_enum, default_values_t = [Shell::Bash])]
    pub shells: Vec<Shell>,
    /// Write no man pages.
    #[arg(long)]
    pub no_man: bool,
}

/// The shells whose completions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn generator(self) -> clap_complete::Shell {
        match self {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }

    /// Where the completion of `tool` goes under the share directory.
    fn path(self, dir: &Path, tool: &str) -> PathBuf {
        match self {
            Shell::Bash => dir.join("bash-completion/completions").join(tool),
            Shell::Zsh => dir.join("zsh/site-functions").join(format!("_{tool}")),
            Shell::Fish => dir
                .join("fish/vendor_completions.d")
                .join(format!("{tool}.fish")),
        }
    }
}

/// The argument definitions of the five tools, in pipeline order.
pub fn commands() -> Vec<clap::Command> {
    vec![
        hook_list::Args::command(),
        hook_run::Args::command(),
        hyp_resolve::Args::command(),
        hyp_call::Args::command(),
        phase_log::Args::command(),
    ]
}

/// The man page of one tool, as roff: clap_mangen's sections, with a SYNOPSIS that shows
/// each option's value (`[--timeout SECONDS]`), and the text after `--help`'s options split
/// into NOTES and an EXIT STATUS section of its own (clap_mangen would put it all under
/// "EXTRA").
pub fn man_page(cmd: clap::Command) -> Vec<u8> {
    let mut cmd = cmd;
    cmd.build();
    let after = cmd
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    // The exit status paragraph starts a line with "Exit status" in every tool's help.
    let start = if after.starts_with("Exit status") {
        Some(0)
    } else {
        after.find("\nExit status").map(|at| at + 1)
    };
    let (notes, exit_status) = match start {
        Some(at) => {
            let rest = after[at + "Exit status".len()..].trim_start_matches(':');
            (after[..at].trim().to_owned(), rest.trim().to_owned())
        }
        None => (after.trim().to_owned(), String::new()),
    };
    let man = clap_mangen::Man::new(cmd.clone().after_help(None::<&str>));
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail: the writer is the only source of errors.
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    out.extend_from_slice(&synopsis(&cmd));
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    for (title, text) in [
        ("NOTES", notes.as_str()),
        ("EXIT STATUS", exit_status.as_str()),
    ] {
        if !text.is_empty() {
            out.extend_from_slice(format!(".SH \"{title}\"\n.nf\n").as_bytes());
            for line in text.lines() {
                out.extend_from_slice(roff_line(line).as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(b".fi\n");
        }
    }
    let _ = man.render_version_section(&mut out);
    out
}

/// Text for one roff line: backslashes and dashes escaped, no control character first.
fn roff_line(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// SYNOPSIS with every option's value named, as `--help`'s option list names it.
fn synopsis(cmd: &clap::Command) -> Vec<u8> {
    let mut line = format!("\\fB{}\\fR", roff_line(cmd.get_name()));
    for arg in cmd.get_arguments().filter(|arg| !arg.is_hide_set()) {
        let value = arg
            .get_value_names()
            .and_then(|names| names.first())
            .map(ToString::to_string)
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        let takes_value = arg.get_action().takes_values();
        match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => {
                let flag = format!("\\fB\\-\\-{}\\fR", roff_line(long));
                if takes_value {
                    line.push_str(&format!(" [{flag} \\fI{}\\fR]", roff_line(&value)));
                } else {
                    line.push_str(&format!(" [{flag}]"));
                }
            }
            (None, Some(short)) => line.push_str(&format!(" [\\fB\\-{short}\\fR]")),
            (None, None) => {
                let value = roff_line(&value);
                if arg.is_required_set() {
                    line.push_str(&format!(" \\fI{value}\\fR"));
                } else {
                    line.push_str(&format!(" [\\fI{value}\\fR]"));
                }
                if matches!(arg.get_num_args(), Some(range) if range.max_values() > 1) {
                    line.push_str("...");
                }
            }
        }
    }
    format!(".SH SYNOPSIS\n{line}\n").into_bytes()
}

/// The completion script of one tool for one shell. For bash, hook-run's MODE and PHASE
/// and hyp-call's ACTIONs complete too (clap's bash script offers only options there).
pub fn completion(mut cmd: clap::Command, shell: Shell) -> Vec<u8> {
    let name = cmd.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(shell.generator(), &mut cmd, name.clone(), &mut out);
    if shell == Shell::Bash {
        if let Some(extra) = bash_positionals(&cmd) {
            out.extend_from_slice(extra.as_bytes());
        }
    }
    out
}

/// A bash function before clap's that completes the words of hook-run's MODE and PHASE
/// (from `hook_run::MODES`) and hyp-call's ACTIONs (from `hookpipe::hypervisor::ACTIONS`),
/// skipping options and their values to count the positional arguments.
fn bash_positionals(cmd: &clap::Command) -> Option<String> {
    let name = cmd.get_name();
    let arms = match name {
        "hook-run" => {
            let modes: Vec<&str> = hook_run::MODES.iter().map(|(mode, _)| *mode).collect();
            let mut arms = format!("        0) words=\"{}\" ;;\n", modes.join(" "));
            arms.push_str("        1) case ${positional[0]} in\n");
            for (mode, phases) in hook_run::MODES.iter().filter(|(_, p)| !p.is_empty()) {
                arms.push_str(&format!(
                    "            {mode}) words=\"{}\" ;;\n",
                    phases.join(" ")
                ));
            }
            arms.push_str("           esac ;;\n");
            arms
        }
        "hyp-call" => {
            let actions: Vec<&str> = hookpipe::hypervisor::ACTIONS
                .iter()
                .map(|(action, _)| *action)
                .collect();
            format!("        *) words=\"{}\" ;;\n", actions.join(" "))
        }
        _ => return None,
    };
    let valued: Vec<String> = cmd
        .get_arguments()
        .filter(|arg| arg.get_action().takes_values())
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect();
    let function = format!("_hookpipe_{}", name.replace('-', "_"));
    let clap_function = format!("_{}", name.replace('-', "__"));
    Some(format!(
        r#"
# hookpipe-gen: the positional words clap's function above does not offer.
{function}() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} i skip='' words=''
    local -a positional=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ -n $skip ]]; then
            skip=''
            continue
        fi
        case ${{COMP_WORDS[i]}} in
            {valued}) skip=1 ;;
            -*) ;;
            *) positional+=("${{COMP_WORDS[i]}}") ;;
        esac
    done
    if [[ $cur != -* && -z $skip ]]; then
        case ${{#positional[@]}} in
{arms}        esac
        if [[ -n $words ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
            return 0
        fi
    fi
    {clap_function} "$@"
}}
complete -F {function} -o bashdefault -o default {name}
"#,
        valued = valued.join("|"),
    ))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Fatal> {
    let cannot =
        |err: io::Error| Fatal::internal(format!("cannot write {}: {err}", path.display()));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(cannot)?;
    }
    fs::write(path, bytes).map_err(cannot)
}

/// hookpipe-gen for [`hookpipe::lifecycle::main`]; its stdout is a list of paths, not a
/// record stream.
pub struct Tool;

impl hookpipe::lifecycle::Tool for Tool {
    const NAME: &'static str = "hookpipe-gen";
    const USAGE_STAGE: Option<&'static str> = None;
    type Args = Args;

    fn run(args: &Args) -> Result<Outcome, Fatal> {
        run(args, io::stdout().lock())
    }
}

/// Writes every file and prints each path on `output`, one per line.
pub fn run(args: &Args, mut output: impl Write) -> Result<Outcome, Fatal> {
    let mut written = Vec::new();
    for cmd in commands() {
        let tool = cmd.get_name().to_owned();
        if !args.no_man {
            let path = args.dir.join("man/man1").join(format!("{tool}.1"));
            write_file(&path, &man_page(cmd.clone()))?;
            written.push(path);
        }
        for &shell in &args.shells {
            let path = shell.path(&args.dir, &tool);
            write_file(&path, &completion(cmd.clone(), shell))?;
            written.push(path);
        }
    }
    for path in written {
        if let Err(err) = writeln!(output, "{}", path.display()) {
            if is_broken_pipe(&err) {
                return Ok(Outcome::Ok);
            }
            return Err(Fatal::bad_input(format!("writing the list: {err}")));
        }
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_command_per_tool_under_its_binary_name() {
        let names: Vec<String> = commands()
            .iter()
            .map(|cmd| cmd.get_name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "hook-list",
                "hook-run",
                "hyp-resolve",
                "hyp-call",
                "phase-log"
            ]
        );
    }

    /// A flag added to a tool must show up in its man page and completion with no edit
    /// here: both are generated from the same definition.
    #[test]
    fn every_long_flag_is_in_the_man_page_and_the_bash_completion() {
        for cmd in commands() {
            let name = cmd.get_name().to_owned();
            let man = String::from_utf8(man_page(cmd.clone())).unwrap();
            let bash = String::from_utf8(completion(cmd.clone(), Shell::Bash)).unwrap();
            assert!(
                man.starts_with(".ie") || man.contains(".TH"),
                "{name}: not roff:\n{man}"
            );
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                let escaped = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(man.contains(&escaped), "{name}.1 lacks --{long}");
                assert!(
                    bash.contains(&format!("--{long}")),
                    "{name} completion lacks --{long}"
                );
            }
        }
    }

    #[test]
    fn completion_paths_follow_each_shells_convention() {
        let dir = Path::new("/p/share");
        assert_eq!(
            Shell::Bash.path(dir, "hook-run"),
            Path::new("/p/share/bash-completion/completions/hook-run")
        );
        assert_eq!(
            Shell::Zsh.path(dir, "hook-run"),
            Path::new("/p/share/zsh/site-functions/_hook-run")
        );
        assert_eq!(
            Shell::Fish.path(dir, "hook-run"),
            Path::new("/p/share/fish/vendor_completions.d/hook-run.fish")
        );
    }
}
