//! `pk status`: a table of the tracks (or `--json`, design §3).

use crate::Ctx;
use crate::cli::PlanArg;
use crate::error::Result;
use crate::plan::Plan;
use crate::state::State;
use crate::tmux::Pane;
use crate::workspace::Workspace;
use clap::Args;
use pk_status::TrackState;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Show every track: state, branch, ports, changed files.
///
/// Also shows the worktree and whether the agent's pane is alive.
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

/// `pk status --json`.
#[derive(Debug, Serialize)]
pub struct StatusJson {
    /// Session name.
    pub session: String,
    /// `tmux` or `zellij`.
    pub multiplexer: String,
    /// Sum of the tracks' costs.
    pub total_cost_usd: f64,
    /// One entry per track of the plan.
    pub tracks: Vec<TrackJson>,
}

/// One track in `pk status --json`.
#[derive(Debug, Serialize)]
pub struct TrackJson {
    /// Track name.
    pub name: String,
    /// Branch.
    pub branch: String,
    /// Worktree path.
    pub worktree: PathBuf,
    /// Ports by name (`port` when the track names none).
    pub ports: BTreeMap<String, u16>,
    /// State.
    pub state: TrackState,
    /// RFC 3339, or null.
    pub last_activity: Option<String>,
    /// Last tool with a short target, or null.
    pub last_tool: Option<String>,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Token counts.
    pub tokens: Tokens,
    /// The transcript pk reads, or null.
    pub transcript: Option<PathBuf>,
    /// The agent pane id, or null when there is none.
    pub pane: Option<String>,
    /// The agent's process is running.
    pub alive: bool,
    /// Exit code of an agent that exited, when known.
    pub exit_code: Option<i32>,
    /// Number of changed and untracked files in the worktree.
    pub changed_files: usize,
}

/// Token counts.
#[derive(Debug, Serialize, Default)]
pub struct Tokens {
    /// Input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Cache reads.
    pub cache_read: u64,
    /// Cache writes.
    pub cache_write: u64,
}

/// Runs `pk status`.
pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let state = ws.state()?;
    let report = collect(ctx, &ws, state.as_ref())?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("status serializes")
        );
    } else {
        print_table(&ws.plan, &report, state.is_some());
    }
    Ok(())
}

/// Gathers the status of every track of the plan.
pub fn collect(ctx: &Ctx, ws: &Workspace, state: Option<&State>) -> Result<StatusJson> {
    let plan = &ws.plan;
    let tmux = ws.tmux(ctx, state);
    let panes: Vec<Pane> = match state {
        Some(_) if tmux.has_session(&plan.session.name) => tmux.panes(&plan.session.name)?,
        _ => Vec::new(),
    };
    // Worktree status is the slow part: one thread per worktree.
    let changed: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .tracks
            .iter()
            .map(|t| {
                let git = &ws.git;
                scope.spawn(move || {
                    if t.worktree.join(".git").exists() {
                        git.dirt(&t.worktree).map_or(0, |d| d.count())
                    } else {
                        0
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    let tracks = plan
        .tracks
        .iter()
        .zip(changed)
        .map(|(t, changed_files)| {
            let rec = state.and_then(|s| s.track(&t.name));
            let pane = panes.iter().find(|p| p.track == t.name);
            let alive = pane.is_some_and(|p| !p.dead);
            let ports = match rec {
                Some(r) if !r.ports.is_empty() => r.ports.iter().cloned().collect(),
                Some(r) => BTreeMap::from([("port".to_string(), r.port())]),
                None => BTreeMap::new(),
            };
            TrackJson {
                name: t.name.clone(),
                branch: t.branch.clone(),
                worktree: t.worktree.clone(),
                ports,
                state: if alive {
                    TrackState::Starting
                } else {
                    TrackState::Exited
                },
                last_activity: None,
                last_tool: None,
                cost_usd: 0.0,
                tokens: Tokens::default(),
                transcript: t.transcript.as_ref().map(|tr| t.worktree.join(&tr.path)),
                pane: pane.map(|p| p.id.clone()),
                alive,
                exit_code: pane.and_then(|p| if p.dead { p.dead_status } else { None }),
                changed_files,
            }
        })
        .collect::<Vec<_>>();
    Ok(StatusJson {
        session: plan.session.name.clone(),
        multiplexer: plan.session.multiplexer.name().to_string(),
        total_cost_usd: tracks.iter().map(|t| t.cost_usd).sum(),
        tracks,
    })
}

fn print_table(plan: &Plan, report: &StatusJson, up: bool) {
    if !up {
        println!(
            "session {} is not up (run `pk up`); the plan has {} tracks",
            plan.session.name,
            plan.tracks.len()
        );
    }
    let rows: Vec<[String; 6]> = report
        .tracks
        .iter()
        .map(|t| {
            let state = match t.exit_code {
                Some(code) => format!("{} ({code})", t.state),
                None => t.state.to_string(),
            };
            [
                t.name.clone(),
                state,
                t.branch.clone(),
                t.ports
                    .iter()
                    .map(|(n, p)| format!("{n}={p}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                t.changed_files.to_string(),
                t.worktree.display().to_string(),
            ]
        })
        .collect();
    let header = ["TRACK", "STATE", "BRANCH", "PORTS", "CHANGED", "WORKTREE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(&header.map(String::from)));
    for row in &rows {
        println!("{}", line(row));
    }
}
