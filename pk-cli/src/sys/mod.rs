//! One wrapper per program pk drives: git, tmux, zellij (and the multiplexer enum over both), ssh, the
//! shell for the user's own commands, and the processes pk starts or watches.

pub mod children;
pub mod git;
pub mod mux;
pub mod procs;
pub mod shell;
pub mod ssh;
pub mod tmux;
pub mod zellij;
