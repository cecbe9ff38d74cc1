//! The [`Dns`] trait over hickory-resolver.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::net::{DnsError, NetError, RetryDnsHandle};
use hickory_resolver::proto::op::{DnsRequestOptions, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, Resolver, TlsConfig, TokioResolver};

use super::{Dns, Lookup, Outcome, QueryType, Rdata, ResolverSettings, timed};
use crate::error::Error;

/// A hickory resolver configured from [`ResolverSettings`].
pub struct HickoryDns {
    resolver: TokioResolver,
    /// The same servers without the resolver's special-use names layer: hickory answers PTR
    /// queries under 127.in-addr.arpa with "localhost" itself (RFC 6761) without asking, and
    /// a diagnostic tool must report what DNS says, loopback MX included.
    direct: RetryDnsHandle<NameServerPool<TokioRuntimeProvider>>,
    /// The answers of `direct` to PTR queries, which hickory's cache does not see.
    ptr_cache: PtrCache,
    options: DnsRequestOptions,
    /// The most a single query may take, all attempts included.
    limit: Duration,
}

impl std::fmt::Debug for HickoryDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryDns")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl HickoryDns {
    /// Builds the resolver. Must run inside a tokio runtime.
    pub fn new(settings: &ResolverSettings) -> Result<HickoryDns, Error> {
        let (config, mut options) = if settings.servers.is_empty() {
            hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                Error::Resolver(format!(
                    "cannot read the system's resolver configuration: {e}; give one with --resolver"
                ))
            })?
        } else {
            let servers = settings
                .servers
                .iter()
                .map(|server| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = server.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = server.port();
                    NameServerConfig::new(server.ip(), true, vec![udp, tcp])
                })
                .collect();
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        options.timeout = settings.timeout;
        options.attempts = settings.attempts;
        // Mail is routed by DNS alone: /etc/hosts must not change what the probe sees.
        options.use_hosts_file = ResolveHosts::Never;
        options.try_tcp_on_error = true;
        options.ndots = 0;
        let setup = |e: NetError| Error::Resolver(format!("cannot set up the resolver: {e}"));
        let context = PoolContext::new(options.clone(), TlsConfig::new().map_err(setup)?);
        let direct = RetryDnsHandle::new(
            NameServerPool::from_config(
                config.name_servers().to_vec(),
                Arc::new(context),
                TokioRuntimeProvider::default(),
            ),
            options.attempts,
        );
        let mut request = DnsRequestOptions::default();
        request.recursion_desired = true;
        request.use_edns = options.edns0;
        let attempts = u32::try_from(settings.attempts.max(1)).unwrap_or(u32::MAX);
        let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(setup)?;
        Ok(HickoryDns {
            resolver,
            direct,
            ptr_cache: PtrCache::default(),
            options: request,
            limit: settings.timeout * attempts + Duration::from_millis(250),
        })
    }

    async fn lookup_direct(
        &self,
        name: Name,
        record_type: RecordType,
    ) -> Result<Vec<Record>, NetError> {
        self.lookup_with(name, record_type, self.options).await.0
    }

    /// One query straight to the servers; the answer records, and whether the response
    /// had the AD bit.
    async fn lookup_with(
        &self,
        name: Name,
        record_type: RecordType,
        options: DnsRequestOptions,
    ) -> (Result<Vec<Record>, NetError>, bool) {
        let mut responses = self.direct.lookup(Query::query(name, record_type), options);
        match responses.next().await {
            Some(Ok(response)) => {
                let authenticated = response.authentic_data;
                let answers = DnsError::from_response(response)
                    .map(|response| response.answers.clone())
                    .map_err(NetError::from);
                (answers, authenticated)
            }
            Some(Err(e)) => (Err(e), false),
            None => (Err(NetError::Message("no response")), false),
        }
    }
}

impl Dns for HickoryDns {
    async fn query(&self, name: &str, query_type: QueryType) -> Lookup {
        timed(name, query_type, self.limit, async {
            let fqdn = if name.ends_with('.') {
                name.to_string()
            } else {
                format!("{name}.")
            };
            // Labels are bytes (RFC 2181 §11): SPF macros and domain-specs may produce
            // names with `:`, `/` or `%` that are no host names but are still asked for.
            let name = match Name::from_ascii(&fqdn).or_else(|_| {
                let mut name =
                    Name::from_labels(fqdn.trim_end_matches('.').split('.').map(str::as_bytes))?;
                name.set_fqdn(true);
                Ok::<Name, hickory_resolver::proto::ProtoError>(name)
            }) {
                Ok(name) => name,
                Err(e) => {
                    return Outcome::Failed {
                        reason: format!("invalid name: {e}"),
                    };
                }
            };
            let record_type = record_type_of(query_type);
            if record_type == RecordType::PTR {
                return self
                    .ptr_cache
                    .get_or_ask(name.clone(), || async {
                        let answers = self.lookup_direct(name, record_type).await;
                        (outcome_of_lookup(&answers), lifetime_of(&answers))
                    })
                    .await;
            }
            let answers = self
                .resolver
                .lookup(name, record_type)
                .await
                .map(|lookup| lookup.answers().to_vec());
            outcome_of_lookup(&answers)
        })
        .await
    }

