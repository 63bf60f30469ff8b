//! Helpers every part uses and that know nothing of pk: the clock, files, one locked JSON store,
//! parallel maps. A leaf: nothing here imports the crate but `error`.

pub mod clock;
pub mod fs;
pub mod parallel;
pub(crate) mod store;
pub(crate) mod text;
