//! Golden files of what users read and scripts parse: the human report of lab scenarios in
//! every language, their JSON, `--help` of the command and of every subcommand, the man
//! page and the shell completions. Review changes with `cargo insta review`.

mod support;

use assert_cmd::Command;
use clap::{CommandFactory, ValueEnum};
use serde_json::Value;
use smtpdiag::cli::{Cli, ShellArg};

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

/// The standard output of `smtpdiag ARGS`, which must succeed, in a fixed environment and
/// terminal width; the version is filtered out, so that a release changes no golden file.
fn generated(args: &[&str]) -> String {
    let output = support::command::smtpdiag()
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "smtpdiag {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Only the version is filtered: help texts quote dates and durations as examples.
fn generated_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(&regex::escape(env!("CARGO_PKG_VERSION")), "[version]");
    settings
}

/// Every subcommand the parser knows, so that a new one cannot be left without a snapshot.
#[test]
fn help_of_every_subcommand() {
    let settings = generated_settings();
    let cli = Cli::command();
    let names: Vec<&str> = cli
        .get_subcommands()
        .map(clap::Command::get_name)
        .filter(|name| *name != "help")
        .collect();
    assert!(
        names.contains(&"explain") && names.contains(&"man"),
        "{names:?}"
    );
    for name in names {
        let help = generated(&[name, "--help"]);
        settings.bind(|| insta::assert_snapshot!(format!("help-{name}"), help));
    }
}

#[test]
fn man_page() {
    let page = generated(&["man"]);
    assert!(
        page.starts_with(".ie"),
        "not roff: {}",
        &page[..40.min(page.len())]
    );
    generated_settings().bind(|| insta::assert_snapshot!("man", page));
}

/// Every shell `completions` accepts (bash, elvish, fish, powershell, zsh).
#[test]
fn completions() {
    let settings = generated_settings();
    for shell in ShellArg::value_variants() {
        let name = shell.to_possible_value().unwrap().get_name().to_string();
        let script = generated(&["completions", &name]);
        assert!(script.contains("smtpdiag"), "{name}: {script}");
        settings.bind(|| insta::assert_snapshot!(format!("completions-{name}"), script));
    }
}
