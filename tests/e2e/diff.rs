//! `pk diff` (design §9): a track's commits, edits and new files against the merge base with
//! its base, through git, without touching the track's own index.

use pk_tests::TestEnv;

const PLAN: &str = "[session]\nname = \"shop\"\n\n[ports]\nbase = 27900\n\n[[track]]\nname = \"api\"\ncommand = [\"sleep\", \"600\"]\n";

/// A track with one commit, an edit, a new file and an ignored file; the base moved on since.
fn world() -> Option<(TestEnv, std::path::PathBuf)> {
    let env = TestEnv::with_tmux()?;
    std::fs::write(env.repo.join(".git/info/exclude"), "*.log\n").unwrap();
    env.up_detached(PLAN);
    let wt = env.worktrees().join("api");
    env.commit_file_in(
        &wt,
        "src/lib.rs",
        "pub fn f() -> u8 { 1 }\n",
        "api: f returns 1",
    );
    std::fs::write(wt.join("README.md"), "# shop, edited\n").unwrap();
    std::fs::write(wt.join("new.txt"), "brand new\n").unwrap();
    std::fs::write(wt.join("debug.log"), "noise\n").unwrap();
    env.commit_file_in(&env.repo, "other.txt", "on main\n", "main moves on");
    Some((env, wt))
}

#[test]
fn diff_shows_commits_edits_and_new_files_against_the_merge_base() {
    let Some((env, wt)) = world() else {
        return;
    };
    let index_before = env.git_in(&wt, &["diff", "--cached", "--name-status"]);
    let status_before = env.git_in(&wt, &["status", "--porcelain"]);

    let stat = env.pk_ok(&["diff", "api", "--stat"]).stdout;
    for changed in ["src/lib.rs", "README.md", "new.txt"] {
        assert!(stat.contains(changed), "{changed} missing:\n{stat}");
    }
    assert!(!stat.contains("debug.log"), "an ignored file:\n{stat}");
    assert!(
        !stat.contains("other.txt"),
        "the base's own commit:\n{stat}"
    );

    let patch = env.pk_ok(&["diff", "api"]).stdout;
    assert!(patch.contains("+pub fn f() -> u8 { 1 }"), "{patch}");
    assert!(patch.contains("+# shop, edited"), "{patch}");
    assert!(patch.contains("+brand new"), "{patch}");

    // Paths after `--` narrow it, as for git.
    let only = env.pk_ok(&["diff", "api", "--stat", "--", "src/"]).stdout;
    assert!(
        only.contains("src/lib.rs") && !only.contains("new.txt"),
        "{only}"
    );

    // The agent's index and work tree are as they were: nothing staged, nothing left behind.
    assert_eq!(
        env.git_in(&wt, &["diff", "--cached", "--name-status"]),
        index_before
    );
    assert_eq!(env.git_in(&wt, &["status", "--porcelain"]), status_before);
    let gitdir = env.git_in(&wt, &["rev-parse", "--absolute-git-dir"]);
    let left: Vec<_> = std::fs::read_dir(gitdir.trim())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pk-diff-index"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn diff_tool_opens_the_users_difftool_on_the_whole_change() {
    let Some((env, _wt)) = world() else {
        return;
    };
    let out = env.out();
    std::fs::create_dir_all(&out).unwrap();
    let listing = out.join("difftool.txt");
    let config = env.root().join("gitconfig");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[diff]\n\ttool = rec\n[difftool]\n\tprompt = false\n[difftool \"rec\"]\n\tcmd = cd \"$REMOTE\" && find . ! -type d | sort > '{}'\n",
        listing.display()
    ));
    std::fs::write(&config, text).unwrap();
    env.pk_ok(&["diff", "api", "--tool"]);
    let seen = std::fs::read_to_string(&listing).unwrap();
    for changed in ["./src/lib.rs", "./README.md", "./new.txt"] {
        assert!(seen.contains(changed), "{changed} missing:\n{seen}");
    }
    assert!(!seen.contains("debug.log"), "{seen}");
}

#[test]
fn diff_of_an_unknown_track_says_which_there_are() {
    let Some((env, _wt)) = world() else {
        return;
    };
    let run = env.pk_exits(2, &["diff", "nope"]);
    assert!(
        run.stderr.contains("no track `nope`") && run.stderr.contains("api"),
        "{run}"
    );
}
