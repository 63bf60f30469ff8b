//! zellij end to end: the same plan as a zellij session, in a private zellij world (its own
//! socket folder, config and caches). Three replay agents start headless; their panes have the
//! right folder and environment; pk's WASM plugin, loaded by zellij, draws the bar, read from
//! the screen of a client attached inside a private tmux server; `pk down` leaves no session,
//! running or resurrectable, and no worktree.

use crate::live::{replay_track, state_of, transcript};
use pk_tests::{Screen, TestEnv, tmux_available, var, zellij_available};
use std::time::{Duration, Instant};

/// A replay agent that first records its environment and folder like the recording agent.
fn recording_replay_track(env: &TestEnv, name: &str, fixture: &str) -> String {
    let replay = replay_track(env, name, fixture);
    let (head, rest) = replay.split_once("command = [").unwrap();
    let (command, rest) = rest.split_once("]\n").unwrap();
    let argv: Vec<String> = command
        .split(", ")
        .map(|a| a.trim_matches('"').to_string())
        .collect();
    let script = format!(
        "env > \"$OUT/$PK_TRACK.env.tmp\" && mv \"$OUT/$PK_TRACK.env.tmp\" \"$OUT/$PK_TRACK.env\"; pwd -P > \"$OUT/$PK_TRACK.pwd\"; exec {}",
        argv.join(" ")
    );
    format!("{head}command = [\"sh\", \"-c\", {script:?}]\n{rest}")
}

