//! Crash and fault leftovers (issue 10, cases 4-6): pk killed alone while git checks out, a
//! checkout filter that fails, a damaged or renamed state. Each time `pk down` must still
//! remove what pk made, or say what is there and not exit 0.

use pk_tests::{TestEnv, read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Two tracks, `a` and `b`, whose agents record what they see, in session `session`.
fn plan(env: &TestEnv, session: &str) -> String {
    env.recording_plan(session, 18900, &["a", "b"])
}

/// The processes working in `dir` or below (their current folder), as `pid (name)`.
fn working_in(dir: &Path) -> Vec<String> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(&dir) {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            out.push(format!(
                "{} ({})",
                entry.file_name().to_string_lossy(),
                name.trim()
            ));
        }
    }
    out
}

/// Everything pk made is gone: worktrees, git's records of them, the session, pk's folder and
/// its lock file.
fn assert_all_gone(env: &TestEnv, session: &str, ctx: &str) {
    assert_eq!(
        env.worktree_list(),
        vec![std::fs::canonicalize(&env.repo).unwrap()],
        "{ctx}: only the main checkout is left"
    );
    assert!(
        !env.repo.join(".git/worktrees").exists()
            || std::fs::read_dir(env.repo.join(".git/worktrees"))
                .unwrap()
                .next()
                .is_none(),
        "{ctx}: no worktree metadata left"
    );
    assert!(!env.worktrees().exists(), "{ctx}: the worktrees folder");
    assert!(!env.has_session(session), "{ctx}: the session is gone");
    let pk_dir = env.repo.join(".git/pk");
    assert!(
        !pk_dir.join(session).exists(),
        "{ctx}: pk's folder for the session is gone"
    );
    assert!(
        !pk_dir.join(format!("{session}.lock")).exists(),
        "{ctx}: the session's lock file is gone"
    );
}

/// A checkout that takes a while: every file goes through a smudge filter that sleeps while
/// `out/slow` exists (the test removes it once pk is dead), and says it ran in `out/smudged`.
fn slow_checkout(env: &TestEnv) {
    for i in 0..40 {
        std::fs::write(env.repo.join(format!("f{i:02}.txt")), format!("{i}\n")).unwrap();
    }
    std::fs::write(env.repo.join(".gitattributes"), "*.txt filter=slow\n").unwrap();
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "many files"]);
    let out = env.out();
    let script = format!(
        "#!/bin/sh\necho x >> '{o}/smudged'\nif [ -e '{o}/slow' ]; then sleep 0.25; fi\nexec cat\n",
        o = out.display()
    );
    env.fake_program("slow-smudge", &script);
    let filter = env.root().join("bin/slow-smudge");
    env.git(&["config", "filter.slow.smudge", &filter.to_string_lossy()]);
    env.git(&["config", "filter.slow.clean", "cat"]);
    std::fs::write(out.join("slow"), "").unwrap();
}

/// `pk up` killed alone (`signal` to pk's pid, not its group) while git checks the worktrees
/// out: no git of it lives on, the next `pk up` finishes the job and `pk down` removes all.
fn killed_alone_during_checkout(signal: &str) {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&plan(&env, "shop"));
    slow_checkout(&env);
    let smudged = env.out().join("smudged");
    let mut child = env.pk_cmd(&["up", "--detach"]).spawn().unwrap();
    env.wait_for("the checkout to start", 30, || smudged.exists());
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let _ = child.wait();

    // Nothing pk started works on in the worktrees: its git ended with it.
    pk_tests::poll_until(Duration::from_secs(3), || {
        working_in(&env.worktrees()).is_empty()
    });
    let left = working_in(&env.worktrees());
    std::fs::remove_file(env.out().join("slow")).unwrap();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "SIG{signal}: processes pk started live on in the worktrees"
    );

    env.pk_ok(&["up", "--detach"]);
    for t in ["a", "b"] {
        let wt = env.worktrees().join(t);
        assert_eq!(
            std::fs::read_to_string(wt.join("f39.txt")).unwrap_or_default(),
            "39\n",
            "SIG{signal}: track {t} is checked out"
        );
        assert_eq!(
            env.git_in(&wt, &["status", "--porcelain"]),
            "",
            "SIG{signal}: track {t} is clean"
        );
    }
    env.pk_ok(&["down"]);
    assert_all_gone(&env, "shop", &format!("SIG{signal}"));
}

#[test]
fn pk_killed_alone_during_checkout_leaves_no_git_behind() {
    killed_alone_during_checkout("KILL");
}

#[test]
fn pk_terminated_or_interrupted_during_checkout_leaves_no_git_behind() {
    killed_alone_during_checkout("TERM");
    killed_alone_during_checkout("INT");
}

