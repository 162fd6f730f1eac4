//! DevStack's hypervisor-plugin calls, named once: the actions `hyp-call` takes and the
//! function each calls, and the drivers DevStack never starts. `hyp-call` runs them;
//! `hook-list --plan` shows them.

/// The actions and the function each calls (`source` only sources the plugin).
pub const ACTIONS: &[(&str, Option<&str>)] = &[
    ("source", None),
    ("install", Some("install_nova_hypervisor")),
    ("configure", Some("configure_nova_hypervisor")),
    ("start", Some("start_nova_hypervisor")),
    ("stop", Some("stop_nova_hypervisor")),
    ("cleanup", Some("cleanup_nova_hypervisor")),
];

/// DevStack calls `start_nova_hypervisor` only for drivers outside this list
/// (`start_nova_compute` in lib/nova: its final `else` branch).
pub const NOT_STARTED: &[&str] = &["libvirt", "lxd", "docker", "zun", "fake"];

/// The function an action calls, if any.
pub fn function(action: &str) -> Option<&'static str> {
    ACTIONS
        .iter()
        .find(|(name, _)| *name == action)
        .and_then(|(_, function)| *function)
}