/// `zellij action list-panes --json`, asked again while a busy server answers nothing.
fn list_panes(env: &TestEnv) -> serde_json::Value {
    for _ in 0..50 {
        let run = env.zellij(&["-s", "shop", "action", "list-panes", "--json"]);
        if let Ok(panes) = serde_json::from_str(&run.stdout) {
            return panes;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("zellij never listed the panes of shop");
}

fn session_names(env: &TestEnv) -> String {
    env.zellij(&["list-sessions", "--no-formatting"]).stdout
}

/// The plugin's line: the screen's last non-empty row.
fn bar(screen: &Screen) -> String {
    screen.status_line()
}

#[test]
fn a_zellij_session_runs_the_plan_with_pks_bar_and_goes_away_whole() {
    if !zellij_available() || !tmux_available() {
        return;
    }
    let env = TestEnv::new();
    env.quiet_zellij();
    let mut plan = format!(
        "[session]\nname = \"shop\"\nmultiplexer = \"zellij\"\n\n[ports]\nbase = 18300\n\n[env]\nOUT = {:?}\n\n",
        env.out().to_string_lossy()
    );
    plan.push_str(&recording_replay_track(
        &env,
        "api",
        "claude-stream-success",
    ));
    plan.push_str(&recording_replay_track(
        &env,
        "web",
        "claude-stream-waiting-permission",
    ));
    plan.push_str(&recording_replay_track(
        &env,
        "docs",
        "claude-stream-error-max-turns",
    ));
    env.write_plan(&plan);

    let started = Instant::now();
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(up.stderr.contains("zellij session shop"), "{up}");
    assert!(session_names(&env).contains("shop [Created"));

    // Each agent pane runs in its worktree with the track's environment.
    for (i, track) in ["api", "web", "docs"].iter().enumerate() {
        let vars = env.pane_env(track);
        assert_eq!(var(&vars, "PK_TRACK"), Some(*track));
        assert_eq!(var(&vars, "PK_SESSION"), Some("shop"));
        let port = (18300 + 10 * i).to_string();
        assert_eq!(var(&vars, "PK_PORT"), Some(port.as_str()), "{track}");
        assert!(
            var(&vars, "ZELLIJ_SESSION_NAME") == Some("shop"),
            "{vars:?}"
        );
        let pwd = std::fs::read_to_string(env.out().join(format!("{track}.pwd"))).unwrap();
        assert_eq!(
            std::path::Path::new(pwd.trim()),
            env.worktrees().join(track).canonicalize().unwrap()
        );
    }

    // The plugin draws the tracks as the agents go.
    let screen = env.attach_zellij_screen("shop");
    let mut seen: Vec<(&str, Vec<&str>)> = vec![("api", vec![]), ("web", vec![]), ("docs", vec![])];
    let look = |seen: &mut Vec<(&str, Vec<&str>)>| {
        let line = bar(&screen);
        for (track, states) in seen.iter_mut() {
            if let Some(s) = state_of(&line, track)
                && states.last() != Some(&s)
            {
                states.push(s);
            }
        }
        line
    };
    let current = |seen: &Vec<(&str, Vec<&'static str>)>, t: &str| {
        seen.iter()
            .find(|(n, _)| *n == t)
            .unwrap()
            .1
            .last()
            .copied()
    };
    loop {
        let line = look(&mut seen);
        if current(&seen, "web") == Some("waiting") {
            assert!(line.contains(" pk shop "), "{line}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "web never showed waiting; seen {seen:?}\nscreen:\n{}",
            screen.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = env.status_json();
    assert_eq!(status["multiplexer"], "zellij");
    assert_eq!(status["tracks"][1]["state"], "waiting");
    for t in status["tracks"].as_array().unwrap() {
        assert_eq!(t["alive"], true, "{t}");
    }

    // A key in web's pane grants the permission.
    let panes = list_panes(&env);
    let web = panes
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"].as_str().is_some_and(|t| t.starts_with("web ")))
        .unwrap_or_else(|| panic!("no pane for web: {panes}"));
    let id = format!("terminal_{}", web["id"]);
    let key = env.zellij(&[
        "-s",
        "shop",
        "action",
        "write-chars",
        "--pane-id",
        &id,
        "\n",
    ]);
    assert_eq!(key.code, 0, "{key}");
    loop {
        look(&mut seen);
        if current(&seen, "api") == Some("done")
            && current(&seen, "web") == Some("done")
            && current(&seen, "docs") == Some("error")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not all agents finished; seen {seen:?}\nscreen:\n{}",
            screen.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let web_states = &seen[1].1;
    let pos = |s| web_states.iter().position(|x| *x == s);
    assert!(
        pos("working").is_some() && pos("working") < pos("waiting") && pos("waiting") < pos("done"),
        "web went {web_states:?}"
    );
    let status = env.status_json();
    assert_eq!(status["tracks"][2]["state"], "error");
    assert_eq!(
        status["tracks"][0]["transcript"],
        transcript(&env, "api").to_string_lossy().as_ref()
    );

    // A click on a track in the bar focuses its pane (the permission to change focus granted
    // ahead, as a user's earlier "y" would have).
    let wasm = std::fs::read_dir(env.root().join("cache/pk"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "wasm"))
        .expect("pk wrote its plugin into the cache");
    std::fs::create_dir_all(env.root().join("cache/zellij")).unwrap();
    std::fs::write(
        env.root().join("cache/zellij/permissions.kdl"),
        format!(
            "{:?} {{\n    ChangeApplicationState\n}}\n",
            wasm.to_string_lossy()
        ),
    )
    .unwrap();
    let focused = || {
        list_panes(&env)
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["is_focused"] == true && p["is_plugin"] == false)
            .map(|p| p["title"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let line = bar(&screen);
    let col = line.find("docs").unwrap() + 2;
    screen.click_last_row(col);
    env.wait_for("a click on docs to focus its pane", 10, || {
        focused().starts_with("docs ")
    });
    drop(screen);

    // pk focus works the same.
    env.pk_ok(&["focus", "api", "--detach"]);
    assert!(focused().starts_with("api "), "{}", focused());
    // And pk exec runs in the track's worktree with its environment.
    let exec = env.pk_ok(&["exec", "web", "--", "sh", "-c", "echo $PK_PORT $(pwd -P)"]);
    assert_eq!(
        exec.stdout.trim(),
        format!(
            "18310 {}",
            env.worktrees()
                .join("web")
                .canonicalize()
                .unwrap()
                .display()
        )
    );

    // Idempotent: a second `pk up` makes nothing; a track added to the plan is added alone.
    let again = env.pk_ok(&["up", "--detach"]);
    assert!(again.stderr.contains("nothing to create"), "{again}");
    let mut plan = std::fs::read_to_string(env.repo.join("parallel.toml")).unwrap();
    plan.push_str(&format!(
        "[[track]]\nname = \"extra\"\n{}\n",
        env.recording_agent()
    ));
    let added = env.up_detached(&plan);
    assert!(added.stderr.contains("pane for extra"), "{added}");
    assert!(!added.stderr.contains("zellij session shop"), "{added}");
    let vars = env.pane_env("extra");
    assert_eq!(var(&vars, "PK_TRACK"), Some("extra"));
    assert_eq!(var(&vars, "PK_PORT"), Some("18330"));

    // Down: no session (running or to resurrect), no worktree, no state.
    let down = env.pk_ok(&["down"]);
    assert!(down.stderr.contains("zellij session shop"), "{down}");
    let names = session_names(&env);
    assert!(!names.contains("shop"), "{names}");
    assert_eq!(env.worktree_list(), [env.repo.canonicalize().unwrap()]);
    assert!(!env.repo.join(".git/pk/shop").exists());
}

#[test]
fn pk_layout_prints_the_zellij_layout_of_the_plan() {
    let env = TestEnv::new();
    env.write_plan("[session]\nname = \"shop\"\nlayout = \"track-tabs\"\n\n[[track]]\nname = \"api\"\nagent = \"shell\"\n\n[[track]]\nname = \"web\"\nagent = \"shell\"\n");
    let out = env.pk_ok(&["layout", "--zellij"]).stdout;
    assert!(out.starts_with("// zellij layout `track-tabs`"), "{out}");
    assert_eq!(out.matches("tab name=").count(), 2, "{out}");
    assert!(out.contains("plugin location=\"file:"), "{out}");
    assert!(out.contains("pk-zellij-plugin-"), "{out}");
    let tmux = env.pk_ok(&["layout", "--tmux"]).stdout;
    assert!(tmux.contains("-n agents-2"), "{tmux}");
    // Nothing was made.
    assert_eq!(env.worktree_list().len(), 1);
    assert!(!env.repo.join(".git/pk/shop").exists());
}

#[test]
fn a_team_layout_file_shapes_both_multiplexers_and_its_errors_name_the_file() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.repo.join("layouts")).unwrap();
    let ours = env.repo.join("layouts/ours.toml");
    std::fs::write(
        &ours,
        "description = \"two per window, no editor\"\nagents_per_window = 2\neditor = \"none\"\n",
    )
    .unwrap();
    let mut plan = String::from("[session]\nname = \"shop\"\nlayout = \"layouts/ours.toml\"\n");
    for t in ["a", "b", "c"] {
        plan.push_str(&format!("\n[[track]]\nname = \"{t}\"\nagent = \"shell\"\n"));
    }
    env.write_plan(&plan);
    let tmux = env.pk_ok(&["layout", "--tmux"]).stdout;
    assert!(tmux.contains("layout `layouts/ours.toml`"), "{tmux}");
    assert_eq!(tmux.matches("new-window").count(), 1, "{tmux}");
    assert!(!tmux.contains("split-window -h"), "no editor: {tmux}");
    let kdl = env.pk_ok(&["layout", "--zellij"]).stdout;
    assert_eq!(kdl.matches("tab name=").count(), 2, "{kdl}");
    assert!(!kdl.contains("name=\"editor\""), "{kdl}");

    // A mistake in the layout file: exit 2, its own line and column, nothing made.
    std::fs::write(&ours, "agents_per_window = 12\n").unwrap();
    let run = env.pk_exits(2, &["up", "--detach"]);
    assert!(run.stderr.contains("ours.toml:1:21"), "{run}");
    assert!(
        run.stderr.contains("`agents_per_window` is out of range"),
        "{run}"
    );
    assert_eq!(env.worktree_list().len(), 1);
}
