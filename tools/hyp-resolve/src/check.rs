//! `--check`: compares the static reading with what bash itself makes of the plugin. First
//! `bash -n` (syntax only, nothing runs); then, if that passes, a `bash --noprofile --norc`
//! that sources the prelude (`lib/functions`) and the plugin, as DevStack's `lib/nova`
//! does, and lists the functions that exist afterwards with `declare -F`. This does run the
//! plugin's top level, which is why the caller says so on stderr. File names reach bash
//! as arguments, never inside the script. [`crate::run`] turns the findings into
//! `warning` records.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hookpipe::bytes::display;

/// The script bash runs: `$1` the prelude, `$2` the plugin, `$3` where to list functions.
/// Functions are listed before and after the plugin, so the difference is the plugin's.
const SCRIPT: &str = r##"declare -r __hyp_prelude=$1 __hyp_plugin=$2 __hyp_out=$3
set --
source "$__hyp_prelude" || exit 125
{ declare -F; echo '#plugin'; } >"$__hyp_out"
source "$__hyp_plugin"
__hyp_status=$?
{ declare -F; echo "#status $__hyp_status"; } >>"$__hyp_out"
"##;

/// Where `--check` finds `lib/functions`, in order: `$HOOKPIPE_LIB/functions` when
/// `HOOKPIPE_LIB` is set; `<exe dir>/../../lib/functions` (a binary in the repository's
/// `target/<profile>/`); the repository this binary was built from.
pub fn find_prelude() -> Result<PathBuf, String> {
    if let Some(lib) = std::env::var_os("HOOKPIPE_LIB").filter(|lib| !lib.is_empty()) {
        let prelude = PathBuf::from(&lib).join("functions");
        return if prelude.is_file() {
            Ok(prelude)
        } else {
            Err(format!(
                "HOOKPIPE_LIB={}: no `functions` file there",
                display(lib.as_bytes())
            ))
        };
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join("../../lib/functions"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lib/functions"));
    candidates
        .into_iter()
        .find(|candidate| candidate.is_file())
        .map(|found| std::fs::canonicalize(&found).unwrap_or(found))
        .ok_or_else(|| {
            "cannot find lib/functions for --check: set HOOKPIPE_LIB to the directory \
             holding it"
                .to_owned()
        })
}

/// The environment of the bash that sources the plugin: `NOVA_PLUGINS` is the plugin
/// directory (DevStack sets it so), and `TOP_DIR` is kept from ours or set to `top_dir`.
pub struct Setting<'a> {
    pub prelude: &'a Path,
    pub dir: &'a Path,
    pub top_dir: Option<&'a Path>,
}

fn bash() -> Command {
    let mut command = Command::new("bash");
    // A non-interactive bash reads $BASH_ENV even with --norc.
    command
        .env_remove("BASH_ENV")
        .env_remove("ENV")
        .stdin(Stdio::null());
    command
}

/// `bash -n` on the plugin: nothing runs. The message lines when bash refuses it.
pub fn syntax(plugin: &Path) -> io::Result<Vec<String>> {
    let output = bash()
        .args(["--noprofile", "--norc", "-n"])
        .arg(plugin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if output.status.success() {
        return Ok(Vec::new());
    }
    let mut lines: Vec<String> = output
        .stderr
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(display)
        .collect();
    if lines.is_empty() {
        lines.push(format!("bash -n failed with {}", output.status));
    }
    Ok(lines)
}

/// Sources the plugin after the prelude and compares the functions that then exist with
/// `names`, the ones the static reading found in it and its helpers. Returns the
/// disagreements and other things worth a look; `Err` only when bash could not be run or
/// its listing not read.
pub fn compare(plugin: &Path, names: &[Vec<u8>], setting: &Setting<'_>) -> io::Result<Vec<String>> {
    let mut warnings = Vec::new();
    let listing = tempfile::NamedTempFile::new()?;
    let mut command = bash();
    command
        .args(["--noprofile", "--norc", "-c", SCRIPT, "hyp-resolve-check"])
        .arg(setting.prelude)
        .arg(plugin)
        .arg(listing.path())
        .env("NOVA_PLUGINS", setting.dir)
        // What the plugin prints is for people: our stdout carries only records.
        .stdout(std::io::stderr().as_fd().try_clone_to_owned()?);
    if std::env::var_os("TOP_DIR").is_none_or(|top| top.is_empty()) {
        if let Some(top) = setting.top_dir {
            command.env("TOP_DIR", top);
        }
    }
    let status = command.status()?;
    let text = std::fs::read(listing.path())?;
    let label = display(plugin.as_os_str().as_bytes());

    let mut lines = text.split(|b| *b == b'\n');
    let mut before = BTreeSet::new();
    let mut found_plugin_marker = false;
    for line in lines.by_ref() {
        if line == b"#plugin" {
            found_plugin_marker = true;
            break;
        }
        before.extend(declared(line));
    }
    if !found_plugin_marker {
        warnings.push(format!(
            "--check: sourcing the prelude {} failed ({status}); the plugin was not checked",
            display(setting.prelude.as_os_str().as_bytes())
        ));
        return Ok(warnings);
    }
    let mut after = BTreeSet::new();
    let mut plugin_status = None;
    for line in lines {
        if let Some(code) = line.strip_prefix(b"#status ") {
            plugin_status = Some(display(code));
            break;
        }
        after.extend(declared(line));
    }
    match plugin_status {
        None => {
            warnings.push(format!(
                "--check: sourcing {label} ended the shell ({status}) before its functions could \
                 be listed"
            ));
            return Ok(warnings);
        }
        Some(code) if code != "0" => {
            warnings.push(format!("--check: sourcing {label} returned status {code}"))
        }
        Some(_) => {}
    }
    for name in names {
        if !after.contains(name) {
            warnings.push(format!(
                "--check: {label}: the static reading finds `{}`, but sourcing the plugin does \
                 not define it",
                display(name)
            ));
        }
    }
    for name in after.difference(&before) {
        if !names.contains(name) {
            warnings.push(format!(
                "--check: {label}: sourcing the plugin defines `{}`, which the static reading \
                 does not find",
                display(name)
            ));
        }
    }
    Ok(warnings)
}

/// The function name of one `declare -F` line (`declare -f name`, `declare -fx name`).
fn declared(line: &[u8]) -> Option<Vec<u8>> {
    let rest = line.strip_prefix(b"declare -f")?;
    let space = rest.iter().position(|b| *b == b' ')?;
    Some(rest[space + 1..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declare_lines() {
        assert_eq!(declared(b"declare -f foo"), Some(b"foo".to_vec()));
        assert_eq!(declared(b"declare -fx a-b"), Some(b"a-b".to_vec()));
        assert_eq!(declared(b"something else"), None);
    }
}
