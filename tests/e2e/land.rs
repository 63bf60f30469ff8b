//! `pk land` (design §9) end to end: real git, a real tmux session made by `pk up`, fake agents
//! (sleeping panes) whose work the test commits in their worktrees as an agent would.

use pk_tests::TestEnv;
use std::path::PathBuf;

/// A plan of session `shop` whose tracks (name, depends_on, extra lines) only sleep.
fn plan(base: u16, tracks: &[(&str, &[&str], &str)]) -> String {
    let mut p = format!("[session]\nname = \"shop\"\n\n[ports]\nbase = {base}\n");
    for (name, deps, extra) in tracks {
        let deps: Vec<String> = deps.iter().map(|d| format!("{d:?}")).collect();
        p.push_str(&format!(
            "\n[[track]]\nname = \"{name}\"\nprompt = \"Build the {name} part.\\nIn detail.\"\ncommand = [\"sleep\", \"600\"]\ndepends_on = [{}]\n{extra}\n",
            deps.join(", ")
        ));
    }
    p
}

fn wt(env: &TestEnv, track: &str) -> PathBuf {
    env.worktrees().join(track)
}

fn head(env: &TestEnv, rev: &str) -> String {
    env.git(&["rev-parse", rev]).trim().to_string()
}

fn json(run: &pk_tests::Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{run}"))
}

fn verdicts(v: &serde_json::Value) -> Vec<String> {
    v["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["track"].as_str().unwrap(),
                t["verdict"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_chain_lands_in_dependency_order_and_the_main_checkout_follows() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // In the plan web comes first, but it needs api, which needs schema.
    env.up_detached(&plan(
        27100,
        &[
            ("web", &["api"], ""),
            ("api", &["schema"], ""),
            ("schema", &[], ""),
        ],
    ));
    env.commit_file_in(
        &wt(&env, "schema"),
        "db/schema.sql",
        "create table t;\n",
        "schema: t",
    );
    env.commit_file_in(
        &wt(&env, "api"),
        "src/api.rs",
        "pub fn api() {}\n",
        "api: one",
    );
    env.commit_file_in(
        &wt(&env, "api"),
        "src/api2.rs",
        "pub fn two() {}\n",
        "api: two",
    );
    env.commit_file_in(
        &wt(&env, "web"),
        "web/index.html",
        "<p>hi</p>\n",
        "web: page",
    );
    let main_before = head(&env, "main");
    let objects_before = env.git(&["count-objects", "-v"]);

    // The dry run: the order, every verdict, and nothing changed.
    let dry = env.pk_ok(&["land", "--dry-run", "--json"]);
    let v = json(&dry);
    assert_eq!(
        v["order"],
        serde_json::json!(["schema", "api", "web"]),
        "{dry}"
    );
    assert_eq!(
        verdicts(&v),
        ["schema:would-land", "api:would-land", "web:would-land"]
    );
    assert_eq!(head(&env, "main"), main_before);
    assert_eq!(
        env.git(&["count-objects", "-v"]),
        objects_before,
        "a dry run writes no object"
    );
    assert_eq!(env.worktree_list().len(), 4);
    let text = env.pk_ok(&["land", "--dry-run"]);
    assert!(
        text.stderr.contains("would land 3 track(s) (squash)"),
        "{text}"
    );

    let landed = env.pk_ok(&["land"]);
    assert!(
        landed.stderr.contains("landed 3 track(s) (squash)"),
        "{landed}"
    );
    // One squashed commit per track, in order, on main; named after the track and its prompt.
    let log = env.git(&["log", "--format=%s", &format!("{main_before}..main")]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "web: Build the web part.",
            "api: Build the api part.",
            "schema: Build the schema part."
        ]
    );
    let body = env.git(&["log", "-1", "--format=%b", "main~1"]);
    assert!(body.contains("* api: one\n* api: two"), "{body}");
    // The main checkout was on main and clean: its files followed, and it is clean.
    for f in [
        "db/schema.sql",
        "src/api.rs",
        "src/api2.rs",
        "web/index.html",
    ] {
        assert!(env.repo.join(f).exists(), "{f} is not in the main checkout");
    }
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    // Each landed track went the safe way of pk down: pane, worktree and branch; its commits
    // stay reachable.
    assert_eq!(env.worktree_list().len(), 1);
    assert_eq!(env.git(&["branch", "--list", "pk/*"]), "");
    let kept = env.git(&["for-each-ref", "--format=%(refname)", "refs/pk/landed/"]);
    assert_eq!(kept.lines().count(), 3, "{kept}");
    let panes = env.panes("#{@pk_track}").stdout;
    for t in ["web", "api", "schema"] {
        assert!(
            !panes.lines().any(|l| l == t),
            "{t}'s pane is still there:\n{panes}"
        );
    }
    assert!(env.has_session("shop"), "the session runs on");

    // Landed tracks are not started again by pk up; a second land has nothing to do.
    let up = env.pk_ok(&["up", "--detach"]);
    assert_eq!(env.worktree_list().len(), 1, "{up}");
    let again = env.pk_ok(&["land", "--json"]);
    assert_eq!(
        verdicts(&json(&again)),
        [
            "schema:already-landed",
            "api:already-landed",
            "web:already-landed"
        ]
    );
    env.pk_ok(&["down"]);
}

#[test]
fn land_stops_at_the_first_conflict_with_the_base_at_the_last_landed_commit() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(
        27120,
        &[("api", &[], ""), ("web", &[], ""), ("docs", &[], "")],
    ));
    // api and web change the same line; docs is free but comes after web.
    env.commit_file_in(
        &wt(&env, "api"),
        "README.md",
        "# shop by api\n",
        "api: readme",
    );
    env.commit_file_in(
        &wt(&env, "web"),
        "README.md",
        "# shop by web\n",
        "web: readme",
    );
    env.commit_file_in(&wt(&env, "docs"), "docs/guide.md", "guide\n", "docs: guide");

    // The dry run forecasts web's conflict once api landed, and docs' clean landing.
    let dry = env.pk_exits(3, &["land", "--dry-run", "--json"]);
    let v = json(&dry);
    assert_eq!(
        verdicts(&v),
        ["api:would-land", "web:refused", "docs:would-land"]
    );
    assert_eq!(v["stopped_at"], "web");
    assert_eq!(v["tracks"][1]["files"], serde_json::json!(["README.md"]));
    assert!(
        v["tracks"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("once api landed"),
        "{dry}"
    );

    let run = env.pk_exits(3, &["land"]);
    assert!(run.stderr.contains("web refused"), "{run}");
    assert!(run.stderr.contains("README.md"), "{run}");
    assert!(run.stderr.contains("docs not reached"), "{run}");
    // main is exactly api's landing: one commit on the start, with api's file.
    assert_eq!(env.git(&["rev-list", "--count", "main"]).trim(), "2");
    assert_eq!(env.git(&["show", "main:README.md"]), "# shop by api\n");
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    // web and docs are untouched: on their branches, clean, their worktrees there.
    for t in ["web", "docs"] {
        assert_eq!(env.git_in(&wt(&env, t), &["status", "--porcelain"]), "");
        assert_eq!(
            env.git_in(&wt(&env, t), &["branch", "--show-current"])
                .trim(),
            format!("pk/{t}")
        );
    }
    assert!(!wt(&env, "api").exists());
    env.pk_ok(&["down"]);
}

