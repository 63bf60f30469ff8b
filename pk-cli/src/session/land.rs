//! Landing, the domain of `pk land` (design §9): finished tracks go into their bases one at a
//! time, in `depends_on` order, and only when they are clean, pass their `done_when` on the
//! exact commit that lands, and apply without a conflict.
//!
//! - The commit that lands is made in process ([`Lander`], the forecast's merge engine) on the
//!   base's tip as it is after the tracks landed before it: each track is forecast again.
//! - `done_when` runs in the track's own worktree (its dependencies, build cache, environment
//!   and ports) on that commit: checked out there detached for the run when the base moved
//!   since the track branched, then put back. A passing result the watcher got on the same tree
//!   is used as it is.
//! - The base moves by compare-and-swap of its ref, or, when a checkout has it (the main
//!   checkout, usually), by a fast-forward there once that checkout is found clean, so its
//!   files follow.
//! - The first refusal stops the run with everything landed so far kept. A dry run makes its
//!   commits in memory, changes nothing, and gives every track's verdict.
//!
//! Crash safety: what the run is about to do to a worktree or a base is written to a journal
//! (`land.json` in the state folder) first; a run killed anywhere leaves either a track not
//! landed (its worktree put back by the next run) or landed and recorded, which the next run
//! finishes (the safe removal of [`crate::session::teardown::landed`]).

mod order;

use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::fault;
use crate::plan::{Strategy, Track};
use crate::session::check;
use crate::session::hidden_work::{Hidden, Keep};
use crate::session::lock::SessionLock;
use crate::session::state::{Landed, State, TrackRecord};
use crate::session::workspace::Workspace;
use crate::sys::git::Dirt;
use crate::sys::git::land::{Lander, Landing, Message};
use git2::Oid;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `pk land` was asked to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    /// The plan file given, if any.
    pub plan: Option<PathBuf>,
    /// The tracks to land (all of the plan's when empty).
    pub tracks: Vec<String>,
    /// Say what would happen; change nothing.
    pub dry_run: bool,
    /// Instead of the plan's `[land] strategy`.
    pub strategy: Option<Strategy>,
    /// Keep a landed track's worktree and branch.
    pub keep: bool,
}

/// What a run did, or would do, per track in landing order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// Nothing was changed.
    pub dry_run: bool,
    /// How the tracks land.
    pub strategy: Strategy,
    /// The tracks considered, in landing order.
    pub order: Vec<String>,
    /// One entry per track of `order`.
    pub tracks: Vec<Entry>,
    /// The track whose refusal stops (or would stop) the run.
    pub stopped_at: Option<String>,
}

/// One track's verdict.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    /// The track.
    pub track: String,
    /// Its base (as the plan names it).
    pub base: String,
    /// What happened.
    pub verdict: Verdict,
    /// The commit the base moved (or would move) to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Why: the refusal, or what a dry run still has to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The files a refusal is about (changed, untracked, in conflict).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Its `done_when`, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckRun>,
    /// Its worktree and branch were removed.
    pub removed: bool,
}

/// A track's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
    /// It landed.
    Landed,
    /// It would land (dry run).
    WouldLand,
    /// Its change is in its base already (landed before).
    AlreadyLanded,
    /// It has nothing to land: no commit, no change, or not up.
    Nothing,
    /// It does not land; the run stops here.
    Refused,
    /// The run stopped before it.
    NotReached,
}

/// What became of a track's `done_when`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckRun {
    /// How it went.
    pub state: CheckState,
    /// Its exit code, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u8>,
    /// The result is the watcher's, on this same tree: it did not run again.
    pub reused: bool,
    /// Its output.
    pub log: PathBuf,
}

/// How a track's `done_when` went for `pk land`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CheckState {
    /// It passed on the commit that lands.
    Pass,
    /// It failed there.
    Fail,
    /// A dry run: it runs before the track lands.
    Pending,
    /// The worktree changed since it was found clean: it was not run.
    Dirty,
}

/// The journal of a landing under way, in the state folder.
const JOURNAL_FILE: &str = "land.json";

/// What a landing is about to do: enough for the next run to put a worktree back and to tell
/// whether the base moved.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    track: String,
    branch: String,
    /// The commit the base moves to.
    result: String,
    /// The base's ref (`refs/heads/…`).
    base_ref: String,
    /// The base as the plan names it.
    base: String,
    /// The track's tip that lands.
    head: String,
}

