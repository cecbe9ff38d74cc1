//! The human report of a probe: the verdict first, then DNS, blocklists, each SMTP session,
//! and every finding with its explanation and fix. Everything that came from the network
//! goes through [`printable`] before it reaches the terminal.

use std::io::{self, Write};

use super::localize;
use super::terminal::printable;
use super::writer::Writer;
use super::{Role, TextStyle};
use crate::dnsbl::DnsblStatus;
use crate::kb::FindingKind;
use crate::kb::{self, Lang, Ui, fill};
use crate::probe::BlocklistReport;
use crate::report::{Finding, MxHost, Report, Severity, Verdict};
use crate::smtp::{Session, SessionOutcome, Stage, Step, TlsProblem};

/// How much to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Detail {
    /// The SMTP transcript, every blocklist answer, every finding in full.
    pub transcript: bool,
}

fn verdict_role(verdict: Verdict) -> Role {
    match verdict {
        Verdict::Ok => Role::Ok,
        Verdict::Transient | Verdict::Unknown => Role::Warn,
        Verdict::Permanent => Role::Fail,
    }
}

/// The verdict line: "mail to example.com: deliverable".
#[must_use]
pub fn verdict_line(ui: &Ui, domain: &str, verdict: Verdict) -> String {
    let template = match verdict {
        Verdict::Ok => ui.verdict_ok,
        Verdict::Transient => ui.verdict_transient,
        Verdict::Permanent => ui.verdict_permanent,
        Verdict::Unknown => ui.verdict_unknown,
    };
    fill(template, &[("domain", &printable(domain))])
}

/// A severity's word in the reader's language and its colour (also the sender report's).
pub(super) fn severity_label(ui: &Ui, severity: Severity) -> (&'static str, Role) {
    match severity {
        Severity::Ok => (ui.severity_ok, Role::Ok),
        Severity::Info => (ui.severity_info, Role::Dim),
        Severity::Warning => (ui.severity_warning, Role::Warn),
        Severity::Transient => (ui.severity_transient, Role::Warn),
        Severity::Permanent => (ui.severity_permanent, Role::Fail),
    }
}

fn outcome_label(ui: &Ui, outcome: SessionOutcome) -> &'static str {
    match outcome {
        SessionOutcome::Completed => ui.outcome_completed,
        SessionOutcome::ConnectRefused => ui.outcome_connect_refused,
        SessionOutcome::ConnectTimeout => ui.outcome_connect_timeout,
        SessionOutcome::ConnectUnreachable => ui.outcome_connect_unreachable,
        SessionOutcome::ConnectFailed => ui.outcome_connect_failed,
        SessionOutcome::GreetingRejected => ui.outcome_greeting_rejected,
        SessionOutcome::Rejected => ui.outcome_rejected,
        SessionOutcome::Timeout => ui.outcome_timeout,
        SessionOutcome::ProtocolError => ui.outcome_protocol_error,
        SessionOutcome::Closed => ui.outcome_closed,
        SessionOutcome::TlsFailed => ui.outcome_tls_failed,
    }
}

