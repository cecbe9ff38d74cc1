//! Words for language-neutral findings: the title, explanation and fix of each finding, and
//! the meaning of each blocklist answer, filled in once, in the reader's language, from the
//! knowledge base. Every renderer of a report starts here.

use std::borrow::Cow;

use crate::dnsbl::{Blocklist, DnsblResult};
use crate::kb::{self, FindingKind, Lang, Source};
use crate::policy::problem::Problem;
use crate::probe::BlocklistReport;
use crate::reply::{EnhancedCode, ReplyCode, Stage};
use crate::report::{Finding, FindingText, Report};
use crate::smtp::StepError;

/// The report with every text in `lang`. A report already in `lang` is borrowed as it is.
#[must_use]
pub fn report(report: &Report, lang: Lang) -> Cow<'_, Report> {
    if report.lang == lang && is_localized(&report.findings) && report.sender.is_none() {
        return Cow::Borrowed(report);
    }
    let mut localized = report.clone();
    localized.lang = lang;
    findings(&mut localized.findings, lang);
    dnsbl_results(&mut localized.dnsbl, lang);
    if let Some(sender) = &mut localized.sender {
        **sender = super::sender::localized(sender, lang);
    }
    Cow::Owned(localized)
}

/// The blocklist report with every text in `lang`.
#[must_use]
pub fn blocklist_report(report: &BlocklistReport, lang: Lang) -> BlocklistReport {
    let mut localized = report.clone();
    localized.lang = lang;
    findings(&mut localized.findings, lang);
    dnsbl_results(&mut localized.dnsbl, lang);
    localized
}

fn is_localized(findings: &[Finding]) -> bool {
    findings.iter().all(|f| !f.text.title.is_empty())
}

/// Fills the text of every finding in `lang`.
pub fn findings(findings: &mut [Finding], lang: Lang) {
    for finding in findings {
        finding.text = finding_text(finding, lang);
    }
}

/// Fills the meaning of every listing answer in `lang`.
pub fn dnsbl_results(results: &mut [DnsblResult], lang: Lang) {
    for result in results.iter_mut().filter(|r| r.listed) {
        result.meanings = result
            .answers
            .iter()
            .map(|answer| answer_meaning(&result.zone, &answer.to_string(), lang))
            .collect();
    }
}

/// The name a reader sees for a stage: protocol words as they are, the rest in the language.
#[must_use]
pub fn stage_label(stage: Stage, lang: Lang) -> &'static str {
    let ui = kb::ui(lang);
    match stage {
        Stage::Connect => ui.smtp_stage_connect,
        Stage::Greeting => ui.smtp_stage_greeting,
        Stage::TlsHandshake => ui.smtp_stage_tls_handshake,
        other => other.name(),
    }
}

/// The words of a step's error in `lang`, from its kind ([`StepError::key`]) and detail.
#[must_use]
pub fn step_error_text(key: &str, detail: &str, lang: Lang) -> String {
    let ui = kb::ui(lang);
    let template = match key {
        "connect" => ui.step_error_connect,
        "connect-timeout" => ui.step_error_connect_timeout,
        "timeout" => ui.step_error_timeout,
        "deadline" => ui.step_error_deadline,
        "command-injection" => ui.step_error_command_injection,
        "send" => ui.step_error_send,
        "tls-setup" => ui.step_error_tls_setup,
        "tls-handshake" => ui.step_error_tls_handshake,
        "tls-injected" => ui.step_error_tls_injected,
        _ => ui.step_error_read,
    };
    kb::fill(template, &[("detail", detail)])
}

/// A step's error in `lang`.
#[must_use]
pub fn step_error(error: &StepError, lang: Lang) -> String {
    step_error_text(error.key(), &error.detail(), lang)
}

