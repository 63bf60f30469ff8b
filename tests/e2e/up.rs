//! `pk up`, `pk status`, `pk exec`, `pk focus` end to end.

use pk_tests::{TestEnv, var};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn three_track_plan(env: &TestEnv) -> String {
    let agent = env.recording_agent();
    format!(
        r#"[session]
name = "shop"

[ports]
base = 15100
per_track = 10

[env]
OUT = "{out}"
APP_URL = "http://localhost:{{port}}/{{track}}"

[[track]]
name = "api"
prompt = "Add rate limiting"
ports = ["web", "debug"]
env = {{ DATABASE_URL = "postgres://localhost/shop_{{track}}" }}
copy = [".env"]
{agent}

[[track]]
name = "web"
{agent}

[[track]]
name = "docs"
{agent}
"#,
        out = env.out().display()
    )
}

fn canonical(p: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

#[test]
fn up_makes_worktrees_branches_panes_env_and_distinct_free_ports() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    std::fs::write(env.repo.join(".env"), "SECRET=1\n").unwrap();
    let run = env.up_detached(&three_track_plan(&env));
    assert!(run.stderr.contains("session shop is up: 3 tracks"), "{run}");

    // Worktrees outside the main checkout, on the right branches.
    let wts = env.worktree_list();
    assert_eq!(wts.len(), 4, "{wts:?}");
    for track in ["api", "web", "docs"] {
        let wt = env.worktrees().join(track);
        assert!(
            wts.contains(&canonical(&wt)) || wts.contains(&wt),
            "{wts:?}"
        );
        let branch = env.git_in(&wt, &["rev-parse", "--abbrev-ref", "HEAD"]);
        assert_eq!(branch.trim(), format!("pk/{track}"));
        assert!(
            wt.join("src/lib.rs").is_file(),
            "files checked out in {track}"
        );
        assert_eq!(
            env.git_in(&wt, &["status", "--porcelain"]),
            "",
            "{track} is clean"
        );
    }
    assert_eq!(
        std::fs::read_to_string(env.worktrees().join("api/.env")).unwrap(),
        "SECRET=1\n",
        "copy = [\".env\"] copied"
    );
    // The main checkout does not see them.
    assert_eq!(env.git(&["status", "--porcelain"]), "?? parallel.toml\n");

    // Environment and folder, read back from inside each pane.
    let mut blocks = Vec::new();
    for track in ["api", "web", "docs"] {
        let pane_env = env.pane_env(track);
        let wt = canonical(&env.worktrees().join(track));
        assert_eq!(var(&pane_env, "PK_TRACK"), Some(track));
        assert_eq!(
            var(&pane_env, "PK_BRANCH"),
            Some(format!("pk/{track}").as_str())
        );
        assert_eq!(var(&pane_env, "PK_SESSION"), Some("shop"));
        assert_eq!(
            canonical(std::path::Path::new(var(&pane_env, "PK_WORKTREE").unwrap())),
            wt
        );
        assert_eq!(
            canonical(std::path::Path::new(var(&pane_env, "PK_ROOT").unwrap())),
            canonical(&env.repo)
        );
        // Where status comes from: the track's hook event file, under pk's state.
        let events = var(&pane_env, "PK_EVENTS").unwrap();
        assert!(
            events.ends_with(&format!(".git/pk/shop/tracks/{track}/events.ndjson")),
            "{events}"
        );
        assert_eq!(
            var(&pane_env, "PK_TRANSCRIPT"),
            None,
            "no transcript to name"
        );
        let port: u16 = var(&pane_env, "PK_PORT").unwrap().parse().unwrap();
        assert!(port >= 15100, "{port}");
        assert_eq!(
            var(&pane_env, "APP_URL"),
            Some(format!("http://localhost:{port}/{track}").as_str())
        );
        let pwd = std::fs::read_to_string(env.out().join(format!("{track}.pwd"))).unwrap();
        assert_eq!(PathBuf::from(pwd.trim()), wt, "pane folder of {track}");
        blocks.push(port);
    }
    let api = env.pane_env("api");
    assert_eq!(var(&api, "PK_PORT_WEB"), var(&api, "PK_PORT"));
    let web: u16 = var(&api, "PK_PORT_WEB").unwrap().parse().unwrap();
    assert_eq!(
        var(&api, "PK_PORT_DEBUG"),
        Some((web + 1).to_string().as_str())
    );
    assert_eq!(
        var(&api, "DATABASE_URL"),
        Some("postgres://localhost/shop_api")
    );
    blocks.sort();
    for pair in blocks.windows(2) {
        assert!(
            pair[1] - pair[0] >= 10,
            "blocks of 10 do not overlap: {blocks:?}"
        );
    }

    // One session: agents stacked on the left, the editor on the right, labels as pane options.
    let panes = env.panes("#{window_name} #{@pk_role} #{@pk_track} #{@pk_branch} #{@pk_port} #{pane_left} #{pane_top}");
    let lines: Vec<&str> = panes
        .stdout
        .lines()
        .filter(|l| !l.starts_with("pk-watch "))
        .collect();
    assert_eq!(lines.len(), 4, "{panes}");
    assert!(
        panes.stdout.contains("pk-watch watch "),
        "the status watcher has its window: {panes}"
    );
    let agents: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f[1] == "agent")
        .collect();
    assert_eq!(
        agents.iter().map(|f| f[2]).collect::<Vec<_>>(),
        ["api", "web", "docs"]
    );
    assert!(
        agents.iter().all(|f| f[5] == "0"),
        "agents in the left column: {panes}"
    );
    let tops: Vec<u32> = agents.iter().map(|f| f[6].parse().unwrap()).collect();
    assert!(
        tops.windows(2).all(|w| w[0] < w[1]),
        "stacked top to bottom: {panes}"
    );
    assert_eq!(agents[0][3], "pk/api");
    assert_eq!(agents[0][4].parse::<u16>().unwrap(), web);
    let editor: Vec<&str> = lines
        .iter()
        .find(|l| l.contains(" editor "))
        .unwrap()
        .split(' ')
        .collect();
    assert!(
        editor[5].parse::<u32>().unwrap() > 0,
        "editor on the right: {panes}"
    );
    // The border shows the labels, not a title an agent could overwrite.
    let border = env.tmux(&[
        "show-options",
        "-w",
        "-v",
        "-t",
        "=shop:=agents",
        "pane-border-format",
    ]);
    assert!(border.stdout.contains("@pk_track"), "{border}");

    // pk status --json agrees.
    let status = env.status_json();
    assert_eq!(status["session"], "shop");
    assert_eq!(status["multiplexer"], "tmux");
    let tracks = status["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 3);
    assert_eq!(tracks[0]["name"], "api");
    assert_eq!(tracks[0]["branch"], "pk/api");
    assert_eq!(tracks[0]["ports"]["web"], web);
    assert_eq!(tracks[0]["ports"]["debug"], web + 1);
    assert_eq!(tracks[0]["state"], "starting");
    assert_eq!(tracks[0]["alive"], true);
    assert_eq!(tracks[1]["changed_files"], 0);
    for key in [
        "worktree",
        "last_activity",
        "last_tool",
        "cost_usd",
        "tokens",
        "transcript",
    ] {
        assert!(tracks[0].get(key).is_some(), "missing {key}");
    }
}

