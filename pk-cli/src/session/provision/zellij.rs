//! `pk up` in zellij: the session is made headless from a generated KDL layout (one call), a
//! track added later gets a pane of its own, and the status watcher runs beside the session as
//! a background process (zellij cannot add a tab to a session no client is attached to).

use super::{Fresh, add_missing_panes, fresh_agents};
use crate::ctx::Ctx;
use crate::error::{Context, Result};
use crate::layout;
use crate::output::Style;
use crate::session::state::State;
use crate::session::workspace::Workspace;
use crate::sys::zellij::Zellij;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The layout file pk writes into the state folder (kept, so a user can read what was built).
pub(crate) const LAYOUT_FILE: &str = "zellij-layout.kdl";

/// The watcher's log in the state folder.
pub(crate) const WATCH_LOG: &str = "watch.log";

/// How long zellij may take to list the panes of a session it just made.
const PANES_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes the session, or the panes of tracks that have none, and records every agent's pane.
/// Returns how many panes it made.
pub(crate) fn build(
    ctx: &Ctx,
    ws: &Workspace,
    z: &Zellij,
    state: &mut State,
    fresh: &Fresh,
) -> Result<usize> {
    let plan = &ws.plan;
    let session = &plan.session.name;
    let now = crate::util::clock::now_ms();
    let known = z.sessions();
    let existing = known.iter().find(|s| s.name == *session);
    let mut made = 0;
    if existing.is_some_and(|s| !s.exited) {
        let panes = z.panes(session)?;
        let has_pane = |track: &str| panes.iter().any(|p| p.track == track);
        made += add_missing_panes(ctx, ws, state, now, fresh, has_pane, |track, agent| {
            z.new_pane(
                session,
                &layout::zellij::agent_title(agent),
                &agent.cwd,
                &agent.argv,
            )
            .map_err(|e| e.wrap(format!("failed to add a pane for `{}`", track.name)))
        })?;
    } else {
        if existing.is_some() {
            // What zellij would resurrect is older than pk's record: start afresh.
            z.kill_session(session)?;
        }
        let agents = fresh_agents(ctx, ws, state, now, fresh)?;
        let shape = &plan.session.layout;
        let windows = shape.windows(&agents, &plan.session.editor, &plan.session.worktrees);
        let wasm = crate::sys::zellij::plugin_path()?;
        let bar = layout::zellij::Bar {
            wasm: &wasm,
            state_dir: &ws.state_dir,
            session,
        };
        let kdl = layout::zellij::session_layout(&windows, shape.agents_width, &bar);
        let path = ws.state_dir.join(LAYOUT_FILE);
        crate::util::fs::write_atomically(&path, kdl.to_string().as_bytes())?;
        ctx.out.step(&format!(
            "  {} zellij session {} ({} agents)",
            ctx.out.paint(Style::Green, "+"),
            ctx.out.paint(Style::Bold, session),
            agents.len()
        ));
        z.start(session, &path)
            .map_err(|e| e.wrap(format!("failed to create zellij session `{session}`")))?;
        crate::fault::point("up:session-created");
        made = agents.len();
    }
    record_panes(z, ws, state)?;
    Ok(made)
}

/// Records each agent's pane id. zellij lists a new session's panes a moment after it
/// started: asks again until every track has its pane.
fn record_panes(z: &Zellij, ws: &Workspace, state: &mut State) -> Result<()> {
    let session = &ws.plan.session.name;
    let deadline = Instant::now() + PANES_TIMEOUT;
    loop {
        let panes = z.panes(session);
        let complete = panes.as_ref().is_ok_and(|panes| {
            ws.plan
                .tracks
                .iter()
                .all(|t| panes.iter().any(|p| p.track == t.name))
        });
        if complete || Instant::now() >= deadline {
            for pane in panes? {
                if let Some(rec) = state.track_mut(&pane.track) {
                    rec.pane = Some(pane.id.clone());
                }
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `pk watch` for the session in the background unless one runs. It has a process
/// group of its own (a terminal closing does not end it) and stops by itself when the session
/// ends or its state folder goes; its output goes to `watch.log` in the state folder.
pub(crate) fn ensure_watcher(ctx: &Ctx, ws: &Workspace) -> Result<()> {
    use std::os::unix::process::CommandExt;
    if crate::session::lock::watcher_runs(&ws.state_dir) {
        return Ok(());
    }
    let argv = super::watch_argv(&ws.state_dir, None)?;
    let log_path = ws.state_dir.join(WATCH_LOG);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("failed to open {}", log_path.display()))?;
    let err_log = log
        .try_clone()
        .with_context(|| format!("failed to open {}", log_path.display()))?;
    Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(&ws.plan.repo_root)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0)
        .spawn()
        .context("failed to start the status watcher")?;
    ctx.out.step(&format!(
        "  {} status watcher (log: {})",
        ctx.out.paint(Style::Green, "+"),
        log_path.display()
    ));
    Ok(())
}
