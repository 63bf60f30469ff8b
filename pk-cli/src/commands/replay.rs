//! `pk replay` (hidden): a fake agent for the demo and the tests. It replays a fixture
//! transcript into a file over time, as a real agent would write it, and shows a readable
//! rendering in its pane. Asked to (`--events`, or `$PK_EVENTS` in a pk pane), it also writes
//! the hook events an interactive Claude would: `UserPromptSubmit` at the start, `PreToolUse`
//! per tool call, `PermissionRequest` when the fixture ends blocked on a permission (then it
//! waits for Enter in its pane, answers, and finishes), and `Stop` or `StopFailure` at the end.

use crate::error::{Context, Error, Result};
use crate::live::render;
use crate::session::hooks;
use clap::Args;
use serde_json::{Value, json};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The fixtures built into pk, by name.
const FIXTURES: [(&str, &str); 4] = [
    (
        "claude-stream-success",
        include_str!("../../assets/replay/claude-stream-success.ndjson"),
    ),
    (
        "claude-stream-waiting-permission",
        include_str!("../../assets/replay/claude-stream-waiting-permission.ndjson"),
    ),
    (
        "claude-stream-error-max-turns",
        include_str!("../../assets/replay/claude-stream-error-max-turns.ndjson"),
    ),
    (
        "codex-exec-success",
        include_str!("../../assets/replay/codex-exec-success.jsonl"),
    ),
];

/// Replay a transcript fixture as a fake agent.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A built-in fixture name, or a path to a transcript file.
    pub fixture: String,
    /// Where to write the transcript [default: $PK_TRANSCRIPT].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write Claude-style hook events to this file [default: $PK_EVENTS].
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Seconds between two lines.
    #[arg(long, default_value_t = 1.0)]
    pub delay: f64,
    /// Exit when the replay is over instead of waiting for input like an agent would.
    #[arg(long)]
    pub exit: bool,
}

/// Runs `pk replay`; exits 1 when the replayed run failed, like the agent would.
pub fn run(args: &ReplayArgs) -> Result<u8> {
    let text = match FIXTURES.iter().find(|(n, _)| *n == args.fixture) {
        Some((_, text)) => (*text).to_string(),
        None => std::fs::read_to_string(&args.fixture).with_context(|| {
            format!(
                "failed to read fixture `{}` (built in: {})",
                args.fixture,
                FIXTURES.map(|(n, _)| n).join(", ")
            )
        })?,
    };
    let out = args
        .out
        .clone()
        .or_else(|| std::env::var_os(crate::session::env_vars::PK_TRANSCRIPT).map(PathBuf::from))
        .ok_or_else(|| Error::usage("no transcript path: pass --out or set PK_TRANSCRIPT"))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .with_context(|| format!("failed to open {}", out.display()))?;
    let events = args
        .events
        .clone()
        .or_else(|| std::env::var_os(crate::session::env_vars::PK_EVENTS).map(PathBuf::from))
        .map(Hooks::new);
    let mut agent = Agent {
        file,
        events,
        delay: Duration::from_secs_f64(args.delay.max(0.0)),
    };
    println!("replaying {} into {}", args.fixture, out.display());
    let failed = agent.replay(&text)?;
    if args.exit {
        return Ok(u8::from(failed));
    }
    println!("(waiting for the next instruction; Ctrl-D ends this agent)");
    let mut sink = String::new();
    while std::io::stdin()
        .lock()
        .read_line(&mut sink)
        .is_ok_and(|n| n > 0)
    {
        sink.clear();
    }
    Ok(u8::from(failed))
}

/// The fake agent: its transcript and, when asked, its hook events.
struct Agent {
    file: std::fs::File,
    events: Option<Hooks>,
    delay: Duration,
}

