//! The Anthropic Messages API as Claude Code 2.1.328 calls it (`POST /v1/messages?beta=true`,
//! streamed), for [`super::FakeModel`] scripts, and the throwaway Claude Code configuration that
//! points the real CLI at the fake server.
//!
//! A response is one message: `message_start` (its id, model and input usage),
//! `content_block_start`/`_delta`/`_stop` per block (text, or a tool call whose input streams as
//! JSON), `message_delta` (`stop_reason` and the final usage), `message_stop`. Every response of
//! a script built here carries the same [`Usage`], so a test knows what was served.
//!
//! Claude Code also asks the model things of its own besides the conversation (a title for the
//! session, with the small fast model; token counts): [`side_reply`] answers those from the
//! request's content.

use super::{Event, Gate, Reply, Request};
use serde_json::{Value, json};
use std::path::Path;

/// The main model the tests run Claude Code with: one pk's price table knows.
pub const MODEL: &str = "claude-sonnet-4-5-20250929";
/// The small fast model (titles, topics).
pub const SMALL_MODEL: &str = "claude-haiku-4-5-20251001";
/// The API key the tests give Claude Code; its last 20 characters are approved in
/// `~/.claude.json` so that Claude does not ask.
pub const API_KEY: &str = "sk-ant-api03-pk-test-0123456789abcdefghijklmnopqrstuv";

/// Token usage of one response, in the API's four counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    fn start_json(&self) -> Value {
        // At the start the API reports the input side and a single output token; the final
        // output count comes with `message_delta`.
        json!({
            "input_tokens": self.input,
            "output_tokens": 1,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
        })
    }

    fn final_json(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_creation_input_tokens": self.cache_write,
            "cache_read_input_tokens": self.cache_read,
        })
    }

    /// `n` times this usage, counter by counter.
    pub fn times(&self, n: u64) -> Usage {
        Usage {
            input: self.input * n,
            output: self.output * n,
            cache_read: self.cache_read * n,
            cache_write: self.cache_write * n,
        }
    }
}

/// One content block of a response.
#[derive(Debug, Clone)]
pub enum Block {
    Text(String),
    /// A tool call: its id (`toolu_…`), the tool's name and its input.
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

impl Block {
    pub fn text(text: &str) -> Block {
        Block::Text(text.to_string())
    }

    /// A call of Claude Code's `Bash` tool.
    pub fn bash(id: &str, command: &str, description: &str) -> Block {
        Block::ToolUse {
            id: id.to_string(),
            name: "Bash".to_string(),
            input: json!({"command": command, "description": description}),
        }
    }
}

/// A streamed response, built block by block; [`Message::events`] gives its events.
#[derive(Debug, Clone)]
pub struct Message {
    id: String,
    model: String,
    usage: Usage,
    blocks: Vec<Block>,
    /// Held at this gate after the block of that index is complete (before the next block, or
    /// before `message_delta` after the last).
    hold: Option<(usize, Gate)>,
}

impl Message {
    pub fn new(id: &str, model: &str, usage: Usage) -> Message {
        Message {
            id: id.to_string(),
            model: model.to_string(),
            usage,
            blocks: Vec::new(),
            hold: None,
        }
    }

    pub fn block(mut self, block: Block) -> Message {
        self.blocks.push(block);
        self
    }

    /// Holds the stream at `gate` once block `index` has been sent whole.
    pub fn hold_after(mut self, index: usize, gate: &Gate) -> Message {
        self.hold = Some((index, gate.clone()));
        self
    }

    /// Why the message stopped: `tool_use` when it calls a tool.
    fn stop_reason(&self) -> &'static str {
        if self
            .blocks
            .iter()
            .any(|b| matches!(b, Block::ToolUse { .. }))
        {
            "tool_use"
        } else {
            "end_turn"
        }
    }

