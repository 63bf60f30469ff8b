//! Short descriptions of tool calls for `last_tool`: the tool's name and the one argument that
//! says what it acts on (`Edit src/api.rs`, `Bash cargo test`, `Grep fn settle_batch`).

use super::json::Value;
use crate::sanitize::clean;
use std::borrow::Cow;

/// Input keys that name a tool call's target, most telling first. Covers Claude Code's tools
/// (Bash, Read, Edit, Write, Grep, Glob, WebFetch, WebSearch, Task/Agent, Skill), Gemini's
/// (`run_shell_command`, `read_file`, `search_file_content`, …) and Codex's shell tools
/// (`shell`'s `command`; `exec_command`'s and code mode's `exec`'s `cmd`, Codex 0.169).
pub(crate) const TARGET_KEYS: [&str; 13] = [
    "command",
    "cmd",
    "file_path",
    "notebook_path",
    "absolute_path",
    "pattern",
    "query",
    "url",
    "path",
    "description",
    "prompt",
    "skill",
    "subject",
];

/// Keys whose value is a file path, shown relative to the agent's folder.
const PATH_KEYS: [&str; 4] = ["file_path", "notebook_path", "absolute_path", "path"];

/// Characters of an argument looked at; the description is truncated much shorter anyway, and
/// a `Write` tool's content or a long prompt must not be copied whole.
const HEAD: usize = 512;

/// `name target`, cleaned (not truncated).
pub(crate) fn describe(name: &str, input: Option<&Value>, cwd: Option<&str>) -> String {
    let mut text = clean(head(name));
    if let Some(t) = input.and_then(|i| target(i, cwd)) {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&t);
    }
    text
}

fn target(input: &Value, cwd: Option<&str>) -> Option<String> {
    // Codex passes its arguments as a JSON string.
    if let Value::String(s) = input {
        let parsed = super::json::parse(s.as_bytes(), None)?;
        return if parsed.is_object() {
            target(&parsed, cwd)
        } else {
            None
        };
    }
    for key in TARGET_KEYS {
        let text = match (key, input.get(key)) {
            ("command" | "cmd", Some(Value::String(s))) => unwrap_shell(head(s)),
            ("command" | "cmd", Some(Value::Array(argv))) => Cow::Owned(command_from_argv(argv)),
            (_, Some(Value::String(s))) => Cow::Borrowed(head(s)),
            _ => continue,
        };
        let text = if PATH_KEYS.contains(&key) {
            clean(relative(&text, cwd))
        } else {
            clean(&text)
        };
        if !text.is_empty() {
            return Some(text);
        }
    }
    None
}

/// The first `HEAD` characters of `s`.
fn head(s: &str) -> &str {
    match s.char_indices().nth(HEAD) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `path` relative to `cwd` when inside it.
pub(crate) fn relative<'a>(path: &'a str, cwd: Option<&str>) -> &'a str {
    match cwd {
        Some(cwd) if !cwd.is_empty() => path
            .strip_prefix(cwd)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(path),
        _ => path,
    }
}

/// Shells that agents wrap commands in (`bash -lc '…'`); the wrapper says nothing.
fn is_shell(s: &str) -> bool {
    let base = s.rsplit('/').next().unwrap_or(s);
    matches!(base, "bash" | "sh" | "zsh" | "dash")
}

fn command_from_argv(argv: &[Value]) -> String {
    let args: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
    match args.as_slice() {
        [shell, "-c" | "-lc", script, ..] if is_shell(shell) => head(script).to_string(),
        _ => head(&args.join(" ")).to_string(),
    }
}

/// `bash -lc 'cargo test'` → `cargo test`.
fn unwrap_shell(cmd: &str) -> Cow<'_, str> {
    let mut parts = cmd.splitn(3, ' ');
    let (Some(shell), Some(opt), Some(script)) = (parts.next(), parts.next(), parts.next()) else {
        return Cow::Borrowed(cmd);
    };
    if !is_shell(shell) || !matches!(opt, "-c" | "-lc") {
        return Cow::Borrowed(cmd);
    }
    let script = script.trim();
    if script.len() >= 2 && script.starts_with('\'') && script.ends_with('\'') {
        Cow::Owned(script[1..script.len() - 1].replace("'\\''", "'"))
    } else if script.len() >= 2 && script.starts_with('"') && script.ends_with('"') {
        Cow::Borrowed(&script[1..script.len() - 1])
    } else {
        Cow::Borrowed(script)
    }
}