#[test]
fn uncommitted_work_a_working_agent_and_a_dirty_main_checkout_refuse() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(27140, &[("api", &[], "")]));
    env.commit_file_in(&wt(&env, "api"), "src/api.rs", "pub fn api() {}\n", "api");
    std::fs::write(wt(&env, "api").join("notes.txt"), "mine\n").unwrap();
    let main_before = head(&env, "main");

    let run = env.pk_exits(3, &["land"]);
    assert!(run.stderr.contains("api refused"), "{run}");
    assert!(run.stderr.contains("not committed"), "{run}");
    assert!(run.stderr.contains("notes.txt"), "{run}");
    assert_eq!(head(&env, "main"), main_before);
    assert!(wt(&env, "api").join("notes.txt").exists());

    // The main checkout, on main, has an edit: nothing lands, whatever the tracks.
    std::fs::remove_file(wt(&env, "api").join("notes.txt")).unwrap();
    std::fs::write(env.repo.join("README.md"), "# edited by the lead\n").unwrap();
    let run = env.pk_exits(3, &["land"]);
    assert!(run.stderr.contains("with changes"), "{run}");
    assert!(run.stderr.contains("README.md"), "{run}");
    assert_eq!(head(&env, "main"), main_before);
    assert_eq!(
        std::fs::read_to_string(env.repo.join("README.md")).unwrap(),
        "# edited by the lead\n"
    );

    // Clean again: it lands.
    env.git(&["checkout", "README.md"]);
    env.pk_ok(&["land"]);
    assert!(env.repo.join("src/api.rs").exists());
    env.pk_ok(&["down"]);
}
