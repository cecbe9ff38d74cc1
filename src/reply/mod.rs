//! SMTP reply codes, enhanced status codes and replies: the vocabulary shared by the
//! knowledge base, the probe and the report.
//!
//! Basic codes convert to lettre's `Code` model (RFC 5321 §4.2.1: severity, category, detail)
//! where the digits are ones RFC 5321 defines;
//! everything lettre does not cover — enhanced status codes (RFC 3463), replies pasted
//! from bounces and logs — is ours.

mod extract;

use std::fmt;

use lettre::transport::smtp::response::{Category, Code, Detail, Severity};
use serde::{Serialize, Serializer};

pub use extract::{Extracted, extract};

/// Where in the SMTP dialogue something happens: a probe's step, the command a pasted
/// reply answered, the stages at which a code is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Opening the TCP connection.
    Connect,
    Greeting,
    Ehlo,
    Helo,
    #[serde(rename = "starttls")]
    StartTls,
    TlsHandshake,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    /// After the message data, at the final dot.
    EndOfData,
    Rset,
    Quit,
    /// At any point of the session.
    Any,
}

impl Stage {
    /// Every stage, in dialogue order.
    pub const ALL: [Stage; 14] = [
        Stage::Connect,
        Stage::Greeting,
        Stage::Ehlo,
        Stage::Helo,
        Stage::StartTls,
        Stage::TlsHandshake,
        Stage::Auth,
        Stage::MailFrom,
        Stage::RcptTo,
        Stage::Data,
        Stage::EndOfData,
        Stage::Rset,
        Stage::Quit,
        Stage::Any,
    ];

    /// The name used in the transcript, in error texts and in finding parameters:
    /// protocol words as they are.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::Helo => "HELO",
            Stage::StartTls => "STARTTLS",
            Stage::TlsHandshake => "TLS handshake",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Rset => "RSET",
            Stage::Quit => "QUIT",
            Stage::Auth => "AUTH",
            Stage::Data => "DATA",
            Stage::EndOfData => "end of data",
            Stage::Any => "any",
        }
    }

    /// The stage of a [`Stage::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A three-digit SMTP reply code such as 421: first digit 2–5. RFC 5321 §4.2.1 only defines
/// second digits 0–5, but a server may send any digit there, so any is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

/// The first digit of a basic reply code (RFC 5321 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyClass {
    /// 2yz: the requested action has been completed.
    PositiveCompletion,
    /// 3yz: accepted, the server waits for more input.
    PositiveIntermediate,
    /// 4yz: not accepted this time; the same request may succeed later.
    TransientNegative,
    /// 5yz: not accepted, and repeating the same request will fail again.
    PermanentNegative,
}

impl ReplyClass {
    /// The class digit: 2, 3, 4 or 5.
    #[must_use]
    pub fn digit(self) -> u8 {
        match self {
            ReplyClass::PositiveCompletion => 2,
            ReplyClass::PositiveIntermediate => 3,
            ReplyClass::TransientNegative => 4,
            ReplyClass::PermanentNegative => 5,
        }
    }
}

impl ReplyCode {
    /// Builds a code from its number; `None` when it is not a valid SMTP reply code.
    #[must_use]
    pub fn new(value: u16) -> Option<ReplyCode> {
        (200..=599).contains(&value).then_some(ReplyCode(value))
    }

    /// Parses exactly three digits.
    #[must_use]
    pub fn parse(text: &str) -> Option<ReplyCode> {
        if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        ReplyCode::new(text.parse().ok()?)
    }

    /// The code as a number, e.g. 421.
    #[must_use]
    pub fn value(self) -> u16 {
        self.0
    }

    /// The class given by the first digit.
    #[must_use]
    pub fn class(self) -> ReplyClass {
        match self.0 / 100 {
            2 => ReplyClass::PositiveCompletion,
            3 => ReplyClass::PositiveIntermediate,
            4 => ReplyClass::TransientNegative,
            _ => ReplyClass::PermanentNegative,
        }
    }

    /// The second digit: 0 syntax, 1 information, 2 connections, 5 mail system.
    #[must_use]
    pub fn category(self) -> u8 {
        ((self.0 / 10) % 10) as u8
    }

