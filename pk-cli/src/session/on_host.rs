//! Tracks on other hosts, the host's half (design §11): what `pk on-host` does when the local
//! pk runs it over ssh ([`crate::session::remote`] is the local half).
//!
//! The host runs an ordinary pk session for its tracks: the plan's text comes on stdin and is
//! resolved in the host's clone, keeping only the tracks whose `host` is this one, laid out
//! one agent per window and without an editor (each local pane shows one agent). `pk up`,
//! `pk down` and the watcher are then the same code as on any machine, with the same safety.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::layout::{EditorAt, Shape};
use crate::plan::Multiplexer;
use crate::session::provision::{self, Fresh};
use crate::session::remote::{HostTrack, PROTOCOL, UpReply};
use crate::session::state;
use crate::session::teardown::{self, Down};
use crate::session::workspace::Workspace;
use crate::sys::git::Git;
use crate::sys::tmux::{Cmd, Tmux};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// What every `pk on-host` call says about where it acts.
#[derive(Debug, Clone)]
pub(crate) struct Where {
    /// The name the plan gives this host.
    pub(crate) host: String,
    /// The clone, as the plan writes it (`~/` is this user's home).
    pub(crate) repo: String,
    /// The session.
    pub(crate) session: String,
    /// The plan's path in the repository.
    pub(crate) plan: PathBuf,
}

/// A refusal to speak another protocol; the caller exits with
/// [`crate::session::remote::WRONG_PROTOCOL`].
pub(crate) fn protocol_error(theirs: u32) -> Option<String> {
    (theirs != PROTOCOL).then(|| {
        format!(
            "the pk that called speaks protocol {theirs}, this pk ({}) speaks {PROTOCOL}: run `pk host install` from there",
            env!("CARGO_PKG_VERSION")
        )
    })
}

/// `~` and `~/…` in the user's home.
fn expand_home(path: &str) -> PathBuf {
    let home = || {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
    };
    if path == "~" {
        home()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home().join(rest)
    } else {
        PathBuf::from(path)
    }
}

/// The clone, or an error that says how to make it.
fn repository(ctx: &Ctx, at: &Where) -> Result<Git> {
    let repo = expand_home(&at.repo);
    if !repo.is_dir() {
        return Err(Error::failure(format!(
            "there is no clone of the repository at {} on this host",
            repo.display()
        ))
        .hint("clone it there (`git clone`), or change `repo` in the plan's [hosts] table"));
    }
    let mut git = Git::discover(&repo)?;
    git.set_verbose(ctx.verbose);
    Ok(git)
}

/// The host's workspace: the plan's text resolved in the host's clone, only this host's
/// tracks, one agent per window, tmux.
pub(crate) fn workspace(ctx: &Ctx, at: &Where, text: &str) -> Result<Workspace> {
    let git = repository(ctx, at)?;
    let path = git.root().join(&at.plan);
    let env = |k: &str| std::env::var(k).ok();
    let mut plan = crate::plan::resolve_source(text, &path, &git, &env).map_err(Error::plan)?;
    plan.tracks
        .retain(|t| t.host.as_deref() == Some(at.host.as_str()));
    for t in &mut plan.tracks {
        t.host = None;
    }
    plan.hosts.clear();
    plan.session.multiplexer = Multiplexer::Tmux;
    plan.session.layout = Shape {
        name: "host".into(),
        description: "one agent per window, each shown by a pane of the local session".into(),
        agents_per_window: 1,
        agents_width: 100,
        editor: EditorAt::None,
    };
    let state_dir = state::session_dir(git.common_dir(), &plan.session.name);
    Ok(Workspace {
        git,
        plan,
        state_dir,
    })
}

/// `pk on-host up`: the host's tracks made and started, as `pk up --detach` makes them.
pub(crate) fn up(ctx: &Ctx, at: &Where, text: &str, fresh: &Fresh) -> Result<UpReply> {
    let ws = workspace(ctx, at, text)?;
    let up = provision::up(ctx, &ws, Multiplexer::Tmux, fresh)?;
    let tracks = ws
        .plan
        .tracks
        .iter()
        .filter_map(|t| up.state.track(&t.name))
        .map(|r| HostTrack {
            name: r.name.clone(),
            branch: r.branch.clone(),
            base: r.base.clone(),
            worktree: r.worktree.clone(),
            port_block: r.port_block,
            port_count: r.port_count,
            ports: r.ports.clone(),
        })
        .collect();
    Ok(UpReply {
        protocol: PROTOCOL,
        tracks,
    })
}

