//! One locked JSON store: a file in pk's state folder that several pk processes change, each
//! under a lock file next to it, written back atomically (the port registry, the approvals).

use crate::error::{Context, Result};
use crate::util::fs::write_atomically;
use serde::Serialize;
use std::fs::OpenOptions;
use std::path::Path;

/// Opens the store at `path` under the lock file `lock` (in the same folder), reads it with
/// `read`, lets `change` change it and writes it back. `read` returning `None` leaves the file
/// as it is and gives `None`.
pub(crate) fn update<S: Serialize, T>(
    path: &Path,
    lock: &str,
    read: impl FnOnce(&Path) -> Result<Option<S>>,
    change: impl FnOnce(&mut S) -> Result<T>,
) -> Result<Option<T>> {
    let dir = path.parent().expect("a store is in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let lock_path = dir.join(lock);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("failed to open {}", lock_path.display()))?;
    // Held for a few milliseconds by any pk; blocking is right here.
    lock.lock()
        .with_context(|| format!("failed to lock {}", lock_path.display()))?;
    let Some(mut store) = read(path)? else {
        return Ok(None);
    };
    let out = change(&mut store)?;
    let text = serde_json::to_string_pretty(&store)
        .with_context(|| format!("failed to encode {}", path.display()))?;
    write_atomically(path, text.as_bytes())?;
    Ok(Some(out))
}
