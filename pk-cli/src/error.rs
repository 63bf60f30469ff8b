//! One error type at the CLI boundary, with the exit codes of the design (§3).
//!
//! Modules return this `Error` (or their own error converted into it with [`Context`]). The
//! message is a lowercase fragment ("failed to create worktree …"); `causes` keep the chain and
//! `hints` tell the user what to do next.

use std::fmt;

/// Exit codes, as documented in the README and the design.
pub mod exit {
    /// Success.
    pub const SUCCESS: u8 = 0;
    /// Failure while acting (git, tmux, the file system said no).
    pub const FAILURE: u8 = 1;
    /// Invalid plan or usage.
    pub const USAGE: u8 = 2;
    /// Refused to protect work (dirty worktree, unmerged branch, lock held) or the user's
    /// machine (a plan's commands not approved).
    pub const REFUSED: u8 = 3;
}

/// Why a command stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Failure while acting: exit 1.
    Failure,
    /// Invalid usage: exit 2.
    Usage,
    /// An invalid plan: exit 2. The message is the rendered diagnostics, which carry their
    /// own `error:` header and source snippet ([`crate::diag::PlanError`], the source).
    Plan,
    /// Refused to protect work: exit 3.
    Refused,
    /// Standard output was closed by its reader (`pk man | head`): exit 0, nothing said
    /// ([`crate::output::print`]).
    StdoutClosed,
}

impl ErrorKind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Failure => exit::FAILURE,
            ErrorKind::Usage | ErrorKind::Plan => exit::USAGE,
            ErrorKind::Refused => exit::REFUSED,
            ErrorKind::StdoutClosed => exit::SUCCESS,
        }
    }
}

/// The error every command returns.
#[derive(Debug)]
pub struct Error {
    /// What kind of stop this is (decides the exit code).
    pub kind: ErrorKind,
    /// The main message. May span several lines (plan diagnostics carry their own snippet).
    pub message: String,
    /// Lower-level reasons, outermost first.
    pub causes: Vec<String>,
    /// What the user can do about it.
    pub hints: Vec<String>,
    /// The typed error this one came from, when there is one: what [`Context`] caught, a
    /// [`ProgramError`], a [`crate::diag::PlanError`]. `causes` says it for people;
    /// `source()` gives it to code.
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// How running one of the programs pk drives (git, tmux, zellij) went wrong, so that a caller
/// can tell a program that could not start from one that ran and said no.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The program could not be started (not installed, not on PATH, not executable).
    #[error("could not start {program}: {source}")]
    NotStarted {
        /// The program's name.
        program: String,
        /// Why the system could not start it.
        #[source]
        source: std::io::Error,
    },
    /// The program ran and exited with a failure.
    #[error("{program} exited with {}: {stderr}", code.map_or_else(|| "a signal".to_string(), |c| c.to_string()))]
    Exited {
        /// The program's name.
        program: String,
        /// Its exit code; `None` when a signal ended it.
        code: Option<i32>,
        /// What it said on stderr (else stdout), trimmed.
        stderr: String,
    },
}

/// Shorthand for results of pk operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure while acting (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failure, message)
    }

    /// Bad input (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// An invalid plan (exit 2): its rendered diagnostics, the typed error kept as the source.
    pub fn plan(err: crate::diag::PlanError) -> Self {
        let mut e = Self::new(ErrorKind::Plan, err.render());
        e.source = Some(Box::new(err));
        e
    }

    /// A refusal that protects the user's work (exit 3).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }

    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            causes: Vec::new(),
            hints: Vec::new(),
            source: None,
        }
    }

    /// Records how running a program failed (see [`ProgramError`]); the message is unchanged.
    #[must_use]
    pub fn program(mut self, err: ProgramError) -> Self {
        self.source = Some(Box::new(err));
        self
    }

    /// How running a program failed, when that is why this error happened.
    pub fn program_error(&self) -> Option<&ProgramError> {
        self.source.as_deref()?.downcast_ref()
    }

    /// Adds a hint shown under the message.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Adds a lower-level reason under the message.
    #[must_use]
    pub fn wrap_cause(mut self, cause: impl Into<String>) -> Self {
        self.causes.push(cause.into());
        self
    }

    /// Wraps this error in a higher-level message; the old message becomes a cause.
    #[must_use]
    pub fn wrap(mut self, message: impl Into<String>) -> Self {
        let inner = std::mem::replace(&mut self.message, message.into());
        self.causes.insert(0, inner);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in &self.causes {
            write!(f, "\n  caused by: {cause}")?;
        }
        for hint in &self.hints {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Adds a message to any error on its way up, keeping the original as a cause.
pub trait Context<T> {
    /// On error, return a failure (exit 1) saying `message`, caused by the original error.
    fn context(self, message: impl Into<String>) -> Result<T>;
    /// Like [`Context::context`], with a message built only on error.
    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T>;
}

impl<T, E: Into<Box<dyn std::error::Error + Send + Sync>>> Context<T>
    for std::result::Result<T, E>
{
    fn context(self, message: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::failure(message).caused_by(e.into()))
    }

    fn with_context<M: Into<String>>(self, message: impl FnOnce() -> M) -> Result<T> {
        self.map_err(|e| Error::failure(message()).caused_by(e.into()))
    }
}

impl Error {
    /// `cause` as the first cause, said and kept typed.
    fn caused_by(mut self, cause: Box<dyn std::error::Error + Send + Sync>) -> Self {
        self.causes.push(cause.to_string());
        self.source = Some(cause);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_causes_then_hints() {
        let err: Result<()> = Err::<(), _>("disk full").context("failed to write state");
        let err = err.unwrap_err().hint("free some space");
        assert_eq!(
            err.to_string(),
            "failed to write state\n  caused by: disk full\n  hint: free some space"
        );
        assert_eq!(err.kind.exit_code(), exit::FAILURE);
    }

    #[test]
    fn the_caught_error_stays_typed_as_the_source() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no");
        let err = Err::<(), _>(io).context("failed to open x").unwrap_err();
        let source = err.source().expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io error");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(err.program_error().is_none());
    }

    #[test]
    fn wrap_keeps_the_kind() {
        let err = Error::refused("worktree is dirty").wrap("failed to tear down");
        assert_eq!(err.kind, ErrorKind::Refused);
        assert_eq!(err.causes, vec!["worktree is dirty".to_string()]);
    }
}
