//! The `claude` and `claude-headless` presets with the real Claude Code (2.1.328, installed by
//! `scripts/agents.sh`) against a scripted fake Anthropic API on 127.0.0.1: real hooks, real
//! transcripts, real dialogs answered with keys as a person would. HOME is the test world's,
//! with a throwaway `~/.claude.json`.

use crate::live::state_of;
use pk_tests::agents::Cli;
use pk_tests::fake_model::anthropic::{self, Block, Message, Usage};
use pk_tests::fake_model::{FakeModel, Gate, Reply, Request};
use pk_tests::{Screen, TestEnv};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What every response of the scripts costs, served by the fake model.
const USAGE: Usage = Usage {
    input: 1000,
    output: 200,
    cache_read: 3000,
    cache_write: 500,
};

/// Claude Sonnet 4.5's public prices per million tokens (anthropic.com/pricing), written here
/// apart from pk's table: input, output, cache read, 5-minute cache write.
const SONNET: [f64; 4] = [3.0, 15.0, 0.30, 3.75];

fn public_cost(u: Usage) -> f64 {
    (u.input as f64 * SONNET[0]
        + u.output as f64 * SONNET[1]
        + u.cache_read as f64 * SONNET[2]
        + u.cache_write as f64 * SONNET[3])
        / 1e6
}

/// A plan of one track `api` running `agent` with `prompt`, pointed at the fake model.
fn plan(path: &str, model: &FakeModel, agent: &str, prompt: &str) -> String {
    let mut env = format!("PATH = {path:?}\n");
    for (k, v) in anthropic::env_vars(&model.url()) {
        env.push_str(&format!("{k} = {v:?}\n"));
    }
    format!(
        "[session]\nname = \"shop\"\n\n[env]\n{env}\n[[track]]\nname = \"api\"\nagent = \"{agent}\"\nprompt = {prompt:?}\n"
    )
}

/// The script of a turn that runs `touch made-by-agent` (a tool that needs permission), then
/// answers once the request carries the tool's result.
fn touch_script(req: &Request, _earlier: usize) -> Reply {
    if let Some(reply) = anthropic::side_reply(req) {
        return reply;
    }
    if anthropic::tool_results(req).is_empty() {
        Message::new("msg_01", anthropic::MODEL, USAGE)
            .block(Block::text("I will make the file."))
            .block(Block::bash(
                "toolu_01",
                "touch made-by-agent",
                "Make the file",
            ))
            .reply_to(req)
    } else {
        Message::new("msg_02", anthropic::MODEL, USAGE)
            .block(Block::text("Made it."))
            .reply_to(req)
    }
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

fn home(env: &TestEnv) -> PathBuf {
    env.root().join("home")
}

/// The bar's states of one track as they change, read from an attached client, with the
/// track's pane looked at in the same breath.
struct Recorder<'a> {
    env: &'a TestEnv,
    screen: &'a Screen,
    states: Vec<&'static str>,
    line: String,
    pane: String,
}

impl<'a> Recorder<'a> {
    fn new(env: &'a TestEnv, screen: &'a Screen) -> Self {
        Recorder {
            env,
            screen,
            states: Vec::new(),
            line: String::new(),
            pane: String::new(),
        }
    }

    fn look(&mut self) {
        self.line = self.screen.status_line();
        if let Some(s) = state_of(&self.line, "api")
            && self.states.last() != Some(&s)
        {
            self.states.push(s);
        }
        let pane = self.env.pane_of("api");
        self.pane = self.env.tmux(&["capture-pane", "-p", "-t", &pane]).stdout;
    }

