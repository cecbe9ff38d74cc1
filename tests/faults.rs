//! The probe against the scripted fault server: every fault ends with a clear finding, no
//! panic and no hang, and no fault makes the probe send DATA.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use smtpdiag::dns::ResolverSettings;
use smtpdiag::dns::name::DomainName;
use smtpdiag::dns::{Outcome, QueryType};
use smtpdiag::kb::Lang;
use smtpdiag::output::probe::{self as probe_text, Detail};
use smtpdiag::output::{TextStyle, json, localize};
use smtpdiag::probe::{self, ProbeSettings};
use smtpdiag::report::{Report, Severity, Verdict};
use smtpdiag::smtp::{SessionOutcome, SmtpSettings, Stage, Timeouts, TrustAnchors};
use support::fake_dns::FakeDns;
use support::fault_server::{Fault, FaultServer};

const DOMAIN: &str = "fault.test";
const STAGE_TIMEOUT: Duration = Duration::from_secs(2);

fn settings(port: u16) -> ProbeSettings {
    ProbeSettings {
        resolver: ResolverSettings::default(),
        blocklists: Vec::new(),
        check_ips: Vec::new(),
        smtp: SmtpSettings {
            port,
            helo: "probe.smtpdiag.test".into(),
            mail_from: String::new(),
            rcpts: Vec::new(),
            starttls: true,
            timeouts: Timeouts {
                connect: STAGE_TIMEOUT,
                greeting: STAGE_TIMEOUT,
                command: STAGE_TIMEOUT,
            },
            source: None,
            trust: TrustAnchors::load(&[] as &[&str]).unwrap(),
            all_mx: false,
            limiter: Arc::default(),
        },
        no_smtp: false,
        deadline: Duration::from_secs(20),
        transport_policy: false,
    }
}

/// Probes the fault server and checks what every fault must satisfy.
async fn probe_fault(fault: Fault) -> (Report, FaultServer, Duration) {
    let server = FaultServer::start(fault);
    let dns = FakeDns::single_mx(DOMAIN);
    let domain = DomainName::parse(DOMAIN).unwrap();
    let started = Instant::now();
    let report = probe::probe(
        &dns,
        &domain,
        &[format!("postmaster@{DOMAIN}")],
        &settings(server.addr.port()),
    )
    .await;
    let took = started.elapsed();
    // The tests read the findings' words as an English reader would.
    let report = localize::report(&report, Lang::En).into_owned();
    let mut line = Vec::new();
    json::report_line(&mut line, &report, Lang::En).unwrap();
    support::schema::check_report(&serde_json::from_slice(&line).unwrap());
    assert!(!server.saw_data(), "{fault:?}: the probe sent DATA");
    assert!(
        took < Duration::from_secs(10),
        "{fault:?}: the probe took {took:?}"
    );
    (report, server, took)
}

fn kinds(report: &Report) -> Vec<&str> {
    report.findings.iter().map(|f| f.kind.key()).collect()
}

fn finding<'a>(report: &'a Report, kind: &str) -> &'a smtpdiag::report::Finding {
    report
        .findings
        .iter()
        .find(|f| f.kind.key() == kind)
        .unwrap_or_else(|| panic!("no {kind} finding in {:?}", kinds(report)))
}

#[tokio::test]
async fn healthy_server_completes_and_never_sees_data() {
    let (report, server, _) = probe_fault(Fault::Healthy).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Completed);
    let stages: Vec<Stage> = session.steps.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::Connect,
            Stage::Greeting,
            Stage::Ehlo,
            Stage::MailFrom,
            Stage::RcptTo,
            Stage::Rset,
            Stage::Quit
        ]
    );
    assert_eq!(
        server.commands(),
        [
            "EHLO probe.smtpdiag.test",
            "MAIL FROM:<>",
            "RCPT TO:<postmaster@fault.test>",
            "RSET",
            "QUIT"
        ]
    );
    assert!(session.extensions.iter().any(|e| e == "PIPELINING"));
    assert_eq!(finding(&report, "rcpt-accepted").severity, Severity::Ok);
    assert_eq!(
        finding(&report, "starttls-missing").severity,
        Severity::Warning
    );
}

#[tokio::test]
async fn silent_banner_ends_at_the_greeting_timeout() {
    let (report, _server, took) = probe_fault(Fault::SilentBanner).await;
    assert!(took >= STAGE_TIMEOUT, "gave up after {took:?}");
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Timeout);
    assert_eq!(session.stage, Some(Stage::Greeting));
    assert_eq!(
        finding(&report, "greeting-timeout").severity,
        Severity::Transient
    );
    assert_eq!(report.verdict, Verdict::Transient);
}

#[tokio::test]
async fn garbage_is_a_protocol_error() {
    let (report, _server, _) = probe_fault(Fault::Garbage).await;
    assert_eq!(report.sessions[0].outcome, SessionOutcome::ProtocolError);
    let f = finding(&report, "protocol-error");
    assert!(
        f.text.explanation.contains("HTTP/1.1 400"),
        "{}",
        f.text.explanation
    );
    assert_eq!(report.verdict, Verdict::Transient);
}

#[tokio::test]
async fn endless_continuation_lines_are_cut_off() {
    let (report, _server, _) = probe_fault(Fault::EndlessContinuation).await;
    assert_eq!(report.sessions[0].outcome, SessionOutcome::ProtocolError);
    assert!(
        finding(&report, "protocol-error")
            .text
            .explanation
            .contains("lines")
    );
}