impl Entry {
    fn new(track: &Track, verdict: Verdict) -> Entry {
        Entry {
            track: track.name.clone(),
            base: track.base.clone(),
            verdict,
            commit: None,
            reason: None,
            files: Vec::new(),
            check: None,
            removed: false,
        }
    }

    fn because(mut self, reason: impl Into<String>) -> Entry {
        self.reason = Some(reason.into());
        self
    }
}

/// Lands the tracks `req` names (all of the plan's by default); `progress` sees each entry as
/// it is decided. Errors are for what stops the run before any track: a bad request, a base
/// checkout with changes, a missing identity.
pub(crate) fn land(ctx: &Ctx, req: &Request, progress: &mut dyn FnMut(&Entry)) -> Result<Report> {
    let ws = Workspace::open(ctx, req.plan.as_deref())?;
    for name in &req.tracks {
        if !ws.plan.tracks.iter().any(|t| t.name == *name) {
            let known: Vec<_> = ws.plan.tracks.iter().map(|t| t.name.as_str()).collect();
            return Err(Error::usage(format!("no track `{name}` in the plan"))
                .hint(format!("tracks: {}", known.join(", "))));
        }
    }
    // A host's track lands from the host's clone, whose branch it is: not from here (yet).
    let remote: Vec<&Track> = ws.plan.tracks.iter().filter(|t| t.host.is_some()).collect();
    for t in remote.iter().filter(|_| req.tracks.is_empty()) {
        ctx.out.warn(&format!(
            "{} runs on host {}: not landed from here",
            t.name,
            t.host.as_deref().unwrap_or_default()
        ));
    }
    let remote: Vec<&&Track> = remote
        .iter()
        .filter(|t| req.tracks.contains(&t.name))
        .collect();
    if let Some(t) = remote.first() {
        return Err(Error::usage(format!(
            "track `{}` runs on host `{}`: pk land lands tracks of this machine only",
            t.name,
            t.host.as_deref().unwrap_or_default()
        ))
        .hint("name the tracks to land here (`pk land TRACK…`); fetch the host's branch to land it by hand"));
    }
    let _lock = SessionLock::acquire(ws.git.common_dir(), &ws.plan.session.name)?;
    let mut state = ws.state()?.ok_or_else(|| {
        Error::usage(format!(
            "session `{}` is not up: there is nothing to land",
            ws.plan.session.name
        ))
        .hint("`pk up` starts it; `pk land` lands the tracks' work once it is done")
    })?;
    let strategy = req.strategy.unwrap_or(ws.plan.land_strategy);
    if !req.dry_run {
        finish_cut_short(ctx, &ws, &mut state)?;
    } else if ws.state_dir.join(JOURNAL_FILE).exists() {
        ctx.out
            .warn("a landing was cut short; `pk land` finishes it first");
    }

    let plan_order: Vec<(&str, &[String])> = ws
        .plan
        .tracks
        .iter()
        .map(|t| (t.name.as_str(), t.depends_on.as_slice()))
        .collect();
    let order: Vec<&Track> = order::landing_order(&plan_order)
        .into_iter()
        .filter(|n| req.tracks.is_empty() || req.tracks.iter().any(|t| t == n))
        .filter_map(|n| ws.plan.tracks.iter().find(|t| t.name == n))
        .filter(|t| t.host.is_none())
        .collect();

    let lander = Lander::open(ws.git.root(), req.dry_run)?;
    let me = crate::sys::git::land::identity(&ws.git)?;
    let checkouts = base_checkouts(&ws, &lander, &order)?;
    let keep = Keep::new(&ws.plan.session.keep)?;
    let status = crate::live::status_file::load(&ws.state_dir);
    let mux = ws.mux(ctx, Some(&state));

    let mut run = Run {
        ctx,
        ws: &ws,
        lander: &lander,
        me: &me,
        strategy,
        req,
        keep: &keep,
        checkouts: &checkouts,
        tips: HashMap::new(),
        verdicts: HashMap::new(),
        scans: scan(&ws, &state, &order, req.keep, &keep),
    };
    let mut report = Report {
        dry_run: req.dry_run,
        strategy,
        order: order.iter().map(|t| t.name.clone()).collect(),
        tracks: Vec::new(),
        stopped_at: None,
    };
    // Ctrl-C stops the run between two steps rather than in the middle of one: a done_when it
    // interrupts fails (its worktree put back), and no further track starts.
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if !req.dry_run {
        signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone())
            .context("failed to set up Ctrl-C for pk land")?;
    }
    for track in order {
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) && report.stopped_at.is_none() {
            report.stopped_at = Some(track.name.clone());
            let entry =
                Entry::new(track, Verdict::Refused).because("pk land was interrupted (Ctrl-C)");
            progress(&entry);
            report.tracks.push(entry);
            continue;
        }
        let mut entry = if report.stopped_at.is_some() && !req.dry_run {
            let at = report.stopped_at.as_deref().unwrap_or_default();
            Entry::new(track, Verdict::NotReached).because(format!("pk land stopped at {at}"))
        } else {
            let busy = status
                .as_ref()
                .and_then(|s| s.tracks.iter().find(|e| e.name == track.name))
                .and_then(busy_because);
            run.one(track, &mut state, busy)?
        };
        run.verdicts.insert(track.name.clone(), entry.verdict);
        if entry.verdict == Verdict::Refused && report.stopped_at.is_none() {
            report.stopped_at = Some(track.name.clone());
        }
        progress(&entry);
        // A landed track goes (its record says it landed: a kill from here on is finished by
        // the next run).
        if !req.dry_run
            && !req.keep
            && matches!(entry.verdict, Verdict::Landed | Verdict::AlreadyLanded)
            && state.track(&track.name).is_some()
        {
            entry.removed = crate::session::teardown::landed::remove(
                ctx,
                &ws.git,
                &mux,
                &ws.state_dir,
                &mut state,
                &track.name,
            )?;
        }
        report.tracks.push(entry);
    }
    Ok(report)
}

