//! The probe against hostile servers: the scripted SMTP fault server
//! (`tests/support/fault_server.rs`) and the scripted DNS server
//! (`tests/support/fault_dns.rs`).
//! Every fault ends with a clear finding, no panic, within the probe's deadline, and no fault
//! makes the probe send DATA. docs/robustness.md lists each behaviour, the finding it
//! produces and the bound that holds it.

mod support;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::proto::rr::RecordType;

use smtpdiag::dns::name::DomainName;
use smtpdiag::dns::{HickoryDns, MAX_ADDRESSES_PER_EXCHANGE, MAX_EXCHANGES, ResolverSettings};
use smtpdiag::dns::{Outcome, QueryType, Rdata};
use smtpdiag::dnsbl::Blocklist;
use smtpdiag::kb::Lang;
use smtpdiag::output::probe::{self as probe_text, Detail};
use smtpdiag::output::{TextStyle, json, localize};
use smtpdiag::policy::https::{self, Fetch, PolicyFetch};
use smtpdiag::policy::mta_sts;
use smtpdiag::probe::{self, ProbeSettings};
use smtpdiag::report::{Report, Severity, Verdict};
use smtpdiag::smtp::{SessionOutcome, SmtpSettings, Stage, Timeouts, TrustAnchors};
use support::fake_dns::FakeDns;
use support::fault_dns::{self, Answer, FaultDns, Transport};
use support::fault_http::{FaultHttp, HttpFault};
use support::fault_server::{Fault, FaultServer};
use support::relay;

const DOMAIN: &str = "fault.test";
const STAGE_TIMEOUT: Duration = Duration::from_secs(2);
/// The probe's overall deadline in these tests.
const DEADLINE: Duration = Duration::from_secs(15);
/// What a probe may take beyond its deadline: building the report, closing sockets, a
/// loaded machine.
const MARGIN: Duration = Duration::from_secs(5);

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
        deadline: DEADLINE,
        transport_policy: false,
    }
}

/// Probes the fault server and checks what every fault must satisfy.
async fn probe_fault(fault: Fault) -> (Report, FaultServer, Duration) {
    probe_fault_within(fault, DEADLINE).await
}

/// The same, under another overall deadline.
async fn probe_fault_within(fault: Fault, deadline: Duration) -> (Report, FaultServer, Duration) {
    let server = FaultServer::start(fault);
    let dns = FakeDns::single_mx(DOMAIN);
    let domain = DomainName::parse(DOMAIN).unwrap();
    let started = Instant::now();
    let mut settings = settings(server.addr.port());
    settings.deadline = deadline;
    let report = probe::probe(&dns, &domain, &[format!("postmaster@{DOMAIN}")], &settings).await;
    let took = started.elapsed();
    // The tests read the findings' words as an English reader would.
    let report = localize::report(&report, Lang::En).into_owned();
    let mut line = Vec::new();
    json::report_line(&mut line, &report, Lang::En).unwrap();
    support::schema::check_report(&serde_json::from_slice(&line).unwrap());
    assert!(!server.saw_data(), "{fault:?}: the probe sent DATA");
    within(&format!("{fault:?}"), took, deadline);
    (report, server, took)
}

/// Every probe ends by its deadline, whatever the fault (a bound, not a speed claim).
fn within_deadline(what: &str, took: Duration) {
    within(what, took, DEADLINE);
}

fn within(what: &str, took: Duration, deadline: Duration) {
    assert!(
        took < deadline + MARGIN,
        "{what}: the probe took {took:?}, over its deadline of {deadline:?}"
    );
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
            Stage::Quit
        ]
    );
    // QUIT is sent without waiting for its reply: the report can be ready before the
    // server has read it.
    for _ in 0..200 {
        if server.commands().len() >= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        server.commands(),
        [
            "EHLO probe.smtpdiag.test",
            "MAIL FROM:<>",
            "RCPT TO:<postmaster@fault.test>",
            "QUIT"
        ]
    );
    assert_eq!(
        session.steps.last().unwrap().reply,
        None,
        "a QUIT reply was claimed"
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

/// Holds the backup exchanger's address lookups until the server has heard from the probe:
/// a probe that waited for every exchanger's addresses before its first dialogue would
/// never get them, and would end at its deadline without a session.
struct HeldBackup<'a> {
    dns: FakeDns,
    server: &'a FaultServer,
}

impl smtpdiag::dns::Dns for HeldBackup<'_> {
    async fn query(&self, name: &str, query_type: QueryType) -> smtpdiag::dns::Lookup {
        if name.trim_end_matches('.') == "backup.fault.test" {
            while self.server.commands().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.dns.query(name, query_type).await
    }
}

