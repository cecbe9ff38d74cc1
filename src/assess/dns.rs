//! What the MX resolution and reverse DNS mean: null MX, a domain that does not exist, an
//! exchange that points nowhere, a resolver that failed.

use std::net::IpAddr;

use crate::dns::mx::{AddressLookup, MxAnswer, MxHost, MxResolution, ReverseDns};
use crate::dns::name::DomainName;
use crate::dns::{Lookup, Outcome, QueryType};
use crate::kb::FindingKind;
use crate::report::{Finding, Severity};

/// The DNS findings of a domain, and whether the resolver failed so that nothing reliable
/// is known about it.
#[must_use]
pub fn mx_findings(domain: &DomainName, mx: &MxResolution) -> (Vec<Finding>, bool) {
    let mut findings = Vec::new();
    let domain_finding = |kind, severity| {
        Finding::new(kind, severity)
            .with("domain", &domain.display)
            .about(domain.ascii.clone())
    };
    if mx.timed_out {
        return (findings, true);
    }
    match &mx.answer {
        MxAnswer::NxDomain => {
            findings.push(
                domain_finding(FindingKind::DomainNxdomain, Severity::Permanent)
                    .with_codes(Some(550), Some("5.1.2")),
            );
            return (findings, false);
        }
        MxAnswer::ServFail => {
            findings.push(
                domain_finding(FindingKind::DomainServfail, Severity::Transient)
                    .with_codes(Some(451), Some("4.4.3")),
            );
            return (findings, false);
        }
        MxAnswer::ResolverFailure(lookup) => {
            findings.push(resolver_failure(lookup));
            return (findings, true);
        }
        MxAnswer::NoRecords => return implicit_mx(domain, mx, domain_finding),
        MxAnswer::Records => {}
    }

    if mx.null_mx {
        if let Some(&preference) = mx.null_preferences.iter().find(|p| **p != 0) {
            findings.push(
                Finding::new(FindingKind::NullMxPreference, Severity::Warning)
                    .with("domain", &domain.display)
                    .with("preference", preference.to_string())
                    .about(domain.ascii.clone()),
            );
        }
        if mx.hosts.is_empty() {
            findings.push(
                domain_finding(FindingKind::NullMx, Severity::Permanent)
                    .with_codes(Some(556), Some("5.1.10")),
            );
            return (findings, false);
        }
        findings.push(domain_finding(FindingKind::NullMxMixed, Severity::Warning));
    }
    for host in &mx.duplicate_hosts {
        findings.push(
            Finding::new(FindingKind::MxDuplicateHost, Severity::Info)
                .with("domain", &domain.display)
                .with("host", host)
                .about(host.clone()),
        );
    }
    let mut transient_failure = false;
    for (host, facts) in mx.hosts.iter().zip(&mx.exchanges) {
        transient_failure |= matches!(facts.no_address, Some(AddressLookup::Failed(_)));
        findings.extend(exchange_findings(host, facts, &domain.display));
    }

    let mut incomplete = false;
    if mx.no_usable_host() {
        let (severity, code, enhanced) = if transient_failure {
            (Severity::Transient, 451, "4.4.3")
        } else {
            (Severity::Permanent, 550, "5.4.4")
        };
        findings.push(
            domain_finding(FindingKind::NoUsableMx, severity)
                .with_codes(Some(code), Some(enhanced)),
        );
        incomplete = transient_failure && resolver_to_blame(&mx.lookups);
    } else if mx
        .hosts
        .iter()
        .filter(|h| !h.addresses.is_empty())
        .all(|h| h.addresses.iter().all(IpAddr::is_ipv6))
    {
        // Every usable exchange is IPv6-only: IPv4-only senders cannot deliver at all.
        for finding in &mut findings {
            if finding.kind == FindingKind::MxIpv6Only {
                finding.severity = Severity::Warning;
            }
        }
    }
    (findings, incomplete)
}

fn implicit_mx(
    domain: &DomainName,
    mx: &MxResolution,
    domain_finding: impl Fn(FindingKind, Severity) -> Finding,
) -> (Vec<Finding>, bool) {
    let (Some(host), Some(facts)) = (mx.hosts.first(), mx.exchanges.first()) else {
        return (Vec::new(), false);
    };
    let exchange = exchange_findings(host, facts, &domain.display);
    if host.addresses.is_empty() {
        if matches!(facts.no_address, Some(AddressLookup::Failed(_))) {
            return (exchange, resolver_to_blame(&mx.lookups));
        }
        return (
            vec![
                domain_finding(FindingKind::NoMailHost, Severity::Permanent)
                    .with_codes(Some(550), Some("5.1.2")),
            ],
            false,
        );
    }
    let mut findings = vec![domain_finding(FindingKind::ImplicitMx, Severity::Info)];
    // The domain's own name being an alias is not an MX pointing at an alias.
    findings.extend(
        exchange
            .into_iter()
            .filter(|f| f.kind != FindingKind::MxCname),
    );
    (findings, false)
}

