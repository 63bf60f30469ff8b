//! Provisioning, the domain half of `pk up`: create what is missing (branches, worktrees, ports,
//! env, the tmux session, the status watcher). Idempotent: a second run creates nothing and leaves running
//! agents alone; a track added to the plan is added alone; a track removed from the plan is
//! reported, not deleted; a status watcher that died is started again.

use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::layout::{self, AgentPane};
use crate::output::Style;
use crate::plan::{self, Multiplexer, Plan, Track};
use crate::session::env_vars;
use crate::session::hooks::HookTarget;
use crate::session::lock::SessionLock;
use crate::session::ports;
use crate::session::push_guard;
use crate::session::state::{Launch, State, Tee, TrackRecord};
use crate::session::transcript::{self, Source};
use crate::session::workspace::Workspace;
use crate::sys::mux::Mux;
use crate::sys::tmux::{Cmd, Tmux};
use std::path::{Path, PathBuf};

mod zellij;

use crate::session::recover::{
    finish_checkout, is_empty_dir, remove_remains, remove_stale_metadata, remove_stale_ref_lock,
};

/// What `up` leaves behind for the caller.
pub(crate) struct Up {
    /// The multiplexer the session runs in.
    pub(crate) mux: Mux,
    /// The recorded state.
    pub(crate) state: State,
}

/// Which tracks start over from their prompt rather than resume their conversation (`pk up
/// --fresh [TRACK…]`, issue 16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Fresh {
    /// None: each agent resumes its conversation where it can.
    #[default]
    None,
    /// Every track.
    All,
    /// These tracks.
    Tracks(Vec<String>),
}

impl Fresh {
    pub(crate) fn covers(&self, track: &str) -> bool {
        match self {
            Fresh::None => false,
            Fresh::All => true,
            Fresh::Tracks(t) => t.iter().any(|n| n == track),
        }
    }
}

/// Does everything but attaching (also used by `pk demo`).
pub(crate) fn up(ctx: &Ctx, ws: &Workspace, multiplexer: Multiplexer, fresh: &Fresh) -> Result<Up> {
    let plan = &ws.plan;
    let up_started = crate::util::clock::now_ms();
    match multiplexer {
        Multiplexer::Tmux => Tmux::require_version().map(drop)?,
        Multiplexer::Zellij => crate::sys::zellij::Zellij::require_version().map(drop)?,
    }
    let _lock = SessionLock::acquire(ws.git.common_dir(), &plan.session.name)?;

    let mut state = match ws.state()? {
        Some(s) => s,
        None => State::new(
            &plan.session.name,
            &plan.path,
            &plan.repo_root,
            ctx.socket.as_deref(),
        ),
    };
    if let (Some(given), Some(recorded)) = (&ctx.socket, &state.socket)
        && given != recorded
        && !state.tracks.is_empty()
    {
        return Err(Error::usage(format!(
            "session `{}` runs on tmux socket `{recorded}`, not `{given}`",
            plan.session.name
        ))
        .hint(format!(
            "run `pk --socket {recorded} up`, or `pk down` first"
        )));
    }
    if !state.tracks.is_empty() && state.multiplexer != multiplexer.name() {
        return Err(Error::usage(format!(
            "session `{}` runs in {}, not {}",
            plan.session.name,
            state.multiplexer,
            multiplexer.name()
        ))
        .hint(format!(
            "run `pk up --{}`, or `pk down` first",
            state.multiplexer
        )));
    }
    state.multiplexer = multiplexer.name().to_string();

    for rec in &state.tracks {
        if !plan.tracks.iter().any(|t| t.name == rec.name) {
            ctx.out.warn(&format!(
                "track `{}` is no longer in the plan: its worktree {} and pane are kept (`pk down` removes them)",
                rec.name,
                rec.worktree.display()
            ));
        }
    }

    state.idle_after_secs = plan.session.idle_after_secs;
    state.keep = Some(plan.session.keep.clone());
    state.budget_usd = plan.session.budget_usd;
    let hook = HookTarget::current(&|k| std::env::var(k).ok())?;
    let made = prepare_tracks(ctx, ws, &mut state, &hook)?;
    // The hosts' tracks, made there, before the panes that show them. A host that cannot be
    // reached does not hold the others back: its tracks wait for the next `pk up`.
    let unreached = crate::session::remote::provision(ctx, ws, &mut state, fresh)?;
    guard_pushes(ws, &state, &hook.exe)?;
    trust_claude_worktrees(ctx, ws);
    write_track_files(ws, &hook)?;
    crate::fault::point("up:track-files-written");
    let mux = ws.mux(ctx, Some(&state));
    let panes_made = match &mux {
        Mux::Tmux(tmux) => {
            let (made, panes) = build_panes(ctx, ws, tmux, &mut state, fresh)?;
            state.save(&ws.state_dir)?;
            crate::fault::point("up:state-saved");
            ensure_watcher(ctx, ws, tmux, &state, &panes)?;
            made
        }
        Mux::Zellij(z) => {
            let made = zellij::build(ctx, ws, z, &mut state, fresh)?;
            state.save(&ws.state_dir)?;
            crate::fault::point("up:state-saved");
            zellij::ensure_watcher(ctx, ws)?;
            made
        }
    };
    crate::fault::point("up:watcher-started");
    // `--fresh` acts when pk makes a track's pane: one whose agent runs (or whose dead pane
    // shows how it ended) is left alone, and the user is told.
    for track in plan.tracks.iter().filter(|t| fresh.covers(&t.name)) {
        let restarted = state
            .track(&track.name)
            .and_then(|r| r.agent_started_ms)
            .is_some_and(|ms| ms >= up_started);
        if !restarted {
            ctx.out.warn(&format!(
                "{} keeps its pane: `--fresh` starts an agent over only when pk up makes its pane (close the pane, or `pk down`, first)",
                track.name
            ));
        }
    }
    summarize(ctx, plan, &state, &made, panes_made);
    if let Some(err) = unreached {
        return Err(err);
    }
    Ok(Up { mux, state })
}

