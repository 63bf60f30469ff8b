//! Teardown, the domain of `pk down`: end the session and remove exactly the worktrees pk's state says it created,
//! refusing (exit 3) when that would lose uncommitted or untracked work, unless `--force` — and
//! even then the work is first saved on a ref of its own.
//!
//! Crash safety (design §7): every step checks reality before it acts and records what it did
//! right after, so a `pk down` killed at any point is finished by the next one, and one that
//! meets the leftovers of a killed `pk up` (a worktree registered but never checked out, a
//! branch made but no worktree) removes them too.

use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::fault;
use crate::output::Style;
use crate::session::hidden_work::{Hidden, Keep};
use crate::session::lock::SessionLock;
use crate::session::ports;
use crate::session::state::{State, TrackRecord};
use crate::session::workspace::Workspace;
use crate::sys::git::{Dirt, Git, Removal};
use std::path::{Path, PathBuf};

pub(crate) mod landed;
mod repair;
mod unrecorded;

/// What `pk down` was asked to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct Down {
    /// The plan file given, if any.
    pub(crate) plan: Option<PathBuf>,
    /// Remove worktrees with work (saved first).
    pub(crate) force: bool,
    /// Delete the merged branches pk created.
    pub(crate) delete_branches: bool,
}

/// Runs `pk down`.
pub(crate) fn down(ctx: &Ctx, args: &Down) -> Result<()> {
    down_target(ctx, args, Target::open(ctx, args.plan.as_deref())?)
}

/// `pk down` of the session of `ws` (a host's, [`crate::session::on_host`]).
pub(crate) fn down_in(ctx: &Ctx, ws: Workspace, args: &Down) -> Result<()> {
    let target = Target {
        session: ws.plan.session.name.clone(),
        state_dir: ws.state_dir,
        git: ws.git,
        plan: Some(ws.plan),
    };
    down_target(ctx, args, target)
}

