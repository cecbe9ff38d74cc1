//! DNS blocklists (RFC 5782): is an address listed, which answer came back, and can the
//! list be trusted at all (its 127.0.0.2 / 127.0.0.1 test entries)? Facts only:
//! `crate::assess::dnsbl` says what they mean.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;

use crate::dns::{Dns, Lookup, Outcome, QueryType, Rdata, reversed_labels};
use crate::kb;
use crate::timing::serialize_ms;

/// A blocklist to query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocklist {
    pub zone: String,
    pub name: String,
    /// Whether the list has IPv6 data; IPv6 addresses are not queried otherwise.
    pub ipv6: bool,
    /// A page explaining a listing, with `{ip}` for the address.
    pub lookup: Option<String>,
}

impl Blocklist {
    /// The default set: well-maintained lists, no dead ones (`kb/dnsbl.toml`).
    #[must_use]
    pub fn defaults() -> Vec<Blocklist> {
        kb::blocklist_facts()
            .iter()
            .map(|f| Blocklist {
                zone: f.zone.to_string(),
                name: f.name.to_string(),
                ipv6: f.ipv6,
                lookup: Some(f.lookup.to_string()),
            })
            .collect()
    }

    /// A list given with `--dnsbl`: one of the known lists by zone, or an unknown one that
    /// is queried for both address families.
    #[must_use]
    pub fn from_zone(zone: &str) -> Blocklist {
        let zone = zone.trim().trim_end_matches('.').to_ascii_lowercase();
        Blocklist::defaults()
            .into_iter()
            .find(|l| l.zone == zone)
            .unwrap_or(Blocklist {
                name: zone.clone(),
                zone,
                ipv6: true,
                lookup: None,
            })
    }
}

/// What one query of one list for one address found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsblResult {
    pub address: IpAddr,
    pub zone: String,
    pub list: String,
    pub listed: bool,
    /// The A records the list answered (return codes).
    pub answers: Vec<Ipv4Addr>,
    /// What each listing answer means, in the report's language: filled when the report
    /// is rendered (`crate::output::localize`).
    pub meanings: Vec<String>,
    /// The TXT reason, when the list gives one.
    pub txt: Vec<String>,
    pub status: DnsblStatus,
    /// Why the query failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(serialize_with = "serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
}

/// The outcome of one blocklist query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsblStatus {
    Listed,
    NotListed,
    /// 127.255.255.254: the query came through a public/open resolver.
    PublicResolver,
    /// 127.255.255.255: too many queries.
    RateLimited,
    /// 127.255.255.252: the list name is wrong.
    Typo,
    /// 127.0.0.1: the list refused to answer (URIBL style).
    Blocked,
    /// An answer outside 127.0.0.0/8.
    InvalidAnswer,
    /// The query failed (SERVFAIL, timeout...).
    Failed,
    /// Not queried: the list has no IPv6 data.
    Skipped,
    /// The list lists everything (127.0.0.1): its answer is ignored.
    Unreliable,
}

/// Whether a list passes the RFC 5782 §5 tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListHealth {
    pub zone: String,
    pub list: String,
    /// 127.0.0.2 is listed, as it must be.
    pub test_entry_listed: bool,
    /// 127.0.0.1 is listed, as it must not be.
    pub localhost_listed: bool,
    pub reliable: bool,
}

/// Everything the blocklist queries found.
#[derive(Debug, Clone, Default)]
pub struct DnsblCheck {
    pub results: Vec<DnsblResult>,
    /// One per list, in the order of the lists.
    pub health: Vec<ListHealth>,
    /// How the query of each list's 127.0.0.2 test entry ended, in the order of `health`.
    pub test_outcomes: Vec<Outcome>,
    pub lookups: Vec<Lookup>,
}

const PUBLIC_RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 254);
const RATE_LIMITED: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);
const TYPO: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 252);
const BLOCKED: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Classifies the answers of a list (RFC 5782 §2.1 and the lists' own error codes).
fn classify(outcome: &Outcome) -> (DnsblStatus, Vec<Ipv4Addr>) {
    let answers: Vec<Ipv4Addr> = outcome
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::A(a) => Some(*a),
            _ => None,
        })
        .collect();
    let status = match outcome {
        Outcome::NxDomain | Outcome::NoData => DnsblStatus::NotListed,
        Outcome::Answer { .. } if answers.is_empty() => DnsblStatus::NotListed,
        Outcome::Answer { .. } => {
            if answers.contains(&PUBLIC_RESOLVER) {
                DnsblStatus::PublicResolver
            } else if answers.contains(&RATE_LIMITED) {
                DnsblStatus::RateLimited
            } else if answers.contains(&TYPO) {
                DnsblStatus::Typo
            } else if answers.contains(&BLOCKED) {
                DnsblStatus::Blocked
            } else if answers.iter().any(|a| a.octets()[0] != 127) {
                DnsblStatus::InvalidAnswer
            } else {
                DnsblStatus::Listed
            }
        }
        _ => DnsblStatus::Failed,
    };
    (status, answers)
}

