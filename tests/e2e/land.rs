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

    // pk status lists them as landed, not as tracks that are gone.
    let status = env.status_json();
    assert_eq!(status["tracks"], serde_json::json!([]), "{status}");
    let names: Vec<&str> = status["landed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "api", "schema"], "plan order");
    let table = env.pk_ok(&["status"]).stdout;
    assert!(table.contains("landed: web (on main as "), "{table}");

    // Landed tracks are not started again by pk up; a second land has nothing to do.
    let up = env.pk_ok(&["up", "--detach"]);
    assert_eq!(env.worktree_list().len(), 1, "{up}");
    assert!(up.stderr.contains("= api landed on main"), "{up}");
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
    std::fs::create_dir_all(env.out()).unwrap();
    let transcript = env.out().join("api.jsonl");
    let extra = format!(
        "transcript = {{ path = {:?}, format = \"codex-exec\" }}",
        transcript.to_string_lossy()
    );
    env.up_detached(&plan(27140, &[("api", &[], &extra)]));
    env.commit_file_in(&wt(&env, "api"), "src/api.rs", "pub fn api() {}\n", "api");
    let main_before = head(&env, "main");

    // The agent is in a turn: its clean tree may be a moment between two commits.
    std::fs::write(&transcript, "{\"type\":\"turn.started\"}\n").unwrap();
    env.wait_for("api working", 15, || {
        env.status_json()["tracks"][0]["state"] == "working"
    });
    let run = env.pk_exits(3, &["land"]);
    assert!(run.stderr.contains("its agent is in a turn"), "{run}");
    assert_eq!(head(&env, "main"), main_before);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    std::io::Write::write_all(
        &mut f,
        b"{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":5}}\n",
    )
    .unwrap();
    env.wait_for("api done", 15, || {
        env.status_json()["tracks"][0]["state"] == "done"
    });

    std::fs::write(wt(&env, "api").join("notes.txt"), "mine\n").unwrap();

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

#[test]
fn done_when_runs_on_the_exact_commit_that_lands_and_a_failure_blocks_with_a_cross() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let record = env.out().join("checked.txt");
    std::fs::create_dir_all(env.out()).unwrap();
    // api's check needs schema's file, which api's own branch never had: it passes only on
    // the commit that lands, after schema. It records where and on which commit it ran.
    let check = format!(
        "done_when = \"git rev-parse HEAD >> {rec}; pwd -P >> {rec}; test -f db/schema.sql && test -f ok.txt\"",
        rec = record.display()
    );
    env.up_detached(&plan(
        27160,
        &[("schema", &[], ""), ("api", &["schema"], &check)],
    ));
    let screen = env.attach_screen("shop");
    env.commit_file_in(
        &wt(&env, "schema"),
        "db/schema.sql",
        "create table t;\n",
        "schema",
    );
    env.commit_file_in(&wt(&env, "api"), "src/api.rs", "pub fn api() {}\n", "api");
    let api_tip = head(&env, "pk/api");

    // No ok.txt yet: schema lands, api's check fails on its landing commit and stops the run.
    let run = env.pk_exits(3, &["land", "--keep"]);
    assert!(run.stderr.contains("schema landed"), "{run}");
    assert!(run.stderr.contains("api refused"), "{run}");
    assert!(run.stderr.contains("done_when"), "{run}");
    let main_after_schema = head(&env, "main");
    assert_eq!(
        env.git(&["log", "-1", "--format=%s", "main"]).trim(),
        "schema: Build the schema part."
    );
    let ran = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = ran.lines().collect();
    // It ran in api's worktree, on a commit whose parent is main as schema left it.
    assert_eq!(
        lines[1],
        wt(&env, "api").canonicalize().unwrap().to_string_lossy()
    );
    assert_eq!(
        env.git(&["rev-parse", &format!("{}^", lines[0])]).trim(),
        main_after_schema
    );
    // Put back: api's worktree is on its branch, at its tip, clean.
    let api = wt(&env, "api");
    assert_eq!(
        env.git_in(&api, &["branch", "--show-current"]).trim(),
        "pk/api"
    );
    assert_eq!(head(&env, "pk/api"), api_tip);
    assert_eq!(env.git_in(&api, &["status", "--porcelain"]), "");

    // The agent adds ok.txt but api's own tree still lacks schema's file: a check on the
    // worktree as it is would fail; on the landing commit it passes, and api lands.
    env.commit_file_in(&api, "ok.txt", "ok\n", "api: ok");
    std::fs::remove_file(&record).unwrap();
    let run = env.pk_ok(&["land", "--keep", "--json"]);
    let v = json(&run);
    assert_eq!(verdicts(&v), ["schema:already-landed", "api:landed"]);
    assert_eq!(v["tracks"][1]["check"]["state"], "pass");
    let ran = std::fs::read_to_string(&record).unwrap();
    assert_eq!(
        ran.lines().next().unwrap(),
        head(&env, "main"),
        "the check ran on the very commit main moved to"
    );
    // --keep: the worktree is back on its branch, its pane still there.
    assert_eq!(
        env.git_in(&api, &["branch", "--show-current"]).trim(),
        "pk/api"
    );
    assert!(env.panes("#{@pk_track}").stdout.lines().any(|l| l == "api"));

    // A check that fails on the worktree's own tree shows ✗ in the bar and in pk status.
    let plan2 = plan(
        27160,
        &[
            ("schema", &[], ""),
            ("api", &["schema"], "done_when = \"test -f never.txt\""),
        ],
    );
    env.write_plan(&plan2);
    env.pk_ok(&["up", "--detach"]);
    env.commit_file_in(&api, "more.txt", "more\n", "api: more");
    // Up to date with main (it merged main in), so the landing tree is its own tree.
    env.git_in(&api, &["merge", "-q", "--no-edit", "main"]);
    let run = env.pk_exits(3, &["land", "api"]);
    assert!(run.stderr.contains("failed (exit 1)"), "{run}");
    env.wait_for("the failed check in pk status", 10, || {
        let v = env.status_json();
        v["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "api" && t["check"]["state"] == "fail")
    });
    env.wait_for("✗ in the bar", 10, || screen.status_line().contains('✗'));
    env.pk_ok(&["down"]);
}

