//! The serde mirror of `parallel.toml` (design §2): exactly the keys a user may write, nothing
//! resolved, nothing defaulted. Unknown keys are errors (`deny_unknown_fields` on every table).
//!
//! Every value that is checked later is a [`Spanned`], so a diagnostic can point at it. Numbers
//! are read as `i64` so that an out-of-range port gets pk's own message at the value, not a
//! generic "expected u16".

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use std::fmt;
use toml::Spanned;

/// A spanned string.
pub type Str = Spanned<String>;

/// A spanned array of spanned strings.
pub type StrList = Spanned<Vec<Str>>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    /// `[session]`.
    pub session: Option<Spanned<RawSession>>,
    /// `[ports]`.
    pub ports: Option<Spanned<RawPorts>>,
    /// `[env]`.
    pub env: Option<Spanned<EnvTable>>,
    /// `[[track]]`.
    pub track: Option<Spanned<Vec<Spanned<RawTrack>>>>,
    /// `[land]`.
    pub land: Option<Spanned<RawLand>>,
    /// `[hosts.NAME]`: other machines tracks may run on (design §11).
    pub hosts: Option<Spanned<std::collections::BTreeMap<Str, Spanned<RawHost>>>>,
}

/// `[hosts.NAME]`: a machine reached over ssh.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// What `ssh` is given: `user@host`, or an alias of `~/.ssh/config`.
    pub ssh: Option<Str>,
    /// The path of the repository's clone on the host (`~/` is the host user's home).
    pub repo: Option<Str>,
}

/// `[land]`: how `pk land` lands the tracks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLand {
    /// `squash`, `merge` or `rebase`.
    pub strategy: Option<Str>,
}

/// `[session]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    /// Session name.
    pub name: Option<Str>,
    /// Ref new branches start from.
    pub base: Option<Str>,
    /// `tmux` or `zellij`.
    pub multiplexer: Option<Str>,
    /// A layout preset name (or, later, a layout file).
    pub layout: Option<Str>,
    /// Editor command.
    pub editor: Option<Str>,
    /// Default agent preset.
    pub agent: Option<Str>,
    /// Folder of the worktrees (`{repo}`, `{session}`).
    pub worktrees: Option<Str>,
    /// Branch template (`{track}`).
    pub branch: Option<Str>,
    /// Seconds without activity before a track is `idle`.
    pub idle_after: Option<Spanned<i64>>,
    /// Globs of the ignored files that are the user's work (`pk down` keeps them).
    pub keep: Option<StrList>,
    /// US dollars the whole session may spend (an integer or a float).
    pub budget_usd: Option<Spanned<f64>>,
    /// Whether agents may `git push` from their tracks (default false).
    pub push: Option<Spanned<bool>>,
}

/// `[ports]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPorts {
    /// First port pk may hand out.
    pub base: Option<Spanned<i64>>,
    /// Size of each track's block.
    pub per_track: Option<Spanned<i64>>,
}

/// One `[[track]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrack {
    /// Track name (required; checked in `resolve` so the error can say more than serde).
    pub name: Option<Str>,
    /// Inline prompt.
    pub prompt: Option<Str>,
    /// Prompt read from a file, relative to the plan's folder.
    pub prompt_file: Option<Str>,
    /// Agent preset.
    pub agent: Option<Str>,
    /// Explicit argv.
    pub command: Option<StrList>,
    /// Transcript of a custom command.
    pub transcript: Option<Spanned<RawTranscript>>,
    /// Per-track base.
    pub base: Option<Str>,
    /// Named ports.
    pub ports: Option<StrList>,
    /// The track's own environment.
    pub env: Option<Spanned<EnvTable>>,
    /// Files copied from the main checkout.
    pub copy: Option<StrList>,
    /// Shell commands run before the agent.
    pub setup: Option<StrList>,
    /// Globs of the files the track owns.
    pub owns: Option<StrList>,
    /// Tracks to merge first.
    pub depends_on: Option<StrList>,
    /// US dollars the track may spend.
    pub budget_usd: Option<Spanned<f64>>,
    /// The track's success criterion: a shell command run in its worktree.
    pub done_when: Option<Str>,
    /// The `[hosts.NAME]` the track runs on.
    pub host: Option<Str>,
}

/// `transcript = { path, format }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTranscript {
    /// Where the transcript is.
    pub path: Str,
    /// One of `TRANSCRIPT_FORMATS`.
    pub format: Str,
}

/// An `env` table, in file order (the `toml` crate hands table entries over sorted by key, so
/// they are put back in order by their position in the file).
#[derive(Debug, Default)]
pub struct EnvTable(pub Vec<(Str, Str)>);

impl<'de> Deserialize<'de> for EnvTable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvVisitor;

        impl<'de> Visitor<'de> for EnvVisitor {
            type Value = EnvTable;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of environment variables (NAME = \"value\")")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvTable, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Str, Str>()? {
                    entries.push(entry);
                }
                entries.sort_by_key(|(key, _)| key.span().start);
                Ok(EnvTable(entries))
            }
        }

        deserializer.deserialize_map(EnvVisitor)
    }
}

/// Parses the text of a plan.
pub(crate) fn parse(source: &str) -> Result<RawPlan, toml::de::Error> {
    toml::from_str(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_keeps_file_order_and_spans() {
        let src = "[env]\nZED = \"1\"\nALPHA = \"2\"\n";
        let plan = parse(src).unwrap();
        let env = plan.env.unwrap().into_inner().0;
        let keys: Vec<_> = env.iter().map(|(k, _)| k.get_ref().as_str()).collect();
        assert_eq!(keys, ["ZED", "ALPHA"]);
        assert_eq!(&src[env[0].0.span()], "ZED");
        assert_eq!(&src[env[1].1.span()], "\"2\"");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_span() {
        for (src, key) in [
            ("nope = 1\n", "nope"),
            ("[session]\nnmae = \"x\"\n", "nmae"),
            ("[[track]]\nname = \"a\"\npromt = \"x\"\n", "promt"),
            ("[ports]\nbsae = 1\n", "bsae"),
            (
                "[[track]]\ntranscript = { path = \"a\", format = \"lines\", x = 1 }\n",
                "x",
            ),
        ] {
            let err = parse(src).unwrap_err();
            assert!(err.message().contains("unknown field"), "{}", err.message());
            assert_eq!(&src[err.span().unwrap()], key);
        }
    }

    #[test]
    fn track_tables_and_arrays_are_spanned() {
        let src = "[[track]]\nname = \"api\"\nports = [\"web\", \"db\"]\n";
        let plan = parse(src).unwrap();
        let tracks = plan.track.unwrap().into_inner();
        assert_eq!(tracks.len(), 1);
        let ports = tracks[0].get_ref().ports.as_ref().unwrap();
        assert_eq!(&src[ports.span()], "[\"web\", \"db\"]");
        assert_eq!(&src[ports.get_ref()[1].span()], "\"db\"");
    }
}
