//! Tracks on other hosts, this machine's half (design §11).
//!
//! pk has no daemon or protocol of its own on a host: it runs itself there over ssh
//! ([`crate::sys::ssh`], one multiplexed connection per host) with the hidden `pk on-host`
//! command ([`crate::session::on_host`] is the host's half). `pk up` sends the plan's text and
//! the host makes its tracks' worktrees, branches, ports (the host's own registry) and a tmux
//! session whose agents outlive a dropped connection; a local pane shows each agent by
//! attaching to that session ([`attach`]), and the host's watcher's status comes back as a
//! stream ([`stream_argv`]). `pk down` asks the host to tear down first, with the host's own
//! checks, so a dirty remote worktree is refused there as it would be here.
//!
//! Both sides speak [`PROTOCOL`]: a host whose pk speaks another is refused with what to do.

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::output::Style;
use crate::plan::Host;
use crate::session::provision::Fresh;
use crate::session::state::{HostRecord, Launch, State, TrackRecord};
use crate::session::workspace::Workspace;
use crate::sys::ssh::{self, Ssh};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The version of what `pk on-host` is asked and answers. Both sides must speak the same.
pub(crate) const PROTOCOL: u32 = 1;

/// How long a pane waits before it connects again to a host whose connection dropped.
const RECONNECT_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

/// The exit status of `pk on-host` when the host's pk speaks another protocol.
pub(crate) const WRONG_PROTOCOL: i32 = 64;

/// What `pk on-host check` found: what the host has, and what it lacks for the plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct HostCheck {
    /// Found, for people (`git 2.39.5`, `clone /home/dev/src/shop`).
    pub have: Vec<String>,
    /// Missing, each with what to do.
    pub lack: Vec<String>,
}

/// One track as the host made it (`pk on-host up`'s answer).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct HostTrack {
    /// The track.
    pub name: String,
    /// Its branch in the host's clone.
    pub branch: String,
    /// The ref it started from.
    pub base: String,
    /// Its worktree on the host.
    pub worktree: PathBuf,
    /// Its block of ports in the host's registry.
    pub port_block: u16,
    /// The block's size.
    pub port_count: u16,
    /// Its named ports.
    pub ports: Vec<(String, u16)>,
}

/// `pk on-host up`'s answer, one JSON object on its stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UpReply {
    /// The protocol the host speaks.
    pub protocol: u32,
    /// The host's tracks.
    pub tracks: Vec<HostTrack>,
}

/// How pk reaches one host and what it tells pk there.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    /// The plan's `[hosts.NAME]`.
    pub(crate) host: Host,
    ssh: Ssh,
    /// The private tmux server the session uses (`--socket`), used on the host as well.
    socket: Option<String>,
    /// The session.
    session: String,
    /// The plan's path in the repository, which the host resolves in its clone.
    plan_rel: String,
}

impl Remote {
    /// The host `record` of the session whose state is in `state_dir`. `PK_SSH_COMMAND`
    /// here wins over the one recorded at `pk up`.
    pub(crate) fn of(
        state_dir: &Path,
        state: &State,
        record: &HostRecord,
        verbose: bool,
    ) -> Remote {
        let custom = std::env::var(ssh::PK_SSH_COMMAND)
            .ok()
            .or_else(|| record.ssh_command.clone());
        let plan_rel = state
            .plan
            .strip_prefix(&state.repo_root)
            .unwrap_or(Path::new(crate::plan::PLAN_FILE))
            .to_string_lossy()
            .into_owned();
        Remote {
            host: record.host.clone(),
            ssh: Ssh::new(&record.host.ssh, &state_dir.join("ssh"), custom, verbose),
            socket: state.socket.clone(),
            session: state.session.clone(),
            plan_rel,
        }
    }

    /// The host of the remote track `rec`.
    pub(crate) fn of_track(
        state_dir: &Path,
        state: &State,
        rec: &TrackRecord,
        verbose: bool,
    ) -> Result<Remote> {
        let host = rec.host.as_deref().unwrap_or_default();
        let record = state.host(host).ok_or_else(|| {
            Error::failure(format!(
                "host `{host}` of track `{}` is not in pk's state",
                rec.name
            ))
            .hint("run `pk up` again")
        })?;
        Ok(Remote::of(state_dir, state, record, verbose))
    }

