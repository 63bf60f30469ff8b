//! `pk up`: provision what is missing (see [`crate::session::provision`]), then attach.

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::plan::Multiplexer;
use crate::session::provision;
use crate::session::workspace::Workspace;
use clap::Args;
use std::io::IsTerminal;

/// Start the plan: worktrees, branches, ports, env and one tmux session.
///
/// Each track gets a worktree, a branch, a block of ports and its environment; the session
/// stacks the agents on the left with an editor on the right.
/// Runs again safely: what exists is kept, running agents are left alone, tracks added to the
/// plan are added. Attaches to the session unless --detach or stdin is not a terminal.
///
/// The plan's commands (setup, agents, editor, env) run only once you approved them: the
/// first time, and again whenever they change, pk shows them and asks. Without a terminal it
/// refuses (exit 3) unless --yes. See `pk approve`.
///
/// Examples:
///   pk up                      # ./parallel.toml (or the nearest one above)
///   pk up plans/sprint.toml --detach
///   pk --socket scratch up     # on a private tmux server
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct UpArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// Do not attach to the session.
    #[arg(long, short)]
    pub detach: bool,
    /// Run the session in zellij, whatever the plan's `multiplexer` says.
    #[arg(long, conflicts_with = "tmux")]
    pub zellij: bool,
    /// Run the session in tmux, whatever the plan's `multiplexer` says.
    #[arg(long)]
    pub tmux: bool,
    /// Start these tracks' agents over from their prompts (all with no track named) rather than
    /// resume their conversations.
    #[arg(long, num_args = 0.., value_name = "TRACK")]
    pub fresh: Option<Vec<String>>,
    /// Approve the plan's commands (setup, agents, editor, env) without asking when they are
    /// new or changed. Without a terminal, `pk up` refuses unapproved commands unless given.
    #[arg(long, short)]
    pub yes: bool,
}

/// Runs `pk up`.
pub fn run(ctx: &Ctx, args: &UpArgs) -> Result<()> {
    let mut ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let multiplexer = if args.zellij {
        Multiplexer::Zellij
    } else if args.tmux {
        Multiplexer::Tmux
    } else {
        ws.plan.session.multiplexer
    };
    crate::session::approval::ensure(&ctx.out, &ws.plan, args.yes)?;
    crate::session::land::put_back_cut_short(&ws)?;
    for l in crate::session::land::take_out_landed(&mut ws)? {
        ctx.out.step(&format!(
            "  = {} landed on {} as {} and is not started again (take it out of the plan, or `pk down` to start over)",
            l.track,
            l.base,
            &l.commit[..l.commit.len().min(10)]
        ));
    }
    let fresh = match &args.fresh {
        None => provision::Fresh::None,
        Some(t) if t.is_empty() => provision::Fresh::All,
        Some(t) => {
            for name in t {
                if !ws.plan.tracks.iter().any(|p| p.name == *name) {
                    let known: Vec<_> = ws.plan.tracks.iter().map(|p| p.name.as_str()).collect();
                    return Err(crate::error::Error::usage(format!(
                        "no track `{name}` in the plan (`--fresh`)"
                    ))
                    .hint(format!("tracks: {}", known.join(", "))));
                }
            }
            provision::Fresh::Tracks(t.clone())
        }
    };
    let session = provision::up(ctx, &ws, multiplexer, &fresh)?;
    if !args.detach && std::io::stdin().is_terminal() {
        session.mux.attach(&ws.plan.session.name)?;
    }
    Ok(())
}
