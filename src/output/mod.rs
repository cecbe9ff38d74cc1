//! Presentation: the same models rendered as human text or JSON. Nothing here decides
//! anything about mail; it only shows what the library found.

pub mod explain;
pub mod json;
pub mod localize;
pub mod logs;
pub mod nagios;
mod palette;
pub mod probe;
pub mod sender;
pub mod terminal;
mod writer;

pub use palette::{Painted, Role};

/// `--color`: when to colour the human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Decides once whether to colour, the way ripgrep and dog do: an explicit `always` or
/// `never` wins; `auto` colours a terminal unless `NO_COLOR` is set (to anything but the
/// empty string, per no-color.org) or `TERM` is `dumb`.
#[must_use]
pub fn use_color(
    choice: ColorChoice,
    stdout_is_terminal: bool,
    env: impl Fn(&str) -> Option<String>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stdout_is_terminal
                && env("NO_COLOR").is_none_or(|v| v.is_empty())
                && env("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

/// How human text is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextStyle {
    /// Colour on or off: the writer keeps or drops the palette's marks.
    pub color: bool,
    /// The column at which paragraphs wrap.
    pub width: usize,
}

impl TextStyle {
    /// The layout for stdout: the terminal's width (kept between 40 and 100 columns so
    /// paragraphs stay readable), or 80 columns when piped.
    #[must_use]
    pub fn for_stdout(color: bool, stdout_is_terminal: bool) -> TextStyle {
        let width = if stdout_is_terminal {
            textwrap::termwidth().clamp(40, 100)
        } else {
            80
        };
        TextStyle { color, width }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn color_decision() {
        assert!(use_color(ColorChoice::Auto, true, env(&[])));
        assert!(!use_color(ColorChoice::Auto, false, env(&[])));
        assert!(!use_color(
            ColorChoice::Auto,
            true,
            env(&[("NO_COLOR", "1")])
        ));
        assert!(use_color(ColorChoice::Auto, true, env(&[("NO_COLOR", "")])));
        assert!(!use_color(
            ColorChoice::Auto,
            true,
            env(&[("TERM", "dumb")])
        ));
        assert!(use_color(
            ColorChoice::Always,
            false,
            env(&[("NO_COLOR", "1")])
        ));
        assert!(!use_color(ColorChoice::Never, true, env(&[])));
    }
}
