//! Human text of `explain` and `compare`: code pages, causes, bounce messages.

use std::io::{self, Write};

use super::terminal::printable;
use super::writer::Writer;
use super::{Role, TextStyle};
use crate::input::Explained;
use crate::input::bounce::{BounceReport, MessageKind};
use crate::kb::{
    self, Cause, Comparison, EvidenceKind, Explanation, Lang, SignatureMatch, Source, Stage,
};

/// The line under a code's title: class, category or subject, references.
fn facts_line(e: &Explanation, lang: Lang) -> String {
    let ui = kb::ui(lang);
    let mut parts: Vec<String> = Vec::new();
    if let Some(class) = &e.class {
        parts.push(class.label.clone());
    }
    if let Some(category) = &e.category {
        parts.push(category.label.clone());
    }
    if let Some(classes) = e.classes {
        let forms: Vec<String> = classes.iter().map(|d| format!("{d}.X.X")).collect();
        parts.push(format!("{}: {}", ui.label_classes, forms.join(", ")));
    }
    if let Some(basic) = e.usual_basic_codes.filter(|b| !b.is_empty()) {
        let codes: Vec<String> = basic.iter().map(u16::to_string).collect();
        parts.push(format!("{}: {}", ui.label_usual_codes, codes.join(", ")));
    }
    if !e.references.is_empty() {
        parts.push(e.references.join(", "));
    }
    parts.join(" · ")
}

fn code_title(e: &Explanation, lang: Lang) -> String {
    kb::fill(
        kb::ui(lang).code_heading,
        &[("code", &e.code), ("title", &e.title)],
    )
}

/// One code in the page shape: title, facts, Description, When you see it, How to fix.
pub(crate) fn explanation(
    w: &mut Writer<'_>,
    e: &Explanation,
    lang: Lang,
    indent: usize,
) -> io::Result<()> {
    let ui = kb::ui(lang);
    w.line(&format!(
        "{}{}",
        " ".repeat(indent),
        Role::Heading.paint(&code_title(e, lang))
    ))?;
    w.line(&format!(
        "{}{}",
        " ".repeat(indent),
        Role::Dim.paint(&facts_line(e, lang))
    ))?;
    if e.source == Source::Class {
        w.paragraph(indent, ui.note_explained_by_class)?;
    }
    if e.class_unusual {
        w.paragraph(indent, ui.note_class_unusual)?;
    }
    if let Some(note) = &e.provider_meaning {
        // The registry's page would contradict the reply: say so, and show no more.
        return w.paragraph(indent, note);
    }
    w.blank()?;
    w.section(indent, ui.heading_description, &e.description)?;
    w.section(indent, ui.heading_when, &e.when)?;
    w.section(indent, ui.heading_fix, &e.fix)
}

pub(crate) fn signature(
    w: &mut Writer<'_>,
    s: &SignatureMatch,
    lang: Lang,
    indent: usize,
) -> io::Result<()> {
    let ui = kb::ui(lang);
    let pad = " ".repeat(indent);
    w.line(&format!(
        "{pad}{}: {} {}",
        Role::Label.paint(ui.heading_signature),
        Role::Heading.paint(s.title),
        Role::Dim.paint(&format!("({})", s.provider))
    ))?;
    for (name, value) in &s.captured {
        w.line(&format!(
            "{pad}  {} {name} = {}",
            ui.label_captured,
            Role::Host.paint(&printable(value))
        ))?;
    }
    w.section(indent + 2, ui.heading_cause, s.cause)?;
    w.section(indent + 2, ui.heading_fix, s.fix)?;
    if let Some(url) = s.url {
        w.line(&format!(
            "{pad}  {}: {}",
            ui.label_more,
            Role::Host.paint(url)
        ))?;
    }
    Ok(())
}

