//! The smtpdiag binary: flags → checked configuration → library → renderer → exit status.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use smtpdiag::batch::{self, BatchSummary};
use smtpdiag::cli::{Cli, ShellArg, shield_pasted_text};
use smtpdiag::config::{
    self, Config, ExplainInput, Format, LogInput, LogsConfig, ProbeConfig, Task,
};
use smtpdiag::dns::HickoryDns;
use smtpdiag::input::logs::{LogOptions, LogReader, LogSummary, Time};
use smtpdiag::input::{self, Explained};
use smtpdiag::kb::{self, Lang};
use smtpdiag::output::probe::{self as probe_text, Detail};
use smtpdiag::output::{self, TextStyle};
use smtpdiag::report::Report;
use smtpdiag::{Error, ExitStatus, probe};

/// A pasted reply is a few kilobytes and a bounce with the returned message rarely more
/// than a few megabytes; this bound keeps `explain -` from reading an endless stream into
/// memory.
const INPUT_LIMIT: usize = 16 << 20;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(shield_pasted_text(std::env::args_os().collect())) {
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
    let status = match Config::from_cli(&cli, |name| std::env::var(name).ok())
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
    let lang = config.lang;
    let status = match &config.task {
        Task::Explain(inputs) => {
            let pages = explain_all(inputs, lang)?;
            let written = match config.format {
                Format::Json => output::json::explain_pages(&mut out, &pages, lang),
                _ => output::explain::explain_pages(&mut out, &pages, lang, style),
            };
            finish_output(written, ExitStatus::Ok)?
        }
        Task::Compare(a, b) => {
            let comparison = kb::compare(*a, *b, lang);
            let written = match config.format {
                Format::Json => output::json::comparison(&mut out, &comparison, lang),
                _ => output::explain::comparison(&mut out, &comparison, lang, style),
            };
            finish_output(written, ExitStatus::Ok)?
        }
        Task::Completions(shell) => {
            let shell = match shell {
                ShellArg::Bash => clap_complete::Shell::Bash,
                ShellArg::Elvish => clap_complete::Shell::Elvish,
                ShellArg::Fish => clap_complete::Shell::Fish,
                ShellArg::Powershell => clap_complete::Shell::PowerShell,
                ShellArg::Zsh => clap_complete::Shell::Zsh,
            };
            clap_complete::generate(shell, &mut Cli::command(), "smtpdiag", &mut out);
            finish_output(Ok(()), ExitStatus::Ok)?
        }
        Task::Man => {
            let written = clap_mangen::Man::new(Cli::command()).render(&mut out);
            finish_output(written, ExitStatus::Ok)?
        }
        Task::Blocklist {
            addresses,
            resolver,
            lists,
        } => runtime()?.block_on(async {
            let dns = HickoryDns::new(resolver)?;
            let report = probe::check_addresses(&dns, addresses, lists).await;
            let written = match config.format {
                Format::Json => output::json::blocklist(&mut out, &report, lang),
                _ => {
                    probe_text::blocklist_report(&mut out, &report, lang, style, Detail::default())
                }
            };
            finish_output(written, ExitStatus::from_code(report.exit_code))
        })?,
        Task::Sender(sender) => runtime()?.block_on(async {
            let dns = HickoryDns::new(&sender.resolver)?;
            let report =
                output::sender::localized(&smtpdiag::sender::check(&dns, sender).await, lang);
            let written = match config.format {
                Format::Json => output::sender::json(&mut out, &report),
                _ => output::sender::text(&mut out, &report, style),
            };
            finish_output(written, report.verdict.exit_status())
        })?,
        Task::Logs(logs) => run_logs(logs, config.format, lang, style, &mut out)?,
        Task::Probe(probe_config) => runtime()?.block_on(run_probe(
            probe_config,
            config.format,
            lang,
            style,
            &mut out,
        ))?,
    };
    finish_output(out.flush(), status)
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    // The probe waits on the network; one thread is plenty and starts fastest.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Resolver(format!("cannot start the async runtime: {e}")))
}

/// A reader that went away (`smtpdiag ... | head`) is not an error.
fn finish_output(result: io::Result<()>, status: ExitStatus) -> Result<ExitStatus, Error> {
    match result {
        Ok(()) => Ok(status),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => Err(Error::Output(e)),
    }
}