fn ms(duration: std::time::Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

/// One probe's report.
pub fn report(
    out: &mut dyn Write,
    report: &Report,
    lang: Lang,
    style: TextStyle,
    detail: Detail,
) -> io::Result<()> {
    let report = &*localize::report(report, lang);
    let ui = kb::ui(lang);
    let mut w = Writer::new(out, style);
    let verdict = verdict_line(ui, &report.domain, report.verdict);
    w.line(&format!(
        "{} {}",
        verdict_role(report.verdict).paint(&verdict).bold(),
        Role::Dim.paint(&format!(
            "({})",
            fill(ui.label_took, &[("ms", &ms(report.timings.total))])
        ))
    ))?;

    w.blank()?;
    w.line(&Role::Label.paint(ui.heading_dns).to_string())?;
    if report.null_mx && report.mx.is_empty() {
        w.paragraph(2, ui.label_null_mx)?;
    } else if report.implicit_mx {
        w.paragraph(2, ui.label_implicit_mx)?;
    }
    if report.mx.is_empty() && !report.null_mx {
        w.paragraph(2, ui.label_no_mx)?;
    }
    for host in &report.mx {
        mx_lines(&mut w, ui, host)?;
        policy_lines(&mut w, ui, report, host)?;
    }

    w.blank()?;
    w.line(&Role::Label.paint(ui.heading_blocklists).to_string())?;
    let nothing_to_look_up = report.mx.iter().all(|h| h.addresses.is_empty());
    if report.dnsbl.is_empty() && report.dnsbl_lists.is_empty() && nothing_to_look_up {
        // Not `--no-dnsbl`: there was no address to look up (null MX, no usable MX).
        w.paragraph(2, ui.label_dnsbl_no_address)?;
    } else {
        blocklist_lines(&mut w, ui, &report.dnsbl, report.dnsbl_lists.len(), detail)?;
    }

    w.blank()?;
    w.line(&Role::Label.paint(ui.heading_smtp).to_string())?;
    if report.sessions.is_empty() {
        w.paragraph(2, ui.label_no_session)?;
    }
    for session in &report.sessions {
        session_lines(&mut w, lang, session, detail)?;
    }

    findings(&mut w, ui, &report.findings, detail)
}

/// Under an exchanger, what DANE and MTA-STS senders make of it: one line each, only for a
/// domain that publishes the policy.
fn policy_lines(w: &mut Writer<'_>, ui: &Ui, report: &Report, host: &MxHost) -> io::Result<()> {
    let Some(transport) = &report.transport else {
        return Ok(());
    };
    let about_host = |prefix: &str| {
        report.findings.iter().find(|f| {
            f.kind.key().starts_with(prefix) && f.subject.as_deref() == Some(host.host.as_str())
        })
    };
    if let Some(finding) = about_host("dane-") {
        let (word, role) = match finding.kind {
            FindingKind::DaneValid => (
                fill(
                    ui.policy_dane_valid,
                    &[("parameters", finding.param("parameters"))],
                ),
                Role::Ok,
            ),
            FindingKind::DaneMismatch => (ui.policy_dane_mismatch.to_string(), Role::Fail),
            FindingKind::DaneBogus => (ui.policy_dane_bogus.to_string(), Role::Fail),
            FindingKind::DaneNoStarttls => (ui.policy_dane_no_starttls.to_string(), Role::Fail),
            FindingKind::DaneUnsigned => (ui.policy_dane_unsigned.to_string(), Role::Warn),
            FindingKind::DaneUnusable => (ui.policy_dane_unusable.to_string(), Role::Warn),
            _ => (ui.policy_dane_not_checked.to_string(), Role::Dim),
        };
        w.line(&format!("        DANE: {}", role.paint(&word)))?;
    }
    if let Some(policy) = transport
        .domain
        .mta_sts
        .policy
        .as_ref()
        .filter(|p| p.is_valid())
    {
        let mode = match policy.mode {
            Some(crate::policy::mta_sts::Mode::Enforce) => "enforce",
            Some(crate::policy::mta_sts::Mode::Testing) => "testing",
            _ => "none",
        };
        let (template, role) = if policy.allows(&host.host) {
            (ui.policy_mta_sts_listed, Role::Ok)
        } else if mode == "enforce" {
            (ui.policy_mta_sts_not_listed, Role::Fail)
        } else {
            (ui.policy_mta_sts_not_listed, Role::Warn)
        };
        w.line(&format!(
            "        MTA-STS: {}",
            role.paint(&fill(template, &[("mode", mode)]))
        ))?;
    }
    Ok(())
}

fn mx_lines(w: &mut Writer<'_>, ui: &Ui, host: &MxHost) -> io::Result<()> {
    let name = printable(&host.host).into_owned();
    let preference = if host.implicit {
        "-".to_string()
    } else {
        host.preference.to_string()
    };
    if host.addresses.is_empty() {
        return w.line(&format!(
            "  MX {preference:>5} {}  {}",
            Role::Host.paint(&name),
            Role::Warn.paint(ui.label_no_address)
        ));
    }
    for (i, address) in host.addresses.iter().enumerate() {
        let reverse = host.reverse_dns.iter().find(|r| r.address == *address);
        let ptr = match reverse {
            Some(r) if r.names.is_empty() => Role::Dim.paint(ui.label_ptr_none).to_string(),
            Some(r) => {
                let names = printable(&r.names.join(", ")).into_owned();
                if r.forward_confirmed {
                    Role::Dim
                        .paint(&fill(ui.label_ptr_confirmed, &[("names", &names)]))
                        .to_string()
                } else {
                    Role::Warn
                        .paint(&fill(ui.label_ptr_unconfirmed, &[("names", &names)]))
                        .to_string()
                }
            }
            None => String::new(),
        };
        let lead = if i == 0 {
            format!("  MX {preference:>5} {}", Role::Host.paint(&name))
        } else {
            format!("           {}", " ".repeat(name.chars().count()))
        };
        w.line(&format!(
            "{lead}  {}  {ptr}",
            Role::Host.paint(&address.to_string())
        ))?;
    }
    Ok(())
}

fn status_text(status: DnsblStatus, ui: &Ui) -> &'static str {
    match status {
        DnsblStatus::Listed => ui.dnsbl_status_listed,
        DnsblStatus::NotListed => ui.dnsbl_status_not_listed,
        DnsblStatus::PublicResolver => ui.dnsbl_status_public_resolver,
        DnsblStatus::RateLimited => ui.dnsbl_status_rate_limited,
        DnsblStatus::Typo => ui.dnsbl_status_typo,
        DnsblStatus::Blocked => ui.dnsbl_status_blocked,
        DnsblStatus::InvalidAnswer => ui.dnsbl_status_invalid_answer,
        DnsblStatus::Failed => ui.dnsbl_status_failed,
        DnsblStatus::Skipped => ui.dnsbl_status_skipped,
        DnsblStatus::Unreliable => ui.dnsbl_status_unreliable,
    }
}

