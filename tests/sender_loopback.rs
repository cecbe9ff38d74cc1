//! `smtpdiag sender` end to end against a DNS responder on loopback: each case serves a
//! zone, runs the binary, and checks the result, the findings with their causes and
//! replies, and the exit status. The JSON follows docs/sender.schema.json.

mod support;

use std::net::Ipv4Addr;
use std::sync::OnceLock;

use hickory_proto::rr::RecordType;
use serde_json::Value;
use support::command::smtpdiag;
use support::findings::{finding, kinds};
use support::zone_server::{Rr, Zone, ZoneServer};

const KEY_512: &str = include_str!("fixtures/dkim/rsa-512.b64");
const KEY_1024: &str = include_str!("fixtures/dkim/rsa-1024.b64");
const KEY_2048: &str = include_str!("fixtures/dkim/rsa-2048.b64");

fn txt(text: &str) -> Rr {
    Rr::Txt(vec![text.to_string()])
}

fn a(address: &str) -> Rr {
    Rr::A(address.parse::<Ipv4Addr>().unwrap())
}

/// A sender in order: SPF pass for 192.0.2.10, DMARC reject, a 2048-bit key, forward-confirmed reverse DNS.
fn base_zone() -> Zone {
    let mut zone = Zone::new();
    zone.add("good.test", txt("v=spf1 ip4:192.0.2.10 -all"))
        .add(
            "_dmarc.good.test",
            txt("v=DMARC1; p=reject; rua=mailto:dmarc@good.test"),
        )
        .add(
            "s2048._domainkey.good.test",
            txt(&format!("v=DKIM1; k=rsa; p={}", KEY_2048.trim())),
        )
        .add("10.2.0.192.in-addr.arpa", Rr::Ptr("mail.good.test".into()))
        .add("mail.good.test", a("192.0.2.10"));
    zone
}

fn server() -> &'static ZoneServer {
    static SERVER: OnceLock<ZoneServer> = OnceLock::new();
    SERVER.get_or_init(|| ZoneServer::start(Zone::new()))
}

/// Runs `smtpdiag sender` against `zone` (each test has its own server when zones
/// differ), returning the JSON report and the exit status.
fn run(zone: Zone, args: &[&str]) -> (Value, i32) {
    let server = ZoneServer::start(zone);
    let lists: &[&str] = if args.contains(&"--dnsbl") {
        &[]
    } else {
        &["--no-dnsbl"]
    };
    let output = smtpdiag()
        .arg("sender")
        .args(args)
        .args(lists)
        .args(["--resolver", &server.resolver_arg()])
        .args(["--dns-timeout", "1", "--dns-attempts", "1", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    support::schema::check_sender(&report);
    (report, output.status.code().unwrap())
}

fn requirement<'a>(report: &'a Value, id: &str) -> &'a str {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .and_then(|r| r["status"].as_str())
        .unwrap()
}

