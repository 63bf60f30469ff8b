//! `pk replay` (hidden): a fake agent for the demo and the tests. It replays a fixture
//! transcript into a file over time, as a real agent would write it, and shows a readable
//! rendering in its pane. A permission request makes it wait until a key is pressed in the pane.

use crate::error::{Context, Error, Result};
use clap::Args;
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::PathBuf;
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
        .or_else(|| std::env::var_os(crate::env_vars::PK_TRANSCRIPT).map(PathBuf::from))
        .ok_or_else(|| Error::usage("no transcript path: pass --out or set PK_TRANSCRIPT"))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out)
        .with_context(|| format!("failed to open {}", out.display()))?;
    let delay = Duration::from_secs_f64(args.delay.max(0.0));
    let mut failed = false;
    println!("replaying {} into {}", args.fixture, out.display());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        std::thread::sleep(delay);
        writeln!(file, "{line}").context("failed to write the transcript")?;
        let value: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        if let Some(shown) = describe(&value) {
            println!("{shown}");
        }
        failed |= value["is_error"] == Value::Bool(true) || value["type"] == "turn.failed";
        if value["type"] == "control_request" {
            println!("  ? allow this tool? press Enter to allow");
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            let result = serde_json::json!({
                "type": "result", "subtype": "success", "is_error": false,
                "result": "Done after permission.", "num_turns": 2,
                "total_cost_usd": 0.0123,
                "usage": {"input_tokens": 1200, "output_tokens": 300,
                          "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
            });
            std::thread::sleep(delay);
            writeln!(file, "{result}").context("failed to write the transcript")?;
            println!("  permission granted; done.");
        }
    }
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

/// A one-line rendering of a transcript record, or `None` for records not worth showing.
fn describe(v: &Value) -> Option<String> {
    // Transcript text is written by a model: cleaned of escape sequences before it is shown.
    let short = |s: &str| pk_status::sanitize::truncate(&pk_status::sanitize::clean(s), 100);
    match v["type"].as_str()? {
        "system" if v["subtype"] == "init" => Some(format!(
            "● session started ({})",
            short(v["model"].as_str().unwrap_or("model?"))
        )),
        "assistant" => {
            let blocks = v["message"]["content"].as_array()?;
            let parts: Vec<String> = blocks
                .iter()
                .filter_map(|b| match b["type"].as_str()? {
                    "text" => Some(format!("  {}", short(b["text"].as_str()?))),
                    "tool_use" => Some(format!(
                        "  → {} {}",
                        short(b["name"].as_str()?),
                        short(&tool_target(&b["input"]))
                    )),
                    "thinking" => Some("  … thinking".to_string()),
                    _ => None,
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("\n"))
        }
        "result" => Some(format!(
            "■ {} — ${:.4}",
            short(v["subtype"].as_str().unwrap_or("done")),
            v["total_cost_usd"].as_f64().unwrap_or(0.0)
        )),
        "item.completed" | "item.started" => {
            let item = &v["item"];
            let kind = item["type"].as_str()?;
            let what = item["command"]
                .as_str()
                .or(item["text"].as_str())
                .unwrap_or("");
            Some(format!("  {} {}", short(kind), short(what)))
        }
        "turn.completed" => Some("■ turn completed".to_string()),
        "turn.failed" => Some("✗ turn failed".to_string()),
        "control_request" => Some(format!(
            "  ? {} wants permission",
            short(v["request"]["tool_name"].as_str().unwrap_or("a tool"))
        )),
        _ => None,
    }
}

fn tool_target(input: &Value) -> String {
    ["file_path", "command", "pattern", "path", "url"]
        .iter()
        .find_map(|k| input[*k].as_str())
        .unwrap_or("")
        .to_string()
}
