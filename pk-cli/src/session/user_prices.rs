//! The user's own model prices, `$XDG_CONFIG_HOME/pk/prices.toml` (default
//! `~/.config/pk/prices.toml`), which add models to pk's built-in table or override its rows
//! ([`pk_status::prices`]): a model neither knows shows its tokens and an unknown cost.
//!
//! ```toml
//! [models."gpt-5.1-codex"]   # a model id prefix: the longest matching row prices a model
//! input = 1.25               # US dollars per million tokens
//! output = 10.0
//! cache_read = 0.125         # default: input
//! cache_write = 1.25         # default: input
//! ```
//!
//! A bad file is an error naming its line in `pk check`, and a warning for `pk status` and the
//! watcher, which then price with the built-in table only.

use crate::ctx::Ctx;
use crate::diag::{Diagnostic, PlanError};
use pk_status::prices::Price;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    models: BTreeMap<String, Row>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    input: Spanned<f64>,
    output: Spanned<f64>,
    cache_read: Option<Spanned<f64>>,
    cache_write: Option<Spanned<f64>>,
}

/// Where the user's table is, from `env`: `$XDG_CONFIG_HOME/pk/prices.toml`, else
/// `~/.config/pk/prices.toml`.
pub(crate) fn path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let config = match env("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env("HOME").filter(|h| !h.is_empty())?).join(".config"),
    };
    Some(config.join("pk").join("prices.toml"))
}

/// The rows of the table at `path` (none when there is no file); an error naming the line of
/// what is wrong.
pub(crate) fn load(path: &Path) -> Result<Vec<(String, Price)>, PlanError> {
    let src = match std::fs::read_to_string(path) {
        Ok(src) => src,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            let diag = Diagnostic::whole_file(format!("cannot read the price table: {e}"));
            return Err(PlanError::new(path, vec![diag]));
        }
    };
    parse(path, &src)
}

fn parse(path: &Path, src: &str) -> Result<Vec<(String, Price)>, PlanError> {
    let file: File = toml::from_str(src)
        .map_err(|e| PlanError::new(path, vec![crate::diag::syntax_diagnostic(src, &e)]))?;
    let mut diags = Vec::new();
    let mut rows = Vec::new();
    for (model, row) in file.models {
        let mut check = |v: &Spanned<f64>| {
            let x = *v.get_ref();
            if !(x.is_finite() && x >= 0.0) {
                diags.push(
                    Diagnostic::at(src, v.span(), "a price must be 0 or more")
                        .hint("US dollars per million tokens, e.g. `input = 1.25`"),
                );
            }
            x
        };
        let input = check(&row.input);
        let output = check(&row.output);
        let cache_read = row.cache_read.as_ref().map_or(input, &mut check);
        let cache_write = row.cache_write.as_ref().map_or(input, &mut check);
        if model.trim().is_empty() {
            diags.push(Diagnostic::whole_file("a model id is empty"));
        }
        rows.push((
            model,
            Price {
                input,
                output,
                cache_write,
                cache_read,
            },
        ));
    }
    if diags.is_empty() {
        Ok(rows)
    } else {
        Err(PlanError::new(path, diags))
    }
}

/// Reads the user's table and hands it to the pricing of this process, for the commands that
/// show costs; a bad file is a warning (the built-in table still prices).
pub(crate) fn install(ctx: &Ctx) {
    let Some(path) = path(&|k| std::env::var(k).ok()) else {
        return;
    };
    match load(&path) {
        Ok(rows) => {
            pk_status::prices::set_user_prices(rows);
        }
        Err(e) => {
            let first = &e.diagnostics[0];
            let line = first
                .location
                .as_ref()
                .map(|l| format!(":{}", l.line))
                .unwrap_or_default();
            ctx.out.warn(&format!(
                "{}{line}: {}; prices from pk's own table only (`pk check` shows more)",
                path.display(),
                first.message
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_add_models_with_input_as_the_default_cache_prices() {
        let src = "[models.\"llama-3\"]\ninput = 0.5\noutput = 1.0\n\n[models.gpt-5]\ninput = 2.0\noutput = 8.0\ncache_read = 0.2\n";
        let rows = parse(Path::new("/c/pk/prices.toml"), src).unwrap();
        assert_eq!(rows.len(), 2);
        let gpt = &rows.iter().find(|(m, _)| m == "gpt-5").unwrap().1;
        assert_eq!(
            (gpt.input, gpt.cache_read, gpt.cache_write),
            (2.0, 0.2, 2.0)
        );
        assert!(parse(Path::new("p"), "").unwrap().is_empty());
    }

    #[test]
    fn a_bad_table_names_file_and_line() {
        let path = Path::new("/c/pk/prices.toml");
        let err = parse(path, "[models.x]\ninput = 1.0\noutput = -2.0\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/c/pk/prices.toml:3:"), "{text}");
        assert!(text.contains("a price must be 0 or more"), "{text}");
        let err = parse(path, "[models.x]\ninput = 1.0\nouptut = 2.0\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/c/pk/prices.toml:3:"), "{text}");
        assert!(text.contains("unknown key"), "{text}");
        let err = parse(path, "[models.x]\ninput = \"cheap\"\noutput = 1\n").unwrap_err();
        assert!(err.to_string().contains(":2:"), "{err}");
    }

    #[test]
    fn the_table_is_under_the_xdg_config_folder() {
        let env = |k: &str| match k {
            "HOME" => Some("/h".to_string()),
            _ => None,
        };
        assert_eq!(path(&env), Some(PathBuf::from("/h/.config/pk/prices.toml")));
        let xdg = |k: &str| (k == "XDG_CONFIG_HOME").then(|| "/x".to_string());
        assert_eq!(path(&xdg), Some(PathBuf::from("/x/pk/prices.toml")));
    }
}
