//! One readable line per record of an agent's output stream, as a headless agent's pane shows it
//! (`pk agent-run`) and `pk replay` prints it.

use serde_json::Value;

/// A readable line for one line of an agent's output stream: the record described when it is
/// JSON ([`describe`]), the text itself (cleaned) when it is not, nothing for blank lines and
/// records not worth showing.
pub fn show_line(line: &str) -> Option<String> {
    if line.trim().is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(line) {
        Ok(v) if v.is_object() => describe(&v),
        _ => Some(pk_status::sanitize::clean(line)),
    }
}

/// A one-line rendering of a transcript record (Claude stream, Codex exec, Gemini stream), or
/// `None` for records not worth showing.
pub(crate) fn describe(v: &Value) -> Option<String> {
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
        "init" => Some(format!(
            "● session started ({})",
            short(v["model"].as_str().unwrap_or("model?"))
        )),
        "message" if v["role"] == "assistant" => {
            Some(format!("  {}", short(v["content"].as_str()?)))
        }
        "tool_use" => Some(format!(
            "  → {} {}",
            short(v["tool_name"].as_str()?),
            short(&tool_target(&v["parameters"]))
        )),
        "error" => Some(format!(
            "  ! {}",
            short(v["message"].as_str().unwrap_or("error"))
        )),
        "result" if v["status"].is_string() => Some(format!(
            "■ {}",
            short(v["status"].as_str().unwrap_or("done"))
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lines_are_shown_readably() {
        assert_eq!(
            show_line(r#"{"type":"system","subtype":"init","model":"claude-x"}"#).as_deref(),
            Some("● session started (claude-x)")
        );
        assert_eq!(
            show_line(
                r#"{"type":"tool_use","tool_name":"read_file","parameters":{"path":"src/a.rs"}}"#
            )
            .as_deref(),
            Some("  → read_file src/a.rs")
        );
        assert_eq!(
            show_line(r#"{"type":"result","status":"success","stats":{}}"#).as_deref(),
            Some("■ success")
        );
        assert_eq!(show_line(r#"{"type":"rate_limit_event"}"#), None);
        assert_eq!(show_line("   "), None);
        // Not JSON: the text itself, without its escape sequences.
        assert_eq!(
            show_line("warning: \x1b[31mslow\x1b[0m").as_deref(),
            Some("warning: slow")
        );
    }
}
