//! The model a `codex exec` track runs, which its `--json` stream never names (so its tokens
//! could not be priced): as Codex 0.169 decides it, from the command line (`-m`/`--model`,
//! `-c model=…`), else the profile's (`-p`/`--profile NAME`: `CODEX_HOME/NAME.config.toml`, else
//! `[profiles.NAME]` of `config.toml`), else `config.toml`'s `model`. `CODEX_HOME` is the track's
//! own (`[env]`) when it sets one, else pk's, else `~/.codex`. When none of these names it
//! (Codex's own default), the rollout Codex writes for the thread does ([`model_in_rollout`]).

use std::io::BufRead;
use std::path::Path;

/// Bytes of a rollout read to find its first `turn_context` (after `session_meta`, which holds
/// Codex's whole instructions).
const ROLLOUT_HEAD: u64 = 4 << 20;

/// The model of `codex exec`'s thread `thread`, from its rollout in `sessions`
/// (`CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<thread>.jsonl`, of today or yesterday).
pub(crate) fn model_in_rollout(sessions: &Path, thread: &str, now_ms: i64) -> Option<String> {
    if thread.is_empty()
        || !thread
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return None;
    }
    let suffix = format!("-{thread}.jsonl");
    let path = crate::session::transcript::codex_day_dirs(sessions, now_ms)
        .into_iter()
        .filter_map(|day| std::fs::read_dir(day).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("rollout-") && n.ends_with(&suffix))
        })?;
    let file = std::fs::File::open(path).ok()?;
    let reader = std::io::BufReader::new(std::io::Read::take(file, ROLLOUT_HEAD));
    reader
        .split(b'\n')
        .map_while(|l| l.ok())
        .filter(|l| l.windows(14).any(|w| w == b"\"turn_context\""))
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_slice(&l).ok()?;
            if v["type"] != "turn_context" {
                return None;
            }
            let m = v["payload"]["model"].as_str()?.trim();
            (!m.is_empty()).then(|| m.to_string())
        })
}

/// The model of `argv` (a `codex exec …` command) for a track whose environment is read by
/// `env`; `None` when nothing names one (the cost is then unknown, never guessed).
pub(crate) fn codex_exec_model(
    argv: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let flags = Flags::of(argv);
    if let Some(model) = flags.model {
        return Some(model);
    }
    let home = crate::session::transcript::codex_root(env)?;
    let profile = flags.profile.or_else(|| {
        let config = read_table(&home.join("config.toml"))?;
        config.get("profile")?.as_str().map(str::to_string)
    });
    if let Some(name) = profile.filter(|p| is_name(p)) {
        let own = read_table(&home.join(format!("{name}.config.toml")));
        if let Some(m) = own.as_ref().and_then(model_of) {
            return Some(m);
        }
        let config = read_table(&home.join("config.toml"));
        let section = config
            .as_ref()
            .and_then(|c| c.get("profiles")?.get(&name)?.as_table());
        if let Some(m) = section.and_then(model_of) {
            return Some(m);
        }
    }
    read_table(&home.join("config.toml"))
        .as_ref()
        .and_then(model_of)
}

/// What the command line says.
#[derive(Debug, Default, PartialEq)]
struct Flags {
    model: Option<String>,
    profile: Option<String>,
}

impl Flags {
    fn of(argv: &[String]) -> Flags {
        let mut flags = Flags::default();
        let mut args = argv.iter().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--" {
                break; // the prompt follows
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            let mut value = |inline: Option<String>| inline.or_else(|| args.next().cloned());
            match name {
                "-m" | "--model" => flags.model = value(inline),
                "-p" | "--profile" => flags.profile = value(inline),
                "-c" | "--config" => {
                    if let Some(kv) = value(inline) {
                        flags.config(&kv);
                    }
                }
                // Short options with their value attached: `-mgpt-5`.
                s if s.len() > 2 && s.starts_with("-m") && !s.starts_with("--") => {
                    flags.model = Some(s[2..].to_string())
                }
                s if s.len() > 2 && s.starts_with("-p") && !s.starts_with("--") => {
                    flags.profile = Some(s[2..].to_string())
                }
                _ => {}
            }
        }
        flags
    }

    /// `-c key=value`, the value TOML (or a bare string, as Codex takes it when not TOML).
    fn config(&mut self, kv: &str) {
        let Some((key, raw)) = kv.split_once('=') else {
            return;
        };
        let value = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("v")?.as_str().map(str::to_string))
            .unwrap_or_else(|| raw.trim().to_string());
        match key.trim() {
            "model" => self.model = Some(value),
            "profile" => self.profile = Some(value),
            _ => {}
        }
    }
}

