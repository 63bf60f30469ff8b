//! What a track changed (for `owns`), what its tree is (for `done_when`), and the include of a
//! track's own git configuration (for `push = false`).

use super::Git;
use crate::error::{Context, Result};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

impl Git {
    /// The commit checked out in `worktree`, `None` when it has none (unborn) or git fails.
    pub(crate) fn head_of(&self, worktree: &Path) -> Option<String> {
        let mut cmd = self.command_in(worktree);
        cmd.args(["--no-optional-locks", "rev-parse", "-q", "--verify", "HEAD"]);
        let out = self.stdout_of(cmd, None).ok()?;
        Some(String::from_utf8_lossy(&out).trim().to_string()).filter(|s| !s.is_empty())
    }

    /// The paths the commits of `worktree` changed since its merge base with `base`
    /// (`git diff base...HEAD`), renames as their two paths: both sides are changed.
    pub(crate) fn committed_paths(&self, worktree: &Path, base: &str) -> Result<Vec<String>> {
        let mut cmd = self.command_in(worktree);
        cmd.args([
            "--no-optional-locks",
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
        ])
        .arg(format!("{base}...HEAD"))
        .arg("--");
        let out = self.stdout_of(cmd, None).map_err(|e| {
            e.wrap(format!(
                "failed to list the changes of {} since {base}",
                worktree.display()
            ))
        })?;
        Ok(split_paths(&out))
    }

    /// Adds (or replaces) `[includeIf "gitdir:GITDIR"] path = FILE` in the repository's
    /// configuration: git reads FILE for commands run in the worktree whose git folder is
    /// `gitdir`, and only there, whatever their environment.
    pub(crate) fn set_worktree_include(&self, gitdir: &Path, file: &Path) -> Result<()> {
        clear_stale_lock(&self.common_dir().join("config"))?;
        let mut cmd = self.command_in(self.root());
        cmd.arg("config")
            .arg("--file")
            .arg(self.common_dir().join("config"))
            .arg(include_key(gitdir))
            .arg(file);
        self.stdout_of(cmd, None)
            .map(drop)
            .context("failed to set pk's include for a worktree in the repository's configuration")
    }

    /// The file of [`Git::set_worktree_include`] for `gitdir`, if set.
    pub(crate) fn worktree_include(&self, gitdir: &Path) -> Option<PathBuf> {
        let mut cmd = self.command_in(self.root());
        cmd.arg("config")
            .arg("--file")
            .arg(self.common_dir().join("config"))
            .arg("--get")
            .arg(include_key(gitdir));
        let out = self.stdout_of(cmd, None).ok()?;
        let text = String::from_utf8_lossy(&out).trim_end().to_string();
        (!text.is_empty()).then(|| PathBuf::from(text))
    }

    /// The git folders whose include (of [`Git::set_worktree_include`]) is `file`.
    pub(crate) fn includes_of(&self, file: &Path) -> Vec<PathBuf> {
        let mut cmd = self.command_in(self.root());
        cmd.arg("config")
            .arg("--file")
            .arg(self.common_dir().join("config"))
            .args(["-z", "--get-regexp", r"^includeif\.gitdir:.*\.path$"]);
        let Ok(out) = self.stdout_of(cmd, None) else {
            return Vec::new();
        };
        out.split(|b| *b == 0)
            .filter_map(|entry| {
                let text = std::str::from_utf8(entry).ok()?;
                let (key, value) = text.split_once('\n')?;
                (Path::new(value) == file).then_some(())?;
                let pattern = key
                    .strip_prefix("includeif.gitdir:")?
                    .strip_suffix(".path")?;
                Some(PathBuf::from(unescape_glob(pattern)))
            })
            .collect()
    }

    /// Removes what [`Git::set_worktree_include`] added for `gitdir`, an include just listed
    /// by [`Git::includes_of`].
    pub(crate) fn remove_found_include(&self, gitdir: &Path) -> Result<()> {
        clear_stale_lock(&self.common_dir().join("config"))?;
        let mut cmd = self.command_in(self.root());
        let key = include_key(gitdir);
        let section = key.strip_suffix(".path").unwrap_or(&key);
        cmd.arg("config")
            .arg("--file")
            .arg(self.common_dir().join("config"))
            .arg("--remove-section")
            .arg(section);
        self.stdout_of(cmd, None).map(drop).context(
            "failed to remove pk's include for a worktree from the repository's configuration",
        )
    }
}

/// `includeIf.gitdir:<gitdir, its glob characters escaped>.path`. Without a trailing `/` the
/// pattern matches that folder exactly (with one, git would add `**` and match only below it).
fn include_key(gitdir: &Path) -> String {
    let mut pattern = String::new();
    for c in gitdir.to_string_lossy().chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    format!("includeIf.gitdir:{pattern}.path")
}

fn unescape_glob(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The git folder of a linked worktree (`.git/worktrees/<name>`), from its `.git` file.
pub(crate) fn gitdir_of(worktree: &Path) -> Option<PathBuf> {
    let text = std::fs::read(worktree.join(".git")).ok()?;
    let line = text.split(|b| *b == b'\n').next()?;
    let path = Path::new(OsStr::from_bytes(
        line.strip_prefix(b"gitdir: ")?.trim_ascii_end(),
    ));
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        worktree.join(path)
    };
    Some(crate::util::fs::canonical(&path))
}

/// Every path `git status --porcelain=v1 -z` names: changed, staged, untracked, and both sides
/// of a rename.
pub(crate) fn changed_paths_of_status(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut fields = raw.split(|b| *b == 0);
    while let Some(field) = fields.next() {
        if field.len() < 4 {
            continue;
        }
        out.push(String::from_utf8_lossy(&field[3..]).into_owned());
        if matches!(field[0], b'R' | b'C')
            && let Some(from) = fields.next()
        {
            out.push(String::from_utf8_lossy(from).into_owned());
        }
    }
    out
}

fn split_paths(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// Removes `<config>.lock` when no live process holds it open: the lock of a `git config` that
/// ended with a killed pk (SIGKILL leaves it), which would make every later write of that file
/// fail. A lock some live git holds is left to it (git then says the file is locked).
pub(crate) fn clear_stale_lock(config: &Path) -> Result<()> {
    let mut lock = config.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    if std::fs::symlink_metadata(&lock).is_err() {
        return Ok(());
    }
    let patience = std::time::Duration::from_secs(5);
    if !crate::sys::children::holders_after(&lock, &lock, patience).is_empty() {
        return Ok(());
    }
    match std::fs::remove_file(&lock) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("failed to remove the stale lock {}", lock.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_paths_include_both_sides_of_a_rename() {
        let raw = b" M src/a.rs\0R  new.rs\0old.rs\0?? x/y.txt\0";
        assert_eq!(
            changed_paths_of_status(raw),
            ["src/a.rs", "new.rs", "old.rs", "x/y.txt"]
        );
    }

    #[test]
    fn include_keys_match_one_folder_literally() {
        assert_eq!(
            include_key(Path::new("/r/.git/worktrees/api")),
            "includeIf.gitdir:/r/.git/worktrees/api.path"
        );
        assert_eq!(
            include_key(Path::new("/a[1]/*?/w")),
            "includeIf.gitdir:/a\\[1\\]/\\*\\?/w.path"
        );
        assert_eq!(unescape_glob("/a\\[1\\]/\\*\\?/w"), "/a[1]/*?/w");
    }
}
