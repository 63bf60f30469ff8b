//! Resume (issue 16) with the real agent CLIs against a fake model on 127.0.0.1: a turn, the
//! tmux server killed, `pk up` again; each agent's next request to the model carries its own
//! earlier conversation (and never another track's), and the bar's figures go on.

use pk_tests::TestEnv;
use pk_tests::agents::Cli;
use pk_tests::fake_model::anthropic::{self, Block, Message, Usage};
use pk_tests::fake_model::{FakeModel, Request};
use std::path::{Path, PathBuf};
use std::time::Duration;

const USAGE: Usage = Usage {
    input: 1000,
    output: 200,
    cache_read: 3000,
    cache_write: 500,
};

/// Every turn of the conversation answers "Noted." (the side questions get their own).
fn noted(req: &Request, _earlier: usize) -> pk_tests::fake_model::Reply {
    if let Some(reply) = anthropic::side_reply(req) {
        return reply;
    }
    Message::new(&format!("msg_{}", req.raw.len()), anthropic::MODEL, USAGE)
        .block(Block::text("Noted."))
        .reply_to(req)
}

/// The text of a conversation request's messages, all of them, in order.
fn said(req: &Request) -> String {
    req.body["messages"].to_string()
}

fn conversation_requests(model: &FakeModel) -> Vec<Request> {
    model
        .requests()
        .into_iter()
        .filter(anthropic::is_conversation)
        .collect()
}

fn track<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// The start of a plan of session `shop` whose `[env]` points Claude Code (on `path`) at
/// `model`; the tracks follow.
fn claude_plan(path: &str, model: &FakeModel) -> String {
    let mut vars = format!("PATH = {path:?}\n");
    for (k, v) in anthropic::env_vars(&model.url()) {
        vars.push_str(&format!("{k} = {v:?}\n"));
    }
    format!("[session]\nname = \"shop\"\n\n[env]\n{vars}\n")
}

/// The same for Codex (`real`, the CLI) with a throwaway `CODEX_HOME` that trusts the worktree
/// of track `api`.
fn codex_plan(env: &TestEnv, model: &FakeModel, real: &Path) -> String {
    let codex_home = env.root().join("codex-home");
    let worktree = env.worktrees().join("api");
    let mut vars = pk_tests::fake_model::openai::write_codex_home(
        &codex_home,
        &model.url(),
        "gpt-5.1-codex",
        &[&worktree],
    );
    vars.push((
        "PATH".to_string(),
        format!("{}:/usr/bin:/bin", real.parent().unwrap().display()),
    ));
    let mut plan = "[session]\nname = \"shop\"\n\n[env]\n".to_string();
    for (k, v) in &vars {
        plan.push_str(&format!("{k} = {}\n", serde_json::json!(v)));
    }
    plan + "\n"
}

/// The input of every request of Codex's main thread (not its title thread), in order.
fn codex_turns(model: &FakeModel) -> Vec<String> {
    use pk_tests::fake_model::openai;
    model
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/responses" && !openai::is_title_request(r))
        .map(|r| openai::body(r)["input"].to_string())
        .collect()
}

/// A working day's tmux server goes away (the worktrees stay).
fn kill_tmux(env: &TestEnv) {
    env.tmux(&["kill-server"]);
    env.wait_for("the session gone", 10, || !env.has_session("shop"));
}

