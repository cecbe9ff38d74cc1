//! The renderers, from reports built by hand: no network, no root, no lab. Facts are
//! written out below as the fact layers would return them, judged by the real assessment,
//! and rendered as human text in every language, JSON (checked against
//! docs/report.schema.json) and a Nagios line.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use smtpdiag::assess::{self, Checked, ProbeFacts};
use smtpdiag::dns::mx::{AddressLookup, ExchangeFacts, MxAnswer, MxHost, MxResolution, ReverseDns};
use smtpdiag::dns::name::DomainName;
use smtpdiag::dns::{Lookup, Outcome, QueryType};
use smtpdiag::dnsbl::{Blocklist, DnsblCheck, DnsblResult, DnsblStatus, ListHealth};
use smtpdiag::kb::Lang;
use smtpdiag::output::probe::{self as probe_text, Detail};
use smtpdiag::output::{TextStyle, json, nagios};
use smtpdiag::reply::{Reply, Stage};
use smtpdiag::report::{Report, Timings, Verdict};
use smtpdiag::smtp::tls::CertificateInfo;
use smtpdiag::smtp::{Command, Session, SessionOutcome, Step, StepError, TlsInfo, TlsProblem};

const MX1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const MX3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 30);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn step(stage: Stage, command: Option<Command>, reply: Option<&str>) -> Step {
    Step {
        stage,
        command,
        reply: reply.map(|r| Reply::parse_pasted(r).expect("a reply")),
        tls: false,
        duration: ms(12),
        error: None,
        pipelined: false,
    }
}

fn lookup(name: &str, query_type: QueryType, outcome: Outcome) -> Lookup {
    Lookup {
        name: name.to_string(),
        query_type,
        outcome,
        duration: ms(3),
    }
}

fn host(preference: u16, name: &str, addresses: &[Ipv4Addr], reverse: &[ReverseDns]) -> MxHost {
    MxHost {
        preference,
        host: name.to_string(),
        addresses: addresses.iter().map(|a| IpAddr::V4(*a)).collect(),
        implicit: false,
        cname: None,
        reverse_dns: reverse.to_vec(),
    }
}

