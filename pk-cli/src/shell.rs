//! Showing commands to people: how a command line would be typed in a POSIX shell. pk never
//! runs its own commands through a shell; this is for messages and `-v` only.

use std::process::Command;

/// Quotes a word for a POSIX shell, only when needed.
pub fn quote(s: &str) -> String {
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
pub fn render(cmd: &Command) -> String {
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
}
