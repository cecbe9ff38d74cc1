//! Reverse DNS of a sending address (PTR, forward-confirmed, generic-looking names) and
//! whether a HELO name resolves to the sending addresses: facts, what was asked and what
//! came back.

use std::net::IpAddr;

use serde::Serialize;

use super::mx::{ReverseDns, reverse_of};
use super::{Dns, Lookup, Outcome, QueryType, Rdata};

/// The reverse DNS of one sending address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressReverse {
    pub address: IpAddr,
    /// The PTR names.
    pub names: Vec<String>,
    /// One of the names resolves back to the address (`FCrDNS`).
    pub forward_confirmed: bool,
    /// The PTR query failed at the resolver: no names is not "no PTR record".
    pub lookup_failed: bool,
    /// The names that look like those of dynamic or generic address pools.
    pub generic: Vec<String>,
}

/// The HELO name and whether it resolves to the sending addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeloCheck {
    pub name: String,
    /// Its A and AAAA addresses.
    pub addresses: Vec<IpAddr>,
    /// The sending addresses the name does not resolve to.
    pub not_matching: Vec<IpAddr>,
    /// The lookups failed at the resolver.
    pub lookup_failed: bool,
}

/// Whether a PTR name looks like one of a pool of dynamic or generic addresses: the
/// address written in it, or the words providers use for such pools.
#[must_use]
pub fn looks_generic(name: &str, address: IpAddr) -> bool {
    const WORDS: [&str; 12] = [
        "dynamic",
        "dyn",
        "dhcp",
        "pool",
        "ppp",
        "dsl",
        "adsl",
        "cable",
        "dialup",
        "broadband",
        "client",
        "customer",
    ];
    let name = name.to_ascii_lowercase();
    let first = name.split('.').next().unwrap_or_default();
    let digits_of_address = match address {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            let forward = [a, b, c, d].map(|o| o.to_string());
            let backward = [d, c, b, a].map(|o| o.to_string());
            [
                forward.join("-"),
                backward.join("-"),
                forward.join("."),
                backward.join("."),
            ]
            .iter()
            .any(|form| name.contains(form.as_str()))
                || first.contains(&format!("{:08x}", u32::from(v4)))
        }
        IpAddr::V6(_) => false,
    };
    digits_of_address
        || first
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|word| WORDS.contains(&word))
}

pub async fn reverse(dns: &impl Dns, address: IpAddr) -> (AddressReverse, Vec<Lookup>) {
    let (
        ReverseDns {
            names,
            forward_confirmed,
            lookup_failed,
            ..
        },
        lookups,
    ) = reverse_of(dns, address).await;
    let generic = names
        .iter()
        .filter(|n| looks_generic(n, address))
        .cloned()
        .collect();
    (
        AddressReverse {
            address,
            names,
            forward_confirmed,
            lookup_failed,
            generic,
        },
        lookups,
    )
}

pub async fn helo_check(
    dns: &impl Dns,
    name: &str,
    addresses: &[IpAddr],
) -> (HeloCheck, Vec<Lookup>) {
    let (a, aaaa) = tokio::join!(
        dns.query(name, QueryType::A),
        dns.query(name, QueryType::Aaaa)
    );
    let resolved: Vec<IpAddr> = a
        .outcome
        .records()
        .iter()
        .chain(aaaa.outcome.records())
        .filter_map(|r| match r {
            Rdata::A(v4) => Some(IpAddr::V4(*v4)),
            Rdata::Aaaa(v6) => Some(IpAddr::V6(*v6)),
            _ => None,
        })
        .collect();
    let failed = |l: &Lookup| {
        !matches!(
            l.outcome,
            Outcome::Answer { .. } | Outcome::NxDomain | Outcome::NoData
        )
    };
    (
        HeloCheck {
            name: name.to_string(),
            not_matching: addresses
                .iter()
                .filter(|a| !resolved.contains(a))
                .copied()
                .collect(),
            addresses: resolved,
            lookup_failed: failed(&a) && failed(&aaaa),
        },
        vec![a, aaaa],
    )
}
