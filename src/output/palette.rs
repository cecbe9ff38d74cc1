//! A palette of meanings: renderers ask for "a failure" or "a host", never for "red".
//!
//! Painting always marks the text with its look; whether the marks reach the reader is
//! decided by the [`super::TextStyle`] handed to the renderer: its writer drops them when
//! colour is off. Nothing here reads or sets process-wide state.

use std::fmt;

use colored::Color;

/// What a piece of text means; the palette maps each meaning to one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Page and section titles.
    Heading,
    /// Sub-headings and labels.
    Label,
    /// Reply codes.
    Code,
    /// Things that work.
    Ok,
    /// Things that deserve attention but do not stop mail.
    Warn,
    /// Things that stop mail.
    Fail,
    /// Host names and addresses.
    Host,
    /// Secondary details: references, timings.
    Dim,
}

/// ECMA-48 select-graphic-rendition parameters for bold and faint.
const BOLD: &str = "1";
const FAINT: &str = "2";

impl Role {
    /// Marks text with this role's look.
    #[must_use]
    pub fn paint(self, text: &str) -> Painted {
        let (bold, faint, color) = match self {
            Role::Heading => (true, false, None),
            Role::Label => (true, false, Some(Color::Cyan)),
            Role::Code => (true, false, Some(Color::Magenta)),
            Role::Ok => (false, false, Some(Color::Green)),
            Role::Warn => (false, false, Some(Color::Yellow)),
            Role::Fail => (true, false, Some(Color::Red)),
            Role::Host => (false, false, Some(Color::Blue)),
            Role::Dim => (false, true, None),
        };
        Painted {
            text: text.to_string(),
            bold,
            faint,
            color,
        }
    }
}

/// Text with its look, shown with ANSI graphic-rendition sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Painted {
    text: String,
    bold: bool,
    faint: bool,
    color: Option<Color>,
}

impl Painted {
    /// The same text, bold as well.
    #[must_use]
    pub fn bold(mut self) -> Painted {
        self.bold = true;
        self
    }
}

impl fmt::Display for Painted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut codes: Vec<String> = Vec::new();
        if self.bold {
            codes.push(BOLD.to_string());
        }
        if self.faint {
            codes.push(FAINT.to_string());
        }
        if let Some(color) = self.color {
            codes.push(color.to_fg_str().into_owned());
        }
        if codes.is_empty() || self.text.is_empty() {
            return f.write_str(&self.text);
        }
        write!(f, "\x1b[{}m{}\x1b[0m", codes.join(";"), self.text)
    }
}

/// Text without its graphic-rendition marks: what a reader without colour sees. Only our
/// own marks can be there: text from the network has every control character escaped
/// ([`super::terminal::printable`]) before it is painted.
#[must_use]
pub fn unpainted(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\x1b') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        plain.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(|c: char| !(c.is_ascii_digit() || c == ';')) {
            Some(end) if after[end..].starts_with('m') => rest = &after[end + 1..],
            _ => {
                plain.push_str("\x1b[");
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    std::borrow::Cow::Owned(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_marks_and_unpainted_removes_only_the_marks() {
        let painted = Role::Fail.paint("refused").to_string();
        assert_eq!(painted, "\x1b[1;31mrefused\x1b[0m");
        let line = format!("[{painted}] {} 5.1.1", Role::Dim.paint("(1 ms)"));
        assert_eq!(unpainted(&line), "[refused] (1 ms) 5.1.1");
        assert_eq!(unpainted("no marks"), "no marks");
    }
}
