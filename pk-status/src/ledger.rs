//! Token and cost accounting shared by the parsers.
//!
//! Three traps this exists for (formats notes §1.4, §2.4, §4):
//! - Claude writes one API response as several lines repeating the same usage, the early copies
//!   with partial output counts: usage is keyed by `(message.id, requestId)` and the largest
//!   copy kept;
//! - Codex reports thread-cumulative totals: only the increase since the previous total counts;
//! - Claude headless reports its own running total for the process (`result.total_cost_usd`):
//!   that figure replaces what pk computed, and usage seen after it adds on top until the next
//!   report. A report smaller than the previous one means a new process started (the same
//!   transcript can hold several runs), so the previous run's figure is kept.
//!
//! Token sums are integers per model, priced when asked, so the figures do not depend on how
//! the input was chunked or in which order equal keys were replaced.
//!
//! A ledger is saved in checkpoints ([`crate::Checkpoint`]), so everything in it serializes,
//! and it stays small however long the transcript: the responses remembered for deduplication
//! are the last [`DEDUP_WINDOW`], by a hash of their key.

use crate::prices;
use crate::status::Tokens;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// One usage record: additive token counters, plus how many of the cache writes were one-hour
/// writes (Claude prices those differently).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Usage {
    pub tokens: Tokens,
    pub write_1h: u64,
}

impl Usage {
    fn total(&self) -> u64 {
        self.tokens.total()
    }

    fn plus(&self, o: &Usage) -> Usage {
        Usage {
            tokens: self.tokens.plus(&o.tokens),
            write_1h: self.write_1h.saturating_add(o.write_1h),
        }
    }

    /// `self - o`, or `None` when some counter went down (not an increase of the same total).
    fn minus(&self, o: &Usage) -> Option<Usage> {
        let (a, b) = (&self.tokens, &o.tokens);
        Some(Usage {
            tokens: Tokens {
                input: a.input.checked_sub(b.input)?,
                output: a.output.checked_sub(b.output)?,
                cache_read: a.cache_read.checked_sub(b.cache_read)?,
                cache_write: a.cache_write.checked_sub(b.cache_write)?,
            },
            write_1h: self.write_1h.checked_sub(o.write_1h)?,
        })
    }
}

/// Tokens and cost as a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figures {
    pub tokens: Tokens,
    pub cost: f64,
}

impl Figures {
    fn plus(&self, o: &Figures) -> Figures {
        Figures {
            tokens: self.tokens.plus(&o.tokens),
            // Never infinite, whatever was reported.
            cost: (self.cost + o.cost).min(f64::MAX),
        }
    }

    fn less_than(&self, o: &Figures) -> bool {
        let (a, b) = (&self.tokens, &o.tokens);
        self.cost < o.cost
            || a.input < b.input
            || a.output < b.output
            || a.cache_read < b.cache_read
            || a.cache_write < b.cache_write
    }
}

/// Distinct responses remembered for deduplication. The copies of one Claude response are
/// written together (one line per content block, then the final usage), with at most the lines
/// of a few concurrent sub-agents between them; 512 keys is far more than that gap, and keeps a
/// ledger's memory and checkpoint size fixed (about 50 bytes a key) however long the session.
pub(crate) const DEDUP_WINDOW: usize = 512;

/// One remembered response. Saved as a tuple, `[key, model, [input, output, cache_read,
/// cache_write, write_1h], sidechain, epoch]`: checkpoints hold hundreds of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "SavedEntry", into = "SavedEntry")]
struct Entry {
    key: u64,
    model: Box<str>,
    usage: Usage,
    sidechain: bool,
    epoch: u32,
}

type SavedEntry = (u64, Box<str>, [u64; 5], bool, u32);

impl From<SavedEntry> for Entry {
    fn from(
        (key, model, [input, output, cache_read, cache_write, write_1h], sidechain, epoch): SavedEntry,
    ) -> Entry {
        let tokens = Tokens {
            input,
            output,
            cache_read,
            cache_write,
        };
        Entry {
            key,
            model,
            usage: Usage { tokens, write_1h },
            sidechain,
            epoch,
        }
    }
}

