//! Where mail for a domain goes: MX records (RFC 5321 §5.1), null MX (RFC 7505), the
//! implicit MX, the addresses of each exchange, and reverse DNS. Facts only: what was asked
//! and what came back; `crate::assess::dns` says what they mean.

use std::net::IpAddr;

use futures_util::future::join_all;
use serde::Serialize;

use super::name::{DomainName, looks_like_ip_literal};
use super::{Dns, Lookup, Outcome, QueryType, Rdata, reverse_name};

/// A mail exchanger of the domain and what DNS says about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MxHost {
    pub preference: u16,
    /// The exchange name, A-labels, no final dot.
    pub host: String,
    pub addresses: Vec<IpAddr>,
    /// The domain itself, used because it has no MX record (RFC 5321 §5.1).
    pub implicit: bool,
    /// The target when the exchange is an alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
    /// Reverse DNS of each address.
    pub reverse_dns: Vec<ReverseDns>,
}

/// The PTR names of an address and whether one of them resolves back to it (`FCrDNS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReverseDns {
    pub address: IpAddr,
    pub names: Vec<String>,
    pub forward_confirmed: bool,
    /// The PTR query itself failed at the resolver (timeout, refused): no names is not
    /// "no PTR record".
    #[serde(skip)]
    pub lookup_failed: bool,
}

/// What the MX query of the domain answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum MxAnswer {
    /// MX records (possibly only the null MX).
    #[default]
    Records,
    /// No MX record: the domain itself is the exchange (RFC 5321 §5.1).
    NoRecords,
    NxDomain,
    ServFail,
    /// The resolver itself failed (timeout, refused, unreachable): nothing is known.
    ResolverFailure(Lookup),
}

/// What the address lookups of one exchange showed, beyond its addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeFacts {
    pub host: String,
    /// The exchange is written as an address (`10 [192.0.2.1]`, `10 192.0.2.1`): not looked up.
    pub ip_literal: bool,
    /// Neither A nor AAAA gave an address: the lookup that failed, or `None` when both said
    /// the name has no address (NXDOMAIN or no record).
    pub no_address: Option<AddressLookup>,
}

/// Why an exchange has no address.
#[derive(Debug, Clone, PartialEq)]
pub enum AddressLookup {
    /// The name does not exist or has no address record: the outcome of the A query.
    Dangling(Outcome),
    /// A lookup failed in a way that may clear (SERVFAIL, timeout, refused).
    Failed(Lookup),
}

/// What DNS says about where mail for a domain goes.
// Each flag is a separate yes/no fact of the answer.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Default)]
pub struct MxResolution {
    pub answer: MxAnswer,
    pub null_mx: bool,
    pub implicit_mx: bool,
    /// The preferences of the null MX records (`0 .`); RFC 7505 wants 0.
    pub null_preferences: Vec<u16>,
    /// Hosts listed more than once (at several preferences), each named once.
    pub duplicate_hosts: Vec<String>,
    /// Mail exchangers in preference order; a host listed twice appears once.
    pub hosts: Vec<MxHost>,
    /// What the lookups of each exchange showed, in the order of `hosts`.
    pub exchanges: Vec<ExchangeFacts>,
    pub lookups: Vec<Lookup>,
    /// The MX lookup did not finish within the deadline.
    pub timed_out: bool,
    /// The validating resolver vouched for the MX answer (AD bit): the zone is signed.
    pub authenticated: bool,
}

impl MxResolution {
    /// No address of any exchange was found.
    #[must_use]
    pub fn no_usable_host(&self) -> bool {
        self.hosts.iter().all(|h| h.addresses.is_empty())
    }
}

/// An exchange named by the MX answer, before its addresses are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub preference: u16,
    /// The exchange name, A-labels, no final dot.
    pub host: String,
    /// The domain itself, used because it has no MX record (RFC 5321 §5.1).
    pub implicit: bool,
}

/// What the address lookups of one exchange found.
#[derive(Debug, Clone)]
pub struct ResolvedExchange {
    pub host: MxHost,
    pub facts: ExchangeFacts,
    pub lookups: Vec<Lookup>,
}

/// Looks up the MX records of a domain and the addresses of every exchange.
pub async fn resolve(dns: &impl Dns, domain: &DomainName) -> MxResolution {
    let (mut resolution, exchanges) = query(dns, domain).await;
    let resolved = join_all(exchanges.iter().map(|e| resolve_exchange(dns, e))).await;
    add_exchanges(&mut resolution, resolved);
    resolution
}

