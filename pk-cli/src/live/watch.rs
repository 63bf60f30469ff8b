//! `pk watch`: the status watcher, one per session (design §6).
//!
//! It follows every track's transcript and hook event file with `notify`, reading only what was
//! appended ([`crate::live`]), and pushes the rendered status line into the session's
//! `status-right` the moment something shown changes; tmux redraws every client at once. A track
//! that turns waiting, done or failed also rings the bell, shows a message on every client and,
//! where `notify-send` exists, a desktop notification. Everything it knows is written atomically
//! to `.git/pk/<session>/status.json` for `pk status` and the zellij plugin.
//!
//! File events say "look again"; what changed is found by the cursors, so a burst of events is
//! handled by one look (events are gathered for a few milliseconds first) and a missed event
//! costs at most one tick. Every [`TICK`] it also asks tmux which agents still run (their pane
//! is kept dead by `remain-on-exit`), re-renders for idleness and picks up new tracks; when the
//! tmux server or the session is gone, it exits.
//!
//! It also keeps every worktree's count of changed files ([`crate::live::dirt`]), so that `pk status`
//! does not run `git status` in each, and the conflict forecast ([`crate::session::forecast`]):
//! after a count (an edit or a commit in a worktree) and on every tick (a base that moved), with
//! the counts' statuses; a round where no commit, status or changed file's stat moved merges
//! nothing and starts no process.
//!
//! notify is used without a debouncer crate: the watcher only needs "something in these
//! folders changed", and gathering events with a short `recv_timeout` is that debouncer in a few
//! lines, without its extra thread and timer tick.

use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::layout;
use crate::live::checks::Checks;
use crate::live::dirt::Worktree;
use crate::live::{self, StatusFile, TrackEntry, TrackFeed};
use crate::session::agent;
use crate::session::budget::{self, BudgetFile, Interrupt};
use crate::session::forecast::{Forecaster, TrackInput};
use crate::session::lock::SessionLock;
use crate::session::owns::Owns;
use crate::session::state::State;
use crate::sys::git::Git;
use crate::sys::mux::Mux;
use crate::sys::tmux::{Client, Cmd, Pane};
use notify::event::{AccessKind, AccessMode, ModifyKind, RemoveKind};
use notify::{EventKind, RecursiveMode, Watcher};
use pk_status::sanitize::clean;
use pk_status::{TrackState, TrackStatus};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

/// How often tmux is asked which agents still run, idleness is re-rendered and every file is
/// looked at even without an event (file systems without inotify events).
pub const TICK: Duration = Duration::from_secs(2);

/// After a file event, events are gathered until none came for this long...
const SETTLE: Duration = Duration::from_millis(15);
/// ...or for at most this long, so a busy agent cannot hold the bar back.
const SETTLE_MAX: Duration = Duration::from_millis(100);

/// Between ticks, file events also refresh the panes, at most this often.
const PANES_MAX_AGE: Duration = Duration::from_millis(250);

/// How long an alert shows on the clients' status lines, in ms.
const MESSAGE_MS: u64 = 3000;

/// Width of the status line when no client is attached.
const DEFAULT_WIDTH: u32 = layout::DETACHED_SIZE.0;

/// Runs the watcher of the session whose state folder is `state_dir`, until the session ends.
pub(crate) fn watch(ctx: &Ctx, state_dir: PathBuf) -> Result<()> {
    let state = State::load(&state_dir)?.ok_or_else(|| {
        Error::failure(format!(
            "no pk session to watch: {} has no state",
            state_dir.display()
        ))
        .hint("run `pk up` first")
    })?;
    let Some(_lock) = lock(&state_dir)? else {
        ctx.out.step(&format!(
            "a status watcher already runs for session `{}`",
            state.session
        ));
        return Ok(());
    };
    let mux = Mux::of(
        ctx,
        Some(state.mux_record()),
        crate::plan::Multiplexer::Tmux,
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let wake = tx.clone();
    let fs = notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    })
    .context("failed to start watching files")?;
    println!(
        "pk watch: session {}, {} tracks (pk up starts this again if it stops)",
        state.session,
        state.tracks.len()
    );
    let git = Git::discover(&state.repo_root).ok();
    let mut watch = Watch::new(state_dir, state, mux, fs, git, wake);
    watch.run(&rx)
}

