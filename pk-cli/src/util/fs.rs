//! Files: atomic writes, canonical paths, pk's machine-wide state folder.

use crate::error::{Context, Error, Result};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` so that readers see either the old or the new contents, never a
/// part: a temporary file in the same folder, renamed over the target. (No fsync: this guards
/// against pk being killed, not against power loss, and keeps `pk up` fast.)
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path)?;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    write_atomically_in_place(path, bytes)
}

/// Like [`write_atomically`], but fails rather than make the file's folder: for what the
/// watcher writes into a session's state folder, which must not come back once `pk down`
/// removed it.
pub(crate) fn write_atomically_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    // As `fs::write` would make it (0666 less the umask), not tempfile's private 0600.
    write_atomically_with_mode(path, bytes, 0o666)
}

/// [`write_atomically_in_place`] with the new file's permission bits (less the umask): to
/// replace a file of someone else's and keep its mode.
pub(crate) fn write_atomically_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = parent(path)?;
    // `.<name>.XXXXXX`: hidden, and named after its target (the watcher ignores its own).
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .with_context(|| format!("failed to write {}", path.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("failed to write {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(())
}

fn parent(path: &Path) -> Result<&Path> {
    path.parent()
        .ok_or_else(|| Error::failure(format!("{} has no parent folder", path.display())))
}

/// Canonical form of a path when it exists, else the path as given (for comparisons).
pub(crate) fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// pk's machine-wide state folder: `$XDG_STATE_HOME/pk`, else `~/.local/state/pk` (the port
/// registry, the approvals).
pub(crate) fn state_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("pk");
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".local/state/pk")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_file_and_leave_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/status.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["status.json"]);
        // Made as `fs::write` makes files (0666 less the umask), not tempfile's private 0600:
        // the zellij plugin and other tools read these files.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        std::fs::write(dir.path().join("plain"), b"x").unwrap();
        let plain = std::fs::metadata(dir.path().join("plain"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, plain);
        // The watcher's files must not bring back a removed state folder.
        assert!(write_atomically_in_place(&dir.path().join("gone/x"), b"x").is_err());
    }
}
