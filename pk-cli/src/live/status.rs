//! The status of every track that `pk status` shows as a table (or `--json`, design §3).
//!
//! What each agent does comes from the status watcher's `status.json` when the watcher runs
//! (it has read every transcript as it grew: fast at any size); otherwise each track's files
//! are read once here with the same code ([`crate::live`]). The watcher also keeps each
//! worktree's count of changed files ([`crate::live::dirt`]); `git status` runs here only for the
//! worktrees it has no current count of.

use crate::ctx::Ctx;
use crate::error::Result;
use crate::live::TrackFeed;
use crate::output::outln;
use crate::plan::Plan;
use crate::session::forecast::{Forecaster, TrackInput};
use crate::session::state::State;
use crate::session::workspace::Workspace;
use pk_status::sanitize::clean;
use pk_status::{TrackState, TrackStatus};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `pk status --json`.
#[derive(Debug, Serialize)]
pub struct StatusJson {
    /// Session name.
    pub session: String,
    /// `tmux` or `zellij`.
    pub multiplexer: String,
    /// Sum of the tracks' costs (of what pk could price: see `cost_known`).
    pub total_cost_usd: f64,
    /// False when some track's cost is unknown (`total_cost_usd` leaves it out).
    pub cost_known: bool,
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
    /// The last error the agent reported, or null.
    pub last_error: Option<String>,
    /// The model, when the transcript names it.
    pub model: Option<String>,
    /// Cost in USD, of the tokens pk could price.
    pub cost_usd: f64,
    /// False when some tokens are of a model pk has no price for (neither its table nor the
    /// user's `prices.toml`): `cost_usd` leaves them out.
    pub cost_known: bool,
    /// Token counts.
    pub tokens: pk_status::Tokens,
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
    /// `ahead`, `behind`, `changed` and `conflicts` (design §9; [`pk_status::forecast`]).
    #[serde(flatten)]
    pub forecast: pk_status::forecast::Forecast,
}

