//! Do the probe's DNS lookups overlap? Resolves a domain with two MX and checks every address
//! against the default blocklists through a proxy that delays every query by the same amount,
//! then compares the wall time with the sum of all lookup times and with the same lookups
//! made one after another in the same run (the serial baseline).
//!
//! Needs the lab (tests/lab/start); every packet stays on loopback.
//! Run: `cargo bench --bench dns` (options after `--`: `DOMAIN DELAY_MS ROUNDS`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtpdiag::dns::name::DomainName;
use smtpdiag::dns::{Dns, HickoryDns, ResolverSettings};
use smtpdiag::dnsbl::Blocklist;
use smtpdiag::probe::{self, ProbeSettings};
use smtpdiag::smtp::{SmtpSettings, Timeouts, TrustAnchors};
use tokio::net::UdpSocket;

const LAB_RESOLVER: &str = "127.0.0.153:53";

/// A UDP DNS proxy on loopback that holds every query for `delay` before passing it on:
/// latency in user space, since `tc netem` is not available.
async fn delaying_proxy(delay: Duration) -> SocketAddr {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, client)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let query = buf[..len].to_vec();
            let socket = socket.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                upstream.send_to(&query, LAB_RESOLVER).await.unwrap();
                let mut answer = vec![0u8; 4096];
                if let Ok(Ok(len)) =
                    tokio::time::timeout(Duration::from_secs(2), upstream.recv(&mut answer)).await
                {
                    let _ = socket.send_to(&answer[..len], client).await;
                }
            });
        }
    });
    address
}

fn settings(resolver: SocketAddr) -> ProbeSettings {
    ProbeSettings {
        resolver: ResolverSettings {
            servers: vec![resolver],
            timeout: Duration::from_secs(3),
            attempts: 1,
        },
        blocklists: Blocklist::defaults(),
        check_ips: Vec::new(),
        smtp: SmtpSettings {
            port: 25,
            helo: "bench.smtpdiag.test".into(),
            mail_from: String::new(),
            rcpts: Vec::new(),
            starttls: true,
            timeouts: Timeouts::default(),
            source: None,
            trust: TrustAnchors::load(&[] as &[&str]).unwrap(),
            all_mx: false,
            limiter: Arc::default(),
        },
        no_smtp: true,
        deadline: Duration::from_secs(60),
        transport_policy: true,
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let domain = args.first().map_or("twomx.test", String::as_str);
    let delay_ms: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let proxy = delaying_proxy(Duration::from_millis(u64::from(delay_ms))).await;
        let settings = settings(proxy);
        let name = DomainName::parse(domain).unwrap();
        println!("domain {domain}, every query delayed {delay_ms} ms, {rounds} rounds");
        println!(
            "{:>5} {:>8} {:>10} {:>10} {:>10} {:>8} {:>8}",
            "round", "lookups", "wall ms", "sum ms", "serial ms", "sum/wall", "ser/wall"
        );
        let mut ratios = Vec::new();
        for round in 1..=rounds {
            // A fresh resolver each round: no answer comes from a cache.
            let dns = HickoryDns::new(&settings.resolver).unwrap();
            let started = Instant::now();
            let report = probe::probe(&dns, &name, &[], &settings).await;
            let wall = started.elapsed();
            let sum: Duration = report.lookups.iter().map(|l| l.duration).sum();
            assert!(
                report.mx.len() == 2 && report.mx.iter().all(|m| !m.addresses.is_empty()),
                "{domain} should have two resolvable MX in the lab: is the lab running?"
            );

            // The baseline: the very same questions, one after another.
            let serial_dns = HickoryDns::new(&settings.resolver).unwrap();
            let serial_started = Instant::now();
            for lookup in &report.lookups {
                let _ = serial_dns.query(&lookup.name, lookup.query_type).await;
            }
            let serial = serial_started.elapsed();
            println!(
                "{round:>5} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>8.1} {:>8.1}",
                report.lookups.len(),
                wall.as_secs_f64() * 1e3,
                sum.as_secs_f64() * 1e3,
                serial.as_secs_f64() * 1e3,
                sum.as_secs_f64() / wall.as_secs_f64(),
                serial.as_secs_f64() / wall.as_secs_f64(),
            );
            ratios.push((wall, serial));
        }
        let (wall, serial): (Vec<f64>, Vec<f64>) = ratios
            .iter()
            .map(|(w, s)| (w.as_secs_f64() * 1e3, s.as_secs_f64() * 1e3))
            .unzip();
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (wall, serial) = (median(wall), median(serial));
        // MX → addresses → (PTR → forward check | blocklist A → TXT): four round trips.
        let chain = 4.0 * f64::from(delay_ms);
        println!(
            "median: wall {wall:.1} ms, serial baseline {serial:.1} ms ({:.1}x), longest chain ~{chain:.0} ms (wall/chain {:.2})",
            serial / wall,
            wall / chain
        );
    });
}
