//! The resolver's cache across a batch, against a DNS responder on loopback that counts
//! what it is asked.

mod support;

use std::net::Ipv4Addr;

use hickory_proto::rr::RecordType;
use serde_json::Value;
use support::command::smtpdiag;
use support::zone_server::{Rr, Zone, ZoneServer};

/// Six domains served by one provider's exchanger, three probed at a time: a batch asks
/// that exchanger's PTR once (PTR queries go around hickory's cache; without the tool's
/// own, each group of probes asked again), and every report still has the name.
#[test]
fn a_batch_asks_a_shared_exchangers_ptr_once() {
    let domains: Vec<String> = (1..=6).map(|n| format!("d{n}.shared.test")).collect();
    let mut zone = Zone::new();
    for domain in &domains {
        zone.add(domain, Rr::Mx(10, "mx.provider.test".into()));
    }
    zone.add("mx.provider.test", Rr::A(Ipv4Addr::new(192, 0, 2, 25)))
        .add(
            "25.2.0.192.in-addr.arpa",
            Rr::Ptr("mx.provider.test".into()),
        );
    let server = ZoneServer::start(zone);
    let list = domains.join("\n");
    // No dialogue and no lists: nothing but the DNS responder is ever contacted.
    let output = smtpdiag()
        .args([
            "-f",
            "-",
            "--json",
            "--no-smtp",
            "--no-dnsbl",
            "--no-policy",
        ])
        .args(["--concurrency", "3", "--resolver", &server.resolver_arg()])
        .write_stdin(list)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let reports: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), domains.len(), "{stdout}");
    for report in &reports {
        let names = &report["mx"][0]["reverse_dns"][0]["names"];
        assert_eq!(names, &serde_json::json!(["mx.provider.test"]), "{report}");
    }
    assert_eq!(
        server.times_asked("25.2.0.192.in-addr.arpa", RecordType::PTR),
        1
    );
    // The MX queries are each domain's own: six.
    let mx_queries: usize = domains
        .iter()
        .map(|domain| server.times_asked(domain, RecordType::MX))
        .sum();
    assert_eq!(mx_queries, domains.len());
}
