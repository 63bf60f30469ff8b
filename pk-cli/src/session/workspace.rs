//! Opening the world a command acts on: the plan file, its repository, the plan itself and the
//! folder of the session's state.

use crate::ctx::Ctx;
use crate::error::Result;
use crate::plan::{self, Plan};
use crate::session::state::{self, State};
use crate::sys::git::Git;
use std::path::{Path, PathBuf};

/// A loaded plan with its repository.
#[derive(Debug)]
pub(crate) struct Workspace {
    /// The repository.
    pub git: Git,
    /// The validated plan.
    pub plan: Plan,
    /// `.git/pk/<session>/`.
    pub state_dir: PathBuf,
}

impl Workspace {
    /// Finds and loads the plan (`explicit`, or `parallel.toml` here or above).
    pub(crate) fn open(ctx: &Ctx, explicit: Option<&Path>) -> Result<Workspace> {
        let path = plan::find_plan(explicit, &ctx.cwd)?;
        let path = crate::util::fs::canonical(&path);
        let dir = path.parent().unwrap_or(Path::new("/"));
        let mut git = Git::discover(dir)?;
        git.set_verbose(ctx.verbose);
        let env = |k: &str| std::env::var(k).ok();
        let plan = plan::load(&path, &git, &env)?;
        let state_dir = state::session_dir(git.common_dir(), &plan.session.name);
        Ok(Workspace {
            git,
            plan,
            state_dir,
        })
    }

    /// The session's recorded state, if pk has set it up.
    pub(crate) fn state(&self) -> Result<Option<State>> {
        State::load(&self.state_dir)
    }

    /// The multiplexer of this session (see [`crate::sys::mux::Mux::of`]).
    pub(crate) fn mux(&self, ctx: &Ctx, state: Option<&State>) -> crate::sys::mux::Mux {
        crate::sys::mux::Mux::of(
            ctx,
            state.map(State::mux_record),
            self.plan.session.multiplexer,
        )
    }

    /// One port request per track of the plan that runs here (a host's tracks take ports from
    /// the host's registry); blocks the state already records are kept (a
    /// track's ports never change while it is up), unless the plan changed the block size.
    pub(crate) fn port_requests<'a>(
        &'a self,
        state: Option<&State>,
    ) -> Vec<crate::session::ports::Request<'a>> {
        let plan = &self.plan;
        plan.tracks
            .iter()
            .filter(|t| t.host.is_none())
            .map(|t| crate::session::ports::Request {
                track: &t.name,
                base: plan.ports.base,
                len: plan.ports.per_track,
                keep: state
                    .and_then(|s| s.track(&t.name))
                    .filter(|r| r.port_count == plan.ports.per_track)
                    .map(|r| r.port_block),
            })
            .collect()
    }
}
