//! SPF (RFC 7208): the record a domain publishes, and `check_host()` for each sending
//! address, with the chain of terms that decided the result.
//!
//! The evaluation itself is `viaspf`'s (chosen on the `OpenSPF` RFC 7208 test suite, see
//! `tests/spf_suite.rs`); every lookup it makes goes through our [`Dns`] trait, so that
//! `--resolver`, the timeouts and the lookup log hold for SPF as for everything else.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt;
use serde::Serialize;
use viaspf::lookup::{Lookup as SpfLookup, LookupError, LookupResult, Name};
use viaspf::record::SpfRecord;
use viaspf::trace::Tracepoint;
use viaspf::{Config, DomainName, Sender, SpfResult, SpfResultCause};

use crate::dns::{Dns, HickoryDns, Lookup, Outcome, QueryType, Rdata};

/// RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups.
pub const LOOKUP_LIMIT: usize = 10;
/// RFC 7208 §4.6.4: at most 2 lookups that return nothing.
pub const VOID_LOOKUP_LIMIT: usize = 2;

/// What the domain publishes at its name (§4.5: TXT records starting with `v=spf1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SpfRecordState {
    /// No SPF record: every address gets "none".
    None,
    /// One record, which parses.
    Found { text: String },
    /// More than one record: a permanent error (§4.5).
    Several { texts: Vec<String> },
    /// One record that does not parse: a permanent error (§4.6).
    Malformed { text: String },
    /// The TXT query failed: a temporary error, nothing known.
    LookupFailed { outcome: String },
    /// The domain is not a name SPF can check (§4.3): "none".
    InvalidDomain,
}

/// An SPF result (§2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfVerdict {
    None,
    Neutral,
    Pass,
    Fail,
    Softfail,
    Temperror,
    Permerror,
}

impl SpfVerdict {
    /// The word RFC 7208 uses for it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SpfVerdict::None => "none",
            SpfVerdict::Neutral => "neutral",
            SpfVerdict::Pass => "pass",
            SpfVerdict::Fail => "fail",
            SpfVerdict::Softfail => "softfail",
            SpfVerdict::Temperror => "temperror",
            SpfVerdict::Permerror => "permerror",
        }
    }
}

impl From<&SpfResult> for SpfVerdict {
    fn from(result: &SpfResult) -> SpfVerdict {
        match result {
            SpfResult::None => SpfVerdict::None,
            SpfResult::Neutral => SpfVerdict::Neutral,
            SpfResult::Pass => SpfVerdict::Pass,
            SpfResult::Fail(_) => SpfVerdict::Fail,
            SpfResult::Softfail => SpfVerdict::Softfail,
            SpfResult::Temperror => SpfVerdict::Temperror,
            SpfResult::Permerror => SpfVerdict::Permerror,
        }
    }
}

/// One step of the chain that decided a result: the term of a domain's record, and what
/// came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainStep {
    /// The domain whose record holds the term.
    pub domain: String,
    /// The term (`include:_spf.example.net`, `-all`, `redirect=...`), empty when the
    /// record itself was the problem.
    pub term: String,
    /// What happened, as a key: `match`, `error`, `redirect`, `default`, `no-record`,
    /// `several-records`, `invalid-record` or `lookup-error`.
    pub outcome: &'static str,
    /// The error or the result behind the outcome, as the evaluator words it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `check_host()` of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpfEvaluation {
    pub ip: IpAddr,
    pub result: SpfVerdict,
    /// The mechanism that matched, or the error (RFC 7208 §9.1 `mechanism` / `problem`).
    pub cause: Option<String>,
    /// From the domain checked down to the term that decided.
    pub chain: Vec<ChainStep>,
    /// The explanation of a fail (the `exp=` modifier or the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Terms that caused DNS lookups, against the limit of 10.
    pub dns_lookups: usize,
    /// Lookups that returned nothing, against the limit of 2.
    pub void_lookups: usize,
    /// Every query the evaluation made, in order.
    pub lookups: Vec<Lookup>,
}

/// The SPF facts of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpfCheck {
    /// The domain whose policy is checked (of the envelope sender, or the HELO name).
    pub domain: String,
    pub record: SpfRecordState,
    pub evaluations: Vec<SpfEvaluation>,
    /// The query for the record.
    pub lookups: Vec<Lookup>,
}

/// `v=spf1` followed by a space or nothing (§4.5).
#[must_use]
pub fn is_spf_record(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 6
        && bytes[..6].eq_ignore_ascii_case(b"v=spf1")
        && (bytes.len() == 6 || bytes[6] == b' ')
}

