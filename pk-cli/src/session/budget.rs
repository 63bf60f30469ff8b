//! Budgets enforced (design §10): the small file per track (`tracks/<track>/budget.json`, beside
//! the hook event file) that the watcher keeps and the Claude hook reads, and the words that
//! tell the agent and the user why pk stopped a track.
//!
//! The hook must decide in a few milliseconds, so it reads only this file (a few dozen bytes):
//! never a transcript. The watcher, which reads the transcripts anyway, writes it the moment a
//! track's state against its budget changes, before it interrupts the agent.

use crate::error::{Context, Result};
use pk_status::budget::{BudgetUse, Scope};
use pk_status::render::format_cost;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The file's name in a track's folder.
pub(crate) const BUDGET_FILE: &str = "budget.json";

/// What the watcher tells the track's hooks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BudgetFile {
    /// The track may not spend more: its tool calls are denied.
    pub over: bool,
    /// Why, in words the agent reads (the hook's deny reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl BudgetFile {
    /// The file for a track's budget as it stands.
    pub(crate) fn of(track: &str, budget: Option<&BudgetUse>) -> BudgetFile {
        match budget {
            Some(b) if b.over() => BudgetFile {
                over: true,
                reason: Some(deny_reason(track, b)),
            },
            _ => BudgetFile::default(),
        }
    }
}

/// Whether a track's transcript carries no usage at all (a shell, a custom command without a
/// transcript or with `lines` or `claude-hooks`): its cost, and so its budget, is unknown.
pub(crate) fn carries_no_cost(rec: &crate::session::state::TrackRecord) -> bool {
    use crate::session::transcript::Source;
    use pk_status::Format;
    match &rec.transcript {
        None => true,
        Some(Source::File { format, .. }) => matches!(format, Format::Lines | Format::ClaudeHooks),
        Some(_) => false,
    }
}

/// How pk stops an agent whose budget is spent, as a person would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// Escape in its pane: interactive Claude Code and Codex end the turn (and Claude's hook
    /// denies every further tool call).
    Escape,
    /// SIGINT to the agent process alone (Ctrl-C): the headless agents and custom commands.
    Sigint,
    /// A shell: nothing to interrupt.
    Nothing,
}

/// The interrupt of a track's agent: a headless preset (its stream kept by `pk agent-run`) gets
/// SIGINT; otherwise the launch label ([`crate::session::agent::label`]) tells.
pub(crate) fn interrupt_for(launch: &crate::session::state::Launch) -> Interrupt {
    if launch.tee.is_some() {
        return Interrupt::Sigint;
    }
    match launch.agent.as_str() {
        "claude" | "codex" => Interrupt::Escape,
        "shell" => Interrupt::Nothing,
        _ => Interrupt::Sigint,
    }
}

/// The file of the track whose folder is `track_dir`.
pub(crate) fn path(track_dir: &Path) -> PathBuf {
    track_dir.join(BUDGET_FILE)
}

/// The file beside a track's hook event file (how `pk hook` finds it).
pub(crate) fn beside_events(events: &Path) -> Option<PathBuf> {
    events.parent().map(path)
}

/// Reads the file; `None` when it is missing or not one (the track is then not stopped).
pub(crate) fn load(file: &Path) -> Option<BudgetFile> {
    serde_json::from_slice(&std::fs::read(file).ok()?).ok()
}

/// Writes the file atomically (the hook never reads half of it). Never makes the folder: it is
/// `pk up`'s, and gone after `pk down`.
pub(crate) fn save(file: &Path, budget: &BudgetFile) -> Result<()> {
    let bytes = serde_json::to_vec(budget).context("failed to encode the budget file")?;
    crate::util::fs::write_atomically_in_place(file, &bytes)
}

/// `$1.02 of the track's $1.00 budget` / `$4.10 of the session's $4.00 budget`.
pub(crate) fn spent_text(b: &BudgetUse) -> String {
    let whose = match b.scope {
        Scope::Track => "the track's",
        Scope::Session => "the session's",
    };
    format!(
        "{} of {whose} {} budget",
        format_cost(b.spent_usd),
        format_cost(b.limit_usd)
    )
}

