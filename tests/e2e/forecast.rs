//! The conflict forecast (design §9) end to end: tracks made by `pk up`, commits and edits in
//! their worktrees and in the main checkout, and what the bar, status.json and `pk status`
//! say, with and without the watcher.

use pk_tests::TestEnv;
use std::time::Duration;

fn objects(env: &TestEnv) -> String {
    env.git(&["count-objects", "-v"])
}

/// The `conflicts` of each track in `pk status --json`, as `with:file,file` strings.
fn conflicts(v: &serde_json::Value) -> Vec<Vec<String>> {
    v["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["conflicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let files: Vec<&str> = c["files"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap())
                        .collect();
                    format!("{}:{}", c["with"].as_str().unwrap(), files.join(","))
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_bar_and_status_show_which_tracks_collide_as_they_commit_and_edit() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&env.recording_plan("shop", 18450, &["api", "web", "docs"]));
    // The bar as a user sees it, in an attached client.
    let screen = env.attach_screen("shop");
    let bar = |_: &TestEnv| screen.status_line();
    let wt = |t: &str| env.worktrees().join(t);
    let status_file = env.repo.join(".git/pk/shop/status.json");
    let watcher_conflicts = || -> Option<Vec<Vec<String>>> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&status_file).ok()?).ok()?;
        let tracks = v["tracks"].as_array()?;
        let mut out = Vec::new();
        for t in tracks {
            let list = t["forecast"]["conflicts"].as_array()?;
            out.push(
                list.iter()
                    .map(|c| c["with"].as_str().unwrap_or("?").to_string())
                    .collect(),
            );
        }
        Some(out)
    };
    let none: Vec<Vec<String>> = vec![vec![]; 3];
    env.wait_for("a first forecast", 15, || {
        watcher_conflicts() == Some(none.clone())
    });
    // api and web change the same line, each in a commit: a conflict both ways.
    env.commit_file_in(&wt("api"), "src/lib.rs", "pub fn api() {}\n", "api");
    env.commit_file_in(&wt("web"), "src/lib.rs", "pub fn web() {}\n", "web");
    env.wait_for("the bar to mark api×web", 15, || {
        bar(&env).contains("⚠ api×web")
    });
    let v = env.status_json();
    assert_eq!(
        conflicts(&v),
        [
            vec!["web:src/lib.rs".to_string()],
            vec!["api:src/lib.rs".to_string()],
            vec![]
        ]
    );
    assert_eq!(v["tracks"][0]["ahead"], 1);
    assert_eq!(v["tracks"][0]["behind"], 0);
    assert_eq!(v["tracks"][0]["changed"], serde_json::json!(["src/lib.rs"]));
    // docs edits README.md without committing; main moves README.md on: docs collides with
    // its base (seen on the watcher's next tick), and forecasting its uncommitted work writes
    // no object into the repository.
    env.commit_file_in(&env.repo, "README.md", "# shop, main\n", "main moves");
    let before = objects(&env);
    std::fs::write(wt("docs").join("README.md"), "# shop, docs\n").unwrap();
    env.wait_for("the bar to mark docs×base", 15, || {
        bar(&env).contains("docs×base")
    });
    assert!(bar(&env).contains("⚠ api×web docs×base"), "{}", bar(&env));
    assert_eq!(objects(&env), before, "the forecast wrote objects");
    let v = env.status_json();
    assert_eq!(conflicts(&v)[2], ["base:README.md"]);
    assert_eq!(v["tracks"][2]["ahead"], 0);
    assert_eq!(v["tracks"][2]["behind"], 1);
    assert_eq!(v["tracks"][2]["changed"], serde_json::json!(["README.md"]));
    // The watcher said what it merged; once nothing changes, it merges nothing more.
    let log = || {
        env.tmux(&["capture-pane", "-p", "-S", "-", "-t", "=shop:=pk-watch"])
            .stdout
            .matches(" forecast: ")
            .count()
    };
    let merged = log();
    assert!(merged > 0, "the watcher logs its forecasts");
    std::thread::sleep(Duration::from_millis(2500));
    pk_tests::holds_for(
        Duration::from_millis(2500),
        "no forecast while idle",
        || log() == merged,
    );
    // web gives up its change: the bar clears the pair.
    env.git_in(&wt("web"), &["reset", "-q", "--hard", "HEAD~1"]);
    env.wait_for("the bar to drop api×web", 15, || {
        let b = bar(&env);
        !b.contains("api×web") && b.contains("⚠ docs×base")
    });
    // Without the watcher, `pk status` forecasts itself and prints the pairs under its table.
    env.tmux(&["kill-window", "-t", "=shop:=pk-watch"]);
    env.wait_for("the watcher to stop", 10, || {
        env.pk_ok(&["-v", "status"])
            .stderr
            .contains(" status --porcelain")
    });
    let table = env.pk_ok(&["status"]).stdout;
    assert!(table.contains("⚠ docs×base: README.md"), "{table}");
    assert!(!table.contains("api×web"), "{table}");
    let v = env.status_json();
    assert_eq!(
        conflicts(&v),
        [vec![], vec![], vec!["base:README.md".to_string()]]
    );
}
