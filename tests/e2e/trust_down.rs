//! `pk down` never loses work that `git status` does not show (issue 10, cases 1-3): ignored
//! files that are the user's (`[session] keep`), commits no ref holds, nested repositories and
//! submodules. Real git, real tmux, the real `pk` binary.

use pk_tests::{Run, TestEnv, read, write_file as write};
use std::path::{Path, PathBuf};

/// One track, `a`, whose agent just waits; `session` is extra `[session]` lines.
fn plan(session: &str) -> String {
    format!(
        "[session]\n{session}\n[ports]\nbase = 18700\n[[track]]\nname = \"a\"\ncommand = [\"sleep\", \"600\"]\n"
    )
}

/// A repository whose `.gitignore` (committed) is `ignores`, with the plan, up: returns the
/// worktree of track `a`.
fn up_ignoring(env: &TestEnv, ignores: &str, session: &str) -> PathBuf {
    std::fs::write(env.repo.join(".gitignore"), ignores).unwrap();
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignores"]);
    env.up_detached(&plan(session));
    env.worktrees().join("a")
}

/// A repository whose `.gitignore` ignores local files, databases and a build folder, with
/// the plan, up: returns the worktree of track `a`.
fn up_with_ignores(env: &TestEnv, session: &str) -> PathBuf {
    up_ignoring(env, ".env\n.env.local\n*.db\ntarget/\nsecrets/\n", session)
}

/// `pk down --force`, which must succeed and remove the worktree `a`.
fn force_down(env: &TestEnv, a: &Path) -> Run {
    let run = env.pk_ok(&["down", "--force"]);
    assert!(!a.exists(), "{run}");
    run
}

/// The refs that hold the commit `sha`, one a line.
fn refs_holding(env: &TestEnv, sha: &str) -> String {
    env.git(&["for-each-ref", "--contains", sha, "--format=%(refname)"])
}

/// Asserts the repository at `dir` has the commit `sha`.
fn assert_has_commit(env: &TestEnv, dir: &Path, sha: &str) {
    env.git_in(dir, &["cat-file", "-e", &format!("{sha}^{{commit}}")]);
}

/// The one folder under `.git/pk-saved/shop/a/` (one `pk down --force`).
fn moved_aside(env: &TestEnv) -> PathBuf {
    let dir = env.repo.join(".git/pk-saved/shop/a");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.pop().unwrap()
}

#[test]
fn down_refuses_ignored_work_files_and_force_saves_them() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "");
    write(&a.join(".env.local"), "SECRET=1\n");
    write(&a.join("data/app.db"), "rows\n");
    write(&a.join("target/debug/app"), &"x".repeat(3000));

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("ignored:   .env.local"), "{run}");
    assert!(run.stderr.contains("ignored:   data/app.db"), "{run}");
    assert!(!run.stderr.contains("ignored:   target"), "{run}");
    assert_eq!(env.worktree_list().len(), 2, "nothing removed");
    assert!(a.join("data/app.db").exists());
    assert!(env.has_session("shop"));

    let run = force_down(&env, &a);
    // The build folder went, and said so with its size.
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("target/") && l.contains("2.9 KiB")),
        "{run}"
    );
    // The printed command brings every saved file back, ignored ones included.
    env.run_printed_restore(&run.stderr);
    assert_eq!(read(&a.join(".env.local")), "SECRET=1\n");
    assert_eq!(read(&a.join("data/app.db")), "rows\n");
}

#[test]
fn down_summarises_disposable_ignored_folders_and_removes_them() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "");
    for i in 0..20 {
        write(
            &a.join(format!("target/debug/deps/f{i}.o")),
            &"y".repeat(1024),
        );
    }

    let run = env.pk_ok(&["down"]);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("target/"))
        .unwrap_or_else(|| panic!("no summary of target/:\n{run}"));
    assert!(line.contains("20.0 KiB"), "{line}");
    assert!(line.contains("20 files"), "{line}");
    assert_eq!(
        run.stderr.lines().filter(|l| l.contains("target/")).count(),
        1,
        "one line for the folder: {run}"
    );
    assert!(!a.exists());
}

#[test]
fn down_keep_from_the_plan_replaces_the_default() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "keep = [\"secrets/**\"]");
    write(&a.join("secrets/key.pem"), "KEY\n");
    write(&a.join(".env.local"), "not kept by this plan\n");

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("ignored:   secrets/key.pem"), "{run}");
    assert!(!run.stderr.contains("ignored:   .env.local"), "{run}");
    let run = env.pk_ok(&["down", "--force"]);
    let saved = env.git(&["for-each-ref", "--format=%(refname)", "refs/pk/saved/a/"]);
    let saved = saved.lines().next().expect("a saved ref");
    assert_eq!(
        env.git(&["show", &format!("{saved}:secrets/key.pem")]),
        "KEY\n",
        "{run}"
    );
}