#[test]
fn a_named_track_waits_for_its_dependency_and_keep_leaves_the_track_as_it_was() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(27180, &[("api", &[], ""), ("web", &["api"], "")]));
    env.commit_file_in(&wt(&env, "api"), "src/api.rs", "pub fn api() {}\n", "api");
    env.commit_file_in(&wt(&env, "web"), "web/index.html", "<p>hi</p>\n", "web");
    let main_before = head(&env, "main");

    let run = env.pk_exits(3, &["land", "web"]);
    assert!(
        run.stderr.contains("depends on api, which is not landed"),
        "{run}"
    );
    assert_eq!(head(&env, "main"), main_before);
    env.pk_exits(2, &["land", "nope"]);

    let run = env.pk_ok(&["land", "api", "--keep"]);
    assert!(run.stderr.contains("api landed"), "{run}");
    assert!(wt(&env, "api").exists());
    env.git(&["rev-parse", "--verify", "-q", "refs/heads/pk/api"]);
    // Now web may land; api, unchanged since, counts as landed.
    let run = env.pk_ok(&["land", "web"]);
    assert!(run.stderr.contains("web landed"), "{run}");
    assert!(env.repo.join("web/index.html").exists());
    env.pk_ok(&["down"]);
}

#[test]
fn merge_and_rebase_strategies_keep_the_tracks_history() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let p = plan(27200, &[("api", &[], ""), ("web", &[], "")]) + "\n[land]\nstrategy = \"merge\"\n";
    env.up_detached(&p);
    let api_tip = env.commit_file_in(
        &wt(&env, "api"),
        "src/api.rs",
        "pub fn api() {}\n",
        "api: the api",
    );
    env.commit_file_in(&wt(&env, "web"), "web/a.html", "a\n", "web: a");
    env.commit_file_in(&wt(&env, "web"), "web/b.html", "b\n", "web: b");
    let start = head(&env, "main");
    env.pk_ok(&["land", "api"]);
    // merge (the plan's): a merge commit whose second parent is api's tip.
    assert_eq!(head(&env, "main^2"), api_tip);
    // --rebase overrides the plan: web's two commits, replayed one by one on main.
    env.pk_ok(&["land", "web", "--strategy", "rebase"]);
    let log = env.git(&[
        "log",
        "--format=%s",
        "--first-parent",
        &format!("{start}..main"),
    ]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["web: b", "web: a", "api: Build the api part."]
    );
    env.pk_ok(&["down"]);
}

/// pk killed at each fault point of `pk land` in turn (`PK_FAULT_AT=K`): the next `pk land`
/// finishes the job, and the result is the one of a run never killed.
#[test]
fn pk_land_killed_at_every_fault_point_is_finished_by_the_next_one() {
    if !pk_tests::tmux_available() {
        return;
    }
    let points = killed_at_every_point(&["land"]);
    // Every kind of point was reached, for both tracks where it applies.
    for p in [
        "land:base-moved:schema",
        "land:recorded:schema",
        "land:pane-closed:schema",
        "land:worktree-removed:schema",
        "land:branch-deleted:schema",
        "land:checked-out:api",
        "land:checked:api",
        "land:base-moved:api",
        "land:branch-deleted:api",
    ] {
        assert!(
            points.iter().any(|x| x.starts_with(p)),
            "{p} not reached: {points:?}"
        );
    }
}