/// The MX query alone: the resolution so far, and the exchanges whose addresses are still
/// to be looked up, in preference order (the domain itself when it has no MX record; none
/// when the answer ends the matter: NXDOMAIN, a failure, the null MX alone). Separate from
/// the address lookups so that a caller can start on one exchange while the others are
/// still being looked up.
pub async fn query(dns: &impl Dns, domain: &DomainName) -> (MxResolution, Vec<Exchange>) {
    let mut result = MxResolution::default();
    let name = domain.ascii.as_str();
    // With the DNSSEC OK bit: whether the answer is signed decides whether DANE applies.
    let (mx, authenticated) = dns.query_dnssec(name, QueryType::Mx).await;
    result.authenticated = authenticated;
    let outcome = mx.outcome.clone();
    result.lookups.push(mx);

    let mut exchanges: Vec<(u16, String)> = match outcome {
        Outcome::Answer { records } => records.into_iter().filter_map(Rdata::into_mx).collect(),
        Outcome::NoData => {
            result.answer = MxAnswer::NoRecords;
            result.implicit_mx = true;
            let exchange = Exchange {
                preference: 0,
                host: name.to_string(),
                implicit: true,
            };
            return (result, vec![exchange]);
        }
        Outcome::NxDomain => {
            result.answer = MxAnswer::NxDomain;
            return (result, Vec::new());
        }
        Outcome::ServFail => {
            result.answer = MxAnswer::ServFail;
            return (result, Vec::new());
        }
        _ => {
            result.answer = MxAnswer::ResolverFailure(result.lookups[0].clone());
            return (result, Vec::new());
        }
    };
    exchanges.sort();

    // RFC 7505: "0 ." — the root name as exchange.
    result.null_preferences = exchanges
        .iter()
        .filter(|(_, host)| host.is_empty())
        .map(|(preference, _)| *preference)
        .collect();
    exchanges.retain(|(_, host)| !host.is_empty());
    result.null_mx = !result.null_preferences.is_empty();
    if result.null_mx && exchanges.is_empty() {
        return (result, Vec::new());
    }

    // The same host at several preferences: keep its best preference.
    let mut unique: Vec<Exchange> = Vec::new();
    for (preference, host) in exchanges {
        if unique.iter().any(|e| e.host == host) {
            if !result.duplicate_hosts.contains(&host) {
                result.duplicate_hosts.push(host);
            }
            continue;
        }
        unique.push(Exchange {
            preference,
            host,
            implicit: false,
        });
    }
    unique.truncate(super::MAX_EXCHANGES);
    (result, unique)
}

/// Adds the exchanges' lookups, hosts and facts to the resolution, in the order given (the
/// order of [`query`]'s exchanges).
pub fn add_exchanges(result: &mut MxResolution, resolved: Vec<ResolvedExchange>) {
    for exchange in resolved {
        result.lookups.extend(exchange.lookups);
        result.hosts.push(exchange.host);
        result.exchanges.push(exchange.facts);
    }
}

/// The addresses of one exchange: A and AAAA at once.
pub async fn resolve_exchange(dns: &impl Dns, exchange: &Exchange) -> ResolvedExchange {
    let (mut host, facts, lookups) =
        lookup_addresses(dns, exchange.preference, &exchange.host).await;
    host.implicit = exchange.implicit;
    ResolvedExchange {
        host,
        facts,
        lookups,
    }
}

async fn lookup_addresses(
    dns: &impl Dns,
    preference: u16,
    name: &str,
) -> (MxHost, ExchangeFacts, Vec<Lookup>) {
    let mut host = MxHost {
        preference,
        host: name.to_string(),
        addresses: Vec::new(),
        implicit: false,
        cname: None,
        reverse_dns: Vec::new(),
    };
    let mut facts = ExchangeFacts {
        host: name.to_string(),
        ip_literal: false,
        no_address: None,
    };
    if looks_like_ip_literal(name) {
        facts.ip_literal = true;
        return (host, facts, Vec::new());
    }
    let (a, aaaa) = tokio::join!(
        dns.query(name, QueryType::A),
        dns.query(name, QueryType::Aaaa)
    );
    for lookup in [&a, &aaaa] {
        for record in lookup.outcome.records() {
            match record {
                Rdata::A(v4) => host.addresses.push(IpAddr::V4(*v4)),
                Rdata::Aaaa(v6) => host.addresses.push(IpAddr::V6(*v6)),
                Rdata::Cname { alias, target } if alias == name => {
                    host.cname = Some(target.clone());
                }
                _ => {}
            }
        }
    }
    host.addresses.sort();
    host.addresses.dedup();
    host.addresses.truncate(super::MAX_ADDRESSES_PER_EXCHANGE);
    if host.addresses.is_empty() {
        let failed = [&a, &aaaa]
            .into_iter()
            .find(|l| !matches!(l.outcome, Outcome::NxDomain | Outcome::NoData));
        facts.no_address = Some(match failed {
            Some(lookup) => AddressLookup::Failed(lookup.clone()),
            None => AddressLookup::Dangling(a.outcome.clone()),
        });
    }
    (host, facts, vec![a, aaaa])
}

/// Reverse DNS of every address of every exchange, each checked forward (`FCrDNS`).
pub async fn reverse_dns(dns: &impl Dns, hosts: &[MxHost]) -> (Vec<Vec<ReverseDns>>, Vec<Lookup>) {
    let per_host = join_all(hosts.iter().map(|host| async move {
        join_all(
            host.addresses
                .iter()
                .map(|address| reverse_of(dns, *address)),
        )
        .await
    }))
    .await;
    let mut all = Vec::new();
    let mut lookups = Vec::new();
    for host in per_host {
        let mut reverse = Vec::new();
        for (entry, host_lookups) in host {
            reverse.push(entry);
            lookups.extend(host_lookups);
        }
        all.push(reverse);
    }
    (all, lookups)
}

/// The PTR names of an address, each looked up forward to see whether one comes back to it.
pub async fn reverse_of(dns: &impl Dns, address: IpAddr) -> (ReverseDns, Vec<Lookup>) {
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
    let lookup_failed = ptr.outcome.is_resolver_failure();
    let mut lookups = vec![ptr];
    lookups.extend(forward);
    (
        ReverseDns {
            address,
            names,
            forward_confirmed,
            lookup_failed,
        },
        lookups,
    )
}
