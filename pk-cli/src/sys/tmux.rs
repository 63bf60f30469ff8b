//! The one wrapper around tmux. Every call goes to the server pk chose (`-L <socket>` when a
//! private one is configured) and is an argument list, never a shell string.
//!
//! Commands are built with `tmux_interface`'s generic `TmuxCommand` and joined with its `Tmux`
//! (several commands, one process). Its typed builders are not used: in 0.4.0
//! `SplitWindow::size(Percentage)` emits the `-p` flag that tmux 3.4 rejects ("size missing"),
//! and `SplitWindow`/`NewWindow` take a single `-e` (notes/apis.md §3.3).

use crate::error::{Error, Result};
use std::borrow::Cow;
use std::process::{Command, Stdio};
use tmux_interface::TmuxCommand;

/// The oldest tmux pk supports: `new-session -e`, `split-window -l N%`, pane options.
pub(crate) const MIN_VERSION: (u32, u32) = (3, 2);

/// One tmux command (`split-window -v …`), as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    args: Vec<String>,
}

impl Cmd {
    /// A command by its full name (`new-session`).
    pub(crate) fn new(name: &str) -> Cmd {
        Cmd {
            args: vec![name.to_string()],
        }
    }

    /// Adds a flag (`-d`).
    #[must_use]
    pub(crate) fn flag(mut self, flag: &str) -> Cmd {
        self.args.push(flag.to_string());
        self
    }

    /// Adds an option with its value (`-t`, `shop:agents`).
    #[must_use]
    pub(crate) fn opt(mut self, flag: &str, value: impl AsRef<str>) -> Cmd {
        self.args.push(flag.to_string());
        self.args.push(escape(value.as_ref()));
        self
    }

    /// Adds `-c DIR`, a pane's start folder. tmux expands formats in it (`#{…}`, and `#(…)`,
    /// which runs a shell command), so every `#` is doubled: the folder stays literal.
    #[must_use]
    pub(crate) fn start_dir(self, dir: &std::path::Path) -> Cmd {
        self.opt("-c", dir.to_string_lossy().replace('#', "##"))
    }

    /// Adds a positional argument (an option value, a pane's argv).
    #[must_use]
    pub(crate) fn arg(mut self, value: impl AsRef<str>) -> Cmd {
        self.args.push(escape(value.as_ref()));
        self
    }

    /// Adds several positional arguments.
    #[must_use]
    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, values: I) -> Cmd {
        for v in values {
            self.args.push(escape(v.as_ref()));
        }
        self
    }

    /// The argument list, as tmux receives it.
    pub fn argv(&self) -> &[String] {
        &self.args
    }

    fn into_tmux_command(self) -> TmuxCommand<'static> {
        let mut args = self.args.into_iter();
        let mut cmd = TmuxCommand::new();
        cmd.name(Cow::Owned(args.next().unwrap_or_default()));
        for a in args {
            cmd.push_param(Cow::Owned(a));
        }
        cmd
    }
}

/// tmux splits its command line at arguments that end in `;`; a literal one is written `\;`.
/// Without this a value such as a branch name ending in `;` would start a new tmux command.
fn escape(value: &str) -> String {
    match value.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => value.to_string(),
    }
}

/// A tmux server.
#[derive(Debug, Clone)]
pub(crate) struct Tmux {
    socket: Option<String>,
    verbose: bool,
}

/// One pane, as `list-panes` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pane {
    /// `%12`.
    pub id: String,
    /// The window's name.
    pub window: String,
    /// The `@pk_track` pane option (empty for panes that are not agents).
    pub track: String,
    /// The `@pk_role` pane option (`agent`, `editor`).
    pub role: String,
    /// The pane's process has exited (kept by `remain-on-exit`).
    pub dead: bool,
    /// Exit status of a dead pane.
    pub dead_status: Option<i32>,
    /// PID of the pane's process.
    pub pid: Option<u32>,
    /// Height in rows.
    pub height: u32,
    /// The pane's current folder.
    pub path: String,
}