/// `pk on-host down`: `pk down` of the host's session, with its checks.
pub(crate) fn down(
    ctx: &Ctx,
    at: &Where,
    text: &str,
    force: bool,
    delete_branches: bool,
) -> Result<()> {
    let args = Down {
        plan: None,
        force,
        delete_branches,
    };
    let ws = workspace(ctx, at, text)?;
    teardown::down_in(ctx, ws, &args)
}

/// How often the stream looks at the host's status file, and says it is alive when nothing
/// changed (so a stream whose reader is gone ends).
const STREAM_LOOK: Duration = Duration::from_millis(100);
const STREAM_ALIVE: Duration = Duration::from_secs(2);

/// `pk on-host stream`: the host watcher's status file, a line of JSON each time it changes
/// (an empty line every [`STREAM_ALIVE`] otherwise), until the session is torn down or the
/// reader goes.
pub(crate) fn stream(ctx: &Ctx, at: &Where) -> Result<()> {
    let git = repository(ctx, at)?;
    let state_dir = state::session_dir(git.common_dir(), &at.session);
    let file = state_dir.join(pk_status::status_file::STATUS_FILE);
    let mut out = std::io::stdout().lock();
    let mut last: Option<Vec<u8>> = None;
    let mut said = std::time::Instant::now();
    loop {
        if !state_dir.is_dir() {
            return Ok(());
        }
        let now = std::fs::read(&file).ok();
        let line = match &now {
            Some(bytes) if last.as_ref() != Some(bytes) => {
                pk_status::status_file::StatusFile::parse(bytes)
                    .and_then(|f| serde_json::to_string(&f).ok())
            }
            _ => None,
        };
        let wrote = match line {
            Some(line) => {
                last = now;
                Some(writeln!(out, "{line}").and_then(|()| out.flush()))
            }
            None if said.elapsed() >= STREAM_ALIVE => {
                Some(writeln!(out).and_then(|()| out.flush()))
            }
            None => None,
        };
        match wrote {
            Some(Err(_)) => return Ok(()),
            Some(Ok(())) => said = std::time::Instant::now(),
            None => {}
        }
        std::thread::sleep(STREAM_LOOK);
    }
}

/// `pk on-host attach TRACK`: this terminal shows the track's agent, in a session of its own
/// grouped with the host's (so each local pane shows its own window), without the host's
/// status bar, gone when the terminal goes (`destroy-unattached`). Replaces this process
/// with tmux.
pub(crate) fn attach(ctx: &Ctx, at: &Where, track: &str, after_drop: Option<u64>) -> Result<u8> {
    use std::os::unix::process::CommandExt;
    let tmux = Tmux::new(ctx.socket.as_deref(), ctx.verbose);
    let panes = tmux.panes(&at.session).map_err(|e| {
        e.wrap(format!(
            "the session `{}` does not run on this host",
            at.session
        ))
    })?;
    let pane = panes
        .iter()
        .find(|p| p.track == track && p.role == "agent")
        .ok_or_else(|| Error::failure(format!("track `{track}` has no pane on this host")))?;
    let view = format!("{}-{track}-view", at.session);
    // A view a dropped connection left behind goes first.
    let _ = tmux.run(vec![Cmd::new("kill-session").opt("-t", format!("={view}"))]);
    let window = format!("={view}:{}", pane.window);
    let mut cmds = vec![
        Cmd::new("new-session")
            .opt("-s", &view)
            .opt("-t", format!("={}", at.session)),
        Cmd::new("set-option").arg("status").arg("off"),
        Cmd::new("set-option").arg("destroy-unattached").arg("on"),
        Cmd::new("select-window").opt("-t", &window),
        // The local pane has its own border with the track's name.
        Cmd::new("set-option")
            .flag("-w")
            .opt("-t", &window)
            .arg("pane-border-status")
            .arg("off"),
    ];
    if let Some(secs) = after_drop {
        cmds.push(Cmd::new("display-message").opt("-d", "5000").arg(format!(
            "pk: reconnected to host {} (the connection was down {secs} s; the agent ran on)",
            at.host
        )));
    }
    let mut cmd = tmux.command(cmds);
    cmd.stdin(std::process::Stdio::inherit());
    let err = cmd.exec();
    Err(Error::failure("failed to run tmux").wrap_cause(err.to_string()))
}

