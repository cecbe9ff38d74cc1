//! Bounce messages as they arrive: RFC 3464 delivery status notifications, the prose
//! bounces of qmail, Exim, Sendmail, Gmail, Exchange and others, RFC 5965 feedback
//! reports (complaints, not bounces) and RFC 3834 auto-replies. Each failed or delayed
//! recipient comes out with its reply and the cause `smtpdiag explain` gives that reply.

use mail_parser::{Address, Message, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

use crate::kb::{self, Cause, Lang};
use crate::reply::{EnhancedCode, Extracted, Reply, Stage, extract};

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// A delivery failure or delay notice.
    Bounce,
    /// A spam complaint (RFC 5965 feedback report), not a bounce.
    Complaint,
    /// An automatic reply (out of office, vacation; RFC 3834), not a bounce.
    AutoReply,
}

/// How the bounce carried its information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BounceFormat {
    /// A `message/delivery-status` part (RFC 3464).
    Rfc3464,
    /// Only prose: the reply is quoted in the text (qmail, Exim, Gmail, ...).
    Prose,
    /// A feedback report (RFC 5965).
    Arf,
    /// An automatic reply.
    AutoReply,
}

/// A bounce message read: who failed, why, and what to do.
#[derive(Debug, Clone, Serialize)]
pub struct BounceReport {
    /// Where the message came from (a file name, or `-`).
    pub input: String,
    pub kind: MessageKind,
    pub format: BounceFormat,
    /// The bounce's own `From:`, `Subject:` and `Date:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The MTA that wrote the report (`Reporting-MTA:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_mta: Option<String>,
    /// The headers of the message that bounced, when the bounce includes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<OriginalMessage>,
    /// Every recipient the report is about, failed and delayed ones first.
    pub recipients: Vec<RecipientReport>,
    /// For a complaint: what the feedback report says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complaint: Option<Complaint>,
}

/// The headers of the returned message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OriginalMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// One recipient of a bounce.
#[derive(Debug, Clone, Serialize)]
pub struct RecipientReport {
    /// The address that failed (`Final-Recipient:`, or as named in the prose).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_address: Option<String>,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded` (RFC 3464 §2.3.3).
    pub action: String,
    /// The enhanced status code of the report (`Status:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_mta: Option<String>,
    /// The diagnostic as written (`Diagnostic-Code:` without its type, or the prose).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<String>,
    /// The reply found in the diagnostic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    /// The command the reply answered, when the bounce says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Stage>,
    /// Why it failed, and what to do (absent for a delivered recipient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The reply signature that recognised the reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<&'static str>,
}

/// A spam complaint (RFC 5965).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Complaint {
    /// `abuse`, `fraud`, `virus`, `not-spam`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_mail_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_rcpt_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_domain: Option<String>,
}

pub use crate::error::BounceError;

/// Whether `bytes` start like an e-mail message: header fields, at least two of them well
/// known, before the first blank line (an mbox `From ` line may come first).
#[must_use]
pub fn looks_like_message(bytes: &[u8]) -> bool {
    const KNOWN: &[&str] = &[
        "from",
        "to",
        "subject",
        "date",
        "received",
        "return-path",
        "message-id",
        "content-type",
        "mime-version",
        "delivered-to",
        "x-original-to",
        "sender",
        "reply-to",
        "auto-submitted",
        "x-failed-recipients",
        "envelope-to",
        "cc",
    ];
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines().peekable();
    if lines.peek().is_some_and(|l| l.starts_with("From ")) {
        lines.next();
    }
    let mut known = 0;
    for line in lines {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return false;
        }
        if KNOWN.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            known += 1;
        }
    }
    known >= 2
}

/// Parses a message with mail-parser, which has debug assertions that a hostile message
/// can trip (a `message/rfc822` inside a `message/rfc822` inside a multipart, found by
/// fuzzing): such a message is one that cannot be read, not a crash of smtpdiag.
fn parse_message(bytes: &[u8]) -> Option<Message<'_>> {
    std::panic::catch_unwind(|| MessageParser::default().parse(bytes))
        .ok()
        .flatten()
}

