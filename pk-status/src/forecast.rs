//! What pk forecasts of a track's work against the others' and its base's (design §9): the
//! shape `pk status --json` shows and the watcher writes to status.json, and the bar's mark of
//! the tracks that collide (`⚠ api×web`).

use serde::{Deserialize, Serialize};

/// One track's forecast.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    /// Commits of the track not in its base (null when its commit could not be read).
    #[serde(default)]
    pub ahead: Option<usize>,
    /// Commits of its base not in the track.
    #[serde(default)]
    pub behind: Option<usize>,
    /// Paths changed since the merge base with its base, committed or not.
    #[serde(default)]
    pub changed: Vec<String>,
    /// The tracks (and `base`) its work would conflict with, and the probes that failed.
    #[serde(default)]
    pub conflicts: Vec<Conflict>,
}

/// A merge that would conflict, or that could not be tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The other track's name, or `base` for the track's base's tip.
    pub with: String,
    /// The paths in conflict (empty when `unknown`).
    #[serde(default)]
    pub files: Vec<String>,
    /// Why the merge could not be tried: the outcome is unknown, never taken for clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// The name a track's conflict with its base goes by.
pub const BASE: &str = "base";

/// The pairs that conflict, each once, in the order of `tracks` (name, forecast): `(a, b)`
/// with `a` before `b`, and `(a, "base")`. Unknown probes are not conflicts.
pub fn conflict_pairs<'a>(tracks: &[(&'a str, Option<&'a Forecast>)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = Vec::new();
    for (i, (name, forecast)) in tracks.iter().enumerate() {
        let Some(f) = forecast else { continue };
        for c in f.conflicts.iter().filter(|c| c.unknown.is_none()) {
            if c.with == BASE {
                pairs.push((*name, BASE));
            } else if let Some((other, _)) =
                tracks[i + 1..].iter().find(|(n, _)| *n == c.with.as_str())
            {
                pairs.push((*name, *other));
            }
        }
    }
    pairs
}

/// `⚠ api×web docs×base`, or `` when nothing conflicts.
pub fn conflicts_text(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let list: Vec<String> = pairs
        .iter()
        .map(|(a, b)| {
            format!(
                "{}×{}",
                crate::sanitize::clean(a),
                crate::sanitize::clean(b)
            )
        })
        .collect();
    format!("⚠ {}", list.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(with: &str) -> Conflict {
        Conflict {
            with: with.into(),
            files: vec!["a.rs".into()],
            unknown: None,
        }
    }

    #[test]
    fn each_pair_once_and_unknown_is_not_a_conflict() {
        let api = Forecast {
            conflicts: vec![conflict("base"), conflict("web")],
            ..Forecast::default()
        };
        let web = Forecast {
            conflicts: vec![
                conflict("api"),
                Conflict {
                    with: "docs".into(),
                    files: vec![],
                    unknown: Some("failed".into()),
                },
            ],
            ..Forecast::default()
        };
        let tracks = [("api", Some(&api)), ("web", Some(&web)), ("docs", None)];
        let pairs = conflict_pairs(&tracks);
        assert_eq!(pairs, [("api", "base"), ("api", "web")]);
        assert_eq!(conflicts_text(&pairs), "⚠ api×base api×web");
        assert_eq!(conflicts_text(&[]), "");
    }

    #[test]
    fn json_shape() {
        let c = Conflict {
            with: "web".into(),
            files: vec![],
            unknown: Some("no merge base".into()),
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"with":"web","files":[],"unknown":"no merge base"}"#
        );
        assert_eq!(
            serde_json::to_string(&conflict("base")).unwrap(),
            r#"{"with":"base","files":["a.rs"]}"#
        );
    }
}