#[test]
fn real_claude_resumes_its_own_conversation_after_the_tmux_server_is_killed() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Claude) else {
        return;
    };
    let model = FakeModel::start(noted);
    anthropic::write_claude_json(&env.root().join("home"), &[&canonical(&env.repo)]);
    let head = claude_plan(&path, &model);
    let plan = format!(
        "{head}[[track]]\nname = \"api\"\nagent = \"claude\"\nprompt = \"Remember the word PAPAYA.\"\n\n\
         [[track]]\nname = \"web\"\nagent = \"claude\"\nprompt = \"Remember the word MANGO.\"\n"
    );
    env.write_plan(&plan);
    env.pk_ok(&["up", "--detach"]);
    let both_done = |env: &TestEnv| {
        let s = env.status_json();
        ["api", "web"].iter().all(|t| {
            track(&s, t)["state"] == "done"
                && track(&s, t)["conversation"].is_string()
                && track(&s, t)["tokens"]["output"] == USAGE.output
        })
    };
    env.wait_for("both tracks done, their conversations recorded", 90, || {
        both_done(&env)
    });
    let before = env.status_json();
    let api_id = track(&before, "api")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let web_id = track(&before, "web")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(api_id, web_id);
    assert_eq!(track(&before, "api")["tokens"]["output"], USAGE.output);
    assert_eq!(track(&before, "api")["resumed"], false);
    let served = conversation_requests(&model).len();

    kill_tmux(&env);
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(
        up.stderr
            .contains(&format!("api resumes its conversation {api_id}")),
        "{up}"
    );
    assert!(
        up.stderr
            .contains(&format!("web resumes its conversation {web_id}")),
        "{up}"
    );

    // The lead asks api a question in its pane: the request carries api's conversation, not
    // web's.
    let pane = env.pane_of("api");
    env.wait_for("claude ready in the resumed pane", 60, || {
        let text = env.tmux(&["capture-pane", "-p", "-t", &pane]).stdout;
        text.contains("Noted.")
    });
    env.tmux(&["send-keys", "-t", &pane, "-l", "Which word was it?"]);
    std::thread::sleep(Duration::from_millis(300));
    env.tmux(&["send-keys", "-t", &pane, "Enter"]);
    env.wait_for("the question reaching the model", 60, || {
        conversation_requests(&model)
            .iter()
            .skip(served)
            .any(|r| said(r).contains("Which word was it?"))
    });
    let asked = conversation_requests(&model)
        .into_iter()
        .skip(served)
        .find(|r| said(r).contains("Which word was it?"))
        .unwrap();
    let text = said(&asked);
    assert!(text.contains("PAPAYA") && text.contains("Noted."), "{text}");
    // Resumed, not started again from its prompt: no new first turn was sent.
    let again: Vec<String> = conversation_requests(&model)
        .iter()
        .skip(served)
        .map(said)
        .filter(|t| t.contains("PAPAYA") && !t.contains("Which word was it?"))
        .collect();
    assert!(
        again.is_empty(),
        "api started over from its prompt: {} new first turn(s)",
        again.len()
    );
    assert!(
        !text.contains("MANGO"),
        "another track's conversation: {text}"
    );

    // The figures go on: both turns, each counted once.
    env.wait_for("api's second turn counted", 60, || {
        let s = env.status_json();
        track(&s, "api")["state"] == "done"
            && track(&s, "api")["tokens"]["output"] == USAGE.times(2).output
    });
    let after = env.status_json();
    assert_eq!(track(&after, "api")["resumed"], true);
    assert_eq!(
        track(&after, "api")["tokens"]["input"],
        USAGE.times(2).input
    );
    let table = env.pk_ok(&["status"]).stdout;
    assert!(
        table.contains("resumed their conversations: api, web"),
        "{table}"
    );

    // web's transcript is deleted: after the next kill it starts from its prompt, and says why.
    let web_transcript = PathBuf::from(track(&after, "web")["transcript"].as_str().unwrap());
    std::fs::remove_file(&web_transcript).unwrap();
    kill_tmux(&env);
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(
        up.stderr
            .contains("web starts from its prompt: its transcript")
            && up.stderr.contains("is gone"),
        "{up}"
    );
    assert!(up.stderr.contains("api resumes its conversation"), "{up}");
    let from_prompt = conversation_requests(&model).len();
    env.wait_for("web's fresh start reaching the model", 60, || {
        conversation_requests(&model)
            .iter()
            .skip(from_prompt)
            .any(|r| said(r).contains("MANGO"))
    });
    let fresh = conversation_requests(&model)
        .into_iter()
        .skip(from_prompt)
        .find(|r| said(r).contains("MANGO"))
        .unwrap();
    assert!(!said(&fresh).contains("Noted."), "{}", said(&fresh));

    // --fresh starts a track over on purpose.
    kill_tmux(&env);
    let up = env.pk_ok(&["up", "--detach", "--fresh", "api"]);
    assert!(
        up.stderr
            .contains("api starts from its prompt: `pk up --fresh`"),
        "{up}"
    );
    env.pk_ok(&["down"]);
}

