//! How a prompt too long for the command line reaches its agent.
//!
//! A track's prompt goes to a preset as an argument and to everyone in `PK_PROMPT`. Linux
//! refuses to start a program when any single argument or `NAME=value` string is 128 KiB or
//! more (MAX_ARG_STRLEN, 32 pages: `exec` fails with E2BIG, "Argument list too long"; see the
//! test below), so a 1 MB prompt used to pass `pk check` and then kill its pane. Above [`LONG`]
//! bytes the prompt travels in a file, [`FILE`] in the track's folder of the state folder, that
//! `PK_PROMPT_FILE` names, and `PK_PROMPT` is left out:
//! - the presets that read their prompt on standard input when given none as an argument
//!   (`claude -p`, `codex exec -`, `gemini` headless) get that file as their standard input;
//! - `shell` takes no prompt: its pane says where the task is;
//! - interactive `claude` and `codex` take a first message only as an argument, and a custom
//!   `command` gets its prompt only in `PK_PROMPT`: the plan is refused (exit 2) at the prompt,
//!   by `pk check` and `pk up` alike, before anything is made.

use crate::plan::{Agent, AgentPreset};

/// The longest prompt, in bytes, that still goes on the command line and in `PK_PROMPT`: well
/// under the kernel's 128 KiB per string, which also counts `PK_PROMPT=` and a NUL.
pub(crate) const LONG: usize = 100 * 1024;

/// The file a long prompt is written to, in the track's folder under the state folder.
pub(crate) const FILE: &str = "prompt.md";

/// True when `prompt` is too long for an argument or a variable.
pub(crate) fn is_long(prompt: &str) -> bool {
    prompt.len() > LONG
}

/// True when `agent` reads a long prompt on its standard input.
pub(crate) fn on_stdin(agent: &Agent) -> bool {
    matches!(
        agent,
        Agent::Preset(AgentPreset::ClaudeHeadless | AgentPreset::CodexExec | AgentPreset::Gemini)
    )
}

/// Why `agent` cannot be given `prompt`, with what to do instead: `None` when it can.
pub(crate) fn refusal(agent: &Agent, track: &str, prompt: &str) -> Option<(String, String)> {
    if !is_long(prompt) || on_stdin(agent) || matches!(agent, Agent::Preset(AgentPreset::Shell)) {
        return None;
    }
    let size = prompt.len().div_ceil(1024);
    let shorten = "keep the prompt under 100 KiB (a short prompt can ask the agent to read a \
                   longer file of the repository)";
    Some(match agent {
        Agent::Command(_) => (
            format!("the prompt of track `{track}` is {size} KiB, too long for `PK_PROMPT`"),
            format!(
                "a custom `command` gets its prompt in `PK_PROMPT`, and Linux refuses a \
                 variable of 128 KiB or more; {shorten}, or name the prompt's file in \
                 `command` for your program to read"
            ),
        ),
        Agent::Preset(preset) => {
            let headless = match preset {
                AgentPreset::Codex => "codex-exec",
                _ => "claude-headless",
            };
            (
                format!(
                    "the prompt of track `{track}` is {size} KiB, too long for `{}`",
                    preset.name()
                ),
                format!(
                    "interactive `{}` takes its first message only as an argument, and Linux \
                     refuses an argument of 128 KiB or more; {shorten}, or use \
                     `agent = \"{headless}\"`, which reads a long prompt on its standard input",
                    preset.name()
                ),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_agents_without_stdin_or_file_refuse_long_prompts() {
        let long = "x".repeat(LONG + 1);
        let short = "x".repeat(LONG);
        for (_, preset) in AgentPreset::ALL {
            let agent = Agent::Preset(preset);
            assert_eq!(refusal(&agent, "a", &short), None);
            let refused = refusal(&agent, "a", &long).is_some();
            let expected = matches!(preset, AgentPreset::Claude | AgentPreset::Codex);
            assert_eq!(refused, expected, "{}", preset.name());
        }
        let command = Agent::Command(vec!["my-agent".into()]);
        let (msg, hint) = refusal(&command, "api", &long).unwrap();
        assert_eq!(
            msg,
            "the prompt of track `api` is 101 KiB, too long for `PK_PROMPT`"
        );
        assert!(hint.contains("100 KiB"), "{hint}");
    }

    /// The limit [`LONG`] keeps under, measured: one string of 128 KiB (with its NUL) fails,
    /// a prompt of [`LONG`] bytes both as an argument and in `PK_PROMPT` starts.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_refuses_what_pk_keeps_off_the_command_line() {
        use std::process::Command;
        let err = Command::new("true")
            .arg("x".repeat(128 * 1024))
            .status()
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(7), "E2BIG: {err}");
        let err = Command::new("true")
            .env("PK_PROMPT", "x".repeat(128 * 1024 - "PK_PROMPT=".len()))
            .status()
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(7), "E2BIG: {err}");
        let prompt = "x".repeat(LONG);
        let status = Command::new("true")
            .arg(&prompt)
            .env("PK_PROMPT", &prompt)
            .status()
            .unwrap();
        assert!(status.success());
    }
}
