//! The knowledge base: what every reply code means, when it is seen and how to fix it, in
//! every language of `kb/`. The data is compiled into the binary by `build.rs`.

mod cause;
mod data;
mod doc;
mod lang;
mod page;
mod pattern;
pub mod schema;
mod signature;

use std::borrow::Cow;

use serde::Serialize;

pub use cause::{
    Cause, CauseRef, Evidence, EvidenceKind, cause_facts, cause_patterns_compile, cause_text,
    classify, classify_code, related, rule_pieces_without_literals, specific_cause_of,
};
pub use data::{FindingKind, Lang, UI_MISSING, Ui};
pub use doc::{causes_markdown, reply_codes_markdown};
pub use lang::UnknownLang;
pub use page::{
    Code, Comparison, ExplainPage, Query, classify_reply, compare, explain, stage_name,
};
pub use schema::Side;
pub use signature::{
    SignatureMatch, match_signature, matching_ids, signature_patterns_compile,
    signature_pieces_without_literals,
};

pub use crate::reply::Stage;
use crate::reply::{EnhancedClass, EnhancedCode, ReplyClass, ReplyCode};

impl Serialize for FindingKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

/// Language-neutral facts about a basic reply code (`kb/codes.toml`).
#[derive(Debug)]
pub struct BasicFacts {
    pub code: u16,
    pub rfc: &'static [&'static str],
    pub stages: &'static [Stage],
    pub closes: bool,
    pub side: Side,
}

/// Language-neutral facts about an enhanced status code (`kb/codes.toml`).
#[derive(Debug)]
pub struct EnhancedFacts {
    pub subject: u16,
    pub detail: u16,
    pub classes: &'static [u8],
    pub basic: &'static [u16],
    pub rfc: &'static [&'static str],
    pub side: Side,
}

/// Language-neutral facts about a reply signature (`kb/signatures.toml`).
#[derive(Debug)]
pub struct SignatureFacts {
    pub id: &'static str,
    pub provider: &'static str,
    pub kind: &'static str,
    /// The cause (`kb/causes.toml`) of the replies this signature recognises.
    pub cause: &'static str,
    pub pattern: &'static str,
    pub url: Option<&'static str>,
    pub examples: &'static [&'static str],
}

/// Language-neutral facts about a cause (`kb/causes.toml`).
#[derive(Debug)]
pub struct CauseFacts {
    pub id: &'static str,
    /// The broader cause this one refines, e.g. `auth-failed` for `spf-failed`.
    pub parent: Option<&'static str>,
    /// Codes that name this cause on their own (`X.1.1`, `556`).
    pub codes: &'static [&'static str],
    /// Codes that suggest this cause when nothing more specific does (`X.7.1`, `554`).
    pub fallback: &'static [&'static str],
}

/// Words that name a cause (`kb/causes.toml`, `[[rule]]`), tried in file order.
#[derive(Debug)]
pub struct CauseRule {
    pub cause: &'static str,
    /// Strong rules win over specific codes; weak ones only over fallback codes.
    pub strong: bool,
    pub pattern: &'static str,
}

/// The text of a cause in one language.
#[derive(Debug)]
pub struct CauseText {
    pub title: &'static str,
    pub explanation: &'static str,
    pub fix: &'static str,
}

/// The text of one code in one language.
#[derive(Debug)]
pub struct CodeText {
    pub title: &'static str,
    pub description: &'static str,
    pub when: &'static str,
    pub fix: &'static str,
}

/// The text of a class, category or subject in one language. Categories have a name only.
#[derive(Debug)]
pub struct ClassText {
    pub name: &'static str,
    pub description: &'static str,
    pub when: &'static str,
    pub fix: &'static str,
}

/// The text of a reply signature in one language.
#[derive(Debug)]
pub struct SignatureText {
    pub title: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
}

/// The text of a kind of finding in one language; `{placeholders}` are filled per finding.
#[derive(Debug)]
pub struct FindingText {
    pub title: &'static str,
    pub explanation: &'static str,
    pub fix: &'static str,
}

/// Language-neutral facts about a DNS blocklist (`kb/dnsbl.toml`).
#[derive(Debug)]
pub struct BlocklistFacts {
    pub zone: &'static str,
    pub name: &'static str,
    pub ipv6: bool,
    /// A URL with `{ip}` where the address goes.
    pub lookup: &'static str,
    /// The return codes the list documents, as dotted quads.
    pub answers: &'static [&'static str],
}

