//! The cause taxonomy: complete in every language, documented, and given to every form in
//! which people paste a reply. Runs without the lab.

use smtpdiag::kb::{self, EvidenceKind, Lang, Query};

/// The causes every release must have (the JSON contract of `cause.id`).
const REQUIRED: &[&str] = &[
    "user-unknown",
    "mailbox-full",
    "mailbox-disabled",
    "domain-not-found",
    "null-mx",
    "relay-denied",
    "sender-rejected",
    "blocklisted",
    "bad-reputation",
    "no-reverse-dns",
    "auth-failed",
    "spam-content",
    "virus",
    "policy",
    "rate-limited",
    "too-many-connections",
    "greylisted",
    "message-too-big",
    "syntax",
    "not-rfc5322",
    "tls-required",
    "tls-failed",
    "system-error",
    "network-error",
    "expired",
    "moved",
    "content-rejected",
    "service-unavailable",
    "unknown",
];

fn cause_of(text: &str) -> kb::Cause {
    let query = Query::parse(text).unwrap_or_else(|e| panic!("not read ({e}): {text}"));
    kb::explain(text, &query, Lang::En).cause
}

#[test]
fn every_required_cause_exists() {
    let ids: Vec<&str> = kb::cause_facts().iter().map(|c| c.id).collect();
    for id in REQUIRED {
        assert!(ids.contains(id), "missing cause {id}");
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "a cause id is used twice");
}

#[test]
fn every_cause_is_explained_in_every_language() {
    for lang in Lang::ALL {
        let texts = kb::lang_data(*lang).causes;
        for cause in kb::cause_facts() {
            let Some((_, text)) = texts.iter().find(|(id, _)| *id == cause.id) else {
                panic!("{lang}: cause {} has no text", cause.id);
            };
            for (field, value) in [
                ("title", text.title),
                ("explanation", text.explanation),
                ("fix", text.fix),
            ] {
                assert!(
                    !value.trim().is_empty(),
                    "{lang}: {}.{field} is empty",
                    cause.id
                );
            }
        }
    }
}

#[test]
fn rules_compile_and_nearly_all_are_prefiltered() {
    kb::cause_patterns_compile().unwrap();
    // A piece without literals is compiled for every reply: keep them rare, so that a
    // pasted line stays about as fast as a bare code.
    assert!(kb::signature_pieces_without_literals() <= 3);
    assert!(kb::rule_pieces_without_literals() <= 3);
}

#[test]
fn every_signature_names_a_cause() {
    let ids: Vec<&str> = kb::cause_facts().iter().map(|c| c.id).collect();
    for s in kb::signature_facts() {
        assert!(
            ids.contains(&s.cause),
            "{}: unknown cause {}",
            s.id,
            s.cause
        );
    }
}

#[test]
fn causes_doc_is_in_sync() {
    let generated = kb::causes_markdown();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/causes.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/causes.md is out of date: run `UPDATE_DOCS=1 cargo test --test causes`"
    );
    for cause in kb::cause_facts() {
        assert!(on_disk.contains(&format!("| `{}` |", cause.id)));
    }
}

