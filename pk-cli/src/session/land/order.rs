//! The order `pk land` lands tracks in (design §9): a track after every track it depends on
//! (`depends_on`), and otherwise in the plan's order.

/// The names of `tracks` (name and `depends_on`, in plan order) in landing order: at each step
/// the first track in plan order whose dependencies have all come before it. Dependencies on
/// names not in `tracks` are ignored. The plan refuses cycles; should one get here, the tracks
/// in it follow in plan order rather than being dropped.
pub(crate) fn landing_order<'a>(tracks: &[(&'a str, &'a [String])]) -> Vec<&'a str> {
    let known = |d: &String| tracks.iter().any(|(n, _)| n == d);
    let mut done: Vec<&str> = Vec::with_capacity(tracks.len());
    while done.len() < tracks.len() {
        let ready = tracks.iter().find(|(name, deps)| {
            !done.contains(name)
                && deps
                    .iter()
                    .filter(|d| known(d))
                    .all(|d| done.contains(&d.as_str()))
        });
        match ready {
            Some((name, _)) => done.push(name),
            None => {
                let rest: Vec<&str> = tracks
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| !done.contains(n))
                    .collect();
                done.extend(rest);
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(tracks: &[(&str, &[&str])]) -> Vec<String> {
        let owned: Vec<(String, Vec<String>)> = tracks
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect();
        let refs: Vec<(&str, &[String])> = owned
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        landing_order(&refs).into_iter().map(String::from).collect()
    }

    #[test]
    fn without_dependencies_the_plan_order() {
        assert_eq!(
            order(&[("b", &[]), ("a", &[]), ("c", &[])]),
            ["b", "a", "c"]
        );
    }

    #[test]
    fn a_chain_lands_from_its_root() {
        assert_eq!(
            order(&[("web", &["api"]), ("api", &["schema"]), ("schema", &[])]),
            ["schema", "api", "web"]
        );
    }

    #[test]
    fn a_diamond_lands_its_top_first_and_its_bottom_last() {
        // app needs ui and api; both need core; docs is free and early in the plan.
        assert_eq!(
            order(&[
                ("app", &["ui", "api"]),
                ("ui", &["core"]),
                ("docs", &[]),
                ("api", &["core"]),
                ("core", &[]),
            ]),
            ["docs", "core", "ui", "api", "app"]
        );
    }

    #[test]
    fn dependencies_outside_the_selection_do_not_block_the_order() {
        assert_eq!(order(&[("web", &["api"]), ("cli", &[])]), ["web", "cli"]);
    }

    #[test]
    fn a_cycle_still_yields_every_track_once() {
        assert_eq!(
            order(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]),
            ["c", "a", "b"]
        );
    }
}