    /// `pk on-host … op` as an argument list for the host.
    fn argv(&self, op: &[&str]) -> Vec<String> {
        let mut argv = Vec::new();
        if let Some(socket) = &self.socket {
            argv.extend(["--socket".to_string(), socket.clone()]);
        }
        argv.extend(
            [
                "on-host",
                "--protocol",
                &PROTOCOL.to_string(),
                "--host",
                &self.host.name,
                "--repo",
                &self.host.repo,
                "--session",
                &self.session,
                "--plan",
                &self.plan_rel,
            ]
            .map(String::from),
        );
        argv.extend(op.iter().map(|s| s.to_string()));
        argv
    }

    /// Runs `pk on-host … op` on the host; its failure is an error that says whose it was:
    /// ssh's (the host cannot be reached), a missing pk, another protocol, or pk's on the
    /// host, whose message and exit status (2 usage, 3 refused) carry over.
    fn run(&self, op: &[&str], input: Option<&[u8]>) -> Result<Output> {
        let out = self.ssh.output(&self.argv(op), input)?;
        let code = out.status.code();
        if code == Some(0) {
            return Ok(out);
        }
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let name = &self.host.name;
        Err(match code {
            Some(ssh::UNREACHABLE) => Error::failure(format!(
                "cannot reach host `{name}` (ssh {})",
                self.ssh.dest()
            ))
            .wrap_cause(if said.is_empty() { "ssh failed".into() } else { said })
            .hint(format!(
                "check that `ssh {} true` works (or PK_SSH_COMMAND); `pk check` says what is missing",
                self.ssh.dest()
            )),
            // Not found, or found and not runnable by that user.
            Some(126 | 127) => Error::failure(format!("pk is not installed on host `{name}`"))
                .wrap_cause(said)
                .hint(format!("run `pk host install {name}`")),
            Some(WRONG_PROTOCOL) => Error::failure(format!(
                "pk on host `{name}` speaks another protocol than this pk ({PROTOCOL})"
            ))
            .wrap_cause(said)
            .hint(format!("run `pk host install {name}` to put this pk there")),
            Some(c) => {
                // The host's pk said what and why, with its lists and hints: shown as it
                // printed it, under the host's name.
                for line in said.lines() {
                    eprintln!("{name}: {line}");
                }
                let what = if c == 3 { "refused" } else { "failed" };
                let message = format!("on host `{name}`: pk {} {what} (what it said is above)", op[0]);
                match c {
                    2 => Error::usage(message),
                    3 => Error::refused(message),
                    _ => Error::failure(message),
                }
            }
            None => Error::failure(format!("ssh to host `{name}` was killed")),
        })
    }

    /// The argument list of the host's status stream, for [`crate::live::remote`].
    pub(crate) fn stream_argv(&self) -> Vec<String> {
        self.argv(&["stream"])
    }

    /// The ssh of this host.
    pub(crate) fn ssh(&self) -> &Ssh {
        &self.ssh
    }
}

/// The hosts the plan's tracks use, recorded in `state` (with `PK_SSH_COMMAND`).
fn record_hosts(ws: &Workspace, state: &mut State) {
    let custom = std::env::var(ssh::PK_SSH_COMMAND).ok();
    for host in &ws.plan.hosts {
        if !ws
            .plan
            .tracks
            .iter()
            .any(|t| t.host.as_ref() == Some(&host.name))
        {
            continue;
        }
        let record = HostRecord {
            host: host.clone(),
            ssh_command: custom.clone(),
        };
        match state.hosts.iter_mut().find(|h| h.host.name == host.name) {
            Some(h) => *h = record,
            None => state.hosts.push(record),
        }
    }
}

