//! `pk layout`: print the layout pk would build for the plan, to read or share.

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::layout::{self, AgentPane};
use crate::output::outln;
use crate::plan::Multiplexer;
use crate::session::ports;
use crate::session::workspace::Workspace;
use crate::sys::shell::quote;
use clap::Args;

/// Print the layout pk would build for the plan, to read or share.
///
/// For tmux: the tmux commands pk would run, one per line. For zellij: the KDL layout file.
/// Without a flag, for the plan's multiplexer.
///
/// Examples:
///   pk layout
///   pk layout --tmux > layout.sh
///   pk layout --zellij > layout.kdl
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct LayoutArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// Print the tmux layout.
    #[arg(long, conflicts_with = "zellij")]
    pub tmux: bool,
    /// Print the zellij layout.
    #[arg(long)]
    pub zellij: bool,
}

/// Runs `pk layout`.
pub fn run(ctx: &Ctx, args: &LayoutArgs) -> Result<()> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let plan = &ws.plan;
    let state = ws.state()?;
    let requests = ws.port_requests(state.as_ref());
    let blocks = ports::preview(&ws.state_dir, &requests)?;
    // A host's tracks have the host's ports (0 here: not known before `pk up`) and start in
    // the main checkout, where their pane attaches to the host.
    let mut blocks = blocks.into_iter();
    let agents: Vec<AgentPane> = plan
        .tracks
        .iter()
        .map(|t| {
            let local = t.host.is_none();
            Ok(AgentPane {
                track: t.name.clone(),
                branch: t.branch.clone(),
                port: if local { blocks.next().unwrap_or(0) } else { 0 },
                cwd: if local {
                    t.worktree.clone()
                } else {
                    plan.repo_root.clone()
                },
                argv: crate::session::provision::agent_argv(&ws.state_dir, &t.name)?,
            })
        })
        .collect::<Result<_>>()?;
    let shape = &plan.session.layout;
    let windows = shape.windows(&agents, &plan.session.editor, &plan.session.worktrees);
    let zellij = args.zellij || (!args.tmux && plan.session.multiplexer == Multiplexer::Zellij);
    let about = format!(
        "layout `{}` of {} (session `{}`): {}",
        shape.name,
        plan.path.display(),
        plan.session.name,
        shape.description
    );
    if zellij {
        let wasm = crate::sys::zellij::plugin_file();
        let bar = layout::zellij::Bar {
            wasm: &wasm,
            state_dir: &ws.state_dir,
            session: &plan.session.name,
        };
        outln!("// zellij {about}")?;
        crate::output::print(
            layout::zellij::session_layout(&windows, shape.agents_width, &bar).to_string(),
        )?;
        return Ok(());
    }
    let socket = ctx
        .socket
        .as_ref()
        .map(|s| format!(" -L {}", quote(s)))
        .unwrap_or_default();
    outln!("# tmux {about}")?;
    for cmd in layout::new_session(&plan.session.name, &windows, shape.agents_width) {
        let words: Vec<String> = cmd.argv().iter().map(|a| quote(a)).collect();
        outln!("tmux{socket} {}", words.join(" "))?;
    }
    Ok(())
}