/// Takes out of `ws`'s plan the tracks that landed and whose worktree went with the landing
/// (so that `pk up` does not start them again and `pk status` does not show them as gone);
/// returns their landings.
pub(crate) fn take_out_landed(ws: &mut Workspace) -> Result<Vec<Landed>> {
    let Some(state) = ws.state()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    ws.plan.tracks.retain(|t| {
        match state
            .landed(&t.name)
            .filter(|_| state.track(&t.name).is_none())
        {
            Some(l) => {
                out.push(l.clone());
                false
            }
            None => true,
        }
    });
    Ok(out)
}

/// One run's context.
struct Run<'a> {
    ctx: &'a Ctx,
    ws: &'a Workspace,
    lander: &'a Lander,
    me: &'a git2::Signature<'static>,
    strategy: Strategy,
    req: &'a Request,
    keep: &'a Keep,
    /// Per base ref, the checkout that has it (found clean).
    checkouts: &'a HashMap<String, PathBuf>,
    /// Per base ref, its tip as this run left it (simulated in a dry run).
    tips: HashMap<String, Oid>,
    /// The verdict of each track decided so far.
    verdicts: HashMap<String, Verdict>,
    /// Each worktree's work that is not committed, looked at for all at once first.
    scans: HashMap<String, Result<(Dirt, Hidden)>>,
}

