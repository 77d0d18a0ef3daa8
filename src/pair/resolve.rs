//! Which pair a process started in a directory belongs to: the pair name
//! (default `main`), the project root found from the directory, the
//! layered config of that project and the registry it allocates in.
//!
//! Why it exists: every pair-aware command (`cli::Context`) and `abg mcp`
//! (started by Claude, with `--project` or its environment) take the same
//! steps in the same order; this is the one copy of them.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::registry::Registry;
use super::{PairError, PairName, project_root};
use crate::config::{Config, ConfigError};
use crate::paths::PathsError;

/// Why the pair could not be resolved (each the underlying error as is).
#[derive(Debug, Error)]
pub enum ResolveError {
    #[error(transparent)]
    Pair(#[from] PairError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Paths(#[from] PathsError),
}

/// A resolved pair context.
pub struct Resolved {
    pub name: PairName,
    pub root: PathBuf,
    pub config: Config,
    pub registry: Registry,
}

/// Resolve the pair named `pair` (default when `None`) of the project
/// `dir` is in.
pub fn resolve(pair: Option<&str>, dir: &Path) -> Result<Resolved, ResolveError> {
    let name = match pair {
        Some(n) => PairName::new(n)?,
        None => PairName::default(),
    };
    let root = project_root(dir)?;
    let config = Config::load_default(Some(&root))?;
    let registry = Registry::new(&crate::paths::state_base()?, config.settings.ports_base);
    Ok(Resolved {
        name,
        root,
        config,
        registry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_pair_name_is_refused_with_the_name_rules_own_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = resolve(Some("no spaces"), dir.path())
            .err()
            .expect("a bad name resolves");
        let own = PairName::new("no spaces").expect_err("a bad name is valid");
        assert!(matches!(err, ResolveError::Pair(_)));
        assert_eq!(err.to_string(), own.to_string());
    }
}