    async fn query_dnssec(&self, name: &str, query_type: QueryType) -> (Lookup, bool) {
        let authenticated = std::sync::atomic::AtomicBool::new(false);
        let lookup = timed(name, query_type, self.limit, async {
            let name = match Name::from_ascii(format!("{}.", name.trim_end_matches('.'))) {
                Ok(name) => name,
                Err(e) => {
                    return Outcome::Failed {
                        reason: format!("invalid name: {e}"),
                    };
                }
            };
            let mut options = self.options;
            options.use_edns = true;
            options.edns_set_dnssec_ok = true;
            let (answers, ad) = self
                .lookup_with(name, record_type_of(query_type), options)
                .await;
            authenticated.store(ad, std::sync::atomic::Ordering::Relaxed);
            match answers {
                Ok(answers) => outcome_of_answers(&answers),
                Err(e) => outcome_of(&e),
            }
        })
        .await;
        (lookup, authenticated.into_inner())
    }
}

/// The PTR answers of a run, shared by every domain of a batch: the exchangers of one mail
/// provider serve many domains, and PTR queries go around hickory's cache. A name asked
/// while its first query is still out waits for that answer instead of asking again.
/// Answers are kept for their TTL, "no such name" and "no data" for the negative TTL the
/// answer gave, failures not at all; at most `PtrCache::NAMES` names, so that a long
/// batch's memory stays flat.
#[derive(Default)]
struct PtrCache {
    entries: Mutex<HashMap<Name, Arc<tokio::sync::OnceCell<CachedOutcome>>>>,
}

struct CachedOutcome {
    outcome: Outcome,
    expires: Instant,
}

impl PtrCache {
    const NAMES: usize = 4096;

    async fn get_or_ask<F, Fut>(&self, name: Name, ask: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (Outcome, Duration)>,
    {
        let cell = {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let stale = entries
                .get(&name)
                .and_then(|cell| cell.get())
                .is_some_and(|cached| cached.expires <= now);
            if stale {
                entries.remove(&name);
            }
            if entries.len() >= Self::NAMES && !entries.contains_key(&name) {
                // A query still out (its cell held by an asker) keeps its place; what has
                // expired, or was given up before its answer came, goes first.
                let asked =
                    |cell: &Arc<tokio::sync::OnceCell<CachedOutcome>>| Arc::strong_count(cell) > 1;
                entries.retain(|_, cell| {
                    asked(cell) || cell.get().is_some_and(|cached| cached.expires > now)
                });
                if entries.len() >= Self::NAMES {
                    entries.retain(|_, cell| asked(cell));
                }
            }
            Arc::clone(entries.entry(name).or_default())
        };
        let cached = cell
            .get_or_init(|| async {
                let (outcome, lifetime) = ask().await;
                CachedOutcome {
                    outcome,
                    expires: Instant::now() + lifetime,
                }
            })
            .await;
        cached.outcome.clone()
    }
}

/// How long an answer may be reused: its smallest TTL, or the negative TTL of a "no such
/// name" or "no data" answer; a failure not at all.
fn lifetime_of(answers: &Result<Vec<Record>, NetError>) -> Duration {
    let seconds = match answers {
        Ok(records) => records.iter().map(|record| record.ttl).min().unwrap_or(0),
        Err(NetError::Dns(DnsError::NoRecordsFound(none))) => none.negative_ttl.unwrap_or(0),
        Err(_) => 0,
    };
    Duration::from_secs(u64::from(seconds))
}

fn outcome_of_lookup(answers: &Result<Vec<Record>, NetError>) -> Outcome {
    match answers {
        Ok(answers) => outcome_of_answers(answers),
        Err(e) => outcome_of(e),
    }
}

fn record_type_of(query_type: QueryType) -> RecordType {
    match query_type {
        QueryType::Mx => RecordType::MX,
        QueryType::A => RecordType::A,
        QueryType::Aaaa => RecordType::AAAA,
        QueryType::Ptr => RecordType::PTR,
        QueryType::Txt => RecordType::TXT,
        QueryType::Tlsa => RecordType::TLSA,
    }
}

fn outcome_of_answers(answers: &[Record]) -> Outcome {
    let records: Vec<Rdata> = answers
        .iter()
        .filter_map(|record| convert(&record.name.to_ascii(), &record.data))
        .collect();
    if records.iter().all(|r| matches!(r, Rdata::Cname { .. })) {
        Outcome::NoData
    } else {
        Outcome::Answer { records }
    }
}

fn trim_dot(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A name as its labels are, without the escapes of zone-file text (`\:`): the form in
/// which it is asked for again.
fn raw_name(name: &Name) -> String {
    let labels: Vec<String> = name
        .iter()
        .map(|label| String::from_utf8_lossy(label).to_ascii_lowercase())
        .collect();
    labels.join(".")
}

fn convert(owner: &str, data: &RData) -> Option<Rdata> {
    Some(match data {
        RData::MX(mx) => Rdata::Mx {
            preference: mx.preference,
            exchange: raw_name(&mx.exchange),
        },
        RData::A(a) => Rdata::A(a.0),
        RData::AAAA(aaaa) => Rdata::Aaaa(aaaa.0),
        RData::PTR(ptr) => Rdata::Ptr(raw_name(&ptr.0)),
        RData::TXT(txt) => Rdata::Txt(
            txt.txt_data
                .iter()
                .map(|part| String::from_utf8_lossy(part))
                .collect::<String>(),
        ),
        RData::TLSA(tlsa) => Rdata::Tlsa {
            usage: u8::from(tlsa.cert_usage),
            selector: u8::from(tlsa.selector),
            matching: u8::from(tlsa.matching),
            data: tlsa.cert_data.iter().fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            }),
        },
        RData::CNAME(cname) => Rdata::Cname {
            alias: trim_dot(owner),
            target: raw_name(&cname.0),
        },
        _ => return None,
    })
}

