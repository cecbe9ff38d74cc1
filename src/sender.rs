//! `smtpdiag sender`: the sending side of mail. SPF, DMARC, DKIM, reverse DNS and
//! blocklists of a domain and its sending addresses, checked at the same time where they
//! do not depend on each other, gathered in one [`SenderReport`].

use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::Format;
use crate::dns::{HickoryDns, ResolverSettings};
use crate::dnsbl::Blocklist;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::kb::Lang;
use crate::output::TextStyle;
use crate::policy::spf::{self, SpfCheck, SpfVerdict};
use crate::report::{Verdict, serialize_ms};

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

/// Everything `smtpdiag sender` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SenderReport {
    pub domain: String,
    /// The envelope sender, when an address was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub addresses: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    pub spf: SpfCheck,
    pub verdict: Verdict,
    pub exit_code: u8,
    #[serde(serialize_with = "serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
}

/// How long one SPF evaluation may take in all: every lookup may time out once, and
/// there are at most a few dozen of them (10 terms, 10 names each for mx and ptr).
fn evaluation_limit(resolver: &ResolverSettings) -> Duration {
    let attempts = u32::try_from(resolver.attempts.max(1)).unwrap_or(u32::MAX);
    (resolver.timeout * attempts) * 4 + Duration::from_secs(2)
}

/// Runs every check of the sender.
pub async fn check(dns: &HickoryDns, config: &SenderConfig) -> SenderReport {
    let started = Instant::now();
    let spf = spf::check(
        dns,
        config.local_part.as_deref(),
        &config.domain,
        config.helo.as_deref(),
        &config.addresses,
        evaluation_limit(&config.resolver),
    )
    .await;
    let verdict = verdict_of(&spf);
    SenderReport {
        domain: config.domain.clone(),
        sender: config
            .local_part
            .as_ref()
            .map(|l| format!("{l}@{}", config.domain)),
        addresses: config.addresses.clone(),
        helo: config.helo.clone(),
        spf,
        verdict,
        exit_code: verdict.exit_status().code(),
        duration: started.elapsed(),
    }
}

fn verdict_of(spf: &SpfCheck) -> Verdict {
    let results = || spf.evaluations.iter().map(|e| e.result);
    if results().any(|r| matches!(r, SpfVerdict::Fail | SpfVerdict::Permerror)) {
        Verdict::Permanent
    } else if results().any(|r| r == SpfVerdict::Temperror) {
        Verdict::Transient
    } else {
        Verdict::Ok
    }
}

/// Checks the sender and writes the report: the whole of `smtpdiag sender` but for flag
/// parsing.
pub async fn run(
    config: &SenderConfig,
    format: Format,
    lang: Lang,
    style: TextStyle,
    out: &mut dyn Write,
) -> Result<ExitStatus, Error> {
    let dns = HickoryDns::new(&config.resolver)?;
    let report = check(&dns, config).await;
    let written = match format {
        Format::Json => crate::output::sender::json(out, &report),
        _ => crate::output::sender::text(out, &report, lang, style),
    };
    match written {
        Ok(()) => Ok(report.verdict.exit_status()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(report.verdict.exit_status()),
        Err(e) => Err(Error::Output(e)),
    }
}
