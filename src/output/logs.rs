//! `smtpdiag logs`: the summary of a mail log as text or JSON. Everything that came from
//! the log (status texts, addresses, domains) goes through [`printable`] before it reaches
//! the terminal.

use std::io::{self, Write};

use serde::Serialize;

use super::probe::{verdict_line, verdict_word};
use super::terminal::printable;
use super::writer::Writer;
use super::{Role, TextStyle};
use crate::input::logs::{Counted, LogSummary, Time};
use crate::kb::{self, Lang, Ui, fill};
use crate::report::{Report, Severity, Verdict};

/// How many domains the text lists (JSON lists every domain kept).
pub const DOMAIN_ROWS: usize = 10;

fn time(t: Option<Time>) -> String {
    t.map_or_else(|| "-".to_string(), |t| t.to_string().replace('T', " "))
}

fn counted_list(list: &[Counted]) -> String {
    list.iter()
        .map(|c| {
            let approx = if c.error > 0 { "~" } else { "" };
            format!("{} ({approx}{})", printable(&c.key), c.count)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn split_counts(ui: &Ui, bounced: u64, deferred: u64) -> String {
    let mut parts = Vec::new();
    if bounced > 0 {
        parts.push(
            Role::Fail
                .paint(&format!("{bounced} {}", ui.logs_bounced))
                .to_string(),
        );
    }
    if deferred > 0 {
        parts.push(
            Role::Warn
                .paint(&format!("{deferred} {}", ui.logs_deferred))
                .to_string(),
        );
    }
    parts.join(", ")
}

/// The human summary; `probes` are the reports of `--probe`, shown at the end.
pub fn summary(
    out: &mut dyn Write,
    summary: &LogSummary,
    probes: &[Report],
    lang: Lang,
    style: TextStyle,
) -> io::Result<()> {
    let probes = &localized(probes, lang);
    let ui = kb::ui(lang);
    let mut w = Writer::new(out, style);
    w.line(&Role::Heading.paint(ui.logs_heading).to_string())?;
    w.line(&format!(
        "  {}",
        fill(
            ui.logs_read,
            &[
                ("lines", &summary.lines.to_string()),
                ("files", &summary.files.len().to_string()),
                ("skipped", &summary.lines_skipped.to_string()),
            ],
        )
    ))?;
    if summary.lines_too_long > 0 {
        let text = fill(
            ui.logs_too_long,
            &[("count", &summary.lines_too_long.to_string())],
        );
        w.line(&format!("  {}", Role::Dim.paint(&text)))?;
    }
    if summary.outside_window > 0 {
        let text = fill(
            ui.logs_outside_window,
            &[("count", &summary.outside_window.to_string())],
        );
        w.line(&format!("  {}", Role::Dim.paint(&text)))?;
    }
    for file in &summary.files {
        if let Some(error) = &file.error {
            let text = fill(
                ui.logs_file_error,
                &[("file", &printable(&file.name)), ("error", error)],
            );
            w.line(&format!("  {}", Role::Warn.paint(&text)))?;
        }
    }
    w.blank()?;
    if summary.failures == 0 {
        w.line(&Role::Ok.paint(ui.logs_no_failures).to_string())?;
    } else {
        let headline = fill(
            ui.logs_failures,
            &[
                ("failures", &summary.failures.to_string()),
                ("bounced", &summary.bounced.to_string()),
                ("deferred", &summary.deferred.to_string()),
            ],
        );
        let role = if summary.bounced > 0 {
            Role::Fail
        } else {
            Role::Warn
        };
        w.line(&role.paint(&headline).bold().to_string())?;
        w.line(&format!(
            "  {}",
            Role::Dim.paint(&fill(
                ui.logs_period,
                &[
                    ("first", &time(summary.first_seen)),
                    ("last", &time(summary.last_seen)),
                ],
            ))
        ))?;
        causes(&mut w, ui, summary)?;
        domains(&mut w, ui, summary, probes)?;
    }
    refused(&mut w, ui, summary)?;
    if !probes.is_empty() {
        now(&mut w, ui, probes)?;
    }
    Ok(())
}

fn causes(w: &mut Writer<'_>, ui: &Ui, summary: &LogSummary) -> io::Result<()> {
    w.blank()?;
    w.line(&Role::Label.paint(ui.logs_by_cause).to_string())?;
    for cause in &summary.by_cause {
        w.line(&format!(
            "  {} {}  {}  {}",
            Role::Heading.paint(&format!("{:>6}", cause.total)),
            Role::Heading.paint(cause.title),
            Role::Dim.paint(&format!("[{}]", cause.cause.id)),
            split_counts(ui, cause.bounced, cause.deferred)
        ))?;
        w.line(&format!(
            "    {}",
            Role::Dim.paint(&fill(
                ui.logs_first_last,
                &[
                    ("first", &time(cause.first_seen)),
                    ("last", &time(cause.last_seen)),
                ],
            ))
        ))?;
        w.paragraph(4, &fill(ui.logs_sample, &[("sample", &cause.sample.text)]))?;
        if !cause.top_domains.is_empty() {
            w.paragraph(
                4,
                &fill(
                    ui.logs_domains,
                    &[("list", &counted_list(&cause.top_domains))],
                ),
            )?;
        }
        if !cause.top_recipients.is_empty() {
            w.paragraph(
                4,
                &fill(
                    ui.logs_recipients,
                    &[("list", &counted_list(&cause.top_recipients))],
                ),
            )?;
        }
        w.paragraph(4, &fill(ui.fix_line, &[("fix", cause.fix)]))?;
    }
    Ok(())
}

fn domains(w: &mut Writer<'_>, ui: &Ui, summary: &LogSummary, probes: &[Report]) -> io::Result<()> {
    w.blank()?;
    w.line(&Role::Label.paint(ui.logs_by_domain).to_string())?;
    for domain in summary.by_domain.iter().take(DOMAIN_ROWS) {
        let name = domain.domain.as_deref().map_or_else(
            || ui.logs_no_domain.to_string(),
            |d| printable(d).into_owned(),
        );
        let approx = if domain.count_error > 0 { "~" } else { "" };
        let verdict = domain
            .domain
            .as_deref()
            .and_then(|d| probes.iter().find(|p| p.domain == d || p.ascii_domain == d))
            .map(|p| {
                format!(
                    "  {} {}",
                    Role::Dim.paint(&format!("{}:", ui.logs_now)),
                    verdict_role(p.verdict).paint(verdict_word(p.verdict))
                )
            })
            .unwrap_or_default();
        w.line(&format!(
            "  {} {}  {}{verdict}",
            Role::Heading.paint(&format!("{approx:>1}{:>5}", domain.total)),
            Role::Host.paint(&name),
            split_counts(ui, domain.bounced, domain.deferred),
        ))?;
        let causes = domain
            .causes
            .iter()
            .map(|c| format!("{} ({})", c.cause.id, c.count))
            .collect::<Vec<_>>()
            .join(", ");
        w.paragraph(4, &fill(ui.logs_causes, &[("list", &causes)]))?;
        w.line(&format!(
            "    {}",
            Role::Dim.paint(&fill(
                ui.logs_first_last,
                &[
                    ("first", &time(domain.first_seen)),
                    ("last", &time(domain.last_seen)),
                ],
            ))
        ))?;
        if let Some(sample) = &domain.sample {
            w.paragraph(4, &fill(ui.logs_sample, &[("sample", &sample.text)]))?;
        }
        if !domain.top_recipients.is_empty() {
            w.paragraph(
                4,
                &fill(
                    ui.logs_recipients,
                    &[("list", &counted_list(&domain.top_recipients))],
                ),
            )?;
        }
    }
    if summary.by_domain.len() > DOMAIN_ROWS {
        let more = summary.by_domain.len() - DOMAIN_ROWS;
        w.line(&format!(
            "  {}",
            Role::Dim.paint(&fill(ui.logs_more_domains, &[("count", &more.to_string())]))
        ))?;
    }
    if summary.domains_approximate {
        w.paragraph(2, ui.logs_approximate)?;
    }
    Ok(())
}

fn refused(w: &mut Writer<'_>, ui: &Ui, summary: &LogSummary) -> io::Result<()> {
    let refused = &summary.refused_by_us;
    if refused.total == 0 {
        return Ok(());
    }
    w.blank()?;
    w.line(
        &Role::Label
            .paint(&fill(
                ui.logs_refused,
                &[("count", &refused.total.to_string())],
            ))
            .to_string(),
    )?;
    for cause in &refused.by_cause {
        let clients = if cause.top_clients.is_empty() {
            String::new()
        } else {
            format!("  {}", Role::Dim.paint(&counted_list(&cause.top_clients)))
        };
        w.line(&format!(
            "  {:>6} {}  {}{clients}",
            cause.count,
            cause.title,
            Role::Dim.paint(&format!("[{}]", cause.cause.id))
        ))?;
    }
    Ok(())
}

fn verdict_role(verdict: Verdict) -> Role {
    match verdict {
        Verdict::Ok => Role::Ok,
        Verdict::Transient | Verdict::Unknown => Role::Warn,
        Verdict::Permanent => Role::Fail,
    }
}

/// `--probe`: each domain's verdict now, with its worst finding.
fn now(w: &mut Writer<'_>, ui: &Ui, probes: &[Report]) -> io::Result<()> {
    w.blank()?;
    w.line(&Role::Label.paint(ui.logs_now).to_string())?;
    for report in probes {
        let line = verdict_line(ui, &report.domain, report.verdict);
        w.line(&format!(
            "  {}",
            verdict_role(report.verdict).paint(&line).bold()
        ))?;
        let worst = report
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .max_by_key(|f| f.severity);
        if let Some(finding) = worst {
            w.paragraph(4, &finding.text.title)?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    summary: &'a LogSummary,
    exit_code: u8,
    #[serde(skip_serializing_if = "<[Report]>::is_empty")]
    probes: &'a [Report],
}

/// `smtpdiag logs --json`: one pretty object (docs/json.md).
pub fn json(
    out: &mut dyn Write,
    summary: &LogSummary,
    probes: &[Report],
    lang: Lang,
    exit_code: u8,
) -> io::Result<()> {
    serde_json::to_writer_pretty(
        &mut *out,
        &Document {
            summary,
            exit_code,
            probes: &localized(probes, lang),
        },
    )?;
    writeln!(out)
}

fn localized(probes: &[Report], lang: Lang) -> Vec<Report> {
    probes
        .iter()
        .map(|p| super::localize::report(p, lang).into_owned())
        .collect()
}