/// Reads one message. `input` names it in the report and in errors.
pub fn read_bounce(input: &str, bytes: &[u8], lang: Lang) -> Result<BounceReport, BounceError> {
    let message = parse_message(bytes)
        .filter(|m| !m.headers().is_empty())
        .ok_or_else(|| BounceError::NotAMessage(input.to_string()))?;
    let mut report = BounceReport {
        input: input.to_string(),
        kind: MessageKind::Bounce,
        format: BounceFormat::Prose,
        from: message.from().and_then(first_address),
        subject: message.subject().map(str::to_string),
        date: message.date().map(mail_parser::DateTime::to_rfc3339),
        reporting_mta: None,
        original: original_of(&message),
        recipients: Vec::new(),
        complaint: None,
    };
    if let Some(fields) = part_text(&message, |ctype, sub| {
        ctype == "message" && sub == "feedback-report"
    }) {
        report.kind = MessageKind::Complaint;
        report.format = BounceFormat::Arf;
        report.complaint = Some(complaint_of(&fields));
        return Ok(report);
    }
    if let Some(status) = part_text(&message, |ctype, sub| {
        matches!(ctype, "message" | "text")
            && matches!(sub, "delivery-status" | "global-delivery-status")
    }) {
        report.format = BounceFormat::Rfc3464;
        let prose = prose_of(&message);
        let (per_message, recipients) = delivery_status(&status);
        report.reporting_mta = per_message.get("reporting-mta").map(|v| strip_type(v));
        report.recipients = recipients
            .iter()
            .map(|fields| recipient_of(fields, &prose, lang))
            .collect();
        if !report.recipients.is_empty() {
            sort_recipients(&mut report.recipients);
            return Ok(report);
        }
    }
    let prose = prose_of(&message);
    if let Some(notification) = ses_notification(&prose, &report, lang) {
        return Ok(notification);
    }
    if is_complaint_without_report(&message) {
        report.kind = MessageKind::Complaint;
        report.format = BounceFormat::Arf;
        report.complaint = Some(Complaint {
            feedback_type: Some("abuse".to_string()),
            source_ip: message
                .subject()
                .and_then(|s| {
                    s.split_whitespace()
                        .find(|w| w.parse::<std::net::IpAddr>().is_ok())
                })
                .map(str::to_string),
            original_rcpt_to: message
                .header_raw("X-HmXmrOriginalRecipient")
                .map(|v| v.trim().to_string()),
            ..Complaint::default()
        });
        return Ok(report);
    }
    if is_auto_reply(&message) {
        report.kind = MessageKind::AutoReply;
        report.format = BounceFormat::AutoReply;
        return Ok(report);
    }
    // Delivery-status fields written into the text itself (a MIME structure that did not
    // survive, or an MTA that never used one).
    let (per_message, inline) = delivery_status(&String::from_utf8_lossy(body_after_headers(
        message.raw_message(),
    )));
    let inline: Vec<&Fields> = inline
        .iter()
        .filter(|g| g.get("final-recipient").is_some() || g.get("original-recipient").is_some())
        .collect();
    if !inline.is_empty() {
        report.format = BounceFormat::Rfc3464;
        report.reporting_mta = per_message.get("reporting-mta").map(|v| strip_type(v));
        report.recipients = inline
            .iter()
            .map(|fields| recipient_of(fields, &prose, lang))
            .collect();
        sort_recipients(&mut report.recipients);
        return Ok(report);
    }
    if !looks_like_bounce(&message) && !reads_like_failure(&prose) {
        return Err(BounceError::NotABounce(input.to_string()));
    }
    let recipients = prose_recipients(&message, &prose, lang);
    report.recipients = recipients;
    if report.recipients.is_empty() {
        // A failure notice whose recipients we could not tell apart: one entry for the
        // whole notice, so that its reply and cause are still given.
        report
            .recipients
            .push(recipient_from_text(None, &prose, "failed", lang));
    }
    sort_recipients(&mut report.recipients);
    Ok(report)
}

