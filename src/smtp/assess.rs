//! From sessions to findings: every reply that matters explained, every failure named, and
//! each given the severity a sending MTA's point of view gives it. A failure on a host that
//! a sender would have passed over (the next MX worked) is only a warning.

use super::{Command, Session, SessionOutcome, Stage, Step, TlsInfo, TlsProblem};
use crate::dnsbl::Blocklist;
use crate::kb::{self, FindingKind, Lang, SignatureMatch};
use crate::reply::{Extracted, Reply, ReplyClass};
use crate::report::{Finding, Severity};

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
pub fn assess(sessions: &[Session], port: u16, lang: Lang) -> Assessment {
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
        session_findings(session, port, lang, &cap, &mut assessment.findings);
    }
    let all_timed_out = !sessions.is_empty()
        && sessions
            .iter()
            .all(|s| s.outcome == SessionOutcome::ConnectTimeout);
    if all_timed_out {
        assessment.findings.push(Finding::of_kind(
            FindingKind::Port25Blocked,
            Severity::Transient,
            lang,
            &[("port", &port.to_string())],
        ));
        assessment.incomplete = true;
    }
    assessment
}

fn session_findings(
    session: &Session,
    port: u16,
    lang: Lang,
    cap: &dyn Fn(Severity) -> Severity,
    findings: &mut Vec<Finding>,
) {
    let host = session.host.as_str();
    let address = session.address.to_string();
    let port_text = port.to_string();
    let base = [
        ("host", host),
        ("address", address.as_str()),
        ("port", port_text.as_str()),
    ];
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
        let mut values = base.to_vec();
        values.push(("reason", &connect_error));
        values.push(("seconds", &seconds));
        findings.push(
            Finding::of_kind(kind, cap(Severity::Transient), lang, &values)
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
            if let Some(finding) =
                reply_finding(session, step, reply, ehlo_refused_then_helo, lang, cap)
            {
                findings.push(finding);
            }
        }
        if let Some(error) = &step.error {
            let error = error.to_string();
            if let Some(finding) = error_finding(session, step, &error, port, lang, cap) {
                findings.push(finding);
            }
        }
    }

    if let Some(tls) = &session.tls {
        findings.extend(tls_findings(host, port, tls, lang));
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
            Finding::of_kind(FindingKind::StarttlsMissing, Severity::Warning, lang, &base)
                .about(host.to_string()),
        );
    }
    if session.bare_lf {
        findings.push(
            Finding::of_kind(FindingKind::BareLf, Severity::Info, lang, &base)
                .about(host.to_string()),
        );
    }
}

fn stage_label(step: &Step, lang: Lang) -> String {
    match (&step.stage, &step.command) {
        (Stage::RcptTo, Some(command)) => command.line(),
        (stage, _) => stage.label(lang).to_string(),
    }
}

fn reply_finding(
    session: &Session,
    step: &Step,
    reply: &Reply,
    ehlo_refused_then_helo: bool,
    lang: Lang,
    cap: &dyn Fn(Severity) -> Severity,
) -> Option<Finding> {
    let host = session.host.as_str();
    let natural = severity_of(reply);
    let code = reply.code.map(crate::reply::ReplyCode::value);
    let enhanced = reply.enhanced.map(|e| e.to_string());
    let text = reply.text();
    let rcpt = match &step.command {
        Some(Command::RcptTo(path)) => path.clone(),
        _ => String::new(),
    };
    let code_text = code.map(|c| c.to_string()).unwrap_or_default();

    if natural == Severity::Ok {
        // Positive replies matter only where they decide something.
        return (step.stage == Stage::RcptTo).then(|| {
            Finding::of_kind(
                FindingKind::RcptAccepted,
                Severity::Ok,
                lang,
                &[("host", host), ("rcpt", &rcpt), ("code", &code_text)],
            )
            .with_codes(code, enhanced.as_deref())
            .about(rcpt.clone())
        });
    }
    let severity = match step.stage {
        Stage::Rset | Stage::Quit => return None,
        // The dialogue went on with HELO, or in the clear: not what decides delivery.
        Stage::Ehlo if ehlo_refused_then_helo => {
            return Some(
                Finding::of_kind(
                    FindingKind::EhloRefused,
                    Severity::Info,
                    lang,
                    &[("host", host)],
                )
                .with_codes(code, enhanced.as_deref())
                .about(host.to_string()),
            );
        }
        Stage::Ehlo if session.steps.iter().any(|s| s.stage == Stage::Helo) => return None,
        Stage::StartTls => {
            return Some(
                Finding::of_kind(
                    FindingKind::StarttlsRefused,
                    Severity::Warning,
                    lang,
                    &[("host", host), ("code", &code_text), ("text", &text)],
                )
                .with_codes(code, enhanced.as_deref())
                .about(host.to_string()),
            );
        }
        _ => cap(natural),
    };

    let found = Extracted::from_reply(reply.clone(), Some(step.stage));
    let (cause, signature) = kb::classify_reply(&found, lang);
    let explanation = reply
        .enhanced
        .map(|e| kb::explain_enhanced(e, lang))
        .filter(|e| e.source == kb::Source::Entry)
        .or_else(|| reply.code.map(|c| kb::explain_basic(c, lang)));
    let (title, description, fix) = match (&signature, &explanation) {
        (Some(s), _) => (s.title.to_string(), s.cause.to_string(), s.fix.to_string()),
        (None, Some(e)) => (
            e.title.to_string(),
            e.description.to_string(),
            e.fix.to_string(),
        ),
        (None, None) => (String::new(), String::new(), String::new()),
    };
    let stage = stage_label(step, lang);
    let mut values: Vec<(&str, &str)> = vec![
        ("host", host),
        ("stage", &stage),
        ("code", &code_text),
        ("title", &title),
        ("text", &text),
        ("description", &description),
        ("fix", &fix),
        ("rcpt", &rcpt),
    ];
    let zone = signature
        .as_ref()
        .filter(|s| s.kind == "blocklist")
        .map(|s| s.capture("zone").unwrap_or("a DNS blocklist").to_string());
    let delist = zone
        .as_deref()
        .map(|z| delisting(z, lang))
        .unwrap_or_default();
    let mut kind = FindingKind::Reply;
    if let Some(zone) = &zone {
        kind = FindingKind::ReplyDnsbl;
        values.push(("zone", zone));
        values.push(("delist", &delist));
    }
    let is_postmaster = rcpt.to_ascii_lowercase().starts_with("postmaster@");
    let mut finding = Finding::of_kind(kind, severity, lang, &values)
        .with_codes(code, enhanced.as_deref())
        .about(if rcpt.is_empty() {
            format!("{host} {stage}")
        } else {
            rcpt.clone()
        });
    finding.signature = signature
        .as_ref()
        .map(|s: &SignatureMatch| s.id.to_string());
    finding.cause = Some(cause);
    if is_postmaster && step.stage == Stage::RcptTo && severity == Severity::Permanent {
        let note = Finding::of_kind(
            FindingKind::PostmasterRefused,
            Severity::Info,
            lang,
            &[("host", host), ("rcpt", &rcpt)],
        );
        finding.explanation.push(' ');
        finding.explanation.push_str(&note.explanation);
    }
    Some(finding)
}