impl Run<'_> {
    /// Decides, and unless a dry run carries out, the landing of one track.
    fn one(&mut self, track: &Track, state: &mut State, busy: Option<&str>) -> Result<Entry> {
        let refuse = |reason: String| Entry::new(track, Verdict::Refused).because(reason);
        // Its dependencies first: landed in this run or before it.
        for dep in &track.depends_on {
            let done = match self.verdicts.get(dep) {
                Some(v) => matches!(
                    v,
                    Verdict::Landed | Verdict::WouldLand | Verdict::AlreadyLanded
                ),
                None => self.landed_before(state, dep),
            };
            if !done {
                let why = match self.verdicts.get(dep) {
                    Some(Verdict::Nothing) => "which has nothing to land yet",
                    _ => "which is not landed",
                };
                return Ok(refuse(format!("it depends on {dep}, {why} (depends_on)")));
            }
        }
        let Some(rec) = state
            .track(&track.name)
            .filter(|r| r.worktree_created && r.worktree.join(".git").exists())
            .cloned()
        else {
            if state.landed(&track.name).is_some() {
                return Ok(Entry::new(track, Verdict::AlreadyLanded)
                    .because("landed before; its worktree is gone"));
            }
            let entry = Entry::new(track, Verdict::Nothing).because("not up: it has no worktree");
            return Ok(if self.req.tracks.contains(&track.name) {
                Entry {
                    verdict: Verdict::Refused,
                    ..entry
                }
            } else {
                entry
            });
        };
        let head = crate::sys::git::merge::worktree_head(&rec.worktree)?;
        if let Some(why) = busy {
            return Ok(refuse(why.to_string()));
        }
        // What lands is the track's branch: a worktree switched elsewhere (a bisect, another
        // branch) is the user's business.
        if crate::sys::git::land::is_detached(&rec.worktree)
            || self
                .lander
                .commit(&format!("refs/heads/{}", rec.branch))
                .ok()
                != Some(head)
        {
            return Ok(refuse(format!(
                "its worktree is not on its branch {}: check it out there, then land it",
                rec.branch
            )));
        }
        let (dirt, hidden) = match self.scans.remove(&track.name) {
            Some(scanned) => scanned?,
            None => crate::session::teardown::users_dirt(
                &self.ws.git,
                &state.repo_root,
                &rec,
                self.keep,
            )?,
        };
        if !dirt.is_clean() || hidden.is_work() {
            let mut files: Vec<String> = dirt
                .changed
                .iter()
                .chain(&dirt.untracked)
                .cloned()
                .collect();
            files.extend(hidden.kept.iter().cloned());
            let mut reason = String::from("its worktree has work that is not committed");
            if !hidden.commits.is_empty() || !hidden.nested.is_empty() {
                hidden.describe(&mut reason);
            }
            return Ok(Entry {
                files,
                ..refuse(reason)
            });
        }
        if let Some(l) = state.landed(&track.name)
            && l.head == head.to_string()
        {
            return Ok(Entry {
                commit: Some(l.commit.clone()),
                ..Entry::new(track, Verdict::AlreadyLanded)
                    .because("landed before; no commit since")
            });
        }
        let Some(base_ref) = self.lander.local_branch(&track.base) else {
            return Ok(refuse(format!(
                "its base `{}` is not a local branch: pk land moves local branches only",
                track.base
            )));
        };
        let tip = match self.tips.get(&base_ref) {
            Some(tip) => *tip,
            None => self.lander.commit(&base_ref)?,
        };
        let subject = subject(track);
        let message = Message {
            subject: &subject,
            branch: &rec.branch,
        };
        let result = match self
            .lander
            .land(self.strategy, tip, head, &message, self.me)?
        {
            Landing::Commit(c) => c,
            Landing::Nothing => {
                let landed_before = state.landed(&track.name).is_some();
                if !landed_before
                    && (self.lander.contains(tip, head)
                        || self.lander.changes_nothing(tip, head)?)
                {
                    return Ok(Entry::new(track, Verdict::Nothing)
                        .because(format!("no change that {} does not have", track.base)));
                }
                // Its change is in the base (landed by hand, or by a run cut short): recorded
                // as landed, so that its removal is known to lose nothing and `pk up` leaves it.
                if !self.req.dry_run {
                    record(
                        state,
                        &Journal {
                            track: track.name.clone(),
                            branch: rec.branch.clone(),
                            result: tip.to_string(),
                            base_ref: base_ref.clone(),
                            base: track.base.clone(),
                            head: head.to_string(),
                        },
                    );
                    state.save(&self.ws.state_dir)?;
                }
                return Ok(Entry::new(track, Verdict::AlreadyLanded)
                    .because(format!("{} has all of its change already", track.base)));
            }
            Landing::Conflicts { paths, at } => {
                let after: Vec<&str> = self
                    .verdicts
                    .iter()
                    .filter(|(_, v)| matches!(v, Verdict::Landed | Verdict::WouldLand))
                    .map(|(n, _)| n.as_str())
                    .collect();
                let mut reason = format!("it conflicts with {}", track.base);
                if !after.is_empty() {
                    let mut after = after;
                    after.sort();
                    reason.push_str(&format!(" once {} landed", after.join(", ")));
                }
                if let Some(at) = at {
                    reason.push_str(&format!(" (its commit {})", short(at)));
                }
                return Ok(Entry {
                    files: paths,
                    ..refuse(reason)
                });
            }
        };

        let same_tree = self.lander.tree_of(result)? == self.lander.tree_of(head)?;
        let mut entry = Entry::new(track, Verdict::WouldLand);
        entry.commit = Some(result.to_string());
        let journal = Journal {
            track: track.name.clone(),
            branch: rec.branch.clone(),
            result: result.to_string(),
            base_ref: base_ref.clone(),
            base: track.base.clone(),
            head: head.to_string(),
        };
        if let Some(command) = rec.launch.done_when.clone() {
            let run = self.check(&rec, &command, head, same_tree, &journal)?;
            if run.state == CheckState::Dirty {
                return Ok(refuse(
                    "its worktree changed while pk land ran: land it again once it is still".into(),
                ));
            }
            if run.state == CheckState::Fail {
                let code = run.code.map_or(String::new(), |c| format!(" (exit {c})"));
                let reason = format!(
                    "its done_when `{command}` failed{code} on the commit that would land; log: {}",
                    run.log.display()
                );
                entry.check = Some(run);
                return Ok(Entry {
                    verdict: Verdict::Refused,
                    ..entry.because(reason)
                });
            }
            if run.state == CheckState::Pending {
                entry.reason = Some("its done_when runs on the landed commit first".into());
            }
            entry.check = Some(run);
        }
        if self.req.dry_run {
            self.tips.insert(base_ref, result);
            return Ok(entry);
        }

        // The journal first: a kill from here on leaves a base that moved or did not, which
        // the next run tells apart.
        write_journal(&self.ws.state_dir, &journal)?;
        let moved = self.move_base(&base_ref, tip, result, &track.name);
        if let Err(e) = moved {
            remove_journal(&self.ws.state_dir)?;
            return Ok(refuse(e.to_string()));
        }
        fault::point(&format!("land:base-moved:{}", track.name));
        record(state, &journal);
        state.save(&self.ws.state_dir)?;
        fault::point(&format!("land:recorded:{}", track.name));
        remove_journal(&self.ws.state_dir)?;
        self.tips.insert(base_ref, result);
        entry.verdict = Verdict::Landed;
        entry.reason = None;
        Ok(entry)
    }

    /// Whether `dep`, not in this run, was landed before and has no commit since.
    fn landed_before(&self, state: &State, dep: &str) -> bool {
        let Some(l) = state.landed(dep) else {
            return false;
        };
        match state
            .track(dep)
            .filter(|r| r.worktree.join(".git").exists())
        {
            None => true,
            Some(rec) => crate::sys::git::merge::worktree_head(&rec.worktree)
                .is_ok_and(|h| h.to_string() == l.head),
        }
    }

    /// Runs (or, in a dry run, judges) the track's `done_when` on the commit that lands.
    fn check(
        &self,
        rec: &TrackRecord,
        command: &str,
        head: Oid,
        same_tree: bool,
        journal: &Journal,
    ) -> Result<CheckRun> {
        let state_dir = &self.ws.state_dir;
        let log = check::log_path(state_dir, &rec.name);
        let status_raw = self.ws.git.status_raw(&rec.worktree)?;
        let dirt = crate::sys::git::parse_status(&status_raw);
        if !dirt.is_clean() {
            return Ok(CheckRun {
                state: CheckState::Dirty,
                code: None,
                reused: false,
                log,
            });
        }
        let fingerprint = check::tree(Some(&head.to_string()), &status_raw, &rec.worktree);
        let last = check::load(state_dir, &rec.name)
            .filter(|o| same_tree && o.tree == fingerprint && o.command == command);
        match &last {
            Some(o) if o.passed => {
                return Ok(CheckRun {
                    state: CheckState::Pass,
                    code: Some(o.code),
                    reused: true,
                    log,
                });
            }
            Some(o) if self.req.dry_run => {
                return Ok(CheckRun {
                    state: CheckState::Fail,
                    code: Some(o.code),
                    reused: true,
                    log,
                });
            }
            _ if self.req.dry_run => {
                return Ok(CheckRun {
                    state: CheckState::Pending,
                    code: None,
                    reused: false,
                    log,
                });
            }
            _ => {}
        }
        if !same_tree {
            // The base moved since the track branched: the landed tree is checked where the
            // track's dependencies and build live, on a detached HEAD, then put back.
            write_journal(state_dir, journal)?;
            // The commit stays in the worktree's reflog: held on a ref of pk's, it is not taken
            // for work on no branch by `pk down` or a later `pk land`.
            self.ws.git.set_ref(
                &checked_ref(&rec.name),
                &journal.result,
                "pk land: the commit done_when ran on",
            )?;
            let mut cmd = self.ws.git.command_in(&rec.worktree);
            cmd.args(["checkout", "--quiet", "--detach", &journal.result]);
            self.ws.git.stdout_of(cmd, None).map_err(|e| {
                e.wrap(format!(
                    "failed to check out the commit to land in {}",
                    rec.worktree.display()
                ))
            })?;
            fault::point(&format!("land:checked-out:{}", rec.name));
        }
        self.ctx
            .out
            .step(&format!("  {} running done_when `{command}`", rec.name));
        let ran = check::run(&check::Run {
            command,
            dir: &rec.worktree,
            env: &rec.launch.env,
            log: &log,
        });
        let ran = match ran {
            Ok(r) => r,
            Err(e) => {
                if !same_tree {
                    put_back(self.ws, rec, &journal.result)?;
                    remove_journal(state_dir)?;
                }
                return Err(e);
            }
        };
        let (passed, code) = ran;
        if !same_tree {
            // Back on its branch at once, passed or not: the landing itself needs no checkout.
            put_back(self.ws, rec, &journal.result)?;
            remove_journal(state_dir)?;
        }
        if same_tree {
            // The worktree's own tree: the result is the track's check, in the bar too.
            let outcome = check::Outcome {
                command: command.to_string(),
                passed,
                code,
                at: pk_status::Timestamp(crate::util::clock::now_ms()),
                tree: fingerprint,
            };
            check::save(state_dir, &rec.name, &outcome)?;
        }
        fault::point(&format!("land:checked:{}", rec.name));
        Ok(CheckRun {
            state: if passed {
                CheckState::Pass
            } else {
                CheckState::Fail
            },
            code: Some(code),
            reused: false,
            log,
        })
    }

    /// Moves the base's ref from `tip` to `result`: where a checkout has it (looked for again
    /// now: the user may have switched since the run began), by a fast-forward there, so its
    /// files follow (found clean before the run; should it have changed since, git carries the
    /// changes over or refuses, never overwriting one); else by compare-and-swap of the ref.
    /// Then checks that the ref is at `result`.
    fn move_base(&self, base_ref: &str, tip: Oid, result: Oid, track: &str) -> Result<()> {
        match self.lander.checkout_of(base_ref) {
            Some(dir) => {
                if !self.checkouts.contains_key(base_ref) {
                    let changed = self.ws.git.tracked_changes(&dir)?;
                    if !changed.is_empty() {
                        return Err(dirty_checkout(&dir, &changed));
                    }
                }
                let mut cmd = self.ws.git.command_in(&dir);
                cmd.args(["merge", "--ff-only", "--quiet", &result.to_string()]);
                self.ws.git.stdout_of(cmd, None).map(drop).map_err(|e| {
                    e.wrap(format!(
                        "the checkout at {} could not follow",
                        dir.display()
                    ))
                })?;
            }
            None => {
                self.lander
                    .move_ref(base_ref, result, tip, &format!("pk land: {track}"))?;
            }
        }
        if self.lander.commit(base_ref)? != result {
            return Err(Error::refused(format!(
                "{base_ref} did not move to the landing of {track}: was the checkout switched meanwhile?"
            )));
        }
        Ok(())
    }
}

