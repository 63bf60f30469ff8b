//! The status file the watcher writes (`.git/pk/<session>/status.json`) for `pk status` and
//! the zellij plugin.

use super::{feed::*, follower::*};
use crate::error::{Context, Error, Result};
use pk_status::TrackStatus;
use std::path::Path;

pub use pk_status::status_file::{STATUS_FILE, StatusFile, TrackEntry};

/// The entry of a feed with its shown status.
pub(crate) fn entry(feed: &TrackFeed, status: TrackStatus, pane: Option<String>) -> TrackEntry {
    TrackEntry {
        name: feed.name().to_string(),
        status,
        transcript: feed.transcript().map(|t| t.path().to_path_buf()),
        events: Some(feed.events().path().to_path_buf()),
        transcript_cursor: feed.transcript().map(Follower::cursor),
        events_cursor: Some(feed.events().cursor()),
        pane,
        changed_files: None,
        check: None,
        outside_owns: Vec::new(),
        forecast: None,
    }
}

/// Reads `status.json` in `state_dir`, if there is a readable one of this version.
pub(crate) fn load(state_dir: &Path) -> Option<StatusFile> {
    StatusFile::parse(&std::fs::read(state_dir.join(STATUS_FILE)).ok()?)
}

/// Writes `file` into `state_dir` atomically. Unlike the state, the folder is not created: when
/// it is gone, the session was torn down and the watcher must not bring it back.
pub(crate) fn save(file: &StatusFile, state_dir: &Path) -> Result<()> {
    if !state_dir.is_dir() {
        return Err(Error::failure(format!(
            "{} is gone (the session was torn down)",
            state_dir.display()
        )));
    }
    let text = serde_json::to_vec_pretty(file).context("failed to encode status.json")?;
    crate::util::fs::write_atomically_in_place(&state_dir.join(STATUS_FILE), &text)
}
