//! DANE for SMTP (RFC 7672, RFC 7671): which TLSA records a sending MTA can use, and whether
//! the certificate chain an exchanger presents matches one of them.

use std::sync::Arc;

use ring::digest;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tlsa {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0 the whole certificate, 1 its public key (`SubjectPublicKeyInfo`).
    pub selector: u8,
    /// 0 the data itself, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The association data, in hex.
    pub data: String,
}

/// Why a sending MTA cannot use a TLSA record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unusable {
    /// PKIX-TA and PKIX-EE (0 and 1) are unusable for SMTP (RFC 7672 §3.1.3).
    PkixUsage,
    /// A usage, selector or matching type no RFC defines.
    UnknownParameter,
    /// The data has the wrong length for its matching type, or is not hex.
    BadData,
}

impl Tlsa {
    /// The parameters as people write them: `3 1 1`.
    #[must_use]
    pub fn parameters(&self) -> String {
        format!("{} {} {}", self.usage, self.selector, self.matching)
    }

    /// Why the record is unusable for SMTP, if it is.
    #[must_use]
    pub fn unusable(&self) -> Option<Unusable> {
        if self.usage > 3 || self.selector > 1 || self.matching > 2 {
            return Some(Unusable::UnknownParameter);
        }
        if self.usage < 2 {
            return Some(Unusable::PkixUsage);
        }
        let length = self.data.len() / 2;
        let right_length = match self.matching {
            1 => length == 32,
            2 => length == 64,
            _ => length > 0,
        };
        if !right_length || hex_decode(&self.data).is_none() {
            return Some(Unusable::BadData);
        }
        None
    }

    /// Whether this record matches a certificate (DER).
    #[must_use]
    pub fn matches(&self, certificate: &[u8]) -> bool {
        let Some(expected) = hex_decode(&self.data) else {
            return false;
        };
        let selected = match self.selector {
            0 => certificate.to_vec(),
            1 => match X509Certificate::from_der(certificate) {
                Ok((_, parsed)) => parsed.tbs_certificate.subject_pki.raw.to_vec(),
                Err(_) => return false,
            },
            _ => return false,
        };
        match self.matching {
            0 => selected == expected,
            1 => digest::digest(&digest::SHA256, &selected).as_ref() == expected.as_slice(),
            2 => digest::digest(&digest::SHA512, &selected).as_ref() == expected.as_slice(),
            _ => false,
        }
    }
}

/// The TLSA record a DANE sender would publish for a certificate: `3 1 1` of its key.
#[must_use]
pub fn dane_ee_for(certificate: &[u8]) -> Option<Tlsa> {
    let (_, parsed) = X509Certificate::from_der(certificate).ok()?;
    let hash = digest::digest(&digest::SHA256, parsed.tbs_certificate.subject_pki.raw);
    Some(Tlsa {
        usage: 3,
        selector: 1,
        matching: 1,
        data: hex_encode(hash.as_ref()),
    })
}

/// What a DANE-enforcing sender concludes from the TLSA records and the chain presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ChainMatch {
    /// A usable record matches: the sender delivers.
    Valid { parameters: String },
    /// Usable records exist, none matches: the sender defers ("TLSA mismatch").
    Mismatch,
    /// Every record is unusable: the sender treats the server as having no TLSA records,
    /// but must still use TLS (RFC 7672 §2.2, unauthenticated).
    NoUsableRecord,
}

/// Matches the chain (leaf first, DER) against the records. DANE-EE (3) looks at the leaf
/// only and ignores its names and dates (RFC 7672 §3.1.1); DANE-TA (2) looks for a trust
/// anchor in the chain, whose leaf must still carry the exchanger's name
/// (`leaf_name_matches`, RFC 7672 §3.2.3) and chain up to it, each certificate signed by
/// the next and within its dates (RFC 7672 §3.1.2: a TA only vouches for what it signed).
/// `host` is the exchanger's name, checked by that path validation too.
#[must_use]
pub fn match_chain(
    records: &[Tlsa],
    chain: &[Vec<u8>],
    leaf_name_matches: bool,
    host: &str,
) -> ChainMatch {
    let usable: Vec<&Tlsa> = records.iter().filter(|r| r.unusable().is_none()).collect();
    if usable.is_empty() {
        return ChainMatch::NoUsableRecord;
    }
    for record in usable {
        let matched = match record.usage {
            3 => chain.first().is_some_and(|leaf| record.matches(leaf)),
            2 => {
                leaf_name_matches
                    && chain
                        .iter()
                        .enumerate()
                        .any(|(i, c)| record.matches(c) && chains_to_anchor(chain, i, host))
            }
            _ => false,
        };
        if matched {
            return ChainMatch::Valid {
                parameters: record.parameters(),
            };
        }
    }
    ChainMatch::Mismatch
}

