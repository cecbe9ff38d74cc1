//! A scripted HTTPS server on a random loopback port, for the faults of an MTA-STS policy
//! host: a policy trickled one byte a second, a redirect, a body of 100 MB, bytes that
//! are not HTTP, silence, a connection held open after the answer. It presents the
//! fixture certificate of tests/fixtures/tls (for mx.fault.test; the tests fetch with a
//! client that accepts it, since the faults are above TLS).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How the policy host misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFault {
    /// 200, `text/plain`, a valid policy, then a close.
    Healthy,
    /// The same answer, one byte per second.
    Trickle,
    /// 301 to another host.
    Redirect,
    /// 200 and a body of 100 MB.
    Huge,
    /// Not HTTP at all.
    Garbage,
    /// The handshake, then nothing.
    Silent,
    /// The whole answer, with a Content-Length, and the connection held open.
    HoldOpen,
}

pub const POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.fault.test\r\nmax_age: 86400\r\n";

/// A running server; stops when dropped.
pub struct FaultHttp {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FaultHttp {
    pub fn start(fault: HttpFault) -> FaultHttp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, count, bytes, stopping) = (
            requests.clone(),
            connections.clone(),
            written.clone(),
            stop.clone(),
        );
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let (seen, bytes, stopping) = (seen.clone(), bytes.clone(), stopping.clone());
                thread::spawn(move || serve(stream, fault, &seen, &bytes, &stopping));
            }
        });
        FaultHttp {
            addr,
            requests,
            connections,
            written,
            stop,
        }
    }

    /// The request heads received.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Body bytes the server managed to write before the client stopped reading.
    pub fn written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }
}

impl Drop for FaultHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve(
    stream: TcpStream,
    fault: HttpFault,
    seen: &Mutex<Vec<String>>,
    written: &AtomicUsize,
    stop: &AtomicBool,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let config = super::fault_server::fixture_tls_config(1);
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    seen.lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).into_owned());
    let ok = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{POLICY}",
        POLICY.len()
    );
    match fault {
        HttpFault::Healthy => {
            let _ = tls.write_all(ok.as_bytes());
        }
        HttpFault::Trickle => {
            for b in ok.as_bytes() {
                if stop.load(Ordering::SeqCst)
                    || tls.write_all(&[*b]).and_then(|()| tls.flush()).is_err()
                {
                    return;
                }
                thread::sleep(Duration::from_secs(1));
            }
        }
        HttpFault::Redirect => {
            let _ = tls.write_all(
                b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://policy.elsewhere.test/.well-known/mta-sts.txt\r\nContent-Length: 0\r\n\r\n",
            );
        }
        HttpFault::Huge => {
            if tls
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
                .is_err()
            {
                return;
            }
            let chunk = vec![b'm'; 64 * 1024];
            for _ in 0..(100 << 20) / chunk.len() {
                if stop.load(Ordering::SeqCst) || tls.write_all(&chunk).is_err() {
                    return;
                }
                written.fetch_add(chunk.len(), Ordering::SeqCst);
            }
        }
        HttpFault::Garbage => {
            let _ = tls.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
        }
        HttpFault::Silent | HttpFault::HoldOpen => {
            if fault == HttpFault::HoldOpen && tls.write_all(ok.as_bytes()).is_err() {
                return;
            }
            let _ = tls.flush();
            // Hold the connection until the client goes away or the server stops.
            let _ = tls.sock.set_read_timeout(Some(Duration::from_millis(100)));
            let mut buf = [0u8; 1024];
            while !stop.load(Ordering::SeqCst) {
                match tls.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
            return;
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