#[test]
fn real_codex_resumes_its_own_conversation_after_the_tmux_server_is_killed() {
    use pk_tests::fake_model::Reply;
    use pk_tests::fake_model::openai::{self, Usage as OpenAiUsage};
    const U: OpenAiUsage = OpenAiUsage {
        input: 1000,
        cached: 400,
        output: 50,
        reasoning: 20,
    };
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(real) = pk_tests::agents::require(Cli::Codex) else {
        return;
    };
    let model = FakeModel::start(|req: &Request, earlier: usize| {
        if req.path != "/v1/responses" {
            return Reply::Json(404, serde_json::json!({"error": {"message": "not faked"}}));
        }
        let text = if openai::is_title_request(req) {
            "Remember a word"
        } else {
            "Noted."
        };
        let msg = openai::message(0, &format!("msg_{earlier}"), text);
        Reply::Sse(openai::response(&format!("resp_{earlier}"), vec![msg], U))
    });
    env.write_plan(&(codex_plan(&env, &model, &real) + "[[track]]\nname = \"api\"\nagent = \"codex\"\nprompt = \"Remember the word PAPAYA.\"\n"));
    env.pk_ok(&["up", "--detach"]);
    env.wait_for("api done, its conversation recorded", 90, || {
        let s = env.status_json();
        track(&s, "api")["state"] == "done" && track(&s, "api")["conversation"].is_string()
    });
    let id = track(&env.status_json(), "api")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let served = codex_turns(&model).len();

    kill_tmux(&env);
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(
        up.stderr
            .contains(&format!("api resumes its conversation {id}")),
        "{up}"
    );
    let pane = env.pane_of("api");
    env.wait_for("codex ready in the resumed pane", 60, || {
        env.tmux(&["capture-pane", "-p", "-t", &pane])
            .stdout
            .contains("Noted.")
    });
    env.tmux(&["send-keys", "-t", &pane, "-l", "Which word was it?"]);
    std::thread::sleep(Duration::from_millis(300));
    env.tmux(&["send-keys", "-t", &pane, "Enter"]);
    env.wait_for("the question reaching the model", 60, || {
        codex_turns(&model)
            .iter()
            .skip(served)
            .any(|t| t.contains("Which word was it?"))
    });
    let turns = codex_turns(&model);
    let asked = turns
        .iter()
        .skip(served)
        .find(|t| t.contains("Which word was it?"))
        .unwrap();
    assert!(
        asked.contains("PAPAYA") && asked.contains("Noted."),
        "{asked}"
    );
    assert!(
        !turns
            .iter()
            .skip(served)
            .any(|t| t.contains("PAPAYA") && !t.contains("Which word")),
        "codex started over from its prompt"
    );
    assert_eq!(track(&env.status_json(), "api")["resumed"], true);
    env.pk_ok(&["down"]);
}

#[test]
fn real_headless_claude_resumes_a_cut_off_run_and_leaves_a_finished_one_as_it_ended() {
    use pk_tests::fake_model::{Gate, Reply};
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Claude) else {
        return;
    };
    // `cut`'s first turn is held mid-stream (never finished); everything else answers.
    let gate = Gate::new();
    let held = gate.clone();
    let model = FakeModel::start(move |req: &Request, _earlier: usize| -> Reply {
        if let Some(reply) = anthropic::side_reply(req) {
            return reply;
        }
        let text = said(req);
        let msg = Message::new(&format!("msg_{}", req.raw.len()), anthropic::MODEL, USAGE)
            .block(Block::text("Noted."));
        if text.contains("Say CUT") && !text.contains(pk_continue()) {
            let mut events = msg.events();
            events[0] = events[0].clone().held_by(&held);
            return Reply::Sse(events);
        }
        msg.reply_to(req)
    });
    let head = claude_plan(&path, &model);
    let plan = format!(
        "{head}[[track]]\nname = \"fin\"\nagent = \"claude-headless\"\nprompt = \"Say FIN.\"\n\n\
         [[track]]\nname = \"cut\"\nagent = \"claude-headless\"\nprompt = \"Say CUT.\"\n"
    );
    env.write_plan(&plan);
    env.pk_ok(&["up", "--detach"]);
    env.wait_for(
        "fin done and cut working, both conversations recorded",
        90,
        || {
            let s = env.status_json();
            track(&s, "fin")["state"] == "done"
                && track(&s, "fin")["tokens"]["output"] == USAGE.output
                && track(&s, "cut")["state"] == "working"
                && track(&s, "cut")["conversation"].is_string()
                && track(&s, "fin")["conversation"].is_string()
        },
    );
    let cut_id = track(&env.status_json(), "cut")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let served = conversation_requests(&model).len();

    kill_tmux(&env);
    gate.open();
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(up.stderr.contains("fin had finished its run"), "{up}");
    assert!(
        up.stderr
            .contains(&format!("cut resumes its conversation {cut_id}")),
        "{up}"
    );
    env.wait_for("cut told to go on", 60, || {
        conversation_requests(&model)
            .iter()
            .skip(served)
            .any(|r| said(r).contains(pk_continue()))
    });
    let resumed = conversation_requests(&model)
        .into_iter()
        .skip(served)
        .find(|r| said(r).contains(pk_continue()))
        .unwrap();
    assert!(said(&resumed).contains("Say CUT."), "{}", said(&resumed));
    env.wait_for("cut done", 60, || {
        track(&env.status_json(), "cut")["state"] == "done"
    });
    let s = env.status_json();
    assert_eq!(track(&s, "cut")["resumed"], true);
    // fin was not run again: no new turn of its, its figures as they were.
    assert!(
        !conversation_requests(&model)
            .iter()
            .skip(served)
            .any(|r| said(r).contains("Say FIN.")),
        "fin ran again"
    );
    assert_eq!(track(&s, "fin")["state"], "done");
    assert_eq!(track(&s, "fin")["tokens"]["output"], USAGE.output);
    env.pk_ok(&["down"]);
}

