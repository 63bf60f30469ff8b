//! The user's own settings, `$XDG_CONFIG_HOME/pk/config.toml` (default
//! `~/.config/pk/config.toml`): per user, never in the shared plan, since they say where pk
//! sends word of your session (design §12).
//!
//! ```toml
//! [notify]
//! url = "https://ntfy.sh/my-secret-topic"  # a short POST when a track turns waiting, done,
//!                                           # error or over-budget
//! format = "ntfy"                           # "json" (default), "ntfy" or "slack"
//! link = "http://laptop.tailnet:7777/"      # the page of `pk serve` the message links to
//! ```
//!
//! A bad file is an error naming its line in `pk check`, and a warning for the watcher, which
//! then sends nothing.

use crate::diag::{Diagnostic, PlanError, syntax_diagnostic};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// How a notification is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// `{"session", "track", "state", "text", "link"}`.
    #[default]
    Json,
    /// ntfy's: the text as the body, a title, tags and a click link in headers.
    Ntfy,
    /// Slack's (and Mattermost's, Discord's `/slack`) incoming webhooks: `{"text": …}`.
    Slack,
}

/// `[notify]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Notify {
    /// Where the POST goes.
    pub(crate) url: String,
    /// How it is written.
    #[serde(default)]
    pub(crate) format: Format,
    /// The page the message links to (`pk serve` writes the address it serves on otherwise).
    #[serde(default)]
    pub(crate) link: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    /// `[notify]`.
    pub(crate) notify: Option<Notify>,
}

/// Where the file is, from `env`: `$XDG_CONFIG_HOME/pk/config.toml`, else
/// `~/.config/pk/config.toml`.
pub(crate) fn path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let config = match env("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env("HOME").filter(|h| !h.is_empty())?).join(".config"),
    };
    Some(config.join("pk").join("config.toml"))
}

/// The settings at `path` (the default ones when there is no file); an error naming the line
/// of what is wrong.
pub(crate) fn load(path: &Path) -> Result<UserConfig, PlanError> {
    let src = match std::fs::read_to_string(path) {
        Ok(src) => src,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UserConfig::default()),
        Err(e) => {
            let diag = Diagnostic::whole_file(format!("cannot read your pk settings: {e}"));
            return Err(PlanError::new(path, vec![diag]));
        }
    };
    parse(&src).map_err(|d| PlanError::new(path, vec![d]))
}

fn parse(src: &str) -> Result<UserConfig, Diagnostic> {
    let config: UserConfig = toml::from_str(src).map_err(|e| syntax_diagnostic(src, &e))?;
    if let Some(n) = &config.notify
        && !(n.url.starts_with("http://") || n.url.starts_with("https://"))
    {
        return Err(Diagnostic::whole_file(format!(
            "[notify] url `{}` is not an http(s) address",
            crate::util::text::visible(&n.url, false)
        ))
        .hint("for example url = \"https://ntfy.sh/your-topic\""));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reads_its_keys_and_refuses_others() {
        let c = parse("[notify]\nurl = \"https://ntfy.sh/t\"\nformat = \"ntfy\"\n").unwrap();
        let n = c.notify.unwrap();
        assert_eq!(
            (n.url.as_str(), n.format),
            ("https://ntfy.sh/t", Format::Ntfy)
        );
        assert!(parse("[notify]\nurl = \"x\"\nformt = \"ntfy\"\n").is_err());
        assert!(parse("[notify]\nurl = \"ftp://x\"\n").is_err());
        assert!(parse("[notify]\nurl = \"https://x\"\nformat = \"teams\"\n").is_err());
        assert_eq!(parse("").unwrap(), UserConfig::default());
    }

    #[test]
    fn the_file_is_under_the_config_folder() {
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        assert_eq!(
            path(&env).unwrap(),
            Path::new("/home/u/.config/pk/config.toml")
        );
    }
}