/// A profile name that is safe in a file name.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

fn read_table(path: &Path) -> Option<toml::Table> {
    std::fs::read_to_string(path).ok()?.parse().ok()
}

fn model_of(table: &toml::Table) -> Option<String> {
    table
        .get("model")?
        .as_str()
        .filter(|m| !m.trim().is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_command_line_names_the_model() {
        let none = |_: &str| None;
        for args in [
            &["codex", "exec", "--json", "-m", "o3", "go"][..],
            &["codex", "exec", "--model=o3", "--json"],
            &["codex", "-mo3", "exec"],
            &["codex", "exec", "-c", "model=\"o3\"", "--json"],
            &["codex", "exec", "--config", "model=o3"],
        ] {
            assert_eq!(codex_exec_model(&argv(args), &none).as_deref(), Some("o3"));
        }
        // A prompt after `--` is not an option.
        assert_eq!(
            codex_exec_model(&argv(&["codex", "exec", "--", "-m", "o3"]), &none),
            None
        );
    }

    #[test]
    fn the_rollout_of_the_thread_names_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_772_442_845_000; // 2026-03-02
        let day = dir.path().join("2026/03/02");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(
            day.join("rollout-2026-03-02T09-14-05-01a2-th1.jsonl"),
            "{\"type\":\"session_meta\",\"payload\":{\"id\":\"01a2-th1\"}}\n{\"type\":\"turn_context\",\"payload\":{\"model\":\"gpt-5-mini\"}}\n",
        )
        .unwrap();
        assert_eq!(
            model_in_rollout(dir.path(), "01a2-th1", now).as_deref(),
            Some("gpt-5-mini")
        );
        assert_eq!(model_in_rollout(dir.path(), "other", now), None);
        assert_eq!(model_in_rollout(dir.path(), "../x", now), None);
    }

    #[test]
    fn config_and_profiles_name_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_string_lossy().into_owned();
        let env = |k: &str| (k == "CODEX_HOME").then(|| home.clone());
        let exec = argv(&["codex", "exec", "--json", "go"]);
        assert_eq!(codex_exec_model(&exec, &env), None);
        std::fs::write(
            dir.path().join("config.toml"),
            "model = \"gpt-5-mini\"\n[profiles.deep]\nmodel = \"o3\"\n",
        )
        .unwrap();
        assert_eq!(codex_exec_model(&exec, &env).as_deref(), Some("gpt-5-mini"));
        let deep = argv(&["codex", "exec", "-p", "deep", "--json"]);
        assert_eq!(codex_exec_model(&deep, &env).as_deref(), Some("o3"));
        // 0.169's own profile files come first.
        std::fs::write(dir.path().join("deep.config.toml"), "model = \"gpt-5.2\"\n").unwrap();
        assert_eq!(codex_exec_model(&deep, &env).as_deref(), Some("gpt-5.2"));
        // The command line wins over all.
        let both = argv(&["codex", "exec", "-p", "deep", "-m", "gpt-5-nano"]);
        assert_eq!(codex_exec_model(&both, &env).as_deref(), Some("gpt-5-nano"));
        // A profile name is not a path.
        let evil = argv(&["codex", "exec", "-p", "../x"]);
        assert_eq!(codex_exec_model(&evil, &env).as_deref(), Some("gpt-5-mini"));
    }
}
