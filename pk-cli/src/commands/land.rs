//! `pk land`: land finished tracks into their bases (see [`crate::session::land`]).

use crate::cli::PlanOpt;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::output::{Style, outln};
use crate::plan::Strategy;
use crate::session::land::{self, Entry, Report, Request, Verdict};
use clap::Args;

/// Land finished tracks into their base, in `depends_on` order, one at a time.
///
/// A track lands only when its worktree is clean and on its branch, its agent is not in a
/// turn, its done_when passes on the exact commit that lands (run in its worktree, on that
/// commit), and it applies without a conflict on the base as the tracks before it left it. The base moves
/// by compare-and-swap; a base checked out in a clean checkout is fast-forwarded there, so
/// its files follow. The first refusal stops the run (exit 3); what landed stays landed.
///
/// Without --keep a landed track's pane ends and its worktree and branch are removed the
/// safe way of `pk down` (the branch's commits stay on refs/pk/landed/<track>/<time>).
///
/// Examples:
///   pk land --dry-run          # the order, and each track's verdict; changes nothing
///   pk land                    # every track with work, in order
///   pk land api web --keep     # these two; keep their worktrees
///   pk land --strategy rebase --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct LandArgs {
    /// The tracks to land [default: every track of the plan].
    #[arg(value_name = "TRACK")]
    pub tracks: Vec<String>,
    #[command(flatten)]
    pub plan: PlanOpt,
    /// Print the order and each track's verdict; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// How a track lands [default: the plan's `[land] strategy`, else squash].
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// Keep a landed track's worktree, branch and pane.
    #[arg(long)]
    pub keep: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `pk land`: exit 3 when a track is refused (in a dry run: would be).
pub fn run(ctx: &Ctx, args: &LandArgs) -> Result<u8> {
    let req = Request {
        plan: args.plan.plan.clone(),
        tracks: args.tracks.clone(),
        dry_run: args.dry_run,
        strategy: args.strategy,
        keep: args.keep,
    };
    let mut print = |e: &Entry| {
        if !args.json {
            ctx.out.step(&line(ctx, e));
        }
    };
    let report = land::land(ctx, &req, &mut print)?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report serializes")
        )?;
    } else {
        summary(ctx, &report);
    }
    Ok(if report.stopped_at.is_some() { 3 } else { 0 })
}

/// One track's line: its verdict, why, and the files it is about.
fn line(ctx: &Ctx, e: &Entry) -> String {
    let out = &ctx.out;
    let (mark, word) = match e.verdict {
        Verdict::Landed => (out.paint(Style::Green, "✓"), "landed".to_string()),
        Verdict::WouldLand => (out.paint(Style::Green, "✓"), "would land".to_string()),
        Verdict::AlreadyLanded => (out.paint(Style::Bold, "="), "already landed".to_string()),
        Verdict::Nothing => (out.paint(Style::Yellow, "·"), "nothing to land".to_string()),
        Verdict::Refused => (out.paint(Style::Red, "✗"), "refused".to_string()),
        Verdict::NotReached => (out.paint(Style::Yellow, "·"), "not reached".to_string()),
    };
    let mut text = format!("{mark} {} {word}", out.paint(Style::Bold, &e.track));
    if let Some(c) = &e.commit {
        text.push_str(&format!(" on {} as {}", e.base, &c[..c.len().min(10)]));
    }
    if let Some(check) = &e.check {
        use crate::session::land::CheckState;
        let said = match (check.state, check.reused) {
            (CheckState::Pass, true) => "done_when passed (the watcher's run on this tree)",
            (CheckState::Pass, false) => "done_when passed",
            (CheckState::Pending, _) => "done_when runs first",
            (CheckState::Fail, _) => "done_when failed",
            (CheckState::Dirty, _) => "done_when not run",
        };
        text.push_str(&format!("; {said}"));
    }
    if let Some(reason) = &e.reason
        && e.verdict != Verdict::WouldLand
    {
        text.push_str(&format!(": {reason}"));
    }
    for f in &e.files {
        text.push_str(&format!("\n    {f}"));
    }
    text
}

/// The closing lines: what stopped the run, or that all is done.
fn summary(ctx: &Ctx, report: &Report) {
    let landed = report
        .tracks
        .iter()
        .filter(|e| matches!(e.verdict, Verdict::Landed | Verdict::WouldLand))
        .count();
    let verb = if report.dry_run {
        "would land"
    } else {
        "landed"
    };
    match &report.stopped_at {
        Some(track) => {
            let text = format!(
                "{verb} {landed} track(s) ({}); {} at {track}: fix it and run `pk land` again",
                report.strategy.name(),
                if report.dry_run {
                    "pk land would stop"
                } else {
                    "stopped"
                },
            );
            ctx.out.step(&ctx.out.paint(Style::Yellow, &text));
        }
        None if report.tracks.is_empty() => ctx.out.step("no track to land"),
        None => ctx.out.step(&format!(
            "{verb} {landed} track(s) ({})",
            report.strategy.name()
        )),
    }
}