/// Gathers the status of every track of the plan.
pub(crate) fn collect(ctx: &Ctx, ws: &Workspace, state: Option<&State>) -> Result<StatusJson> {
    let plan = &ws.plan;
    let mux = ws.mux(ctx, state);
    // The watcher's view when it runs; else the files, read once.
    let watcher_runs = crate::session::lock::watcher_runs(&ws.state_dir);
    let file = if watcher_runs {
        first_view(&ws.state_dir)
    } else {
        None
    };
    let entry_of = |name: &str| {
        file.as_ref()
            .and_then(|f| f.tracks.iter().find(|e| e.name == name))
    };
    // Changed files: the watcher's count when it is current, else one `git status` per
    // worktree (the slow part): all at once, and the multiplexer meanwhile.
    let counted: Vec<Option<usize>> = plan
        .tracks
        .iter()
        .map(|t| entry_of(&t.name).and_then(|e| e.changed_files))
        .collect();
    let to_ask: Vec<PathBuf> = plan
        .tracks
        .iter()
        .zip(&counted)
        .filter(|(_, c)| c.is_none())
        .map(|(t, _)| t.worktree.clone())
        .collect();
    let (panes, asked) = std::thread::scope(|scope| {
        let panes = scope.spawn(|| match state {
            Some(_) => mux.session_panes(&plan.session.name).unwrap_or_default(),
            None => Vec::new(),
        });
        let asked = changed_files(ctx, &ws.git, &to_ask);
        (panes.join().unwrap_or_default(), asked)
    });
    let mut asked = asked.into_iter();
    let mut raws: Vec<Option<Vec<u8>>> = Vec::with_capacity(counted.len());
    let changed: Vec<usize> = counted
        .into_iter()
        .map(|c| match c {
            Some(c) => {
                raws.push(None);
                c
            }
            None => {
                let (count, raw) = asked.next().unwrap_or_default();
                raws.push(raw);
                count
            }
        })
        .collect();
    // The forecast: the watcher's when it has one for every track, else made here (with the
    // statuses just read; git asked for the others).
    let forecasts: Vec<pk_status::forecast::Forecast> = match plan
        .tracks
        .iter()
        .map(|t| entry_of(&t.name).and_then(|e| e.forecast.clone()))
        .collect::<Option<Vec<_>>>()
    {
        Some(all) => all,
        None => {
            let inputs: Vec<TrackInput> = plan
                .tracks
                .iter()
                .zip(raws)
                .map(|(t, status)| TrackInput {
                    name: t.name.clone(),
                    base: t.base.clone(),
                    branch: t.branch.clone(),
                    worktree: t.worktree.clone(),
                    status,
                })
                .collect();
            Forecaster::new()
                .forecast(&ws.git, &inputs)
                .unwrap_or_else(|e| {
                    ctx.out.warn(&format!("{e}\n  (no conflict forecast)"));
                    vec![Default::default(); inputs.len()]
                })
        }
    };
    let now = crate::util::clock::now_ms();
    // No watcher's view: every track from its checkpoint, reading only what came since, all
    // tracks at once (refresh_all spreads long reads over threads), and leaving the next
    // checkpoint for the next look.
    let mut fed: Vec<Option<TrackFeed>> = plan
        .tracks
        .iter()
        .map(
            |t| match (entry_of(&t.name), state.and_then(|s| s.track(&t.name))) {
                (None, Some(rec)) => Some(TrackFeed::resume(rec, &ws.state_dir)),
                _ => None,
            },
        )
        .collect();
    {
        let mut feeds: Vec<&mut TrackFeed> = fed.iter_mut().flatten().collect();
        crate::live::refresh_all(&mut feeds, now);
    }
    let idle_ms =
        i64::try_from(plan.session.idle_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let tracks = plan
        .tracks
        .iter()
        .zip(changed)
        .zip(fed)
        .zip(forecasts)
        .map(|(((t, changed_files), feed), forecast)| {
            let rec = state.and_then(|s| s.track(&t.name));
            let pane = panes
                .iter()
                .find(|p| p.track == t.name && p.role == "agent");
            let alive = pane.is_some_and(|p| !p.dead);
            let ports = match rec {
                Some(r) if !r.ports.is_empty() => r.ports.iter().cloned().collect(),
                Some(r) => BTreeMap::from([("port".to_string(), r.port())]),
                None => BTreeMap::new(),
            };
            let entry = entry_of(&t.name);
            let (status, transcript) = match (entry, feed) {
                (Some(e), _) => (e.status.clone(), e.transcript.clone()),
                (None, Some(mut feed)) => {
                    if ctx.verbose {
                        show_reads(&feed);
                    }
                    if let Err(e) = feed.save(&ws.state_dir) {
                        ctx.out.warn(&e.to_string());
                    }
                    let transcript = feed.transcript().map(|f| f.path().to_path_buf());
                    (feed.status(), transcript)
                }
                (None, None) => (TrackStatus::default(), None),
            };
            let status = if alive {
                pk_status::apply_idle(&status, now, idle_ms)
            } else {
                // Also when the watcher has not seen the exit yet.
                let code = pane.and_then(|p| p.dead_status);
                let at = status.state_at.map_or(now, |t| t.millis());
                // What a failed agent printed last, unless the watcher already said why.
                let output = match pane {
                    Some(p) if code != Some(0) && status.state != TrackState::Error => {
                        mux.pane_text(&plan.session.name, p).ok().map(|text| {
                            crate::session::agent::after_header(&text, &t.name).to_string()
                        })
                    }
                    _ => None,
                };
                pk_status::apply_exit_output(&status, code, at, output.as_deref())
            };
            let transcript = transcript.or_else(|| {
                rec.and_then(|r| r.transcript.as_ref())
                    .and_then(|s| s.fixed_path())
                    .map(|p| p.to_path_buf())
            });
            TrackJson {
                name: t.name.clone(),
                branch: t.branch.clone(),
                worktree: t.worktree.clone(),
                ports,
                state: status.state,
                last_activity: status.last_activity.map(|t| t.to_rfc3339()),
                last_tool: status.last_tool.as_deref().map(clean),
                last_error: status.last_error.as_deref().map(clean),
                model: status.model.as_deref().map(clean),
                cost_usd: status.cost_usd,
                cost_known: !status.unpriced,
                tokens: status.tokens,
                transcript,
                pane: pane.map(|p| p.id.clone()),
                alive,
                exit_code: pane.and_then(|p| if p.dead { p.dead_status } else { None }),
                changed_files,
                forecast,
            }
        })
        .collect::<Vec<_>>();
    Ok(StatusJson {
        session: plan.session.name.clone(),
        multiplexer: plan.session.multiplexer.name().to_string(),
        total_cost_usd: tracks.iter().map(|t| t.cost_usd).sum(),
        cost_known: tracks.iter().all(|t| t.cost_known),
        tracks,
    })
}

/// How long `pk status` waits for a watcher that has not written its first view yet (it is
/// reading the transcripts: right after `pk up`, or after a restart).
const FIRST_VIEW_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The running watcher's status.json, waiting for the first one for up to [`FIRST_VIEW_WAIT`]:
/// reading the transcripts here too while the watcher reads them would only take the cores
/// from it (measured in the status bench's user's view: the first `pk status` after `pk up`
/// took about twice as long as the watcher's first scan). `None` after that: then this command
/// reads them itself.
fn first_view(state_dir: &Path) -> Option<pk_status::StatusFile> {
    let start = std::time::Instant::now();
    loop {
        if let Some(file) = crate::live::status_file::load(state_dir) {
            return Some(file);
        }
        if start.elapsed() >= FIRST_VIEW_WAIT {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Says, under `-v`, what was read of a track's files.
fn show_reads(feed: &TrackFeed) {
    let files = [Some(feed.events()), feed.transcript()];
    for f in files.into_iter().flatten() {
        match f.last_read() {
            Some((from, to)) => eprintln!(
                "pk: read {} bytes of {} from byte {from}",
                to - from,
                f.path().display()
            ),
            None => eprintln!("pk: nothing new in {}", f.path().display()),
        }
    }
}

/// The number of changed and untracked files of each worktree, with the `git status` it was
/// read from (for the forecast): 0 for one that does not exist, and 0 with a warning for one
/// git cannot read.
fn changed_files(
    ctx: &Ctx,
    git: &crate::sys::git::Git,
    worktrees: &[PathBuf],
) -> Vec<(usize, Option<Vec<u8>>)> {
    crate::util::parallel::in_parallel(worktrees, |w| {
        if w.join(".git").exists() {
            let raw = git.status_raw(w)?;
            Ok((crate::sys::git::parse_status(&raw).count(), Some(raw)))
        } else {
            Ok((0, None))
        }
    })
    .into_iter()
    .map(|count| {
        count.unwrap_or_else(|e| {
            ctx.out
                .warn(&format!("{e}\n  (its changed files show as 0)"));
            (0, None)
        })
    })
    .collect()
}

/// Prints the table of `pk status`.
pub(crate) fn print_table(plan: &Plan, report: &StatusJson, up: bool) -> Result<()> {
    if !up {
        outln!(
            "session {} is not up (run `pk up`); the plan has {} tracks",
            plan.session.name,
            plan.tracks.len()
        )?;
    }
    let now = crate::util::clock::now_ms();
    let rows: Vec<[String; 9]> = report
        .tracks
        .iter()
        .map(|t| {
            let state = match t.exit_code {
                Some(code) => format!("{} ({code})", t.state),
                None => t.state.to_string(),
            };
            let activity = t
                .last_activity
                .as_deref()
                .and_then(pk_status::Timestamp::parse_rfc3339)
                .map_or_else(|| "-".to_string(), |at| ago(now - at.millis()));
            let cost = if t.cost_usd > 0.0 || t.tokens.total() > 0 {
                pk_status::render::format_cost_of(t.cost_usd, !t.cost_known)
            } else {
                "-".to_string()
            };
            [
                t.name.clone(),
                state,
                activity,
                t.last_tool
                    .as_deref()
                    .map_or_else(|| "-".to_string(), clean),
                cost,
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
    let header = [
        "TRACK",
        "STATE",
        "ACTIVITY",
        "LAST TOOL",
        "COST",
        "BRANCH",
        "PORTS",
        "CHANGED",
        "WORKTREE",
    ];
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
    outln!("{}", line(&header.map(String::from)))?;
    for row in &rows {
        outln!("{}", line(row))?;
    }
    // Why a failed track failed, so that it shows without its pane.
    for t in &report.tracks {
        // Not the bare `exited with status N`: the STATE column says it.
        if let (TrackState::Error | TrackState::Exited, Some(error)) = (t.state, &t.last_error)
            && !error.starts_with("exited with status ")
        {
            outln!("{} {}: {}", t.name, t.state, clean(error))?;
        }
    }
    // What the forecast found: each pair once (`⚠ api×web: src/lib.rs`), unknown ones too.
    for (i, t) in report.tracks.iter().enumerate() {
        for c in &t.forecast.conflicts {
            let earlier = report.tracks[..i].iter().any(|o| o.name == c.with);
            if earlier {
                continue;
            }
            match &c.unknown {
                None => outln!("⚠ {}×{}: {}", t.name, c.with, c.files.join(" "))?,
                Some(why) => outln!("? {}×{}: unknown ({})", t.name, c.with, clean(why))?,
            }
        }
    }
    if report
        .tracks
        .iter()
        .any(|t| t.cost_usd > 0.0 || !t.cost_known)
    {
        outln!(
            "total {}",
            pk_status::render::format_cost_of(report.total_cost_usd, !report.cost_known)
        )?;
    }
    Ok(())
}

/// `5s ago`, `3m ago`, `2h ago`, `4d ago`; `now` for times in the future (clock skew).
pub(crate) fn ago(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        i64::MIN..=0 => "now".to_string(),
        1..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86_399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_short() {
        assert_eq!(ago(-5), "now");
        assert_eq!(ago(999), "now");
        assert_eq!(ago(5_000), "5s ago");
        assert_eq!(ago(125_000), "2m ago");
        assert_eq!(ago(7_300_000), "2h ago");
        assert_eq!(ago(3 * 86_400_000), "3d ago");
    }
}
