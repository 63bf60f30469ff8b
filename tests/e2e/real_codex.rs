//! The Codex presets against the real Codex CLI (0.169.0, `scripts/agents.sh`) and a fake OpenAI
//! model on 127.0.0.1: `pk up` on a private tmux socket with a throwaway HOME, the bar read from
//! an attached client as a user sees it, Codex's approval dialog answered with `send-keys`.

use crate::live::state_of;
use pk_tests::agents::{self, Cli};
use pk_tests::fake_model::openai::{self, ShellTurn, Usage};
use pk_tests::fake_model::{FakeModel, Gate, Request};
use pk_tests::{Screen, TestEnv};
use std::path::Path;
use std::time::{Duration, Instant};

/// What every main-thread response reports, and the title thread's.
const USAGE: Usage = Usage {
    input: 1000,
    cached: 400,
    output: 50,
    reasoning: 20,
};
const TITLE_USAGE: Usage = Usage {
    input: 300,
    cached: 0,
    output: 8,
    reasoning: 0,
};

/// Public prices in US dollars per million tokens (openai.com/api/pricing): input, cached
/// input, output. Written here, not taken from pk's table, so a wrong table fails the test.
const GPT_5_1_CODEX: (f64, f64, f64) = (1.25, 0.125, 10.0);
const GPT_5_MINI: (f64, f64, f64) = (0.25, 0.025, 2.0);

/// What two main-thread responses cost at `price`.
fn two_responses_at(price: (f64, f64, f64)) -> f64 {
    let uncached = 2 * (USAGE.input - USAGE.cached);
    let cached = 2 * USAGE.cached;
    let output = 2 * USAGE.output;
    (uncached as f64 * price.0 + cached as f64 * price.1 + output as f64 * price.2) / 1e6
}

fn turn(command: &str, escalate: bool) -> ShellTurn {
    ShellTurn {
        command: command.to_string(),
        escalate,
        final_text: "Done: the file is there.".to_string(),
        usage: USAGE,
        title: "Create the file".to_string(),
        title_usage: TITLE_USAGE,
        hold: None,
        hold_title: None,
    }
}

/// The plan of one track `api` running `agent` with `prompt`, with `env` in `[env]`.
fn plan(agent: &str, prompt: &str, base: u16, env: &[(String, String)]) -> String {
    let mut plan = format!("[session]\nname = \"shop\"\n\n[ports]\nbase = {base}\n\n[env]\n");
    for (k, v) in env {
        plan.push_str(&format!("{k} = {}\n", serde_json::json!(v)));
    }
    plan.push_str(&format!(
        "\n[[track]]\nname = \"api\"\nagent = \"{agent}\"\nprompt = \"{prompt}\"\n"
    ));
    plan
}

