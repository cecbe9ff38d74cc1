//! Reply signatures: well-known reply texts recognised by pattern, each with the specific
//! cause and fix behind it (`kb/signatures.toml`).

use std::sync::OnceLock;

use regex::bytes::Regex;
use serde::Serialize;

use super::pattern::{self, LazyPatterns};
use super::{Lang, SignatureFacts, data, lookup};

/// A reply recognised by one of the signatures, with its text in one language.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureMatch {
    pub id: &'static str,
    pub provider: &'static str,
    pub kind: &'static str,
    /// The cause id of `kb/causes.toml` the signature gives the reply (in JSON, the
    /// page's `cause` says it with its evidence).
    #[serde(skip)]
    pub cause_id: &'static str,
    pub title: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'static str>,
    /// What the pattern's named groups captured, e.g. `zone` = `zen.spamhaus.org`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub captured: Vec<(String, String)>,
}

impl SignatureMatch {
    /// The value a named group captured.
    #[must_use]
    pub fn capture(&self, name: &str) -> Option<&str> {
        self.captured
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn patterns() -> &'static LazyPatterns {
    static PATTERNS: OnceLock<LazyPatterns> = OnceLock::new();
    PATTERNS.get_or_init(|| LazyPatterns::new(&data::SIGNATURE_PIECES))
}

/// How many pieces of signature patterns have no literal (and are tried on every reply).
#[must_use]
pub fn signature_pieces_without_literals() -> usize {
    pattern::pieces_without_literals(&data::SIGNATURE_PIECES)
}

/// Checks that every pattern compiles; the error names the signature.
pub fn signature_patterns_compile() -> Result<(), String> {
    for facts in data::SIGNATURE_FACTS {
        pattern::build(facts.pattern).map_err(|e| format!("signature {}: {e}", facts.id))?;
    }
    Ok(())
}

/// The ids of every signature whose pattern matches (in file order).
#[must_use]
pub fn matching_ids(subject: &str) -> Vec<&'static str> {
    patterns()
        .all_matches(subject.as_bytes())
        .into_iter()
        .map(|i| data::SIGNATURE_FACTS[i].id)
        .collect()
}

/// The first signature matching a reply's signature subject
/// ([`crate::reply::Reply::signature_subject`]).
#[must_use]
pub fn match_signature(subject: &str, lang: Lang) -> Option<SignatureMatch> {
    let found = patterns().first_match(subject.as_bytes(), |_| true)?;
    let caps = found.regex.captures(subject.as_bytes())?;
    Some(describe(
        &data::SIGNATURE_FACTS[found.pattern],
        found.regex,
        &caps,
        lang,
    ))
}

fn describe(
    facts: &'static SignatureFacts,
    regex: &Regex,
    caps: &regex::bytes::Captures<'_>,
    lang: Lang,
) -> SignatureMatch {
    let text = lookup(lang.data().signatures, facts.id)
        .or_else(|| lookup(Lang::En.data().signatures, facts.id));
    let captured = regex
        .capture_names()
        .flatten()
        .filter_map(|name| {
            caps.name(name).map(|m| {
                (
                    name.to_string(),
                    String::from_utf8_lossy(m.as_bytes()).into_owned(),
                )
            })
        })
        .collect();
    SignatureMatch {
        id: facts.id,
        provider: facts.provider,
        kind: facts.kind,
        cause_id: facts.cause,
        title: text.map_or(facts.id, |t| t.title),
        cause: text.map_or("", |t| t.cause),
        fix: text.map_or("", |t| t.fix),
        url: facts.url,
        captured,
    }
}
