//! `docs/reply-codes.md`, generated from the knowledge base so it cannot drift from it
//! (a test compares the two).

use std::fmt::Write as _;

use super::{Lang, basic_facts, enhanced_facts, lang_data, lookup, signature_facts};

/// The Markdown reference of every code and signature.
#[must_use]
pub fn reply_codes_markdown() -> String {
    let mut md = String::new();
    md.push_str(
        "<!-- Generated from kb/ by `UPDATE_DOCS=1 cargo test --test kb`. Do not edit. -->\n",
    );
    md.push_str("# Reply codes smtpdiag explains\n\n");
    md.push_str(
        "Every code below has a full page (Description, When you see it, How to fix) in each \
         language: `smtpdiag explain CODE --lang LANG`. A valid code that is not listed is \
         explained by its class.\n\n",
    );

    md.push_str("## Basic reply codes\n\n");
    header(&mut md, &["Code", "Class"], &["References"]);
    for facts in basic_facts() {
        let titles = Lang::ALL
            .iter()
            .map(|l| lookup(lang_data(*l).basic, facts.code).map_or("", |t| t.title))
            .collect::<Vec<_>>();
        row(
            &mut md,
            &[&facts.code.to_string(), &format!("{}xx", facts.code / 100)],
            &titles,
            &[&facts.rfc.join(", ")],
        );
    }

    md.push_str("\n## Enhanced status codes\n\n");
    md.push_str("Keyed `X.subject.detail`; the class digit (2, 4, 5) says how final it is.\n\n");
    header(
        &mut md,
        &["Code", "Classes"],
        &["Usual basic codes", "References"],
    );
    for facts in enhanced_facts() {
        let key = (facts.subject, facts.detail);
        let titles = Lang::ALL
            .iter()
            .map(|l| lookup(lang_data(*l).enhanced, key).map_or("", |t| t.title))
            .collect::<Vec<_>>();
        let classes: Vec<String> = facts.classes.iter().map(u8::to_string).collect();
        let basic: Vec<String> = facts.basic.iter().map(u16::to_string).collect();
        row(
            &mut md,
            &[
                &format!("X.{}.{}", facts.subject, facts.detail),
                &classes.join(", "),
            ],
            &titles,
            &[&basic.join(", "), &facts.rfc.join(", ")],
        );
    }

    md.push_str("\n## Reply signatures\n\n");
    md.push_str("Well-known reply texts recognised by pattern (`kb/signatures.toml`).\n\n");
    md.push_str("| Id | Provider | Kind | Title |\n|---|---|---|---|\n");
    for facts in signature_facts() {
        let title = lookup(lang_data(Lang::En).signatures, facts.id).map_or("", |t| t.title);
        writeln!(
            md,
            "| `{}` | {} | {} | {} |",
            facts.id,
            cell(facts.provider),
            facts.kind,
            cell(title)
        )
        .unwrap();
    }
    md
}

fn header(md: &mut String, before: &[&str], after: &[&str]) {
    let names: Vec<String> = Lang::ALL
        .iter()
        .map(|l| lang_data(*l).ui.language_name.to_string())
        .collect();
    let all: Vec<&str> = before
        .iter()
        .copied()
        .chain(names.iter().map(String::as_str))
        .chain(after.iter().copied())
        .collect();
    writeln!(md, "| {} |", all.join(" | ")).unwrap();
    writeln!(md, "|{}", "---|".repeat(all.len())).unwrap();
}

fn row(md: &mut String, before: &[&str], titles: &[&str], after: &[&str]) {
    let cells: Vec<String> = before
        .iter()
        .chain(titles)
        .chain(after)
        .map(|c| cell(c))
        .collect();
    writeln!(md, "| {} |", cells.join(" | ")).unwrap();
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// `docs/causes.md`: every cause with its parent, the codes that name it, what decides it
/// and its text in English.
#[must_use]
pub fn causes_markdown() -> String {
    let mut md = String::new();
    md.push_str(
        "<!-- Generated from kb/ by `UPDATE_DOCS=1 cargo test --test kb`. Do not edit. -->\n",
    );
    md.push_str("# Causes\n\n");
    md.push_str(
        "Every reply smtpdiag explains, pasted or met by the probe, is given one cause: the \
         JSON field `cause` (`id`, `parent` for a finer cause, `evidence`). The order in which \
         a cause is decided, and the words of each rule, are in `kb/causes.toml`; the text of \
         each cause in every language is in `kb/<lang>/causes.toml`.\n\n",
    );
    md.push_str(
        "Decided, first that applies: a reply signature (`kb/signatures.toml`); a strong \
         rule's words; a code that names the cause; a weak rule's words; a code that only \
         suggests it; else `unknown`. A reply refused at MAIL FROM that reads like a bad \
         address is about the sender (`sender-rejected`, `sender-domain-not-found`).\n\n",
    );
    md.push_str("| Cause | Parent | Codes | Signatures | Rules | Title |\n");
    md.push_str("|---|---|---|---|---|---|\n");
    for cause in super::cause_facts() {
        let codes: Vec<String> = cause
            .codes
            .iter()
            .map(|c| (*c).to_string())
            .chain(cause.fallback.iter().map(|c| format!("({c})")))
            .collect();
        let signatures = signature_facts()
            .iter()
            .filter(|s| s.cause == cause.id)
            .count();
        let rules = super::data::CAUSE_RULES
            .iter()
            .filter(|r| r.cause == cause.id)
            .count();
        let title = super::cause_text(cause.id, Lang::En).title;
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} | {} |",
            cause.id,
            cause.parent.map_or(String::new(), |p| format!("`{p}`")),
            codes.join(", "),
            signatures,
            rules,
            title
        );
    }
    md.push_str("\nCodes in parentheses only suggest the cause when nothing more specific does.\n");
    for cause in super::cause_facts() {
        let text = super::cause_text(cause.id, Lang::En);
        let _ = write!(
            md,
            "\n## `{}`{}\n\n**{}**\n\n{}\n\n*Fix:* {}\n",
            cause.id,
            cause
                .parent
                .map_or(String::new(), |p| format!(" (refines `{p}`)")),
            text.title,
            text.explanation,
            text.fix
        );
    }
    md
}
