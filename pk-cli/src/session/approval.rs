//! Approval of shared plans: a plan is committed and shared with the team, and the commands it
//! names run on the machine of whoever types `pk up`. Like `direnv allow` and `mise trust`, pk
//! runs them only once the user approved them, and asks again whenever they change.
//!
//! What needs approval ([`Commands`]) is everything in the plan that decides which code runs:
//! - each track's `setup` shell strings, and its `done_when` (the watcher runs it);
//! - each track's agent: a preset by name (pk builds its argv) or the explicit `command` argv;
//! - `[session] editor`, when the plan sets it (it runs through `sh -c`);
//! - `[env]` and each track's `env`, as written: a value such as `PATH`, `LD_PRELOAD`,
//!   `BASH_ENV` or `NODE_OPTIONS` changes what the approved commands run.
//!
//! Not part of it: prompts (instructions to the agent, which change all the time and run nothing
//! by themselves), ports, branches, folders, `copy`, `owns`, `depends_on`, `transcript`. A plan
//! whose tracks all run the `shell` preset with no `setup`, `env` or `editor` runs nothing of its
//! author's and needs no approval.
//!
//! The approval is kept outside the repository, in `$XDG_STATE_HOME/pk/approvals.json`
//! (default `~/.local/state/pk/approvals.json`): per canonical plan path, the SHA-256 of a
//! canonical serialisation of its [`Commands`], when it was approved, and the commands
//! themselves, so that a changed plan can show what changed. It is written atomically under a
//! lock; reading it never changes anything (`pk check`). A damaged file approves nothing.

use crate::error::{Context, Error, Result};
use crate::output::{Output, Style};
use crate::plan::{Agent, AgentPreset, Plan};
use pk_status::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The file of approvals, under [`crate::session::ports::registry_dir`].
pub(crate) const FILE: &str = "approvals.json";

/// Version of the approvals file and of the hashed serialisation.
const VERSION: u32 = 1;

/// What a plan would run, in a canonical form: the thing that is hashed and approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Commands {
    /// `[session] editor`, when the plan sets it.
    pub editor: Option<String>,
    /// `[env]`, templates as written, in file order.
    pub env: Vec<(String, String)>,
    /// One entry per track, sorted by name (reordering tracks changes nothing that runs).
    pub tracks: Vec<TrackCommands>,
    /// The hosts tracks run on, as `name ssh-destination repo`: where pk sends the plan's
    /// commands and prompts with your ssh keys. Left out while empty, so approvals of plans
    /// without hosts still hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// What one track runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TrackCommands {
    /// The track's name.
    pub name: String,
    /// `setup` shell strings, in order.
    pub setup: Vec<String>,
    /// The agent.
    pub agent: AgentCommand,
    /// The track's `env`, templates as written, in file order.
    pub env: Vec<(String, String)>,
    /// For a preset, the revision of what pk runs for it ([`preset_revision`]); left out of
    /// the serialisation while 0, so approvals made before revisions existed still hold.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub preset_revision: u32,
    /// `done_when`, a shell string; left out of the serialisation when there is none, so
    /// approvals of plans without it still hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_when: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The revision of what pk runs for the preset `name`, raised whenever pk changes it (a flag,
/// an environment variable), so that an approval of what it ran before does not cover it:
/// - `gemini` 1: `--skip-trust` (trusts the worktree for the run).
pub(crate) fn preset_revision(name: &str) -> u32 {
    match name {
        "gemini" => 1,
        _ => 0,
    }
}

/// A track's agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AgentCommand {
    /// A preset, by its plan name: pk builds the argv.
    Preset(String),
    /// An explicit argv.
    Command(Vec<String>),
}

