//! Concurrency and a changing world: `pk down` while `pk up` runs, the tmux server killed
//! under the watcher, a worktree folder deleted by hand, the main checkout switched to another
//! branch or detached. Each ends with a clear message and a state from which `pk up` continues
//! and `pk down` cleans up, with nothing corrupted. (Two `pk up` at once: tests/e2e/up.rs.)

use pk_tests::TestEnv;
use std::path::PathBuf;
use std::time::Duration;

fn plan(env: &TestEnv, port: u16, tracks: &[&str]) -> String {
    let mut text = format!(
        "[session]\nname = \"shop\"\nbase = \"main\"\n\n[ports]\nbase = {port}\n\n[env]\nOUT = {out:?}\n",
        out = env.out().to_string_lossy()
    );
    for t in tracks {
        text.push_str(&format!(
            "\n[[track]]\nname = \"{t}\"\n{}\n",
            env.recording_agent()
        ));
    }
    text
}

fn state_dir(env: &TestEnv) -> PathBuf {
    env.repo.join(".git/pk/shop")
}

/// What `pk down` must leave: no session, no worktree but the main checkout, no record of
/// one in git, no state, and a repository git finds whole.
fn assert_all_gone(env: &TestEnv) {
    assert!(!env.has_session("shop"));
    assert_eq!(env.worktree_list(), std::slice::from_ref(&env.repo));
    let admin = env.repo.join(".git/worktrees");
    assert!(
        std::fs::read_dir(&admin).map_or(true, |mut d| d.next().is_none()),
        "git still records worktrees in {}",
        admin.display()
    );
    assert!(!state_dir(env).exists(), "pk's state is left");
    assert!(
        env.git(&["worktree", "prune", "--dry-run", "-v"])
            .is_empty(),
        "stale worktree records"
    );
    env.git(&["fsck", "--no-progress"]);
}

/// The pids of `pk watch` processes of this test's session.
fn watchers(env: &TestEnv) -> Vec<u32> {
    let dir = state_dir(env).to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "watch") && args.iter().any(|a| a == &dir) {
            pids.push(pid);
        }
    }
    pids
}

fn agent_panes(env: &TestEnv) -> usize {
    env.panes("#{@pk_role}").stdout.matches("agent").count()
}

#[test]
fn a_worktree_deleted_by_hand_is_reported_made_again_and_cleaned_up() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(&env, 19500, &["api", "web"]));
    let api = env.worktrees().join("api");
    std::fs::remove_dir_all(&api).unwrap();

    // pk status says so, and what to do; the JSON still describes every track.
    let status = env.pk_ok(&["status"]);
    assert!(
        status.stderr.contains("worktree of track `api`") && status.stderr.contains("is gone"),
        "{status}"
    );
    assert!(status.stderr.contains("pk up"), "{status}");
    assert_eq!(env.status_json()["tracks"].as_array().unwrap().len(), 2);

    // pk up makes it again, on its branch, with the work of the branch.
    env.git_in(&env.worktrees().join("web"), &["status"]);
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(up.stderr.contains("was deleted; making it again"), "{up}");
    assert!(api.join("README.md").exists());
    assert_eq!(
        env.git_in(&api, &["branch", "--show-current"]).trim(),
        "pk/api"
    );
    assert!(
        env.worktree_list()
            .contains(&std::fs::canonicalize(&api).unwrap())
    );

    // Deleted again, then pk down: the stale record goes too, and it exits 0.
    std::fs::remove_dir_all(&api).unwrap();
    let down = env.pk_ok(&["down"]);
    assert!(down.stderr.contains("worktree api"), "{down}");
    assert_all_gone(&env);
    let branches = env.git(&["branch", "--list", "--format=%(refname:short)"]);
    assert!(
        branches.contains("pk/api") && branches.contains("pk/web"),
        "{branches}"
    );
}