fn down_target(ctx: &Ctx, args: &Down, mut target: Target) -> Result<()> {
    let mut lock = SessionLock::acquire(target.git.common_dir(), &target.session)?;
    let mut loaded = State::load(&target.state_dir)?;
    if loaded.is_none()
        && let Some(renamed) = unrecorded::renamed(ctx, &target)?
    {
        // The plan renamed the session while it was up: pk's record of it is under the old name.
        lock.remove()?;
        lock = SessionLock::acquire(renamed.git.common_dir(), &renamed.session)?;
        loaded = State::load(&renamed.state_dir)?;
        target = renamed;
    }
    let Some(mut state) = loaded else {
        return unrecorded::tear_down(ctx, args, &target, lock);
    };
    let mux = crate::sys::mux::Mux::of(
        ctx,
        Some(state.mux_record()),
        crate::plan::Multiplexer::Tmux,
    );
    let git = &target.git;
    // The plan's `keep` when it loads, else the one recorded at `pk up`, else the default.
    let keep = Keep::new(
        &(target.plan.as_ref().map(|p| p.session.keep.clone()))
            .or_else(|| state.keep.clone())
            .unwrap_or_else(Keep::default_globs),
    )?;
    // What a killed pk (and the git it ran) left half made or half removed goes first.
    for rec in &state.tracks {
        crate::session::recover::remove_remains(git, rec)?;
    }

    // Look before touching anything: a refusal changes nothing (but for finishing what a killed
    // pk left half made), the session keeps running.
    // One `git status` per worktree, all at once: this scan is most of `pk down`'s time.
    let present: Vec<&TrackRecord> = state
        .tracks
        .iter()
        .filter(|r| r.worktree_created && is_worktree(&r.worktree))
        .collect();
    let checked = crate::util::parallel::in_parallel(&present, |rec| {
        // A worktree a crash of `pk up` left without files is filled first (else every file
        // would look deleted), one whose index git cannot read gets a new one.
        if let Some(said) = repair::fill(git, rec)? {
            ctx.out.warn(&said);
        }
        let said = |s: &str| ctx.out.warn(s);
        repair::checked(git, &rec.worktree, &rec.name, said, || {
            users_dirt(git, &state.repo_root, rec, &keep)
        })
    });
    let mut dirty: Vec<(String, PathBuf, Dirt, Hidden)> = Vec::new();
    // Hidden work and the ignored files to summarise, of every worktree present.
    let mut hidden_of: Vec<(String, Hidden)> = Vec::new();
    for (rec, dirt) in present.iter().zip(checked) {
        let (dirt, hidden) = dirt?;
        if !dirt.is_clean() || hidden.is_work() {
            dirty.push((rec.name.clone(), rec.worktree.clone(), dirt, hidden.clone()));
        }
        hidden_of.push((rec.name.clone(), hidden));
    }
    if !dirty.is_empty() && !args.force {
        return Err(refusal(&dirty));
    }
    fault::point("down:checked");
    // The hosts' tracks, with the hosts' own checks, before anything here goes: a host that
    // refuses stops the run as a dirty worktree here does.
    crate::session::remote::tear_down(
        ctx,
        &target.state_dir,
        &state,
        args.force,
        args.delete_branches,
    )?;

    if mux.has_session(&state.session) {
        mux.kill_session(&state.session)?;
        ctx.out.step(&format!(
            "  {} {} session {}",
            ctx.out.paint(Style::Red, "-"),
            mux.name(),
            state.session
        ));
    } else if let crate::sys::mux::Mux::Zellij(z) = &mux {
        // A zellij session that ended by itself can still be resurrected: forget it too.
        z.kill_session(&state.session)?;
    }
    fault::point("down:session-killed");
    // What the tracks started and the session's end did not end (design: process groups, not
    // orphans): dev servers under `nohup`, background jobs, the agents' children.
    let ended = crate::sys::procs::end_all(&target.state_dir);
    if ended > 0 {
        ctx.out.step(&format!(
            "  {} {ended} process(es) the tracks left running",
            ctx.out.paint(Style::Red, "-"),
        ));
    }
    fault::point("down:processes-ended");
    // The watcher is gone with the session: its stream's connection to a host goes too.
    crate::session::remote::close_all(&target.state_dir, &state);

    // One by one, what is quick or rare: forget worktrees deleted by hand, save the work of
    // dirty ones (--force), mark the rest as being removed and delete pk's own copies from the
    // clean ones. Then remove all at once.
    // Per track: `None` when its folder is already gone, else what to remove.
    let mut removals: Vec<(usize, Option<Removal>)> = Vec::new();
    for i in 0..state.tracks.len() {
        let rec = state.tracks[i].clone();
        if !rec.worktree_created {
            continue;
        }
        if !is_worktree(&rec.worktree) {
            // Deleted by hand (or by a killed removal, whose remains went above): drop git's
            // record of it, and only ours.
            crate::session::recover::remove_stale_metadata(git, &rec.worktree)?;
            removals.push((i, None));
            continue;
        }
        let dirt = dirty.iter().find(|(n, _, _, _)| *n == rec.name);
        let hidden = hidden_of
            .iter()
            .find(|(n, _)| *n == rec.name)
            .map(|(_, h)| h);
        let leaving = Leaving {
            track: &rec.name,
            worktree: &rec.worktree,
            branch: &rec.branch,
        };
        save_keep_and_summarise(
            ctx,
            git,
            &state.session,
            &leaving,
            dirt.map(|(_, _, d, h)| (d, h)),
            hidden,
        )?;
        // Recorded before git removes anything (and after the work is saved): what a removal
        // killed half way leaves is then known to be pk's, and a `pk up` after a kill here
        // copies the copies in again.
        state.tracks[i].worktree_removing = true;
        state.save(&target.state_dir)?;
        if dirt.is_none() {
            remove_own_copies(&state.repo_root, &rec)?;
        }
        removals.push((
            i,
            Some(Removal {
                path: rec.worktree.clone(),
                // Saved work, or files a killed removal deleted or a failed checkout never
                // wrote (all that differ, checked above): git would refuse them as changes.
                // And a worktree with submodules, which git removes only with `--force` even
                // when clean: pk checked them above (their files, commits and `keep` files)
                // like the rest.
                saved: dirt.is_some()
                    || rec.worktree_removing
                    || !rec.worktree_ready
                    || hidden.is_some_and(|h| h.has_submodules),
            }),
        ));
    }
    let to_remove: Vec<Removal> = removals.iter().filter_map(|(_, r)| r.clone()).collect();
    let mut results = git.remove_worktrees(&to_remove).into_iter();
    let mut failure = None;
    for (i, removal) in &removals {
        let result = match removal {
            Some(_) => results.next().expect("one result per removal"),
            None => Ok(()),
        };
        if let Err(e) = result {
            failure.get_or_insert(e);
            continue;
        }
        let rec = &mut state.tracks[*i];
        fault::point(&format!("down:worktree-removed:{}", rec.name));
        ctx.out.step(&format!(
            "  {} worktree {} ({})",
            ctx.out.paint(Style::Red, "-"),
            rec.name,
            rec.worktree.display()
        ));
        rec.worktree_created = false;
        rec.worktree_removing = false;
        let name = rec.name.clone();
        state.save(&target.state_dir)?;
        fault::point(&format!("down:worktree-recorded:{name}"));
    }
    if let Some(e) = failure {
        return Err(e);
    }

    // `push = false`: the includes of the tracks' git configuration go with the worktrees.
    for rec in &state.tracks {
        crate::session::push_guard::remove(git, &target.state_dir, &rec.name)?;
    }
    fault::point("down:pushes-unguarded");
    // A pk killed while making or deleting one of its branches leaves git's lock on it.
    for rec in state.tracks.iter().filter(|r| r.branch_created) {
        crate::session::recover::remove_stale_ref_lock(git, &rec.branch)?;
    }
    if args.delete_branches {
        delete_branches(ctx, git, &state)?;
    }
    if let Some(dir) = &state.worktrees_dir {
        // Only if empty: anything else in it is not pk's.
        let _ = std::fs::remove_dir(dir);
    }
    ports::release(&target.state_dir, None)?;
    fault::point("down:ports-released");
    // The demo folder holds the state folder: removed with it, so no crash in between can
    // leave the demo without the record that says pk made it.
    let demo = state.demo_root.as_deref();
    let demo_holds_state = demo.is_some_and(|root| target.state_dir.starts_with(root));
    if let Some(root) = demo.filter(|_| demo_holds_state) {
        crate::session::demo::remove_demo(ctx, root)?;
    }
    if target.state_dir.exists() {
        std::fs::remove_dir_all(&target.state_dir)
            .with_context(|| format!("failed to remove {}", target.state_dir.display()))?;
    }
    lock.remove()?;
    ctx.out.step(&format!(
        "session {} is down",
        ctx.out.paint(Style::Bold, &state.session)
    ));
    if let Some(root) = demo.filter(|_| !demo_holds_state) {
        crate::session::demo::remove_demo(ctx, root)?;
    }
    Ok(())
}

