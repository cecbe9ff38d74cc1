//! The lab: real Debian servers on loopback (unbound, nsd, rbldnsd, Postfix, postgrey),
//! started by `tests/lab/start`. Every scenario, its address and what it answers is in
//! docs/lab.md. Tests call [`ensure_running`] first; it starts the lab when it is not up
//! and panics (never skips) when it cannot.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The lab resolver (unbound): `--resolver 127.0.0.153`. Refuses every non-lab name.
pub const RESOLVER: &str = "127.0.0.153";
/// nsd, authoritative for `test.` and the loopback reverse zones (behind [`RESOLVER`]).
pub const NSD: &str = "127.0.0.1:5301";
/// rbldnsd, serving the blocklists under their real names (behind [`RESOLVER`]).
pub const RBLDNSD: &str = "127.0.0.1:5302";
/// postgrey, the policy server of [`GREY`].
pub const POSTGREY: &str = "127.0.0.1:5303";

/// Every Postfix listener is on port 25.
pub const SMTP_PORT: u16 = 25;
/// mx.healthy.test: 220, STARTTLS (lab CA), postmaster/alice 250, others 550 5.1.1.
pub const HEALTHY: &str = "127.0.0.10";
/// mx.v6only.test on `[::1]`: same as [`HEALTHY`], over IPv6.
pub const V6ONLY: &str = "::1";
/// mx.busy.test: `421 4.3.2` instead of the greeting, then the connection is closed.
pub const BUSY: &str = "127.0.0.11";
/// mx.deny.test: `554 5.7.1` instead of the greeting; every command then gets 503 5.7.0.
pub const DENY: &str = "127.0.0.12";
/// mx.rbl.test: RCPT TO gets 554 5.7.1 when the client's source address is listed on
/// zen.spamhaus.org ([`LISTED_CLIENT`], [`PBL_CLIENT`]); 127.0.0.1 is accepted.
pub const RBL: &str = "127.0.0.13";
/// mx.helo.test: `EHLO localhost` 504 5.5.2, `EHLO bad..name` 501 5.5.2.
pub const HELO: &str = "127.0.0.14";
/// mx.grey.test: RCPT TO gets `450 4.2.0 ... Greylisted` (postgrey, 1 h delay).
pub const GREY: &str = "127.0.0.15";
/// mx.badtls.test: STARTTLS advertised, the command answers `454 4.7.0`.
pub const BADTLS: &str = "127.0.0.16";
/// mx.relay.test: relay.test is not local here: RCPT TO postmaster@relay.test 554 5.7.1.
pub const RELAY: &str = "127.0.0.17";
/// mx.stall.test: accepts the connection, sends no greeting for 300 s.
pub const STALL: &str = "127.0.0.18";
/// mx.expired.test: healthy, but its certificate (lab CA) expired on 2021-01-01.
pub const EXPIRED: &str = "127.0.0.19";
/// mx.selfsigned.test: healthy, with a self-signed certificate for mx.selfsigned.test.
pub const SELFSIGNED: &str = "127.0.0.20";
/// The DANE listener: mx.valid.dane.test and every other MX of the DNSSEC-signed lab
/// zones (docs/lab.md, "DNSSEC and DANE"); healthy, STARTTLS with a lab-CA certificate
/// whose chain includes the CA.
pub const DANE: &str = "127.0.0.21";
/// nginx: the MTA-STS policy hosts `mta-sts.<domain>` on port 443 (lab CA).
pub const MTA_STS: &str = "127.0.0.40";
/// mx.closed.test: nothing listens (connection refused).
pub const CLOSED: &str = "127.0.0.30";
/// mx01.batch.test … mx10.batch.test: healthy, no TLS. `BATCH[n - 1]` is mx{n}.
pub const BATCH: [&str; 10] = [
    "127.0.1.1",
    "127.0.1.2",
    "127.0.1.3",
    "127.0.1.4",
    "127.0.1.5",
    "127.0.1.6",
    "127.0.1.7",
    "127.0.1.8",
    "127.0.1.9",
    "127.0.1.10",
];

/// Listed on zen.spamhaus.org (SBL+XBL), bl.spamcop.net and b.barracudacentral.org;
/// bind a client to it to be rejected by [`RBL`].
pub const LISTED_CLIENT: &str = "127.0.0.66";
/// Listed on zen.spamhaus.org as PBL only (127.0.0.10); [`RBL`] rejects it too.
pub const PBL_CLIENT: &str = "127.0.0.67";

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the lab keeps its state (configs, logs, TLS material): `$SMTPDIAG_LAB_DIR`,
/// `/tmp/smtpdiag-lab` by default. Same rule as tests/lab/lib.sh.
pub fn state_dir() -> PathBuf {
    match std::env::var_os("SMTPDIAG_LAB_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        _ => PathBuf::from("/tmp/smtpdiag-lab"),
    }
}

/// The lab CA certificate (PEM) that signed the certificates of mx.healthy.test
/// (also valid for mx.v6only.test and implicit.test), mx.expired.test, the DANE
/// listener and the MTA-STS policy hosts.
pub fn ca_file() -> String {
    state_dir()
        .join("tls/ca.pem")
        .to_string_lossy()
        .into_owned()
}

/// Postfix's log of the lab (one line per connection, reject, TLS handshake).
pub fn postfix_log() -> PathBuf {
    state_dir().join("log/postfix.log")
}

fn script(name: &str) -> Output {
    let path = repo_root().join("tests/lab").join(name);
    Command::new(&path)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()))
}

fn text(out: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn start_if_needed() -> Result<(), String> {
    if script("status").status.success() {
        return Ok(());
    }
    // start is idempotent and serialised with flock: several test binaries may race here.
    let start = script("start");
    if !start.status.success() {
        return Err(format!("tests/lab/start failed:\n{}", text(&start)));
    }
    let status = script("status");
    if !status.status.success() {
        return Err(format!(
            "tests/lab/start succeeded but tests/lab/status says the lab is not up:\n{}\n\nstart said:\n{}",
            text(&status),
            text(&start)
        ));
    }
    Ok(())
}

/// Makes sure the lab answers: runs `tests/lab/status` and, when the lab is not up,
/// `tests/lab/start`. Panics with the scripts' output when the lab cannot start; a test
/// that needs the lab never passes without it. Checked once per test binary.
pub fn ensure_running() {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(why) = READY.get_or_init(start_if_needed) {
        panic!("the test lab is not running and could not be started\n{why}");
    }
}