/// `pk up` for the plan's remote tracks: each host makes its tracks (one round trip), and
/// their records here say where they are. Before the panes that show them. A host that fails
/// is skipped, the others go on; the error of the first (its tracks not started) is returned
/// for `pk up` to report once the rest is up.
pub(crate) fn provision(
    ctx: &Ctx,
    ws: &Workspace,
    state: &mut State,
    fresh: &Fresh,
) -> Result<Option<Error>> {
    let plan = &ws.plan;
    if plan.tracks.iter().all(|t| t.host.is_none()) {
        return Ok(None);
    }
    record_hosts(ws, state);
    state.save(&ws.state_dir)?;
    let text = std::fs::read(&plan.path).map_err(|e| {
        Error::failure(format!("failed to read {}", plan.path.display())).wrap_cause(e.to_string())
    })?;
    let now = crate::util::clock::now_ms();
    let mut failed: Option<Error> = None;
    for record in state.hosts.clone() {
        let tracks: Vec<&crate::plan::Track> = plan
            .tracks
            .iter()
            .filter(|t| t.host.as_deref() == Some(record.host.name.as_str()))
            .collect();
        if tracks.is_empty() {
            continue;
        }
        let remote = Remote::of(&ws.state_dir, state, &record, ctx.verbose);
        let mut op = vec!["up"];
        let fresh_names: Vec<String> = tracks
            .iter()
            .filter(|t| fresh.covers(&t.name))
            .map(|t| t.name.clone())
            .collect();
        if !fresh_names.is_empty() {
            op.push("--fresh");
            op.extend(fresh_names.iter().map(String::as_str));
        }
        ctx.out.step(&format!(
            "  {} host {} ({}): {} track(s)",
            ctx.out.paint(Style::Green, "→"),
            ctx.out.paint(Style::Bold, &record.host.name),
            record.host.ssh,
            tracks.len()
        ));
        let out = match remote.run(&op, Some(&text)) {
            Ok(out) => out,
            Err(e) => {
                let names: Vec<&str> = tracks.iter().map(|t| t.name.as_str()).collect();
                ctx.out.warn(&format!(
                    "host {}: {} not started ({})",
                    record.host.name,
                    names.join(", "),
                    e.message
                ));
                if failed.is_none() {
                    failed = Some(e.hint(format!(
                        "the other tracks are up; `pk up` again starts {} once the host can be reached",
                        names.join(", ")
                    )));
                }
                continue;
            }
        };
        // What the host's pk did, as it said it, under its name.
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            ctx.out.step(&format!("    {}: {line}", record.host.name));
        }
        let reply: UpReply = serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::failure(format!(
                "host `{}` answered `pk on-host up` with something pk cannot read",
                record.host.name
            ))
            .wrap_cause(e.to_string())
        })?;
        for t in reply.tracks {
            let Some(track) = tracks.iter().find(|p| p.name == t.name) else {
                continue;
            };
            let prev = state.track(&t.name);
            let rec = TrackRecord {
                name: t.name.clone(),
                branch: t.branch,
                base: t.base,
                branch_created: false,
                worktree: t.worktree,
                worktree_created: false,
                worktree_ready: true,
                worktree_removing: false,
                port_block: t.port_block,
                port_count: t.port_count,
                ports: t.ports,
                copied: Vec::new(),
                pane: prev.and_then(|r| r.pane.clone()),
                launch: Launch {
                    agent: crate::session::agent::label(&track.agent),
                    ..Launch::default()
                },
                transcript: None,
                events: None,
                agent_started_ms: prev.and_then(|r| r.agent_started_ms).or(Some(now)),
                budget_usd: track.budget_usd,
                owns: track.owns.clone(),
                resumed: None,
                finished_before: false,
                host: Some(record.host.name.clone()),
            };
            match state.track_mut(&rec.name) {
                Some(r) => *r = rec,
                None => state.tracks.push(rec),
            }
        }
        state.save(&ws.state_dir)?;
    }
    Ok(failed)
}

