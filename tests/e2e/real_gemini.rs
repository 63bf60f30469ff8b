//! The real Gemini CLI (0.61, `scripts/agents.sh`) under `pk up`, against a fake Gemini API on
//! 127.0.0.1: the `gemini` preset in a new worktree, the bar's states read from an attached
//! client's screen, tokens and cost in `pk status`, and what pk says when Gemini fails.

use crate::live::state_of;
use pk_tests::agents::Cli;
use pk_tests::fake_model::gemini::{self, Usage};
use pk_tests::fake_model::{FakeModel, Gate, Reply};
use pk_tests::{Screen, TestEnv, holds_for};
use serde_json::json;
use std::time::{Duration, Instant};

const MODEL: &str = "gemini-2.5-pro";

/// Every response's usage: 1000 prompt tokens of which 200 cached, 50 output, 30 thinking.
const USAGE: Usage = Usage {
    prompt: 1000,
    cached: 200,
    candidates: 50,
    thoughts: 30,
};

/// Gemini 2.5 Pro's public price per million tokens (prompts up to 200k), from
/// ai.google.dev/gemini-api/docs/pricing, written here apart from pk's own table: input, cached
/// input, output (thinking included).
const PRICE: (f64, f64, f64) = (1.25, 0.125, 10.0);

/// A plan of one track `api` with `track` (its agent), `[env]` with the PATH that has the real
/// gemini and the variables pointing it at `server`.
fn plan(path: &str, server: &FakeModel, base: u16, track: &str) -> String {
    let mut vars = format!("PATH = {path:?}\n");
    for (k, v) in gemini::env(server, MODEL) {
        vars.push_str(&format!("{k} = {v:?}\n"));
    }
    format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = {base}\n\n[env]\n{vars}\n[[track]]\nname = \"api\"\n{track}\n"
    )
}

/// Reads the status line every 50 ms until `done` holds for `api`'s state, recording each state
/// it showed; panics with what it saw after `limit`.
fn watch_until(
    screen: &Screen,
    seen: &mut Vec<&'static str>,
    limit: Duration,
    what: &str,
    done: impl Fn(Option<&'static str>) -> bool,
) {
    let started = Instant::now();
    loop {
        let line = screen.status_line();
        let state = state_of(&line, "api");
        if let Some(s) = state
            && seen.last() != Some(&s)
        {
            seen.push(s);
        }
        if done(state) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{what}: seen {seen:?}, line {line:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fake Gemini API that answers the first request with a `read_file` call of the README and,
/// once the tool's result comes back, answers with text held at `gate` until the test has
/// looked at the bar mid-turn. Every response is billed [`USAGE`].
fn tool_then_answer(gate: &Gate) -> FakeModel {
    let held = gate.clone();
    FakeModel::start(move |req: &pk_tests::fake_model::Request, _| {
        if !gemini::is_generate(req) {
            return gemini::side_reply(req);
        }
        let model = gemini::model_of(req).unwrap_or(MODEL).to_string();
        if gemini::function_responses(req).is_empty() {
            Reply::Sse(gemini::function_call(
                &model,
                "read_file",
                json!({"file_path": "README.md"}),
                &USAGE,
            ))
        } else {
            let mut events = gemini::answer(&model, "The README names the shop.", &USAGE);
            events[0] = events[0].clone().held_by(&held);
            Reply::Sse(events)
        }
    })
}

/// Waits until the README's content went back to the model (the tool ran), then checks the bar
/// says `working` for 2 s while the answer is held, opens the gate and waits for `done`:
/// only `starting`, `working`, `done` in that order, never `done` early.
fn follow_the_turn_to_done(env: &TestEnv, server: &FakeModel, gate: &Gate) {
    let screen = env.attach_screen("shop");
    let mut seen = Vec::new();
    server.wait_for(
        Duration::from_secs(60),
        "the README's content back from read_file",
        |reqs| {
            reqs.iter().any(|r| {
                gemini::function_responses(r)
                    .iter()
                    .any(|f| f.to_string().contains("# shop"))
            })
        },
    );
    watch_until(
        &screen,
        &mut seen,
        Duration::from_secs(30),
        "working mid-turn",
        |s| s == Some("working"),
    );
    holds_for(
        Duration::from_secs(2),
        "working while the answer is held",
        || state_of(&screen.status_line(), "api") == Some("working"),
    );
    gate.open();
    watch_until(&screen, &mut seen, Duration::from_secs(60), "done", |s| {
        s == Some("done")
    });
    assert_eq!(
        seen.iter()
            .filter(|s| **s != "starting")
            .collect::<Vec<_>>(),
        [&"working", &"done"],
        "{seen:?}"
    );
}

/// `pk status --json`'s track `api` once done: two responses of [`USAGE`] (800 uncached + 200
/// cached in, 50 + 30 thinking out each) at Gemini 2.5 Pro's public price.
fn assert_billed_two_responses(env: &TestEnv) {
    let status = env.status_json();
    let t = &status["tracks"][0];
    assert_eq!(t["state"], "done", "{status:#}");
    assert_eq!(t["model"], MODEL);
    assert_eq!(
        t["tokens"],
        json!({"input": 1600, "output": 160, "cache_read": 400, "cache_write": 0}),
        "{status:#}"
    );
    let (input, cached, output) = PRICE;
    let cost = (1600.0 * input + 400.0 * cached + 160.0 * output) / 1e6;
    let shown = t["cost_usd"].as_f64().unwrap();
    eprintln!("cost shown {shown}, expected {cost}");
    assert!((shown - cost).abs() < 1e-9, "{status:#}");
    assert_eq!(t["last_tool"], "read_file README.md", "{status:#}");
}

#[test]
fn real_gemini_preset_works_in_a_new_worktree_and_the_bar_follows_it_to_done() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Gemini) else {
        return;
    };
    gemini::write_settings(&env.root().join("home"));
    let gate = Gate::new();
    let server = tool_then_answer(&gate);
    env.up_detached(&plan(
        &path,
        &server,
        18600,
        "agent = \"gemini\"\nprompt = \"Summarise the README\"",
    ));
    follow_the_turn_to_done(&env, &server, &gate);
    assert_billed_two_responses(&env);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| gemini::model_of(r).is_none_or(|m| m == MODEL))
    );
}

