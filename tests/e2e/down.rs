//! `pk down` end to end: refuses to lose work, removes exactly what pk made.

use pk_tests::{TestEnv, read};
use std::path::PathBuf;

/// Two tracks, `a` and `b`, whose agents record what they see.
fn plan(env: &TestEnv) -> String {
    env.recording_plan("shop", 18100, &["a", "b"])
}

/// Brings up [`plan`]: tracks `a` and `b`; returns the worktree of `a`.
fn up(env: &TestEnv) -> PathBuf {
    env.up_detached(&plan(env));
    env.worktrees().join("a")
}

#[test]
fn down_refuses_a_dirty_worktree_and_removes_nothing() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up(&env);
    std::fs::write(a.join("notes.txt"), "my work\n").unwrap();
    std::fs::write(a.join("README.md"), "# changed\n").unwrap();

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("untracked: notes.txt"), "{run}");
    assert!(run.stderr.contains("changed:   README.md"), "{run}");
    assert!(run.stderr.contains(&a.display().to_string()), "{run}");
    // Nothing changed: worktrees, files and the session are all there.
    assert_eq!(env.worktree_list().len(), 3);
    assert_eq!(read(&a.join("notes.txt")), "my work\n");
    assert!(env.has_session("shop"));
    assert!(env.repo.join(".git/pk/shop/state.json").exists());
}

#[test]
fn down_force_saves_the_work_on_a_ref_then_removes() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up(&env);
    std::fs::write(a.join("notes.txt"), "my work\n").unwrap();

    let run = env.pk_ok(&["down", "--force"]);
    assert!(run.stderr.contains("bring them back with"), "{run}");
    assert_eq!(
        env.worktree_list().len(),
        1,
        "only the main checkout is left"
    );
    assert!(
        !env.worktrees().exists(),
        "the worktrees folder pk made is gone"
    );
    assert!(!env.has_session("shop"));
    assert!(!env.repo.join(".git/pk/shop").exists());
    // The saved work is reachable.
    let refs = env.git(&["for-each-ref", "--format=%(refname)", "refs/pk/saved/"]);
    let saved = refs.lines().next().expect("a saved ref");
    assert!(saved.starts_with("refs/pk/saved/a/"), "{refs}");
    assert_eq!(
        env.git(&["show", &format!("{saved}:notes.txt")]),
        "my work\n"
    );
    // Branches stay.
    assert!(env.git(&["branch", "--list", "pk/a"]).contains("pk/a"));

    // The printed command brings the work back.
    env.run_printed_restore(&run.stderr);
    assert_eq!(read(&a.join("notes.txt")), "my work\n");
}

#[test]
fn down_delete_branches_deletes_merged_and_keeps_unmerged() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.git(&["branch", "mine"]);
    let a = up(&env);
    env.commit_file_in(&a, "feature.txt", "done\n", "feature");

    let run = env.pk_ok(&["down", "--delete-branches"]);
    assert!(
        run.stdout.contains("pk/a") || run.stderr.contains("pk/a (not merged into main)"),
        "{run}"
    );
    let branches = env.git(&["branch", "--list", "--format=%(refname:short)"]);
    assert!(
        branches.lines().any(|b| b == "pk/a"),
        "unmerged branch kept: {branches}"
    );
    assert!(
        !branches.lines().any(|b| b == "pk/b"),
        "merged branch deleted: {branches}"
    );
    assert!(
        branches.lines().any(|b| b == "mine"),
        "a branch pk did not make is untouched"
    );
    assert_eq!(env.worktree_list().len(), 1);
}

#[test]
fn down_removes_only_what_pk_made() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // The user's own worktree beside pk's, and a file of theirs in the worktrees folder.
    std::fs::create_dir_all(env.worktrees()).unwrap();
    std::fs::write(env.worktrees().join("keep.txt"), "mine\n").unwrap();
    let own = env.root().join("own");
    env.git(&["worktree", "add", "-q", "-b", "own", own.to_str().unwrap()]);
    up(&env);
    assert_eq!(env.worktree_list().len(), 4);
    env.pk_ok(&["down"]);
    let left = env.worktree_list();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(own.is_dir());
    assert_eq!(read(&env.worktrees().join("keep.txt")), "mine\n");
    // A second down has nothing to do.
    let again = env.pk_ok(&["down"]);
    assert!(again.stderr.contains("nothing to tear down"), "{again}");
}

#[test]
fn down_works_from_pks_record_when_the_plan_no_longer_loads() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    up(&env);
    env.write_plan(&format!("{}\nbogus = 1\n", plan(&env)));
    assert_eq!(env.pk(&["status"]).code, 2, "the plan is invalid");
    let run = env.pk_ok(&["down"]);
    assert!(run.stderr.contains("the plan does not load"), "{run}");
    assert_eq!(env.worktree_list().len(), 1);
    assert!(!env.has_session("shop"));
}

#[test]
fn down_removes_the_others_when_git_refuses_one_and_can_finish_later() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up(&env);
    // A locked worktree: clean, but `git worktree remove` (without -f -f) refuses it.
    env.git(&["worktree", "lock", a.to_str().unwrap()]);

    let run = env.pk_exits(1, &["down"]);
    assert!(run.stderr.contains("locked"), "{run}");
    assert!(a.is_dir(), "the refused one stays");
    assert!(!env.worktrees().join("b").exists(), "the others go");
    assert_eq!(env.worktree_list().len(), 2);

    // Unlocked, a second down removes what is left.
    env.git(&["worktree", "unlock", a.to_str().unwrap()]);
    env.pk_ok(&["down"]);
    assert_eq!(env.worktree_list().len(), 1);
    assert!(!env.worktrees().exists());
    assert!(!env.repo.join(".git/pk/shop").exists());
}