#[tokio::test]
async fn the_first_exchanger_is_probed_while_the_backup_is_still_looked_up() {
    let server = FaultServer::start(Fault::Healthy);
    let backup_address = Outcome::Answer {
        records: vec![Rdata::A(Ipv4Addr::LOCALHOST)],
    };
    let dns = HeldBackup {
        dns: FakeDns::single_mx(DOMAIN)
            .answer(
                DOMAIN,
                QueryType::Mx,
                Outcome::Answer {
                    records: vec![
                        Rdata::Mx {
                            preference: 10,
                            exchange: "mx.fault.test".into(),
                        },
                        Rdata::Mx {
                            preference: 20,
                            exchange: "backup.fault.test".into(),
                        },
                    ],
                },
            )
            .answer("backup.fault.test", QueryType::A, backup_address)
            .answer("backup.fault.test", QueryType::Aaaa, Outcome::NoData),
        server: &server,
    };
    let domain = DomainName::parse(DOMAIN).unwrap();
    let report = probe::probe(&dns, &domain, &[], &settings(server.addr.port())).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    assert_eq!(report.sessions.len(), 1);
    assert_eq!(report.sessions[0].host, "mx.fault.test");
    assert_eq!(report.sessions[0].outcome, SessionOutcome::Completed);
    // The backup's lookups finished after the dialogue began and are in the report.
    let hosts: Vec<&str> = report.mx.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(hosts, ["mx.fault.test", "backup.fault.test"]);
    assert_eq!(
        report.mx[1].addresses,
        [std::net::IpAddr::from(Ipv4Addr::LOCALHOST)]
    );
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

/// The human report with its transcript, as a terminal would get it.
fn text_of(report: &Report) -> String {
    let mut text = Vec::new();
    let style = TextStyle {
        color: false,
        width: 80,
    };
    probe_text::report(
        &mut text,
        report,
        Lang::En,
        style,
        Detail { transcript: true },
    )
    .unwrap();
    String::from_utf8(text).unwrap()
}

/// The text of the error of the step at which the session stopped.
fn last_error(report: &Report) -> String {
    let session = report.sessions.last().expect("a session");
    session
        .steps
        .last()
        .and_then(|s| s.error.as_ref())
        .map(ToString::to_string)
        .unwrap_or_default()
}

// ------------------------------------------------------------------ SMTP ----

#[tokio::test]
async fn trickled_banner_ends_at_the_greeting_timeout_with_what_arrived() {
    let (report, _server, took) = probe_fault(Fault::TrickleBanner).await;
    assert!(took >= STAGE_TIMEOUT, "gave up after {took:?}");
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Timeout);
    assert_eq!(session.stage, Some(Stage::Greeting));
    // One byte a second for two seconds: the transcript shows the two or three bytes.
    let partial = &session.steps[1].reply.as_ref().expect("what arrived").lines[0];
    assert!(
        "220 fault".starts_with(partial.as_str()) && !partial.is_empty(),
        "{partial:?}"
    );
    assert_eq!(
        finding(&report, "greeting-timeout").severity,
        Severity::Transient
    );
}

#[tokio::test]
async fn a_tarpit_is_cut_by_the_overall_deadline() {
    // Each reply comes within the 2 s stage limit; six of them would take 9 s.
    let deadline = Duration::from_secs(4);
    let (report, _server, took) = probe_fault_within(Fault::Tarpit, deadline).await;
    assert!(took >= deadline, "gave up after {took:?}");
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Timeout);
    assert_eq!(session.stage, Some(Stage::MailFrom));
    assert!(
        last_error(&report).contains("overall deadline"),
        "{}",
        last_error(&report)
    );
    assert_eq!(
        finding(&report, "deadline-reached").severity,
        Severity::Transient
    );
}

#[tokio::test]
async fn megabyte_line_inside_the_ehlo_reply_is_cut_off() {
    let (report, _server, _) = probe_fault(Fault::HugeEhloLine).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::ProtocolError);
    assert_eq!(session.stage, Some(Stage::Ehlo));
    assert!(last_error(&report).contains("longer than 4096 bytes"));
    assert!(kinds(&report).contains(&"protocol-error"));
}

#[tokio::test]
async fn hundred_thousand_continuation_lines_to_rcpt_are_cut_off() {
    let (report, server, _) = probe_fault(Fault::ManyRcptLines).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::ProtocolError);
    assert_eq!(session.stage, Some(Stage::RcptTo));
    assert!(last_error(&report).contains("more than 128 lines"));
    assert!(kinds(&report).contains(&"protocol-error"));
    assert!(!server.commands().iter().any(|c| c == "RSET"));
}

#[tokio::test]
async fn ten_thousand_ehlo_extensions_are_cut_off() {
    let (report, _server, _) = probe_fault(Fault::ManyExtensions).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::ProtocolError);
    assert_eq!(session.stage, Some(Stage::Ehlo));
    assert!(session.extensions.is_empty());
    assert!(last_error(&report).contains("more than 128 lines"));
}

#[tokio::test]
async fn non_utf8_and_nul_bytes_are_kept_lossily_and_shown_escaped() {
    let (report, _server, _) = probe_fault(Fault::BinaryBanner).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    let banner = &report.sessions[0].steps[1].reply.as_ref().unwrap().lines[0];
    assert_eq!(
        banner,
        "fault.test \u{fffd}\u{fffd}\u{fffd}(\0 ESMTP \u{fffd}"
    );
    let text = text_of(&report);
    assert!(!text.contains('\0'), "raw NUL in: {text}");
    assert!(text.contains("\\x00 ESMTP"), "{text}");
}

