//! What a track changed, for `pk diff`: everything in its worktree (commits, edits, new files;
//! not ignored ones) against the merge base with its base, seen through a copy of the
//! worktree's index so that the agent's own index is never touched.

use crate::error::{Context, Result};
use crate::sys::git::Git;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A track's changes, staged into a throwaway index, ready to be shown.
pub(crate) struct Changes {
    worktree: PathBuf,
    merge_base: String,
    /// The copy of the worktree's index with everything staged; removed when dropped.
    index: tempfile::TempPath,
}

/// How to show [`Changes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// `git diff` (the user's pager and colours).
    Patch,
    /// `git diff --stat`.
    Stat,
    /// `git difftool -d` (the user's configured tool, on whole folders).
    Tool,
}

impl Changes {
    /// Stages the work tree of `worktree` (on a branch of `base`) into a copy of its index.
    pub(crate) fn of(git: &Git, worktree: &Path, base: &str) -> Result<Changes> {
        let merge_base = git.merge_base(worktree, base, "HEAD")?;
        let own = git.index_path(worktree)?;
        // Beside the worktree's own index: the same file system, and git's own folder.
        let dir = own.parent().unwrap_or(worktree);
        let index = tempfile::Builder::new()
            .prefix("pk-diff-index.")
            .tempfile_in(dir)
            .with_context(|| format!("failed to make a temporary index in {}", dir.display()))?
            .into_temp_path();
        match std::fs::copy(&own, &index) {
            Ok(_) => {}
            // A worktree whose index is not written yet: git builds one from nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::remove_file(&index).ok();
            }
            Err(e) => {
                return Err(e).with_context(|| format!("failed to copy {}", own.display()));
            }
        }
        git.stage_all_into(worktree, &index)?;
        Ok(Changes {
            worktree: worktree.to_path_buf(),
            merge_base,
            index,
        })
    }

    /// The git command that shows the changes as `show` says, with `extra` arguments (paths,
    /// `--word-diff`, …) after pk's own; run it with the user's terminal.
    pub(crate) fn command(&self, show: Show, extra: &[String]) -> Command {
        let mut cmd = crate::sys::git::user_command_in(&self.worktree);
        cmd.env("GIT_INDEX_FILE", &self.index);
        match show {
            Show::Patch => cmd.args(["diff", "--cached"]),
            Show::Stat => cmd.args(["diff", "--cached", "--stat"]),
            Show::Tool => cmd.args(["difftool", "-d", "--cached"]),
        };
        cmd.arg(&self.merge_base).args(extra);
        cmd
    }
}
