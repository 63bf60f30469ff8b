//! Everything pk prints for people goes through here: colour only on a terminal and never with
//! `NO_COLOR`, progress on stderr, results on stdout.

use crate::error::{Error, ErrorKind, Result};
use std::io::{IsTerminal, Write};

/// Writes `bytes` to standard output, now (flushed). A reader that went away (`pk man | head`)
/// is no failure: the error it returns ends pk with exit 0 and no message, as ripgrep does.
/// (Rust ignores SIGPIPE, so the write fails with EPIPE instead of killing pk; `println!` would
/// panic.)
pub fn print(bytes: impl AsRef<[u8]>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes.as_ref())
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                let mut err = Error::failure("standard output was closed");
                err.kind = ErrorKind::StdoutClosed;
                err
            } else {
                Error::failure("failed to write to standard output").wrap_cause(e.to_string())
            }
        })
}

/// `println!` through [`print`]: returns its result, for `?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::print(format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Styled output.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    color: bool,
}

/// A colour of a piece of text.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Errors.
    Red,
    /// Success.
    Green,
    /// Warnings.
    Yellow,
    /// Names and paths.
    Bold,
}

impl Output {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset or empty (no-color.org).
    pub fn from_env() -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            color: !no_color && std::io::stderr().is_terminal(),
        }
    }

    /// Output without colour.
    #[cfg(test)]
    pub fn plain() -> Output {
        Output { color: false }
    }

    /// `text` in `style`, when colour is on.
    pub fn paint(&self, style: Style, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match style {
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A progress line on stderr.
    pub fn step(&self, text: &str) {
        let _ = writeln!(std::io::stderr(), "{text}");
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        let _ = writeln!(
            std::io::stderr(),
            "{} {text}",
            self.paint(Style::Yellow, "warning:")
        );
    }

    /// The final error of a command, on stderr.
    pub fn error(&self, err: &crate::Error) {
        let text = err.to_string();
        // Plan diagnostics render their own `error:` header with a source snippet.
        if err.kind == ErrorKind::Plan {
            let _ = writeln!(std::io::stderr(), "{text}");
        } else {
            let _ = writeln!(
                std::io::stderr(),
                "{} {text}",
                self.paint(Style::Red, "error:")
            );
        }
    }
}