impl Commands {
    /// The commands of `plan`.
    pub(crate) fn of(plan: &Plan) -> Commands {
        let mut tracks: Vec<TrackCommands> = plan
            .tracks
            .iter()
            .map(|t| TrackCommands {
                name: t.name.clone(),
                setup: t.setup.clone(),
                agent: match &t.agent {
                    Agent::Preset(p) => AgentCommand::Preset(p.name().to_string()),
                    Agent::Command(argv) => AgentCommand::Command(argv.clone()),
                },
                env: t.env.clone(),
                preset_revision: match &t.agent {
                    Agent::Preset(p) => preset_revision(p.name()),
                    Agent::Command(_) => 0,
                },
                done_when: t.done_when.clone(),
            })
            .collect();
        tracks.sort_by(|a, b| a.name.cmp(&b.name));
        Commands {
            editor: plan
                .session
                .editor_in_plan
                .then(|| plan.session.editor.clone()),
            env: plan.env.clone(),
            tracks,
            hosts: plan
                .hosts
                .iter()
                .filter(|h| plan.tracks.iter().any(|t| t.host.as_ref() == Some(&h.name)))
                .map(|h| format!("{}: ssh {}, clone {}", h.name, h.ssh, h.repo))
                .collect(),
        }
    }

    /// True when the plan runs nothing its author chose: no editor, no env, no setup, and only
    /// the user's own shell as agent.
    pub(crate) fn is_empty(&self) -> bool {
        self.editor.is_none()
            && self.hosts.is_empty()
            && self.env.is_empty()
            && self.tracks.iter().all(|t| {
                t.setup.is_empty()
                    && t.done_when.is_none()
                    && t.env.is_empty()
                    && t.agent == AgentCommand::Preset(AgentPreset::Shell.name().to_string())
            })
    }

    /// SHA-256 (hex) of the canonical serialisation: a version tag, then the JSON of `self`
    /// (fields in declaration order, lists in order, no whitespace).
    pub(crate) fn hash(&self) -> String {
        let json = serde_json::to_string(self).expect("plain data always serialises");
        let mut hasher = Sha256::new();
        hasher.update(format!("pk-approval-v{VERSION}\n").as_bytes());
        hasher.update(json.as_bytes());
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The commands as lines for people, grouped by section, in order.
    pub(crate) fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        let mut push = |section: &str, label: &'static str, text: String| {
            lines.push(Line {
                section: section.to_string(),
                label,
                text,
            });
        };
        if let Some(editor) = &self.editor {
            push("[session]", "editor", editor.clone());
        }
        for (k, v) in &self.env {
            push("[env]", "env", format!("{k}={v}"));
        }
        for h in &self.hosts {
            push("[hosts]", "host", h.clone());
        }
        for t in &self.tracks {
            let section = format!("track {}", t.name);
            for cmd in &t.setup {
                push(&section, "setup", cmd.clone());
            }
            let agent = match &t.agent {
                // Approved when pk ran this preset otherwise: that command is not known here.
                AgentCommand::Preset(name) if t.preset_revision != preset_revision(name) => {
                    format!("preset {name}, as an earlier pk ran it")
                }
                agent => agent_text(agent),
            };
            push(&section, "agent", agent);
            if let Some(check) = &t.done_when {
                push(&section, "check", check.clone());
            }
            for (k, v) in &t.env {
                push(&section, "env", format!("{k}={v}"));
            }
        }
        lines
    }
}