/// Takes the session's watcher lock; `None` when another watcher holds it. The kernel drops
/// it when the watcher dies. Tried for a moment: [`crate::session::lock::watcher_runs`] probes it briefly.
fn lock(state_dir: &Path) -> Result<Option<SessionLock>> {
    for _ in 0..20 {
        if let Ok(lock) =
            SessionLock::try_acquire_at(&state_dir.join(crate::session::lock::WATCH_LOCK))?
        {
            return Ok(Some(lock));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(None)
}

/// Whether the watcher goes on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// Who wants a folder watched: the feeds (a few folders, asked for on every cycle) or the
/// worktrees (thousands, asked for after a count). Kept apart so that a cycle walks only the
/// feeds' folders.
#[derive(Debug, Clone, Copy)]
enum For {
    Feeds,
    Trees,
}

struct Watch {
    state_dir: PathBuf,
    state: State,
    state_stamp: Option<SystemTime>,
    mux: Mux,
    fs: notify::RecommendedWatcher,
    /// The folders watched.
    watched: HashSet<PathBuf>,
    /// The folders the feeds want watched.
    feed_dirs: BTreeSet<PathBuf>,
    /// The folders the worktrees want watched.
    tree_dirs: BTreeSet<PathBuf>,
    feeds: Vec<TrackFeed>,
    /// To count changed files; none when the repository cannot be opened (no counts then).
    git: Option<Git>,
    worktrees: Vec<Worktree>,
    panes: Vec<Pane>,
    clients: Vec<Client>,
    panes_at: Option<Instant>,
    /// When each dead agent was first seen dead: the time of its exit, kept stable.
    dead_since: HashMap<String, i64>,
    /// What each agent that failed left in its pane, read once when it is first seen dead.
    exit_output: HashMap<String, Option<String>>,
    /// The states shown last, per track (`None` before the first look: no alerts for it).
    shown: Option<Vec<(String, TrackState)>>,
    /// The status line pushed last, with its width.
    pushed: Option<(String, usize)>,
    /// The entries written to status.json last.
    written: Option<Vec<TrackEntry>>,
    /// Each track's budget file as last written (or found, for a watcher started again).
    budget_files: HashMap<String, BudgetFile>,
    notify_send: Option<PathBuf>,
    /// The user's `[notify]`, if any (read when the watcher starts).
    notify: Option<crate::session::user_config::Notify>,
    /// The tracks named by the alert message on the clients' status lines, and until when it
    /// shows: a track of it that changes state again takes the message away, so that it never
    /// says `waiting` over a bar that says `working`.
    message: Option<(Instant, Vec<String>)>,
    /// Tracks whose pane showed Claude Code's folder-trust dialog at the last look.
    trust_dialog: HashSet<String>,
    /// The tracks' `done_when` checks.
    checks: Checks,
    /// The conversation recorded last per track (issue 16: `pk up` resumes it).
    conversations: HashMap<String, crate::live::conversation::Conversation>,
    /// The tracks' `owns`, from the state.
    owns: Owns,
    /// The conflict forecast, and what it said last, per track.
    forecaster: Forecaster,
    forecasts: HashMap<String, pk_status::forecast::Forecast>,
    /// The tracks on other hosts, as their hosts' watchers stream them.
    remotes: crate::live::remote::Remotes,
    /// Wakes the loop when a host's stream brings news (an event without paths).
    wake: std::sync::mpsc::Sender<notify::Result<notify::Event>>,
}

impl Watch {
    fn new(
        state_dir: PathBuf,
        state: State,
        mux: Mux,
        fs: notify::RecommendedWatcher,
        git: Option<Git>,
        wake: std::sync::mpsc::Sender<notify::Result<notify::Event>>,
    ) -> Watch {
        let mut w = Watch {
            state_stamp: stamp(&state_dir),
            state_dir: state_dir.clone(),
            state,
            mux,
            fs,
            watched: HashSet::new(),
            feed_dirs: BTreeSet::new(),
            tree_dirs: BTreeSet::new(),
            feeds: Vec::new(),
            git,
            worktrees: Vec::new(),
            panes: Vec::new(),
            clients: Vec::new(),
            panes_at: None,
            dead_since: HashMap::new(),
            exit_output: HashMap::new(),
            shown: None,
            pushed: None,
            written: None,
            budget_files: HashMap::new(),
            notify_send: find_on_path("notify-send"),
            notify: user_notify(),
            message: None,
            trust_dialog: HashSet::new(),
            checks: Checks::new(&state_dir),
            conversations: HashMap::new(),
            owns: Owns::new([]),
            forecaster: Forecaster::new(),
            forecasts: HashMap::new(),
            remotes: Default::default(),
            wake,
        };
        w.sync_feeds();
        w
    }

    fn run(&mut self, rx: &Receiver<notify::Result<notify::Event>>) -> Result<()> {
        let mut next_tick = Instant::now();
        loop {
            let deadline = self.next_count().map_or(next_tick, |d| d.min(next_tick));
            let wait = deadline.saturating_duration_since(Instant::now());
            let triggered = match rx.recv_timeout(wait) {
                Ok(event) => {
                    let mut events = vec![event];
                    settle(rx, &mut events);
                    self.route(&events)
                }
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::failure("the file watcher stopped"));
                }
            };
            let full = Instant::now() >= next_tick;
            if full {
                let now = Instant::now();
                for w in self.worktrees.iter_mut().filter(|w| w.wants_retry()) {
                    w.touch(None, now);
                }
            }
            let count_due = self.next_count().is_some_and(|d| d <= Instant::now());
            if !triggered && !full && !count_due {
                continue;
            }
            if full {
                next_tick = Instant::now() + TICK;
            }
            if self.cycle(full)? == Flow::Stop {
                println!("pk watch: the session ended");
                return Ok(());
            }
        }
    }

    /// One look at everything: reads what is new, refreshes the panes when due, pushes the bar,
    /// alerts and writes status.json when something changed.
    fn cycle(&mut self, full: bool) -> Result<Flow> {
        let now = crate::util::clock::now_ms();
        if !self.reload_state() {
            return Ok(Flow::Stop);
        }
        let mut fresh_panes = false;
        if full || self.panes_at.is_none_or(|t| t.elapsed() >= PANES_MAX_AGE) {
            let snapshot = match &self.mux {
                Mux::Tmux(tmux) => tmux.snapshot(&self.state.session),
                // zellij's clients are not asked: the plugin fits the bar to its own width.
                Mux::Zellij(z) => z.panes(&self.state.session).map(|p| (p, Vec::new())),
            };
            match snapshot {
                Ok((panes, clients)) => {
                    self.panes = panes;
                    self.clients = clients;
                    self.panes_at = Some(Instant::now());
                    fresh_panes = true;
                }
                Err(e) => {
                    if !self.mux.has_session(&self.state.session) {
                        return Ok(Flow::Stop);
                    }
                    eprintln!("pk watch: {e}");
                }
            }
        }
        let idle_ms =
            i64::try_from(self.state.idle_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        live::refresh_all(&mut self.feeds, now);
        self.record_conversations();
        let mut statuses = Vec::with_capacity(self.feeds.len());
        for feed in &mut self.feeds {
            let pane = self
                .panes
                .iter()
                .find(|p| p.track == feed.name() && p.role == "agent");
            let host = self.state.track(feed.name()).and_then(|r| r.host.clone());
            let status = match (host, pane) {
                // On a host: as the host's watcher sees it, its local pane only a view.
                (Some(host), _) => remote_status(&host, self.remotes.view(feed.name())),
                (None, Some(p)) if !p.dead => {
                    self.dead_since.remove(feed.name());
                    self.exit_output.remove(feed.name());
                    let mut status = pk_status::apply_idle(&feed.status(), now, idle_ms);
                    if status.state == TrackState::Starting {
                        if fresh_panes {
                            let shown =
                                claude_trust_dialog(&self.mux, &self.state, feed.name(), &p.id);
                            set_member(&mut self.trust_dialog, feed.name(), shown);
                        }
                        if self.trust_dialog.contains(feed.name()) {
                            status.state = TrackState::Waiting;
                            status.last_tool =
                                Some(crate::session::claude_trust::REASON.to_string());
                        }
                    }
                    status
                }
                (None, _) => {
                    // The writer is gone: an unfinished last line is complete. Not on the word
                    // of an older list of panes, which lacks a track just added.
                    if pane.is_some() || fresh_panes {
                        feed.finish(now);
                    }
                    let since = *self
                        .dead_since
                        .entry(feed.name().to_string())
                        .or_insert(now);
                    let code = pane.and_then(|p| p.dead_status);
                    let output = match pane {
                        Some(p) if code != Some(0) => self
                            .exit_output
                            .entry(feed.name().to_string())
                            .or_insert_with(|| {
                                let text = self.mux.pane_text(&self.state.session, p).ok()?;
                                Some(agent::after_header(&text, feed.name()).to_string())
                            })
                            .as_deref(),
                        _ => None,
                    };
                    pk_status::apply_exit_output(&feed.status(), code, since, output)
                }
            };
            self.checks.observe(feed.name(), status.state);
            statuses.push(status);
        }
        self.apply_budgets(&mut statuses);
        self.enforce_budgets(&statuses);
        self.sync_watches(now, full);
        if full {
            self.save_checkpoints();
        }
        // status.json before the bar: once the bar shows a state, `pk status` shows it too
        // (a small write; the real-agent tests read the figures the moment the bar says done).
        if self.write_status(statuses.clone())? == Flow::Stop {
            return Ok(Flow::Stop);
        }
        self.push_bar(&statuses);
        self.announce(&statuses);
        // Then the counts that are due (they take a `git status` each), and the forecast;
        // the bar after status.json, whose entries give it the checks' and owns' marks.
        let counted = self.count_due();
        let forecast = (counted || full) && self.refresh_forecast();
        if counted || forecast {
            let flow = self.write_status(statuses.clone())?;
            self.push_bar(&statuses);
            return Ok(flow);
        }
        Ok(Flow::Go)
    }

    /// The budgets of the state (the plan's at the last `pk up`) applied to the statuses.
    fn apply_budgets(&self, statuses: &mut [TrackStatus]) {
        let recs: Vec<_> = self
            .feeds
            .iter()
            .map(|f| self.state.track(f.name()))
            .collect();
        let limits: Vec<Option<f64>> = recs.iter().map(|r| r.and_then(|r| r.budget_usd)).collect();
        let no_cost: Vec<bool> = recs
            .iter()
            .map(|r| r.is_none_or(budget::carries_no_cost))
            .collect();
        pk_status::budget::apply_budgets(statuses, &limits, &no_cost, self.state.budget_usd);
    }

    /// Keeps each track's budget file current (what its Claude hook reads), and stops the
    /// agent of a track whose budget was just spent: the file first, so that the hook denies
    /// by the time the agent goes on, then the interrupt. Once per crossing: a watcher started
    /// again finds the file saying so.
    fn enforce_budgets(&mut self, statuses: &[TrackStatus]) {
        for (feed, status) in self.feeds.iter().zip(statuses) {
            let name = feed.name();
            let file = BudgetFile::of(name, status.budget.as_ref());
            if self.budget_files.get(name) == Some(&file) {
                continue;
            }
            let dir = crate::session::transcript::track_dir(&self.state_dir, name);
            let path = budget::path(&dir);
            let before = match self.budget_files.get(name) {
                Some(b) => Some(b.clone()),
                None => budget::load(&path),
            };
            // No budget, and nothing said before: nothing to write.
            let unsaid = before.is_none() && file == BudgetFile::default();
            if before.as_ref() != Some(&file)
                && !unsaid
                && let Err(e) = budget::save(&path, &file)
            {
                if dir.is_dir() {
                    eprintln!("pk watch: {e}");
                }
                continue;
            }
            let was_over = before.is_some_and(|b| b.over);
            self.budget_files.insert(name.to_string(), file.clone());
            if file.over && !was_over {
                let how = self.interrupt(name);
                println!(
                    "{} {name}: budget spent ({}): {how}",
                    clock(crate::util::clock::now_ms()),
                    status
                        .budget
                        .as_ref()
                        .map(budget::spent_text)
                        .unwrap_or_default()
                );
            } else if was_over && !file.over {
                println!(
                    "{} {name}: within its budget again: tool calls are allowed",
                    clock(crate::util::clock::now_ms())
                );
            }
        }
    }

    /// Interrupts a track's agent as a person would; says what was done.
    fn interrupt(&self, name: &str) -> &'static str {
        let Some(rec) = self.state.track(name) else {
            return "no agent to stop";
        };
        match budget::interrupt_for(&rec.launch) {
            Interrupt::Sigint => {
                let dir = crate::session::transcript::track_dir(&self.state_dir, name);
                if crate::sys::procs::interrupt_agent(&dir) {
                    "sent SIGINT to its agent"
                } else {
                    "its agent no longer runs"
                }
            }
            Interrupt::Escape => {
                let pane = self
                    .panes
                    .iter()
                    .find(|p| p.track == name && p.role == "agent" && !p.dead);
                match (&self.mux, pane) {
                    (Mux::Tmux(tmux), Some(p)) => {
                        match tmux.run(vec![Cmd::new("send-keys").opt("-t", &p.id).arg("Escape")]) {
                            Ok(_) => "pressed Escape in its pane; its tool calls are denied",
                            Err(e) => {
                                eprintln!("pk watch: {e}");
                                "its tool calls are denied (Escape failed)"
                            }
                        }
                    }
                    // zellij sends keys only to the focused pane: the hook's denial alone.
                    (Mux::Zellij(_), Some(_)) => "its tool calls are denied",
                    (_, None) => "its agent no longer runs",
                }
            }
            Interrupt::Nothing => "a shell: nothing to interrupt",
        }
    }

    /// Records each track's conversation when its transcript is first found or changes (only
    /// then: a comparison per track otherwise).
    fn record_conversations(&mut self) {
        for feed in &self.feeds {
            let Some(path) = feed.transcript().map(|t| t.path()) else {
                continue;
            };
            // A transcript's id does not change: read once (a headless stream's head is read
            // until its first record names it).
            if self
                .conversations
                .get(feed.name())
                .is_some_and(|c| c.transcript == path)
            {
                continue;
            }
            let Some(c) = feed.conversation() else {
                continue;
            };
            let recorded = crate::live::conversation::load(&self.state_dir, feed.name());
            if recorded.as_ref() != Some(&c)
                && let Err(e) = crate::live::conversation::save(&self.state_dir, feed.name(), &c)
            {
                eprintln!("pk watch: {}: {e}", feed.name());
                continue;
            }
            self.conversations.insert(feed.name().to_string(), c);
        }
    }

    /// Saves the checkpoint of every feed that read on since its last one: once a tick, so that
    /// a busy agent costs one small write per [`TICK`], and a watcher started again (or
    /// `pk status` without one) reads at most a tick's worth of what was already read.
    fn save_checkpoints(&mut self) {
        for feed in &mut self.feeds {
            if let Err(e) = feed.save(&self.state_dir)
                && self.state_dir.is_dir()
            {
                eprintln!("pk watch: {e}");
            }
        }
    }

    /// Marks the worktrees the events are in as pending, forgets removed folders. True when
    /// an event may mean new content (of a transcript, hook events, the state, a worktree).
    fn route(&mut self, events: &[notify::Result<notify::Event>]) -> bool {
        let now = Instant::now();
        let mut any = false;
        for event in events {
            if !relevant(event) {
                continue;
            }
            any = true;
            let Ok(event) = event else {
                // The queue overflowed: anything may have changed.
                for w in &mut self.worktrees {
                    w.touch(None, now);
                }
                continue;
            };
            for path in &event.paths {
                if matches!(
                    event.kind,
                    EventKind::Remove(RemoveKind::Folder | RemoveKind::Any)
                ) && self.watched.remove(path)
                {
                    // The kernel dropped its watch with the folder; watched again if it comes
                    // back.
                    let _ = self.fs.unwatch(path);
                }
                for w in self.worktrees.iter_mut().filter(|w| w.owns(path)) {
                    w.touch(Some(path), now);
                }
            }
        }
        any
    }

    /// When the next count of a worktree is due.
    fn next_count(&self) -> Option<Instant> {
        self.git.as_ref()?;
        self.worktrees.iter().filter_map(Worktree::due_at).min()
    }

    /// Counts the worktrees that are due, all at once, then watches what their counts showed.
    /// True when any was counted.
    fn count_due(&mut self) -> bool {
        let Some(git) = &self.git else {
            return false;
        };
        let now = Instant::now();
        let mut due: Vec<&mut Worktree> = self
            .worktrees
            .iter_mut()
            .filter(|w| w.due_at().is_some_and(|d| d <= now))
            .collect();
        if due.is_empty() {
            return false;
        }
        std::thread::scope(|scope| {
            for w in &mut due {
                scope.spawn(move || w.recount(git));
            }
        });
        self.sync_tree_watches();
        true
    }

    /// Forecasts again what changed since the last round (nothing at all when no commit, status
    /// or changed file moved). True when a track's forecast changed.
    fn refresh_forecast(&mut self) -> bool {
        let Some(git) = &self.git else {
            return false;
        };
        if self.worktrees.iter().any(Worktree::first_count_pending) {
            return false;
        }
        // A host's track is forecast by the host's watcher, against the host's clone.
        let inputs: Vec<TrackInput> = self
            .state
            .tracks
            .iter()
            .filter(|rec| rec.host.is_none())
            .map(|rec| TrackInput {
                name: rec.name.clone(),
                base: rec.base.clone(),
                branch: rec.branch.clone(),
                worktree: rec.worktree.clone(),
                status: self
                    .worktrees
                    .iter()
                    .find(|w| w.track == rec.name)
                    .and_then(|w| w.status_raw().map(<[u8]>::to_vec)),
            })
            .collect();
        let forecasts = match self.forecaster.forecast(git, &inputs) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("pk watch: forecast: {e}");
                return false;
            }
        };
        let work = self.forecaster.work();
        if work.merges > 0 || work.statuses > 0 {
            println!(
                "{} forecast: {} merges, {} trees, {} git status",
                clock(crate::util::clock::now_ms()),
                work.merges,
                work.trees,
                work.statuses
            );
        }
        let new: HashMap<String, pk_status::forecast::Forecast> =
            inputs.into_iter().map(|t| t.name).zip(forecasts).collect();
        if new == self.forecasts {
            return false;
        }
        self.forecasts = new;
        true
    }

    /// Watches the folders of every worktree; a worktree one of whose folders cannot be
    /// watched gives no count.
    fn sync_tree_watches(&mut self) {
        let want: BTreeSet<PathBuf> = self.worktrees.iter().flat_map(Worktree::dirs).collect();
        let failed = self.want(want, For::Trees);
        for w in &mut self.worktrees {
            w.set_blind(failed.iter().any(|d| w.owns(d)));
        }
    }

    /// Makes `dirs` the folders `who` wants watched: watches the new ones (those that exist),
    /// unwatches those nobody wants any more. Returns the folders that exist but could not be
    /// watched.
    fn want(&mut self, dirs: BTreeSet<PathBuf>, who: For) -> Vec<PathBuf> {
        let Watch {
            fs,
            watched,
            feed_dirs,
            tree_dirs,
            ..
        } = self;
        let (mine, other) = match who {
            For::Feeds => (feed_dirs, &*tree_dirs),
            For::Trees => (tree_dirs, &*feed_dirs),
        };
        for dir in mine.difference(&dirs) {
            if !other.contains(dir) && watched.remove(dir) {
                let _ = fs.unwatch(dir);
            }
        }
        let mut failed = Vec::new();
        for dir in &dirs {
            if watched.contains(dir) || !dir.is_dir() {
                continue;
            }
            if fs.watch(dir, RecursiveMode::NonRecursive).is_ok() {
                watched.insert(dir.clone());
            } else if dir.is_dir() {
                failed.push(dir.clone());
            }
        }
        *mine = dirs;
        failed
    }

    /// Re-reads the state when `pk up` changed it (tracks added). False when it is gone: the
    /// session was torn down.
    fn reload_state(&mut self) -> bool {
        let stamp = stamp(&self.state_dir);
        if stamp.is_none() {
            return false;
        }
        if stamp != self.state_stamp {
            self.state_stamp = stamp;
            match State::load(&self.state_dir) {
                Ok(Some(state)) => {
                    self.state = state;
                    self.sync_feeds();
                }
                Ok(None) => return false,
                Err(e) => eprintln!("pk watch: {e}"),
            }
        }
        true
    }

    /// One feed and one worktree per track of the state, kept across reloads unless the
    /// track's files changed.
    fn sync_feeds(&mut self) {
        let mut old_trees = std::mem::take(&mut self.worktrees);
        // A host's worktrees are counted by the host's watcher.
        for rec in self.state.tracks.iter().filter(|r| r.host.is_none()) {
            let kept = old_trees
                .iter()
                .position(|w| w.track == rec.name && w.root == rec.worktree)
                .map(|i| old_trees.swap_remove(i));
            let mut w = kept.unwrap_or_else(|| Worktree::new(&rec.name, &rec.worktree));
            w.base = Some(rec.base.clone());
            self.worktrees.push(w);
        }
        self.owns = Owns::new(
            self.state
                .tracks
                .iter()
                .map(|r| (r.name.as_str(), r.owns.as_slice())),
        );
        if !old_trees.is_empty() {
            self.sync_tree_watches();
        }
        self.follow_hosts();
        let mut old: Vec<TrackFeed> = std::mem::take(&mut self.feeds);
        for rec in &self.state.tracks {
            let fresh = TrackFeed::new(rec, &self.state_dir);
            let kept = old
                .iter()
                .position(|f| f.name() == rec.name && f.same_files(&fresh))
                .map(|i| old.swap_remove(i));
            if kept.is_none() {
                // A new agent (or a new watcher): its conversation is read again.
                self.conversations.remove(&rec.name);
            }
            // A new track, or a watcher started again: from the checkpoint, if any.
            let feed = kept.unwrap_or_else(|| {
                let feed = TrackFeed::resume(rec, &self.state_dir);
                if let Some(t) = feed.transcript().filter(|t| t.cursor().offset > 0) {
                    println!(
                        "pk watch: {}: reading {} on from byte {} (its checkpoint)",
                        rec.name,
                        t.path().display(),
                        t.cursor().offset
                    );
                }
                feed
            });
            self.feeds.push(feed);
        }
    }

    /// Follows the stream of every host of the state not followed yet.
    fn follow_hosts(&mut self) {
        for record in &self.state.hosts {
            let name = &record.host.name;
            if self.remotes.follows(name) {
                continue;
            }
            let tracks: Vec<String> = self
                .state
                .tracks
                .iter()
                .filter(|t| t.host.as_ref() == Some(name))
                .map(|t| t.name.clone())
                .collect();
            let remote =
                crate::session::remote::Remote::of(&self.state_dir, &self.state, record, false);
            let wake = self.wake.clone();
            self.remotes.follow(
                name,
                tracks,
                remote.ssh().clone(),
                remote.stream_argv(),
                move || {
                    let _ = wake.send(Ok(notify::Event::new(EventKind::Other)));
                },
            );
        }
    }

    /// Watches the folders that matter now (files may appear in folders that do not exist
    /// yet); forgets folders that are gone. A folder that cannot be watched is looked at on
    /// every tick instead.
    fn sync_watches(&mut self, now: i64, full: bool) {
        let mut want: BTreeSet<PathBuf> = BTreeSet::from([self.state_dir.clone()]);
        for feed in &self.feeds {
            want.extend(feed.watch_dirs(now));
        }
        if full {
            // A folder removed and made again needs a new watch.
            for dir in &self.feed_dirs {
                if !dir.is_dir() && self.watched.remove(dir) {
                    let _ = self.fs.unwatch(dir);
                }
            }
        }
        self.want(want, For::Feeds);
    }

    /// Pushes the status line into the session when it changed (tmux; zellij's plugin reads
    /// status.json).
    fn push_bar(&mut self, statuses: &[TrackStatus]) {
        let Mux::Tmux(tmux) = &self.mux else {
            return;
        };
        let tracks: Vec<(&str, &TrackStatus)> = self
            .feeds
            .iter()
            .map(TrackFeed::name)
            .zip(statuses)
            .collect();
        let mut windows: Vec<&str> = Vec::new();
        for p in &self.panes {
            if !windows.contains(&p.window.as_str()) {
                windows.push(&p.window);
            }
        }
        let client_width = self.clients.iter().map(|c| c.width).min();
        let left = layout::status_left(&self.state.session).chars().count();
        let width = bar_width(client_width, left, &windows);
        let marks: Vec<pk_status::render::Marks> = self
            .feeds
            .iter()
            .map(|f| {
                self.written
                    .iter()
                    .flatten()
                    .find(|e| e.name == f.name())
                    .map(pk_status::render::Marks::of)
                    .unwrap_or_default()
            })
            .collect();
        let forecasts: Vec<(&str, Option<&pk_status::forecast::Forecast>)> = self
            .feeds
            .iter()
            .map(|f| (f.name(), self.forecasts.get(f.name())))
            .collect();
        let pairs = pk_status::forecast::conflict_pairs(&forecasts);
        let warning = pk_status::forecast::conflicts_text(&pairs);
        let line = pk_status::render::tmux_with(&tracks, &marks, &warning, pairs.len(), width);
        if self.pushed.as_ref() == Some(&(line.clone(), width)) {
            return;
        }
        match tmux.run(layout::status_right(&self.state.session, &line, width)) {
            Ok(_) => self.pushed = Some((line, width)),
            Err(e) => eprintln!("pk watch: {e}"),
        }
    }

    /// Shows `text` on every client's status line for `ms` milliseconds (tmux only).
    fn show_message(&self, text: &str, ms: u64) {
        let cmds: Vec<Cmd> = self
            .clients
            .iter()
            .map(|c| {
                Cmd::new("display-message")
                    .opt("-c", &c.name)
                    .opt("-d", ms.to_string())
                    .arg(text.replace('#', "##"))
            })
            .collect();
        if let Mux::Tmux(tmux) = &self.mux
            && !cmds.is_empty()
        {
            let _ = tmux.run(cmds);
        }
    }

    /// Logs every change of state; rings, shows a message and notifies for the tracks that
    /// now need a look.
    fn announce(&mut self, statuses: &[TrackStatus]) {
        let now: Vec<(String, TrackState)> = self
            .feeds
            .iter()
            .zip(statuses)
            .map(|(f, s)| (f.name().to_string(), s.state))
            .collect();
        let Some(before) = self.shown.replace(now.clone()) else {
            return;
        };
        let mut alerts = Vec::new();
        let mut alerted = Vec::new();
        let mut outdated = false;
        for ((name, state), status) in now.iter().zip(statuses) {
            let Some((_, old)) = before.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if old == state {
                continue;
            }
            outdated |= self
                .message
                .as_ref()
                .is_some_and(|(until, names)| *until > Instant::now() && names.contains(name));
            println!(
                "{} {}, was {old}",
                clock(crate::util::clock::now_ms()),
                alert_text(name, status)
            );
            if needs_look(*old, *state) {
                alerts.push(format!("pk: {}", alert_text(name, status)));
                alerted.push(name.clone());
            }
            if let Some(notify) = &self.notify
                && crate::live::notify::worth_it(*state)
            {
                crate::live::notify::send(
                    notify,
                    crate::live::notify::Notice {
                        session: self.state.session.clone(),
                        track: name.clone(),
                        state: *state,
                        text: alert_text(name, status),
                        link: notify
                            .link
                            .clone()
                            .or_else(|| crate::live::notify::served_link(&self.state_dir)),
                    },
                );
            }
        }
        if alerts.is_empty() {
            if outdated {
                self.message = None;
                // A message of a millisecond replaces the outdated one and goes.
                self.show_message("", 1);
            }
            return;
        }
        // The bell of this window reaches the terminal (tmux's default `bell-action any`) and
        // flags the window.
        print!("\x07");
        let _ = std::io::stdout().flush();
        let text = alerts.join(" · ");
        self.show_message(&text, MESSAGE_MS);
        self.message = Some((Instant::now() + Duration::from_millis(MESSAGE_MS), alerted));
        if let Some(program) = &self.notify_send {
            let (program, session) = (program.clone(), self.state.session.clone());
            // Not waited for here: a slow notification daemon must not hold the bar.
            std::thread::spawn(move || {
                let _ = std::process::Command::new(program)
                    .args(["-a", "pk", &format!("pk {session}"), &text])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            });
        }
    }

    /// Writes status.json when an entry changed. Stops when the state folder is gone.
    fn write_status(&mut self, statuses: Vec<TrackStatus>) -> Result<Flow> {
        // Checks that ended, and those now due, first: what is written says so.
        self.checks.drive(&self.state, &self.worktrees);
        let entries: Vec<TrackEntry> = self
            .feeds
            .iter()
            .zip(statuses)
            .map(|(f, s)| {
                let pane = self
                    .panes
                    .iter()
                    .find(|p| p.track == f.name() && p.role == "agent");
                let mut entry = live::status_file::entry(f, s, pane.map(|p| p.id.clone()));
                let view = self.remotes.view(f.name());
                entry.unreachable = view.as_ref().is_some_and(|v| {
                    matches!(v.lost, Some((_, crate::live::remote::Lost::Unreachable(_))))
                });
                if let Some(theirs) = view.and_then(|v| v.entry) {
                    // The host's counts, check, owns and forecast, of the host's worktree.
                    entry.changed_files = theirs.changed_files;
                    entry.check = theirs.check;
                    entry.outside_owns = theirs.outside_owns;
                    entry.forecast = theirs.forecast;
                    return entry;
                }
                let tree = self.worktrees.iter().find(|w| w.track == f.name());
                entry.changed_files = tree.and_then(Worktree::count);
                entry.check =
                    self.checks
                        .shown(&self.state, f.name(), tree.and_then(Worktree::tree));
                entry.outside_owns =
                    tree.map_or_else(Vec::new, |w| self.owns.outside(f.name(), w.changed()));
                entry.forecast = self.forecasts.get(f.name()).cloned();
                entry
            })
            .collect();
        if self.written.as_ref() == Some(&entries) {
            return Ok(Flow::Go);
        }
        let file = StatusFile {
            version: pk_status::status_file::VERSION,
            session: self.state.session.clone(),
            updated: pk_status::Timestamp(crate::util::clock::now_ms()),
            pid: std::process::id(),
            total_cost_usd: pk_status::total_cost(entries.iter().map(|e| &e.status)),
            tracks: entries.clone(),
        };
        if let Err(e) = live::status_file::save(&file, &self.state_dir) {
            if !self.state_dir.is_dir() {
                return Ok(Flow::Stop);
            }
            eprintln!("pk watch: {e}");
            return Ok(Flow::Go);
        }
        self.written = Some(entries);
        Ok(Flow::Go)
    }
}