#[tokio::test]
async fn invalid_reply_codes_are_protocol_errors() {
    for code in ["abc", "99", "600", "2500", "1000", "22O"] {
        let (report, _server, _) = probe_fault(Fault::InvalidCode(code)).await;
        let session = &report.sessions[0];
        assert_eq!(session.outcome, SessionOutcome::ProtocolError, "{code}");
        assert_eq!(session.stage, Some(Stage::Greeting), "{code}");
        let error = last_error(&report);
        assert!(
            error.contains("not an SMTP reply") && error.contains(code),
            "{code}: {error}"
        );
        assert_eq!(report.verdict, Verdict::Transient, "{code}");
    }
}

#[tokio::test]
async fn a_code_that_changes_between_continuation_lines_is_refused() {
    let (report, _server, _) = probe_fault(Fault::MixedCodes).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::ProtocolError);
    assert_eq!(session.stage, Some(Stage::Ehlo));
    assert!(
        last_error(&report).contains("different codes (250 then 550)"),
        "{}",
        last_error(&report)
    );
}

#[tokio::test]
async fn bare_cr_inside_a_line_cannot_overwrite_the_terminal_line() {
    let (report, _server, _) = probe_fault(Fault::BareCrInLine).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    let banner = &report.sessions[0].steps[1].reply.as_ref().unwrap().lines[0];
    assert_eq!(banner, "fault.test\rESMTP forged text");
    let text = text_of(&report);
    assert!(!text.contains('\r'), "raw CR in: {text}");
    assert!(text.contains("fault.test\\rESMTP"), "{text}");
}

#[tokio::test]
async fn lines_ended_by_cr_alone_never_end() {
    let (report, _server, took) = probe_fault(Fault::BareCrEndings).await;
    assert!(took >= STAGE_TIMEOUT);
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Timeout);
    assert_eq!(session.stage, Some(Stage::Greeting));
    let partial = &session.steps[1].reply.as_ref().expect("what arrived").lines[0];
    assert_eq!(partial, "220 fault.test ESMTP scripted fault server\r");
    assert!(kinds(&report).contains(&"greeting-timeout"));
}

#[tokio::test]
async fn close_right_after_the_greeting() {
    let (report, _server, _) = probe_fault(Fault::CloseAfterGreeting).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Closed);
    assert_eq!(session.stage, Some(Stage::Ehlo));
    assert_eq!(
        finding(&report, "connection-closed").severity,
        Severity::Transient
    );
    assert_eq!(report.verdict, Verdict::Transient);
}

#[tokio::test]
async fn stalled_tls_handshake_times_out_then_plain_session() {
    let (report, server, took) = probe_fault(Fault::StalledTls).await;
    assert!(took >= STAGE_TIMEOUT);
    assert_eq!(report.sessions.len(), 2, "{:?}", report.sessions);
    let first = &report.sessions[0];
    assert_eq!(first.outcome, SessionOutcome::TlsFailed);
    assert_eq!(first.stage, Some(Stage::TlsHandshake));
    let error = first
        .steps
        .last()
        .unwrap()
        .error
        .as_ref()
        .unwrap()
        .to_string();
    assert!(error.contains("no reply within 2.0 s"), "{error}");
    assert!(report.sessions[1].plain_retry);
    assert!(kinds(&report).contains(&"tls-handshake-failed"));
    assert_eq!(
        server
            .commands()
            .iter()
            .filter(|c| *c == "STARTTLS")
            .count(),
        1
    );
}

#[tokio::test]
async fn chain_of_fifty_certificates_is_described_and_not_trusted() {
    let (report, server, _) = probe_fault(Fault::LongChain).await;
    assert_eq!(report.sessions.len(), 1, "{:?}", report.sessions);
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Completed);
    let tls = session.tls.as_ref().expect("the handshake completed");
    assert_eq!(tls.chain.len(), 50);
    assert_eq!(tls.chain[0].names, ["mx.fault.test"]);
    assert!(!tls.trusted);
    assert!(
        kinds(&report)
            .iter()
            .any(|k| *k == "tls-untrusted" || *k == "tls-problem"),
        "{:?}",
        kinds(&report)
    );
    // The dialogue went on inside TLS, as far as RCPT TO (then QUIT, not awaited).
    assert!(
        session
            .steps
            .iter()
            .any(|s| s.stage == Stage::RcptTo && s.tls)
    );
    assert!(server.commands().iter().any(|c| c.starts_with("RCPT TO")));
}

#[tokio::test]
async fn replies_sent_before_they_are_asked_for_stop_the_dialogue() {
    let (report, server, _) = probe_fault(Fault::EarlyTalker).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::ProtocolError);
    assert_eq!(session.stage, Some(Stage::Ehlo));
    let error = last_error(&report);
    assert!(error.contains("before it was asked"), "{error}");
    assert!(error.contains("250-fault.test"), "{error}");
    // Nothing was sent whose reply would have been the wrong one.
    assert!(server.commands().is_empty(), "{:?}", server.commands());
}

#[tokio::test]
async fn a_flood_of_replies_each_within_bounds_is_cut_off_for_the_session() {
    let (report, _server, _) = probe_fault(Fault::FloodingReplies).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::ProtocolError);
    // Greeting and EHLO fit in a mebibyte; the reply to MAIL FROM does not.
    assert_eq!(session.stage, Some(Stage::MailFrom));
    assert!(
        last_error(&report).contains("more than 1048576 bytes in one session"),
        "{}",
        last_error(&report)
    );
}

