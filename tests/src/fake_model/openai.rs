//! The OpenAI Responses API's stream (`POST /v1/responses`), as Codex 0.169.0 reads it, for
//! [`super::FakeModel`] scripts; a scenario with a shell command that needs approval; and a
//! throwaway `CODEX_HOME` pointing Codex at the fake model.
//!
//! What Codex 0.169.0 does, as seen against this server: it sends every request of a thread to
//! `POST /v1/responses` with `stream: true`, uncompressed (no `content-encoding`, checked by
//! [`body`]); the interactive CLI writes the thread's title on a second thread of its own, a
//! request with no tools whose input asks for "a concise, single-line task title"
//! ([`is_title_request`]), billed but in no rollout. Its shell tool is `exec_command`, with the
//! command in `cmd` and `sandbox_permissions: "require_escalated"` to ask the user first.

use super::{Event, Gate, Reply, Request, Script};
use serde_json::{Value, json};
use std::path::Path;

/// The name of the variable holding the fake API key ([`write_codex_home`]'s `env_key`).
pub const KEY_VAR: &str = "FAKE_OPENAI_KEY";

/// The usage one response reports. Input counts include the cached part and output counts
/// the reasoning part, as OpenAI's do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl Usage {
    fn json(self) -> Value {
        json!({
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cached},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        })
    }
}

fn event(data: Value) -> Event {
    let name = data["type"].as_str().unwrap_or_default().to_string();
    Event::named(&name, data)
}

/// `response.created`: the first event of every response.
pub fn created(id: &str) -> Event {
    event(json!({"type": "response.created", "response": {"id": id, "status": "in_progress"}}))
}

/// An assistant message: the item added, its text as one delta, the item done.
pub fn message(index: usize, id: &str, text: &str) -> Vec<Event> {
    let item = |content: Value| {
        json!({"type": "message", "role": "assistant", "id": id, "status": "completed",
               "content": content})
    };
    vec![
        event(
            json!({"type": "response.output_item.added", "output_index": index,
                     "item": item(json!([]))}),
        ),
        event(
            json!({"type": "response.output_text.delta", "output_index": index,
                     "content_index": 0, "item_id": id, "delta": text}),
        ),
        event(
            json!({"type": "response.output_item.done", "output_index": index,
                     "item": item(json!([{"type": "output_text", "text": text, "annotations": []}]))}),
        ),
    ]
}

/// A function (tool) call with its arguments (a JSON object, sent as a string as OpenAI does).
pub fn function_call(index: usize, call_id: &str, name: &str, arguments: &Value) -> Vec<Event> {
    let item = |args: &str| {
        json!({"type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
               "name": name, "arguments": args, "status": "completed"})
    };
    vec![
        event(
            json!({"type": "response.output_item.added", "output_index": index,
                     "item": item("")}),
        ),
        event(
            json!({"type": "response.output_item.done", "output_index": index,
                     "item": item(&arguments.to_string())}),
        ),
    ]
}

/// `response.completed` with the response's usage: the last event.
pub fn completed(id: &str, usage: Usage) -> Event {
    event(json!({"type": "response.completed",
                 "response": {"id": id, "status": "completed", "usage": usage.json()}}))
}

/// A whole response: created, the items' events, completed with `usage`.
pub fn response(id: &str, items: Vec<Vec<Event>>, usage: Usage) -> Vec<Event> {
    let mut events = vec![created(id)];
    events.extend(items.into_iter().flatten());
    events.push(completed(id, usage));
    events
}

/// The request's body as JSON. Codex 0.169 sends it uncompressed to a custom provider; a
/// compressed one would need decoding here first, so it fails loudly rather than misread.
pub fn body(request: &Request) -> &Value {
    if let Some(encoding) = request.header("content-encoding") {
        assert!(
            encoding == "identity",
            "Codex compressed its request ({encoding}): decode it in fake_model::openai::body"
        );
    }
    &request.body
}

/// True for the request of Codex's title thread: no tools, and an input asking for a title.
pub fn is_title_request(request: &Request) -> bool {
    let b = body(request);
    let no_tools = b["tools"].as_array().is_none_or(|t| t.is_empty());
    no_tools && b["input"].to_string().contains("single-line task title")
}

