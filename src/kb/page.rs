//! The two pages the knowledge base serves: the explanation of one code or reply
//! (`smtpdiag explain`) and the comparison of two codes (`smtpdiag compare`).

use serde::Serialize;

use super::cause::{self, Cause, CauseRef};
use super::{
    CodeKind, Explanation, Lang, Side, SignatureMatch, Stage, explain_basic, explain_enhanced,
    fill, match_signature, ui,
};
use crate::error::Error;
use crate::reply::{EnhancedCode, Extracted, Reply, ReplyCode, extract};

/// A reply code of either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// A basic reply code such as `421`.
    Basic(ReplyCode),
    /// An enhanced status code such as `5.7.26` or `X.1.10`.
    Enhanced(EnhancedCode),
}

impl Code {
    /// Reads `421`, `5.7.26` or `X.7.26`.
    pub fn parse(input: &str) -> Result<Code, Error> {
        let trimmed = input.trim();
        if let Some(code) = ReplyCode::parse(trimmed) {
            return Ok(Code::Basic(code));
        }
        if let Some(code) = EnhancedCode::parse(trimmed) {
            return Ok(Code::Enhanced(code));
        }
        Err(Error::NotACode(input.to_string()))
    }

    /// The explanation of this code in one language.
    #[must_use]
    pub fn explain(self, lang: Lang) -> Explanation {
        match self {
            Code::Basic(code) => explain_basic(code, lang),
            Code::Enhanced(code) => explain_enhanced(code, lang),
        }
    }
}

/// What a person asked to have explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A code on its own.
    Code(Code),
    /// A reply found in a pasted text (a bounce, a log line, a bare reply), or a text
    /// without codes whose words name a cause.
    Reply(Extracted),
}

impl Query {
    /// Reads a code, or failing that a pasted reply; refuses a text that holds neither a
    /// code nor words that name a cause.
    pub fn parse(input: &str) -> Result<Query, Error> {
        Code::parse(input).map(Query::Code).or_else(|_| {
            extract(input)
                .filter(|found| found.has_code() || classify_extracted(found, None).id != "unknown")
                .map(Query::Reply)
                .ok_or_else(|| Error::NotAReply(input.to_string()))
        })
    }
}

/// The cause of an extracted reply, given the signature it matched.
fn classify_extracted(found: &Extracted, signature: Option<&SignatureMatch>) -> CauseRef {
    cause::classify(
        &found.words,
        found.reply.code,
        found.reply.enhanced,
        found.command,
        signature,
    )
}

/// The cause of a reply and the signature it matches, as the probe and `explain` both
/// decide them.
#[must_use]
pub fn classify_reply(found: &Extracted, lang: Lang) -> (CauseRef, Option<SignatureMatch>) {
    let signature = match_signature(&found.reply.signature_subject(), lang);
    (classify_extracted(found, signature.as_ref()), signature)
}

/// The explanation of one input: its cause, the reply as read, the signature it matches,
/// and one explanation per code it carries (basic first, then enhanced).
#[derive(Debug, Clone, Serialize)]
pub struct ExplainPage {
    pub input: String,
    /// Why the server sent it, and what decided that.
    pub cause: Cause,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    /// The command the reply answered, when the text says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Stage>,
    /// Other codes the text holds (a greeting before the refusal, a DSN status).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    pub signature: Option<SignatureMatch>,
    pub explanations: Vec<Explanation>,
}

/// Builds the page for one input.
#[must_use]
pub fn explain(input: &str, query: &Query, lang: Lang) -> ExplainPage {
    match query {
        Query::Code(code) => {
            let cause = match code {
                Code::Basic(c) => cause::classify_code(Some(*c), None),
                Code::Enhanced(e) => cause::classify_code(None, Some(*e)),
            };
            ExplainPage {
                input: input.to_string(),
                cause: cause.in_lang(lang),
                reply: None,
                command: None,
                context: Vec::new(),
                signature: None,
                explanations: vec![code.explain(lang)],
            }
        }
        Query::Reply(found) => {
            let (cause, signature) = classify_reply(found, lang);
            let reply = &found.reply;
            let mut explanations: Vec<Explanation> = reply
                .code
                .map(|c| explain_basic(c, lang))
                .into_iter()
                .collect();
            if let Some(enhanced) = reply.enhanced {
                let mut page = explain_enhanced(enhanced, lang);
                page.provider_meaning = provider_meaning(enhanced, signature.as_ref(), lang);
                explanations.push(page);
            }
            ExplainPage {
                input: input.to_string(),
                cause: cause.in_lang(lang),
                reply: (reply.code.is_some() || reply.enhanced.is_some()).then(|| reply.clone()),
                command: found.command,
                context: found.context.clone(),
                signature,
                explanations,
            }
        }
    }
}

/// When a provider's signature gives an enhanced code a cause unrelated to the one the
/// registry gives it (Microsoft's 5.1.10 "recipient not found" against the registry's
/// null MX), the note that says so; the registry's page must not read as if it applied.
fn provider_meaning(
    enhanced: EnhancedCode,
    signature: Option<&SignatureMatch>,
    lang: Lang,
) -> Option<String> {
    let signature = signature?;
    let registry = cause::specific_cause_of(enhanced)?;
    if cause::related(registry, signature.cause_id) {
        return None;
    }
    let cause_title = cause::cause_text(signature.cause_id, lang).title;
    Some(fill(
        ui(lang).note_provider_differs,
        &[
            ("provider", signature.provider),
            ("code", &enhanced.to_string()),
            ("cause", cause_title),
        ],
    ))
}

