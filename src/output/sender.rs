//! The sender report (`smtpdiag sender`): human text and JSON Lines, pure functions of a
//! localized [`SenderReport`].

use std::io::{self, Write};

use super::probe::severity_label;
use super::terminal::printable;
use super::writer::Writer;
use super::{Role, TextStyle};
use crate::kb::{self, Lang, Ui, fill};
use crate::policy::dkim::DkimKeyState;
use crate::policy::dmarc::DmarcRecordState;
use crate::policy::spf::{SpfRecordState, SpfVerdict};
use crate::report::sender::{Scope, SenderReport, Status};
use crate::report::{Finding, Severity, Verdict};

/// The report in `lang`: the text of its findings and of its checklist filled in.
#[must_use]
pub fn localized(report: &SenderReport, lang: Lang) -> SenderReport {
    let mut report = report.clone();
    report.lang = lang;
    super::localize::findings(&mut report.findings, lang);
    super::localize::dnsbl_results(&mut report.dnsbl, lang);
    for requirement in &mut report.requirements {
        requirement.title = kb::finding_text(requirement.id, lang).title.to_string();
    }
    report
}

/// One JSON object on one line (docs/json.md, docs/sender.schema.json).
pub fn json(out: &mut dyn Write, report: &SenderReport) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report).map_err(io::Error::other)?;
    writeln!(out)
}

fn spf_role(result: SpfVerdict) -> Role {
    match result {
        SpfVerdict::Pass => Role::Ok,
        SpfVerdict::Fail | SpfVerdict::Permerror => Role::Fail,
        _ => Role::Warn,
    }
}

fn verdict_line(ui: &Ui, report: &SenderReport) -> String {
    let sender = report.sender.as_deref().unwrap_or(&report.domain);
    let (template, role) = match report.verdict {
        Verdict::Ok => (ui.sender_verdict_ok, Role::Ok),
        Verdict::Transient => (ui.sender_verdict_transient, Role::Warn),
        Verdict::Permanent => (ui.sender_verdict_permanent, Role::Fail),
        Verdict::Unknown => (ui.sender_verdict_unknown, Role::Warn),
    };
    role.paint(&fill(template, &[("sender", &printable(sender))]))
        .bold()
        .to_string()
}

