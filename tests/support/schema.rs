//! Checks JSON output against the documented contract, docs/report.schema.json.

#![allow(dead_code)]

use std::sync::OnceLock;

use serde_json::Value;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report.schema.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .expect("docs/report.schema.json is JSON");
        jsonschema::validator_for(&schema).expect("docs/report.schema.json is a valid schema")
    })
}

/// Panics with every violation when `value` does not follow the schema.
pub fn check_report(value: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "JSON does not follow docs/report.schema.json:\n{}\n{value}",
        errors.join("\n")
    );
}

fn sender_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sender.schema.json");
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .expect("docs/sender.schema.json is JSON");
        jsonschema::validator_for(&schema).expect("docs/sender.schema.json is a valid schema")
    })
}

/// Panics with every violation when `value` does not follow docs/sender.schema.json.
pub fn check_sender(value: &Value) {
    let errors: Vec<String> = sender_validator()
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "JSON does not follow docs/sender.schema.json:\n{}\n{value}",
        errors.join("\n")
    );
}
