//! Claude Code hooks, installed without touching the user's worktree or settings.
//!
//! Claude's on-disk transcript cannot show that it waits for a permission (notes/formats.md §3),
//! so pk starts interactive Claude with `--settings <file>`: a settings file of its own, under
//! the session's state folder, whose hooks run the hidden `pk hook --events <file>`. That
//! command appends the hook's payload, one JSON object per line, to the track's event file,
//! which the watcher reads as `claude-hooks`. Only the sessions pk starts get these hooks, so
//! no other Claude session on the machine writes into a track's file.
//!
//! The hook must never slow Claude down nor fail it: it reads its input, appends one line with
//! a single write, and exits 0 whatever happened.

use crate::error::{Context, Result};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;

/// The hook events pk listens to. `PermissionRequest` (and `Notification` as a backup) shows a
/// wait; the next tool or stop event ends it.
pub const HOOK_EVENTS: [&str; 9] = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Notification",
    "Stop",
    "StopFailure",
    "SessionEnd",
];

/// Events that take a tool matcher.
const TOOL_EVENTS: [&str; 3] = ["PreToolUse", "PermissionRequest", "PostToolUse"];

/// Seconds Claude waits for pk's hook before giving up on it.
const HOOK_TIMEOUT_SECS: u64 = 10;

/// Longest event line kept whole. Payloads carry whole tool inputs and outputs (a `Write` of a
/// big file, a long command output); past this the bulky fields are cut, since the status needs
/// only the tool's name and target.
pub const MAX_EVENT_LINE: usize = 256 << 10;

/// The Claude settings that send every [`HOOK_EVENTS`] to `pk hook --events <events>`.
/// `pk_exe` is the absolute path of pk; both paths are quoted for the shell Claude runs hook
/// commands with.
pub fn claude_settings(pk_exe: &Path, events: &Path) -> Value {
    let q = |p: &Path| crate::shell::quote(&p.to_string_lossy());
    let command = format!("{} hook --events {}", q(pk_exe), q(events));
    let mut hooks = Map::new();
    for event in HOOK_EVENTS {
        let mut group = Map::new();
        if TOOL_EVENTS.contains(&event) {
            group.insert("matcher".into(), json!("*"));
        }
        group.insert(
            "hooks".into(),
            json!([{"type": "command", "command": command, "timeout": HOOK_TIMEOUT_SECS}]),
        );
        hooks.insert(event.into(), json!([Value::Object(group)]));
    }
    json!({ "hooks": hooks })
}

/// The event line to append for a hook's standard input: the payload compacted to one line,
/// with a `timestamp` (RFC 3339, when pk received it) unless it has one. `None` when the input
/// is not a JSON object.
pub fn event_line(input: &[u8], now_ms: i64) -> Option<String> {
    let mut value: Value = serde_json::from_slice(input).ok()?;
    let obj = value.as_object_mut()?;
    if !obj.contains_key("timestamp") {
        obj.insert(
            "timestamp".into(),
            json!(pk_status::Timestamp(now_ms).to_rfc3339()),
        );
    }
    let mut line = serde_json::to_string(&value).ok()?;
    if line.len() > MAX_EVENT_LINE {
        shrink(&mut value);
        line = serde_json::to_string(&value).ok()?;
    }
    Some(line)
}

/// Drops the tool's output and cuts long strings of its input.
fn shrink(value: &mut Value) {
    let Some(obj) = value.as_object_mut() else {
        return;
    };
    for key in ["tool_response", "last_assistant_message", "prompt"] {
        obj.remove(key);
    }
    if let Some(Value::Object(input)) = obj.get_mut("tool_input") {
        for v in input.values_mut() {
            match v {
                Value::String(s) if s.len() > 1000 => {
                    *v = Value::String(pk_status::sanitize::truncate(s, 1000));
                }
                Value::Array(_) | Value::Object(_) => *v = Value::Null,
                _ => {}
            }
        }
    }
}

/// Appends `line` and a newline to the event file in one write (so that concurrent hooks never
/// interleave within a line). The file's folder is not created: it is pk up's, and a hook that
/// fires after `pk down` removed it must not bring it back.
pub fn append(events: &Path, line: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(events)
        .with_context(|| format!("failed to open {}", events.display()))?;
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    file.write_all(&bytes)
        .with_context(|| format!("failed to write {}", events.display()))
}

