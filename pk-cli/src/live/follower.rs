//! A [`Follower`]: one file read as it grows, only the bytes appended since its last look.

use super::checkpoint::*;
use pk_status::{Checkpoint, FileChange, FileCursor, Format, TrackStatus, Tracker};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Bytes read per `read` call: big transcripts are fed in pieces, never held whole. Small
/// enough for the piece to stay in the core's cache while it is parsed (1 MB pieces took about
/// 8% more CPU time).
pub(super) const CHUNK: usize = 256 << 10;

/// Follows one file: a cursor and a tracker.
#[derive(Debug, Clone)]
pub struct Follower {
    pub(super) path: PathBuf,
    pub(super) cursor: FileCursor,
    tracker: Tracker,
    /// The bytes the last [`Follower::poll`] read, for `pk -v status`.
    last_read: Option<(u64, u64)>,
}

/// A follower as a checkpoint holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SavedFollower {
    pub(super) path: PathBuf,
    /// The file's inode.
    id: Option<u64>,
    /// [`tail_hash`] at the checkpoint's offset.
    tail: u64,
    checkpoint: Checkpoint,
}

impl Follower {
    /// A follower of `path` read as `format`, from its start.
    pub fn new(path: PathBuf, format: Format) -> Follower {
        Follower {
            path,
            cursor: FileCursor::default(),
            tracker: Tracker::new(format),
            last_read: None,
        }
    }

    /// A follower whose tracker knows the agent's `model` when the transcript does not name it
    /// ([`Tracker::with_model`]).
    pub(super) fn with_model(path: PathBuf, format: Format, model: Option<&str>) -> Follower {
        let mut f = Follower::new(path, format);
        if let Some(m) = model {
            f.tracker = f.tracker.with_model(m);
        }
        f
    }

    /// The follower a checkpoint saved, when the file at `path` is still the one it read
    /// (same inode, at least as long, the same bytes before the offset) with the same `model`
    /// (or one named while reading, when `model` is none); else a new one.
    pub(super) fn resume(
        path: PathBuf,
        format: Format,
        model: Option<&str>,
        saved: Option<SavedFollower>,
    ) -> Follower {
        let Some(saved) = saved.filter(|s| {
            s.path == path && s.checkpoint.format() == format && s.checkpoint.model_hint() == model
        }) else {
            return Follower::with_model(path, format, model);
        };
        let offset = saved.checkpoint.offset;
        if tail_hash(&path, offset, saved.id) != Some(saved.tail) {
            return Follower::with_model(path, format, model);
        }
        Follower {
            path,
            cursor: FileCursor {
                offset,
                len_seen: offset,
                id: saved.id,
            },
            tracker: Tracker::resume(saved.checkpoint),
            last_read: None,
        }
    }

    /// The follower's state for a checkpoint; `None` when its file is gone or changed since
    /// it was read.
    pub(super) fn save(&self) -> Option<SavedFollower> {
        let checkpoint = self.tracker.checkpoint(self.cursor.offset);
        let tail = tail_hash(&self.path, checkpoint.offset, self.cursor.id)?;
        Some(SavedFollower {
            path: self.path.clone(),
            id: self.cursor.id,
            tail,
            checkpoint,
        })
    }

    /// Where a checkpoint of the follower would resume: the bytes read, but an unfinished last
    /// line.
    pub(super) fn checkpoint_offset(&self) -> u64 {
        self.cursor.offset - self.tracker.pending_len() as u64
    }

    /// The bytes read by the last [`Follower::poll`] that read any, as `(from, to)`.
    pub fn last_read(&self) -> Option<(u64, u64)> {
        self.last_read
    }

    /// The file followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where reading stands.
    pub fn cursor(&self) -> FileCursor {
        self.cursor
    }

    /// The parser of the file.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Names the model found after reading began ([`Tracker::name_model`]).
    pub(super) fn name_model(&mut self, model: &str) {
        self.tracker.name_model(model);
    }

    /// Names the track's own Codex thread to the tracker ([`Tracker::set_own_thread`]).
    pub(super) fn set_own_thread(&mut self, thread: &str) {
        self.tracker.set_own_thread(thread);
    }

    /// The status read so far.
    pub fn status(&self) -> &TrackStatus {
        self.tracker.status()
    }

    /// Reads what was appended since the last call (or everything again after a truncation or
    /// replacement). Returns true when something was read. A missing file is not an error: it
    /// may appear later.
    pub fn poll(&mut self, now_ms: i64) -> bool {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return false;
        };
        if !meta.is_file() {
            return false;
        }
        let (from, to) = match self.cursor.observe(meta.len(), Some(meta.ino())) {
            FileChange::Unchanged => return false,
            FileChange::Grew { from, to } => (from, to),
            FileChange::Restart { len } => {
                self.tracker.reset();
                (0, len)
            }
        };
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return false;
        };
        if file.seek(SeekFrom::Start(from)).is_err() {
            return false;
        }
        let mut left = to - from;
        let mut buf = vec![0; CHUNK.min(left as usize)];
        while left > 0 {
            let want = buf.len().min(left as usize);
            match file.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.tracker.feed(&buf[..n], now_ms);
                    self.cursor.advance(n as u64);
                    left -= n as u64;
                }
            }
        }
        self.last_read = Some((from, self.cursor.offset));
        true
    }

    /// Parses an unterminated last line: the writer is gone.
    pub fn finish(&mut self, now_ms: i64) {
        self.tracker.finish(now_ms);
    }

    /// Bytes of the file not read yet (an estimate: a replaced file is read whole).
    pub fn backlog(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len().saturating_sub(self.cursor.offset))
    }
}
