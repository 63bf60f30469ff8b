//! Checkpoints: where each file was read to and a hash of the bytes just before, so that a
//! restarted watcher or a `pk status` resumes instead of reading a transcript twice.

use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The folder of the tracks' checkpoints in the session's state folder (named in
/// `session::state`).
pub use crate::session::state::CHECKPOINT_DIR;

/// Version of the checkpoint files' layout: a file of another version, or whose trackers are of
/// another [`Checkpoint::VERSION`], or written by another version of pk, is not read: the files
/// are read from their start instead.
pub(super) const CHECKPOINT_VERSION: u32 = 1;

/// Bytes before a checkpoint's offset whose hash must match for the file to be the one read.
pub(super) const CHECKPOINT_TAIL: u64 = 4096;

/// Largest checkpoint file read: real ones are a few KB to about 60 KB (two trackers); a
/// bigger file is not pk's.
pub(super) const CHECKPOINT_MAX: u64 = 1 << 20;

/// The file at `path`, if it is at most `max` bytes.
pub(super) fn read_capped(path: &Path, max: u64) -> Option<Vec<u8>> {
    let mut text = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(max + 1)
        .read_to_end(&mut text)
        .ok()?;
    (text.len() as u64 <= max).then_some(text)
}

/// FNV-1a of the up to [`CHECKPOINT_TAIL`] bytes of the file at `path` before `offset`; `None`
/// when the file is not there, is another one than `id`, or is shorter than `offset`.
pub(super) fn tail_hash(path: &Path, offset: u64, id: Option<u64>) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if id.is_some_and(|id| id != meta.ino()) || meta.len() < offset {
        return None;
    }
    let from = offset.saturating_sub(CHECKPOINT_TAIL);
    let mut buf = vec![0; (offset - from) as usize];
    file.read_exact_at(&mut buf, from).ok()?;
    Some(pk_status::fnv1a(&buf))
}

/// Where the checkpoint of `track` is kept.
pub fn checkpoint_path(state_dir: &Path, track: &str) -> PathBuf {
    state_dir.join(CHECKPOINT_DIR).join(format!("{track}.json"))
}
