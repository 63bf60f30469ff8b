//! Claude Code hooks and Codex's `notify`, installed without touching the user's worktree or
//! settings.
//!
//! Claude's on-disk transcript cannot show that it waits for a permission (notes/formats.md §3),
//! so pk starts interactive Claude with `--settings <file>`: a settings file of its own, under
//! the session's state folder, whose hooks run the hidden `pk hook --events <file>`. That
//! command appends the hook's payload, one JSON object per line, to the track's event file,
//! which the watcher reads as `claude-hooks`. Only the sessions pk starts get these hooks, so
//! no other Claude session on the machine writes into a track's file.
//!
//! Interactive Codex gets `-c notify=[pk hook …]` on its command line: Codex runs it after every
//! turn, and pk records that as a `Stop`, then runs the user's own `notify`. Codex's hooks, which
//! could also show a permission wait, run only once the user has trusted them in Codex (`/hooks`),
//! and trust follows the hook's text: `pk hook` with no `--events` reads `PK_EVENTS`, so one
//! user-level Codex hook serves every track (README, "Codex").
//!
//! The hook must never slow Claude down nor fail it: it reads its input, appends one line with
//! a single write, and exits 0 whatever happened. Its one answer: a `PreToolUse` of a track
//! whose budget is spent is denied ([`crate::session::budget`]), from a file of a few bytes
//! the watcher keeps beside the event file.

use crate::error::{Context, Result};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;