/// The cause of a reply: its title, what decided it, why, and what to do.
fn cause(w: &mut Writer<'_>, c: &Cause, command: Option<Stage>, lang: Lang) -> io::Result<()> {
    let ui = kb::ui(lang);
    w.line(&format!(
        "{}: {} {}",
        Role::Label.paint(ui.heading_cause),
        Role::Heading.paint(c.title),
        Role::Dim.paint(&format!("({})", c.id))
    ))?;
    let e = &c.evidence;
    let mut decided: Vec<String> = Vec::new();
    match e.by {
        EvidenceKind::Signature => {
            decided.push(kb::fill(
                ui.evidence_signature,
                &[("signature", e.signature.unwrap_or_default())],
            ));
        }
        EvidenceKind::Words => {
            decided.push(kb::fill(
                ui.evidence_words,
                &[("words", e.words.as_deref().unwrap_or_default())],
            ));
        }
        EvidenceKind::Code | EvidenceKind::Check => {}
        EvidenceKind::None => decided.push(ui.evidence_none.to_string()),
    }
    if e.by == EvidenceKind::Code || (e.by != EvidenceKind::None && e.code.is_some()) {
        if let Some(code) = &e.code {
            decided.push(kb::fill(ui.evidence_code, &[("code", code)]));
        }
    }
    if let Some(stage) = e.command {
        decided.push(kb::fill(
            ui.evidence_command,
            &[("stage", kb::stage_name(stage, lang))],
        ));
    }
    w.paragraph(
        2,
        &format!("{}: {}", ui.label_evidence, decided.join(ui.list_separator)),
    )?;
    if let Some(stage) = command.filter(|_| e.command.is_none()) {
        w.paragraph(
            2,
            &kb::fill(ui.label_sent_at, &[("stage", kb::stage_name(stage, lang))]),
        )?;
    }
    w.paragraph(2, c.explanation)?;
    w.section(0, ui.heading_fix, c.fix)
}

/// `smtpdiag explain`: one page per input.
pub fn explain_pages(
    out: &mut dyn Write,
    pages: &[Explained],
    lang: Lang,
    style: TextStyle,
) -> io::Result<()> {
    let ui = kb::ui(lang);
    let mut w = Writer::new(out, style);
    for (i, explained) in pages.iter().enumerate() {
        if i > 0 {
            w.blank()?;
            w.line(
                &Role::Dim
                    .paint(&"─".repeat(style.width.min(60)))
                    .to_string(),
            )?;
            w.blank()?;
        }
        let page = match explained {
            Explained::Reply(page) => page,
            Explained::Message(report) => {
                bounce(&mut w, report, lang)?;
                continue;
            }
        };
        if page.reply.is_some() || page.explanations.is_empty() {
            cause(&mut w, &page.cause, page.command, lang)?;
            w.blank()?;
        }
        if let Some(reply) = &page.reply {
            w.line(&Role::Label.paint(ui.heading_reply).to_string())?;
            let code = reply.code.map(|c| c.to_string());
            let last = reply.lines.len().saturating_sub(1);
            for (n, line) in reply.lines.iter().enumerate() {
                let shown = match &code {
                    Some(code) => format!("{code}{}{line}", if n == last { ' ' } else { '-' }),
                    None => line.clone(),
                };
                w.paragraph(2, &shown)?;
            }
            if !page.context.is_empty() {
                w.line(&format!(
                    "  {}: {}",
                    Role::Dim.paint(ui.label_context),
                    page.context.join(", ")
                ))?;
            }
            w.blank()?;
        }
        if let Some(s) = &page.signature {
            signature(&mut w, s, lang, 0)?;
            w.blank()?;
        }
        for (n, e) in page.explanations.iter().enumerate() {
            if n > 0 {
                w.blank()?;
            }
            explanation(&mut w, e, lang, 0)?;
        }
    }
    Ok(())
}

