//! Showing commands to people: how a command line would be typed in a POSIX shell. pk never
//! runs its own commands through a shell; this is for messages and `-v` only. And running the
//! external programs pk wraps (git, tmux, zellij) the same way: shown under `-v`, their output
//! captured, their failure an error that names the command and says why.

use crate::error::{Error, ProgramError, Result};
use std::process::{Command, Output, Stdio};

/// Runs `cmd` (a wrapped `program`), printing it first when `verbose`. A failure is an error
/// naming the command line, with the program's stderr (else stdout, else the exit status) as
/// the cause.
pub(crate) fn run_captured(cmd: &mut Command, program: &str, verbose: bool) -> Result<Output> {
    run_captured_with_input(cmd, program, verbose, None)
}

/// [`run_captured`], with `input` on the program's standard input when given.
pub(crate) fn run_captured_with_input(
    cmd: &mut Command,
    program: &str,
    verbose: bool,
    input: Option<&[u8]>,
) -> Result<Output> {
    let shown = render(cmd);
    if verbose {
        eprintln!("pk: running {shown}");
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = match output_with_input(cmd, input) {
        Ok(out) => out,
        Err(e) => {
            return Err(Error::failure(format!(
                "failed to run {program} (is it installed and on PATH?)"
            ))
            .wrap_cause(e.to_string())
            .program(ProgramError::NotStarted {
                program: program.to_string(),
                source: e,
            }));
        }
    };
    if !out.status.success() {
        let said = [&out.stderr, &out.stdout]
            .into_iter()
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .find(|s| !s.is_empty());
        let why = said
            .clone()
            .unwrap_or_else(|| format!("exit status {}", out.status));
        return Err(Error::failure(format!("`{shown}` failed"))
            .wrap_cause(why)
            .program(ProgramError::Exited {
                program: program.to_string(),
                code: out.status.code(),
                stderr: said.unwrap_or_default(),
            }));
    }
    Ok(out)
}

/// Runs `cmd` to its end with `input` on its stdin (none: its stdin as set), its output as
/// the caller set it up. The input is written from a thread: the program may fill its output
/// pipe before it has read all its input.
pub(crate) fn output_with_input(
    cmd: &mut Command,
    input: Option<&[u8]>,
) -> std::io::Result<Output> {
    let Some(input) = input else {
        return cmd.output();
    };
    let mut child = cmd.stdin(Stdio::piped()).spawn()?;
    use std::io::Write as _;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output();
    let _ = writer.join();
    out
}

/// Quotes a word for a POSIX shell, only when needed.
pub(crate) fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command line as a user would type it.
pub(crate) fn render(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("plain/path"), "plain/path");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        let mut cmd = Command::new("git");
        cmd.args(["-C", "/a b", "status"]);
        assert_eq!(render(&cmd), "git -C '/a b' status");
    }

    #[test]
    fn a_program_that_cannot_start_is_told_from_one_that_failed() {
        let mut missing = Command::new("/nonexistent/pk-no-such-program");
        let err = run_captured(&mut missing, "nothing", false).unwrap_err();
        assert!(matches!(
            err.program_error(),
            Some(ProgramError::NotStarted { program, .. }) if program == "nothing"
        ));
        assert!(std::error::Error::source(&err).is_some());
        // The message people see is as before.
        assert_eq!(
            err.message,
            "failed to run nothing (is it installed and on PATH?)"
        );

        let mut failing = Command::new("sh");
        failing.args(["-c", "echo no >&2; exit 3"]);
        let err = run_captured(&mut failing, "sh", false).unwrap_err();
        match err.program_error() {
            Some(ProgramError::Exited { code, stderr, .. }) => {
                assert_eq!((*code, stderr.as_str()), (Some(3), "no"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.causes, ["no"]);
    }
}
