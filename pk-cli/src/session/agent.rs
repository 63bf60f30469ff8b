//! How each agent preset is started, and how it takes its initial prompt.

use crate::plan::{Agent, AgentPreset, Track};
use std::path::Path;

/// What pk adds to an interactive agent's command line so that it reports its state.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatusHooks<'a> {
    /// Claude: the settings file that installs pk's hooks (`--settings <file>`).
    pub claude_settings: Option<&'a Path>,
    /// Codex: the `notify` program (`-c notify=[…]`).
    pub codex_notify: Option<&'a [String]>,
}

/// The argv that starts a track's agent, with the prompt handed over the way that agent takes
/// an initial prompt. Custom commands get the prompt in `PK_PROMPT` instead. A prompt too long
/// for an argument is left out for the agents that read it on standard input
/// ([`crate::plan::prompt`]).
pub(crate) fn argv(track: &Track, shell: &str, hooks: StatusHooks) -> Vec<String> {
    let prompt = track.prompt.clone();
    let on_stdin = prompt.as_deref().is_some_and(crate::plan::prompt::is_long)
        && crate::plan::prompt::on_stdin(&track.agent);
    match &track.agent {
        Agent::Command(argv) => argv.clone(),
        Agent::Preset(preset) if on_stdin => stdin_argv(*preset),
        Agent::Preset(preset) => preset_argv(*preset, prompt, shell, hooks),
    }
}

/// What a headless agent cut off in the middle of its run is told when it resumes.
pub(crate) const CONTINUE: &str = "Your run was interrupted. Continue the task where you left off.";

/// For the agents pk resumes (issue 16: Claude Code and Codex, interactive and headless), the
/// argv that starts them without a prompt; the resume arguments go after it
/// ([`resume_argv`]).
pub(crate) fn resume_base(track: &Track, hooks: StatusHooks) -> Option<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match &track.agent {
        Agent::Preset(p @ (AgentPreset::Claude | AgentPreset::Codex)) => {
            Some(preset_argv(*p, None, "", hooks))
        }
        Agent::Preset(AgentPreset::ClaudeHeadless) => {
            Some(s(&[CLAUDE_HEADLESS, CLAUDE_HEADLESS_OUTPUT].concat()))
        }
        Agent::Preset(AgentPreset::CodexExec) => Some(s(CODEX_EXEC)),
        Agent::Preset(AgentPreset::Gemini) => Some(s(GEMINI)),
        _ => None,
    }
}

/// The argv that resumes conversation `id`: `claude … --resume ID`, `codex … resume ID`; a
/// headless one (`claude -p`, `codex exec`) is told to go on ([`CONTINUE`]).
pub(crate) fn resume_argv(base: &[String], id: &str) -> Vec<String> {
    let mut argv = base.to_vec();
    let program = base.first().map(String::as_str);
    let headless = program == Some("gemini") || base.iter().any(|a| a == "-p" || a == "exec");
    argv.push(
        if program == Some("codex") {
            "resume"
        } else {
            "--resume"
        }
        .to_string(),
    );
    argv.push(id.to_string());
    if program == Some("gemini") {
        argv.push("-p".into());
    }
    if headless {
        argv.push(CONTINUE.to_string());
    }
    argv
}

/// The argv of a headless preset that reads its prompt on standard input: `claude -p` and
/// `gemini` do when they get none as an argument and stdin is not a terminal, `codex exec`
/// when the prompt is `-`.
fn stdin_argv(preset: AgentPreset) -> Vec<String> {
    let (program, flags): (&[&str], &[&str]) = match preset {
        AgentPreset::CodexExec => (CODEX_EXEC, &["-"]),
        AgentPreset::Gemini => (GEMINI, &[]),
        _ => (CLAUDE_HEADLESS, CLAUDE_HEADLESS_OUTPUT),
    };
    program.iter().chain(flags).map(|a| a.to_string()).collect()
}

/// The headless presets' commands and output flags, the same whether the prompt comes as an
/// argument or on standard input.
const CLAUDE_HEADLESS: &[&str] = &["claude", "-p"];
const CLAUDE_HEADLESS_OUTPUT: &[&str] = &["--output-format", "stream-json", "--verbose"];
const CODEX_EXEC: &[&str] = &["codex", "exec", "--json"];
/// `--skip-trust`: Gemini CLI (0.61) exits 55 in a folder the user has not trusted, and every
/// worktree is a new folder; this trusts the worktree for this run only.
const GEMINI: &[&str] = &["gemini", "--skip-trust", "--output-format", "stream-json"];