/// Every form of paste named in the causes issue, with the code and cause it must give.
#[test]
fn every_form_of_paste_is_read() {
    let cases: &[(&str, Option<u16>, Option<&str>, &str)] = &[
        // A bare reply.
        (
            "550 5.1.1 User unknown",
            Some(550),
            Some("5.1.1"),
            "user-unknown",
        ),
        // The Diagnostic-Code field, with and without its name.
        (
            "Diagnostic-Code: smtp; 550 5.2.2 Mailbox full",
            Some(550),
            Some("5.2.2"),
            "mailbox-full",
        ),
        ("smtp; 550 Unknown user", Some(550), None, "user-unknown"),
        // Postfix.
        (
            "host mx.example.net[192.0.2.1] said: 550 5.1.1 <a@example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)",
            Some(550),
            Some("5.1.1"),
            "user-unknown",
        ),
        // Exim.
        (
            "host mx.example.net [192.0.2.1] SMTP error from remote mail server after RCPT TO:<a@example.net>: 550 5.7.1 Relaying denied",
            Some(550),
            Some("5.7.1"),
            "relay-denied",
        ),
        // Exchange / Office 365.
        (
            "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'",
            Some(550),
            Some("5.1.10"),
            "user-unknown",
        ),
        // qmail, no basic code.
        (
            "Sorry, no mailbox here by that name. (#5.1.1)",
            None,
            Some("5.1.1"),
            "user-unknown",
        ),
        // Code followed by a colon.
        (
            "550: 5.2.2 <a@example.jp>... Mailbox Full",
            Some(550),
            Some("5.2.2"),
            "mailbox-full",
        ),
        // Codes inside other words.
        (
            "Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1",
            Some(550),
            Some("5.1.1"),
            "user-unknown",
        ),
        // Several codes, the quoted one carries the failure.
        (
            "5.1.0 - Unknown address error 550-'5.2.2 <a@example.jp>... Mailbox Full'",
            Some(550),
            Some("5.2.2"),
            "mailbox-full",
        ),
        // A greeting before the refusal, and a DATA prompt before an error.
        (
            "220-laposte 421 4.2.1 Service refused, please try later. LPN006_107",
            Some(421),
            Some("4.2.1"),
            "policy",
        ),
        (
            "354 End data with <CR><LF>.<CR><LF> 451 4.3.0 Error: queue file write error",
            Some(451),
            Some("4.3.0"),
            "system-error",
        ),
        // Continuation prefixes repeated inline, as logs flatten them.
        (
            "550-5.7.1 [192.0.2.1] The IP you're using to send mail is not authorized to 550-5.7.1 send email directly to our servers. Please use the SMTP relay at your 550 5.7.1 service provider instead.",
            Some(550),
            Some("5.7.1"),
            "policy",
        ),
        // Amazon SES.
        (
            "554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: a@example.com",
            Some(554),
            None,
            "relay-denied",
        ),
        // Yahoo.
        (
            "554 delivery error: dd This user doesn't have a yahoo.com account (a@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com",
            Some(554),
            None,
            "user-unknown",
        ),
        // Zoho.
        (
            "550 5.1.1 User does not exist - <a@zoho.example>",
            Some(550),
            Some("5.1.1"),
            "user-unknown",
        ),
        // A whole transcript that starts with dashes.
        (
            "----- Transcript of session follows ----- ... while talking to mx.example.jp.: <<< 421 Deferred: message still undelivered after 4 hours",
            Some(421),
            None,
            "expired",
        ),
        // Words without any code.
        (
            "The recipient's mailbox is full",
            None,
            None,
            "mailbox-full",
        ),
    ];
    for (text, code, enhanced, cause) in cases {
        let query = Query::parse(text).unwrap_or_else(|e| panic!("not read ({e}): {text}"));
        let page = kb::explain(text, &query, Lang::En);
        let reply = page.reply.as_ref();
        assert_eq!(
            reply
                .and_then(|r| r.code)
                .map(smtpdiag::reply::ReplyCode::value),
            *code,
            "{text}"
        );
        assert_eq!(
            reply
                .and_then(|r| r.enhanced)
                .map(|e| e.to_string())
                .as_deref(),
            *enhanced,
            "{text}"
        );
        assert!(
            page.cause.id == *cause || page.cause.parent == Some(*cause),
            "{text}: got {}",
            page.cause.id
        );
    }
}

#[test]
fn text_with_neither_code_nor_cause_is_refused() {
    for text in ["hello world", "we sent 250 messages", "lorem ipsum 42"] {
        assert!(Query::parse(text).is_err(), "{text} accepted");
    }
}

#[test]
fn evidence_names_what_decided() {
    let by_words = cause_of("550 5.7.1 Message content rejected, UBE");
    assert_eq!(by_words.id, "spam-content");
    assert_eq!(by_words.evidence.by, EvidenceKind::Words);
    assert_eq!(by_words.evidence.words.as_deref(), Some("UBE"));

    let by_code = cause_of("550 5.2.2 <a@example.com>");
    assert_eq!(by_code.id, "mailbox-full");
    assert_eq!(by_code.evidence.by, EvidenceKind::Code);
    assert_eq!(by_code.evidence.code.as_deref(), Some("5.2.2"));

    let nothing = cause_of("599 zzz");
    assert_eq!(nothing.id, "unknown");
    assert_eq!(nothing.evidence.by, EvidenceKind::None);
}

#[test]
fn refusal_at_mail_from_is_about_the_sender() {
    let cause = cause_of(
        "SMTP error from remote mail server after MAIL FROM:<a@example.com> SIZE=1024: 553 5.1.0 a@example.com does not exist",
    );
    assert_eq!(cause.id, "sender-rejected");
    assert!(cause.evidence.command.is_some());
}

#[test]
fn a_permanent_refusal_instead_of_the_greeting_is_policy() {
    let cause = cause_of(
        "host mx.example.net [192.0.2.1] SMTP error from remote mail server after initial connection: 554 No SMTP service here",
    );
    assert_eq!(cause.id, "policy");
    // A 421 there is a busy or closing server, not a refusal of this client.
    let cause = cause_of(
        "SMTP error from remote mail server after initial connection: 421 Service not available",
    );
    assert_eq!(cause.id, "service-unavailable");
}

