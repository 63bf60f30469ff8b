//! The system OpenSSH client, the one way pk reaches another host (design §11).
//!
//! Every host is one connection: the first command starts a master (`ControlMaster=auto`) that
//! stays for [`PERSIST`] after the last command (`ControlPersist`), with its socket under pk's
//! state folder, so later commands, the panes' attaches and the status stream open channels on
//! it instead of new connections. `PK_SSH_COMMAND` replaces `ssh` and its options, as
//! `GIT_SSH_COMMAND` does for git: it is run as `sh -c '<it> "$@"'`.
//!
//! What runs on the host is an argument list, made into one command line for the host's shell
//! by [`remote_line`] and nothing else: every word quoted ([`crate::sys::shell::quote`]), so a
//! value arrives as it was, whatever it holds.

use crate::error::{Error, ProgramError, Result};
use crate::sys::shell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The variable that replaces the `ssh` command, options included.
pub(crate) const PK_SSH_COMMAND: &str = "PK_SSH_COMMAND";

/// How long the master connection outlives its last use.
const PERSIST: &str = "600";

/// ssh's own exit status when it could not connect (or lost the connection); anything else is
/// the remote command's.
pub(crate) const UNREACHABLE: i32 = 255;

/// Longest path of a unix socket (108 bytes on Linux, 104 on macOS, with its NUL).
const MAX_SOCKET_PATH: usize = 100;

/// One host, as ssh reaches it.
#[derive(Debug, Clone)]
pub(crate) struct Ssh {
    /// The user's `PK_SSH_COMMAND`, if set.
    custom: Option<String>,
    /// The master connection's socket.
    control: PathBuf,
    /// The destination: `user@host` or an alias.
    dest: String,
    verbose: bool,
}

impl Ssh {
    /// `dest` through the master whose socket is in `control_dir` (made when missing);
    /// `custom` is `PK_SSH_COMMAND`.
    pub(crate) fn new(
        dest: &str,
        control_dir: &Path,
        custom: Option<String>,
        verbose: bool,
    ) -> Ssh {
        let mut control = control_dir.join(control_name(dest));
        if control.as_os_str().len() > MAX_SOCKET_PATH {
            // A deep repository: the socket goes where a short path is sure.
            control = std::env::temp_dir().join(format!(
                "pk-ssh-{}",
                control_name(&control.to_string_lossy())
            ));
        }
        if let Some(parent) = control.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        Ssh {
            custom: custom.filter(|c| !c.trim().is_empty()),
            control,
            dest: dest.to_string(),
            verbose,
        }
    }

    /// The destination, for messages.
    pub(crate) fn dest(&self) -> &str {
        &self.dest
    }

    /// `ssh <options> [-t|-T] <dest> <remote line>`, not yet run.
    fn command(&self, tty: bool, remote: &str) -> Command {
        let mut args: Vec<String> = [
            "-o",
            "ControlMaster=auto",
            "-o",
            &format!("ControlPath={}", self.control.display()),
            "-o",
            &format!("ControlPersist={PERSIST}"),
            // A dead network is noticed in about 15 s, not at the next TCP timeout.
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
        ]
        .map(String::from)
        .to_vec();
        args.push(if tty { "-t" } else { "-T" }.into());
        if !tty {
            // Never a password prompt where no one can answer it.
            args.extend(["-o".into(), "BatchMode=yes".into()]);
        }
        args.push(self.dest.clone());
        args.push(remote.to_string());
        let mut cmd = self.program();
        cmd.args(args);
        cmd
    }

    /// `ssh`, or `PK_SSH_COMMAND` run as `sh -c '<it> "$@"' ssh`, its arguments to follow.
    fn program(&self) -> Command {
        match &self.custom {
            Some(custom) => {
                let mut cmd = Command::new("sh");
                cmd.arg("-c").arg(format!("{custom} \"$@\"")).arg("ssh");
                cmd
            }
            None => Command::new("ssh"),
        }
    }

    /// Runs pk on the host with `argv` ([`remote_line`]), `input` on its stdin; returns what
    /// it did, whatever its exit status (the caller reads it: [`UNREACHABLE`] is ssh's own).
    pub(crate) fn output(&self, argv: &[String], input: Option<&[u8]>) -> Result<Output> {
        self.run_line(&remote_line(argv), input)
    }

    /// Runs the program `argv[0]` on the host with the rest as its arguments, all quoted.
    pub(crate) fn raw_output(&self, argv: &[String], input: Option<&[u8]>) -> Result<Output> {
        let line: Vec<String> = argv.iter().map(|a| shell::quote(a)).collect();
        self.run_line(&line.join(" "), input)
    }

