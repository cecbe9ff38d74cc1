//! Terminal safety: text that came from the network or from a user is shown, never
//! interpreted. Control characters, escape sequences and bidirectional overrides are
//! written as visible escapes.

use std::borrow::Cow;
use std::fmt::Write as _;

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The text with every control character (C0, DEL, C1 — ESC among them) and every
/// bidirectional control shown as an escape such as `\x1b` or `\u{202e}`.
#[must_use]
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_dangerous) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if is_dangerous(c) && (c as u32) < 0x100 => {
                write!(out, "\\x{:02x}", c as u32).unwrap();
            }
            c if is_dangerous(c) => write!(out, "\\u{{{:04x}}}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escapes_are_shown_not_interpreted() {
        assert_eq!(printable("220 ok"), "220 ok");
        assert_eq!(printable("220 \x1b[31mred"), "220 \\x1b[31mred");
        assert_eq!(printable("a\u{9b}b"), "a\\x9bb");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(printable("日本語"), "日本語");
    }
}