/// Field separator of [`PANE_FORMAT`]: printable ASCII, because a tmux client without a UTF-8
/// locale prints control characters such as a tab as `_`. Only the last field (a path) could
/// contain it, and `splitn` keeps that one whole.
const SEP: &str = "|~|";

const PANE_FORMAT: &str = "#{pane_id}|~|#{window_name}|~|#{@pk_track}|~|#{@pk_role}|~|#{pane_dead}|~|#{pane_dead_status}|~|#{pane_pid}|~|#{pane_height}|~|#{pane_current_path}";

/// Parses `list-panes -F PANE_FORMAT` output.
pub(crate) fn parse_panes(text: &str) -> Vec<Pane> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(9, SEP).collect();
            if f.len() < 9 || !f[0].starts_with('%') {
                return None;
            }
            Some(Pane {
                id: f[0].to_string(),
                window: f[1].to_string(),
                track: f[2].to_string(),
                role: f[3].to_string(),
                dead: f[4] == "1",
                dead_status: f[5].parse().ok(),
                pid: f[6].parse().ok(),
                height: f[7].parse().unwrap_or(0),
                path: f[8].to_string(),
            })
        })
        .collect()
}

/// A client attached to a session, as `list-clients` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Client {
    /// Its name (the terminal, `/dev/pts/3`), for `-c`.
    pub name: String,
    /// Its width in columns.
    pub width: u32,
}

/// Prefix of the client lines in [`Tmux::snapshot`]'s output (pane lines start with `%`).
const CLIENT_PREFIX: &str = "client|~|";

/// Parses the client lines of [`Tmux::snapshot`]'s output.
pub(crate) fn parse_clients(text: &str) -> Vec<Client> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(CLIENT_PREFIX)?;
            let (width, name) = rest.split_once(SEP)?;
            Some(Client {
                name: name.to_string(),
                width: width.parse().ok()?,
            })
        })
        .collect()
}

/// Parses `tmux -V` (`tmux 3.3a`, `tmux next-3.5`, `tmux 3.4-rc`).
pub(crate) fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.trim().rsplit(' ').next()?;
    let v = v.trim_start_matches(|c: char| !c.is_ascii_digit());
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()
        .unwrap_or("0")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().unwrap_or(0)))
}

impl Tmux {
    /// The server on `socket` (`tmux -L`), or the default one.
    pub(crate) fn new(socket: Option<&str>, verbose: bool) -> Tmux {
        Tmux {
            socket: socket.map(str::to_owned),
            verbose,
        }
    }

    /// The private socket name, if any.
    pub(crate) fn socket(&self) -> Option<&str> {
        self.socket.as_deref()
    }