/// Whether the leaf, through `chain[1..anchor]`, is signed up to `chain[anchor]`, taken as
/// the only trust anchor, and valid now for `host` as a TLS server. A leaf that is itself
/// the anchor vouches for itself.
fn chains_to_anchor(chain: &[Vec<u8>], anchor: usize, host: &str) -> bool {
    if anchor == 0 {
        return true;
    }
    let mut roots = RootCertStore::empty();
    if roots
        .add(CertificateDer::from(chain[anchor].as_slice()))
        .is_err()
    {
        return false;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()
    else {
        return false;
    };
    let Ok(name) = ServerName::try_from(host.trim_end_matches('.').to_string()) else {
        return false;
    };
    let intermediates: Vec<CertificateDer<'_>> = chain[1..anchor]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    verifier
        .verify_server_cert(
            &CertificateDer::from(chain[0].as_slice()),
            &intermediates,
            &name,
            &[],
            UnixTime::now(),
        )
        .is_ok()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Lower-case hex, as TLSA data is usually written.
#[must_use]
pub fn hex_encode(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    /// The name in the fixture leaf's certificate.
    const HOST: &str = "mx.example.test";

    fn certificates(pem: &[u8]) -> Vec<Vec<u8>> {
        CertificateDer::pem_slice_iter(pem)
            .map(|c| c.unwrap().to_vec())
            .collect()
    }

    fn chain() -> Vec<Vec<u8>> {
        certificates(include_bytes!("../../tests/fixtures/tls/dane-chain.pem"))
    }

    fn ta_of(certificate: &[u8]) -> Tlsa {
        Tlsa {
            usage: 2,
            selector: 0,
            matching: 1,
            data: hex_encode(digest::digest(&digest::SHA256, certificate).as_ref()),
        }
    }

    #[test]
    fn dane_ee_matches_the_leaf_key_only() {
        let chain = chain();
        let record = dane_ee_for(&chain[0]).unwrap();
        assert_eq!(record.parameters(), "3 1 1");
        assert_eq!(
            match_chain(std::slice::from_ref(&record), &chain, false, HOST),
            ChainMatch::Valid {
                parameters: "3 1 1".into()
            },
            "DANE-EE ignores names"
        );
        let other = dane_ee_for(&chain[1]).unwrap();
        assert_eq!(
            match_chain(&[other], &chain, true, HOST),
            ChainMatch::Mismatch
        );
    }

    #[test]
    fn dane_ta_matches_the_issuer_when_the_name_matches() {
        let chain = chain();
        let ta = ta_of(&chain[1]);
        assert!(matches!(
            match_chain(std::slice::from_ref(&ta), &chain, true, HOST),
            ChainMatch::Valid { .. }
        ));
        assert_eq!(
            match_chain(&[ta], &chain, false, HOST),
            ChainMatch::Mismatch
        );
    }

    /// A server that sends, after its leaf, a CA certificate of the same name as its issuer
    /// but another key: the TLSA record matches that certificate, yet it signed nothing.
    #[test]
    fn dane_ta_needs_the_anchor_to_have_signed_the_leaf() {
        let mut chain = chain();
        let impostor =
            certificates(include_bytes!("../../tests/fixtures/tls/dane-other-ca.pem")).remove(0);
        chain[1] = impostor.clone();
        let ta = ta_of(&impostor);
        assert!(ta.matches(&chain[1]));
        assert_eq!(
            match_chain(std::slice::from_ref(&ta), &chain, true, HOST),
            ChainMatch::Mismatch
        );
        // The genuine issuer, sent after the impostor: the chain is signed up to it.
        chain.push(super::tests::chain()[1].clone());
        let genuine = ta_of(&chain[2]);
        assert!(matches!(
            match_chain(&[genuine], &chain, true, HOST),
            ChainMatch::Valid { .. }
        ));
    }

    #[test]
    fn dane_ta_checks_the_name_in_the_path_too() {
        let chain = chain();
        assert_eq!(
            match_chain(&[ta_of(&chain[1])], &chain, true, "mx.other.test"),
            ChainMatch::Mismatch
        );
    }

    #[test]
    fn unusable_records() {
        let pkix = Tlsa {
            usage: 1,
            selector: 1,
            matching: 1,
            data: "00".repeat(32),
        };
        assert_eq!(pkix.unusable(), Some(Unusable::PkixUsage));
        let short = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: "abcd".into(),
        };
        assert_eq!(short.unusable(), Some(Unusable::BadData));
        assert_eq!(
            match_chain(&[pkix, short], &chain(), true, HOST),
            ChainMatch::NoUsableRecord
        );
    }
}
