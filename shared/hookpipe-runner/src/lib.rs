//! The stage runner `hook-run` and `hyp-call` share: read the record stream, run the planned
//! calls in a bash worker, report them as records, and hand the shell state on.
//!
//! - `stage`: one stage from `begin` to `done` ([`run_stage`] with a tool's [`Plan`]).
//! - [`checkpoint`]: the checkpoints a stage keeps in a run directory, and resuming from them.
//! - [`flags`]: the command-line flags both tools take, and their translation into options.
//! - `session`: one worker and the records its calls produce (output, summaries, traces).
//! - `worker`: the bash process itself (`worker.bash`), its descriptors and process group.
//! - `tree`: every process a worker's hooks started, wherever it went (the subreaper).
//! - [`state`]: the shell state between stages and the `--state FILE` that carries it.
//! - [`signals`]: SIGINT and SIGTERM, turned into an orderly stop.
//! - `jobs`: DevStack's async jobs as a runner sees them (`job` events, stopping them).
//!
//! It builds on the core crate (`hookpipe`: records, streams, exit codes); nothing in the
//! core depends on it, so `phase-log` and `hook-list` never link the runner.

// `pub` says "another crate uses this"; what only this crate uses is `pub(crate)`.
#![warn(unreachable_pub)]
// A panic on input is a bug (README "Reliability").
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod checkpoint;
pub mod flags;
mod jobs;
mod session;
pub mod signals;
mod stage;
pub mod state;
mod tree;
mod worker;

pub use stage::{run_stage, Action, Call, JobsConflict, Plan};
