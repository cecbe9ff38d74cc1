//! The probe end to end, through the binary, against the lab's real servers: unbound, nsd,
//! rbldnsd, Postfix and postgrey on loopback (tests/lab, docs/lab.md). Every query and
//! connection goes to 127.0.0.0/8 or `::1`.

mod support;

use std::net::UdpSocket;

use assert_cmd::Command;
use serde_json::Value;
use support::findings::{finding, kinds};

/// Runs `smtpdiag ARGS --resolver <lab> --json` and returns the exit code and the report.
fn probe(args: &[&str]) -> (i32, Value) {
    support::lab::ensure_running();
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(args)
        .args([
            "--resolver",
            support::lab::RESOLVER,
            "--helo",
            "probe.smtpdiag.test",
            "--timeout",
            "5",
            "--json",
        ])
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value = serde_json::from_str(stdout.lines().next().unwrap_or("null"))
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}\n{stderr}"));
    support::schema::check_report(&report);
    (output.status.code().unwrap_or(-1), report)
}

fn session_steps(report: &Value, index: usize) -> Vec<String> {
    report["sessions"][index]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap().to_string())
        .collect()
}

fn rcpt_reply(report: &Value) -> &Value {
    let sessions = report["sessions"].as_array().unwrap();
    let Some(step) = sessions
        .iter()
        .flat_map(|s| s["steps"].as_array().unwrap())
        .find(|s| s["stage"] == "rcpt-to")
    else {
        panic!("no RCPT TO in {sessions:?}");
    };
    &step["reply"]
}

