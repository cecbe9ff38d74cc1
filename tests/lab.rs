//! Verifies the lab itself (tests/lab, docs/lab.md) without any of smtpdiag's code:
//! DNS answers through the lab resolver with `dig`, Postfix replies with a tiny SMTP
//! client written here. The client never sends DATA.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::lab;

// ------------------------------------------------------------------ DNS ----

#[derive(Debug)]
struct Dig {
    status: String,
    /// (type, rdata) of every answer record, in order.
    answers: Vec<(String, String)>,
}

impl Dig {
    fn rdata(&self, rtype: &str) -> Vec<String> {
        self.answers
            .iter()
            .filter(|(t, _)| t == rtype)
            .map(|(_, d)| d.clone())
            .collect()
    }

    fn rdata_set(&self, rtype: &str) -> BTreeSet<String> {
        self.rdata(rtype).into_iter().collect()
    }
}

fn parse_dig(output: &str) -> Vec<Dig> {
    let mut results: Vec<Dig> = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            let status = rest
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            results.push(Dig {
                status,
                answers: Vec::new(),
            });
            continue;
        }
        if line.starts_with(';') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() >= 5 {
            if let Some(last) = results.last_mut() {
                last.answers
                    .push((fields[3].to_string(), fields[4..].join(" ")));
            }
        }
    }
    results
}

fn run_dig(args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", lab::RESOLVER))
        .args(["+time=3", "+tries=2", "+noall", "+comments", "+answer"])
        .args(args)
        .output()
        .expect("dig must be installed (tests/lab/start installs bind9-dnsutils)");
    assert!(out.status.success(), "dig {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One query through the lab resolver.
fn dig(name: &str, rtype: &str) -> Dig {
    let out = run_dig(&[name, rtype]);
    let mut parsed = parse_dig(&out);
    assert_eq!(parsed.len(), 1, "dig {name} {rtype} gave:\n{out}");
    parsed.remove(0)
}

fn ptr(ip: &str) -> Dig {
    let out = run_dig(&["-x", ip]);
    let mut parsed = parse_dig(&out);
    assert_eq!(parsed.len(), 1, "dig -x {ip} gave:\n{out}");
    parsed.remove(0)
}

fn assert_answer(name: &str, rtype: &str, expected: &[&str]) {
    let d = dig(name, rtype);
    assert_eq!(d.status, "NOERROR", "{name} {rtype}: {d:?}");
    let want: BTreeSet<String> = expected.iter().map(ToString::to_string).collect();
    assert_eq!(d.rdata_set(rtype), want, "{name} {rtype}: {d:?}");
}

fn assert_status(name: &str, rtype: &str, status: &str) {
    let d = dig(name, rtype);
    assert_eq!(d.status, status, "{name} {rtype}: {d:?}");
    assert!(d.answers.is_empty(), "{name} {rtype}: {d:?}");
}

fn assert_nodata(name: &str, rtype: &str) {
    assert_status(name, rtype, "NOERROR");
}

fn assert_nxdomain(name: &str, rtype: &str) {
    assert_status(name, rtype, "NXDOMAIN");
}

/// Reverse name of an IPv4 or IPv6 address under a DNSBL zone.
fn dnsbl_name(ip: &str, zone: &str) -> String {
    match ip.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut nibbles = Vec::new();
            for byte in v6.octets().iter().rev() {
                nibbles.push(format!("{:x}", byte & 0xf));
                nibbles.push(format!("{:x}", byte >> 4));
            }
            format!("{}.{zone}", nibbles.join("."))
        }
    }
}