/// The worktree's index file, in git's folder for it.
fn index_of(env: &TestEnv, worktree: &Path) -> PathBuf {
    let dir = env.git_in(worktree, &["rev-parse", "--absolute-git-dir"]);
    PathBuf::from(dir.trim()).join("index")
}

#[test]
fn down_copes_with_a_worktree_whose_index_is_empty() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(&env, "shop"));
    // As a git killed half way through writing it (and a pk that took its lock) left it.
    let a = env.worktrees().join("a");
    std::fs::write(index_of(&env, &a), "").unwrap();

    let run = env.pk_ok(&["down"]);
    assert!(
        run.stderr.contains("index") && run.stderr.contains("rebuilt"),
        "pk says what it repaired:\n{run}"
    );
    assert_all_gone(&env, "shop", "empty index");
}

#[test]
fn down_with_an_empty_index_still_refuses_work_and_force_saves_it() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(&env, "shop"));
    let b = env.worktrees().join("b");
    std::fs::write(b.join("wip.txt"), "my work\n").unwrap();
    std::fs::write(b.join("README.md"), "# changed\n").unwrap();
    std::fs::write(index_of(&env, &b), "").unwrap();

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("untracked: wip.txt"), "{run}");
    assert!(run.stderr.contains("changed:   README.md"), "{run}");
    assert_eq!(read(&b.join("wip.txt")), "my work\n");
    assert!(env.has_session("shop"));

    let run = env.pk_ok(&["down", "--force"]);
    assert!(run.stderr.contains("bring them back with"), "{run}");
    assert_all_gone(&env, "shop", "empty index, --force");
    let saved = env.git(&["for-each-ref", "--format=%(refname)", "refs/pk/saved/b/"]);
    let saved = saved.trim();
    assert!(!saved.is_empty(), "the work is saved on a ref");
    assert_eq!(env.git(&["show", &format!("{saved}:wip.txt")]), "my work\n");
    assert_eq!(
        env.git(&["show", &format!("{saved}:README.md")]),
        "# changed\n"
    );
}

#[test]
fn up_with_a_failing_checkout_filter_fails_and_down_removes_everything() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&plan(&env, "shop"));
    // A required smudge filter whose program is missing (committed before it is configured,
    // else the commit itself would need the filter).
    std::fs::write(env.repo.join(".gitattributes"), "* filter=broken\n").unwrap();
    env.git(&["add", ".gitattributes"]);
    env.git(&["commit", "-q", "-m", "filter"]);
    env.git(&["config", "filter.broken.smudge", "pk-test-missing-prog"]);
    env.git(&["config", "filter.broken.required", "true"]);
    std::fs::write(env.repo.join("notes.txt"), "mine\n").unwrap();

    let run = env.pk_exits(1, &["up", "--detach"]);
    assert!(
        run.stderr.contains("failed to check out the worktree of")
            && run.stderr.contains("smudge filter broken failed")
            && run.stderr.contains("`pk down` removes what it made"),
        "says why:\n{run}"
    );

    // `--delete-branches`: the branches pk made for it hold no commit of their own.
    let run = env.pk_ok(&["down", "--delete-branches"]);
    assert!(run.stderr.contains("could not check out"), "{run}");
    assert_all_gone(&env, "shop", "failed filter");
    assert_eq!(env.git(&["branch", "--list", "pk/*"]), "");
    // Nothing of the user's is lost.
    assert_eq!(read(&env.repo.join("notes.txt")), "mine\n");
}

/// A session up with work committed in track `a`: what pk must find again without its record.
fn up_with_commit(env: &TestEnv, session: &str) {
    env.up_detached(&plan(env, session));
    let a = env.worktrees().join("a");
    env.commit_file_in(&a, "feature.txt", "done\n", "feature");
}

#[test]
fn down_finds_what_pk_made_when_its_damaged_state_was_moved_aside() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    up_with_commit(&env, "shop");
    let dir = env.repo.join(".git/pk/shop");
    std::fs::write(dir.join("state.json"), "{damaged").unwrap();
    let run = env.pk_exits(1, &["down"]);
    assert!(run.stderr.contains("move it aside"), "{run}");
    // As the hint says.
    std::fs::rename(dir.join("state.json"), dir.join("state.json.damaged")).unwrap();
    // Work in b: refused, nothing touched.
    let b = env.worktrees().join("b");
    std::fs::write(b.join("wip.txt"), "wip\n").unwrap();
    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("untracked: wip.txt"), "{run}");
    assert!(
        run.stderr.contains("pk has no record of session `shop`")
            && run.stderr.contains("tmux session shop")
            && run.stderr.contains("worktree a")
            && run.stderr.contains("on branch pk/b"),
        "says what it found:\n{run}"
    );
    assert_eq!(env.worktree_list().len(), 3);
    assert!(env.has_session("shop"));

    std::fs::remove_file(b.join("wip.txt")).unwrap();
    let run = env.pk_ok(&["down"]);
    assert!(run.stderr.contains("session shop is down"), "{run}");
    assert_eq!(env.worktree_list().len(), 1, "{run}");
    assert!(!env.worktrees().exists());
    assert!(!env.has_session("shop"));
    assert!(!env.repo.join(".git/pk/shop.lock").exists());
    // The record moved aside is the user's now: kept, and said.
    assert_eq!(read(&dir.join("state.json.damaged")), "{damaged");
    assert!(run.stderr.contains("state.json.damaged"), "{run}");
    // The commit of track a is still on its branch.
    assert_eq!(env.git(&["show", "pk/a:feature.txt"]), "done\n");
}