/// Appends a hook payload (a JSON value built by pk, e.g. by the replay agent) to `events`.
pub fn append_value(events: &Path, value: &Value, now_ms: i64) -> Result<()> {
    let bytes = serde_json::to_vec(value).context("failed to encode a hook event")?;
    match event_line(&bytes, now_ms) {
        Some(line) => append(events, &line),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pk_status::{Format, TrackState, Tracker};

    #[test]
    fn settings_send_every_event_to_pk() {
        let s = claude_settings(
            Path::new("/opt/pk bin/pk"),
            Path::new("/r/.git/pk/shop/tracks/api/events.ndjson"),
        );
        let hooks = s["hooks"].as_object().unwrap();
        assert_eq!(hooks.len(), HOOK_EVENTS.len());
        let pre = &hooks["PreToolUse"][0];
        assert_eq!(pre["matcher"], "*");
        assert_eq!(pre["hooks"][0]["type"], "command");
        assert_eq!(
            pre["hooks"][0]["command"],
            "'/opt/pk bin/pk' hook --events /r/.git/pk/shop/tracks/api/events.ndjson"
        );
        assert!(hooks["Stop"][0].get("matcher").is_none());
    }

    #[test]
    fn event_lines_are_one_line_with_a_timestamp() {
        let input = b"{\n  \"hook_event_name\": \"PermissionRequest\",\n  \"tool_name\": \"Bash\",\n  \"tool_input\": {\"command\": \"npm test\"}\n}\n";
        let line = event_line(input, 1_772_442_845_102).unwrap();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["timestamp"], "2026-03-02T09:14:05.102Z");
        assert_eq!(v["tool_input"]["command"], "npm test");
        // A timestamp of the payload's own is kept.
        let own = event_line(br#"{"timestamp":"x","a":1}"#, 5).unwrap();
        assert_eq!(own, r#"{"a":1,"timestamp":"x"}"#);
        // Not an object: nothing to record.
        assert_eq!(event_line(b"[1]", 0), None);
        assert_eq!(event_line(b"garbage", 0), None);
        assert_eq!(event_line(b"", 0), None);
    }

    #[test]
    fn huge_payloads_keep_what_the_status_needs() {
        let big = "x".repeat(MAX_EVENT_LINE + 10);
        let input = json!({
            "hook_event_name": "PostToolUse", "tool_name": "Write",
            "tool_input": {"file_path": "/w/a.txt", "content": big},
            "tool_response": {"content": big},
        });
        let line = event_line(input.to_string().as_bytes(), 0).unwrap();
        assert!(line.len() < 4096, "{}", line.len());
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["tool_input"]["file_path"], "/w/a.txt");
        assert!(v.get("tool_response").is_none());
    }

    #[test]
    fn appended_events_are_read_by_the_hooks_format() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("events.ndjson");
        let ask = json!({"hook_event_name": "PermissionRequest", "tool_name": "Bash",
                         "tool_input": {"command": "rm -rf build"}});
        append_value(&events, &ask, 1_000).unwrap();
        append(
            &events,
            &event_line(br#"{"hook_event_name":"Stop"}"#, 2_000).unwrap(),
        )
        .unwrap();
        let text = std::fs::read(&events).unwrap();
        assert_eq!(text.iter().filter(|b| **b == b'\n').count(), 2);
        let mut t = Tracker::new(Format::ClaudeHooks);
        let first = text.split(|b| *b == b'\n').next().unwrap();
        t.feed(first, 9_999);
        t.feed(b"\n", 9_999);
        assert_eq!(t.status().state, TrackState::Waiting);
        assert_eq!(t.status().state_at, Some(pk_status::Timestamp(1_000)));
        assert_eq!(t.status().last_tool.as_deref(), Some("Bash rm -rf build"));
        t.reset();
        t.feed(&text, 9_999);
        assert_eq!(t.status().state, TrackState::Done);
        // The folder is pk up's: never made by a hook.
        assert!(append(&dir.path().join("gone/events.ndjson"), "{}").is_err());
    }
}