/// The session to tear down. Taken from the plan; when the plan no longer loads (edited into
/// an invalid state, say), from pk's state that records this plan file, so a broken plan never
/// keeps a user from tearing down what pk made.
struct Target {
    git: Git,
    session: String,
    state_dir: PathBuf,
    /// The plan, when it loads: what pk made is looked for from it when pk has no record, and
    /// its `keep` globs are the user's latest word.
    plan: Option<crate::plan::Plan>,
}

impl Target {
    fn open(ctx: &Ctx, explicit: Option<&Path>) -> Result<Target> {
        let plan_err = match Workspace::open(ctx, explicit) {
            Ok(ws) => {
                return Ok(Target {
                    session: ws.plan.session.name.clone(),
                    state_dir: ws.state_dir,
                    git: ws.git,
                    plan: Some(ws.plan),
                });
            }
            Err(e) => e,
        };
        let Ok(path) = crate::plan::find_plan(explicit, &ctx.cwd) else {
            return Err(plan_err);
        };
        let path = crate::util::fs::canonical(&path);
        let Ok(git) = Git::discover(path.parent().unwrap_or(Path::new("/"))) else {
            return Err(plan_err);
        };
        let found = unrecorded::records_of(&git, &path);
        match found.as_slice() {
            [(session, dir)] => {
                ctx.out.warn(&format!(
                    "the plan does not load; tearing down session `{session}` from pk's record of it"
                ));
                Ok(Target {
                    session: session.clone(),
                    state_dir: dir.clone(),
                    git,
                    plan: None,
                })
            }
            _ => Err(plan_err),
        }
    }
}

fn sh(path: &Path) -> String {
    crate::sys::shell::quote(&path.to_string_lossy())
}

fn is_worktree(path: &Path) -> bool {
    path.join(".git").exists()
}

/// The worktree's changed and untracked files, less the untracked copies pk made itself that
/// are still identical to their source in the main checkout. In a worktree whose removal was killed half way (checked clean or saved before it began),
/// the files it deleted are not the user's work either, nor, in one pk never finished making,
/// the files its checkout did not write. With the work `git status` does not show
/// ([`crate::session::hidden_work`]).
pub(crate) fn users_dirt(
    git: &Git,
    root: &Path,
    rec: &TrackRecord,
    keep: &Keep,
) -> Result<(Dirt, Hidden)> {
    let is_pks = |f: &Path| is_pks_copy(root, rec, f);
    let (mut dirt, hidden) =
        crate::session::hidden_work::scan(git, &rec.worktree, &rec.branch, keep, &is_pks)?;
    dirt.untracked
        .retain(|f| !is_pks_copy(root, rec, Path::new(f)));
    if rec.worktree_removing || !rec.worktree_ready {
        dirt.changed
            .retain(|f| std::fs::symlink_metadata(rec.worktree.join(f)).is_ok());
    }
    Ok((dirt, hidden))
}