/// The work that is not committed in the worktree of every track of `order` that is up, all
/// at once (a `git status` each: most of the time of a run): with `keep` what `git status`
/// shows, else also what `pk down` would refuse to lose (ignored `keep` files, hidden commits).
fn scan(
    ws: &Workspace,
    state: &State,
    order: &[&Track],
    keep: bool,
    keep_globs: &Keep,
) -> HashMap<String, Result<(Dirt, Hidden)>> {
    let recs: Vec<TrackRecord> = order
        .iter()
        .filter_map(|t| state.track(&t.name))
        .filter(|r| r.worktree_created && r.worktree.join(".git").exists())
        .cloned()
        .collect();
    let scanned = crate::util::parallel::in_parallel(&recs, |rec| {
        if keep {
            crate::session::teardown::plain_dirt(&ws.git, &state.repo_root, rec)
                .map(|d| (d, Hidden::default()))
        } else {
            crate::session::teardown::users_dirt(&ws.git, &state.repo_root, rec, keep_globs)
        }
    });
    recs.into_iter().map(|r| r.name).zip(scanned).collect()
}

/// The squash commit's subject: the track's name and its prompt's first line.
fn subject(track: &Track) -> String {
    let first = track
        .prompt
        .as_deref()
        .and_then(|p| p.lines().map(str::trim).find(|l| !l.is_empty()))
        .map(|l| crate::util::text::visible(l, false));
    let mut s = match first {
        Some(line) => format!("{}: {line}", track.name),
        None => format!("{}: land branch {}", track.name, track.branch),
    };
    if s.chars().count() > 72 {
        s = s.chars().take(71).collect::<String>() + "…";
    }
    s
}

