//! The command line, as clap sees it. Doc comments are the help text. Nothing outside
//! `config.rs` reads these types: they are turned into a checked [`crate::config::Config`].

// Doc comments here are `--help` text, read in a terminal, not rustdoc Markdown: brackets
// are clap's `[default: ...]` and `IP[:PORT]`, not links.
#![allow(clippy::doc_markdown, rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  smtpdiag example.com                       probe a domain: DNS, blocklists, SMTP
  smtpdiag bob@example.com                   ... and ask for bob's mailbox too
  smtpdiag example.com -v                    ... with the SMTP transcript
  smtpdiag example.com --check-ip 192.0.2.7  ... and check my sending IP on blocklists
  smtpdiag -f domains.txt --json             many domains, JSON Lines
  smtpdiag blocklist 192.0.2.7               is my IP listed?
  smtpdiag explain 421                       what does a code mean?
  smtpdiag explain \"550 5.1.1 <bob@example.com>: User unknown\"
  smtpdiag compare 421 554 --lang ja
  smtpdiag logs /var/log/mail.log            why deliveries failed, by cause and domain

Exit status:
  0   deliverable (or: the command succeeded)
  1   transient failure: 4xx, timeouts that may clear
  2   permanent failure: 5xx, null MX, no way to deliver, a listed address
  3   could not complete: resolver unusable, sender's network blocked
  64  usage error: bad flag or input";

/// Tells a mail operator why mail to a domain fails and what to do about it.
///
/// Give one or more domains to probe them: MX and null MX, the mail exchangers' addresses,
/// DNS blocklists, then an SMTP dialogue with each exchanger (EHLO, STARTTLS, MAIL FROM,
/// RCPT TO — never DATA: no message is ever sent). Every reply is explained, with a fix.
#[derive(Debug, Parser)]
#[command(
    name = "smtpdiag",
    version,
    after_help = EXAMPLES,
    max_term_width = 100,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Domains to probe (an address such as bob@example.com probes its domain and asks for
    /// that mailbox)
    #[arg(value_name = "DOMAIN")]
    pub domains: Vec<String>,

    /// Read domains from FILE, one per line (`#` starts a comment); `-` reads standard input
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub dns: DnsArgs,

    #[command(flatten)]
    pub smtp: SmtpArgs,

    #[command(flatten)]
    pub report: ReportArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

/// The command line with pasted text made safe for the parser: an argument of `explain`
/// that starts with a dash but cannot be an option (`----- Transcript of session
/// follows -----`, `- 550 ...`) is moved after a `--`, where it is read as an input.
#[must_use]
pub fn shield_pasted_text(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(explain) = args.iter().position(|a| a == "explain") else {
        return args;
    };
    if args.iter().any(|a| a == "--") {
        return args;
    }
    let pasted = |a: &std::ffi::OsString| {
        let text = a.to_string_lossy();
        text.starts_with('-')
            && text != "-"
            && (text.starts_with("---") || text.contains(char::is_whitespace))
    };
    let (moved, mut kept): (Vec<_>, Vec<_>) = args
        .into_iter()
        .enumerate()
        .partition(|(i, a)| *i > explain && pasted(a));
    if moved.is_empty() {
        return kept.into_iter().map(|(_, a)| a).collect();
    }
    kept.push((0, "--".into()));
    kept.into_iter().chain(moved).map(|(_, a)| a).collect()
}

/// Resolver and blocklist flags, shared by the probe and `blocklist`.
#[derive(Debug, Args)]
#[command(next_help_heading = "DNS")]
pub struct DnsArgs {
    /// Resolver to use instead of the system's, IP[:PORT] (repeatable)
    #[arg(long, value_name = "IP[:PORT]")]
    pub resolver: Vec<String>,

    /// Seconds one DNS query attempt may take
    #[arg(long, value_name = "SECONDS", default_value = "3")]
    pub dns_timeout: f64,

    /// How many times a DNS query is tried
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub dns_attempts: usize,

    /// Blocklist zone to query instead of the default set (repeatable)
    #[arg(long, value_name = "ZONE", conflicts_with = "no_dnsbl")]
    pub dnsbl: Vec<String>,

    /// Do not query DNS blocklists
    #[arg(long)]
    pub no_dnsbl: bool,
}

/// SMTP dialogue flags.
#[derive(Debug, Args)]
#[command(next_help_heading = "SMTP")]
// Command-line switches are booleans by nature.
#[allow(clippy::struct_excessive_bools)]
pub struct SmtpArgs {
    /// Also check this sending IP against the blocklists (repeatable); with --from, also
    /// the SPF, DMARC and reverse DNS of the sender's domain for it (as `smtpdiag sender`)
    #[arg(long, value_name = "IP")]
    pub check_ip: Vec<String>,

    /// With --from and --check-ip: a DKIM selector of the sender's domain to check the
    /// key of (repeatable)
    #[arg(long = "dkim-selector", value_name = "SEL")]
    pub dkim_selectors: Vec<String>,

    /// TCP port of the mail exchangers
    #[arg(long, default_value_t = 25)]
    pub port: u16,

    /// Name to send with EHLO/HELO [default: this host's name]
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,

    /// Reverse-path for MAIL FROM [default: the null sender <>]
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,

    /// Recipient for RCPT TO (repeatable) [default: postmaster@DOMAIN]
    #[arg(long, value_name = "ADDRESS")]
    pub rcpt: Vec<String>,

    /// Do not use STARTTLS even when offered
    #[arg(long)]
    pub no_starttls: bool,

    /// Also trust the CA certificates in this PEM file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,

    /// Connect from this local address
    #[arg(long, value_name = "IP")]
    pub source: Option<String>,

    /// Seconds each stage may take: connect, greeting, each command
    #[arg(long, value_name = "SECONDS", default_value = "20")]
    pub timeout: f64,

    /// Seconds the whole probe of one domain may take
    #[arg(long, value_name = "SECONDS", default_value = "120")]
    pub deadline: f64,

    /// Probe every mail exchanger instead of stopping at the first that answers RCPT TO
    #[arg(long)]
    pub all_mx: bool,

    /// DNS and blocklists only: no SMTP connection
    #[arg(long)]
    pub no_smtp: bool,

    /// Skip the transport security policy: DNSSEC, DANE (TLSA), MTA-STS, TLS-RPT
    #[arg(long)]
    pub no_policy: bool,
}

/// Report flags.
#[derive(Debug, Args)]
#[command(next_help_heading = "Report")]
pub struct ReportArgs {
    /// Show the SMTP transcript (-> sent, <- received, <~ over TLS), every blocklist
    /// answer and every DNS lookup
    #[arg(short = 'v', long = "transcript", alias = "verbose")]
    pub transcript: bool,

    /// Print one Nagios/Icinga plugin line with performance data
    #[arg(long, conflicts_with = "json")]
    pub nagios: bool,

    /// How many domains to probe at the same time
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,

    /// Probe only part K of N of the domains (K from 0 to N-1), chosen by a stable hash of
    /// each domain: N machines given the same list and K = 0 to N-1 probe each domain once
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    /// Skip the domains already in FILE, the --json output of an earlier, interrupted run
    /// (append the new results to it: --json >> FILE)
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
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

/// Shells `completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    Bash,
    Elvish,
    Fish,
    Powershell,
    Zsh,
}

/// `smtpdiag logs`: the files, the time window, and the probe of the worst domains.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Log files, plain or gzip-compressed (`-` reads standard input)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Leave out failures before this time
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Leave out failures at or after this time
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// After the summary, probe the N destination domains with the most failures now
    #[arg(long, value_name = "N")]
    pub probe: Option<usize>,

    /// How many domains to probe at the same time (with --probe)
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,

    #[command(flatten)]
    pub dns: DnsArgs,

    #[command(flatten)]
    pub smtp: SmtpArgs,
}