/// The worktree's changed and untracked files, less pk's own copies: what `git status` shows
/// of the user's work, without [`users_dirt`]'s look at ignored files and hidden commits (for
/// a worktree that stays).
pub(crate) fn plain_dirt(git: &Git, root: &Path, rec: &TrackRecord) -> Result<Dirt> {
    let mut dirt = crate::sys::git::parse_status(&git.status_raw(&rec.worktree)?);
    dirt.untracked
        .retain(|f| !is_pks_copy(root, rec, Path::new(f)));
    Ok(dirt)
}

fn is_own_copy(root: &Path, worktree: &Path, copied: &[PathBuf], file: &Path) -> bool {
    copied.iter().any(|c| c == file)
        && match (
            std::fs::read(root.join(file)),
            std::fs::read(worktree.join(file)),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// Deletes pk's own unchanged copies so that `git worktree remove` (without `--force`) sees a
/// clean worktree. Called only once the worktree was found clean but for them.
fn remove_own_copies(root: &Path, rec: &TrackRecord) -> Result<()> {
    for file in &rec.copied {
        let path = rec.worktree.join(file);
        if is_pks_copy(root, rec, file) && std::fs::symlink_metadata(&path).is_ok() {
            std::fs::remove_file(&path)
                .with_context(|| format!("failed to remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// A copy pk made: identical to its source, or any recorded copy in a worktree pk had not
/// finished making (a kill may have cut it short; the worktree was never handed over).
fn is_pks_copy(root: &Path, rec: &crate::session::state::TrackRecord, file: &Path) -> bool {
    is_own_copy(root, &rec.worktree, &rec.copied, file)
        || (!rec.worktree_ready && rec.copied.iter().any(|c| c == file))
}

/// A worktree `pk down` is about to remove.
struct Leaving<'a> {
    track: &'a str,
    worktree: &'a Path,
    /// The branch it is on, for the command that brings saved work back.
    branch: &'a str,
}

/// What `pk down` does with a worktree before git removes it, with pk's record or without:
/// when it has work (`dirty`, only with `--force` by now), saves its files on a ref and keeps
/// its hidden work (commits, nested repositories); then says, one line per top folder, the
/// ignored files that go with it.
fn save_keep_and_summarise(
    ctx: &Ctx,
    git: &Git,
    session: &str,
    w: &Leaving<'_>,
    dirty: Option<(&Dirt, &Hidden)>,
    hidden: Option<&Hidden>,
) -> Result<()> {
    if let Some((dirt, hidden)) = dirty {
        if (!dirt.is_clean() || !hidden.kept.is_empty())
            && let Some((saved, files)) = save_work(git, w.track, w.worktree, hidden)?
        {
            fault::point(&format!("down:work-saved:{}", w.track));
            ctx.out.step(&format!(
                "  {} saved {files} uncommitted file(s) of {} on {saved}\n    bring them back with:\n      git -C {} worktree add {} {} && git -C {} restore --source {saved} --worktree -- .",
                ctx.out.paint(Style::Yellow, "!"),
                w.track,
                sh(git.root()),
                sh(w.worktree),
                crate::sys::shell::quote(w.branch),
                sh(w.worktree),
            ));
        }
        for said in
            crate::session::hidden_work::keep_hidden(git, session, w.track, w.worktree, hidden)?
        {
            ctx.out
                .step(&format!("  {} {said}", ctx.out.paint(Style::Yellow, "!")));
        }
    }
    // Nothing ignored goes without a word: one line per top folder.
    for line in hidden
        .map(crate::session::hidden_work::summary)
        .unwrap_or_default()
    {
        ctx.out.step(&format!(
            "  {} ignored in {}: {line}",
            ctx.out.paint(Style::Red, "-"),
            w.track
        ));
    }
    Ok(())
}

fn refusal(dirty: &[(String, PathBuf, Dirt, Hidden)]) -> Error {
    let mut msg = format!(
        "refusing to remove {} worktree(s) with work that is not committed:",
        dirty.len()
    );
    for (name, path, dirt, hidden) in dirty {
        msg.push_str(&format!("\n  {name} ({})", path.display()));
        for f in &dirt.changed {
            msg.push_str(&format!("\n    changed:   {f}"));
        }
        for f in &dirt.untracked {
            msg.push_str(&format!("\n    untracked: {f}"));
        }
        hidden.describe(&mut msg);
    }
    Error::refused(msg)
        .hint("commit or stash that work, then run `pk down` again")
        .hint(
            "or `pk down --force`: the work is saved on a ref under refs/pk/saved/ first \
             (nested repositories and submodules are moved whole under .git/pk-saved/)",
        )
}

/// Saves every changed and untracked (not ignored) file of a worktree, and the ignored ones
/// `keep` names, as a commit on `refs/pk/saved/<track>/<unix time>`, without touching its index
/// or files. Nested repositories are left out (they are moved aside whole). Returns the ref and
/// how many files it saved; `None` when there is no file to save (a submodule's new commit,
/// say, which is moved aside instead).
fn save_work(
    git: &Git,
    track: &str,
    worktree: &Path,
    hidden: &Hidden,
) -> Result<Option<(String, usize)>> {
    let index = tempfile_path(worktree);
    let run = |args: &[&str]| -> Result<String> {
        let mut cmd = git.command_in(worktree);
        cmd.env("GIT_INDEX_FILE", &index).args(args);
        if !has_identity(git, worktree) {
            cmd.env("GIT_AUTHOR_NAME", "pk")
                .env("GIT_AUTHOR_EMAIL", "pk@localhost")
                .env("GIT_COMMITTER_NAME", "pk")
                .env("GIT_COMMITTER_EMAIL", "pk@localhost");
        }
        let out = cmd.output().context("failed to run git")?;
        if !out.status.success() {
            return Err(Error::failure(format!(
                "`git {}` failed in {}",
                args.join(" "),
                worktree.display()
            ))
            .wrap_cause(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let result = (|| {
        run(&["read-tree", "HEAD"])?;
        let mut add: Vec<String> = ["add", "-A", "--", "."].map(String::from).to_vec();
        add.extend(
            hidden
                .nested
                .iter()
                .map(|n| format!(":(exclude,literal){}", n.path)),
        );
        run(&add.iter().map(String::as_str).collect::<Vec<_>>())?;
        // The ignored files `keep` names; literal paths: a file named `*.db` is that file.
        for chunk in hidden.kept.chunks(500) {
            let mut add = vec!["--literal-pathspecs", "add", "-f", "--"];
            add.extend(chunk.iter().map(String::as_str));
            run(&add)?;
        }
        // What the saved commit changes, counted: the status lists a submodule that the
        // commit leaves out.
        let files = run(&["diff-index", "--cached", "--name-only", "-z", "HEAD", "--"])?
            .split('\0')
            .filter(|f| !f.is_empty())
            .count();
        if files == 0 {
            return Ok(None);
        }
        let tree = run(&["write-tree"])?;
        let message = format!("pk: work of track {track} saved by pk down --force");
        let commit = run(&["commit-tree", &tree, "-p", "HEAD", "-m", &message])?;
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!("refs/pk/saved/{track}/{secs}");
        // A `git update-ref` killed with an earlier pk down in the same second left its lock.
        crate::sys::git::clear_stale_lock(&git.common_dir().join(&name))?;
        run(&["update-ref", &name, &commit])?;
        Ok(Some((name, files)))
    })();
    let _ = std::fs::remove_file(&index);
    result.map_err(|e: Error| {
        e.wrap(format!(
            "failed to save the work of track `{track}`; nothing was removed"
        ))
    })
}

fn tempfile_path(worktree: &Path) -> PathBuf {
    std::env::temp_dir().join(format!(
        "pk-save-{}-{}.index",
        std::process::id(),
        worktree.file_name().unwrap_or_default().to_string_lossy()
    ))
}

fn has_identity(git: &Git, dir: &Path) -> bool {
    let mut cmd = git.command_in(dir);
    cmd.args(["var", "GIT_COMMITTER_IDENT"]);
    cmd.output().is_ok_and(|o| o.status.success())
}

fn delete_branches(ctx: &Ctx, git: &Git, state: &State) -> Result<()> {
    let mut kept = Vec::new();
    for rec in state.tracks.iter().filter(|r| r.branch_created) {
        if !git.branch_exists(&rec.branch) {
            continue;
        }
        if git.is_merged(&rec.branch, &rec.base)? {
            git.delete_branch(&rec.branch)?;
            fault::point(&format!("down:branch-deleted:{}", rec.name));
            ctx.out.step(&format!(
                "  {} branch {} (merged into {})",
                ctx.out.paint(Style::Red, "-"),
                rec.branch,
                rec.base
            ));
        } else {
            kept.push(format!("{} (not merged into {})", rec.branch, rec.base));
        }
    }
    if !kept.is_empty() {
        ctx.out
            .step("kept branches with commits that are not in their base:");
        for k in kept {
            ctx.out.step(&format!("  {k}"));
        }
    }
    Ok(())
}