impl From<Entry> for SavedEntry {
    fn from(e: Entry) -> SavedEntry {
        let t = e.usage.tokens;
        let counts = [
            t.input,
            t.output,
            t.cache_read,
            t.cache_write,
            e.usage.write_1h,
        ];
        (e.key, e.model, counts, e.sidechain, e.epoch)
    }
}

/// The last [`DEDUP_WINDOW`] responses, by the hash of their key, oldest first. Serialized as
/// that list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "VecDeque<Entry>", into = "VecDeque<Entry>")]
struct Recent {
    entries: VecDeque<Entry>,
    /// Key hash → position in `entries` counted from the start of the window's history
    /// (`index - evicted` is the position now).
    index: HashMap<u64, u64>,
    evicted: u64,
}

impl Recent {
    fn get_mut(&mut self, key: u64) -> Option<&mut Entry> {
        let at = self.index.get(&key)? - self.evicted;
        self.entries.get_mut(at as usize)
    }

    /// Remembers a response not remembered yet, forgetting the oldest beyond the window.
    fn insert(&mut self, entry: Entry) {
        if self.entries.len() == DEDUP_WINDOW
            && let Some(old) = self.entries.pop_front()
        {
            self.index.remove(&old.key);
            self.evicted += 1;
        }
        self.index
            .insert(entry.key, self.evicted + self.entries.len() as u64);
        self.entries.push_back(entry);
    }
}

/// The same responses remembered: the positions are bookkeeping (counted from 0 again when
/// read back from a checkpoint).
impl PartialEq for Recent {
    fn eq(&self, other: &Recent) -> bool {
        self.entries == other.entries
    }
}

impl From<VecDeque<Entry>> for Recent {
    fn from(entries: VecDeque<Entry>) -> Recent {
        let mut recent = Recent::default();
        // Through insert: a saved list that repeats a key or is too long stays consistent.
        for e in entries {
            if recent.get_mut(e.key).is_none() {
                recent.insert(e);
            }
        }
        recent
    }
}

impl From<Recent> for VecDeque<Entry> {
    fn from(recent: Recent) -> VecDeque<Entry> {
        recent.entries
    }
}

/// The key of a response: FNV-1a of its id and request id. Stable across builds (checkpoints
/// outlive the process), and 64 bits make a collision within the window vanishingly rare.
fn key_hash(id: &str, request: Option<&str>) -> u64 {
    let h = crate::Fnv1a::new().write(id.as_bytes());
    match request {
        // A separator no id holds, so ("ab", "c") and ("a", "bc") differ.
        Some(r) => h.write(&[0xff]).write(r.as_bytes()).finish(),
        None => h.finish(),
    }
}

/// What [`Ledger::add_dedup`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// First record with this key.
    New,
    /// A better copy of a known key replaced the previous one.
    Replaced,
    /// A copy no better than the known one, or already covered by a report.
    Ignored,
}

/// The accounts of one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    /// Prices usage whose model the source does not name.
    fallback_model: String,
    /// Figures of earlier processes.
    carried: Figures,
    /// Whether `carried` holds priced (not reported) figures.
    carried_priced: bool,
    /// Whether `carried` left tokens of a model pk has no price for out of its cost.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    carried_unpriced: bool,
    /// The current process's last reported running total.
    reported: Option<Figures>,
    /// Usage not covered by a report, per model ("" when unknown).
    live: BTreeMap<String, Usage>,
    seen: Recent,
    /// Incremented by each report: entries of older epochs are covered by it.
    epoch: u32,
    cumulative: HashMap<String, Usage>,
}

impl Ledger {
    pub fn new(fallback_model: &str) -> Self {
        Ledger {
            fallback_model: fallback_model.to_string(),
            ..Ledger::default()
        }
    }

    /// Prices usage of unnamed models with `model` from now on (also what was counted).
    pub fn set_fallback_model(&mut self, model: &str) {
        self.fallback_model = model.to_string();
    }

    /// Adds a record that has no duplicates.
    pub fn add(&mut self, model: &str, u: Usage) {
        // The model is known but for the first record of each.
        match self.live.get_mut(model) {
            Some(slot) => *slot = slot.plus(&u),
            None => {
                self.live.insert(model.to_string(), u);
            }
        }
    }

