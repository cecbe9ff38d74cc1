//! Fetching an MTA-STS policy the way a sending MTA does (RFC 8461 §3.3): HTTPS to
//! `mta-sts.<domain>` with a strict Web PKI check, no redirect followed, a small body, a
//! deadline.
//!
//! The request is HTTP/1.0 with `Connection: close`, so the answer is never chunked and
//! ends when the server closes; that keeps the client a few lines that bound every byte,
//! rather than a general HTTP stack whose redirects and pools a policy fetch must not use.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::dns::{Dns, Lookup, QueryType, Rdata};

/// The largest policy read; RFC 8461 §3.2 policies are a few hundred bytes. More is an
/// error, not a silent cut.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The largest response head (status line and headers).
const HEAD_LIMIT: usize = 16 * 1024;

/// How the fetch of a policy ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Fetch {
    /// An HTTP response came back (any status: a sender uses only 200).
    Response {
        code: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        location: Option<String>,
        #[serde(skip)]
        body: String,
    },
    /// `mta-sts.<domain>` has no address.
    NoAddress,
    /// No TCP connection.
    Connect { reason: String },
    /// The certificate is not valid for the policy host, or the handshake failed.
    Tls { reason: String },
    /// Not an HTTP response, or more than the limits.
    Protocol { reason: String },
    /// Nothing complete within the time allowed.
    Timeout,
}

/// The policy fetch of one domain: where it went and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyFetch {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    #[serde(flatten)]
    pub fetch: Fetch,
    #[serde(serialize_with = "crate::timing::serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
}

/// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` on `port`, resolving the host
/// through `dns`. The lookups are returned for the report.
pub async fn fetch_policy(
    dns: &impl Dns,
    domain: &str,
    client: Arc<ClientConfig>,
    port: u16,
    limit: Duration,
) -> (PolicyFetch, Vec<Lookup>) {
    let host = format!("mta-sts.{domain}");
    let url = format!("https://{host}/.well-known/mta-sts.txt");
    let started = tokio::time::Instant::now();
    let (a, aaaa) = tokio::join!(
        dns.query(&host, QueryType::A),
        dns.query(&host, QueryType::Aaaa)
    );
    let address = [&a, &aaaa]
        .into_iter()
        .flat_map(|l| l.outcome.records())
        .find_map(|r| match r {
            Rdata::A(v4) => Some(IpAddr::V4(*v4)),
            Rdata::Aaaa(v6) => Some(IpAddr::V6(*v6)),
            _ => None,
        });
    let lookups = vec![a, aaaa];
    let fetch = match address {
        None => Fetch::NoAddress,
        Some(address) => {
            let left = limit.saturating_sub(started.elapsed());
            tokio::time::timeout(left, get(&host, SocketAddr::new(address, port), client))
                .await
                .unwrap_or(Fetch::Timeout)
        }
    };
    (
        PolicyFetch {
            url,
            address,
            fetch,
            duration: started.elapsed(),
        },
        lookups,
    )
}

async fn get(host: &str, address: SocketAddr, client: Arc<ClientConfig>) -> Fetch {
    let tcp = match TcpStream::connect(address).await {
        Ok(tcp) => tcp,
        Err(e) => {
            return Fetch::Connect {
                reason: e.to_string(),
            };
        }
    };
    let Ok(name) = ServerName::try_from(host.to_string()) else {
        return Fetch::Tls {
            reason: format!("{host} is not a valid server name"),
        };
    };
    let mut tls = match TlsConnector::from(client).connect(name, tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            return Fetch::Tls {
                reason: e.to_string(),
            };
        }
    };
    let request = format!(
        "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: {host}\r\nUser-Agent: smtpdiag/{}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Err(e) = tls.write_all(request.as_bytes()).await {
        return Fetch::Protocol {
            reason: format!("cannot send the request: {e}"),
        };
    }
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match tls.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&chunk[..n]);
                if response.len() > HEAD_LIMIT + BODY_LIMIT {
                    return Fetch::Protocol {
                        reason: format!("the response is longer than {BODY_LIMIT} bytes"),
                    };
                }
            }
            // Servers that close without a TLS close_notify still sent a whole answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => {
                return Fetch::Protocol {
                    reason: format!("cannot read the response: {e}"),
                };
            }
        }
    }
    parse_response(&response)
}

/// Reads an HTTP/1.x response: status, the headers a sender looks at, and the body.
fn parse_response(response: &[u8]) -> Fetch {
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Fetch::Protocol {
            reason: "no complete HTTP response head".into(),
        };
    };
    if split > HEAD_LIMIT {
        return Fetch::Protocol {
            reason: format!("the response head is longer than {HEAD_LIMIT} bytes"),
        };
    }
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok());
    let Some(code) = code else {
        return Fetch::Protocol {
            reason: format!("not an HTTP status line: {:?}", truncate(status)),
        };
    };
    if body.len() > BODY_LIMIT {
        return Fetch::Protocol {
            reason: format!("the policy is longer than {BODY_LIMIT} bytes"),
        };
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| truncate(value.trim()))
        })
    };
    Fetch::Response {
        code,
        content_type: header("content-type"),
        location: header("location"),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let ok = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nversion: STSv1\r\n",
        );
        assert_eq!(
            ok,
            Fetch::Response {
                code: 200,
                content_type: Some("text/plain".into()),
                location: None,
                body: "version: STSv1\r\n".into()
            }
        );
        let moved = parse_response(b"HTTP/1.1 301 Moved\r\nLocation: https://x.example/\r\n\r\n");
        assert!(matches!(
            moved,
            Fetch::Response {
                code: 301,
                location: Some(_),
                ..
            }
        ));
        assert!(matches!(parse_response(b"garbage"), Fetch::Protocol { .. }));
        assert!(matches!(
            parse_response(b"SSH-2.0\r\n\r\n"),
            Fetch::Protocol { .. }
        ));
    }
}
