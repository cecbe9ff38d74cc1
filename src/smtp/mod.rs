//! The SMTP half of the probe: a dialogue with each mail exchanger as a sending MTA would
//! hold it — greeting, EHLO, STARTTLS, MAIL FROM, RCPT TO, QUIT — stopping before any
//! message could be sent. Every reply is recorded; a negative reply is a result, not an
//! error.

pub mod reader;
mod session;
pub mod tls;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::Serialize;

pub use session::{dialogue, probe_as_resolved, probe_hosts};
pub use tls::{TlsInfo, TlsProblem, TrustAnchors};

use crate::reply::Reply;
pub use crate::reply::Stage;
use crate::timing::serialize_ms;

/// The commands the probe can send. There is no DATA, BDAT or anything that carries a
/// message: the probe cannot send mail, whatever the code around it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    StartTls,
    /// The reverse-path, without angle brackets; empty for the null sender `<>`.
    MailFrom(String),
    /// The forward-path, without angle brackets.
    RcptTo(String),
    Rset,
    Quit,
}

impl Command {
    /// The command line, without CRLF.
    #[must_use]
    pub fn line(&self) -> String {
        match self {
            Command::Ehlo(name) => format!("EHLO {name}"),
            Command::Helo(name) => format!("HELO {name}"),
            Command::StartTls => "STARTTLS".into(),
            Command::MailFrom(path) => format!("MAIL FROM:<{path}>"),
            Command::RcptTo(path) => format!("RCPT TO:<{path}>"),
            Command::Rset => "RSET".into(),
            Command::Quit => "QUIT".into(),
        }
    }

    /// The stage of the dialogue this command opens.
    #[must_use]
    pub fn stage(&self) -> Stage {
        match self {
            Command::Ehlo(_) => Stage::Ehlo,
            Command::Helo(_) => Stage::Helo,
            Command::StartTls => Stage::StartTls,
            Command::MailFrom(_) => Stage::MailFrom,
            Command::RcptTo(_) => Stage::RcptTo,
            Command::Rset => Stage::Rset,
            Command::Quit => Stage::Quit,
        }
    }
}

/// One step of the dialogue: what was sent, what came back, how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub stage: Stage,
    /// The command sent (in JSON, its line); `None` for the connection, the greeting and
    /// the TLS handshake.
    #[serde(serialize_with = "serialize_command")]
    pub command: Option<Command>,
    /// The reply as read; a reply cut off mid-way has no code and only its lines.
    pub reply: Option<Reply>,
    /// The step ran inside TLS.
    pub tls: bool,
    #[serde(serialize_with = "serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
    /// What went wrong, when no (complete) reply came (in JSON, its text).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_error"
    )]
    pub error: Option<StepError>,
    /// The command went in one group with the MAIL FROM and RCPT TO commands around it
    /// (RFC 2920 PIPELINING); the step is timed from the previous reply. In JSON only when
    /// true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pipelined: bool,
}

impl Step {
    /// The reply, when a complete one came back (a cut-off reply has no code).
    #[must_use]
    pub fn complete_reply(&self) -> Option<&Reply> {
        self.reply.as_ref().filter(|r| r.code.is_some())
    }
}

// serde's `serialize_with` hands the field by reference, `&Option<_>`.
#[allow(clippy::ref_option)]
fn serialize_command<S: serde::Serializer>(
    command: &Option<Command>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match command {
        Some(command) => serializer.serialize_str(&command.line()),
        None => serializer.serialize_none(),
    }
}

#[allow(clippy::ref_option)]
fn serialize_error<S: serde::Serializer>(
    error: &Option<StepError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match error {
        Some(error) => serializer.collect_str(error),
        None => serializer.serialize_none(),
    }
}

/// Why a step got no (complete) reply. The text is what the transcript and the JSON show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The connection could not be made.
    #[error("{0}")]
    Connect(String),
    /// No connection within the limit.
    #[error("no answer within {:.1} s", .limit.as_secs_f64())]
    ConnectTimeout { limit: Duration },
    /// No reply within the stage's limit, or the overall deadline came first.
    #[error("{}", timeout_text(*.limit, *.overall))]
    Timeout { limit: Duration, overall: bool },
    /// A command held CR or LF; it was not sent.
    #[error("refused to send a command containing CR or LF")]
    CommandInjection,
    /// The command could not be written.
    #[error("cannot send: {0}")]
    Send(String),
    /// The reply could not be read: the connection closed, a malformed or oversized
    /// reply (the reader's own words).
    #[error("{0}")]
    Read(String),
    /// The TLS client could not be set up.
    #[error("cannot set up TLS: {0}")]
    TlsSetup(String),
    /// The handshake failed.
    #[error("TLS handshake failed: {0}")]
    TlsHandshake(String),
    /// Bytes came after the 220 to STARTTLS, before the handshake (they were dropped).
    #[error(
        "the server sent {bytes} bytes after its 220 reply to STARTTLS, before the handshake; they were discarded"
    )]
    TlsInjected { bytes: usize },
}