#[tokio::test]
async fn text_injected_after_the_starttls_220_is_discarded_and_reported() {
    let (report, server, _) = probe_fault(Fault::TlsInjection).await;
    let session = &report.sessions[0];
    assert_eq!(session.outcome, SessionOutcome::Completed);
    let handshake = session
        .steps
        .iter()
        .find(|s| s.stage == Stage::TlsHandshake)
        .unwrap();
    assert!(
        handshake
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("14 bytes after its 220"),
        "{:?}",
        handshake.error
    );
    assert_eq!(
        finding(&report, "tls-injection").severity,
        Severity::Warning
    );
    // The injected "250" was never taken for the reply to EHLO inside TLS.
    let ehlo_in_tls = session
        .steps
        .iter()
        .find(|s| s.stage == Stage::Ehlo && s.tls)
        .unwrap();
    assert_eq!(ehlo_in_tls.reply.as_ref().unwrap().lines[0], "fault.test");
    assert_eq!(
        server
            .commands()
            .iter()
            .filter(|c| c.starts_with("EHLO"))
            .count(),
        2
    );
}

// ------------------------------------------------------------------- DNS ----

/// Probes `fault.test` through the real resolver code (hickory), pointed at a scripted DNS
/// server as `--resolver 127.0.0.1:PORT` would, with the SMTP dialogue on `smtp_port`.
async fn probe_through(
    dns: &FaultDns,
    smtp_port: u16,
    blocklists: Vec<Blocklist>,
) -> (Report, Duration) {
    let mut settings = settings(smtp_port);
    settings.resolver = ResolverSettings {
        servers: vec![dns.addr],
        timeout: Duration::from_secs(1),
        attempts: 1,
    };
    settings.blocklists = blocklists;
    let resolver = HickoryDns::new(&settings.resolver).unwrap();
    let domain = DomainName::parse(DOMAIN).unwrap();
    let started = Instant::now();
    let report = probe::probe(
        &resolver,
        &domain,
        &[format!("postmaster@{DOMAIN}")],
        &settings,
    )
    .await;
    let took = started.elapsed();
    let report = localize::report(&report, Lang::En).into_owned();
    let mut line = Vec::new();
    json::report_line(&mut line, &report, Lang::En).unwrap();
    support::schema::check_report(&serde_json::from_slice(&line).unwrap());
    within_deadline("DNS fault", took);
    (report, took)
}

/// `fault.test` MX 10 `mx.fault.test`, A `address`; no AAAA; no PTR.
fn plain_zone(name: &str, record_type: RecordType, address: Ipv4Addr) -> Answer {
    match (name, record_type) {
        (DOMAIN, RecordType::MX) => {
            Answer::Records(vec![fault_dns::mx(DOMAIN, 10, "mx.fault.test")])
        }
        ("mx.fault.test", RecordType::A) => {
            Answer::Records(vec![fault_dns::a("mx.fault.test", address)])
        }
        ("mx.fault.test", _) => Answer::NoData,
        _ => Answer::NxDomain,
    }
}

#[tokio::test]
async fn a_thousand_mx_records_come_over_tcp_and_stay_bounded() {
    let smtp = FaultServer::start(Fault::Healthy);
    let dns = FaultDns::start(|name, record_type| match (name, record_type) {
        (DOMAIN, RecordType::MX) => Answer::Records(
            (0..1000)
                .map(|n| fault_dns::mx(DOMAIN, 10 + n, &format!("mx{n:04}.fault.test")))
                .collect(),
        ),
        (host, RecordType::A) if host.ends_with(".fault.test") => {
            Answer::Records(vec![fault_dns::a(host, Ipv4Addr::LOCALHOST)])
        }
        (host, _) if host.ends_with(".fault.test") => Answer::NoData,
        _ => Answer::NxDomain,
    });
    let (report, _) = probe_through(&dns, smtp.addr.port(), Vec::new()).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    // 1,000 MX records do not fit in 512 bytes of UDP: the answer came over TCP.
    let asked = dns.asked();
    assert!(
        asked
            .iter()
            .any(|q| q.name == DOMAIN && q.record_type == RecordType::MX && q.tcp),
        "{asked:?}"
    );
    assert_eq!(report.mx[0].host, "mx0000.fault.test");
    // Only the best exchangers are followed; the lookup keeps every record that came.
    assert_eq!(report.mx.len(), MAX_EXCHANGES);
    assert_eq!(report.lookups[0].outcome.records().len(), 1000);
    let address_questions = asked
        .iter()
        .filter(|q| matches!(q.record_type, RecordType::A | RecordType::AAAA))
        .count();
    assert!(
        address_questions <= 2 * MAX_EXCHANGES,
        "{address_questions}"
    );
    // The best exchanger answered: no other was tried.
    assert_eq!(report.sessions.len(), 1);
    assert!(!smtp.saw_data());
}