#[test]
fn a_killed_tmux_server_is_reported_and_up_rebuilds_the_session() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(&env, 19600, &["api", "web"]));
    env.wait_for("the watcher to start", 10, || !watchers(&env).is_empty());
    let before = env.status_json();
    env.tmux(&["kill-server"]);

    // The watcher does not outlive its server.
    env.wait_for("the watcher to exit", 10, || watchers(&env).is_empty());
    // pk status: not running, said plainly; the tracks are not shown as working.
    let status = env.pk_ok(&["status"]);
    assert!(status.stderr.contains("is not running"), "{status}");
    assert!(status.stderr.contains("pk up"), "{status}");
    let json = env.status_json();
    for t in json["tracks"].as_array().unwrap() {
        assert_eq!(t["alive"], false, "{json}");
        assert_ne!(t["state"], "working", "{json}");
    }

    // pk up builds the session again around the same worktrees, branches and ports.
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(!up.stderr.contains("+ worktree"), "{up}");
    assert_eq!(agent_panes(&env), 2);
    env.wait_for("a watcher again", 10, || watchers(&env).len() == 1);
    let after = env.status_json();
    for i in 0..2 {
        for key in ["name", "branch", "worktree", "ports"] {
            assert_eq!(after["tracks"][i][key], before["tracks"][i][key], "{key}");
        }
    }
    env.pk_ok(&["down"]);
    assert_all_gone(&env);
}

#[test]
fn down_during_up_ends_whole_whoever_wins() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&plan(&env, 19700, &["api", "web", "docs"]));
    for delay_ms in [0, 100, 300, 600] {
        let up = env
            .pk_cmd(&["up", "--detach"])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let down = env.pk(&["down", "--force"]);
        let up = up.wait_with_output().unwrap();
        let up_code = up.status.code().unwrap();
        let up_err = String::from_utf8_lossy(&up.stderr);
        for (what, code, err) in [
            ("up", up_code, up_err.as_ref()),
            ("down", down.code, &down.stderr),
        ] {
            assert!(
                code == 0 || (code == 3 && err.contains("is working on session `shop`")),
                "pk {what} after {delay_ms} ms: exit {code}\n{err}"
            );
        }
        // Whatever happened, the state is one pk up continues from and pk down cleans up.
        env.pk_ok(&["status", "--json"]);
        env.pk_ok(&["up", "--detach"]);
        assert_eq!(agent_panes(&env), 3, "after {delay_ms} ms");
        assert_eq!(env.worktree_list().len(), 4, "after {delay_ms} ms");
        env.pk_ok(&["down", "--force"]);
        assert_all_gone(&env);
    }
}

#[test]
fn the_main_checkout_on_another_branch_or_detached_changes_nothing() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(&env, 19800, &["api"]));
    let main = env.git(&["rev-parse", "main"]);

    // The main checkout moves to a branch with a commit of its own.
    env.git(&["checkout", "-q", "-b", "feature"]);
    std::fs::write(env.repo.join("feature.txt"), "x\n").unwrap();
    env.git(&["add", "feature.txt"]);
    env.git(&["commit", "-q", "-m", "feature work"]);
    // A track added now starts from the plan's base, not from what is checked out.
    let up = env.up_detached(&plan(&env, 19800, &["api", "web"]));
    assert!(up.stderr.contains("from main"), "{up}");
    assert_eq!(env.git(&["rev-parse", "pk/web"]), main);
    assert!(!env.worktrees().join("web/feature.txt").exists());
    assert_eq!(env.git(&["branch", "--show-current"]).trim(), "feature");
    env.pk_ok(&["status"]);

    // Detached: still up to date, status and down work.
    env.git(&["checkout", "-q", "--detach", "HEAD~1"]);
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(
        up.stdout.contains("up to date") || up.stderr.contains("up to date"),
        "{up}"
    );
    env.pk_ok(&["status"]);
    env.pk_ok(&["down", "--delete-branches"]);
    assert_all_gone(&env);
    // Merged into the plan's base (main), so deleted; the user's branch and HEAD untouched.
    let branches = env.git(&["branch", "--list", "--format=%(refname:short)"]);
    assert!(!branches.contains("pk/"), "{branches}");
    assert!(branches.contains("feature"), "{branches}");
    assert_eq!(env.git(&["rev-parse", "HEAD"]), main);
}

#[test]
fn a_plan_without_base_on_a_detached_checkout_is_explained_and_down_still_works() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let text = plan(&env, 19900, &["api"]).replace("base = \"main\"\n", "");
    env.up_detached(&text);
    env.git(&["checkout", "-q", "--detach"]);
    let up = env.pk_exits(2, &["up", "--detach"]);
    assert!(up.stderr.contains("no current branch"), "{up}");
    assert!(up.stderr.contains("base = \"main\""), "{up}");
    // Nothing was changed by the refusal: the session still runs.
    assert_eq!(agent_panes(&env), 1);
    let down = env.pk_ok(&["down"]);
    assert!(
        down.stderr.contains("is down") || down.stdout.contains("is down"),
        "{down}"
    );
    assert_all_gone(&env);
}
