//! `pk serve`: the web view (see [`crate::web`]).

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::session::workspace::Workspace;
use clap::Args;
use std::net::IpAddr;

/// Serve a page to watch the agents and answer them from a phone.
///
/// Every track as the bar shows it, live, with the last lines of its pane; a waiting track can
/// be approved, denied or answered with a short reply (keys typed into that agent's pane
/// only). Listens on 127.0.0.1 unless --bind says otherwise; every request needs the token of
/// the link it prints (also as a QR code). Reach it from a phone through an ssh tunnel or a
/// private network (Tailscale, WireGuard), never the open internet.
///
/// Examples:
///   pk serve                          # http://127.0.0.1:7477/?token=…
///   pk serve --bind 100.64.0.5        # this machine's Tailscale address
///   pk serve --rotate-token           # a new link; the old one stops working
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// The port (0: any free one).
    #[arg(long, default_value_t = crate::web::DEFAULT_PORT, value_name = "N")]
    pub port: u16,
    /// Make a new token: the old link stops working, also for a `pk serve` that runs.
    #[arg(long)]
    pub rotate_token: bool,
}

/// Runs `pk serve`.
pub fn run(ctx: &Ctx, args: &ServeArgs) -> Result<()> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    crate::web::serve(
        ctx,
        &ws,
        &crate::web::Options {
            bind: args.bind,
            port: args.port,
            rotate_token: args.rotate_token,
        },
    )
}
