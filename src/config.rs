//! The checked configuration: flags and input turned into values the rest of the program
//! can trust. Everything a user can get wrong is caught here, before any work starts.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::cli::{Cli, ColorArg, Command, DnsArgs, LogsArgs, SenderArgs, ShellArg, SmtpArgs};
use crate::dns::ResolverSettings;
use crate::dns::name::DomainName;
use crate::dnsbl::Blocklist;
use crate::error::Error;
use crate::input::logs::{self, Time};
use crate::kb::{Code, Lang, Query};
use crate::output::ColorChoice;
use crate::probe::ProbeSettings;
use crate::smtp::{self, SmtpSettings, Timeouts, TrustAnchors};

/// Human text, JSON, or a monitoring plugin line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Nagios,
}

/// One input of `explain`, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainInput {
    /// `-`: one reply or one message read from standard input.
    Stdin,
    /// A file that holds a bounce message or a pasted reply.
    File(std::path::PathBuf),
    /// A code or a reply, already parsed.
    Parsed { text: String, query: Query },
}

/// Where the domains to probe come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Given as arguments, already checked.
    Listed(Vec<Target>),
    /// Read line by line from a file, or standard input for `-`.
    File(PathBuf),
}

/// One domain to probe, and the mailboxes to ask for there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub domain: DomainName,
    pub rcpts: Vec<String>,
}

/// `--shard K/N`: the part K (0 to N-1) of a list cut in N by a stable hash of each domain
/// (`batch::in_shard`), so that N machines given the same list probe every domain once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Reads `K/N`, with 0 <= K < N.
    pub fn parse(text: &str) -> Result<Shard, Error> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| usage(format!("--shard {text:?}: expected K/N, such as 0/4")))?;
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| usage(format!("--shard {text:?}: {part:?} is not a number")))
        };
        let (index, count) = (number(index)?, number(count)?);
        if count == 0 || index >= count {
            return Err(usage(format!(
                "--shard {text:?}: K goes from 0 to N-1 (the first of 4 shards is 0/4)"
            )));
        }
        Ok(Shard { index, count })
    }
}

/// What `smtpdiag DOMAIN...` needs.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// `--shard`: probe only this part of the list.
    pub shard: Option<Shard>,
    /// `--resume`: skip the domains of this earlier JSON Lines output.
    pub resume: Option<PathBuf>,
    pub targets: Targets,
    /// `--rcpt` as given; empty means postmaster@ each domain.
    pub rcpts: Vec<String>,
    pub settings: ProbeSettings,
    /// `--from` with `--check-ip`: the sender's checks, added to every report.
    pub sender: Option<SenderConfig>,
    pub transcript: bool,
    pub concurrency: usize,
}

/// Where a log comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogInput {
    Stdin,
    File(PathBuf),
}

/// What `smtpdiag logs` needs.
#[derive(Debug, Clone)]
pub struct LogsConfig {
    pub inputs: Vec<LogInput>,
    pub since: Option<Time>,
    pub until: Option<Time>,
    /// `--probe N`: how many of the worst domains to probe, and how.
    pub probe: Option<LogsProbe>,
}

/// The live probe after a log summary.
#[derive(Debug, Clone)]
pub struct LogsProbe {
    pub domains: usize,
    /// `--rcpt` as given; empty means postmaster@ each domain.
    pub rcpts: Vec<String>,
    pub settings: ProbeSettings,
    /// `--from` with `--check-ip`: the sender's checks, added to every report.
    pub sender: Option<SenderConfig>,
    pub concurrency: usize,
}

/// What `smtpdiag sender` checks, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// The local part of the envelope sender, when an address was given (`%{l}` of SPF).
    pub local_part: Option<String>,
    /// The sender's domain, as given (ASCII; may be malformed for SPF, which then says
    /// "none").
    pub domain: String,
    /// The addresses mail leaves from.
    pub addresses: Vec<IpAddr>,
    /// The name the sending server gives in EHLO.
    pub helo: Option<String>,
    /// DKIM selectors to check.
    pub selectors: Vec<String>,
    pub resolver: ResolverSettings,
    /// Blocklists to check the addresses against (none with `--no-dnsbl`).
    pub lists: Vec<Blocklist>,
}

/// What to do.
#[derive(Debug, Clone)]
pub enum Task {
    Logs(Box<LogsConfig>),
    Explain(Vec<ExplainInput>),
    Compare(Code, Code),
    Probe(Box<ProbeConfig>),
    Sender(Box<SenderConfig>),
    Blocklist {
        addresses: Vec<IpAddr>,
        resolver: ResolverSettings,
        lists: Vec<Blocklist>,
    },
    Completions(ShellArg),
    Man,
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub task: Task,
    pub lang: Lang,
    pub format: Format,
    pub color: ColorChoice,
}

fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

/// The longest line of a domain list (`-f`) that is read as one: a domain is at most 253
/// bytes and an address 254, so a longer line is not a target, whatever follows it.
pub const LIST_LINE_LIMIT: usize = 4096;

/// The longest mail address taken for MAIL FROM or RCPT TO: RFC 5321 §4.5.3.1.3 allows a
/// path of 256 octets, angle brackets included.
const ADDRESS_LIMIT: usize = 254;

/// The longest HELO name: a domain name is at most 255 octets (RFC 5321 §4.5.3.1.2).
const HELO_LIMIT: usize = 255;

/// How a control character is named in an error.
fn control_name(c: char) -> String {
    match c {
        '\r' => "a carriage return (CR)".into(),
        '\n' => "a line feed (LF)".into(),
        '\0' => "a NUL byte".into(),
        other => format!("the control character {other:?}"),
    }
}

/// Refuses CR, LF, NUL and every other control character in a value that ends up in an SMTP
/// command, a DNS query, a file name or the report: a CR LF would let it smuggle a second
/// SMTP command (or a forged line into the output).
fn no_control(what: &str, value: &str) -> Result<(), Error> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(usage(format!(
            "{what} {value:?} contains {}; give it on one line, without control characters",
            control_name(c)
        ))),
        None => Ok(()),
    }
}

/// A file to read (`-f`, `--ca-file`, the files of `logs`): `-` where standard input is
/// allowed, otherwise a name without control characters that is not a directory. A name
/// that cannot be opened is reported by the reader, which opens every file before any
/// work starts.
fn input_path(what: &str, path: &std::path::Path, stdin_allowed: bool) -> Result<(), Error> {
    if stdin_allowed && path.as_os_str() == "-" {
        return Ok(());
    }
    let shown = path.to_string_lossy();
    no_control(what, &shown)?;
    if path.is_dir() {
        return Err(usage(format!(
            "{what} {shown:?} is a directory, not a file"
        )));
    }
    Ok(())
}

fn seconds(flag: &str, value: f64) -> Result<Duration, Error> {
    if !(value.is_finite() && value > 0.0) {
        return Err(usage(format!(
            "{flag} must be a positive number of seconds, not {value}"
        )));
    }
    Duration::try_from_secs_f64(value).map_err(|_| usage(format!("{flag} {value} is too large")))
}

fn ip(flag: &str, value: &str) -> Result<IpAddr, Error> {
    no_control(flag, value)?;
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| usage(format!("{flag} {value:?} is not an IP address")))
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address; port 53 when none is given.
fn resolver_address(value: &str) -> Result<SocketAddr, Error> {
    no_control("--resolver", value)?;
    let trimmed = value.trim();
    let address = match SocketAddr::from_str(trimmed) {
        Ok(address) => address,
        Err(_) => ip("--resolver", trimmed).map(|ip| SocketAddr::new(ip, 53))?,
    };
    if address.port() == 0 {
        return Err(usage(format!(
            "--resolver {value:?}: port 0 is not a port a resolver listens on"
        )));
    }
    if address.ip().is_unspecified() || address.ip().is_multicast() {
        return Err(usage(format!(
            "--resolver {value:?}: {} is not the address of a resolver",
            address.ip()
        )));
    }
    Ok(address)
}

fn resolver_settings(dns: &DnsArgs) -> Result<ResolverSettings, Error> {
    if dns.dns_attempts == 0 {
        return Err(usage("--dns-attempts must be at least 1"));
    }
    Ok(ResolverSettings {
        servers: dns
            .resolver
            .iter()
            .map(|r| resolver_address(r))
            .collect::<Result<_, _>>()?,
        timeout: seconds("--dns-timeout", dns.dns_timeout)?,
        attempts: dns.dns_attempts,
    })
}

fn blocklists(dns: &DnsArgs) -> Result<Vec<Blocklist>, Error> {
    if dns.no_dnsbl {
        return Ok(Vec::new());
    }
    if dns.dnsbl.is_empty() {
        return Ok(Blocklist::defaults());
    }
    dns.dnsbl
        .iter()
        .map(|zone| {
            no_control("--dnsbl", zone)?;
            DomainName::parse(zone)
                .map(|name| Blocklist::from_zone(&name.ascii))
                .map_err(|e| usage(format!("--dnsbl {zone:?}: {e}")))
        })
        .collect()
}

/// A mailbox for MAIL FROM or RCPT TO: no control characters, a valid address.
fn mailbox(flag: &str, value: &str) -> Result<String, Error> {
    no_control(flag, value)?;
    smtp::check_command_argument(flag, value).map_err(usage)?;
    if value.len() > ADDRESS_LIMIT {
        return Err(usage(format!(
            "{flag}: an address of {} bytes is longer than SMTP allows ({ADDRESS_LIMIT})",
            value.len()
        )));
    }
    lettre::Address::from_str(value)
        .map_err(|e| usage(format!("{flag} {value:?} is not a mail address: {e}")))?;
    Ok(value.to_string())
}