/// What pk tells a headless agent it resumes (`pk_cli`'s `CONTINUE`), as the model sees it.
fn pk_continue() -> &'static str {
    "Your run was interrupted. Continue the task where you left off."
}

#[test]
fn real_codex_exec_resumes_a_run_cut_off_in_the_middle() {
    use pk_tests::fake_model::openai::{self, Usage as OpenAiUsage};
    use pk_tests::fake_model::{Gate, Reply};
    const U: OpenAiUsage = OpenAiUsage {
        input: 1000,
        cached: 400,
        output: 50,
        reasoning: 20,
    };
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(real) = pk_tests::agents::require(Cli::Codex) else {
        return;
    };
    let gate = Gate::new();
    let held = gate.clone();
    let model = FakeModel::start(move |req: &Request, earlier: usize| -> Reply {
        if req.path != "/v1/responses" {
            return Reply::Json(404, serde_json::json!({"error": {"message": "not faked"}}));
        }
        let input = openai::body(req)["input"].to_string();
        let msg = openai::message(0, &format!("msg_{earlier}"), "Noted.");
        let mut events = openai::response(&format!("resp_{earlier}"), vec![msg], U);
        if !openai::is_title_request(req) && !input.contains(pk_continue()) {
            events[0] = events[0].clone().held_by(&held);
        }
        Reply::Sse(events)
    });
    env.write_plan(
        &(codex_plan(&env, &model, &real)
            + "[[track]]\nname = \"api\"\nagent = \"codex-exec\"\nprompt = \"Say CUT.\"\n"),
    );
    env.pk_ok(&["up", "--detach"]);
    env.wait_for("api working mid-run, its conversation recorded", 90, || {
        let s = env.status_json();
        track(&s, "api")["conversation"].is_string() && !codex_turns(&model).is_empty()
    });
    let id = track(&env.status_json(), "api")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let served = codex_turns(&model).len();
    kill_tmux(&env);
    gate.open();
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(
        up.stderr
            .contains(&format!("api resumes its conversation {id}")),
        "{up}"
    );
    env.wait_for("codex exec told to go on", 60, || {
        codex_turns(&model)
            .iter()
            .skip(served)
            .any(|t| t.contains(pk_continue()))
    });
    let turns = codex_turns(&model);
    let resumed = turns
        .iter()
        .skip(served)
        .find(|t| t.contains(pk_continue()))
        .unwrap();
    assert!(resumed.contains("Say CUT."), "{resumed}");
    env.wait_for("api done", 60, || {
        track(&env.status_json(), "api")["state"] == "done"
    });
    env.pk_ok(&["down"]);
}

