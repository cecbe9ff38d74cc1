//! Where mail for a domain goes: MX records (RFC 5321 §5.1), null MX (RFC 7505), the
//! implicit MX, the addresses of each exchange, and reverse DNS — with a finding for every
//! way this goes wrong.

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures_util::future::join_all;

use super::name::{DomainName, looks_like_ip_literal};
use super::{Dns, Lookup, Outcome, QueryType, Rdata, reverse_name};
use crate::kb::{FindingKind, Lang};
use crate::report::{Finding, MxHost, ReverseDns, Severity};

/// What DNS says about where mail for a domain goes.
#[derive(Debug, Clone, Default)]
pub struct MxResolution {
    pub null_mx: bool,
    pub implicit_mx: bool,
    /// Mail exchangers in preference order; a host listed twice appears once.
    pub hosts: Vec<MxHost>,
    pub findings: Vec<Finding>,
    pub lookups: Vec<Lookup>,
    /// The resolver failed: nothing reliable is known about the domain.
    pub incomplete: bool,
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Answer { .. } => "answer",
        Outcome::NxDomain => "NXDOMAIN",
        Outcome::NoData => "no record",
        Outcome::ServFail => "SERVFAIL",
        Outcome::Refused => "REFUSED",
        Outcome::Timeout => "timeout",
        Outcome::Unreachable { .. } => "resolver unreachable",
        Outcome::Failed { .. } => "failed",
    }
}

/// A finding about the domain as a whole, whose text needs only its name.
fn domain_finding(
    kind: FindingKind,
    severity: Severity,
    lang: Lang,
    domain: &DomainName,
) -> Finding {
    Finding::of_kind(kind, severity, lang, &[("domain", domain.display.as_str())])
        .about(domain.ascii.clone())
}

/// A finding for a lookup the resolver itself could not answer.
fn resolver_failure(lookup: &Lookup, lang: Lang) -> Finding {
    let query_type = lookup.query_type.to_string();
    let values = [
        ("name", lookup.name.as_str()),
        ("query_type", query_type.as_str()),
    ];
    match &lookup.outcome {
        Outcome::Refused => Finding::of_kind(
            FindingKind::ResolverRefused,
            Severity::Transient,
            lang,
            &values,
        ),
        Outcome::Unreachable { reason } | Outcome::Failed { reason } => Finding::of_kind(
            FindingKind::ResolverUnreachable,
            Severity::Transient,
            lang,
            &[("reason", reason.as_str())],
        ),
        _ => Finding::of_kind(
            FindingKind::ResolverTimeout,
            Severity::Transient,
            lang,
            &values,
        ),
    }
    .about(lookup.name.clone())
}

/// Looks up the MX records of a domain and the addresses of every exchange.
pub async fn resolve(dns: &impl Dns, domain: &DomainName, lang: Lang) -> MxResolution {
    let mut result = MxResolution::default();
    let name = domain.ascii.as_str();
    let shown = domain.display.as_str();
    let mx = dns.query(name, QueryType::Mx).await;
    let outcome = mx.outcome.clone();
    result.lookups.push(mx);

    let mut exchanges: Vec<(u16, String)> = match outcome {
        Outcome::Answer { records } => records
            .into_iter()
            .filter_map(|r| match r {
                Rdata::Mx {
                    preference,
                    exchange,
                } => Some((preference, exchange)),
                _ => None,
            })
            .collect(),
        Outcome::NoData => return implicit_mx(dns, domain, lang, result).await,
        Outcome::NxDomain => {
            result.findings.push(
                domain_finding(
                    FindingKind::DomainNxdomain,
                    Severity::Permanent,
                    lang,
                    domain,
                )
                .with_codes(Some(550), Some("5.1.2")),
            );
            return result;
        }
        Outcome::ServFail => {
            result.findings.push(
                domain_finding(
                    FindingKind::DomainServfail,
                    Severity::Transient,
                    lang,
                    domain,
                )
                .with_codes(Some(451), Some("4.4.3")),
            );
            return result;
        }
        _ => {
            result.incomplete = true;
            let finding = resolver_failure(&result.lookups[0], lang);
            result.findings.push(finding);
            return result;
        }
    };
    exchanges.sort();

    // RFC 7505: "0 ." — the root name as exchange.
    let null: Vec<u16> = exchanges
        .iter()
        .filter(|(_, host)| host.is_empty())
        .map(|(preference, _)| *preference)
        .collect();
    exchanges.retain(|(_, host)| !host.is_empty());
    if !null.is_empty() {
        result.null_mx = true;
        if let Some(&preference) = null.iter().find(|p| **p != 0) {
            result.findings.push(
                Finding::of_kind(
                    FindingKind::NullMxPreference,
                    Severity::Warning,
                    lang,
                    &[("domain", shown), ("preference", &preference.to_string())],
                )
                .about(name),
            );
        }
        if exchanges.is_empty() {
            result.findings.push(
                domain_finding(FindingKind::NullMx, Severity::Permanent, lang, domain)
                    .with_codes(Some(556), Some("5.1.10")),
            );
            return result;
        }
        result.findings.push(domain_finding(
            FindingKind::NullMxMixed,
            Severity::Warning,
            lang,
            domain,
        ));
    }

    // The same host at several preferences: keep its best preference, say so once.
    let mut first_preference: BTreeMap<String, u16> = BTreeMap::new();
    let mut unique = Vec::new();
    for (preference, host) in exchanges {
        if first_preference.contains_key(&host) {
            if !result.findings.iter().any(|f| {
                f.kind == FindingKind::MxDuplicateHost && f.subject.as_deref() == Some(&host)
            }) {
                result.findings.push(
                    Finding::of_kind(
                        FindingKind::MxDuplicateHost,
                        Severity::Info,
                        lang,
                        &[("domain", shown), ("host", &host)],
                    )
                    .about(host.clone()),
                );
            }
            continue;
        }
        first_preference.insert(host.clone(), preference);
        unique.push((preference, host));
    }
    unique.truncate(super::MAX_EXCHANGES);

    let resolved = join_all(
        unique
            .iter()
            .map(|(preference, host)| resolve_exchange(dns, *preference, host, shown, lang)),
    )
    .await;
    let mut transient_failure = false;
    for exchange in resolved {
        transient_failure |= exchange.transient_failure;
        result.lookups.extend(exchange.lookups);
        result.findings.extend(exchange.findings);
        result.hosts.push(exchange.host);
    }
    conclude_hosts(&mut result, domain, transient_failure, lang);
    result
}

