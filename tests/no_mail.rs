//! The probe never sends mail: for every SMTP listener of the lab (docs/lab.md), a
//! recording relay (`tests/support/relay.rs`) sits between smtpdiag and the real server
//! and keeps every line smtpdiag sends, in the clear and inside STARTTLS. No line may be
//! DATA or BDAT, and every line must be one of the commands of a probe: nothing that could
//! be a message body ever leaves.
//!
//! The lab's Exim listens on nothing (it only sends); every lab SMTP server is a Postfix
//! listener.

mod support;

use std::net::{IpAddr, SocketAddr};

use serde_json::Value;
use support::command::smtpdiag;
use support::lab;
use support::relay::{RecordingRelay, Sent};

/// The commands a probe may send.
const PROBE_VERBS: [&str; 7] = ["EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "RSET", "QUIT"];

/// How far the dialogue gets with a listener, as the lab defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// No command: no greeting (stall) or 421 and a hang-up (busy).
    Nothing,
    /// Refused before the transaction (554 greeting, then only QUIT).
    Refused,
    /// Up to RCPT TO, in the clear.
    Rcpt,
    /// Up to RCPT TO, inside STARTTLS.
    RcptInTls,
}

/// Every lab listener: the domain whose MX it is, its address, how far a probe gets.
fn listeners() -> Vec<(String, &'static str, Reach)> {
    let mut all = vec![
        ("healthy.test".to_string(), lab::HEALTHY, Reach::RcptInTls),
        ("v6only.test".into(), lab::V6ONLY, Reach::RcptInTls),
        ("busy.test".into(), lab::BUSY, Reach::Nothing),
        ("deny.test".into(), lab::DENY, Reach::Refused),
        ("rbl.test".into(), lab::RBL, Reach::RcptInTls),
        ("helo.test".into(), lab::HELO, Reach::RcptInTls),
        ("grey.test".into(), lab::GREY, Reach::RcptInTls),
        ("badtls.test".into(), lab::BADTLS, Reach::Rcpt),
        ("relay.test".into(), lab::RELAY, Reach::RcptInTls),
        ("stall.test".into(), lab::STALL, Reach::Nothing),
        ("expired.test".into(), lab::EXPIRED, Reach::RcptInTls),
        ("selfsigned.test".into(), lab::SELFSIGNED, Reach::RcptInTls),
    ];
    for (n, address) in lab::BATCH.iter().enumerate() {
        all.push((format!("d{:04}.batch.test", n + 1), address, Reach::Rcpt));
    }
    all
}

fn verb(line: &str) -> String {
    line.split([' ', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// Probes `domain` through a relay in front of its listener; what smtpdiag sent.
fn probe_through_relay(domain: &str, address: &str) -> (Vec<Sent>, usize, Value) {
    let ip: IpAddr = address.parse().unwrap();
    let relay = RecordingRelay::start(ip, SocketAddr::new(ip, lab::SMTP_PORT));
    let output = smtpdiag()
        .args([domain, "--json", "--no-dnsbl", "--timeout", "3"])
        .args(["--resolver", lab::RESOLVER])
        .args(["--port", &relay.addr.port().to_string()])
        .args(["--helo", "probe.smtpdiag.test"])
        .args(["--rcpt", &format!("postmaster@{domain}")])
        .args(["--rcpt", &format!("nobody@{domain}")])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{domain}: no JSON report ({e}): {output:?}"));
    // Let the relay's threads record the last line (QUIT) before it is read.
    std::thread::sleep(std::time::Duration::from_millis(100));
    (relay.sent(), relay.connections(), report)
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn no_lab_server_ever_receives_data_bdat_or_a_message() {
    lab::ensure_running();
    let mut lines = 0;
    for (domain, address, reach) in listeners() {
        let (sent, connections, report) = probe_through_relay(&domain, address);
        assert!(
            connections >= 1,
            "{domain}: the probe never reached the relay: {report}"
        );
        for line in &sent {
            let verb = verb(&line.line);
            assert!(
                verb != "DATA" && verb != "BDAT",
                "{domain}: smtpdiag sent {line:?}"
            );
            assert!(
                PROBE_VERBS.contains(&verb.as_str()),
                "{domain}: smtpdiag sent a line that is no probe command: {line:?}"
            );
        }
        let rcpt = |tls: bool| sent.iter().any(|s| verb(&s.line) == "RCPT" && s.tls == tls);
        match reach {
            Reach::Nothing => assert!(sent.is_empty(), "{domain}: {sent:?}"),
            Reach::Refused => assert!(
                sent.iter().all(|s| verb(&s.line) == "QUIT"),
                "{domain}: {sent:?}"
            ),
            Reach::Rcpt => assert!(rcpt(false), "{domain}: {sent:?}"),
            Reach::RcptInTls => assert!(rcpt(true), "{domain}: {sent:?}"),
        }
        lines += sent.len();
    }
    // Not a vacuous pass: the dialogues were recorded.
    assert!(lines > 100, "only {lines} lines recorded");
}