/// A certificate problem as the report names it, in the language of `ui`.
fn tls_problem_text(problem: &TlsProblem, ui: &Ui) -> &'static str {
    match problem {
        TlsProblem::Untrusted => ui.tls_untrusted,
        TlsProblem::SelfSigned => ui.tls_self_signed,
        TlsProblem::Expired => ui.tls_expired,
        TlsProblem::NotYetValid => ui.tls_not_yet_valid,
        TlsProblem::ExpiringSoon { .. } => ui.tls_expiring_soon,
        TlsProblem::NameMismatch => ui.tls_name_mismatch,
        TlsProblem::Other { .. } => ui.tls_other,
    }
}

/// "ADDRESS on LIST: STATUS", dimmed when the answer is the ordinary "not listed".
fn status_line(
    w: &mut Writer<'_>,
    ui: &Ui,
    addresses: &str,
    list: &str,
    status: DnsblStatus,
) -> io::Result<()> {
    let role = if status == DnsblStatus::NotListed {
        Role::Dim
    } else {
        Role::Warn
    };
    w.line(&format!(
        "  {}",
        role.paint(&fill(
            ui.label_dnsbl_status,
            &[
                ("address", addresses),
                ("list", list),
                ("status", status_text(status, ui)),
            ]
        ))
    ))
}

fn blocklist_lines(
    w: &mut Writer<'_>,
    ui: &Ui,
    results: &[crate::dnsbl::DnsblResult],
    lists: usize,
    detail: Detail,
) -> io::Result<()> {
    if results.is_empty() && lists == 0 {
        return w.paragraph(2, ui.label_dnsbl_off);
    }
    let mut shown = 0;
    for result in results {
        let address = result.address.to_string();
        if result.listed {
            shown += 1;
            let meaning = printable(&result.meanings.join("; ")).into_owned();
            w.line(&format!(
                "  {}",
                Role::Fail.paint(&fill(
                    ui.label_listed_on,
                    &[
                        ("address", &address),
                        ("list", &result.list),
                        ("meaning", &meaning)
                    ]
                ))
            ))?;
            for txt in &result.txt {
                w.paragraph(4, &format!("\"{}\"", printable(txt)))?;
            }
        } else if detail.transcript {
            shown += 1;
            status_line(w, ui, &address, &result.list, result.status)?;
        }
    }
    if !detail.transcript {
        // Errors are the list's, not the address's: one line per list and kind of error.
        let mut groups: Vec<(&str, DnsblStatus, Vec<String>)> = Vec::new();
        for result in results.iter().filter(|r| {
            !r.listed && !matches!(r.status, DnsblStatus::NotListed | DnsblStatus::Skipped)
        }) {
            match groups
                .iter_mut()
                .find(|(list, status, _)| *list == result.list && *status == result.status)
            {
                Some((_, _, addresses)) => addresses.push(result.address.to_string()),
                None => groups.push((
                    &result.list,
                    result.status,
                    vec![result.address.to_string()],
                )),
            }
        }
        for (list, status, addresses) in groups {
            shown += 1;
            status_line(w, ui, &addresses.join(", "), list, status)?;
        }
    }
    if shown == 0 {
        let mut addresses: Vec<_> = results.iter().map(|r| r.address).collect();
        addresses.sort();
        addresses.dedup();
        w.line(&format!(
            "  {}",
            Role::Ok.paint(&fill(
                ui.label_not_listed,
                &[
                    ("lists", &lists.to_string()),
                    ("addresses", &addresses.len().to_string())
                ]
            ))
        ))?;
    }
    Ok(())
}

