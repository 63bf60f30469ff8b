//! Where each track's transcript and hook events are (design §6).
//!
//! `pk up` decides it once per track and records it in the state ([`Source`]), so the watcher,
//! `pk status` and the agent pane agree without re-deriving it. Some transcripts exist only
//! once the agent runs (interactive Claude writes `<session-id>.jsonl` when the session starts,
//! and a new one after `/clear`; Codex names its rollout after the time and the thread), so a
//! source can also be a rule for finding the file, applied again whenever the watcher looks.
//!
//! Everything pk writes itself lives under the session's state folder, in `tracks/<track>/`,
//! never in the user's worktree: the hook event file, the raw stream of a headless agent and
//! the Claude settings that install the hooks.

use crate::plan::{Agent, AgentPreset, Track};
use pk_status::Format;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The hook events of a track (`claude-hooks`: one hook payload per line).
pub(crate) const EVENTS_FILE: &str = "events.ndjson";
/// The raw stream of a headless agent, kept by `pk agent-run`.
pub(crate) const TRANSCRIPT_FILE: &str = "transcript.ndjson";
/// The Claude Code settings that install pk's hooks (`claude --settings <file>`).
pub(crate) const CLAUDE_SETTINGS_FILE: &str = "claude-settings.json";

/// Claude keeps at most this many characters of a project folder name, then appends a hash of
/// its own that pk cannot recompute (notes/formats.md §2.1): longer names match by prefix.
const CLAUDE_NAME_MAX: usize = 200;

/// The folder of one track's files: `<state dir>/tracks/<track>/`.
pub(crate) fn track_dir(state_dir: &Path, track: &str) -> PathBuf {
    state_dir.join("tracks").join(track)
}

/// The hook event file of a track.
pub(crate) fn events_path(state_dir: &Path, track: &str) -> PathBuf {
    track_dir(state_dir, track).join(EVENTS_FILE)
}

/// Where a track's transcript is, or how to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Source {
    /// A file at a known path: the stream pk keeps for a headless agent, or the plan's
    /// `transcript` of a custom command.
    File {
        /// Absolute path.
        path: PathBuf,
        /// How to read it.
        format: Format,
    },
    /// Interactive Claude: the newest `*.jsonl` in the worktree's project folder, unless the
    /// hook events name the session file (they follow `/clear`).
    ClaudeProject {
        /// `~/.claude/projects/<worktree with every non-alphanumeric character as '-'>`.
        dir: PathBuf,
    },
    /// Interactive Codex (best effort): the newest rollout of the last two days whose
    /// `session_meta` was written in the worktree.
    CodexRollouts {
        /// `~/.codex/sessions`.
        root: PathBuf,
        /// The worktree, canonical.
        cwd: PathBuf,
    },
}

impl Source {
    /// How the transcript is read.
    pub(crate) fn format(&self) -> Format {
        match self {
            Source::File { format, .. } => *format,
            Source::ClaudeProject { .. } => Format::ClaudeSession,
            Source::CodexRollouts { .. } => Format::CodexRollout,
        }
    }