fn exchange_findings(
    host: &MxHost,
    facts: &crate::dns::mx::ExchangeFacts,
    domain: &str,
) -> Vec<Finding> {
    let name = host.host.as_str();
    let mut findings = Vec::new();
    if facts.ip_literal {
        findings.push(
            Finding::new(FindingKind::MxIpLiteral, Severity::Warning)
                .with("domain", domain)
                .with("host", name)
                .about(name),
        );
        return findings;
    }
    if let Some(target) = &host.cname {
        findings.push(
            Finding::new(FindingKind::MxCname, Severity::Warning)
                .with("host", name)
                .with("target", target)
                .about(name),
        );
    }
    match &facts.no_address {
        Some(AddressLookup::Failed(lookup)) if lookup.outcome.is_resolver_failure() => {
            findings.push(resolver_failure(lookup));
        }
        Some(AddressLookup::Failed(lookup)) => findings.push(
            Finding::new(FindingKind::MxLookupFailed, Severity::Warning)
                .with("host", name)
                .with("outcome", outcome_name(&lookup.outcome))
                .about(name),
        ),
        Some(AddressLookup::Dangling(outcome)) => findings.push(
            Finding::new(FindingKind::MxDangling, Severity::Warning)
                .with("host", name)
                .with("outcome", outcome_name(outcome))
                .about(name),
        ),
        None if host.addresses.iter().all(IpAddr::is_ipv6) => findings.push(
            Finding::new(FindingKind::MxIpv6Only, Severity::Info)
                .with("host", name)
                .about(name),
        ),
        None => {}
    }
    findings
}

/// The DNS word for how a lookup ended, as dig would print it.
fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Answer { .. } => "NOERROR",
        Outcome::NxDomain => "NXDOMAIN",
        Outcome::NoData => "NODATA",
        Outcome::ServFail => "SERVFAIL",
        Outcome::Refused => "REFUSED",
        Outcome::Timeout => "timeout",
        Outcome::Unreachable { .. } => "unreachable",
        Outcome::Failed { .. } => "failed",
    }
}

/// A finding for a lookup the resolver itself could not answer.
#[must_use]
pub fn resolver_failure(lookup: &Lookup) -> Finding {
    let finding = match &lookup.outcome {
        Outcome::Refused => Finding::new(FindingKind::ResolverRefused, Severity::Transient),
        Outcome::Unreachable { reason } | Outcome::Failed { reason } => {
            Finding::new(FindingKind::ResolverUnreachable, Severity::Transient)
                .with("reason", reason)
        }
        _ => Finding::new(FindingKind::ResolverTimeout, Severity::Transient),
    };
    finding
        .with("name", &lookup.name)
        .with("query_type", lookup.query_type.to_string())
        .about(lookup.name.clone())
}

/// Address lookups failed, and every failure was the resolver's own (no answer, refused):
/// the domain's DNS may well be fine, so nothing can be concluded about it.
fn resolver_to_blame(lookups: &[Lookup]) -> bool {
    let mut failures = lookups
        .iter()
        .filter(|l| matches!(l.query_type, QueryType::A | QueryType::Aaaa))
        .filter(|l| {
            !matches!(
                l.outcome,
                Outcome::Answer { .. } | Outcome::NxDomain | Outcome::NoData
            )
        })
        .peekable();
    failures.peek().is_some() && failures.all(|l| l.outcome.is_resolver_failure())
}

/// Reverse DNS that a receiving MTA would frown upon: no PTR, or one that does not come back.
#[must_use]
pub fn reverse_dns_findings(hosts: &[MxHost]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for host in hosts {
        for reverse in &host.reverse_dns {
            findings.extend(reverse_finding(&host.host, reverse));
        }
    }
    findings
}

fn reverse_finding(host: &str, reverse: &ReverseDns) -> Option<Finding> {
    let address = reverse.address.to_string();
    let kind = if reverse.names.is_empty() {
        if reverse.lookup_failed {
            return None;
        }
        FindingKind::PtrMissing
    } else if reverse.forward_confirmed {
        return None;
    } else {
        FindingKind::PtrMismatch
    };
    Some(
        Finding::new(kind, Severity::Info)
            .with("address", &address)
            .with("host", host)
            .with("names", reverse.names.join(", "))
            .about(address),
    )
}
