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
use pk_status::budget::BudgetUse;
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
    /// `[session] budget_usd` (as of the last `pk up` when the session is up), or null.
    pub budget_usd: Option<f64>,
    /// The session's budget is spent: every track is stopped.
    pub over_budget: bool,
    /// One entry per track of the plan (but those in `landed`).
    pub tracks: Vec<TrackJson>,
    /// The tracks `pk land` landed and removed (design §9).
    pub landed: Vec<LandedJson>,
}

/// A track that landed and went, in `pk status --json`.
#[derive(Debug, Serialize)]
pub struct LandedJson {
    /// Track name.
    pub name: String,
    /// The base it landed on.
    pub base: String,
    /// The commit the base moved to.
    pub commit: String,
    /// When, RFC 3339.
    pub at: String,
}

/// One track in `pk status --json`.
#[derive(Debug, Serialize)]
pub struct TrackJson {
    /// The host the track runs on (`[hosts.NAME]`); null on this machine.
    pub host: Option<String>,
    /// The track's host cannot be reached now: its status is the last one known.
    pub unreachable: bool,
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
    /// The track's own `budget_usd` (as of the last `pk up` when the session is up), or null.
    pub budget_usd: Option<f64>,
    /// The track's budget, or the session's, is spent: pk stopped its spending.
    pub over_budget: bool,
    /// What the user should know of the track's budget: 80% of it spent, spent, or not
    /// enforceable (its cost is unknown); null otherwise.
    pub budget_warning: Option<String>,
    /// The track's `done_when`: where it stands, when it last ended, its log.
    pub check: pk_status::status_file::Check,
    /// Changed paths outside the track's `owns`, or inside another track's.
    pub outside_owns: Vec<String>,
    /// The agent's pane resumed its conversation (issue 16) rather than start from its prompt.
    pub resumed: bool,
    /// The agent's own session id, as recorded by the watcher, when known.
    pub conversation: Option<String>,
    /// Why the agent's CLI did not resume its conversation (it was started from its prompt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_refused: Option<String>,
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
    // A host's track: its host's count, as the watcher got it (nothing to ask here).
    let counted: Vec<Option<usize>> = plan
        .tracks
        .iter()
        .map(|t| {
            let count = entry_of(&t.name).and_then(|e| e.changed_files);
            if t.host.is_some() {
                Some(count.unwrap_or(0))
            } else {
                count
            }
        })
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
            Some(_) => mux.session_panes(&plan.session.name),
            None => Some(Vec::new()),
        });
        let asked = changed_files(ctx, &ws.git, &to_ask);
        (panes.join().ok().flatten(), asked)
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
    // A host's track has its host's forecast, when the watcher got one.
    let theirs = |t: &crate::plan::Track| entry_of(&t.name).and_then(|e| e.forecast.clone());
    let forecasts: Vec<pk_status::forecast::Forecast> = match plan
        .tracks
        .iter()
        .map(|t| match t.host {
            Some(_) => Some(theirs(t).unwrap_or_default()),
            None => theirs(t),
        })
        .collect::<Option<Vec<_>>>()
    {
        Some(all) => all,
        None => {
            let local: Vec<(&crate::plan::Track, Option<Vec<u8>>)> = plan
                .tracks
                .iter()
                .zip(raws)
                .filter(|(t, _)| t.host.is_none())
                .collect();
            let inputs: Vec<TrackInput> = local
                .into_iter()
                .map(|(t, status)| TrackInput {
                    name: t.name.clone(),
                    base: t.base.clone(),
                    branch: t.branch.clone(),
                    worktree: t.worktree.clone(),
                    status,
                })
                .collect();
            let mut made = Forecaster::new()
                .forecast(&ws.git, &inputs)
                .unwrap_or_else(|e| {
                    ctx.out.warn(&format!("{e}\n  (no conflict forecast)"));
                    vec![Default::default(); inputs.len()]
                })
                .into_iter();
            plan.tracks
                .iter()
                .map(|t| match t.host {
                    Some(_) => theirs(t).unwrap_or_default(),
                    None => made.next().unwrap_or_default(),
                })
                .collect()
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
    // The budgets pk enforces: the state's (the plan's at the last `pk up`), else the plan's.
    let limits: Vec<Option<f64>> = plan
        .tracks
        .iter()
        .map(|t| match state {
            Some(s) => s.track(&t.name).and_then(|r| r.budget_usd),
            None => t.budget_usd,
        })
        .collect();
    let session_budget = state.map_or(plan.session.budget_usd, |s| s.budget_usd);
    let no_cost: Vec<bool> = plan
        .tracks
        .iter()
        .map(|t| {
            state
                .and_then(|s| s.track(&t.name))
                .is_none_or(crate::session::budget::carries_no_cost)
        })
        .collect();
    let owns = crate::session::owns::Owns::new(
        plan.tracks
            .iter()
            .map(|t| (t.name.as_str(), t.owns.as_slice())),
    );
    let mut tracks = plan
        .tracks
        .iter()
        .zip(changed)
        .zip(fed)
        .zip(forecasts)
        .map(|(((t, changed_files), feed), forecast)| {
            let rec = state.and_then(|s| s.track(&t.name));
            let pane = panes
                .iter()
                .flatten()
                .find(|p| p.track == t.name && p.role == "agent");
            let entry = entry_of(&t.name);
            // The multiplexer did not answer (a loaded machine, zellij busy): the watcher, which
            // asks it again and again, says whether the agent still runs; without a watcher,
            // no answer means no session.
            let watcher_knows = panes.is_none() && entry.is_some();
            let alive = match entry {
                Some(e) if watcher_knows => {
                    !matches!(e.status.state, TrackState::Exited | TrackState::Error)
                }
                _ => pane.is_some_and(|p| !p.dead),
            };
            let ports = match rec {
                Some(r) if !r.ports.is_empty() => r.ports.iter().cloned().collect(),
                Some(r) => BTreeMap::from([("port".to_string(), r.port())]),
                None => BTreeMap::new(),
            };
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
            let status = if alive || watcher_knows {
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
            let (check, outside_owns) = match entry {
                Some(e) => (e.check.clone().unwrap_or_default(), e.outside_owns.clone()),
                None if t.host.is_some() => Default::default(),
                None => checks_and_owns(ws, t, &owns),
            };
            let transcript = transcript.or_else(|| {
                rec.and_then(|r| r.transcript.as_ref())
                    .and_then(|s| s.fixed_path())
                    .map(|p| p.to_path_buf())
            });
            let json = TrackJson {
                name: t.name.clone(),
                host: t.host.clone(),
                unreachable: entry.is_some_and(|e| e.unreachable),
                branch: t.branch.clone(),
                // A host's track: its worktree there, as the host made it.
                worktree: match (&t.host, rec) {
                    (Some(_), Some(r)) => r.worktree.clone(),
                    _ => t.worktree.clone(),
                },
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
                budget_usd: None,
                over_budget: false,
                budget_warning: None,
                check,
                outside_owns,
                resumed: rec.is_some_and(|r| r.resumed.is_some())
                    && crate::live::conversation::refusal(&ws.state_dir, &t.name).is_none(),
                resume_refused: crate::live::conversation::refusal(&ws.state_dir, &t.name),
                conversation: crate::live::conversation::load(&ws.state_dir, &t.name).map(|c| c.id),
                forecast,
            };
            (json, status)
        })
        .collect::<Vec<_>>();
    // Applied here, to every track at once (the session's budget counts them all), also to
    // the watcher's view: it is the same computation on the same figures, after the exits
    // and idleness seen here.
    let mut statuses: Vec<TrackStatus> = tracks.iter().map(|(_, s)| s.clone()).collect();
    for s in &mut statuses {
        if s.state == TrackState::OverBudget {
            // The watcher's verdict; decided again below from the budgets as they are now.
            s.state = TrackState::Done;
        }
    }
    pk_status::budget::apply_budgets(&mut statuses, &limits, &no_cost, session_budget);
    let over_session = session_budget
        .is_some_and(|limit| pk_status::budget::session_spent(&statuses, &no_cost) >= limit);
    for (((json, was), s), limit) in tracks.iter_mut().zip(&statuses).zip(&limits) {
        json.budget_usd = *limit;
        json.over_budget = s.budget.is_some_and(|b| b.over());
        json.budget_warning = s.budget.as_ref().and_then(|b| budget_warning(b, s));
        if json.over_budget {
            json.state = TrackState::OverBudget;
        } else if was.state == TrackState::OverBudget {
            json.state = TrackState::Done;
        }
    }
    let tracks: Vec<TrackJson> = tracks.into_iter().map(|(json, _)| json).collect();
    Ok(StatusJson {
        session: plan.session.name.clone(),
        multiplexer: plan.session.multiplexer.name().to_string(),
        total_cost_usd: tracks.iter().map(|t| t.cost_usd).sum(),
        cost_known: tracks.iter().all(|t| t.cost_known),
        budget_usd: session_budget,
        over_budget: over_session,
        tracks,
        landed: Vec::new(),
    })
}

/// A track's check and the paths it changed outside its `owns`, from git, for when no watcher
/// keeps them: the last result of `done_when` is stale when the tree changed since.
fn checks_and_owns(
    ws: &Workspace,
    t: &crate::plan::Track,
    owns: &crate::session::owns::Owns,
) -> (pk_status::status_file::Check, Vec<String>) {
    use crate::session::check;
    if !t.worktree.join(".git").exists() {
        return (Default::default(), Vec::new());
    }
    let raw = ws.git.status_raw(&t.worktree).ok();
    let check = if t.done_when.is_some() {
        let head = ws.git.head_of(&t.worktree);
        let tree = raw
            .as_deref()
            .map(|raw| check::tree(head.as_deref(), raw, &t.worktree));
        check::shown(
            check::load(&ws.state_dir, &t.name).as_ref(),
            None,
            tree.as_deref(),
            &check::log_path(&ws.state_dir, &t.name),
        )
    } else {
        Default::default()
    };
    let mut changed = raw
        .as_deref()
        .map(crate::sys::git::changed_paths_of_status)
        .unwrap_or_default();
    changed.extend(
        ws.git
            .committed_paths(&t.worktree, &t.base)
            .unwrap_or_default(),
    );
    (check, owns.outside(&t.name, &changed))
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

/// The warning of a track's budget, if there is one to give.
fn budget_warning(b: &BudgetUse, s: &TrackStatus) -> Option<String> {
    use crate::session::budget::spent_text;
    if b.cost_unknown {
        let why = match s.model.as_deref() {
            Some(model) if s.tokens.total() > 0 => {
                format!("pk has no price for model `{}`", clean(model))
            }
            _ if s.tokens.total() > 0 => "its transcript names no model to price".to_string(),
            _ => "its transcript carries no token usage".to_string(),
        };
        return Some(format!(
            "cost unknown ({why}): its {} budget cannot be enforced",
            pk_status::render::format_cost(b.limit_usd)
        ));
    }
    if b.over() {
        return Some(format!(
            "over budget ({}): pk stopped its spending; raise `budget_usd` in the plan and run `pk up` to let it go on",
            spent_text(b)
        ));
    }
    b.near().then(|| {
        format!(
            "{:.0}% of its budget spent ({})",
            (b.share() * 100.0).floor(),
            spent_text(b)
        )
    })
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
    // A HOST column when a track runs on another host (design §11), after the name.
    let hosts = report.tracks.iter().any(|t| t.host.is_some());
    let rows: Vec<Vec<String>> = report
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
            // Against the track's own budget: `$0.85/$1.00`.
            let cost = match t.budget_usd {
                Some(limit) => format!("{cost}/{}", pk_status::render::format_cost(limit)),
                None => cost,
            };
            let mut row = vec![
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
                check_cell(
                    plan.tracks
                        .iter()
                        .any(|p| p.name == t.name && p.done_when.is_some()),
                    &t.check,
                ),
                t.worktree.display().to_string(),
            ];
            if hosts {
                row.insert(1, t.host.clone().unwrap_or_else(|| "-".to_string()));
            }
            row
        })
        .collect();
    let mut header = vec![
        "TRACK",
        "STATE",
        "ACTIVITY",
        "LAST TOOL",
        "COST",
        "BRANCH",
        "PORTS",
        "CHANGED",
        "CHECK",
        "WORKTREE",
    ];
    if hosts {
        header.insert(1, "HOST");
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let header: Vec<String> = header.into_iter().map(String::from).collect();
    outln!("{}", line(&header))?;
    for row in &rows {
        outln!("{}", line(row))?;
    }
    for t in report.tracks.iter().filter(|t| t.host.is_some()) {
        if let Some(err) = &t.last_error
            && err.contains("cannot be reached")
        {
            outln!("{}: {}", t.name, clean(err))?;
        }
    }
    let resumed: Vec<&str> = report
        .tracks
        .iter()
        .filter(|t| t.resumed)
        .map(|t| t.name.as_str())
        .collect();
    if !resumed.is_empty() {
        outln!("resumed their conversations: {}", resumed.join(", "))?;
    }
    for t in &report.tracks {
        if let Some(why) = &t.resume_refused {
            outln!("{} started from its prompt: {}", t.name, clean(why))?;
        }
    }
    if !report.landed.is_empty() {
        let landed: Vec<String> = report
            .landed
            .iter()
            .map(|l| {
                format!(
                    "{} (on {} as {})",
                    l.name,
                    l.base,
                    &l.commit[..l.commit.len().min(10)]
                )
            })
            .collect();
        outln!("landed: {}", landed.join(", "))?;
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
    // Changes outside a track's `owns`: a warning, never a block.
    for t in &report.tracks {
        if t.outside_owns.is_empty() {
            continue;
        }
        const SHOWN: usize = 5;
        let mut paths: Vec<String> = t
            .outside_owns
            .iter()
            .take(SHOWN)
            .map(|p| clean(p))
            .collect();
        if t.outside_owns.len() > SHOWN {
            paths.push(format!("and {} more", t.outside_owns.len() - SHOWN));
        }
        outln!(
            "{} changed files outside its owns or in another track's: {}",
            t.name,
            paths.join(", ")
        )?;
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
        || report.budget_usd.is_some()
    {
        let budget = report.budget_usd.map_or_else(String::new, |b| {
            format!(
                " of the session's {} budget",
                pk_status::render::format_cost(b)
            )
        });
        outln!(
            "total {}{budget}",
            pk_status::render::format_cost_of(report.total_cost_usd, !report.cost_known)
        )?;
    }
    Ok(())
}

/// The CHECK cell: `-` without `done_when`, else its state (`pass`, `fail`, `running`,
/// `stale`, `none` before the first run).
fn check_cell(has_done_when: bool, check: &pk_status::status_file::Check) -> String {
    match has_done_when {
        false => "-".to_string(),
        true => serde_json::to_value(check.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    }
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
