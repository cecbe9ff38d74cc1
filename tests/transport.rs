//! The transport security policy against the lab's real servers (docs/lab.md, "DNSSEC and
//! DANE", "MTA-STS and TLS-RPT"): unbound validating the signed zones that nsd serves,
//! Postfix presenting the certificates the TLSA records describe, nginx serving the
//! MTA-STS policies. Each case: the finding a DANE or MTA-STS sender's view gives, and the
//! exit status.

mod support;
use support::command::smtpdiag;

use serde_json::Value;
use support::findings::{finding, has};

/// The probe of a lab domain, as JSON, with the lab CA trusted (the policy hosts and the
/// DANE listener have lab certificates).
fn probe(domain: &str) -> (Value, i32) {
    support::lab::ensure_running();
    let output = smtpdiag()
        .arg(domain)
        .args(["--resolver", support::lab::RESOLVER, "--ca-file"])
        .arg(support::lab::ca_file())
        .args(["--helo", "probe.smtpdiag.test", "--timeout", "5", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{domain}: {e}: {}", String::from_utf8_lossy(&output.stdout)));
    support::schema::check_report(&report);
    (report, output.status.code().unwrap())
}

macro_rules! lab_test {
    ($name:ident, $body:block) => {
        #[test]
        #[cfg_attr(
            not(feature = "lab"),
            ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
        )]
        fn $name() $body
    };
}

lab_test!(dane_ee_match_delivers, {
    let (report, code) = probe("valid.dane.test");
    assert_eq!(code, 0);
    assert_eq!(report["transport"]["dnssec"], "secure");
    assert_eq!(report["transport"]["tlsa"][0]["dnssec"], "secure");
    let dane = finding(&report, "dane-valid");
    assert_eq!(dane["params"]["parameters"], "3 1 1");
    assert_eq!(dane["severity"], "ok");
    assert!(has(&report, "dnssec-signed"));
});

lab_test!(dane_mismatch_makes_dane_senders_queue, {
    let (report, code) = probe("mismatch.dane.test");
    assert_eq!(code, 1, "a DANE sender defers: transient");
    let mismatch = finding(&report, "dane-mismatch");
    assert_eq!(mismatch["severity"], "transient");
    assert_eq!(mismatch["enhanced"], "4.7.5");
    // The fix names the record to publish for the certificate in use.
    assert!(
        mismatch["params"]["suggested"]
            .as_str()
            .unwrap()
            .starts_with("3 1 1 "),
        "{mismatch}"
    );
});

lab_test!(dane_ta_matches_the_ca_in_the_chain, {
    let (report, code) = probe("ta.dane.test");
    assert_eq!(code, 0);
    assert_eq!(
        finding(&report, "dane-valid")["params"]["parameters"],
        "2 0 1"
    );
});

