//! The sender report (`smtpdiag sender`): human text and JSON Lines, pure functions of a
//! [`SenderReport`].

use std::io::{self, Write};

use super::writer::Writer;
use super::{Role, TextStyle};
use crate::kb::Lang;
use crate::policy::spf::{SpfRecordState, SpfVerdict};
use crate::sender::SenderReport;

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

/// The report as text.
pub fn text(
    out: &mut dyn Write,
    report: &SenderReport,
    _lang: Lang,
    style: TextStyle,
) -> io::Result<()> {
    let mut w = Writer::new(out, style);
    w.line(&format!(
        "{} {}",
        Role::Heading.paint("Sender"),
        Role::Host.paint(report.sender.as_deref().unwrap_or(&report.domain))
    ))?;
    w.blank()?;
    w.line(&Role::Label.paint("SPF").to_string())?;
    let record = match &report.spf.record {
        SpfRecordState::None => "no SPF record".to_string(),
        SpfRecordState::Found { text } => text.clone(),
        SpfRecordState::Several { texts } => {
            format!("{} SPF records: {}", texts.len(), texts.join(" | "))
        }
        SpfRecordState::Malformed { text } => format!("malformed: {text}"),
        SpfRecordState::LookupFailed { outcome } => format!("lookup failed: {outcome}"),
        SpfRecordState::InvalidDomain => "not a domain SPF can check".to_string(),
    };
    w.paragraph(2, &record)?;
    for evaluation in &report.spf.evaluations {
        w.line(&format!(
            "  {} {}{}",
            Role::Host.paint(&evaluation.ip.to_string()),
            spf_role(evaluation.result).paint(evaluation.result.as_str()),
            evaluation
                .cause
                .as_ref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ))?;
        for step in &evaluation.chain {
            w.paragraph(
                6,
                &format!("{}: {} → {}", step.domain, step.term, step.outcome),
            )?;
        }
    }
    Ok(())
}