#[test]
fn down_uses_the_keep_recorded_at_up_when_the_plan_no_longer_loads() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "keep = [\"secrets/**\"]");
    write(&a.join("secrets/key.pem"), "KEY\n");
    env.write_plan(&format!("{}\nbogus = 1\n", plan("keep = [\"secrets/**\"]")));

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("the plan does not load"), "{run}");
    assert!(run.stderr.contains("ignored:   secrets/key.pem"), "{run}");
    assert!(a.join("secrets/key.pem").exists());
}

#[test]
fn invalid_keep_glob_exits_2_at_its_line_and_column() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&plan("keep = [\".env*\", \"data/[x\"]"));
    for args in [&["up", "--detach"][..], &["check"][..]] {
        let run = env.pk_exits(2, args);
        assert!(run.stderr.contains("parallel.toml:2:18"), "{run}");
        assert!(run.stderr.contains("data/[x"), "{run}");
    }
    assert_eq!(env.worktree_list().len(), 1, "nothing made");
}

#[test]
fn down_refuses_a_detached_head_commit_and_force_keeps_it() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "");
    env.git_in(&a, &["checkout", "-q", "--detach"]);
    let sha = env.commit_file_in(&a, "work.txt", "detached work\n", "work on a detached head");

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains(&sha[..7]), "{run}");
    assert!(run.stderr.contains("work on a detached head"), "{run}");
    assert_eq!(env.worktree_list().len(), 2, "nothing removed");

    let run = env.pk_ok(&["down", "--force"]);
    assert!(run.stderr.contains("refs/pk/saved/a/"), "{run}");
    assert!(!a.exists());
    assert_has_commit(&env, &env.repo, &sha);
    let holding = refs_holding(&env, &sha);
    assert!(holding.contains("refs/pk/saved/a/"), "{holding}");
}

#[test]
fn down_refuses_a_commit_left_only_in_the_reflog_and_force_keeps_it() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "");
    let sha = env.commit_file_in(&a, "work.txt", "reset away\n", "work then reset");
    env.git_in(&a, &["reset", "-q", "--hard", "HEAD~1"]);

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains(&sha[..7]), "{run}");
    assert!(run.stderr.contains("work then reset"), "{run}");

    let run = force_down(&env, &a);
    let holding = refs_holding(&env, &sha);
    assert!(holding.contains("refs/pk/saved/a/"), "{holding}\n{run}");
}

/// A rebase and an amend of the message leave the old commits in the reflog, but their change
/// is on the branch: not work, no refusal (a rebase onto a moved base is routine).
#[test]
fn down_does_not_count_commits_whose_change_the_branch_has() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "");
    env.commit_file_in(&a, "work.txt", "feature\n", "feature");
    env.commit_file_in(&env.repo, "other.txt", "main moves on\n", "main moves on");
    env.git_in(&a, &["rebase", "-q", "main"]);
    env.git_in(
        &a,
        &["commit", "-q", "--amend", "-m", "feature, better said"],
    );

    let run = env.pk_ok(&["down"]);
    assert!(!a.exists(), "{run}");
    assert_eq!(
        env.git(&["show", "pk/a:work.txt"]),
        "feature\n",
        "the branch holds the change"
    );
}

#[test]
fn down_force_keeps_a_nested_repository_whole() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignores(&env, "");
    let sub = a.join("tools/sub");
    std::fs::create_dir_all(&sub).unwrap();
    env.git_in(&sub, &["init", "-q", "-b", "main"]);
    let sha = env.commit_file_in(&sub, "lib.txt", "history\n", "nested history");
    write(&sub.join("draft.txt"), "untracked in the nested repo\n");

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("tools/sub"), "{run}");

    let run = force_down(&env, &a);
    let kept = moved_aside(&env).join("tools/sub");
    assert!(
        run.stderr.contains(&kept.display().to_string()),
        "the new place is printed: {run}"
    );
    assert_has_commit(&env, &kept, &sha);
    assert_eq!(
        read(&kept.join("draft.txt")),
        "untracked in the nested repo\n"
    );
}

/// A repository `lib` beside the test's repository, added to it as submodule `lib`.
fn add_submodule(env: &TestEnv) {
    let lib = env.root().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    env.git_in(&lib, &["init", "-q", "-b", "main"]);
    env.commit_file_in(&lib, "lib.txt", "v1\n", "lib v1");
    env.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        lib.to_str().unwrap(),
        "lib",
    ]);
    env.git(&["commit", "-q", "-m", "add lib"]);
}

fn init_submodule(env: &TestEnv, worktree: &Path) {
    env.git_in(
        worktree,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "update",
            "-q",
            "--init",
        ],
    );
    assert!(worktree.join("lib/lib.txt").exists());
}

