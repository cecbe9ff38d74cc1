//! The probe of one domain: the MX lookup, then the SMTP dialogue with the first exchanger
//! as soon as its own addresses are known; reverse DNS, blocklists and TLSA records once
//! every exchanger's addresses are, beside the dialogue; all under one deadline; then the
//! findings and the verdict.

use std::net::IpAddr;
use std::time::Duration;

use futures_util::future::join_all;

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
    // Boxed: the two halves are large futures, and a probe is awaited inside batches. The
    // exchangers' half is polled first, so that the MX query, the first step of the
    // critical path, leaves before the policy's queries.
    let (facts, domain_policy) = tokio::join!(
        Box::pin(exchanger_facts(dns, domain, rcpts, settings, deadline)),
        Box::pin(domain_policy)
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

/// What the exchangers of a domain showed: MX and addresses, the SMTP dialogue from the
/// first exchanger's addresses on, and reverse DNS, blocklists and TLSA records.
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
    let started = Instant::now();
    let mut smtp_settings = settings.smtp.clone();
    smtp_settings.rcpts = rcpts.to_vec();
    // The SMTP walk gets each exchanger through a channel of its own as soon as that
    // exchanger's addresses are known: the dialogue with the first exchanger never waits
    // for a slow or failing lookup of a backup. It learns the exchangers (their
    // preferences, for the MTA order) once the MX answer is in.
    let (walk_sender, walk_receiver) = tokio::sync::oneshot::channel();
    let resolve = async {
        let (mut resolution, exchanges) = mx::query(dns, domain).await;
        let (senders, pending): (Vec<_>, Vec<_>) = exchanges
            .iter()
            .map(|exchange| {
                let (sender, receiver) = tokio::sync::oneshot::channel();
                (sender, (exchange.preference, receiver))
            })
            .unzip();
        let _ = walk_sender.send(pending);
        let resolved = join_all(exchanges.iter().zip(senders).map(
            |(exchange, sender)| async move {
                let resolved = mx::resolve_exchange(dns, exchange).await;
                let _ = sender.send(resolved.host.clone());
                resolved
            },
        ))
        .await;
        mx::add_exchanges(&mut resolution, resolved);
        resolution
    };
    let smtp_walk = async {
        // Dropped unanswered when the MX lookup ran out of time: nothing to talk to.
        let Ok(pending) = walk_receiver.await else {
            return (Vec::new(), Duration::ZERO);
        };
        if settings.no_smtp {
            return (Vec::new(), Duration::ZERO);
        }
        smtp::probe_as_resolved(pending, &smtp_settings, deadline).await
    };
    let (after_mx, (sessions, smtp_time)) = tokio::join!(
        after_resolution(dns, settings, deadline, started, resolve),
        smtp_walk
    );
    let AfterResolution {
        mut resolution,
        checked,
        check,
        tlsa,
        reverse: (reverse_dns, reverse_lookups),
        mx_time,
        reverse_time,
        dnsbl_time,
    } = after_mx;
    // As when the MX lookup itself ran out of time: a resolution cut short says nothing,
    // and a dialogue begun before the cut is not reported without it.
    let sessions = if resolution.timed_out {
        Vec::new()
    } else {
        sessions
    };
    let run_smtp = !settings.no_smtp && resolution.hosts.iter().any(|h| !h.addresses.is_empty());
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

/// The MX resolution and what needs every exchanger's addresses: reverse DNS, blocklists
/// and TLSA records, all at once.
struct AfterResolution {
    resolution: MxResolution,
    checked: Vec<(IpAddr, Checked)>,
    check: DnsblCheck,
    tlsa: (Vec<HostTlsa>, Vec<crate::dns::Lookup>),
    reverse: (Vec<Vec<mx::ReverseDns>>, Vec<crate::dns::Lookup>),
    mx_time: Duration,
    reverse_time: Duration,
    dnsbl_time: Duration,
}

async fn after_resolution(
    dns: &impl Dns,
    settings: &ProbeSettings,
    deadline: Instant,
    started: Instant,
    resolve: impl Future<Output = MxResolution>,
) -> AfterResolution {
    let resolution = tokio::time::timeout_at(deadline, resolve)
        .await
        .unwrap_or_else(|_| MxResolution {
            timed_out: true,
            ..MxResolution::default()
        });
    let mx_time = started.elapsed();

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
    let names: Vec<String> = resolution
        .hosts
        .iter()
        .filter(|h| !h.addresses.is_empty())
        .map(|h| h.host.clone())
        .collect();

    // Everything that needs only the addresses runs at once, beside the dialogue.
    let ((reverse, reverse_time), (check, dnsbl_time), tlsa) = tokio::join!(
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
    AfterResolution {
        resolution,
        checked,
        check,
        tlsa,
        reverse,
        mx_time,
        reverse_time,
        dnsbl_time,
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
