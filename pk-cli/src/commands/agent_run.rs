//! `pk agent-run` (hidden): what every agent pane runs. It sets the track's environment and
//! folder (zellij layouts cannot set a pane's environment, and tmux's `-e` is per call), runs
//! `setup` visibly, then replaces itself with the agent.

use crate::Ctx;
use crate::error::{Context, Error, Result};
use crate::state::State;
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// Start a track's agent in this terminal (used by the panes pk makes).
#[derive(Debug, Args)]
pub struct AgentRunArgs {
    /// The session's state folder (`.git/pk/<session>`).
    #[arg(long)]
    pub state_dir: PathBuf,
    /// The track.
    pub track: String,
}

/// Runs `pk agent-run`. Returns only when something failed before the agent started.
pub fn run(ctx: &Ctx, args: &AgentRunArgs) -> Result<u8> {
    let state = State::load(&args.state_dir)?
        .ok_or_else(|| Error::failure(format!("no pk state in {}", args.state_dir.display())))?;
    let rec = state
        .track(&args.track)
        .ok_or_else(|| Error::failure(format!("track `{}` is not in pk's state", args.track)))?;
    let launch = &rec.launch;
    std::env::set_current_dir(&rec.worktree)
        .with_context(|| format!("failed to enter {}", rec.worktree.display()))?;
    let bold = |s: &str| ctx.out.paint(crate::output::Style::Bold, s);
    println!(
        "{} · branch {} · port {} · {}",
        bold(&format!("pk track {}", rec.name)),
        rec.branch,
        rec.port(),
        launch.agent
    );
    if launch.agent == "shell"
        && let Some((_, prompt)) = launch
            .env
            .iter()
            .find(|(k, _)| k == crate::env_vars::PK_PROMPT)
    {
        println!("task: {prompt}");
    }
    for cmd in &launch.setup {
        println!("{} {cmd}", bold("$"));
        let status = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .status()
            .with_context(|| format!("failed to run setup `{cmd}`"))?;
        if !status.success() {
            let code = super::exec::exit_code(status);
            eprintln!("setup `{cmd}` failed (exit {code}); the agent was not started");
            return Ok(code);
        }
    }
    let Some((program, rest)) = launch.argv.split_first() else {
        return Err(Error::failure("the track has no command to run"));
    };
    let err = Command::new(program)
        .args(rest)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .exec();
    let hint = if err.kind() == std::io::ErrorKind::NotFound {
        format!("is `{program}` installed and on PATH?")
    } else {
        "check the track's `agent` or `command` in the plan".to_string()
    };
    eprintln!("pk: failed to start `{program}`: {err}\n  hint: {hint}");
    Ok(127)
}