#[test]
fn real_gemini_interactive_shows_its_turn_and_cost_from_its_chat_file() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Gemini) else {
        return;
    };
    let home = env.root().join("home");
    gemini::write_settings(&home);
    let gate = Gate::new();
    let server = tool_then_answer(&gate);
    // Interactive Gemini (the prompt as its argument) names its chat file after the time and
    // the session: the plan names the folder, `~/.gemini/tmp/<worktree's name>/chats`.
    let chats = home.join(".gemini/tmp/api/chats");
    env.up_detached(&plan(
        &path,
        &server,
        18640,
        &format!(
            "command = [\"gemini\", \"--skip-trust\", \"Summarise the README\"]\ntranscript = {{ path = {:?}, format = \"gemini-chat\" }}",
            chats.to_string_lossy()
        ),
    ));
    follow_the_turn_to_done(&env, &server, &gate);
    assert_billed_two_responses(&env);
    let status = env.status_json();
    let transcript = status["tracks"][0]["transcript"]
        .as_str()
        .unwrap_or_default();
    assert!(
        transcript.starts_with(chats.to_str().unwrap()) && transcript.ends_with(".jsonl"),
        "{status:#}"
    );
    assert_eq!(
        status["tracks"][0]["alive"], true,
        "interactive Gemini stays up"
    );
}

#[test]
fn real_gemini_that_fails_says_why_in_pk_status() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Gemini) else {
        return;
    };
    gemini::write_settings(&env.root().join("home"));
    let server = FakeModel::start(|req: &pk_tests::fake_model::Request, _| gemini::side_reply(req));
    // Gemini as the preset ran it before `--skip-trust`: the new worktree is not trusted.
    env.up_detached(&plan(
        &path,
        &server,
        18620,
        "command = [\"gemini\", \"--output-format\", \"stream-json\", \"-p\", \"hello\"]",
    ));
    env.wait_for("the agent to exit", 60, || {
        env.status_json()["tracks"][0]["alive"] == false
    });
    env.wait_for("the watcher to see it", 10, || {
        env.status_json()["tracks"][0]["state"] != "starting"
    });
    let status = env.status_json();
    let t = &status["tracks"][0];
    // tmux 3.3a at times loses a dead pane's exit status: then `exited`, code unknown.
    assert!(
        (t["state"] == "error" && t["exit_code"] == 55)
            || (t["state"] == "exited" && t["exit_code"].is_null()),
        "{status:#}"
    );
    let state = t["state"].as_str().unwrap().to_string();
    let error = t["last_error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("Gemini CLI is not running in a trusted directory."),
        "{status:#}"
    );
    assert!(!error.contains('\u{1b}'), "{error:?}");
    let table = env.pk_ok(&["status"]).stdout;
    assert!(
        table.contains(&format!(
            "api {state}: Gemini CLI is not running in a trusted directory."
        )),
        "{table}"
    );
    assert!(server.requests().is_empty());
}