fn sort_recipients(recipients: &mut [RecipientReport]) {
    let rank = |action: &str| match action {
        "failed" => 0,
        "delayed" => 1,
        _ => 2,
    };
    recipients.sort_by_key(|r| rank(&r.action));
}

fn first_address(address: &Address<'_>) -> Option<String> {
    address
        .first()
        .and_then(|a| a.address())
        .map(str::to_string)
}

/// The text of the first part, outside returned messages, whose type matches.
fn part_text(message: &Message<'_>, wanted: impl Fn(&str, &str) -> bool) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let ctype = part.content_type()?;
        let sub = ctype.subtype().unwrap_or_default().to_ascii_lowercase();
        if !wanted(&ctype.ctype().to_ascii_lowercase(), &sub) {
            return None;
        }
        match &part.body {
            PartType::Message(inner) => Some(decode(inner.raw_message())),
            _ => Some(decode(part.contents())),
        }
    })
}

/// Bytes as text: UTF-8, or ISO-2022-JP when its escape sequences show (Japanese MTAs
/// write the diagnostic of a delivery-status part in it without saying so).
fn decode(bytes: &[u8]) -> String {
    let escaped = bytes.windows(3).any(|w| w == b"\x1b$B" || w == b"\x1b$@");
    if escaped {
        let (text, _, _) = encoding_rs::ISO_2022_JP.decode(bytes);
        return text.into_owned();
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// The human-readable text of the bounce: its text parts (HTML ones turned into text when
/// there is no plain one), without the returned message.
fn prose_of(message: &Message<'_>) -> String {
    let mut text = String::new();
    for part in message.text_bodies() {
        if let Some(body) = part.text_contents() {
            if part.is_text_html() {
                text.push_str(&mail_parser::decoders::html::html_to_text(body));
            } else {
                text.push_str(body);
            }
            text.push('\n');
        }
    }
    if text.trim().is_empty() {
        for part in message.html_bodies() {
            if let Some(body) = part.text_contents() {
                text.push_str(&mail_parser::decoders::html::html_to_text(body));
                text.push('\n');
            }
        }
    }
    if text.trim().is_empty() {
        // A broken MIME structure (a boundary that does not match, a header folded without
        // indentation) leaves the text in parts of no known type: read them as text.
        for part in &message.parts {
            if let PartType::Binary(bytes) | PartType::InlineBinary(bytes) = &part.body {
                text.push_str(&String::from_utf8_lossy(bytes));
                text.push('\n');
            }
        }
    }
    if text.trim().is_empty() {
        text = String::from_utf8_lossy(body_after_headers(message.raw_message())).into_owned();
    }
    let mut prose = cut_returned_message(&text).to_string();
    // A notice is a few kilobytes; past this it is a returned message without a marker,
    // and reading it for replies only costs time.
    if prose.len() > PROSE_LIMIT {
        let mut cut = PROSE_LIMIT;
        while !prose.is_char_boundary(cut) {
            cut -= 1;
        }
        prose.truncate(cut);
    }
    prose
}

/// How much of a notice's text is read for recipients and replies.
const PROSE_LIMIT: usize = 256 << 10;

/// The raw body: everything after the first blank line.
fn body_after_headers(raw: &[u8]) -> &[u8] {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => raw.len(),
    };
    &raw[start..]
}

/// The prose up to where the returned message begins.
fn cut_returned_message(text: &str) -> &str {
    const MARKERS: &[&str] = &[
        "------ this is a copy of the message",
        "--- below this line is a copy of the message",
        "----- original message -----",
        "------ original message ------",
        "----- unsent message below -----",
        "original message follows",
        "----- the following is a copy of the message",
        "--- original message ---",
        "------- returned message --------",
        "----- message header follows -----",
        "----- original message headers -----",
        "the header of the original message is following.",
        "--- the header of the original message is following. ---",
        "message headers follow",
        "headers of the original message follow",
    ];
    let lower = text.to_ascii_lowercase();
    let cut = MARKERS
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .unwrap_or(text.len());
    &text[..cut]
}

/// The headers of the returned message (`message/rfc822` or `text/rfc822-headers`).
fn original_of(message: &Message<'_>) -> Option<OriginalMessage> {
    for part in &message.parts {
        let inner = match &part.body {
            PartType::Message(inner) => Some(inner.clone()),
            _ => {
                let ctype = part.content_type()?;
                let sub = ctype.subtype().unwrap_or_default().to_ascii_lowercase();
                (sub == "rfc822-headers")
                    .then(|| parse_message(part.contents()))
                    .flatten()
            }
        };
        if let Some(inner) = inner {
            return Some(OriginalMessage {
                from: inner.from().and_then(first_address),
                to: inner.to().and_then(first_address),
                subject: inner.subject().map(str::to_string),
                message_id: inner.message_id().map(str::to_string),
                date: inner.date().map(mail_parser::DateTime::to_rfc3339),
            });
        }
    }
    None
}

/// Field name (lower case) and unfolded value, in order.
type Fields = Vec<(String, String)>;

trait FieldLookup {
    fn get(&self, name: &str) -> Option<&String>;
}

impl FieldLookup for Fields {
    fn get(&self, name: &str) -> Option<&String> {
        self.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Header-like fields in groups separated by blank lines, continuation lines unfolded.
fn field_groups(text: &str) -> Vec<Fields> {
    let mut groups: Vec<Fields> = Vec::new();
    let mut current: Fields = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                current.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// The per-message fields and the per-recipient groups of a delivery-status part.
fn delivery_status(text: &str) -> (Fields, Vec<Fields>) {
    let mut per_message = Vec::new();
    let mut recipients = Vec::new();
    for group in field_groups(text) {
        let about_recipient = group.iter().any(|(n, _)| {
            matches!(
                n.as_str(),
                "final-recipient" | "original-recipient" | "action" | "status"
            )
        });
        if about_recipient {
            recipients.push(group);
        } else {
            per_message.extend(group);
        }
    }
    (per_message, recipients)
}

/// `rfc822; a@example.com` → `a@example.com`.
fn strip_type(value: &str) -> String {
    match value.split_once(';') {
        Some((kind, rest)) if !kind.contains(char::is_whitespace) => rest.trim().to_string(),
        _ => value.trim().to_string(),
    }
}

fn recipient_of(fields: &Fields, prose: &str, lang: Lang) -> RecipientReport {
    let address = fields
        .get("final-recipient")
        .or_else(|| fields.get("original-recipient"))
        .map(|v| strip_type(v))
        .map(|a| a.trim_matches(['<', '>']).to_string());
    let action = fields
        .get("action")
        .map_or("failed".to_string(), |a| a.trim().to_ascii_lowercase());
    let status = fields
        .get("status")
        .map(|s| s.split_whitespace().next().unwrap_or_default().to_string())
        .filter(|s| EnhancedCode::parse(s).is_some());
    let diagnostic = fields
        .get("diagnostic-code")
        .map(|v| strip_type(v))
        .filter(|d| !d.is_empty());
    // Without a diagnostic, the prose around the address is the best account of it.
    let text = match &diagnostic {
        Some(diagnostic) => diagnostic.clone(),
        None => address
            .as_deref()
            .and_then(|a| block_around(prose, a))
            .unwrap_or_default(),
    };
    let mut report = recipient_from_text(address, &text, &action, lang);
    report.original_address = fields.get("original-recipient").map(|v| strip_type(v));
    report.remote_mta = fields.get("remote-mta").map(|v| strip_type(v));
    report.last_attempt = fields.get("last-attempt-date").cloned();
    let diagnostic_given = diagnostic.is_some();
    report.diagnostic = diagnostic;
    if report.status.is_none() {
        report.status.clone_from(&status);
    }
    let unknown = |r: &RecipientReport| r.cause.as_ref().is_some_and(|c| c.id == "unknown");
    if unknown(&report) && diagnostic_given {
        // The diagnostic names no cause: the prose about this recipient may.
        if let Some(block) = report
            .address
            .as_deref()
            .and_then(|a| block_around(prose, a))
        {
            let from_prose = recipient_from_text(None, &block, &action, lang);
            if !unknown(&from_prose) {
                report.cause = from_prose.cause;
                report.signature = from_prose.signature;
            }
        }
    }
    if let (Some(status), Some(cause)) = (&status, &report.cause) {
        // Neither the reply nor the prose names a cause: the report's status code may.
        if cause.id == "unknown" {
            let code = EnhancedCode::parse(status);
            let found = Extracted::from_reply(
                Reply {
                    code: None,
                    enhanced: code,
                    lines: vec![text.clone()],
                },
                None,
            );
            let (cause, _) = kb::classify_reply(&found, lang);
            report.cause = Some(cause.in_lang(lang));
        }
    }
    report
}

/// A recipient whose failure is told by `text` (a diagnostic, or a block of prose).
fn recipient_from_text(
    address: Option<String>,
    text: &str,
    action: &str,
    lang: Lang,
) -> RecipientReport {
    let found = extract(text);
    let failed = !matches!(action, "delivered" | "relayed" | "expanded");
    let classified = found
        .as_ref()
        .filter(|_| failed)
        .map(|f| kb::classify_reply(f, lang));
    RecipientReport {
        address,
        original_address: None,
        action: action.to_string(),
        status: found
            .as_ref()
            .and_then(|f| f.reply.enhanced)
            .map(|e| e.to_string()),
        remote_mta: None,
        diagnostic: (!text.trim().is_empty()).then(|| one_line(text)),
        last_attempt: None,
        reply: found
            .as_ref()
            .filter(|f| f.has_code())
            .map(|f| f.reply.clone()),
        command: found.as_ref().and_then(|f| f.command),
        signature: classified
            .as_ref()
            .and_then(|(_, s)| s.as_ref())
            .map(|s| s.id),
        cause: classified.map(|(c, _)| c.in_lang(lang)),
    }
}

fn one_line(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    // A diagnostic is a reply and its context, not a whole notice.
    if out.len() > 2000 {
        let mut cut = 2000;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// The prose from where `address` is first named to where the next failed address is, or
/// at most a few lines: what the bounce says about that recipient.
fn block_around(prose: &str, address: &str) -> Option<String> {
    let lower = prose.to_ascii_lowercase();
    let at = lower.find(&address.to_ascii_lowercase())?;
    // The line before says why as often as the lines after (`Your message wasn't delivered
    // to a@example.com because the address couldn't be found`).
    let line_start = prose[..at].rfind('\n').unwrap_or(0);
    let start = prose[..line_start].rfind('\n').map_or(0, |p| p + 1);
    let rest = &prose[start..];
    let end = rest
        .char_indices()
        .filter(|(_, c)| *c == '\n')
        .map(|(i, _)| i)
        .nth(12)
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// Words of a bounce's sender or subject that mark a failure notice.
fn looks_like_bounce(message: &Message<'_>) -> bool {
    const SENDERS: &[&str] = &[
        "mailer-daemon",
        "postmaster",
        "mail delivery",
        "mail-daemon",
    ];
    const SUBJECTS: &[&str] = &[
        "undeliver",
        "delivery status",
        "delivery failure",
        "failure notice",
        "returned mail",
        "mail delivery failed",
        "delivery has failed",
        "not delivered",
        "could not be delivered",
        "delivery notification",
        "nondeliver",
        "non-deliver",
        "rejected",
        "bounce",
        "delayed mail",
        "warning: could not send",
        "error",
        "delivery problem",
    ];
    let from = message
        .from()
        .and_then(|a| a.first())
        .map(|a| {
            format!(
                "{} {}",
                a.name().unwrap_or_default(),
                a.address().unwrap_or_default()
            )
            .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
    SENDERS.iter().any(|s| from.contains(s))
        || SUBJECTS.iter().any(|s| subject.contains(s))
        || message.header_raw("X-Failed-Recipients").is_some()
}

/// An Amazon SES notification sent by e-mail (its JSON body, RFC 3464 field names in
/// camel case): bounces and complaints, each recipient with its diagnostic.
fn ses_notification(prose: &str, report: &BounceReport, lang: Lang) -> Option<BounceReport> {
    let start = prose.find("{\"notificationType\"")?;
    let first_value = |text: &str| {
        serde_json::Deserializer::from_str(text)
            .into_iter::<serde_json::Value>()
            .next()
            .and_then(Result::ok)
    };
    // Sendmail breaks lines longer than 990 characters with `!`, a newline and a space.
    let json = first_value(&prose[start..])
        .or_else(|| first_value(&prose[start..].replace("!\n ", "").replace("!\r\n ", "")))?;
    let text =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|x| x.as_str()).map(str::to_string);
    let mut out = report.clone();
    out.format = BounceFormat::Rfc3464;
    match json.get("notificationType")?.as_str()? {
        "Bounce" => {
            let bounce = json.get("bounce")?;
            out.reporting_mta = text(bounce, "reportingMTA").map(|m| strip_type(&m));
            for r in bounce.get("bouncedRecipients")?.as_array()? {
                let diagnostic = text(r, "diagnosticCode").map(|d| strip_type(&d));
                let action = text(r, "action").unwrap_or_else(|| "failed".to_string());
                let mut recipient = recipient_from_text(
                    text(r, "emailAddress"),
                    diagnostic.as_deref().unwrap_or_default(),
                    &action,
                    lang,
                );
                if recipient.status.is_none() {
                    recipient.status = text(r, "status");
                }
                out.recipients.push(recipient);
            }
            sort_recipients(&mut out.recipients);
        }
        "Complaint" => {
            let complaint = json.get("complaint")?;
            out.kind = MessageKind::Complaint;
            out.format = BounceFormat::Arf;
            out.complaint = Some(Complaint {
                feedback_type: text(complaint, "complaintFeedbackType"),
                user_agent: text(complaint, "userAgent"),
                arrival_date: text(complaint, "arrivalDate"),
                original_rcpt_to: complaint
                    .get("complainedRecipients")
                    .and_then(|r| r.as_array())
                    .and_then(|r| r.first())
                    .and_then(|r| text(r, "emailAddress")),
                ..Complaint::default()
            });
        }
        "Delivery" => {
            let delivery = json.get("delivery")?;
            for address in delivery.get("recipients")?.as_array()? {
                let mut recipient = recipient_from_text(
                    address.as_str().map(str::to_string),
                    &text(delivery, "smtpResponse").unwrap_or_default(),
                    "delivered",
                    lang,
                );
                recipient.remote_mta = text(delivery, "remoteMtaIp");
                out.recipients.push(recipient);
            }
        }
        _ => return None,
    }
    Some(out)
}

/// A complaint forwarded without a feedback-report part (Hotmail's "complaint about
/// message from IP", with the reported message attached).
fn is_complaint_without_report(message: &Message<'_>) -> bool {
    let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
    let attached = message
        .parts
        .iter()
        .any(|p| matches!(p.body, PartType::Message(_)));
    attached
        && (subject.contains("complaint about message")
            || subject.contains("abuse report")
            || message.header_raw("X-HmXmrOriginalRecipient").is_some())
}

/// A text that quotes a negative SMTP reply among words of a failure notice.
fn reads_like_failure(prose: &str) -> bool {
    const WORDS: &[&str] = &[
        "error message",
        "could not be delivered",
        "couldn't be delivered",
        "undeliverable",
        "delivery failed",
        "delivery has failed",
        "permanent error",
        "was not delivered",
        "wasn't delivered",
        "not be delivered",
        "failed to deliver",
        "delivery to the following",
        "returned to sender",
        "rejected your message",
        "invalid user",
        "error:",
    ];
    let lower = prose.to_ascii_lowercase();
    let failure_words = WORDS.iter().any(|w| lower.contains(w));
    let negative_reply = extract(prose).is_some_and(|f| {
        f.reply.code.is_some_and(|c| c.class().digit() >= 4)
            || f.reply
                .enhanced
                .and_then(|e| e.class)
                .is_some_and(|c| c.digit() >= 4)
    });
    failure_words && negative_reply
}

/// An RFC 3834 auto-reply, or a vacation message by its subject.
fn is_auto_reply(message: &Message<'_>) -> bool {
    let auto_submitted = message
        .header_raw("Auto-Submitted")
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("auto-replied"));
    let marked = ["X-Autoreply", "X-Autorespond", "X-Vacation"]
        .iter()
        .any(|h| message.header_raw(*h).is_some())
        || message
            .header_raw("Precedence")
            .is_some_and(|v| v.to_ascii_lowercase().contains("auto_reply"));
    let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
    let by_subject = [
        "out of office",
        "out of the office",
        "automatic reply",
        "auto reply",
        "autoreply",
        "auto:",
        "vacation",
        "abwesenheit",
        "absence",
        "自動応答",
        "自動返信",
        "不在",
    ]
    .iter()
    .any(|s| subject.contains(s));
    (auto_submitted || marked || by_subject) && !looks_like_bounce(message)
}

/// The failed recipients a prose bounce names, each with the text about it.
fn prose_recipients(message: &Message<'_>, prose: &str, lang: Lang) -> Vec<RecipientReport> {
    let own: Vec<String> = [message.from(), message.to(), message.sender()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .map(str::to_ascii_lowercase)
        .collect();
    let listed: Vec<String> = message
        .header_raw("X-Failed-Recipients")
        .map(|v| {
            v.split(',')
                .map(|a| a.trim().trim_matches(['<', '>']).to_ascii_lowercase())
                .filter(|a| a.contains('@'))
                .collect()
        })
        .unwrap_or_default();
    let own_domain = message
        .from()
        .and_then(first_address)
        .and_then(|a| a.split_once('@').map(|(_, d)| d.to_ascii_lowercase()));
    let mut seen: Vec<(usize, String)> = Vec::new();
    for (at, address) in addresses_in(prose) {
        let lower = address.to_ascii_lowercase();
        let (local, domain) = lower.split_once('@').unwrap_or_default();
        let ours = own.contains(&lower) && !listed.contains(&lower);
        // The reporting system's own mailboxes, and the ones the notice asks to contact,
        // are not recipients; a postmaster elsewhere may well be.
        let system = matches!(local, "postmaster" | "mailer-daemon" | "root" | "abuse")
            && own_domain.as_deref() == Some(domain);
        // Bytes, not characters: the text before may be Japanese, cut mid-character.
        let before = String::from_utf8_lossy(&prose.as_bytes()[at.saturating_sub(40)..at])
            .to_ascii_lowercase();
        let to_contact = [
            "contact",
            "write to",
            "send mail to",
            "mailto:",
            "e-mail to",
        ]
        .iter()
        .any(|w| before.contains(w));
        if ours
            || system
            || to_contact
            || seen.iter().any(|(_, a)| a.eq_ignore_ascii_case(&address))
        {
            continue;
        }
        seen.push((at, address));
    }
    let mut recipients = Vec::new();
    for (n, (at, address)) in seen.iter().enumerate() {
        let end = seen.get(n + 1).map_or(prose.len(), |(next, _)| *next);
        let end = end.min(at + 2000).min(prose.len());
        let mut end = end;
        while !prose.is_char_boundary(end) {
            end -= 1;
        }
        let line_start = prose[..*at].rfind('\n').map_or(0, |p| p + 1);
        let block = &prose[line_start..end];
        let candidate = recipient_from_text(Some(address.clone()), block, "failed", lang);
        let says_something = candidate.reply.is_some()
            || candidate.cause.as_ref().is_some_and(|c| c.id != "unknown");
        if says_something {
            recipients.push(candidate);
        }
    }
    // An address that says nothing of its own (Gmail names the address, then the reply
    // further down): its reply is the notice's.
    if recipients.is_empty() {
        if let Some((_, address)) = seen.first() {
            recipients.push(recipient_from_text(
                Some(address.clone()),
                prose,
                "failed",
                lang,
            ));
        }
    }
    for r in &mut recipients {
        if is_delay_notice(prose) {
            "delayed".clone_into(&mut r.action);
        }
    }
    recipients
}

fn is_delay_notice(prose: &str) -> bool {
    let lower = prose.to_ascii_lowercase();
    [
        "has been delayed",
        "delivery delayed",
        "will keep trying",
        "will be retried",
        "still trying",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// Every e-mail address in `text`, with where it starts.
fn addresses_in(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let is_local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-=!#$&'*/?^`{|}~".contains(&b);
    let is_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && is_local(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < bytes.len() && is_domain(bytes[end]) {
            end += 1;
        }
        let domain = text[i + 1..end].trim_end_matches(['.', '-']);
        let local = text[start..i].trim_start_matches(['.', '\'', '`']);
        if !local.is_empty() && domain.contains('.') {
            let start = i - local.len();
            found.push((start, format!("{local}@{domain}")));
        }
        i = end.max(i + 1);
    }
    found
}

fn complaint_of(report: &str) -> Complaint {
    let fields: Fields = field_groups(report).into_iter().flatten().collect();
    Complaint {
        feedback_type: fields.get("feedback-type").cloned(),
        user_agent: fields.get("user-agent").cloned(),
        source_ip: fields.get("source-ip").cloned(),
        original_mail_from: fields.get("original-mail-from").cloned(),
        original_rcpt_to: fields.get("original-rcpt-to").cloned(),
        arrival_date: fields.get("arrival-date").cloned(),
        reported_domain: fields.get("reported-domain").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check() {
        assert!(looks_like_message(
            b"From: a@example.com\nTo: b@example.com\n\nhi"
        ));
        assert!(looks_like_message(
            b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\nReturn-Path: <>\nDate: x\n\nbody"
        ));
        assert!(!looks_like_message(b"550 5.1.1 User unknown"));
        assert!(!looks_like_message(b"Subject: only one\n\nbody"));
    }

    #[test]
    fn addresses_are_found_with_their_place() {
        let found = addresses_in("<a.b@example.com>: said x\n  c@example.org\n");
        assert_eq!(found[0], (1, "a.b@example.com".to_string()));
        assert_eq!(found[1].1, "c@example.org");
    }

    #[test]
    fn field_groups_unfold() {
        let groups = field_groups(
            "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; a@example.com\nDiagnostic-Code: smtp; 550 5.1.1\n  user unknown\n",
        );
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[1].get("diagnostic-code").unwrap(),
            "smtp; 550 5.1.1 user unknown"
        );
    }

    #[test]
    fn not_a_bounce_is_said() {
        let mail = b"From: friend@example.com\nTo: me@example.org\nSubject: lunch?\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nShall we?\n";
        assert!(matches!(
            read_bounce("x", mail, Lang::En),
            Err(BounceError::NotABounce(_))
        ));
    }
}
