//! Real replies from real bounces (`tests/fixtures/corpus/`): every one is found in its
//! text, with the codes the text holds, and given a cause that agrees with the reason the
//! Sisimai classifier gives it. Runs without the lab.

use smtpdiag::kb::{self, Lang, Query};

#[path = "support/sisimai.rs"]
mod sisimai;
use sisimai::{fair, rows};

/// Rows where we disagree with Sisimai's label, and why. They count against the score all
/// the same; listing them keeps the disagreement deliberate.
const DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "550 5.2.1 <kijitora@libsisimai.org>... User Unknown",
        "suspend: the server says the user is unknown; 5.2.1 (mailbox disabled) alone does \
         not outweigh its words",
    ),
    (
        "<this-local-part-does-not-exist-on-the-server@ezweb.ne.jp>: 550 user unknown",
        "suspend: nothing in the reply says the mailbox is suspended",
    ),
    (
        "421 4.7.0 [TSS04] Messages from 192.0.2.192 temporarily deferred",
        "rejected: Yahoo's TSS04 is a deferral for volume and complaints, a reputation \
         throttle, not a refusal of the sender address",
    ),
    (
        "You've reached your daily relay quota",
        "blocked: the reply says a sending quota was reached, which is a rate limit",
    ),
];

#[test]
fn every_reply_is_found_with_the_codes_its_text_holds() {
    for row in rows() {
        let query =
            Query::parse(&row.text).unwrap_or_else(|e| panic!("not read ({e}): {}", row.text));
        let page = kb::explain(&row.text, &query, Lang::En);
        let reply = page.reply.as_ref();
        // Sisimai's 5.0.9xx statuses are its own; a code counts only if the text has it.
        if row.code != "-" && row.text.contains(&row.code) {
            assert_eq!(
                reply.and_then(|r| r.code).map(|c| c.to_string()),
                Some(row.code.clone()),
                "basic code of: {}",
                row.text
            );
        }
        if row.status != "-" && !row.status.starts_with("5.0.9") && row.text.contains(&row.status) {
            assert_eq!(
                reply.and_then(|r| r.enhanced).map(|e| e.to_string()),
                Some(row.status.clone()),
                "enhanced code of: {}",
                row.text
            );
        }
    }
}

#[test]
fn causes_agree_with_sisimai_on_95_percent() {
    let mut agreed = 0;
    let mut total = 0;
    let mut misses = Vec::new();
    for row in rows() {
        let Some(accepted) = fair(&row.reason) else {
            // `delivered` rows: a success has no failure cause to agree on.
            continue;
        };
        total += 1;
        let query = Query::parse(&row.text).unwrap();
        let page = kb::explain(&row.text, &query, Lang::En);
        let cause = &page.cause;
        if accepted.contains(&cause.id) || cause.parent.is_some_and(|p| accepted.contains(&p)) {
            agreed += 1;
        } else {
            let known = DISAGREEMENTS
                .iter()
                .any(|(text, _)| row.text.contains(text));
            misses.push(format!(
                "{} -> {}{}: {}",
                row.reason,
                cause.id,
                if known { " (disagreement noted)" } else { "" },
                row.text
            ));
        }
    }
    let share = f64::from(agreed) / f64::from(total);
    println!(
        "causes agree with Sisimai on {agreed}/{total} rows ({:.1}%)",
        share * 100.0
    );
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(
        share >= 0.95,
        "agreement {agreed}/{total}:\n{}",
        misses.join("\n")
    );
    let unexplained: Vec<&String> = misses
        .iter()
        .filter(|m| !m.contains("disagreement noted"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "rows that disagree without a reason in DISAGREEMENTS: {unexplained:#?}"
    );
}
