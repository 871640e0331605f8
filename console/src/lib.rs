//! # dutyroom-console
//!
//! `duty`: the one client binary. Administrators script it as a CLI; duty
//! officers and posts use its terminal console (issue: the console).
//!
//! # Layout
//!
//! - [`client`]: the typed gRPC client (address, bearer token) that the CLI
//!   and the console share.
//! - [`tui`]: the duty console (ratatui).
//! - [`demo`]: `duty demo`: embedded daemon, demo city, call simulator.
//! - [`config`]: `~/.config/dutyroom/console.toml` (address, token, ...).
//! - [`bench`]: `duty bench` load generation and measurement.
//! - [`cli`]: the clap command tree, one file per noun, table and JSON
//!   output, one-line errors with distinct exit codes.

pub mod bench;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod outbox;
pub mod report;
pub mod tui;
