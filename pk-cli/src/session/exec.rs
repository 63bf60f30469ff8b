//! `pk exec`'s domain: a command in a track's worktree with the track's environment, on this
//! machine (`pk exec`, and `pk on-host exec` for a track on a host).

use crate::error::{Context, Error, Result};
use crate::session::state::TrackRecord;
use std::process::Command;

/// Runs `argv` in `rec`'s worktree with its environment; returns its exit status.
pub(crate) fn in_track(rec: &TrackRecord, argv: &[String]) -> Result<u8> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::usage("no command to run"));
    };
    if !rec.worktree.is_dir() {
        return Err(Error::failure(format!(
            "the worktree of `{}` ({}) is gone",
            rec.name,
            rec.worktree.display()
        ))
        .hint("run `pk up` to make it again"));
    }
    let status = Command::new(program)
        .args(args)
        .current_dir(&rec.worktree)
        .envs(rec.launch.env.iter().map(|(k, v)| (k, v)))
        .status()
        .with_context(|| format!("failed to run `{program}`"))?;
    Ok(crate::sys::procs::exit_code(status))
}
