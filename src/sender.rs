//! `smtpdiag sender`: the sending side of mail. SPF, DMARC, DKIM, reverse DNS, the HELO
//! name and blocklists of a domain and its sending addresses, all asked at the same time
//! (none depends on another), gathered in one [`SenderReport`] with its findings and the
//! checklist of the big receivers' requirements.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::assess::sender as assess;
use crate::config::SenderConfig;
use crate::dns::reverse::{helo_check, reverse};
use crate::dns::{HickoryDns, ResolverSettings};
use crate::dnsbl::{self, DnsblCheck};
use crate::kb::Lang;
use crate::policy::{dkim, dmarc, spf};
use crate::report::Verdict;
use crate::report::sender::SenderReport;

/// How long one SPF evaluation may take in all: every lookup may time out once, and
/// there are at most a few dozen of them (10 terms, 10 names each for mx and ptr).
fn evaluation_limit(resolver: &ResolverSettings) -> Duration {
    let attempts = u32::try_from(resolver.attempts.max(1)).unwrap_or(u32::MAX);
    (resolver.timeout * attempts) * 4 + Duration::from_secs(2)
}

/// Runs every check of the sender, at the same time.
pub async fn check(dns: &HickoryDns, config: &SenderConfig) -> SenderReport {
    let started = Instant::now();
    let (spf, dmarc, dkim, reverse, helo, dnsbl) = tokio::join!(
        spf::check(
            dns,
            config.local_part.as_deref(),
            &config.domain,
            config.helo.as_deref(),
            &config.addresses,
            evaluation_limit(&config.resolver),
        ),
        dmarc::check(dns, &config.domain),
        dkim::check(dns, &config.domain, &config.selectors),
        join_all(config.addresses.iter().map(|a| reverse(dns, *a))),
        async {
            match &config.helo {
                Some(name) => Some(helo_check(dns, name, &config.addresses).await),
                None => None,
            }
        },
        async {
            if config.lists.is_empty() {
                DnsblCheck::default()
            } else {
                dnsbl::check(dns, &config.addresses, &config.lists).await
            }
        },
    );
    let mut lookups = Vec::new();
    let reverse_dns = reverse
        .into_iter()
        .map(|(r, l)| {
            lookups.extend(l);
            r
        })
        .collect();
    let helo = helo.map(|(h, l)| {
        lookups.extend(l);
        h
    });
    lookups.extend(dnsbl.lookups.iter().cloned());
    let mut report = SenderReport {
        domain: config.domain.clone(),
        sender: config
            .local_part
            .as_ref()
            .map(|l| format!("{l}@{}", config.domain)),
        addresses: config.addresses.clone(),
        verdict: Verdict::Ok,
        exit_code: 0,
        spf,
        dmarc,
        dkim,
        reverse_dns,
        helo,
        dnsbl: dnsbl.results.clone(),
        dnsbl_lists: dnsbl.health.clone(),
        requirements: Vec::new(),
        findings: Vec::new(),
        lookups,
        duration: Duration::ZERO,
        lang: Lang::En,
    };
    let assessment = assess::assess(&report, &dnsbl, &config.lists, !config.selectors.is_empty());
    report.findings = assessment.findings;
    report.requirements = assessment.requirements;
    report.verdict = crate::report::Report::verdict_of(&report.findings, assessment.incomplete);
    report.exit_code = report.verdict.exit_status().code();
    report.duration = started.elapsed();
    report
}