/// The removal route of a list named in a reply, when it is one of the lists we know.
fn delisting(zone: &str, lang: Lang) -> String {
    let list = Blocklist::from_zone(zone);
    kb::blocklist_text(&list.zone, lang).map_or_else(
        || kb::ui(lang).dnsbl_generic_delist.to_string(),
        |t| t.delist.to_string(),
    )
}

fn error_finding(
    session: &Session,
    step: &Step,
    error: &str,
    port: u16,
    lang: Lang,
    cap: &dyn Fn(Severity) -> Severity,
) -> Option<Finding> {
    let host = session.host.as_str();
    let address = session.address.to_string();
    let port_text = port.to_string();
    let stage = stage_label(step, lang);
    let seconds = format!("{:.1}", step.duration.as_secs_f64());
    let values = [
        ("host", host),
        ("address", address.as_str()),
        ("port", port_text.as_str()),
        ("stage", stage.as_str()),
        ("error", error),
        ("seconds", seconds.as_str()),
    ];
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
            SessionOutcome::Timeout if error.starts_with("the overall deadline") => {
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
    Some(
        Finding::of_kind(kind, cap(severity), lang, &values)
            .about(format!("{host} {}", step.stage.name())),
    )
}

fn tls_findings(host: &str, port: u16, tls: &TlsInfo, lang: Lang) -> Vec<Finding> {
    let Some(leaf) = tls.chain.first() else {
        return Vec::new();
    };
    let names = leaf.names.join(", ");
    let port_text = port.to_string();
    let days = tls
        .problems
        .iter()
        .find_map(|p| match p {
            TlsProblem::ExpiringSoon { days } => Some(days.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    let reason = tls
        .problems
        .iter()
        .find_map(|p| match p {
            TlsProblem::Other { reason } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let values: Vec<(&str, &str)> = vec![
        ("host", host),
        ("port", &port_text),
        ("version", &tls.version),
        ("cipher", &tls.cipher),
        ("names", &names),
        ("subject", &leaf.subject),
        ("issuer", &leaf.issuer),
        ("not_before", &leaf.not_before),
        ("not_after", &leaf.not_after),
        ("days", &days),
        ("reason", &reason),
    ];
    if tls.problems.is_empty() {
        return vec![
            Finding::of_kind(FindingKind::TlsOk, Severity::Ok, lang, &values)
                .about(host.to_string()),
        ];
    }
    let mut findings = Vec::new();
    for problem in &tls.problems {
        let kind = match problem {
            TlsProblem::Untrusted => FindingKind::TlsUntrusted,
            TlsProblem::SelfSigned => FindingKind::TlsSelfSigned,
            TlsProblem::Expired => FindingKind::TlsExpired,
            TlsProblem::NotYetValid => FindingKind::TlsNotYetValid,
            TlsProblem::NameMismatch => FindingKind::TlsNameMismatch,
            TlsProblem::ExpiringSoon { .. } => FindingKind::TlsExpiring,
            TlsProblem::Other { .. } => FindingKind::TlsProblem,
        };
        findings
            .push(Finding::of_kind(kind, Severity::Warning, lang, &values).about(host.to_string()));
    }
    findings
}
