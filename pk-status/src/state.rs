//! The state of one track, as shown in the status bar and in `pk status --json`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a track's agent is doing, as far as pk can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrackState {
    /// The pane is up but the agent has not shown any activity yet.
    #[default]
    Starting,
    /// The agent is thinking, running a tool or writing.
    Working,
    /// The agent waits for its human: a permission prompt or a question.
    Waiting,
    /// The agent finished its turn or its run and waits for the next instruction.
    Done,
    /// The agent's run failed.
    Error,
    /// No activity for longer than the plan's `idle_after`.
    Idle,
    /// The agent's process ended.
    Exited,
    /// The track (or the session) spent its `budget_usd`: pk stopped the agent's spending.
    #[serde(rename = "over-budget")]
    OverBudget,
}

impl TrackState {
    /// The name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackState::Starting => "starting",
            TrackState::Working => "working",
            TrackState::Waiting => "waiting",
            TrackState::Done => "done",
            TrackState::Error => "error",
            TrackState::Idle => "idle",
            TrackState::Exited => "exited",
            TrackState::OverBudget => "over-budget",
        }
    }
}

impl fmt::Display for TrackState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_design_names() {
        let all = [
            TrackState::Starting,
            TrackState::Working,
            TrackState::Waiting,
            TrackState::Done,
            TrackState::Error,
            TrackState::Idle,
            TrackState::Exited,
            TrackState::OverBudget,
        ];
        for s in all {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