    fn remove(&mut self, model: &str, u: &Usage) {
        if let Some(slot) = self.live.get_mut(model) {
            *slot = slot.minus(u).unwrap_or_default();
        }
    }

    /// Adds a record that may repeat under the same `id` and `request` (a Claude response: its
    /// message id and request id); keeps the non-sidechain copy over a sidechain one, else the
    /// copy with the most tokens (later copies of a Claude response carry the final output
    /// count).
    pub fn add_dedup(
        &mut self,
        id: &str,
        request: Option<&str>,
        model: &str,
        u: Usage,
        sidechain: bool,
    ) -> Added {
        let key = key_hash(id, request);
        let epoch = self.epoch;
        let Some(e) = self.seen.get_mut(key) else {
            self.add(model, u);
            self.seen.insert(Entry {
                key,
                model: model.into(),
                usage: u,
                sidechain,
                epoch,
            });
            return Added::New;
        };
        let better = (e.sidechain && !sidechain)
            || (e.sidechain == sidechain && u.total() > e.usage.total());
        if e.epoch != epoch || !better {
            return Added::Ignored;
        }
        let old = std::mem::replace(&mut e.usage, u);
        e.sidechain = sidechain;
        let old_model = (&*e.model != model).then(|| std::mem::replace(&mut e.model, model.into()));
        self.remove(old_model.as_deref().unwrap_or(model), &old);
        self.add(model, u);
        Added::Replaced
    }

    /// Adds the increase of a cumulative total kept under `stream` (a Codex thread). A total
    /// that went down starts a new count. Returns whether anything was added.
    pub fn add_cumulative(&mut self, stream: &str, model: &str, total: Usage) -> bool {
        let delta = match self.cumulative.get(stream) {
            Some(prev) => total.minus(prev).unwrap_or(total),
            None => total,
        };
        self.cumulative.insert(stream.to_string(), total);
        if delta == Usage::default() {
            return false;
        }
        self.add(model, delta);
        true
    }

    /// Records the agent's own running total for its process.
    pub fn report(&mut self, f: Figures) {
        if let Some(prev) = self.reported
            && f.less_than(&prev)
        {
            self.carried = self.carried.plus(&prev);
        }
        self.reported = Some(f);
        self.live.clear();
        self.epoch = self.epoch.saturating_add(1);
    }

    /// A new agent process starts writing to the same source: what was counted so far stays,
    /// and its next report starts from zero.
    pub fn new_process(&mut self) {
        let (tokens, cost, reported) = self.totals();
        if tokens == Tokens::default() && cost == 0.0 {
            return;
        }
        self.carried_unpriced |= self.unpriced();
        self.carried = Figures { tokens, cost };
        self.carried_priced |= !reported;
        self.reported = None;
        self.live.clear();
        self.epoch = self.epoch.saturating_add(1);
    }

    /// The model that prices usage recorded under `model`.
    fn pricing<'a>(&'a self, model: &'a str) -> &'a str {
        if model.is_empty() {
            &self.fallback_model
        } else {
            model
        }
    }

    /// True when some tokens are of a model pk has no price for: [`Ledger::totals`]' cost
    /// leaves them out.
    pub fn unpriced(&self) -> bool {
        self.carried_unpriced
            || self.live.iter().any(|(model, u)| {
                u.tokens.total() > 0 && prices::lookup(self.pricing(model)).is_none()
            })
    }