/// The bar's states for `api` as sampled, consecutive repeats removed.
#[derive(Default)]
struct States(Vec<&'static str>);

impl States {
    /// Samples the bar every 25 ms for `period`, asserting `ok` of every state shown.
    #[track_caller]
    fn hold_for(&mut self, screen: &Screen, period: Duration, ok: impl Fn(Option<&str>) -> bool) {
        let start = Instant::now();
        while start.elapsed() < period {
            let s = self.sample(screen);
            assert!(ok(s), "states: {:?}", self.0);
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Samples the bar once; returns the state shown.
    fn sample(&mut self, screen: &Screen) -> Option<&'static str> {
        let state = state_of(&screen.status_line(), "api");
        if let Some(s) = state
            && self.0.last() != Some(&s)
        {
            self.0.push(s);
        }
        state
    }

    /// Samples until `cond` holds for what was sampled (and the pane), or fails after `secs`.
    #[track_caller]
    fn until(
        &mut self,
        screen: &Screen,
        what: &str,
        secs: u64,
        mut cond: impl FnMut(Option<&str>) -> bool,
    ) {
        let start = Instant::now();
        loop {
            let s = self.sample(screen);
            if cond(s) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}; states so far: {:?}\n{}",
                self.0,
                screen.text()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// The throwaway Codex home of the test world, set up for the fake model; returns the plan's
/// `[env]` (with PATH). Not HOME's `.codex`: pk must follow the plan's `CODEX_HOME` to the
/// rollouts, as Codex does.
fn codex_world(
    env: &TestEnv,
    model: &FakeModel,
    name: &str,
    path: String,
) -> Vec<(String, String)> {
    let codex_home = env.root().join("codex-home");
    let worktree = env.worktrees().join("api");
    let mut vars = openai::write_codex_home(&codex_home, &model.url(), name, &[&worktree]);
    vars.push(("PATH".to_string(), path));
    vars
}

/// A `codex` on the test's PATH that runs the real one with hooks it need not have trusted in
/// `/hooks` first: what a user who trusted the README's hook gets, which the TUI would otherwise
/// make the test click through.
fn codex_trusting_hooks(env: &TestEnv, real: &Path) -> String {
    env.fake_program(
        "codex",
        &format!(
            "#!/bin/sh\nexec '{}' --dangerously-bypass-hook-trust \"$@\"\n",
            real.display()
        ),
    )
}

fn is_final_request(r: &Request) -> bool {
    openai::tool_output(r, openai::CALL_ID).is_some() && !openai::is_title_request(r)
}

#[test]
fn real_codex_waits_for_its_approval_and_is_done_only_at_the_end() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(real) = agents::require(Cli::Codex) else {
        return;
    };
    let title_gate = Gate::new();
    let final_gate = Gate::new();
    let model = FakeModel::start(ShellTurn {
        hold: Some(final_gate.clone()),
        hold_title: Some(title_gate.clone()),
        ..turn("touch approved.txt", true)
    });
    let path = codex_trusting_hooks(&env, &real);
    let vars = codex_world(&env, &model, "gpt-5.1-codex", path);
    // The README's user-level hook, so that the approval shows as `waiting`.
    let pk = pk_tests::pk_bin().display().to_string();
    let hook =
        serde_json::json!([{"hooks": [{"type": "command", "command": format!("'{pk}' hook")}]}]);
    std::fs::write(
        env.root().join("codex-home/hooks.json"),
        serde_json::json!({"hooks": {"PermissionRequest": hook, "PostToolUse": hook,
            "UserPromptSubmit": hook}})
        .to_string(),
    )
    .unwrap();
    env.up_detached(&plan("codex", "Create approved.txt", 18610, &vars));
    let screen = env.attach_screen("shop");
    let pane = env.pane_of("api");
    let pane_text = || env.tmux(&["capture-pane", "-p", "-J", "-t", &pane]).stdout;
    let mut states = States::default();

    // The approval dialog appears; the bar turns `waiting` (Codex runs the PermissionRequest
    // hook about when it draws the dialog: either may be seen first).
    let (mut asked, mut waiting) = (None, None);
    states.until(&screen, "the approval dialog and waiting", 90, |s| {
        let now = Instant::now();
        if asked.is_none() && pane_text().contains("Would you like to run the following command?") {
            asked = Some(now);
        }
        if waiting.is_none() && s == Some("waiting") {
            waiting = Some(now);
        }
        asked.is_some() && waiting.is_some()
    });
    let latency = waiting.unwrap().saturating_duration_since(asked.unwrap());
    eprintln!("approval dialog to `waiting` on the bar: {latency:?}");
    assert!(latency < Duration::from_secs(10), "{latency:?}");

    // Now Codex's title thread ends its turn (its notify runs pk's hook): the track still
    // waits for its human.
    title_gate.open();
    let events = env.repo.join(".git/pk/shop/tracks/api/events.ndjson");
    env.wait_for("the title thread's notify", 30, || {
        std::fs::read_to_string(&events).is_ok_and(|t| t.contains("codex-notify"))
    });
    states.hold_for(&screen, Duration::from_secs(2), |s| s == Some("waiting"));

    // Approved: the command runs, the turn goes on (the final answer is held).
    let run = env.tmux(&["send-keys", "-t", &pane, "y"]);
    assert_eq!(run.code, 0, "{run}");
    model.wait_for(
        Duration::from_secs(60),
        "the request with the command's output",
        |r| r.iter().any(is_final_request),
    );
    assert!(env.worktrees().join("api/approved.txt").exists());
    states.until(&screen, "working after the approval", 30, |s| {
        s == Some("working")
    });
    final_gate.open();
    states.until(&screen, "done", 60, |s| s == Some("done"));

    // Never `done` before the end; `waiting` while the dialog was up.
    let seen = &states.0;
    assert_eq!(seen.last(), Some(&"done"), "{seen:?}");
    assert!(!seen[..seen.len() - 1].contains(&"done"), "{seen:?}");
    assert!(seen.contains(&"waiting"), "{seen:?}");
    eprintln!("states: {seen:?}");

    // The title thread was asked (it is what showed `done` too early) and is in no rollout:
    // the track's figures are the main thread's two responses.
    assert!(model.requests().iter().any(openai::is_title_request));
    let track = &env.status_json()["tracks"][0];
    assert_eq!(track["state"], "done", "{track}");
    assert_eq!(
        track["tokens"],
        serde_json::json!({"input": 1200, "output": 100, "cache_read": 800, "cache_write": 0}),
        "{track}"
    );
    let cost = track["cost_usd"].as_f64().unwrap();
    let want = two_responses_at(GPT_5_1_CODEX);
    assert!(
        (cost - want).abs() < 1e-9,
        "cost {cost}, want {want}: {track}"
    );
    let tool = track["last_tool"].as_str().unwrap_or_default();
    assert!(tool.contains("touch approved.txt"), "{track}");
}

#[test]
fn real_codex_exec_is_priced_with_its_configured_model() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Codex) else {
        return;
    };
    let final_gate = Gate::new();
    let model = FakeModel::start(ShellTurn {
        hold: Some(final_gate.clone()),
        ..turn("touch made.txt", false)
    });
    // The model is named in config.toml only: `codex exec --json` names none in its stream.
    let vars = codex_world(&env, &model, "gpt-5-mini", path);
    env.up_detached(&plan("codex-exec", "Create made.txt", 18620, &vars));
    let screen = env.attach_screen("shop");
    let mut states = States::default();

    // The command ran in the sandbox and the final answer is held: the turn is not over.
    states.until(&screen, "the command's output sent back", 90, |_| {
        model.requests().iter().any(is_final_request)
    });
    assert!(env.worktrees().join("api/made.txt").exists());
    states.hold_for(&screen, Duration::from_secs(1), |s| s != Some("done"));
    final_gate.open();
    states.until(&screen, "done", 60, |s| s == Some("done"));
    let seen = &states.0;
    assert!(!seen[..seen.len() - 1].contains(&"done"), "{seen:?}");
    eprintln!("states: {seen:?}");

    let track = &env.status_json()["tracks"][0];
    assert_eq!(
        track["tokens"],
        serde_json::json!({"input": 1200, "output": 100, "cache_read": 800, "cache_write": 0}),
        "{track}"
    );
    let cost = track["cost_usd"].as_f64().unwrap();
    let want = two_responses_at(GPT_5_MINI);
    assert!(
        (cost - want).abs() < 1e-9,
        "cost {cost}, want {want}: {track}"
    );
    assert_eq!(track["last_tool"], "shell touch made.txt", "{track}");
}

/// Without the user's hooks (the default): the title thread's turn end, which comes first,
/// must not show `done` while the real turn runs.
#[test]
fn real_codex_is_not_done_when_its_title_thread_is() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Codex) else {
        return;
    };
    let final_gate = Gate::new();
    let model = FakeModel::start(ShellTurn {
        hold: Some(final_gate.clone()),
        ..turn("touch quiet.txt", false)
    });
    let vars = codex_world(&env, &model, "gpt-5.1-codex", path);
    env.up_detached(&plan("codex", "Create quiet.txt", 18630, &vars));
    let screen = env.attach_screen("shop");
    let mut states = States::default();
    let events = env.repo.join(".git/pk/shop/tracks/api/events.ndjson");
    states.until(
        &screen,
        "the title's notify and the final request",
        90,
        |_| {
            std::fs::read_to_string(&events).is_ok_and(|t| t.contains("codex-notify"))
                && model.requests().iter().any(is_final_request)
        },
    );
    states.hold_for(&screen, Duration::from_secs(2), |s| s != Some("done"));
    final_gate.open();
    states.until(&screen, "done", 60, |s| s == Some("done"));
    let seen = &states.0;
    assert!(!seen[..seen.len() - 1].contains(&"done"), "{seen:?}");
    eprintln!("states: {seen:?}");
}

