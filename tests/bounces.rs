//! Whole bounce messages (`tests/fixtures/corpus/eml/`, real bounces from many MTAs and
//! providers): every one is read, each failed recipient gets a reply and a cause, and the
//! causes agree with the reasons Sisimai gives the same messages. Runs without the lab.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use smtpdiag::input::bounce::{BounceError, MessageKind, read_bounce};
use smtpdiag::kb::Lang;

#[path = "support/sisimai.rs"]
mod sisimai;

/// `smtpdiag explain --json ARGS`, checked against the schema.
fn explain_json(args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let out = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["explain", "--json"])
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    check_explain_schema(&doc);
    doc
}

/// Panics with every violation when `value` does not follow docs/explain.schema.json.
fn check_explain_schema(value: &serde_json::Value) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/explain.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}\n{value}", errors.join("\n"));
}

fn eml_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/corpus/eml"
    ))
}

fn read(name: &str) -> Result<smtpdiag::input::bounce::BounceReport, BounceError> {
    let bytes = std::fs::read(eml_dir().join(name)).unwrap();
    read_bounce(name, &bytes, Lang::En)
}

/// Messages that are no bounce, a complaint or an auto-reply, and why.
const NOT_BOUNCES: &[(&str, &str)] = &[(
    "lhost-fml-02.eml",
    "a mailing list manager's 'you are not a member' notice: no delivery failed",
)];

