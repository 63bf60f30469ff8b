//! What makes a world hermetic, shared by the tests' [`crate::TestEnv`] and the benches' worlds:
//! a cleared environment with HOME, the XDG state folder, `TMUX_TMPDIR` and the global git
//! config inside the world's folder (so `TMUX` is unset and the user's tmux server, git config
//! and home are never seen), and commands that fail loudly.

use std::path::Path;
use std::process::{Command, Stdio};

/// Writes the world's own git config (`<root>/gitconfig`): an identity, `main` as the default
/// branch, no signing.
pub fn write_git_config(root: &Path) {
    std::fs::write(
        root.join("gitconfig"),
        "[user]\n\tname = pk test\n\temail = test@pk.invalid\n[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n",
    )
    .expect("write the world's gitconfig");
}

/// Clears `cmd`'s environment and sets the hermetic one for the world at `root`: PATH kept,
/// `HOME`, `XDG_STATE_HOME`, `TMUX_TMPDIR` under `root` (`home`, `state`, `tmux`), the git
/// config of [`write_git_config`] only, a plain shell and terminal, no colour; stdin closed.
pub fn hermetic_env(cmd: &mut Command, root: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root.join("home"))
        .env("XDG_STATE_HOME", root.join("state"))
        .env("TMUX_TMPDIR", root.join("tmux"))
        .env("GIT_CONFIG_GLOBAL", root.join("gitconfig"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
}

/// Runs a command; a failure panics with its stderr. Returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    run_with_stderr(cmd).0
}

/// Runs a command; returns its stdout and stderr. A failure (or a command that cannot start)
/// panics with the command line and its stderr, so a bench exits non-zero after its worlds'
/// `Drop` killed their tmux servers.
pub fn run_with_stderr(cmd: &mut Command) -> (String, String) {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to start `{shown}`: {e}"));
    if !out.status.success() {
        panic!(
            "`{shown}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command with `input` on its stdin (and its stdout and stderr as the caller set them);
/// returns what it did. As a hook command is run by an agent, the payload on stdin.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}