/// Status texts of MTA logs that were misread: words of a host name, TLS required versus
/// failed, a local mailbox limit, Exim's retry note.
#[test]
fn log_status_texts() {
    for (text, cause) in [
        (
            "host mx.spam.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
            "user-unknown",
        ),
        (
            "host mx.antivirus.example[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
            "user-unknown",
        ),
        (
            "a TLS session is required, but the server did not offer TLS support",
            "tls-required",
        ),
        (
            "a TLS session is required, but an attempt to start TLS failed",
            "tls-failed",
        ),
        (
            "cannot update mailbox /var/mail/bob for user bob. error writing message: File too large",
            "mailbox-full",
        ),
        (
            "retry time not reached for any host for 'example.com'",
            "network-error",
        ),
    ] {
        assert_eq!(cause_of(text).id, cause, "{text}");
    }
}

/// What senders that enforce DANE or MTA-STS say when the recipient domain's policy and its
/// servers disagree: the finer causes under `tls-failed`, and the plain TLS texts left alone.
#[test]
fn transport_security_policy_failures() {
    for (text, cause) in [
        // Stalwart's DSN text for a DANE failure: words, no signature.
        (
            "<bill@example.com> (DANE failed to authenticate 'mx.example.com': No matching certificates found in TLSA records)",
            "dane-failed",
        ),
        // Postfix's warning before a TLSA lookup deferral.
        (
            "warning: DANE TLSA lookup problem: Host or domain name not found. Name service error for name=_25._tcp.mx.example.com type=TLSA: Host not found, try again",
            "dnssec-failed",
        ),
        (
            "450 4.7.324 dnssec-invalid: Destination domain returned invalid DNSSEC records",
            "dnssec-failed",
        ),
        (
            "Nov 30 08:20:00 mail postfix/smtp[3010]: 6F708192A3: to=<a@example.com>, relay=none, delay=1, delays=0.1/0/0.9/0, dsn=4.7.5, status=deferred (TLSA lookup error for mx.example.com:25)",
            "dnssec-failed",
        ),
        (
            "451 4.4.8 MX hosts of example.com failed MTA-STS validation.",
            "mta-sts-failed",
        ),
        (
            "MX host mx2.example.com is not permitted by MTA-STS policy",
            "mta-sts-failed",
        ),
        // A signature of the parent cause is refined by the words that name the policy.
        (
            "dsn=4.7.5, status=deferred (Server certificate not trusted) TLSA 3 1 1 digest mismatch",
            "dane-failed",
        ),
        // Without them it stays the parent: verify and secure levels say the same.
        (
            "dsn=4.7.5, status=deferred (Server certificate not trusted)",
            "tls-failed",
        ),
        (
            "a TLS session is required, but an attempt to start TLS failed",
            "tls-failed",
        ),
        (
            "dsn=4.7.4, status=deferred (TLS is required, but was not offered by host mx.example.com[192.0.2.1])",
            "tls-required",
        ),
        (
            "530 5.7.0 Must issue a STARTTLS command first",
            "tls-required",
        ),
    ] {
        let got = cause_of(text);
        assert_eq!(got.id, cause, "{text}");
        if cause != "tls-failed" && cause != "tls-required" {
            assert_eq!(got.parent, Some("tls-failed"), "{text}");
        }
    }
}

#[test]
fn weak_causes_from_the_issue() {
    for (text, cause) in [
        (
            "452 4.3.2 Connection rate limit exceeded",
            "too-many-connections",
        ),
        (
            "550 5.7.1 Fix reverse DNS for 203.0.113.2",
            "no-reverse-dns",
        ),
        (
            "554 Comcast requires that all mail servers must have a PTR record with a valid Reverse DNS entry",
            "no-reverse-dns",
        ),
        (
            "550 5.7.1 Email rejected per DMARC policy",
            "dmarc-rejected",
        ),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using dnsbl.sorbs.net",
            "dead-blocklist",
        ),
        (
            "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "blocklisted",
        ),
    ] {
        let got = cause_of(text);
        assert!(
            got.id == cause || got.parent == Some(cause),
            "{text}: got {}",
            got.id
        );
    }
}

#[test]
fn provider_meaning_replaces_the_registry_page() {
    let text =
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup";
    let query = Query::parse(text).unwrap();
    let page = kb::explain(text, &query, Lang::En);
    assert_eq!(page.cause.id, "user-unknown");
    let enhanced = page
        .explanations
        .iter()
        .find(|e| e.code == "5.1.10")
        .unwrap();
    assert!(enhanced.provider_meaning.is_some());
    // A signature that agrees with the registry leaves its page alone.
    let text = "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550 5.1.1 double-checking the recipient's email address";
    let query = Query::parse(text).unwrap();
    let page = kb::explain(text, &query, Lang::En);
    assert!(
        page.explanations
            .iter()
            .all(|e| e.provider_meaning.is_none())
    );
}