#[test]
fn second_up_changes_nothing_and_a_new_track_is_added_alone() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let plan = three_track_plan(&env);
    env.up_detached(&plan);
    let _ = env.pane_env("docs");
    let state_path = env.repo.join(".git/pk/shop/state.json");
    let state_before = std::fs::read_to_string(&state_path).unwrap();
    let panes = |env: &TestEnv| env.panes("#{pane_id} #{pane_pid} #{@pk_track}").stdout;
    let panes_before = panes(&env);

    let again = env.pk_ok(&["up", "--detach"]);
    assert!(again.stderr.contains("up to date"), "{again}");
    assert_eq!(std::fs::read_to_string(&state_path).unwrap(), state_before);
    assert_eq!(panes(&env), panes_before, "running agents left alone");
    assert_eq!(env.worktree_list().len(), 4);

    // A new track: only it is added.
    let agent = env.recording_agent();
    let run = env.up_detached(&format!("{plan}\n[[track]]\nname = \"search\"\n{agent}\n"));
    assert!(run.stderr.contains("search"), "{run}");
    let after = panes(&env);
    for line in panes_before.lines() {
        assert!(after.contains(line), "pane {line} kept:\n{after}");
    }
    assert_eq!(after.lines().count(), panes_before.lines().count() + 1);
    assert!(after.contains(" search"));
    assert_eq!(env.worktree_list().len(), 5);
    let search_env = env.pane_env("search");
    assert_eq!(var(&search_env, "PK_TRACK"), Some("search"));
    let ports: BTreeSet<String> = ["api", "web", "docs", "search"]
        .iter()
        .map(|t| var(&env.pane_env(t), "PK_PORT").unwrap().to_string())
        .collect();
    assert_eq!(ports.len(), 4, "distinct ports: {ports:?}");

    // A track removed from the plan is reported, not deleted.
    let run = env.up_detached(&plan);
    assert!(
        run.stderr
            .contains("track `search` is no longer in the plan"),
        "{run}"
    );
    assert!(env.worktrees().join("search").is_dir());
    assert!(panes(&env).contains(" search"));
}

#[test]
fn eight_tracks_continue_on_a_second_window_of_the_same_shape() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let mut plan = format!(
        "[ports]\nbase = 16100\n[env]\nOUT = \"{}\"\n",
        env.out().display()
    );
    for i in 0..8 {
        plan.push_str(&format!(
            "[[track]]\nname = \"t{i}\"\n{}\n",
            env.recording_agent()
        ));
    }
    env.up_detached(&plan);
    let panes = env.panes("#{window_name} #{@pk_role} #{pane_height}");
    let count = |w: &str, role: &str| {
        panes
            .stdout
            .lines()
            .filter(|l| l.starts_with(&format!("{w} {role} ")))
            .count()
    };
    assert_eq!(count("agents", "agent"), 4, "{panes}");
    assert_eq!(count("agents-2", "agent"), 4, "{panes}");
    assert_eq!(count("agents", "editor"), 1);
    assert_eq!(count("agents-2", "editor"), 1);
    // Readable, not slivers: every agent pane has the same height.
    let heights: BTreeSet<&str> = panes
        .stdout
        .lines()
        .filter(|l| l.contains(" agent "))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert!(heights.len() <= 2, "even heights: {panes}");
}