/// The user's `[notify]` settings; a bad file is said once and sends nothing.
fn user_notify() -> Option<crate::session::user_config::Notify> {
    let path = crate::session::user_config::path(&|k| std::env::var(k).ok())?;
    match crate::session::user_config::load(&path) {
        Ok(config) => config.notify,
        Err(e) => {
            println!("pk watch: {e} (no notifications are sent)");
            None
        }
    }
}

/// The status of a track on `host`: the host watcher's, marked when the host cannot be
/// reached (its last state kept: the agent runs on there).
fn remote_status(host: &str, view: Option<crate::live::remote::View>) -> TrackStatus {
    let view = view.unwrap_or_default();
    let mut status = view.entry.map(|e| e.status).unwrap_or_default();
    use crate::live::remote::Lost;
    status.last_error = match view.lost {
        Some((since, Lost::Unreachable(why))) => Some(format!(
            "host {host} cannot be reached since {} ({why})",
            clock(since)
        )),
        Some((since, Lost::Ended)) => Some(format!(
            "its session on host {host} ended at {}",
            clock(since)
        )),
        None => status.last_error,
    };
    status
}

/// Whether the agent pane `pane` of `track`, an interactive Claude that has shown no activity
/// yet, shows Claude Code's folder-trust dialog: no hook fires while it waits, so only the
/// pane tells. One `capture-pane` of a starting Claude track per look at the panes (tmux only).
fn claude_trust_dialog(mux: &Mux, state: &State, track: &str, pane: &str) -> bool {
    let Mux::Tmux(tmux) = mux else {
        return false;
    };
    let claude = state
        .tracks
        .iter()
        .any(|r| r.name == track && r.launch.agent == "claude");
    claude
        && tmux
            .run(vec![Cmd::new("capture-pane").flag("-p").opt("-t", pane)])
            .is_ok_and(|screen| crate::session::claude_trust::dialog_in(&screen))
}

