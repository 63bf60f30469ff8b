//! Track states, transcript parsing and status rendering shared by the `pk` binary and its
//! zellij plugin.
//!
//! This crate must build for `wasm32-wasip1`: no threads, no sockets, no processes, no file
//! watching, no clock. The native `pk watch` reads bytes and the time itself and feeds them
//! here; the plugin only renders what it is handed.
//!
//! The pieces, in the order the watcher uses them:
//! - [`FileCursor`] decides which bytes of a transcript to read (appended, or all again after a
//!   truncation or replacement);
//! - a [`Tracker`] per file turns those bytes into a [`TrackStatus`] ([`Format`] says how);
//! - [`combine`], [`apply_exit`] and [`apply_idle`] merge a hook-event stream with a transcript
//!   and add what only the watcher knows (the pane died, time passed);
//! - [`budget::apply_budgets`] turns a track whose budget is spent `over-budget`;
//! - [`render`] draws the one-line status bar for tmux, and [`bar`] the zellij plugin's line
//!   from the watcher's status file.
//!
//! Everything that came from a transcript and is handed out as text went through
//! [`sanitize::clean`] first.

#![deny(missing_docs)]

pub mod bar;
pub mod budget;
pub mod forecast;
mod hash;
mod ledger;
mod parse;
pub mod prices;
pub mod reader;
pub mod render;
pub mod sanitize;
mod state;
mod status;
pub mod status_file;
mod time;
mod tracker;

pub use hash::{Fnv1a, fnv1a};
pub use parse::Format;
pub use reader::{FileChange, FileCursor, LineBuffer};
pub use state::TrackState;
pub use status::{
    Tokens, TrackStatus, apply_exit, apply_exit_output, apply_idle, combine, last_meaningful_line,
    total_cost,
};
pub use status_file::{STATUS_FILE, StatusFile, TrackEntry};
pub use time::Timestamp;
pub use tracker::{Checkpoint, Tracker};