#[test]
fn a_sender_in_order_passes_everything() {
    let (report, code) = run(
        base_zone(),
        &[
            "news@good.test",
            "--ip",
            "192.0.2.10",
            "--helo",
            "mail.good.test",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verdict"], "ok");
    assert_eq!(report["spf"]["evaluations"][0]["result"], "pass");
    assert_eq!(
        report["spf"]["evaluations"][0]["chain"][0]["term"],
        "ip4:192.0.2.10"
    );
    assert_eq!(report["dmarc"]["record"]["policy"]["p"], "reject");
    assert_eq!(report["reverse_dns"][0]["forward_confirmed"], true);
    assert!(
        report["helo"]["not_matching"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(requirement(&report, "requirement-spf-or-dkim"), "pass");
    assert_eq!(requirement(&report, "requirement-fcrdns"), "pass");
    // No selector given: DKIM is not known, and the bulk lines that need it say so.
    assert_eq!(requirement(&report, "requirement-spf-and-dkim"), "unknown");
    assert!(kinds(&report).is_empty(), "{:?}", kinds(&report));
    let (report, code) = run(
        base_zone(),
        &[
            "good.test",
            "--ip",
            "192.0.2.10",
            "--dkim-selector",
            "s2048",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(report["dkim"][0]["key"]["key"]["bits"], 2048);
    assert_eq!(requirement(&report, "requirement-spf-and-dkim"), "pass");
    assert_eq!(requirement(&report, "requirement-alignment"), "pass");
}

#[test]
fn spf_fail_is_a_permanent_refusal_with_its_replies() {
    let (report, code) = run(base_zone(), &["good.test", "--ip", "198.51.100.7"]);
    assert_eq!(code, 2);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "fail");
    let fail = finding(&report, "sender-spf-fail");
    assert_eq!(fail["cause"]["id"], "spf-failed");
    assert_eq!(fail["cause"]["parent"], "auth-failed");
    assert_eq!(fail["code"], 550);
    assert_eq!(fail["enhanced"], "5.7.27");
    // Unauthenticated, with DMARC p=reject: the DMARC refusal is the cause.
    let unauthenticated = finding(&report, "sender-unauthenticated");
    assert_eq!(unauthenticated["cause"]["id"], "dmarc-rejected");
    assert!(
        unauthenticated["params"]["replies"]
            .as_str()
            .unwrap()
            .contains("550 5.7.26")
    );
    // No PTR for this address either.
    assert_eq!(
        finding(&report, "sender-ptr-missing")["cause"]["id"],
        "no-reverse-dns"
    );
    assert_eq!(requirement(&report, "requirement-spf-or-dkim"), "unknown");
}

#[test]
fn softfail_neutral_and_the_lookup_limits() {
    let mut zone = base_zone();
    zone.add("soft.test", txt("v=spf1 ~all"))
        .add("neutral.test", txt("v=spf1 ?all"));
    // Eleven includes: one more than RFC 7208 §4.6.4 allows.
    let includes: Vec<String> = (0..11).map(|i| format!("include:i{i}.many.test")).collect();
    zone.add(
        "many.test",
        txt(&format!("v=spf1 {} -all", includes.join(" "))),
    );
    for i in 0..11 {
        zone.add(&format!("i{i}.many.test"), txt("v=spf1 ip4:203.0.113.1"));
    }
    // Three lookups that find nothing: one more than the void limit.
    zone.add(
        "void.test",
        txt("v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all"),
    );
    let (report, code) = run(zone.clone(), &["soft.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "softfail");
    assert!(kinds(&report).contains(&"sender-spf-not-pass".to_string()));
    assert!(code <= 2);
    let (report, _) = run(zone.clone(), &["neutral.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "neutral");
    let (report, code) = run(zone.clone(), &["many.test", "--ip", "192.0.2.10"]);
    assert_eq!(code, 2);
    let evaluation = &report["spf"]["evaluations"][0];
    assert_eq!(evaluation["result"], "permerror");
    assert_eq!(evaluation["cause"], "lookup limit exceeded");
    assert_eq!(
        finding(&report, "sender-spf-permerror")["cause"]["id"],
        "spf-failed"
    );
    let (report, _) = run(zone, &["void.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "permerror");
    assert_eq!(
        report["spf"]["evaluations"][0]["cause"],
        "void lookup limit exceeded"
    );
}

#[test]
fn include_redirect_and_macros_are_followed() {
    let mut zone = base_zone();
    zone.add("inc.test", txt("v=spf1 include:_spf.provider.test -all"))
        .add("_spf.provider.test", txt("v=spf1 ip4:192.0.2.0/24 -all"))
        .add("redir.test", txt("v=spf1 redirect=_spf.provider.test"))
        .add(
            "macro.test",
            txt("v=spf1 exists:%{l}.%{i}._spf.macro.test -all"),
        )
        .add("news.192.0.2.10._spf.macro.test", a("127.0.0.2"));
    let (report, code) = run(zone.clone(), &["inc.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "pass");
    let chain = report["spf"]["evaluations"][0]["chain"].as_array().unwrap();
    assert_eq!(chain[0]["term"], "include:_spf.provider.test");
    assert_eq!(chain[1]["domain"], "_spf.provider.test");
    assert_eq!(chain[1]["term"], "ip4:192.0.2.0/24");
    assert_eq!(code, 0, "{}", report["findings"]);
    let (report, _) = run(zone.clone(), &["redir.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "pass");
    let (report, _) = run(zone.clone(), &["news@macro.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "pass");
    let (report, _) = run(zone, &["other@macro.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["evaluations"][0]["result"], "fail");
}

#[test]
fn broken_spf_records() {
    let mut zone = base_zone();
    zone.add("two.test", txt("v=spf1 -all"))
        .add("two.test", txt("v=spf1 +all"))
        .add("bad.test", txt("v=spf1 ip4:192.0.2.300 -all"))
        .add("none.test", txt("google-site-verification=abc"));
    let (report, code) = run(zone.clone(), &["two.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["record"]["status"], "several");
    assert_eq!(
        finding(&report, "sender-spf-several")["severity"],
        "permanent"
    );
    assert_eq!(code, 2);
    let (report, _) = run(zone.clone(), &["bad.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["record"]["status"], "malformed");
    assert!(kinds(&report).contains(&"sender-spf-malformed".to_string()));
    let (report, _) = run(zone, &["none.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["spf"]["record"]["status"], "none");
    assert_eq!(report["spf"]["evaluations"][0]["result"], "none");
    assert_eq!(
        finding(&report, "sender-spf-none")["cause"]["id"],
        "auth-failed"
    );
}

#[test]
fn dmarc_policies_inheritance_and_report_destinations() {
    let mut zone = base_zone();
    zone.add("sub.good.test", txt("v=spf1 ip4:192.0.2.10 -all"))
        .add("nodmarc.test", txt("v=spf1 ip4:192.0.2.10 -all"))
        .add("broken.test", txt("v=spf1 ip4:192.0.2.10 -all"))
        .add("_dmarc.broken.test", txt("v=DMARC1; p=block"))
        .add("ext.test", txt("v=spf1 ip4:192.0.2.10 -all"))
        .add(
            "_dmarc.ext.test",
            txt("v=DMARC1; p=quarantine; rua=mailto:a@reports.example,mailto:b@other.example"),
        )
        .add("ext.test._report._dmarc.reports.example", txt("v=DMARC1"));
    let (report, _) = run(zone.clone(), &["sub.good.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["dmarc"]["inherited"], true);
    assert_eq!(report["dmarc"]["record"]["at"], "good.test");
    assert!(kinds(&report).contains(&"sender-dmarc-inherited".to_string()));
    let (report, _) = run(zone.clone(), &["nodmarc.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["dmarc"]["record"]["status"], "none");
    assert_eq!(requirement(&report, "requirement-dmarc"), "fail");
    let (report, _) = run(zone.clone(), &["broken.test", "--ip", "192.0.2.10"]);
    assert_eq!(report["dmarc"]["record"]["status"], "malformed");
    let (report, _) = run(zone, &["ext.test", "--ip", "192.0.2.10"]);
    let destinations = report["dmarc"]["destinations"].as_array().unwrap();
    assert_eq!(destinations[0]["authorised"], true);
    assert_eq!(destinations[1]["authorised"], false);
    let unauthorised = finding(&report, "sender-dmarc-external-unauthorised");
    assert_eq!(unauthorised["subject"], "mailto:b@other.example");
}

#[test]
fn dkim_keys_sizes_revoked_and_testing() {
    let mut zone = base_zone();
    zone.add(
        "s1024._domainkey.good.test",
        txt(&format!("v=DKIM1; k=rsa; t=y; p={}", KEY_1024.trim())),
    )
    .add(
        "s512._domainkey.good.test",
        txt(&format!("v=DKIM1; p={}", KEY_512.trim())),
    )
    .add("old._domainkey.good.test", txt("v=DKIM1; k=rsa; p="));
    let (report, code) = run(
        zone,
        &[
            "good.test",
            "--ip",
            "192.0.2.10",
            "--dkim-selector",
            "s1024",
            "--dkim-selector",
            "s512",
            "--dkim-selector",
            "old",
            "--dkim-selector",
            "gone",
        ],
    );
    assert_eq!(code, 0, "SPF passes: DKIM problems alone refuse nothing");
    let bits: Vec<&Value> = report["dkim"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["key"]["key"]["bits"])
        .collect();
    assert_eq!(bits[0], 1024);
    assert_eq!(bits[1], 512);
    for kind in [
        "sender-dkim-short-key",
        "sender-dkim-testing",
        "sender-dkim-weak-key",
        "sender-dkim-revoked",
        "sender-dkim-missing",
    ] {
        assert!(kinds(&report).contains(&kind.to_string()), "{kind}");
    }
    assert_eq!(
        finding(&report, "sender-dkim-weak-key")["cause"]["id"],
        "dkim-failed"
    );
}

#[test]
fn reverse_dns_mismatch_generic_names_and_helo() {
    let mut zone = base_zone();
    zone.add("spf.test", txt("v=spf1 ip4:192.0.2.0/24 -all"))
        .add("20.2.0.192.in-addr.arpa", Rr::Ptr("elsewhere.test".into()))
        .add("elsewhere.test", a("192.0.2.99"))
        .add(
            "30.2.0.192.in-addr.arpa",
            Rr::Ptr("192-0-2-30.dynamic.isp.test".into()),
        )
        .add("192-0-2-30.dynamic.isp.test", a("192.0.2.30"));
    let (report, code) = run(
        zone.clone(),
        &["spf.test", "--ip", "192.0.2.20", "--helo", "mail.good.test"],
    );
    assert_eq!(
        code, 1,
        "a PTR that does not resolve back is deferred: {report}"
    );
    assert_eq!(
        finding(&report, "sender-ptr-mismatch")["enhanced"],
        "4.7.23"
    );
    assert_eq!(
        finding(&report, "sender-helo-mismatch")["cause"]["id"],
        "bad-helo"
    );
    let (report, _) = run(zone, &["spf.test", "--ip", "192.0.2.30"]);
    assert!(kinds(&report).contains(&"sender-ptr-generic".to_string()));
    assert_eq!(report["reverse_dns"][0]["forward_confirmed"], true);
}

#[test]
fn a_listed_address_is_refused() {
    let mut zone = base_zone();
    zone.add("10.2.0.192.bl.test", a("127.0.0.2"))
        .add("2.0.0.127.bl.test", a("127.0.0.2"));
    let (report, code) = run(
        zone,
        &["good.test", "--ip", "192.0.2.10", "--dnsbl", "bl.test"],
    );
    assert_eq!(code, 2);
    assert_eq!(
        finding(&report, "dnsbl-listed-sender")["severity"],
        "permanent"
    );
}

#[test]
fn a_silent_resolver_leaves_the_checks_incomplete() {
    let mut zone = base_zone();
    zone.time_out_type("good.test", RecordType::TXT)
        .time_out_type("_dmarc.good.test", RecordType::TXT);
    let (report, code) = run(zone, &["good.test", "--ip", "192.0.2.10"]);
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["spf"]["record"]["status"], "lookup-failed");
}

#[test]
fn the_report_speaks_the_language_asked_for() {
    let server = server();
    server.set_zone(base_zone());
    let output = smtpdiag()
        .args([
            "sender",
            "good.test",
            "--ip",
            "198.51.100.7",
            "--no-dnsbl",
            "--lang",
            "ja",
        ])
        .args(["--resolver", &server.resolver_arg(), "--dns-timeout", "1"])
        .args(["--dns-attempts", "1", "--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text.contains("拒否される"), "{text}");
    assert!(
        text.contains("Gmail、Yahoo/AOL、Microsoft の要件"),
        "{text}"
    );
    for english in [
        "will be refused",
        "Reverse DNS",
        "What Gmail",
        "if not:",
        "Fix:",
        "matched",
    ] {
        assert!(!text.contains(english), "{english:?} in {text}");
    }
}

#[test]
fn explain_of_an_authentication_refusal_points_at_smtpdiag_sender() {
    for reply in [
        "550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
        "550 5.7.25 The IP address sending this message does not have a PTR record setup",
    ] {
        let output = smtpdiag()
            .args(["explain", reply, "--color", "never"])
            .output()
            .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("smtpdiag sender DOMAIN --ip ADDRESS"),
            "{reply}: {text}"
        );
    }
}

/// The checks of a domain run at the same time: with every answer 200 ms away, the report
/// takes about as long as its longest chain of dependent lookups (an SPF include: the
/// record, then the included record; reverse DNS: the PTR, then its A record), not the
/// sum of all its lookups (a dozen here).
#[test]
fn all_checks_take_the_time_of_the_longest_chain() {
    const DELAY_MS: f64 = 200.0;
    let mut zone = base_zone();
    zone.add("inc.test", txt("v=spf1 include:_spf.provider.test -all"))
        .add("_spf.provider.test", txt("v=spf1 ip4:192.0.2.0/24 -all"))
        .add(
            "s2048._domainkey.inc.test",
            txt(&format!("v=DKIM1; p={}", KEY_2048.trim())),
        )
        .add("_dmarc.inc.test", txt("v=DMARC1; p=none"))
        .delay(std::time::Duration::from_millis(200));
    let (report, code) = run(
        zone,
        &[
            "inc.test",
            "--ip",
            "192.0.2.10",
            "--helo",
            "mail.good.test",
            "--dkim-selector",
            "s2048",
        ],
    );
    assert_eq!(code, 0, "{}", report["findings"]);
    let lookups = report["lookups"].as_array().unwrap().len()
        + report["spf"]["evaluations"][0]["lookups"]
            .as_array()
            .unwrap()
            .len()
        + report["dmarc"]["lookups"].as_array().unwrap().len()
        + report["dkim"].as_array().unwrap().len()
        + 1;
    let took = report["duration_ms"].as_f64().unwrap();
    eprintln!("{lookups} lookups, {took:.0} ms at {DELAY_MS} ms each");
    assert!(lookups >= 8, "{lookups}");
    assert!(took >= 2.0 * DELAY_MS, "{took} ms");
    assert!(
        took < 3.5 * DELAY_MS,
        "{took} ms: the checks did not overlap"
    );
}
