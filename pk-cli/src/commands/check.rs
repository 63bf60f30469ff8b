//! `pk check`: validate the plan and the machine without changing anything.

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::output::outln;
use crate::plan::Multiplexer;
use crate::session::approval::{self, Status};
use crate::session::workspace::Workspace;
use crate::session::{ports, user_prices};
use crate::sys::tmux::Tmux;
use crate::sys::zellij::Zellij;
use clap::Args;

/// Validate the plan and the machine without changing anything.
///
/// Checks git, tmux 3.2 or newer (zellij 0.45 for a zellij plan) and free ports, and tells whether you approved the plan's
/// commands (listing them when not). Exits 2 on an invalid plan, 1 when the machine lacks
/// something.
///
/// Examples:
///   pk check
///   pk check examples/realistic.toml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    #[command(flatten)]
    pub plan: PlanArg,
}

/// Runs `pk check`.
pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<()> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let plan = &ws.plan;
    let state = ws.state()?;
    outln!(
        "plan {}: session `{}`, {} track(s), worktrees in {}",
        plan.path.display(),
        plan.session.name,
        plan.tracks.len(),
        plan.session.worktrees.display()
    )?;
    match plan.session.multiplexer {
        Multiplexer::Tmux => {
            let (major, minor) = Tmux::require_version()?;
            outln!("tmux {major}.{minor}: ok")?;
        }
        Multiplexer::Zellij => {
            let (major, minor) = Zellij::require_version()?;
            outln!(
                "zellij {major}.{minor}: ok (layout `{}`)",
                plan.session.layout.name
            )?;
        }
    }
    // The user's price table: a bad one is an error here, a warning where costs are shown.
    if let Some(path) = user_prices::path(&|k| std::env::var(k).ok())
        && path.exists()
    {
        let rows = user_prices::load(&path)?;
        outln!("prices: {} model(s) from {}", rows.len(), path.display())?;
    }
    let requests = ws.port_requests(state.as_ref());
    let blocks = ports::preview(&ws.state_dir, &requests)?;
    for (t, start) in plan.tracks.iter().filter(|t| t.host.is_none()).zip(blocks) {
        outln!(
            "  {:<12} {:<24} ports {}-{}",
            t.name,
            t.branch,
            start,
            u32::from(start) + u32::from(plan.ports.per_track) - 1
        )?;
    }
    for t in plan.tracks.iter().filter(|t| t.host.is_some()) {
        let host = t.host.as_deref().unwrap_or_default();
        outln!("  {:<12} {:<24} on host {host}", t.name, t.branch)?;
    }
    // Each host the plan names, reached as `pk up` reaches it.
    let mut hosts_ok = true;
    for (name, said) in crate::session::remote::check(&ws, ctx.verbose) {
        match said {
            Ok(found) if found.lack.is_empty() => {
                outln!("host {name}: ok ({})", found.have.join(", "))?
            }
            Ok(found) => {
                hosts_ok = false;
                outln!("host {name}: lacks what the plan needs")?;
                for lack in &found.lack {
                    outln!("  {lack}")?;
                }
            }
            Err(e) => {
                hosts_ok = false;
                outln!("host {name}: {}", e.message)?;
                for cause in &e.causes {
                    outln!("  {cause}")?;
                }
                for hint in &e.hints {
                    outln!("  hint: {hint}")?;
                }
            }
        }
    }
    let commands = approval::Commands::of(plan);
    let status = approval::status(plan, &commands);
    let approved = match &status {
        Status::Nothing => {
            outln!("commands: none to approve (only your shell)")?;
            true
        }
        Status::Approved(at) => {
            outln!("commands: approved ({})", approval::when(*at))?;
            true
        }
        Status::New | Status::Changed(_) => {
            let before = match &status {
                Status::Changed(entry) => Some(&entry.commands),
                _ => None,
            };
            let what = if before.is_some() {
                "changed since you approved them"
            } else {
                "not approved yet"
            };
            outln!("commands: {what}")?;
            crate::output::print(approval::render(&commands, before, &ctx.out))?;
            false
        }
    };
    if !hosts_ok {
        return Err(
            crate::error::Error::failure("a host of the plan lacks what pk needs there")
                .hint("see the lines above; `pk host install NAME` puts pk on a host"),
        );
    }
    if approved {
        outln!("ok: `pk up` would work")?;
    } else {
        outln!(
            "ok: `pk up` would work once you approve these commands (it asks; or `pk approve`)"
        )?;
    }
    Ok(())
}
