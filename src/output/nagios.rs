//! The one-line output of a Nagios / Icinga plugin, with performance data: the exit status
//! already follows the plugin convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

use std::io::{self, Write};

use super::localize;
use super::probe::verdict_line;
use super::terminal::printable;
use crate::kb::{self, Lang};
use crate::report::{Report, Verdict};

fn status_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "OK",
        Verdict::Transient => "WARNING",
        Verdict::Permanent => "CRITICAL",
        Verdict::Unknown => "UNKNOWN",
    }
}

/// `SMTPDIAG CRITICAL - mail to x: permanently failing: <worst finding> | dns=0.012s;;;0 ...`
pub fn line(out: &mut dyn Write, report: &Report, lang: Lang) -> io::Result<()> {
    let report = &*localize::report(report, lang);
    let ui = kb::ui(lang);
    let mut text = verdict_line(ui, &report.domain, report.verdict);
    if let Some(worst) = report
        .findings
        .iter()
        .filter(|f| f.severity >= crate::report::Severity::Transient)
        .max_by_key(|f| f.severity)
    {
        text.push_str(": ");
        text.push_str(&worst.text.title);
    }
    // A plugin line is one line, and `|` starts the performance data.
    let text = printable(&text).replace('|', "/");
    let t = &report.timings;
    writeln!(
        out,
        "SMTPDIAG {} - {text} | total={:.3}s;;;0 dns={:.3}s;;;0 dnsbl={:.3}s;;;0 smtp={:.3}s;;;0 findings={};;;0",
        status_word(report.verdict),
        t.total.as_secs_f64(),
        t.dns.as_secs_f64(),
        t.dnsbl.as_secs_f64(),
        t.smtp.as_secs_f64(),
        report.findings.len()
    )
}
