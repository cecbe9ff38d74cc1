//! Looking up findings in a JSON report (the probe's or the sender's).

#![allow(dead_code)]

use serde_json::Value;

/// The kinds of the report's findings, in order.
pub fn kinds(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The finding of `kind`, or a panic listing the findings there are.
pub fn finding<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind)
        .unwrap_or_else(|| {
            panic!(
                "no {kind} finding in {}: {:?}",
                report["domain"],
                kinds(report)
            )
        })
}

/// Whether the report has a finding of `kind`.
pub fn has(report: &Value, kind: &str) -> bool {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == kind)
}
