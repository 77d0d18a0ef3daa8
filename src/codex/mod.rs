//! The Codex side: how `abg codex` builds the real Codex command line
//! (`launch`).

pub mod launch;