/// A model pk's table does not know is priced by the user's `prices.toml`, or shows its
/// tokens and an unknown cost: never a guessed price. A bad table is an error in `pk check`.
#[test]
fn real_codex_exec_costs_come_from_the_users_table_or_are_unknown() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Codex) else {
        return;
    };
    let model = FakeModel::start(turn("touch made.txt", false));
    // Track `api` runs a model only the user's table knows, `web` one nobody knows: each has
    // a Codex home of its own (the track's `env`).
    let vars = codex_world(&env, &model, "acme-coder-1", path);
    let web_home = env.root().join("codex-web");
    let web_worktree = env.worktrees().join("web");
    openai::write_codex_home(&web_home, &model.url(), "mystery-2", &[&web_worktree]);
    let prices = env.root().join("cfgh/pk/prices.toml");
    pk_tests::write_file(
        &prices,
        "[models.acme-coder]\ninput = 2.0\noutput = 4.0\ncache_read = 0.5\n",
    );
    let mut plan = plan("codex-exec", "Create made.txt", 18640, &vars);
    plan.push_str(&format!(
        "\n[[track]]\nname = \"web\"\nagent = \"codex-exec\"\nprompt = \"Create made.txt\"\nenv = {{ CODEX_HOME = {:?} }}\n",
        web_home.display().to_string()
    ));
    env.up_detached(&plan);
    let screen = env.attach_screen("shop");
    env.wait_for("both tracks done", 90, || {
        let line = screen.status_line();
        state_of(&line, "api") == Some("done") && state_of(&line, "web") == Some("done")
    });
    // The bar (not the alert shown over it for a moment): an unknown cost and a total that
    // says it is partial.
    env.wait_for("the bar with web's unknown cost and the total", 20, || {
        let line = screen.status_line();
        line.contains("web done $?") && line.contains("Σ $0.00+?")
    });

    let status = env.status_json();
    let tokens =
        serde_json::json!({"input": 1200, "output": 100, "cache_read": 800, "cache_write": 0});
    let (api, web) = (&status["tracks"][0], &status["tracks"][1]);
    assert_eq!(api["tokens"], tokens, "{api}");
    assert_eq!(api["cost_known"], true, "{api}");
    let want = (1200.0 * 2.0 + 800.0 * 0.5 + 100.0 * 4.0) / 1e6;
    let cost = api["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - want).abs() < 1e-9,
        "cost {cost}, want {want}: {api}"
    );
    assert_eq!(web["tokens"], tokens, "{web}");
    assert_eq!(web["cost_known"], false, "{web}");
    assert_eq!(web["cost_usd"], 0.0, "{web}");
    assert_eq!(status["cost_known"], false, "{status}");
    let table = env.pk_ok(&["status"]).stdout;
    assert!(table.contains("$?"), "{table}");

    // A bad table: `pk check` names the file and line.
    pk_tests::write_file(&prices, "[models.acme-coder]\ninput = 2.0\noutput = -4.0\n");
    let run = env.pk_exits(2, &["check"]);
    let at = format!("{}:3:", prices.display());
    assert!(run.stderr.contains(&at), "{run}");
}