#[test]
fn exec_runs_in_the_worktree_with_the_track_env_and_passes_the_exit_code() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&three_track_plan(&env));
    let run = env.pk_ok(&[
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "pwd -P; echo $PK_TRACK $PK_BRANCH",
    ]);
    let wt = canonical(&env.worktrees().join("web"));
    assert_eq!(run.stdout, format!("{}\nweb pk/web\n", wt.display()));
    env.pk_exits(7, &["exec", "web", "--", "sh", "-c", "exit 7"]);
    let run = env.pk_exits(2, &["exec", "nope", "--", "true"]);
    assert!(run.stderr.contains("no track `nope`"), "{run}");
}

#[test]
fn focus_selects_the_track_pane_and_status_reports_exited_agents() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&format!(
        "{}\n[[track]]\nname = \"b\"\ncommand = [\"sh\", \"-c\", \"exit 5\"]\n",
        env.recording_plan("shop", 17100, &["a"])
    ));
    env.pk_ok(&["focus", "b"]);
    let active = env.tmux(&["display-message", "-p", "-t", "=shop:", "#{@pk_track}"]);
    assert_eq!(active.stdout.trim(), "b", "{active}");
    // A non-zero exit is a failure (design §6: agents exit non-zero when their run failed).
    env.wait_for("b to exit", 10, || {
        env.status_json()["tracks"][1]["state"] == "error"
    });
    let status = env.status_json();
    assert_eq!(status["tracks"][1]["exit_code"], 5);
    assert_eq!(status["tracks"][1]["last_error"], "exited with status 5");
    assert_eq!(status["tracks"][0]["state"], "starting");
    let table = env.pk_ok(&["status"]);
    assert!(table.stdout.contains("error (5)"), "{table}");
}

#[test]
fn two_ups_at_once_one_is_refused_and_the_result_is_consistent() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&three_track_plan(&env));
    // A lock held by another process (this test): refused with exit 3, naming it, nothing made.
    std::fs::create_dir_all(env.repo.join(".git/pk")).unwrap();
    let lock = std::fs::File::create(env.repo.join(".git/pk/shop.lock")).unwrap();
    lock.lock().unwrap();
    std::fs::write(env.repo.join(".git/pk/shop.lock"), "4242").unwrap();
    let run = env.pk_exits(3, &["up", "--detach"]);
    assert!(
        run.stderr
            .contains("another pk process (pid 4242) is working on session `shop`"),
        "{run}"
    );
    assert_eq!(env.worktree_list().len(), 1, "nothing made");
    assert!(!env.has_session("shop"));
    drop(lock);

    // Two real pk up at once: every refusal is exit 3, and the end state is whole.
    let a = env
        .pk_cmd(&["up", "--detach"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let b = env
        .pk_cmd(&["up", "--detach"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code().unwrap(), b.status.code().unwrap()];
    assert!(codes.contains(&0), "one of them worked: {codes:?}");
    assert!(codes.iter().all(|c| *c == 0 || *c == 3), "{codes:?}");
    assert_eq!(env.worktree_list().len(), 4);
    let panes = env.panes("#{@pk_role}");
    assert_eq!(panes.stdout.matches("agent").count(), 3, "{panes}");
}

#[test]
fn demo_comes_up_and_down_removes_everything_it_made() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let dir = env.root().join("demo");
    let run = env.pk_ok(&["demo", "--detach", "--dir", dir.to_str().unwrap()]);
    assert!(run.stderr.contains("the demo runs in pk-demo"), "{run}");
    let shop = dir.join("shop");
    let status = {
        let mut cmd = env.pk_cmd(&["status", "--json"]);
        cmd.current_dir(&shop);
        pk_tests::Run::from(cmd.output().unwrap())
    };
    assert_eq!(status.code, 0, "{status}");
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["tracks"].as_array().unwrap().len(), 3);
    // The fake agents write their transcripts.
    env.wait_for("a transcript line", 20, || {
        std::fs::read_to_string(dir.join("transcripts/api.ndjson")).is_ok_and(|t| !t.is_empty())
    });
    // The status watcher shows the three tracks in the bar.
    env.wait_for("the demo's status bar", 20, || {
        let bar = env.tmux(&["show-options", "-v", "-t", "=pk-demo:", "status-right"]);
        ["api", "web", "docs"]
            .iter()
            .all(|t| bar.stdout.contains(t))
    });
    let mut down = env.pk_cmd(&["down"]);
    down.current_dir(&shop);
    let down = pk_tests::Run::from(down.output().unwrap());
    assert_eq!(down.code, 0, "{down}");
    assert!(!dir.exists(), "the demo folder is gone");
    assert_ne!(env.tmux(&["has-session", "-t", "=pk-demo"]).code, 0);
}