    fn current(&self) -> Option<&'static str> {
        self.states.last().copied()
    }

    /// Looks every 50 ms until `done`; panics naming `what` after `secs`.
    #[track_caller]
    fn until(&mut self, secs: u64, what: &str, done: impl Fn(&Self) -> bool) {
        let start = Instant::now();
        loop {
            self.look();
            if done(self) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{what}; states {:?}, bar {:?}, pane:\n{}",
                self.states,
                self.line,
                self.pane
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn send_keys(env: &TestEnv, keys: &[&str]) {
    let pane = env.pane_of("api");
    for key in keys {
        env.tmux(&["send-keys", "-t", &pane, key]);
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn track(status: &serde_json::Value) -> &serde_json::Value {
    &status["tracks"][0]
}

#[track_caller]
fn assert_tokens(t: &serde_json::Value, u: Usage) {
    assert_eq!(
        t["tokens"],
        serde_json::json!({"input": u.input, "output": u.output,
            "cache_read": u.cache_read, "cache_write": u.cache_write}),
        "{t}"
    );
}

#[test]
fn real_claude_in_a_trusted_checkout_works_waits_for_permission_and_is_done() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Claude) else {
        return;
    };
    let model = FakeModel::start(touch_script);
    // The user trusts the main checkout in Claude Code; pk trusts each worktree the same way.
    anthropic::write_claude_json(&home(&env), &[&canonical(&env.repo)]);
    env.write_plan(&plan(&path, &model, "claude", "make a file"));
    let up = env.pk_ok(&["up", "--detach"]);
    let wt = canonical(&env.worktrees().join("api"));
    let said = format!("{up}");
    assert!(
        said.contains("pk marks each new worktree") && said.contains("Claude Code: trusted"),
        "{said}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home(&env).join(".claude.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["projects"][wt.to_str().unwrap()]["hasTrustDialogAccepted"],
        true
    );
    assert_eq!(config["hasCompletedOnboarding"], true, "other keys kept");

    let screen = env.attach_screen("shop");
    let mut rec = Recorder::new(&env, &screen);
    // The permission prompt: from its appearance in the pane to the bar saying so.
    rec.until(60, "the permission prompt never showed", |r| {
        r.pane.contains("Do you want to proceed?")
    });
    assert!(
        !rec.pane.contains("trust this folder"),
        "no trust dialog: {}",
        rec.pane
    );
    let prompt_seen = Instant::now();
    rec.until(30, "the bar never showed waiting", |r| {
        r.current() == Some("waiting")
    });
    let latency = prompt_seen.elapsed();
    eprintln!("permission prompt in the pane -> bar waiting: {latency:?}");
    assert!(latency < Duration::from_secs(10), "{latency:?}");
    assert_eq!(track(&env.status_json())["state"], "waiting");
    assert!(!wt.join("made-by-agent").exists());

    // Enter takes the default answer, "Yes".
    send_keys(&env, &["Enter"]);
    rec.until(60, "the track never finished", |r| {
        r.current() == Some("done")
    });
    assert!(
        wt.join("made-by-agent").exists(),
        "the tool ran in the worktree"
    );

    let states: Vec<&str> = rec.states.clone();
    let pos = |s: &str| states.iter().position(|x| *x == s);
    let (working, waiting, done) = (pos("working"), pos("waiting"), pos("done"));
    assert!(
        working.is_some() && working < waiting && waiting < done,
        "states {states:?}"
    );
    assert!(
        states[waiting.unwrap()..].contains(&"working") || states.last() == Some(&"done"),
        "states {states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| **s == "done").count(),
        1,
        "{states:?}"
    );
    assert!(
        states
            .iter()
            .all(|s| ["starting", "working", "waiting", "done"].contains(s)),
        "{states:?}"
    );

    // Two responses served, priced at the public price.
    let served = USAGE.times(2);
    let mut status = env.status_json();
    let settle = Instant::now();
    while track(&status)["tokens"]["output"] != served.output
        && settle.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(200));
        status = env.status_json();
    }
    let t = track(&status);
    assert_tokens(t, served);
    let cost = t["cost_usd"].as_f64().unwrap();
    assert!((cost - public_cost(served)).abs() < 1e-9, "{cost} {t}");
    assert_eq!(t["state"], "done");
}

