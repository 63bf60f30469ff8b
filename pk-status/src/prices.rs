//! Built-in model prices, for agents that do not report what they cost.
//!
//! Claude Code's headless `result` carries `total_cost_usd` and that figure wins; interactive
//! Claude transcripts, Codex and Gemini only give token counts, so pk prices them with this
//! table. To update it, edit [`PRICES`]: one row per model id prefix, US dollars per million
//! tokens, as listed on the vendors' pricing pages (anthropic.com/pricing,
//! openai.com/api/pricing, ai.google.dev/gemini-api/docs/pricing).
//!
//! A model neither table knows is not priced: its tokens are counted and the cost is shown as
//! unknown ([`crate::TrackStatus::unpriced`]), never guessed. Users add or override models in
//! their own table, `~/.config/pk/prices.toml`, which pk reads natively and hands over with
//! [`set_user_prices`]; a user row wins over a built-in one of the same or a shorter prefix.
//!
//! Known simplifications, all small for a status bar: long-context surcharges (Claude Sonnet
//! above 200k input tokens, Gemini Pro above 200k) and Claude's `speed: "fast"` multiplier are
//! not applied; Claude one-hour cache writes cost twice the input price (Anthropic's rule) and
//! five-minute ones the `cache_write` price; OpenAI and Google do not charge cache writes, so
//! their `cache_write` is the input price (their transcripts report none anyway).

use crate::status::Tokens;
use std::sync::OnceLock;

/// A model's price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Uncached input tokens.
    pub input: f64,
    /// Output tokens (including reasoning/thinking).
    pub output: f64,
    /// Tokens written to the prompt cache (Anthropic's five-minute cache).
    pub cache_write: f64,
    /// Tokens read from the prompt cache.
    pub cache_read: f64,
}

const fn p(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price {
        input,
        output,
        cache_write,
        cache_read,
    }
}