#[tokio::test]
async fn an_exchanger_with_a_thousand_addresses_is_followed_to_a_bound() {
    let smtp = FaultServer::start(Fault::Healthy);
    let dns = FaultDns::start(|name, record_type| match (name, record_type) {
        ("mx.fault.test", RecordType::A) => Answer::Records(
            (1..=1000u32)
                .map(|n| fault_dns::a(name, Ipv4Addr::from(0x7f00_0000 + n)))
                .collect(),
        ),
        _ => plain_zone(name, record_type, Ipv4Addr::LOCALHOST),
    });
    let (report, _) = probe_through(&dns, smtp.addr.port(), Vec::new()).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    assert_eq!(report.mx[0].addresses.len(), MAX_ADDRESSES_PER_EXCHANGE);
    assert_eq!(report.mx[0].addresses[0], Ipv4Addr::LOCALHOST);
    let reverse = dns
        .asked()
        .iter()
        .filter(|q| q.record_type == RecordType::PTR)
        .count();
    assert_eq!(reverse, MAX_ADDRESSES_PER_EXCHANGE);
    assert_eq!(report.sessions.len(), 1);
}

#[tokio::test]
async fn mx_through_a_cname_loop_has_no_address() {
    let smtp = FaultServer::start(Fault::Healthy);
    let dns = FaultDns::start(|name, _| match name {
        DOMAIN => Answer::Records(vec![fault_dns::mx(DOMAIN, 10, "mx.fault.test")]),
        // mx -> loop-a -> loop-b -> loop-a ...
        "mx.fault.test" | "loop-b.fault.test" => {
            Answer::Records(vec![fault_dns::cname(name, "loop-a.fault.test")])
        }
        "loop-a.fault.test" => Answer::Records(vec![fault_dns::cname(name, "loop-b.fault.test")]),
        _ => Answer::NxDomain,
    });
    let (report, _) = probe_through(&dns, smtp.addr.port(), Vec::new()).await;
    assert!(report.mx[0].addresses.is_empty(), "{:?}", report.mx);
    assert!(report.sessions.is_empty());
    let kinds = kinds(&report);
    // hickory follows the chain as far as its depth limit and returns no address: the
    // exchanger is dangling, and the domain has no usable exchanger.
    assert!(kinds.contains(&"mx-dangling"), "{kinds:?}");
    assert!(kinds.contains(&"no-usable-mx"), "{kinds:?}");
    assert_ne!(report.verdict, Verdict::Ok);
    // The loop was not chased for ever.
    assert!(dns.asked().len() < 100, "{} questions", dns.asked().len());
}

#[tokio::test]
async fn truncated_udp_answers_are_asked_again_over_tcp() {
    let smtp = FaultServer::start(Fault::Healthy);
    let dns = FaultDns::start_with(
        Transport {
            udp_always_truncated: true,
        },
        |name, record_type| plain_zone(name, record_type, Ipv4Addr::LOCALHOST),
    );
    let (report, _) = probe_through(&dns, smtp.addr.port(), Vec::new()).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    assert_eq!(report.mx[0].addresses, [Ipv4Addr::LOCALHOST]);
    let asked = dns.asked();
    for record_type in [RecordType::MX, RecordType::A] {
        assert!(
            asked.iter().any(|q| q.record_type == record_type && !q.tcp)
                && asked.iter().any(|q| q.record_type == record_type && q.tcp),
            "{record_type}: {asked:?}"
        );
    }
}

#[tokio::test]
async fn a_resolver_that_never_answers_is_not_a_verdict_on_the_domain() {
    let dns = FaultDns::start(|_, _| Answer::Silent);
    let (report, took) = probe_through(&dns, 25, Blocklist::defaults()).await;
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert_eq!(report.verdict, Verdict::Unknown, "{:?}", kinds(&report));
    assert_eq!(report.exit_code, 3);
    assert!(kinds(&report).contains(&"resolver-timeout"));
    assert!(report.sessions.is_empty());
}

#[tokio::test]
async fn answers_under_another_message_id_are_ignored() {
    let dns = FaultDns::start(|name, record_type| {
        match plain_zone(name, record_type, Ipv4Addr::LOCALHOST) {
            Answer::Records(records) => Answer::WrongId(records),
            other => other,
        }
    });
    let (report, _) = probe_through(&dns, 25, Vec::new()).await;
    assert!(
        report.mx.is_empty(),
        "a spoofed answer was taken: {:?}",
        report.mx
    );
    assert_eq!(report.verdict, Verdict::Unknown, "{:?}", kinds(&report));
    assert!(
        kinds(&report).contains(&"resolver-timeout"),
        "{:?}",
        kinds(&report)
    );
}

#[tokio::test]
async fn bytes_that_are_not_dns_are_not_an_answer() {
    let dns = FaultDns::start(|_, _| Answer::Garbage);
    let (report, _) = probe_through(&dns, 25, Vec::new()).await;
    assert!(report.mx.is_empty());
    assert_eq!(report.verdict, Verdict::Unknown, "{:?}", kinds(&report));
    assert!(
        kinds(&report).iter().any(|k| k.starts_with("resolver-")),
        "{:?}",
        kinds(&report)
    );
}

