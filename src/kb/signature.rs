//! Reply signatures: well-known reply texts recognised by pattern, each with the specific
//! cause and fix behind it (`kb/signatures.toml`).

use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde::Serialize;

use super::{Lang, SignatureFacts, data, lookup};

/// A reply recognised by one of the signatures, with its text in one language.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureMatch {
    pub id: &'static str,
    pub provider: &'static str,
    pub kind: &'static str,
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

/// Compiled lazily and one at a time: explaining `421` never pays for the regexes, and a
/// reply that matches an early signature pays only for those before it.
fn compiled(index: usize) -> &'static Regex {
    static PATTERNS: OnceLock<Vec<OnceLock<Regex>>> = OnceLock::new();
    let cells = PATTERNS.get_or_init(|| {
        (0..data::SIGNATURE_FACTS.len())
            .map(|_| OnceLock::new())
            .collect()
    });
    cells[index].get_or_init(|| {
        build(data::SIGNATURE_FACTS[index].pattern)
            .expect("signature patterns are checked by the test suite")
    })
}

fn build(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

/// Checks that every pattern compiles; the error names the signature.
pub fn signature_patterns_compile() -> Result<(), String> {
    for facts in data::SIGNATURE_FACTS {
        build(facts.pattern).map_err(|e| format!("signature {}: {e}", facts.id))?;
    }
    Ok(())
}

/// The ids of every signature whose pattern matches (in file order).
#[must_use]
pub fn matching_ids(subject: &str) -> Vec<&'static str> {
    data::SIGNATURE_FACTS
        .iter()
        .enumerate()
        .filter(|(i, _)| compiled(*i).is_match(subject))
        .map(|(_, f)| f.id)
        .collect()
}

/// The first signature matching a reply's signature subject
/// ([`crate::reply::Reply::signature_subject`]).
#[must_use]
pub fn match_signature(subject: &str, lang: Lang) -> Option<SignatureMatch> {
    data::SIGNATURE_FACTS
        .iter()
        .enumerate()
        .find_map(|(i, facts)| {
            let regex = compiled(i);
            regex
                .captures(subject)
                .map(|caps| describe(facts, regex, &caps, lang))
        })
}

fn describe(
    facts: &'static SignatureFacts,
    regex: &Regex,
    caps: &regex::Captures<'_>,
    lang: Lang,
) -> SignatureMatch {
    let text = lookup(lang.data().signatures, facts.id)
        .or_else(|| lookup(Lang::En.data().signatures, facts.id));
    let captured = regex
        .capture_names()
        .flatten()
        .filter_map(|name| {
            caps.name(name)
                .map(|m| (name.to_string(), m.as_str().to_string()))
        })
        .collect();
    SignatureMatch {
        id: facts.id,
        provider: facts.provider,
        kind: facts.kind,
        title: text.map_or(facts.id, |t| t.title),
        cause: text.map_or("", |t| t.cause),
        fix: text.map_or("", |t| t.fix),
        url: facts.url,
        captured,
    }
}
