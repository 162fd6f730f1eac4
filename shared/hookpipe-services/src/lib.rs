//! DevStack's service lists, answered without bash: the crate `hook-list` uses to tell
//! whether a hook guarded by `is_service_enabled` will act.
//!
//! - [`services`]: the list functions themselves (`is_service_enabled`, `enable_service`,
//!   `disable_service`, ...), re-exported here; the Rust twin of `lib/services`.
//! - [`ere`]: the POSIX extended regular expressions `is_service_enabled` matches with, as
//!   bash's `[[ =~ ]]` reads them.
//! - [`glob`]: bash's pattern matching, for the two places DevStack uses a name as a glob.
//!
//! It depends on nothing else of hookpipe: the service semantics are DevStack's, not the
//! record stream's.

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ere;
mod glob;
mod services;

pub use services::{
    cleanup_service_list, disable_all_services, disable_negated_services, disable_service,
    enable_service, guard_enabled, is_service_enabled, verify_disabled_services, words, Answer,
    Hooks, Overridden, ServiceList, Undecided, Warning, DEVSTACK_FUNCTIONS,
};
