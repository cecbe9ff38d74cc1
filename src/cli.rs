//! The command line, as clap sees it. Doc comments are the help text. Nothing outside
//! `config.rs` reads these types: they are turned into a checked [`crate::config::Config`].

// Doc comments here are `--help` text, read in a terminal, not rustdoc Markdown.
#![allow(clippy::doc_markdown)]

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  smtpdiag explain 421
  smtpdiag explain 5.7.26
  smtpdiag explain \"550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown\"
  pbpaste | smtpdiag explain -
  smtpdiag compare 421 554 --lang ja
  smtpdiag explain 554 --json | jq -r '.results[0].explanations[0].fix'

Exit status:
  0   success
  1   the probe met a transient failure (4xx, timeouts that may clear)
  2   the probe met a permanent failure (5xx, null MX, no way to deliver)
  3   the probe could not complete (resolver unusable, sender's network blocked)
  64  usage error: bad flag or input";

/// Tells a mail operator why mail to a domain fails and what to do about it.
#[derive(Debug, Parser)]
#[command(name = "smtpdiag", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags every command shares.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// When to colour the output [default: auto, which also honours NO_COLOR]
    #[arg(long, value_enum, global = true, value_name = "WHEN")]
    pub color: Option<ColorArg>,

    /// Print JSON instead of text (documented in docs/json.md)
    #[arg(long, global = true)]
    pub json: bool,

    /// Language of explanations: en, ja or fr [default: from LC_ALL, LC_MESSAGES or LANG, else en]
    #[arg(long, global = true, value_name = "LANG")]
    pub lang: Option<String>,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain a reply code, an enhanced status code or a whole reply
    ///
    /// Each INPUT is a basic code (421), an enhanced status code (5.7.26, X.1.10) or a
    /// reply as pasted from a bounce or a log, multi-line replies included. `-` reads one
    /// reply from standard input. A valid code without an entry of its own (599) is
    /// explained by its class.
    #[command(
        after_help = "Examples:\n  smtpdiag explain 421 5.1.10\n  smtpdiag explain \"421 4.7.0 Try again later, closing connection.\"\n  smtpdiag explain - < bounce.txt"
    )]
    Explain {
        /// Codes or replies to explain (`-` reads standard input)
        #[arg(required = true, value_name = "INPUT")]
        inputs: Vec<String>,
    },

    /// Compare two reply codes: classes, key differences, when to use which
    #[command(
        after_help = "Examples:\n  smtpdiag compare 421 554\n  smtpdiag compare 550 5.7.1 --lang fr"
    )]
    Compare {
        /// The first code (421, 5.7.26, ...)
        a: String,
        /// The second code
        b: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn explain_takes_several_inputs() {
        let cli = Cli::try_parse_from(["smtpdiag", "explain", "421", "5.7.26", "--json"]).unwrap();
        assert!(cli.output.json);
        match cli.command {
            Some(Command::Explain { inputs }) => assert_eq!(inputs, ["421", "5.7.26"]),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn compare_needs_two_codes() {
        assert!(Cli::try_parse_from(["smtpdiag", "compare", "421"]).is_err());
    }
}