/// The same with `--keep`: the worktrees stay, each on its branch.
#[test]
fn pk_land_keep_killed_at_every_fault_point_leaves_each_worktree_on_its_branch() {
    if !pk_tests::tmux_available() {
        return;
    }
    let points = killed_at_every_point(&["land", "--keep"]);
    assert!(
        points.iter().any(|x| x.starts_with("land:checked-out:api")),
        "{points:?}"
    );
}

/// Kills `pk <land>` at its K-th fault point for K = 1, 2, … in fresh worlds until a run
/// reaches none; after each kill, a plain `pk <land>` must finish. Returns the points.
fn killed_at_every_point(land: &[&str]) -> Vec<String> {
    let keep = land.contains(&"--keep");
    let mut points = Vec::new();
    for k in 1.. {
        let env = TestEnv::new();
        // api's check passes only on its landing commit (schema's file in it): the run checks
        // it out in api's worktree, then puts it back, every step of it a point.
        env.up_detached(&plan(
            27220,
            &[
                ("schema", &[], ""),
                ("api", &["schema"], "done_when = \"test -f db/schema.sql\""),
            ],
        ));
        env.commit_file_in(
            &wt(&env, "schema"),
            "db/schema.sql",
            "create table t;\n",
            "schema",
        );
        env.commit_file_in(&wt(&env, "api"), "src/api.rs", "pub fn api() {}\n", "api");
        let start = head(&env, "main");

        let mut cmd = env.pk_cmd(land);
        cmd.env("PK_FAULT_AT", k.to_string());
        let killed = pk_tests::Run::from(cmd.output().unwrap());
        let Some(point) = killed
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("pk: fault injected at "))
            .map(str::to_string)
        else {
            assert_eq!(killed.code, 0, "{killed}");
            break;
        };
        points.push(point.clone());
        // Never half-merged: main is the start or a landing, and its checkout clean.
        assert_eq!(
            env.git(&["status", "--porcelain", "--untracked-files=no"]),
            "",
            "after a kill at {point}"
        );
        // `pk up` after the kill: every worktree that is left is on its branch.
        let up = env.pk(&["up", "--detach"]);
        assert_eq!(up.code, 0, "pk up after a kill at {point}:\n{up}");
        for t in ["schema", "api"] {
            if wt(&env, t).exists() {
                assert_eq!(
                    env.git_in(&wt(&env, t), &["branch", "--show-current"])
                        .trim(),
                    format!("pk/{t}"),
                    "pk up after a kill at {point}"
                );
            }
        }
        let finished = env.pk(land);
        assert_eq!(finished.code, 0, "after a kill at {point}:\n{finished}");
        let log = env.git(&["log", "--format=%s", &format!("{start}..main")]);
        assert_eq!(
            log.lines().collect::<Vec<_>>(),
            ["api: Build the api part.", "schema: Build the schema part."],
            "after a kill at {point}"
        );
        assert!(env.repo.join("db/schema.sql").exists() && env.repo.join("src/api.rs").exists());
        if keep {
            assert_eq!(env.worktree_list().len(), 3, "after a kill at {point}");
            for t in ["schema", "api"] {
                assert_eq!(
                    env.git_in(&wt(&env, t), &["branch", "--show-current"])
                        .trim(),
                    format!("pk/{t}"),
                    "after a kill at {point}"
                );
                assert_eq!(env.git_in(&wt(&env, t), &["status", "--porcelain"]), "");
            }
        } else {
            assert_eq!(env.worktree_list().len(), 1, "after a kill at {point}");
            assert_eq!(
                env.git(&["branch", "--list", "pk/*"]),
                "",
                "after a kill at {point}"
            );
        }
        assert!(
            !env.repo.join(".git/pk/shop/land.json").exists(),
            "after a kill at {point}"
        );
        env.pk_ok(&["down"]);
    }
    points
}

