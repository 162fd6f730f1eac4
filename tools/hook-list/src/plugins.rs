//! DevStack external plugins: which are enabled, in which order, and what each one has.
//!
//! DevStack records `enable_plugin` calls in `DEVSTACK_PLUGINS` (`,a,b`) and each plugin's
//! checkout in `GITDIR[name]`, by default `$DEST/<name>` (docs/devstack.md §3).
//! An associative array cannot be exported, so `--plugin NAME=DIR` plays `GITDIR`'s part:
//! [`resolve`] merges both into one list in enable order, and [`inspect`] reports what a
//! plugin directory holds. Turning that into records is `lib.rs`'s business.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// The files DevStack sources from `<plugin>/devstack/`, in the order the `files` field
/// lists them.
pub(crate) const FILES: [&str; 3] = ["settings", "override-defaults", "plugin.sh"];

/// One enabled plugin: its name and its absolute directory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plugin {
    pub name: OsString,
    pub dir: PathBuf,
}

/// Checks the enable order against the plugins' `plugin_requires` lines (read from each
/// `devstack/settings`, as DevStack's CI reads them): a plugin enabled before one it
/// requires, or a cycle, is refused before anything is listed.
pub(crate) fn check_requires(plugins: &[Plugin]) -> Result<(), hookpipe::requires::GraphError> {
    let declared: Vec<hookpipe::requires::Plugin> = plugins
        .iter()
        .map(|plugin| hookpipe::requires::Plugin {
            name: plugin.name.to_string_lossy().into_owned(),
            declared: hookpipe::requires::declared_in(plugin.dir.as_os_str().as_bytes()),
        })
        .collect();
    hookpipe::requires::check(&declared)
}

/// What `inspect` found: the files present, or why the plugin directory is unusable (a
/// `missing-plugin-dir` skip); `lib.rs` may turn a plugin others could change into
/// `Untrusted` (an `untrusted` skip).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    Plugin {
        files: Vec<String>,
        warning: Option<String>,
    },
    Missing {
        message: String,
    },
    Untrusted {
        message: String,
    },
}

/// The enabled plugins in enable order: those of `devstack_plugins` (DevStack's list: commas
/// become spaces, then the shell's word splitting, so empty items vanish) first, then the
/// names `--plugin` enables that the list does not hold, in command-line order. A
/// `--plugin` entry for a listed name only gives its directory; every other plugin lives in
/// `dest/<name>`. A name twice in the list, or twice among `--plugin`, is DevStack's
/// "enabled twice" error.
pub(crate) fn resolve(
    specs: &[OsString],
    devstack_plugins: Option<&OsStr>,
    dest: &Path,
) -> Result<Vec<Plugin>, Error> {
    let mut given: Vec<(OsString, PathBuf)> = Vec::with_capacity(specs.len());
    for spec in specs {
        let (name, dir) = split_spec(spec)?;
        if given.iter().any(|(seen, _)| *seen == name) {
            return Err(Error::PluginTwice { name });
        }
        given.push((name, dir));
    }
    let listed = devstack_plugins.map(split_list).unwrap_or_default();
    let mut names: Vec<OsString> = Vec::with_capacity(listed.len() + given.len());
    for name in listed {
        check_name(&name)?;
        if names.contains(&name) {
            return Err(Error::PluginTwice { name });
        }
        names.push(name);
    }
    for (name, _) in &given {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let dir = match given.iter().find(|(seen, _)| *seen == name) {
                Some((_, dir)) => dir.clone(),
                None => dest.join(&name),
            };
            let dir = crate::scan::absolute(&dir).map_err(|err| Error::Dir {
                path: dir.clone(),
                err,
            })?;
            Ok(Plugin { name, dir })
        })
        .collect()
}

/// `NAME=DIR`, split at the first `=`.
fn split_spec(spec: &OsStr) -> Result<(OsString, PathBuf), Error> {
    let bytes = spec.as_bytes();
    let bad = || Error::PluginSpec {
        spec: spec.to_owned(),
    };
    let equals = bytes
        .iter()
        .position(|&byte| byte == b'=')
        .ok_or_else(bad)?;
    let (name, dir) = (&bytes[..equals], &bytes[equals + 1..]);
    if dir.is_empty() {
        return Err(bad());
    }
    let name = OsStr::from_bytes(name).to_owned();
    check_name(&name)?;
    Ok((name, PathBuf::from(OsStr::from_bytes(dir))))
}

