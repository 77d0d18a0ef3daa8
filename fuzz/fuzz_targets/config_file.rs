//! Config files: `Config::from_project_text`, the TOML parse and validation
//! `Config::load` applies to every file (the first line of the input is
//! also tried as each `ABG_*` variable through `Config::load`). Properties:
//! no panic (bad input is a `ConfigError` whose message names where);
//! an accepted file's effective values, written back as TOML, load to the
//! same configuration.
#![no_main]

use std::path::Path;

use abg::config::{Config, KEYS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/p/.abg/config.toml");
    match Config::from_project_text(path, text) {
        Ok(cfg) => {
            let mut again = String::new();
            for def in KEYS {
                if cfg
                    .source(def.key)
                    .is_some_and(|s| s.to_string().starts_with("project:"))
                {
                    let v = cfg.value(def.key).expect("known key");
                    again.push_str(&format!("{} = {v}\n", def.key));
                }
            }
            let back = Config::from_project_text(path, &again)
                .unwrap_or_else(|e| panic!("written back {again:?} does not load: {e}"));
            assert_eq!(back.explain(), cfg.explain(), "{again}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
        }
    }
    // The first line as an environment variable of one key.
    let line = text.lines().next().unwrap_or("");
    let key = &KEYS[data.len() % KEYS.len()];
    let env = |name: &str| (name == key.env).then(|| line.to_string());
    match Config::load(None, None, &env) {
        Ok(cfg) => {
            let _ = cfg.explain();
        }
        Err(e) => assert!(e.to_string().contains(key.env) || e.to_string().contains(key.key)),
    }
});
