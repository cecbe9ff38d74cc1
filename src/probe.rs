//! The probe of one domain: DNS (MX, addresses), then reverse DNS, blocklists and the SMTP
//! dialogue at the same time, all under one deadline; then the findings and the verdict.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::dns::mx::{self, MxResolution};
use crate::dns::name::DomainName;
use crate::dns::{Dns, ResolverSettings};
use crate::dnsbl::{self, Blocklist, Checked, DnsblCheck};
use crate::kb::{FindingKind, Lang};
use crate::report::{Finding, Report, Severity, Timings, Verdict};
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
    pub lang: Lang,
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
    let lang = settings.lang;
    let started = Instant::now();
    let deadline = started + settings.deadline;

    let (resolution, mx_time) = timed(async {
        tokio::time::timeout_at(deadline, mx::resolve(dns, domain, lang))
            .await
            .unwrap_or_else(|_| MxResolution {
                incomplete: true,
                ..MxResolution::default()
            })
    })
    .await;

    let mut addresses: Vec<(IpAddr, Checked)> = settings
        .check_ips
        .iter()
        .map(|ip| (*ip, Checked::Sender))
        .collect();
    for host in &resolution.hosts {
        for address in &host.addresses {
            if !addresses.iter().any(|(a, _)| a == address) {
                let host = host.host.clone();
                addresses.push((*address, Checked::Mx { host }));
            }
        }
    }
    let run_smtp = !settings.no_smtp && resolution.hosts.iter().any(|h| !h.addresses.is_empty());
    let mut smtp_settings = settings.smtp.clone();
    smtp_settings.rcpts = rcpts.to_vec();

    // Everything that needs only the addresses runs at once.
    let (reverse, blocklists, sessions) = tokio::join!(
        timed(async {
            tokio::time::timeout_at(deadline, mx::reverse_dns(dns, &resolution.hosts, lang))
                .await
                .unwrap_or_default()
        }),
        timed(async {
            if settings.blocklists.is_empty() || addresses.is_empty() {
                return DnsblCheck::default();
            }
            let check = dnsbl::check(dns, &addresses, &settings.blocklists, lang);
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
    let ((reverse_dns, reverse_findings, reverse_lookups), reverse_time) = reverse;
    let (check, dnsbl_time) = blocklists;
    let (sessions, smtp_time) = sessions;

    let MxResolution {
        null_mx,
        implicit_mx,
        mut hosts,
        mut findings,
        mut lookups,
        incomplete: dns_incomplete,
    } = resolution;
    for (host, reverse) in hosts.iter_mut().zip(reverse_dns) {
        host.reverse_dns = reverse;
    }
    lookups.extend(reverse_lookups);
    lookups.extend(check.lookups);
    findings.extend(reverse_findings);
    findings.extend(check.findings);

    let assessment = smtp::assess(&sessions, settings.smtp.port, lang);
    if run_smtp && !settings.smtp.helo.contains('.') {
        findings.push(
            Finding::of_kind(
                FindingKind::HeloNotFqdn,
                Severity::Warning,
                lang,
                &[("helo", &settings.smtp.helo)],
            )
            .about(settings.smtp.helo.clone()),
        );
    }
    findings.extend(assessment.findings);

    let mut report = Report {
        domain: domain.display.clone(),
        ascii_domain: domain.ascii.clone(),
        verdict: Verdict::Unknown,
        exit_code: 0,
        null_mx,
        implicit_mx,
        mx: hosts,
        dnsbl: check.results,
        dnsbl_lists: check.health,
        sessions,
        findings,
        lookups,
        timings: Timings {
            total: started.elapsed(),
            dns: mx_time + reverse_time,
            dnsbl: dnsbl_time,
            smtp: smtp_time,
        },
        lang,
    };
    report.conclude(dns_incomplete || assessment.incomplete);
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
    lang: Lang,
) -> BlocklistReport {
    let started = Instant::now();
    let checked: Vec<(IpAddr, Checked)> = addresses.iter().map(|a| (*a, Checked::Sender)).collect();
    let check = dnsbl::check(dns, &checked, lists, lang).await;
    // When no query got through, nothing is known: the resolver is the problem.
    let nothing_answered = check.results.iter().all(|r| {
        matches!(
            r.status,
            dnsbl::DnsblStatus::Failed | dnsbl::DnsblStatus::Skipped
        )
    });
    let verdict = Report::verdict_of(&check.findings, nothing_answered);
    BlocklistReport {
        addresses: addresses.to_vec(),
        verdict,
        exit_code: verdict.exit_status().code(),
        dnsbl: check.results,
        dnsbl_lists: check.health,
        findings: check.findings,
        lookups: check.lookups,
        duration: started.elapsed(),
        lang,
    }
}
