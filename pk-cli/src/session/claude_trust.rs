//! Claude Code's folder trust, for the worktrees pk makes.
//!
//! Interactive Claude Code asks "Is this a project you created or one you trust?" in every folder
//! it has not been told to trust, and trust is kept per exact path in `~/.claude.json`
//! (`projects[<path>].hasTrustDialogAccepted`): every new worktree asks again, and no hook fires
//! while the dialog waits. Where the user already trusts the main checkout, its worktrees are the
//! same code, so `pk up` marks each new worktree of a `claude` track trusted the same way; a
//! repository the user has not trusted is never trusted by pk (the watcher then shows the dialog
//! as `waiting`, see [`dialog_in`]).

use crate::error::{Context, Error, Result};
use serde_json::{Map, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const TRUSTED: &str = "hasTrustDialogAccepted";

/// What the trust dialog shows, as `tmux capture-pane` gives it; both lines, so that a
/// conversation quoting one of them is not taken for the dialog.
const DIALOG: [&str; 2] = ["Yes, I trust this folder", "one you trust?"];

/// Why a track waits while the dialog is up (shown in alerts and `pk status`).
pub(crate) const REASON: &str = "Claude asks to trust this folder";

/// Whether a pane's visible text shows Claude Code's folder-trust dialog.
pub(crate) fn dialog_in(screen: &str) -> bool {
    DIALOG.iter().all(|line| screen.contains(line))
}

/// Claude Code's global configuration file: `$CLAUDE_CONFIG_DIR/.claude.json`, else
/// `~/.claude.json`.
pub(crate) fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join(".claude.json"));
    }
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".claude.json"))
}

/// Claude keys projects by its working folder as the system gives it: the real path.
fn key(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn trusted(projects: &Map<String, Value>, key: &str) -> bool {
    projects.get(key).and_then(|p| p.get(TRUSTED)) == Some(&Value::Bool(true))
}

/// Marks `worktrees` trusted in the configuration file `config` when the user trusts `main`
/// there; returns the worktrees this marked (none when `main` is not trusted, the file does not
/// exist or all were trusted already). Every other key of the file is kept, and the file is
/// replaced atomically with its permissions.
pub(crate) fn trust_worktrees(
    config: &Path,
    main: &Path,
    worktrees: &[&Path],
) -> Result<Vec<PathBuf>> {
    let text = match std::fs::read_to_string(config) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(
                Error::failure(format!("failed to read {}", config.display()))
                    .wrap_cause(e.to_string()),
            );
        }
    };
    // A file pk cannot read as Claude's is left alone: the dialog will ask.
    let Ok(mut root) = serde_json::from_str::<Value>(&text) else {
        return Ok(Vec::new());
    };
    let Some(projects) = root.get_mut("projects").and_then(Value::as_object_mut) else {
        return Ok(Vec::new());
    };
    if !trusted(projects, &key(main)) && !trusted(projects, &main.to_string_lossy()) {
        return Ok(Vec::new());
    }
    let mut marked = Vec::new();
    for wt in worktrees {
        let k = key(wt);
        if trusted(projects, &k) {
            continue;
        }
        match projects
            .entry(k)
            .or_insert_with(|| Value::Object(Map::new()))
        {
            Value::Object(p) => {
                p.insert(TRUSTED.into(), Value::Bool(true));
            }
            other => *other = serde_json::json!({ TRUSTED: true }),
        }
        marked.push(wt.to_path_buf());
    }
    if marked.is_empty() {
        return Ok(marked);
    }
    let mut bytes = serde_json::to_vec_pretty(&root).context("failed to encode Claude's config")?;
    bytes.push(b'\n');
    replace(config, &bytes)?;
    Ok(marked)
}

/// Replaces `path` with `bytes` through a file beside it, keeping its mode (the file may hold
/// account data and be private).
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    crate::util::fs::write_atomically_with_mode(path, bytes, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worktrees_of_a_trusted_checkout_are_trusted_and_nothing_else_changes() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("shop");
        let wt = dir.path().join("shop.pk/api");
        std::fs::create_dir_all(&main).unwrap();
        std::fs::create_dir_all(&wt).unwrap();
        let config = dir.path().join(".claude.json");
        let main_key = key(&main);
        let original = serde_json::json!({
            "numStartups": 7,
            "oauthAccount": {"emailAddress": "a@b.c"},
            "projects": {main_key.clone(): {"hasTrustDialogAccepted": true, "allowedTools": ["Bash"]}},
        });
        std::fs::write(&config, original.to_string()).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();

        let marked = trust_worktrees(&config, &main, &[&wt]).unwrap();
        assert_eq!(marked, std::slice::from_ref(&wt));
        let after: Value =
            serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
        assert_eq!(after["projects"][key(&wt)]["hasTrustDialogAccepted"], true);
        let mut expected = original.clone();
        expected["projects"][key(&wt)] = serde_json::json!({"hasTrustDialogAccepted": true});
        assert_eq!(after, expected);
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Again: nothing to do, the file is not rewritten.
        assert!(trust_worktrees(&config, &main, &[&wt]).unwrap().is_empty());
    }

    #[test]
    fn a_checkout_not_trusted_gives_no_trust() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("shop");
        let wt = dir.path().join("wt");
        let config = dir.path().join(".claude.json");
        assert!(trust_worktrees(&config, &main, &[&wt]).unwrap().is_empty());
        for text in [
            r#"{"projects": {}}"#,
            &format!(
                r#"{{"projects": {{"{}": {{"hasTrustDialogAccepted": false}}}}}}"#,
                main.display()
            ),
            "not json",
        ] {
            std::fs::write(&config, text).unwrap();
            assert!(trust_worktrees(&config, &main, &[&wt]).unwrap().is_empty());
            assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
        }
    }

    #[test]
    fn the_dialog_is_recognised() {
        let screen = " Quick safety check: Is this a project you created or one you trust?\n ❯ No, exit\n   Yes, I trust this folder\n";
        assert!(dialog_in(screen));
        assert!(!dialog_in("● Yes, I trust this folder, said the user"));
    }

    #[test]
    fn the_config_follows_claude_config_dir() {
        let env = |k: &str| match k {
            "HOME" => Some("/h".to_string()),
            _ => None,
        };
        assert_eq!(config_path(&env), Some(PathBuf::from("/h/.claude.json")));
        let env = |k: &str| Some(format!("/{k}"));
        assert_eq!(
            config_path(&env),
            Some(PathBuf::from("/CLAUDE_CONFIG_DIR/.claude.json"))
        );
    }
}
