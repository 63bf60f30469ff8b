//! The token every request of `pk serve` must carry: 32 random bytes from the system, in hex,
//! kept in the session's state folder (`serve-token`, readable by the user only) so that the
//! same link works after `pk serve` starts again, until `--rotate-token` makes a new one. A
//! running server reads the file again when it changes: a rotation locks the old link out at
//! once.

use crate::error::{Context, Error, Result};
use std::path::{Path, PathBuf};

/// The token's file in a session's state folder.
pub(crate) const TOKEN_FILE: &str = "serve-token";

/// The token of the session whose state is in `state_dir`: the one kept there, else (or with
/// `rotate`) a new one, written first.
pub(crate) fn load_or_make(state_dir: &Path, rotate: bool) -> Result<String> {
    let path = state_dir.join(TOKEN_FILE);
    if !rotate && let Some(token) = read(&path) {
        return Ok(token);
    }
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        Error::failure("no random numbers from the system").wrap_cause(e.to_string())
    })?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &token)?;
    Ok(token)
}

/// The token in `path`, if it holds one.
pub(crate) fn read(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.trim();
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| token.to_string())
}

/// Writes `token` to `path`, readable and writable by the user only, atomically.
fn write_private(path: &Path, token: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("failed to write in {}", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .context("failed to make the token file private")?;
    tmp.write_all(token.as_bytes())
        .context("failed to write the token")?;
    tmp.persist(path).map_err(|e| {
        Error::failure(format!("failed to write {}", path.display())).wrap_cause(e.to_string())
    })?;
    Ok(())
}

/// Whether `given` is `token`, in time that does not depend on where they differ.
pub(crate) fn matches(given: &str, token: &str) -> bool {
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The token file of `state_dir`.
pub(crate) fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(TOKEN_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_until_rotated_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_make(dir.path(), false).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_make(dir.path(), false).unwrap(), first);
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = load_or_make(dir.path(), true).unwrap();
        assert_ne!(second, first);
        assert_eq!(read(&path(dir.path())).unwrap(), second);
    }

    #[test]
    fn only_the_same_token_matches() {
        assert!(matches("ab12", "ab12"));
        assert!(!matches("ab13", "ab12"));
        assert!(!matches("ab1", "ab12"));
        assert!(!matches("", "ab12"));
    }
}
