//! The multiplexer a session runs in, for the commands that work the same in both (`pk status`,
//! `pk focus`, `pk down`, `pk watch`). `pk up` builds each kind its own way.

use crate::ctx::Ctx;
use crate::error::Result;
use crate::sys::tmux::{Cmd, Pane, Tmux};
use crate::sys::zellij::Zellij;

/// `[session] multiplexer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multiplexer {
    /// tmux (default).
    Tmux,
    /// zellij.
    Zellij,
}

impl Multiplexer {
    /// The name used in the plan and in JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Multiplexer::Tmux => "tmux",
            Multiplexer::Zellij => "zellij",
        }
    }
}

/// A key to type into a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    /// Return.
    Enter,
    /// Escape.
    Escape,
    /// Text, typed as it is (no key names).
    Text(String),
}

/// tmux (on a socket) or zellij.
#[derive(Debug, Clone)]
pub(crate) enum Mux {
    /// A tmux server.
    Tmux(Tmux),
    /// The zellij CLI.
    Zellij(Zellij),
}

impl Mux {
    /// The multiplexer of a session: the one its state records (what `pk up` used), else the
    /// plan's. `--socket` picks the tmux server.
    /// `recorded` is what the state records: the multiplexer's name and the tmux socket.
    pub(crate) fn of(ctx: &Ctx, recorded: Option<(&str, Option<&str>)>, plan: Multiplexer) -> Mux {
        let zellij = match recorded {
            Some((name, _)) => name == Multiplexer::Zellij.name(),
            None => plan == Multiplexer::Zellij,
        };
        if zellij {
            return Mux::Zellij(Zellij::new(ctx.verbose));
        }
        let socket = ctx
            .socket
            .clone()
            .or_else(|| recorded.and_then(|(_, socket)| socket.map(str::to_owned)));
        Mux::Tmux(Tmux::new(socket.as_deref(), ctx.verbose))
    }

    /// `tmux` or `zellij`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Mux::Tmux(_) => "tmux",
            Mux::Zellij(_) => "zellij",
        }
    }

    /// True when the session runs.
    pub(crate) fn has_session(&self, session: &str) -> bool {
        match self {
            Mux::Tmux(t) => t.has_session(session),
            Mux::Zellij(z) => z.has_session(session),
        }
    }

    /// The session's panes, or `None` when it does not run.
    pub(crate) fn session_panes(&self, session: &str) -> Option<Vec<Pane>> {
        match self {
            Mux::Tmux(t) => t.session_panes(session),
            Mux::Zellij(z) => z.session_panes(session),
        }
    }

    /// Ends the session and everything in it; zellij also forgets it (nothing to resurrect).
    pub(crate) fn kill_session(&self, session: &str) -> Result<()> {
        match self {
            Mux::Tmux(t) => t.kill_session(session),
            Mux::Zellij(z) => z.kill_session(session),
        }
    }

    /// Moves the session's focus to `pane` (its window or tab too).
    pub(crate) fn focus(&self, session: &str, pane: &Pane) -> Result<()> {
        match self {
            Mux::Tmux(t) => t
                .run(vec![
                    Cmd::new("select-window").opt("-t", &pane.id),
                    Cmd::new("select-pane").opt("-t", &pane.id),
                ])
                .map(drop),
            Mux::Zellij(z) => z.focus(session, &pane.id),
        }
    }

    /// Types `keys` into `pane`, as a person at its terminal would.
    pub(crate) fn send_keys(&self, session: &str, pane: &Pane, keys: &[Key]) -> Result<()> {
        match self {
            Mux::Tmux(t) => t
                .run(
                    keys.iter()
                        .map(|k| match k {
                            Key::Enter => Cmd::new("send-keys").opt("-t", &pane.id).arg("Enter"),
                            Key::Escape => Cmd::new("send-keys").opt("-t", &pane.id).arg("Escape"),
                            Key::Text(text) => Cmd::new("send-keys")
                                .opt("-t", &pane.id)
                                .flag("-l")
                                .arg(text),
                        })
                        .collect(),
                )
                .map(drop),
            // zellij types into the focused pane: the pane is focused first.
            Mux::Zellij(z) => {
                z.focus(session, &pane.id)?;
                for k in keys {
                    match k {
                        Key::Enter => z.run(&["-s", session, "action", "write", "13"])?,
                        Key::Escape => z.run(&["-s", session, "action", "write", "27"])?,
                        Key::Text(text) => {
                            z.run(&["-s", session, "action", "write-chars", text])?
                        }
                    };
                }
                Ok(())
            }
        }
    }

    /// The last lines a pane shows (a dead pane's too): what an agent that exited printed last.
    pub(crate) fn pane_text(&self, session: &str, pane: &Pane) -> Result<String> {
        match self {
            Mux::Tmux(t) => t.capture(&pane.id, 200),
            Mux::Zellij(z) => z.capture(session, &pane.id),
        }
    }

    /// Attaches this terminal to the session, or switches the client when already inside.
    pub(crate) fn attach(&self, session: &str) -> Result<()> {
        match self {
            Mux::Tmux(t) => t.attach(session),
            Mux::Zellij(z) => z.attach(session),
        }
    }
}
