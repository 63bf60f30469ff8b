//! What pk makes and unmakes: the record of a session (`state`), its lock, the port blocks, the
//! approvals of a shared plan's commands, the workspace a command runs in, the agent presets, the
//! environment and prompts handed to each track, and the work `pk down` must never lose.

pub mod agent;
pub mod approval;
pub(crate) mod budget;
pub(crate) mod check;
pub(crate) mod claude_trust;
pub(crate) mod codex_model;
pub(crate) mod demo;
pub mod env_vars;
pub(crate) mod exec;
pub mod forecast;
pub(crate) mod hidden_work;
pub mod hooks;
pub(crate) mod land;
pub mod lock;
pub(crate) mod on_host;
pub(crate) mod owns;
pub mod ports;
pub(crate) mod provision;
pub(crate) mod push_guard;
pub(crate) mod recover;
pub(crate) mod remote;
pub(crate) mod resume;
pub(crate) mod review;
pub mod state;
pub(crate) mod teardown;
pub mod transcript;
pub(crate) mod user_config;
pub(crate) mod user_prices;
pub mod workspace;