/// Branches, worktrees, ports and launch specs for every track of the plan. Returns the names
/// of the tracks whose worktree was made (or finished) by this run.
///
/// Crash safety (design §7): what this run will make is recorded before it is made (a worktree
/// as `worktree_created` but not yet `worktree_ready`), each step only adds to what git has,
/// and a worktree a crash left half made (registered but not checked out, `copy` files not in)
/// is finished by the next run.
fn prepare_tracks(
    ctx: &Ctx,
    ws: &Workspace,
    state: &mut State,
    hook: &HookTarget,
) -> Result<Vec<String>> {
    let plan = &ws.plan;
    let git = &ws.git;
    for rec in &state.tracks {
        remove_remains(git, rec)?;
    }
    // Worktrees a killed `pk down` had begun to remove: their deleted files come back.
    let half_removed: Vec<String> = state
        .tracks
        .iter()
        .filter(|r| r.worktree_removing)
        .map(|r| r.name.clone())
        .collect();
    // Worktrees a killed `pk up` had begun to make: a copy it cut short is made again.
    let half_made: Vec<String> = state
        .tracks
        .iter()
        .filter(|r| r.worktree_created && !r.worktree_ready)
        .map(|r| r.name.clone())
        .collect();
    let worktrees = git.worktrees()?;

    // Which tracks need a worktree, and which have one pk began and did not finish, checked
    // before anything is changed.
    let mut to_add: Vec<&Track> = Vec::new();
    let mut to_finish: Vec<&Track> = Vec::new();
    for track in plan.tracks.iter().filter(|t| t.host.is_none()) {
        let registered = worktrees.iter().find(|w| {
            crate::util::fs::canonical(&w.path) == crate::util::fs::canonical(&track.worktree)
        });
        let recorded = state.track(&track.name);
        let ours = recorded.is_some_and(|r| r.worktree_created && r.worktree == track.worktree);
        match registered {
            Some(w) if !w.prunable => {
                if !ours && recorded.is_none() {
                    return Err(Error::refused(format!(
                        "{} is already a git worktree that pk did not create",
                        track.worktree.display()
                    ))
                    .hint(
                        "remove it with `git worktree remove`, or change `worktrees` in the plan",
                    ));
                }
                if ours && recorded.is_some_and(|r| !r.worktree_ready || r.worktree_removing) {
                    to_finish.push(track);
                }
                continue;
            }
            Some(_) if ours => {
                // The folder was deleted by hand: forget the stale metadata and make it again.
                ctx.out.warn(&format!(
                    "the worktree of track `{}` ({}) was deleted; making it again from branch `{}`",
                    track.name,
                    track.worktree.display(),
                    track.branch
                ));
                remove_stale_metadata(git, &track.worktree)?;
            }
            Some(_) => {
                return Err(Error::refused(format!(
                    "git still has a worktree registered at {} (its folder is gone)",
                    track.worktree.display()
                ))
                .hint("run `git worktree prune`, then `pk up` again"));
            }
            None => {}
        }
        // An empty folder where pk was about to make the worktree (a crash) holds nothing.
        if track.worktree.exists() && !(ours && is_empty_dir(&track.worktree)) {
            return Err(Error::refused(format!(
                "{} already exists and pk did not create it",
                track.worktree.display()
            ))
            .hint("move it away, or change `worktrees` in the plan"));
        }
        // Not the stale record of this track's own folder, deleted by hand and dropped above.
        let own = |w: &crate::sys::git::WorktreeEntry| {
            crate::util::fs::canonical(&w.path) == crate::util::fs::canonical(&track.worktree)
        };
        if let Some(w) = worktrees.iter().find(|w| {
            w.branch.as_deref() == Some(&format!("refs/heads/{}", track.branch)) && !own(w)
        }) {
            return Err(Error::refused(format!(
                "branch `{}` of track `{}` is checked out in {}",
                track.branch,
                track.name,
                w.path.display()
            ))
            .hint("switch that checkout to another branch, or change `branch` in the plan"));
        }
        to_add.push(track);
    }

    // Ports: blocks already recorded stay; new tracks get new ones.
    let requests = ws.port_requests(Some(state));
    let blocks = ports::allocate(&ws.state_dir, &requests)?;
    crate::fault::point("up:ports-allocated");

    if state.worktrees_dir.is_none() && !plan.session.worktrees.exists() {
        state.worktrees_dir = Some(plan.session.worktrees.clone());
    }
    let shell = std::env::var("SHELL").unwrap_or_else(|_| "sh".to_string());
    let env = |k: &str| std::env::var(k).ok();
    for (track, block) in plan.tracks.iter().filter(|t| t.host.is_none()).zip(blocks) {
        let adding = to_add.iter().any(|t| t.name == track.name);
        let finishing = to_finish.iter().any(|t| t.name == track.name);
        let prev = state.track(&track.name);
        let branch_created = match prev {
            Some(r) if r.branch == track.branch => r.branch_created,
            _ => adding && !ws.git.branch_exists(&track.branch),
        };
        let record = TrackRecord {
            name: track.name.clone(),
            branch: track.branch.clone(),
            base: track.base.clone(),
            branch_created,
            worktree: track.worktree.clone(),
            worktree_created: adding || prev.is_some_and(|r| r.worktree_created),
            worktree_ready: !(adding || finishing),
            worktree_removing: false,
            port_block: block,
            port_count: plan.ports.per_track,
            ports: named_ports(track, block),
            copied: prev.map(|r| r.copied.clone()).unwrap_or_default(),
            pane: prev.and_then(|r| r.pane.clone()),
            launch: Launch::default(),
            transcript: None,
            events: None,
            agent_started_ms: prev.and_then(|r| r.agent_started_ms),
            budget_usd: track.budget_usd,
            owns: track.owns.clone(),
            resumed: prev.and_then(|r| r.resumed.clone()),
            finished_before: prev.is_some_and(|r| r.finished_before),
            host: None,
        };
        // Where the agent keeps its files (HOME, CODEX_HOME, CLAUDE_CONFIG_DIR) as the agent
        // sees them: the plan's `[env]` and the track's `env` over pk's own.
        let vars = plan::TemplateVars {
            track: &track.name,
            port: record.port(),
            branch: &track.branch,
        };
        let agent_env = |k: &str| {
            plan.env
                .iter()
                .chain(&track.env)
                .rev()
                .find(|(name, _)| name == k)
                .map(|(_, v)| plan::expand_template(v, vars))
                .or_else(|| env(k))
        };
        let files = TrackFiles::of(&ws.state_dir, track, &agent_env, hook);
        let launch = launch_spec(plan, track, &record, &shell, &files);
        let record = TrackRecord {
            launch,
            transcript: files.source,
            events: Some(files.events),
            ..record
        };
        match state.track_mut(&track.name) {
            Some(r) => *r = record,
            None => state.tracks.push(record),
        }
    }
    // Recorded before anything is made: after a crash, `pk down` knows what may exist.
    state.save(&ws.state_dir)?;
    crate::fault::point("up:intent-saved");

    if to_add.is_empty() && to_finish.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(&plan.session.worktrees)
        .with_context(|| format!("failed to create {}", plan.session.worktrees.display()))?;
    for track in &to_add {
        let rec = state.track(&track.name).expect("recorded above");
        if !git.branch_exists(&track.branch) {
            if rec.branch_created {
                remove_stale_ref_lock(git, &track.branch)?;
            }
            git.create_branch(&track.branch, &track.base)?;
            crate::fault::point(&format!("up:branch-created:{}", track.name));
        }
        ctx.out.step(&format!(
            "  {} worktree {} on branch {}{}",
            ctx.out.paint(Style::Green, "+"),
            ctx.out.paint(Style::Bold, &track.name),
            track.branch,
            if rec.branch_created {
                format!(" (new, from {})", track.base)
            } else {
                " (existing)".to_string()
            }
        ));
        git.add_worktree_metadata(&track.worktree, &track.branch)?;
        crate::fault::point(&format!("up:worktree-added:{}", track.name));
    }
    let paths: Vec<PathBuf> = to_add.iter().map(|t| t.worktree.clone()).collect();
    for (track, result) in to_add.iter().zip(git.checkout_worktrees(&paths)) {
        result.map_err(|e| {
            e.wrap(format!(
                "failed to check out the worktree of `{}`",
                track.name
            ))
            .hint("fix what git says, then run `pk up` again; `pk down` removes what it made")
        })?;
    }
    let hooks = if to_add.is_empty() && to_finish.is_empty() {
        None
    } else {
        git.post_checkout_hooks()?
    };
    for track in &to_add {
        post_checkout(ctx, git, hooks.as_ref(), track);
    }
    for track in &to_finish {
        ctx.out.step(&format!(
            "  {} worktree {}: finishing what an interrupted pk began",
            ctx.out.paint(Style::Green, "+"),
            ctx.out.paint(Style::Bold, &track.name),
        ));
        let restore = half_removed.contains(&track.name);
        let checked_out = finish_checkout(git, &track.worktree, restore).map_err(|e| {
            e.wrap(format!(
                "failed to check out the worktree of `{}`",
                track.name
            ))
            .hint("fix what git says, then run `pk up` again; `pk down` removes what it made")
        })?;
        if checked_out {
            post_checkout(ctx, git, hooks.as_ref(), track);
        }
    }
    crate::fault::point("up:checked-out");
    for track in to_add.iter().chain(&to_finish) {
        let redo = match state.track(&track.name) {
            Some(r) if half_made.contains(&track.name) => r.copied.clone(),
            _ => Vec::new(),
        };
        let copies = plan_copies(ctx, plan, track, &redo)?;
        if copies.is_empty() {
            continue;
        }
        // Recorded first: an untracked copy identical to its source is pk's, not the user's
        // work, also when pk dies before it can say it made it.
        let rec = state.track_mut(&track.name).expect("recorded above");
        for copy in &copies {
            if !rec.copied.contains(&copy.rel) {
                rec.copied.push(copy.rel.clone());
            }
        }
        state.save(&ws.state_dir)?;
        crate::fault::point(&format!("up:copies-recorded:{}", track.name));
        for copy in &copies {
            copy.run().with_context(|| {
                format!(
                    "failed to copy {} into {}",
                    copy.from.display(),
                    copy.to.display()
                )
            })?;
        }
        crate::fault::point(&format!("up:copied:{}", track.name));
    }
    for track in to_add.iter().chain(&to_finish) {
        state
            .track_mut(&track.name)
            .expect("recorded above")
            .worktree_ready = true;
    }
    state.save(&ws.state_dir)?;
    crate::fault::point("up:worktrees-ready");
    Ok(to_add
        .iter()
        .chain(&to_finish)
        .map(|t| t.name.clone())
        .collect())
}

