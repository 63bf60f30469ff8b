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
        unreachable: false,
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

/// For `pk hook`'s budget check: waits (up to `timeout` in all) until `transcript` holds the
/// response that asked for tool call `tool_use_id` (else as far as it is long now) and the
/// running watcher has read that far, so that the call is judged on that response's cost.
/// Claude Code runs its PreToolUse hook before it writes the response to its transcript (a few
/// tens of ms later, while the hook runs): judged at once, the response that spends the budget
/// would get its tool calls through. Returns at once for a track without a budget, without a
/// watcher's view, or whose transcript the watcher reads elsewhere. `events` is the track's
/// event file, which names its entry.
pub(crate) fn wait_until_read(
    events: &Path,
    transcript: &Path,
    tool_use_id: Option<&str>,
    timeout: std::time::Duration,
) {
    let Some(state_dir) = events
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
    else {
        return;
    };
    let start = std::time::Instant::now();
    let len = match tool_use_id {
        Some(id) => written_with(transcript, id, start, timeout),
        None => std::fs::metadata(transcript).map(|m| m.len()).ok(),
    };
    let Some(len) = len else {
        return;
    };
    while start.elapsed() < timeout {
        let Some(file) = load(state_dir) else {
            return;
        };
        let Some(entry) = file
            .tracks
            .iter()
            .find(|e| e.events.as_deref() == Some(events))
        else {
            return;
        };
        let read = match (&entry.transcript, &entry.transcript_cursor) {
            (Some(path), Some(cursor)) if path == transcript => cursor.offset >= len,
            // Not (yet) the transcript the watcher follows: nothing to wait for.
            _ => return,
        };
        if entry.status.budget.is_none() || read {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Waits until `transcript` holds the response that asked for tool call `id` (Claude Code
/// writes its transcript a moment after it runs the PreToolUse hook of that very response);
/// returns the transcript's length then, `None` when it never came.
fn written_with(
    transcript: &Path,
    id: &str,
    start: std::time::Instant,
    timeout: std::time::Duration,
) -> Option<u64> {
    let needle = format!("\"id\":\"{id}\"");
    loop {
        if let Ok(bytes) = std::fs::read(transcript)
            && memchr::memmem::rfind(&bytes, needle.as_bytes()).is_some()
        {
            return Some(bytes.len() as u64);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
