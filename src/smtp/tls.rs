//! STARTTLS inspection with rustls: the handshake always goes on, whatever the certificate,
//! and what a strict client would have said about it is recorded instead of enforced.
//! Opportunistic TLS between mail servers works that way too (RFC 3207 §4.1, RFC 7435).

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::error::Error;

/// Certificates expiring within this many days are reported.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// The trust anchors: Mozilla's roots (webpki-roots), plus any `--ca-file`, with the strict
/// verifier over them built once for every handshake of the run.
#[derive(Debug, Clone)]
pub struct TrustAnchors {
    provider: Arc<CryptoProvider>,
    strict: Arc<WebPkiServerVerifier>,
}

impl TrustAnchors {
    /// Mozilla's roots, and the certificates of `extra` PEM files.
    pub fn load(extra: &[impl AsRef<Path>]) -> Result<TrustAnchors, Error> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for path in extra {
            let path = path.as_ref();
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|e| Error::Usage(format!("--ca-file {}: {e}", path.display())))?;
            let mut added = 0;
            for certificate in certificates {
                let certificate = certificate
                    .map_err(|e| Error::Usage(format!("--ca-file {}: {e}", path.display())))?;
                roots.add(certificate).map_err(|e| {
                    Error::Usage(format!(
                        "--ca-file {}: not a CA certificate: {e}",
                        path.display()
                    ))
                })?;
                added += 1;
            }
            if added == 0 {
                return Err(Error::Usage(format!(
                    "--ca-file {}: no PEM certificate in it",
                    path.display()
                )));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let strict = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| Error::Usage(format!("the trust anchors cannot be used: {e}")))?;
        Ok(TrustAnchors { provider, strict })
    }

    /// A client that accepts only what a strict Web PKI client accepts (names, dates, a
    /// chain to these anchors): what an MTA-STS sender uses to fetch a policy over HTTPS.
    pub fn strict_client(&self) -> Result<Arc<ClientConfig>, rustls::Error> {
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(self.strict.clone())
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// What a strict verifier said, kept for the report.
#[derive(Debug)]
struct RecordingVerifier {
    strict: Arc<WebPkiServerVerifier>,
    verdict: Mutex<Option<Result<(), rustls::Error>>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .strict
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        *self
            .verdict
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(verdict);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.strict.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.strict.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.strict.supported_verify_schemes()
    }
}

/// A client configuration for one handshake, and the slot its verdict lands in.
pub(crate) struct Handshake {
    pub config: Arc<ClientConfig>,
    verifier: Arc<RecordingVerifier>,
}

impl Handshake {
    pub(crate) fn new(anchors: &TrustAnchors) -> Result<Handshake, rustls::Error> {
        // The verdict is per connection, so the recording verifier is too; the strict
        // verifier it consults is shared.
        let verifier = Arc::new(RecordingVerifier {
            strict: anchors.strict.clone(),
            verdict: Mutex::new(None),
        });
        let config = ClientConfig::builder_with_provider(anchors.provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        Ok(Handshake {
            config: Arc::new(config),
            verifier,
        })
    }

    fn verdict(&self) -> Option<Result<(), rustls::Error>> {
        self.verifier
            .verdict
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The name to verify a certificate against: the MX host name, or the address when there
/// is no name.
pub(crate) fn server_name(host: &str, address: IpAddr) -> ServerName<'static> {
    ServerName::try_from(host.to_string()).unwrap_or_else(|_| ServerName::IpAddress(address.into()))
}

/// What was wrong with the certificate, by a strict client's standards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum TlsProblem {
    /// The chain does not lead to a trusted root.
    Untrusted,
    /// The certificate signed itself.
    SelfSigned,
    Expired,
    NotYetValid,
    ExpiringSoon {
        days: i64,
    },
    /// None of the names in the certificate is the MX host name.
    NameMismatch,
    Other {
        reason: String,
    },
}

/// One certificate of the chain, as shown in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub names: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub self_signed: bool,
}

/// What the STARTTLS handshake showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
    /// A strict client (Mozilla's roots, name and dates checked) would accept it.
    pub trusted: bool,
    pub problems: Vec<TlsProblem>,
    /// Leaf first.
    pub chain: Vec<CertificateInfo>,
    /// The certificates as presented (DER, leaf first), for DANE matching.
    #[serde(skip)]
    pub chain_der: Vec<Vec<u8>>,
}