/// `push = false`: git refuses pushes in every track's worktree ([`push_guard`]); `push =
/// true`: what an earlier plan installed goes.
fn guard_pushes(ws: &Workspace, state: &State, exe: &Path) -> Result<()> {
    let plan = &ws.plan;
    let plan_file = plan.path.file_name().map_or_else(
        || "parallel.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    // A track no longer in the plan keeps what it had, like its worktree and pane.
    let in_plan = |r: &&TrackRecord| plan.tracks.iter().any(|t| t.name == r.name);
    for rec in state
        .tracks
        .iter()
        .filter(|r| r.worktree_ready && r.host.is_none())
        .filter(in_plan)
    {
        if plan.session.push {
            push_guard::remove(&ws.git, &ws.state_dir, &rec.name)?;
        } else {
            push_guard::install(
                &ws.git,
                &ws.state_dir,
                &rec.name,
                &rec.worktree,
                &plan_file,
                exe,
            )?;
        }
    }
    crate::fault::point("up:pushes-guarded");
    Ok(())
}

/// Runs the repository's `post-checkout` hook in a track's new worktree, as `git worktree add`
/// would have. A failure is a warning: like git's, it does not undo the checkout.
fn post_checkout(
    ctx: &Ctx,
    git: &crate::sys::git::Git,
    hooks: Option<&crate::sys::git::PostCheckout>,
    track: &Track,
) {
    let Some(hooks) = hooks else {
        return;
    };
    if let Err(e) = hooks.run(git, &track.worktree) {
        ctx.out.warn(&format!(
            "worktree {}: {e}
  (the worktree is checked out and kept)",
            track.name
        ));
    }
}

/// `PK_PORT_<NAME>` ports of a track: consecutive from the block's start.
fn named_ports(track: &Track, block: u16) -> Vec<(String, u16)> {
    track
        .port_names
        .iter()
        .enumerate()
        .map(|(i, name)| (name.clone(), block + i as u16))
        .collect()
}

/// pk's files of one track (design §6), under `<state dir>/tracks/<track>/`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrackFiles {
    /// The folder.
    pub(crate) dir: PathBuf,
    /// The hook event file (`PK_EVENTS`).
    pub(crate) events: PathBuf,
    /// Where the transcript is, or how to find it.
    pub(crate) source: Option<Source>,
    /// The settings file with pk's hooks, for interactive Claude.
    pub(crate) claude_settings: Option<PathBuf>,
    /// Codex's `notify` argv, for interactive Codex.
    pub(crate) codex_notify: Option<Vec<String>>,
    /// The file a headless agent's stream is kept in.
    pub(crate) tee: Option<Tee>,
    /// The file that holds a prompt too long for the command line ([`crate::plan::prompt`]).
    pub(crate) prompt: Option<PathBuf>,
}

