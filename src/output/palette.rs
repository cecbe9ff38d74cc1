//! A palette of meanings: renderers ask for "a failure" or "a host", never for "red".

use colored::{ColoredString, Colorize};

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

impl Role {
    /// Paints text in this role's look; plain when colour is off (`colored`'s switch).
    #[must_use]
    pub fn paint(self, text: &str) -> ColoredString {
        match self {
            Role::Heading => text.bold(),
            Role::Label => text.bold().cyan(),
            Role::Code => text.bold().magenta(),
            Role::Ok => text.green(),
            Role::Warn => text.yellow(),
            Role::Fail => text.red().bold(),
            Role::Host => text.blue(),
            Role::Dim => text.dimmed(),
        }
    }
}
