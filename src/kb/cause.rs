//! Causes: why a server sent a reply, decided from the signature it matches, its words
//! and its codes, in the order `kb/causes.toml` describes.

use std::sync::OnceLock;

use serde::Serialize;

use super::pattern::LazyPatterns;
use super::{CauseFacts, CauseRule, CauseText, Lang, SignatureMatch, data};
use crate::reply::{EnhancedCode, ReplyCode, Stage};

/// What decided a cause, so that a reader can check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `signature`, `words`, `code`, or `none`.
    pub by: EvidenceKind,
    /// The code that decided, or that the words were read with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The words of the reply that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<String>,
    /// The signature that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<&'static str>,
    /// The command the reply answered, when it changed the cause (a refusal at MAIL FROM
    /// is about the sender).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Stage>,
}

/// Which kind of evidence decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    Signature,
    Words,
    Code,
    None,
    /// Not a reply but a check of the sender's own records (`smtpdiag sender`): the cause
    /// of the replies the finding brings.
    Check,
}

impl Evidence {
    fn of(by: EvidenceKind) -> Evidence {
        Evidence {
            by,
            code: None,
            words: None,
            signature: None,
            command: None,
        }
    }
}

/// A cause as decided, without text: what a report stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseRef {
    pub id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<&'static str>,
    pub evidence: Evidence,
}

/// A cause with its text in one language: what `explain` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<&'static str>,
    pub title: &'static str,
    pub explanation: &'static str,
    pub fix: &'static str,
    pub evidence: Evidence,
}

impl CauseRef {
    /// The cause with its text in `lang` (English where the translation lacks it).
    #[must_use]
    pub fn in_lang(&self, lang: Lang) -> Cause {
        let text = cause_text(self.id, lang);
        Cause {
            id: self.id,
            parent: self.parent,
            title: text.title,
            explanation: text.explanation,
            fix: text.fix,
            evidence: self.evidence.clone(),
        }
    }
}

/// Every cause, in the order of `kb/causes.toml`.
#[must_use]
pub fn cause_facts() -> &'static [CauseFacts] {
    data::CAUSE_FACTS
}

fn facts(id: &str) -> &'static CauseFacts {
    data::CAUSE_FACTS
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| facts("unknown"))
}

/// The text of a cause in `lang`, or in English.
///
/// # Panics
///
/// Never for an id of `kb/causes.toml`: `tests/kb.rs` checks that English has them all.
#[must_use]
pub fn cause_text(id: &str, lang: Lang) -> &'static CauseText {
    let find = |lang: Lang| {
        let table = lang.data().causes;
        table
            .binary_search_by(|(k, _)| (*k).cmp(id))
            .ok()
            .map(|i| &table[i].1)
    };
    find(lang)
        .or_else(|| find(Lang::En))
        .unwrap_or_else(|| panic!("cause {id} has no English text"))
}

fn rules() -> &'static LazyPatterns {
    static RULES: OnceLock<LazyPatterns> = OnceLock::new();
    RULES.get_or_init(|| LazyPatterns::new(&data::CAUSE_RULE_PIECES))
}

/// How many pieces of rule patterns have no literal (and are tried on every reply).
#[must_use]
pub fn rule_pieces_without_literals() -> usize {
    super::pattern::pieces_without_literals(&data::CAUSE_RULE_PIECES)
}

/// Checks that every rule's pattern compiles; the error names the rule.
pub fn cause_patterns_compile() -> Result<(), String> {
    for (i, rule) in data::CAUSE_RULES.iter().enumerate() {
        super::pattern::build(rule.pattern)
            .map_err(|e| format!("rule {i} ({}): {e}", rule.cause))?;
    }
    Ok(())
}

fn reference(id: &'static str, evidence: Evidence) -> CauseRef {
    let facts = facts(id);
    CauseRef {
        id: facts.id,
        parent: facts.parent,
        evidence,
    }
}

/// The first rule of the given strength whose words occur in `words`, with the words.
fn rule_match(words: &str, strong: bool) -> Option<(&'static str, String)> {
    rule_match_where(words, |rule| rule.strong == strong)
}

/// The first rule that `wanted` accepts and whose words occur in `words`, with the words.
fn rule_match_where(
    words: &str,
    wanted: impl Fn(&CauseRule) -> bool,
) -> Option<(&'static str, String)> {
    if words.is_empty() {
        return None;
    }
    let found = rules().first_match(words.as_bytes(), |i| wanted(&data::CAUSE_RULES[i]))?;
    Some((
        data::CAUSE_RULES[found.pattern].cause,
        String::from_utf8_lossy(found.found).into_owned(),
    ))
}