#[test]
fn down_leaves_a_worktree_it_cannot_tell_is_its_own_and_says_so() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    up_with_commit(&env, "shop");
    // A worktree in pk's folder on a branch that is not its track's.
    env.git(&["branch", "mine"]);
    let mine = env.worktrees().join("mine");
    env.git(&["worktree", "add", "-q", &mine.to_string_lossy(), "mine"]);
    std::fs::remove_file(env.repo.join(".git/pk/shop/state.json")).unwrap();

    let run = env.pk_exits(1, &["down"]);
    assert!(
        run.stderr.contains("left alone 1 worktree") && run.stderr.contains("mine"),
        "{run}"
    );
    assert!(mine.join("README.md").exists(), "not touched");
    assert_eq!(env.worktree_list().len(), 2, "pk's went, the other stayed");
    assert!(!env.has_session("shop"));
}

#[test]
fn down_tears_down_the_session_the_plan_renamed_while_it_was_up() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    up_with_commit(&env, "shop");
    env.write_plan(&plan(&env, "store"));

    let run = env.pk_ok(&["down"]);
    assert!(
        run.stderr.contains("the plan names session `store`")
            && run.stderr.contains("as session `shop`"),
        "names the session it tears down:\n{run}"
    );
    assert_all_gone(&env, "shop", "renamed");
    assert!(!env.repo.join(".git/pk/store.lock").exists());
    assert!(!env.repo.join(".git/pk/store").exists());
    assert_eq!(env.git(&["show", "pk/a:feature.txt"]), "done\n");
}

#[test]
fn down_without_anything_of_pk_still_says_nothing_to_tear_down() {
    let env = TestEnv::new();
    env.write_plan(&plan(&env, "shop"));
    let run = env.pk_ok(&["down"]);
    assert!(run.stderr.contains("nothing to tear down"), "{run}");
    assert!(!env.repo.join(".git/pk/shop.lock").exists());
}