fn session_lines(
    w: &mut Writer<'_>,
    lang: Lang,
    session: &Session,
    detail: Detail,
) -> io::Result<()> {
    let ui = kb::ui(lang);
    let role = match session.outcome {
        SessionOutcome::Completed => Role::Ok,
        SessionOutcome::TlsFailed => Role::Warn,
        _ => Role::Fail,
    };
    let mut outcome = outcome_label(ui, session.outcome).to_string();
    if let Some(stage) = session
        .stage
        .filter(|_| session.outcome != SessionOutcome::GreetingRejected)
    {
        outcome.push(' ');
        outcome.push_str(&fill(
            ui.label_at_stage,
            &[("stage", localize::stage_label(stage, lang))],
        ));
    }
    let target = match session.address {
        std::net::IpAddr::V4(a) => format!("{a}:{}", session.port),
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", session.port),
    };
    let mut line = format!(
        "  {} {}  {}  {}",
        Role::Host.paint(&printable(&session.host)),
        Role::Host.paint(&target),
        role.paint(&outcome),
        Role::Dim.paint(&fill(ui.label_took, &[("ms", &ms(session.duration))]))
    );
    if session.plain_retry {
        line.push_str("  ");
        line.push_str(&Role::Dim.paint(ui.label_plain_retry).to_string());
    }
    w.line(&line)?;
    if let Some(tls) = &session.tls {
        let trust = if tls.trusted {
            Role::Ok.paint(ui.tls_trusted).to_string()
        } else {
            let problems: Vec<&str> = tls
                .problems
                .iter()
                .map(|p| tls_problem_text(p, ui))
                .collect();
            Role::Warn
                .paint(&problems.join(ui.list_separator))
                .to_string()
        };
        let leaf = tls.chain.first().map_or(String::new(), |c| {
            format!(
                "{} · {} → {}",
                printable(&c.names.join(", ")),
                printable(&c.issuer),
                c.not_after
            )
        });
        w.line(&format!(
            "    {} {}  {}  {}",
            tls.version,
            Role::Dim.paint(&tls.cipher),
            trust,
            Role::Dim.paint(&leaf)
        ))?;
    }
    if detail.transcript {
        for step in &session.steps {
            transcript_step(w, step, lang)?;
        }
    } else if let Some(step) = session
        .steps
        .iter()
        .rev()
        .find(|s| s.reply.is_some() && !matches!(s.stage, Stage::Quit | Stage::Rset))
    {
        // The reply that tells how it ended.
        if let (Some(reply), true) = (&step.reply, session.outcome != SessionOutcome::Completed) {
            for line in reply_lines(reply) {
                w.line(&format!(
                    "    {} {}",
                    Role::Dim.paint("<-"),
                    printable(&line)
                ))?;
            }
        }
    }
    Ok(())
}

fn reply_lines(reply: &crate::reply::Reply) -> Vec<String> {
    let code = reply.code.map(|c| c.to_string()).unwrap_or_default();
    let last = reply.lines.len().saturating_sub(1);
    reply
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            if code.is_empty() {
                line.clone()
            } else {
                format!("{code}{}{line}", if i == last { ' ' } else { '-' })
            }
        })
        .collect()
}

/// A step as swaks shows it: `->` sent, `<-` received, `~>` / `<~` inside TLS.
fn transcript_step(w: &mut Writer<'_>, step: &Step, lang: Lang) -> io::Result<()> {
    let ui = kb::ui(lang);
    let (send, receive) = if step.tls { ("~>", "<~") } else { ("->", "<-") };
    let time = Role::Dim
        .paint(&fill(ui.label_took, &[("ms", &ms(step.duration))]))
        .to_string();
    match step.stage {
        Stage::Connect | Stage::TlsHandshake => w.line(&format!(
            "    {} {}  {time}",
            Role::Dim.paint("=="),
            localize::stage_label(step.stage, lang)
        )),
        _ => {
            if let Some(command) = &step.command {
                w.line(&format!(
                    "    {} {}",
                    Role::Code.paint(send),
                    printable(&command.line())
                ))?;
            }
            if let Some(reply) = &step.reply {
                let lines = reply_lines(reply);
                let last = lines.len().saturating_sub(1);
                for (i, line) in lines.iter().enumerate() {
                    let suffix = if i == last {
                        format!("  {time}")
                    } else {
                        String::new()
                    };
                    w.line(&format!(
                        "    {} {}{suffix}",
                        Role::Host.paint(receive),
                        printable(line)
                    ))?;
                }
            }
            Ok(())
        }
    }?;
    if let Some(error) = &step.error {
        w.line(&format!(
            "    {} {}",
            Role::Warn.paint("!!"),
            printable(&localize::step_error(error, lang))
        ))?;
    }
    Ok(())
}

