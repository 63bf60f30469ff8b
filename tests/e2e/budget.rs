//! Budgets end to end (design §10): fake agents whose transcripts carry known usage, the bar
//! read from an attached client's screen, `pk status`, the Claude hook run as Claude runs it,
//! and the interrupts the agents get (Escape in an interactive pane, SIGINT to a headless one).

use crate::live::state_of;
use pk_tests::{Screen, TestEnv, output_with_stdin};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One Claude response, written now, of `output` tokens of claude-sonnet-4-5 ($15 per million: 10,000 tokens
/// cost $0.15), a Bash call, as a line of Claude's session JSONL (and of its stream).
fn response(id: &str, output: u64) -> String {
    json!({
        "type": "assistant", "requestId": format!("r{id}"),
        // Now: an old record would show the track idle.
        "timestamp": pk_status::Timestamp(crate::live::now_ms()).to_rfc3339(),
        "session_id": "s1",
        "message": {"id": id, "model": "claude-sonnet-4-5", "role": "assistant",
            "content": [{"type": "tool_use", "id": format!("t{id}"), "name": "Bash",
                "input": {"command": "make"}}],
            "usage": {"input_tokens": 0, "output_tokens": output}}
    })
    .to_string()
        + "\n"
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// The claude settings pk passed to the fake `claude`, and its hook command for `event`.
fn hook_command(args: &[String], event: &str) -> String {
    assert_eq!(args[0], "--settings", "{args:?}");
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    settings["hooks"][event][0]["hooks"][0]["command"]
        .as_str()
        .unwrap_or_else(|| panic!("no {event} hook in {settings}"))
        .to_string()
}

/// Runs a hook command as Claude Code does (`sh -c`, the payload on stdin); returns its stdout.
fn fire(env: &TestEnv, command: &str, payload: Value) -> String {
    let mut cmd = std::process::Command::new("sh");
    env.apply_env(&mut cmd);
    // Claude reads the hook's stdout (output_with_stdin alone would leave it the test's).
    cmd.arg("-c")
        .arg(command)
        .stdout(std::process::Stdio::piped());
    let out = output_with_stdin(&mut cmd, payload.to_string().as_bytes());
    assert!(out.status.success(), "hook failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Waits until the status line on `screen` satisfies `f`; fails with the last line seen.
#[track_caller]
fn wait_line(screen: &Screen, what: &str, f: impl Fn(&str) -> bool) {
    let start = Instant::now();
    loop {
        let line = screen.status_line();
        if f(&line) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}; the bar: {line:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pre_tool_use() -> Value {
    json!({"hook_event_name": "PreToolUse", "session_id": "s1", "tool_name": "Bash",
        "tool_input": {"command": "make"}, "tool_use_id": "t9"})
}

/// A fake interactive `claude`: records its arguments, then every key its pane gets, in hex
/// (`1b` is Escape), into `out/claude.keys`.
fn fake_interactive_claude(env: &TestEnv) -> String {
    env.fake_program(
        "claude",
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$OUT/claude.args.tmp\"\nmv \"$OUT/claude.args.tmp\" \"$OUT/claude.args\"\nstty raw -echo\nwhile :; do\n  k=$(dd bs=1 count=1 2>/dev/null | od -An -tx1)\n  [ -n \"$k\" ] || exit 0\n  echo $k >> \"$OUT/claude.keys\"\ndone\n",
    )
}

fn plan(env: &TestEnv, base: u16, path: &str, session: &str, tracks: &str) -> String {
    format!(
        "[session]\nname = \"shop\"\n{session}\n[ports]\nbase = {base}\n\n[env]\nOUT = {out:?}\nPATH = {path:?}\n\n{tracks}",
        out = env.out().to_string_lossy(),
    )
}

#[test]
fn a_claude_track_is_marked_at_80_percent_stopped_at_100_and_goes_on_when_raised() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let path = fake_interactive_claude(&env);
    let track = |budget: &str| {
        format!(
            "[[track]]\nname = \"api\"\nagent = \"claude\"\nprompt = \"Go\"\nbudget_usd = {budget}\n"
        )
    };
    env.up_detached(&plan(&env, 21100, &path, "", &track("1")));
    let args = env.recorded_args("claude");
    let (session_start, pre) = (
        hook_command(&args, "SessionStart"),
        hook_command(&args, "PreToolUse"),
    );
    // Claude's session file, named by its SessionStart hook: $0.84 spent.
    let transcript = env.root().join("home/.claude/projects/x/s1.jsonl");
    std::fs::create_dir_all(transcript.parent().unwrap()).unwrap();
    append(&transcript, &response("m1", 56_000));
    fire(
        &env,
        &session_start,
        json!({"hook_event_name": "SessionStart", "source": "startup", "session_id": "s1",
            "transcript_path": transcript}),
    );
    let screen = env.attach_screen("shop");

    // 84%: the mark beside the cost; the agent goes on.
    wait_line(
        &screen,
        "the bar to mark api at 84% of its budget",
        |line| line.contains(" $0.84!"),
    );
    let status = env.status_json();
    let api = &status["tracks"][0];
    assert_eq!(
        (&api["budget_usd"], &api["over_budget"]),
        (&json!(1.0), &json!(false)),
        "{status}"
    );
    assert_ne!(api["state"], "over-budget", "{status}");
    let warning = api["budget_warning"].as_str().unwrap();
    assert!(
        warning.starts_with("84% of its budget spent ($0.84 of the track's $1.00 budget)"),
        "{warning}"
    );
    assert_eq!(
        fire(&env, &pre, pre_tool_use()),
        "",
        "under budget: the hook says nothing"
    );
    let keys = env.out().join("claude.keys");
    assert!(!keys.exists(), "no key sent before the budget is spent");

    // $1.14: over budget. The bar, pk status, an Escape in its pane, the hook's denial.
    append(&transcript, &response("m2", 20_000));
    wait_line(&screen, "the bar to show api over-budget", |line| {
        state_of(line, "api") == Some("over-budget")
    });
    assert!(
        screen.status_line().contains("⊘ api over-budget $1.14"),
        "{}",
        screen.status_line()
    );
    env.wait_for("Escape in claude's pane", 20, || {
        std::fs::read_to_string(&keys).is_ok_and(|k| k.trim() == "1b")
    });
    let status = env.status_json();
    let api = &status["tracks"][0];
    assert_eq!(
        (&api["state"], &api["over_budget"]),
        (&json!("over-budget"), &json!(true))
    );
    let table = env.pk_ok(&["status"]);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("api "))
        .unwrap();
    assert!(
        row.contains("over-budget") && row.contains("$1.14/$1.00"),
        "{table}"
    );
    assert!(
        table
            .stderr
            .contains("track `api`: over budget ($1.14 of the track's $1.00 budget)"),
        "{table}"
    );
    let said = fire(&env, &pre, pre_tool_use());
    let denied: Value = serde_json::from_str(&said).unwrap_or_else(|e| panic!("{e}: {said:?}"));
    let out = &denied["hookSpecificOutput"];
    assert_eq!(out["hookEventName"], "PreToolUse");
    assert_eq!(out["permissionDecision"], "deny");
    let reason = out["permissionDecisionReason"].as_str().unwrap();
    assert!(
        reason.contains("$1.14 of the track's $1.00 budget") && reason.contains("pk up"),
        "{reason}"
    );
    // One Escape: pk interrupts once per crossing, whatever the agent does next.
    assert_eq!(std::fs::read_to_string(&keys).unwrap().lines().count(), 1);
    // Nothing of this is in the worktree.
    assert_eq!(
        env.git_in(&env.worktrees().join("api"), &["status", "--porcelain"]),
        ""
    );

    // The budget raised in the plan and `pk up`: the mark clears, the hook allows again.
    env.up_detached(&plan(&env, 21100, &path, "", &track("5")));
    wait_line(&screen, "the bar to clear over-budget", |line| {
        state_of(line, "api").is_some_and(|s| s != "over-budget") && !line.contains("$1.14!")
    });
    let status = env.status_json();
    assert_eq!(status["tracks"][0]["over_budget"], false, "{status}");
    assert_eq!(
        status["tracks"][0]["budget_warning"],
        Value::Null,
        "{status}"
    );
    assert_eq!(fire(&env, &pre, pre_tool_use()), "");
}

/// A fake headless `claude -p`: prints a stream of one response of `output` tokens, then runs
/// until SIGINT, which it records in `out/sigint` and exits 130, as Claude does.
fn fake_headless_claude(env: &TestEnv, output: u64) -> String {
    let init =
        r#"{"type":"system","subtype":"init","model":"claude-sonnet-4-5","session_id":"s1"}"#;
    env.fake_program(
        "claude",
        &format!(
            "#!/bin/sh\ntrap 'echo INT > \"$OUT/sigint\"; exit 130' INT\nsleep 1\nprintf '%s\\n' '{init}'\nprintf '%s' '{}'\nwhile :; do sleep 0.1; done\n",
            response("m1", output)
        ),
    )
}

#[test]
fn a_headless_agent_over_budget_gets_sigint_alone_and_the_raised_budget_clears_it() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // $0.60 against $0.50.
    let path = fake_headless_claude(&env, 40_000);
    let track = |budget: &str| {
        format!(
            "[[track]]\nname = \"api\"\nagent = \"claude-headless\"\nprompt = \"Go\"\nbudget_usd = {budget}\n"
        )
    };
    env.up_detached(&plan(&env, 21200, &path, "", &track("0.5")));
    let screen = env.attach_screen("shop");
    let sigint = env.out().join("sigint");
    env.wait_for("the agent to get SIGINT", 20, || sigint.exists());
    wait_line(&screen, "the bar to show api over-budget", |line| {
        state_of(line, "api") == Some("over-budget")
    });
    // It exits as Claude does on Ctrl-C, and pk agent-run, between it and the pane, passes its
    // status on: 130. (tmux 3.3a sometimes reports a dead pane without its status; see live.rs.)
    let mut dead = String::new();
    env.wait_for("the agent's pane to end", 20, || {
        dead = env
            .panes("#{@pk_track} #{pane_dead} #{pane_dead_status}")
            .stdout;
        dead.lines().any(|l| l.starts_with("api 1"))
    });
    assert!(
        dead.lines().any(|l| l == "api 1 130" || l == "api 1 "),
        "{dead}"
    );
    let status = env.status_json();
    let api = &status["tracks"][0];
    assert_eq!(
        (&api["state"], &api["over_budget"], &api["budget_usd"]),
        (&json!("over-budget"), &json!(true), &json!(0.5)),
        "{status}"
    );
    let table = env.pk_ok(&["status"]).stdout;
    let row = table.lines().find(|l| l.starts_with("api ")).unwrap();
    assert!(
        row.contains("over-budget") && row.contains("$0.60/$0.50"),
        "{table}"
    );
    assert_eq!(
        env.git_in(&env.worktrees().join("api"), &["status", "--porcelain"]),
        ""
    );

    env.up_detached(&plan(&env, 21200, &path, "", &track("2")));
    env.wait_for("api to be within its budget again", 20, || {
        env.status_json()["tracks"][0]["over_budget"] == false
    });
    assert_ne!(env.status_json()["tracks"][0]["state"], "over-budget");
    wait_line(&screen, "the bar to clear over-budget", |line| {
        state_of(line, "api").is_some_and(|s| s != "over-budget")
    });
}

/// A fake custom agent that runs until SIGINT, which it records in `out/<track>.sigint`.
fn fake_custom_agent(env: &TestEnv) -> PathBuf {
    env.fake_program(
        "spender",
        "#!/bin/sh\ntrap 'echo INT > \"$OUT/$PK_TRACK.sigint\"; exit 130' INT\nwhile :; do sleep 0.1; done\n",
    );
    env.root().join("bin/spender")
}

#[test]
fn the_session_budget_counts_every_track_and_stops_them_all() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let agent = fake_custom_agent(&env);
    let transcript = |t: &str| env.out().join(format!("{t}.ndjson"));
    let tracks: String = ["api", "web"]
        .iter()
        .map(|t| {
            format!(
                "[[track]]\nname = \"{t}\"\ncommand = [{agent:?}]\ntranscript = {{ path = {path:?}, format = \"claude-stream\" }}\n\n",
                path = transcript(t)
            )
        })
        .collect();
    let path = std::env::var("PATH").unwrap();
    let session = |budget: &str| format!("budget_usd = {budget}\n");
    env.up_detached(&plan(&env, 21300, &path, &session("1"), &tracks));
    let screen = env.attach_screen("shop");
    // $0.51 + $0.36: 87% of the session's $1.00, both marked.
    append(&transcript("api"), &response("a1", 34_000));
    append(&transcript("web"), &response("b1", 24_000));
    wait_line(&screen, "the bar to mark both tracks", |line| {
        line.contains("api working $0.51!") && line.contains("web working $0.36!")
    });
    let status = env.status_json();
    assert_eq!(status["budget_usd"], 1.0, "{status}");
    for t in 0..2 {
        let w = status["tracks"][t]["budget_warning"].as_str().unwrap();
        assert!(
            w.contains("87% of its budget spent ($0.87 of the session's $1.00 budget)"),
            "{w}"
        );
        assert_eq!(
            status["tracks"][t]["budget_usd"],
            Value::Null,
            "no budget of its own"
        );
    }
    // web spends $0.15 more: $1.02, both stopped.
    append(&transcript("web"), &response("b2", 10_000));
    for t in ["api", "web"] {
        let f = env.out().join(format!("{t}.sigint"));
        env.wait_for(&format!("{t} to get SIGINT"), 20, || f.exists());
    }
    wait_line(&screen, "the bar to show both over-budget", |line| {
        state_of(line, "api") == Some("over-budget") && state_of(line, "web") == Some("over-budget")
    });
    let status = env.status_json();
    assert_eq!(status["over_budget"], true, "{status}");
    let table = env.pk_ok(&["status"]).stdout;
    assert!(
        table.contains("total $1.02 of the session's $1.00 budget"),
        "{table}"
    );

    env.up_detached(&plan(&env, 21300, &path, &session("10"), &tracks));
    env.wait_for("the session to be within its budget again", 20, || {
        let s = env.status_json();
        s["over_budget"] == false && s["tracks"][1]["state"] != "over-budget"
    });
}

#[test]
fn a_budget_that_is_not_a_number_of_dollars_is_refused_at_its_line() {
    let env = TestEnv::new();
    for (value, line, message) in [
        (
            "-1",
            "5:14",
            "`budget_usd` must be a number of US dollars, 0 or more",
        ),
        (
            "nan",
            "5:14",
            "`budget_usd` must be a number of US dollars, 0 or more",
        ),
        ("\"five\"", "5:14", "expected f64"),
    ] {
        env.write_plan(&format!(
            "[[track]]\nname = \"api\"\nagent = \"shell\"\n\nbudget_usd = {value}\n"
        ));
        let run = env.pk_exits(2, &["up", "--detach"]);
        assert!(run.stderr.contains(message), "{value}: {run}");
        assert!(
            run.stderr.contains(&format!("parallel.toml:{line}")),
            "{value}: {run}"
        );
        env.assert_nothing_made();
    }
}