/// The cause a code names, looking at `codes` (specific) or `fallback` of every cause.
fn code_match(
    code: Option<ReplyCode>,
    enhanced: Option<EnhancedCode>,
    specific: bool,
) -> Option<(&'static str, String)> {
    // A mailbox or address code on a reply that closes the whole connection (La Poste's
    // `421 4.2.1 Service refused`) is the server's own usage, not the registry's meaning:
    // 421 is about the service, never about one mailbox. It names no cause on its own.
    let trusted = |e: &EnhancedCode| {
        !(specific && code.is_some_and(|c| c.value() == 421) && matches!(e.subject, 1 | 2))
    };
    let keys = enhanced
        .filter(trusted)
        .map(|e| (e.generic().to_string(), e.to_string()))
        .into_iter()
        .chain(code.map(|c| (c.to_string(), c.to_string())));
    for (key, shown) in keys {
        let found = data::CAUSE_FACTS.iter().find(|c| {
            let list = if specific { c.codes } else { c.fallback };
            list.contains(&key.as_str())
        });
        if let Some(cause) = found {
            return Some((cause.id, shown));
        }
    }
    None
}

/// Decides the cause of a reply: its signature, its words (`words`: the reply's text
/// with addresses and URL paths removed), its codes, and the command it answered.
#[must_use]
pub fn classify(
    words: &str,
    code: Option<ReplyCode>,
    enhanced: Option<EnhancedCode>,
    command: Option<Stage>,
    signature: Option<&SignatureMatch>,
) -> CauseRef {
    let shown_code = enhanced
        .map(|e| e.to_string())
        .or_else(|| code.map(|c| c.to_string()));
    let decided = if let Some(s) = signature {
        let mut evidence = Evidence::of(EvidenceKind::Signature);
        evidence.signature = Some(s.id);
        evidence.code.clone_from(&shown_code);
        // Words may refine what the signature says: a blocklist refusal that names a
        // list which has shut down is a dead-blocklist refusal.
        let refined = rule_match_where(words, |rule| {
            rule.strong && facts(rule.cause).parent == Some(s.cause_id)
        });
        match refined {
            Some((finer, matched)) => {
                evidence.words = Some(matched);
                Some((finer, evidence))
            }
            None => Some((s.cause_id, evidence)),
        }
    } else {
        let by_words = |strong: bool| {
            rule_match(words, strong).map(|(cause, matched)| {
                let mut evidence = Evidence::of(EvidenceKind::Words);
                evidence.words = Some(matched);
                evidence.code.clone_from(&shown_code);
                (cause, evidence)
            })
        };
        let by_code = |specific: bool| {
            code_match(code, enhanced, specific).map(|(cause, shown)| {
                let mut evidence = Evidence::of(EvidenceKind::Code);
                evidence.code = Some(shown);
                (cause, evidence)
            })
        };
        by_words(true)
            .or_else(|| by_code(true))
            .or_else(|| by_words(false))
            .or_else(|| by_code(false))
    };
    let (id, mut evidence) =
        decided.unwrap_or_else(|| ("unknown", Evidence::of(EvidenceKind::None)));
    // A refusal at MAIL FROM that reads like a bad address is about the sender's address.
    let id = match (command, id) {
        (Some(Stage::MailFrom), "user-unknown") => {
            evidence.command = command;
            "sender-rejected"
        }
        (Some(Stage::MailFrom), "domain-not-found") => {
            evidence.command = command;
            "sender-domain-not-found"
        }
        // A permanent refusal instead of the greeting, with nothing more precise: the
        // server refuses this client by policy (a busy server answers 421, not 5xx).
        (Some(Stage::Greeting), "service-unavailable" | "system-error" | "unknown")
            if code.is_some_and(|c| c.class().digit() == 5) =>
        {
            evidence.command = command;
            "policy"
        }
        _ => id,
    };
    reference(id, evidence)
}

/// The cause a code names on its own (`explain 421`).
#[must_use]
pub fn classify_code(code: Option<ReplyCode>, enhanced: Option<EnhancedCode>) -> CauseRef {
    classify("", code, enhanced, None, None)
}

/// The cause a code names on its own, without words: `None` when the code names none
/// more precise than `unknown`. Used to see whether a signature gives a code another
/// meaning than the registry's.
#[must_use]
pub fn specific_cause_of(enhanced: EnhancedCode) -> Option<&'static str> {
    code_match(None, Some(enhanced), true).map(|(id, _)| id)
}

/// Whether `a` is `b`, or one of them refines the other.
#[must_use]
pub fn related(a: &str, b: &str) -> bool {
    a == b || facts(a).parent == Some(b) || facts(b).parent == Some(a)
}