/// Starts the findings section, when there are findings, and gives them worst first
/// (also the sender report's).
pub(super) fn findings_section<'a>(
    w: &mut Writer<'_>,
    ui: &Ui,
    all: &'a [Finding],
) -> io::Result<Vec<&'a Finding>> {
    if all.is_empty() {
        return Ok(Vec::new());
    }
    w.blank()?;
    w.line(&Role::Label.paint(ui.heading_findings).to_string())?;
    let mut sorted: Vec<&Finding> = all.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(sorted)
}

fn findings(w: &mut Writer<'_>, ui: &Ui, all: &[Finding], detail: Detail) -> io::Result<()> {
    for finding in findings_section(w, ui, all)? {
        let (label, role) = severity_label(ui, finding.severity);
        let codes = [
            finding.code.map(|c| c.to_string()),
            finding.enhanced.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let codes = if codes.is_empty() {
            String::new()
        } else {
            format!("{} ", Role::Code.paint(&codes))
        };
        w.line(&format!(
            "  {} {codes}{}",
            role.paint(&format!("[{label}]")),
            Role::Heading.paint(&printable(&finding.text.title))
        ))?;
        let full = detail.transcript || finding.severity >= Severity::Warning;
        if full {
            w.paragraph(4, &finding.text.explanation)?;
            w.paragraph(4, &fill(ui.fix_line, &[("fix", &finding.text.fix)]))?;
        }
    }
    Ok(())
}

/// `smtpdiag blocklist`: one line per listing or error, then the findings.
pub fn blocklist_report(
    out: &mut dyn Write,
    report: &BlocklistReport,
    lang: Lang,
    style: TextStyle,
    detail: Detail,
) -> io::Result<()> {
    let report = &localize::blocklist_report(report, lang);
    let ui = kb::ui(lang);
    let mut w = Writer::new(out, style);
    w.line(&Role::Label.paint(ui.heading_blocklists).to_string())?;
    blocklist_lines(&mut w, ui, &report.dnsbl, report.dnsbl_lists.len(), detail)?;
    findings(&mut w, ui, &report.findings, detail)
}

/// The table after a batch: how many domains got each verdict, then the failing ones
/// (at most `cap` of them, so that memory does not grow with the list).
pub fn summary(
    out: &mut dyn Write,
    counts: &[usize; 4],
    failing: &[(String, Verdict, std::time::Duration)],
    cap: usize,
    lang: Lang,
    style: TextStyle,
) -> io::Result<()> {
    let ui = kb::ui(lang);
    let mut w = Writer::new(out, style);
    w.blank()?;
    let total: usize = counts.iter().sum();
    w.line(&format!(
        "{}  {total} {}",
        Role::Label.paint(ui.heading_summary),
        ui.label_domains
    ))?;
    for (verdict, count) in [
        (Verdict::Ok, counts[0]),
        (Verdict::Transient, counts[1]),
        (Verdict::Permanent, counts[2]),
        (Verdict::Unknown, counts[3]),
    ] {
        w.line(&format!(
            "  {}  {count}",
            verdict_role(verdict).paint(&format!("{:<9}", verdict_word(verdict)))
        ))?;
    }
    let width = failing
        .iter()
        .map(|(d, _, _)| d.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    if !failing.is_empty() {
        w.blank()?;
    }
    for (domain, verdict, took) in failing {
        w.line(&format!(
            "  {:<width$}  {}  {}",
            printable(domain),
            verdict_role(*verdict).paint(&format!("{:<9}", verdict_word(*verdict))),
            Role::Dim.paint(&format!("{} ms", ms(*took)))
        ))?;
    }
    let not_ok = total - counts[0];
    if not_ok > failing.len() && failing.len() >= cap {
        w.line(&format!("  … +{}", not_ok - failing.len()))?;
    }
    Ok(())
}

/// The verdict as the JSON contract spells it.
#[must_use]
pub fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok",
        Verdict::Transient => "transient",
        Verdict::Permanent => "permanent",
        Verdict::Unknown => "unknown",
    }
}