/// The argv of a preset.
pub(crate) fn preset_argv(
    preset: AgentPreset,
    prompt: Option<String>,
    shell: &str,
    hooks: StatusHooks,
) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut argv = match preset {
        // Interactive CLIs take the first message as a positional argument. `--settings` adds
        // pk's hooks to the user's own settings for this session only.
        AgentPreset::Claude => {
            let mut v = s(&["claude"]);
            if let Some(settings) = hooks.claude_settings {
                v.push("--settings".into());
                v.push(settings.to_string_lossy().into_owned());
            }
            v
        }
        // `-c` overrides Codex's configuration for this session only; its value is TOML.
        AgentPreset::Codex => {
            let mut v = s(&["codex"]);
            if let Some(notify) = hooks.codex_notify {
                let array: toml::value::Array =
                    notify.iter().cloned().map(toml::Value::String).collect();
                v.push("-c".into());
                v.push(format!("notify={}", toml::Value::Array(array)));
            }
            v
        }
        AgentPreset::ClaudeHeadless => {
            let mut v = s(CLAUDE_HEADLESS);
            match prompt {
                Some(p) if p.starts_with('-') => {
                    v.extend(s(CLAUDE_HEADLESS_OUTPUT));
                    v.push("--".into());
                    v.push(p);
                }
                p => {
                    v.extend(p);
                    v.extend(s(CLAUDE_HEADLESS_OUTPUT));
                }
            }
            return v;
        }
        AgentPreset::CodexExec => s(CODEX_EXEC),
        AgentPreset::Gemini => {
            let mut v = s(GEMINI);
            match prompt.unwrap_or_default() {
                p if p.starts_with('-') => v.push(format!("--prompt={p}")),
                p => v.extend(["-p".to_string(), p]),
            }
            return v;
        }
        // A shell has no prompt argument: `pk agent-run` prints the prompt above it.
        AgentPreset::Shell => return vec![shell.to_string()],
    };
    if let Some(p) = prompt {
        // A prompt is an instruction, never an option of the agent's CLI: one that starts
        // with `-` (`--settings=…` would run the hooks it names, unapproved) goes after `--`.
        if p.starts_with('-') {
            argv.push("--".into());
        }
        argv.push(p);
    }
    argv
}

/// How the line `pk agent-run` prints first in a track's pane starts (`pk track api · branch
/// …`), before `setup` and the agent.
pub(crate) fn pane_header_start(track: &str) -> String {
    format!("pk track {track} · ")
}

/// What the agent (and `setup`) printed in a pane's `text`: what follows pk's own header line,
/// so that an agent that printed nothing is not said to have printed pk's header.
pub(crate) fn after_header<'a>(text: &'a str, track: &str) -> &'a str {
    let start = pane_header_start(track);
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        at += line.len();
        if line.starts_with(&start) {
            return &text[at..];
        }
    }
    text
}