#[test]
fn real_gemini_resumes_a_run_cut_off_in_the_middle() {
    use pk_tests::fake_model::gemini::{self, Usage as GeminiUsage};
    use pk_tests::fake_model::{Gate, Reply};
    const MODEL: &str = "gemini-2.5-pro";
    const U: GeminiUsage = GeminiUsage {
        prompt: 1000,
        cached: 200,
        candidates: 50,
        thoughts: 30,
    };
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Gemini) else {
        return;
    };
    let gate = Gate::new();
    let held = gate.clone();
    let model = FakeModel::start(move |req: &Request, _| -> Reply {
        if !gemini::is_generate(req) {
            return gemini::side_reply(req);
        }
        let contents = req.body["contents"].to_string();
        let mut events = gemini::answer(MODEL, "Noted.", &U);
        if !contents.contains(pk_continue()) {
            events[0] = events[0].clone().held_by(&held);
        }
        Reply::Sse(events)
    });
    gemini::write_settings(&env.root().join("home"));
    let mut vars = format!("PATH = {path:?}\n");
    for (k, v) in gemini::env(&model, MODEL) {
        vars.push_str(&format!("{k} = {v:?}\n"));
    }
    env.write_plan(&format!(
        "[session]\nname = \"shop\"\n\n[env]\n{vars}\n[[track]]\nname = \"api\"\nagent = \"gemini\"\nprompt = \"Say CUT.\"\n"
    ));
    env.pk_ok(&["up", "--detach"]);
    let turns = |model: &FakeModel| -> Vec<String> {
        model
            .requests()
            .iter()
            .filter(|r| gemini::is_generate(r))
            .map(|r| r.body["contents"].to_string())
            .collect()
    };
    env.wait_for("gemini mid-run, its conversation recorded", 90, || {
        track(&env.status_json(), "api")["conversation"].is_string()
            && turns(&model).iter().any(|t| t.contains("Say CUT."))
    });
    let id = track(&env.status_json(), "api")["conversation"]
        .as_str()
        .unwrap()
        .to_string();
    let served = turns(&model).len();
    kill_tmux(&env);
    gate.open();
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(
        up.stderr
            .contains(&format!("api resumes its conversation {id}")),
        "{up}"
    );
    env.wait_for("gemini told to go on", 60, || {
        turns(&model)
            .iter()
            .skip(served)
            .any(|t| t.contains(pk_continue()))
    });
    let all = turns(&model);
    let resumed = all
        .iter()
        .skip(served)
        .find(|t| t.contains(pk_continue()))
        .unwrap();
    assert!(resumed.contains("Say CUT."), "{resumed}");
    env.pk_ok(&["down"]);
}

#[test]
fn real_claude_that_refuses_to_resume_starts_from_its_prompt_and_says_why() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(path) = env.real_agent(Cli::Claude) else {
        return;
    };
    let model = FakeModel::start(noted);
    anthropic::write_claude_json(&env.root().join("home"), &[&canonical(&env.repo)]);
    let head = claude_plan(&path, &model);
    env.write_plan(&format!(
        "{head}[[track]]\nname = \"api\"\nagent = \"claude\"\nprompt = \"Remember the word PAPAYA.\"\n"
    ));
    env.pk_ok(&["up", "--detach"]);
    env.wait_for("api done, its conversation recorded", 90, || {
        let s = env.status_json();
        track(&s, "api")["state"] == "done" && track(&s, "api")["conversation"].is_string()
    });
    let transcript = PathBuf::from(
        track(&env.status_json(), "api")["transcript"]
            .as_str()
            .unwrap(),
    );
    let served = conversation_requests(&model).len();
    // pk's record names a conversation whose file is there but that Claude Code never had:
    // it refuses to resume it.
    let unknown = "00000000-1111-4222-8333-444444444444";
    let file = transcript.with_file_name(format!("{unknown}.jsonl"));
    std::fs::write(&file, "").unwrap();
    std::fs::write(
        env.repo.join(".git/pk/shop/tracks/api/conversation.json"),
        serde_json::json!({"id": unknown, "transcript": file}).to_string(),
    )
    .unwrap();
    kill_tmux(&env);
    let up = env.pk_ok(&["up", "--detach"]);
    assert!(up.stderr.contains("api resumes its conversation"), "{up}");
    let again = pk_tests::poll_until(Duration::from_secs(30), || {
        conversation_requests(&model)
            .iter()
            .skip(served)
            .any(|r| said(r).contains("PAPAYA"))
    });
    let pane = env.pane_of("api");
    assert!(
        again,
        "api never started again from its prompt; its pane:\n{}",
        env.tmux(&["capture-pane", "-p", "-t", &pane]).stdout
    );
    let status = env.status_json();
    assert_eq!(track(&status, "api")["resumed"], false, "{status}");
    assert!(
        track(&status, "api")["resume_refused"]
            .as_str()
            .is_some_and(|w| w.contains("did not resume")),
        "{status}"
    );
    let table = env.pk_ok(&["status"]).stdout;
    assert!(
        table.contains("api started from its prompt: claude did not resume"),
        "{table}"
    );
    env.pk_ok(&["down"]);
}
