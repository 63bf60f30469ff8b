//! `pk on-host` (hidden): what the local pk runs on a host over ssh to make, show, watch and
//! tear down the host's tracks (design §11; [`crate::session::on_host`]). Not for people.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::session::on_host::{self, Where};
use crate::session::provision::Fresh;
use crate::session::remote::WRONG_PROTOCOL;
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::PathBuf;

/// The host's half of a plan's remote tracks, run by pk over ssh.
#[derive(Debug, Args)]
pub struct OnHostArgs {
    /// The protocol the calling pk speaks.
    #[arg(long)]
    pub protocol: u32,
    /// The plan's name for this host.
    #[arg(long)]
    pub host: String,
    /// The clone on this host (`~/` is this user's home).
    #[arg(long)]
    pub repo: String,
    /// The session.
    #[arg(long)]
    pub session: String,
    /// The plan's path in the repository.
    #[arg(long)]
    pub plan: PathBuf,
    #[command(subcommand)]
    pub op: Op,
}

/// What the host is asked.
#[derive(Debug, Subcommand)]
pub enum Op {
    /// Make and start this host's tracks (the plan's text on stdin); prints JSON.
    Up {
        /// Start these tracks over from their prompts.
        #[arg(long, num_args = 0..)]
        fresh: Option<Vec<String>>,
    },
    /// Tear this host's tracks down (the plan's text on stdin), refusing dirty worktrees.
    Down {
        #[arg(long)]
        force: bool,
        #[arg(long)]
        delete_branches: bool,
    },
    /// The host watcher's status, a JSON line per change.
    Stream,
    /// Show a track's agent on this terminal.
    Attach {
        track: String,
        /// The connection had dropped for this many seconds: say so once attached.
        #[arg(long)]
        after_drop: Option<u64>,
    },
    /// `pk exec` of a track of this host.
    Exec {
        track: String,
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// `pk diff` of a track of this host.
    Diff {
        track: String,
        #[arg(long)]
        stat: bool,
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Say what this host has and lacks.
    Check {
        /// Base commits the plan's tracks need.
        #[arg(long)]
        commit: Vec<String>,
    },
}

fn stdin_text() -> Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        Error::failure("failed to read the plan on stdin").wrap_cause(e.to_string())
    })?;
    Ok(text)
}

/// Runs `pk on-host`.
pub fn run(ctx: &Ctx, args: &OnHostArgs) -> Result<u8> {
    if let Some(why) = on_host::protocol_error(args.protocol) {
        ctx.out.error(&Error::failure(why));
        return Ok(WRONG_PROTOCOL as u8);
    }
    let at = Where {
        host: args.host.clone(),
        repo: args.repo.clone(),
        session: args.session.clone(),
        plan: args.plan.clone(),
    };
    match &args.op {
        Op::Up { fresh } => {
            let fresh = match fresh {
                None => Fresh::None,
                Some(t) if t.is_empty() => Fresh::All,
                Some(t) => Fresh::Tracks(t.clone()),
            };
            let reply = on_host::up(ctx, &at, &stdin_text()?, &fresh)?;
            let json = serde_json::to_string(&reply).map_err(|e| {
                Error::failure("failed to encode the answer").wrap_cause(e.to_string())
            })?;
            crate::output::outln!("{json}")?;
            Ok(0)
        }
        Op::Down {
            force,
            delete_branches,
        } => on_host::down(ctx, &at, &stdin_text()?, *force, *delete_branches).map(|()| 0),
        Op::Stream => on_host::stream(ctx, &at).map(|()| 0),
        Op::Attach { track, after_drop } => on_host::attach(ctx, &at, track, *after_drop),
        Op::Exec { track, command } => on_host::exec(ctx, &at, track, command),
        Op::Diff { track, stat, args } => {
            let show = if *stat {
                crate::session::review::Show::Stat
            } else {
                crate::session::review::Show::Patch
            };
            on_host::diff(ctx, &at, track, show, args)
        }
        Op::Check { commit } => {
            let said = on_host::check(ctx, &at, commit);
            let json = serde_json::to_string(&said).map_err(|e| {
                Error::failure("failed to encode the answer").wrap_cause(e.to_string())
            })?;
            crate::output::outln!("{json}")?;
            Ok(0)
        }
    }
}
