//! End-to-end tests of the binary: `explain` and `compare` in text and JSON, each
//! language, and the exit status of bad input.

use predicates::prelude::*;
use serde_json::Value;

#[path = "support/command.rs"]
mod command;
use command::smtpdiag;

fn json(args: &[&str]) -> Value {
    let output = smtpdiag().args(args).arg("--json").output().unwrap();
    assert!(output.status.success(), "{args:?} failed: {output:?}");
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

fn no_panic() -> impl Predicate<str> {
    predicate::str::contains("panicked").not()
}

#[test]
fn explain_421_in_english() {
    smtpdiag()
        .args(["explain", "421"])
        .assert()
        .success()
        .stdout(predicate::str::contains("SMTP 421 Service Not Available"))
        .stdout(predicate::str::contains("4xx Transient Negative"))
        .stdout(predicate::str::contains("Description"))
        .stdout(predicate::str::contains("When you see it"))
        .stdout(predicate::str::contains("How to fix"));
}

#[test]
fn explain_in_japanese_and_french() {
    smtpdiag()
        .args(["explain", "421", "--lang", "ja"])
        .assert()
        .success()
        .stdout(predicate::str::contains("説明"))
        .stdout(predicate::str::contains("このコードが表示される場合"))
        .stdout(predicate::str::contains("解決方法"));
    smtpdiag()
        .args(["explain", "421", "--lang", "fr"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Description"))
        .stdout(predicate::str::contains("Quand vous le voyez"))
        .stdout(predicate::str::contains("Comment résoudre"));
}

#[test]
fn language_comes_from_the_locale() {
    smtpdiag()
        .args(["explain", "554"])
        .env("LANG", "ja_JP.UTF-8")
        .assert()
        .success()
        .stdout(predicate::str::contains("解決方法"));
    smtpdiag()
        .args(["explain", "554"])
        .env("LANG", "ja_JP.UTF-8")
        .env("LC_ALL", "fr_FR.UTF-8")
        .assert()
        .success()
        .stdout(predicate::str::contains("Comment résoudre"));
}

#[test]
fn explain_json_in_every_language() {
    for lang in ["en", "ja", "fr"] {
        let doc = json(&["explain", "421", "5.7.26", "--lang", lang]);
        assert_eq!(doc["lang"], lang);
        let results = doc["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        let e = &results[0]["explanations"][0];
        assert_eq!(e["code"], "421");
        assert_eq!(e["kind"], "basic");
        assert_eq!(e["source"], "entry");
        assert_eq!(e["class"]["digit"], 4);
        for field in ["title", "description", "when", "fix"] {
            assert!(!e[field].as_str().unwrap().is_empty(), "{lang}: {field}");
        }
        let enhanced = &results[1]["explanations"][0];
        assert_eq!(enhanced["code"], "5.7.26");
        assert_eq!(enhanced["kind"], "enhanced");
    }
}

#[test]
fn explain_a_pasted_multi_line_reply() {
    let reply = "550-5.1.1 The email account that you tried to reach does not exist. Please try\n\
                 550-5.1.1 double-checking the recipient's email address for typos or\n\
                 550-5.1.1 unnecessary spaces. For more information, go to\n\
                 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123456wrb.42 - gsmtp";
    let doc = json(&["explain", reply]);
    let page = &doc["results"][0];
    assert_eq!(page["reply"]["code"], 550);
    assert_eq!(page["reply"]["enhanced"], "5.1.1");
    assert_eq!(page["reply"]["lines"].as_array().unwrap().len(), 4);
    assert!(
        page["signature"]["id"]
            .as_str()
            .unwrap()
            .starts_with("gmail-")
    );
    let codes: Vec<&str> = page["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["550", "5.1.1"]);

    smtpdiag()
        .args(["explain", reply])
        .assert()
        .success()
        .stdout(predicate::str::contains("Gmail"))
        .stdout(predicate::str::contains("SMTP 5.1.1"));
}

#[test]
fn explain_reads_standard_input() {
    smtpdiag()
        .args(["explain", "-", "--json"])
        .write_stdin("host mx.example.com[192.0.2.1] said: 554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7 (in reply to RCPT TO command)\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("\"zen.spamhaus.org\""))
        .stdout(predicate::str::contains("\"blocklist\""));
}

#[test]
fn unquoted_reply_words_are_one_reply() {
    let doc = json(&["explain", "550", "5.1.1", "User", "unknown"]);
    assert_eq!(doc["results"].as_array().unwrap().len(), 1);
    assert_eq!(doc["results"][0]["reply"]["enhanced"], "5.1.1");
}

#[test]
fn valid_code_without_entry_is_explained_by_class() {
    let doc = json(&["explain", "599"]);
    let e = &doc["results"][0]["explanations"][0];
    assert_eq!(e["source"], "class");
    assert_eq!(e["class"]["label"], "5xx Permanent Negative");
    smtpdiag()
        .args(["explain", "599"])
        .assert()
        .success()
        .stdout(predicate::str::contains("explained by its class"));
}

#[test]
fn compare_421_554_follows_the_seed_page() {
    smtpdiag()
        .args(["compare", "421", "554"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "SMTP 421 Service Not Available vs 554 Transaction Failed",
        ))
        .stdout(predicate::str::contains("Key differences"))
        .stdout(predicate::str::contains("When to use which"))
        .stdout(predicate::str::contains("For 421 (Service Not Available):"));
    let doc = json(&["compare", "421", "554"]);
    assert_eq!(
        doc["key_differences"][0],
        "421 is a 4xx Transient Negative response, while 554 is a 5xx Permanent Negative response."
    );
    assert_eq!(
        doc["summary"],
        "SMTP 421 (Service Not Available) is a 4xx Transient Negative response, while 554 (Transaction Failed) is a 5xx Permanent Negative response."
    );
}

#[test]
fn compare_shows_japanese_headings() {
    smtpdiag()
        .args(["compare", "421", "554", "--lang", "ja"])
        .assert()
        .success()
        .stdout(predicate::str::contains("説明"))
        .stdout(predicate::str::contains("このコードが表示される場合"))
        .stdout(predicate::str::contains("解決方法"))
        .stdout(predicate::str::contains("主な違い"))
        .stdout(predicate::str::contains("どちらをいつ使うか"));
}

#[test]
fn compare_shows_french_headings() {
    smtpdiag()
        .args(["compare", "421", "554", "--lang", "fr"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Description"))
        .stdout(predicate::str::contains("Quand vous le voyez"))
        .stdout(predicate::str::contains("Comment résoudre"))
        .stdout(predicate::str::contains("Différences clés"))
        .stdout(predicate::str::contains("Quand utiliser lequel"));
}

#[test]
fn compare_json_in_every_language() {
    for lang in ["en", "ja", "fr"] {
        let doc = json(&["compare", "421", "556", "--lang", lang]);
        assert_eq!(doc["lang"], lang);
        assert_eq!(doc["a"]["code"], "421");
        assert_eq!(doc["b"]["code"], "556");
        assert!(doc["title"].as_str().unwrap().contains("421"));
        assert!(!doc["summary"].as_str().unwrap().is_empty());
        assert!(doc["key_differences"].as_array().unwrap().len() >= 3);
        assert!(doc["when_to_use"].as_array().unwrap().len() >= 2);
    }
    let doc = json(&["compare", "421", "554"]);
    let differences = doc["key_differences"].to_string();
    assert!(
        differences.contains("closes the connection"),
        "{differences}"
    );
}

#[test]
fn colour_follows_the_flags() {
    let escape = predicate::str::contains("\u{1b}[");
    smtpdiag()
        .args(["explain", "421"])
        .assert()
        .stdout(escape.clone().not());
    smtpdiag()
        .args(["explain", "421", "--color", "always"])
        .assert()
        .stdout(escape.clone());
    smtpdiag()
        .args(["explain", "421", "--color", "always", "--json"])
        .assert()
        .stdout(escape.not());
}

#[test]
fn pasted_escape_sequences_are_not_echoed_raw() {
    smtpdiag()
        .args(["explain", "550 5.1.1 \u{1b}]0;pwned\u{7} User unknown"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\u{1b}]0").not())
        .stdout(predicate::str::contains("\\x1b]0;pwned\\x07"));
}

#[test]
fn bad_input_is_a_usage_error() {
    for args in [
        &["explain", "hello"][..],
        &["explain", "999"],
        &["explain", "6.1.1"],
        &["explain", ""],
        &["compare", "421", "hello"],
        &["compare", "421", "550 5.1.1 User unknown"],
        &["explain", "421", "--lang", "xx"],
        &["explain"],
        &["explain", "421", "--no-such-flag"],
        &["explain", "421", "--color", "sometimes"],
        &[],
    ] {
        smtpdiag()
            .args(args)
            .assert()
            .code(64)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::is_empty().not())
            .stderr(no_panic());
    }
    smtpdiag()
        .args(["explain", "hello"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("\"hello\" is not an SMTP reply"));
}

#[test]
fn stdin_that_is_not_a_reply_is_a_usage_error() {
    smtpdiag()
        .args(["explain", "-"])
        .write_stdin("just some words\n")
        .assert()
        .code(64)
        .stderr(no_panic());
    smtpdiag()
        .args(["explain", "-"])
        .write_stdin("550 5.1.1 x ".repeat(200_000))
        .assert()
        .code(64)
        .stderr(predicate::str::contains("more than"));
}

#[test]
fn help_and_version_succeed() {
    smtpdiag()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit status"));
    smtpdiag().arg("--version").assert().success();
}

// ------------------------------------------------------------ input safety ----

/// A file in the system's temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn with(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("smtpdiag-cli-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// (A NUL cannot be passed in an argument; it is refused in files, below, and in the unit
/// tests of `config.rs`.)
///
/// No probe may start: the resolver is a closed port, so a probe would show as a timeout
/// finding on stdout, and these runs must be refused before any work.
const NO_RESOLVER: [&str; 2] = ["--resolver", "127.0.0.1:9"];

#[test]
fn cr_and_lf_in_any_value_are_refused_naming_the_flag() {
    for (args, flag) in [
        (&["mx.example.com\r\nQUIT"][..], "DOMAIN"),
        (
            &["example.com", "--rcpt", "postmaster@example.com\r\nDATA"],
            "--rcpt",
        ),
        (&["example.com", "--from", "me@example.com\nRSET"], "--from"),
        (
            &["example.com", "--helo", "probe.example\r\nMAIL FROM:<x@y>"],
            "--helo",
        ),
        (&["example.com", "--resolver", "127.0.0.1\n"], "--resolver"),
        (
            &["example.com", "--dnsbl", "zen.spamhaus.org\r\n"],
            "--dnsbl",
        ),
        (&["example.com", "--check-ip", "192.0.2.1\r"], "--check-ip"),
        (&["example.com", "--source", "127.0.0.1\n"], "--source"),
        (
            &["example.com", "--ca-file", "/etc/ssl/ca\n.pem"],
            "--ca-file",
        ),
        (&["-f", "domains\r\n.txt"], "--file"),
        (&["logs", "mail\n.log"], "logs"),
        (
            &["logs", "-", "--probe", "1", "--rcpt", "a@b.example\r\nDATA"],
            "--rcpt",
        ),
    ] {
        smtpdiag()
            .args(args)
            .args(NO_RESOLVER)
            .assert()
            .code(64)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::starts_with(format!(
                "smtpdiag: error: {flag} "
            )))
            .stderr(
                predicate::str::contains("carriage return (CR)")
                    .or(predicate::str::contains("line feed (LF)")),
            )
            .stderr(no_panic());
    }
}

#[test]
fn a_domain_list_reports_each_bad_line_and_goes_on() {
    let mut bytes = b"# a list\nbad..name\n\xff\xfe.example\n".to_vec();
    bytes.extend_from_slice(&vec![b'a'; 1 << 20]);
    bytes.extend_from_slice(b"\nhttp://example.com/\n");
    let list = TempFile::with("list.txt", &bytes);
    let output = smtpdiag()
        .args(["-f", list.path(), "--json"])
        .args(NO_RESOLVER)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "line 2: \"bad..name\" is not a domain name",
        "line 3: not UTF-8 text",
        "line 4: longer than 4096 bytes",
        "line 5: \"http://example.com/\" is not a domain name",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    assert!(!stderr.contains("panicked"));
    // One JSON error line per bad line, in order, and nothing else.
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|l| l["exit_code"] == 64));
}

#[test]
fn a_binary_domain_list_stops_at_once() {
    let mut elf = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\n".to_vec();
    elf.resize(elf.len() + (1 << 20), 0);
    let binary = TempFile::with("binary", &elf);
    smtpdiag()
        .args(["-f", binary.path()])
        .args(NO_RESOLVER)
        .assert()
        .code(64)
        .stderr(predicate::str::contains(
            "line 1: a NUL byte: this is binary data, not a list of domains; reading stopped",
        ))
        .stderr(no_panic());
}

#[test]
fn explain_refuses_binary_huge_and_directory_inputs() {
    let mut binary = b"550 5.1.1 \x00\x01\x02".to_vec();
    binary.extend((0..=255u8).cycle().take(100_000));
    let binary = TempFile::with("binary.eml", &binary);
    smtpdiag()
        .args(["explain", binary.path()])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("holds binary data"))
        .stderr(no_panic());
    let huge = TempFile::with("huge.txt", &vec![b'5'; (16 << 20) + 1]);
    smtpdiag()
        .args(["explain", huge.path()])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("holds more than 16777216 bytes"))
        .stderr(no_panic());
    let dir = std::env::temp_dir();
    smtpdiag()
        .args(["explain", dir.to_str().unwrap()])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("is a directory"));
    // A device or a pipe is read like a file, up to the same bound.
    smtpdiag()
        .args(["explain", "/dev/zero"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("holds more than"));
}

#[test]
fn logs_reads_binary_and_endless_lines_without_failing() {
    let mut noise = Vec::new();
    let mut state = 0x2545_f491_u32;
    for _ in 0..(2 << 20) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        noise.push(state.to_le_bytes()[0]);
    }
    let noise = TempFile::with("noise.log", &noise);
    smtpdiag()
        .args(["logs", noise.path()])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "no line is a Postfix, Exim, Sendmail or Exchange log line",
        ))
        .stderr(no_panic());
    let long = TempFile::with("long.log", &vec![b'x'; 8 << 20]);
    smtpdiag()
        .args(["logs", long.path()])
        .assert()
        .success()
        .stdout(predicate::str::contains("longer than 64 KiB skipped"))
        .stderr(no_panic());
    smtpdiag()
        .args(["logs", std::env::temp_dir().to_str().unwrap()])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("is a directory"));
}