/// No MX record: RFC 5321 §5.1 delivers to the domain's own addresses.
async fn implicit_mx(
    dns: &impl Dns,
    domain: &DomainName,
    lang: Lang,
    mut result: MxResolution,
) -> MxResolution {
    let name = domain.ascii.as_str();
    let shown = domain.display.as_str();
    let exchange = resolve_exchange(dns, 0, name, shown, lang).await;
    result.lookups.extend(exchange.lookups);
    result.implicit_mx = true;
    if exchange.host.addresses.is_empty() {
        if exchange.transient_failure {
            result.findings.extend(exchange.findings);
            result.incomplete |= resolver_to_blame(&result.lookups);
        } else {
            result.findings.push(
                domain_finding(FindingKind::NoMailHost, Severity::Permanent, lang, domain)
                    .with_codes(Some(550), Some("5.1.2")),
            );
        }
        return result;
    }
    result.findings.push(domain_finding(
        FindingKind::ImplicitMx,
        Severity::Info,
        lang,
        domain,
    ));
    let mut host = exchange.host;
    host.implicit = true;
    result.hosts.push(host);
    result.findings.extend(
        exchange
            .findings
            .into_iter()
            .filter(|f| f.kind != FindingKind::MxCname),
    );
    result
}

struct Exchange {
    host: MxHost,
    lookups: Vec<Lookup>,
    findings: Vec<Finding>,
    /// The lookup failed in a way that may clear (SERVFAIL, timeout).
    transient_failure: bool,
}