fn short(oid: Oid) -> String {
    oid.to_string()[..7].to_string()
}

/// Per base ref of `tracks`, the checkout that has it checked out; an error (nothing landed)
/// when that checkout has changes to tracked files.
fn base_checkouts(
    ws: &Workspace,
    lander: &Lander,
    tracks: &[&Track],
) -> Result<HashMap<String, PathBuf>> {
    let mut out = HashMap::new();
    for track in tracks {
        let Some(base_ref) = lander.local_branch(&track.base) else {
            continue;
        };
        if out.contains_key(&base_ref) {
            continue;
        }
        let Some(dir) = lander.checkout_of(&base_ref) else {
            continue;
        };
        let changed = ws.git.tracked_changes(&dir)?;
        if !changed.is_empty() {
            return Err(dirty_checkout(&dir, &changed));
        }
        out.insert(base_ref, dir);
    }
    Ok(out)
}

fn dirty_checkout(dir: &Path, changed: &[String]) -> Error {
    let mut msg = format!(
        "{} has the base checked out, with changes: pk land moves a checked-out base only when its checkout is clean",
        dir.display()
    );
    for f in changed {
        msg.push_str(&format!("\n    changed:   {f}"));
    }
    Error::refused(msg).hint(format!(
        "commit or stash them (`git -C {} stash`), then run `pk land` again",
        crate::sys::shell::quote(&dir.to_string_lossy())
    ))
}