#[test]
fn a_diamond_lands_its_top_first_and_its_bottom_last() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // app needs ui and api, which both need core; docs needs nothing.
    env.up_detached(&plan(
        27260,
        &[
            ("app", &["ui", "api"], ""),
            ("ui", &["core"], ""),
            ("docs", &[], ""),
            ("api", &["core"], ""),
            ("core", &[], ""),
        ],
    ));
    for t in ["app", "ui", "docs", "api", "core"] {
        env.commit_file_in(&wt(&env, t), &format!("{t}.txt"), "x\n", t);
    }
    let v = json(&env.pk_ok(&["land", "--dry-run", "--json"]));
    assert_eq!(
        v["order"],
        serde_json::json!(["docs", "core", "ui", "api", "app"])
    );
    // core's conflict with the base: ui, api and app wait for it; docs lands.
    env.commit_file_in(&env.repo, "core.txt", "main's own\n", "main: core.txt");
    let v = json(&env.pk_exits(3, &["land", "--dry-run", "--json"]));
    assert_eq!(
        verdicts(&v),
        [
            "docs:would-land",
            "core:refused",
            "ui:refused",
            "api:refused",
            "app:refused"
        ]
    );
    assert!(
        v["tracks"][4]["reason"]
            .as_str()
            .unwrap()
            .contains("depends on ui"),
        "{v}"
    );
    env.git(&["rm", "-q", "core.txt"]);
    env.git(&["commit", "-qm", "main: no core.txt"]);
    let start = head(&env, "main");
    env.pk_ok(&["land"]);
    let log = env.git(&["log", "--format=%s", "--reverse", &format!("{start}..main")]);
    let order: Vec<&str> = log.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(order, ["docs", "core", "ui", "api", "app"]);
    env.pk_ok(&["down"]);
}

/// After a check that failed on a moved base (its commit checked out in the worktree, then put
/// back), neither `pk down` nor a later `pk land` takes that commit for work on no branch.
#[test]
fn a_failed_check_on_a_moved_base_leaves_nothing_that_blocks_down() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(
        27300,
        &[
            ("schema", &[], ""),
            ("api", &["schema"], "done_when = \"false\""),
        ],
    ));
    env.commit_file_in(&wt(&env, "schema"), "db/schema.sql", "t\n", "schema");
    env.commit_file_in(&wt(&env, "api"), "src/a.rs", "a\n", "api one");
    env.commit_file_in(&wt(&env, "api"), "src/b.rs", "b\n", "api two");
    let run = env.pk_exits(3, &["land"]);
    assert!(run.stderr.contains("api refused"), "{run}");
    let api = wt(&env, "api");
    assert_eq!(
        env.git_in(&api, &["branch", "--show-current"]).trim(),
        "pk/api"
    );
    // Nothing of api is lost, nothing is in the way.
    let down = env.pk(&["down"]);
    assert_eq!(down.code, 0, "{down}");
}

#[test]
fn a_worktree_off_its_branch_a_net_empty_track_and_commits_after_landing_are_not_landed_away() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&plan(
        27320,
        &[("api", &[], ""), ("web", &[], ""), ("docs", &[], "")],
    ));
    // api: on another branch (a bisect, say).
    env.commit_file_in(&wt(&env, "api"), "src/a.rs", "a\n", "api");
    env.git_in(&wt(&env, "api"), &["checkout", "-q", "--detach", "HEAD~0"]);
    // web: a change made and undone.
    env.commit_file_in(&wt(&env, "web"), "web.txt", "w\n", "web: add");
    env.git_in(&wt(&env, "web"), &["rm", "-q", "web.txt"]);
    env.git_in(&wt(&env, "web"), &["commit", "-q", "-m", "web: undo"]);
    let v = json(&env.pk_exits(3, &["land", "--json"]));
    assert_eq!(verdicts(&v)[0], "api:refused");
    assert!(
        v["tracks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not on its branch pk/api"),
        "{v}"
    );
    env.git_in(&wt(&env, "api"), &["checkout", "-q", "pk/api"]);
    // docs lands with --keep; then gets a commit: landing without --keep lands that one too and
    // only then removes docs.
    env.commit_file_in(&wt(&env, "docs"), "docs/a.md", "a\n", "docs a");
    let v = json(&env.pk_ok(&["land", "--keep", "--json"]));
    assert_eq!(verdicts(&v), ["api:landed", "web:nothing", "docs:landed"]);
    env.commit_file_in(&wt(&env, "docs"), "docs/b.md", "b\n", "docs b");
    let v = json(&env.pk_ok(&["land", "--json"]));
    assert_eq!(
        verdicts(&v),
        ["api:already-landed", "web:nothing", "docs:landed"]
    );
    assert!(env.repo.join("docs/b.md").exists());
    assert!(
        wt(&env, "web").exists(),
        "a track with nothing to land stays"
    );
    assert!(!wt(&env, "docs").exists() && !wt(&env, "api").exists());
    env.pk_ok(&["down"]);
}