#[test]
fn up_removes_a_lock_left_in_a_worktree_only_once_its_holder_is_gone() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&plan(&env, "shop"));
    // pk dies once git registered the worktree of `a`, before checking it out.
    let out = env
        .pk_cmd(&["up", "--detach"])
        .env("PK_FAULT_AT", "up:worktree-added:a")
        .output()
        .unwrap();
    assert!(!out.status.success());
    // A git still at work there, as one an older pk left running: it holds the index's lock.
    let lock = env.repo.join(".git/worktrees/a/index.lock");
    let mut holder = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec 3>\"$0\"; exec sleep 60")
        .arg(&lock)
        .spawn()
        .unwrap();
    env.wait_for("the lock to be taken", 10, || lock.exists());
    // The holder is `sleep` (exec'd with the lock open), as a git at work would be.
    env.wait_for("the lock holder to be sleep", 10, || {
        std::fs::read_to_string(format!("/proc/{}/comm", holder.id()))
            .is_ok_and(|c| c.trim() == "sleep")
    });

    let run = env.pk(&["up", "--detach"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(run.code, 3, "{run}");
    assert!(
        run.stderr.contains(&format!("pid {}", holder.id())) && run.stderr.contains("index.lock"),
        "names the holder:\n{run}"
    );
    assert!(lock.exists(), "a held lock is not removed");

    // Its holder gone, the lock is stale: removed, and the worktree made.
    env.pk_ok(&["up", "--detach"]);
    assert!(!lock.exists());
    assert_eq!(
        env.git_in(&env.worktrees().join("a"), &["status", "--porcelain"]),
        ""
    );
    env.pk_ok(&["down"]);
    assert_all_gone(&env, "shop", "held lock");
}

/// Renames the session's record (`state.json`) to `state.json.aside`: pk has none.
fn move_record_aside(env: &TestEnv) {
    let dir = env.repo.join(".git/pk/shop");
    std::fs::rename(dir.join("state.json"), dir.join("state.json.aside")).unwrap();
}

/// Track `a` copies `.env` (ignored: the test repository's `.gitignore` has it) and
/// `local.cfg` (not ignored) from the main checkout.
fn up_with_copies(env: &TestEnv) -> PathBuf {
    std::fs::write(env.repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::write(env.repo.join("local.cfg"), "port = 1\n").unwrap();
    env.up_detached(&format!(
        "[session]\nname = \"shop\"\n[ports]\nbase = 18900\n[env]\nOUT = \"{}\"\n\
         [[track]]\nname = \"a\"\ncopy = [\".env\", \"local.cfg\"]\n{}\n",
        env.out().display(),
        env.recording_agent()
    ));
    let a = env.worktrees().join("a");
    assert!(a.join(".env").exists() && a.join("local.cfg").exists());
    a
}

#[test]
fn down_without_its_record_knows_its_own_unchanged_copies() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_copies(&env);
    move_record_aside(&env);

    let run = env.pk_ok(&["down"]);
    assert!(run.stderr.contains("session shop is down"), "{run}");
    assert!(!a.exists(), "{run}");
    assert_eq!(env.worktree_list().len(), 1, "{run}");
    assert!(
        env.git(&["for-each-ref", "refs/pk/saved"]).is_empty(),
        "no copy of the secrets saved: {run}"
    );
    assert_eq!(
        read(&env.repo.join(".env")),
        "SECRET=1\n",
        "the source stays"
    );
}

#[test]
fn down_without_its_record_counts_an_edited_copy_as_work() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_copies(&env);
    std::fs::write(a.join("local.cfg"), "port = 2\n").unwrap();
    move_record_aside(&env);

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("untracked: local.cfg"), "{run}");
    assert!(
        !run.stderr.contains(".env"),
        "the unchanged copy is pk's: {run}"
    );
    assert_eq!(read(&a.join("local.cfg")), "port = 2\n");
}

#[test]
fn down_without_its_record_removes_a_track_worktree_switched_to_another_branch() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    up_with_commit(&env, "shop");
    let a = env.worktrees().join("a");
    env.git_in(&a, &["switch", "-q", "-c", "fix"]);
    env.commit_file_in(&a, "fix.txt", "fixed\n", "fix");
    std::fs::remove_file(env.repo.join(".git/pk/shop/state.json")).unwrap();

    let run = env.pk_ok(&["down"]);
    assert!(
        run.stderr.contains("worktree a") && run.stderr.contains("on branch fix"),
        "says the branch it is on: {run}"
    );
    assert!(!a.exists(), "{run}");
    assert_eq!(env.worktree_list().len(), 1, "{run}");
    assert_eq!(
        env.git(&["show", "fix:fix.txt"]),
        "fixed\n",
        "its commits stay"
    );
}

/// A `git config` killed with pk leaves `.git/config.lock`; pk's next write of the
/// configuration (the push guard's include) removes it once no process holds it, rather than
/// fail: `pk down` (and `pk up`) go on.
#[test]
fn a_config_lock_left_by_a_killed_git_stops_neither_down_nor_up() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&env.recording_plan("shop", 27280, &["api"]));
    let lock = env.repo.join(".git/config.lock");
    std::fs::write(&lock, "[core]\n").unwrap();
    let down = env.pk(&["down"]);
    assert_eq!(down.code, 0, "{down}");
    assert!(!lock.exists());
    std::fs::write(&lock, "[core]\n").unwrap();
    let up = env.pk(&["up", "--detach"]);
    assert_eq!(up.code, 0, "{up}");
    assert!(!lock.exists());
    env.pk_ok(&["down"]);
}

/// A `git update-ref` killed with an earlier `pk down --force` in the same second left the lock
/// of the ref the work is saved on: the next one saves all the same.
#[test]
fn a_ref_lock_left_by_a_killed_save_does_not_stop_the_next_one() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&env.recording_plan("shop", 27290, &["api"]));
    let wt = env.worktrees().join("api");
    std::fs::write(wt.join("wip.txt"), "wip\n").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let dir = env.repo.join(".git/refs/pk/saved/api");
    std::fs::create_dir_all(&dir).unwrap();
    for t in now..now + 30 {
        std::fs::write(dir.join(format!("{t}.lock")), "").unwrap();
    }
    let down = env.pk(&["down", "--force"]);
    assert_eq!(down.code, 0, "{down}");
    let refs = env.git(&["for-each-ref", "--format=%(refname)", "refs/pk/saved/api/"]);
    let saved = refs.lines().next().expect("the work saved on a ref");
    assert_eq!(env.git(&["show", &format!("{saved}:wip.txt")]), "wip\n");
}
