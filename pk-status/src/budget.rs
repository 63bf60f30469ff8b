//! Budgets (design §10): where each track stands against the `budget_usd` of its own and of
//! its session, and the `over-budget` state once either is spent.
//!
//! Pure: the watcher and `pk status` hand the statuses and the budgets in; the watcher acts on
//! the result (it keeps the file the Claude hook reads and interrupts the agent).

use crate::state::TrackState;
use crate::status::TrackStatus;
use serde::{Deserialize, Serialize};

/// From this share of a budget on, the bar marks the track.
pub const NEAR: f64 = 0.8;

/// Whose budget binds a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The track's own `budget_usd`.
    Track,
    /// The session's `budget_usd`, against the total of every track.
    Session,
}

/// How far a track is into the budget that binds it most.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetUse {
    /// Whose budget.
    pub scope: Scope,
    /// The budget, US dollars.
    pub limit_usd: f64,
    /// What was spent against it: the track's cost, or the session's known total.
    pub spent_usd: f64,
    /// The track's cost cannot be known (no price for its model, or no usage in its
    /// transcript): its own budget is not enforced.
    #[serde(default)]
    pub cost_unknown: bool,
}

impl BudgetUse {
    /// `spent / limit` (infinite for a zero budget with anything spent).
    pub fn share(&self) -> f64 {
        if self.limit_usd > 0.0 {
            self.spent_usd / self.limit_usd
        } else if self.spent_usd > 0.0 {
            f64::INFINITY
        } else {
            1.0
        }
    }

    /// Spent: the agent must stop. Never on a cost pk cannot know.
    pub fn over(&self) -> bool {
        !self.cost_unknown && self.spent_usd >= self.limit_usd
    }

    /// At [`NEAR`] or more of the budget, not yet over: the bar marks the track.
    pub fn near(&self) -> bool {
        !self.cost_unknown && !self.over() && self.share() >= NEAR
    }
}

/// Whether pk knows what a track cost: the agent reported it, or every token it used is of a
/// model with a price (the built-in table or the user's). Tokens of a model without one are
/// left out of `cost_usd` ([`TrackStatus::unpriced`]), and a budget is not enforced on a part.
pub fn cost_known(s: &TrackStatus) -> bool {
    s.cost_is_reported || !s.unpriced
}

/// What the session spent as far as pk knows: the sum of the costs it knows (see
/// [`apply_budgets`] for `no_cost`).
pub fn session_spent(statuses: &[TrackStatus], no_cost: &[bool]) -> f64 {
    statuses
        .iter()
        .enumerate()
        .filter(|(i, s)| !no_cost.get(*i).copied().unwrap_or(false) && cost_known(s))
        .map(|(_, s)| finite(s.cost_usd))
        .sum()
}

/// Applies the budgets to the statuses of a session's tracks (in the same order as
/// `track_budgets`): each gets the [`BudgetUse`] that binds it most, and a track whose own
/// budget, or whose session's, is spent turns [`TrackState::OverBudget`].
///
/// The session's spending is the sum of the costs pk knows; `cost_unknown` marks a track
/// whose own cost it does not (that track's budget is then only shown, not enforced).
/// `no_cost` says, per track, that its transcript carries no usage at all (a custom command's
/// `lines`, a shell): its cost is unknown however much it works.
pub fn apply_budgets(
    statuses: &mut [TrackStatus],
    track_budgets: &[Option<f64>],
    no_cost: &[bool],
    session_budget: Option<f64>,
) {
    let known =
        |i: usize, s: &TrackStatus| !no_cost.get(i).copied().unwrap_or(false) && cost_known(s);
    let session_spent = session_spent(statuses, no_cost);
    for (i, s) in statuses.iter_mut().enumerate() {
        let own = track_budgets
            .get(i)
            .copied()
            .flatten()
            .map(|limit| BudgetUse {
                scope: Scope::Track,
                limit_usd: limit,
                spent_usd: finite(s.cost_usd),
                cost_unknown: !known(i, s),
            });
        let session = session_budget.map(|limit| BudgetUse {
            scope: Scope::Session,
            limit_usd: limit,
            spent_usd: session_spent,
            cost_unknown: false,
        });
        s.budget = match (own, session) {
            (Some(a), Some(b)) => Some(most_binding(a, b)),
            (a, b) => a.or(b),
        };
        if s.budget.is_some_and(|b| b.over()) {
            s.state = TrackState::OverBudget;
        }
    }
}