/// The output the request carries for tool call `call_id`, once the tool ran (or was declined).
pub fn tool_output(request: &Request, call_id: &str) -> Option<String> {
    body(request)["input"].as_array()?.iter().find_map(|item| {
        let kind = item["type"].as_str()?;
        (kind.ends_with("call_output") && item["call_id"] == call_id)
            .then(|| item["output"].to_string())
    })
}

/// A turn with one shell command: the first response calls Codex's `exec_command` with
/// `command`, the next (once the request carries the command's output) answers
/// `final_text`, each reporting `usage`. With `escalate`, the call asks for escalated
/// permissions, which interactive Codex (`approval_policy = "on-request"`) asks the user
/// for; without, it runs in the workspace sandbox (`codex exec` asks no one). The title thread
/// is answered `title` with `title_usage`. The final answer waits for `hold`, the title for
/// `hold_title`, when given.
pub struct ShellTurn {
    pub command: String,
    pub escalate: bool,
    pub final_text: String,
    pub usage: Usage,
    pub title: String,
    pub title_usage: Usage,
    pub hold: Option<Gate>,
    pub hold_title: Option<Gate>,
}

/// The call id of [`ShellTurn`]'s command.
pub const CALL_ID: &str = "call_pk_1";

impl Script for ShellTurn {
    fn reply(&self, request: &Request, earlier: usize) -> Reply {
        let id = format!("resp_{earlier}");
        if request.path != "/v1/responses" {
            return Reply::Json(404, json!({"error": {"message": "not faked"}}));
        }
        if is_title_request(request) {
            let msg = message(0, &format!("msg_{earlier}"), &self.title);
            let mut events = response(&id, vec![msg], self.title_usage);
            if let Some(gate) = &self.hold_title {
                events[0] = events[0].clone().held_by(gate);
            }
            return Reply::Sse(events);
        }
        if tool_output(request, CALL_ID).is_some() {
            let mut events = response(
                &id,
                vec![message(0, &format!("msg_{earlier}"), &self.final_text)],
                self.usage,
            );
            if let Some(gate) = &self.hold {
                events[0] = events[0].clone().held_by(gate);
            }
            return Reply::Sse(events);
        }
        let mut args = json!({"cmd": self.command});
        if self.escalate {
            args["sandbox_permissions"] = json!("require_escalated");
            args["justification"] = json!("The test asks for it.");
        }
        let call = function_call(0, CALL_ID, "exec_command", &args);
        Reply::Sse(response(&id, vec![call], self.usage))
    }
}

/// Writes a throwaway `CODEX_HOME/config.toml` that points Codex at the fake model at
/// `base_url` (`http://127.0.0.1:PORT`) with `model`, asks before escalated commands
/// (`approval_policy = "on-request"`, `sandbox_mode = "workspace-write"`), checks for no update,
/// sends no analytics, and trusts the folders `trusted` (the worktrees the test will use, so
/// no trust dialog). Returns the environment a plan's `[env]` needs for it.
pub fn write_codex_home(
    codex_home: &Path,
    base_url: &str,
    model: &str,
    trusted: &[&Path],
) -> Vec<(String, String)> {
    std::fs::create_dir_all(codex_home).unwrap();
    let mut config = format!(
        r#"model = "{model}"
model_provider = "fake"
approval_policy = "on-request"
sandbox_mode = "workspace-write"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.fake]
name = "fake"
base_url = "{base_url}/v1"
wire_api = "responses"
env_key = "{KEY_VAR}"
"#
    );
    for dir in trusted {
        config.push_str(&format!(
            "\n[projects.{}]\ntrust_level = \"trusted\"\n",
            json!(dir.to_string_lossy())
        ));
    }
    std::fs::write(codex_home.join("config.toml"), config).unwrap();
    vec![
        (
            "CODEX_HOME".to_string(),
            codex_home.to_string_lossy().into_owned(),
        ),
        (KEY_VAR.to_string(), "sk-fake-not-a-key".to_string()),
    ]
}