/// Describes a completed handshake.
pub(crate) fn inspect(
    handshake: &Handshake,
    connection: &rustls::ClientConnection,
    host: &str,
) -> TlsInfo {
    let version = connection
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .replace('_', ".")
        .replace("TLSv1.", "TLS 1.");
    let cipher = connection
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown")
        .to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let presented = connection.peer_certificates().unwrap_or_default();
    let chain: Vec<CertificateInfo> = presented
        .iter()
        .filter_map(|der| describe(der, now))
        .collect();
    let chain_der: Vec<Vec<u8>> = presented.iter().map(|der| der.to_vec()).collect();

    let mut problems = Vec::new();
    match handshake.verdict() {
        Some(Ok(())) | None => {}
        Some(Err(error)) => problems.push(problem_of(&error, &chain)),
    }
    if let Some(leaf) = chain.first() {
        if leaf.days_left < 0 {
            problems.push(TlsProblem::Expired);
        } else if leaf.days_left < EXPIRY_WARNING_DAYS {
            problems.push(TlsProblem::ExpiringSoon {
                days: leaf.days_left,
            });
        }
        if !leaf.names.iter().any(|name| name_matches(name, host)) {
            problems.push(TlsProblem::NameMismatch);
        }
    }
    let mut unique = Vec::new();
    for problem in problems {
        if !unique.contains(&problem) {
            unique.push(problem);
        }
    }
    TlsInfo {
        version,
        cipher,
        trusted: unique
            .iter()
            .all(|p| matches!(p, TlsProblem::ExpiringSoon { .. })),
        problems: unique,
        chain,
        chain_der,
    }
}

fn problem_of(error: &rustls::Error, chain: &[CertificateInfo]) -> TlsProblem {
    // A lone certificate that signed itself fails as "unknown issuer", or, when it also
    // claims to be a CA (openssl req -x509 does that by default), as "CA used as end
    // entity": either way the operator's problem is that it is self-signed.
    let lone_self_signed = chain.len() == 1 && chain.first().is_some_and(|c| c.self_signed);
    match error {
        rustls::Error::InvalidCertificate(certificate) => match certificate {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsProblem::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsProblem::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::NameMismatch
            }
            _ if lone_self_signed => TlsProblem::SelfSigned,
            CertificateError::UnknownIssuer => TlsProblem::Untrusted,
            other => TlsProblem::Other {
                reason: format!("{other:?}"),
            },
        },
        other => TlsProblem::Other {
            reason: other.to_string(),
        },
    }
}

fn describe(der: &CertificateDer<'_>, now: i64) -> Option<CertificateInfo> {
    let (_, certificate) = X509Certificate::from_der(der.as_ref()).ok()?;
    let mut names: Vec<String> = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_string()),
                    GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(|ip| ip.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        // Certificates without SANs name their host in the CN, which clients stopped
        // accepting; shown anyway so the report says what the certificate claims.
        names.extend(
            certificate
                .subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_string)),
        );
    }
    let not_before = certificate.validity().not_before.timestamp();
    let not_after = certificate.validity().not_after.timestamp();
    let subject = certificate.subject().to_string();
    let issuer = certificate.issuer().to_string();
    Some(CertificateInfo {
        self_signed: subject == issuer,
        subject,
        issuer,
        names,
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        days_left: (not_after - now).div_euclid(86_400),
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// RFC 6125 matching: exact, or a wildcard standing for exactly one leftmost label.
fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ` (the civil-from-days algorithm of H. Hinnant).
fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        (seconds % 3600) / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("mx.example.com", "MX.example.com."));
        assert!(name_matches("*.example.com", "mx.example.com"));
        assert!(!name_matches("*.example.com", "a.mx.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("mail.example.com", "mx.example.com"));
    }

    fn leaf(self_signed: bool) -> CertificateInfo {
        CertificateInfo {
            subject: "CN=mx.example.com".into(),
            issuer: if self_signed {
                "CN=mx.example.com"
            } else {
                "CN=Some CA"
            }
            .into(),
            names: vec!["mx.example.com".into()],
            not_before: String::new(),
            not_after: String::new(),
            days_left: 90,
            self_signed,
        }
    }

    #[test]
    fn verdicts_of_the_strict_verifier() {
        let invalid = |e: CertificateError| rustls::Error::InvalidCertificate(e);
        assert_eq!(
            problem_of(&invalid(CertificateError::UnknownIssuer), &[leaf(true)]),
            TlsProblem::SelfSigned
        );
        assert_eq!(
            problem_of(&invalid(CertificateError::UnknownIssuer), &[leaf(false)]),
            TlsProblem::Untrusted
        );
        let ca_as_leaf = invalid(CertificateError::Other(rustls::OtherError(
            std::sync::Arc::new(std::io::Error::other("CaUsedAsEndEntity")),
        )));
        assert_eq!(
            problem_of(&ca_as_leaf, &[leaf(true)]),
            TlsProblem::SelfSigned
        );
        assert_eq!(
            problem_of(&invalid(CertificateError::Expired), &[leaf(true)]),
            TlsProblem::Expired
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_564_800), "2026-11-25T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