async fn resolve_exchange(
    dns: &impl Dns,
    preference: u16,
    host: &str,
    domain: &str,
    lang: Lang,
) -> Exchange {
    let mut exchange = Exchange {
        host: MxHost {
            preference,
            host: host.to_string(),
            addresses: Vec::new(),
            implicit: false,
            cname: None,
            reverse_dns: Vec::new(),
        },
        lookups: Vec::new(),
        findings: Vec::new(),
        transient_failure: false,
    };
    if looks_like_ip_literal(host) {
        exchange.findings.push(
            Finding::of_kind(
                FindingKind::MxIpLiteral,
                Severity::Warning,
                lang,
                &[("domain", domain), ("host", host)],
            )
            .about(host),
        );
        return exchange;
    }
    let (a, aaaa) = tokio::join!(
        dns.query(host, QueryType::A),
        dns.query(host, QueryType::Aaaa)
    );
    for lookup in [&a, &aaaa] {
        for record in lookup.outcome.records() {
            match record {
                Rdata::A(v4) => exchange.host.addresses.push(IpAddr::V4(*v4)),
                Rdata::Aaaa(v6) => exchange.host.addresses.push(IpAddr::V6(*v6)),
                Rdata::Cname { alias, target } if alias == host => {
                    exchange.host.cname = Some(target.clone());
                }
                _ => {}
            }
        }
    }
    exchange.host.addresses.sort();
    exchange.host.addresses.dedup();
    exchange
        .host
        .addresses
        .truncate(super::MAX_ADDRESSES_PER_EXCHANGE);
    if let Some(target) = exchange.host.cname.clone() {
        exchange.findings.push(
            Finding::of_kind(
                FindingKind::MxCname,
                Severity::Warning,
                lang,
                &[("host", host), ("target", &target)],
            )
            .about(host),
        );
    }
    if exchange.host.addresses.is_empty() {
        let failed = [&a, &aaaa]
            .into_iter()
            .find(|l| !matches!(l.outcome, Outcome::NxDomain | Outcome::NoData));
        match failed {
            Some(lookup) => {
                exchange.transient_failure = true;
                let finding = if lookup.outcome.is_resolver_failure() {
                    resolver_failure(lookup, lang)
                } else {
                    Finding::of_kind(
                        FindingKind::MxLookupFailed,
                        Severity::Warning,
                        lang,
                        &[("host", host), ("outcome", outcome_name(&lookup.outcome))],
                    )
                    .about(host)
                };
                exchange.findings.push(finding);
            }
            None => exchange.findings.push(
                Finding::of_kind(
                    FindingKind::MxDangling,
                    Severity::Warning,
                    lang,
                    &[("host", host), ("outcome", outcome_name(&a.outcome))],
                )
                .about(host),
            ),
        }
    } else if exchange.host.addresses.iter().all(IpAddr::is_ipv6) {
        exchange.findings.push(
            Finding::of_kind(
                FindingKind::MxIpv6Only,
                Severity::Info,
                lang,
                &[("host", host)],
            )
            .about(host),
        );
    }
    exchange.lookups.push(a);
    exchange.lookups.push(aaaa);
    exchange
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

/// Findings about the set of exchanges as a whole.
fn conclude_hosts(
    result: &mut MxResolution,
    domain: &DomainName,
    transient_failure: bool,
    lang: Lang,
) {
    let usable: Vec<&MxHost> = result
        .hosts
        .iter()
        .filter(|h| !h.addresses.is_empty())
        .collect();
    if usable.is_empty() {
        let severity = if transient_failure {
            Severity::Transient
        } else {
            Severity::Permanent
        };
        let (code, enhanced) = if transient_failure {
            (451, "4.4.3")
        } else {
            (550, "5.4.4")
        };
        result.findings.push(
            domain_finding(FindingKind::NoUsableMx, severity, lang, domain)
                .with_codes(Some(code), Some(enhanced)),
        );
        result.incomplete |= transient_failure && resolver_to_blame(&result.lookups);
    } else if usable
        .iter()
        .all(|h| h.addresses.iter().all(IpAddr::is_ipv6))
    {
        for finding in &mut result.findings {
            if finding.kind == FindingKind::MxIpv6Only {
                finding.severity = Severity::Warning;
            }
        }
    }
}

/// Reverse DNS of every address of every exchange, each checked forward (`FCrDNS`).
pub async fn reverse_dns(
    dns: &impl Dns,
    hosts: &[MxHost],
    lang: Lang,
) -> (Vec<Vec<ReverseDns>>, Vec<Finding>, Vec<Lookup>) {
    let per_host = join_all(hosts.iter().map(|host| async move {
        join_all(
            host.addresses
                .iter()
                .map(|address| check_address(dns, &host.host, *address, lang)),
        )
        .await
    }))
    .await;
    let mut all = Vec::new();
    let mut findings = Vec::new();
    let mut lookups = Vec::new();
    for host in per_host {
        let mut reverse = Vec::new();
        for (entry, finding, host_lookups) in host {
            reverse.push(entry);
            findings.extend(finding);
            lookups.extend(host_lookups);
        }
        all.push(reverse);
    }
    (all, findings, lookups)
}

async fn check_address(
    dns: &impl Dns,
    host: &str,
    address: IpAddr,
    lang: Lang,
) -> (ReverseDns, Option<Finding>, Vec<Lookup>) {
    let ptr = dns.query(&reverse_name(address), QueryType::Ptr).await;
    let names: Vec<String> = ptr
        .outcome
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::Ptr(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    let family = if address.is_ipv4() {
        QueryType::A
    } else {
        QueryType::Aaaa
    };
    let forward = join_all(names.iter().map(|name| dns.query(name, family))).await;
    let forward_confirmed = forward.iter().any(|lookup| {
        lookup.outcome.records().iter().any(|r| match (r, address) {
            (Rdata::A(v4), IpAddr::V4(a)) => v4 == &a,
            (Rdata::Aaaa(v6), IpAddr::V6(a)) => v6 == &a,
            _ => false,
        })
    });
    let address_text = address.to_string();
    let finding = if names.is_empty() {
        (!ptr.outcome.is_resolver_failure()).then(|| {
            Finding::of_kind(
                FindingKind::PtrMissing,
                Severity::Info,
                lang,
                &[("address", &address_text), ("host", host)],
            )
            .about(address_text.clone())
        })
    } else if forward_confirmed {
        None
    } else {
        Some(
            Finding::of_kind(
                FindingKind::PtrMismatch,
                Severity::Info,
                lang,
                &[
                    ("address", &address_text),
                    ("host", host),
                    ("names", &names.join(", ")),
                ],
            )
            .about(address_text.clone()),
        )
    };
    let mut lookups = vec![ptr];
    lookups.extend(forward);
    (
        ReverseDns {
            address,
            names,
            forward_confirmed,
        },
        finding,
        lookups,
    )
}