/// The report as text, in the language it was localized to.
pub fn text(out: &mut dyn Write, report: &SenderReport, style: TextStyle) -> io::Result<()> {
    let ui = kb::ui(report.lang);
    let mut w = Writer::new(out, style);
    w.line(&verdict_line(ui, report))?;

    // SPF
    w.blank()?;
    w.line(&Role::Label.paint("SPF").to_string())?;
    let record = match &report.spf.record {
        SpfRecordState::None => ui.sender_record_none.to_string(),
        SpfRecordState::Found { text } => text.clone(),
        SpfRecordState::Several { texts } => fill(
            ui.sender_record_several,
            &[("count", &texts.len().to_string())],
        ),
        SpfRecordState::Malformed { text } => fill(ui.sender_record_malformed, &[("text", text)]),
        SpfRecordState::LookupFailed { outcome } => {
            fill(ui.sender_record_lookup_failed, &[("outcome", outcome)])
        }
        SpfRecordState::InvalidDomain => ui.sender_record_invalid_domain.to_string(),
    };
    w.paragraph(2, &format!("{}: {record}", report.spf.domain))?;
    for evaluation in &report.spf.evaluations {
        w.line(&format!(
            "  {} {}  {}",
            Role::Host.paint(&evaluation.ip.to_string()),
            spf_role(evaluation.result).paint(evaluation.result.as_str()),
            Role::Dim.paint(&fill(
                ui.sender_lookups,
                &[
                    ("lookups", &evaluation.dns_lookups.to_string()),
                    ("void", &evaluation.void_lookups.to_string()),
                ]
            ))
        ))?;
        for step in &evaluation.chain {
            let term = if step.term.is_empty() {
                String::new()
            } else {
                format!("{} ", step.term)
            };
            let outcome = match step.outcome {
                "match" => ui.sender_chain_match,
                "redirect" => ui.sender_chain_redirect,
                "default" => ui.sender_chain_default,
                "no-record" => ui.sender_chain_no_record,
                "several-records" => ui.sender_chain_several_records,
                "invalid-record" => ui.sender_chain_invalid_record,
                _ => ui.sender_chain_error,
            };
            let detail = step.detail.as_deref().unwrap_or_default();
            w.paragraph(
                6,
                &format!(
                    "{}: {term}→ {}",
                    step.domain,
                    fill(outcome, &[("detail", detail)])
                ),
            )?;
        }
    }

    // DMARC
    w.blank()?;
    w.line(&Role::Label.paint("DMARC").to_string())?;
    let dmarc = match &report.dmarc.record {
        DmarcRecordState::None => ui.sender_record_none.to_string(),
        DmarcRecordState::Found { at, text, .. } => {
            let mut line = format!("_dmarc.{at}: {text}");
            if report.dmarc.inherited {
                line.push(' ');
                line.push_str(&fill(ui.sender_record_inherited, &[("domain", at)]));
            }
            line
        }
        DmarcRecordState::Several { at, texts } => format!(
            "_dmarc.{at}: {}",
            fill(
                ui.sender_record_several,
                &[("count", &texts.len().to_string())]
            )
        ),
        DmarcRecordState::Malformed { at, text, .. } => format!(
            "_dmarc.{at}: {}",
            fill(ui.sender_record_malformed, &[("text", text)])
        ),
        DmarcRecordState::LookupFailed { at, outcome } => format!(
            "_dmarc.{at}: {}",
            fill(ui.sender_record_lookup_failed, &[("outcome", outcome)])
        ),
    };
    w.paragraph(2, &dmarc)?;

    // DKIM
    if !report.dkim.is_empty() {
        w.blank()?;
        w.line(&Role::Label.paint("DKIM").to_string())?;
        for selector in &report.dkim {
            let state = match &selector.key {
                DkimKeyState::None => ui.sender_record_none.to_string(),
                DkimKeyState::Found { key, .. } if key.revoked => ui.sender_key_revoked.to_string(),
                DkimKeyState::Found { key, .. } => {
                    let mut line = fill(
                        ui.sender_key_found,
                        &[
                            ("type", &key.key_type),
                            ("bits", &key.bits.unwrap_or_default().to_string()),
                        ],
                    );
                    if key.testing {
                        line.push_str(", ");
                        line.push_str(ui.sender_key_testing);
                    }
                    line
                }
                DkimKeyState::Malformed { text, .. } => {
                    fill(ui.sender_record_malformed, &[("text", text)])
                }
                DkimKeyState::Several { texts } => fill(
                    ui.sender_record_several,
                    &[("count", &texts.len().to_string())],
                ),
                DkimKeyState::LookupFailed { outcome } => {
                    fill(ui.sender_record_lookup_failed, &[("outcome", outcome)])
                }
            };
            w.paragraph(2, &format!("{}: {state}", selector.name))?;
        }
    }

    // Reverse DNS and HELO
    w.blank()?;
    w.line(&Role::Label.paint(ui.sender_heading_reverse).to_string())?;
    for reverse in &report.reverse_dns {
        let names = reverse.names.join(", ");
        let (text, role) = if reverse.lookup_failed {
            (
                fill(ui.sender_record_lookup_failed, &[("outcome", "PTR")]),
                Role::Warn,
            )
        } else if reverse.names.is_empty() {
            (ui.label_ptr_none.to_string(), Role::Fail)
        } else if reverse.forward_confirmed {
            (fill(ui.label_ptr_confirmed, &[("names", &names)]), Role::Ok)
        } else {
            (
                fill(ui.label_ptr_unconfirmed, &[("names", &names)]),
                Role::Warn,
            )
        };
        w.line(&format!(
            "  {} {}",
            Role::Host.paint(&reverse.address.to_string()),
            role.paint(&printable(&text))
        ))?;
    }
    if let Some(helo) = &report.helo {
        let line = if helo.not_matching.is_empty() {
            let addresses: Vec<String> = helo.addresses.iter().map(ToString::to_string).collect();
            fill(
                ui.sender_helo_resolves,
                &[("helo", &helo.name), ("addresses", &addresses.join(", "))],
            )
        } else {
            let addresses: Vec<String> =
                helo.not_matching.iter().map(ToString::to_string).collect();
            fill(
                ui.sender_helo_not_matching,
                &[("helo", &helo.name), ("addresses", &addresses.join(", "))],
            )
        };
        w.paragraph(2, &line)?;
    }

    // Blocklists
    w.blank()?;
    w.line(&Role::Label.paint(ui.heading_blocklists).to_string())?;
    if report.dnsbl.is_empty() {
        w.paragraph(2, ui.label_dnsbl_off)?;
    } else {
        let listed: Vec<_> = report.dnsbl.iter().filter(|r| r.listed).collect();
        if listed.is_empty() {
            let lists = report.dnsbl_lists.len().to_string();
            let addresses = report.addresses.len().to_string();
            w.paragraph(
                2,
                &fill(
                    ui.label_not_listed,
                    &[("lists", &lists), ("addresses", &addresses)],
                ),
            )?;
        }
        for result in listed {
            w.line(&format!(
                "  {}",
                Role::Fail.paint(&fill(
                    ui.label_listed_on,
                    &[
                        ("address", &result.address.to_string()),
                        ("list", &result.list),
                        ("meaning", &result.meanings.join("; ")),
                    ]
                ))
            ))?;
        }
    }

    // The checklist
    w.blank()?;
    w.line(
        &Role::Label
            .paint(ui.sender_heading_requirements)
            .to_string(),
    )?;
    for requirement in &report.requirements {
        let (word, role) = match requirement.status {
            Status::Pass => (ui.sender_status_pass, Role::Ok),
            Status::Fail => (ui.sender_status_fail, Role::Fail),
            Status::Unknown => (ui.sender_status_unknown, Role::Dim),
        };
        let scope = match requirement.scope {
            Scope::All => ui.sender_scope_all,
            Scope::Bulk => ui.sender_scope_bulk,
        };
        w.line(&format!(
            "  {} {} {}",
            role.paint(&format!("[{word}]")),
            requirement.title,
            Role::Dim.paint(&format!("({scope}: {})", requirement.receivers.join(", ")))
        ))?;
        if requirement.status != Status::Pass {
            w.paragraph(
                4,
                &fill(
                    ui.sender_if_refused,
                    &[("replies", &requirement.replies.join(", "))],
                ),
            )?;
        }
    }

    findings(&mut w, ui, &report.findings)
}

fn findings(w: &mut Writer<'_>, ui: &Ui, all: &[Finding]) -> io::Result<()> {
    for finding in super::probe::findings_section(w, ui, all)? {
        let (label, role) = severity_label(ui, finding.severity);
        let cause = finding
            .cause
            .as_ref()
            .map(|c| format!(" {}", Role::Dim.paint(&format!("({})", c.id))))
            .unwrap_or_default();
        w.line(&format!(
            "  {} {}{cause}",
            role.paint(&format!("[{label}]")),
            Role::Heading.paint(&printable(&finding.text.title))
        ))?;
        if finding.severity >= Severity::Warning {
            w.paragraph(4, &finding.text.explanation)?;
            w.paragraph(4, &fill(ui.fix_line, &[("fix", &finding.text.fix)]))?;
        }
    }
    Ok(())
}
