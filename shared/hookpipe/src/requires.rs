//! `plugin_requires`: which DevStack plugin needs which (docs/devstack.md, "Plugins").
//!
//! A plugin's `devstack/settings` may say `define_plugin NAME` (its own name) and
//! `plugin_requires NAME OTHER` (it needs plugin OTHER). DevStack defines both as no-ops;
//! only its CI's local.conf writer reads them, statically, line by line. hookpipe reads
//! them the same way (a line that begins with the word, after blanks), never by running the
//! file, and honours them: `hook-list` checks the enable order against them (a plugin
//! enabled before one it requires, and a cycle, are errors naming the plugins and the fix),
//! and under `hook-run --jobs` the graph decides which plugins may run at once: each
//! plugin's *layer* is the length of the longest chain of requirements below it, and the
//! plugins of one layer share a group.
//!
//! A plugin is known by the name it is enabled with (`enable_plugin NAME URL`) and by the
//! name its settings define, when they differ; a requirement naming a plugin that is not
//! enabled is left to DevStack's own error at run time (the plugin's code fails), not
//! guessed at here.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

use crate::record::{Data, Hook, HookKind};

/// What one plugin's settings declare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// `define_plugin NAME`, the last one.
    pub defined: Option<String>,
    /// `plugin_requires NAME OTHER`: (NAME, OTHER), in file order.
    pub requires: Vec<(String, String)>,
}

/// Reads `define_plugin` and `plugin_requires` lines from a settings file's text.
pub fn declared(settings: &[u8]) -> Declared {
    let mut found = Declared::default();
    for line in settings.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("define_plugin"), Some(name), _) => found.defined = Some(name.to_owned()),
            (Some("plugin_requires"), Some(name), Some(other)) => {
                found.requires.push((name.to_owned(), other.to_owned()));
            }
            _ => {}
        }
    }
    found
}

/// One enabled plugin: the name it is enabled with and what its settings declare.
#[derive(Debug, Clone)]
pub struct Plugin {
    pub name: String,
    pub declared: Declared,
}

/// Why the plugins' order or graph is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// `plugin` requires `required`, which is enabled after it.
    Order { plugin: String, required: String },
    /// The requirements go round: each requires the next, the last the first.
    Cycle(Vec<String>),
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphError::Order { plugin, required } => write!(
                f,
                "plugin {plugin} requires plugin {required} (plugin_requires in its settings), \
                 but {plugin} is enabled before {required}: move `enable_plugin {required}` \
                 above `enable_plugin {plugin}` in local.conf"
            ),
            GraphError::Cycle(names) => {
                let mut chain = names.join(" requires ");
                if let Some(first) = names.first() {
                    chain.push_str(" requires ");
                    chain.push_str(first);
                }
                write!(
                    f,
                    "plugin_requires goes round in a cycle: {chain}; remove one of these \
                     plugin_requires lines"
                )
            }
        }
    }
}

/// Each plugin's requirements as indices into `plugins` (enable order), unknown names left
/// out. A plugin's own lines count when their NAME is its enable name or its defined name.
fn edges(plugins: &[Plugin]) -> Vec<Vec<usize>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (at, plugin) in plugins.iter().enumerate() {
        index.entry(plugin.name.as_str()).or_insert(at);
        if let Some(defined) = &plugin.declared.defined {
            index.entry(defined.as_str()).or_insert(at);
        }
    }
    plugins
        .iter()
        .enumerate()
        .map(|(at, plugin)| {
            let own = |name: &str| {
                name == plugin.name || plugin.declared.defined.as_deref() == Some(name)
            };
            let mut needs: Vec<usize> = plugin
                .declared
                .requires
                .iter()
                .filter(|(name, _)| own(name))
                .filter_map(|(_, other)| index.get(other.as_str()).copied())
                .filter(|&other| other != at)
                .collect();
            needs.sort_unstable();
            needs.dedup();
            needs
        })
        .collect()
}

/// Checks the enable order against the requirements: a cycle first (no order can satisfy
/// it), then the first plugin enabled before one it requires.
pub fn check(plugins: &[Plugin]) -> Result<(), GraphError> {
    let needs = edges(plugins);
    if let Some(cycle) = find_cycle(&needs) {
        return Err(GraphError::Cycle(
            cycle
                .into_iter()
                .map(|at| plugins[at].name.clone())
                .collect(),
        ));
    }
    for (at, needed) in needs.iter().enumerate() {
        if let Some(&later) = needed.iter().find(|&&other| other > at) {
            return Err(GraphError::Order {
                plugin: plugins[at].name.clone(),
                required: plugins[later].name.clone(),
            });
        }
    }
    Ok(())
}

/// Each plugin's layer (see the module docs), in enable order; an error when [`check`]
/// refuses the plugins.
pub fn layers(plugins: &[Plugin]) -> Result<Vec<usize>, GraphError> {
    check(plugins)?;
    let needs = edges(plugins);
    // Every requirement is enabled earlier, so one pass in enable order sees each layer
    // before it is needed.
    let mut layer = vec![0usize; plugins.len()];
    for (at, needed) in needs.iter().enumerate() {
        layer[at] = needed
            .iter()
            .map(|&other| layer[other] + 1)
            .max()
            .unwrap_or(0);
    }
    Ok(layer)
}