lab_test!(a_rollover_done_right_is_valid, {
    let (report, code) = probe("rollover.dane.test");
    assert_eq!(code, 0);
    assert_eq!(
        report["transport"]["tlsa"][0]["records"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(has(&report, "dane-valid"));
});

lab_test!(pkix_usages_and_malformed_records_are_unusable, {
    for domain in ["pkix.dane.test", "malformed.dane.test"] {
        let (report, code) = probe(domain);
        assert_eq!(code, 0, "{domain}: unusable TLSA is as good as none");
        assert_eq!(finding(&report, "dane-unusable")["severity"], "warning");
    }
});

lab_test!(a_dane_mx_without_starttls_is_transient, {
    let (report, code) = probe("notls.dane.test");
    assert_eq!(code, 1);
    assert_eq!(
        finding(&report, "dane-no-starttls")["severity"],
        "transient"
    );
});

lab_test!(signed_without_tlsa_is_just_signed, {
    let (report, code) = probe("nodane.dane.test");
    assert_eq!(code, 0);
    assert!(has(&report, "dnssec-signed"));
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"].as_str().unwrap().starts_with("dane-"))
    );
});

lab_test!(a_bogus_tlsa_answer_is_told_apart_from_an_insecure_one, {
    let (report, code) = probe("bogus.test");
    assert_eq!(code, 1);
    assert_eq!(report["transport"]["tlsa"][0]["dnssec"], "bogus");
    assert_eq!(finding(&report, "dane-bogus")["severity"], "transient");

    let (report, code) = probe("sigexpired.test");
    assert_eq!(code, 1);
    assert_eq!(report["transport"]["dnssec"], "bogus");
    assert!(has(&report, "dnssec-bogus"));
});

lab_test!(tlsa_in_an_unsigned_zone_is_ignored_by_senders, {
    let (report, code) = probe("tlsa-unsigned.test");
    assert_eq!(code, 0);
    assert_eq!(report["transport"]["tlsa"][0]["dnssec"], "insecure");
    assert_eq!(finding(&report, "dane-unsigned")["severity"], "warning");
});

lab_test!(mta_sts_enforce_with_every_mx_listed, {
    for domain in ["sts-enforce.test", "sts-wildcard.test"] {
        let (report, code) = probe(domain);
        assert_eq!(code, 0, "{domain}");
        let valid = finding(&report, "mta-sts-valid");
        assert_eq!(valid["params"]["mode"], "enforce");
        assert_eq!(report["transport"]["mta_sts"]["policy"]["mode"], "enforce");
        assert!(has(&report, "tls-rpt-valid"), "{domain}");
    }
});

lab_test!(mta_sts_an_mx_missing_from_the_policy, {
    let (report, code) = probe("sts-missing.test");
    // The other exchanger is listed: enforcing senders still deliver, there.
    assert_eq!(code, 0);
    let missing = finding(&report, "mta-sts-mx-not-listed");
    assert_eq!(missing["params"]["host"], "mx.sts-missing.test");
    assert_eq!(missing["severity"], "warning");
});

lab_test!(mta_sts_testing_mode, {
    let (report, code) = probe("sts-testing.test");
    assert_eq!(code, 0);
    assert_eq!(
        finding(&report, "mta-sts-testing")["params"]["mode"],
        "testing"
    );
    assert!(has(&report, "tls-rpt-missing"));
});

lab_test!(mta_sts_malformed_policy_and_tls_rpt, {
    let (report, code) = probe("sts-malformed.test");
    assert_eq!(code, 0);
    assert!(
        finding(&report, "mta-sts-policy-invalid")["params"]["problems"]
            .as_str()
            .unwrap()
            .contains("STSv2")
    );
    assert!(has(&report, "tls-rpt-invalid"));
});

lab_test!(mta_sts_record_without_a_policy, {
    let (report, code) = probe("sts-nopolicy.test");
    assert_eq!(code, 0);
    let unavailable = finding(&report, "mta-sts-policy-unavailable");
    assert_eq!(unavailable["params"]["detail"], "HTTP 404");
    assert_eq!(report["transport"]["mta_sts"]["fetch"]["code"], 404);
});

lab_test!(mta_sts_policy_host_with_a_certificate_for_another_name, {
    let (report, code) = probe("sts-badcert.test");
    assert_eq!(code, 0);
    let unavailable = finding(&report, "mta-sts-policy-unavailable");
    assert_eq!(unavailable["params"]["reason"], "TLS");
    assert_eq!(report["transport"]["mta_sts"]["fetch"]["status"], "tls");
});

lab_test!(mta_sts_record_without_id, {
    let (report, code) = probe("sts-badtxt.test");
    assert_eq!(code, 0);
    assert!(
        finding(&report, "mta-sts-record-invalid")["params"]["detail"]
            .as_str()
            .unwrap()
            .contains("id")
    );
});

lab_test!(no_policy_at_all_is_quiet, {
    let (report, code) = probe("healthy.test");
    assert_eq!(code, 0);
    assert_eq!(report["transport"]["dnssec"], "insecure");
    assert!(!report["findings"].as_array().unwrap().iter().any(|f| {
        let kind = f["kind"].as_str().unwrap();
        kind.starts_with("dane-") || kind.starts_with("mta-sts-") || kind.starts_with("tls-rpt-")
    }));
});

lab_test!(no_policy_flag_skips_it_all, {
    support::lab::ensure_running();
    let output = smtpdiag()
        .args([
            "valid.dane.test",
            "--resolver",
            support::lab::RESOLVER,
            "--no-policy",
            "--json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report.get("transport").is_none());
});

lab_test!(mta_sts_policy_host_with_an_expired_certificate, {
    let (report, code) = probe("sts-expired.test");
    assert_eq!(code, 0);
    let unavailable = finding(&report, "mta-sts-policy-unavailable");
    assert_eq!(unavailable["params"]["reason"], "TLS");
    assert!(
        unavailable["params"]["detail"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("expired"),
        "{unavailable}"
    );
});

lab_test!(a_line_per_exchanger_in_the_human_report, {
    support::lab::ensure_running();
    let text = |domain: &str| {
        let output = smtpdiag()
            .args([domain, "--resolver", support::lab::RESOLVER, "--ca-file"])
            .arg(support::lab::ca_file())
            .args(["--helo", "probe.smtpdiag.test", "--color", "never"])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let valid = text("valid.dane.test");
    assert!(valid.contains("DANE: valid (3 1 1)"), "{valid}");
    let mismatch = text("mismatch.dane.test");
    assert!(
        mismatch.contains("DANE: certificate matches no TLSA record"),
        "{mismatch}"
    );
    let missing = text("sts-missing.test");
    assert!(missing.contains("MTA-STS: enforce, listed"), "{missing}");
    assert!(
        missing.contains("MTA-STS: enforce, not listed"),
        "{missing}"
    );
});
