//! `[session] keep`: the ignored files that are the user's work, as globs the plan checks and
//! `pk down` uses (`session::hidden_work`).

use globset::GlobBuilder;

/// What `[session] keep` is when the plan does not set it: local settings and local
/// databases, the ignored files people make by hand and cannot make again.
pub(crate) const DEFAULT_KEEP: [&str; 5] = [".env*", "*.local", "*.local.*", "*.db", "*.sqlite*"];

/// One `keep` glob, as the plan checks it and `pk down` uses it: like a `.gitignore` line,
/// `*` stops at `/`, `**` crosses folders.
pub(crate) fn glob(pattern: &str) -> std::result::Result<globset::Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

/// The default globs.
pub(crate) fn default_globs() -> Vec<String> {
    DEFAULT_KEEP.iter().map(|s| (*s).to_string()).collect()
}