fn outcome_of(error: &NetError) -> Outcome {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(none)) => match none.response_code {
            ResponseCode::NXDomain => Outcome::NxDomain,
            ResponseCode::NoError => Outcome::NoData,
            ResponseCode::ServFail => Outcome::ServFail,
            ResponseCode::Refused => Outcome::Refused,
            other => Outcome::Failed {
                reason: format!("response code {other}"),
            },
        },
        NetError::Dns(DnsError::ResponseCode(code)) => match *code {
            ResponseCode::ServFail => Outcome::ServFail,
            ResponseCode::Refused => Outcome::Refused,
            ResponseCode::NXDomain => Outcome::NxDomain,
            other => Outcome::Failed {
                reason: format!("response code {other}"),
            },
        },
        NetError::Timeout => Outcome::Timeout,
        NetError::Io(e) if is_unreachable(e.kind()) => Outcome::Unreachable {
            reason: e.to_string(),
        },
        NetError::NoConnections => Outcome::Unreachable {
            reason: "no connection to the resolver could be made".into(),
        },
        other => Outcome::Failed {
            reason: other.to_string(),
        },
    }
}

fn is_unreachable(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::AddrNotAvailable
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    /// Asks through `cache`, counting the questions that really went out.
    async fn ask(cache: &PtrCache, asked: &AtomicUsize, text: &str, lifetime: u64) -> Outcome {
        cache
            .get_or_ask(name(text), || async {
                asked.fetch_add(1, Ordering::SeqCst);
                (Outcome::NxDomain, Duration::from_secs(lifetime))
            })
            .await
    }

    #[tokio::test]
    async fn an_answer_is_reused_for_its_lifetime_and_a_failure_not_at_all() {
        let cache = PtrCache::default();
        let asked = AtomicUsize::new(0);
        ask(&cache, &asked, "1.2.0.192.in-addr.arpa.", 300).await;
        ask(&cache, &asked, "1.2.0.192.in-addr.arpa.", 300).await;
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        ask(&cache, &asked, "2.2.0.192.in-addr.arpa.", 0).await;
        ask(&cache, &asked, "2.2.0.192.in-addr.arpa.", 0).await;
        assert_eq!(asked.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_cache_never_holds_more_than_its_names() {
        let cache = PtrCache::default();
        let asked = AtomicUsize::new(0);
        for n in 0..PtrCache::NAMES + 10 {
            ask(&cache, &asked, &format!("n{n}.example."), 300).await;
            assert!(cache.entries.lock().unwrap().len() <= PtrCache::NAMES);
        }
    }

    #[test]
    fn names_given_up_before_their_answer_hold_no_place() {
        use futures_util::FutureExt;
        let cache = PtrCache::default();
        for n in 0..PtrCache::NAMES + 10 {
            // Polled once, then dropped: the asker gave up (a probe's deadline).
            let abandoned = cache.get_or_ask(name(&format!("n{n}.example.")), || async {
                std::future::pending::<(Outcome, Duration)>().await
            });
            assert!(abandoned.now_or_never().is_none());
            assert!(cache.entries.lock().unwrap().len() <= PtrCache::NAMES);
        }
    }
}