fn explain_all(inputs: &[ExplainInput], lang: Lang) -> Result<Vec<Explained>, Error> {
    inputs
        .iter()
        .map(|input| match input {
            ExplainInput::Parsed { text, query } => {
                Ok(Explained::Reply(Box::new(kb::explain(text, query, lang))))
            }
            ExplainInput::Stdin => {
                let bytes = read_bounded(io::stdin().lock(), "standard input")?;
                input::explain_contents("-", &bytes, lang)
            }
            ExplainInput::File(path) => {
                let name = path.display().to_string();
                let file = File::open(path).map_err(|source| Error::ReadFile {
                    path: name.clone(),
                    source,
                })?;
                let bytes = read_bounded(file, &name)?;
                input::explain_contents(&name, &bytes, lang)
            }
        })
        .collect()
}

/// Reads at most [`INPUT_LIMIT`] bytes; more is an error, not a silent cut.
fn read_bounded(reader: impl Read, what: &str) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    reader
        .take(INPUT_LIMIT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::ReadFile {
            path: what.to_string(),
            source,
        })?;
    if bytes.len() > INPUT_LIMIT {
        return Err(Error::InputTooLarge {
            what: what.to_string(),
            limit: INPUT_LIMIT,
        });
    }
    Ok(bytes)
}

fn progress_bar(total: Option<usize>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total {
        Some(total) => ProgressBar::new(total as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} domains {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    }
}

fn sender_text(
    out: &mut dyn Write,
    sender: &smtpdiag::report::sender::SenderReport,
    lang: Lang,
    style: TextStyle,
) -> io::Result<()> {
    writeln!(out)?;
    output::sender::text(out, &output::sender::localized(sender, lang), style)
}

async fn run_probe(
    probe_config: &ProbeConfig,
    format: Format,
    lang: Lang,
    style: TextStyle,
    out: &mut dyn Write,
) -> Result<ExitStatus, Error> {
    let dns = HickoryDns::new(&probe_config.settings.resolver)?;
    let (targets, total) = batch::targets(&probe_config.targets, &probe_config.rcpts)?;
    let done = probe_config
        .resume
        .as_deref()
        .map(batch::Done::load)
        .transpose()?;
    // With a part of the list left out, the count known in advance no longer holds.
    let total = total.filter(|_| probe_config.shard.is_none() && done.is_none());
    let targets = batch::select(targets, probe_config.shard, done);
    let is_batch = total != Some(1);
    let progress = if is_batch {
        progress_bar(total)
    } else {
        ProgressBar::hidden()
    };
    let mut results = batch::probe_all(
        &dns,
        targets,
        &probe_config.settings,
        probe_config.concurrency,
    );

    let detail = Detail {
        transcript: probe_config.transcript,
    };
    // The sender's checks do not depend on any domain: asked once, beside the first probe.
    let (sender, mut next) = tokio::join!(
        async {
            match &probe_config.sender {
                Some(config) => Some(smtpdiag::sender::check(&dns, config).await),
                None => None,
            }
        },
        results.next()
    );
    let mut summary = BatchSummary::default();
    let mut first = true;
    while let Some(result) = next {
        progress.inc(1);
        let written = match result {
            Ok(mut report) => {
                if let Some(sender) = &sender {
                    report.add_sender(sender.clone());
                }
                summary.add(&report);
                progress.set_message(report.domain.clone());
                progress.suspend(|| match format {
                    Format::Json => output::json::report_line(out, &report, lang),
                    Format::Nagios => output::nagios::line(out, &report, lang),
                    Format::Human => {
                        if !first {
                            writeln!(out)?;
                        }
                        probe_text::report(out, &report, lang, style, detail)?;
                        match &report.sender {
                            // In a batch, the sender's part is the same for every domain:
                            // it is shown once, before the summary.
                            Some(sender) if !is_batch => sender_text(out, sender, lang, style),
                            _ => Ok(()),
                        }
                    }
                })
            }
            Err((input, error)) => {
                summary.add_bad_input();
                eprintln!("smtpdiag: error: {error}");
                match format {
                    Format::Json => output::json::error_line(
                        out,
                        &input,
                        &error.to_string(),
                        error.exit_status().code(),
                    ),
                    _ => Ok(()),
                }
            }
        };
        first = false;
        match written.and_then(|()| out.flush()) {
            Ok(()) => {}
            // Nobody reads any more: stop probing.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(summary.status()),
            Err(e) => return Err(Error::Output(e)),
        }
        next = results.next().await;
    }
    progress.finish_and_clear();
    if is_batch && format == Format::Human {
        if let Some(sender) = &sender {
            finish_output(sender_text(out, sender, lang, style), summary.status())?;
        }
        let written = probe_text::summary(
            out,
            &summary.counts,
            &summary.failing,
            BatchSummary::FAILING_ROWS,
            lang,
            style,
        );
        finish_output(written, summary.status())?;
    }
    Ok(summary.status())
}

/// `smtpdiag logs`: every file opened first (a name that cannot be read stops the run
/// before any work), then read in turn into one bounded summary; `--probe` after it.
fn run_logs(
    logs: &LogsConfig,
    format: Format,
    lang: Lang,
    style: TextStyle,
    out: &mut dyn Write,
) -> Result<ExitStatus, Error> {
    let mut inputs: Vec<(String, Box<dyn Read + Send>)> = Vec::new();
    for input in &logs.inputs {
        match input {
            LogInput::Stdin => inputs.push(("-".to_string(), Box::new(io::stdin()))),
            LogInput::File(path) => {
                let cannot = |e: &dyn std::fmt::Display| {
                    Error::Usage(format!("cannot read {}: {e}", path.display()))
                };
                let file = File::open(path).map_err(|e| cannot(&e))?;
                if file.metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(cannot(&"it is a directory"));
                }
                inputs.push((path.display().to_string(), Box::new(file)));
            }
        }
    }
    let mut reader = LogReader::new(LogOptions {
        lang,
        since: logs.since,
        until: logs.until,
        now: Time::now(),
    });
    for (name, input) in inputs {
        let stats = reader.read(&name, input);
        if let Some(error) = &stats.error {
            eprintln!(
                "smtpdiag: warning: {name}: {error} (after {} lines)",
                stats.lines
            );
        } else if stats.lines > 0 && stats.lines_skipped == stats.lines {
            eprintln!(
                "smtpdiag: warning: {name}: no line is a Postfix, Exim, Sendmail or Exchange log line"
            );
        }
    }
    let mut summary = reader.summary();
    let status = summary.exit_status();
    let probes = match &logs.probe {
        Some(probe) => runtime()?.block_on(probe_worst(&mut summary, probe))?,
        None => Vec::new(),
    };
    let written = match format {
        Format::Json => output::logs::json(out, &summary, &probes, lang, status.code()),
        _ => output::logs::summary(out, &summary, &probes, lang, style),
    };
    finish_output(written, status)
}

