//! Golden files of what users read and scripts parse: the human report of lab scenarios in
//! every language, their JSON, and `--help`. Review changes with `cargo insta review`.

mod support;

use assert_cmd::Command;
use serde_json::Value;

const SCENARIOS: &[&str] = &["healthy.test", "nullmx.test", "grey.test", "deny.test"];

fn run(args: &[&str]) -> String {
    support::lab::ensure_running();
    let output = Command::cargo_bin("smtpdiag")
        .unwrap()
        .args(args)
        .args([
            "--resolver",
            support::lab::RESOLVER,
            "--helo",
            "probe.smtpdiag.test",
        ])
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

/// Durations and certificate dates change from run to run; everything else must not.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9]+(\.[0-9]+)? (ms|ミリ秒)", "[duration]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[date]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn human_reports_in_every_language() {
    let settings = settings();
    for lang in ["en", "ja", "fr"] {
        for domain in SCENARIOS {
            let text = run(&[domain, "--lang", lang, "--color", "never"]);
            settings.bind(|| {
                insta::assert_snapshot!(format!("report-{lang}-{domain}"), text);
            });
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn json_reports() {
    let mut settings = settings();
    for path in [
        ".**.duration_ms",
        ".timings.*",
        ".sessions[].tls.chain[].not_before",
        ".sessions[].tls.chain[].not_after",
        ".sessions[].tls.chain[].days_left",
    ] {
        settings.add_redaction(path, "[redacted]");
    }
    for domain in SCENARIOS {
        let report: Value = serde_json::from_str(&run(&[domain, "--json"])).unwrap();
        support::schema::check_report(&report);
        settings.bind(|| insta::assert_json_snapshot!(format!("json-{domain}"), report));
    }
}

#[test]
fn help_text() {
    let help = Command::cargo_bin("smtpdiag")
        .unwrap()
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    settings().bind(|| insta::assert_snapshot!("help", String::from_utf8(help.stdout).unwrap()));
}
