//! DNS: the resolver behind a small trait, domain names, MX resolution and its findings.
//!
//! "No records" is a result, not a failure: every query ends in an [`Outcome`] that says
//! exactly what came back — answer, NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout or an
//! unreachable resolver — and how long it took.

mod hickory;
pub mod mx;
pub mod name;
pub mod reverse;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use hickory::HickoryDns;

/// The most mail exchangers of one domain that are followed (their addresses looked up,
/// checked and probed), best preference first. Real domains have a handful; a zone with a
/// thousand MX records would otherwise cost thousands of queries, findings and sessions.
/// The MX lookup in the report still lists every record that came back.
pub const MAX_EXCHANGES: usize = 16;

/// The most addresses of one exchanger that are followed, in address order.
pub const MAX_ADDRESSES_PER_EXCHANGE: usize = 16;

/// The record types smtpdiag asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum QueryType {
    #[serde(rename = "MX")]
    Mx,
    #[serde(rename = "A")]
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
    #[serde(rename = "PTR")]
    Ptr,
    #[serde(rename = "TXT")]
    Txt,
    #[serde(rename = "TLSA")]
    Tlsa,
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryType::Mx => "MX",
            QueryType::A => "A",
            QueryType::Aaaa => "AAAA",
            QueryType::Ptr => "PTR",
            QueryType::Txt => "TXT",
            QueryType::Tlsa => "TLSA",
        })
    }
}

/// One record of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum Rdata {
    #[serde(rename = "MX")]
    Mx { preference: u16, exchange: String },
    #[serde(rename = "A")]
    A(Ipv4Addr),
    #[serde(rename = "AAAA")]
    Aaaa(Ipv6Addr),
    #[serde(rename = "PTR")]
    Ptr(String),
    #[serde(rename = "TXT")]
    Txt(String),
    /// A TLSA record (RFC 6698): usage, selector, matching type, association data in hex.
    #[serde(rename = "TLSA")]
    Tlsa {
        usage: u8,
        selector: u8,
        matching: u8,
        data: String,
    },
    /// An alias met on the way to the answer.
    #[serde(rename = "CNAME")]
    Cname { alias: String, target: String },
}

impl Rdata {
    /// The preference and exchange of an MX record; `None` for any other record.
    #[must_use]
    pub fn into_mx(self) -> Option<(u16, String)> {
        match self {
            Rdata::Mx {
                preference,
                exchange,
            } => Some((preference, exchange)),
            _ => None,
        }
    }
}

/// How a query ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// Records came back (CNAMEs on the way included).
    Answer { records: Vec<Rdata> },
    /// The name does not exist.
    #[serde(rename = "nxdomain")]
    NxDomain,
    /// The name exists but has no record of this type.
    #[serde(rename = "nodata")]
    NoData,
    /// The resolver could not get an answer from the domain's servers.
    #[serde(rename = "servfail")]
    ServFail,
    /// The resolver refused to answer.
    Refused,
    /// No answer within the time allowed.
    Timeout,
    /// The resolver could not be reached at all.
    Unreachable { reason: String },
    /// Any other failure.
    Failed { reason: String },
}

impl Outcome {
    /// The records of an answer; empty for every other outcome.
    #[must_use]
    pub fn records(&self) -> &[Rdata] {
        match self {
            Outcome::Answer { records } => records,
            _ => &[],
        }
    }

    /// The TXT strings of an answer (each record's strings joined); empty otherwise.
    #[must_use]
    pub fn texts(&self) -> Vec<String> {
        self.records()
            .iter()
            .filter_map(|r| match r {
                Rdata::Txt(text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// The resolver itself failed (as opposed to the domain's DNS): nothing can be concluded
    /// about the name.
    #[must_use]
    pub fn is_resolver_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Timeout | Outcome::Unreachable { .. } | Outcome::Refused
        )
    }
}

/// One query and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lookup {
    pub name: String,
    #[serde(rename = "type")]
    pub query_type: QueryType,
    #[serde(flatten)]
    pub outcome: Outcome,
    #[serde(serialize_with = "crate::timing::serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
}

/// A resolver, as far as smtpdiag needs one. Tests swap in a fake; the tool uses
/// [`HickoryDns`].
#[allow(async_fn_in_trait)]
pub trait Dns {
    /// Asks one question. `name` is an ASCII domain name, with or without the final dot.
    async fn query(&self, name: &str, query_type: QueryType) -> Lookup;

    /// Asks with the DNSSEC OK bit set, and says whether the resolver vouched for the answer
    /// (the AD bit: its validation succeeded, RFC 4035 §3.2.3). The way Postfix trusts its
    /// local validating resolver. A resolver that does not validate never sets it.
    async fn query_dnssec(&self, name: &str, query_type: QueryType) -> (Lookup, bool) {
        (self.query(name, query_type).await, false)
    }
}

/// Runs a query under a deadline and times it; shared by implementations.
pub(crate) async fn timed<F>(name: &str, query_type: QueryType, limit: Duration, query: F) -> Lookup
where
    F: Future<Output = Outcome>,
{
    let started = Instant::now();
    let outcome = tokio::time::timeout(limit, query)
        .await
        .unwrap_or(Outcome::Timeout);
    Lookup {
        name: name.trim_end_matches('.').to_string(),
        query_type,
        outcome,
        duration: started.elapsed(),
    }
}

/// Where to send queries, and how patiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSettings {
    /// Resolvers to use; empty means the system's (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// How long one attempt of one query may take.
    pub timeout: Duration,
    /// How many times a query is tried before it times out.
    pub attempts: usize,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        ResolverSettings {
            servers: Vec::new(),
            timeout: Duration::from_secs(3),
            attempts: 2,
        }
    }
}

/// The reverse-DNS name of an address: `4.3.2.1.in-addr.arpa` or the nibble form for IPv6.
#[must_use]
pub fn reverse_name(address: IpAddr) -> String {
    reversed_labels(address, "in-addr.arpa", "ip6.arpa")
}

/// The labels of an address in reverse order, followed by a zone: the query name of
/// reverse DNS (RFC 1035, RFC 3596) and of DNS blocklists (RFC 5782).
#[must_use]
pub fn reversed_labels(address: IpAddr, v4_zone: &str, v6_zone: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{v4_zone}")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + v6_zone.len());
            for byte in v6.octets().iter().rev() {
                name.push(char::from(HEX[usize::from(byte & 0xf)]));
                name.push('.');
                name.push(char::from(HEX[usize::from(byte >> 4)]));
                name.push('.');
            }
            name.push_str(v6_zone);
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }
}