/// `--probe N`: the N domains with the most failures, probed now with the batch engine.
async fn probe_worst(
    summary: &mut LogSummary,
    probe: &config::LogsProbe,
) -> Result<Vec<Report>, Error> {
    let dns = HickoryDns::new(&probe.settings.resolver)?;
    let targets: Vec<batch::Item> = summary
        .worst_domains(probe.domains)
        .into_iter()
        .map(|domain| config::target(&domain, &probe.rcpts).map_err(|e| (domain, e)))
        .collect();
    let sender = match &probe.sender {
        Some(config) => Some(smtpdiag::sender::check(&dns, config).await),
        None => None,
    };
    let mut results = batch::probe_all(
        &dns,
        targets.into_iter(),
        &probe.settings,
        probe.concurrency,
    );
    let mut reports = Vec::new();
    while let Some(result) = results.next().await {
        match result {
            Ok(mut report) => {
                if let Some(sender) = &sender {
                    report.add_sender(sender.clone());
                }
                if let Some(entry) = summary.by_domain.iter_mut().find(|d| {
                    d.domain.as_deref() == Some(report.ascii_domain.as_str())
                        || d.domain.as_deref() == Some(report.domain.as_str())
                }) {
                    entry.now = Some(probe_text::verdict_word(report.verdict));
                }
                reports.push(report);
            }
            // A destination of the log that is not a domain name (an address literal).
            Err((input, error)) => eprintln!("smtpdiag: warning: not probed: {input}: {error}"),
        }
    }
    Ok(reports)
}