/// A domain with three exchangers: the first refuses the recipient after STARTTLS with an
/// untrusted certificate and is listed on a blocklist, the second points nowhere, the
/// third stops answering after EHLO.
fn facts() -> (DomainName, MxResolution, DnsblCheck, Vec<Session>) {
    let domain = DomainName::parse("example.test").unwrap();
    let reverse = ReverseDns {
        address: IpAddr::V4(MX1),
        names: vec!["mail.example.test".into()],
        forward_confirmed: false,
        lookup_failed: false,
    };
    let mx = MxResolution {
        answer: MxAnswer::Records,
        hosts: vec![
            host(10, "mx1.example.test", &[MX1], &[reverse]),
            host(20, "mx2.example.test", &[], &[]),
            host(30, "mx3.example.test", &[MX3], &[]),
        ],
        exchanges: vec![
            ExchangeFacts {
                host: "mx1.example.test".into(),
                ip_literal: false,
                no_address: None,
            },
            ExchangeFacts {
                host: "mx2.example.test".into(),
                ip_literal: false,
                no_address: Some(AddressLookup::Dangling(Outcome::NxDomain)),
            },
            ExchangeFacts {
                host: "mx3.example.test".into(),
                ip_literal: false,
                no_address: None,
            },
        ],
        lookups: vec![lookup("example.test", QueryType::Mx, Outcome::NoData)],
        ..MxResolution::default()
    };
    let dnsbl = DnsblCheck {
        results: vec![DnsblResult {
            address: IpAddr::V4(MX1),
            zone: "zen.spamhaus.org".into(),
            list: "Spamhaus ZEN".into(),
            listed: true,
            answers: vec![Ipv4Addr::new(127, 0, 0, 4)],
            meanings: Vec::new(),
            txt: vec!["https://www.spamhaus.org/query/ip/192.0.2.10".into()],
            status: DnsblStatus::Listed,
            error: None,
            duration: ms(4),
        }],
        health: vec![ListHealth {
            zone: "zen.spamhaus.org".into(),
            list: "Spamhaus ZEN".into(),
            test_entry_listed: true,
            localhost_listed: false,
            reliable: true,
        }],
        test_outcomes: vec![Outcome::Answer {
            records: Vec::new(),
        }],
        lookups: Vec::new(),
    };
    let certificate = CertificateInfo {
        subject: "CN=mx1.example.test".into(),
        issuer: "CN=Example Private CA".into(),
        names: vec!["mx1.example.test".into()],
        not_before: "2026-01-01".into(),
        not_after: "2027-01-01".into(),
        days_left: 30,
        self_signed: false,
    };
    let mut tls_steps = vec![
        step(
            Stage::Ehlo,
            Some(Command::Ehlo("probe.example.org".into())),
            Some("250 mx1.example.test"),
        ),
        step(
            Stage::MailFrom,
            Some(Command::MailFrom(String::new())),
            Some("250 2.1.0 Ok"),
        ),
        step(
            Stage::RcptTo,
            Some(Command::RcptTo("postmaster@example.test".into())),
            Some(
                "550 5.1.1 <postmaster@example.test>: Recipient address rejected: User unknown in virtual mailbox table",
            ),
        ),
        step(Stage::Quit, Some(Command::Quit), Some("221 2.0.0 Bye")),
    ];
    for s in &mut tls_steps {
        s.tls = true;
    }
    let mut first_steps = vec![
        step(Stage::Connect, None, None),
        step(Stage::Greeting, None, Some("220 mx1.example.test ESMTP")),
        step(
            Stage::Ehlo,
            Some(Command::Ehlo("probe.example.org".into())),
            Some("250-mx1.example.test\n250 STARTTLS"),
        ),
        step(
            Stage::StartTls,
            Some(Command::StartTls),
            Some("220 2.0.0 Ready to start TLS"),
        ),
        step(Stage::TlsHandshake, None, None),
    ];
    first_steps.extend(tls_steps);
    let first = Session {
        host: "mx1.example.test".into(),
        address: IpAddr::V4(MX1),
        port: 25,
        outcome: SessionOutcome::Completed,
        stage: None,
        steps: first_steps,
        extensions: vec!["STARTTLS".into()],
        tls: Some(TlsInfo {
            version: "TLS 1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
            trusted: false,
            problems: vec![TlsProblem::Untrusted],
            chain: vec![certificate],
            chain_der: Vec::new(),
        }),
        plain_retry: false,
        bare_lf: false,
        duration: ms(120),
    };
    let mut stalled = step(
        Stage::MailFrom,
        Some(Command::MailFrom(String::new())),
        None,
    );
    stalled.duration = Duration::from_secs(30);
    stalled.error = Some(StepError::Timeout {
        limit: Duration::from_secs(30),
        overall: false,
    });
    let third = Session {
        host: "mx3.example.test".into(),
        address: IpAddr::V4(MX3),
        port: 25,
        outcome: SessionOutcome::Timeout,
        stage: Some(Stage::MailFrom),
        steps: vec![
            step(Stage::Connect, None, None),
            step(Stage::Greeting, None, Some("220 mx3.example.test ESMTP")),
            step(
                Stage::Ehlo,
                Some(Command::Ehlo("probe.example.org".into())),
                Some("250 mx3.example.test"),
            ),
            stalled,
        ],
        extensions: Vec::new(),
        tls: None,
        plain_retry: false,
        bare_lf: false,
        duration: ms(30_000),
    };
    (domain, mx, dnsbl, vec![first, third])
}

fn report() -> Report {
    let (domain, mx, dnsbl, sessions) = facts();
    let checked = vec![(
        IpAddr::V4(MX1),
        Checked::Mx {
            host: "mx1.example.test".into(),
        },
    )];
    let lists = vec![Blocklist::from_zone("zen.spamhaus.org")];
    let assessment = assess::probe_findings(&ProbeFacts {
        domain: &domain,
        mx: &mx,
        dnsbl: &dnsbl,
        checked: &checked,
        lists: &lists,
        sessions: &sessions,
        port: 25,
        helo: Some("probe.example.org"),
        policy: None,
    });
    let mut report = Report {
        domain: domain.display.clone(),
        ascii_domain: domain.ascii.clone(),
        verdict: Verdict::Unknown,
        exit_code: 0,
        null_mx: false,
        implicit_mx: false,
        mx: mx.hosts,
        dnsbl: dnsbl.results,
        dnsbl_lists: dnsbl.health,
        sessions,
        transport: None,
        sender: None,
        findings: assessment.findings,
        lookups: mx.lookups,
        timings: Timings {
            total: ms(30_200),
            dns: ms(20),
            dnsbl: ms(8),
            smtp: ms(30_150),
        },
        lang: Lang::En,
    };
    report.conclude(assessment.incomplete);
    report
}