/// A short label of what runs, for the pane header and `pk status`.
pub(crate) fn label(agent: &Agent) -> String {
    match agent {
        Agent::Preset(p) => p.name().to_string(),
        // The program's name, not its whole path: this is a label in a narrow pane header.
        Agent::Command(argv) => argv
            .first()
            .map(|p| {
                std::path::Path::new(p)
                    .file_name()
                    .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_program() {
        let cmd = Agent::Command(vec!["/usr/local/bin/my-agent".into(), "--x".into()]);
        assert_eq!(label(&cmd), "my-agent");
        assert_eq!(label(&Agent::Preset(AgentPreset::CodexExec)), "codex-exec");
    }

    #[test]
    fn prompts_that_look_like_options_stay_prompts() {
        let p = || Some("--settings={\"hooks\":{}}".to_string());
        let evil = p().unwrap();
        assert_eq!(
            preset_argv(AgentPreset::Claude, p(), "sh", StatusHooks::default()),
            ["claude", "--", &evil]
        );
        assert_eq!(
            preset_argv(AgentPreset::CodexExec, p(), "sh", StatusHooks::default()),
            ["codex", "exec", "--json", "--", &evil]
        );
        assert_eq!(
            preset_argv(
                AgentPreset::ClaudeHeadless,
                p(),
                "sh",
                StatusHooks::default()
            ),
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--",
                &evil
            ]
        );
        assert_eq!(
            preset_argv(AgentPreset::Gemini, p(), "sh", StatusHooks::default()),
            [
                "gemini",
                "--skip-trust",
                "--output-format",
                "stream-json",
                &format!("--prompt={evil}")
            ]
        );
    }

    #[test]
    fn prompts_go_where_each_agent_takes_them() {
        let p = || Some("fix it".to_string());
        assert_eq!(
            preset_argv(AgentPreset::Claude, p(), "sh", StatusHooks::default()),
            ["claude", "fix it"]
        );
        assert_eq!(
            preset_argv(
                AgentPreset::ClaudeHeadless,
                p(),
                "sh",
                StatusHooks::default()
            ),
            [
                "claude",
                "-p",
                "fix it",
                "--output-format",
                "stream-json",
                "--verbose"
            ]
        );
        assert_eq!(
            preset_argv(AgentPreset::CodexExec, p(), "sh", StatusHooks::default()),
            ["codex", "exec", "--json", "fix it"]
        );
        assert_eq!(
            preset_argv(AgentPreset::Codex, None, "sh", StatusHooks::default()),
            ["codex"]
        );
        assert_eq!(
            preset_argv(AgentPreset::Gemini, p(), "sh", StatusHooks::default()),
            [
                "gemini",
                "--skip-trust",
                "--output-format",
                "stream-json",
                "-p",
                "fix it"
            ]
        );
        assert_eq!(
            preset_argv(AgentPreset::Shell, p(), "/bin/zsh", StatusHooks::default()),
            ["/bin/zsh"]
        );
        assert_eq!(
            preset_argv(
                AgentPreset::Claude,
                p(),
                "sh",
                StatusHooks {
                    claude_settings: Some(Path::new("/r/.git/pk/s/tracks/a/claude-settings.json")),
                    ..StatusHooks::default()
                }
            ),
            [
                "claude",
                "--settings",
                "/r/.git/pk/s/tracks/a/claude-settings.json",
                "fix it"
            ]
        );
    }

    #[test]
    fn codex_gets_pk_as_its_notify_for_this_session_only() {
        let notify = [
            "/opt/my \"pk\"/pk".to_string(),
            "hook".to_string(),
            "--events".to_string(),
            "/r/e.ndjson".to_string(),
        ];
        let hooks = StatusHooks {
            codex_notify: Some(&notify),
            ..StatusHooks::default()
        };
        let argv = preset_argv(AgentPreset::Codex, Some("fix it".into()), "sh", hooks);
        assert_eq!(argv[..2], ["codex", "-c"]);
        assert_eq!(argv[3], "fix it");
        // The value is TOML that reads back as the same argv, whatever the path holds.
        let value = argv[2].strip_prefix("notify=").unwrap();
        let table: toml::Table = format!("notify = {value}").parse().unwrap();
        let back: Vec<&str> = table["notify"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(back, notify);
    }

    #[test]
    fn claude_and_codex_resume_their_conversation_with_pks_hooks_and_no_prompt() {
        let settings = Path::new("/s/claude-settings.json");
        let hooks = StatusHooks {
            claude_settings: Some(settings),
            codex_notify: None,
        };
        let claude = resume_base(&track(Agent::Preset(AgentPreset::Claude)), hooks).unwrap();
        assert_eq!(
            resume_argv(&claude, "ID"),
            [
                "claude",
                "--settings",
                "/s/claude-settings.json",
                "--resume",
                "ID"
            ]
        );
        let codex = resume_base(&track(Agent::Preset(AgentPreset::Codex)), hooks).unwrap();
        assert_eq!(resume_argv(&codex, "ID"), ["codex", "resume", "ID"]);
        let headless = resume_base(&track(Agent::Preset(AgentPreset::ClaudeHeadless)), hooks);
        assert_eq!(
            resume_argv(&headless.unwrap(), "ID"),
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--resume",
                "ID",
                CONTINUE
            ]
        );
        let exec = resume_base(&track(Agent::Preset(AgentPreset::CodexExec)), hooks);
        assert_eq!(
            resume_argv(&exec.unwrap(), "ID"),
            ["codex", "exec", "--json", "resume", "ID", CONTINUE]
        );
        let gemini = resume_base(&track(Agent::Preset(AgentPreset::Gemini)), hooks);
        assert_eq!(
            resume_argv(&gemini.unwrap(), "ID"),
            [
                "gemini",
                "--skip-trust",
                "--output-format",
                "stream-json",
                "--resume",
                "ID",
                "-p",
                CONTINUE
            ]
        );
        for agent in [
            Agent::Preset(AgentPreset::Shell),
            Agent::Command(vec!["my-agent".into()]),
        ] {
            assert_eq!(resume_base(&track(agent), hooks), None);
        }
    }

    fn track(agent: Agent) -> Track {
        Track {
            name: "api".into(),
            branch: "pk/api".into(),
            worktree: "/w/api".into(),
            base: "main".into(),
            agent,
            prompt: Some("Build it.".into()),
            port_names: Vec::new(),
            env: Vec::new(),
            copy: Vec::new(),
            setup: Vec::new(),
            owns: Vec::new(),
            depends_on: Vec::new(),
            done_when: None,
            transcript: None,
            budget_usd: None,
            host: None,
        }
    }

    #[test]
    fn a_panes_output_starts_after_pks_header() {
        let text = "pk track api · branch pk/api · port 4100 · sh\n$ npm ci\nboom\n";
        assert_eq!(after_header(text, "api"), "$ npm ci\nboom\n");
        assert_eq!(after_header("pk track api · x\n", "api"), "");
        assert_eq!(after_header("no header\n", "api"), "no header\n");
        assert_eq!(after_header(text, "web"), text);
    }
}
