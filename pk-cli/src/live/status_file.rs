//! The status file the watcher writes (`.git/pk/<session>/status.json`) for `pk status` and
//! the zellij plugin.

use super::{feed::*, follower::*};
use crate::error::{Context, Error, Result};
use pk_status::{Timestamp, TrackStatus};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The status file's name in the session's state folder (named in `session::state`, which
/// `pk down` uses to clean the folder).
pub use crate::session::state::STATUS_FILE;

/// Version of the status file format.
pub(crate) const STATUS_VERSION: u32 = 1;

/// What the watcher knows, written atomically to `status.json` on every change: for
/// `pk status` (fast at any transcript size) and the zellij plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    /// Format version ([`STATUS_VERSION`]).
    pub version: u32,
    /// Session name.
    pub session: String,
    /// When it was written.
    pub updated: Timestamp,
    /// The watcher's process id.
    pub pid: u32,
    /// Sum of the tracks' costs.
    pub total_cost_usd: f64,
    /// One entry per track, in the state's order.
    pub tracks: Vec<TrackEntry>,
}

/// One track in `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackEntry {
    /// Track name.
    pub name: String,
    /// The status as shown (pane exit and idleness applied).
    pub status: TrackStatus,
    /// The transcript read, if any.
    pub transcript: Option<PathBuf>,
    /// The hook event file.
    pub events: Option<PathBuf>,
    /// Where reading of the transcript stands.
    pub transcript_cursor: Option<pk_status::FileCursor>,
    /// Where reading of the event file stands.
    pub events_cursor: Option<pk_status::FileCursor>,
    /// The pane of the track's agent (`%3` in tmux, `terminal_2` in zellij), when it has one:
    /// the zellij plugin focuses it on a click.
    #[serde(default)]
    pub pane: Option<String>,
    /// Changed and untracked files of the worktree, when the watcher's count is current
    /// ([`crate::live::dirt`]); `pk status` asks git when it is not.
    #[serde(default)]
    pub changed_files: Option<usize>,
}

impl TrackEntry {
    /// The entry of a feed with its shown status.
    pub fn of(feed: &TrackFeed, status: TrackStatus, pane: Option<String>) -> TrackEntry {
        TrackEntry {
            name: feed.name().to_string(),
            status,
            transcript: feed.transcript().map(|t| t.path().to_path_buf()),
            events: Some(feed.events().path().to_path_buf()),
            transcript_cursor: feed.transcript().map(Follower::cursor),
            events_cursor: Some(feed.events().cursor()),
            pane,
            changed_files: None,
        }
    }
}

impl StatusFile {
    /// Reads `status.json` in `state_dir`, if there is a readable one of this version.
    pub fn load(state_dir: &Path) -> Option<StatusFile> {
        let text = std::fs::read(state_dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice::<StatusFile>(&text)
            .ok()
            .filter(|s| s.version == STATUS_VERSION)
    }

    /// Writes it into `state_dir` atomically. Unlike the state, the folder is not created: when
    /// it is gone, the session was torn down and the watcher must not bring it back.
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        if !state_dir.is_dir() {
            return Err(Error::failure(format!(
                "{} is gone (the session was torn down)",
                state_dir.display()
            )));
        }
        let text = serde_json::to_vec_pretty(self).context("failed to encode status.json")?;
        crate::util::fs::write_atomically_in_place(&state_dir.join(STATUS_FILE), &text)
    }
}