/// `smtpdiag sender`: the domain or envelope sender, its addresses, HELO name and DKIM
/// selectors.
#[derive(Debug, Args)]
pub struct SenderArgs {
    /// The sending domain, or the envelope sender (news@example.org)
    #[arg(value_name = "DOMAIN|ADDRESS")]
    pub sender: String,

    /// An address the mail leaves from (repeatable)
    #[arg(long = "ip", value_name = "ADDRESS", required = true)]
    pub ips: Vec<String>,

    /// The name the sending server gives in EHLO/HELO
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,

    /// A DKIM selector to check the key of (repeatable)
    #[arg(long = "dkim-selector", value_name = "SEL")]
    pub dkim_selectors: Vec<String>,

    #[command(flatten)]
    pub dns: DnsArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain a reply code, a reply as pasted, or a whole bounce message
    ///
    /// Each INPUT is a basic code (421), an enhanced status code (5.7.26, X.1.10), a
    /// reply as pasted from a bounce or a log (a Diagnostic-Code field, a Postfix or Exim
    /// bounce line, multi-line replies included), or a file: a bounce message as it
    /// arrived (every failed recipient with its reply, cause and fix), or a text with a
    /// reply in it. `-` reads standard input, told apart by its content the same way.
    /// Every reply is given its cause (docs/causes.md) and what decided it. A valid code
    /// without an entry of its own (599) is explained by its class.
    #[command(
        after_help = "Examples:\n  smtpdiag explain 421 5.1.10\n  smtpdiag explain \"smtp; 550 5.7.1 Message content rejected, UBE\"\n  smtpdiag explain bounce.eml --json\n  pbpaste | smtpdiag explain -"
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

