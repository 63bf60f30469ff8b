//! The one wrapper around the zellij CLI. Every call is an argument list, never a shell string,
//! and names its session with `-s` (or as the positional session of `attach`/`kill-session`),
//! so it never acts on "the current session" by accident.
//!
//! zellij's own environment (`ZELLIJ_SOCKET_DIR`, `ZELLIJ_CONFIG_DIR`, `XDG_CACHE_HOME`) is
//! passed through: that is how tests and users isolate a zellij, the way `-L` isolates tmux.

use crate::error::{Context, Error, Result};
use crate::sys::tmux::Pane;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The zellij the plugin is built for: zellij's plugin protocol changes between minor versions.
pub(crate) const TARGET_VERSION: (u32, u32) = (0, 45);

/// The plugin, built by `scripts/build-plugin.sh` from `pk-zellij-plugin/` (CI checks that this
/// file is what its source builds to).
const PLUGIN_WASM: &[u8] = include_bytes!("../../assets/pk-zellij-plugin.wasm");

/// The zellij CLI.
#[derive(Debug, Clone)]
pub(crate) struct Zellij {
    verbose: bool,
}

/// A session as `list-sessions` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// Its name.
    pub name: String,
    /// Exited but resurrectable (`(EXITED - attach to resurrect)`).
    pub exited: bool,
}

/// Parses `zellij list-sessions --no-formatting`: `NAME [Created 3s ago] (EXITED …)` lines.
pub(crate) fn parse_sessions(text: &str) -> Vec<Session> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let name = line.split_whitespace().next()?;
            if !line.contains("[Created") {
                return None;
            }
            Some(Session {
                name: name.to_string(),
                exited: line.contains("(EXITED"),
            })
        })
        .collect()
}

/// One entry of `zellij action list-panes --json` (the fields pk reads).
#[derive(Debug, Deserialize)]
struct RawPane {
    id: u32,
    #[serde(default)]
    is_plugin: bool,
    #[serde(default)]
    title: String,
    #[serde(default)]
    exited: bool,
    #[serde(default)]
    exit_status: Option<i32>,
    #[serde(default)]
    is_held: bool,
    #[serde(default)]
    pane_rows: u32,
    #[serde(default)]
    tab_name: String,
    #[serde(default)]
    pane_command: Option<String>,
    #[serde(default)]
    terminal_command: Option<String>,
    #[serde(default)]
    pane_cwd: Option<String>,
}

/// Parses `zellij action list-panes --json --all` into pk's panes: terminal panes only, ids as
/// `terminal_N`. An agent pane is one started as `pk agent-run`; its track is the first
/// word of its name (pk names it `TRACK BRANCH :PORT`, and zellij keeps a layout's name even
/// when the program sets a title).
pub(crate) fn parse_panes(json: &str) -> Result<Vec<Pane>> {
    let raw: Vec<RawPane> =
        serde_json::from_str(json).context("failed to read zellij's list of panes")?;
    Ok(raw
        .into_iter()
        .filter(|p| !p.is_plugin)
        .map(|p| {
            // What the layout started (`pk agent-run …`); `pane_command` is what runs now,
            // which is the agent once agent-run has replaced itself with it.
            let command = p
                .terminal_command
                .as_deref()
                .or(p.pane_command.as_deref())
                .unwrap_or("");
            let agent = command.contains("agent-run");
            let role = if agent {
                "agent"
            } else if p.title == "editor" {
                "editor"
            } else {
                ""
            };
            let track = if agent {
                p.title.split(' ').next().unwrap_or("").to_string()
            } else {
                String::new()
            };
            Pane {
                id: format!("terminal_{}", p.id),
                window: p.tab_name,
                track,
                role: role.to_string(),
                dead: p.exited || p.is_held,
                dead_status: p.exit_status,
                pid: None,
                height: p.pane_rows,
                path: p.pane_cwd.unwrap_or_default(),
            }
        })
        .collect())
}

/// Parses `zellij --version` (`zellij 0.45.1`).
pub(crate) fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.split_whitespace().last()?;
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

