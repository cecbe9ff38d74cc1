//! JSON: the same models as the human text, without colour, for scripts. Text that came
//! from the network is carried escaped by JSON's own rules, so it stays lossless.

use std::io::{self, Write};

use serde::Serialize;

use crate::input::Explained;
use crate::kb::{Comparison, Lang};

#[derive(Serialize)]
struct ExplainDocument<'a> {
    lang: Lang,
    results: &'a [Explained],
}

#[derive(Serialize)]
struct CompareDocument<'a> {
    lang: Lang,
    #[serde(flatten)]
    comparison: &'a Comparison,
}

/// `smtpdiag explain --json`: `{"lang": "en", "results": [page, ...]}`.
pub fn explain_pages(out: &mut dyn Write, pages: &[Explained], lang: Lang) -> io::Result<()> {
    write_pretty(
        out,
        &ExplainDocument {
            lang,
            results: pages,
        },
    )
}

/// `smtpdiag compare --json`: the comparison with its language.
pub fn comparison(out: &mut dyn Write, comparison: &Comparison, lang: Lang) -> io::Result<()> {
    write_pretty(out, &CompareDocument { lang, comparison })
}

/// One probe report as one line of JSON Lines, its texts in `lang`.
pub fn report_line(
    out: &mut dyn Write,
    report: &crate::report::Report,
    lang: Lang,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &*super::localize::report(report, lang))?;
    writeln!(out)
}

/// A domain of a batch that could not be probed at all (a bad line of the input file).
pub fn error_line(out: &mut dyn Write, input: &str, error: &str, exit_code: u8) -> io::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &serde_json::json!({ "domain": input, "error": error, "exit_code": exit_code }),
    )?;
    writeln!(out)
}

/// `smtpdiag blocklist --json`, its texts in `lang`.
pub fn blocklist(
    out: &mut dyn Write,
    report: &crate::probe::BlocklistReport,
    lang: Lang,
) -> io::Result<()> {
    write_pretty(out, &super::localize::blocklist_report(report, lang))
}

fn write_pretty(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}