async fn query_one(
    dns: &impl Dns,
    list: &Blocklist,
    address: IpAddr,
) -> (DnsblResult, Vec<Lookup>) {
    let mut result = DnsblResult {
        address,
        zone: list.zone.clone(),
        list: list.name.clone(),
        listed: false,
        answers: Vec::new(),
        meanings: Vec::new(),
        txt: Vec::new(),
        status: DnsblStatus::Skipped,
        error: None,
        duration: Duration::ZERO,
    };
    if address.is_ipv6() && !list.ipv6 {
        return (result, Vec::new());
    }
    let name = reversed_labels(address, &list.zone, &list.zone);
    let a = dns.query(&name, QueryType::A).await;
    let (status, answers) = classify(&a.outcome);
    result.status = status;
    if status == DnsblStatus::Failed {
        result.error = Some(outcome_text(&a.outcome));
    }
    result.duration = a.duration;
    result.answers = answers;
    let mut lookups = vec![a];
    if status == DnsblStatus::Listed {
        result.listed = true;
        let txt = dns.query(&name, QueryType::Txt).await;
        result.duration += txt.duration;
        result.txt = txt
            .outcome
            .records()
            .iter()
            .filter_map(|r| match r {
                Rdata::Txt(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        lookups.push(txt);
    }
    (result, lookups)
}

async fn health_of(dns: &impl Dns, list: &Blocklist) -> (ListHealth, Outcome, Vec<Lookup>) {
    let test = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let test_name = reversed_labels(test, &list.zone, &list.zone);
    let localhost_name = reversed_labels(localhost, &list.zone, &list.zone);
    let (listed_test, listed_localhost) = tokio::join!(
        dns.query(&test_name, QueryType::A),
        dns.query(&localhost_name, QueryType::A),
    );
    let test_entry_listed = classify(&listed_test.outcome).0 == DnsblStatus::Listed;
    let localhost_listed = classify(&listed_localhost.outcome).0 == DnsblStatus::Listed;
    let health = ListHealth {
        zone: list.zone.clone(),
        list: list.name.clone(),
        test_entry_listed,
        localhost_listed,
        reliable: test_entry_listed && !localhost_listed,
    };
    let outcome = listed_test.outcome.clone();
    (health, outcome, vec![listed_test, listed_localhost])
}

/// How a blocklist query ended, in DNS words: the answers, or the failure.
#[must_use]
pub fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Answer { records } => records
            .iter()
            .filter_map(|r| match r {
                Rdata::A(a) => Some(a.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(", "),
        Outcome::NxDomain => "NXDOMAIN".into(),
        Outcome::NoData => "no record".into(),
        Outcome::ServFail => "SERVFAIL".into(),
        Outcome::Refused => "REFUSED".into(),
        Outcome::Timeout => "timeout".into(),
        Outcome::Unreachable { reason } | Outcome::Failed { reason } => reason.clone(),
    }
}

/// Queries every list for every address, all at once, and checks every list's test
/// entries at the same time. A list that lists 127.0.0.1 lists everything: its listings
/// are marked [`DnsblStatus::Unreliable`].
pub async fn check(dns: &impl Dns, addresses: &[IpAddr], lists: &[Blocklist]) -> DnsblCheck {
    let queries = addresses
        .iter()
        .flat_map(|address| lists.iter().map(move |list| query_one(dns, list, *address)));
    let (answers, health) = tokio::join!(
        join_all(queries),
        join_all(lists.iter().map(|list| health_of(dns, list)))
    );

    let mut check = DnsblCheck::default();
    for (result, lookups) in answers {
        check.results.push(result);
        check.lookups.extend(lookups);
    }
    for (health, test_outcome, lookups) in health {
        check.lookups.extend(lookups);
        if health.localhost_listed {
            for result in check.results.iter_mut().filter(|r| r.zone == health.zone) {
                if result.listed {
                    result.listed = false;
                    result.status = DnsblStatus::Unreliable;
                }
            }
        }
        check.health.push(health);
        check.test_outcomes.push(test_outcome);
    }
    check
}

/// Whether a test-entry outcome is a plain "not listed" (as opposed to a failure).
#[must_use]
pub fn is_not_listed(outcome: &Outcome) -> bool {
    classify(outcome).0 == DnsblStatus::NotListed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(addresses: &[[u8; 4]]) -> Outcome {
        Outcome::Answer {
            records: addresses
                .iter()
                .map(|a| Rdata::A(Ipv4Addr::from(*a)))
                .collect(),
        }
    }

    #[test]
    fn error_answers_are_not_listings() {
        assert_eq!(classify(&answer(&[[127, 0, 0, 2]])).0, DnsblStatus::Listed);
        assert_eq!(
            classify(&answer(&[[127, 255, 255, 254]])).0,
            DnsblStatus::PublicResolver
        );
        assert_eq!(
            classify(&answer(&[[127, 255, 255, 255]])).0,
            DnsblStatus::RateLimited
        );
        assert_eq!(
            classify(&answer(&[[127, 255, 255, 252]])).0,
            DnsblStatus::Typo
        );
        assert_eq!(classify(&answer(&[[127, 0, 0, 1]])).0, DnsblStatus::Blocked);
        assert_eq!(
            classify(&answer(&[[192, 0, 2, 1]])).0,
            DnsblStatus::InvalidAnswer
        );
        assert_eq!(classify(&Outcome::NxDomain).0, DnsblStatus::NotListed);
        assert_eq!(classify(&Outcome::ServFail).0, DnsblStatus::Failed);
    }

    #[test]
    fn defaults_are_the_maintained_lists() {
        let zones: Vec<String> = Blocklist::defaults().into_iter().map(|l| l.zone).collect();
        assert!(zones.contains(&"zen.spamhaus.org".to_string()));
        assert!(!zones.iter().any(|z| z.contains("sorbs")), "SORBS is dead");
        assert_eq!(
            Blocklist::from_zone("ZEN.spamhaus.org.").name,
            "Spamhaus ZEN"
        );
        assert_eq!(Blocklist::from_zone("list.example").name, "list.example");
    }
}