/// The title, explanation and fix of one finding in `lang`: its kind's text with its
/// parameters, and the words some parameters stand for (a stage, a reply's meaning, a
/// list's removal route).
#[must_use]
pub fn finding_text(finding: &Finding, lang: Lang) -> FindingText {
    let mut values: Vec<(&str, String)> = finding
        .params
        .iter()
        .map(|(name, value)| (*name, value.clone()))
        .collect();
    let mut set =
        |name: &'static str, value: String| match values.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => values.push((name, value)),
        };
    if let Some(stage) = Stage::from_name(finding.param("stage")) {
        let rcpt = finding.param("rcpt");
        let label = if stage == Stage::RcptTo && !rcpt.is_empty() {
            format!("RCPT TO:<{rcpt}>")
        } else {
            stage_label(stage, lang).to_string()
        };
        set("stage", label);
    }
    let error_kind = finding.param("error_kind");
    if !error_kind.is_empty() {
        set(
            "error",
            step_error_text(error_kind, finding.param("error_detail"), lang),
        );
    }
    if !finding.problem_keys.is_empty() {
        let words = Problem::texts(&finding.problem_keys, lang);
        if finding.kind == FindingKind::MtaStsRecordInvalid {
            // A sentence of its own: capitalised where the language has capitals.
            let mut chars = words.chars();
            let words: String = chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            let sentence = kb::fill(kb::ui(lang).policy_problem_sentence, &[("problem", &words)]);
            set("detail", sentence);
        } else if finding.params.contains_key("problem") {
            // The sender's findings name one problem each.
            set("problem", words);
        } else {
            set("problems", words);
        }
    }
    if finding.kind == FindingKind::MtaStsCertificate {
        set(
            "problems",
            certificate_problems(finding.param("problems"), lang),
        );
    }
    let mut extra_explanation = None;
    match finding.kind {
        FindingKind::Reply | FindingKind::ReplyDnsbl => {
            let (title, description, fix) = reply_words(finding, lang);
            set("title", title);
            set("description", description);
            set("fix", fix);
            if finding.kind == FindingKind::ReplyDnsbl {
                let zone = finding.param("zone");
                let zone = if zone.is_empty() {
                    kb::ui(lang).dnsbl_unnamed_list.to_string()
                } else {
                    zone.to_string()
                };
                set(
                    "delist",
                    delisting(&zone, None, finding.param("address"), lang),
                );
                set("zone", zone);
            }
            if !finding.param("postmaster_refused").is_empty() {
                extra_explanation = Some(kind_text(FindingKind::PostmasterRefused, &values, lang));
            }
        }
        FindingKind::DnsblListedMx | FindingKind::DnsblListedSender => {
            let zone = finding.param("zone");
            let meaning = finding
                .param("answer")
                .split(", ")
                .filter(|a| !a.is_empty())
                .map(|a| answer_meaning(zone, a, lang))
                .collect::<Vec<_>>()
                .join("; ");
            set("meaning", meaning);
            let txt = finding.param("txt");
            if !txt.is_empty() {
                set(
                    "detail",
                    kb::fill(kb::ui(lang).dnsbl_txt_reason, &[("reason", txt)]),
                );
            }
            let url = finding.param("lookup_url");
            set(
                "delist",
                delisting(zone, (!url.is_empty()).then_some(url), "", lang),
            );
        }
        _ => {}
    }
    let mut text = kind_text(finding.kind, &values, lang);
    if let Some(extra) = extra_explanation {
        text.explanation.push(' ');
        text.explanation.push_str(&extra.explanation);
    }
    text
}

/// The certificate problems of an MTA-STS finding (`untrusted, expired`) in `lang`.
fn certificate_problems(keys: &str, lang: Lang) -> String {
    let ui = kb::ui(lang);
    keys.split(", ")
        .filter(|k| !k.is_empty())
        .map(|key| match key {
            "untrusted" => ui.tls_untrusted,
            "self-signed" => ui.tls_self_signed,
            "expired" => ui.tls_expired,
            "not-yet-valid" => ui.tls_not_yet_valid,
            "name-mismatch" => ui.tls_name_mismatch,
            _ => ui.tls_other,
        })
        .collect::<Vec<_>>()
        .join(ui.list_separator)
}

fn kind_text(kind: FindingKind, values: &[(&str, String)], lang: Lang) -> FindingText {
    let text = kb::finding_text(kind, lang);
    // A parameter the finding does not have (an empty value) reads as empty.
    let fill = |template: &str| {
        let mut pairs: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
        for name in placeholders(template) {
            if !pairs.iter().any(|(n, _)| *n == name) {
                pairs.push((name, ""));
            }
        }
        kb::fill(template, &pairs)
    };
    FindingText {
        title: fill(text.title),
        explanation: fill(text.explanation),
        fix: fill(text.fix),
    }
}

/// The `{name}` placeholders of a template.
fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|rest| {
        let (name, _) = rest.split_once('}')?;
        (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then_some(name)
    })
}

/// What a reply means: the signature that recognised it, else the registry's page of its
/// enhanced code (when it has its own entry), else its basic code's page.
fn reply_words(finding: &Finding, lang: Lang) -> (String, String, String) {
    if let Some(text) = finding
        .signature
        .as_deref()
        .and_then(|id| kb::signature_text(id, lang))
    {
        return (
            text.title.to_string(),
            text.cause.to_string(),
            text.fix.to_string(),
        );
    }
    let explanation = finding
        .enhanced
        .as_deref()
        .and_then(EnhancedCode::parse)
        .map(|e| kb::explain_enhanced(e, lang))
        .filter(|e| e.source == Source::Entry)
        .or_else(|| {
            finding
                .code
                .and_then(ReplyCode::new)
                .map(|c| kb::explain_basic(c, lang))
        });
    match explanation {
        Some(e) => (
            e.title.into_owned(),
            e.description.into_owned(),
            e.fix.into_owned(),
        ),
        None => (String::new(), String::new(), String::new()),
    }
}

/// What one answer of a list means, from the list's documented return codes.
fn answer_meaning(zone: &str, answer: &str, lang: Lang) -> String {
    kb::blocklist_text(zone, lang)
        .and_then(|t| t.answers.iter().find(|(a, _)| *a == answer))
        .map_or_else(
            || kb::fill(kb::ui(lang).dnsbl_unknown_answer, &[("answer", answer)]),
            |(_, meaning)| (*meaning).to_string(),
        )
}

/// How to get off a list: its own removal route when it is one we know, and where to look
/// the address up.
fn delisting(zone: &str, lookup_url: Option<&str>, address: &str, lang: Lang) -> String {
    let mut delist = kb::blocklist_text(zone, lang).map_or_else(
        || kb::ui(lang).dnsbl_generic_delist.to_string(),
        |t| t.delist.to_string(),
    );
    let url = lookup_url.map(str::to_string).or_else(|| {
        (!address.is_empty())
            .then(|| Blocklist::from_zone(zone).lookup)
            .flatten()
            .map(|u| u.replace("{ip}", address))
    });
    if let Some(url) = url {
        delist.push(' ');
        delist.push_str(&kb::fill(kb::ui(lang).dnsbl_lookup_at, &[("url", &url)]));
    }
    delist
}