/// How an agent is shown: a preset with the argv pk builds for it, or the explicit argv.
fn agent_text(agent: &AgentCommand) -> String {
    const PROMPT: &str = "<prompt>";
    const SHELL: &str = "$SHELL";
    match agent {
        AgentCommand::Command(argv) => argv
            .iter()
            .map(|a| crate::sys::shell::quote(a))
            .collect::<Vec<_>>()
            .join(" "),
        AgentCommand::Preset(name) => {
            let Some(preset) = AgentPreset::from_name(name) else {
                return format!("preset {name}");
            };
            let argv = crate::session::agent::preset_argv(
                preset,
                Some(PROMPT.into()),
                SHELL,
                crate::session::agent::StatusHooks::default(),
            )
            .iter()
            .map(|a| {
                if a == PROMPT || a == SHELL {
                    a.clone()
                } else {
                    crate::sys::shell::quote(a)
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
            format!("{argv}   (preset {name})")
        }
    }
}

/// One line of [`Commands::lines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// `[session]`, `[env]` or `track NAME`.
    pub section: String,
    /// `editor`, `env`, `setup`, `agent` or `check` (`done_when`).
    pub label: &'static str,
    /// The command or `KEY=value`, as written.
    pub text: String,
}

/// Shows `commands` for people, one section at a time. With `before` (the commands approved
/// last time), lines that are new are marked `+` and lines that are gone are shown marked `-`.
/// Control characters and invisible formatting characters are shown escaped, so that a plan
/// cannot hide a command from the person approving it.
pub(crate) fn render(commands: &Commands, before: Option<&Commands>, out: &Output) -> String {
    let now = commands.lines();
    let old = before.map(Commands::lines).unwrap_or_default();
    let mut sections: Vec<&str> = Vec::new();
    for l in now.iter().chain(&old) {
        if !sections.contains(&l.section.as_str()) {
            sections.push(&l.section);
        }
    }
    let mut text = String::new();
    for section in sections {
        text.push_str(&format!("  {}\n", out.paint(Style::Bold, section)));
        let mut rows: Vec<(&str, &Line)> = now
            .iter()
            .filter(|l| l.section == section)
            .map(|l| {
                let new = before.is_some() && !old.contains(l);
                (if new { "+" } else { " " }, l)
            })
            .collect();
        // A line that is gone goes after the last line before it that is still there.
        let mut at = 0;
        for l in old.iter().filter(|l| l.section == section) {
            match rows.iter().position(|(m, r)| *m != "-" && *r == l) {
                Some(pos) => at = pos + 1,
                None => {
                    rows.insert(at, ("-", l));
                    at += 1;
                }
            }
        }
        for (marker, line) in rows {
            let style = match marker {
                "+" => Some(Style::Green),
                "-" => Some(Style::Red),
                _ => None,
            };
            let mut body = String::new();
            for (n, part) in visible(&line.text).split('\n').enumerate() {
                if n == 0 {
                    body.push_str(&format!("{:<6} {part}", line.label));
                } else {
                    body.push_str(&format!("\n      {:<6} {part}", ""));
                }
            }
            let row = format!("{marker} {body}");
            let row = match style {
                Some(style) => out.paint(style, &row),
                None => row,
            };
            text.push_str(&format!("    {row}\n"));
        }
    }
    text
}

/// `s` with control characters (but newlines) and invisible formatting characters (bidi
/// overrides, zero-width spaces) escaped as `\u{…}`, `\t`, `\r`.
pub(crate) fn visible(s: &str) -> String {
    crate::util::text::visible(s, true)
}

/// One approval on record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// [`Commands::hash`] of what was approved.
    pub hash: String,
    /// When.
    pub approved_at: Timestamp,
    /// What was approved, to show what changed since.
    pub commands: Commands,
}

/// The approvals file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Store {
    version: u32,
    /// Canonical absolute plan path → its approval.
    plans: BTreeMap<String, Entry>,
}

/// Where a plan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// The plan runs nothing that needs approval.
    Nothing,
    /// Approved as it is now.
    Approved(Timestamp),
    /// Never approved on this machine.
    New,
    /// Approved once; the commands changed since.
    Changed(Entry),
}

/// The approvals file's path.
pub(crate) fn store_path() -> PathBuf {
    crate::util::fs::state_home().join(FILE)
}

/// The key of a plan: its canonical absolute path.
fn key(plan_path: &Path) -> String {
    crate::util::fs::canonical(plan_path)
        .to_string_lossy()
        .into_owned()
}

/// Reads the store; a missing, damaged or foreign file holds no approvals.
fn read_store(path: &Path) -> Store {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<Store>(&text).ok())
        .filter(|s| s.version == VERSION)
        .unwrap_or_default()
}

/// Where `plan` stands, without changing anything.
pub(crate) fn status(plan: &Plan, commands: &Commands) -> Status {
    if commands.is_empty() {
        return Status::Nothing;
    }
    let store = read_store(&store_path());
    match store.plans.get(&key(&plan.path)) {
        Some(entry) if entry.hash == commands.hash() => Status::Approved(entry.approved_at),
        Some(entry) => Status::Changed(entry.clone()),
        None => Status::New,
    }
}

/// Opens the store under its lock, lets `f` change it, writes it back atomically. Approvals of
/// plan files that no longer exist are dropped on the way.
fn with_store(f: impl FnOnce(&mut Store)) -> Result<()> {
    let read = |path: &Path| {
        let mut store = read_store(path);
        store.version = VERSION;
        store.plans.retain(|plan, _| Path::new(plan).exists());
        Ok(Some(store))
    };
    crate::util::store::update(&store_path(), "approvals.lock", read, |store| {
        f(store);
        Ok(())
    })
    .map(drop)
}