/// The hook events pk listens to. `PermissionRequest` (and `Notification` as a backup) shows a
/// wait; the next tool or stop event ends it.
pub(crate) const HOOK_EVENTS: [&str; 9] = [
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
pub(crate) const MAX_EVENT_LINE: usize = 256 << 10;

/// The Claude settings that send every [`HOOK_EVENTS`] to `pk hook --events <events>`.
/// `pk_exe` is the absolute path of pk; both paths are quoted for the shell Claude runs hook
/// commands with.
pub(crate) fn claude_settings(pk_exe: &Path, events: &Path) -> Value {
    let q = |p: &Path| crate::sys::shell::quote(&p.to_string_lossy());
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
pub(crate) fn event_line(input: &[u8], now_ms: i64) -> Option<String> {
    event_line_of(serde_json::from_slice(input).ok()?, now_ms)
}

/// [`event_line`] of a payload already read.
pub(crate) fn event_line_of(mut value: Value, now_ms: i64) -> Option<String> {
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
pub(crate) fn append(events: &Path, line: &str) -> Result<()> {
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
pub(crate) fn append_value(events: &Path, value: &Value, now_ms: i64) -> Result<()> {
    let bytes = serde_json::to_vec(value).context("failed to encode a hook event")?;
    match event_line(&bytes, now_ms) {
        Some(line) => append(events, &line),
        None => Ok(()),
    }
}

/// Codex's `notify` for a track: `pk hook --events <file> --codex-notify -- [user's notify…]`.
/// Codex runs it after every turn with its JSON payload as one more argument (notes/formats.md
/// §4.3); pk records the turn's end and then runs the user's own `notify`, which a `-c notify=`
/// on Codex's command line would otherwise replace for this session.
pub(crate) fn codex_notify(pk_exe: &Path, events: &Path, user: &[String]) -> Vec<String> {
    let mut argv = vec![
        pk_exe.to_string_lossy().into_owned(),
        "hook".into(),
        "--events".into(),
        events.to_string_lossy().into_owned(),
        "--codex-notify".into(),
        "--".into(),
    ];
    argv.extend(user.iter().cloned());
    argv
}

/// The `notify` of a Codex `config.toml` (an array of strings), or nothing.
pub(crate) fn user_codex_notify(config_toml: &str) -> Vec<String> {
    let Ok(table) = config_toml.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(toml::Value::Array(items)) = table.get("notify") else {
        return Vec::new();
    };
    let argv: Option<Vec<String>> = items
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect();
    argv.unwrap_or_default()
}

/// The hook line of a Codex `notify` payload: a completed turn is a `Stop` (the agent waits
/// for its human). Other kinds of notification are not states; `None` for them.
pub(crate) fn codex_notify_line(payload: &str, now_ms: i64) -> Option<String> {
    let v: Value = serde_json::from_str(payload).ok()?;
    if v.get("type").and_then(Value::as_str) != Some("agent-turn-complete") {
        return None;
    }
    let mut event = Map::new();
    event.insert("hook_event_name".into(), json!("Stop"));
    event.insert("source".into(), json!("codex-notify"));
    for (from, to) in [
        ("thread-id", "session_id"),
        ("turn-id", "turn_id"),
        ("cwd", "cwd"),
    ] {
        if let Some(x) = v.get(from).filter(|x| x.is_string()) {
            event.insert(to.into(), x.clone());
        }
    }
    event_line(Value::Object(event).to_string().as_bytes(), now_ms)
}

/// How the agents pk starts reach `pk hook`: pk's own path, and the `notify` the user's Codex
/// already runs (kept running beside pk's).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HookTarget {
    /// The pk executable (absolute).
    pub exe: std::path::PathBuf,
    /// The user's Codex `notify`, from `$CODEX_HOME/config.toml`.
    pub codex_user_notify: Vec<String>,
}

impl HookTarget {
    /// The target for this pk and the user's Codex configuration. `env` reads the environment
    /// the agents inherit.
    pub(crate) fn current(env: &dyn Fn(&str) -> Option<String>) -> Result<HookTarget> {
        let exe = std::env::current_exe().context("failed to find the pk executable")?;
        let codex_user_notify = crate::session::transcript::codex_root(env)
            .and_then(|root| std::fs::read_to_string(root.join("config.toml")).ok())
            .map(|text| user_codex_notify(&text))
            .unwrap_or_default();
        Ok(HookTarget {
            exe,
            codex_user_notify,
        })
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
    fn codex_notify_records_the_turn_then_runs_the_users_own() {
        let argv = codex_notify(
            Path::new("/opt/pk"),
            Path::new("/r/e.ndjson"),
            &["notify-send".to_string(), "Codex".to_string()],
        );
        assert_eq!(
            argv,
            [
                "/opt/pk",
                "hook",
                "--events",
                "/r/e.ndjson",
                "--codex-notify",
                "--",
                "notify-send",
                "Codex"
            ]
        );
        assert_eq!(
            user_codex_notify("model = \"o3\"\nnotify = [\"python3\", \"/h/n.py\"]\n"),
            ["python3", "/h/n.py"]
        );
        assert!(user_codex_notify("notify = \"x\"").is_empty());
        assert!(user_codex_notify("notify = [1]").is_empty());
        assert!(user_codex_notify("not toml [").is_empty());
        assert!(user_codex_notify("[tui]\nnotify = [\"a\"]\n").is_empty());
    }

    #[test]
    fn a_codex_turn_complete_is_a_stop() {
        let payload = r#"{"type":"agent-turn-complete","thread-id":"t1","turn-id":"u2","cwd":"/w/api","input-messages":["go"],"last-assistant-message":"done"}"#;
        let line = codex_notify_line(payload, 1_000).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["hook_event_name"], "Stop");
        assert_eq!(v["session_id"], "t1");
        assert_eq!(v["cwd"], "/w/api");
        let mut t = Tracker::new(Format::ClaudeHooks);
        t.feed(br#"{"hook_event_name":"UserPromptSubmit"}"#, 500);
        t.feed(b"\n", 500);
        assert_eq!(t.status().state, TrackState::Working);
        t.feed(format!("{line}\n").as_bytes(), 2_000);
        // Of the track's own thread (its rollout's) only: until the watcher names it, it waits.
        assert_eq!(t.status().state, TrackState::Working);
        t.set_own_thread("t1");
        assert_eq!(t.status().state, TrackState::Done);
        assert_eq!(codex_notify_line(r#"{"type":"other"}"#, 0), None);
        assert_eq!(codex_notify_line("not json", 0), None);
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
