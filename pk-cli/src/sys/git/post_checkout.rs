//! The `post-checkout` hook of a new worktree, run as `git worktree add` runs it.
//!
//! pk registers worktrees with `worktree add --no-checkout` and fills them with `reset --hard`
//! (see [`Git::checkout_worktrees`]); neither runs `post-checkout`, which `git worktree add`
//! does (builtin/worktree.c, git 2.47): with the arguments `<null id> <new HEAD> 1`, in the new
//! worktree, with `GIT_DIR` and `GIT_WORK_TREE` unset, stdin closed. `git hook run` would
//! export the worktree's `GIT_DIR` to it (measured), which misleads a hook that runs git in
//! another folder, so pk finds the hook with `rev-parse --git-path` (which honours
//! `core.hooksPath`, relative to the worktree like git's) and runs it itself, with the
//! environment git gives hooks: its exec path first on `PATH`, `GIT_EXEC_PATH`, `GIT_PREFIX`.

use super::{Git, SCRUBBED_VARS};
use crate::error::{Context, Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// What running the `post-checkout` hooks of new worktrees needs, asked of git once per
/// `pk up`: most repositories have no hook, and then no process runs per worktree.
#[derive(Debug, Clone)]
pub(crate) struct PostCheckout {
    /// git's exec path, first on the hook's `PATH` as git puts it.
    exec_path: String,
}

impl Git {
    /// How to run the worktrees' `post-checkout` hooks; `None` when the repository has none:
    /// no `core.hooksPath` (which may be relative to each worktree, and is then looked up in
    /// each) and no hook in the common git folder, where every worktree's hooks live.
    pub(crate) fn post_checkout_hooks(&self) -> Result<Option<PostCheckout>> {
        let mut cmd = self.command_in(&self.root);
        cmd.args(["config", "--get", "core.hooksPath"]);
        let configured = cmd
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty());
        if !configured && !self.common_dir.join("hooks/post-checkout").is_file() {
            return Ok(None);
        }
        let mut cmd = self.command_in(&self.root);
        cmd.arg("--exec-path");
        let out = self.run(cmd)?;
        Ok(Some(PostCheckout {
            exec_path: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }))
    }
}

impl PostCheckout {
    /// Runs the `post-checkout` hook of the freshly checked out worktree at `worktree`, if it
    /// has one. An error says why it did not run or failed; the worktree stays.
    pub(crate) fn run(&self, git: &Git, worktree: &Path) -> Result<()> {
        let mut cmd = git.command_in(worktree);
        cmd.args(["rev-parse", "--git-path", "hooks/post-checkout", "HEAD"]);
        let out = git.run(cmd)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let (Some(hook), Some(head)) = (lines.next(), lines.next()) else {
            return Err(Error::failure("`git rev-parse` said nothing"));
        };
        let hook = worktree.join(hook);
        let Ok(meta) = std::fs::metadata(&hook) else {
            return Ok(());
        };
        if !meta.is_file() {
            return Ok(());
        }
        if meta.permissions().mode() & 0o111 == 0 {
            // As git does, with its hint.
            return Err(Error::failure(format!(
                "the {} hook was ignored because it is not executable",
                hook.display()
            ))
            .hint(format!(
                "`chmod +x {}` to run it",
                crate::sys::shell::quote(&hook.to_string_lossy())
            )));
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(self.exec_path.clone().into()).chain(std::env::split_paths(&path)),
        )
        .unwrap_or(path);
        let null = "0".repeat(head.len());
        let mut run = Command::new(&hook);
        run.args([null.as_str(), head, "1"]).current_dir(worktree);
        for var in SCRUBBED_VARS {
            run.env_remove(var);
        }
        run.env("PATH", path)
            .env("GIT_EXEC_PATH", &self.exec_path)
            .env("GIT_PREFIX", "")
            .stdin(Stdio::null());
        if git.verbose {
            eprintln!("pk: running {}", crate::sys::shell::render(&run));
        }
        // Its output is kept for a failure, like git's own when pk runs it.
        let out = run
            .output()
            .with_context(|| format!("failed to run the hook {}", hook.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let said = [&out.stderr, &out.stdout]
            .into_iter()
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .find(|s| !s.is_empty());
        let mut err = Error::failure(format!(
            "the post-checkout hook {} failed ({})",
            hook.display(),
            out.status
        ));
        if let Some(said) = said {
            err = err.wrap_cause(said);
        }
        Err(err)
    }
}