const REAL_LISTS: [&str; 7] = [
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
    "psbl.surriel.com",
    "bl.mailspike.net",
    "dnsbl-1.uceprotect.net",
    "all.s5h.net",
];

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn healthy_domain_resolves() {
    lab::ensure_running();
    assert_answer("healthy.test", "MX", &["10 mx.healthy.test."]);
    assert_answer("mx.healthy.test", "A", &["127.0.0.10"]);
    assert_nodata("mx.healthy.test", "AAAA");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn each_scenario_domain_has_its_mx() {
    lab::ensure_running();
    for (domain, ip) in [
        ("busy", "127.0.0.11"),
        ("deny", "127.0.0.12"),
        ("rbl", "127.0.0.13"),
        ("helo", "127.0.0.14"),
        ("grey", "127.0.0.15"),
        ("badtls", "127.0.0.16"),
        ("relay", "127.0.0.17"),
        ("stall", "127.0.0.18"),
        ("expired", "127.0.0.19"),
        ("selfsigned", "127.0.0.20"),
    ] {
        assert_answer(
            &format!("{domain}.test"),
            "MX",
            &[&format!("10 mx.{domain}.test.")],
        );
        assert_answer(&format!("mx.{domain}.test"), "A", &[ip]);
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn mx_shapes() {
    lab::ensure_running();
    assert_answer("wrongname.test", "MX", &["10 mail.wrongname.test."]);
    assert_answer("mail.wrongname.test", "A", &["127.0.0.10"]);

    assert_answer("closed.test", "MX", &["10 mx.closed.test."]);
    assert_answer("mx.closed.test", "A", &["127.0.0.30"]);
    assert_answer(
        "backup.test",
        "MX",
        &["10 mx.closed.test.", "20 mx.healthy.test."],
    );

    assert_answer("v6only.test", "MX", &["10 mx.v6only.test."]);
    assert_answer("mx.v6only.test", "AAAA", &["::1"]);
    assert_nodata("mx.v6only.test", "A");

    assert_answer("nullmx.test", "MX", &["0 ."]);
    assert_answer("nullmix.test", "MX", &["0 .", "10 mx.healthy.test."]);

    assert_nodata("implicit.test", "MX");
    assert_answer("implicit.test", "A", &["127.0.0.10"]);

    assert_nodata("nomail.test", "MX");
    assert_nodata("nomail.test", "A");
    assert_nodata("nomail.test", "AAAA");
    assert_answer("nomail.test", "TXT", &["\"v=spf1 -all\""]);

    assert_answer("dangling.test", "MX", &["10 mx.nowhere.test."]);
    assert_nxdomain("mx.nowhere.test", "A");
    assert_nxdomain("mx.nowhere.test", "AAAA");

    assert_answer("literal.test", "MX", &["10 127.0.0.10."]);
    // "127.0.0.10." is a name under the (non-existent) TLD "10.".
    assert_nxdomain("127.0.0.10.", "A");

    assert_answer("cname.test", "MX", &["10 alias.cname.test."]);
    let alias = dig("alias.cname.test", "A");
    assert_eq!(alias.status, "NOERROR");
    assert_eq!(alias.rdata("CNAME"), vec!["mx.healthy.test.".to_string()]);
    assert_eq!(alias.rdata("A"), vec!["127.0.0.10".to_string()]);

    assert_answer(
        "dupmx.test",
        "MX",
        &["10 mx.healthy.test.", "20 mx.healthy.test."],
    );
    assert_answer(
        "twomx.test",
        "MX",
        &["10 mx.healthy.test.", "20 mx.batch-a.test."],
    );
    assert_answer("mx.batch-a.test", "A", &["127.0.1.1"]);
    assert_answer("fault.test", "MX", &["10 mx.fault.test."]);
    assert_answer("mx.fault.test", "A", &["127.0.0.1"]);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn batch_domains_all_resolve() {
    use std::fmt::Write as _;
    lab::ensure_running();
    let dir = std::env::temp_dir().join(format!("smtpdiag-lab-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("queries");
    let mut queries = String::new();
    for n in 1..=1000 {
        writeln!(queries, "d{n:04}.batch.test MX").unwrap();
    }
    std::fs::write(&file, queries).unwrap();
    let out = run_dig(&["-f", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    let results = parse_dig(&out);
    assert_eq!(results.len(), 1000, "{out}");
    for (i, result) in results.iter().enumerate() {
        let n = i + 1;
        let nn = (n - 1) % 10 + 1;
        assert_eq!(result.status, "NOERROR", "d{n:04}: {result:?}");
        assert_eq!(
            result.rdata("MX"),
            vec![format!("10 mx{nn:02}.batch.test.")],
            "d{n:04}: {result:?}"
        );
    }
    for nn in 1..=10 {
        assert_answer(
            &format!("mx{nn:02}.batch.test"),
            "A",
            &[&format!("127.0.1.{nn}")],
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn missing_broken_and_foreign_names() {
    lab::ensure_running();
    assert_nxdomain("nosuch.test", "MX");
    assert_nxdomain("nosuch.test", "A");
    assert_nxdomain("unrelated.test", "A");
    assert_status("servfail.test", "MX", "SERVFAIL");
    assert_status("mx.servfail.test", "A", "SERVFAIL");
    for name in ["example.com", "google.com", "gmail.com", "com"] {
        assert_status(name, "MX", "REFUSED");
        assert_status(name, "A", "REFUSED");
    }
    assert_status("8.8.8.8.in-addr.arpa", "PTR", "REFUSED");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn reverse_dns() {
    lab::ensure_running();
    for (ip, name) in [
        ("127.0.0.1", "localhost."),
        ("127.0.0.10", "mx.healthy.test."),
        ("127.0.0.11", "mx.busy.test."),
        ("127.0.0.12", "unrelated.test."),
        ("127.0.0.14", "mx.helo.test."),
        ("127.0.0.15", "mx.grey.test."),
        ("127.0.0.16", "mx.badtls.test."),
        ("127.0.0.17", "mx.relay.test."),
        ("127.0.0.18", "mx.stall.test."),
        ("127.0.0.19", "mx.expired.test."),
        ("127.0.0.20", "mx.selfsigned.test."),
        ("::1", "mx.v6only.test."),
    ] {
        let d = ptr(ip);
        assert_eq!(d.status, "NOERROR", "{ip}: {d:?}");
        assert_eq!(d.rdata("PTR"), vec![name.to_string()], "{ip}: {d:?}");
    }
    for nn in 1..=10 {
        let d = ptr(&format!("127.0.1.{nn}"));
        assert_eq!(
            d.rdata("PTR"),
            vec![format!("mx{nn:02}.batch.test.")],
            "{d:?}"
        );
    }
    // 127.0.0.13 has no PTR at all.
    let d = ptr("127.0.0.13");
    assert_eq!(d.status, "NXDOMAIN", "{d:?}");
    assert!(d.answers.is_empty());
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn blocklist_test_entries_on_every_real_list() {
    lab::ensure_running();
    for zone in REAL_LISTS {
        let listed = dig(&dnsbl_name("127.0.0.2", zone), "A");
        assert_eq!(listed.status, "NOERROR", "{zone}: {listed:?}");
        let want: BTreeSet<String> = if zone == "zen.spamhaus.org" {
            ["127.0.0.2", "127.0.0.4", "127.0.0.10"]
                .iter()
                .map(ToString::to_string)
                .collect()
        } else {
            std::iter::once("127.0.0.2".to_string()).collect()
        };
        assert_eq!(listed.rdata_set("A"), want, "{zone}");
        let txt = dig(&dnsbl_name("127.0.0.2", zone), "TXT");
        assert_eq!(txt.rdata("TXT").len(), 1, "{zone}: {txt:?}");
        assert_nxdomain(&dnsbl_name("127.0.0.1", zone), "A");
        assert_nxdomain(&dnsbl_name("127.0.0.1", zone), "TXT");
    }
    assert_answer(
        &dnsbl_name("127.0.0.2", "zen.spamhaus.org"),
        "TXT",
        &["\"https://www.spamhaus.org/query/ip/127.0.0.2\""],
    );
    // IPv6 test entry (RFC 5782): zen only.
    let v6 = dig(&dnsbl_name("::ffff:7f00:2", "zen.spamhaus.org"), "A");
    assert_eq!(v6.status, "NOERROR", "{v6:?}");
    assert!(v6.rdata_set("A").contains("127.0.0.2"), "{v6:?}");
    assert_nxdomain(&dnsbl_name("::1", "zen.spamhaus.org"), "A");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn blocklist_scenario_entries() {
    lab::ensure_running();
    let zen = "zen.spamhaus.org";
    assert_answer(
        &dnsbl_name("127.0.0.66", zen),
        "A",
        &["127.0.0.2", "127.0.0.4"],
    );
    assert_answer(
        &dnsbl_name("127.0.0.66", zen),
        "TXT",
        &["\"https://www.spamhaus.org/query/ip/127.0.0.66\""],
    );
    assert_answer(
        &dnsbl_name("127.0.0.66", "bl.spamcop.net"),
        "A",
        &["127.0.0.2"],
    );
    assert_answer(
        &dnsbl_name("127.0.0.66", "bl.spamcop.net"),
        "TXT",
        &["\"Blocked - see https://www.spamcop.net/bl.shtml?127.0.0.66\""],
    );
    assert_answer(
        &dnsbl_name("127.0.0.66", "b.barracudacentral.org"),
        "A",
        &["127.0.0.2"],
    );
    for zone in [
        "psbl.surriel.com",
        "bl.mailspike.net",
        "dnsbl-1.uceprotect.net",
        "all.s5h.net",
    ] {
        assert_nxdomain(&dnsbl_name("127.0.0.66", zone), "A");
    }

    assert_answer(&dnsbl_name("127.0.0.67", zen), "A", &["127.0.0.10"]);
    assert_nxdomain(&dnsbl_name("127.0.0.67", "bl.spamcop.net"), "A");

    assert_answer(&dnsbl_name("2001:db8::66", zen), "A", &["127.0.0.3"]);
    assert_answer(
        &dnsbl_name("2001:db8::66", zen),
        "TXT",
        &["\"https://www.spamhaus.org/query/ip/2001:db8::66\""],
    );

    // Spamhaus error codes.
    assert_answer(&dnsbl_name("127.0.0.70", zen), "A", &["127.255.255.254"]);
    assert_answer(&dnsbl_name("127.0.0.71", zen), "A", &["127.255.255.255"]);
    assert_answer(&dnsbl_name("127.0.0.72", zen), "A", &["127.255.255.252"]);
    for ip in ["127.0.0.70", "127.0.0.71", "127.0.0.72"] {
        let txt = dig(&dnsbl_name(ip, zen), "TXT");
        assert!(txt.rdata("TXT")[0].starts_with("\"Error: "), "{txt:?}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn lab_only_lists() {
    lab::ensure_running();
    for ip in [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.66",
        "192.0.2.1",
        "::1",
        "2001:db8::1",
    ] {
        assert_answer(&dnsbl_name(ip, "listall.dnsbl.test"), "A", &["127.0.0.2"]);
    }
    assert_answer(
        &dnsbl_name("127.0.0.1", "listall.dnsbl.test"),
        "TXT",
        &["\"listall.dnsbl.test lists every address (127.0.0.1)\""],
    );
    for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.66"] {
        assert_nxdomain(&dnsbl_name(ip, "empty.dnsbl.test"), "A");
        assert_nxdomain(&dnsbl_name(ip, "empty.dnsbl.test"), "TXT");
    }
}

// ----------------------------------------------------------------- SMTP ----

#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join("\n")
    }
    fn last(&self) -> &str {
        self.lines.last().map_or("", String::as_str)
    }
    fn has_keyword(&self, keyword: &str) -> bool {
        self.lines.iter().skip(1).any(|l| {
            l.get(4..)
                .is_some_and(|k| k.split_whitespace().next() == Some(keyword))
        })
    }
}

/// A plain SMTP client over any byte stream. Never sends DATA.
struct Smtp {
    reader: BufReader<Box<dyn Read>>,
    writer: Box<dyn Write>,
    child: Option<Child>,
}

impl Smtp {
    fn connect(ip: &str) -> Smtp {
        let addr = SocketAddr::new(ip.parse().unwrap(), lab::SMTP_PORT);
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = stream.try_clone().unwrap();
        Smtp {
            reader: BufReader::new(Box::new(reader)),
            writer: Box::new(stream),
            child: None,
        }
    }

    /// Connects from a given loopback source address, through `nc -s`
    /// (std cannot bind a `TcpStream` before connecting).
    fn connect_from(source: &str, ip: &str) -> Smtp {
        let mut child = Command::new("nc")
            .args(["-s", source, "-w", "10", ip, &lab::SMTP_PORT.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nc must be installed (tests/lab/start installs netcat-openbsd)");
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        Smtp {
            reader: BufReader::new(Box::new(stdout)),
            writer: Box::new(stdin),
            child: Some(child),
        }
    }

    fn reply(&mut self) -> Reply {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("reading a reply after {lines:?}: {e}"));
            assert!(
                n > 0,
                "connection closed in the middle of a reply: {lines:?}"
            );
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let done = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if done {
                break;
            }
        }
        let code = lines.last().unwrap()[..3].parse().unwrap();
        Reply { code, lines }
    }

    fn send(&mut self, command: &str) -> Reply {
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        assert!(
            verb != "DATA" && verb != "BDAT",
            "the lab client never sends DATA"
        );
        self.writer
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        self.writer.flush().unwrap();
        self.reply()
    }

    /// True when the server closed the connection (EOF) without sending anything more.
    fn closed(&mut self) -> bool {
        let mut line = String::new();
        matches!(self.reader.read_line(&mut line), Ok(0))
    }

    fn quit(mut self) {
        let bye = self.send("QUIT");
        assert_eq!(bye.code, 221, "{bye:?}");
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

fn assert_reply(reply: &Reply, code: u16, starts: &str) {
    assert_eq!(reply.code, code, "{reply:?}");
    assert!(
        reply.last().starts_with(starts),
        "expected '{starts}…', got {reply:?}"
    );
}

/// Greeting, EHLO and MAIL FROM on a healthy listener.
fn healthy_session(ip: &str, name: &str) -> Smtp {
    let mut smtp = Smtp::connect(ip);
    let greeting = smtp.reply();
    assert_eq!(greeting.text(), format!("220 {name} ESMTP Postfix"));
    let ehlo = smtp.send("EHLO client.test");
    assert_eq!(ehlo.code, 250, "{ehlo:?}");
    assert_eq!(ehlo.lines[0], format!("250-{name}"));
    assert!(ehlo.has_keyword("ENHANCEDSTATUSCODES"), "{ehlo:?}");
    assert!(ehlo.has_keyword("PIPELINING"), "{ehlo:?}");
    assert_reply(
        &smtp.send("MAIL FROM:<probe@client.test>"),
        250,
        "250 2.1.0 Ok",
    );
    smtp
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn healthy_listener() {
    lab::ensure_running();
    let mut smtp = healthy_session(lab::HEALTHY, "mx.healthy.test");
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@healthy.test>"),
        250,
        "250 2.1.5 Ok",
    );
    assert_reply(
        &smtp.send("RCPT TO:<alice@healthy.test>"),
        250,
        "250 2.1.5 Ok",
    );
    assert_reply(
        &smtp.send("RCPT TO:<nosuchuser@healthy.test>"),
        550,
        "550 5.1.1 <nosuchuser@healthy.test>: Recipient address rejected: User unknown in local recipient table",
    );
    assert_reply(
        &smtp.send("RCPT TO:<someone@elsewhere.example>"),
        554,
        "554 5.7.1 <someone@elsewhere.example>: Relay access denied",
    );
    // The same server answers for the domains that reach it by other names.
    for domain in [
        "wrongname.test",
        "backup.test",
        "implicit.test",
        "cname.test",
        "dupmx.test",
        "twomx.test",
        "nullmix.test",
        "literal.test",
    ] {
        assert_reply(
            &smtp.send(&format!("RCPT TO:<postmaster@{domain}>")),
            250,
            "250 2.1.5",
        );
    }
    smtp.quit();

    let mut smtp = healthy_session(lab::HEALTHY, "mx.healthy.test");
    let ehlo = smtp.send("EHLO client.test");
    assert!(ehlo.has_keyword("STARTTLS"), "{ehlo:?}");
    assert_reply(&smtp.send("STARTTLS"), 220, "220 2.0.0 Ready to start TLS");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn v6only_listener() {
    lab::ensure_running();
    let mut smtp = healthy_session(lab::V6ONLY, "mx.v6only.test");
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@v6only.test>"),
        250,
        "250 2.1.5 Ok",
    );
    assert_reply(
        &smtp.send("RCPT TO:<nosuchuser@v6only.test>"),
        550,
        "550 5.1.1",
    );
    let ehlo = smtp.send("EHLO client.test");
    assert!(ehlo.has_keyword("STARTTLS"), "{ehlo:?}");
    smtp.quit();
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn busy_listener_says_421_and_hangs_up() {
    lab::ensure_running();
    let mut smtp = Smtp::connect(lab::BUSY);
    let greeting = smtp.reply();
    assert_eq!(
        greeting.text(),
        "421 4.3.2 <localhost[127.0.0.1]>: Client host rejected: Service shutting down for maintenance"
    );
    assert!(smtp.closed(), "the server should close after 421");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn deny_listener_says_554_then_503() {
    lab::ensure_running();
    let mut smtp = Smtp::connect(lab::DENY);
    let greeting = smtp.reply();
    assert_eq!(
        greeting.text(),
        "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Service unavailable; no SMTP service here"
    );
    assert_reply(
        &smtp.send("EHLO client.test"),
        503,
        "503 5.7.0 Error: access denied for localhost[127.0.0.1]",
    );
    smtp.quit();
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn rbl_listener_rejects_only_listed_clients() {
    lab::ensure_running();
    // From 127.0.0.1 (not listed): accepted.
    let mut smtp = healthy_session(lab::RBL, "mx.rbl.test");
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@rbl.test>"),
        250,
        "250 2.1.5 Ok",
    );
    smtp.quit();

    // From 127.0.0.66 (listed on zen): rejected at RCPT TO.
    let mut smtp = Smtp::connect_from(lab::LISTED_CLIENT, lab::RBL);
    assert_eq!(smtp.reply().text(), "220 mx.rbl.test ESMTP Postfix");
    assert_eq!(smtp.send("EHLO client.test").code, 250);
    assert_reply(
        &smtp.send("MAIL FROM:<probe@client.test>"),
        250,
        "250 2.1.0 Ok",
    );
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@rbl.test>"),
        554,
        "554 5.7.1 Service unavailable; Client host [127.0.0.66] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.66",
    );
    smtp.quit();
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn helo_listener_is_strict() {
    lab::ensure_running();
    let mut smtp = Smtp::connect(lab::HELO);
    assert_eq!(smtp.reply().text(), "220 mx.helo.test ESMTP Postfix");
    assert_reply(
        &smtp.send("MAIL FROM:<probe@client.test>"),
        503,
        "503 5.5.1 Error: send HELO/EHLO first",
    );
    assert_reply(
        &smtp.send("EHLO localhost"),
        504,
        "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
    );
    assert_reply(
        &smtp.send("EHLO bad..name"),
        501,
        "501 5.5.2 <bad..name>: Helo command rejected: Invalid name",
    );
    assert_eq!(smtp.send("EHLO client.test").code, 250);
    assert_reply(
        &smtp.send("MAIL FROM:<probe@client.test>"),
        250,
        "250 2.1.0 Ok",
    );
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@helo.test>"),
        250,
        "250 2.1.5 Ok",
    );
    smtp.quit();
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn grey_listener_greylists() {
    lab::ensure_running();
    let mut smtp = healthy_session(lab::GREY, "mx.grey.test");
    for _ in 0..2 {
        assert_reply(
            &smtp.send("RCPT TO:<postmaster@grey.test>"),
            450,
            "450 4.2.0 <postmaster@grey.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html",
        );
    }
    smtp.quit();
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn badtls_listener_advertises_starttls_but_fails_it() {
    lab::ensure_running();
    let mut smtp = Smtp::connect(lab::BADTLS);
    assert_eq!(smtp.reply().text(), "220 mx.badtls.test ESMTP Postfix");
    let ehlo = smtp.send("EHLO client.test");
    assert!(ehlo.has_keyword("STARTTLS"), "{ehlo:?}");
    assert_reply(
        &smtp.send("STARTTLS"),
        454,
        "454 4.7.0 TLS not available due to local problem",
    );
    // The session goes on in plain text.
    assert_reply(
        &smtp.send("MAIL FROM:<probe@client.test>"),
        250,
        "250 2.1.0 Ok",
    );
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@badtls.test>"),
        250,
        "250 2.1.5 Ok",
    );
    smtp.quit();
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn relay_listener_denies_its_own_domain() {
    lab::ensure_running();
    let mut smtp = healthy_session(lab::RELAY, "mx.relay.test");
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@relay.test>"),
        554,
        "554 5.7.1 <postmaster@relay.test>: Relay access denied",
    );
    smtp.quit();
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn stall_listener_sends_no_banner() {
    lab::ensure_running();
    let addr = SocketAddr::new(lab::STALL.parse().unwrap(), lab::SMTP_PORT);
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!(
            "expected no banner within 3 s, got {other:?} after {:?}",
            started.elapsed()
        ),
    }
    assert!(started.elapsed() >= Duration::from_millis(2900));
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn expired_listener_offers_starttls() {
    lab::ensure_running();
    let mut smtp = healthy_session(lab::EXPIRED, "mx.expired.test");
    assert_reply(
        &smtp.send("RCPT TO:<postmaster@expired.test>"),
        250,
        "250 2.1.5 Ok",
    );
    let ehlo = smtp.send("EHLO client.test");
    assert!(ehlo.has_keyword("STARTTLS"), "{ehlo:?}");
    assert_reply(&smtp.send("STARTTLS"), 220, "220 2.0.0 Ready to start TLS");
}

/// `openssl s_client -starttls smtp`, verifying against the lab CA; returns
/// (handshake verified, everything openssl printed).
fn tls_verify(ip: &str, name: &str) -> (bool, String) {
    let connect = if ip.contains(':') {
        format!("[{ip}]:25")
    } else {
        format!("{ip}:25")
    };
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-brief",
            "-starttls",
            "smtp",
            "-connect",
            &connect,
        ])
        .args([
            "-CAfile",
            &lab::ca_file(),
            "-verify_hostname",
            name,
            "-verify_return_error",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("Verification: OK"),
        text,
    )
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn certificates() {
    lab::ensure_running();
    let (ok, text) = tls_verify(lab::HEALTHY, "mx.healthy.test");
    assert!(ok, "{text}");
    let (ok, text) = tls_verify(lab::V6ONLY, "mx.v6only.test");
    assert!(ok, "{text}");
    let (ok, text) = tls_verify(lab::HEALTHY, "implicit.test");
    assert!(ok, "{text}");
    let (ok, text) = tls_verify(lab::HEALTHY, "mail.wrongname.test");
    assert!(!ok && text.contains("hostname mismatch"), "{text}");
    let (ok, text) = tls_verify(lab::EXPIRED, "mx.expired.test");
    assert!(!ok && text.contains("certificate has expired"), "{text}");
    let (ok, text) = tls_verify(lab::SELFSIGNED, "mx.selfsigned.test");
    assert!(!ok && text.contains("self-signed certificate"), "{text}");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn closed_address_refuses() {
    lab::ensure_running();
    let addr = SocketAddr::new(lab::CLOSED.parse().unwrap(), lab::SMTP_PORT);
    let err =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn batch_listeners() {
    lab::ensure_running();
    let mut seen = BTreeMap::new();
    for (i, ip) in lab::BATCH.iter().enumerate() {
        let nn = i + 1;
        let mut smtp = Smtp::connect(ip);
        let name = format!("mx{nn:02}.batch.test");
        assert_eq!(smtp.reply().text(), format!("220 {name} ESMTP Postfix"));
        let ehlo = smtp.send("EHLO client.test");
        assert_eq!(ehlo.code, 250);
        assert!(!ehlo.has_keyword("STARTTLS"), "{ehlo:?}");
        assert_reply(
            &smtp.send("MAIL FROM:<probe@client.test>"),
            250,
            "250 2.1.0 Ok",
        );
        let rcpt = smtp.send(&format!("RCPT TO:<postmaster@d{nn:04}.batch.test>"));
        assert_reply(&rcpt, 250, "250 2.1.5 Ok");
        assert_reply(
            &smtp.send(&format!("RCPT TO:<nosuchuser@d{:04}.batch.test>", nn + 990)),
            550,
            "550 5.1.1",
        );
        smtp.quit();
        seen.insert(nn, name);
    }
    assert_eq!(seen.len(), 10);
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/isolated cargo test --features lab --test lab"
)]
fn sender_domains_and_addresses_resolve() {
    lab::ensure_running();
    assert_answer(
        "_dmarc.sender.test",
        "TXT",
        &["\"v=DMARC1; p=reject; rua=mailto:dmarc@sender.test\""],
    );
    assert_answer(
        "revoked._domainkey.sender.test",
        "TXT",
        &["\"v=DKIM1; k=rsa; p=\""],
    );
    assert_eq!(dig("duplicate.sender.test", "TXT").rdata("TXT").len(), 2);
    assert_answer("1.3.0.127.in-addr.arpa", "PTR", &["mail.sender.test."]);
    assert_answer("mail.sender.test", "A", &["127.0.3.1"]);
    assert_nxdomain("2.3.0.127.in-addr.arpa", "PTR");
    assert_answer("3.3.0.127.in-addr.arpa", "PTR", &["elsewhere.sender.test."]);
    assert_answer("elsewhere.sender.test", "A", &["127.0.3.99"]);
    assert_answer(
        "dmarcext.test._report._dmarc.reports.test",
        "TXT",
        &["\"v=DMARC1\""],
    );
    assert_nxdomain("dmarcext.test._report._dmarc.elsewhere.test", "TXT");
}

// ------------------------------------------------------- DNSSEC and DANE ----

/// A query with the DO bit (and the CD bit when `checking_disabled`): the status, whether
/// the resolver set AD, and the answers of `rtype` (TLSA data as `3 1 1 <lowercase hex>`).
#[derive(Debug)]
struct Secure {
    status: String,
    ad: bool,
    answers: BTreeSet<String>,
}

fn dig_secure(name: &str, rtype: &str, checking_disabled: bool) -> Secure {
    let cd = if checking_disabled { "+cd" } else { "+nocd" };
    let out = run_dig(&["+dnssec", cd, name, rtype]);
    let flags = out
        .lines()
        .find_map(|l| l.strip_prefix(";; flags:"))
        .unwrap_or_else(|| panic!("dig {name} {rtype}: no flags in\n{out}"));
    let ad = flags
        .split(';')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .any(|f| f == "ad");
    let d = parse_dig(&out)
        .pop()
        .unwrap_or_else(|| panic!("dig {name} {rtype} gave:\n{out}"));
    let answers = d
        .rdata(rtype)
        .into_iter()
        .map(|r| if rtype == "TLSA" { tlsa(&r) } else { r })
        .collect();
    Secure {
        status: d.status,
        ad,
        answers,
    }
}

/// `3 1 1 ABCD 1234` (dig splits the data) → `3 1 1 abcd1234`.
fn tlsa(rdata: &str) -> String {
    let fields: Vec<&str> = rdata.split_whitespace().collect();
    format!(
        "{} {}",
        fields[..3].join(" "),
        fields[3..].concat().to_ascii_lowercase()
    )
}

/// Runs a shell pipeline with `input` on its standard input; its standard output.
fn sh(script: &str, input: &str) -> String {
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// SHA-256 of the public key of a PEM certificate: the data of a `x 1 1` TLSA record.
fn spki_sha256(cert_pem: &str) -> String {
    sh(
        "openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -c1-64",
        cert_pem,
    )
}

/// SHA-256 of a whole PEM certificate: the data of a `x 0 1` TLSA record.
fn cert_sha256(cert_pem: &str) -> String {
    sh(
        "openssl x509 -outform DER | openssl dgst -sha256 -r | cut -c1-64",
        cert_pem,
    )
}

fn lab_file(relative: &str) -> String {
    let path = lab::state_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The certificates a listener presents after STARTTLS, leaf first, as PEM.
fn presented_chain(ip: &str, name: &str) -> Vec<String> {
    let out = Command::new("openssl")
        .args(["s_client", "-showcerts", "-starttls", "smtp", "-connect"])
        .arg(format!("{ip}:25"))
        .args(["-servername", name])
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut chain = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line == "-----BEGIN CERTIFICATE-----" {
            current = Some(String::new());
        }
        if let Some(pem) = current.as_mut() {
            pem.push_str(line);
            pem.push('\n');
        }
        if line == "-----END CERTIFICATE-----" {
            chain.extend(current.take());
        }
    }
    assert!(!chain.is_empty(), "no certificate from {ip}: {out:?}");
    chain
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn signed_zones_are_validated() {
    lab::ensure_running();
    for (name, rtype) in [
        ("valid.dane.test", "MX"),
        ("mx.valid.dane.test", "A"),
        ("_25._tcp.mx.valid.dane.test", "TLSA"),
        ("ta.dane.test", "MX"),
        // bogus.test: only its TLSA record was changed after signing.
        ("bogus.test", "MX"),
        ("mx.bogus.test", "A"),
    ] {
        let d = dig_secure(name, rtype, false);
        assert_eq!(d.status, "NOERROR", "{name} {rtype}: {d:?}");
        assert!(d.ad, "{name} {rtype} is not authenticated: {d:?}");
        assert!(!d.answers.is_empty(), "{name} {rtype}: {d:?}");
    }
    // Signed, and no TLSA record: an authenticated denial (NSEC).
    for (name, rtype) in [
        ("_25._tcp.mx.nodane.dane.test", "TLSA"),
        ("nosuch.dane.test", "MX"),
    ] {
        let d = dig_secure(name, rtype, false);
        assert!(d.status == "NXDOMAIN" && d.ad, "{name} {rtype}: {d:?}");
    }
    let d = dig_secure("mx.nodane.dane.test", "TLSA", false);
    assert!(
        d.status == "NOERROR" && d.ad && d.answers.is_empty(),
        "{d:?}"
    );
    // The rest of the lab is not signed: answers, never AD.
    for (name, rtype) in [
        ("healthy.test", "MX"),
        ("_25._tcp.mx.tlsa-unsigned.test", "TLSA"),
        ("sts-enforce.test", "MX"),
    ] {
        let d = dig_secure(name, rtype, false);
        assert!(
            d.status == "NOERROR" && !d.ad && !d.answers.is_empty(),
            "{name} {rtype}: {d:?}"
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn bogus_zones_fail_and_checking_disabled_shows_the_data() {
    lab::ensure_running();
    let healthy = spki_sha256(&lab_file("tls/healthy.pem"));
    let name = "_25._tcp.mx.bogus.test";
    let d = dig_secure(name, "TLSA", false);
    assert!(d.status == "SERVFAIL" && d.answers.is_empty(), "{d:?}");
    let cd = dig_secure(name, "TLSA", true);
    assert_eq!(cd.status, "NOERROR", "{cd:?}");
    assert!(!cd.ad, "{cd:?}");
    assert_eq!(cd.answers, BTreeSet::from([format!("3 1 1 {healthy}")]));

    for (name, rtype, data) in [
        ("sigexpired.test", "MX", "10 mx.sigexpired.test."),
        ("mx.sigexpired.test", "A", "127.0.0.21"),
    ] {
        let d = dig_secure(name, rtype, false);
        assert!(d.status == "SERVFAIL", "{name} {rtype}: {d:?}");
        let cd = dig_secure(name, rtype, true);
        assert_eq!(cd.status, "NOERROR", "{name} {rtype}: {cd:?}");
        assert_eq!(cd.answers, BTreeSet::from([data.to_string()]));
    }
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn tlsa_records_against_the_dane_listener() {
    lab::ensure_running();
    let chain = presented_chain(lab::DANE, "mx.valid.dane.test");
    assert_eq!(chain.len(), 2, "leaf and lab CA: {chain:?}");
    let current = spki_sha256(&chain[0]);
    let ca = cert_sha256(&lab_file("tls/ca.pem"));
    assert_eq!(
        cert_sha256(&chain[1]),
        ca,
        "the second certificate is the lab CA"
    );
    let healthy = spki_sha256(&lab_file("tls/healthy.pem"));
    assert_ne!(healthy, current);
    let next = sh(
        "openssl pkey -pubout -outform DER | openssl dgst -sha256 -r | cut -c1-64",
        &lab_file("tls/next.key"),
    );
    let malformed = "0123456789abcdef0123456789abcdef01234567";
    for (domain, records, ip) in [
        (
            "valid.dane.test",
            vec![format!("3 1 1 {current}")],
            lab::DANE,
        ),
        (
            "mismatch.dane.test",
            vec![format!("3 1 1 {healthy}")],
            lab::DANE,
        ),
        ("ta.dane.test", vec![format!("2 0 1 {ca}")], lab::DANE),
        (
            "rollover.dane.test",
            vec![format!("3 1 1 {current}"), format!("3 1 1 {next}")],
            lab::DANE,
        ),
        (
            "pkix.dane.test",
            vec![format!("1 1 1 {current}")],
            lab::DANE,
        ),
        (
            "malformed.dane.test",
            vec![format!("3 1 1 {malformed}"), format!("4 1 1 {current}")],
            lab::DANE,
        ),
        (
            "notls.dane.test",
            vec![format!("3 1 1 {current}")],
            lab::BATCH[0],
        ),
        (
            "tlsa-unsigned.test",
            vec![format!("3 1 1 {current}")],
            lab::DANE,
        ),
    ] {
        let mx = format!("mx.{domain}");
        assert_answer(domain, "MX", &[&format!("10 {mx}.")]);
        assert_answer(&mx, "A", &[ip]);
        let d = dig_secure(&format!("_25._tcp.{mx}"), "TLSA", false);
        assert_eq!(d.status, "NOERROR", "{mx}: {d:?}");
        assert_eq!(d.ad, domain.ends_with(".dane.test"), "{mx}: {d:?}");
        let want: BTreeSet<String> = records.into_iter().collect();
        assert_eq!(d.answers, want, "TLSA of {mx}");
        if ip == lab::DANE {
            // Every name the listener serves is in its certificate (DANE-TA checks it).
            let (ok, text) = tls_verify(lab::DANE, &mx);
            assert!(ok, "{mx}: {text}");
        }
    }
    // mx.notls.dane.test is mx01.batch.test's listener: no STARTTLS.
    let mut smtp = Smtp::connect(lab::BATCH[0]);
    assert_eq!(smtp.reply().code, 220);
    let ehlo = smtp.send("EHLO client.test");
    assert!(!ehlo.has_keyword("STARTTLS"), "{ehlo:?}");
    smtp.quit();
    // The listener itself: a healthy Postfix that accepts mail for the DANE domains.
    let mut smtp = Smtp::connect(lab::DANE);
    assert_eq!(smtp.reply().text(), "220 mx.valid.dane.test ESMTP Postfix");
    assert!(smtp.send("EHLO client.test").has_keyword("STARTTLS"));
    assert_reply(
        &smtp.send("MAIL FROM:<probe@client.test>"),
        250,
        "250 2.1.0 Ok",
    );
    for domain in ["valid.dane.test", "bogus.test", "sts-missing.test"] {
        assert_reply(
            &smtp.send(&format!("RCPT TO:<postmaster@{domain}>")),
            250,
            "250 2.1.5 Ok",
        );
    }
    smtp.quit();
}

// ------------------------------------------------------ MTA-STS, TLS-RPT ----

const STS_ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: mx.healthy.test\nmax_age: 86400\n";

/// `curl --cacert <lab CA>` of a domain's MTA-STS policy, at the address the lab DNS gives
/// `mta-sts.<domain>`: (curl's exit code, HTTP status, Content-Type, body, curl's error).
fn fetch_policy(domain: &str) -> (i32, String, String, String, String) {
    let host = format!("mta-sts.{domain}");
    let d = dig(&host, "A");
    let addr = d
        .rdata("A")
        .pop()
        .unwrap_or_else(|| panic!("{host} has no address: {d:?}"));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert", &lab::ca_file()])
        .arg("--resolve")
        .arg(format!("{host}:443:{addr}"))
        .args(["-w", "\n%{http_code} %{content_type}"])
        .arg(format!("https://{host}/.well-known/mta-sts.txt"))
        .output()
        .expect("curl must be installed (tests/lab/start installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status_line) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (status, content_type) = status_line.split_once(' ').unwrap_or((status_line, ""));
    (
        out.status.code().unwrap_or(-1),
        status.to_string(),
        content_type.to_string(),
        body.to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn mta_sts_and_tls_rpt_records() {
    lab::ensure_running();
    for (domain, id) in [
        ("sts-enforce.test", "\"v=STSv1; id=20261201T000000;\""),
        ("sts-wildcard.test", "\"v=STSv1; id=wildcard1\""),
        ("sts-missing.test", "\"v=STSv1; id=missing1\""),
        ("sts-testing.test", "\"v=STSv1; id=testing1\""),
        ("sts-malformed.test", "\"v=STSv1; id=malformed1\""),
        ("sts-nopolicy.test", "\"v=STSv1; id=nopolicy1\""),
        ("sts-badcert.test", "\"v=STSv1; id=badcert1\""),
        ("sts-expired.test", "\"v=STSv1; id=expired1\""),
    ] {
        assert_answer(&format!("_mta-sts.{domain}"), "TXT", &[id]);
        assert_answer(&format!("mta-sts.{domain}"), "A", &[lab::MTA_STS]);
        if domain == "sts-missing.test" {
            assert_answer(
                domain,
                "MX",
                &["10 mx.healthy.test.", "20 mx.sts-missing.test."],
            );
            assert_answer("mx.sts-missing.test", "A", &[lab::DANE]);
        } else {
            assert_answer(domain, "MX", &["10 mx.healthy.test."]);
        }
    }
    assert_answer("_mta-sts.sts-badtxt.test", "TXT", &["\"v=STSv1;\""]);
    assert_nxdomain("mta-sts.sts-badtxt.test", "A");

    assert_answer(
        "_smtp._tls.sts-enforce.test",
        "TXT",
        &["\"v=TLSRPTv1; rua=mailto:tlsrpt@sts-enforce.test\""],
    );
    assert_answer(
        "_smtp._tls.sts-wildcard.test",
        "TXT",
        &[
            "\"v=TLSRPTv1; rua=https://tlsrpt.sts-wildcard.test/v1,mailto:tlsrpt@sts-wildcard.test\"",
        ],
    );
    assert_answer(
        "_smtp._tls.sts-malformed.test",
        "TXT",
        &["\"v=TLSRPTv1 rua=tlsrpt@sts-malformed.test\""],
    );
    assert_nxdomain("_smtp._tls.sts-testing.test", "TXT");
}

#[test]
#[cfg_attr(
    not(feature = "lab"),
    ignore = "needs the lab: tests/lab/with-lab cargo test --features lab"
)]
fn mta_sts_policies_over_https() {
    lab::ensure_running();
    for (domain, policy) in [
        ("sts-enforce.test", STS_ENFORCE.to_string()),
        ("sts-missing.test", STS_ENFORCE.to_string()),
        (
            "sts-wildcard.test",
            "version: STSv1\nmode: enforce\nmx: *.healthy.test\nmax_age: 604800\n".to_string(),
        ),
        (
            "sts-testing.test",
            STS_ENFORCE.replace("enforce", "testing"),
        ),
        (
            "sts-malformed.test",
            "version: STSv2\nmode: enforcing\nmx mx.healthy.test\nmax_age: forever\n".to_string(),
        ),
    ] {
        let (exit, status, content_type, body, error) = fetch_policy(domain);
        assert_eq!((exit, status.as_str()), (0, "200"), "{domain}: {error}");
        assert_eq!(content_type, "text/plain", "{domain}");
        assert_eq!(body, policy, "{domain}");
    }
    let (exit, status, _, _, error) = fetch_policy("sts-nopolicy.test");
    assert_eq!((exit, status.as_str()), (0, "404"), "{error}");
    let (exit, _, _, body, error) = fetch_policy("sts-badcert.test");
    assert_eq!(exit, 60, "certificate not accepted: {error}");
    assert!(error.contains("subject name"), "{error}");
    assert!(body.is_empty(), "{body}");
    let (exit, _, _, body, error) = fetch_policy("sts-expired.test");
    assert_eq!(exit, 60, "certificate not accepted: {error}");
    assert!(error.contains("expired"), "{error}");
    assert!(body.is_empty(), "{body}");
}