/// A domain to probe, or an address whose domain is probed and whose mailbox is asked for.
pub fn target(input: &str, rcpts: &[String]) -> Result<Target, Error> {
    let input = input.trim();
    let (domain_part, mailbox_part) = match input.rsplit_once('@') {
        Some((_, domain)) => (domain, Some(mailbox("address", input)?)),
        None => (input, None),
    };
    let domain = DomainName::parse(domain_part)
        .map_err(|e| Error::BadDomain(input.to_string(), e.to_string()))?;
    let rcpts = match (mailbox_part, rcpts.is_empty()) {
        (Some(address), true) => vec![address],
        (_, false) => rcpts.to_vec(),
        (None, true) => vec![format!("postmaster@{}", domain.ascii)],
    };
    Ok(Target { domain, rcpts })
}

/// A line of a domain list: a target, or what the line held and why it cannot be probed.
pub type ListItem = Result<Target, (String, Error)>;

/// The targets of a domain list (`-f FILE`, or standard input for `-`), read lazily line
/// by line: blank lines and `#` comments skipped, CRLF line ends taken as LF. A bad line
/// is an error that names it (`list.txt line 7: ...`) and the next line is read; a line
/// over [`LIST_LINE_LIMIT`] bytes is skipped without being held in memory. A NUL byte
/// means the file is binary: one error, and the reading stops. So a list of any size, or
/// a file that is no list at all, is read in bounded memory and never panics.
#[derive(Debug)]
pub struct TargetLines<R> {
    reader: R,
    source: String,
    rcpts: Vec<String>,
    number: usize,
    done: bool,
}

/// Reads the targets of a domain list; `source` names it in errors.
pub fn target_lines<R: std::io::BufRead>(
    reader: R,
    source: &str,
    rcpts: Vec<String>,
) -> TargetLines<R> {
    TargetLines {
        reader,
        source: source.to_string(),
        rcpts,
        number: 0,
        done: false,
    }
}

/// What a bad line held, as the error line of `--json` shows it: its start, read lossily.
fn line_start(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(80)])
        .trim_end()
        .to_string()
}

/// Consumes the rest of a line, whatever its length, holding one buffer at a time.
fn skip_line(reader: &mut impl std::io::BufRead) -> std::io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        if let Some(end) = memchr::memchr(b'\n', buffer) {
            reader.consume(end + 1);
            return Ok(());
        }
        let len = buffer.len();
        reader.consume(len);
    }
}

impl<R: std::io::BufRead> TargetLines<R> {
    fn bad(&self, line: &[u8], why: &str) -> ListItem {
        Err((
            line_start(line),
            usage(format!("{} line {}: {why}", self.source, self.number)),
        ))
    }
}

impl<R: std::io::BufRead> Iterator for TargetLines<R> {
    type Item = ListItem;

    fn next(&mut self) -> Option<ListItem> {
        use std::io::{BufRead, Read};
        while !self.done {
            let mut line = Vec::new();
            let limit = LIST_LINE_LIMIT as u64 + 1;
            match (&mut self.reader).take(limit).read_until(b'\n', &mut line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    self.done = true;
                    return Some(Err((
                        self.source.clone(),
                        Error::ReadFile {
                            path: self.source.clone(),
                            source,
                        },
                    )));
                }
            }
            self.number += 1;
            if line.contains(&0) {
                self.done = true;
                return Some(self.bad(
                    &line,
                    "a NUL byte: this is binary data, not a list of domains; reading stopped",
                ));
            }
            if line.len() > LIST_LINE_LIMIT && line.last() != Some(&b'\n') {
                if let Err(source) = skip_line(&mut self.reader) {
                    self.done = true;
                    return Some(Err((
                        self.source.clone(),
                        Error::ReadFile {
                            path: self.source.clone(),
                            source,
                        },
                    )));
                }
                return Some(self.bad(
                    &line,
                    &format!(
                        "longer than {LIST_LINE_LIMIT} bytes: not a domain or an address (at most {ADDRESS_LIMIT})"
                    ),
                ));
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                return Some(self.bad(
                    &line,
                    "not UTF-8 text: write the domain in UTF-8 or as its xn-- form",
                ));
            };
            let text = text.strip_suffix('\n').unwrap_or(text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let entry = text.split('#').next().unwrap_or_default().trim();
            if entry.is_empty() {
                continue;
            }
            let checked = no_control("the entry", entry).and_then(|()| target(entry, &self.rcpts));
            return Some(checked.map_err(|e| {
                (
                    entry.to_string(),
                    usage(format!("{} line {}: {e}", self.source, self.number)),
                )
            }));
        }
        None
    }
}

