//! End-to-end tests: the real `pk` binary against real git repositories in temporary folders
//! and a real tmux server on a private socket. Only the AI agents are fake.

mod approval;
mod budget;
mod checks;
mod diff;
mod down;
mod faults;
mod forecast;
mod hostile;
mod land;
mod live;
mod plans;
mod procs;
mod real_claude;
mod real_codex;
mod real_gemini;
mod remote;
mod remote_tracks;
mod resume;
mod snapshots;
mod trust_crash;
mod trust_down;
mod trust_misc;
mod trust_values;
mod up;
mod world;
mod zellij;