/// Two codes side by side: the seed page shape.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub title: String,
    pub summary: String,
    pub a: Explanation,
    pub b: Explanation,
    pub key_differences: Vec<String>,
    pub when_to_use: Vec<String>,
}

/// The class digit that decides retry behaviour; `None` for a class-less `X.y.z`.
fn class_digit(e: &Explanation) -> Option<u8> {
    e.class.as_ref().map(|c| c.digit)
}

/// The class label, or for `X.y.z` the labels of every class it may carry.
fn class_text(e: &Explanation, lang: Lang) -> String {
    if let Some(class) = &e.class {
        return class.label.clone();
    }
    let labels: Vec<String> = e
        .classes
        .unwrap_or_default()
        .iter()
        .filter_map(|d| crate::reply::EnhancedClass::from_digit(*d))
        .map(|c| super::enhanced_class_label(c, lang).label)
        .collect();
    labels.join(" / ")
}

/// Compares two codes.
#[must_use]
pub fn compare(a: Code, b: Code, lang: Lang) -> Comparison {
    let ui = ui(lang);
    let a = a.explain(lang);
    let b = b.explain(lang);
    let (a_class, b_class) = (class_text(&a, lang), class_text(&b, lang));
    let same_class = class_digit(&a).is_some() && class_digit(&a) == class_digit(&b);
    let names = [
        ("a", a.code.as_str()),
        ("a_title", &a.title),
        ("a_class", &a_class),
        ("b", b.code.as_str()),
        ("b_title", &b.title),
        ("b_class", &b_class),
    ];
    let title = fill(ui.compare_title, &names);
    let summary = fill(
        if same_class {
            ui.compare_summary_same_class
        } else {
            ui.compare_summary
        },
        &names,
    );

    let mut key_differences = vec![fill(
        if same_class {
            ui.key_same_class
        } else {
            ui.key_class
        },
        &names,
    )];
    for e in [&a, &b] {
        let template = match class_digit(e) {
            Some(2) => Some(ui.key_retry_positive),
            Some(3) => Some(ui.key_retry_intermediate),
            Some(4) => Some(ui.key_retry_transient),
            Some(5) => Some(ui.key_retry_permanent),
            _ => None,
        };
        if let Some(template) = template {
            key_differences.push(fill(template, &[("code", &e.code)]));
        }
    }
    if a.kind == CodeKind::Basic && b.kind == CodeKind::Basic && a.closes != b.closes {
        for e in [&a, &b] {
            let template = if e.closes {
                ui.key_closes
            } else {
                ui.key_stays_open
            };
            key_differences.push(fill(template, &[("code", &e.code)]));
        }
    }
    if !a.stages.is_empty() && !b.stages.is_empty() && a.stages != b.stages {
        for e in [&a, &b] {
            let stages: Vec<&str> = e.stages.iter().map(|s| stage_name(*s, lang)).collect();
            key_differences.push(fill(
                ui.key_stages,
                &[
                    ("code", &e.code),
                    ("stages", &stages.join(ui.list_separator)),
                ],
            ));
        }
    }
    if let (Some(side_a), Some(side_b)) = (a.side, b.side) {
        if side_a != side_b {
            for (e, side) in [(&a, side_a), (&b, side_b)] {
                let template = match side {
                    Side::Sender => ui.key_side_sender,
                    Side::Recipient => ui.key_side_recipient,
                    Side::Either => ui.key_side_either,
                };
                key_differences.push(fill(template, &[("code", &e.code)]));
            }
        }
    }

    let mut when_to_use: Vec<String> = [&a, &b]
        .iter()
        .map(|e| {
            fill(
                ui.use_for,
                &[("code", &e.code), ("title", &e.title), ("fix", &e.fix)],
            )
        })
        .collect();
    let advice = match (class_digit(&a), class_digit(&b)) {
        (Some(4), Some(5)) => Some(fill(
            ui.use_transient_or_permanent,
            &[("transient", &a.code), ("permanent", &b.code)],
        )),
        (Some(5), Some(4)) => Some(fill(
            ui.use_transient_or_permanent,
            &[("transient", &b.code), ("permanent", &a.code)],
        )),
        (Some(x), Some(y)) if x == y => Some(fill(ui.use_same_class, &names)),
        _ => None,
    };
    when_to_use.extend(advice);

    Comparison {
        title,
        summary,
        a,
        b,
        key_differences,
        when_to_use,
    }
}

/// How a stage reads in a sentence (`in reply to RCPT TO`), in `lang`.
#[must_use]
pub fn stage_name(stage: Stage, lang: Lang) -> &'static str {
    let ui = ui(lang);
    match stage {
        // The knowledge base and pasted replies name protocol stages; the probe's own
        // steps (connect, handshake, RSET) read as the nearest of them.
        Stage::Greeting | Stage::Connect => ui.stage_greeting,
        Stage::Ehlo | Stage::Helo => ui.stage_ehlo,
        Stage::StartTls | Stage::TlsHandshake => ui.stage_starttls,
        Stage::Auth => ui.stage_auth,
        Stage::MailFrom => ui.stage_mail,
        Stage::RcptTo => ui.stage_rcpt,
        Stage::Data => ui.stage_data,
        Stage::EndOfData => ui.stage_end_of_data,
        Stage::Quit | Stage::Rset => ui.stage_quit,
        Stage::Any => ui.stage_any,
    }
}
