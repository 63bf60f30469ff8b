//! `pk push-refused` (hidden): what git runs instead of pushing from a track when the plan
//! says `push = false` ([`crate::session::push_guard`]). Says why on stderr and fails, so that
//! git sends nothing.

use clap::Args;

/// Refuse a push from a track (run by git, see `push = false`).
#[derive(Debug, Args)]
pub struct PushRefusedArgs {
    /// The track.
    pub track: String,
    /// The plan file's name.
    pub plan: String,
    /// What git adds (the URL it was to push to).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Prints the refusal; exit 1.
pub fn run(args: &PushRefusedArgs) -> u8 {
    let track = pk_status::sanitize::clean(&args.track);
    let plan = pk_status::sanitize::clean(&args.plan);
    eprintln!("{}", crate::session::push_guard::message(&track, &plan));
    1
}