/// Reads the record of a domain: none, one, several or malformed.
pub async fn record(dns: &impl Dns, domain: &str) -> (SpfRecordState, Lookup) {
    let lookup = dns.query(domain, QueryType::Txt).await;
    let state = match &lookup.outcome {
        Outcome::Answer { records } => {
            let texts: Vec<String> = records
                .iter()
                .filter_map(|r| match r {
                    Rdata::Txt(text) if is_spf_record(text) => Some(text.clone()),
                    _ => None,
                })
                .collect();
            match texts.as_slice() {
                [] => SpfRecordState::None,
                [text] => match SpfRecord::from_str(text) {
                    Ok(_) => SpfRecordState::Found { text: text.clone() },
                    Err(_) => SpfRecordState::Malformed { text: text.clone() },
                },
                _ => SpfRecordState::Several { texts },
            }
        }
        Outcome::NxDomain | Outcome::NoData => SpfRecordState::None,
        other => SpfRecordState::LookupFailed {
            outcome: outcome_word(other),
        },
    };
    (state, lookup)
}

fn outcome_word(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Answer { .. } => "answer".into(),
        Outcome::NxDomain => "NXDOMAIN".into(),
        Outcome::NoData => "NODATA".into(),
        Outcome::ServFail => "SERVFAIL".into(),
        Outcome::Refused => "REFUSED".into(),
        Outcome::Timeout => "timeout".into(),
        Outcome::Unreachable { reason } | Outcome::Failed { reason } => reason.clone(),
    }
}

/// Checks the record of `domain`, then runs `check_host()` for every address, all at once.
///
/// `local_part` is the envelope sender's (`postmaster` when there is none, §4.3); `helo`
/// is what the `%{h}` macro expands to. `limit` bounds one whole evaluation.
pub async fn check(
    dns: &HickoryDns,
    local_part: Option<&str>,
    domain: &str,
    helo: Option<&str>,
    addresses: &[IpAddr],
    limit: Duration,
) -> SpfCheck {
    let sender = Sender::new(&format!("{}@{domain}", local_part.unwrap_or("postmaster")))
        .or_else(|_| Sender::from_domain(domain))
        .ok();
    let Some(sender) = sender else {
        // §4.3: a malformed domain gives "none" without any lookup.
        return SpfCheck {
            domain: domain.to_string(),
            record: SpfRecordState::InvalidDomain,
            evaluations: addresses
                .iter()
                .map(|ip| SpfEvaluation {
                    ip: *ip,
                    result: SpfVerdict::None,
                    cause: Some("malformed domain".into()),
                    chain: Vec::new(),
                    explanation: None,
                    dns_lookups: 0,
                    void_lookups: 0,
                    lookups: Vec::new(),
                })
                .collect(),
            lookups: Vec::new(),
        };
    };
    let helo = helo.and_then(|h| DomainName::new(h).ok());
    let evaluations = futures_util::future::join_all(
        addresses
            .iter()
            .map(|ip| evaluate(dns, &sender, helo.as_ref(), *ip, limit)),
    );
    let (evaluations, (record, lookup)) = tokio::join!(evaluations, record(dns, domain));
    SpfCheck {
        domain: domain.to_string(),
        record,
        evaluations,
        lookups: vec![lookup],
    }
}

/// `check_host()` of one address.
pub async fn evaluate(
    dns: &HickoryDns,
    sender: &Sender,
    helo: Option<&DomainName>,
    ip: IpAddr,
    limit: Duration,
) -> SpfEvaluation {
    let config = Config::builder()
        .max_lookups(LOOKUP_LIMIT)
        .max_void_lookups(VOID_LOOKUP_LIMIT)
        .capture_trace(true)
        .build();
    let lookup = LoggedDns {
        dns,
        log: Mutex::new(Vec::new()),
    };
    // viaspf 0.6 overflows a shift on a /0 prefix (`ip4:0.0.0.0/0`) and panics in debug
    // builds: a crash of the evaluator must not take the report with it.
    let evaluated = tokio::time::timeout(
        limit,
        AssertUnwindSafe(viaspf::evaluate_sender(&lookup, &config, ip, sender, helo))
            .catch_unwind(),
    )
    .await;
    let lookups = lookup
        .log
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let evaluated = match evaluated {
        Ok(Err(_)) => {
            return SpfEvaluation {
                ip,
                result: SpfVerdict::Permerror,
                cause: Some("the SPF evaluator failed on this policy".into()),
                chain: Vec::new(),
                explanation: None,
                dns_lookups: 0,
                void_lookups: 0,
                lookups,
            };
        }
        Ok(Ok(result)) => Ok(result),
        Err(elapsed) => Err(elapsed),
    };
    let Ok(result) = evaluated else {
        return SpfEvaluation {
            ip,
            result: SpfVerdict::Temperror,
            cause: Some(format!(
                "the evaluation took longer than {} s",
                limit.as_secs()
            )),
            chain: Vec::new(),
            explanation: None,
            dns_lookups: 0,
            void_lookups: 0,
            lookups,
        };
    };
    let mut dns_lookups = 0;
    let mut void_lookups = 0;
    let chain = result.trace.as_ref().map_or_else(Vec::new, |trace| {
        let mut walk = ChainWalk::default();
        for event in &trace.events {
            match &event.tracepoint {
                Tracepoint::IncrementLookupCount => dns_lookups += 1,
                Tracepoint::IncrementVoidLookupCount => void_lookups += 1,
                tracepoint => walk.step(tracepoint),
            }
        }
        walk.child
    });
    let explanation = match &result.spf_result {
        SpfResult::Fail(e) if !e.as_ref().is_empty() => Some(e.as_ref().to_string()),
        _ => None,
    };
    SpfEvaluation {
        ip,
        result: SpfVerdict::from(&result.spf_result),
        cause: result.cause.as_ref().map(|cause| match cause {
            SpfResultCause::Match(mechanism) => mechanism.to_string(),
            SpfResultCause::Error(error) => error.to_string(),
        }),
        chain,
        explanation,
        dns_lookups,
        void_lookups,
        lookups,
    }
}