impl Zellij {
    /// The zellij CLI; `verbose` prints every call.
    pub(crate) fn new(verbose: bool) -> Zellij {
        Zellij { verbose }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("zellij");
        cmd.args(args).stdin(Stdio::null());
        // Inside a zellij pane these would make some calls act on that session.
        cmd.env_remove("ZELLIJ").env_remove("ZELLIJ_SESSION_NAME");
        cmd
    }

    /// Runs zellij with `args` and returns its standard output.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String> {
        let out = crate::sys::shell::run_captured(&mut self.command(args), "zellij", self.verbose)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Fails unless zellij is installed at the version the plugin is built for.
    pub(crate) fn require_version() -> Result<(u32, u32)> {
        let out = Command::new("zellij")
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::failure("zellij is not installed")
                    .wrap_cause(e.to_string())
                    .hint(format!(
                        "install zellij {}.{} (cargo install zellij --locked), or use tmux",
                        TARGET_VERSION.0, TARGET_VERSION.1
                    ))
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v = parse_version(&text).ok_or_else(|| {
            Error::failure(format!(
                "cannot read the zellij version from `{}`",
                text.trim()
            ))
        })?;
        if v != TARGET_VERSION {
            return Err(Error::failure(format!(
                "zellij {}.{} is installed; pk's status bar plugin is built for {}.{}",
                v.0, v.1, TARGET_VERSION.0, TARGET_VERSION.1
            ))
            .hint("zellij plugins only work with the zellij version they were built for"));
        }
        Ok(v)
    }

    /// Every session zellij knows, running or resurrectable.
    pub(crate) fn sessions(&self) -> Vec<Session> {
        // No sessions at all is an error exit with a message: an empty list.
        self.run(&["list-sessions", "--no-formatting"])
            .map(|out| parse_sessions(&out))
            .unwrap_or_default()
    }

    /// True when the session runs (not merely resurrectable).
    pub(crate) fn has_session(&self, session: &str) -> bool {
        self.sessions()
            .iter()
            .any(|s| s.name == session && !s.exited)
    }

    /// Starts the session from a layout file, headless, and returns at once.
    pub(crate) fn start(&self, session: &str, layout: &Path) -> Result<()> {
        let layout = layout.to_string_lossy();
        self.run(&[
            "--layout",
            &layout,
            "attach",
            "--create-background",
            session,
        ])
        .map(drop)
    }

