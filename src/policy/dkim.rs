//! DKIM keys (RFC 6376 §3.6.1): for each selector, the key record at
//! `<selector>._domainkey.<domain>`, its type and size, the testing flag and revocation.

use base64::Engine;
use futures_util::future::join_all;
use serde::Serialize;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::{PublicKey, RSAPublicKey};
use x509_parser::x509::SubjectPublicKeyInfo;

use super::problem::{Problem, ProblemKey, Problems};
use crate::dns::{Dns, Lookup, Outcome, QueryType, Rdata};
use crate::kb::Lang;

/// A parsed key record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimKey {
    /// `k=`: `rsa` (the default) or `ed25519` (RFC 8463).
    pub key_type: String,
    /// The size of an RSA key in bits (256 for Ed25519); `None` for a revoked key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<usize>,
    /// `p=` is empty: the key was revoked (§3.6.1).
    pub revoked: bool,
    /// `t=y`: the domain is testing DKIM; receivers may treat signatures as unsigned.
    pub testing: bool,
    /// `t=s`: the signing domain must be the very domain of `i=`.
    pub strict: bool,
    /// `h=`: hash algorithms allowed, when restricted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<String>,
    /// Tags with values a verifier ignores or refuses.
    #[serde(flatten)]
    pub problems: Problems,
}

/// What a selector has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum DkimKeyState {
    /// No key record at the name.
    None,
    /// A key record that parses.
    Found { text: String, key: DkimKey },
    /// A record that is not a usable key (bad tags, bad base64, not a key).
    Malformed {
        text: String,
        /// In English; `problem_key` is the same in no language.
        problem: String,
        problem_key: Problem,
    },
    /// Several records: verifiers cannot tell which one (§3.6.2.2).
    Several { texts: Vec<String> },
    /// The query failed: nothing known.
    LookupFailed { outcome: String },
}

/// The key of one selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimSelector {
    pub selector: String,
    /// The name asked: `<selector>._domainkey.<domain>`.
    pub name: String,
    pub key: DkimKeyState,
    pub lookup: Lookup,
}

/// Parses a key record (§3.6.1).
pub fn parse(text: &str) -> Result<DkimKey, Problem> {
    let mut key_type = "rsa".to_string();
    let mut p = None;
    let mut testing = false;
    let mut strict = false;
    let mut hashes = Vec::new();
    let mut problems = Problems::default();
    for (index, tag) in super::tag_list(text) {
        let (name, value) = tag.map_err(|field| Problem::about(ProblemKey::NotNameValue, field))?;
        let value: String = value.split_whitespace().collect();
        match name.trim() {
            "v" if index == 0 => {
                if value != "DKIM1" {
                    return Err(Problem::about(ProblemKey::DkimVersionInvalid, &value));
                }
            }
            "v" => return Err(Problem::new(ProblemKey::DkimVersionNotFirst)),
            "k" => key_type = value.to_ascii_lowercase(),
            "p" => p = Some(value),
            "t" => {
                for flag in value.split(':') {
                    match flag {
                        "y" => testing = true,
                        "s" => strict = true,
                        other => problems.push(Problem::about(ProblemKey::DkimFlagUnknown, other)),
                    }
                }
            }
            "h" => hashes = value.split(':').map(str::to_string).collect(),
            "n" | "s" | "g" => {}
            other => problems.push(Problem::about(ProblemKey::UnknownTag, other)),
        }
    }
    let Some(p) = p else {
        return Err(Problem::new(ProblemKey::DkimKeyMissing));
    };
    if p.is_empty() {
        return Ok(DkimKey {
            key_type,
            bits: None,
            revoked: true,
            testing,
            strict,
            hashes,
            problems,
        });
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(p.as_bytes())
        .map_err(|e| Problem::about(ProblemKey::DkimKeyNotBase64, &e.to_string()))?;
    let bits = match key_type.as_str() {
        "rsa" => rsa_bits(&der)?,
        "ed25519" if der.len() == 32 => 256,
        "ed25519" => {
            return Err(Problem::about(
                ProblemKey::DkimEd25519Length,
                &der.len().to_string(),
            ));
        }
        other => return Err(Problem::about(ProblemKey::DkimKeyTypeUnknown, other)),
    };
    if hashes.iter().any(|h| h == "sha1") && !hashes.iter().any(|h| h == "sha256") {
        problems.push(Problem::new(ProblemKey::DkimSha1Only));
    }
    Ok(DkimKey {
        key_type,
        bits: Some(bits),
        revoked: false,
        testing,
        strict,
        hashes,
        problems,
    })
}

/// The size of an RSA key given as a `SubjectPublicKeyInfo` (what §3.6.1 asks for) or as a
/// bare `RSAPublicKey` (what some signers publish).
fn rsa_bits(der: &[u8]) -> Result<usize, Problem> {
    if let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(der) {
        return match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => Ok(rsa.key_size()),
            Ok(_) => Err(Problem::new(ProblemKey::DkimKeyNotRsa)),
            Err(e) => Err(Problem::about(ProblemKey::DkimRsaUnusable, &e.to_string())),
        };
    }
    RSAPublicKey::from_der(der)
        .map(|(_, rsa)| rsa.key_size())
        .map_err(|e| Problem::about(ProblemKey::DkimRsaUnusable, &e.to_string()))
}

