//! Plugin files: which driver names are acceptable, what state a plugin file is in, and its
//! coverage of the five required functions, from [`crate::parse`]'s static reading of the
//! file and of the helper files it sources. [`crate::run`] turns the results into records.
//!
//! Sources followed (one level deep: what the helper itself sources is not read), where
//! `NAME` is one path component naming a readable regular file in the plugin directory
//! other than the plugin itself:
//!
//! - `$NOVA_PLUGINS/NAME` (DevStack's `NOVA_PLUGINS=$TOP_DIR/lib/nova_plugins`);
//! - `$TOP_DIR/lib/nova_plugins/NAME`, also with `$RC_DIR` (DevStack's `RC_DIR` is
//!   `TOP_DIR`);
//! - `lib/nova_plugins/NAME` or `./lib/nova_plugins/NAME` (DevStack runs from `TOP_DIR`);
//! - an absolute path whose directory is the plugin directory.
//!
//! `${VAR}` counts as `$VAR`, and quoting does not matter. Anything else (another
//! variable, `$(dirname ...)`, a file elsewhere) is not followed, and says so in a warning.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hookpipe::bytes::display;
use hookpipe::record::SkipReason;
use nix::unistd::{access, AccessFlags};

use crate::parse::{self, Part, Source};

/// The functions DevStack calls on a hypervisor plugin, in the order it calls them.
pub const REQUIRED: [&str; 5] = [
    "install_nova_hypervisor",
    "configure_nova_hypervisor",
    "start_nova_hypervisor",
    "stop_nova_hypervisor",
    "cleanup_nova_hypervisor",
];

/// File names longer than this cannot exist on the file systems DevStack runs on.
const NAME_MAX: usize = 255;

/// The prefix of every plugin file name.
pub const PREFIX: &[u8] = b"hypervisor-";

/// Refuses a driver that is not a plain name: bytes from `[A-Za-z0-9_.+-]`, not starting
/// with `.` or `-`, so `hypervisor-DRIVER` is one file in the plugin directory and never a
/// path, a hidden file or an option. `Err` says why.
pub fn check_driver(driver: &[u8]) -> Result<(), &'static str> {
    match driver.first() {
        None => Err("it is empty"),
        Some(_) if driver.contains(&b'/') => Err("it contains `/`"),
        Some(b'.') => Err("it starts with `.`"),
        Some(b'-') => Err("it starts with `-`"),
        Some(_)
            if !driver
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(b)) =>
        {
            Err("only letters, digits and `_.+-` are allowed")
        }
        Some(_) if driver.len() + PREFIX.len() > NAME_MAX => Err("it is too long"),
        Some(_) => Ok(()),
    }
}

/// What is at a plugin's path.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// Nothing: the driver has no plugin.
    Absent,
    /// A regular file we may read.
    Readable,
    /// Something that is there but cannot serve as a plugin: the `skip` reason and why.
    Unusable(SkipReason, String),
}

/// Looks at `path` without reading it.
///
/// Readability is judged by the permission bits as well as `access(2)`: root may read
/// anything, but a file with no read bit at all (mode `000`, `200`...) is treated as
/// unreadable for everyone, so the verdict does not depend on who runs the tool.
pub fn probe(path: &Path) -> Probe {
    match fs::symlink_metadata(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Probe::Absent,
        Err(err) => {
            return Probe::Unusable(SkipReason::Unreadable, format!("cannot be examined: {err}"))
        }
        Ok(_) => {}
    }
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Probe::Unusable(SkipReason::BrokenLink, "is a broken symbolic link".into())
        }
        Err(err) => {
            return Probe::Unusable(SkipReason::Unreadable, format!("cannot be examined: {err}"))
        }
    };
    if meta.is_dir() {
        return Probe::Unusable(SkipReason::Directory, "is a directory".into());
    }
    if !meta.is_file() {
        return Probe::Unusable(SkipReason::NotRegular, "is not a regular file".into());
    }
    let mode = meta.permissions().mode();
    if mode & 0o444 == 0 {
        return Probe::Unusable(
            SkipReason::Unreadable,
            format!(
                "is not readable (mode {:03o}: no read permission bit)",
                mode & 0o777
            ),
        );
    }
    if let Err(errno) = access(path, AccessFlags::R_OK) {
        return Probe::Unusable(
            SkipReason::Unreadable,
            format!("is not readable: {}", errno.desc()),
        );
    }
    Probe::Readable
}

