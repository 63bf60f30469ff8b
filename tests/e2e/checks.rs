//! Success criteria, ownership and pushes (design §9): `done_when` run by the watcher when a
//! turn ends, `outside_owns`, and `push = false`. The agents are fake: a `sleep` whose
//! transcript the test writes (a turn starts, a turn ends), while the test edits and commits
//! in the worktree as the agent would.

use pk_tests::{Run, TestEnv};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A track `name` whose agent only sleeps; its transcript (codex-exec) is `OUT/<name>.jsonl`.
fn track(env: &TestEnv, name: &str, extra: &str) -> String {
    format!(
        "\n[[track]]\nname = \"{name}\"\ncommand = [\"sleep\", \"600\"]\ntranscript = {{ path = {:?}, format = \"codex-exec\" }}\n{extra}\n",
        transcript(env, name).to_string_lossy()
    )
}

fn transcript(env: &TestEnv, name: &str) -> PathBuf {
    env.out().join(format!("{name}.jsonl"))
}

fn session(base: u16, extra: &str) -> String {
    format!("[session]\nname = \"shop\"\n{extra}\n[ports]\nbase = {base}\n")
}

/// One turn of the fake agent: starts working, `work` runs (the agent's edits), the turn ends.
fn turn(env: &TestEnv, name: &str, work: impl FnOnce()) {
    let append = |line: &str| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(transcript(env, name))
            .unwrap();
        writeln!(f, "{line}").unwrap();
    };
    append(r#"{"type":"turn.started"}"#);
    env.wait_for(&format!("{name} working"), 15, || {
        track_json(env, name)["state"] == "working"
    });
    work();
    append(r#"{"type":"turn.completed","usage":{"input_tokens":5,"output_tokens":5}}"#);
}

fn track_json(env: &TestEnv, name: &str) -> serde_json::Value {
    let v = env.status_json();
    v["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap()
}

fn check_state(env: &TestEnv, name: &str) -> String {
    track_json(env, name)["check"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn done_when_runs_when_a_turn_ends_shows_in_the_bar_and_goes_stale_with_edits() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // Passes once the agent wrote ok.txt; says where it ran and with which port.
    let plan = session(18700, "")
        + &track(
            &env,
            "api",
            r#"done_when = "echo checking in $PWD on $PK_PORT; test -f ok.txt""#,
        );
    env.up_detached(&plan);
    let screen = env.attach_screen("shop");
    let api = env.worktrees().join("api");
    assert_eq!(
        check_state(&env, "api"),
        "none",
        "not run before a turn ends"
    );
    turn(&env, "api", || {
        pk_tests::write_file(&api.join("src/feature.rs"), "pub fn g() {}\n")
    });
    env.wait_for("the check to fail", 20, || {
        check_state(&env, "api") == "fail"
    });
    let check = track_json(&env, "api")["check"].clone();
    assert!(
        check["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{check}"
    );
    let log = PathBuf::from(check["log"].as_str().unwrap());
    assert_eq!(log, env.repo.join(".git/pk/shop/tracks/api/check.log"));
    let text = pk_tests::read(&log);
    assert!(
        text.contains(&format!(
            "checking in {} on 18700",
            api.canonicalize().unwrap().display()
        )) || text.contains(&format!("checking in {} on 18700", api.display())),
        "{text}"
    );
    assert!(text.ends_with("pk: exit 1\n"), "{text}");
    env.wait_for("✗ beside api in the bar", 10, || {
        screen.status_line().contains("api ✗")
    });
    let table = env.pk_ok(&["status"]);
    assert!(table.stdout.contains("CHECK"), "{table}");
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("api ") && l.contains(" fail ")),
        "{table}"
    );

    // An edit after the result: stale, and nothing runs until a turn ends.
    pk_tests::write_file(&api.join("ok.txt"), "");
    env.wait_for("the result to go stale", 15, || {
        check_state(&env, "api") == "stale"
    });
    pk_tests::holds_for(
        std::time::Duration::from_millis(800),
        "no run without a turn",
        || check_state(&env, "api") == "stale",
    );
    turn(&env, "api", || {
        env.git_in(&api, &["add", "-A"]);
        env.git_in(&api, &["commit", "-qm", "feature"]);
    });
    env.wait_for("the check to pass", 20, || {
        check_state(&env, "api") == "pass"
    });
    env.wait_for("✓ beside api in the bar", 10, || {
        screen.status_line().contains("api ✓")
    });
    // A turn that changed nothing does not run it again.
    let before = pk_tests::read(&log);
    turn(&env, "api", || {});
    env.wait_for("done", 10, || track_json(&env, "api")["state"] == "done");
    pk_tests::holds_for(
        std::time::Duration::from_millis(800),
        "the log to stay",
        || pk_tests::read(&log) == before,
    );

    // The watcher gone, `pk status` still knows the result and whether it is stale.
    env.tmux(&["kill-window", "-t", "=shop:=pk-watch"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(check_state(&env, "api"), "pass");
    pk_tests::write_file(&api.join("ok.txt"), "later\n");
    assert_eq!(check_state(&env, "api"), "stale");
}

#[test]
fn pk_down_ends_a_running_check() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let marker = env.out().join("check-pid");
    // Deaf to the hangup that ends the session's panes: only pk can end it.
    let plan = session(18720, "")
        + &track(
            &env,
            "api",
            &format!(
                "done_when = \"trap '' HUP; echo $$ > {}; exec sleep 300\"",
                marker.display()
            ),
        );
    env.up_detached(&plan);
    turn(&env, "api", || {});
    env.wait_for("the check to run", 20, || {
        check_state(&env, "api") == "running"
    });
    env.wait_for("its pid", 10, || marker.exists());
    let pid = pk_tests::read(&marker).trim().to_string();
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive());
    env.pk_ok(&["down"]);
    env.wait_for("the check to end", 10, || !alive());
}

#[test]
fn done_when_is_approved_like_setup() {
    let env = TestEnv::new();
    let plan = |check: &str| {
        format!("[[track]]\nname = \"api\"\nagent = \"shell\"\ndone_when = \"{check}\"\n")
    };
    env.write_plan(&plan("cargo test"));
    let check = env.pk_ok(&["check"]);
    assert!(
        check.stdout.contains("commands: not approved yet"),
        "{check}"
    );
    let approve = env.pk_ok(&["approve"]);
    assert!(approve.stderr.contains("check  cargo test"), "{approve}");
    env.write_plan(&plan("cargo test && curl x | sh"));
    let check = env.pk_ok(&["check"]);
    assert!(check.stdout.contains("changed since"), "{check}");
    let up = Run::from(env.pk_cmd_asking(&["up", "--detach"]).output().unwrap());
    assert_eq!(up.code, 3, "{up}");
    assert!(up.stderr.contains("- check  cargo test\n"), "{up}");
    assert!(
        up.stderr.contains("+ check  cargo test && curl x | sh\n"),
        "{up}"
    );
    env.assert_nothing_made();
}

#[test]
fn outside_owns_lists_paths_outside_own_globs_and_inside_anothers() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let plan = session(18740, "")
        + &track(&env, "api", r#"owns = ["src/api/**"]"#)
        + &track(&env, "web", r#"owns = ["src/web/**", "*.json"]"#)
        + &track(&env, "docs", "");
    env.up_detached(&plan);
    let screen = env.attach_screen("shop");
    let wt = |t: &str| env.worktrees().join(t);
    env.commit_file_in(&wt("api"), "src/api/a.rs", "a", "api: a");
    env.commit_file_in(&wt("api"), "src/web/x.ts", "x", "api strays");
    pk_tests::write_file(&wt("api").join("README.md"), "# changed\n");
    pk_tests::write_file(&wt("web").join("src/web/y.ts"), "y");
    pk_tests::write_file(&wt("docs").join("package.json"), "{}");
    pk_tests::write_file(&wt("docs").join("docs/guide.md"), "guide");
    let outside = |t: &str| track_json(&env, t)["outside_owns"].clone();
    env.wait_for("outside_owns of every track", 20, || {
        outside("api") == serde_json::json!(["README.md", "src/web/x.ts"])
            && outside("web") == serde_json::json!([])
            && outside("docs") == serde_json::json!(["package.json"])
    });
    env.wait_for("the bar to mark api and docs", 10, || {
        let line = screen.status_line();
        line.contains("api⚑") || line.contains("api ⚑")
    });
    let line = screen.status_line();
    assert!(!line.contains("web⚑") && !line.contains("web ⚑"), "{line}");
    let table = env.pk_ok(&["status"]);
    assert!(
        table.stdout.contains(
            "api changed files outside its owns or in another track's: README.md, src/web/x.ts"
        ),
        "{table}"
    );
    // Without a watcher, from git: the same.
    env.tmux(&["kill-window", "-t", "=shop:=pk-watch"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        outside("api"),
        serde_json::json!(["README.md", "src/web/x.ts"])
    );
    assert_eq!(outside("docs"), serde_json::json!(["package.json"]));
}

#[test]
fn a_bad_owns_glob_is_refused_at_its_line() {
    let env = TestEnv::new();
    env.write_plan(
        "[[track]]\nname = \"api\"\nagent = \"shell\"\nowns = [\"src/**\", \"src/[api\"]\n",
    );
    let run = env.pk_exits(2, &["check"]);
    assert!(run.stderr.contains("parallel.toml:4:"), "{run}");
    assert!(
        run.stderr
            .contains("`owns` glob `src/[api` is not a valid glob"),
        "{run}"
    );
    env.assert_nothing_made();
}

/// `git args` in `dir` with the test's environment, or with none at all (`env -i`, as an
/// agent might), whatever it exits with.
fn git_run(env: &TestEnv, dir: &Path, args: &[&str], clean: bool) -> Run {
    let mut cmd = Command::new("env");
    if clean {
        // Only a HOME (the test's, with its git identity): nothing else of the agent's.
        cmd.arg("-i")
            .arg(format!("HOME={}", env.root().join("home").display()))
            .arg("GIT_CONFIG_NOSYSTEM=1");
    } else {
        env.apply_env(&mut cmd);
    }
    cmd.arg("git");
    cmd.arg("-C").arg(dir).args(args);
    Run::from(cmd.output().unwrap())
}

#[test]
fn an_agents_push_is_refused_while_the_users_own_and_the_repos_hooks_work() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let remote = env.root().join("remote.git");
    env.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    // The repository's own pre-push hook: records every push it sees.
    let seen = env.out().join("pre-push.log");
    let hook = env.repo.join(".git/hooks/pre-push");
    pk_tests::write_file(
        &hook,
        &format!("#!/bin/sh\necho \"$PWD\" >> '{}'\n", seen.display()),
    );
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config_before = pk_tests::read(&env.repo.join(".git/config"));
    env.up_detached(&(session(18760, "") + &track(&env, "api", "")));
    let api = env.worktrees().join("api");
    env.commit_file_in(&api, "src/api.rs", "a", "api work");
    let refusal =
        "pk: pushing from track `api` is off (`push = false` in [session] of parallel.toml)";
    for (args, clean) in [
        (vec!["push", "origin", "pk/api"], false),
        (vec!["push", "--no-verify", "origin", "pk/api"], true),
        (
            vec!["push", remote.to_str().unwrap(), "HEAD:refs/heads/sneaky"],
            true,
        ),
    ] {
        let run = git_run(&env, &api, &args, clean);
        assert_ne!(run.code, 0, "{args:?}: {run}");
        assert!(run.stderr.contains(refusal), "{args:?}: {run}");
    }
    let branches = env.git_in(&remote, &["branch", "--list"]);
    assert_eq!(branches, "", "nothing arrived in the remote");
    assert!(!seen.exists(), "no push got as far as the hook");
    // Fetching still works in the track, and the user pushes from the main checkout.
    git_run(&env, &api, &["fetch", "-q", "origin"], false);
    let user = git_run(&env, &env.repo, &["push", "-q", "origin", "main"], false);
    assert_eq!(user.code, 0, "{user}");
    assert!(env.git_in(&remote, &["branch", "--list"]).contains("main"));
    assert_eq!(
        pk_tests::read(&seen).lines().count(),
        1,
        "the user's push ran the hook"
    );

    // push = true: nothing of pk's in the way, the repository's own hook runs in the track.
    env.up_detached(&(session(18760, "push = true") + &track(&env, "api", "")));
    let run = git_run(&env, &api, &["push", "-q", "origin", "pk/api"], false);
    assert_eq!(run.code, 0, "{run}");
    assert!(
        env.git_in(&remote, &["branch", "--list"])
            .contains("pk/api")
    );
    let lines = pk_tests::read(&seen);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert_eq!(pk_reads_config(&env), config_before);

    // Back to the default, then down: the repository's configuration is as it was.
    env.up_detached(&(session(18760, "") + &track(&env, "api", "")));
    assert_ne!(pk_reads_config(&env), config_before);
    env.pk_ok(&["down", "--force"]);
    assert_eq!(pk_reads_config(&env), config_before);
}

/// The repository's configuration without the remote the test added.
fn pk_reads_config(env: &TestEnv) -> String {
    pk_tests::read(&env.repo.join(".git/config"))
}
