//! An in-process daemon for the tests that register a peer of their own
//! beside the real adapters (the peer seam, the approvals inbox): the real
//! composition root with one extra adapter, the real HTTP app on a free
//! loopback port, in a temp state dir. The server stops when it drops.

use std::sync::Arc;

use abg::config::Config;
use abg::daemon::core::Core;
use abg::daemon::peer::{Peer, Peers};
use abg::pair::PairName;
use abg::pair::registry::Registry;
use abg::store::Store;

pub struct InProcess {
    pub core: Arc<Core>,
    pub port: u16,
    pub secret: String,
    server: tokio::task::JoinHandle<()>,
    _tmp: tempfile::TempDir,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A daemon serving the real peers plus `extra`, under `config`.
pub async fn start(extra: Arc<dyn Peer>, config: Config) -> InProcess {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(&root).expect("root");
    let root = std::fs::canonicalize(root).expect("canonical root");
    let registry = Registry::new(&tmp.path().join("state"), crate::env::ports::free_block(30));
    let (pair, _) = registry
        .find_or_create(&root, &PairName::default())
        .expect("pair");
    let secret = pair.secret().expect("secret");
    let store = Store::open(&pair.store_file()).expect("store");
    // The one registration line: the real adapters, plus the extra one.
    let mut adapters = abg::peers::adapters();
    adapters.push(extra);
    let setup = abg::peers::setup_for(Peers::new(adapters));
    let core = setup.core(pair.clone(), config, store).expect("core");
    let port = pair.ports.control;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    let ui = Arc::new(abg::web::auth::UiAuth::new(port, &secret));
    let app = setup.app(&core, port, &secret, ui);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    InProcess {
        core,
        port,
        secret,
        server,
        _tmp: tmp,
    }
}