    /// Tokens, cost (of the tokens pk can price, see [`Ledger::unpriced`]), and whether the
    /// cost is exactly the agent's own figure.
    pub fn totals(&self) -> (Tokens, f64, bool) {
        let mut f = self.carried.plus(&self.reported.unwrap_or_default());
        for (model, u) in &self.live {
            let cost = prices::lookup(self.pricing(model))
                .map_or(0.0, |price| prices::cost_at(price, &u.tokens, u.write_1h));
            f = f.plus(&Figures {
                tokens: u.tokens,
                cost,
            });
        }
        let reported = self.reported.is_some()
            && !self.carried_priced
            && self.live.values().all(|u| *u == Usage::default());
        (f.tokens, f.cost, reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(input: u64, output: u64) -> Usage {
        Usage {
            tokens: Tokens {
                input,
                output,
                ..Tokens::default()
            },
            write_1h: 0,
        }
    }

    #[test]
    fn dedup_keeps_the_largest_copy() {
        let mut l = Ledger::new("claude-sonnet-4-5");
        assert_eq!(
            l.add_dedup("m1", None, "claude-sonnet-4-5", u(3, 9), false),
            Added::New
        );
        assert_eq!(
            l.add_dedup("m1", None, "claude-sonnet-4-5", u(3, 187), false),
            Added::Replaced
        );
        assert_eq!(
            l.add_dedup("m1", None, "claude-sonnet-4-5", u(3, 9), false),
            Added::Ignored
        );
        assert_eq!(l.totals().0.output, 187);
        // A main-chain copy wins over a sidechain copy even if smaller.
        l.add_dedup("m2", None, "claude-sonnet-4-5", u(0, 50), true);
        assert_eq!(
            l.add_dedup("m2", None, "claude-sonnet-4-5", u(0, 40), false),
            Added::Replaced
        );
        assert_eq!(l.totals().0.output, 227);
    }

    #[test]
    fn cumulative_totals_count_increases_only() {
        let mut l = Ledger::new("gpt-5");
        assert!(l.add_cumulative("t", "", u(100, 10)));
        assert!(!l.add_cumulative("t", "", u(100, 10)));
        assert!(l.add_cumulative("t", "", u(150, 30)));
        assert_eq!(l.totals().0, u(150, 30).tokens);
        // Another thread counts separately.
        l.add_cumulative("t2", "", u(5, 5));
        assert_eq!(l.totals().0, u(155, 35).tokens);
        // A total that went down is a new count.
        l.add_cumulative("t", "", u(7, 1));
        assert_eq!(l.totals().0, u(162, 36).tokens);
    }

    #[test]
    fn reports_replace_and_later_usage_adds() {
        let mut l = Ledger::new("claude-sonnet-4-5");
        l.add_dedup("m1", None, "claude-sonnet-4-5", u(10, 10), false);
        let rep = Figures {
            tokens: u(10, 10).tokens,
            cost: 1.0,
        };
        l.report(rep);
        assert_eq!(l.totals(), (u(10, 10).tokens, 1.0, true));
        // A copy of an already reported message changes nothing.
        l.add_dedup("m1", None, "claude-sonnet-4-5", u(10, 99), false);
        assert_eq!(l.totals(), (u(10, 10).tokens, 1.0, true));
        // The next turn adds on top until its report.
        l.add_dedup("m2", None, "claude-sonnet-4-5", u(0, 1_000_000), false);
        let (t, c, r) = l.totals();
        assert_eq!((t.output, c, r), (1_000_010, 16.0, false));
        l.report(Figures {
            tokens: u(20, 30).tokens,
            cost: 2.0,
        });
        assert_eq!(l.totals(), (u(20, 30).tokens, 2.0, true));
        // A smaller report: another process; the previous one's figures are kept.
        l.report(Figures {
            tokens: u(1, 1).tokens,
            cost: 0.5,
        });
        assert_eq!(l.totals(), (u(21, 31).tokens, 2.5, true));
    }

    #[test]
    fn new_process_carries_the_totals() {
        let mut l = Ledger::new("claude-sonnet-4-5");
        l.report(Figures {
            tokens: u(1, 1).tokens,
            cost: 3.0,
        });
        l.new_process();
        l.report(Figures {
            tokens: u(2, 2).tokens,
            cost: 4.0,
        });
        assert_eq!(l.totals(), (u(3, 3).tokens, 7.0, true));
    }

    #[test]
    fn unnamed_models_use_the_fallback_and_unknown_ones_are_not_priced() {
        let mut l = Ledger::new("gpt-5-codex");
        l.add("", u(1_000_000, 0));
        assert_eq!(l.totals().1, 1.25);
        assert!(!l.unpriced());
        l.add("llama-3", u(1_000_000, 0));
        assert_eq!(l.totals().1, 1.25);
        assert_eq!(l.totals().0.input, 2_000_000);
        assert!(l.unpriced());
        // Still unknown once carried over to a new process.
        l.new_process();
        assert!(l.unpriced());
        let mut none = Ledger::new("");
        none.add("", u(10, 10));
        assert_eq!(none.totals().1, 0.0);
        assert!(none.unpriced());
    }

    #[test]
    fn dedup_remembers_the_last_window_of_responses() {
        let mut l = Ledger::new("claude-sonnet-4-5");
        let model = "claude-sonnet-4-5";
        for i in 0..DEDUP_WINDOW + 10 {
            let id = format!("m{i}");
            assert_eq!(
                l.add_dedup(&id, Some("r"), model, u(1, 1), false),
                Added::New
            );
            // A copy of the response before is still known.
            if i > 0 {
                let prev = format!("m{}", i - 1);
                assert_eq!(
                    l.add_dedup(&prev, Some("r"), model, u(1, 1), false),
                    Added::Ignored
                );
            }
        }
        assert_eq!(l.seen.entries.len(), DEDUP_WINDOW);
        assert_eq!(l.seen.index.len(), DEDUP_WINDOW);
        let last = format!("m{}", DEDUP_WINDOW + 9);
        assert_eq!(
            l.add_dedup(&last, Some("r"), model, u(1, 5), false),
            Added::Replaced
        );
        let n = (DEDUP_WINDOW + 10) as u64;
        assert_eq!(l.totals().0, u(n, n + 4).tokens);
        // The request id is part of the key.
        assert_eq!(
            l.add_dedup(&last, Some("r2"), model, u(1, 1), false),
            Added::New
        );
        assert_ne!(key_hash("ab", Some("c")), key_hash("a", Some("bc")));
        assert_ne!(key_hash("ab", None), key_hash("ab", Some("")));
    }

    #[test]
    fn a_ledger_reads_back_as_it_was_saved() {
        let mut l = Ledger::new("gpt-5");
        l.add_dedup("m1", Some("r"), "claude-opus-4-1", u(3, 9), true);
        l.add_cumulative("thread", "", u(100, 10));
        l.report(Figures {
            tokens: u(1, 2).tokens,
            cost: 0.1 + 0.2,
        });
        l.add_dedup("m2", None, "", u(7, 7), false);
        let text = serde_json::to_string(&l).unwrap();
        let mut back: Ledger = serde_json::from_str(&text).unwrap();
        assert_eq!(back, l);
        // And goes on the same way.
        for x in [&mut l, &mut back] {
            assert_eq!(x.add_dedup("m2", None, "", u(7, 9), false), Added::Replaced);
            assert_eq!(
                x.add_dedup("m1", Some("r"), "", u(3, 9), false),
                Added::Ignored
            );
        }
        assert_eq!(back.totals(), l.totals());
        // A damaged list (a key twice) still reads as a consistent window.
        let twice = r#"[[1,"",[0,0,0,0,0],false,0],[1,"x",[0,1,0,0,0],false,0]]"#;
        let r: Recent = serde_json::from_str(twice).unwrap();
        assert_eq!((r.entries.len(), r.index.len()), (1, 1));
    }

    #[test]
    fn a_ledger_past_its_window_reads_back_and_goes_on_the_same() {
        let model = "claude-sonnet-4-5";
        let mut l = Ledger::new(model);
        for i in 0..DEDUP_WINDOW + 100 {
            l.add_dedup(&format!("m{i}"), None, model, u(1, 1), false);
        }
        let mut back: Ledger = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
        // Copies on both sides of the window's edge, and new responses that push it on.
        for x in [&mut l, &mut back] {
            for i in [99, 100, 101, DEDUP_WINDOW + 99] {
                x.add_dedup(&format!("m{i}"), None, model, u(1, 2), false);
            }
            for i in 0..10 {
                x.add_dedup(&format!("n{i}"), None, model, u(1, 1), false);
            }
            x.add_dedup("m110", None, model, u(1, 3), false);
        }
        assert_eq!(back, l);
        assert_eq!(back.totals(), l.totals());
    }
}