/// A bounce message: what it is, then each recipient with its reply and cause.
fn bounce(w: &mut Writer<'_>, report: &BounceReport, lang: Lang) -> io::Result<()> {
    let ui = kb::ui(lang);
    let heading = match report.kind {
        MessageKind::Bounce => ui.bounce_heading,
        MessageKind::Complaint => ui.bounce_complaint,
        MessageKind::AutoReply => ui.bounce_auto_reply,
    };
    w.line(&format!(
        "{} {}",
        Role::Heading.paint(&kb::fill(heading, &[("input", &report.input)])),
        Role::Dim.paint(&format!("({:?})", report.format).to_ascii_lowercase())
    ))?;
    for (label, value) in [
        (ui.label_subject, &report.subject),
        (ui.label_from, &report.from),
        (ui.label_reporting_mta, &report.reporting_mta),
    ] {
        if let Some(value) = value {
            w.paragraph(2, &format!("{label}: {value}"))?;
        }
    }
    if let Some(original) = &report.original {
        let parts: Vec<String> = [&original.from, &original.to, &original.subject]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if !parts.is_empty() {
            w.paragraph(2, &format!("{}: {}", ui.label_original, parts.join(" · ")))?;
        }
    }
    if let Some(complaint) = &report.complaint {
        w.blank()?;
        w.paragraph(0, ui.bounce_complaint_note)?;
        for (label, value) in [
            ("Feedback-Type", &complaint.feedback_type),
            ("Source-IP", &complaint.source_ip),
            ("Original-Mail-From", &complaint.original_mail_from),
            ("Original-Rcpt-To", &complaint.original_rcpt_to),
            ("Arrival-Date", &complaint.arrival_date),
        ] {
            if let Some(value) = value {
                w.paragraph(2, &format!("{label}: {value}"))?;
            }
        }
    }
    if report.kind == MessageKind::AutoReply {
        w.blank()?;
        w.paragraph(0, ui.bounce_auto_reply_note)?;
    }
    for r in &report.recipients {
        w.blank()?;
        let mut head = format!(
            "{} {}",
            Role::Label.paint(&r.action),
            Role::Host.paint(r.address.as_deref().unwrap_or("?"))
        );
        if let Some(status) = &r.status {
            head.push(' ');
            head.push_str(status);
        }
        if let Some(mta) = &r.remote_mta {
            head.push(' ');
            head.push_str(&Role::Dim.paint(&format!("({mta})")).to_string());
        }
        w.line(&head)?;
        if let Some(diagnostic) = &r.diagnostic {
            w.paragraph(4, diagnostic)?;
        }
        if let Some(cause) = &r.cause {
            w.line(&format!(
                "  {}: {} {}",
                Role::Label.paint(ui.heading_cause),
                Role::Heading.paint(cause.title),
                Role::Dim.paint(&format!("({})", cause.id))
            ))?;
            w.paragraph(4, cause.explanation)?;
            w.paragraph(4, &kb::fill(ui.fix_line, &[("fix", cause.fix)]))?;
        }
    }
    Ok(())
}

/// `smtpdiag compare`: the seed page shape.
pub fn comparison(
    out: &mut dyn Write,
    c: &Comparison,
    lang: Lang,
    style: TextStyle,
) -> io::Result<()> {
    let ui = kb::ui(lang);
    let mut w = Writer::new(out, style);
    w.line(&Role::Heading.paint(&c.title).to_string())?;
    w.blank()?;
    w.paragraph(0, &c.summary)?;
    for e in [&c.a, &c.b] {
        w.blank()?;
        explanation(&mut w, e, lang, 0)?;
    }
    w.blank()?;
    w.line(&Role::Label.paint(ui.heading_key_differences).to_string())?;
    for line in &c.key_differences {
        w.bullet(2, line)?;
    }
    w.blank()?;
    w.line(&Role::Label.paint(ui.heading_when_to_use).to_string())?;
    for line in &c.when_to_use {
        w.bullet(2, line)?;
    }
    Ok(())
}