/// A plugin's coverage, by the static reading.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Every function the plugin file itself defines, once each, in file order.
    pub functions: Vec<Vec<u8>>,
    /// Functions only the helper files it sources define, in the order sourced.
    pub sourced: Vec<Vec<u8>>,
    /// The required functions defined in neither, in [`REQUIRED`] order.
    pub missing: Vec<&'static str>,
    /// For people: `source` lines that were not followed, and why.
    pub notes: Vec<String>,
}

impl Coverage {
    /// Every function the reading found, the plugin's own first.
    pub fn all(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.functions.iter().chain(&self.sourced)
    }
}

/// Reads `text`, the plugin at `plugin` in `dir` (both canonical), and the helpers it
/// sources.
pub fn cover(dir: &Path, plugin: &Path, text: &[u8]) -> Coverage {
    let reading = parse::read(text);
    let mut coverage = Coverage {
        functions: reading
            .function_names()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect(),
        ..Coverage::default()
    };
    let label = display(plugin.file_name().unwrap_or_default().as_bytes());
    let mut followed: Vec<PathBuf> = Vec::new();
    for source in &reading.sources {
        let helper = match resolve_source(source, dir, plugin) {
            Ok(helper) => helper,
            Err(why) => {
                coverage.notes.push(format!(
                    "{label} line {}: `source {}` not followed ({why}); functions it defines \
                     are not counted",
                    source.line,
                    display(&source.word.raw)
                ));
                continue;
            }
        };
        if followed.contains(&helper) {
            continue;
        }
        let text = match fs::read(&helper) {
            Ok(text) => text,
            Err(err) => {
                coverage.notes.push(format!(
                    "{label} line {}: cannot read {}: {err}",
                    source.line,
                    display(helper.as_os_str().as_bytes())
                ));
                continue;
            }
        };
        for name in parse::read(&text).function_names() {
            if !coverage.functions.iter().any(|own| own == name)
                && !coverage.sourced.iter().any(|seen| seen == name)
            {
                coverage.sourced.push(name.to_vec());
            }
        }
        followed.push(helper);
    }
    coverage.missing = REQUIRED
        .into_iter()
        .filter(|required| !coverage.all().any(|name| name == required.as_bytes()))
        .collect();
    coverage
}