fn set_member(set: &mut HashSet<String>, name: &str, member: bool) {
    if member {
        set.insert(name.to_string());
    } else {
        set.remove(name);
    }
}

/// The modification time of the state file, `None` when it is gone.
fn stamp(state_dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(state_dir.join("state.json"))
        .and_then(|m| m.modified())
        .ok()
}

/// Whether a file event can mean new content: opening and reading (ours included), and
/// attribute changes (access times of our own reads), cannot; nor can the watcher's own files.
fn relevant(event: &notify::Result<notify::Event>) -> bool {
    let Ok(event) = event else {
        // An error (an overflowed queue...): look at everything.
        return true;
    };
    let kind = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    };
    let own = |p: &PathBuf| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        name == live::STATUS_FILE
            || name == crate::session::check::LOG_FILE
            || name == crate::session::lock::WATCH_LOCK
            || name.starts_with(".status.json.")
            || name == budget::BUDGET_FILE
            || name.starts_with(".budget.json.")
    };
    kind && (event.paths.is_empty() || !event.paths.iter().all(own))
}

/// Gathers the rest of a burst of events.
fn settle(
    rx: &Receiver<notify::Result<notify::Event>>,
    events: &mut Vec<notify::Result<notify::Event>>,
) {
    let start = Instant::now();
    while start.elapsed() < SETTLE_MAX {
        match rx.recv_timeout(SETTLE) {
            Ok(event) => events.push(event),
            Err(_) => break,
        }
    }
}