#[test]
fn real_claude_in_an_untrusted_checkout_shows_the_trust_dialog_as_waiting() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Claude) else {
        return;
    };
    let model = FakeModel::start(|req: &Request, _| {
        anthropic::side_reply(req).unwrap_or_else(|| {
            // Slow enough to be seen working.
            let mut events = Message::new("msg_01", anthropic::MODEL, USAGE)
                .block(Block::text("Hello."))
                .events();
            events[0] = events[0].clone().after(Duration::from_millis(1500));
            Reply::Sse(events)
        })
    });
    anthropic::write_claude_json(&home(&env), &[]);
    let before = std::fs::read_to_string(home(&env).join(".claude.json")).unwrap();
    env.write_plan(&plan(&path, &model, "claude", "say hello"));
    env.pk_ok(&["up", "--detach"]);
    // Never trusted for the user.
    assert_eq!(
        std::fs::read_to_string(home(&env).join(".claude.json")).unwrap(),
        before
    );

    let screen = env.attach_screen("shop");
    let mut rec = Recorder::new(&env, &screen);
    rec.until(60, "the trust dialog never showed", |r| {
        r.pane.contains("Yes, I trust this folder")
    });
    rec.until(30, "the bar never showed the dialog as waiting", |r| {
        r.current() == Some("waiting")
    });
    let t = track(&env.status_json()).clone();
    assert_eq!(t["state"], "waiting");
    assert_eq!(t["last_tool"], "Claude asks to trust this folder");
    assert!(
        model.requests().is_empty(),
        "nothing asked of the model yet"
    );

    // The default is "No, exit": down to "Yes" and, once the dialog shows it chosen (a
    // loaded machine can take its time), Enter.
    send_keys(&env, &["Down"]);
    rec.until(30, "the dialog never moved to Yes", |r| {
        r.pane.contains("❯ Yes, I trust this folder")
    });
    send_keys(&env, &["Enter"]);
    rec.until(60, "the track never finished", |r| {
        r.current() == Some("done")
    });
    let states = rec.states.clone();
    let waiting = states.iter().position(|s| *s == "waiting").unwrap();
    assert!(
        states[waiting..].contains(&"working") && states.last() == Some(&"done"),
        "{states:?}"
    );
    assert!(!states[..waiting].contains(&"done"), "{states:?}");
}

#[test]
fn real_claude_headless_shows_its_running_cost_then_its_own_totals() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Claude) else {
        return;
    };
    let gate = Gate::new();
    let held = gate.clone();
    // One message of three blocks, held after the second: headless Claude has written one
    // `assistant` record per block so far, each with the usage of the message's start.
    let model = FakeModel::start(move |req: &Request, _| {
        anthropic::side_reply(req).unwrap_or_else(|| {
            Message::new("msg_01", anthropic::MODEL, USAGE)
                .block(Block::text("First."))
                .block(Block::text("Second."))
                .block(Block::text("Third."))
                .hold_after(1, &held)
                .reply_to(req)
        })
    });
    anthropic::write_claude_json(&home(&env), &[]);
    env.write_plan(&plan(&path, &model, "claude-headless", "say three things"));
    env.pk_ok(&["up", "--detach"]);
    let screen = env.attach_screen("shop");
    let mut rec = Recorder::new(&env, &screen);
    rec.until(60, "headless Claude never worked", |r| {
        r.current() == Some("working") && r.pane.contains("Second.")
    });

    // Mid-turn: the message counted once, with what the API has said of it so far.
    let start = Usage { output: 1, ..USAGE };
    let mut t = track(&env.status_json()).clone();
    let settle = Instant::now();
    while t["tokens"]["input"] != start.input && settle.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        t = track(&env.status_json()).clone();
    }
    eprintln!("mid-turn: {}", t["tokens"]);
    assert_eq!(t["state"], "working");
    assert_tokens(&t, start);
    let cost = t["cost_usd"].as_f64().unwrap();
    assert!((cost - public_cost(start)).abs() < 1e-9, "{cost}");

    gate.open();
    rec.until(60, "the run never finished", |r| {
        r.current() == Some("done")
    });
    let mut t = track(&env.status_json()).clone();
    let settle = Instant::now();
    while t["tokens"]["output"] != USAGE.output && settle.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        t = track(&env.status_json()).clone();
    }
    // The result's totals win: what was served, at the public price.
    assert_tokens(&t, USAGE);
    let cost = t["cost_usd"].as_f64().unwrap();
    assert!((cost - public_cost(USAGE)).abs() < 1e-9, "{cost}");
    let states = rec.states.clone();
    assert_eq!(
        states
            .iter()
            .filter(|s| **s != "starting")
            .collect::<Vec<_>>(),
        [&"working", &"done"],
        "{states:?}"
    );
}