impl TrackFiles {
    /// Decides the files of `track`; `env` is the environment the agents inherit, `hook` how
    /// they reach `pk hook`.
    pub(crate) fn of(
        state_dir: &Path,
        track: &Track,
        env: &dyn Fn(&str) -> Option<String>,
        hook: &HookTarget,
    ) -> TrackFiles {
        let dir = transcript::track_dir(state_dir, &track.name);
        let source = transcript::source_for(track, &dir, env);
        let preset = match &track.agent {
            plan::Agent::Preset(p) => Some(*p),
            plan::Agent::Command(_) => None,
        };
        let tee = preset
            .and_then(transcript::tee_format)
            .zip(source.as_ref().and_then(Source::fixed_path))
            .map(|(format, path)| Tee {
                path: path.to_path_buf(),
                format,
            });
        let events = dir.join(transcript::EVENTS_FILE);
        TrackFiles {
            codex_notify: (preset == Some(plan::AgentPreset::Codex)).then(|| {
                crate::session::hooks::codex_notify(&hook.exe, &events, &hook.codex_user_notify)
            }),
            events,
            claude_settings: (preset == Some(plan::AgentPreset::Claude))
                .then(|| dir.join(transcript::CLAUDE_SETTINGS_FILE)),
            prompt: track
                .prompt
                .as_deref()
                .is_some_and(crate::plan::prompt::is_long)
                .then(|| dir.join(crate::plan::prompt::FILE)),
            dir,
            source,
            tee,
        }
    }
}