impl StepError {
    /// A stable name for the kind of error, for finding parameters and translated texts.
    #[must_use]
    pub fn key(&self) -> &'static str {
        match self {
            StepError::Connect(_) => "connect",
            StepError::ConnectTimeout { .. } => "connect-timeout",
            StepError::Timeout { overall: false, .. } => "timeout",
            StepError::Timeout { overall: true, .. } => "deadline",
            StepError::CommandInjection => "command-injection",
            StepError::Send(_) => "send",
            StepError::Read(_) => "read",
            StepError::TlsSetup(_) => "tls-setup",
            StepError::TlsHandshake(_) => "tls-handshake",
            StepError::TlsInjected { .. } => "tls-injected",
        }
    }

    /// What the error carries besides its kind: the limit in seconds, the byte count, or
    /// the words of the system, the TLS library or the reply reader.
    #[must_use]
    pub fn detail(&self) -> String {
        match self {
            StepError::ConnectTimeout { limit } | StepError::Timeout { limit, .. } => {
                format!("{:.1}", limit.as_secs_f64())
            }
            StepError::TlsInjected { bytes } => bytes.to_string(),
            StepError::CommandInjection => String::new(),
            StepError::Connect(reason)
            | StepError::Send(reason)
            | StepError::Read(reason)
            | StepError::TlsSetup(reason)
            | StepError::TlsHandshake(reason) => reason.clone(),
        }
    }
}

fn timeout_text(limit: Duration, overall: bool) -> String {
    if overall {
        format!(
            "the overall deadline was reached ({:.1} s left for this stage)",
            limit.as_secs_f64()
        )
    } else {
        format!("no reply within {:.1} s", limit.as_secs_f64())
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionOutcome {
    /// Every RCPT TO got a reply; the session ended with QUIT (sent, its reply not awaited).
    Completed,
    ConnectRefused,
    ConnectTimeout,
    ConnectUnreachable,
    ConnectFailed,
    /// The greeting was not 220.
    GreetingRejected,
    /// EHLO and HELO, or MAIL FROM, were refused.
    Rejected,
    /// No (complete) reply in time, or the overall deadline passed.
    Timeout,
    /// The server sent something that is not SMTP.
    ProtocolError,
    /// The server closed or reset the connection.
    Closed,
    /// The TLS handshake failed; a plain session follows.
    TlsFailed,
}

/// A dialogue with one address of one mail exchanger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub host: String,
    pub address: IpAddr,
    pub port: u16,
    pub outcome: SessionOutcome,
    /// The stage at which the session ended early; `None` when it completed.
    pub stage: Option<Stage>,
    pub steps: Vec<Step>,
    /// The EHLO keywords with their parameters, as last advertised.
    pub extensions: Vec<String>,
    pub tls: Option<TlsInfo>,
    /// STARTTLS was skipped on purpose (a retry after a failed handshake, or --no-starttls).
    pub plain_retry: bool,
    /// The server ended some lines with a bare LF.
    pub bare_lf: bool,
    #[serde(serialize_with = "serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
}

/// Time limits of the dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// RFC 5321 §4.5.3.2 suggests 5 minutes; a probe gives up much sooner.
    pub greeting: Duration,
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            greeting: Duration::from_secs(30),
            command: Duration::from_secs(30),
        }
    }
}

/// One dialogue at a time per server address, however many domains share the server: a
/// batch must never look like a flood to the servers it diagnoses.
#[derive(Debug, Default)]
pub struct DestinationLimiter {
    slots: Mutex<HashMap<IpAddr, Weak<tokio::sync::Mutex<()>>>>,
}

/// Holds an address's slot until dropped.
#[derive(Debug)]
pub struct DestinationPermit {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl DestinationLimiter {
    /// Waits until no other dialogue with `address` is running.
    pub async fn acquire(&self, address: IpAddr) -> DestinationPermit {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(slot) = slots.get(&address).and_then(Weak::upgrade) {
                slot
            } else {
                // Forget addresses nobody waits for, so a long batch keeps memory flat.
                if slots.len() >= 256 {
                    slots.retain(|_, slot| slot.strong_count() > 0);
                }
                let slot = Arc::new(tokio::sync::Mutex::new(()));
                slots.insert(address, Arc::downgrade(&slot));
                slot
            }
        };
        DestinationPermit {
            _guard: slot.lock_owned().await,
        }
    }
}

/// How to hold the dialogue.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub port: u16,
    pub helo: String,
    /// The reverse-path; empty for `<>`.
    pub mail_from: String,
    pub rcpts: Vec<String>,
    /// Use STARTTLS when offered.
    pub starttls: bool,
    pub timeouts: Timeouts,
    /// Connect from this local address.
    pub source: Option<IpAddr>,
    pub trust: TrustAnchors,
    /// Probe every address of every host instead of stopping at the first that completes.
    pub all_mx: bool,
    /// Shared by every probe of a run.
    pub limiter: Arc<DestinationLimiter>,
}

/// Refuses what must never reach an SMTP command line: CR, LF and other control
/// characters (command injection), and angle brackets that would end the path early.
pub fn check_command_argument(what: &str, value: &str) -> Result<(), String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} {value:?} contains the control character {c:?}; it would let the text inject SMTP commands"
        ));
    }
    if value.contains(['<', '>']) {
        return Err(format!(
            "{what} {value:?}: give the address without angle brackets"
        ));
    }
    if value.contains(' ') {
        return Err(format!("{what} {value:?} contains a space"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(Command::MailFrom(String::new()).line(), "MAIL FROM:<>");
        assert_eq!(
            Command::RcptTo("postmaster@example.com".into()).line(),
            "RCPT TO:<postmaster@example.com>"
        );
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(check_command_argument("--rcpt", "a@example.com").is_ok());
        assert!(check_command_argument("--rcpt", "a@example.com\r\nDATA").is_err());
        assert!(check_command_argument("--rcpt", "a@example.com\nDATA").is_err());
        assert!(check_command_argument("--from", "a\u{0}b@example.com").is_err());
        assert!(check_command_argument("--from", "<a@example.com>").is_err());
    }
}
