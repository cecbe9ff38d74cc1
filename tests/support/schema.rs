//! Checks JSON output against the documented contracts: docs/report.schema.json for the
//! probe, docs/sender.schema.json for `smtpdiag sender`.

#![allow(dead_code)]

use std::sync::OnceLock;

use serde_json::Value;

fn validator(
    cell: &'static OnceLock<jsonschema::Validator>,
    file: &str,
) -> &'static jsonschema::Validator {
    cell.get_or_init(|| {
        let path = format!("{}/docs/{file}", env!("CARGO_MANIFEST_DIR"));
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("docs/{file} is not JSON: {e}"));
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("docs/{file} is not a valid schema: {e}"))
    })
}

/// Panics with every violation when `value` does not follow `docs/{file}`.
fn check(validator: &jsonschema::Validator, file: &str, value: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "JSON does not follow docs/{file}:\n{}\n{value}",
        errors.join("\n")
    );
}

/// Panics with every violation when `value` does not follow docs/report.schema.json.
pub fn check_report(value: &Value) {
    static REPORT: OnceLock<jsonschema::Validator> = OnceLock::new();
    check(
        validator(&REPORT, "report.schema.json"),
        "report.schema.json",
        value,
    );
}

/// Panics with every violation when `value` does not follow docs/sender.schema.json.
pub fn check_sender(value: &Value) {
    static SENDER: OnceLock<jsonschema::Validator> = OnceLock::new();
    check(
        validator(&SENDER, "sender.schema.json"),
        "sender.schema.json",
        value,
    );
}