    /// Every terminal pane of the session.
    pub(crate) fn panes(&self, session: &str) -> Result<Vec<Pane>> {
        // A busy server (a loaded machine, a session still starting) can answer nothing at
        // all: asked again, briefly, before that counts as an error.
        let mut tries = 0;
        loop {
            let out = self.run(&["-s", session, "action", "list-panes", "--json", "--all"])?;
            tries += 1;
            if !out.trim().is_empty() || tries == 5 {
                return parse_panes(&out);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The session's panes, or `None` when it does not run.
    pub(crate) fn session_panes(&self, session: &str) -> Option<Vec<Pane>> {
        if !self.has_session(session) {
            return None;
        }
        self.panes(session).ok()
    }

    /// Adds a terminal pane running `argv` in `cwd` to a running session (also one no client
    /// is attached to, unlike `new-tab`).
    pub(crate) fn new_pane(
        &self,
        session: &str,
        name: &str,
        cwd: &Path,
        argv: &[String],
    ) -> Result<()> {
        let cwd = cwd.to_string_lossy();
        let mut args = vec![
            "-s", session, "action", "new-pane", "--name", name, "--cwd", &cwd, "--",
        ];
        args.extend(argv.iter().map(String::as_str));
        self.run(&args).map(drop)
    }

    /// The text of a pane (`terminal_N`), its screen without escape sequences.
    pub(crate) fn capture(&self, session: &str, pane: &str) -> Result<String> {
        self.run(&["-s", session, "action", "dump-screen", "--pane-id", pane])
    }

    /// Moves the focus to a pane (`terminal_N`).
    pub(crate) fn focus(&self, session: &str, pane: &str) -> Result<()> {
        self.run(&["-s", session, "action", "focus-pane-id", pane])
            .map(drop)
    }

    /// Ends the session and removes what zellij keeps to resurrect it: after this, nothing of
    /// it is running or listed.
    pub(crate) fn kill_session(&self, session: &str) -> Result<()> {
        let known = self.sessions();
        let Some(s) = known.iter().find(|s| s.name == session) else {
            return Ok(());
        };
        if !s.exited {
            self.run(&["kill-session", session])?;
        }
        // kill-session leaves a resurrectable entry once zellij has saved the session.
        if self.sessions().iter().any(|s| s.name == session) {
            self.run(&["delete-session", "--force", session])?;
        }
        Ok(())
    }

    /// Attaches this terminal to the session (never returns on success).
    pub(crate) fn attach(&self, session: &str) -> Result<()> {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("ZELLIJ").is_some() {
            // Inside zellij: move this client to the session rather than nest.
            return self.run(&["action", "switch-session", session]).map(drop);
        }
        let err = self
            .command(&["attach", session])
            .stdin(Stdio::inherit())
            .exec();
        Err(Error::failure("failed to attach to the zellij session").wrap_cause(err.to_string()))
    }
}

/// Writes the plugin out (once per version of it) and returns its path:
/// `$XDG_CACHE_HOME/pk/pk-zellij-plugin-<hash>.wasm`. Users need no wasm toolchain; the name
/// changes with the content, so a new pk never runs an old plugin.
pub(crate) fn plugin_path() -> Result<PathBuf> {
    let path = plugin_file();
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == PLUGIN_WASM.len() as u64) {
        return Ok(path);
    }
    let dir = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    crate::util::fs::write_atomically(&path, PLUGIN_WASM)?;
    Ok(path)
}

/// Where [`plugin_path`] puts the plugin (without writing it).
pub(crate) fn plugin_file() -> PathBuf {
    cache_dir().join("pk").join(format!(
        "pk-zellij-plugin-{:016x}.wasm",
        pk_status::fnv1a(PLUGIN_WASM)
    ))
}

fn cache_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".cache"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_running_and_exited() {
        let text = "shop [Created 3s ago] \n\
                    old [Created 2days ago] (EXITED - attach to resurrect)\n\
                    No active zellij sessions found.\n";
        assert_eq!(
            parse_sessions(text),
            [
                Session {
                    name: "shop".into(),
                    exited: false
                },
                Session {
                    name: "old".into(),
                    exited: true
                }
            ]
        );
    }

    #[test]
    fn panes_of_agents_and_editor() {
        let json = r#"[
          {"id": 0, "is_plugin": false, "title": "api pk/api :4100", "exited": false,
           "exit_status": null, "is_held": false, "pane_rows": 20, "tab_id": 0,
           "tab_position": 0, "tab_name": "agents",
           "terminal_command": "/bin/pk agent-run --state-dir /s api",
           "pane_command": "claude --settings /s/x.json", "pane_cwd": "/r.pk/api"},
          {"id": 1, "is_plugin": false, "title": "web pk/web :4110", "exited": true,
           "exit_status": 3, "is_held": true, "pane_rows": 20, "tab_id": 0,
           "tab_position": 0, "tab_name": "agents",
           "terminal_command": "/bin/pk agent-run --state-dir /s web"},
          {"id": 2, "is_plugin": false, "title": "editor", "tab_name": "agents",
           "pane_command": "sh -c vi"},
          {"id": 0, "is_plugin": true, "title": "bar", "tab_name": "agents"}
        ]"#;
        let panes = parse_panes(json).unwrap();
        assert_eq!(panes.len(), 3);
        assert_eq!(
            (
                panes[0].id.as_str(),
                panes[0].track.as_str(),
                panes[0].role.as_str()
            ),
            ("terminal_0", "api", "agent")
        );
        assert!(!panes[0].dead);
        assert_eq!(panes[0].path, "/r.pk/api");
        assert_eq!((panes[1].dead, panes[1].dead_status), (true, Some(3)));
        assert_eq!(
            (panes[2].role.as_str(), panes[2].track.as_str()),
            ("editor", "")
        );
    }

    #[test]
    fn version() {
        assert_eq!(parse_version("zellij 0.45.1\n"), Some((0, 45)));
        assert_eq!(parse_version("nonsense"), None);
    }
}