/// Whether a change of state asks for the human's attention: the agent waits, finished,
/// failed or was stopped for its budget (and was not already in one of those).
pub(crate) fn needs_look(before: TrackState, after: TrackState) -> bool {
    let attention = |s| {
        matches!(
            s,
            TrackState::Waiting | TrackState::Done | TrackState::Error | TrackState::OverBudget
        )
    };
    before != after && attention(after)
}

/// `web waiting (Bash npm test)`, `api done $0.42`, `docs error: max turns`: the state and
/// what explains it. Clean of control characters.
pub fn alert_text(name: &str, s: &TrackStatus) -> String {
    let detail = match s.state {
        TrackState::Waiting | TrackState::Working => {
            s.last_tool.as_deref().map(|t| format!(" ({})", clean(t)))
        }
        TrackState::Error => s.last_error.as_deref().map(|e| format!(": {}", clean(e))),
        TrackState::OverBudget => s
            .budget
            .as_ref()
            .map(|b| format!(": {}", budget::spent_text(b))),
        TrackState::Done if s.has_cost() => {
            Some(format!(" {}", pk_status::render::format_status_cost(s)))
        }
        _ => None,
    };
    format!("{} {}{}", clean(name), s.state, detail.unwrap_or_default())
}

/// Columns left for the tracks on the status line: the narrowest client's width (so every
/// client sees all of it) minus the left part and the window list.
pub(crate) fn bar_width(client_width: Option<u32>, left: usize, windows: &[&str]) -> usize {
    let width = client_width.unwrap_or(DEFAULT_WIDTH) as usize;
    // ` 0:agents*` per window.
    let list: usize = windows
        .iter()
        .enumerate()
        .map(|(i, w)| i.to_string().len() + w.chars().count() + 3)
        .sum();
    width.saturating_sub(left + list + 2).max(20)
}