/// What a plugin's `devstack/settings` declares; nothing when it has none or it cannot be
/// read (the run reports that file itself when it sources it).
pub fn declared_in(dir: &[u8]) -> Declared {
    let mut path = dir.to_vec();
    path.extend_from_slice(b"/devstack/settings");
    declared(&std::fs::read(std::ffi::OsStr::from_bytes(&path)).unwrap_or_default())
}

/// The parallel group of each hook (`hook-run --jobs`, README "Parallel hooks"): extras.d
/// hooks by sequence number (`extras.d NN`); plugins by their layer in the
/// `plugin_requires` graph (`plugins L`), so plugins with no requirement path between them
/// share one. Plugins whose graph is refused (a cycle, a plugin enabled before one it
/// requires: `hook-list` stops the run with that error) get none and run one after the
/// other. Consecutive calls with one group may run at once; anything else keeps its order.
pub fn groups(hooks: &[&Hook]) -> Vec<Option<String>> {
    let plugins: Vec<Plugin> = hooks
        .iter()
        .filter(|hook| hook.kind == HookKind::Plugin)
        .map(|hook| {
            let name = hook
                .name
                .as_ref()
                .and_then(Data::as_text)
                .unwrap_or_default();
            let dir = hook.path.as_ref().map_or(&[][..], Data::as_bytes);
            Plugin {
                name: name.strip_prefix("plugin:").unwrap_or(name).to_owned(),
                declared: declared_in(dir),
            }
        })
        .collect();
    let mut layers = layers(&plugins).ok().map(Vec::into_iter);
    hooks
        .iter()
        .map(|hook| match hook.kind {
            HookKind::Plugin => layers
                .as_mut()
                .and_then(Iterator::next)
                .map(|layer| format!("plugins {layer}")),
            _ => hook.seq.as_ref().map(|seq| format!("extras.d {seq}")),
        })
        .collect()
}

/// A cycle in the graph, as the indices along it, if there is one.
fn find_cycle(needs: &[Vec<usize>]) -> Option<Vec<usize>> {
    // 0: not seen; 1: on the current path; 2: done.
    let mut mark = vec![0u8; needs.len()];
    let mut path: Vec<usize> = Vec::new();
    fn visit(
        at: usize,
        needs: &[Vec<usize>],
        mark: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        mark[at] = 1;
        path.push(at);
        for &next in &needs[at] {
            if mark[next] == 1 {
                let start = path.iter().position(|&p| p == next).unwrap_or(0);
                return Some(path[start..].to_vec());
            }
            if mark[next] == 0 {
                if let Some(cycle) = visit(next, needs, mark, path) {
                    return Some(cycle);
                }
            }
        }
        path.pop();
        mark[at] = 2;
        None
    }
    (0..needs.len()).find_map(|at| {
        if mark[at] == 0 {
            visit(at, needs, &mut mark, &mut path)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(name: &str, settings: &str) -> Plugin {
        Plugin {
            name: name.to_owned(),
            declared: declared(settings.as_bytes()),
        }
    }

    #[test]
    fn settings_lines_are_read_as_devstack_ci_reads_them() {
        let found = declared(b"define_plugin foo\n  plugin_requires foo bar\n# plugin_requires foo baz\nplugin_requires foo\n");
        assert_eq!(found.defined.as_deref(), Some("foo"));
        assert_eq!(found.requires, vec![("foo".to_owned(), "bar".to_owned())]);
    }

    #[test]
    fn layers_follow_the_longest_chain() {
        let plugins = [
            plugin("a", ""),
            plugin("b", ""),
            plugin("c", "plugin_requires c a\n"),
            plugin(
                "d",
                "define_plugin dee\nplugin_requires dee c\nplugin_requires dee b\n",
            ),
            plugin("e", "plugin_requires e nothing-enabled\n"),
        ];
        assert_eq!(layers(&plugins), Ok(vec![0, 0, 1, 2, 0]));
    }

    #[test]
    fn a_plugin_enabled_before_its_requirement_is_an_error_naming_both() {
        let plugins = [
            plugin("octavia", "plugin_requires octavia barbican\n"),
            plugin("barbican", ""),
        ];
        let err = check(&plugins).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("octavia requires plugin barbican"), "{text}");
        assert!(
            text.contains("move `enable_plugin barbican` above `enable_plugin octavia`"),
            "{text}"
        );
    }

    #[test]
    fn a_cycle_is_an_error_naming_it() {
        let plugins = [
            plugin("a", "plugin_requires a b\n"),
            plugin("b", "plugin_requires b a\n"),
        ];
        let err = check(&plugins).unwrap_err();
        assert_eq!(err, GraphError::Cycle(vec!["a".into(), "b".into()]));
        assert!(err.to_string().contains("a requires b requires a"), "{err}");
    }
}