    /// The process that runs `cmds` on this server in one tmux invocation.
    pub(crate) fn command(&self, cmds: Vec<Cmd>) -> Command {
        let mut tmux = tmux_interface::Tmux::new();
        if let Some(socket) = &self.socket {
            tmux = tmux.socket_name(Cow::Owned(socket.clone()));
        }
        for c in cmds {
            tmux = tmux.add_command(c.into_tmux_command());
        }
        let mut cmd = Command::from(tmux);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `cmds` in one tmux invocation and returns its standard output. No commands is
    /// nothing to do: tmux without a command would start a session and attach to it.
    pub(crate) fn run(&self, cmds: Vec<Cmd>) -> Result<String> {
        if cmds.is_empty() {
            return Ok(String::new());
        }
        let out = crate::sys::shell::run_captured(&mut self.command(cmds), "tmux", self.verbose)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The installed tmux's version, or an error saying how to get it.
    pub(crate) fn version() -> Result<(u32, u32)> {
        let out = Command::new("tmux")
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::failure("tmux is not installed")
                    .wrap_cause(e.to_string())
                    .hint("install tmux 3.2 or newer (apt install tmux, brew install tmux)")
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        parse_version(&text).ok_or_else(|| {
            Error::failure(format!(
                "cannot read the tmux version from `{}`",
                text.trim()
            ))
        })
    }

    /// Fails unless tmux is at least [`MIN_VERSION`].
    pub(crate) fn require_version() -> Result<(u32, u32)> {
        let v = Tmux::version()?;
        if v < MIN_VERSION {
            return Err(Error::failure(format!(
                "tmux {}.{} is too old: pk needs {}.{} or newer",
                v.0, v.1, MIN_VERSION.0, MIN_VERSION.1
            ))
            .hint("upgrade tmux"));
        }
        Ok(v)
    }

    /// The session's panes, or `None` when it does not run (no server, no such session): one
    /// tmux call where `has_session` + `panes` would be two, for `pk status`'s hot path.
    pub(crate) fn session_panes(&self, session: &str) -> Option<Vec<Pane>> {
        self.panes(session).ok()
    }

    /// True when the session exists on this server.
    pub(crate) fn has_session(&self, session: &str) -> bool {
        self.run(vec![Cmd::new("has-session").opt("-t", exact(session))])
            .is_ok()
    }

    /// Every pane of the session.
    pub(crate) fn panes(&self, session: &str) -> Result<Vec<Pane>> {
        let out = self.run(vec![
            Cmd::new("list-panes")
                .flag("-s")
                .opt("-t", exact(session))
                .opt("-F", PANE_FORMAT),
        ])?;
        Ok(parse_panes(&out))
    }

    /// The text of a pane (a dead one too, kept by `remain-on-exit`): its last `lines` lines of
    /// history and its screen, wrapped lines joined, without escape sequences.
    pub(crate) fn capture(&self, pane: &str, lines: u32) -> Result<String> {
        self.run(vec![
            Cmd::new("capture-pane")
                .flag("-p")
                .flag("-J")
                .opt("-S", format!("-{lines}"))
                .opt("-t", pane),
        ])
    }

    /// Every pane of the session and the clients attached to it, in one tmux call (the watcher
    /// asks every few seconds).
    pub(crate) fn snapshot(&self, session: &str) -> Result<(Vec<Pane>, Vec<Client>)> {
        let out = self.run(vec![
            Cmd::new("list-panes")
                .flag("-s")
                .opt("-t", exact(session))
                .opt("-F", PANE_FORMAT),
            Cmd::new("list-clients").opt("-t", exact(session)).opt(
                "-F",
                format!("{CLIENT_PREFIX}#{{client_width}}{SEP}#{{client_name}}"),
            ),
        ])?;
        Ok((parse_panes(&out), parse_clients(&out)))
    }

    /// Ends the session and every process in it.
    pub(crate) fn kill_session(&self, session: &str) -> Result<()> {
        self.run(vec![Cmd::new("kill-session").opt("-t", exact(session))])
            .map(drop)
    }

    /// The client a command run from here acts on (`switch-client`'s): the one attached to the
    /// session of the pane pk runs in (`TMUX_PANE`), if any.
    pub(crate) fn current_client(&self) -> Option<String> {
        let name = self
            .run(vec![
                Cmd::new("display-message").flag("-p").arg("#{client_name}"),
            ])
            .ok()?;
        Some(name.trim().to_string()).filter(|n| !n.is_empty())
    }

    /// How a person attaches a terminal to `session` on this server.
    pub(crate) fn attach_command(&self, session: &str) -> String {
        let socket = self
            .socket
            .as_ref()
            .map(|s| format!(" -L {}", crate::sys::shell::quote(s)))
            .unwrap_or_default();
        format!(
            "tmux{socket} attach-session -t {}",
            crate::sys::shell::quote(&exact(session))
        )
    }

    /// The path of this server's socket (to tell whether pk runs inside it).
    pub(crate) fn socket_path(&self) -> Option<String> {
        self.run(vec![
            Cmd::new("display-message").flag("-p").arg("#{socket_path}"),
        ])
        .ok()
        .map(|s| s.trim().to_string())
    }

    /// Attaches the terminal to the session, or switches the client when already inside that
    /// tmux server.
    pub(crate) fn attach(&self, session: &str) -> Result<()> {
        use std::os::unix::process::CommandExt;
        let inside = std::env::var("TMUX")
            .ok()
            .and_then(|v| v.split(',').next().map(str::to_owned));
        let target = exact(session);
        if inside.is_some() && inside == self.socket_path() {
            // `switch-client` moves the client that shows this pane; with none attached (pk run in
            // a detached session) it would fail after everything worked.
            if self.current_client().is_none() {
                eprintln!(
                    "no tmux client shows this pane to switch to `{session}`: attach with `{}`",
                    self.attach_command(session)
                );
                return Ok(());
            }
            return self
                .run(vec![Cmd::new("switch-client").opt("-t", target)])
                .map(drop);
        }
        let mut cmd = self.command(vec![Cmd::new("attach-session").opt("-t", target)]);
        // Attaching from inside another tmux server nests on purpose: that is what was asked.
        cmd.env_remove("TMUX").stdin(std::process::Stdio::inherit());
        let err = cmd.exec();
        Err(Error::failure("failed to attach to the tmux session").wrap_cause(err.to_string()))
    }
}

/// A session target that matches the name exactly (`=shop`), never a prefix or pattern.
pub(crate) fn exact(session: &str) -> String {
    format!("={session}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_commands_runs_no_tmux() {
        // Bare `tmux` would start a session and try to attach to this terminal.
        let tmux = Tmux::new(Some("pk-unit-no-such-server"), false);
        assert_eq!(tmux.run(Vec::new()).unwrap(), "");
    }

    #[test]
    fn trailing_semicolons_are_escaped() {
        let c = Cmd::new("set-option").opt("-t", "s").arg("@x").arg("evil;");
        assert_eq!(c.argv(), ["set-option", "-t", "s", "@x", "evil\\;"]);
        assert_eq!(escape("a;b"), "a;b");
    }

    #[test]
    fn start_folders_are_never_formats() {
        let c = Cmd::new("split-window").start_dir(std::path::Path::new("/w/#(touch x)/#S"));
        assert_eq!(c.argv(), ["split-window", "-c", "/w/##(touch x)/##S"]);
    }

    #[test]
    fn joins_commands_with_separators_and_the_socket() {
        let t = Tmux::new(Some("pk-test"), false);
        let cmd = t.command(vec![
            Cmd::new("has-session").opt("-t", "=s"),
            Cmd::new("kill-session").opt("-t", "=s"),
        ]);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "-L",
                "pk-test",
                "has-session",
                "-t",
                "=s",
                ";",
                "kill-session",
                "-t",
                "=s"
            ]
        );
    }

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("tmux 3.3a\n"), Some((3, 3)));
        assert_eq!(parse_version("tmux 3.4"), Some((3, 4)));
        assert_eq!(parse_version("tmux next-3.6"), Some((3, 6)));
        assert_eq!(parse_version("tmux 2.9a"), Some((2, 9)));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn parses_clients_among_panes() {
        let text = "%0|~|agents|~|api|~|agent|~|0|~||~|1|~|16|~|/w\nclient|~|200|~|/dev/pts/3\nclient|~|x|~|/dev/pts/4\n";
        assert_eq!(
            parse_clients(text),
            [Client {
                name: "/dev/pts/3".into(),
                width: 200
            }]
        );
        assert_eq!(parse_panes(text).len(), 1);
    }

    #[test]
    fn parses_pane_lists() {
        let text = "%0|~|agents|~|api|~|agent|~|0|~||~|123|~|16|~|/r.pk/api\n%3|~|agents|~||~|editor|~|1|~|2|~|124|~|50|~|/r.pk|~|x\nnoise\n";
        let panes = parse_panes(text);
        assert_eq!(panes.len(), 2);
        assert_eq!(panes[0].track, "api");
        assert!(!panes[0].dead);
        assert_eq!(panes[0].dead_status, None);
        assert_eq!(panes[1].role, "editor");
        assert!(panes[1].dead);
        assert_eq!(panes[1].dead_status, Some(2));
        assert_eq!(panes[1].path, "/r.pk|~|x");
    }
}