    /// The server-sent events of the message.
    pub fn events(&self) -> Vec<Event> {
        let mut events = vec![Event::named(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": self.usage.start_json(),
            }}),
        )];
        for (index, block) in self.blocks.iter().enumerate() {
            let (start, delta) = match block {
                Block::Text(text) => (
                    json!({"type": "text", "text": ""}),
                    json!({"type": "text_delta", "text": text}),
                ),
                Block::ToolUse { id, name, input } => (
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    json!({"type": "input_json_delta", "partial_json": input.to_string()}),
                ),
            };
            events.push(Event::named(
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": start}),
            ));
            events.push(Event::named(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
            events.push(Event::named(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
            if let Some((at, gate)) = &self.hold
                && *at == index
            {
                // The next event waits; the blocks so far are out.
                events.push(Event::named("ping", json!({"type": "ping"})).held_by(gate));
            }
        }
        events.push(Event::named(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                "usage": self.usage.final_json()}),
        ));
        events.push(Event::named(
            "message_stop",
            json!({"type": "message_stop"}),
        ));
        events
    }

    /// The message as one JSON body, for a request that did not ask for a stream.
    pub fn json(&self) -> Value {
        let content: Vec<Value> = self
            .blocks
            .iter()
            .map(|b| match b {
                Block::Text(text) => json!({"type": "text", "text": text}),
                Block::ToolUse { id, name, input } => {
                    json!({"type": "tool_use", "id": id, "name": name, "input": input})
                }
            })
            .collect();
        json!({"id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": self.stop_reason(), "stop_sequence": null,
            "usage": self.usage.final_json()})
    }

    /// The reply to `request`: streamed when it asked for a stream.
    pub fn reply_to(&self, request: &Request) -> Reply {
        if request.body["stream"] == json!(true) {
            Reply::Sse(self.events())
        } else {
            Reply::Json(200, self.json())
        }
    }
}

/// Whether `request` is a turn of the conversation with the main model (not a token count, not
/// a side question to the small model).
pub fn is_conversation(request: &Request) -> bool {
    request.method == "POST"
        && request.path == "/v1/messages"
        && request.body["model"].as_str() == Some(MODEL)
        && request.body["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
}

/// The answer to a request that is not a turn of the conversation ([`is_conversation`]): a
/// token count, or a short text from the small model (a session title, a topic check). `None`
/// for a conversation request.
pub fn side_reply(request: &Request) -> Option<Reply> {
    if request.path.ends_with("/count_tokens") {
        return Some(Reply::Json(200, json!({"input_tokens": 100})));
    }
    if is_conversation(request) {
        return None;
    }
    let model = request.body["model"].as_str().unwrap_or(SMALL_MODEL);
    // Side questions ask for JSON (`{"title": …}`, `{"isNewTopic": …}`) or a short text; this
    // does for both.
    let text = r#"{"isNewTopic": false, "title": "Make a file"}"#;
    let usage = Usage {
        input: 50,
        output: 10,
        cache_read: 0,
        cache_write: 0,
    };
    let id = format!("msg_side_{}", request.raw.len());
    Some(
        Message::new(&id, model, usage)
            .block(Block::text(text))
            .reply_to(request),
    )
}

/// The `tool_result`s of the request's last user message: (tool_use id, content as text).
pub fn tool_results(request: &Request) -> Vec<(String, String)> {
    let Some(last) = request.body["messages"].as_array().and_then(|m| m.last()) else {
        return Vec::new();
    };
    last["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            let content = match &b["content"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (
                b["tool_use_id"].as_str().unwrap_or_default().to_string(),
                content,
            )
        })
        .collect()
}

/// Writes a throwaway `~/.claude.json` into `home`: onboarding done, [`API_KEY`] approved, and
/// each folder of `trusted` trusted (`projects[path].hasTrustDialogAccepted`).
pub fn write_claude_json(home: &Path, trusted: &[&Path]) {
    let mut projects = serde_json::Map::new();
    for path in trusted {
        projects.insert(
            path.to_string_lossy().into_owned(),
            json!({"hasTrustDialogAccepted": true, "allowedTools": []}),
        );
    }
    let key_tail = &API_KEY[API_KEY.len() - 20..];
    let config = json!({
        "hasCompletedOnboarding": true,
        "lastOnboardingVersion": crate::agents::Cli::Claude.version(),
        "theme": "dark",
        "numStartups": 1,
        "customApiKeyResponses": {"approved": [key_tail], "rejected": []},
        "bypassPermissionsModeAccepted": false,
        "projects": projects,
    });
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(
        home.join(".claude.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
}

/// The environment that points Claude Code at the fake server at `url` and keeps it off the
/// network, for a plan's `[env]`.
pub fn env_vars(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ANTHROPIC_BASE_URL", url.to_string()),
        ("ANTHROPIC_API_KEY", API_KEY.to_string()),
        ("ANTHROPIC_MODEL", MODEL.to_string()),
        ("ANTHROPIC_SMALL_FAST_MODEL", SMALL_MODEL.to_string()),
        ("ANTHROPIC_DEFAULT_HAIKU_MODEL", SMALL_MODEL.to_string()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_string()),
        ("DISABLE_AUTOUPDATER", "1".to_string()),
        ("DISABLE_TELEMETRY", "1".to_string()),
        ("DISABLE_ERROR_REPORTING", "1".to_string()),
    ]
}