/// The helper file a `source` line names, by the rules in the module docs.
fn resolve_source(source: &Source, dir: &Path, plugin: &Path) -> Result<PathBuf, &'static str> {
    let name: &[u8] = match &source.word.parts[..] {
        [Part::Param(var), Part::Lit(rest)] if var == b"NOVA_PLUGINS" => rest
            .strip_prefix(b"/")
            .ok_or("not a file under $NOVA_PLUGINS")?,
        [Part::Param(var), Part::Lit(rest)] if var == b"TOP_DIR" || var == b"RC_DIR" => rest
            .strip_prefix(b"/lib/nova_plugins/")
            .ok_or("not a file in lib/nova_plugins")?,
        [Part::Lit(path)] if path.starts_with(b"/") => {
            let path = Path::new(std::ffi::OsStr::from_bytes(path));
            let parent = path.parent().ok_or("not a file")?;
            let same_dir = fs::canonicalize(parent).is_ok_and(|parent| parent == dir);
            if !same_dir {
                return Err("not a file in the plugin directory");
            }
            path.file_name().ok_or("not a file")?.as_bytes()
        }
        [Part::Lit(path)] => path
            .strip_prefix(b"./")
            .unwrap_or(path)
            .strip_prefix(b"lib/nova_plugins/")
            .ok_or("not a file in lib/nova_plugins")?,
        _ => return Err("its path is not a literal, $TOP_DIR or $NOVA_PLUGINS form"),
    };
    if name.is_empty() || name.contains(&b'/') || name == b"." || name == b".." {
        return Err("not a file in the plugin directory");
    }
    let helper = dir.join(std::ffi::OsStr::from_bytes(name));
    if helper == plugin {
        return Err("it is the plugin itself");
    }
    match probe(&helper) {
        Probe::Readable => Ok(helper),
        Probe::Absent => Err("no such file beside the plugin"),
        Probe::Unusable(..) => Err("the file beside the plugin cannot be read"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_names() {
        for good in ["libvirt", "fake", "a.b", "x+y", "a-b_c", "9"] {
            assert_eq!(check_driver(good.as_bytes()), Ok(()), "{good}");
        }
        for bad in [
            &b""[..],
            b"../x",
            b"a/b",
            b"-x",
            b".hidden",
            b"a b",
            b"a\0b",
            b"a\nb",
            b"a*",
            b"\xff",
            b"$x",
        ] {
            assert!(check_driver(bad).is_err(), "{bad:?}");
        }
        assert!(check_driver(&[b'a'; 245]).is_err());
        assert!(check_driver(&[b'a'; 244]).is_ok());
    }

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(tmp.path().join(name), text).unwrap();
        }
        let dir = fs::canonicalize(tmp.path()).unwrap();
        (tmp, dir)
    }

    fn cover_in(dir: &Path, text: &str) -> Coverage {
        cover(dir, &dir.join("hypervisor-x"), text.as_bytes())
    }

    #[test]
    fn required_functions_from_helpers_count_and_are_listed_apart() {
        let (_tmp, dir) = tree(&[(
            "functions-x",
            "function install_nova_hypervisor { :; }\nfunction helper { :; }\nown() { :; }\n",
        )]);
        let text = "source $TOP_DIR/lib/nova_plugins/functions-x\nown() { :; }\n";
        let coverage = cover_in(&dir, text);
        assert_eq!(coverage.functions, [b"own".to_vec()]);
        assert_eq!(
            coverage.sourced,
            [b"install_nova_hypervisor".to_vec(), b"helper".to_vec()]
        );
        assert_eq!(coverage.missing, &REQUIRED[1..]);
        assert!(coverage.notes.is_empty(), "{:?}", coverage.notes);
    }

    #[test]
    fn source_forms() {
        let (_tmp, dir) = tree(&[("helper", "h() { :; }\n")]);
        let absolute = format!("source {}/helper\n", dir.display());
        let followed = [
            "source $TOP_DIR/lib/nova_plugins/helper\n",
            "source \"${TOP_DIR}/lib/nova_plugins/helper\"\n",
            "source $RC_DIR/lib/nova_plugins/helper\n",
            ". $NOVA_PLUGINS/helper\n",
            "source \"$NOVA_PLUGINS\"/helper\n",
            "source lib/nova_plugins/helper\n",
            "source ./lib/nova_plugins/helper\n",
            &absolute,
        ];
        for text in followed {
            let coverage = cover_in(&dir, text);
            assert_eq!(coverage.sourced, [b"h".to_vec()], "{text}");
        }
        let refused = [
            "source $OTHER/helper\n",
            "source \"$(dirname \"$0\")/helper\"\n",
            "source $TOP_DIR/lib/helper\n",
            "source $NOVA_PLUGINS/missing\n",
            "source $NOVA_PLUGINS/../x/helper\n",
            "source helper\n",
            "source /etc/helper\n",
            "source $NOVA_PLUGINS/hypervisor-x\n",
        ];
        for text in refused {
            let coverage = cover_in(&dir, text);
            assert!(coverage.sourced.is_empty(), "{text}");
            assert_eq!(coverage.notes.len(), 1, "{text}");
            assert!(coverage.notes[0].contains("line 1"), "{:?}", coverage.notes);
        }
    }

    #[test]
    fn helpers_are_read_one_level_deep() {
        let (_tmp, dir) = tree(&[
            ("one", "source $NOVA_PLUGINS/two\nfrom_one() { :; }\n"),
            ("two", "from_two() { :; }\n"),
        ]);
        let coverage = cover_in(&dir, "source $NOVA_PLUGINS/one\n");
        assert_eq!(coverage.sourced, [b"from_one".to_vec()]);
    }

    #[test]
    fn probe_states() {
        let (_tmp, dir) = tree(&[("file", "x"), ("locked", "x")]);
        fs::set_permissions(dir.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling")).unwrap();
        assert_eq!(probe(&dir.join("file")), Probe::Readable);
        assert_eq!(probe(&dir.join("absent")), Probe::Absent);
        assert!(matches!(
            probe(&dir.join("locked")),
            Probe::Unusable(SkipReason::Unreadable, _)
        ));
        assert!(matches!(
            probe(&dir.join("sub")),
            Probe::Unusable(SkipReason::Directory, _)
        ));
        assert!(matches!(
            probe(&dir.join("dangling")),
            Probe::Unusable(SkipReason::BrokenLink, _)
        ));
    }
}