/// This host's fully qualified name, found the way `hostname -f` finds it without DNS: the
/// kernel's host name, completed from the line of /etc/hosts that names it. A warning
/// follows in the report when it is still not fully qualified, because strict servers
/// refuse such a name.
fn local_host_name() -> String {
    let short = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| {
            std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        })
        .unwrap_or_else(|| "localhost".to_string());
    if short.contains('.') {
        return short;
    }
    std::fs::read_to_string("/etc/hosts")
        .ok()
        .and_then(|hosts| fully_qualified(&short, &hosts))
        .unwrap_or(short)
}

/// The first name ending in `.<domain>` on an /etc/hosts line that lists `short`.
fn fully_qualified(short: &str, hosts: &str) -> Option<String> {
    let prefix = format!("{short}.");
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let names: Vec<&str> = line.split_whitespace().skip(1).collect();
        names
            .iter()
            .any(|n| *n == short || n.starts_with(&prefix))
            .then(|| {
                names
                    .iter()
                    .find(|n| n.starts_with(&prefix))
                    .map(ToString::to_string)
            })
            .flatten()
    })
}

fn probe_config(cli: &Cli) -> Result<ProbeConfig, Error> {
    let rcpts = cli
        .smtp
        .rcpt
        .iter()
        .map(|r| mailbox("--rcpt", r))
        .collect::<Result<Vec<_>, _>>()?;
    let targets = match (&cli.file, cli.domains.is_empty()) {
        (Some(_), false) => {
            return Err(usage("give domains as arguments or with --file, not both"));
        }
        (Some(path), true) => {
            input_path("--file", path, true)?;
            Targets::File(path.clone())
        }
        (None, false) => Targets::Listed(
            cli.domains
                .iter()
                .map(|d| {
                    no_control("DOMAIN", d)?;
                    target(d, &rcpts)
                })
                .collect::<Result<_, _>>()?,
        ),
        (None, true) => {
            return Err(usage(
                "nothing to do: give a domain to probe (smtpdiag example.com) or a command such as `explain 421` (see --help)",
            ));
        }
    };
    if cli.report.concurrency == 0 {
        return Err(usage("--concurrency must be at least 1"));
    }
    let settings = probe_settings(&cli.dns, &cli.smtp)?;
    Ok(ProbeConfig {
        shard: cli.report.shard.as_deref().map(Shard::parse).transpose()?,
        resume: cli.report.resume.clone(),
        targets,
        rcpts,
        sender: probe_sender(&cli.smtp, &settings)?,
        settings,
        transcript: cli.report.transcript,
        concurrency: cli.report.concurrency,
    })
}

/// How to probe a domain, from the DNS and SMTP flags.
fn probe_settings(dns: &DnsArgs, smtp_args: &SmtpArgs) -> Result<ProbeSettings, Error> {
    let helo = match &smtp_args.helo {
        Some(helo) => {
            no_control("--helo", helo)?;
            smtp::check_command_argument("--helo", helo).map_err(usage)?;
            if helo.is_empty() {
                return Err(usage("--helo must not be empty"));
            }
            // Not checked as a domain name on purpose: a bad name (`localhost`, `bad..name`)
            // is a way to see what a server says to one. It must still fit a command line.
            if !helo.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(usage(format!(
                    "--helo {helo:?}: give the name in ASCII (an IDN as its xn-- form)"
                )));
            }
            if helo.len() > HELO_LIMIT {
                return Err(usage(format!(
                    "--helo: a name of {} bytes is longer than a domain name can be ({HELO_LIMIT})",
                    helo.len()
                )));
            }
            helo.clone()
        }
        None => local_host_name(),
    };
    let mail_from = match smtp_args.from.as_deref() {
        None | Some("" | "<>") => String::new(),
        Some(from) => mailbox("--from", from)?,
    };
    for path in &smtp_args.ca_file {
        input_path("--ca-file", path, false)?;
    }
    let stage = seconds("--timeout", smtp_args.timeout)?;
    let settings = ProbeSettings {
        resolver: resolver_settings(dns)?,
        blocklists: blocklists(dns)?,
        check_ips: smtp_args
            .check_ip
            .iter()
            .map(|i| ip("--check-ip", i))
            .collect::<Result<_, _>>()?,
        smtp: SmtpSettings {
            port: smtp_args.port,
            helo,
            mail_from,
            rcpts: Vec::new(),
            starttls: !smtp_args.no_starttls,
            timeouts: Timeouts {
                connect: stage.min(Duration::from_secs(10)),
                greeting: stage,
                command: stage,
            },
            source: smtp_args
                .source
                .as_deref()
                .map(|s| ip("--source", s))
                .transpose()?,
            trust: TrustAnchors::load(&smtp_args.ca_file)?,
            all_mx: smtp_args.all_mx,
            limiter: std::sync::Arc::default(),
        },
        no_smtp: smtp_args.no_smtp,
        deadline: seconds("--deadline", smtp_args.deadline)?,
        transport_policy: !smtp_args.no_policy,
    };
    if smtp_args.port == 0 {
        return Err(usage("--port must be between 1 and 65535"));
    }
    Ok(settings)
}

