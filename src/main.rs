//! The smtpdiag binary: flags → checked configuration → library → renderer → exit status.

use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::Parser;

use smtpdiag::cli::Cli;
use smtpdiag::config::{Config, ExplainInput, Format, Task};
use smtpdiag::kb::{self, ExplainPage, Lang, Query};
use smtpdiag::output::{self, TextStyle};
use smtpdiag::{Error, ExitStatus};

/// One pasted reply is a few kilobytes at most; this bound keeps `explain -` from reading
/// an endless stream into memory.
const STDIN_LIMIT: usize = 1 << 20;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version on stdout, mistakes on stderr.
            let _ = e.print();
            let status = if e.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Ok
            };
            return status.into();
        }
    };
    let status = match Config::from_cli(cli, |name| std::env::var(name).ok())
        .and_then(|config| run(&config))
    {
        Ok(status) => status,
        Err(error) => {
            eprintln!("smtpdiag: error: {error}");
            error.exit_status()
        }
    };
    status.into()
}

fn run(config: &Config) -> Result<ExitStatus, Error> {
    let stdout = io::stdout();
    let is_terminal = stdout.is_terminal();
    let color = output::use_color(config.color, is_terminal, |name| std::env::var(name).ok());
    let style = TextStyle::for_stdout(color, is_terminal);
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match &config.task {
        Task::Explain(inputs) => {
            let pages = explain_all(inputs, config.lang)?;
            match config.format {
                Format::Human => output::human::explain_pages(&mut out, &pages, config.lang, style),
                Format::Json => output::json::explain_pages(&mut out, &pages, config.lang),
            }
        }
        Task::Compare(a, b) => {
            let comparison = kb::compare(*a, *b, config.lang);
            match config.format {
                Format::Human => {
                    output::human::comparison(&mut out, &comparison, config.lang, style)
                }
                Format::Json => output::json::comparison(&mut out, &comparison, config.lang),
            }
        }
    };
    finish_output(written.and_then(|()| out.flush()), ExitStatus::Ok)
}

/// A reader that went away (`smtpdiag ... | head`) is not an error.
fn finish_output(result: io::Result<()>, status: ExitStatus) -> Result<ExitStatus, Error> {
    match result {
        Ok(()) => Ok(status),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => Err(Error::Output(e)),
    }
}

fn explain_all(inputs: &[ExplainInput], lang: Lang) -> Result<Vec<ExplainPage>, Error> {
    inputs
        .iter()
        .map(|input| match input {
            ExplainInput::Parsed { text, query } => Ok(kb::explain(text, query, lang)),
            ExplainInput::Stdin => {
                let text = read_stdin()?;
                let query = Query::parse(&text)?;
                Ok(kb::explain(&text, &query, lang))
            }
        })
        .collect()
}

fn read_stdin() -> Result<String, Error> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(STDIN_LIMIT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::Stdin)?;
    if bytes.len() > STDIN_LIMIT {
        return Err(Error::StdinTooLarge(STDIN_LIMIT));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