/// What a blocklist's answers mean and how to get off it, in one language.
#[derive(Debug)]
pub struct BlocklistText {
    pub delist: &'static str,
    pub answers: &'static [(&'static str, &'static str)],
}

/// Everything one language says, as generated from `kb/<lang>/`.
#[derive(Debug)]
pub struct LangData {
    pub basic: &'static [(u16, CodeText)],
    pub enhanced: &'static [((u16, u16), CodeText)],
    pub basic_class: &'static [(u8, ClassText)],
    pub basic_category: &'static [(u8, ClassText)],
    pub enhanced_class: &'static [(u8, ClassText)],
    pub enhanced_subject: &'static [(u8, ClassText)],
    pub signatures: &'static [(&'static str, SignatureText)],
    pub findings: &'static [(&'static str, FindingText)],
    pub causes: &'static [(&'static str, CauseText)],
    pub dnsbl: &'static [(&'static str, BlocklistText)],
    pub ui: Ui,
}

/// Every basic code with an entry, in ascending order.
#[must_use]
pub fn basic_facts() -> &'static [BasicFacts] {
    data::BASIC_FACTS
}

/// Every enhanced code with an entry, in ascending order of subject and detail.
#[must_use]
pub fn enhanced_facts() -> &'static [EnhancedFacts] {
    data::ENHANCED_FACTS
}

/// Every reply signature, in matching order.
#[must_use]
pub fn signature_facts() -> &'static [SignatureFacts] {
    data::SIGNATURE_FACTS
}

/// The default DNS blocklists.
#[must_use]
pub fn blocklist_facts() -> &'static [BlocklistFacts] {
    data::BLOCKLIST_FACTS
}

/// The meaning of a blocklist's answers and its removal route, in the language or English.
#[must_use]
pub fn blocklist_text(zone: &str, lang: Lang) -> Option<&'static BlocklistText> {
    let find = |l: Lang| {
        l.data()
            .dnsbl
            .iter()
            .find(|(z, _)| z.eq_ignore_ascii_case(zone))
            .map(|(_, t)| t)
    };
    find(lang).or_else(|| find(Lang::En))
}

/// The raw text tables of a language, for checks and generated documentation.
#[must_use]
pub fn lang_data(lang: Lang) -> &'static LangData {
    lang.data()
}

/// The text of a kind of finding, in the language or else in English.
///
/// # Panics
///
/// Never: [`FindingKind`] is generated from the English file, which has every text.
#[must_use]
pub fn finding_text(kind: FindingKind, lang: Lang) -> &'static FindingText {
    lookup(lang.data().findings, kind.key())
        .or_else(|| lookup(Lang::En.data().findings, kind.key()))
        .expect("every finding kind has English text: the kinds are generated from it")
}

/// The text of a reply signature, in the language or else in English.
#[must_use]
pub fn signature_text(id: &str, lang: Lang) -> Option<&'static SignatureText> {
    let find = |l: Lang| {
        l.data()
            .signatures
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, t)| t)
    };
    find(lang).or_else(|| find(Lang::En))
}

/// The headings, labels and templates of a language.
#[must_use]
pub fn ui(lang: Lang) -> &'static Ui {
    &lang.data().ui
}

fn lookup<K: Ord + Copy, V>(table: &'static [(K, V)], key: K) -> Option<&'static V> {
    table
        .binary_search_by(|(k, _)| k.cmp(&key))
        .ok()
        .map(|i| &table[i].1)
}

fn facts_of_basic(code: u16) -> Option<&'static BasicFacts> {
    let i = data::BASIC_FACTS
        .binary_search_by_key(&code, |f| f.code)
        .ok()?;
    Some(&data::BASIC_FACTS[i])
}

fn facts_of_enhanced(code: EnhancedCode) -> Option<&'static EnhancedFacts> {
    let key = (code.subject, code.detail);
    let i = data::ENHANCED_FACTS
        .binary_search_by_key(&key, |f| (f.subject, f.detail))
        .ok()?;
    Some(&data::ENHANCED_FACTS[i])
}

