//! `smtpdiag sender` against the lab's real resolver (unbound in front of nsd, docs/lab.md):
//! every sending-side case of the lab zones, with its expected result and exit status.

mod support;

use serde_json::Value;
use support::command::smtpdiag;
use support::findings::has;

/// Runs `smtpdiag sender ARGS --json` through the lab resolver.
fn sender(args: &[&str]) -> (Value, i32) {
    support::lab::ensure_running();
    let output = smtpdiag()
        .arg("sender")
        .args(args)
        .args(["--resolver", support::lab::RESOLVER, "--no-dnsbl", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&output.stderr)));
    support::schema::check_sender(&report);
    (report, output.status.code().unwrap())
}

fn spf_result(report: &Value) -> &str {
    report["spf"]["evaluations"][0]["result"].as_str().unwrap()
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn spf_results_of_the_lab_senders() {
    // (sender, address, SPF result, exit status)
    let cases = [
        ("sender.test", "127.0.3.1", "pass", 0),
        ("sender.test", "127.0.3.200", "fail", 2),
        ("softfail.sender.test", "127.0.3.1", "softfail", 2),
        ("neutral.sender.test", "127.0.3.1", "neutral", 2),
        ("include.sender.test", "127.0.3.1", "pass", 0),
        ("redirect.sender.test", "127.0.3.1", "pass", 0),
        ("toomany.sender.test", "127.0.3.1", "permerror", 2),
        ("void.sender.test", "127.0.3.1", "permerror", 2),
        ("news@macro.sender.test", "127.0.3.1", "pass", 0),
        ("other@macro.sender.test", "127.0.3.1", "fail", 2),
        ("malformed.sender.test", "127.0.3.1", "permerror", 2),
        ("duplicate.sender.test", "127.0.3.1", "permerror", 2),
    ];
    for (who, ip, result, code) in cases {
        let (report, status) = sender(&[who, "--ip", ip]);
        assert_eq!(spf_result(&report), result, "{who} {ip}: {report}");
        assert_eq!(status, code, "{who} {ip}: {}", report["findings"]);
    }
    let (report, _) = sender(&["toomany.sender.test", "--ip", "127.0.3.1"]);
    assert_eq!(
        report["spf"]["evaluations"][0]["cause"],
        "lookup limit exceeded"
    );
    let (report, _) = sender(&["void.sender.test", "--ip", "127.0.3.1"]);
    assert_eq!(
        report["spf"]["evaluations"][0]["cause"],
        "void lookup limit exceeded"
    );
    let (report, _) = sender(&["include.sender.test", "--ip", "127.0.3.1"]);
    assert_eq!(
        report["spf"]["evaluations"][0]["chain"][1]["domain"],
        "_spf.sender.test"
    );
    let (report, _) = sender(&["duplicate.sender.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["spf"]["record"]["status"], "several");
    let (report, _) = sender(&["malformed.sender.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["spf"]["record"]["status"], "malformed");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn dmarc_policies_of_the_lab_senders() {
    // (domain, where the record is, applied policy or record status, exit status)
    let (report, code) = sender(&["sender.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["dmarc"]["record"]["policy"]["applied"], "reject");
    assert_eq!(code, 0);
    let (report, _) = sender(&["softfail.sender.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["dmarc"]["inherited"], true);
    assert_eq!(report["dmarc"]["record"]["at"], "sender.test");
    // softfail, no DKIM and an inherited p=reject: unauthenticated, refused.
    assert!(has(&report, "sender-unauthenticated"));
    let (report, code) = sender(&["nodmarc.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["dmarc"]["record"]["status"], "none");
    assert!(has(&report, "sender-dmarc-none"));
    assert_eq!(code, 0, "a missing DMARC record alone refuses nothing");
    let (report, _) = sender(&["dmarcnone.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["dmarc"]["record"]["policy"]["p"], "none");
    assert!(has(&report, "sender-dmarc-monitoring"));
    let (report, _) = sender(&["quarantine.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["dmarc"]["record"]["policy"]["p"], "quarantine");
    assert_eq!(report["dmarc"]["record"]["policy"]["pct"], 50);
    let (report, _) = sender(&["dmarcbad.test", "--ip", "127.0.3.1"]);
    assert_eq!(report["dmarc"]["record"]["status"], "malformed");
    let (report, _) = sender(&["dmarcext.test", "--ip", "127.0.3.1"]);
    let destinations = report["dmarc"]["destinations"].as_array().unwrap();
    assert_eq!(destinations[0]["authorised"], true, "{report}");
    assert_eq!(destinations[1]["authorised"], false);
    assert!(has(&report, "sender-dmarc-external-unauthorised"));
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn dkim_keys_of_the_lab_sender() {
    let (report, code) = sender(&[
        "sender.test",
        "--ip",
        "127.0.3.1",
        "--dkim-selector",
        "s2048",
        "--dkim-selector",
        "s1024",
        "--dkim-selector",
        "testing",
        "--dkim-selector",
        "revoked",
        "--dkim-selector",
        "missing",
    ]);
    assert_eq!(code, 0);
    let keys = report["dkim"].as_array().unwrap();
    assert_eq!(keys[0]["key"]["key"]["bits"], 2048);
    assert_eq!(keys[1]["key"]["key"]["bits"], 1024);
    assert_eq!(keys[2]["key"]["key"]["testing"], true);
    assert_eq!(keys[3]["key"]["key"]["revoked"], true);
    assert_eq!(keys[4]["key"]["status"], "none");
    for kind in [
        "sender-dkim-short-key",
        "sender-dkim-testing",
        "sender-dkim-revoked",
        "sender-dkim-missing",
    ] {
        assert!(has(&report, kind), "{kind}");
    }
    let requirement = report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "requirement-spf-and-dkim")
        .unwrap();
    assert_eq!(requirement["status"], "pass");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn reverse_dns_and_helo_of_the_lab_addresses() {
    // (address, forward-confirmed, finding expected, exit status)
    let cases = [
        ("127.0.3.1", true, None, 0),
        ("127.0.3.2", false, Some("sender-ptr-missing"), 2),
        ("127.0.3.3", false, Some("sender-ptr-mismatch"), 1),
        ("127.0.3.4", true, Some("sender-ptr-generic"), 0),
    ];
    for (ip, confirmed, kind, code) in cases {
        let (report, status) = sender(&["sender.test", "--ip", ip]);
        assert_eq!(
            report["reverse_dns"][0]["forward_confirmed"], confirmed,
            "{ip}"
        );
        if let Some(kind) = kind {
            assert!(has(&report, kind), "{ip}: {kind}");
        }
        assert_eq!(status, code, "{ip}: {}", report["findings"]);
    }
    let (report, _) = sender(&[
        "sender.test",
        "--ip",
        "127.0.3.1",
        "--helo",
        "mail.sender.test",
    ]);
    assert!(!has(&report, "sender-helo-mismatch"));
    let (report, _) = sender(&[
        "sender.test",
        "--ip",
        "127.0.3.2",
        "--helo",
        "mail.sender.test",
    ]);
    assert!(has(&report, "sender-helo-mismatch"));
}

/// `smtpdiag DOMAIN --from ADDRESS --check-ip IP --json` through the lab resolver.
fn probe_with_sender(args: &[&str]) -> (Value, i32) {
    support::lab::ensure_running();
    let output = smtpdiag()
        .args(args)
        .args([
            "--resolver",
            support::lab::RESOLVER,
            "--helo",
            "mail.sender.test",
            "--json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&output.stderr)));
    support::schema::check_report(&report);
    if report.get("sender").is_some() {
        support::schema::check_sender(&report["sender"]);
    }
    (report, output.status.code().unwrap())
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn the_probe_adds_the_senders_checks() {
    let (report, status) = probe_with_sender(&[
        "healthy.test",
        "--from",
        "news@sender.test",
        "--check-ip",
        "127.0.3.1",
        "--dkim-selector",
        "s2048",
    ]);
    let sender = &report["sender"];
    assert_eq!(sender["domain"], "sender.test", "{sender}");
    assert_eq!(sender["sender"], "news@sender.test");
    assert_eq!(spf_result(sender), "pass", "{sender}");
    assert_eq!(sender["dkim"][0]["selector"], "s2048");
    assert_eq!(sender["helo"]["name"], "mail.sender.test", "{sender}");
    // The probe's answers about the address, not a second round of queries.
    assert!(
        (sender["dnsbl"].as_array().unwrap().iter()).all(|r| r["address"] == "127.0.3.1"),
        "{sender}"
    );
    assert!(!sender["dnsbl"].as_array().unwrap().is_empty(), "{sender}");
    assert_eq!(report["verdict"], "ok", "{}", report["findings"]);
    assert_eq!(status, 0);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn a_failing_sender_fails_the_probe_of_a_healthy_domain() {
    // 127.0.3.200 is not in sender.test's SPF record and has no PTR.
    let (report, status) = probe_with_sender(&[
        "healthy.test",
        "--from",
        "news@sender.test",
        "--check-ip",
        "127.0.3.200",
    ]);
    assert_eq!(spf_result(&report["sender"]), "fail");
    assert!(
        has(&report["sender"], "sender-ptr-missing"),
        "{}",
        report["sender"]
    );
    assert_eq!(report["sender"]["verdict"], "permanent");
    assert_eq!(report["verdict"], "permanent");
    assert_eq!((report["exit_code"].as_u64(), status), (Some(2), 2));
    // The domain's own findings stay the domain's.
    assert!(
        !has(&report, "sender-spf-not-pass"),
        "{}",
        report["findings"]
    );
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn check_ip_without_from_checks_only_the_blocklists() {
    let (report, status) = probe_with_sender(&["healthy.test", "--check-ip", "127.0.3.1"]);
    assert!(report.get("sender").is_none(), "{report}");
    assert_eq!(status, 0);
}

#[test]
fn dkim_selector_of_the_probe_needs_a_sender() {
    for args in [
        &["example.com", "--dkim-selector", "s1"][..],
        &[
            "example.com",
            "--from",
            "a@example.org",
            "--dkim-selector",
            "s1",
        ][..],
    ] {
        let output = smtpdiag().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(64), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--dkim-selector"), "{stderr}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn record_problems_are_in_the_readers_language() {
    support::lab::ensure_running();
    // dmarcbad.test publishes p=block; the JSON keeps the English words beside the key.
    let (report, _) = sender(&["dmarcbad.test", "--ip", "127.0.3.1"]);
    let record = &report["dmarc"]["record"];
    assert_eq!(record["problem_key"]["key"], "dmarc-p-invalid", "{record}");
    assert!(
        record["problem"].as_str().unwrap().contains("is not none"),
        "{record}"
    );
    for (lang, expected, english) in [
        (
            "ja",
            "none・quarantine・reject のいずれでもありません",
            "is not none",
        ),
        (
            "fr",
            "n'est ni none, ni quarantine, ni reject",
            "is not none",
        ),
    ] {
        let output = smtpdiag()
            .args(["sender", "dmarcbad.test", "--ip", "127.0.3.1", "--no-dnsbl"])
            .args(["--resolver", support::lab::RESOLVER, "--lang", lang])
            .output()
            .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains(expected), "{lang}: {text}");
        assert!(!text.contains(english), "{lang}: {text}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test sender"
)]
fn japanese_and_french_sender_reports_hold_no_english_words_of_ours() {
    // Every sending case of the lab, each with addresses that pass, fail and lack a PTR.
    const SENDERS: &[&str] = &[
        "sender.test",
        "softfail.sender.test",
        "neutral.sender.test",
        "include.sender.test",
        "redirect.sender.test",
        "toomany.sender.test",
        "void.sender.test",
        "news@macro.sender.test",
        "malformed.sender.test",
        "duplicate.sender.test",
        "nodmarc.test",
        "dmarcnone.test",
        "quarantine.test",
        "dmarcbad.test",
        "dmarcext.test",
    ];
    support::lab::ensure_running();
    let mut failures = Vec::new();
    for who in SENDERS {
        for lang in ["ja", "fr"] {
            let output = smtpdiag()
                .args(["sender", who, "--ip", "127.0.3.1", "--ip", "127.0.3.3"])
                .args(["--ip", "127.0.3.200", "--helo", "mail.sender.test"])
                .args(["--dkim-selector", "s1024", "--dkim-selector", "revoked"])
                .args(["--dkim-selector", "testing", "--dkim-selector", "absent"])
                .args(["--resolver", support::lab::RESOLVER, "--lang", lang])
                .output()
                .unwrap();
            let text = String::from_utf8(output.stdout).unwrap();
            assert!(text.contains("SPF"), "{who} {lang}: {text}");
            // The selector names are the user's words.
            let found =
                support::english::english_words_in(&text, lang, "s1024 revoked testing absent");
            if !found.is_empty() {
                failures.push(format!("{who} --lang {lang}: {found:?}\n{text}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