/// The environment and commands of a track's pane (design §4).
pub(crate) fn launch_spec(
    plan: &Plan,
    track: &Track,
    rec: &TrackRecord,
    shell: &str,
    files: &TrackFiles,
) -> Launch {
    let mut env = vec![
        (env_vars::PK_TRACK.to_string(), track.name.clone()),
        (env_vars::PK_BRANCH.to_string(), track.branch.clone()),
        (
            env_vars::PK_WORKTREE.to_string(),
            track.worktree.to_string_lossy().into_owned(),
        ),
        (env_vars::PK_SESSION.to_string(), plan.session.name.clone()),
        (
            env_vars::PK_ROOT.to_string(),
            plan.repo_root.to_string_lossy().into_owned(),
        ),
        (env_vars::PK_PORT.to_string(), rec.port().to_string()),
    ];
    for (name, port) in &rec.ports {
        env.push((env_vars::port_var(name), port.to_string()));
    }
    match (&track.prompt, &files.prompt) {
        (_, Some(file)) => env.push((
            env_vars::PK_PROMPT_FILE.to_string(),
            file.to_string_lossy().into_owned(),
        )),
        (Some(prompt), None) => env.push((env_vars::PK_PROMPT.to_string(), prompt.clone())),
        (None, None) => {}
    }
    // Where status comes from: any agent may append hook events; a transcript whose path is
    // known in advance is named (interactive agents pick their own file names).
    env.push((
        env_vars::PK_EVENTS.to_string(),
        files.events.to_string_lossy().into_owned(),
    ));
    if let Some(path) = files.source.as_ref().and_then(Source::fixed_path) {
        env.push((
            env_vars::PK_TRANSCRIPT.to_string(),
            path.to_string_lossy().into_owned(),
        ));
    }
    let vars = plan::TemplateVars {
        track: &track.name,
        port: rec.port(),
        branch: &track.branch,
    };
    for (k, v) in plan.env.iter().chain(&track.env) {
        env.push((k.clone(), plan::expand_template(v, vars)));
    }
    Launch {
        env,
        setup: track.setup.clone(),
        argv: crate::session::agent::argv(
            track,
            shell,
            crate::session::agent::StatusHooks {
                claude_settings: files.claude_settings.as_deref(),
                codex_notify: files.codex_notify.as_deref(),
            },
        ),
        resume_base: crate::session::agent::resume_base(
            track,
            crate::session::agent::StatusHooks {
                claude_settings: files.claude_settings.as_deref(),
                codex_notify: files.codex_notify.as_deref(),
            },
        ),
        agent: crate::session::agent::label(&track.agent),
        tee: files.tee.clone(),
        stdin: files
            .prompt
            .clone()
            .filter(|_| crate::plan::prompt::on_stdin(&track.agent)),
        done_when: track.done_when.clone(),
    }
}

/// Marks the worktrees of interactive Claude tracks trusted in Claude Code's configuration
/// where the user trusts the main checkout ([`crate::session::claude_trust`]). A failure is a
/// warning: Claude then asks in the pane, and the bar shows it waiting.
fn trust_claude_worktrees(ctx: &Ctx, ws: &Workspace) {
    let worktrees: Vec<&Path> = ws
        .plan
        .tracks
        .iter()
        .filter(|t| t.host.is_none() && t.agent == plan::Agent::Preset(plan::AgentPreset::Claude))
        .map(|t| t.worktree.as_path())
        .filter(|w| w.is_dir())
        .collect();
    let Some(config) = crate::session::claude_trust::config_path(&|k| std::env::var(k).ok()) else {
        return;
    };
    if worktrees.is_empty() {
        return;
    }
    match crate::session::claude_trust::trust_worktrees(&config, &ws.plan.repo_root, &worktrees) {
        Ok(marked) => {
            for wt in marked {
                ctx.out.step(&format!(
                    "Claude Code: trusted {} as you trust {} ({})",
                    wt.display(),
                    ws.plan.repo_root.display(),
                    config.display()
                ));
            }
        }
        Err(e) => ctx.out.warn(&format!(
            "could not mark the worktrees trusted for Claude Code: {e} (Claude will ask in each)"
        )),
    }
}

/// Makes every track's folder under the state folder and writes the Claude settings with pk's
/// hooks (rewritten only when they changed: the path of pk may have) and long prompts.
fn write_track_files(ws: &Workspace, hook: &HookTarget) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    for track in &ws.plan.tracks {
        let files = TrackFiles::of(&ws.state_dir, track, &env, hook);
        std::fs::create_dir_all(&files.dir)
            .with_context(|| format!("failed to create {}", files.dir.display()))?;
        if track.host.is_some() {
            // The host writes its own; this folder holds what the host's watcher said.
            continue;
        }
        if let Some(path) = &files.claude_settings {
            let settings = crate::session::hooks::claude_settings(&hook.exe, &files.events);
            let text = serde_json::to_string_pretty(&settings).context("failed to encode hooks")?;
            if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
                crate::util::fs::write_atomically(path, text.as_bytes())?;
            }
        }
        if let (Some(path), Some(prompt)) = (&files.prompt, &track.prompt)
            && std::fs::read(path).ok().as_deref() != Some(prompt.as_bytes())
        {
            crate::util::fs::write_atomically(path, prompt.as_bytes())?;
        }
    }
    Ok(())
}