    fn run_line(&self, line: &str, input: Option<&[u8]>) -> Result<Output> {
        let mut cmd = self.command(false, line);
        if self.verbose {
            eprintln!("pk: running {}", shell::render(&cmd));
        }
        // The master, when this starts it, keeps nothing of ours open: it sends its own
        // output to /dev/null once in the background.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let ran = shell::output_with_input(&mut cmd, input);
        ran.map_err(|e| {
            Error::failure("failed to run ssh (is OpenSSH's client installed and on PATH?)")
                .wrap_cause(e.to_string())
                .program(ProgramError::NotStarted {
                    program: "ssh".into(),
                    source: e,
                })
        })
    }

    /// `argv` on the host with its output streamed: stdout piped, stderr inherited.
    pub(crate) fn spawn_stream(&self, argv: &[String]) -> std::io::Result<std::process::Child> {
        let mut cmd = self.command(false, &remote_line(argv));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn()
    }

    /// `argv` on the host on this terminal (`-t`), for a pane that shows the host's agent.
    pub(crate) fn interactive(&self, argv: &[String]) -> Command {
        self.command(true, &remote_line(argv))
    }

    /// `argv` on the host with this process's stdin, stdout and stderr, on a terminal there
    /// when `tty` (`pk exec`, `pk diff` of a remote track).
    pub(crate) fn passthrough(&self, argv: &[String], tty: bool) -> Command {
        let cmd = self.command(tty, &remote_line(argv));
        if self.verbose {
            eprintln!("pk: running {}", shell::render(&cmd));
        }
        cmd
    }

    /// Ends the master connection, if one runs (`ssh -O exit`).
    pub(crate) fn close(&self) {
        if !self.control.exists() {
            return;
        }
        let mut cmd = self.program();
        cmd.args(["-O", "exit", "-o"])
            .arg(format!("ControlPath={}", self.control.display()))
            .arg(&self.dest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = cmd.status();
    }
}

/// A socket name for `dest`: short, and the same for the same destination.
fn control_name(dest: &str) -> String {
    // FNV-1a: a stable name, not a secret.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in dest.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The command line the host's shell runs for `argv`, a pk invocation: pk where `pk host
/// install` puts it (`~/.local/bin/pk`), else on the host's PATH, with every argument quoted.
/// The prefix is constant; only quoted words follow it.
pub(crate) fn remote_line(argv: &[String]) -> String {
    let mut line = String::from(r#"p="$HOME/.local/bin/pk"; [ -x "$p" ] || p=pk; exec "$p""#);
    for arg in argv {
        line.push(' ');
        line.push_str(&shell::quote(arg));
    }
    line
}

/// The words of `line` as a POSIX shell splits them, for tests of [`remote_line`].
#[cfg(test)]
fn shell_words(line: &str) -> Vec<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("for a in {line}; do printf '%s\\0' \"$a\"; done"))
        .output()
        .expect("sh runs");
    out.stdout
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: [&str; 10] = [
        "plain",
        "two words",
        "it's",
        "$(touch /tmp/pk-owned)",
        "`id`",
        "a;b|c&d",
        "\"quoted\"",
        "back\\slash",
        "new\nline",
        "~/src/$HOME/*",
    ];

    #[test]
    fn every_word_reaches_the_host_shell_as_it_was() {
        let argv: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
        let line = remote_line(&argv);
        let (prefix, words) = line.split_at(line.find("exec \"$p\"").unwrap() + 9);
        assert!(prefix.starts_with("p="));
        assert_eq!(shell_words(words.trim_start()), argv);
    }

    #[test]
    fn a_remote_line_runs_pk_with_its_arguments_intact() {
        // The whole line, as the host's shell runs it, with a pk that prints its arguments.
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join(".local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let pk = bin.join("pk");
        std::fs::write(
            &pk,
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pk, std::fs::Permissions::from_mode(0o755)).unwrap();
        let argv: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
        let out = Command::new("sh")
            .arg("-c")
            .arg(remote_line(&argv))
            .env("HOME", home.path())
            .current_dir(home.path())
            .output()
            .unwrap();
        let got: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        assert_eq!(got, argv);
        assert!(!Path::new("/tmp/pk-owned").exists());
    }

    #[test]
    fn custom_commands_run_through_sh_with_the_arguments_after_them() {
        let ssh = Ssh::new(
            "dev@box",
            Path::new("/tmp/pk-ssh-test"),
            Some("echo -p 2222".into()),
            false,
        );
        let cmd = ssh.command(false, "pk status");
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "sh");
        assert_eq!(args[..3], ["-c", "echo -p 2222 \"$@\"", "ssh"]);
        assert_eq!(args[args.len() - 2..], ["dev@box", "pk status"]);
    }

    #[test]
    fn control_sockets_have_short_stable_names() {
        assert_eq!(control_name("dev@box"), control_name("dev@box"));
        assert_ne!(control_name("dev@box"), control_name("dev@box2"));
        let deep = std::env::temp_dir().join("y".repeat(200));
        let ssh = Ssh::new("dev@box", &deep, None, false);
        assert!(ssh.control.as_os_str().len() <= MAX_SOCKET_PATH + 30);
    }
}