/// What the agent reads when pk denies its tool call: why, and that it should stop.
pub(crate) fn deny_reason(track: &str, b: &BudgetUse) -> String {
    let key = match b.scope {
        Scope::Track => format!("the track's `budget_usd` (track `{track}`)"),
        Scope::Session => "`[session] budget_usd`".to_string(),
    };
    format!(
        "pk: budget spent ({}). Do not call any more tools: stop here and tell the user. \
         pk allows tool calls again once the user raises {key} in the plan and runs `pk up`.",
        spent_text(b)
    )
}

/// The output of pk's PreToolUse hook for a track whose budget file says `budget`: a denial
/// with its reason (Claude Code's hook output; the reason is shown to the model), or nothing
/// (the call goes on as usual: pk's hook never allows what Claude would ask about).
pub(crate) fn pre_tool_use_output(budget: Option<&BudgetFile>) -> Option<Value> {
    let b = budget.filter(|b| b.over)?;
    let reason = b
        .reason
        .clone()
        .unwrap_or_else(|| "pk: this track's budget is spent.".to_string());
    Some(json!({
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(spent: f64, limit: f64, scope: Scope) -> BudgetUse {
        BudgetUse {
            scope,
            limit_usd: limit,
            spent_usd: spent,
            cost_unknown: false,
        }
    }

    #[test]
    fn the_hook_denies_only_when_over_and_says_why() {
        let over = BudgetFile::of("api", Some(&used(1.02, 1.0, Scope::Track)));
        assert!(over.over);
        let out = pre_tool_use_output(Some(&over)).unwrap();
        let h = &out["hookSpecificOutput"];
        assert_eq!(h["hookEventName"], "PreToolUse");
        assert_eq!(h["permissionDecision"], "deny");
        let reason = h["permissionDecisionReason"].as_str().unwrap();
        assert!(
            reason.contains("$1.02 of the track's $1.00 budget") && reason.contains("`pk up`"),
            "{reason}"
        );
        // Near, under, no budget, no file: the hook says nothing.
        for b in [
            BudgetFile::of("api", Some(&used(0.9, 1.0, Scope::Track))),
            BudgetFile::of("api", None),
        ] {
            assert_eq!(b, BudgetFile::default());
            assert_eq!(pre_tool_use_output(Some(&b)), None);
        }
        assert_eq!(pre_tool_use_output(None), None);
        // An unknown cost is never enforced.
        let unknown = BudgetUse {
            cost_unknown: true,
            ..used(9.0, 1.0, Scope::Track)
        };
        assert!(!BudgetFile::of("api", Some(&unknown)).over);
        let session = deny_reason("api", &used(4.1, 4.0, Scope::Session));
        assert!(session.contains("`[session] budget_usd`"), "{session}");
    }

    #[test]
    fn interactive_agents_get_escape_headless_ones_sigint() {
        use crate::session::state::{Launch, Tee};
        let launch = |agent: &str, headless: bool| Launch {
            agent: agent.into(),
            tee: headless.then(|| Tee {
                path: "/t".into(),
                format: pk_status::Format::ClaudeStream,
            }),
            ..Launch::default()
        };
        assert_eq!(interrupt_for(&launch("claude", false)), Interrupt::Escape);
        assert_eq!(interrupt_for(&launch("codex", false)), Interrupt::Escape);
        for headless in ["claude-headless", "codex-exec", "gemini"] {
            let l = launch(headless, true);
            assert_eq!(interrupt_for(&l), Interrupt::Sigint, "{headless}");
        }
        assert_eq!(interrupt_for(&launch("my-agent", false)), Interrupt::Sigint);
        assert_eq!(interrupt_for(&launch("shell", false)), Interrupt::Nothing);
    }

    #[test]
    fn the_file_round_trips_beside_the_events_and_never_makes_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let events = dir.path().join("events.ndjson");
        let file = beside_events(&events).unwrap();
        assert_eq!(file, dir.path().join(BUDGET_FILE));
        assert_eq!(load(&file), None);
        let over = BudgetFile::of("api", Some(&used(2.0, 1.0, Scope::Track)));
        save(&file, &over).unwrap();
        assert_eq!(load(&file), Some(over));
        std::fs::write(&file, "{\"over\":").unwrap();
        assert_eq!(load(&file), None, "a torn file stops nothing");
        assert!(
            save(
                &dir.path().join("gone").join(BUDGET_FILE),
                &BudgetFile::default()
            )
            .is_err()
        );
    }
}
