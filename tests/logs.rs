//! `smtpdiag logs` end to end: the fixture logs of every MTA (tests/fixtures/logs/, see its
//! README), plain and gzip, text and JSON, each language; bad input (binary, truncated
//! gzip, a 10 MB line, an empty file, a missing file); and `--probe` against the lab.

mod support;
use support::command::smtpdiag;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name)
}

/// A scratch directory per test name under cargo's target/tmp, emptied before each use,
/// so that runs do not pile files up in the system's temporary directory.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("smtpdiag-logs")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `logs ARGS --json`; returns the document and the exit code.
fn json(args: &[&str]) -> (Value, i32) {
    let output = smtpdiag()
        .arg("logs")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let doc = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {output:?}"));
    (doc, output.status.code().unwrap())
}

fn causes(doc: &Value) -> Vec<(String, u64)> {
    doc["by_cause"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cause"]["id"].as_str().unwrap().to_string(),
                c["total"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn cause_ids(doc: &Value) -> BTreeSet<String> {
    causes(doc).into_iter().map(|(id, _)| id).collect()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn postfix_log_by_cause_and_domain() {
    let (doc, code) = json(&[path(&fixture("postfix.log"))]);
    assert_eq!(code, 2, "a bounce exits 2");
    assert_eq!(doc["lines"], 32);
    assert_eq!(doc["lines_skipped"], 2, "the dovecot and opendkim lines");
    assert_eq!(doc["bounced"], 9);
    assert_eq!(doc["deferred"], 11);
    assert_eq!(doc["failures"], 20);
    assert_eq!(doc["exit_code"], 2);
    let ids = cause_ids(&doc);
    for id in [
        "user-unknown",
        "greylisted",
        "network-error",
        "domain-not-found",
        "tls-required",
        "tls-failed",
        "dmarc-rejected",
        "mailbox-full",
        "blocklisted",
        "expired",
    ] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    // Every cause entry names its id and parent, and carries its fix.
    for cause in doc["by_cause"].as_array().unwrap() {
        assert!(cause["cause"].get("parent").is_some(), "{cause}");
        assert!(!cause["fix"].as_str().unwrap().is_empty());
        assert!(cause["sample"]["text"].is_string());
    }
    let dmarc = doc["by_cause"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cause"]["id"] == "dmarc-rejected")
        .unwrap();
    assert_eq!(dmarc["cause"]["parent"], "auth-failed");

    // user-unknown: 3 failures at example.com, nobody@ twice, plus the local one.
    let unknown = doc["by_cause"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cause"]["id"] == "user-unknown")
        .unwrap();
    assert_eq!(unknown["total"], 4);
    assert_eq!(unknown["bounced"], 4);
    assert_eq!(
        unknown["top_recipients"][0]["recipient"],
        "nobody@example.com"
    );
    assert_eq!(unknown["top_recipients"][0]["count"], 2);
    assert_eq!(unknown["top_domains"][0]["domain"], "example.com");
    assert_eq!(
        unknown["first_seen"].as_str().unwrap()[4..],
        *"-11-30T08:00:02"
    );
    assert_eq!(
        unknown["last_seen"].as_str().unwrap()[4..],
        *"-11-30T08:40:00"
    );

    // Domains: the most failing first; the expired message has no recipient.
    let domains = doc["by_domain"].as_array().unwrap();
    assert_eq!(domains[0]["domain"], "example.com");
    assert_eq!(domains[0]["total"], 4);
    assert_eq!(domains[1]["domain"], "slow.example");
    assert_eq!(domains[1]["deferred"], 3);
    assert_eq!(domains[1]["causes"][0]["cause"]["id"], "network-error");
    assert!(domains.iter().any(|d| d["domain"].is_null()));

    // The receiving side is counted apart.
    assert_eq!(doc["refused_by_us"]["total"], 4);
    let refused: BTreeSet<&str> = doc["refused_by_us"]["by_cause"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        refused,
        BTreeSet::from(["blocklisted", "protocol-violation", "relay-denied"])
    );
}

#[test]
fn gzip_reads_like_plain() {
    let (plain, _) = json(&[path(&fixture("postfix.log"))]);
    let (gz, code) = json(&[path(&fixture("postfix.log.gz"))]);
    assert_eq!(code, 2);
    assert_eq!(gz["files"][0]["compressed"], true);
    assert_eq!(plain["by_cause"], gz["by_cause"]);
    assert_eq!(plain["by_domain"], gz["by_domain"]);
}

#[test]
fn exim_sendmail_exchange_and_journal() {
    let (exim, _) = json(&[path(&fixture("exim-mainlog"))]);
    assert_eq!(exim["lines_skipped"], 0);
    assert_eq!(
        (exim["bounced"].as_u64(), exim["deferred"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(cause_ids(&exim).is_superset(&BTreeSet::from([
        "user-unknown".to_string(),
        "greylisted".to_string(),
        "network-error".to_string(),
        "mailbox-full".to_string()
    ])));

    let (sendmail, _) = json(&[path(&fixture("sendmail.log"))]);
    assert_eq!(
        causes(&sendmail).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            ("domain-not-found".to_string(), 1),
            ("greylisted".to_string(), 1),
            ("network-error".to_string(), 1),
            ("user-unknown".to_string(), 1),
        ])
    );

    let (exchange, code) = json(&[path(&fixture("MSGTRK20261130-1.LOG"))]);
    assert_eq!(code, 2);
    assert_eq!(exchange["lines_skipped"], 0);
    assert_eq!(exchange["bounced"], 1);
    assert_eq!(exchange["deferred"], 2, "one DEFER row, two recipients");
    assert_eq!(exchange["first_seen"], "2026-11-30T12:00:02");

    let (journal, _) = json(&[path(&fixture("journal-short-iso.log"))]);
    assert_eq!(
        journal["first_seen"], "2026-11-30T12:00:00",
        "+0100 taken off"
    );
    assert_eq!(journal["failures"], 2);
}

#[test]
fn several_files_and_stdin() {
    let log = std::fs::read(fixture("sendmail.log")).unwrap();
    let output = smtpdiag()
        .args(["logs", path(&fixture("exim-mainlog")), "-", "--json"])
        .write_stdin(log)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["files"].as_array().unwrap().len(), 2);
    assert_eq!(doc["files"][1]["name"], "-");
    assert_eq!(doc["failures"], 10);
}

#[test]
fn since_and_until() {
    let exim = fixture("exim-mainlog");
    let (doc, _) = json(&[
        path(&exim),
        "--since",
        "2026-11-30 10:01",
        "--until",
        "2026-11-30T10:02:30Z",
    ]);
    assert_eq!(doc["failures"], 2, "{doc}");
    assert_eq!(doc["outside_window"], 4);
    assert_eq!(doc["since"], "2026-11-30T10:01:00");
    smtpdiag()
        .args(["logs", path(&exim), "--since", "last tuesday"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("--since"));
}

#[test]
fn deferrals_only_exit_1_and_nothing_failed_exits_0() {
    let dir = scratch("exit");
    let deferred = dir.join("deferred.log");
    std::fs::write(
        &deferred,
        "2026-11-30 10:01:30 1vQaBd-000Abd-Ac == dan@slow.example R=dnslookup T=remote_smtp defer (110): Connection timed out\n",
    )
    .unwrap();
    let (_, code) = json(&[path(&deferred)]);
    assert_eq!(code, 1);
    let fine = dir.join("fine.log");
    std::fs::write(
        &fine,
        "2026-11-30 10:00:01 1vQaBc-000Abc-Ab => bob@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10]\n",
    )
    .unwrap();
    smtpdiag()
        .args(["logs", path(&fine)])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No delivery failed"));
}

#[test]
fn human_text_in_each_language_without_colour_when_piped() {
    let log = fixture("postfix.log");
    let output = smtpdiag().args(["logs", path(&log)]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "colour on a pipe");
    for expected in [
        "Mail logs",
        "20 failed deliveries: 9 bounced, 11 deferred",
        "By cause",
        "[user-unknown]",
        "Fix: ",
        "By destination domain",
        "nobody@example.com (2)",
        "Refused by this server (receiving side): 4",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    // The fix of a cause is shown once.
    let fix = "Fix: Check the address for typos";
    assert_eq!(text.matches(fix).count(), 1, "{text}");

    smtpdiag()
        .args(["logs", path(&log), "--lang", "ja"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("原因別"))
        .stdout(predicate::str::contains("宛先ドメイン別"));
    smtpdiag()
        .args(["logs", path(&log), "--lang", "fr"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("Par cause"))
        .stdout(predicate::str::contains("Par domaine de destination"));
    let coloured = smtpdiag()
        .args(["logs", path(&log), "--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&coloured.stdout).contains('\u{1b}'));
}

#[test]
fn binary_garbage_is_counted_not_fatal() {
    let dir = scratch("binary");
    let file = dir.join("garbage.bin");
    let bytes: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let output = smtpdiag()
        .args(["logs", path(&file), "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["failures"], 0);
    assert_eq!(doc["lines"], doc["lines_skipped"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("garbage.bin"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn truncated_gzip_is_reported_and_counted() {
    let dir = scratch("truncated");
    let whole = std::fs::read(fixture("postfix.log.gz")).unwrap();
    let file = dir.join("mail.log.1.gz");
    std::fs::write(&file, &whole[..whole.len() * 2 / 3]).unwrap();
    let output = smtpdiag()
        .args(["logs", path(&file), "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("mail.log.1.gz"), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(doc["files"][0]["error"].is_string());
    assert!(doc["lines"].as_u64().unwrap() > 0);

    // Nothing failed in what could be read: "could not complete", 3.
    let empty_gz = dir.join("header-only.gz");
    std::fs::write(&empty_gz, &whole[..12]).unwrap();
    smtpdiag()
        .args(["logs", path(&empty_gz)])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("header-only.gz"));
}

#[test]
fn ten_megabyte_line_is_skipped() {
    let dir = scratch("long");
    let file = dir.join("long.log");
    let mut out = std::fs::File::create(&file).unwrap();
    writeln!(
        out,
        "Nov 30 10:00:00 mail postfix/smtp[1]: A: {}",
        "x".repeat(10 << 20)
    )
    .unwrap();
    let failure = std::fs::read_to_string(fixture("journal-short-iso.log")).unwrap();
    out.write_all(failure.as_bytes()).unwrap();
    drop(out);
    let (doc, code) = json(&[path(&file)]);
    assert_eq!(code, 2);
    assert_eq!(doc["lines"], 3);
    assert_eq!(doc["lines_too_long"], 1);
    assert_eq!(doc["lines_skipped"], 1);
    assert_eq!(doc["failures"], 2);
}

#[test]
fn empty_file_and_missing_file() {
    let dir = scratch("empty");
    let file = dir.join("empty.log");
    std::fs::write(&file, "").unwrap();
    let (doc, code) = json(&[path(&file)]);
    assert_eq!(code, 0);
    assert_eq!(doc["lines"], 0);
    assert_eq!(doc["by_cause"], serde_json::json!([]));

    smtpdiag()
        .args(["logs", path(&dir.join("nope.log"))])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("nope.log"));
    smtpdiag()
        .args(["logs", path(&dir)])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("directory"));
}

/// `--probe`: the worst domains of the log, probed in the lab now.
#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn probe_the_worst_domains_in_the_lab() {
    support::lab::ensure_running();
    let dir = scratch("probe");
    let file = dir.join("lab.log");
    let mut log = String::new();
    for i in 0..3 {
        writeln!(
            log,
            "Nov 30 08:00:0{i} mail postfix/smtp[1]: A{i}: to=<u{i}@grey.test>, relay=mx.grey.test[127.0.0.15]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.2.0, status=deferred (host mx.grey.test[127.0.0.15] said: 450 4.2.0 <u{i}@grey.test>: Recipient address rejected: Greylisted (in reply to RCPT TO command))"
        )
        .unwrap();
    }
    for i in 0..2 {
        writeln!(log, "Nov 30 08:01:0{i} mail postfix/smtp[1]: B{i}: to=<x{i}@nullmx.test>, relay=none, delay=0.1, delays=0/0/0.1/0, dsn=5.1.10, status=bounced (Domain nullmx.test does not accept mail (nullMX))").unwrap();
    }
    log.push_str("Nov 30 08:02:00 mail postfix/smtp[1]: C1: to=<x@healthy.test>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.healthy.test[127.0.0.10]:25: Connection timed out)\n");
    std::fs::write(&file, log).unwrap();

    let ca = support::lab::ca_file();
    let args = [
        path(&file),
        "--probe",
        "2",
        "--resolver",
        support::lab::RESOLVER,
        "--timeout",
        "5",
        "--ca-file",
        ca.as_str(),
        "--no-dnsbl",
    ];
    let (doc, code) = json(&args);
    assert_eq!(code, 2, "the log's status, not the probe's");
    let probes = doc["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 2, "only the 2 worst domains");
    assert_eq!(probes[0]["domain"], "grey.test");
    assert_eq!(probes[0]["verdict"], "transient");
    assert_eq!(probes[1]["verdict"], "permanent");
    assert_eq!(doc["by_domain"][0]["now"], "transient");
    assert!(doc["by_domain"][2].get("now").is_none());

    let output = smtpdiag().arg("logs").args(args).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("mail to grey.test: temporarily failing"),
        "{text}"
    );
    assert!(
        text.contains("mail to nullmx.test: permanently failing"),
        "{text}"
    );
}