/// The submodule `lib` ([`add_submodule`]) in the repository, the plan up ([`up_with_ignores`])
/// and the submodule initialised in track `a`'s worktree, which it returns.
fn up_with_submodule(env: &TestEnv) -> PathBuf {
    add_submodule(env);
    let a = up_with_ignores(env, "");
    init_submodule(env, &a);
    a
}

/// Writes `text` to `lib.txt` of the submodule `lib` and commits it there as "lib v2"; returns
/// the commit's hash.
fn commit_lib_v2(env: &TestEnv, lib: &Path, text: &str) -> String {
    write(&lib.join("lib.txt"), text);
    env.git_in(lib, &["commit", "-q", "-am", "lib v2"]);
    env.git_in(lib, &["rev-parse", "HEAD"]).trim().to_string()
}

#[test]
fn down_force_keeps_a_submodules_unpushed_commit() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_submodule(&env);
    let lib = a.join("lib");
    let sha = commit_lib_v2(&env, &lib, "v2, not pushed\n");
    // The superproject records it, so its own status is clean: only the submodule has it.
    env.git_in(&a, &["commit", "-q", "-am", "use lib v2"]);

    let run = env.pk_exits(3, &["down"]);
    assert!(run.stderr.contains("lib"), "{run}");
    assert!(run.stderr.contains(&sha[..7]), "{run}");

    force_down(&env, &a);
    let kept = moved_aside(&env).join("lib");
    assert_has_commit(&env, &kept, &sha);
    assert_eq!(read(&kept.join("lib.txt")), "v2, not pushed\n");
    assert_eq!(
        env.git_in(&kept, &["status", "--porcelain"]),
        "",
        "a whole repository, its files matching its history"
    );
}

#[test]
fn down_removes_a_clean_worktree_with_an_initialised_submodule() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_submodule(&env);

    let run = env.pk_ok(&["down"]);
    assert!(!a.exists(), "{run}");
    assert_eq!(env.worktree_list().len(), 1);
    assert!(!env.repo.join(".git/pk-saved").exists(), "nothing to keep");
}

#[test]
fn down_force_keeps_a_submodule_commit_the_superproject_does_not_record() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_submodule(&env);
    let lib = a.join("lib");
    let sha = commit_lib_v2(&env, &lib, "v2, only here\n");
    write(&lib.join("draft.txt"), "untracked in the submodule\n");

    env.pk_exits(3, &["down"]);
    // The saved commit of the superproject holds only a pointer to it: the submodule itself
    // must survive.
    let run = force_down(&env, &a);
    let kept = moved_aside(&env).join("lib");
    assert!(run.stderr.contains(&kept.display().to_string()), "{run}");
    assert_has_commit(&env, &kept, &sha);
    assert_eq!(
        read(&kept.join("draft.txt")),
        "untracked in the submodule\n"
    );
}

/// A repository whose `.gitignore` ignores whole folders, as Flask's (`instance/`) and npm's
/// do, with the plan, up: returns the worktree of track `a`.
fn up_with_ignored_folders(env: &TestEnv) -> PathBuf {
    up_ignoring(env, "instance/\nnode_modules/\n", "")
}

#[test]
fn down_refuses_a_database_by_name_inside_an_ignored_folder_and_force_saves_it() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignored_folders(&env);
    write(&a.join("instance/app.sqlite"), "rows\n");

    let run = env.pk_exits(3, &["down"]);
    assert!(
        run.stderr.contains("ignored:   instance/app.sqlite"),
        "{run}"
    );
    assert!(a.join("instance/app.sqlite").exists(), "nothing removed");
    assert_eq!(env.worktree_list().len(), 2, "nothing removed");

    let run = force_down(&env, &a);
    env.run_printed_restore(&run.stderr);
    assert_eq!(read(&a.join("instance/app.sqlite")), "rows\n");
}

#[test]
fn down_removes_a_packages_database_fixture_under_an_ignored_node_modules() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_ignored_folders(&env);
    write(&a.join("node_modules/pkg/x.db"), "fixture\n");

    let run = env.pk_ok(&["down"]);
    assert!(!a.exists(), "{run}");
    assert!(
        run.stderr.contains("ignored in a: node_modules/"),
        "said it goes: {run}"
    );
}

#[test]
fn down_force_counts_the_files_it_saved_not_the_submodule_it_moved() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let a = up_with_submodule(&env);
    let lib = a.join("lib");
    commit_lib_v2(&env, &lib, "v2, only here\n");
    write(&a.join("notes.txt"), "mine\n");

    let run = force_down(&env, &a);
    assert!(
        run.stderr.contains("saved 1 uncommitted file(s) of a"),
        "notes.txt, not the submodule moved aside whole: {run}"
    );
    env.run_printed_restore(&run.stderr);
    assert_eq!(read(&a.join("notes.txt")), "mine\n");
}