    /// lettre's model of the same code, when the second digit is one RFC 5321 defines.
    #[must_use]
    pub fn as_lettre(self) -> Option<Code> {
        let severity = match self.class() {
            ReplyClass::PositiveCompletion => Severity::PositiveCompletion,
            ReplyClass::PositiveIntermediate => Severity::PositiveIntermediate,
            ReplyClass::TransientNegative => Severity::TransientNegativeCompletion,
            ReplyClass::PermanentNegative => Severity::PermanentNegativeCompletion,
        };
        let category = match self.category() {
            0 => Category::Syntax,
            1 => Category::Information,
            2 => Category::Connections,
            3 => Category::Unspecified3,
            4 => Category::Unspecified4,
            5 => Category::MailSystem,
            _ => return None,
        };
        let detail = [
            Detail::Zero,
            Detail::One,
            Detail::Two,
            Detail::Three,
            Detail::Four,
            Detail::Five,
            Detail::Six,
            Detail::Seven,
            Detail::Eight,
            Detail::Nine,
        ][usize::from(self.0 % 10)];
        Some(Code::new(severity, category, detail))
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ReplyCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.value())
    }
}

/// The class digit of an enhanced status code (RFC 3463 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnhancedClass {
    /// 2.X.X
    Success,
    /// 4.X.X
    PersistentTransient,
    /// 5.X.X
    Permanent,
}

impl EnhancedClass {
    /// The digit: 2, 4 or 5.
    #[must_use]
    pub fn digit(self) -> u8 {
        match self {
            EnhancedClass::Success => 2,
            EnhancedClass::PersistentTransient => 4,
            EnhancedClass::Permanent => 5,
        }
    }

    /// The class for a digit, if it is one of 2, 4 and 5.
    #[must_use]
    pub fn from_digit(digit: u8) -> Option<EnhancedClass> {
        match digit {
            2 => Some(EnhancedClass::Success),
            4 => Some(EnhancedClass::PersistentTransient),
            5 => Some(EnhancedClass::Permanent),
            _ => None,
        }
    }
}

