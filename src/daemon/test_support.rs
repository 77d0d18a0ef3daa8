//! Unit-test fixture shared by the modules that need a real daemon core
//! (the store in a temp dir, default config), so each test module does not
//! rebuild a pair by hand.

use std::path::Path;
use std::sync::Arc;

use super::core::Core;
use crate::config::Config;
use crate::pair::PairName;
use crate::pair::registry::{Entry, Registry};
use crate::store::Store;

/// A core over a fresh store for the pair `main` of project `dir`
/// (state under `dir`, base port 40000).
pub fn core_in(dir: &Path) -> Arc<Core> {
    let pair = Registry::new(dir, 40000).pair(&Entry {
        id: crate::pair::pair_id(dir, &PairName::default()),
        name: "main".into(),
        root: dir.to_path_buf(),
        slot: 0,
        created_ms: 0,
    });
    crate::paths::ensure_private_dir(&pair.dir).expect("dir");
    let store = Store::open(&pair.store_file()).expect("store");
    Core::new(pair, Config::default(), store)
}
