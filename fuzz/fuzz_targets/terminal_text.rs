//! `terminal_text::visible` and `json_visible`, which every CLI path runs
//! agent text through before a terminal sees it. Properties: no control
//! character but `\n` and `\t` survives `visible`; text without any is
//! unchanged; `json_visible` keeps the JSON value and leaves no control
//! character.
#![no_main]

use abg::terminal_text::{json_visible, visible};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let shown = visible(&text);
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{shown:?}"
    );
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        assert_eq!(shown, text);
    }
    let value = serde_json::Value::String(text.clone().into_owned());
    let json = json_visible(serde_json::to_string(&value).expect("json"));
    assert!(!json.chars().any(char::is_control), "{json:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).expect("parse"),
        value
    );
});
