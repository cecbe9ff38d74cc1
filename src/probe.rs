//! The probe of one domain: DNS (MX, addresses), then reverse DNS, blocklists and the SMTP
//! dialogue at the same time, all under one deadline; then the findings and the verdict.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::assess::{self, Checked, ProbeFacts};
use crate::dns::mx::{self, MxResolution};
use crate::dns::name::DomainName;
use crate::dns::{Dns, ResolverSettings};
use crate::dnsbl::{self, Blocklist, DnsblCheck};
use crate::kb::Lang;
use crate::report::{Finding, Report, Timings, Verdict};
use crate::smtp::{self, SmtpSettings};

/// Everything a probe needs besides the domain.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub resolver: ResolverSettings,
    /// The lists to query; empty turns blocklist checks off.
    pub blocklists: Vec<Blocklist>,
    /// The user's own sending addresses, checked against the lists.
    pub check_ips: Vec<IpAddr>,
    pub smtp: SmtpSettings,
    /// Skip the SMTP dialogue: DNS and blocklists only.
    pub no_smtp: bool,
    /// The most one domain's probe may take.
    pub deadline: Duration,
}

async fn timed<T>(future: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let value = future.await;
    (value, started.elapsed())
}

/// Probes one domain. `rcpts` are the recipients for this domain (already defaulted to
/// postmaster@domain when none was given).
pub async fn probe(
    dns: &impl Dns,
    domain: &DomainName,
    rcpts: &[String],
    settings: &ProbeSettings,
) -> Report {
    let started = Instant::now();
    let deadline = started + settings.deadline;

    let (resolution, mx_time) = timed(async {
        tokio::time::timeout_at(deadline, mx::resolve(dns, domain))
            .await
            .unwrap_or_else(|_| MxResolution {
                timed_out: true,
                ..MxResolution::default()
            })
    })
    .await;

    let mut checked: Vec<(IpAddr, Checked)> = settings
        .check_ips
        .iter()
        .map(|ip| (*ip, Checked::Sender))
        .collect();
    for host in &resolution.hosts {
        for address in &host.addresses {
            if !checked.iter().any(|(a, _)| a == address) {
                let host = host.host.clone();
                checked.push((*address, Checked::Mx { host }));
            }
        }
    }
    let addresses: Vec<IpAddr> = checked.iter().map(|(a, _)| *a).collect();
    let run_smtp = !settings.no_smtp && resolution.hosts.iter().any(|h| !h.addresses.is_empty());
    let mut smtp_settings = settings.smtp.clone();
    smtp_settings.rcpts = rcpts.to_vec();

    // Everything that needs only the addresses runs at once.
    let (reverse, blocklists, sessions) = tokio::join!(
        timed(async {
            tokio::time::timeout_at(deadline, mx::reverse_dns(dns, &resolution.hosts))
                .await
                .unwrap_or_default()
        }),
        timed(async {
            if settings.blocklists.is_empty() || addresses.is_empty() {
                return DnsblCheck::default();
            }
            let check = dnsbl::check(dns, &addresses, &settings.blocklists);
            tokio::time::timeout_at(deadline, check)
                .await
                .unwrap_or_default()
        }),
        timed(async {
            if run_smtp {
                smtp::probe_hosts(&resolution.hosts, &smtp_settings, deadline).await
            } else {
                Vec::new()
            }
        }),
    );
    let ((reverse_dns, reverse_lookups), reverse_time) = reverse;
    let (check, dnsbl_time) = blocklists;
    let (sessions, smtp_time) = sessions;

    let mut resolution = resolution;
    for (host, reverse) in resolution.hosts.iter_mut().zip(reverse_dns) {
        host.reverse_dns = reverse;
    }
    let assessment = assess::probe_findings(&ProbeFacts {
        domain,
        mx: &resolution,
        dnsbl: &check,
        checked: &checked,
        lists: &settings.blocklists,
        sessions: &sessions,
        port: settings.smtp.port,
        helo: run_smtp.then_some(settings.smtp.helo.as_str()),
    });

    let mut lookups = resolution.lookups;
    lookups.extend(reverse_lookups);
    lookups.extend(check.lookups);
    let mut report = Report {
        domain: domain.display.clone(),
        ascii_domain: domain.ascii.clone(),
        verdict: Verdict::Unknown,
        exit_code: 0,
        null_mx: resolution.null_mx,
        implicit_mx: resolution.implicit_mx,
        mx: resolution.hosts,
        dnsbl: check.results,
        dnsbl_lists: check.health,
        sessions,
        findings: assessment.findings,
        lookups,
        timings: Timings {
            total: started.elapsed(),
            dns: mx_time + reverse_time,
            dnsbl: dnsbl_time,
            smtp: smtp_time,
        },
        lang: Lang::En,
    };
    report.conclude(assessment.incomplete);
    report
}

/// What `smtpdiag blocklist` found for a list of addresses.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BlocklistReport {
    pub addresses: Vec<IpAddr>,
    pub verdict: Verdict,
    pub exit_code: u8,
    pub dnsbl: Vec<dnsbl::DnsblResult>,
    pub dnsbl_lists: Vec<dnsbl::ListHealth>,
    pub findings: Vec<Finding>,
    pub lookups: Vec<crate::dns::Lookup>,
    #[serde(serialize_with = "crate::report::serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
    pub lang: Lang,
}

/// Checks addresses against the lists: the runbook step "is my IP listed?".
pub async fn check_addresses(
    dns: &impl Dns,
    addresses: &[IpAddr],
    lists: &[Blocklist],
) -> BlocklistReport {
    let started = Instant::now();
    let checked: Vec<(IpAddr, Checked)> = addresses.iter().map(|a| (*a, Checked::Sender)).collect();
    let check = dnsbl::check(dns, addresses, lists).await;
    let findings = assess::dnsbl::dnsbl_findings(&check, &checked, lists);
    // When no query got through, nothing is known: the resolver is the problem.
    let nothing_answered = check.results.iter().all(|r| {
        matches!(
            r.status,
            dnsbl::DnsblStatus::Failed | dnsbl::DnsblStatus::Skipped
        )
    });
    let verdict = Report::verdict_of(&findings, nothing_answered);
    BlocklistReport {
        addresses: addresses.to_vec(),
        verdict,
        exit_code: verdict.exit_status().code(),
        dnsbl: check.results,
        dnsbl_lists: check.health,
        findings,
        lookups: check.lookups,
        duration: started.elapsed(),
        lang: Lang::En,
    }
}