/// Follows the trace of an evaluation to the terms that decided it, through includes and
/// redirects.
#[derive(Debug, Default)]
struct ChainWalk {
    frames: Vec<Frame>,
    /// The decision of the query that finished last.
    child: Vec<ChainStep>,
}

#[derive(Debug, Default)]
struct Frame {
    domain: String,
    term: String,
    decided: Vec<ChainStep>,
}

impl ChainWalk {
    fn decide(
        &mut self,
        term: Option<String>,
        outcome: &'static str,
        detail: Option<String>,
        nested: bool,
    ) {
        let child = if nested {
            std::mem::take(&mut self.child)
        } else {
            Vec::new()
        };
        if let Some(frame) = self.frames.last_mut() {
            let step = ChainStep {
                domain: frame.domain.clone(),
                term: term.unwrap_or_else(|| frame.term.clone()),
                outcome,
                detail,
            };
            frame.decided = std::iter::once(step).chain(child).collect();
        }
    }

    fn step(&mut self, tracepoint: &Tracepoint) {
        match tracepoint {
            Tracepoint::ExecuteQuery(name) => self.frames.push(Frame {
                domain: name.as_str().trim_end_matches('.').to_string(),
                ..Frame::default()
            }),
            Tracepoint::QueryResult(_) => {
                if let Some(frame) = self.frames.pop() {
                    self.child = frame.decided;
                }
            }
            Tracepoint::EvaluateDirective(directive) => {
                if let Some(frame) = self.frames.last_mut() {
                    frame.term = directive.to_string();
                }
                self.child.clear();
            }
            Tracepoint::EvaluateRedirect(redirect) => {
                if let Some(frame) = self.frames.last_mut() {
                    frame.term = redirect.to_string();
                }
                self.child.clear();
            }
            Tracepoint::MechanismMatch => self.decide(None, "match", None, true),
            Tracepoint::MechanismErrorResult(error, result) => {
                self.decide(None, "error", Some(format!("{error}: {result}")), true);
            }
            Tracepoint::RedirectResult(result) => {
                self.decide(None, "redirect", Some(result.to_string()), true);
            }
            Tracepoint::NeutralResult => self.decide(Some(String::new()), "default", None, false),
            Tracepoint::NoSpfRecord => self.decide(Some(String::new()), "no-record", None, false),
            Tracepoint::MultipleSpfRecords(_) => {
                self.decide(Some(String::new()), "several-records", None, false);
            }
            Tracepoint::InvalidSpfRecordSyntax(_) => {
                self.decide(Some(String::new()), "invalid-record", None, false);
            }
            Tracepoint::SpfRecordLookupError(error) => {
                self.decide(
                    Some(String::new()),
                    "lookup-error",
                    Some(error.to_string()),
                    false,
                );
            }
            _ => {}
        }
    }
}

/// viaspf's resolver interface over our [`Dns`]: every query is logged.
struct LoggedDns<'a> {
    dns: &'a HickoryDns,
    log: Mutex<Vec<Lookup>>,
}