#[tokio::test]
async fn oversized_line_is_cut_off() {
    let (report, _server, _) = probe_fault(Fault::OversizedLine).await;
    assert_eq!(report.sessions[0].outcome, SessionOutcome::ProtocolError);
    assert!(
        finding(&report, "protocol-error")
            .text
            .explanation
            .contains("longer than")
    );
}

#[tokio::test]
async fn close_in_the_middle_of_a_reply_keeps_what_arrived() {
    let (report, _server, _) = probe_fault(Fault::CloseMidReply).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Closed);
    assert_eq!(session.stage, Some(Stage::Greeting));
    let greeting = &session.steps[1];
    assert_eq!(
        greeting.reply.as_ref().unwrap().lines,
        ["fault.test ESMTP", "second line"]
    );
    assert_eq!(
        finding(&report, "connection-closed").severity,
        Severity::Transient
    );
}

#[tokio::test]
async fn replies_split_across_many_reads_are_reassembled() {
    let (report, _server, _) = probe_fault(Fault::SplitReply).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    assert_eq!(report.sessions[0].extensions.len(), 4);
}

#[tokio::test]
async fn bare_lf_is_tolerated_and_flagged() {
    let (report, _server, _) = probe_fault(Fault::BareLf).await;
    assert_eq!(report.verdict, Verdict::Ok);
    assert!(report.sessions[0].bare_lf);
    assert_eq!(finding(&report, "bare-lf").severity, Severity::Info);
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo() {
    let (report, server, _) = probe_fault(Fault::EhloRefused).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    assert!(server.commands().iter().any(|c| c.starts_with("HELO ")));
    assert_eq!(finding(&report, "ehlo-refused").severity, Severity::Info);
}

#[tokio::test]
async fn broken_tls_is_followed_by_a_plain_session() {
    let (report, server, _) = probe_fault(Fault::BrokenTls).await;
    assert_eq!(report.sessions.len(), 2, "{:?}", report.sessions);
    assert_eq!(report.sessions[0].outcome, SessionOutcome::TlsFailed);
    assert!(report.sessions[1].plain_retry);
    assert_eq!(report.sessions[1].outcome, SessionOutcome::Completed);
    assert_eq!(
        finding(&report, "tls-handshake-failed").severity,
        Severity::Warning
    );
    assert_eq!(report.verdict, Verdict::Ok);
    assert_eq!(
        server
            .commands()
            .iter()
            .filter(|c| *c == "STARTTLS")
            .count(),
        1,
        "the retry must not try STARTTLS again"
    );
}

#[tokio::test]
async fn escape_sequences_from_the_network_never_reach_the_terminal_raw() {
    let (report, _server, _) = probe_fault(Fault::EscapeBanner).await;
    let mut text = Vec::new();
    let style = TextStyle {
        color: false,
        width: 80,
    };
    probe_text::report(
        &mut text,
        &report,
        Lang::En,
        style,
        Detail { transcript: true },
    )
    .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(!text.contains('\u{1b}'), "raw ESC in: {text}");
    assert!(!text.contains('\u{9b}'), "raw CSI in: {text}");
    assert!(text.contains("\\x1b[31mRED"), "{text}");

    // JSON carries the text escaped by JSON's rules, and losslessly.
    let mut line = Vec::new();
    json::report_line(&mut line, &report, Lang::En).unwrap();
    assert!(!line.contains(&0x1b));
    let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
    let banner = value["sessions"][0]["steps"][1]["reply"]["lines"][0]
        .as_str()
        .unwrap();
    assert!(banner.contains("\u{1b}]0;pwned\u{7}"), "{banner:?}");
}

#[tokio::test]
async fn the_schema_holds_the_contract_fields() {
    let (report, _server, _) = probe_fault(Fault::Healthy).await;
    let mut line = Vec::new();
    json::report_line(&mut line, &report, Lang::En).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
    for field in [
        "domain", "verdict", "null_mx", "mx", "dnsbl", "sessions", "findings",
    ] {
        let mut broken = value.clone();
        broken.as_object_mut().unwrap().remove(field);
        let result = std::panic::catch_unwind(|| support::schema::check_report(&broken));
        assert!(
            result.is_err(),
            "the schema accepts a report without {field}"
        );
    }
    let mut broken = value.clone();
    broken["verdict"] = "fine".into();
    assert!(std::panic::catch_unwind(|| support::schema::check_report(&broken)).is_err());
}

#[tokio::test]
async fn mx_answered_but_addresses_timed_out_is_not_a_verdict() {
    let dns = FakeDns::single_mx(DOMAIN)
        .answer("mx.fault.test", QueryType::A, Outcome::Timeout)
        .answer("mx.fault.test", QueryType::Aaaa, Outcome::Timeout);
    let domain = DomainName::parse(DOMAIN).unwrap();
    let report = probe::probe(&dns, &domain, &[], &settings(25)).await;
    assert_eq!(report.verdict, Verdict::Unknown, "{:?}", kinds(&report));
    assert_eq!(report.exit_code, 3);
    assert!(kinds(&report).contains(&"resolver-timeout"));

    // When the domain's own servers fail (SERVFAIL), the domain is to blame: transient.
    let dns = FakeDns::single_mx(DOMAIN)
        .answer("mx.fault.test", QueryType::A, Outcome::ServFail)
        .answer("mx.fault.test", QueryType::Aaaa, Outcome::ServFail);
    let report = probe::probe(&dns, &domain, &[], &settings(25)).await;
    assert_eq!(report.verdict, Verdict::Transient, "{:?}", kinds(&report));
    assert!(kinds(&report).contains(&"mx-lookup-failed"));
}
