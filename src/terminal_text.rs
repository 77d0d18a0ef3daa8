//! Text from agents made safe for a terminal. Why it exists: a message body
//! (or a Codex error, a thread id, a log line quoting one) is written by an
//! agent, and a terminal executes the control sequences in what it prints:
//! `ESC ] 0 ; … BEL` retitles the window, `ESC [ 2 J` clears the screen,
//! `ESC ] 52 ; c ; … BEL` writes the clipboard. Every CLI path that prints
//! such text to a terminal passes it through [`visible`], which shows each
//! control character instead of sending it: C0 controls other than `\n` and
//! `\t` in caret notation (`^[` for ESC, `^G` for BEL), DEL as `^?`, and the
//! C1 controls U+0080–U+009F (which some terminals also execute, e.g.
//! U+009B as CSI) as `<U+009B>`. The Unicode bidirectional controls
//! (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) are shown the same
//! way: they are not executed, but they reorder what the terminal draws, so
//! agent text could make a line read differently from what it says.
//! [`json_visible`] does the same for JSON text: serde_json escapes C0
//! controls but writes DEL and C1 raw.

use std::borrow::Cow;

/// Whether `c` reorders the text around it (a Unicode bidi control).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

/// Whether `c` is shown rather than sent to a terminal.
fn is_hidden_control(c: char) -> bool {
    (c.is_ascii_control() && c != '\n' && c != '\t')
        || ('\u{80}'..='\u{9f}').contains(&c)
        || is_bidi_control(c)
}

/// `text` with every control character except `\n` and `\t` made visible:
/// `^@`…`^_` for C0, `^?` for DEL, `<U+0080>`…`<U+009F>` for C1, and
/// `<U+202E>` and the like for the bidi controls. Text
/// without any is returned as is (no copy).
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\u{7f}' => out.push_str("^?"),
            c if c.is_ascii_control() && c != '\n' && c != '\t' => {
                out.push('^');
                // 0x00..=0x1F maps onto '@'..='_'.
                out.push(char::from(c as u8 + 0x40));
            }
            c if is_hidden_control(c) => out.push_str(&format!("<U+{:04X}>", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Serialized JSON with DEL, the C1 controls and the bidi controls written
/// as `\u007f` … `\u009f`, `\u202e` … escapes (the same JSON value: these characters can only occur
/// inside strings, where an escape means the character itself).
pub fn json_visible(json: String) -> String {
    let escaped = |c: char| ('\u{7f}'..='\u{9f}').contains(&c) || is_bidi_control(c);
    if !json.chars().any(escaped) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_become_visible() {
        let attack = "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;Zm9v\x07";
        assert_eq!(visible(attack), "^[]0;pwned^G^[[2J^[]52;c;Zm9v^G");
        assert_eq!(visible("a\rb\0c\x7fd\x1fe"), "a^Mb^@c^?d^_e");
        assert_eq!(visible("\u{9b}31m \u{85}"), "<U+009B>31m <U+0085>");
        // "Trojan Source": a right-to-left override makes `rm -rf /` look
        // like something else; it is shown, not applied.
        assert_eq!(
            visible("ok \u{202e}/ fr- mr\u{202c} \u{2066}x\u{2069}"),
            "ok <U+202E>/ fr- mr<U+202C> <U+2066>x<U+2069>"
        );
    }

    #[test]
    fn newlines_tabs_and_ordinary_text_are_kept() {
        let text = "line 1\n\tindented — é 漢字 🙂 \u{a0}\u{100}";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
        for c in (0u32..=0x10ffff).filter_map(char::from_u32) {
            let shown = visible(c.encode_utf8(&mut [0; 4])).into_owned();
            assert!(
                !shown.chars().any(is_hidden_control),
                "{c:?} left a control in {shown:?}"
            );
        }
    }

    #[test]
    fn json_keeps_its_value_and_loses_raw_c1_and_del() {
        let value = serde_json::json!({"body": "x\u{9b}2J\u{7f}\x1b[0m\u{202e}"});
        let text = json_visible(serde_json::to_string(&value).expect("json"));
        assert!(!text.chars().any(|c| c.is_control()), "{text}");
        assert!(
            text.contains("\\u009b") && text.contains("\\u007f") && text.contains("\\u202e"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, value);
    }
}