/// A text in the chosen language, or in English when the translation lacks it.
fn text_in<K: Ord + Copy, V>(
    lang: Lang,
    key: K,
    table: fn(&'static LangData) -> &'static [(K, V)],
) -> Option<&'static V> {
    lookup(table(lang.data()), key).or_else(|| lookup(table(Lang::En.data()), key))
}

/// A class, category or subject name with its digit, e.g. `{4, "Transient Negative",
/// "4xx Transient Negative"}`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassLabel {
    pub digit: u8,
    pub name: &'static str,
    pub label: String,
}

/// Whether an explanation comes from an entry of its own or from its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The code has an entry in the knowledge base.
    Entry,
    /// The code is valid but has no entry: explained by its class (and subject).
    Class,
}

/// The explanation of one code, in one language: the page shape every code shares.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// `421`, `5.7.26` or `X.1.10`.
    pub code: String,
    pub kind: CodeKind,
    pub source: Source,
    pub title: Cow<'static, str>,
    /// The class of the code (`4xx Transient Negative`, `5.X.X Permanent Failure`);
    /// `None` for a class-less enhanced code such as `X.7.1`.
    pub class: Option<ClassLabel>,
    /// The second digit of a basic code, or the subject of an enhanced code.
    pub category: Option<ClassLabel>,
    pub description: Cow<'static, str>,
    pub when: Cow<'static, str>,
    pub fix: Cow<'static, str>,
    pub references: &'static [&'static str],
    /// For enhanced codes: the class digits the code may carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<&'static [u8]>,
    /// For enhanced codes: the basic codes it usually travels with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usual_basic_codes: Option<&'static [u16]>,
    /// The enhanced code carries a class its registration does not foresee.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub class_unusual: bool,
    /// Set when the provider that sent the reply gives this code a meaning of its own:
    /// the note that says so. The rest of this page is then the registry's meaning, which
    /// does not apply to the reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_meaning: Option<String>,
    #[serde(skip)]
    pub stages: &'static [Stage],
    #[serde(skip)]
    pub closes: bool,
    #[serde(skip)]
    pub side: Option<Side>,
}

/// Basic reply code or enhanced status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeKind {
    Basic,
    Enhanced,
}

/// Fills `{name}` placeholders of a UI template.
#[must_use]
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match values.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The label of a basic class, e.g. "4xx Transient Negative".
#[must_use]
pub fn basic_class_label(class: ReplyClass, lang: Lang) -> ClassLabel {
    let digit = class.digit();
    let name = text_in(lang, digit, |d| d.basic_class).map_or("", |t| t.name);
    ClassLabel {
        digit,
        name,
        label: fill(
            ui(lang).class_label_basic,
            &[("digit", &digit.to_string()), ("name", name)],
        ),
    }
}

/// The label of an enhanced class, e.g. "5.X.X Permanent Failure".
#[must_use]
pub fn enhanced_class_label(class: EnhancedClass, lang: Lang) -> ClassLabel {
    let digit = class.digit();
    let name = text_in(lang, digit, |d| d.enhanced_class).map_or("", |t| t.name);
    ClassLabel {
        digit,
        name,
        label: fill(
            ui(lang).class_label_enhanced,
            &[("digit", &digit.to_string()), ("name", name)],
        ),
    }
}

fn subject_label(subject: u16, lang: Lang) -> Option<ClassLabel> {
    let digit = u8::try_from(subject).ok()?;
    let text = text_in(lang, digit, |d| d.enhanced_subject)?;
    Some(ClassLabel {
        digit,
        name: text.name,
        label: fill(
            ui(lang).subject_label,
            &[("digit", &digit.to_string()), ("name", text.name)],
        ),
    })
}

fn category_label(code: ReplyCode, lang: Lang) -> Option<ClassLabel> {
    let digit = code.category();
    let text = text_in(lang, digit, |d| d.basic_category)?;
    Some(ClassLabel {
        digit,
        name: text.name,
        label: fill(
            ui(lang).category_label,
            &[("digit", &digit.to_string()), ("name", text.name)],
        ),
    })
}