/// Before a track's agent starts in a new pane: it resumes its conversation, its files and
/// start time kept so the watcher goes on from its checkpoint ([`crate::session::resume`]), or
/// it starts from its prompt with its files reset, saying why when it had a conversation.
fn start_track(
    ctx: &Ctx,
    ws: &Workspace,
    rec: &mut TrackRecord,
    now: i64,
    fresh: &Fresh,
) -> Result<()> {
    use crate::session::resume::{Start, decide};
    if rec.host.is_some() {
        // The host decides for its agent (`pk up` there); this pane only shows it.
        rec.agent_started_ms = Some(now);
        return Ok(());
    }
    match decide(&ws.state_dir, rec, fresh.covers(&rec.name)) {
        Start::Resume(c) => {
            ctx.out.step(&format!(
                "  {} {} resumes its conversation {}",
                ctx.out.paint(Style::Green, "↻"),
                ctx.out.paint(Style::Bold, &rec.name),
                c.id
            ));
            crate::live::conversation::forget_refusal(&ws.state_dir, &rec.name);
            rec.resumed = Some(c);
            rec.finished_before = false;
            Ok(())
        }
        Start::Finished => {
            ctx.out.step(&format!(
                "  {} {} had finished its run: shown as it ended, not run again (`pk up --fresh {}` runs it again)",
                ctx.out.paint(Style::Green, "="),
                ctx.out.paint(Style::Bold, &rec.name),
                rec.name
            ));
            rec.resumed = None;
            rec.finished_before = true;
            Ok(())
        }
        Start::Fresh(why) => {
            if let Some(why) = why {
                ctx.out.step(&format!(
                    "  {} {} starts from its prompt: {why}",
                    ctx.out.paint(Style::Yellow, "!"),
                    ctx.out.paint(Style::Bold, &rec.name),
                ));
            }
            rec.resumed = None;
            rec.finished_before = false;
            crate::live::conversation::forget(&ws.state_dir, &rec.name);
            reset_track_files(rec, now)
        }
    }
}

/// Before a track's agent starts in a new pane: its event file and kept stream start empty
/// (they describe this agent, not an earlier one), and the start time is recorded.
pub(super) fn reset_track_files(rec: &mut TrackRecord, now_ms: i64) -> Result<()> {
    let files = rec
        .events
        .iter()
        .chain(rec.launch.tee.as_ref().map(|t| &t.path));
    for path in files {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(
                    Error::failure(format!("failed to remove {}", path.display()))
                        .wrap_cause(e.to_string()),
                );
            }
        }
    }
    rec.agent_started_ms = Some(now_ms);
    Ok(())
}

/// One file of a track's `copy` to bring in from the main checkout.
struct Copy {
    from: PathBuf,
    to: PathBuf,
    /// Relative to the worktree (as recorded in `copied`).
    rel: PathBuf,
    /// What is there is pk's own copy cut short by a kill: replaced.
    replace: bool,
}

impl Copy {
    /// Copies the file's content (of what it points to, for a link in the main checkout: a
    /// link in the worktree could write outside it, or dangle), unless something is there.
    fn run(&self) -> std::io::Result<()> {
        if self.replace {
            match std::fs::remove_file(&self.to) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        if std::fs::symlink_metadata(&self.to).is_ok() {
            return Ok(());
        }
        if let Some(parent) = self.to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&self.from, &self.to).map(drop)
    }
}

/// The files of the track's `copy` that are in the main checkout and not yet in the worktree
/// (pk never copies over a file that is there), and those of `redo` (pk's recorded copies in a
/// worktree it has not finished making) that differ from their source: a kill cut them short.
fn plan_copies(ctx: &Ctx, plan: &Plan, track: &Track, redo: &[PathBuf]) -> Result<Vec<Copy>> {
    let mut copies = Vec::new();
    let root = crate::util::fs::canonical(&plan.repo_root);
    for rel in &track.copy {
        let from = plan.repo_root.join(rel);
        let to = track.worktree.join(rel);
        if !from.exists() {
            ctx.out.warn(&format!(
                "track `{}`: `{}` is not in the main checkout, not copied",
                track.name,
                rel.display()
            ));
            continue;
        }
        if through_symlink(&track.worktree, rel) {
            ctx.out.warn(&format!(
                "track `{}`: `{}` in the worktree is or goes through a symbolic link, not copied",
                track.name,
                rel.display()
            ));
            continue;
        }
        // An entry that is a link to a folder in the repository (the plan check refused any
        // leading out of it): its files, as for the folder itself.
        let from = match std::fs::symlink_metadata(&from) {
            Ok(m) if m.file_type().is_symlink() && from.is_dir() => {
                let real = crate::util::fs::canonical(&from);
                if real.starts_with(&root) { real } else { from }
            }
            _ => from,
        };
        let mut skipped = Vec::new();
        walk_copies(&from, &to, rel, redo, &mut copies, &root, &mut skipped)
            .with_context(|| format!("failed to read {}", from.display()))?;
        for (rel, why) in skipped {
            ctx.out.warn(&format!(
                "track `{}`: `{}` in the main checkout is a symbolic link {why}, not copied",
                track.name,
                rel.display()
            ));
        }
    }
    Ok(copies)
}

/// True when `root/rel` or a folder on the way to it is a symbolic link: a branch can commit
/// `config -> /home/me/.config`, and copying through it would write outside the worktree.
fn through_symlink(root: &Path, rel: &Path) -> bool {
    let mut path = root.to_path_buf();
    rel.components().any(|part| {
        path.push(part);
        std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink())
    })
}

fn walk_copies(
    from: &Path,
    to: &Path,
    rel: &Path,
    redo: &[PathBuf],
    copies: &mut Vec<Copy>,
    root: &Path,
    skipped: &mut Vec<(PathBuf, &'static str)>,
) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    // Never through a link (or over anything) the worktree already has.
    let there = std::fs::symlink_metadata(to).ok();
    if there.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
        return Ok(());
    }
    if meta.file_type().is_symlink()
        && let Some(why) = unfollowed_link(root, from)
    {
        skipped.push((rel.to_path_buf(), why));
        return Ok(());
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            walk_copies(
                &entry.path(),
                &to.join(&name),
                &rel.join(&name),
                redo,
                copies,
                root,
                skipped,
            )?;
        }
        return Ok(());
    }
    let there = there.is_some();
    let cut_short = there && redo.iter().any(|r| r == rel) && !same_file(from, to);
    if !there || cut_short {
        copies.push(Copy {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            rel: rel.to_path_buf(),
            replace: cut_short,
        });
    }
    Ok(())
}

