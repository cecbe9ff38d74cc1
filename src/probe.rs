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
use crate::policy::transport::{self, Dnssec, HostTlsa};
use crate::report::{Finding, Report, Timings, Transport, Verdict};
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
    /// Check the transport security policy (DNSSEC, DANE, MTA-STS, TLS-RPT).
    pub transport_policy: bool,
}

/// Where MTA-STS policies are fetched (RFC 8461 §3.3: HTTPS).
const HTTPS_PORT: u16 = 443;

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

    // The domain's own policy (MTA-STS, TLS-RPT, DNSSEC) needs only its name: it starts
    // with the MX lookup and runs beside everything else.
    let domain_policy = async {
        if !settings.transport_policy {
            return None;
        }
        let client = settings.smtp.trust.strict_client().ok()?;
        let limit = deadline.saturating_duration_since(Instant::now());
        let policy = transport::domain_policy(dns, &domain.ascii, client, HTTPS_PORT, limit);
        tokio::time::timeout_at(deadline, policy).await.ok()
    };
    // Boxed: the two halves are large futures, and a probe is awaited inside batches.
    let (domain_policy, facts) = tokio::join!(
        Box::pin(domain_policy),
        Box::pin(exchanger_facts(dns, domain, rcpts, settings, deadline))
    );
    let Facts {
        resolution,
        checked,
        check,
        sessions,
        tlsa,
        reverse_lookups,
        run_smtp,
        timings,
    } = facts;
    let transport = domain_policy.map(|domain| Transport {
        dnssec: match resolution.lookups.first() {
            Some(mx) => Dnssec::of(mx, resolution.authenticated),
            None => Dnssec::Unknown,
        },
        domain,
        tlsa: tlsa.0,
    });
    let assessment = assess::probe_findings(&ProbeFacts {
        domain,
        mx: &resolution,
        dnsbl: &check,
        checked: &checked,
        lists: &settings.blocklists,
        sessions: &sessions,
        port: settings.smtp.port,
        helo: run_smtp.then_some(settings.smtp.helo.as_str()),
        policy: transport.as_ref(),
    });

    let mut lookups = resolution.lookups;
    lookups.extend(reverse_lookups);
    lookups.extend(check.lookups);
    if let Some(transport) = &transport {
        lookups.extend(transport.domain.lookups.iter().cloned());
        lookups.extend(tlsa.1);
    }
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
        transport,
        sender: None,
        findings: assessment.findings,
        lookups,
        timings: Timings {
            total: started.elapsed(),
            ..timings
        },
        lang: Lang::En,
    };
    report.conclude(assessment.incomplete);
    report
}

/// What the exchangers of a domain showed: MX and addresses first, then reverse DNS,
/// blocklists, TLSA records and the SMTP dialogue at once.
struct Facts {
    resolution: MxResolution,
    checked: Vec<(IpAddr, Checked)>,
    check: DnsblCheck,
    sessions: Vec<crate::smtp::Session>,
    tlsa: (Vec<HostTlsa>, Vec<crate::dns::Lookup>),
    reverse_lookups: Vec<crate::dns::Lookup>,
    run_smtp: bool,
    timings: Timings,
}

async fn exchanger_facts(
    dns: &impl Dns,
    domain: &DomainName,
    rcpts: &[String],
    settings: &ProbeSettings,
    deadline: Instant,
) -> Facts {
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
    let names: Vec<String> = resolution
        .hosts
        .iter()
        .filter(|h| !h.addresses.is_empty())
        .map(|h| h.host.clone())
        .collect();

    // Everything that needs only the addresses runs at once.
    let (reverse, blocklists, sessions, tlsa) = tokio::join!(
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
        async {
            if !settings.transport_policy {
                return (Vec::new(), Vec::new());
            }
            let tlsa = transport::host_tlsa(dns, &names, settings.smtp.port);
            tokio::time::timeout_at(deadline, tlsa)
                .await
                .unwrap_or_default()
        },
    );
    let ((reverse_dns, reverse_lookups), reverse_time) = reverse;
    let (check, dnsbl_time) = blocklists;
    let (sessions, smtp_time) = sessions;
    let mut resolution = resolution;
    for (host, reverse) in resolution.hosts.iter_mut().zip(reverse_dns) {
        host.reverse_dns = reverse;
    }
    Facts {
        resolution,
        checked,
        check,
        sessions,
        tlsa,
        reverse_lookups,
        run_smtp,
        timings: Timings {
            total: Duration::ZERO,
            dns: mx_time + reverse_time,
            dnsbl: dnsbl_time,
            smtp: smtp_time,
        },
    }
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