/// A blocklist zone under `zone`: every address listed (127.0.0.2 for everything), with a
/// short TXT reason.
fn lists_everything(zone: &'static str) -> impl Fn(&str, RecordType) -> Answer + Send + Sync {
    move |name, record_type| {
        if let Some(_address) = name.strip_suffix(zone) {
            return match record_type {
                RecordType::A => {
                    Answer::Records(vec![fault_dns::a(name, Ipv4Addr::new(127, 0, 0, 2))])
                }
                RecordType::TXT => {
                    Answer::Records(vec![fault_dns::txt(name, "listed, like everyone")])
                }
                _ => Answer::NoData,
            };
        }
        plain_zone(name, record_type, Ipv4Addr::LOCALHOST)
    }
}

#[tokio::test]
async fn a_blocklist_that_lists_everything_is_not_believed() {
    let smtp = FaultServer::start(Fault::Healthy);
    let dns = FaultDns::start(lists_everything(".all.fault.test"));
    let list = Blocklist::from_zone("all.fault.test");
    let (report, _) = probe_through(&dns, smtp.addr.port(), vec![list]).await;
    assert_eq!(report.verdict, Verdict::Ok, "{:?}", kinds(&report));
    assert!(
        kinds(&report).contains(&"dnsbl-lists-everything"),
        "{:?}",
        kinds(&report)
    );
    assert!(!kinds(&report).contains(&"dnsbl-listed-mx"));
    assert!(report.dnsbl_lists[0].localhost_listed);
}

#[tokio::test]
async fn a_txt_record_of_64_kb_is_read_whole_over_tcp() {
    // The exchanger at 127.0.0.5 is listed, with a reason of 250 strings of 255 bytes
    // (63,750 bytes: a DNS message holds at most 65,535).
    let smtp = FaultServer::start_on(Ipv4Addr::new(127, 0, 0, 5), Fault::Healthy);
    let dns = FaultDns::start(|name, record_type| match (name, record_type) {
        ("5.0.0.127.big.fault.test" | "2.0.0.127.big.fault.test", RecordType::A) => {
            Answer::Records(vec![fault_dns::a(name, Ipv4Addr::new(127, 0, 0, 2))])
        }
        ("5.0.0.127.big.fault.test", RecordType::TXT) => {
            Answer::Records(vec![fault_dns::big_txt(name, 250, b'r')])
        }
        (name, _) if name.ends_with(".big.fault.test") => Answer::NxDomain,
        _ => plain_zone(name, record_type, Ipv4Addr::new(127, 0, 0, 5)),
    });
    let list = Blocklist::from_zone("big.fault.test");
    let (report, _) = probe_through(&dns, smtp.addr.port(), vec![list]).await;
    assert!(
        kinds(&report).contains(&"dnsbl-listed-mx"),
        "{:?}",
        kinds(&report)
    );
    let listed = report.dnsbl.iter().find(|r| r.listed).unwrap();
    assert_eq!(listed.txt.len(), 1);
    assert_eq!(listed.txt[0].len(), 63_750);
    assert!(
        dns.asked()
            .iter()
            .any(|q| q.record_type == RecordType::TXT && q.tcp)
    );
    // The report shows it; it stays a report of bounded size (the TXT and little else).
    let text = text_of(&report);
    assert!(text.len() < 4 * 65_536, "{} bytes", text.len());
    assert!(!smtp.saw_data());
}

#[test]
fn the_binary_takes_the_same_resolver_option() {
    let smtp = FaultServer::start(Fault::Healthy);
    let dns =
        FaultDns::start(|name, record_type| plain_zone(name, record_type, Ipv4Addr::LOCALHOST));
    let started = Instant::now();
    let output = support::command::smtpdiag()
        .args([
            DOMAIN,
            "--json",
            "--no-dnsbl",
            "--timeout",
            "2",
            "--deadline",
            "15",
        ])
        .args(["--resolver", &dns.addr.to_string()])
        .args(["--port", &smtp.addr.port().to_string()])
        .args(["--helo", "probe.smtpdiag.test"])
        .output()
        .unwrap();
    within_deadline("smtpdiag --resolver", started.elapsed());
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["verdict"], "ok");
    assert!(dns.asked().iter().any(|q| q.name == DOMAIN));
    assert!(!smtp.saw_data());
}

// ------------------------------------------------------------- peak memory ----

/// One run of the binary under GNU time: peak RSS in KiB, wall seconds, exit status.
fn measured(bin: &std::path::Path, args: &[String]) -> (u64, f64, i32) {
    let out = std::env::temp_dir().join(format!("smtpdiag-rss-{}", std::process::id()));
    let status = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M %e")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("GNU time at /usr/bin/time (apt-get install time)");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let last = text.lines().last().unwrap_or_default();
    let mut fields = last.split_whitespace();
    let kib = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    let seconds = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0.0);
    (kib, seconds, status.code().unwrap_or(-1))
}

