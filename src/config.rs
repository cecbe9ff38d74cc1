//! The checked configuration: flags and input turned into values the rest of the program
//! can trust. Everything a user can get wrong is caught here, before any work starts.

use crate::cli::{Cli, ColorArg, Command};
use crate::error::Error;
use crate::kb::{Code, Lang, Query};
use crate::output::ColorChoice;

/// Human text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// One input of `explain`, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainInput {
    /// `-`: one reply read from standard input.
    Stdin,
    /// A code or a reply, already parsed.
    Parsed { text: String, query: Query },
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    Explain(Vec<ExplainInput>),
    Compare(Code, Code),
}

/// Everything a run needs, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub task: Task,
    pub lang: Lang,
    pub format: Format,
    pub color: ColorChoice,
}

impl Config {
    /// Checks the parsed command line. `env` reads environment variables (the locale).
    pub fn from_cli(cli: Cli, env: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let lang = match &cli.output.lang {
            Some(code) => code
                .parse::<Lang>()
                .map_err(|e| Error::Usage(e.to_string()))?,
            None => Lang::from_env_vars(env),
        };
        let color = match cli.output.color {
            None | Some(ColorArg::Auto) => ColorChoice::Auto,
            Some(ColorArg::Always) => ColorChoice::Always,
            Some(ColorArg::Never) => ColorChoice::Never,
        };
        let format = if cli.output.json {
            Format::Json
        } else {
            Format::Human
        };
        let task = match cli.command {
            Some(Command::Explain { inputs }) => Task::Explain(explain_inputs(&inputs)?),
            Some(Command::Compare { a, b }) => Task::Compare(Code::parse(&a)?, Code::parse(&b)?),
            None => {
                return Err(Error::Usage(
                    "nothing to do: give a command such as `explain 421` (see --help)".into(),
                ));
            }
        };
        Ok(Config {
            task,
            lang,
            format,
            color,
        })
    }
}

/// Each argument on its own when every one is a code, a reply or `-`. Otherwise the
/// arguments are taken as the words of one reply typed without quotes
/// (`explain 550 5.1.1 User unknown`); failing that, the first bad argument is the error.
fn explain_inputs(args: &[String]) -> Result<Vec<ExplainInput>, Error> {
    let each: Result<Vec<ExplainInput>, Error> = args
        .iter()
        .map(|arg| {
            if arg == "-" {
                Ok(ExplainInput::Stdin)
            } else {
                Query::parse(arg).map(|query| ExplainInput::Parsed {
                    text: arg.clone(),
                    query,
                })
            }
        })
        .collect();
    match each {
        Ok(inputs) => {
            if inputs.iter().filter(|i| **i == ExplainInput::Stdin).count() > 1 {
                return Err(Error::Usage("`-` can be given only once".into()));
            }
            Ok(inputs)
        }
        Err(first_error) if args.len() > 1 && !args.iter().any(|a| a == "-") => {
            let joined = args.join(" ");
            match Query::parse(&joined) {
                Ok(query @ Query::Reply(_)) => Ok(vec![ExplainInput::Parsed {
                    text: joined,
                    query,
                }]),
                _ => Err(first_error),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(args: &[&str]) -> Result<Vec<ExplainInput>, Error> {
        explain_inputs(&args.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn codes_stay_separate() {
        assert_eq!(inputs(&["421", "5.7.26", "-"]).unwrap().len(), 3);
    }

    #[test]
    fn unquoted_reply_is_joined() {
        let parsed = inputs(&["550", "5.1.1", "User", "unknown"]).unwrap();
        assert_eq!(parsed.len(), 1);
        assert!(matches!(
            &parsed[0],
            ExplainInput::Parsed {
                query: Query::Reply(_),
                ..
            }
        ));
    }

    #[test]
    fn prose_is_refused() {
        assert!(matches!(inputs(&["hello"]), Err(Error::NotAReply(_))));
        assert!(matches!(
            inputs(&["hello", "421"]),
            Err(Error::NotAReply(_))
        ));
        assert!(inputs(&["-", "-"]).is_err());
    }
}