// --- DNS -----------------------------------------------------------------------------

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn null_mx_is_permanent_without_connecting() {
    let (code, report) = probe(&["nullmx.test"]);
    assert_eq!(code, 2);
    assert_eq!(report["verdict"], "permanent");
    assert_eq!(report["null_mx"], true);
    let f = finding(&report, "null-mx");
    assert_eq!(f["code"], 556);
    assert_eq!(f["enhanced"], "5.1.10");
    assert_eq!(f["severity"], "permanent");
    assert!(report["sessions"].as_array().unwrap().is_empty());
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn null_mx_mixed_with_other_records_is_its_own_finding() {
    let (_, report) = probe(&["nullmix.test", "--no-smtp"]);
    assert_eq!(report["null_mx"], true);
    assert_eq!(finding(&report, "null-mx-mixed")["severity"], "warning");
    assert_eq!(report["mx"][0]["host"], "mx.healthy.test");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn implicit_mx_uses_the_domain_address() {
    let (code, report) = probe(&["implicit.test", "--no-smtp"]);
    assert_eq!(code, 0);
    assert_eq!(report["implicit_mx"], true);
    assert_eq!(report["mx"][0]["host"], "implicit.test");
    assert_eq!(report["mx"][0]["addresses"][0], "127.0.0.10");
    assert_eq!(finding(&report, "implicit-mx")["severity"], "info");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn no_mx_and_no_address_cannot_receive_mail() {
    let (code, report) = probe(&["nomail.test"]);
    assert_eq!(code, 2);
    assert_eq!(finding(&report, "no-mail-host")["severity"], "permanent");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn dangling_mx() {
    let (code, report) = probe(&["dangling.test"]);
    assert_eq!(code, 2);
    assert!(
        finding(&report, "mx-dangling")["title"]
            .as_str()
            .unwrap()
            .contains("mx.nowhere.test")
    );
    assert_eq!(finding(&report, "no-usable-mx")["severity"], "permanent");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn ip_literal_mx() {
    let (code, report) = probe(&["literal.test"]);
    assert_eq!(code, 2);
    assert_eq!(finding(&report, "mx-ip-literal")["severity"], "warning");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn cname_mx_and_duplicate_hosts() {
    let (_, report) = probe(&["cname.test", "--no-smtp"]);
    assert_eq!(report["mx"][0]["cname"], "mx.healthy.test");
    assert!(
        finding(&report, "mx-cname")["title"]
            .as_str()
            .unwrap()
            .contains("alias.cname.test")
    );
    let (_, report) = probe(&["dupmx.test", "--no-smtp"]);
    assert_eq!(report["mx"].as_array().unwrap().len(), 1);
    finding(&report, "mx-duplicate-host");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn nxdomain_servfail_and_timeout_are_distinct() {
    let (code, report) = probe(&["nosuch.test"]);
    assert_eq!((code, report["verdict"].as_str()), (2, Some("permanent")));
    finding(&report, "domain-nxdomain");

    let (code, report) = probe(&["servfail.test"]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("transient")));
    finding(&report, "domain-servfail");

    // A resolver that never answers: the verdict is "could not determine", never "no record".
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["healthy.test", "--json", "--resolver", &address])
        .args(["--dns-timeout", "0.5", "--dns-attempts", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["verdict"], "unknown");
    let found = kinds(&report);
    assert!(
        found
            .iter()
            .any(|k| k == "resolver-timeout" || k == "resolver-unreachable"),
        "{found:?}"
    );
    assert!(
        !found
            .iter()
            .any(|k| k.contains("nxdomain") || k == "no-mail-host")
    );
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn unreachable_resolver_exits_3() {
    // Port 9 (discard) on loopback: nothing listens, so the query is refused at once.
    let (code, report) = probe_with_resolver("healthy.test", "127.0.0.1:9");
    assert_eq!(code, 3);
    assert_eq!(report["verdict"], "unknown");
}

fn probe_with_resolver(domain: &str, resolver: &str) -> (i32, Value) {
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args([
            domain,
            "--json",
            "--resolver",
            resolver,
            "--dns-timeout",
            "1",
        ])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), report)
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn internationalised_names_are_shown_as_typed() {
    let (_, report) = probe(&["bücher.test"]);
    assert_eq!(report["domain"], "bücher.test");
    assert_eq!(report["ascii_domain"], "xn--bcher-kva.test");
    finding(&report, "domain-nxdomain");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn reverse_dns_is_forward_confirmed() {
    let (_, report) = probe(&["healthy.test", "--no-smtp"]);
    let reverse = &report["mx"][0]["reverse_dns"][0];
    assert_eq!(reverse["names"][0], "mx.healthy.test");
    assert_eq!(reverse["forward_confirmed"], true);

    let (_, report) = probe(&["deny.test", "--no-smtp"]);
    assert_eq!(
        report["mx"][0]["reverse_dns"][0]["forward_confirmed"],
        false
    );
    finding(&report, "ptr-mismatch");

    let (_, report) = probe(&["rbl.test", "--no-smtp"]);
    finding(&report, "ptr-missing");
}

// --- DNS blocklists -------------------------------------------------------------------

fn dnsbl_entry<'a>(report: &'a Value, address: &str, zone: &str) -> &'a Value {
    report["dnsbl"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address && r["zone"] == zone)
        .unwrap_or_else(|| panic!("no {address} @ {zone}"))
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn a_listed_sending_address_is_a_554_class_finding() {
    let (code, report) = probe(&["healthy.test", "--no-smtp", "--check-ip", "127.0.0.66"]);
    assert_eq!(code, 2);
    let zen = dnsbl_entry(&report, "127.0.0.66", "zen.spamhaus.org");
    assert_eq!(zen["listed"], true);
    assert_eq!(
        zen["answers"],
        serde_json::json!(["127.0.0.2", "127.0.0.4"])
    );
    let meanings = zen["meanings"].to_string();
    assert!(
        meanings.contains("SBL") && meanings.contains("XBL"),
        "{meanings}"
    );
    assert!(
        zen["txt"]
            .to_string()
            .contains("spamhaus.org/query/ip/127.0.0.66")
    );
    let spamcop = dnsbl_entry(&report, "127.0.0.66", "bl.spamcop.net");
    assert_eq!(spamcop["listed"], true);
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["kind"] == "dnsbl-listed-sender" && f["subject"].as_str().unwrap().contains("zen")
        })
        .unwrap();
    assert_eq!(f["code"], 554);
    assert_eq!(f["severity"], "permanent");
    assert!(f["fix"].as_str().unwrap().contains("check.spamhaus.org"));
    // The MX address itself is not listed.
    assert_eq!(
        dnsbl_entry(&report, "127.0.0.10", "zen.spamhaus.org")["listed"],
        false
    );
}

fn blocklist(args: &[&str]) -> (i32, Value) {
    support::lab::ensure_running();
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .arg("blocklist")
        .args(args)
        .args(["--resolver", support::lab::RESOLVER, "--json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {output:?}"));
    (output.status.code().unwrap_or(-1), report)
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn listed_ipv6_and_pbl_meanings() {
    let (code, report) = blocklist(&["2001:db8::66", "127.0.0.67"]);
    assert_eq!(code, 2);
    let v6 = dnsbl_entry(&report, "2001:db8::66", "zen.spamhaus.org");
    assert_eq!(v6["listed"], true);
    assert_eq!(v6["answers"][0], "127.0.0.3");
    assert!(v6["meanings"][0].as_str().unwrap().contains("CSS"));
    // Lists without IPv6 data are not asked about IPv6 addresses.
    assert_eq!(
        dnsbl_entry(&report, "2001:db8::66", "bl.spamcop.net")["status"],
        "skipped"
    );
    let pbl = dnsbl_entry(&report, "127.0.0.67", "zen.spamhaus.org");
    assert!(pbl["meanings"][0].as_str().unwrap().starts_with("PBL"));
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn spamhaus_error_answers_are_not_listings() {
    let (code, report) = blocklist(&["127.0.0.70", "127.0.0.71", "127.0.0.72"]);
    assert_eq!(code, 0, "{report}");
    for (address, status, kind) in [
        ("127.0.0.70", "public-resolver", "dnsbl-public-resolver"),
        ("127.0.0.71", "rate-limited", "dnsbl-rate-limited"),
        ("127.0.0.72", "typo", "dnsbl-typo"),
    ] {
        let entry = dnsbl_entry(&report, address, "zen.spamhaus.org");
        assert_eq!(entry["listed"], false, "{address}");
        assert_eq!(entry["status"], status, "{address}");
        finding(&report, kind);
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn unreliable_lists_are_detected() {
    let (_, report) = blocklist(&["127.0.0.5", "--dnsbl", "listall.dnsbl.test"]);
    assert_eq!(report["dnsbl_lists"][0]["localhost_listed"], true);
    assert_eq!(report["dnsbl_lists"][0]["reliable"], false);
    let entry = dnsbl_entry(&report, "127.0.0.5", "listall.dnsbl.test");
    assert_eq!(
        entry["listed"], false,
        "a list that lists everything is ignored"
    );
    assert_eq!(entry["status"], "unreliable");
    finding(&report, "dnsbl-lists-everything");

    let (_, report) = blocklist(&["127.0.0.5", "--dnsbl", "empty.dnsbl.test"]);
    assert_eq!(report["dnsbl_lists"][0]["test_entry_listed"], false);
    finding(&report, "dnsbl-test-entry-missing");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn the_default_lists_are_healthy_in_the_lab() {
    let (code, report) = blocklist(&["127.0.0.5"]);
    assert_eq!(code, 0);
    for list in report["dnsbl_lists"].as_array().unwrap() {
        assert_eq!(list["reliable"], true, "{list}");
    }
}

// --- SMTP ---------------------------------------------------------------------------

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn healthy_server_accepts_postmaster_over_tls() {
    let (code, report) = probe(&["healthy.test"]);
    assert_eq!(code, 0, "{:?}", kinds(&report));
    assert_eq!(report["verdict"], "ok");
    let session = &report["sessions"][0];
    assert_eq!(session["outcome"], "completed");
    assert_eq!(rcpt_reply(&report)["code"], 250);
    assert_eq!(finding(&report, "rcpt-accepted")["severity"], "ok");
    let tls = &session["tls"];
    assert!(tls["version"].as_str().unwrap().starts_with("TLS 1."));
    assert!(!tls["cipher"].as_str().unwrap().is_empty());
    assert_eq!(tls["chain"][0]["names"][0], "mx.healthy.test");
    // The lab's certificate comes from the lab's own CA, which nobody trusts.
    assert_eq!(tls["trusted"], false);
    assert_eq!(tls["problems"][0]["problem"], "untrusted");
    finding(&report, "tls-untrusted");
    // The EHLO after STARTTLS ran inside TLS.
    let steps = session_steps(&report, 0);
    assert!(steps.contains(&"tls-handshake".to_string()), "{steps:?}");
    assert!(!steps.iter().any(|s| s == "data"));
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn the_lab_ca_makes_the_certificate_trusted() {
    let ca = support::lab::ca_file();
    let (code, report) = probe(&["healthy.test", "--ca-file", &ca]);
    assert_eq!(code, 0);
    assert_eq!(report["sessions"][0]["tls"]["trusted"], true);
    finding(&report, "tls-ok");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn self_signed_certificate() {
    let ca = support::lab::ca_file();
    // Trusting the lab CA changes nothing: the certificate signed itself.
    let (code, report) = probe(&["selfsigned.test", "--ca-file", &ca]);
    assert_eq!(code, 0, "a certificate problem does not stop delivery");
    let tls = &report["sessions"][0]["tls"];
    assert_eq!(tls["trusted"], false);
    assert_eq!(tls["problems"][0]["problem"], "self-signed");
    assert_eq!(tls["chain"][0]["self_signed"], true);
    assert_eq!(finding(&report, "tls-self-signed")["severity"], "warning");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn expired_and_misnamed_certificates() {
    let ca = support::lab::ca_file();
    let (_, report) = probe(&["expired.test", "--ca-file", &ca]);
    finding(&report, "tls-expired");
    let (_, report) = probe(&["wrongname.test", "--ca-file", &ca]);
    finding(&report, "tls-name-mismatch");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn unknown_mailbox_is_550_5_1_1() {
    let (code, report) = probe(&["healthy.test", "--rcpt", "nosuchuser@healthy.test"]);
    assert_eq!(code, 2);
    let reply = rcpt_reply(&report);
    assert_eq!(reply["code"], 550);
    assert_eq!(reply["enhanced"], "5.1.1");
    let f = finding(&report, "reply");
    assert_eq!(f["severity"], "permanent");
    assert_eq!(f["signature"], "postfix-user-unknown-local");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn an_address_as_the_target_asks_for_that_mailbox() {
    let (code, report) = probe(&["nosuchuser@healthy.test"]);
    assert_eq!(code, 2);
    assert_eq!(rcpt_reply(&report)["code"], 550);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn greeting_421_is_transient() {
    let (code, report) = probe(&["busy.test"]);
    assert_eq!(code, 1);
    assert_eq!(report["sessions"][0]["outcome"], "greeting-rejected");
    let f = finding(&report, "reply");
    assert_eq!(f["code"], 421);
    assert_eq!(f["severity"], "transient");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn greeting_554_is_permanent() {
    let (code, report) = probe(&["deny.test"]);
    assert_eq!(code, 2);
    assert_eq!(report["sessions"][0]["outcome"], "greeting-rejected");
    assert_eq!(finding(&report, "reply")["code"], 554);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn reject_rbl_client_becomes_a_dnsbl_finding() {
    let (code, report) = probe(&["rbl.test", "--source", "127.0.0.66"]);
    assert_eq!(code, 2, "{:?}", kinds(&report));
    let reply = rcpt_reply(&report);
    assert_eq!(reply["code"], 554);
    assert_eq!(reply["enhanced"], "5.7.1");
    let f = finding(&report, "reply-dnsbl");
    assert_eq!(f["severity"], "permanent");
    assert!(f["title"].as_str().unwrap().contains("zen.spamhaus.org"));
    assert!(f["fix"].as_str().unwrap().contains("check.spamhaus.org"));
    // From an address that is not listed the same server accepts.
    let (code, _) = probe(&["rbl.test"]);
    assert_eq!(code, 0);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn greylisting_is_transient() {
    let (code, report) = probe(&["grey.test"]);
    assert_eq!(code, 1);
    let reply = rcpt_reply(&report);
    assert_eq!(reply["code"], 450);
    assert_eq!(reply["enhanced"], "4.2.0");
    let f = finding(&report, "reply");
    assert_eq!(f["severity"], "transient");
    assert_eq!(f["signature"], "greylist-postgrey");
}

fn probe_helo(helo: &str) -> (i32, Value) {
    support::lab::ensure_running();
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args([
            "helo.test",
            "--resolver",
            support::lab::RESOLVER,
            "--json",
            "--helo",
            helo,
        ])
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        serde_json::from_slice(&output.stdout).unwrap(),
    )
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn strict_helo_checks_give_504_and_501() {
    let (code, report) = probe_helo("localhost");
    assert_eq!(code, 2);
    assert_eq!(report["sessions"][0]["steps"][2]["reply"]["code"], 504);
    finding(&report, "helo-not-fqdn");
    let (code, report) = probe_helo("bad..name");
    assert_eq!(code, 2);
    assert_eq!(report["sessions"][0]["steps"][2]["reply"]["code"], 501);
    // A proper name passes.
    let (code, _) = probe(&["helo.test"]);
    assert_eq!(code, 0);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn broken_starttls_454_then_the_dialogue_goes_on_in_the_clear() {
    let (code, report) = probe(&["badtls.test"]);
    assert_eq!(code, 0, "{:?}", kinds(&report));
    let f = finding(&report, "starttls-refused");
    assert_eq!(f["code"], 454);
    assert_eq!(report["sessions"][0]["outcome"], "completed");
    assert_eq!(rcpt_reply(&report)["code"], 250);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn relay_refused() {
    let (code, report) = probe(&["relay.test"]);
    assert_eq!(code, 2);
    let f = finding(&report, "reply");
    assert_eq!(f["code"], 554);
    assert_eq!(f["signature"], "postfix-relay-access-denied");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn primary_down_backup_reached() {
    let (code, report) = probe(&["backup.test"]);
    assert_eq!(code, 0, "{:?}", kinds(&report));
    let sessions = report["sessions"].as_array().unwrap();
    assert_eq!(sessions[0]["outcome"], "connect-refused");
    assert_eq!(sessions[0]["host"], "mx.closed.test");
    assert_eq!(sessions[1]["host"], "mx.healthy.test");
    assert_eq!(sessions[1]["outcome"], "completed");
    // The primary being down does not stop mail: a warning, not a failure.
    assert_eq!(finding(&report, "connect-refused")["severity"], "warning");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn closed_server_is_transient() {
    let (code, report) = probe(&["closed.test"]);
    assert_eq!(code, 1);
    assert_eq!(finding(&report, "connect-refused")["severity"], "transient");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn ipv6_only_mx() {
    let (code, report) = probe(&["v6only.test"]);
    assert_eq!(code, 0, "{:?}", kinds(&report));
    assert_eq!(report["sessions"][0]["address"], "::1");
    assert_eq!(report["sessions"][0]["outcome"], "completed");
    finding(&report, "mx-ipv6-only");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn stalled_banner_ends_at_the_timeout_with_the_stage_named() {
    support::lab::ensure_running();
    let started = std::time::Instant::now();
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["stall.test", "--resolver", support::lab::RESOLVER, "--json"])
        .args(["--timeout", "2", "--helo", "probe.smtpdiag.test"])
        .output()
        .unwrap();
    assert!(started.elapsed().as_secs() < 20);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["sessions"][0]["outcome"], "timeout");
    assert_eq!(report["sessions"][0]["stage"], "greeting");
    finding(&report, "greeting-timeout");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn the_overall_deadline_names_the_stage() {
    support::lab::ensure_running();
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["stall.test", "--resolver", support::lab::RESOLVER, "--json"])
        .args([
            "--timeout",
            "30",
            "--deadline",
            "2",
            "--helo",
            "probe.smtpdiag.test",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["sessions"][0]["stage"], "greeting");
    finding(&report, "deadline-reached");
}