/// The budget that stops the track first: an enforced one before one that is not, then the
/// larger share.
fn most_binding(a: BudgetUse, b: BudgetUse) -> BudgetUse {
    match (a.cost_unknown, b.cost_unknown) {
        (true, false) => b,
        (false, true) => a,
        _ if b.share() > a.share() => b,
        _ => a,
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Tokens;

    fn spent(cost: f64, state: TrackState) -> TrackStatus {
        TrackStatus {
            state,
            cost_usd: cost,
            tokens: Tokens {
                output: 1000,
                ..Tokens::default()
            },
            model: Some("claude-sonnet-4-5".into()),
            ..TrackStatus::default()
        }
    }

    #[test]
    fn thresholds_at_80_and_100_percent() {
        let at = |cost| {
            let mut s = [spent(cost, TrackState::Working)];
            apply_budgets(&mut s, &[Some(1.0)], &[false], None);
            let b = s[0].budget.unwrap();
            (b.near(), b.over(), s[0].state)
        };
        assert_eq!(at(0.79), (false, false, TrackState::Working));
        assert_eq!(at(0.80), (true, false, TrackState::Working));
        assert_eq!(at(0.99), (true, false, TrackState::Working));
        assert_eq!(at(1.00), (false, true, TrackState::OverBudget));
        assert_eq!(at(3.00), (false, true, TrackState::OverBudget));
    }

    #[test]
    fn over_budget_replaces_any_state_and_clears_when_raised() {
        for state in [
            TrackState::Starting,
            TrackState::Working,
            TrackState::Waiting,
            TrackState::Done,
            TrackState::Error,
            TrackState::Exited,
        ] {
            let mut s = [spent(2.0, state)];
            apply_budgets(&mut s, &[Some(1.0)], &[false], None);
            assert_eq!(s[0].state, TrackState::OverBudget, "{state}");
            // The raised budget applies to the status as read (the watcher applies it to
            // every fresh status): the state it had.
            let mut raised = [spent(2.0, state)];
            apply_budgets(&mut raised, &[Some(5.0)], &[false], None);
            assert_eq!(raised[0].state, state);
            assert!(!raised[0].budget.unwrap().near());
        }
        let mut none = [spent(2.0, TrackState::Working)];
        apply_budgets(&mut none, &[None], &[false], None);
        assert_eq!((none[0].state, none[0].budget), (TrackState::Working, None));
    }

    #[test]
    fn the_session_budget_counts_every_track_and_stops_them_all() {
        let mut s = [
            spent(0.5, TrackState::Working),
            spent(0.45, TrackState::Done),
        ];
        apply_budgets(&mut s, &[None, Some(10.0)], &[false, false], Some(1.0));
        let b = s[0].budget.unwrap();
        assert_eq!((b.scope, b.near()), (Scope::Session, true));
        assert!((b.spent_usd - 0.95).abs() < 1e-9);
        // The session's share (95%) binds the second track more than its own (4.5%).
        assert_eq!(s[1].budget.unwrap().scope, Scope::Session);
        s[1].cost_usd = 0.5;
        apply_budgets(&mut s, &[None, Some(10.0)], &[false, false], Some(1.0));
        assert!(s.iter().all(|t| t.state == TrackState::OverBudget));
    }

    #[test]
    fn an_unknown_cost_is_not_enforced() {
        let mut unpriced = spent(5.0, TrackState::Working);
        unpriced.model = Some("my-local-model".into());
        unpriced.unpriced = true;
        assert!(!cost_known(&unpriced));
        let mut s = [unpriced.clone()];
        apply_budgets(&mut s, &[Some(1.0)], &[false], None);
        let b = s[0].budget.unwrap();
        assert!(b.cost_unknown && !b.over() && !b.near());
        assert_eq!(s[0].state, TrackState::Working);
        // Reported by the agent: known whatever the model.
        unpriced.cost_is_reported = true;
        assert!(cost_known(&unpriced));
        // Nothing used yet: known (zero).
        assert!(cost_known(&TrackStatus::default()));
        // A transcript without usage: never known.
        let mut s = [TrackStatus::default()];
        apply_budgets(&mut s, &[Some(0.0)], &[true], None);
        assert!(s[0].budget.unwrap().cost_unknown);
        assert_eq!(s[0].state, TrackState::Starting);
        // Unknown costs are left out of the session's total, not guessed.
        let mut s = [spent(0.5, TrackState::Working), {
            let mut u = spent(9.0, TrackState::Working);
            u.model = None;
            u.unpriced = true;
            u
        }];
        apply_budgets(&mut s, &[None, None], &[false, false], Some(1.0));
        assert!((s[0].budget.unwrap().spent_usd - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_zero_budget_allows_nothing() {
        let mut s = [spent(0.01, TrackState::Working)];
        apply_budgets(&mut s, &[Some(0.0)], &[false], None);
        assert_eq!(s[0].state, TrackState::OverBudget);
    }
}
