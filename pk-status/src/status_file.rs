//! `status.json`: what `pk watch` writes into the session's state folder on every change, and
//! what `pk status` and the zellij bar read. One type for the writer and every reader, with a
//! version: a reader meets a file of another version (a pk upgraded while a watcher of the old
//! one runs) and takes it for none, never for a status it misreads.

use crate::reader::FileCursor;
use crate::status::TrackStatus;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The file's name in the session's state folder.
pub const STATUS_FILE: &str = "status.json";

/// The version written, and the only one read. Raise it whenever a field changes meaning or a
/// field without a default is added.
pub const VERSION: u32 = 1;

/// The watcher's view of the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// Session name.
    pub session: String,
    /// When it was written.
    pub updated: Timestamp,
    /// The watcher's process id.
    pub pid: u32,
    /// Sum of the tracks' costs.
    pub total_cost_usd: f64,
    /// One entry per track, in the plan's order.
    pub tracks: Vec<TrackEntry>,
}

/// One track of a [`StatusFile`].
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
    pub transcript_cursor: Option<FileCursor>,
    /// Where reading of the event file stands.
    pub events_cursor: Option<FileCursor>,
    /// The pane of the track's agent (`%3` in tmux, `terminal_2` in zellij), when it has one:
    /// the zellij bar focuses it on a click.
    #[serde(default)]
    pub pane: Option<String>,
    /// Changed and untracked files of the worktree, when the watcher's count is current;
    /// `pk status` asks git when it is not.
    #[serde(default)]
    pub changed_files: Option<usize>,
    /// The track's forecast (ahead, behind, changed paths, conflicts), once the watcher made
    /// it; `pk status` makes it itself when it is not there.
    #[serde(default)]
    pub forecast: Option<crate::forecast::Forecast>,
    /// Where the track's `done_when` stands; `None` when it has none.
    #[serde(default)]
    pub check: Option<Check>,
    /// Changed paths outside the track's `owns`, or inside another track's.
    #[serde(default)]
    pub outside_owns: Vec<String>,
    /// The track runs on another host that cannot be reached now (design §11): its status is
    /// the last one the host's watcher sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
}

/// Where a track's success criterion (`done_when`) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Never run.
    #[default]
    None,
    /// Running now.
    Running,
    /// Passed on the tree as it is.
    Pass,
    /// Failed on the tree as it is.
    Fail,
    /// The tree changed since the last result.
    Stale,
}

/// A track's check, as `pk status --json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Check {
    /// Where it stands.
    pub state: CheckState,
    /// When the last run ended (or the running one began).
    pub at: Option<Timestamp>,
    /// The log of the last run.
    pub log: Option<PathBuf>,
}

impl StatusFile {
    /// Reads a status file's bytes: `None` when they are not a status file of [`VERSION`].
    pub fn parse(bytes: &[u8]) -> Option<StatusFile> {
        serde_json::from_slice::<StatusFile>(bytes)
            .ok()
            .filter(|file| file.version == VERSION)
    }

    /// The zellij terminal pane id of track `index`, if known.
    pub fn pane_id(&self, index: usize) -> Option<u32> {
        let pane = self.tracks.get(index)?.pane.as_deref()?;
        pane.strip_prefix("terminal_").unwrap_or(pane).parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TrackState;

    pub(crate) const FILE: &str = r#"{
      "version": 1, "session": "shop", "updated": "2026-11-21T10:00:00Z", "pid": 7,
      "total_cost_usd": 0.52,
      "tracks": [
        {"name": "api", "status": {"state": "working", "cost_usd": 0.42, "tokens": {"input": 5}},
         "pane": "terminal_1", "transcript": "/x", "events": null,
         "transcript_cursor": null, "events_cursor": null, "future_field": true},
        {"name": "web", "status": {"state": "waiting", "cost_usd": 0.10, "tokens": {"input": 5}},
         "pane": "terminal_2", "transcript": null, "events": null,
         "transcript_cursor": null, "events_cursor": null}
      ]
    }"#;

    #[test]
    fn reads_its_version_and_ignores_fields_it_does_not_know() {
        let file = StatusFile::parse(FILE.as_bytes()).unwrap();
        assert_eq!(file.session, "shop");
        assert_eq!(file.tracks[1].status.state, TrackState::Waiting);
        assert_eq!(file.pane_id(0), Some(1));
        assert_eq!(file.pane_id(5), None);
        let text = serde_json::to_vec(&file).unwrap();
        assert_eq!(StatusFile::parse(&text), Some(file));
    }

    #[test]
    fn another_version_or_a_broken_file_is_none() {
        let other = FILE.replace("\"version\": 1", "\"version\": 2");
        assert_eq!(StatusFile::parse(other.as_bytes()), None);
        assert_eq!(StatusFile::parse(&FILE.as_bytes()[..FILE.len() / 2]), None);
        assert_eq!(StatusFile::parse(b""), None);
    }
}
