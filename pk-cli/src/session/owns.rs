//! `owns`: the files a track is meant to change (globs from the repository root, like
//! `[session] keep`: `*` stops at `/`, `**` crosses folders). A track that changes a path
//! outside its own globs, or inside another track's, is marked in the bar and `pk status`
//! (`outside_owns`): a warning for the lead, never a block.

use globset::{GlobSet, GlobSetBuilder};

/// The `owns` of every track, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Owns {
    tracks: Vec<(String, Option<GlobSet>)>,
}

impl Owns {
    /// `tracks`: each track's name and `owns` globs. A glob that does not compile (the plan
    /// refuses those, so only a hand-edited state has one) is left out.
    pub(crate) fn new<'a>(tracks: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Owns {
        let tracks = tracks
            .into_iter()
            .map(|(name, globs)| {
                let set = (!globs.is_empty()).then(|| {
                    let mut b = GlobSetBuilder::new();
                    for g in globs {
                        if let Ok(glob) = crate::plan::keep::glob(g) {
                            b.add(glob);
                        }
                    }
                    b.build().unwrap_or_else(|_| GlobSet::empty())
                });
                (name.to_string(), set)
            })
            .collect();
        Owns { tracks }
    }

    /// The paths of `changed` that `track` should not have changed: outside its own `owns`
    /// (when it has any), or inside another track's. Sorted, once each.
    pub(crate) fn outside(&self, track: &str, changed: &[String]) -> Vec<String> {
        let own = self
            .tracks
            .iter()
            .find(|(n, _)| n == track)
            .and_then(|(_, s)| s.as_ref());
        let mut out: Vec<String> = changed
            .iter()
            .filter(|path| {
                let outside_own = own.is_some_and(|set| !set.is_match(path.as_str()));
                let others = self
                    .tracks
                    .iter()
                    .filter(|(n, _)| n != track)
                    .filter_map(|(_, s)| s.as_ref())
                    .any(|set| set.is_match(path.as_str()));
                outside_own || others
            })
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn outside_own_globs_or_inside_anothers() {
        let api = v(&["src/api/**", "docs/api.md"]);
        let web = v(&["src/web/**", "*.json"]);
        let none: Vec<String> = Vec::new();
        let owns = Owns::new([
            ("api", api.as_slice()),
            ("web", web.as_slice()),
            ("misc", none.as_slice()),
        ]);
        let changed = v(&[
            "src/api/x/y.rs",
            "docs/api.md",
            "src/web/a.ts",
            "README.md",
            "package.json",
            "sub/package.json",
            "src/api/x/y.rs",
        ]);
        assert_eq!(
            owns.outside("api", &changed),
            [
                "README.md",
                "package.json",
                "src/web/a.ts",
                "sub/package.json"
            ]
        );
        // `*` stops at `/`: sub/package.json is nobody's but misc's own business.
        assert_eq!(
            owns.outside("web", &changed),
            [
                "README.md",
                "docs/api.md",
                "src/api/x/y.rs",
                "sub/package.json"
            ]
        );
        // Without `owns` only other tracks' files count.
        assert_eq!(
            owns.outside("misc", &changed),
            [
                "docs/api.md",
                "package.json",
                "src/api/x/y.rs",
                "src/web/a.ts"
            ]
        );
        assert!(owns.outside("api", &v(&["src/api/a.rs"])).is_empty());
    }
}
