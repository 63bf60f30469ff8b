//! `[session] push = false` (the default): an agent's `git push` from its track is refused,
//! with a message naming pk and the key, while the repository's own hooks run as always and the
//! user's pushes from the main checkout are untouched.
//!
//! How: the repository's configuration gets one `[includeIf "gitdir:<the worktree's git
//! folder>"]` per track, so git reads a file of pk's (`tracks/<track>/git.config` in the state
//! folder) for commands run in that worktree, and only there. The file sets
//! `url."ext::<pk> push-refused <track> <plan>".pushInsteadOf = ""`: every push URL (a remote's,
//! or one given on the command line) becomes a run of `pk push-refused`, which says why and
//! fails before anything is sent. Weighed against the alternatives:
//! - a `pre-push` hook (through `core.hooksPath`) is skipped by `git push --no-verify`, the
//!   first thing an agent tries after a hook refused, and would stand in front of the
//!   repository's own hooks;
//! - the agent's environment (`GIT_CONFIG_COUNT`) is gone after `env -i git push` or in any
//!   shell that does not inherit it; an include in the repository's configuration is not;
//! - a per-worktree `config.worktree` needs `extensions.worktreeConfig`, which changes the
//!   repository's format for every tool that reads it.
//!
//! `protocol.ext.allow = user` in the same file lets git run that `ext::` command when a
//! person (or agent) pushes, never for a URL a submodule brings. `pk down` removes the include;
//! `push = true` installs nothing (and `pk up` removes what an earlier plan installed).

use crate::error::{Context, Result};
use crate::sys::git::Git;
use std::path::{Path, PathBuf};

/// pk's git configuration file of a track, in its folder of the state folder.
pub(crate) const CONFIG_FILE: &str = "git.config";

/// The message of a refused push.
pub(crate) fn message(track: &str, plan_file: &str) -> String {
    format!(
        "pk: pushing from track `{track}` is off (`push = false` in [session] of {plan_file}); the lead lands the work with `pk land`"
    )
}

/// Makes git refuse pushes in `worktree`, the worktree of `track`: writes the track's file
/// and includes it for the worktree's git folder. Idempotent.
pub(crate) fn install(
    git: &Git,
    state_dir: &Path,
    track: &str,
    worktree: &Path,
    plan_file: &str,
    exe: &Path,
) -> Result<()> {
    let Some(gitdir) = crate::sys::git::gitdir_of(worktree) else {
        return Ok(());
    };
    let file = config_path(state_dir, track);
    let base = format!(
        "ext::{} push-refused {track} {} ",
        ext_escape(&exe.to_string_lossy()),
        ext_escape(plan_file)
    );
    let _ = std::fs::remove_file(&file);
    crate::sys::git::clear_stale_lock(&file)?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    for (key, value) in [
        (format!("url.{base}.pushInsteadOf"), ""),
        ("protocol.ext.allow".to_string(), "user"),
    ] {
        let mut cmd = git.command_in(git.root());
        cmd.arg("config")
            .arg("--file")
            .arg(&file)
            .arg(key)
            .arg(value);
        git.stdout_of(cmd, None)
            .with_context(|| format!("failed to write {}", file.display()))?;
    }
    if git.worktree_include(&gitdir).as_deref() != Some(file.as_path()) {
        git.set_worktree_include(&gitdir, &file)?;
    }
    Ok(())
}

/// Undoes [`install`] for `track`: removes every include of its file from the repository's
/// configuration (whatever git folder it names: the worktree may be gone) and the file.
pub(crate) fn remove(git: &Git, state_dir: &Path, track: &str) -> Result<()> {
    let file = config_path(state_dir, track);
    for gitdir in git.includes_of(&file) {
        git.remove_found_include(&gitdir)?;
    }
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("failed to remove {}", file.display()))
        }
        _ => Ok(()),
    }
}

fn config_path(state_dir: &Path, track: &str) -> PathBuf {
    crate::session::transcript::track_dir(state_dir, track).join(CONFIG_FILE)
}

/// An argument of an `ext::` command: `%` and spaces escaped as git's remote-ext reads them.
fn ext_escape(s: &str) -> String {
    s.replace('%', "%%").replace(' ', "% ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_arguments_keep_spaces_and_percents() {
        assert_eq!(ext_escape("/a b/100%/pk"), "/a% b/100%%/pk");
    }
}
