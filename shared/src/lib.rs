//! The shared core of the hookpipe tools.
//!
//! Each tool under `tools/` is a thin crate over this library, as coreutils' tools are over
//! `uucore`: the record contract ([`record`], the wire specification), NDJSON streams
//! ([`stream`]), what a stage learns from upstream ([`upstream`]), the exit-status table
//! ([`exit`]), times ([`time`]), the text-or-bytes rule ([`bytes`]), the command-line
//! pieces every tool shares ([`cli`]) and DevStack's asynchronous jobs as the runners see
//! them ([`jobs`]).

pub mod bytes;
pub mod cli;
pub mod ere;
pub mod exit;
pub mod jobs;
pub mod record;
pub mod runner;
pub mod services;
pub mod signals;
pub mod state;
pub mod stream;
pub mod time;
pub mod upstream;
pub mod worker;