/// An enhanced status code `class.subject.detail` such as 5.7.26 (RFC 3463). The class is
/// `None` when written as `X.7.26`, the form the IANA registry uses for "any class".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedCode {
    /// 2, 4 or 5; `None` for the class-less `X` form.
    pub class: Option<EnhancedClass>,
    /// The subject: 0 other, 1 addressing, 2 mailbox, ... 7 security or policy.
    pub subject: u16,
    /// The detail within the subject.
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses `5.7.26`, `X.7.26` or `x.7.26`; subject and detail have one to three digits.
    #[must_use]
    pub fn parse(text: &str) -> Option<EnhancedCode> {
        let mut parts = text.split('.');
        let class = match parts.next()? {
            "X" | "x" => None,
            digit if digit.len() == 1 => Some(EnhancedClass::from_digit(digit.parse().ok()?)?),
            _ => return None,
        };
        let number = |part: Option<&str>| -> Option<u16> {
            let part = part?;
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let subject = number(parts.next())?;
        let detail = number(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(EnhancedCode {
            class,
            subject,
            detail,
        })
    }

    /// The same code in its class-less form, the key of the knowledge base.
    #[must_use]
    pub fn generic(self) -> EnhancedCode {
        EnhancedCode {
            class: None,
            ..self
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.class {
            Some(class) => write!(f, "{}.{}.{}", class.digit(), self.subject, self.detail),
            None => write!(f, "X.{}.{}", self.subject, self.detail),
        }
    }
}

impl Serialize for EnhancedCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A reply as a list of lines, each without its code and separator (`421-` / `421 `).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// The basic code; `None` when only an enhanced code was given (a DSN `Status:`).
    pub code: Option<ReplyCode>,
    /// The enhanced code at the start of the first line, if any.
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line after the code, enhanced code included, exactly as received.
    pub lines: Vec<String>,
}

impl Reply {
    /// The text of all lines joined by a space, each line's enhanced code removed and runs
    /// of white space collapsed: what a person reads.
    #[must_use]
    pub fn text(&self) -> String {
        let mut joined = String::new();
        for line in &self.lines {
            let (_, rest) = split_enhanced(line);
            for word in rest.split_whitespace() {
                if !joined.is_empty() {
                    joined.push(' ');
                }
                joined.push_str(word);
            }
        }
        joined
    }

    /// The one line that reply signatures are matched against:
    /// `<code> <enhanced> <text>`, leaving out what the reply does not have.
    #[must_use]
    pub fn signature_subject(&self) -> String {
        let mut subject = String::new();
        if let Some(code) = self.code {
            subject.push_str(&code.to_string());
        }
        if let Some(enhanced) = self.enhanced {
            if !subject.is_empty() {
                subject.push(' ');
            }
            subject.push_str(&enhanced.to_string());
        }
        let text = self.text();
        if !text.is_empty() {
            if !subject.is_empty() {
                subject.push(' ');
            }
            subject.push_str(&text);
        }
        subject
    }

    /// Reads a reply as a person pastes it from a bounce, a log or a terminal (see
    /// [`extract`]); `None` when the text holds no reply code or enhanced status code.
    #[must_use]
    pub fn parse_pasted(text: &str) -> Option<Reply> {
        extract(text)
            .filter(Extracted::has_code)
            .map(|found| found.reply)
    }
}

/// Splits a leading enhanced code (`5.1.1 `, also `#5.1.1` as some servers write it) from
/// the rest of a line.
#[must_use]
pub fn split_enhanced(text: &str) -> (Option<EnhancedCode>, &str) {
    let candidate = text.strip_prefix('#').unwrap_or(text);
    let end = candidate
        .find(|c: char| c.is_whitespace())
        .unwrap_or(candidate.len());
    let word = &candidate[..end];
    match EnhancedCode::parse(word) {
        Some(code) if code.class.is_some() => (Some(code), candidate[end..].trim_start()),
        _ => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_code_validates_digits() {
        assert_eq!(ReplyCode::parse("421").map(ReplyCode::value), Some(421));
        assert_eq!(
            ReplyCode::parse("599").map(ReplyCode::class),
            Some(ReplyClass::PermanentNegative)
        );
        assert_eq!(
            ReplyCode::parse("421")
                .and_then(ReplyCode::as_lettre)
                .map(u16::from),
            Some(421)
        );
        assert!(ReplyCode::parse("599").unwrap().as_lettre().is_none());
        for bad in ["", "42", "4210", "199", "600", "4a1", "+21"] {
            assert!(ReplyCode::parse(bad).is_none(), "{bad} accepted");
        }
    }

    #[test]
    fn enhanced_code_forms() {
        let code = EnhancedCode::parse("5.7.26").unwrap();
        assert_eq!(code.class, Some(EnhancedClass::Permanent));
        assert_eq!((code.subject, code.detail), (7, 26));
        assert_eq!(code.to_string(), "5.7.26");
        assert_eq!(code.generic().to_string(), "X.7.26");
        assert_eq!(EnhancedCode::parse("x.1.10").unwrap().to_string(), "X.1.10");
        for bad in [
            "3.1.1", "5.1", "5.1.1.1", "5..1", "5.1234.1", "55.1.1", "5.a.1",
        ] {
            assert!(EnhancedCode::parse(bad).is_none(), "{bad} accepted");
        }
    }

    #[test]
    fn multi_line_reply_is_joined() {
        let reply = Reply::parse_pasted(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\n\
             550-5.1.1 double-checking the recipient's email address for typos or\n\
             550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser",
        )
        .unwrap();
        assert_eq!(reply.code.unwrap().value(), 550);
        assert_eq!(reply.enhanced.unwrap().to_string(), "5.1.1");
        assert_eq!(reply.lines.len(), 3);
        assert!(
            reply
                .signature_subject()
                .starts_with("550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking")
        );
    }

    #[test]
    fn reply_inside_a_bounce_line() {
        let reply = Reply::parse_pasted(
            "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)",
        )
        .unwrap();
        assert_eq!(reply.code.unwrap().value(), 550);
        assert_eq!(reply.enhanced.unwrap().to_string(), "5.1.1");
        assert!(reply.text().starts_with("<a@example.com>: Recipient"));
    }

    #[test]
    fn enhanced_code_alone() {
        let reply = Reply::parse_pasted("5.1.1 User unknown").unwrap();
        assert!(reply.code.is_none());
        assert_eq!(reply.signature_subject(), "5.1.1 User unknown");
    }

    #[test]
    fn prose_is_not_a_reply() {
        assert!(Reply::parse_pasted("hello world").is_none());
        assert!(Reply::parse_pasted("we sent 250 messages on 2026-11-25").is_none());
        assert!(Reply::parse_pasted("").is_none());
    }
}