/// Records a landing in the state (replacing an earlier one of the track).
fn record(state: &mut State, j: &Journal) {
    state.landed.retain(|l| l.track != j.track);
    state.landed.push(Landed {
        track: j.track.clone(),
        base: j.base.clone(),
        commit: j.result.clone(),
        head: j.head.clone(),
        at_ms: crate::util::clock::now_ms(),
    });
}

/// Puts a worktree that a check left on the detached commit `result` back on its branch. Does
/// nothing when it is on its branch. When HEAD moved on from `result` (someone committed there
/// meanwhile), that work is kept on a ref first and the worktree is left as it is.
fn put_back(ws: &Workspace, rec: &TrackRecord, result: &str) -> Result<()> {
    if !crate::sys::git::land::is_detached(&rec.worktree) {
        return Ok(());
    }
    let head = crate::sys::git::merge::worktree_head(&rec.worktree)?;
    if head.to_string() != result {
        let secs = crate::util::clock::now_ms() / 1000;
        let kept = format!("refs/pk/saved/{}/{secs}-detached", rec.name);
        ws.git.set_ref(
            &kept,
            &head.to_string(),
            "pk land: commits made on the checked commit",
        )?;
        return Err(Error::refused(format!(
            "the worktree of {} got commits while pk land had it on the commit it checked; they are kept on {kept}",
            rec.name
        ))
        .hint(format!(
            "put them on the branch (`git -C {} checkout -B {} {kept}` if they belong there), then run `pk land` again",
            crate::sys::shell::quote(&rec.worktree.to_string_lossy()),
            rec.branch
        )));
    }
    let mut cmd = ws.git.command_in(&rec.worktree);
    cmd.args(["checkout", "--quiet", &rec.branch]);
    ws.git.stdout_of(cmd, None).map(drop).map_err(|e| {
        e.wrap(format!(
            "failed to put {} back on {}",
            rec.worktree.display(),
            rec.branch
        ))
    })
}

/// The ref that holds the commit a track's `done_when` last ran on in its worktree.
pub(crate) fn checked_ref(track: &str) -> String {
    format!("refs/pk/checked/{track}")
}