/// A plugin name becomes a path component (`$DEST/<name>`) and part of hook ids.
fn check_name(name: &OsStr) -> Result<(), Error> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
        return Err(Error::PluginName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// `${DEVSTACK_PLUGINS//,/ }` word-split on the default IFS.
fn split_list(list: &OsStr) -> Vec<OsString> {
    list.as_bytes()
        .split(|&byte| matches!(byte, b',' | b' ' | b'\t' | b'\n'))
        .filter(|item| !item.is_empty())
        .map(|item| OsStr::from_bytes(item).to_owned())
        .collect()
}

/// Which of [`FILES`] exist under `<dir>/devstack/` as regular files (DevStack's `-f`,
/// which follows symlinks), or why there is no usable directory.
pub(crate) fn inspect(plugin: &Plugin) -> Found {
    let shown = hookpipe::bytes::display(plugin.dir.as_os_str().as_bytes());
    match std::fs::metadata(&plugin.dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Found::Missing {
                message: format!("plugin directory {shown} is not a directory"),
            }
        }
        Err(err) => {
            return Found::Missing {
                message: format!(
                    "plugin directory {shown}: {} (DevStack clones it in fetch_plugins)",
                    crate::scan::describe(&err)
                ),
            }
        }
    }
    let devstack = plugin.dir.join("devstack");
    let files: Vec<String> = FILES
        .iter()
        .filter(|file| devstack.join(file).is_file())
        .map(|file| (*file).to_owned())
        .collect();
    let warning = (!files.iter().any(|file| file == "plugin.sh")).then(|| {
        "no devstack/plugin.sh: DevStack runs nothing of this plugin in stack, unstack and clean"
            .to_owned()
    });
    Found::Plugin { files, warning }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn resolved(specs: &[&str], env: Option<&str>) -> Result<Vec<(String, String)>, String> {
        resolve(&os(specs), env.map(OsStr::new), Path::new("/dest"))
            .map(|plugins| {
                plugins
                    .into_iter()
                    .map(|p| {
                        (
                            p.name.to_string_lossy().into_owned(),
                            p.dir.to_string_lossy().into_owned(),
                        )
                    })
                    .collect()
            })
            .map_err(|err| err.to_string())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn devstack_list_splits_like_the_shell() {
        assert_eq!(
            split_list(OsStr::new(",a,,b c\td,")),
            os(&["a", "b", "c", "d"])
        );
        assert!(split_list(OsStr::new(",, ,")).is_empty());
    }

    #[test]
    fn enable_order_and_directories() {
        assert_eq!(
            resolved(&["c=/src/c", "b=/src/b"], Some(",a,b")),
            Ok(pairs(&[("a", "/dest/a"), ("b", "/src/b"), ("c", "/src/c")]))
        );
        assert_eq!(resolved(&[], None), Ok(vec![]));
    }

    #[test]
    fn enabled_twice_is_devstacks_error() {
        for (specs, env) in [(&["a=/x", "a=/y"][..], None), (&[][..], Some(",a,b,a"))] {
            assert_eq!(
                resolved(specs, env),
                Err("Plugin attempted to be enabled twice: a".to_owned())
            );
        }
    }

    #[test]
    fn refuses_names_that_are_not_one_path_component() {
        for (specs, env) in [
            (&["a/b=/x"][..], None),
            (&["..=/x"][..], None),
            (&["=/x"][..], None),
            (&[][..], Some(",.,b")),
            (&[][..], Some("../etc")),
        ] {
            let err = resolved(specs, env).unwrap_err();
            assert!(err.starts_with("bad plugin name"), "{err}");
        }
        for spec in ["noequals", "a="] {
            let err = resolved(&[spec], None).unwrap_err();
            assert!(err.contains("NAME=DIR"), "{err}");
        }
    }
}