impl Agent {
    /// Replays `text` line by line; returns true when the run failed.
    fn replay(&mut self, text: &str) -> Result<bool> {
        self.hook(
            "UserPromptSubmit",
            json!({"prompt": std::env::var(crate::session::env_vars::PK_PROMPT).unwrap_or_default()}),
        );
        let mut failed = false;
        let mut open_request: Option<Value> = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            std::thread::sleep(self.delay);
            let value: Value = serde_json::from_str(line).unwrap_or(Value::Null);
            for (name, input) in tool_calls(&value) {
                self.hook(
                    "PreToolUse",
                    json!({"tool_name": name, "tool_input": input}),
                );
            }
            if value["type"] == "control_request" {
                let req = &value["request"];
                // The hook fires as the dialog is about to show: before the transcript says so.
                self.hook(
                    "PermissionRequest",
                    json!({"tool_name": req["tool_name"], "tool_input": req["input"]}),
                );
                open_request = Some(value.clone());
            }
            self.write(line)?;
            if let Some(shown) = render::describe(&value) {
                println!("{shown}");
            }
            failed |= value["is_error"] == Value::Bool(true) || value["type"] == "turn.failed";
            if value["type"] == "result" {
                open_request = None;
            }
        }
        if let Some(request) = open_request {
            self.grant(&request)?;
        }
        if failed {
            self.hook("StopFailure", json!({"error": "the replayed run failed"}));
        } else {
            self.hook("Stop", json!({"stop_hook_active": false}));
        }
        Ok(failed)
    }

    /// The run ended blocked on a permission: waits for Enter in the pane, then answers the
    /// request in the transcript and finishes the run.
    fn grant(&mut self, request: &Value) -> Result<()> {
        println!("  ? allow this tool? press Enter to allow");
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        let req = &request["request"];
        self.hook(
            "PostToolUse",
            json!({"tool_name": req["tool_name"], "tool_input": req["input"],
                   "tool_response": {"stdout": "ok"}}),
        );
        let response = json!({
            "type": "control_response",
            "response": {"subtype": "success", "request_id": request["request_id"],
                         "response": {"behavior": "allow"}}
        });
        self.write(&response.to_string())?;
        println!("  permission granted");
        std::thread::sleep(self.delay);
        let result = json!({
            "type": "result", "subtype": "success", "is_error": false,
            "result": "Done after permission.", "num_turns": 2,
            "total_cost_usd": 0.0456,
            "usage": {"input_tokens": 1200, "output_tokens": 2000,
                      "cache_read_input_tokens": 8000, "cache_creation_input_tokens": 1000}
        });
        self.write(&result.to_string())?;
        if let Some(shown) = render::describe(&result) {
            println!("{shown}");
        }
        Ok(())
    }

    fn write(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}").context("failed to write the transcript")
    }

    fn hook(&self, event: &str, fields: Value) {
        if let Some(h) = &self.events {
            h.write(event, fields);
        }
    }
}

/// Where the fake agent's hook events go, with what every payload carries.
struct Hooks {
    path: PathBuf,
    session_id: String,
    cwd: String,
}

impl Hooks {
    fn new(path: PathBuf) -> Hooks {
        Hooks {
            path,
            session_id: format!("replay-{}", std::process::id()),
            cwd: std::env::current_dir()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// Appends one event. A failure is reported, not fatal: the replay is what matters.
    fn write(&self, event: &str, fields: Value) {
        let mut payload = json!({
            "session_id": self.session_id,
            "cwd": self.cwd,
            "hook_event_name": event,
        });
        if let (Some(p), Value::Object(extra)) = (payload.as_object_mut(), fields) {
            p.extend(extra);
        }
        if let Err(e) = hooks::append_value(
            Path::new(&self.path),
            &payload,
            crate::util::clock::now_ms(),
        ) {
            eprintln!("pk replay: {e}");
        }
    }
}

/// The tool calls a record makes: Claude `tool_use` blocks, Codex commands.
fn tool_calls(v: &Value) -> Vec<(String, Value)> {
    match v["type"].as_str() {
        Some("assistant") => v["message"]["content"]
            .as_array()
            .map(|blocks| {
                blocks
                    .iter()
                    .filter(|b| b["type"] == "tool_use")
                    .filter_map(|b| Some((b["name"].as_str()?.to_string(), b["input"].clone())))
                    .collect()
            })
            .unwrap_or_default(),
        Some("item.started") if v["item"]["type"] == "command_execution" => {
            vec![("Bash".to_string(), json!({"command": v["item"]["command"]}))]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_become_pre_tool_use_events() {
        let claude: Value = serde_json::from_str(
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"x"},{"type":"tool_use","name":"Edit","input":{"file_path":"a.rs"}}]}}"#,
        )
        .unwrap();
        assert_eq!(
            tool_calls(&claude),
            vec![("Edit".to_string(), json!({"file_path": "a.rs"}))]
        );
        let codex: Value = serde_json::from_str(
            r#"{"type":"item.started","item":{"type":"command_execution","command":"cargo test"}}"#,
        )
        .unwrap();
        assert_eq!(tool_calls(&codex)[0].1["command"], "cargo test");
        assert!(tool_calls(&json!({"type": "user"})).is_empty());
    }
}