/// Explains a basic reply code: its own entry, or its class when it has none.
#[must_use]
pub fn explain_basic(code: ReplyCode, lang: Lang) -> Explanation {
    let class = basic_class_label(code.class(), lang);
    let category = category_label(code, lang);
    let facts = facts_of_basic(code.value());
    let entry = text_in(lang, code.value(), |d| d.basic);
    match (facts, entry) {
        (Some(facts), Some(text)) => Explanation {
            code: code.to_string(),
            kind: CodeKind::Basic,
            source: Source::Entry,
            title: Cow::Borrowed(text.title),
            class: Some(class),
            category,
            description: Cow::Borrowed(text.description),
            when: Cow::Borrowed(text.when),
            fix: Cow::Borrowed(text.fix),
            references: facts.rfc,
            classes: None,
            usual_basic_codes: None,
            class_unusual: false,
            provider_meaning: None,
            stages: facts.stages,
            closes: facts.closes,
            side: Some(facts.side),
        },
        _ => {
            let class_text = text_in(lang, code.class().digit(), |d| d.basic_class);
            let title = fill(
                ui(lang).unlisted_title,
                &[("code", &code.to_string()), ("class", &class.label)],
            );
            Explanation {
                code: code.to_string(),
                kind: CodeKind::Basic,
                source: Source::Class,
                title: Cow::Owned(title),
                class: Some(class),
                category,
                description: Cow::Borrowed(class_text.map_or("", |t| t.description)),
                when: Cow::Borrowed(class_text.map_or("", |t| t.when)),
                fix: Cow::Borrowed(class_text.map_or("", |t| t.fix)),
                references: &["RFC 5321 §4.2.1"],
                classes: None,
                usual_basic_codes: None,
                class_unusual: false,
                provider_meaning: None,
                stages: &[],
                closes: false,
                side: None,
            }
        }
    }
}

/// Explains an enhanced status code: its registry entry, or its class and subject when the
/// detail is not registered.
#[must_use]
pub fn explain_enhanced(code: EnhancedCode, lang: Lang) -> Explanation {
    let class = code.class.map(|c| enhanced_class_label(c, lang));
    let subject = subject_label(code.subject, lang);
    let facts = facts_of_enhanced(code);
    let entry = text_in(lang, (code.subject, code.detail), |d| d.enhanced);
    if let (Some(facts), Some(text)) = (facts, entry) {
        let class_unusual = code
            .class
            .is_some_and(|c| !facts.classes.contains(&c.digit()));
        return Explanation {
            code: code.to_string(),
            kind: CodeKind::Enhanced,
            source: Source::Entry,
            title: Cow::Borrowed(text.title),
            class,
            category: subject,
            description: Cow::Borrowed(text.description),
            when: Cow::Borrowed(text.when),
            fix: Cow::Borrowed(text.fix),
            references: facts.rfc,
            classes: Some(facts.classes),
            usual_basic_codes: Some(facts.basic),
            class_unusual,
            provider_meaning: None,
            stages: &[],
            closes: false,
            side: Some(facts.side),
        };
    }
    // Not registered: the subject says what it is about, the class how final it is.
    let subject_text = u8::try_from(code.subject)
        .ok()
        .and_then(|s| text_in(lang, s, |d| d.enhanced_subject));
    let class_text = code
        .class
        .and_then(|c| text_in(lang, c.digit(), |d| d.enhanced_class));
    let join = |a: Option<&'static str>, b: Option<&'static str>| -> Cow<'static, str> {
        match (a, b) {
            (Some(a), Some(b)) => Cow::Owned(format!("{a} {b}")),
            (Some(one), None) | (None, Some(one)) => Cow::Borrowed(one),
            (None, None) => Cow::Borrowed(""),
        }
    };
    let title = fill(
        ui(lang).unregistered_title,
        &[
            ("code", &code.to_string()),
            (
                "subject",
                subject
                    .as_ref()
                    .map_or(ui(lang).unknown_subject, |s| s.name),
            ),
        ],
    );
    Explanation {
        code: code.to_string(),
        kind: CodeKind::Enhanced,
        source: Source::Class,
        title: Cow::Owned(title),
        class,
        category: subject,
        description: join(
            subject_text.map(|t| t.description),
            class_text.map(|t| t.description),
        ),
        when: join(subject_text.map(|t| t.when), class_text.map(|t| t.when)),
        fix: join(class_text.map(|t| t.fix), subject_text.map(|t| t.fix)),
        references: &["RFC 3463", "RFC 5248"],
        classes: None,
        usual_basic_codes: None,
        class_unusual: false,
        provider_meaning: None,
        stages: &[],
        closes: false,
        side: None,
    }
}