#[test]
fn every_message_is_read_or_said_not_to_be_a_bounce() {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(eml_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if Path::new(&name).extension().is_none_or(|e| e != "eml") {
            continue;
        }
        match read(&name) {
            Ok(report) => {
                *kinds.entry(format!("{:?}", report.kind)).or_default() += 1;
                if report.kind == MessageKind::Bounce {
                    assert!(!report.recipients.is_empty(), "{name}: no recipient");
                    for r in &report.recipients {
                        let failed = matches!(r.action.as_str(), "failed" | "delayed");
                        assert!(
                            !failed || r.cause.is_some(),
                            "{name}: a failure without cause"
                        );
                    }
                }
            }
            Err(BounceError::NotABounce(_)) => {
                assert!(
                    NOT_BOUNCES.iter().any(|(n, _)| *n == name),
                    "{name} was not recognised as a bounce"
                );
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    println!("{kinds:?}");
    assert!(kinds.get("Bounce").copied().unwrap_or(0) >= 220);
}

#[test]
fn causes_agree_with_sisimai_on_95_percent_of_messages() {
    // Every message named in replies-dev.tsv with the reasons of its rows.
    let mut by_message: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in sisimai::rows() {
        if sisimai::fair(&row.reason).is_some() {
            let name = row.email.trim_start_matches("eml/").to_string();
            by_message.entry(name).or_default().push(row.reason);
        }
    }
    let (mut agreed, mut total) = (0, 0);
    let mut misses = Vec::new();
    for (name, reasons) in &by_message {
        if !eml_dir().join(name).exists() {
            continue;
        }
        total += 1;
        let report = read(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let causes: Vec<(&str, Option<&str>)> = report
            .recipients
            .iter()
            .filter_map(|r| r.cause.as_ref())
            .map(|c| (c.id, c.parent))
            .collect();
        let good = reasons.iter().any(|reason| {
            causes
                .iter()
                .any(|(id, parent)| sisimai::agrees(reason, id, *parent))
        });
        if good {
            agreed += 1;
        } else {
            misses.push(format!("{name} ({}): {causes:?}", reasons.join(",")));
        }
    }
    let share = f64::from(agreed) / f64::from(total);
    println!(
        "bounce causes agree with Sisimai on {agreed}/{total} messages ({:.1}%)",
        share * 100.0
    );
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(share >= 0.95, "{agreed}/{total}:\n{}", misses.join("\n"));
}

#[test]
fn feedback_reports_are_complaints() {
    for name in [
        "arf-11.eml",
        "arf-14.eml",
        "arf-17.eml",
        "arf-19.eml",
        "arf-20.eml",
        "arf-21.eml",
        "arf-22.eml",
        "arf-23.eml",
        "arf-25.eml",
    ] {
        let report = read(name).unwrap();
        assert_eq!(report.kind, MessageKind::Complaint, "{name}");
        assert!(report.recipients.is_empty(), "{name}");
    }
    // arf-26 is Apple Mail's unsubscribe request, sent as an auto-reply.
    assert_eq!(read("arf-26.eml").unwrap().kind, MessageKind::AutoReply);
}

#[test]
fn auto_replies_are_said_to_be_auto_replies() {
    for name in [
        "rfc3834-01.eml",
        "rfc3834-02.eml",
        "rfc3834-04.eml",
        "rfc3834-05.eml",
    ] {
        assert_eq!(read(name).unwrap().kind, MessageKind::AutoReply, "{name}");
    }
}

#[test]
fn rfc3464_fields_are_read() {
    let report = read("rhost-gsuite-02.eml").unwrap();
    let r = &report.recipients[0];
    assert_eq!(r.address.as_deref(), Some("kijitora@example.it"));
    assert_eq!(r.action, "failed");
    assert_eq!(r.status.as_deref(), Some("5.0.0"));
    assert_eq!(r.cause.as_ref().unwrap().id, "user-unknown");
    assert!(report.original.is_some());
}

#[test]
fn prose_bounces_name_their_recipients() {
    // qmail: the reply follows the address.
    let report = read("lhost-qmail-05.eml").unwrap();
    assert_eq!(
        report.recipients[0].address.as_deref(),
        Some("kijitora@example.net")
    );
    assert_eq!(
        report.recipients[0].cause.as_ref().unwrap().id,
        "system-error"
    );
    // Exim: the address, then the SMTP error.
    let report = read("lhost-exim-03.eml").unwrap();
    let r = &report.recipients[0];
    assert_eq!(r.address.as_deref(), Some("kijitora@example.or.jp"));
    assert_eq!(
        r.reply
            .as_ref()
            .and_then(|x| x.code)
            .map(smtpdiag::reply::ReplyCode::value),
        Some(554)
    );
}

#[test]
fn explain_reads_a_file_and_standard_input_as_json() {
    let path = eml_dir().join("lhost-exim-03.eml");
    let doc = explain_json(&[path.as_os_str()]);
    let result = &doc["results"][0];
    assert_eq!(result["kind"], "bounce");
    assert_eq!(result["recipients"][0]["cause"]["id"], "not-rfc5322");

    let bytes = std::fs::read(&path).unwrap();
    Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["explain", "-", "--json"])
        .write_stdin(bytes)
        .assert()
        .success()
        .stdout(predicates::str::contains("\"recipients\""));
}

#[test]
fn explain_json_follows_the_schema_for_every_kind_of_input() {
    let complaint = eml_dir().join("arf-11.eml");
    let auto_reply = eml_dir().join("rfc3834-01.eml");
    let doc = explain_json(&[
        "421".as_ref(),
        "5.1.10".as_ref(),
        "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found".as_ref(),
        complaint.as_os_str(),
        auto_reply.as_os_str(),
        "Sorry, no mailbox here by that name. (#5.1.1)".as_ref(),
    ]);
    assert_eq!(doc["results"].as_array().unwrap().len(), 6);
    assert_eq!(doc["results"][3]["kind"], "complaint");
    assert_eq!(doc["results"][4]["kind"], "auto-reply");
}

#[test]
fn a_message_that_is_not_a_bounce_is_refused_clearly() {
    let mail = "From: friend@example.com\nTo: me@example.org\nSubject: lunch?\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nShall we?\n";
    Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["explain", "-"])
        .write_stdin(mail)
        .assert()
        .code(64)
        .stderr(predicates::str::contains("not a bounce"));
}

#[test]
fn a_missing_file_is_said_to_be_missing() {
    Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["explain", "no/such/bounce.eml"])
        .assert()
        .code(64)
        .stderr(predicates::str::contains("no such file"));
}

#[test]
fn binary_and_huge_inputs_are_refused_without_panic() {
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["explain", "-"])
        .write_stdin(binary)
        .assert()
        .code(64)
        .stderr(predicates::str::contains("binary data"));
    // A message with a 10 MB line is read (its notice text is bounded), not refused.
    let mut message = b"From: MAILER-DAEMON@example.com\nTo: a@example.org\nSubject: Undelivered Mail\n\n550 5.1.1 <b@example.net>: User unknown\n".to_vec();
    message.extend(std::iter::repeat_n(b'x', 10 << 20));
    Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["explain", "-", "--json"])
        .write_stdin(message)
        .assert()
        .success()
        .stdout(predicates::str::contains("user-unknown"));
    let huge = vec![b'a'; 17 << 20];
    Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(["explain", "-"])
        .write_stdin(huge)
        .assert()
        .code(64)
        .stderr(predicates::str::contains("more than"));
}
