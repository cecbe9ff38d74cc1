//! The report layer through the binary: terminal safety, batch mode (input order, errors,
//! the per-destination limit, the summary), the Nagios line, completions and the man page.

mod support;
use support::command::smtpdiag;

use std::io::Write as _;

use predicates::prelude::*;
use serde_json::Value;
use support::fault_server::{Fault, FaultServer};

/// Arguments that aim the probe at the lab, and at a fault server's port.
fn lab_args(port: u16) -> Vec<String> {
    support::lab::ensure_running();
    [
        "--resolver",
        support::lab::RESOLVER,
        "--timeout",
        "5",
        "--port",
        &port.to_string(),
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn a_banner_with_escape_sequences_never_reaches_stdout_raw() {
    let server = FaultServer::start(Fault::EscapeBanner);
    let output = smtpdiag()
        .arg("fault.test")
        .args(lab_args(server.addr.port()))
        .args(["-v", "--color", "never", "--helo", "probe.smtpdiag.test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("fault.test"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "raw ESC on stdout:\n{stdout}");
    assert!(!stdout.contains('\u{9b}'), "raw CSI on stdout:\n{stdout}");
    assert!(stdout.contains("\\x1b]0;pwned\\x07"), "{stdout}");

    // With colour on, our own colour codes are there, the server's are not.
    let output = smtpdiag()
        .arg("fault.test")
        .args(lab_args(server.addr.port()))
        .args(["-v", "--color", "always", "--helo", "probe.smtpdiag.test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("\u{1b}["), "no colour at all");
    assert!(!stdout.contains("\u{1b}]0;pwned"), "{stdout}");
    assert!(!stdout.contains("\u{1b}[31mRED"), "{stdout}");
    assert!(!server.saw_data());
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn batch_json_lines_come_in_input_order_with_errors_in_place() {
    support::lab::ensure_running();
    let mut list = tempfile();
    writeln!(list, "# the first twenty batch domains, and one mistake").unwrap();
    for n in 1..=20 {
        writeln!(list, "d{n:04}.batch.test   # comment after a domain").unwrap();
        if n == 7 {
            writeln!(list, "\nbad..name").unwrap();
        }
    }
    let output = smtpdiag()
        .args([
            "-f",
            list.path_str(),
            "--json",
            "--concurrency",
            "8",
            "--no-dnsbl",
        ])
        .args([
            "--resolver",
            support::lab::RESOLVER,
            "--helo",
            "probe.smtpdiag.test",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(64),
        "a bad line makes the batch exit 64"
    );
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 21);
    let mut expected: Vec<String> = (1..=20).map(|n| format!("d{n:04}.batch.test")).collect();
    expected.insert(7, "bad..name".into());
    let domains: Vec<&str> = lines
        .iter()
        .map(|l| l["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, expected);
    for line in &lines {
        support::schema::check_report(line);
    }
    assert_eq!(lines[7]["exit_code"], 64);
    assert!(
        lines[7]["error"]
            .as_str()
            .unwrap()
            .contains("not a domain name")
    );
    for line in lines.iter().filter(|l| l.get("error").is_none()) {
        assert_eq!(line["verdict"], "ok", "{line}");
    }
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad..name"));
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn no_server_sees_more_than_one_probe_at_a_time() {
    let server = FaultServer::start(Fault::SplitReply);
    let domains = vec!["fault.test"; 12];
    let output = smtpdiag()
        .args(&domains)
        .args(lab_args(server.addr.port()))
        .args([
            "--concurrency",
            "12",
            "--json",
            "--no-dnsbl",
            "--helo",
            "probe.smtpdiag.test",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().lines().count(),
        12
    );
    assert_eq!(server.connections(), 12);
    assert_eq!(
        server.most_at_once(),
        1,
        "two probes talked to the server at once"
    );
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn human_batch_ends_with_a_summary() {
    support::lab::ensure_running();
    smtpdiag()
        .args(["healthy.test", "nullmx.test", "grey.test"])
        .args([
            "--resolver",
            support::lab::RESOLVER,
            "--helo",
            "probe.smtpdiag.test",
        ])
        .args(["--color", "never", "--no-dnsbl"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "mail to healthy.test: deliverable",
        ))
        .stdout(predicate::str::contains(
            "mail to nullmx.test: permanently failing",
        ))
        .stdout(predicate::str::contains(
            "mail to grey.test: temporarily failing",
        ))
        .stdout(predicate::str::contains("Summary  3 domains"))
        .stdout(predicate::str::is_match(r"(?m)^  nullmx\.test +permanent").unwrap());
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn nagios_line_with_performance_data() {
    support::lab::ensure_running();
    for (domain, code, word) in [
        ("healthy.test", 0, "OK"),
        ("grey.test", 1, "WARNING"),
        ("nullmx.test", 2, "CRITICAL"),
    ] {
        let output = smtpdiag()
            .args([domain, "--nagios", "--no-dnsbl"])
            .args([
                "--resolver",
                support::lab::RESOLVER,
                "--helo",
                "probe.smtpdiag.test",
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(code), "{domain}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(
            stdout.starts_with(&format!("SMTPDIAG {word} - mail to {domain}")),
            "{stdout}"
        );
        let perfdata = stdout.split_once(" | ").unwrap().1;
        assert!(
            predicate::str::is_match(r"^total=[0-9.]+s;;;0 dns=[0-9.]+s;;;0 dnsbl=[0-9.]+s;;;0 smtp=[0-9.]+s;;;0 findings=\d+;;;0\n$")
                .unwrap()
                .eval(perfdata),
            "{perfdata:?}"
        );
    }
    let output = smtpdiag()
        .args([
            "healthy.test",
            "--nagios",
            "--resolver",
            "127.0.0.1:9",
            "--dns-timeout",
            "0.5",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("SMTPDIAG UNKNOWN"));
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        smtpdiag()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("smtpdiag"))
            .stdout(predicate::str::contains("resolver"));
    }
    smtpdiag()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH smtpdiag"))
        .stdout(predicate::str::contains("Exit status"));
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn cr_lf_in_addresses_is_refused_before_anything_is_sent() {
    let server = FaultServer::start(Fault::Healthy);
    for args in [
        ["--rcpt", "a@fault.test\r\nDATA"],
        ["--from", "a@fault.test\nRSET"],
        ["--helo", "probe\r\nDATA"],
    ] {
        smtpdiag()
            .arg("fault.test")
            .args(lab_args(server.addr.port()))
            .args(args)
            .assert()
            .code(64)
            .stderr(predicate::str::contains("control character"))
            .stderr(predicate::str::contains("panicked").not());
    }
    assert_eq!(
        server.connections(),
        0,
        "a connection was made despite bad input"
    );
}

/// A temporary file removed when dropped; the crate needs no dependency for this.
struct TempFile {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl TempFile {
    fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl std::io::Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn tempfile() -> TempFile {
    let path = std::env::temp_dir().join(format!(
        "smtpdiag-test-{}-{:?}.txt",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::File::create(&path).unwrap();
    TempFile { path, file }
}

/// Every scenario of the lab, in Japanese and French, with the transcript: no English word
/// of ours (the servers' own words, quoted, excepted).
#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn japanese_and_french_reports_of_every_scenario_hold_no_english_words_of_ours() {
    const SCENARIOS: &[&str] = &[
        "backup",
        "badtls",
        "busy",
        "closed",
        "cname",
        "dangling",
        "deny",
        "dnsbl",
        "dupmx",
        "expired",
        "grey",
        "healthy",
        "helo",
        "implicit",
        "literal",
        "nomail",
        "nosuch",
        "nullmix",
        "nullmx",
        "relay",
        "selfsigned",
        "servfail",
        "stall",
        "twomx",
        "v6only",
        "wrongname",
        "valid.dane",
        "mismatch.dane",
        "notls.dane",
        "bogus",
        "ta.dane",
        "rollover.dane",
        "pkix.dane",
        "malformed.dane",
        "nodane.dane",
        "sigexpired",
        "tlsa-unsigned",
        "sts-enforce",
        "sts-wildcard",
        "sts-missing",
        "sts-testing",
        "sts-nopolicy",
        // The parsers' problems: the policy, the TLS-RPT record and the _mta-sts record.
        "sts-malformed",
        "sts-badtxt",
        "sts-badcert",
        "sts-expired",
    ];
    support::lab::ensure_running();
    let run = |domain: &str, extra: &[&str]| {
        let output = smtpdiag()
            .arg(format!("{domain}.test"))
            .args([
                "--resolver",
                support::lab::RESOLVER,
                "--timeout",
                "3",
                "--deadline",
                "8",
            ])
            .args(["--check-ip", "127.0.0.2", "--color", "never"])
            // The lab CA trusted, as an MTA-STS sender trusts the Web PKI: the policies are
            // fetched and read, so that their problems are rendered too.
            .arg("--ca-file")
            .arg(support::lab::ca_file())
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = SCENARIOS
            .iter()
            .map(|domain| {
                scope.spawn(move || {
                    // What came from outside: every reply and list text, as JSON carries it.
                    let json: Value = serde_json::from_str(&run(domain, &["--json"])).unwrap();
                    let mut outside = String::new();
                    for session in json["sessions"].as_array().into_iter().flatten() {
                        for step in session["steps"].as_array().into_iter().flatten() {
                            outside.push_str(&step["reply"]["lines"].to_string());
                            // The system's words for a failed connection.
                            if step["stage"] == "connect" {
                                outside.push_str(&step["error"].to_string());
                            }
                        }
                    }
                    for result in json["dnsbl"].as_array().into_iter().flatten() {
                        outside.push_str(&result["txt"].to_string());
                    }
                    // The TLS library's words for a policy host it refused.
                    outside.push_str(&json["transport"]["mta_sts"]["fetch"]["reason"].to_string());
                    let mut failures = Vec::new();
                    for lang in ["ja", "fr"] {
                        let text = run(domain, &["--lang", lang, "-v"]);
                        assert!(text.contains(domain), "{domain} {lang}: {text}");
                        let found = support::english::english_words_in(&text, lang, &outside);
                        if !found.is_empty() {
                            failures.push(format!("{domain} --lang {lang}: {found:?}\n{text}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