    /// The transcript's path when it is known in advance (`PK_TRANSCRIPT`).
    pub(crate) fn fixed_path(&self) -> Option<&Path> {
        match self {
            Source::File { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// The transcript source of a track. `env` reads the environment pk runs in (`HOME`,
/// `CLAUDE_CONFIG_DIR`, `CODEX_HOME`), which the agents inherit.
pub(crate) fn source_for(
    track: &Track,
    track_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Source> {
    if let Some(t) = &track.transcript {
        return Some(Source::File {
            path: track.worktree.join(&t.path),
            format: Format::from_name(&t.format).unwrap_or(Format::Lines),
        });
    }
    let preset = match &track.agent {
        Agent::Command(_) => return None,
        Agent::Preset(p) => *p,
    };
    if let Some(format) = tee_format(preset) {
        return Some(Source::File {
            path: track_dir.join(TRANSCRIPT_FILE),
            format,
        });
    }
    let cwd = lenient_canonical(&track.worktree);
    match preset {
        AgentPreset::Claude => Some(Source::ClaudeProject {
            dir: claude_root(env)?
                .join("projects")
                .join(claude_project_name(&cwd)),
        }),
        AgentPreset::Codex => Some(Source::CodexRollouts {
            root: codex_root(env)?.join("sessions"),
            cwd,
        }),
        _ => None,
    }
}

/// The format of a preset whose standard output pk keeps as the transcript (headless agents
/// print their event stream; pk tees it to a file and shows it readably).
pub(crate) fn tee_format(preset: AgentPreset) -> Option<Format> {
    match preset {
        AgentPreset::ClaudeHeadless => Some(Format::ClaudeStream),
        AgentPreset::CodexExec => Some(Format::CodexExec),
        AgentPreset::Gemini => Some(Format::GeminiStream),
        _ => None,
    }
}

/// Claude's configuration folder: the first of `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub(crate) fn claude_root(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dirs) = env("CLAUDE_CONFIG_DIR")
        && let Some(first) = dirs.split(',').map(str::trim).find(|d| !d.is_empty())
    {
        return Some(PathBuf::from(first));
    }
    home(env).map(|h| h.join(".claude"))
}

/// Codex's folder: `$CODEX_HOME`, else `~/.codex`.
pub(crate) fn codex_root(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    match env("CODEX_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => home(env).map(|h| h.join(".codex")),
    }
}

fn home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// The name of Claude's project folder for a working folder: every character that is not an
/// ASCII letter or digit becomes `-` (one per UTF-16 unit, as Claude's JavaScript does), cut to
/// [`CLAUDE_NAME_MAX`] characters (Claude then adds a hash; see [`resolve_claude_dir`]).
pub(crate) fn claude_project_name(cwd: &Path) -> String {
    let mut name = String::new();
    for c in cwd.to_string_lossy().chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else {
            name.extend(std::iter::repeat_n('-', c.len_utf16()));
        }
    }
    name.truncate(CLAUDE_NAME_MAX);
    name
}

/// The real folder of a [`Source::ClaudeProject`]: `dir` itself, or for a name cut at
/// [`CLAUDE_NAME_MAX`] characters the folder that starts with it.
pub(crate) fn resolve_claude_dir(dir: &Path) -> Option<PathBuf> {
    if dir.is_dir() {
        return Some(dir.to_path_buf());
    }
    let name = dir.file_name()?.to_string_lossy().into_owned();
    if name.len() < CLAUDE_NAME_MAX {
        return None;
    }
    let prefix = format!("{name}-");
    std::fs::read_dir(dir.parent()?)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
}

/// `path` with symbolic links resolved, also when its last parts do not exist yet (a worktree
/// `pk up` is about to make): the longest existing prefix is resolved, the rest appended.
/// Claude names its project folder after the resolved path.
pub(crate) fn lenient_canonical(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut head = path.to_path_buf();
    loop {
        if let Ok(real) = std::fs::canonicalize(&head) {
            return rest.iter().rev().fold(real, |p, c| p.join(c));
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                head = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The newest `*.jsonl` file directly in `dir` (by modification time) that was written at or
/// after `not_before`.
pub(crate) fn newest_jsonl(dir: &Path, not_before: Option<SystemTime>) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            let mtime = meta.modified().ok()?;
            (not_before.is_none_or(|nb| mtime >= nb)).then(|| (mtime, e.path()))
        })
        .max()
        .map(|(_, p)| p)
}

/// The day folders Codex writes rollouts into on the days of `now_ms` and the day before:
/// `<root>/YYYY/MM/DD`.
pub(crate) fn codex_day_dirs(root: &Path, now_ms: i64) -> Vec<PathBuf> {
    [now_ms, now_ms - 86_400_000]
        .into_iter()
        .map(|ms| {
            let date = pk_status::Timestamp(ms).to_rfc3339();
            root.join(&date[0..4]).join(&date[5..7]).join(&date[8..10])
        })
        .collect()
}

/// Finds the newest Codex rollout of `cwd` in the day folders. Whether a file belongs to `cwd`
/// is read once from its first line and remembered in `seen`.
pub(crate) fn codex_rollout(
    root: &Path,
    cwd: &Path,
    now_ms: i64,
    not_before: Option<SystemTime>,
    seen: &mut HashMap<PathBuf, bool>,
) -> Option<PathBuf> {
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for day in codex_day_dirs(root, now_ms) {
        let Ok(entries) = std::fs::read_dir(&day) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("rollout-") || !name.ends_with(".jsonl") {
                continue;
            }
            let Some(mtime) = entry.metadata().ok().and_then(|m| m.modified().ok()) else {
                continue;
            };
            if not_before.is_some_and(|nb| mtime < nb) {
                continue;
            }
            // Codex creates the file before its long first line is all written: a file is
            // judged (and remembered) only once that line is whole.
            let ours = match seen.get(&path) {
                Some(ours) => *ours,
                None => match rollout_cwd(&path) {
                    Some(c) => {
                        let ours = c.is_some_and(|c| same_path(&c, cwd));
                        seen.insert(path.clone(), ours);
                        ours
                    }
                    None => false,
                },
            };
            if ours && best.as_ref().is_none_or(|(t, _)| mtime > *t) {
                best = Some((mtime, path));
            }
        }
    }
    best.map(|(_, p)| p)
}

/// The `cwd` of a rollout's first record (`session_meta`): `None` while that line is not whole
/// yet (the file is being written), `Some(None)` when it names none. The line can hold long
/// instructions: at most 1 MiB is read.
fn rollout_cwd(path: &Path) -> Option<Option<PathBuf>> {
    const MAX: u64 = 1 << 20;
    let mut head = Vec::new();
    let Ok(file) = std::fs::File::open(path) else {
        return Some(None);
    };
    if file.take(MAX).read_to_end(&mut head).is_err() {
        return Some(None);
    }
    let line = match head.iter().position(|b| *b == b'\n') {
        Some(end) => &head[..end],
        None if head.len() as u64 >= MAX => return Some(None),
        None => return None,
    };
    let cwd = serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| Some(PathBuf::from(v.get("payload")?.get("cwd")?.as_str()?)));
    Some(cwd)
}

/// True when the Codex rollout at `path` was written in `cwd` (its first record says so).
pub(crate) fn rollout_is_of(path: &Path, cwd: &Path) -> bool {
    matches!(rollout_cwd(path), Some(Some(c)) if same_path(&c, cwd))
}

fn same_path(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components()) || lenient_canonical(a) == lenient_canonical(b)
}

