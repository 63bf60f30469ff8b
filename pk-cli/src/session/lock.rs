//! One pk at a time per session: an exclusive `flock` on `.git/pk/<session>.lock`, holding the
//! holder's pid so the refusal can name it. The kernel drops the lock when the holder dies, so a
//! crashed pk never leaves a stale lock behind.

use crate::error::{Context, Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A held lock; released on drop.
#[derive(Debug)]
pub(crate) struct SessionLock {
    file: File,
    path: PathBuf,
}

impl SessionLock {
    /// Takes the lock of `session`, or refuses (exit 3) naming the process that holds it.
    pub(crate) fn acquire(common_dir: &Path, session: &str) -> Result<SessionLock> {
        let dir = common_dir.join("pk");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        let path = dir.join(format!("{session}.lock"));
        match SessionLock::try_acquire_at(&path)? {
            Ok(lock) => Ok(lock),
            Err(holder) => {
                let who = match holder {
                    Some(pid) => format!("another pk process (pid {pid})"),
                    None => "another pk process".to_string(),
                };
                Err(
                    Error::refused(format!("{who} is working on session `{session}`"))
                        .hint("wait for it to finish, then run this again")
                        .hint(format!("lock file: {}", path.display())),
                )
            }
        }
    }

    /// Takes the lock file at `path` without waiting. `Ok(Err(holder))` when another process
    /// holds it, with the pid it wrote, if any.
    pub(crate) fn try_acquire_at(
        path: &Path,
    ) -> Result<std::result::Result<SessionLock, Option<String>>> {
        // A lock file removed ([`SessionLock::remove`]) after this process opened it and before
        // it locked it is no one's lock any more: open the new one and try again.
        loop {
            let taken = SessionLock::try_acquire_once(path)?;
            match &taken {
                Ok(lock) if !lock.is_at_path() => continue,
                _ => return Ok(taken),
            }
        }
    }

    /// True when the locked file is still the one at the lock's path.
    fn is_at_path(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(held), Ok(there)) => (held.dev(), held.ino()) == (there.dev(), there.ino()),
            _ => false,
        }
    }

    /// Removes the lock file, then releases the lock: for when the session it guards is gone
    /// (`pk down`), so that nothing of it is left. Another pk that opened the file meanwhile
    /// finds it removed once it holds the lock, and takes a new one.
    pub(crate) fn remove(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(
                Error::failure(format!("failed to remove {}", self.path.display()))
                    .wrap_cause(e.to_string()),
            ),
        }
    }

    fn try_acquire_once(path: &Path) -> Result<std::result::Result<SessionLock, Option<String>>> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("failed to open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Ok(Err((!holder.is_empty()).then(|| holder.to_string())));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::failure(format!("failed to lock {}", path.display()))
                    .wrap_cause(e.to_string()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(drop))
            .and_then(|()| write!(file, "{}", std::process::id()))
            .with_context(|| format!("failed to write {}", path.display()))?;
        Ok(Ok(SessionLock {
            file,
            path: path.to_path_buf(),
        }))
    }

    /// True when some process holds the lock file at `path` now. Probes with a shared lock, held
    /// for an instant: a process taking the lock at that very moment must retry briefly.
    pub(crate) fn is_held(path: &Path) -> bool {
        let Ok(file) = OpenOptions::new().read(true).open(path) else {
            return false;
        };
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(_)) => false,
        }
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The status watcher's lock file in a session's state folder: held while `pk watch` runs.
pub(crate) const WATCH_LOCK: &str = "watch.lock";

/// True when a watcher runs for the session whose state folder is `state_dir`.
pub(crate) fn watcher_runs(state_dir: &std::path::Path) -> bool {
    SessionLock::is_held(&state_dir.join(WATCH_LOCK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = SessionLock::acquire(dir.path(), "shop").unwrap();
        let err = SessionLock::acquire(dir.path(), "shop").unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Refused);
        assert!(
            err.message.contains(&std::process::id().to_string()),
            "{}",
            err.message
        );
        drop(first);
        SessionLock::acquire(dir.path(), "shop").unwrap();
        SessionLock::acquire(dir.path(), "other").unwrap();
    }

    #[test]
    fn a_removed_lock_file_is_not_held_by_whoever_opened_it_before() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pk").join("shop.lock");
        let first = SessionLock::acquire(dir.path(), "shop").unwrap();
        // Opened before the removal, locked after it: that lock guards nothing.
        let early = OpenOptions::new().read(true).open(&path).unwrap();
        first.remove().unwrap();
        assert!(!path.exists());
        early.try_lock().unwrap();
        let second = SessionLock::acquire(dir.path(), "shop").unwrap();
        assert!(path.exists(), "a new lock file is made");
        SessionLock::acquire(dir.path(), "shop").unwrap_err();
        drop(second);
    }
}
