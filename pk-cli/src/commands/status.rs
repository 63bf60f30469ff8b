//! `pk status`: gather the tracks' status ([`crate::live::status`]) and show it.

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::live::status::{StatusJson, collect, print_table};
use crate::output::outln;
use crate::session::state::State;
use crate::session::workspace::Workspace;
use clap::Args;

/// Show what every agent does and has cost, with its branch, ports and changes.
///
/// The state is what the agent does: starting, working, waiting (for you), done, error, idle,
/// exited, or over-budget (pk stopped it: its `budget_usd`, or the session's, is spent).
/// `--json` also gives tokens, budgets, the transcript read and the worktree.
///
/// Examples:
///   pk status
///   pk status --json | jq '.tracks[] | select(.state == "waiting") | .name'
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// Print one JSON object (design §3) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `pk status`.
pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
    let mut ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let landed = crate::session::land::take_out_landed(&mut ws)?;
    let state = ws.state()?;
    crate::session::user_prices::install(ctx);
    let mut report = collect(ctx, &ws, state.as_ref())?;
    report.landed = landed
        .into_iter()
        .map(|l| crate::live::status::LandedJson {
            name: l.track,
            base: l.base,
            commit: l.commit,
            at: pk_status::Timestamp(l.at_ms).to_rfc3339(),
        })
        .collect();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("status serializes")
        )?;
    } else {
        print_table(&ws.plan, &report, state.is_some())?;
    }
    if let Some(state) = &state {
        warn_about_the_world(ctx, &ws, state, &report);
    }
    warn_about_budgets(ctx, &report);
    Ok(())
}

/// Budgets spent, nearly spent, or that cannot be enforced, on stderr (also with `--json`,
/// where each track's `budget_warning` says the same).
fn warn_about_budgets(ctx: &Ctx, report: &StatusJson) {
    for t in &report.tracks {
        if let Some(warning) = &t.budget_warning {
            ctx.out.warn(&format!("track `{}`: {warning}", t.name));
        }
    }
}

/// What changed under pk since `pk up`, on stderr (also with `--json`): the session is gone
/// (its tmux server was stopped, say) or a worktree folder was deleted by hand.
fn warn_about_the_world(ctx: &Ctx, ws: &Workspace, state: &State, report: &StatusJson) {
    let session = &ws.plan.session.name;
    if report.tracks.iter().all(|t| t.pane.is_none())
        && !ws.mux(ctx, Some(state)).has_session(session)
    {
        ctx.out.warn(&format!(
            "session `{session}` is not running (its {} server or session was stopped): \
             `pk up` starts it again with the same worktrees, branches and ports",
            state.multiplexer
        ));
    }
    for rec in state.tracks.iter().filter(|r| r.worktree_created) {
        if !rec.worktree.exists() {
            ctx.out.warn(&format!(
                "the worktree of track `{}` ({}) is gone: `pk up` makes it again from branch \
                 `{}`, `pk down` forgets it",
                rec.name,
                rec.worktree.display(),
                rec.branch
            ));
        }
    }
}
