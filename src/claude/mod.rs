//! The Claude side: how `abg claude` builds the real Claude Code command
//! line (`launch`).

pub mod launch;