/// The closest folder at or above `path` that exists: what to watch for a folder that does not
/// exist yet (its creation shows up there).
pub(crate) fn nearest_existing(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|p| p.is_dir()).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Transcript;
    use std::time::Duration;

    fn track(agent: Agent) -> Track {
        Track {
            name: "api".into(),
            branch: "pk/api".into(),
            worktree: PathBuf::from("/nonexistent-pk/shop.pk/api"),
            base: "main".into(),
            agent,
            prompt: None,
            port_names: vec![],
            env: vec![],
            copy: vec![],
            setup: vec![],
            owns: vec![],
            done_when: None,
            depends_on: vec![],
            transcript: None,
            budget_usd: None,
            host: None,
        }
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn claude_project_names_replace_every_other_character() {
        let name = |p: &str| claude_project_name(Path::new(p));
        assert_eq!(name("/home/dev/src/ledger-svc"), "-home-dev-src-ledger-svc");
        assert_eq!(name("/Users/a/my.app"), "-Users-a-my-app");
        assert_eq!(name("/w/a_b c"), "-w-a-b-c");
        // One dash per UTF-16 unit: `é` is one, an emoji two.
        assert_eq!(name("/w/é🦀"), "-w----");
        let long = format!("/{}", "x".repeat(300));
        assert_eq!(name(&long).len(), 200);
    }

    #[test]
    fn long_project_names_match_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let cut = "a".repeat(200);
        std::fs::create_dir(dir.path().join(format!("{cut}-k3x9"))).unwrap();
        assert_eq!(
            resolve_claude_dir(&dir.path().join(&cut)),
            Some(dir.path().join(format!("{cut}-k3x9")))
        );
        assert_eq!(resolve_claude_dir(&dir.path().join("short")), None);
        std::fs::create_dir(dir.path().join("short")).unwrap();
        assert_eq!(
            resolve_claude_dir(&dir.path().join("short")),
            Some(dir.path().join("short"))
        );
    }

    #[test]
    fn each_agent_has_its_source() {
        let td = Path::new("/r/.git/pk/shop/tracks/api");
        let e = env(&[("HOME", "/h"), ("CODEX_HOME", "/c")]);
        let src = |a| source_for(&track(a), td, &e);
        assert_eq!(
            src(Agent::Preset(AgentPreset::Claude)),
            Some(Source::ClaudeProject {
                dir: "/h/.claude/projects/-nonexistent-pk-shop-pk-api".into()
            })
        );
        assert_eq!(
            src(Agent::Preset(AgentPreset::ClaudeHeadless)),
            Some(Source::File {
                path: td.join("transcript.ndjson"),
                format: Format::ClaudeStream
            })
        );
        assert_eq!(
            src(Agent::Preset(AgentPreset::Gemini)).map(|s| s.format()),
            Some(Format::GeminiStream)
        );
        assert_eq!(
            src(Agent::Preset(AgentPreset::CodexExec)).map(|s| s.format()),
            Some(Format::CodexExec)
        );
        assert_eq!(
            src(Agent::Preset(AgentPreset::Codex)),
            Some(Source::CodexRollouts {
                root: "/c/sessions".into(),
                cwd: "/nonexistent-pk/shop.pk/api".into()
            })
        );
        assert_eq!(src(Agent::Preset(AgentPreset::Shell)), None);
        assert_eq!(src(Agent::Command(vec!["x".into()])), None);
        let mut custom = track(Agent::Command(vec!["x".into()]));
        custom.transcript = Some(Transcript {
            path: "logs/run.jsonl".into(),
            format: "codex-exec".into(),
        });
        let s = source_for(&custom, td, &e).unwrap();
        assert_eq!(
            s.fixed_path(),
            Some(Path::new("/nonexistent-pk/shop.pk/api/logs/run.jsonl"))
        );
        assert_eq!(s.format(), Format::CodexExec);
        // CLAUDE_CONFIG_DIR wins over HOME; no home, no interactive source.
        let e = env(&[("HOME", "/h"), ("CLAUDE_CONFIG_DIR", " /cfg , /other")]);
        let Some(Source::ClaudeProject { dir }) =
            source_for(&track(Agent::Preset(AgentPreset::Claude)), td, &e)
        else {
            panic!()
        };
        assert!(dir.starts_with("/cfg/projects"), "{dir:?}");
        let e = env(&[]);
        assert_eq!(
            source_for(&track(Agent::Preset(AgentPreset::Claude)), td, &e),
            None
        );
    }

    #[test]
    fn sources_round_trip_through_json() {
        let s = Source::File {
            path: "/t.ndjson".into(),
            format: Format::ClaudeStream,
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"file","path":"/t.ndjson","format":"claude-stream"}"#
        );
        assert_eq!(serde_json::from_str::<Source>(&text).unwrap(), s);
    }

    #[test]
    fn canonical_paths_of_folders_not_made_yet() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::os::unix::fs::symlink(&real, real.join("link")).unwrap();
        assert_eq!(
            lenient_canonical(&real.join("link/shop.pk/api")),
            real.join("shop.pk/api")
        );
        assert_eq!(nearest_existing(&real.join("a/b")), Some(real.clone()));
    }

    #[test]
    fn newest_session_file_written_since_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.jsonl");
        std::fs::write(&old, "{}\n").unwrap();
        let t0 = std::fs::metadata(&old).unwrap().modified().unwrap();
        let f = std::fs::File::options().write(true).open(&old).unwrap();
        f.set_modified(t0 - Duration::from_secs(60)).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(newest_jsonl(dir.path(), None), Some(old.clone()));
        assert_eq!(newest_jsonl(dir.path(), Some(t0)), None);
        let new = dir.path().join("new.jsonl");
        std::fs::write(&new, "{}\n").unwrap();
        assert_eq!(newest_jsonl(dir.path(), Some(t0)), Some(new));
    }

    #[test]
    fn codex_rollouts_are_matched_by_their_cwd() {
        let root = tempfile::tempdir().unwrap();
        let now = 1_772_442_845_102; // 2026-03-02
        let day = root.path().join("2026/03/02");
        std::fs::create_dir_all(&day).unwrap();
        let meta = |cwd: &str| {
            format!(
                r#"{{"timestamp":"2026-03-02T09:00:00Z","type":"session_meta","payload":{{"id":"x","cwd":"{cwd}"}}}}"#
            ) + "\n"
        };
        std::fs::write(day.join("rollout-a.jsonl"), meta("/w/other")).unwrap();
        std::fs::write(day.join("rollout-b.jsonl"), meta("/w/api")).unwrap();
        std::fs::write(day.join("notes.jsonl"), meta("/w/api")).unwrap();
        let mut seen = HashMap::new();
        let found = codex_rollout(root.path(), Path::new("/w/api"), now, None, &mut seen);
        assert_eq!(found, Some(day.join("rollout-b.jsonl")));
        assert_eq!(seen.len(), 2);
        assert_eq!(
            codex_day_dirs(root.path(), now)[1],
            root.path().join("2026/03/01")
        );
    }

    /// Codex 0.169 creates the rollout and writes its long `session_meta` line after: a file
    /// seen half written is looked at again, not taken as someone else's for good.
    #[test]
    fn a_rollout_seen_while_its_first_line_is_written_is_looked_at_again() {
        let root = tempfile::tempdir().unwrap();
        let now = 1_772_442_845_102; // 2026-03-02
        let day = root.path().join("2026/03/02");
        std::fs::create_dir_all(&day).unwrap();
        let path = day.join("rollout-c.jsonl");
        let line = r#"{"type":"session_meta","payload":{"id":"x","cwd":"/w/api","base_instructions":{"text":"You are"#;
        std::fs::write(&path, line).unwrap();
        let mut seen = HashMap::new();
        let cwd = Path::new("/w/api");
        assert_eq!(codex_rollout(root.path(), cwd, now, None, &mut seen), None);
        std::fs::write(&path, format!("{line} Codex.\"}}}}}}\n")).unwrap();
        assert_eq!(
            codex_rollout(root.path(), cwd, now, None, &mut seen),
            Some(path)
        );
    }
}
