//! `delay-proxy`: the benchmarks' delaying proxy as a program, so that other tools (swaks,
//! checkdmarc, the smtpdiag binary) go through the same delay. The latency model is in
//! `benches/delay/mod.rs`.
//!
//! ```text
//! delay-proxy RTT_MS [--dns LISTEN=UPSTREAM]... [--tcp LISTEN=UPSTREAM]...
//! ```
//!
//! `--dns` relays UDP and TCP on the same address and port; `--tcp` relays TCP only and
//! prints `peak LISTEN N` whenever N connections are open through LISTEN at once, a new
//! high. It prints `ready` on stdout once every socket is bound, then runs until killed.
//! Build: `cargo build --release --example delay-proxy`.

#[path = "delay/mod.rs"]
mod delay;

use std::net::SocketAddr;
use std::time::Duration;

fn pair(value: &str) -> (SocketAddr, SocketAddr) {
    let (listen, upstream) = value
        .split_once('=')
        .unwrap_or_else(|| panic!("{value:?}: expected LISTEN=UPSTREAM"));
    let parse = |a: &str| {
        a.parse::<SocketAddr>()
            .unwrap_or_else(|e| panic!("{a:?}: not an address and port: {e}"))
    };
    (parse(listen), parse(upstream))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: delay-proxy RTT_MS [--dns LISTEN=UPSTREAM]... [--tcp LISTEN=UPSTREAM]...";
    let rtt_ms: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{usage}"));
    let rtt = Duration::from_millis(rtt_ms);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut rest = args[1..].iter();
        while let Some(flag) = rest.next() {
            let value = rest.next().unwrap_or_else(|| panic!("{usage}"));
            let (listen, upstream) = pair(value);
            match flag.as_str() {
                "--dns" => {
                    delay::udp(listen, upstream, rtt).await.unwrap();
                    delay::tcp(listen, upstream, rtt, false).await.unwrap();
                }
                "--tcp" => {
                    delay::tcp(listen, upstream, rtt, true)
                        .await
                        .unwrap_or_else(|e| panic!("cannot listen on {listen}: {e}"));
                }
                _ => panic!("{usage}"),
            }
        }
        println!("ready");
        std::future::pending::<()>().await;
    });
}