fn logs_config(args: &LogsArgs) -> Result<LogsConfig, Error> {
    let inputs: Vec<LogInput> = args
        .files
        .iter()
        .map(|path| {
            input_path("logs", path, true)?;
            Ok(if path.as_os_str() == "-" {
                LogInput::Stdin
            } else {
                LogInput::File(path.clone())
            })
        })
        .collect::<Result<_, Error>>()?;
    if inputs.iter().filter(|i| **i == LogInput::Stdin).count() > 1 {
        return Err(usage("`-` can be given only once"));
    }
    let bound = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| {
                no_control(flag, v)?;
                logs::parse_time_bound(v).map_err(|e| usage(format!("{flag}: {e}")))
            })
            .transpose()
    };
    let since = bound("--since", &args.since)?;
    let until = bound("--until", &args.until)?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Err(usage("--since must be before --until"));
        }
    }
    let probe = match args.probe {
        None | Some(0) => None,
        Some(domains) => {
            if args.concurrency == 0 {
                return Err(usage("--concurrency must be at least 1"));
            }
            let settings = probe_settings(&args.dns, &args.smtp)?;
            Some(LogsProbe {
                domains,
                rcpts: args
                    .smtp
                    .rcpt
                    .iter()
                    .map(|r| mailbox("--rcpt", r))
                    .collect::<Result<Vec<_>, _>>()?,
                sender: probe_sender(&args.smtp, &settings)?,
                settings,
                concurrency: args.concurrency,
            })
        }
    };
    Ok(LogsConfig {
        inputs,
        since,
        until,
        probe,
    })
}

/// A name given on the command line: printable ASCII or a name IDNA turns into ASCII,
/// without the final dot. Names SPF cannot check (a label too long, an address literal)
/// are kept: SPF says "none" of them, as RFC 7208 §4.3 wants.
fn sender_name(flag: &str, value: &str) -> Result<String, Error> {
    let value = value.trim().trim_end_matches('.');
    if value.is_empty() {
        return Err(usage(format!("{flag}: the name is empty")));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(usage(format!(
            "{flag} {value:?}: a name has no spaces or control characters"
        )));
    }
    if value.is_ascii() {
        return Ok(value.to_ascii_lowercase());
    }
    DomainName::parse(value)
        .map(|name| name.ascii)
        .map_err(|e| usage(format!("{flag} {value:?}: {e}")))
}

/// The sender checks a probe adds: those of the `--from` domain for the `--check-ip`
/// addresses. Their blocklists are left out: the probe checks those addresses already.
fn probe_sender(
    smtp_args: &SmtpArgs,
    settings: &ProbeSettings,
) -> Result<Option<SenderConfig>, Error> {
    let from = &settings.smtp.mail_from;
    let Some((local_part, domain)) = from.rsplit_once('@') else {
        if !smtp_args.dkim_selectors.is_empty() {
            return Err(usage(
                "--dkim-selector needs --from ADDRESS and --check-ip IP (the sender to check)",
            ));
        }
        return Ok(None);
    };
    if settings.check_ips.is_empty() {
        if !smtp_args.dkim_selectors.is_empty() {
            return Err(usage(
                "--dkim-selector needs --check-ip IP (the address the sender's mail leaves from)",
            ));
        }
        return Ok(None);
    }
    let mut selectors = Vec::new();
    for selector in &smtp_args.dkim_selectors {
        let selector = sender_name("--dkim-selector", selector)?;
        if !selectors.contains(&selector) {
            selectors.push(selector);
        }
    }
    Ok(Some(SenderConfig {
        local_part: Some(local_part.to_string()),
        domain: sender_name("--from", domain)?,
        addresses: settings.check_ips.clone(),
        // Only a name the user gave is the sending server's; the default is this host's.
        helo: smtp_args
            .helo
            .as_ref()
            .map(|_| settings.smtp.helo.trim_end_matches('.').to_string()),
        selectors,
        resolver: settings.resolver.clone(),
        lists: Vec::new(),
    }))
}

