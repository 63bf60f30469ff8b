//! The Gemini API as Gemini CLI 0.61 calls it: `POST /v1beta/models/<model>:
//! streamGenerateContent?alt=sse`, answered with `data:` events, each a `GenerateContentResponse`
//! chunk (`candidates[0].content.parts`: text, thought text, `functionCall`), the last one with
//! `finishReason` and `usageMetadata`. Headless (`-p`) Gemini offers only read-only tools
//! (`read_file`, `list_directory`, `glob`, `grep_search`, …: no shell, no `write_file`), so a
//! scenario's tool is one of those. Other paths (`countTokens`, Code Assist's) get a sensible
//! JSON answer from [`side_reply`].

use super::{Event, FakeModel, Reply, Request};
use serde_json::{Value, json};
use std::path::Path;

/// The token counts of one response, as `usageMetadata` reports them. `prompt` includes
/// `cached`; `thoughts` are apart from `candidates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub cached: u64,
    pub candidates: u64,
    pub thoughts: u64,
}

impl Usage {
    /// `usageMetadata`, its total as the API sums it.
    pub fn metadata(&self) -> Value {
        json!({
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": self.candidates,
            "thoughtsTokenCount": self.thoughts,
            "cachedContentTokenCount": self.cached,
            "totalTokenCount": self.prompt + self.candidates + self.thoughts,
        })
    }
}

fn chunk(parts: Value, finish: Option<&Usage>, model: &str) -> Event {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    let mut body = json!({"modelVersion": model});
    if let Some(usage) = finish {
        candidate["finishReason"] = json!("STOP");
        body["usageMetadata"] = usage.metadata();
    }
    body["candidates"] = json!([candidate]);
    Event::data(body)
}

/// A response that thinks, then calls `name` with `args`.
pub fn function_call(model: &str, name: &str, args: Value, usage: &Usage) -> Vec<Event> {
    vec![
        chunk(
            json!([{"text": "Looking at the files.", "thought": true}]),
            None,
            model,
        ),
        chunk(
            json!([{"functionCall": {"name": name, "args": args}}]),
            Some(usage),
            model,
        ),
    ]
}

/// A response that thinks, then answers `text` in two pieces.
pub fn answer(model: &str, text: &str, usage: &Usage) -> Vec<Event> {
    let (a, b) = text.split_at(text.len() / 2);
    vec![
        chunk(
            json!([{"text": "Putting it together.", "thought": true}]),
            None,
            model,
        ),
        chunk(json!([{"text": a}]), None, model),
        chunk(json!([{"text": b}]), Some(usage), model),
    ]
}

/// True for a `streamGenerateContent` call.
pub fn is_generate(req: &Request) -> bool {
    req.method == "POST" && req.path.ends_with(":streamGenerateContent")
}

/// The model a request names in its path (`/v1beta/models/<model>:…`).
pub fn model_of(req: &Request) -> Option<&str> {
    let rest = req.path.strip_prefix("/v1beta/models/")?;
    rest.split(':').next()
}

/// The `functionResponse` parts a request carries: the results of the tools the CLI ran.
pub fn function_responses(req: &Request) -> Vec<Value> {
    req.body["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["parts"].as_array().into_iter().flatten())
        .filter_map(|p| p.get("functionResponse").cloned())
        .collect()
}

/// The answer to anything but a `streamGenerateContent` call: a token count for
/// `countTokens`, else a 404 in the API's error shape (Code Assist, which an API key never
/// uses).
pub fn side_reply(req: &Request) -> Reply {
    if req.path.ends_with(":countTokens") {
        return Reply::Json(200, json!({"totalTokens": 100}));
    }
    Reply::Json(
        404,
        json!({"error": {"code": 404, "message": format!("{} is not served here", req.path), "status": "NOT_FOUND"}}),
    )
}

/// Writes a throwaway `<home>/.gemini/settings.json`: an API key for authentication, and no
/// telemetry, usage statistics or update checks (nothing leaves 127.0.0.1).
pub fn write_settings(home: &Path) {
    let dir = home.join(".gemini");
    std::fs::create_dir_all(&dir).unwrap();
    let settings = json!({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "telemetry": {"enabled": false},
        "privacy": {"usageStatisticsEnabled": false},
        "general": {"disableAutoUpdate": true, "enableAutoUpdate": false, "enableAutoUpdateNotification": false},
    });
    std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
}

/// The environment that points Gemini CLI at `server` with `model`, for a plan's `[env]`.
/// `GEMINI_CLI_NO_RELAUNCH`: the CLI would otherwise start itself again in a child node.
pub fn env(server: &FakeModel, model: &str) -> Vec<(String, String)> {
    [
        ("GEMINI_API_KEY", "fake-key-for-127.0.0.1".to_string()),
        ("GOOGLE_GEMINI_BASE_URL", server.url()),
        ("GEMINI_MODEL", model.to_string()),
        ("GEMINI_CLI_NO_RELAUNCH", "true".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
