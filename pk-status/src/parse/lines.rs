//! `lines`: any text, for a shell or a custom command without a structured transcript. Each
//! line is activity (at the time it was read) and makes the track `working`; silence turns it
//! `idle` ([`crate::apply_idle`]) and the pane's exit decides the end ([`crate::apply_exit`]).
//! No tokens, no cost, no tool.

use super::Ctx;
use crate::state::TrackState;

pub(crate) fn line(ctx: &mut Ctx, now: i64) {
    ctx.set_state(TrackState::Working, now);
}