/// The files an `apply_patch` input touches.
pub(crate) fn patch_files(patch: &str) -> Vec<&str> {
    patch
        .lines()
        .filter_map(|l| {
            ["*** Update File: ", "*** Add File: ", "*** Delete File: "]
                .iter()
                .find_map(|p| l.strip_prefix(p))
        })
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// `first/path.rs`, or `first/path.rs +2` when more files follow.
pub(crate) fn files_summary(paths: &[&str], cwd: Option<&str>) -> Option<String> {
    let first = relative(paths.first()?, cwd);
    Some(match paths.len() {
        1 => first.to_string(),
        n => format!("{first} +{}", n - 1),
    })
}

#[cfg(test)]
mod tests {
    use super::super::json::json;
    use super::*;

    #[test]
    fn describes_claude_tools() {
        let cwd = Some("/home/dev/src/ledger-svc");
        let d = |name, input: Value| describe(name, Some(&input), cwd);
        assert_eq!(
            d(
                "Edit",
                json!({"file_path": "/home/dev/src/ledger-svc/src/money.rs", "old_string": "x"})
            ),
            "Edit src/money.rs"
        );
        assert_eq!(
            d("Read", json!({"file_path": "/etc/hosts"})),
            "Read /etc/hosts"
        );
        assert_eq!(
            d(
                "Bash",
                json!({"command": "cargo test\n  -q", "description": "x"})
            ),
            "Bash cargo test -q"
        );
        assert_eq!(
            d("Grep", json!({"pattern": "fn settle", "path": "/x"})),
            "Grep fn settle"
        );
        assert_eq!(
            d(
                "Task",
                json!({"description": "Find callers", "prompt": "…"})
            ),
            "Task Find callers"
        );
        assert_eq!(d("TodoWrite", json!({"todos": []})), "TodoWrite");
        assert_eq!(describe("Bash", None, None), "Bash");
        assert_eq!(
            d("Bash", json!({"command": "\u{1b}]0;x\u{7}ls\u{202e}"})),
            "Bash ls"
        );
    }

    #[test]
    fn describes_codex_and_gemini_tools() {
        let args =
            json!("{\"command\":[\"bash\",\"-lc\",\"rg -n max_retries src\"],\"workdir\":\"/w\"}");
        assert_eq!(
            describe("shell", Some(&args), None),
            "shell rg -n max_retries src"
        );
        assert_eq!(
            describe("shell", Some(&json!({"command": ["ls", "-la"]})), None),
            "shell ls -la"
        );
        assert_eq!(describe("shell", Some(&json!("not json")), None), "shell");
        // Codex 0.169: `exec_command` (and code mode's `exec`) name the command `cmd`.
        let args = json!(
            "{\"cmd\":\"cargo test -q\",\"sandbox_permissions\":\"require_escalated\",\"justification\":\"x\"}"
        );
        assert_eq!(
            describe("exec_command", Some(&args), None),
            "exec_command cargo test -q"
        );
        assert_eq!(
            describe("exec", Some(&json!({"cmd": "bash -lc 'ls src'"})), None),
            "exec ls src"
        );
        assert_eq!(
            describe(
                "search_file_content",
                Some(&json!({"pattern": "TODO", "path": "src"})),
                None
            ),
            "search_file_content TODO"
        );
    }

    #[test]
    fn unwraps_shell_wrappers() {
        assert_eq!(unwrap_shell("bash -lc 'cargo test -q'"), "cargo test -q");
        assert_eq!(unwrap_shell("/bin/sh -c \"make\""), "make");
        assert_eq!(unwrap_shell("bash -lc 'echo '\\''hi'\\'''"), "echo 'hi'");
        assert_eq!(unwrap_shell("bash -lc ls"), "ls");
        assert_eq!(unwrap_shell("cargo test"), "cargo test");
        assert_eq!(unwrap_shell("bash -lc '"), "'");
    }

    #[test]
    fn summarizes_patches() {
        let patch = "*** Begin Patch\n*** Update File: src/client.rs\n@@\n*** Add File: b.rs\n*** End Patch\n";
        let files = patch_files(patch);
        assert_eq!(files, vec!["src/client.rs", "b.rs"]);
        assert_eq!(
            files_summary(&files, None).as_deref(),
            Some("src/client.rs +1")
        );
        assert_eq!(files_summary(&[], None), None);
        assert_eq!(relative("/a/b/c", Some("/a/b")), "c");
        assert_eq!(relative("/a/bc", Some("/a/b")), "/a/bc");
        assert_eq!(relative("/a/b/", Some("/a/b")), "/a/b/");
    }
}
