//! `terminal_text::visible` and `json_visible`, which every CLI path runs
//! agent text through before a terminal sees it. Properties: no control
//! character but `\n` and `\t`, and no bidi control, survives `visible`;
//! text without any is unchanged; `json_visible` keeps the JSON value and
//! leaves no control or bidi character.
#![no_main]

use abg::terminal_text::{json_visible, visible};
use libfuzzer_sys::fuzz_target;

/// The Unicode bidi controls, which reorder what a terminal draws.
fn bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || bidi(c)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let shown = visible(&text);
    assert!(!shown.chars().any(hidden), "{shown:?}");
    if !text.chars().any(hidden) {
        assert_eq!(shown, text);
    }
    let value = serde_json::Value::String(text.clone().into_owned());
    let json = json_visible(serde_json::to_string(&value).expect("json"));
    assert!(!json.chars().any(|c| c.is_control() || bidi(c)), "{json:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).expect("parse"),
        value
    );
});