impl LoggedDns<'_> {
    async fn ask(&self, name: &str, query_type: QueryType) -> LookupResult<Vec<Rdata>> {
        let lookup = self.dns.query(name, query_type).await;
        let result = match &lookup.outcome {
            Outcome::Answer { records } => Ok(records
                .iter()
                .filter(|r| !matches!(r, Rdata::Cname { .. }))
                .cloned()
                .collect::<Vec<_>>()),
            Outcome::NxDomain | Outcome::NoData => Err(LookupError::NoRecords),
            Outcome::Timeout => Err(LookupError::Timeout),
            other => Err(LookupError::Dns(Some(outcome_word(other).into()))),
        };
        if let Ok(mut log) = self.log.lock() {
            log.push(lookup);
        }
        match result {
            Ok(records) if records.is_empty() => Err(LookupError::NoRecords),
            other => other,
        }
    }
}

fn name_of(text: &str) -> LookupResult<Name> {
    Name::new(text).map_err(|e| LookupError::Dns(Some(e.into())))
}

#[async_trait]
impl SpfLookup for LoggedDns<'_> {
    async fn lookup_a<'lookup, 'a>(&'lookup self, name: &'a Name) -> LookupResult<Vec<Ipv4Addr>> {
        Ok(self
            .ask(name.as_str(), QueryType::A)
            .await?
            .into_iter()
            .filter_map(|r| match r {
                Rdata::A(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    async fn lookup_aaaa<'lookup, 'a>(
        &'lookup self,
        name: &'a Name,
    ) -> LookupResult<Vec<Ipv6Addr>> {
        Ok(self
            .ask(name.as_str(), QueryType::Aaaa)
            .await?
            .into_iter()
            .filter_map(|r| match r {
                Rdata::Aaaa(a) => Some(a),
                _ => None,
            })
            .collect())
    }

    async fn lookup_mx<'lookup, 'a>(&'lookup self, name: &'a Name) -> LookupResult<Vec<Name>> {
        let mut exchangers: Vec<(u16, String)> = self
            .ask(name.as_str(), QueryType::Mx)
            .await?
            .into_iter()
            .filter_map(Rdata::into_mx)
            .collect();
        exchangers.sort();
        // A null MX (RFC 7505, exchange ".") names no host: nothing to look up.
        Ok(exchangers
            .into_iter()
            .filter_map(|(_, e)| name_of(&e).ok())
            .collect())
    }

    async fn lookup_txt<'lookup, 'a>(&'lookup self, name: &'a Name) -> LookupResult<Vec<String>> {
        Ok(self
            .ask(name.as_str(), QueryType::Txt)
            .await?
            .into_iter()
            .filter_map(|r| match r {
                Rdata::Txt(text) => Some(text),
                _ => None,
            })
            .collect())
    }

    async fn lookup_ptr<'lookup>(&'lookup self, ip: IpAddr) -> LookupResult<Vec<Name>> {
        self.ask(&crate::dns::reverse_name(ip), QueryType::Ptr)
            .await?
            .into_iter()
            .filter_map(|r| match r {
                Rdata::Ptr(name) => Some(name_of(&name)),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_records_are_told_by_their_version() {
        assert!(is_spf_record("v=spf1 -all"));
        assert!(is_spf_record("V=SPF1"));
        assert!(!is_spf_record("v=spf10 -all"));
        assert!(!is_spf_record("v=spf2.0/pra"));
        assert!(!is_spf_record("google-site-verification=x"));
    }

    #[test]
    fn a_chain_follows_an_include_to_the_term_that_matched() {
        let mut walk = ChainWalk::default();
        let name = |s: &str| viaspf::lookup::Name::new(s).unwrap();
        let record: SpfRecord = "v=spf1 include:_spf.example.net -all".parse().unwrap();
        let inner: SpfRecord = "v=spf1 ip4:192.0.2.0/24 -all".parse().unwrap();
        let outer_include = record.directives().next().unwrap().clone();
        let inner_ip4 = inner.directives().next().unwrap().clone();
        for tracepoint in [
            Tracepoint::ExecuteQuery(name("example.org")),
            Tracepoint::EvaluateDirective(outer_include),
            Tracepoint::ExecuteQuery(name("_spf.example.net")),
            Tracepoint::EvaluateDirective(inner_ip4),
            Tracepoint::MechanismMatch,
            Tracepoint::QueryResult(SpfResult::Pass),
            Tracepoint::MechanismMatch,
            Tracepoint::QueryResult(SpfResult::Pass),
        ] {
            walk.step(&tracepoint);
        }
        let terms: Vec<(&str, &str)> = walk
            .child
            .iter()
            .map(|s| (s.domain.as_str(), s.term.as_str()))
            .collect();
        assert_eq!(
            terms,
            [
                ("example.org", "include:_spf.example.net"),
                ("_spf.example.net", "ip4:192.0.2.0/24")
            ]
        );
    }
}