/// Records the user's approval of `commands` for the plan at `plan_path`.
pub(crate) fn approve(plan_path: &Path, commands: &Commands) -> Result<()> {
    let entry = Entry {
        hash: commands.hash(),
        approved_at: Timestamp(crate::util::clock::now_ms()),
        commands: commands.clone(),
    };
    let key = key(plan_path);
    with_store(|store| {
        store.plans.insert(key, entry);
    })
}

/// Forgets the approval of the plan at `plan_path`; false when there was none.
pub(crate) fn revoke(plan_path: &Path) -> Result<bool> {
    let key = key(plan_path);
    let mut had = false;
    with_store(|store| had = store.plans.remove(&key).is_some())?;
    Ok(had)
}

/// A date for people: `2026-03-02 09:14 UTC`.
pub(crate) fn when(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// What `status` says, as the header above the list of commands.
pub(crate) fn header(plan: &Plan, status: &Status) -> String {
    let path = plan.path.display();
    match status {
        Status::Changed(entry) => format!(
            "the commands of {path} changed since you approved them ({}); + new, - gone:",
            when(entry.approved_at)
        ),
        _ => format!("the plan {path} runs these commands on your machine:"),
    }
}

/// What `pk up` also does for a plan with interactive Claude tracks: it changes Claude Code's own
/// configuration ([`crate::session::claude_trust`]), so the person approving is told.
pub(crate) fn claude_trust_note(plan: &Plan) -> Option<String> {
    let claude = Agent::Preset(AgentPreset::Claude);
    plan.tracks.iter().any(|t| t.agent == claude).then(|| {
        format!(
            "and where you trust {} in Claude Code, pk marks each new worktree of a `claude` track trusted too (in ~/.claude.json)",
            plan.repo_root.display()
        )
    })
}

/// What `pk up` also does for a plan with `push = false` (the default): git in the tracks'
/// worktrees refuses to push ([`crate::session::push_guard`]), so the person approving is told.
pub(crate) fn push_note(plan: &Plan) -> Option<String> {
    (!plan.session.push).then(|| {
        "and in each track's worktree git refuses to push (`push = false` in [session]; the repository's config includes a file of pk's for each worktree until `pk down`)".to_string()
    })
}

/// `pk up`'s gate, before anything is created: returns when the plan's commands are approved
/// (or need no approval). Otherwise: with `yes`, shows and approves them; on a terminal, shows
/// them and asks; without a terminal, refuses (exit 3) naming the plan and how to approve.
pub(crate) fn ensure(out: &Output, plan: &Plan, yes: bool) -> Result<()> {
    let commands = Commands::of(plan);
    let status = status(plan, &commands);
    let before = match &status {
        Status::Nothing | Status::Approved(_) => return Ok(()),
        Status::New => None,
        Status::Changed(entry) => Some(&entry.commands),
    };
    let list = render(&commands, before, out);
    out.step(&format!("{}\n{list}", header(plan, &status)));
    if let Some(note) = claude_trust_note(plan) {
        out.step(&note);
    }
    if let Some(note) = push_note(plan) {
        out.step(&note);
    }
    if yes {
        approve(&plan.path, &commands)?;
        out.step("approved (--yes)");
        return Ok(());
    }
    let path = plan.path.display();
    if !std::io::stdin().is_terminal() {
        let what = match status {
            Status::Changed(_) => "changed since you approved them",
            _ => "are not approved yet",
        };
        return Err(Error::refused(format!(
            "the commands of {path} {what}, and there is no terminal to ask: nothing was created"
        ))
        .hint("read them above; to approve them and start, run `pk up` again with `--yes`")
        .hint(format!(
            "or approve them without starting: `pk approve {}`",
            crate::sys::shell::quote(&plan.path.to_string_lossy())
        )));
    }
    let _ = write!(std::io::stderr(), "Run these commands? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("failed to read the answer")?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        approve(&plan.path, &commands)?;
        return Ok(());
    }
    Err(Error::refused(format!(
        "the commands of {path} were not approved: nothing was created"
    ))
    .hint("change the plan, or answer `y` to run them"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands() -> Commands {
        Commands {
            editor: None,
            env: vec![("LOG".into(), "debug".into())],
            hosts: Vec::new(),
            tracks: vec![
                TrackCommands {
                    name: "api".into(),
                    setup: vec!["npm ci".into()],
                    agent: AgentCommand::Preset("claude".into()),
                    env: vec![("DB".into(), "postgres://localhost/{track}".into())],
                    preset_revision: 0,
                    done_when: None,
                },
                TrackCommands {
                    name: "web".into(),
                    setup: vec![],
                    agent: AgentCommand::Command(vec!["my-agent".into(), "--fast mode".into()]),
                    env: vec![],
                    preset_revision: 0,
                    done_when: None,
                },
            ],
        }
    }

    #[test]
    fn the_hash_is_stable() {
        let h = commands().hash();
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(h, commands().hash());
        // Pinned: the same commands must keep their approval across pk versions. Checked by hand
        // with Python: sha256(b"pk-approval-v1\n" + json.dumps(c, separators=(",", ":"))).
        assert_eq!(
            h, "e1ad74113ea4580b415069a26892e84ab683017092e0904a20f4c54528b95182",
            "the canonical serialisation changed: bump VERSION"
        );
    }

    #[test]
    fn any_command_change_changes_the_hash() {
        let base = commands().hash();
        let changes: Vec<fn(&mut Commands)> = vec![
            |c| c.editor = Some("nvim".into()),
            |c| c.env[0].1 = "trace".into(),
            |c| c.env.push(("PATH".into(), "./bin".into())),
            |c| c.tracks[0].setup[0] = "npm install".into(),
            |c| c.tracks[0].setup.push("make".into()),
            |c| c.tracks[0].agent = AgentCommand::Preset("claude-headless".into()),
            |c| c.tracks[0].env[0].1 = "sqlite://x".into(),
            |c| c.tracks[1].agent = AgentCommand::Command(vec!["my-agent".into()]),
            |c| c.tracks[1].name = "www".into(),
            |c| c.tracks.pop().map(drop).unwrap_or(()),
            |c| c.tracks[0].done_when = Some("cargo test".into()),
        ];
        for (i, change) in changes.into_iter().enumerate() {
            let mut c = commands();
            change(&mut c);
            assert_ne!(c.hash(), base, "change {i} kept the hash");
        }
        // Argument boundaries count: ["a b"] is not ["a", "b"].
        let mut a = commands();
        a.tracks[1].agent = AgentCommand::Command(vec!["x y".into()]);
        let mut b = commands();
        b.tracks[1].agent = AgentCommand::Command(vec!["x".into(), "y".into()]);
        assert_ne!(a.hash(), b.hash());
    }

    fn plan(text: &str) -> Plan {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
        };
        run(&["init", "-q", "-b", "main"]);
        run(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ]);
        let path = dir.path().join("parallel.toml");
        std::fs::write(&path, text).unwrap();
        let git = crate::sys::git::Git::discover(dir.path()).unwrap();
        let env = |k: &str| (k == "EDITOR").then(|| "emacs".to_string());
        crate::plan::load(&path, &git, &env).unwrap()
    }

    #[test]
    fn prompts_ports_and_track_order_do_not_change_the_hash() {
        let a = plan(
            "[ports]\nbase = 4100\n[[track]]\nname = \"api\"\nprompt = \"do x\"\nsetup = [\"npm ci\"]\n[[track]]\nname = \"web\"\nagent = \"codex\"\n",
        );
        let b = plan(
            "[ports]\nbase = 5200\nper_track = 20\n[[track]]\nname = \"web\"\nagent = \"codex\"\nprompt = \"do y\"\nports = [\"http\"]\n[[track]]\nname = \"api\"\nprompt = \"do something else entirely\"\nsetup = [\"npm ci\"]\n",
        );
        assert_eq!(Commands::of(&a).hash(), Commands::of(&b).hash());
        let c = plan(
            "[[track]]\nname = \"api\"\nsetup = [\"npm install\"]\n[[track]]\nname = \"web\"\nagent = \"codex\"\n",
        );
        assert_ne!(Commands::of(&a).hash(), Commands::of(&c).hash());
    }

    #[test]
    fn the_editor_counts_only_when_the_plan_sets_it() {
        let from_env = plan("[[track]]\nname = \"a\"\nagent = \"shell\"\n");
        let commands = Commands::of(&from_env);
        assert_eq!(commands.editor, None);
        assert!(commands.is_empty(), "a shell-only plan runs nothing");
        let set =
            plan("[session]\neditor = \"nvim\"\n[[track]]\nname = \"a\"\nagent = \"shell\"\n");
        assert_eq!(Commands::of(&set).editor.as_deref(), Some("nvim"));
        assert!(!Commands::of(&set).is_empty());
        let env = plan("[env]\nPATH = \"./bin\"\n[[track]]\nname = \"a\"\nagent = \"shell\"\n");
        assert!(!Commands::of(&env).is_empty(), "env can change what runs");
    }

    #[test]
    fn renders_sections_and_what_changed() {
        let out = Output::plain();
        let now = commands();
        let text = render(&now, None, &out);
        assert_eq!(
            text,
            "  [env]\n      env    LOG=debug\n  track api\n      setup  npm ci\n      agent  claude <prompt>   (preset claude)\n      env    DB=postgres://localhost/{track}\n  track web\n      agent  my-agent '--fast mode'\n"
        );
        let mut changed = commands();
        changed.tracks[0].setup = vec!["npm ci && curl x | sh".into()];
        let text = render(&changed, Some(&now), &out);
        assert!(
            text.contains("  track api\n    - setup  npm ci\n    + setup  npm ci && curl x | sh\n"),
            "{text}"
        );
        assert!(text.contains("      agent  claude <prompt>"), "{text}");
    }

    #[test]
    fn done_when_needs_approval_and_shows_as_check() {
        let none = plan("[[track]]\nname = \"a\"\nagent = \"shell\"\n");
        assert!(Commands::of(&none).is_empty());
        let with = plan("[[track]]\nname = \"a\"\nagent = \"shell\"\ndone_when = \"cargo test\"\n");
        let commands = Commands::of(&with);
        assert!(!commands.is_empty(), "done_when runs a command");
        let text = render(&commands, None, &Output::plain());
        assert!(text.contains("      check  cargo test\n"), "{text}");
        let other =
            plan("[[track]]\nname = \"a\"\nagent = \"shell\"\ndone_when = \"cargo test -q\"\n");
        assert_ne!(commands.hash(), Commands::of(&other).hash());
    }

    #[test]
    fn hidden_characters_are_shown() {
        assert_eq!(visible("a\u{1b}[2Kb\rc\td"), "a\\u{1b}[2Kb\\rc\\td");
        assert_eq!(visible("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(visible("one\ntwo é"), "one\ntwo é");
        let mut c = commands();
        c.tracks[0].setup = vec!["make\nmake test".into()];
        let text = render(&c, None, &Output::plain());
        assert!(
            text.contains("      setup  make\n             make test\n"),
            "{text}"
        );
    }

    #[test]
    fn a_preset_pk_runs_otherwise_asks_again() {
        let gemini = plan("[[track]]\nname = \"api\"\nagent = \"gemini\"\n");
        let now = Commands::of(&gemini);
        assert_eq!(now.tracks[0].preset_revision, 1);
        // What an approval before `--skip-trust` recorded: the same plan, revision 0.
        let mut before = now.clone();
        before.tracks[0].preset_revision = 0;
        let stored: Commands =
            serde_json::from_str(&serde_json::to_string(&before).unwrap()).unwrap();
        assert_eq!(stored, before);
        assert_ne!(now.hash(), before.hash());
        let text = render(&now, Some(&before), &Output::plain());
        assert!(
            text.contains("    - agent  preset gemini, as an earlier pk ran it\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "    + agent  gemini --skip-trust --output-format stream-json -p <prompt>   (preset gemini)\n"
            ),
            "{text}"
        );
        // Presets pk runs as before keep their approvals (the hash of `commands` is pinned).
        let claude = plan("[[track]]\nname = \"api\"\n");
        assert_eq!(Commands::of(&claude).tracks[0].preset_revision, 0);
    }
}
