//! The `OpenSPF` RFC 7208 test suite (tests/fixtures/spf), end to end: each scenario's zone
//! is served by a DNS responder on loopback, and each case runs `smtpdiag sender` against
//! it. The binary must agree with the suite on at least 95% of the cases; every case that
//! differs is printed with its section of the RFC.

mod support;

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::RecordType;
use serde_json::Value;
use support::command::smtpdiag;
use support::zone_server::{Rr, Zone, ZoneServer};
use yaml_rust2::{Yaml, YamlLoader};

const SUITE: &str = include_str!("fixtures/spf/rfc7208-tests.yml");

fn text(yaml: &Yaml) -> String {
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

fn strings(yaml: &Yaml) -> Vec<String> {
    match yaml {
        Yaml::Array(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

fn record_type(name: &str) -> RecordType {
    match name {
        "A" => RecordType::A,
        "AAAA" => RecordType::AAAA,
        "MX" => RecordType::MX,
        "PTR" => RecordType::PTR,
        "TXT" => RecordType::TXT,
        "CNAME" => RecordType::CNAME,
        "SPF" => RecordType::from(99),
        other => panic!("record type {other} in the suite"),
    }
}

/// A scenario's `zonedata`, read as pyspf's driver reads it.
fn zone(zonedata: &Yaml) -> Zone {
    let mut zone = Zone::new();
    let Yaml::Hash(names) = zonedata else {
        return zone;
    };
    for (name, entries) in names {
        let name = text(name);
        zone.touch(&name);
        let entries = entries.as_vec().cloned().unwrap_or_default();
        let silent = entries.iter().any(|e| text(e) == "TIMEOUT");
        let mut has_txt = false;
        let mut spf = Vec::new();
        for entry in &entries {
            let Yaml::Hash(map) = entry else {
                if text(entry) == "TIMEOUT" {
                    zone.time_out(&name);
                }
                continue;
            };
            for (kind, value) in map {
                let kind = text(kind);
                if kind == "TXT" {
                    has_txt = true;
                }
                let value_text = text(value);
                if value_text == "TIMEOUT" {
                    zone.time_out_type(&name, record_type(&kind));
                    continue;
                }
                if value_text == "NONE" {
                    continue;
                }
                let rr = match kind.as_str() {
                    "A" => strings(value)
                        .iter()
                        .map(|a| Rr::A(a.parse::<Ipv4Addr>().unwrap()))
                        .collect(),
                    "AAAA" => strings(value)
                        .iter()
                        .map(|a| Rr::Aaaa(a.parse::<Ipv6Addr>().unwrap()))
                        .collect(),
                    "MX" => {
                        let parts = strings(value);
                        vec![Rr::Mx(parts[0].parse().unwrap(), parts[1].clone())]
                    }
                    "PTR" => vec![Rr::Ptr(value_text)],
                    "CNAME" => vec![Rr::Cname(value_text)],
                    "TXT" => vec![Rr::Txt(strings(value))],
                    "SPF" => {
                        spf.push(strings(value));
                        vec![Rr::Spf(strings(value))]
                    }
                    other => panic!("record type {other} in the suite"),
                };
                for rr in rr {
                    zone.add(&name, rr);
                }
            }
        }
        // The suite was written for SPF and TXT alike: its driver serves an SPF record as
        // TXT too, unless the name has TXT data of its own (or times out first).
        if !has_txt && !silent {
            for parts in spf {
                zone.add(&name, Rr::Txt(parts));
            }
        }
    }
    zone
}

#[derive(Debug)]
struct Case {
    scenario: String,
    id: String,
    spec: String,
    helo: String,
    host: String,
    mailfrom: String,
    expected: Vec<String>,
}

/// Runs one case; the result `smtpdiag sender` gave, or what went wrong.
fn run(server: &ZoneServer, case: &Case) -> String {
    // RFC 7208 §2.4: with a null reverse-path, the sender is postmaster@ the HELO name.
    let sender = if case.mailfrom.is_empty() {
        format!("postmaster@{}", case.helo)
    } else {
        case.mailfrom.clone()
    };
    let output = smtpdiag()
        .args(["sender", &sender, "--ip", &case.host, "--helo", &case.helo])
        .args(["--resolver", &server.resolver_arg()])
        .args([
            "--dns-timeout",
            "1",
            "--dns-attempts",
            "1",
            "--no-dnsbl",
            "--json",
        ])
        .output()
        .unwrap();
    let Ok(report) = serde_json::from_slice::<Value>(&output.stdout) else {
        return format!(
            "no report (exit {:?}): {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    };
    report["spf"]["evaluations"][0]["result"]
        .as_str()
        .unwrap_or("no result")
        .to_string()
}

#[test]
fn rfc7208_suite_agrees() {
    let documents = YamlLoader::load_from_str(SUITE).expect("the suite is YAML");
    let server = ZoneServer::start(Zone::new());
    let mut total = 0;
    let mut differing = Vec::new();
    for scenario in &documents {
        let name = text(&scenario["description"]);
        server.set_zone(zone(&scenario["zonedata"]));
        let Yaml::Hash(tests) = &scenario["tests"] else {
            continue;
        };
        for (id, test) in tests {
            let case = Case {
                scenario: name.clone(),
                id: text(id),
                spec: strings(&test["spec"]).join(", "),
                helo: text(&test["helo"]),
                host: text(&test["host"]),
                mailfrom: text(&test["mailfrom"]),
                expected: strings(&test["result"]),
            };
            total += 1;
            let got = run(&server, &case);
            if !case.expected.contains(&got) {
                differing.push(format!(
                    "{} / {} (RFC 7208 {}): expected {}, got {got}",
                    case.scenario,
                    case.id,
                    case.spec,
                    case.expected.join(" or ")
                ));
            }
        }
    }
    let agreed = total - differing.len();
    let count = |n: usize| f64::from(u32::try_from(n).unwrap());
    let share = count(agreed) * 100.0 / count(total);
    eprintln!("RFC 7208 suite: {agreed} of {total} cases agree ({share:.1}%)");
    for case in &differing {
        eprintln!("  differs: {case}");
    }
    assert!(
        total > 200,
        "the suite has {total} cases; expected over 200"
    );
    assert!(
        share >= 95.0,
        "{agreed} of {total} cases agree ({share:.1}%), below 95%"
    );
}