/// Why a track's agent or check makes it too early to land, from the watcher's view.
fn busy_because(e: &pk_status::status_file::TrackEntry) -> Option<&'static str> {
    use pk_status::TrackState::{Waiting, Working};
    if matches!(e.status.state, Working | Waiting) {
        return Some(
            "its agent is in a turn (working or waiting): land it once the turn has ended",
        );
    }
    if e.check
        .as_ref()
        .is_some_and(|c| c.state == pk_status::status_file::CheckState::Running)
    {
        return Some("its done_when is running: land it once the check has ended");
    }
    None
}

fn write_journal(state_dir: &Path, j: &Journal) -> Result<()> {
    let text = serde_json::to_vec_pretty(j).context("failed to encode the landing's journal")?;
    crate::util::fs::write_atomically(&state_dir.join(JOURNAL_FILE), &text)
}

fn remove_journal(state_dir: &Path) -> Result<()> {
    match std::fs::remove_file(state_dir.join(JOURNAL_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::failure(format!(
            "failed to remove {}",
            state_dir.join(JOURNAL_FILE).display()
        ))
        .wrap_cause(e.to_string())),
        _ => Ok(()),
    }
}

/// For `pk up`: a worktree a killed `pk land` left on the commit it was checking goes back on
/// its branch before its agent starts there (the rest of that landing is `pk land`'s to finish).
pub(crate) fn put_back_cut_short(ws: &Workspace) -> Result<()> {
    let Ok(text) = std::fs::read(ws.state_dir.join(JOURNAL_FILE)) else {
        return Ok(());
    };
    let (Ok(j), Some(state)) = (serde_json::from_slice::<Journal>(&text), ws.state()?) else {
        return Ok(());
    };
    match state
        .track(&j.track)
        .filter(|r| r.worktree.join(".git").exists())
    {
        Some(rec)
            if crate::sys::git::parse_status(&ws.git.status_raw(&rec.worktree)?).is_clean() =>
        {
            put_back(ws, rec, &j.result)
        }
        _ => Ok(()),
    }
}

/// Finishes what a killed `pk land` left: the worktree it checked a commit out in goes back on
/// its branch, and a base that moved is recorded as the track's landing (whose removal the run
/// then finishes, as for any landed track).
fn finish_cut_short(ctx: &Ctx, ws: &Workspace, state: &mut State) -> Result<()> {
    let path = ws.state_dir.join(JOURNAL_FILE);
    let Ok(text) = std::fs::read(&path) else {
        return Ok(());
    };
    let Ok(j) = serde_json::from_slice::<Journal>(&text) else {
        ctx.out
            .warn(&format!("{} is damaged; ignored", path.display()));
        return remove_journal(&ws.state_dir);
    };
    if let Some(rec) = state
        .track(&j.track)
        .filter(|r| r.worktree.join(".git").exists())
        .cloned()
        && crate::sys::git::land::is_detached(&rec.worktree)
    {
        let dirt = crate::sys::git::parse_status(&ws.git.status_raw(&rec.worktree)?);
        if !dirt.is_clean() {
            let mut msg = format!(
                "the worktree of {} is on the commit a cut-short `pk land` was checking, with changes",
                j.track
            );
            for f in dirt.changed.iter().chain(&dirt.untracked) {
                msg.push_str(&format!("\n    {f}"));
            }
            return Err(Error::refused(msg).hint(format!(
                "keep what you need, then `git -C {} checkout {}` and run `pk land` again",
                crate::sys::shell::quote(&rec.worktree.to_string_lossy()),
                rec.branch
            )));
        }
        put_back(ws, &rec, &j.result)?;
    }
    let lander = Lander::open(ws.git.root(), false)?;
    let moved = match (lander.commit(&j.base_ref), Oid::from_str(&j.result)) {
        (Ok(tip), Ok(result)) => lander.contains(tip, result),
        _ => false,
    };
    if moved && state.landed(&j.track).is_none_or(|l| l.commit != j.result) {
        record(state, &j);
        state.save(&ws.state_dir)?;
    }
    ctx.out.step(&format!(
        "  finished a landing of {} that was cut short ({})",
        j.track,
        if moved {
            "it had landed"
        } else {
            "it had not landed"
        }
    ));
    remove_journal(&ws.state_dir)
}
