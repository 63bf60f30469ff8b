//! `pk layout`: print the layout pk would build for the plan, to read or share.

use crate::Ctx;
use crate::cli::PlanArg;
use crate::error::{Error, Result};
use crate::layout::{self, AgentPane};
use crate::ports;
use crate::shell::quote;
use crate::workspace::Workspace;
use clap::Args;

/// Print the layout pk would build for the plan, to read or share.
///
/// For tmux: the tmux commands pk would run, one per line.
///
/// Examples:
///   pk layout
///   pk layout --tmux > layout.sh
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct LayoutArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// Print the tmux layout (the default).
    #[arg(long, conflicts_with = "zellij")]
    pub tmux: bool,
    /// Print the zellij layout.
    #[arg(long)]
    pub zellij: bool,
}

/// Runs `pk layout`.
pub fn run(ctx: &Ctx, args: &LayoutArgs) -> Result<()> {
    if args.zellij {
        return Err(
            Error::failure("zellij layouts are not built yet").hint("use `pk layout --tmux`")
        );
    }
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let plan = &ws.plan;
    let state = ws.state()?;
    let requests = ws.port_requests(state.as_ref());
    let blocks = ports::preview(&ws.state_dir, &requests)?;
    let agents: Vec<AgentPane> = plan
        .tracks
        .iter()
        .zip(blocks)
        .map(|(t, block)| {
            Ok(AgentPane {
                track: t.name.clone(),
                branch: t.branch.clone(),
                port: block,
                cwd: t.worktree.clone(),
                argv: super::up::agent_argv(&ws.state_dir, &t.name)?,
            })
        })
        .collect::<Result<_>>()?;
    let editor = super::up::editor_pane(plan);
    let socket = ctx
        .socket
        .as_ref()
        .map(|s| format!(" -L {}", quote(s)))
        .unwrap_or_default();
    println!(
        "# tmux layout of {} (session `{}`)",
        plan.path.display(),
        plan.session.name
    );
    for cmd in layout::new_session(&plan.session.name, &agents, &editor) {
        let words: Vec<String> = cmd.argv().iter().map(|a| quote(a)).collect();
        println!("tmux{socket} {}", words.join(" "));
    }
    Ok(())
}
