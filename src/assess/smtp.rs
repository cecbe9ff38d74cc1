//! From sessions to findings: every reply that matters explained by its cause, every
//! failure named, and each given the severity a sending MTA's point of view gives it. A
//! failure on a host that a sender would have passed over (the next MX worked) is only a
//! warning.

use super::tls::tls_findings;
use crate::kb::{self, FindingKind};
use crate::reply::{Extracted, Reply, ReplyClass};
use crate::report::{Finding, Severity};
use crate::smtp::{Command, Session, SessionOutcome, Stage, Step, StepError};

/// What the sessions mean for the report.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub findings: Vec<Finding>,
    /// Nothing could be learnt from the servers (every connection timed out).
    pub incomplete: bool,
}

fn severity_of(reply: &Reply) -> Severity {
    match reply.code.map(crate::reply::ReplyCode::class) {
        Some(ReplyClass::TransientNegative) => Severity::Transient,
        Some(ReplyClass::PermanentNegative) => Severity::Permanent,
        _ => match reply.enhanced.and_then(|e| e.class) {
            Some(crate::reply::EnhancedClass::PersistentTransient) => Severity::Transient,
            Some(crate::reply::EnhancedClass::Permanent) => Severity::Permanent,
            _ => Severity::Ok,
        },
    }
}

/// Findings about `sessions`, in order.
#[must_use]
pub fn smtp_findings(sessions: &[Session], port: u16) -> Assessment {
    let mut assessment = Assessment::default();
    let decisive = sessions.iter().position(Session::reached_transaction);
    for (index, session) in sessions.iter().enumerate() {
        // Without a decisive session every failure counts; with one, only its own do.
        let counts = decisive.is_none_or(|d| d == index);
        let cap = |severity: Severity| {
            if counts || severity <= Severity::Warning {
                severity
            } else {
                Severity::Warning
            }
        };
        session_findings(session, port, &cap, &mut assessment.findings);
    }
    let all_timed_out = !sessions.is_empty()
        && sessions
            .iter()
            .all(|s| s.outcome == SessionOutcome::ConnectTimeout);
    if all_timed_out {
        assessment.findings.push(
            Finding::new(FindingKind::Port25Blocked, Severity::Transient)
                .with("port", port.to_string()),
        );
        assessment.incomplete = true;
    }
    assessment
}

/// A finding about one server: its host, address and port as parameters.
fn server_finding(kind: FindingKind, severity: Severity, session: &Session, port: u16) -> Finding {
    Finding::new(kind, severity)
        .with("host", &session.host)
        .with("address", session.address.to_string())
        .with("port", port.to_string())
}

