//! The web view's end-to-end tests (issue 15): `pk serve` against a real session, checked with
//! plain HTTP requests and a real headless Chromium. A test binary of its own, run after the
//! other suites (cargo runs test binaries one at a time): a browser is heavy, and the other
//! suites measure how fast the bar follows the agents.

mod serve;

use pk_tests::TestEnv;
use std::path::PathBuf;

/// The state the status line shows for `track`: the word after its name.
pub(crate) fn state_of(line: &str, track: &str) -> Option<String> {
    line.match_indices(track).find_map(|(i, _)| {
        let before = line[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '-') {
            return None;
        }
        let word: String = line[i + track.len()..]
            .strip_prefix(' ')?
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        (!word.is_empty()).then_some(word)
    })
}

/// A track that replays the built-in `fixture` (or a transcript file) as a fake Claude.
pub(crate) fn replay_track(env: &TestEnv, name: &str, fixture: &str) -> String {
    format!(
        "[[track]]\nname = \"{name}\"\ncommand = [{pk:?}, \"replay\", \"{fixture}\", \"--delay\", \"0.3\"]\ntranscript = {{ path = {out:?}, format = \"claude-stream\" }}\n\n",
        pk = pk_tests::pk_bin().to_str().unwrap(),
        out = env.out().join(format!("{name}.ndjson")).to_string_lossy(),
    )
}

/// The hook event file of `track`.
pub(crate) fn events(env: &TestEnv, track: &str) -> PathBuf {
    env.repo
        .join(".git/pk/shop/tracks")
        .join(track)
        .join("events.ndjson")
}