/// Why the link `from` in the main checkout (resolved: `root`) is not copied, if it is not: its
/// content is, when it is a file of the repository; a link to a folder is not followed (it may
/// loop back), nor one leading out of the repository or to nothing.
fn unfollowed_link(root: &Path, from: &Path) -> Option<&'static str> {
    match std::fs::canonicalize(from) {
        Err(_) => Some("to nothing"),
        Ok(target) if !target.starts_with(root) => Some("that leads out of the repository"),
        Ok(target) if !target.is_file() => Some("to a folder or a special file"),
        Ok(_) => None,
    }
}

/// True when `a` and `b` hold the same bytes (through links: pk copies what a link points to).
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

/// The argv of a track's agent pane: pk itself, which sets the environment and folder, runs
/// `setup`, then starts the agent.
pub(crate) fn agent_argv(state_dir: &Path, track: &str) -> Result<Vec<String>> {
    let exe = std::env::current_exe().context("failed to find the pk executable")?;
    Ok(vec![
        exe.to_string_lossy().into_owned(),
        "agent-run".into(),
        "--state-dir".into(),
        state_dir.to_string_lossy().into_owned(),
        track.to_string(),
    ])
}

/// Adds a pane, with `add`, for every track of the plan that has none (`has_pane`), its files
/// reset and recorded first; returns how many were added. The same for tmux and zellij.
pub(super) fn add_missing_panes(
    ctx: &Ctx,
    ws: &Workspace,
    state: &mut State,
    now: i64,
    fresh: &Fresh,
    has_pane: impl Fn(&str) -> bool,
    mut add: impl FnMut(&Track, &AgentPane) -> Result<()>,
) -> Result<usize> {
    let mut made = 0;
    for track in with_record(ws, state) {
        if has_pane(&track.name) {
            continue;
        }
        start_track(
            ctx,
            ws,
            state.track_mut(&track.name).expect("recorded"),
            now,
            fresh,
        )?;
        state.save(&ws.state_dir)?;
        let agent = agent_pane(ws, track, state.track(&track.name).expect("recorded"))?;
        add(track, &agent)?;
        crate::fault::point(&format!("up:pane-added:{}", track.name));
        ctx.out.step(&format!(
            "  {} pane for {}",
            ctx.out.paint(Style::Green, "+"),
            ctx.out.paint(Style::Bold, &track.name)
        ));
        made += 1;
    }
    Ok(made)
}

/// The agent panes of a new session, every track's files reset first: they must be empty
/// before the agents start, so the state is saved now, with the start times.
pub(super) fn fresh_agents(
    ctx: &Ctx,
    ws: &Workspace,
    state: &mut State,
    now: i64,
    fresh: &Fresh,
) -> Result<Vec<AgentPane>> {
    for track in with_record(ws, state) {
        start_track(
            ctx,
            ws,
            state.track_mut(&track.name).expect("recorded"),
            now,
            fresh,
        )?;
    }
    state.save(&ws.state_dir)?;
    crate::fault::point("up:session-starting");
    with_record(ws, state)
        .iter()
        .map(|t| agent_pane(ws, t, state.track(&t.name).expect("recorded")))
        .collect()
}

/// The plan's tracks pk has a record of: all but those of a host that could not be reached.
fn with_record<'a>(ws: &'a Workspace, state: &State) -> Vec<&'a Track> {
    ws.plan
        .tracks
        .iter()
        .filter(|t| state.track(&t.name).is_some())
        .collect()
}

pub(super) fn agent_pane(ws: &Workspace, track: &Track, rec: &TrackRecord) -> Result<AgentPane> {
    Ok(AgentPane {
        track: track.name.clone(),
        branch: track.branch.clone(),
        port: rec.port(),
        // A remote track's worktree is on its host: its pane starts in the main checkout.
        cwd: if track.host.is_some() {
            ws.plan.repo_root.clone()
        } else {
            track.worktree.clone()
        },
        argv: agent_argv(&ws.state_dir, &track.name)?,
    })
}

/// Makes the session, or the panes of tracks that have none. Returns how many panes it made
/// and the session's panes as they are now (listed once, also for [`ensure_watcher`]).
fn build_panes(
    ctx: &Ctx,
    ws: &Workspace,
    tmux: &Tmux,
    state: &mut State,
    fresh: &Fresh,
) -> Result<(usize, Vec<crate::sys::tmux::Pane>)> {
    let plan = &ws.plan;
    let session = &plan.session.name;
    let mut made = 0;
    let now = crate::util::clock::now_ms();
    if !tmux.has_session(session) {
        let agents = fresh_agents(ctx, ws, state, now, fresh)?;
        ctx.out.step(&format!(
            "  {} tmux session {} ({} agents)",
            ctx.out.paint(Style::Green, "+"),
            ctx.out.paint(Style::Bold, session),
            agents.len()
        ));
        let shape = &plan.session.layout;
        let windows = shape.windows(&agents, &plan.session.editor, &plan.session.worktrees);
        tmux.run(layout::new_session(session, &windows, shape.agents_width))
            .map_err(|e| e.wrap(format!("failed to create tmux session `{session}`")))?;
        crate::fault::point("up:session-created");
        made = agents.len();
    } else {
        let panes = tmux.panes(session)?;
        let has_pane = |track: &str| panes.iter().any(|p| p.track == track);
        made += add_missing_panes(ctx, ws, state, now, fresh, has_pane, |_, agent| {
            add_pane(tmux, plan, agent)
        })?;
    }
    // Record pane ids (stable, unlike indexes) for status, focus and the watcher.
    let panes = tmux.panes(session)?;
    for pane in &panes {
        if let Some(rec) = state.track_mut(&pane.track) {
            rec.pane = Some(pane.id.clone());
        }
    }
    Ok((made, panes))
}

