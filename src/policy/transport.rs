//! The transport security policy of a domain, as facts: whether its DNS answers are signed
//! (DNSSEC, by the resolver's AD bit), the TLSA records of each exchanger (DANE, RFC 7672),
//! its MTA-STS record and policy (RFC 8461) and its TLS-RPT record (RFC 8460).
//!
//! The domain's part needs only the domain and starts with the MX lookup; the exchangers'
//! part needs their names and runs beside the SMTP dialogue.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use rustls::ClientConfig;
use serde::Serialize;

use super::dane::Tlsa;
use super::https::{self, Fetch, PolicyFetch};
use super::mta_sts::{self, Policy, RecordProblem, StsRecord};
use super::tls_rpt::{self, TlsRptRecord};
use crate::dns::{Dns, Lookup, Outcome, QueryType, Rdata};

/// How DNS vouched for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dnssec {
    /// The validating resolver set the AD bit: signed and valid.
    Secure,
    /// An answer without the AD bit: unsigned, or a resolver that does not validate.
    Insecure,
    /// SERVFAIL: with a validating resolver, most often a signature that does not validate.
    Bogus,
    /// The query did not come back (timeout, refused).
    Unknown,
}

impl Dnssec {
    /// The status of an answer, from its outcome and the AD bit.
    #[must_use]
    pub fn of(lookup: &Lookup, authenticated: bool) -> Dnssec {
        match &lookup.outcome {
            _ if authenticated => Dnssec::Secure,
            Outcome::Answer { .. } | Outcome::NoData | Outcome::NxDomain => Dnssec::Insecure,
            Outcome::ServFail => Dnssec::Bogus,
            _ => Dnssec::Unknown,
        }
    }
}

/// The MTA-STS side of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MtaSts {
    /// The `_mta-sts` record a sender would use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<StsRecord>,
    /// Why there is none: missing, several, malformed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_problem: Option<RecordProblem>,
    /// The policy fetch, made when the record announces a policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<PolicyFetch>,
    /// The policy, when a response came back with status 200.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// What the domain itself publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainPolicy {
    pub mta_sts: MtaSts,
    /// The TLS-RPT records (`v=TLSRPTv1`) at `_smtp._tls.<domain>`, each read.
    pub tls_rpt: Vec<TlsRptRecord>,
    #[serde(skip)]
    pub lookups: Vec<Lookup>,
}

/// The TLSA records of one exchanger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostTlsa {
    pub host: String,
    /// The TLSA name queried: `_25._tcp.<host>`.
    pub name: String,
    /// DNSSEC status of the TLSA answer (a secure "no record" proves there is none).
    pub dnssec: Dnssec,
    pub records: Vec<Tlsa>,
}

/// The domain's part: MTA-STS (record, then policy) and TLS-RPT, at once. `client` verifies the policy host the way a strict sender does.
pub async fn domain_policy(
    dns: &impl Dns,
    domain: &str,
    client: Arc<ClientConfig>,
    https_port: u16,
    limit: Duration,
) -> DomainPolicy {
    let sts_name = format!("_mta-sts.{domain}");
    let rpt_name = format!("_smtp._tls.{domain}");
    let ((mta_sts, sts_lookups), rpt) = tokio::join!(
        async {
            let txt = dns.query(&sts_name, QueryType::Txt).await;
            let record = mta_sts::read_record(texts(&txt).iter().map(String::as_str));
            let mut lookups = vec![txt];
            let (fetch, policy) = match &record {
                Ok(_) => {
                    let (fetch, fetch_lookups) =
                        https::fetch_policy(dns, domain, client, https_port, limit).await;
                    lookups.extend(fetch_lookups);
                    let policy = match &fetch.fetch {
                        Fetch::Response {
                            code: 200, body, ..
                        } => Some(mta_sts::parse_policy(body)),
                        _ => None,
                    };
                    (Some(fetch), policy)
                }
                Err(_) => (None, None),
            };
            let (record, record_problem) = match record {
                Ok(record) => (Some(record), None),
                Err(problem) => (None, Some(problem)),
            };
            (
                MtaSts {
                    record,
                    record_problem,
                    fetch,
                    policy,
                },
                lookups,
            )
        },
        dns.query(&rpt_name, QueryType::Txt),
    );
    let tls_rpt = tls_rpt::records(texts(&rpt).iter().map(String::as_str))
        .into_iter()
        .map(tls_rpt::parse)
        .collect();
    let mut lookups = sts_lookups;
    lookups.push(rpt);
    DomainPolicy {
        mta_sts,
        tls_rpt,
        lookups,
    }
}

/// The TLSA records of every exchanger, on `port`, all at once.
pub async fn host_tlsa(
    dns: &impl Dns,
    hosts: &[String],
    port: u16,
) -> (Vec<HostTlsa>, Vec<Lookup>) {
    let answers = join_all(hosts.iter().map(|host| async move {
        let name = format!("_{port}._tcp.{host}");
        let (lookup, authenticated) = dns.query_dnssec(&name, QueryType::Tlsa).await;
        let records = lookup
            .outcome
            .records()
            .iter()
            .filter_map(|r| match r {
                Rdata::Tlsa {
                    usage,
                    selector,
                    matching,
                    data,
                } => Some(Tlsa {
                    usage: *usage,
                    selector: *selector,
                    matching: *matching,
                    data: data.clone(),
                }),
                _ => None,
            })
            .collect();
        let tlsa = HostTlsa {
            host: host.clone(),
            name,
            dnssec: Dnssec::of(&lookup, authenticated),
            records,
        };
        (tlsa, lookup)
    }))
    .await;
    answers.into_iter().unzip()
}

fn texts(lookup: &Lookup) -> Vec<String> {
    lookup
        .outcome
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::Txt(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}
