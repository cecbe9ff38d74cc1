//! The development corpus of real bounces (`tests/fixtures/corpus/`) and how its labels,
//! the reasons the Sisimai classifier gives, map to our causes.

#![allow(dead_code)]

/// Sisimai's reasons and the causes of ours that are a fair reading of each. A cause
/// agrees when its id or its parent is in the set.
pub const FAIR_READINGS: &[(&str, &[&str])] = &[
    ("userunknown", &["user-unknown"]),
    ("mailboxfull", &["mailbox-full"]),
    // Sisimai's "filtered" is a refusal after a filter decided; most are unknown users.
    (
        "filtered",
        &[
            "user-unknown",
            "policy",
            "content-rejected",
            "spam-content",
            "mailbox-disabled",
        ],
    ),
    (
        "blocked",
        &["blocklisted", "bad-reputation", "no-reverse-dns", "policy"],
    ),
    (
        "rejected",
        &[
            "sender-rejected",
            "policy",
            "domain-not-found",
            "auth-failed",
        ],
    ),
    (
        "spamdetected",
        &["spam-content", "content-rejected", "bad-reputation"],
    ),
    (
        "policyviolation",
        &["policy", "content-rejected", "spam-content", "auth-failed"],
    ),
    ("toomanyconn", &["too-many-connections", "rate-limited"]),
    (
        "expired",
        &["expired", "network-error", "service-unavailable"],
    ),
    ("hostunknown", &["domain-not-found", "null-mx"]),
    (
        "notaccept",
        &["null-mx", "domain-not-found", "service-unavailable"],
    ),
    (
        "securityerror",
        &[
            "tls-required",
            "tls-failed",
            "auth-failed",
            "policy",
            "relay-denied",
        ],
    ),
    ("suspend", &["mailbox-disabled"]),
    ("norelaying", &["relay-denied"]),
    ("mesgtoobig", &["message-too-big"]),
    ("exceedlimit", &["message-too-big", "mailbox-full"]),
    ("syntaxerror", &["syntax"]),
    ("systemerror", &["system-error", "service-unavailable"]),
    ("systemfull", &["system-error", "mailbox-full"]),
    (
        "networkerror",
        &["network-error", "domain-not-found", "expired"],
    ),
    (
        "contenterror",
        &["content-rejected", "not-rfc5322", "policy"],
    ),
    ("authfailure", &["auth-failed"]),
    (
        "badreputation",
        &["bad-reputation", "blocklisted", "rate-limited"],
    ),
    ("speeding", &["rate-limited", "too-many-connections"]),
    (
        "notcompliantrfc",
        &["not-rfc5322", "content-rejected", "syntax"],
    ),
    ("requireptr", &["no-reverse-dns"]),
    ("virusdetected", &["virus", "content-rejected"]),
    ("hasmoved", &["moved", "user-unknown"]),
    ("failedstarttls", &["tls-failed", "tls-required"]),
    ("mailererror", &["system-error"]),
];

/// One row of `replies-dev.tsv`.
pub struct Row {
    pub reason: String,
    pub code: String,
    pub status: String,
    /// The message the reply comes from, e.g. `eml/lhost-postfix-01.eml`.
    pub email: String,
    pub text: String,
}

/// Every row of `replies-dev.tsv`.
pub fn rows() -> Vec<Row> {
    let tsv = include_str!("../fixtures/corpus/replies-dev.tsv");
    tsv.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 5, "bad row: {line}");
            Row {
                reason: fields[0].to_string(),
                code: fields[1].to_string(),
                status: fields[2].to_string(),
                email: fields[3].to_string(),
                text: fields[4].to_string(),
            }
        })
        .collect()
}

/// The causes that are a fair reading of a Sisimai reason; `None` for reasons that are no
/// failure (`delivered`).
pub fn fair(reason: &str) -> Option<&'static [&'static str]> {
    FAIR_READINGS
        .iter()
        .find(|(r, _)| *r == reason)
        .map(|(_, causes)| *causes)
}

/// Whether a cause (or its parent) is a fair reading of the reason.
pub fn agrees(reason: &str, id: &str, parent: Option<&str>) -> bool {
    fair(reason).is_some_and(|accepted| {
        accepted.contains(&id) || parent.is_some_and(|p| accepted.contains(&p))
    })
}