/// `pk down` on every host of the session, before anything here is touched: each host checks
/// its worktrees and refuses (exit 3, its files listed) or saves them (`--force`) as `pk down`
/// does here. Hosts that cannot be reached stop the run, unless `force`.
pub(crate) fn tear_down(
    ctx: &Ctx,
    state_dir: &Path,
    state: &State,
    force: bool,
    delete_branches: bool,
) -> Result<()> {
    for record in &state.hosts {
        if !state
            .tracks
            .iter()
            .any(|t| t.host.as_ref() == Some(&record.host.name))
        {
            continue;
        }
        let remote = Remote::of(state_dir, state, record, ctx.verbose);
        let mut op = vec!["down"];
        if force {
            op.push("--force");
        }
        if delete_branches {
            op.push("--delete-branches");
        }
        let plan = std::fs::read(&state.plan).ok();
        match remote.run(&op, Some(plan.as_deref().unwrap_or_default())) {
            Ok(out) => {
                for line in String::from_utf8_lossy(&out.stderr).lines() {
                    ctx.out.step(&format!("    {}: {line}", record.host.name));
                }
                remote.ssh().close();
            }
            // `--force` goes on here: what is on the host stays there, untouched.
            Err(e) if force => ctx.out.warn(&format!(
                "host `{}`: its tracks were not torn down ({e}); run `pk down` again when it can be reached",
                record.host.name
            )),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Closes the connection to every host of the session (at the end of `pk down`): what the
/// watcher's stream opened again meanwhile goes too.
pub(crate) fn close_all(state_dir: &Path, state: &State) {
    for record in &state.hosts {
        Remote::of(state_dir, state, record, false).ssh().close();
    }
}

/// What `pk check` says of each host: what it has, or why it cannot be used (ssh does not
/// reach it, pk is missing there, or what the host lacks: git, tmux, the clone, a base commit).
pub(crate) fn check(
    ws: &Workspace,
    verbose: bool,
) -> Vec<(String, std::result::Result<HostCheck, Error>)> {
    let plan = &ws.plan;
    let state = State::new(&plan.session.name, &plan.path, &plan.repo_root, None);
    plan.hosts
        .iter()
        .map(|host| {
            let record = HostRecord {
                host: host.clone(),
                ssh_command: None,
            };
            let remote = Remote::of(&ws.state_dir, &state, &record, verbose);
            let mut op = vec!["check".to_string()];
            for t in plan
                .tracks
                .iter()
                .filter(|t| t.host.as_ref() == Some(&host.name))
            {
                if let Some(commit) = ws.git.commit_id(&t.base) {
                    op.extend(["--commit".to_string(), commit]);
                }
            }
            let op: Vec<&str> = op.iter().map(String::as_str).collect();
            let said = remote.run(&op, None).and_then(|out| {
                serde_json::from_slice(&out.stdout).map_err(|e| {
                    Error::failure(format!(
                        "host `{}` answered `pk check` with something pk cannot read",
                        host.name
                    ))
                    .wrap_cause(e.to_string())
                })
            });
            (host.name.clone(), said)
        })
        .collect()
}

/// What a remote track's pane runs (`pk agent-run` of a track on a host): the host's agent,
/// attached over ssh, again and again while the connection drops, saying so. Returns when
/// the host's session ends (or the user detaches).
pub(crate) fn attach(state_dir: &Path, state: &State, rec: &TrackRecord) -> Result<u8> {
    let remote = Remote::of_track(state_dir, state, rec, false)?;
    let host = remote.host.name.clone();
    let mut lost_since: Option<std::time::Instant> = None;
    loop {
        let down_for = lost_since.map(|t| t.elapsed().as_secs().to_string());
        let mut op = vec!["attach", &rec.name];
        if let Some(secs) = &down_for {
            op.extend(["--after-drop", secs]);
        }
        let argv = remote.argv(&op);
        let started = std::time::Instant::now();
        let status = remote
            .ssh()
            .interactive(&argv)
            .status()
            .map_err(|e| Error::failure("failed to run ssh").wrap_cause(e.to_string()))?;
        if started.elapsed() > RECONNECT_AFTER * 3 {
            // It was up a while: a new drop counts from now.
            lost_since = None;
        }
        match status.code() {
            Some(0) => return Ok(0),
            Some(ssh::UNREACHABLE) | None => {
                let since = *lost_since.get_or_insert_with(std::time::Instant::now);
                println!(
                    "\r\npk: the connection to host `{host}` ({}) is down ({} s); the agent runs on there; reconnecting…",
                    remote.ssh().dest(),
                    since.elapsed().as_secs()
                );
                // After the watcher's stream, which then makes the one connection to share.
                std::thread::sleep(RECONNECT_AFTER);
            }
            Some(code) => {
                println!(
                    "\r\npk: showing track `{}` on host `{host}` failed (exit {code}); trying again…",
                    rec.name
                );
                std::thread::sleep(std::time::Duration::from_secs(2));
            }
        }
    }
}

/// `pk exec` or `pk diff` (`op`) of the remote track `rec` on its host, on this terminal:
/// returns the exit status of what ran there.
pub(crate) fn passthrough(
    ctx: &Ctx,
    state_dir: &Path,
    state: &State,
    rec: &TrackRecord,
    op: &[&str],
    tail: &[String],
) -> Result<u8> {
    use std::io::IsTerminal;
    let remote = Remote::of_track(state_dir, state, rec, ctx.verbose)?;
    let host = remote.host.name.clone();
    let mut argv = remote.argv(op);
    argv.push("--".into());
    argv.extend(tail.iter().cloned());
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let status = remote
        .ssh()
        .passthrough(&argv, tty)
        .status()
        .map_err(|e| Error::failure("failed to run ssh").wrap_cause(e.to_string()))?;
    match status.code() {
        Some(ssh::UNREACHABLE) => Err(Error::failure(format!(
            "cannot reach host `{host}` (ssh {})",
            remote.ssh().dest()
        ))
        .hint("`pk check` says what is missing")),
        _ => Ok(crate::sys::procs::exit_code(status)),
    }
}

/// Copies this pk to `host` (`pk host install`): when the host runs the same system and
/// machine (`uname -sm`), to `~/.local/bin/pk` there; else says what to install. Returns what
/// it did.
pub(crate) fn install(ssh: &Ssh, host: &str) -> Result<String> {
    let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let uname = ssh.raw_output(&argv(&["uname", "-sm"]), None)?;
    if !uname.status.success() {
        return Err(unreachable(ssh, host, &uname));
    }
    let theirs = String::from_utf8_lossy(&uname.stdout).trim().to_string();
    let ours = format!("{} {}", uname_system(), std::env::consts::ARCH);
    if !theirs.eq_ignore_ascii_case(&ours) {
        return Err(Error::failure(format!(
            "host `{host}` runs {theirs}, this pk is built for {ours}"
        ))
        .hint("build or download pk for that system and put it on the host's PATH (or in ~/.local/bin)"));
    }
    let exe = std::env::current_exe().map_err(|e| {
        Error::failure("failed to find the pk executable").wrap_cause(e.to_string())
    })?;
    let bytes = std::fs::read(&exe).map_err(|e| {
        Error::failure(format!("failed to read {}", exe.display())).wrap_cause(e.to_string())
    })?;
    // A constant script: no value of pk's is in it. Written aside, then renamed, so a pk
    // that runs there is never half written.
    let script = r#"set -e; mkdir -p "$HOME/.local/bin"; cat > "$HOME/.local/bin/.pk.new"; chmod 755 "$HOME/.local/bin/.pk.new"; mv -f "$HOME/.local/bin/.pk.new" "$HOME/.local/bin/pk"; "$HOME/.local/bin/pk" --version"#;
    let out = ssh.raw_output(&argv(&["sh", "-c", script]), Some(&bytes))?;
    if !out.status.success() {
        return Err(unreachable(ssh, host, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn unreachable(ssh: &Ssh, host: &str, out: &Output) -> Error {
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Error::failure(format!(
        "on host `{host}` (ssh {}): the command failed",
        ssh.dest()
    ))
    .wrap_cause(if said.is_empty() {
        format!("exit status {}", out.status)
    } else {
        said
    })
}

/// `uname -s` of this system.
fn uname_system() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "freebsd" => "FreeBSD",
        other => other,
    }
}
