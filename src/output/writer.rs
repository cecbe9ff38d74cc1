//! Wrapped, indented text: the one writer every human renderer uses.

use std::io::{self, Write};

use std::borrow::Cow;

use super::palette::unpainted;
use super::terminal::printable;
use super::{Role, TextStyle};

/// Writes wrapped, indented paragraphs, with the palette's marks when the style has colour
/// and without them otherwise.
pub(crate) struct Writer<'a> {
    out: &'a mut dyn Write,
    style: TextStyle,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, style: TextStyle) -> Writer<'a> {
        Writer { out, style }
    }

    pub(crate) fn line(&mut self, text: &str) -> io::Result<()> {
        let text = self.shown(text);
        writeln!(self.out, "{text}")
    }

    fn shown<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.style.color {
            Cow::Borrowed(text)
        } else {
            unpainted(text)
        }
    }

    pub(crate) fn blank(&mut self) -> io::Result<()> {
        writeln!(self.out)
    }

    /// A paragraph wrapped at the style's width, every line indented.
    pub(crate) fn paragraph(&mut self, indent: usize, text: &str) -> io::Result<()> {
        let pad = " ".repeat(indent);
        let options = textwrap::Options::new(self.style.width.max(indent + 20))
            .initial_indent(&pad)
            .subsequent_indent(&pad);
        for line in textwrap::wrap(&printable(text), options) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    /// A bulleted paragraph: the bullet hangs, the text wraps under itself.
    pub(crate) fn bullet(&mut self, indent: usize, text: &str) -> io::Result<()> {
        let first = format!("{}• ", " ".repeat(indent));
        let rest = " ".repeat(indent + 2);
        let options = textwrap::Options::new(self.style.width.max(indent + 22))
            .initial_indent(&first)
            .subsequent_indent(&rest);
        for line in textwrap::wrap(&printable(text), options) {
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    /// A heading, then its text indented under it.
    pub(crate) fn section(&mut self, indent: usize, heading: &str, text: &str) -> io::Result<()> {
        let heading = format!("{}{}", " ".repeat(indent), Role::Label.paint(heading));
        self.line(&heading)?;
        self.paragraph(indent + 2, text)
    }
}
