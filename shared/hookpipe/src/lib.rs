//! The core of the hookpipe tools: what every one of them shares.
//!
//! Each tool under `tools/` is a thin crate over this library, as coreutils' tools are over
//! `uucore`: the record contract ([`record`], the wire specification), NDJSON streams
//! ([`stream`]), what a stage learns from upstream ([`upstream`]), the exit-status table
//! ([`exit`]), the one lifecycle and exit path of every tool ([`lifecycle`]), DevStack's hypervisor calls
//! ([`hypervisor`]), plugins' `plugin_requires` ([`requires`]), times ([`time`]), the text-or-bytes rule ([`bytes`]) and the command-line
//! pieces every tool shares ([`cli`]).
//!
//! Two crates build on it and on nothing else of hookpipe: `hookpipe-runner` (the bash
//! worker and stage runner of `hook-run` and `hyp-call`) and `hookpipe-services` (DevStack's
//! service-list semantics for `hook-list`).

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bytes;
pub mod cli;
pub mod exit;
pub mod hypervisor;
pub mod lifecycle;
pub mod record;
pub mod requires;
pub mod stream;
pub mod time;
pub mod upstream;