    /// Check IP addresses against DNS blocklists: is my IP listed?
    #[command(
        after_help = "Examples:\n  smtpdiag blocklist 192.0.2.7\n  smtpdiag blocklist 2001:db8::25 --dnsbl zen.spamhaus.org --json\n\nExit status: 0 not listed, 2 listed, 3 the lists could not be queried, 64 usage error."
    )]
    Blocklist {
        /// Addresses to check
        #[arg(required = true, value_name = "IP")]
        addresses: Vec<String>,

        #[command(flatten)]
        dns: DnsArgs,
    },

    /// Read mail logs: why deliveries failed, grouped by cause and by destination domain
    ///
    /// Reads Postfix (smtp, lmtp, local, virtual, qmgr; smtpd, cleanup and postscreen
    /// rejects are counted apart as refused by this server), Exim main logs, Sendmail and
    /// Exchange message tracking logs (CSV with a #Fields: header). Each FILE may be plain or
    /// gzip-compressed (told by its content); `-` reads standard input. Every bounce and
    /// deferral is classified like `smtpdiag explain` classifies a pasted reply, and each
    /// cause is shown once with its fix. Memory stays flat whatever the size of the logs;
    /// lines that are not understood are counted, never fatal.
    #[command(
        after_help = "Examples:\n  smtpdiag logs /var/log/mail.log\n  smtpdiag logs /var/log/mail.log.*.gz --since \"2026-11-30 08:00\"\n  journalctl -u postfix | smtpdiag logs -\n  smtpdiag logs /var/log/exim4/mainlog --json | jq '.by_cause[] | {cause, total}'\n  smtpdiag logs /var/log/mail.log --probe 5      ... and probe the 5 worst domains now\n\nTimes: --since/--until take RFC 3339 (2026-11-30T08:00:00Z) or YYYY-MM-DD[ HH:MM[:SS]];\ntimes without a zone are compared as written. Syslog dates have no year: the current\nyear is assumed, or the one before when the date would be in the future.\n\nExit status: 0 no failure, 1 deferrals only, 2 at least one bounce, 3 nothing failed\nbut a file could not be read to its end, 64 usage error or a file that cannot be opened."
    )]
    Logs(Box<LogsArgs>),

    /// Check the sending side: SPF, DMARC, DKIM, reverse DNS and blocklists of a domain
    /// and the addresses its mail leaves from
    ///
    /// Give the domain, or the envelope sender whose local part SPF macros may use, and
    /// every address the mail leaves from. SPF is evaluated for each address (RFC 7208
    /// check_host(), with the terms that decided it); the DMARC policy of the domain or
    /// of its organisational domain is read; each DKIM selector's key is checked; each
    /// address gets its reverse DNS and blocklist checks; and the published requirements of
    /// Gmail, Yahoo/AOL and Microsoft are checked line by line, with the reply each failure
    /// brings. No mail is sent.
    #[command(
        after_help = "Examples:\n  smtpdiag sender example.org --ip 192.0.2.25\n  smtpdiag sender news@example.org --ip 192.0.2.25 --ip 2001:db8::25 --helo mail.example.org --dkim-selector s1\n\nExit status: 0 in order, 1 a temporary problem (an SPF temperror), 2 mail will be refused\n(SPF fail, a listed address, no reverse DNS, ...), 3 the checks could not complete,\n64 usage error."
    )]
    Sender(Box<SenderArgs>),

    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: ShellArg,
    },

    /// Print the man page (roff)
    Man,
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
    fn pasted_text_starting_with_dashes_is_an_input() {
        let args = shield_pasted_text(
            [
                "smtpdiag",
                "explain",
                "----- Transcript ... <<< 421 Deferred",
                "--json",
            ]
            .map(std::ffi::OsString::from)
            .to_vec(),
        );
        let cli = Cli::try_parse_from(args).unwrap();
        match cli.command {
            Some(Command::Explain { inputs }) => {
                assert_eq!(inputs, ["----- Transcript ... <<< 421 Deferred"]);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(cli.output.json);
    }

    #[test]
    fn logs_takes_files_and_a_window() {
        let cli = Cli::try_parse_from([
            "smtpdiag",
            "logs",
            "a.log",
            "b.log.gz",
            "--since",
            "2026-11-30",
            "--probe",
            "3",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Logs(args)) => {
                assert_eq!(args.files.len(), 2);
                assert_eq!(args.since.as_deref(), Some("2026-11-30"));
                assert_eq!(args.probe, Some(3));
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["smtpdiag", "logs"]).is_err());
    }

    #[test]
    fn compare_needs_two_codes() {
        assert!(Cli::try_parse_from(["smtpdiag", "compare", "421"]).is_err());
    }

    #[test]
    fn domains_and_probe_flags() {
        let cli = Cli::try_parse_from([
            "smtpdiag",
            "example.com",
            "example.net",
            "--resolver",
            "127.0.0.1:5353",
            "--rcpt",
            "a@example.com",
            "--rcpt",
            "b@example.com",
            "-v",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.domains, ["example.com", "example.net"]);
        assert_eq!(cli.dns.resolver, ["127.0.0.1:5353"]);
        assert_eq!(cli.smtp.rcpt.len(), 2);
        assert!(cli.report.transcript);
    }

    #[test]
    fn probe_flags_do_not_mix_with_commands() {
        assert!(Cli::try_parse_from(["smtpdiag", "--dnsbl", "x.y", "--no-dnsbl", "a.b"]).is_err());
    }
}