fn human(report: &Report, lang: Lang, transcript: bool) -> String {
    let mut out = Vec::new();
    let style = TextStyle {
        color: false,
        width: 80,
    };
    probe_text::report(&mut out, report, lang, style, Detail { transcript }).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_assessment_of_the_facts() {
    let report = report();
    let kinds: Vec<&str> = report.findings.iter().map(|f| f.kind.key()).collect();
    assert_eq!(
        kinds,
        [
            "mx-dangling",
            "ptr-mismatch",
            "dnsbl-listed-mx",
            "reply",
            "tls-untrusted",
            "command-timeout",
            "starttls-missing"
        ]
    );
    assert_eq!(report.verdict, Verdict::Permanent);
    let reply = &report.findings[3];
    assert_eq!(reply.cause.as_ref().unwrap().id, "user-unknown");
    assert_eq!(reply.param("stage"), "RCPT TO");
    assert_eq!(reply.param("rcpt"), "postmaster@example.test");
    // Built facts carry no words: the text comes when the report is rendered.
    assert!(report.findings.iter().all(|f| f.text.title.is_empty()));
}

#[test]
fn human_text_in_every_language() {
    let report = report();
    for lang in [Lang::En, Lang::Ja, Lang::Fr] {
        insta::assert_snapshot!(
            format!("render-{}", lang.code()),
            human(&report, lang, true)
        );
    }
}

#[test]
fn colour_only_when_the_style_asks_for_it() {
    let report = report();
    let mut out = Vec::new();
    let style = TextStyle {
        color: true,
        width: 80,
    };
    probe_text::report(&mut out, &report, Lang::En, style, Detail::default()).unwrap();
    let coloured = String::from_utf8(out).unwrap();
    assert!(coloured.contains("\u{1b}["));
    assert!(!human(&report, Lang::En, false).contains('\u{1b}'));
}

#[test]
fn japanese_and_french_reports_hold_no_english_words_of_ours() {
    let report = report();
    // What came from outside: the servers' replies, names, the lists' own text.
    let mut outside = vec![
        "mx1.example.test mail.example.test probe.example.org Example Private".to_string(),
        report
            .dnsbl
            .iter()
            .flat_map(|r| r.txt.clone())
            .collect::<Vec<_>>()
            .join(" "),
    ];
    for session in &report.sessions {
        for step in &session.steps {
            if let Some(reply) = &step.reply {
                outside.push(reply.lines.join(" "));
            }
        }
    }
    for lang in [Lang::Ja, Lang::Fr] {
        let text = human(&report, lang, true);
        let found = support::english::english_words_in(&text, lang.code(), &outside.join(" "));
        assert!(
            found.is_empty(),
            "{}: English words of ours in the report: {found:?}\n{text}",
            lang.code()
        );
    }
}

#[test]
fn json_follows_the_schema_and_keeps_the_texts() {
    let report = report();
    for lang in [Lang::En, Lang::Ja, Lang::Fr] {
        let mut line = Vec::new();
        json::report_line(&mut line, &report, lang).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        support::schema::check_report(&value);
        assert_eq!(value["lang"], lang.code());
        for finding in value["findings"].as_array().unwrap() {
            assert!(!finding["title"].as_str().unwrap().is_empty(), "{finding}");
            assert!(finding["params"].is_object(), "{finding}");
        }
        if lang == Lang::En {
            insta::assert_json_snapshot!("render-json", value);
        }
    }
}

#[test]
fn nagios_line() {
    let report = report();
    let mut out = Vec::new();
    nagios::line(&mut out, &report, Lang::En).unwrap();
    let line = String::from_utf8(out).unwrap();
    assert_eq!(line.lines().count(), 1);
    insta::assert_snapshot!("render-nagios", line);
}
