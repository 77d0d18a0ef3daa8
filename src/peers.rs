//! The composition root: the one place that names the agents. It lists the
//! peers a daemon serves (each an adapter in its own folder implementing
//! [`Peer`]) and the components told of core events, and hands them to
//! the daemon at start (`abg daemon`). Adding a peer is a new folder plus
//! one line in [`registry`].

use std::sync::Arc;

use crate::daemon::core::Component;
use crate::daemon::governor::Governor;
use crate::daemon::kickoff::Kickoff;
use crate::daemon::peer::{Peer, Peers};
use crate::serve::Setup;

/// The peers of every pair, in the order they are shown.
pub fn registry() -> Peers {
    Peers::new(adapters())
}

/// The agent adapters, one line each.
pub fn adapters() -> Vec<Arc<dyn Peer>> {
    vec![
        Arc::new(crate::claude::peer::ClaudePeer::default()),
        Arc::new(crate::codex::peer::CodexPeer::default()),
        Arc::new(crate::opencode::peer::OpenCodePeer),
    ]
}

/// The components of a daemon serving `peers`.
pub fn components(peers: &Peers) -> Vec<Arc<dyn Component>> {
    let notices = peers.iter().map(|p| (p.id(), p.kickoff())).collect();
    vec![
        Arc::new(Governor),
        Arc::new(Kickoff::new(notices)),
        Arc::new(crate::budget::relay::Relay),
    ]
}

/// Everything `abg daemon` registers.
pub fn setup() -> Setup {
    setup_for(registry())
}

/// What a daemon serving `peers` registers (tests add a peer of their own
/// to [`registry`]'s).
pub fn setup_for(peers: Peers) -> Setup {
    let components = components(&peers);
    Setup {
        peers,
        components,
        routes: |core| crate::budget::http::router(core),
    }
}

/// Unit-test fixture: a core over a fresh store for the pair `main` of
/// project `dir` (state under `dir`, base port 40000), with the real peers
/// and components (none started).
#[cfg(test)]
pub fn test_core(dir: &std::path::Path) -> Arc<crate::daemon::core::Core> {
    use crate::pair::PairName;
    use crate::pair::registry::{Entry, Registry};
    let pair = Registry::new(dir, 40000).pair(&Entry {
        id: crate::pair::pair_id(dir, &PairName::default()),
        name: "main".into(),
        root: dir.to_path_buf(),
        slot: 0,
        created_ms: 0,
    });
    crate::paths::ensure_private_dir(&pair.dir).expect("dir");
    let store = crate::store::Store::open(&pair.store_file()).expect("store");
    setup()
        .core(pair, crate::config::Config::default(), store)
        .expect("core")
}
