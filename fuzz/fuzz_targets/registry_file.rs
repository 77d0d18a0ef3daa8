//! The pair registry file (`pairs/registry.json`): `RegistryFile::parse` as
//! every `abg` command reads it, then each row turned into a pair. Properties:
//! no panic (a corrupt or too-new file is an error naming the path); an
//! accepted file rendered as abg writes it parses back to the same rows.
#![no_main]

use std::path::Path;

use abg::pair::registry::{Registry, RegistryFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/s/pairs/registry.json");
    match RegistryFile::parse(path, text) {
        Ok(file) => {
            let again = file.render().expect("render");
            let again = std::str::from_utf8(&again).expect("utf8");
            assert_eq!(RegistryFile::parse(path, again).expect("re-parse"), file);
            let reg = Registry::new(Path::new("/s"), 47_000);
            for e in &file.pairs {
                let _ = reg.pair(e);
            }
        }
        Err(e) => assert!(e.to_string().contains("registry.json"), "{e}"),
    }
});
