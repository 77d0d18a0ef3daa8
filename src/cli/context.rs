//! What every pair-aware command starts from: the pair name, the project
//! root, the layered config and the registry.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::Config;
use crate::pair::registry::Registry;
use crate::pair::{Pair, PairName};

/// Resolved command context.
pub struct Context {
    pub name: PairName,
    pub root: PathBuf,
    pub config: Config,
    pub registry: Registry,
}

impl Context {
    /// Resolve the pair name, project root (from the cwd) and config.
    pub fn load(pair: Option<&str>) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        Self::load_at(pair, &cwd)
    }

    /// Like [`Context::load`] for an explicit directory.
    pub fn load_at(pair: Option<&str>, dir: &std::path::Path) -> anyhow::Result<Self> {
        let r = crate::pair::resolve::resolve(pair, dir)?;
        Ok(Self {
            name: r.name,
            root: r.root,
            config: r.config,
            registry: r.registry,
        })
    }

    /// This project's pair, created (slot, state dir, secret) if needed.
    pub fn pair(&self) -> anyhow::Result<Pair> {
        Ok(self.registry.find_or_create(&self.root, &self.name)?.0)
    }

    /// This project's pair if it is registered.
    pub fn existing_pair(&self) -> anyhow::Result<Pair> {
        self.registry.find(&self.root, &self.name)?.ok_or_else(|| {
            crate::pair::PairError::NotFound {
                name: self.name.to_string(),
                root: self.root.clone(),
            }
            .into()
        })
    }

    /// How long to wait for a spawned daemon.
    pub fn ready_timeout(&self) -> std::time::Duration {
        self.config.settings.daemon_ready_timeout()
    }
}