/// A budget below one turn's cost (design §10): the first response costs less than the budget
/// and its tool runs; the second spends it, and its tool call is denied by pk's PreToolUse hook
/// with the reason, which reaches the model; the track shows `over-budget` and nothing else in
/// the worktree is touched.
#[test]
fn real_claude_over_its_budget_is_stopped_at_the_second_tool_call() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Claude) else {
        return;
    };
    let model = FakeModel::start(|req: &Request, _| {
        if let Some(reply) = anthropic::side_reply(req) {
            return reply;
        }
        let results = anthropic::tool_results(req);
        let (id, block) = match results.len() {
            0 => (
                "msg_01",
                Block::bash("toolu_01", "touch first-call", "First file"),
            ),
            1 => (
                "msg_02",
                Block::bash("toolu_02", "touch second-call", "Second file"),
            ),
            _ => ("msg_03", Block::text("Stopping here.")),
        };
        Message::new(id, anthropic::MODEL, USAGE)
            .block(Block::text("Working."))
            .block(block)
            .reply_to(req)
    });
    anthropic::write_claude_json(&home(&env), &[&canonical(&env.repo)]);
    // The user lets Claude run `touch` without asking: the calls are the budget's to stop.
    std::fs::create_dir_all(home(&env).join(".claude")).unwrap();
    std::fs::write(
        home(&env).join(".claude/settings.json"),
        r#"{"permissions": {"allow": ["Bash(touch:*)"]}}"#,
    )
    .unwrap();
    // Between one response's cost and two.
    let budget = public_cost(USAGE) * 1.5;
    let plan = plan(&path, &model, "claude", "make two files").replace(
        "agent = \"claude\"",
        &format!("agent = \"claude\"\nbudget_usd = {budget}"),
    );
    env.write_plan(&plan);
    env.pk_ok(&["up", "--detach"]);
    let wt = canonical(&env.worktrees().join("api"));

    let screen = env.attach_screen("shop");
    let mut rec = Recorder::new(&env, &screen);
    rec.until(90, "the track never went over its budget", |r| {
        r.current() == Some("over-budget")
    });
    // The second call was asked for, and denied: it never ran, then or later.
    let events = env.repo.join(".git/pk/shop/tracks/api/events.ndjson");
    let hooks_of = |event: &str| -> Vec<String> {
        std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["hook_event_name"] == event)
            .map(|v| {
                v["tool_input"]["command"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    env.wait_for("the second tool call asked for", 30, || {
        hooks_of("PreToolUse").contains(&"touch second-call".to_string())
    });
    pk_tests::holds_for(
        Duration::from_secs(2),
        "the second tool call not run over the budget",
        || !wt.join("second-call").exists(),
    );
    assert!(wt.join("first-call").exists(), "the first tool ran");
    assert_eq!(hooks_of("PostToolUse"), ["touch first-call"]);
    // If the turn got as far as sending the denial back, the model read why.
    for (id, text) in model.requests().iter().flat_map(anthropic::tool_results) {
        if id == "toolu_02" {
            assert!(text.contains("budget spent"), "{text}");
        }
    }
    let t = track(&env.status_json()).clone();
    assert_eq!(t["state"], "over-budget", "{t}");
    assert_eq!(t["over_budget"], true, "{t}");
    assert!(
        t["cost_usd"].as_f64().unwrap() >= budget,
        "spent past the budget: {t}"
    );
    assert!(
        !rec.states.contains(&"done") || rec.states.last() == Some(&"over-budget"),
        "{:?}",
        rec.states
    );
}