/// Model id prefix → price. The longest matching prefix wins, so a family row (`claude-opus`)
/// prices the family's future models until they get their own row.
pub const PRICES: &[(&str, Price)] = &[
    // Anthropic: input / output / 5-minute cache write / cache read.
    ("claude-opus-4-6", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-5", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-1", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4-0", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4-2025", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus", p(5.0, 25.0, 6.25, 0.50)),
    ("claude-3-opus", p(15.0, 75.0, 18.75, 1.50)),
    ("claude-sonnet", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-7-sonnet", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-5-sonnet", p(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4-5", p(1.0, 5.0, 1.25, 0.10)),
    ("claude-haiku", p(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", p(0.80, 4.0, 1.0, 0.08)),
    ("claude-3-haiku", p(0.25, 1.25, 0.30, 0.03)),
    // OpenAI: input / output / (no cache-write charge) / cached input.
    ("gpt-5", p(1.25, 10.0, 1.25, 0.125)),
    ("gpt-5-mini", p(0.25, 2.0, 0.25, 0.025)),
    ("gpt-5-nano", p(0.05, 0.40, 0.05, 0.005)),
    ("gpt-5.1-codex-mini", p(0.25, 2.0, 0.25, 0.025)),
    ("gpt-5.2", p(1.75, 14.0, 1.75, 0.175)),
    // Google, prompts up to 200k tokens: input / output / (no cache-write charge) / cached.
    ("gemini-2.5-pro", p(1.25, 10.0, 1.25, 0.125)),
    ("gemini-2.5-flash", p(0.30, 2.50, 0.30, 0.03)),
    ("gemini-2.5-flash-lite", p(0.10, 0.40, 0.10, 0.01)),
    ("gemini-3-pro", p(2.0, 12.0, 2.0, 0.20)),
];

/// The user's own rows (model id prefix, price), set once per process.
static USER_PRICES: OnceLock<Vec<(String, Price)>> = OnceLock::new();

/// Sets the user's price table (`prices.toml`) for this process; false when it was set before
/// (the first table stays).
pub fn set_user_prices(rows: Vec<(String, Price)>) -> bool {
    let rows = rows
        .into_iter()
        .map(|(prefix, price)| (prefix.trim().to_ascii_lowercase(), price))
        .collect();
    USER_PRICES.set(rows).is_ok()
}

/// The price for `model`, from the user's table and the built-in one, if either knows it.
///
/// Provider decorations are ignored: a path prefix (`openai/gpt-5`, `models/gemini-2.5-pro`),
/// a Bedrock region/vendor prefix (`us.anthropic.claude-…`), suffixes after the id (dates,
/// `@…`, `[1m]`) and case.
pub fn lookup(model: &str) -> Option<Price> {
    lookup_in(USER_PRICES.get().map_or(&[], Vec::as_slice), model)
}

/// [`lookup`] with `user` as the user's rows: the longest matching prefix of either table, the
/// user's on a tie.
pub(crate) fn lookup_in(user: &[(String, Price)], model: &str) -> Option<Price> {
    let lower = model.trim().to_ascii_lowercase();
    let mut id = lower.rsplit('/').next().unwrap_or("");
    if id.is_empty() {
        return None;
    }
    if let Some(i) = id.find("claude-") {
        id = &id[i..];
    }
    let built_in = PRICES
        .iter()
        .filter(|(prefix, _)| id.starts_with(prefix))
        .map(|&(prefix, price)| (prefix.len(), price));
    let users = user
        .iter()
        .filter(|(prefix, _)| !prefix.is_empty() && id.starts_with(prefix.as_str()))
        .map(|(prefix, price)| (prefix.len(), *price));
    // `max_by_key` keeps the last of equal keys: the user's rows come last.
    built_in
        .chain(users)
        .max_by_key(|(len, _)| *len)
        .map(|(_, price)| price)
}

/// What `tokens` cost at `model`'s price (cache writes counted as five-minute writes), if pk
/// knows the model's price.
pub fn cost(model: &str, tokens: &Tokens) -> Option<f64> {
    lookup(model).map(|price| cost_at(price, tokens, 0))
}

/// What `tokens` cost at `price`, `cache_write_1h` of the cache writes being one-hour writes.
pub(crate) fn cost_at(price: Price, tokens: &Tokens, cache_write_1h: u64) -> f64 {
    let h1 = cache_write_1h.min(tokens.cache_write);
    let m5 = tokens.cache_write - h1;
    (tokens.input as f64 * price.input
        + tokens.output as f64 * price.output
        + m5 as f64 * price.cache_write
        + h1 as f64 * 2.0 * price.input
        + tokens.cache_read as f64 * price.cache_read)
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Tokens {
        Tokens {
            input,
            output,
            cache_read,
            cache_write,
        }
    }

    #[test]
    fn finds_models_by_longest_prefix() {
        let sonnet = p(3.0, 15.0, 3.75, 0.30);
        assert_eq!(lookup("claude-sonnet-4-5-20250929"), Some(sonnet));
        assert_eq!(lookup("claude-sonnet-4-5@20250929"), Some(sonnet));
        assert_eq!(
            lookup("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Some(sonnet)
        );
        assert_eq!(lookup("claude-opus-4-1-20250805").unwrap().input, 15.0);
        assert_eq!(lookup("claude-opus-4-20250514").unwrap().input, 15.0);
        assert_eq!(lookup("claude-opus-4-5-20251101").unwrap().input, 5.0);
        assert_eq!(lookup("Claude-Opus-4-7").unwrap().input, 5.0);
        assert_eq!(lookup("claude-haiku-4-5-20251001").unwrap().output, 5.0);
        assert_eq!(lookup("claude-3-5-haiku-20241022").unwrap().input, 0.80);
        assert_eq!(lookup("gpt-5-codex").unwrap().input, 1.25);
        assert_eq!(lookup("openai/gpt-5-mini").unwrap().input, 0.25);
        assert_eq!(lookup("gpt-5.2-codex").unwrap().output, 14.0);
        assert_eq!(lookup("models/gemini-2.5-flash").unwrap().output, 2.50);
        assert_eq!(lookup("gemini-2.5-flash-lite").unwrap().output, 0.40);
        assert_eq!(lookup("gemini-2.5-pro").unwrap().cache_read, 0.125);
        assert_eq!(lookup("llama-3"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(cost("llama-3", &t(1, 1, 0, 0)), None);
    }

    #[test]
    fn users_add_and_override_models() {
        let mine = p(0.5, 1.0, 0.5, 0.05);
        let user = vec![
            ("llama-3".to_string(), mine),
            ("gpt-5".to_string(), p(9.0, 9.0, 9.0, 0.9)),
        ];
        assert_eq!(lookup_in(&user, "llama-3-70b"), Some(mine));
        assert_eq!(lookup_in(&user, "gpt-5-codex").unwrap().input, 9.0);
        // A longer built-in prefix still wins over a shorter user row.
        assert_eq!(lookup_in(&user, "gpt-5-mini").unwrap().input, 0.25);
        assert_eq!(lookup_in(&user, "mistral"), None);
    }

    #[test]
    fn prices_sonnet_like_the_fixtures() {
        // claude-stream-success.ndjson: its result says total_cost_usd 0.074052.
        let c = cost("claude-sonnet-4-5-20250929", &t(24, 1187, 69_600, 9412)).unwrap();
        assert!((c - 0.074_052).abs() < 1e-12, "{c}");
    }

    #[test]
    fn one_hour_cache_writes_cost_twice_the_input() {
        let price = lookup("claude-sonnet-4-5").unwrap();
        let c = cost_at(price, &t(0, 0, 0, 1_000_000), 400_000);
        assert!((c - (0.6 * 3.75 + 0.4 * 6.0)).abs() < 1e-9, "{c}");
    }

    #[test]
    fn table_is_sane() {
        for (prefix, price) in PRICES {
            assert_eq!(*prefix, prefix.to_ascii_lowercase());
            for v in [
                price.input,
                price.output,
                price.cache_write,
                price.cache_read,
            ] {
                assert!(v.is_finite() && v >= 0.0, "{prefix}");
            }
            assert!(price.cache_read <= price.input, "{prefix}");
        }
    }
}