fn state(lookup: &Lookup) -> DkimKeyState {
    match &lookup.outcome {
        Outcome::Answer { records } => {
            let texts: Vec<String> = records
                .iter()
                .filter_map(|r| match r {
                    Rdata::Txt(t) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            match texts.as_slice() {
                [] => DkimKeyState::None,
                [text] => match parse(text) {
                    Ok(key) => DkimKeyState::Found {
                        text: text.clone(),
                        key,
                    },
                    Err(problem) => DkimKeyState::Malformed {
                        text: text.clone(),
                        problem: problem.text(Lang::En),
                        problem_key: problem,
                    },
                },
                _ => DkimKeyState::Several { texts },
            }
        }
        Outcome::NxDomain | Outcome::NoData => DkimKeyState::None,
        Outcome::ServFail => DkimKeyState::LookupFailed {
            outcome: "SERVFAIL".into(),
        },
        Outcome::Refused => DkimKeyState::LookupFailed {
            outcome: "REFUSED".into(),
        },
        Outcome::Timeout => DkimKeyState::LookupFailed {
            outcome: "timeout".into(),
        },
        Outcome::Unreachable { reason } | Outcome::Failed { reason } => {
            DkimKeyState::LookupFailed {
                outcome: reason.clone(),
            }
        }
    }
}

/// Checks every selector at once.
pub async fn check(dns: &impl Dns, domain: &str, selectors: &[String]) -> Vec<DkimSelector> {
    join_all(selectors.iter().map(|selector| async move {
        let name = format!("{selector}._domainkey.{domain}");
        let lookup = dns.query(&name, QueryType::Txt).await;
        DkimSelector {
            selector: selector.clone(),
            name,
            key: state(&lookup),
            lookup,
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 1024-bit RSA public key: `openssl genpkey -algorithm RSA -pkeyopt
    // rsa_keygen_bits:1024 | openssl pkey -pubout -outform DER | base64 -w0`.
    const RSA_1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCLlP+LLiA9+mRufajGwowXNnxAacAWtIhrbKpKH56hF03MLRcPHA/Z0YntPFhNRB5/BWpJFCx/EYZHIEy+QxE2nDS70tHXcaoSEGO0DxjXES18cHtqSl5gWrKjYB71Tf3Tl9Qm6e1jLM73k3t1Ee+T0K66Tasc/vsjfAzFmdrHQIDAQAB";

    #[test]
    fn a_key_gives_its_type_and_size() {
        let key = parse(&format!("v=DKIM1; k=rsa; t=y; p={RSA_1024}")).unwrap();
        assert_eq!(key.key_type, "rsa");
        assert_eq!(key.bits, Some(1024));
        assert!(key.testing);
        assert!(!key.revoked);
    }

    #[test]
    fn an_empty_key_is_revoked() {
        let key = parse("v=DKIM1; p=").unwrap();
        assert!(key.revoked);
        assert_eq!(key.bits, None);
    }

    #[test]
    fn broken_records_say_why() {
        let why = |text: &str| parse(text).unwrap_err();
        assert_eq!(why("v=DKIM1; k=rsa").key, ProblemKey::DkimKeyMissing);
        assert_eq!(why("v=DKIM2; p=AAAA").key, ProblemKey::DkimVersionInvalid);
        assert_eq!(why("v=DKIM1; p=!!!").key, ProblemKey::DkimKeyNotBase64);
        assert_eq!(
            why("k=rsa; v=DKIM1; p=").key,
            ProblemKey::DkimVersionNotFirst
        );
        assert!(why("v=DKIM1; k=rsa").text(Lang::En).contains("no p="));
        assert!(why("v=DKIM1; p=!!!").text(Lang::En).contains("base64"));
    }
}