/// The record of `track` in this host's session.
fn track_record(ctx: &Ctx, at: &Where, track: &str) -> Result<(Git, state::TrackRecord)> {
    let git = repository(ctx, at)?;
    let dir = state::session_dir(git.common_dir(), &at.session);
    let rec = state::State::load(&dir)?
        .and_then(|s| s.track(track).cloned())
        .ok_or_else(|| {
            Error::usage(format!("track `{track}` is not up on this host")).hint("run `pk up`")
        })?;
    Ok((git, rec))
}

/// `pk on-host exec TRACK -- CMD…`: `pk exec` of a track of this host.
pub(crate) fn exec(ctx: &Ctx, at: &Where, track: &str, argv: &[String]) -> Result<u8> {
    let (_, rec) = track_record(ctx, at, track)?;
    crate::session::exec::in_track(&rec, argv)
}

/// `pk on-host diff TRACK [--stat] -- ARGS…`: `pk diff` of a track of this host.
pub(crate) fn diff(
    ctx: &Ctx,
    at: &Where,
    track: &str,
    show: crate::session::review::Show,
    args: &[String],
) -> Result<u8> {
    let (git, rec) = track_record(ctx, at, track)?;
    let changes = crate::session::review::Changes::of(&git, &rec.worktree, &rec.base)?;
    let status = changes
        .command(show, args)
        .status()
        .map_err(|e| Error::failure("failed to run git").wrap_cause(e.to_string()))?;
    Ok(crate::sys::procs::exit_code(status))
}

/// `pk on-host check`: what this host has and what it lacks for the plan.
pub(crate) fn check(
    ctx: &Ctx,
    at: &Where,
    commits: &[String],
) -> crate::session::remote::HostCheck {
    let mut have = vec![format!(
        "pk {} (protocol {PROTOCOL})",
        env!("CARGO_PKG_VERSION")
    )];
    let mut lack = Vec::new();
    match Git::version() {
        Ok(v) => have.push(format!("git {v}")),
        Err(_) => lack.push("git is not installed".to_string()),
    }
    match Tmux::version() {
        Ok((major, minor)) if (major, minor) >= (3, 2) => {
            have.push(format!("tmux {major}.{minor}"))
        }
        Ok((major, minor)) => lack.push(format!("tmux {major}.{minor} is older than 3.2")),
        Err(_) => lack.push("tmux is not installed".to_string()),
    }
    match repository(ctx, at) {
        Ok(git) => {
            have.push(format!("clone {}", git.root().display()));
            for c in commits {
                if git.commit_exists(c) {
                    have.push(format!("base {}", &c[..c.len().min(10)]));
                } else {
                    lack.push(format!(
                        "the base commit {} is not in the clone (push it there, or `git fetch` in {})",
                        &c[..c.len().min(10)],
                        git.root().display()
                    ));
                }
            }
        }
        Err(e) => lack.push(e.message.clone()),
    }
    crate::session::remote::HostCheck { have, lack }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn home_is_expanded_only_at_the_start() {
        let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
        assert_eq!(expand_home("~"), home);
        assert_eq!(expand_home("~/src/shop"), home.join("src/shop"));
        assert_eq!(expand_home("/srv/~/x"), Path::new("/srv/~/x"));
        assert_eq!(expand_home("~other/x"), Path::new("~other/x"));
    }

    #[test]
    fn only_the_same_protocol_is_spoken() {
        assert!(protocol_error(PROTOCOL).is_none());
        assert!(
            protocol_error(PROTOCOL + 1)
                .unwrap()
                .contains("pk host install")
        );
    }
}