/// Peak memory of the binary under the worst faults, printed as a table for
/// docs/robustness.md (`benches/faults-rss.sh`). Each run must stay under a bound far
/// above the figures, so that a fault that makes memory grow with its size fails here.
#[test]
#[ignore = "a measurement: benches/faults-rss.sh runs it"]
fn peak_memory_under_the_worst_faults() {
    const BOUND_KIB: u64 = 128 * 1024;
    let bin = std::env::var_os("SMTPDIAG_BIN").map_or_else(
        || assert_cmd::cargo::cargo_bin("smtpdiag"),
        std::path::PathBuf::from,
    );
    let probe_args = |dns: &FaultDns, port: u16, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [DOMAIN, "--json", "--timeout", "2", "--deadline", "15"]
            .iter()
            .map(ToString::to_string)
            .collect();
        args.extend(["--resolver".into(), dns.addr.to_string()]);
        args.extend(["--port".into(), port.to_string()]);
        args.extend(["--helo".into(), "probe.smtpdiag.test".into()]);
        if !extra.iter().any(|a| a.starts_with("--dnsbl")) {
            args.push("--no-dnsbl".into());
        }
        args.extend(extra.iter().map(ToString::to_string));
        args
    };
    let plain =
        || FaultDns::start(|name, record_type| plain_zone(name, record_type, Ipv4Addr::LOCALHOST));
    let mut rows: Vec<(String, u64, f64, i32)> = Vec::new();
    let mut run = |what: &str, args: Vec<String>| {
        let (kib, seconds, code) = measured(&bin, &args);
        rows.push((what.to_string(), kib, seconds, code));
    };

    for fault in [
        Fault::Healthy,
        Fault::EndlessContinuation,
        Fault::OversizedLine,
        Fault::HugeEhloLine,
        Fault::ManyRcptLines,
        Fault::ManyExtensions,
        Fault::FloodingReplies,
        Fault::LongChain,
        Fault::TrickleBanner,
        Fault::EarlyTalker,
    ] {
        let smtp = FaultServer::start(fault);
        let dns = plain();
        run(
            &format!("SMTP {fault:?}"),
            probe_args(&dns, smtp.addr.port(), &[]),
        );
    }

    let smtp = FaultServer::start(Fault::Healthy);
    let dns = FaultDns::start(|name, record_type| match (name, record_type) {
        (DOMAIN, RecordType::MX) => Answer::Records(
            (0..1000)
                .map(|n| fault_dns::mx(DOMAIN, 10 + n, &format!("mx{n:04}.fault.test")))
                .collect(),
        ),
        (host, RecordType::A) => Answer::Records(vec![fault_dns::a(host, Ipv4Addr::LOCALHOST)]),
        _ => Answer::NoData,
    });
    run(
        "DNS 1,000 MX records",
        probe_args(&dns, smtp.addr.port(), &["--all-mx"]),
    );
    let dns = FaultDns::start(|name, record_type| match (name, record_type) {
        ("mx.fault.test", RecordType::A) => Answer::Records(
            (1..=1000u32)
                .map(|n| fault_dns::a(name, Ipv4Addr::from(0x7f00_0000 + n)))
                .collect(),
        ),
        _ => plain_zone(name, record_type, Ipv4Addr::LOCALHOST),
    });
    run(
        "DNS 1,000 addresses",
        probe_args(&dns, smtp.addr.port(), &["--all-mx"]),
    );
    let listed = FaultServer::start_on(Ipv4Addr::new(127, 0, 0, 5), Fault::Healthy);
    let dns = FaultDns::start(|name, record_type| match (name, record_type) {
        ("5.0.0.127.big.fault.test" | "2.0.0.127.big.fault.test", RecordType::A) => {
            Answer::Records(vec![fault_dns::a(name, Ipv4Addr::new(127, 0, 0, 2))])
        }
        ("5.0.0.127.big.fault.test", RecordType::TXT) => {
            Answer::Records(vec![fault_dns::big_txt(name, 250, b'r')])
        }
        (name, _) if name.ends_with(".big.fault.test") => Answer::NxDomain,
        _ => plain_zone(name, record_type, Ipv4Addr::new(127, 0, 0, 5)),
    });
    run(
        "DNS TXT of 64 KB (text report)",
        probe_args(&dns, listed.addr.port(), &["--dnsbl", "big.fault.test"])
            .into_iter()
            .filter(|a| a != "--json")
            .collect(),
    );
    let dns = FaultDns::start(|_, _| Answer::Silent);
    run("DNS resolver never answers", probe_args(&dns, 25, &[]));

    let dir = std::env::temp_dir().join(format!("smtpdiag-rss-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let long_line = dir.join("long-line");
    std::fs::write(&long_line, vec![b'a'; 64 << 20]).unwrap();
    let binary = dir.join("binary");
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..(32 << 20))
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(&binary, noise).unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    run(
        "-f: one line of 64 MiB",
        vec![
            "-f".into(),
            path(&long_line),
            "--resolver".into(),
            "127.0.0.1:9".into(),
        ],
    );
    run(
        "-f: 32 MiB of random bytes",
        vec![
            "-f".into(),
            path(&binary),
            "--resolver".into(),
            "127.0.0.1:9".into(),
        ],
    );
    run(
        "explain: 64 MiB file",
        vec!["explain".into(), path(&long_line)],
    );
    run(
        "explain: /dev/zero",
        vec!["explain".into(), "/dev/zero".into()],
    );
    run(
        "logs: one line of 64 MiB",
        vec!["logs".into(), path(&long_line)],
    );
    run(
        "logs: 32 MiB of random bytes",
        vec!["logs".into(), path(&binary)],
    );
    let _ = std::fs::remove_dir_all(&dir);

    println!("| fault | peak RSS (KiB) | wall (s) | exit status |");
    println!("|---|---:|---:|---:|");
    for (what, kib, seconds, code) in &rows {
        println!("| {what} | {kib} | {seconds:.2} | {code} |");
    }
    for (what, kib, _, _) in &rows {
        assert!(*kib > 0, "{what}: no measurement");
        assert!(*kib < BOUND_KIB, "{what}: {kib} KiB");
    }
}