/// The argv of the status watcher's pane.
pub(crate) fn watch_argv(state_dir: &Path, socket: Option<&str>) -> Result<Vec<String>> {
    let exe = std::env::current_exe().context("failed to find the pk executable")?;
    let mut argv = vec![exe.to_string_lossy().into_owned()];
    if let Some(socket) = socket {
        argv.extend(["--socket".to_string(), socket.to_string()]);
    }
    argv.extend([
        "watch".to_string(),
        "--state-dir".to_string(),
        state_dir.to_string_lossy().into_owned(),
    ]);
    Ok(argv)
}

/// Starts the status watcher in its own window unless it runs; a watcher that died (its pane
/// is kept, with its last words) is started again in the same pane.
fn ensure_watcher(
    ctx: &Ctx,
    ws: &Workspace,
    tmux: &Tmux,
    state: &State,
    panes: &[crate::sys::tmux::Pane],
) -> Result<()> {
    let session = &state.session;
    let argv = watch_argv(&ws.state_dir, tmux.socket())?;
    let cwd = &ws.plan.repo_root;
    match panes.iter().find(|p| p.role == layout::WATCH_ROLE) {
        Some(p) if !p.dead => return Ok(()),
        Some(p) => {
            tmux.run(vec![
                Cmd::new("respawn-pane")
                    .flag("-k")
                    .opt("-t", &p.id)
                    .start_dir(cwd)
                    .args(&argv),
            ])
            .map_err(|e| e.wrap("failed to restart the status watcher"))?;
        }
        None => {
            tmux.run(layout::watch_window(session, cwd, &argv))
                .map_err(|e| e.wrap("failed to start the status watcher"))?;
        }
    }
    ctx.out.step(&format!(
        "  {} status watcher (window {})",
        ctx.out.paint(Style::Green, "+"),
        layout::WATCH_WINDOW
    ));
    Ok(())
}

/// Puts one more agent where there is room: under the last agent of the first window with
/// fewer than the layout's `agents_per_window`, else in a new window of the same shape.
fn add_pane(tmux: &Tmux, plan: &Plan, agent: &AgentPane) -> Result<()> {
    let session = &plan.session.name;
    let shape = &plan.session.layout;
    let panes = tmux.panes(session)?;
    for index in 0.. {
        let window = layout::window_name(index);
        let agents: Vec<_> = panes
            .iter()
            .filter(|p| p.window == window && p.role == "agent")
            .collect();
        if agents.is_empty() && !panes.iter().any(|p| p.window == window) {
            let agents = std::slice::from_ref(agent);
            let window = layout::Window {
                index,
                name: window,
                agents: agents.to_vec(),
                editor: shape.editor_of(agents, &plan.session.editor, &plan.session.worktrees),
            };
            return tmux
                .run(layout::new_window(session, &window, shape.agents_width))
                .map(drop);
        }
        if agents.len() < shape.agents_per_window {
            let below = agents
                .last()
                .map(|p| p.id.clone())
                .unwrap_or_else(|| layout::window_target(session, &window));
            tmux.run(layout::add_agent(session, &window, &below, agent))?;
            // Even the column again.
            let after = tmux.panes(session)?;
            let ids: Vec<String> = after
                .iter()
                .filter(|p| p.window == window && p.role == "agent")
                .map(|p| p.id.clone())
                .collect();
            let height: u32 = after
                .iter()
                .filter(|p| p.window == window && p.role == "agent")
                .map(|p| p.height + 1)
                .sum::<u32>()
                .saturating_sub(1);
            tmux.run(layout::even_heights(&ids, height))?;
            return Ok(());
        }
    }
    unreachable!("the loop returns once it finds a window with room or a free name")
}

fn summarize(ctx: &Ctx, plan: &Plan, state: &State, made: &[String], panes_made: usize) {
    if made.is_empty() && panes_made == 0 {
        ctx.out.step(&format!(
            "session {} is up to date: {} tracks, nothing to create",
            ctx.out.paint(Style::Bold, &plan.session.name),
            plan.tracks.len()
        ));
        return;
    }
    ctx.out.step(&format!(
        "session {} is up: {} tracks",
        ctx.out.paint(Style::Bold, &plan.session.name),
        plan.tracks.len()
    ));
    for track in &plan.tracks {
        let Some(rec) = state.track(&track.name) else {
            continue;
        };
        let ports = if rec.ports.is_empty() {
            format!("port {}", rec.port())
        } else {
            rec.ports
                .iter()
                .map(|(n, p)| format!("{n}={p}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        ctx.out.step(&format!(
            "  {:<12} {:<24} {}  {}",
            track.name,
            track.branch,
            rec.worktree.display(),
            ports
        ));
    }
}