fn session_findings(
    session: &Session,
    port: u16,
    cap: &dyn Fn(Severity) -> Severity,
    findings: &mut Vec<Finding>,
) {
    let host = session.host.as_str();
    let address = session.address.to_string();
    let connect_error = session
        .steps
        .iter()
        .find(|s| s.stage == Stage::Connect)
        .and_then(|s| s.error.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default();
    let connect_kind = match session.outcome {
        SessionOutcome::ConnectRefused => Some(FindingKind::ConnectRefused),
        SessionOutcome::ConnectTimeout => Some(FindingKind::ConnectTimeout),
        SessionOutcome::ConnectUnreachable => Some(FindingKind::ConnectUnreachable),
        SessionOutcome::ConnectFailed => Some(FindingKind::ConnectFailed),
        _ => None,
    };
    if let Some(kind) = connect_kind {
        let seconds = session.steps.first().map_or(String::new(), |s| {
            format!("{:.1}", s.duration.as_secs_f64())
        });
        findings.push(
            server_finding(kind, cap(Severity::Transient), session, port)
                .with("reason", connect_error)
                .with("seconds", seconds)
                .with_codes(None, Some("4.4.1"))
                .about(format!("{host} [{address}]:{port}")),
        );
        return;
    }

    let ehlo_refused_then_helo = session.steps.iter().any(|s| s.stage == Stage::Helo)
        && session
            .steps
            .iter()
            .rev()
            .find(|s| s.stage == Stage::Helo)
            .and_then(Step::complete_reply)
            .is_some_and(|r| severity_of(r) == Severity::Ok);

    for step in &session.steps {
        if let Some(reply) = step.complete_reply() {
            if let Some(finding) = reply_finding(session, step, reply, ehlo_refused_then_helo, cap)
            {
                findings.push(finding);
            }
        }
        if let Some(error) = &step.error {
            if let Some(finding) = error_finding(session, step, error, port, cap) {
                findings.push(finding);
            }
        }
    }

    if let Some(tls) = &session.tls {
        findings.extend(tls_findings(host, port, tls));
    }
    let said_ehlo = session.steps.iter().any(|s| {
        s.stage == Stage::Ehlo
            && !s.tls
            && s.complete_reply()
                .is_some_and(|r| severity_of(r) == Severity::Ok)
    });
    if said_ehlo
        && !session.plain_retry
        && session.tls.is_none()
        && !session.steps.iter().any(|s| s.stage == Stage::StartTls)
    {
        findings.push(
            server_finding(
                FindingKind::StarttlsMissing,
                Severity::Warning,
                session,
                port,
            )
            .about(host.to_string()),
        );
    }
    if session.bare_lf {
        findings.push(
            server_finding(FindingKind::BareLf, Severity::Info, session, port)
                .about(host.to_string()),
        );
    }
}

fn reply_finding(
    session: &Session,
    step: &Step,
    reply: &Reply,
    ehlo_refused_then_helo: bool,
    cap: &dyn Fn(Severity) -> Severity,
) -> Option<Finding> {
    let host = session.host.as_str();
    let natural = severity_of(reply);
    let code = reply.code.map(crate::reply::ReplyCode::value);
    let enhanced = reply.enhanced.map(|e| e.to_string());
    let rcpt = match &step.command {
        Some(Command::RcptTo(path)) => path.clone(),
        _ => String::new(),
    };
    let code_text = code.map(|c| c.to_string()).unwrap_or_default();
    let about_host = |kind, severity| {
        Finding::new(kind, severity)
            .with("host", host)
            .with_codes(code, enhanced.as_deref())
            .about(host.to_string())
    };

    if natural == Severity::Ok {
        // Positive replies matter only where they decide something.
        return (step.stage == Stage::RcptTo).then(|| {
            about_host(FindingKind::RcptAccepted, Severity::Ok)
                .with("rcpt", &rcpt)
                .with("code", &code_text)
                .about(rcpt.clone())
        });
    }
    let severity = match step.stage {
        Stage::Rset | Stage::Quit => return None,
        // The dialogue went on with HELO, or in the clear: not what decides delivery.
        Stage::Ehlo if ehlo_refused_then_helo => {
            return Some(about_host(FindingKind::EhloRefused, Severity::Info));
        }
        Stage::Ehlo if session.steps.iter().any(|s| s.stage == Stage::Helo) => return None,
        Stage::StartTls => {
            return Some(
                about_host(FindingKind::StarttlsRefused, Severity::Warning)
                    .with("code", &code_text)
                    .with("text", reply.text()),
            );
        }
        _ => cap(natural),
    };

    let found = Extracted::from_reply(reply.clone(), Some(step.stage));
    let (cause, signature) = kb::classify_reply(&found, kb::Lang::En);
    let zone = signature
        .as_ref()
        .filter(|s| s.kind == "blocklist")
        .map(|s| s.capture("zone").unwrap_or_default().to_string());
    let kind = if zone.is_some() {
        FindingKind::ReplyDnsbl
    } else {
        FindingKind::Reply
    };
    let stage = step.stage.name();
    let mut finding = Finding::new(kind, severity)
        .with("host", host)
        .with("stage", stage)
        .with("code", &code_text)
        .with("text", reply.text())
        .with("rcpt", &rcpt)
        .with_codes(code, enhanced.as_deref())
        .about(if rcpt.is_empty() {
            format!("{host} {stage}")
        } else {
            rcpt.clone()
        });
    if let Some(zone) = zone {
        finding = finding.with("zone", zone);
    }
    let is_postmaster = rcpt.to_ascii_lowercase().starts_with("postmaster@");
    if is_postmaster && step.stage == Stage::RcptTo && severity == Severity::Permanent {
        finding = finding.with("postmaster_refused", "yes");
    }
    finding.signature = signature.as_ref().map(|s| s.id.to_string());
    finding.cause = Some(cause);
    Some(finding)
}

fn error_finding(
    session: &Session,
    step: &Step,
    error: &StepError,
    port: u16,
    cap: &dyn Fn(Severity) -> Severity,
) -> Option<Finding> {
    let host = session.host.as_str();
    let is_last = session
        .steps
        .last()
        .is_some_and(|last| std::ptr::eq(last, step));
    let (kind, severity) = match step.stage {
        Stage::TlsHandshake if session.outcome == SessionOutcome::TlsFailed => {
            (FindingKind::TlsHandshakeFailed, Severity::Warning)
        }
        Stage::TlsHandshake => (FindingKind::TlsInjection, Severity::Warning),
        // After a refusal the server may hang up on QUIT: that is manners, not a failure.
        _ if matches!(step.stage, Stage::Quit | Stage::Connect) || !is_last => return None,
        _ => match session.outcome {
            SessionOutcome::Timeout
                if matches!(error, StepError::Timeout { overall: true, .. }) =>
            {
                (FindingKind::DeadlineReached, Severity::Transient)
            }
            SessionOutcome::Timeout if step.stage == Stage::Greeting => {
                (FindingKind::GreetingTimeout, Severity::Transient)
            }
            SessionOutcome::Timeout => (FindingKind::CommandTimeout, Severity::Transient),
            SessionOutcome::ProtocolError => (FindingKind::ProtocolError, Severity::Transient),
            _ => (FindingKind::ConnectionClosed, Severity::Transient),
        },
    };
    let rcpt = match &step.command {
        Some(Command::RcptTo(path)) => path.as_str(),
        _ => "",
    };
    Some(
        server_finding(kind, cap(severity), session, port)
            .with("stage", step.stage.name())
            .with("rcpt", rcpt)
            .with("error", error.to_string())
            .with("error_kind", error.key())
            .with("error_detail", error.detail())
            .with("seconds", format!("{:.1}", step.duration.as_secs_f64()))
            .about(format!("{host} {}", step.stage.name())),
    )
}