// ------------------------------------------------------------------ HTTPS ----

/// Fetches the MTA-STS policy of `fault.test` from the scripted policy host, with a client
/// that accepts its certificate (the faults are above TLS).
async fn fetch_policy_from(server: &FaultHttp, limit: Duration) -> (PolicyFetch, Vec<String>) {
    let dns = FakeDns::single_mx(DOMAIN)
        .answer(
            "mta-sts.fault.test",
            QueryType::A,
            Outcome::Answer {
                records: vec![Rdata::A(Ipv4Addr::LOCALHOST)],
            },
        )
        .answer("mta-sts.fault.test", QueryType::Aaaa, Outcome::NoData);
    let started = Instant::now();
    let (fetch, lookups) = https::fetch_policy(
        &dns,
        DOMAIN,
        relay::permissive_client(),
        server.addr.port(),
        limit,
    )
    .await;
    within("MTA-STS fetch", started.elapsed(), limit);
    (fetch, lookups.into_iter().map(|l| l.name).collect())
}

const FETCH_LIMIT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn a_policy_host_that_behaves_gives_its_policy() {
    let server = FaultHttp::start(HttpFault::Healthy);
    let (fetch, _) = fetch_policy_from(&server, FETCH_LIMIT).await;
    let Fetch::Response { code, body, .. } = &fetch.fetch else {
        panic!("{fetch:?}");
    };
    assert_eq!(*code, 200);
    assert!(mta_sts::parse_policy(body).is_valid(), "{body:?}");
    assert!(server.requests()[0].starts_with("GET /.well-known/mta-sts.txt HTTP/1.0\r\n"));
}

#[tokio::test]
async fn a_trickled_policy_ends_at_the_fetch_deadline() {
    let server = FaultHttp::start(HttpFault::Trickle);
    let started = Instant::now();
    let (fetch, _) = fetch_policy_from(&server, FETCH_LIMIT).await;
    assert!(started.elapsed() >= FETCH_LIMIT);
    assert_eq!(fetch.fetch, Fetch::Timeout);
}

#[tokio::test]
async fn a_redirect_is_reported_never_followed() {
    let server = FaultHttp::start(HttpFault::Redirect);
    let (fetch, names) = fetch_policy_from(&server, FETCH_LIMIT).await;
    let Fetch::Response { code, location, .. } = &fetch.fetch else {
        panic!("{fetch:?}");
    };
    assert_eq!(*code, 301);
    assert_eq!(
        location.as_deref(),
        Some("https://policy.elsewhere.test/.well-known/mta-sts.txt")
    );
    assert_eq!(server.connections(), 1);
    // The other host was not even looked up.
    assert!(names.iter().all(|n| n == "mta-sts.fault.test"), "{names:?}");
}

#[tokio::test]
async fn a_body_of_100_mb_is_cut_off_at_the_policy_limit() {
    let server = FaultHttp::start(HttpFault::Huge);
    let (fetch, _) = fetch_policy_from(&server, FETCH_LIMIT).await;
    let Fetch::Protocol { reason } = &fetch.fetch else {
        panic!("{fetch:?}");
    };
    assert!(
        reason.contains(&format!("longer than {}", https::BODY_LIMIT)),
        "{reason}"
    );
    // The client stopped reading: the server could not push the 100 MB (socket buffers
    // hold a few megabytes at most).
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.written() < 32 << 20, "{} bytes", server.written());
}

#[tokio::test]
async fn a_policy_host_that_is_not_http_is_a_protocol_error() {
    let server = FaultHttp::start(HttpFault::Garbage);
    let (fetch, _) = fetch_policy_from(&server, FETCH_LIMIT).await;
    let Fetch::Protocol { reason } = &fetch.fetch else {
        panic!("{fetch:?}");
    };
    assert!(reason.contains("not an HTTP status line"), "{reason}");
    assert!(reason.contains("SSH-2.0"), "{reason}");
}

#[tokio::test]
async fn a_silent_policy_host_ends_at_the_fetch_deadline() {
    let server = FaultHttp::start(HttpFault::Silent);
    let (fetch, _) = fetch_policy_from(&server, FETCH_LIMIT).await;
    assert_eq!(fetch.fetch, Fetch::Timeout);
}

#[tokio::test]
async fn a_policy_host_that_holds_the_connection_open_ends_at_the_deadline() {
    // HTTP/1.0 with Connection: close: the answer ends when the server closes. One that
    // never closes costs the fetch its time limit, no more.
    let server = FaultHttp::start(HttpFault::HoldOpen);
    let (fetch, _) = fetch_policy_from(&server, FETCH_LIMIT).await;
    assert_eq!(fetch.fetch, Fetch::Timeout);
}