/// `09:14:05Z`.
fn clock(ms: i64) -> String {
    let t = pk_status::Timestamp(ms).to_rfc3339();
    format!("{}Z", t.get(11..19).unwrap_or_default())
}

/// The first executable file called `name` on `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange};

    #[test]
    fn attention_on_waiting_done_and_error_only() {
        use TrackState::*;
        assert!(needs_look(Working, Waiting));
        assert!(needs_look(Waiting, Done));
        assert!(needs_look(Working, Error));
        assert!(!needs_look(Waiting, Waiting));
        assert!(!needs_look(Waiting, Working));
        assert!(!needs_look(Working, Idle));
        assert!(!needs_look(Working, Exited));
        assert!(needs_look(Working, OverBudget));
    }

    #[test]
    fn alerts_say_why() {
        let mut s = TrackStatus {
            state: TrackState::Waiting,
            last_tool: Some("Bash npm test".into()),
            ..TrackStatus::default()
        };
        assert_eq!(alert_text("web", &s), "web waiting (Bash npm test)");
        s.state = TrackState::Error;
        s.last_error = Some("max\x1b[31m turns".into());
        assert_eq!(alert_text("web", &s), "web error: max turns");
        s.state = TrackState::Done;
        s.cost_usd = 0.5;
        assert_eq!(alert_text("web", &s), "web done $0.50");
        s.state = TrackState::OverBudget;
        s.budget = Some(pk_status::budget::BudgetUse {
            scope: pk_status::budget::Scope::Session,
            limit_usd: 0.4,
            spent_usd: 0.5,
            cost_unknown: false,
        });
        assert_eq!(
            alert_text("web", &s),
            "web over-budget: $0.50 of the session's $0.40 budget"
        );
    }

    #[test]
    fn the_bar_gets_what_the_left_and_the_windows_leave() {
        assert_eq!(
            bar_width(Some(200), 10, &["agents", "pk-watch"]),
            200 - 10 - 10 - 12 - 2
        );
        assert_eq!(bar_width(None, 10, &[]), 188);
        assert_eq!(bar_width(Some(30), 10, &["agents"]), 20);
    }

    #[test]
    fn only_changes_of_content_wake_the_watcher() {
        let ev = |kind, path: &str| Ok(notify::Event::new(kind).add_path(PathBuf::from(path)));
        let data = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert!(relevant(&ev(data, "/s/tracks/a/events.ndjson")));
        assert!(relevant(&ev(
            EventKind::Create(CreateKind::File),
            "/p/s.jsonl"
        )));
        assert!(relevant(&ev(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "/p/s.jsonl"
        )));
        assert!(!relevant(&ev(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            "/p/s.jsonl"
        )));
        assert!(!relevant(&ev(
            EventKind::Modify(ModifyKind::Metadata(notify::event::MetadataKind::Any)),
            "/p/s.jsonl"
        )));
        assert!(!relevant(&ev(data, "/s/status.json")));
        assert!(!relevant(&ev(data, "/s/.status.json.42.tmp")));
        assert!(!relevant(&ev(data, "/s/tracks/a/budget.json")));
        assert!(!relevant(&ev(data, "/s/tracks/a/.budget.json.x1")));
        assert!(relevant(&Err(notify::Error::generic("overflow"))));
    }

    #[test]
    fn clock_shows_utc_time() {
        assert_eq!(clock(1_772_442_845_102), "09:14:05Z");
    }
}