fn sender_config(args: &SenderArgs) -> Result<SenderConfig, Error> {
    let given = args.sender.trim();
    let (local_part, domain) = match given.rsplit_once('@') {
        Some((local, domain)) => {
            if local.chars().any(char::is_control) {
                return Err(usage(format!(
                    "sender {given:?}: the local part has control characters"
                )));
            }
            (
                Some(
                    if local.is_empty() {
                        "postmaster"
                    } else {
                        local
                    }
                    .to_string(),
                ),
                sender_name("sender", domain)?,
            )
        }
        None => (None, sender_name("sender", given)?),
    };
    let mut addresses: Vec<IpAddr> = Vec::new();
    for value in &args.ips {
        let address = ip("--ip", value)?;
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    let mut selectors = Vec::new();
    for selector in &args.dkim_selectors {
        let selector = sender_name("--dkim-selector", selector)?;
        if !selectors.contains(&selector) {
            selectors.push(selector);
        }
    }
    Ok(SenderConfig {
        local_part,
        domain,
        addresses,
        // The HELO name is taken as the client gives it, good or bad: SPF expands it in
        // `%{h}` as it is, and a bad one is something to report, not to refuse.
        helo: match args.helo.as_deref().map(str::trim) {
            Some(helo) if helo.is_empty() || helo.chars().any(char::is_control) => {
                return Err(usage(format!(
                    "--helo {helo:?}: empty or with control characters"
                )));
            }
            helo => helo.map(|h| h.trim_end_matches('.').to_string()),
        },
        selectors,
        resolver: resolver_settings(&args.dns)?,
        lists: blocklists(&args.dns)?,
    })
}

impl Config {
    /// Checks the parsed command line. `env` reads environment variables (the locale).
    pub fn from_cli(cli: &Cli, env: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let lang = match &cli.output.lang {
            Some(code) => {
                no_control("--lang", code)?;
                code.parse::<Lang>()
                    .map_err(|e| Error::Usage(e.to_string()))?
            }
            None => Lang::from_env_vars(env),
        };
        let color = match cli.output.color {
            None | Some(ColorArg::Auto) => ColorChoice::Auto,
            Some(ColorArg::Always) => ColorChoice::Always,
            Some(ColorArg::Never) => ColorChoice::Never,
        };
        let format = if cli.output.json {
            Format::Json
        } else if cli.report.nagios {
            Format::Nagios
        } else {
            Format::Human
        };
        let task = match &cli.command {
            Some(Command::Explain { inputs }) => Task::Explain(explain_inputs(inputs)?),
            Some(Command::Compare { a, b }) => Task::Compare(Code::parse(a)?, Code::parse(b)?),
            Some(Command::Blocklist { addresses, dns }) => Task::Blocklist {
                addresses: addresses
                    .iter()
                    .map(|a| ip("blocklist", a))
                    .collect::<Result<_, _>>()?,
                resolver: resolver_settings(dns)?,
                lists: match blocklists(dns)? {
                    lists if lists.is_empty() => {
                        return Err(usage("--no-dnsbl leaves no list to check"));
                    }
                    lists => lists,
                },
            },
            Some(Command::Logs(args)) => Task::Logs(Box::new(logs_config(args)?)),
            Some(Command::Sender(args)) => Task::Sender(Box::new(sender_config(args)?)),
            Some(Command::Completions { shell }) => Task::Completions(*shell),
            Some(Command::Man) => Task::Man,
            None => Task::Probe(Box::new(probe_config(cli)?)),
        };
        Ok(Config {
            task,
            lang,
            format,
            color,
        })
    }
}

/// Whether an argument that is neither a code nor a reply was meant as a file: one word
/// with a directory or a file extension of messages and logs.
fn names_a_file(arg: &str) -> bool {
    let path = std::path::Path::new(arg);
    !arg.contains(char::is_whitespace)
        && (arg.contains(std::path::MAIN_SEPARATOR)
            || path.extension().is_some_and(|e| {
                ["eml", "msg", "txt", "log", "mbox"]
                    .iter()
                    .any(|known| e.eq_ignore_ascii_case(known))
            }))
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
            } else if names_a_file(arg) && std::path::Path::new(arg).is_dir() {
                Err(usage(format!(
                    "explain {arg:?} is a directory: give a file, a code or a reply"
                )))
            } else if Code::parse(arg).is_err() && std::path::Path::new(arg).exists() {
                // A regular file, or a pipe (`explain <(zcat bounce.gz)`) or a device: read
                // up to the input limit like any file.
                Ok(ExplainInput::File(arg.into()))
            } else {
                Query::parse(arg)
                    .map(|query| ExplainInput::Parsed {
                        text: arg.clone(),
                        query,
                    })
                    .map_err(|e| {
                        if names_a_file(arg) {
                            Error::ReadFile {
                                path: arg.clone(),
                                source: std::io::Error::new(
                                    std::io::ErrorKind::NotFound,
                                    "no such file",
                                ),
                            }
                        } else {
                            e
                        }
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
    use clap::Parser;

    fn inputs(args: &[&str]) -> Result<Vec<ExplainInput>, Error> {
        explain_inputs(&args.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    fn config(args: &[&str]) -> Result<Config, Error> {
        let mut command_line = vec!["smtpdiag"];
        command_line.extend_from_slice(args);
        Config::from_cli(&Cli::try_parse_from(command_line).unwrap(), |_| None)
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

    #[test]
    fn an_address_probes_its_domain_and_mailbox() {
        let t = target("bob@Example.com", &[]).unwrap();
        assert_eq!(t.domain.ascii, "example.com");
        assert_eq!(t.rcpts, ["bob@Example.com"]);
        let t = target("example.com", &[]).unwrap();
        assert_eq!(t.rcpts, ["postmaster@example.com"]);
    }

    #[test]
    fn host_name_is_completed_from_etc_hosts() {
        let hosts = "127.0.0.1 localhost\n192.0.2.5 mail.example.net mail # the MTA\n";
        assert_eq!(
            fully_qualified("mail", hosts).as_deref(),
            Some("mail.example.net")
        );
        assert_eq!(fully_qualified("other", hosts), None);
        assert_eq!(fully_qualified("localhost", hosts), None);
    }

    #[test]
    fn shards() {
        assert_eq!(Shard::parse("0/4").unwrap(), Shard { index: 0, count: 4 });
        assert_eq!(Shard::parse("3/4").unwrap(), Shard { index: 3, count: 4 });
        for bad in ["4/4", "1/0", "1", "a/2", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolver_addresses() {
        assert_eq!(resolver_address("127.0.0.1").unwrap().port(), 53);
        assert_eq!(resolver_address("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(resolver_address("::1").unwrap().port(), 53);
        assert_eq!(resolver_address("[::1]:5353").unwrap().port(), 5353);
        assert!(resolver_address("resolver.example").is_err());
    }

    #[test]
    fn bad_probe_input_is_refused() {
        for args in [
            &["bad..name"][..],
            &["example.com", "--rcpt", "a@example.com\r\nDATA"],
            &["example.com", "--from", "x\ny@example.com"],
            &["example.com", "--helo", "mx\r\nQUIT"],
            &["example.com", "--resolver", "nowhere"],
            &["example.com", "--timeout", "0"],
            &["example.com", "--timeout", "nan"],
            &["example.com", "--check-ip", "300.1.1.1"],
            &["example.com", "--concurrency", "0"],
            &["example.com", "--dnsbl", "bad zone"],
            &["bob@"],
            &["--rcpt", "a@example.com", "explain", "421"],
        ] {
            assert!(config(args).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn logs_flags_are_checked() {
        let checked = config(&["logs", "a.log", "-", "--since", "2026-11-30 08:00"]).unwrap();
        let Task::Logs(logs) = checked.task else {
            panic!("not logs");
        };
        assert_eq!(logs.inputs[1], LogInput::Stdin);
        assert_eq!(logs.since.unwrap().to_string(), "2026-11-30T08:00:00");
        assert!(logs.probe.is_none());
        for args in [
            &["logs", "-", "-"][..],
            &["logs", "a.log", "--since", "yesterday"],
            &[
                "logs",
                "a.log",
                "--since",
                "2026-12-01",
                "--until",
                "2026-11-30",
            ],
            &["logs", "a.log", "--probe", "2", "--concurrency", "0"],
            &["logs", "a.log", "--probe", "2", "--rcpt", "bad\r\naddress"],
        ] {
            assert!(config(args).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn control_characters_are_refused_naming_the_flag() {
        for (args, flag, named) in [
            (
                &["example.com\r\nDATA"][..],
                "DOMAIN",
                "carriage return (CR)",
            ),
            (&["example.com\n"], "DOMAIN", "line feed (LF)"),
            (
                &["example.com", "--rcpt", "a@example.com\nRSET"],
                "--rcpt",
                "line feed",
            ),
            (
                &["example.com", "--from", "a@example.com\r"],
                "--from",
                "carriage return",
            ),
            (&["example.com", "--helo", "mx\u{0}x"], "--helo", "NUL byte"),
            (
                &["example.com", "--resolver", "127.0.0.1\n"],
                "--resolver",
                "line feed",
            ),
            (
                &["example.com", "--dnsbl", "zen.spamhaus.org\r"],
                "--dnsbl",
                "carriage return",
            ),
            (
                &["example.com", "--check-ip", "192.0.2.1\n"],
                "--check-ip",
                "line feed",
            ),
            (
                &["example.com", "--source", "\u{1b}[31m"],
                "--source",
                "'\\u{1b}'",
            ),
            (&["example.com", "--lang", "en\n"], "--lang", "line feed"),
            (&["-f", "list\n.txt"], "--file", "line feed"),
            (
                &["example.com", "--ca-file", "ca\r.pem"],
                "--ca-file",
                "carriage return",
            ),
            (&["logs", "mail\n.log"], "logs", "line feed"),
            (
                &["logs", "-", "--since", "2026-11-30\n"],
                "--since",
                "line feed",
            ),
        ] {
            let error = config(args).expect_err(&format!("{args:?} accepted"));
            assert!(matches!(error, Error::Usage(_)), "{args:?}: {error:?}");
            assert_eq!(error.exit_status(), crate::ExitStatus::Usage);
            let message = error.to_string();
            assert!(
                message.starts_with(flag) && message.contains(named),
                "{args:?}: {message}"
            );
        }
    }

    #[test]
    fn other_values_are_checked_before_use() {
        let long = format!("{}@example.com", "a".repeat(250));
        let helo = "h".repeat(256);
        for args in [
            &["example.com", "--rcpt", long.as_str()][..],
            &["example.com", "--helo", helo.as_str()],
            &["example.com", "--helo", "mx.exämple.com"],
            &["example.com", "--resolver", "127.0.0.1:0"],
            &["example.com", "--resolver", "0.0.0.0"],
            &["example.com", "--resolver", "224.0.0.1"],
            &["-f", "/"],
            &["example.com", "--ca-file", "/"],
            &["logs", "/"],
            &["explain", "/"],
        ] {
            let error = config(args).expect_err(&format!("{args:?} accepted"));
            assert_eq!(error.exit_status(), crate::ExitStatus::Usage, "{args:?}");
        }
        // A bad HELO name is a way to test a server, and stays allowed.
        assert!(config(&["example.com", "--helo", "bad..name"]).is_ok());
        assert!(config(&["example.com", "--helo", "localhost"]).is_ok());
    }

    fn list(bytes: &[u8]) -> Vec<Result<String, String>> {
        target_lines(std::io::Cursor::new(bytes.to_vec()), "list.txt", Vec::new())
            .map(|item| match item {
                Ok(target) => Ok(target.domain.ascii),
                Err((input, error)) => Err(format!("{input:?} {error}")),
            })
            .collect()
    }

    #[test]
    fn a_domain_list_is_read_line_by_line_with_an_error_per_bad_line() {
        let mut bytes = b"# domains\r\nexample.com\r\n\n  Example.NET # a comment\n".to_vec();
        bytes.extend_from_slice(b"bad..name\n\xff\xfe.example\n");
        bytes.extend_from_slice(&vec![b'a'; 3 * LIST_LINE_LIMIT]);
        bytes.extend_from_slice(b"\nbob@example.org\nx\ry.example\nlast.example");
        let read = list(&bytes);
        assert_eq!(read[0], Ok("example.com".to_string()));
        assert_eq!(read[1], Ok("example.net".to_string()));
        let errors: Vec<&String> = read.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(errors[0].contains("list.txt line 5: \"bad..name\" is not a domain"));
        assert!(errors[1].contains("list.txt line 6: not UTF-8 text"));
        assert!(errors[2].contains("list.txt line 7: longer than 4096 bytes"));
        assert!(
            errors[3].contains(
                "list.txt line 9: the entry \"x\\ry.example\" contains a carriage return"
            ),
            "{}",
            errors[3]
        );
        assert_eq!(read[5], Ok("example.org".to_string()));
        assert_eq!(read.last(), Some(&Ok("last.example".to_string())));
        assert_eq!(read.len(), 8);
    }

    #[test]
    fn a_binary_list_stops_at_its_first_nul() {
        let read = list(b"example.com\n\x7fELF\x00\x00\x01\nexample.net\n");
        assert_eq!(read.len(), 2);
        assert!(
            read[1]
                .as_ref()
                .unwrap_err()
                .contains("line 2: a NUL byte: this is binary data")
        );
        // An endless line of zeros ends at once, without being read whole.
        let zeros = std::io::Read::take(std::io::repeat(0), 1 << 30);
        let mut lines = target_lines(std::io::BufReader::new(zeros), "/dev/zero", Vec::new());
        assert!(lines.next().unwrap().is_err());
        assert!(lines.next().is_none());
    }

    #[test]
    fn probe_defaults() {
        let config = config(&["example.com"]).unwrap();
        let Task::Probe(probe) = config.task else {
            panic!("not a probe");
        };
        assert_eq!(probe.settings.smtp.port, 25);
        assert!(probe.settings.smtp.mail_from.is_empty());
        assert!(probe.settings.resolver.servers.is_empty());
        assert_eq!(probe.settings.blocklists.len(), Blocklist::defaults().len());
    }
}
