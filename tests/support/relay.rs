//! A recording SMTP relay: listens on a loopback address, forwards each connection to a
//! real server (a lab listener), and records every command line the client sent — in the
//! clear, and inside STARTTLS too: the relay ends TLS on both sides (the fixture
//! certificate of tests/fixtures/tls towards the client, any certificate accepted from the
//! server), so nothing the client sends escapes the record.
//!
//! It relays in lockstep, one command then its reply, as the probe talks (it never
//! pipelines); a client that sent anything else would show up as a line in the record.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// One line the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub line: String,
    /// Sent inside TLS.
    pub tls: bool,
}

/// A running relay; its threads end with their connections.
pub struct RecordingRelay {
    pub addr: SocketAddr,
    sent: Arc<Mutex<Vec<Sent>>>,
    connections: Arc<AtomicUsize>,
}

impl RecordingRelay {
    /// Listens on `listen` (port chosen by the system) and relays to `upstream`.
    pub fn start(listen: IpAddr, upstream: SocketAddr) -> RecordingRelay {
        let listener = TcpListener::bind((listen, 0))
            .unwrap_or_else(|e| panic!("bind {listen}:0 for the relay: {e}"));
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (record, count) = (sent.clone(), connections.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let record = record.clone();
                thread::spawn(move || relay(client, upstream, &record));
            }
        });
        RecordingRelay {
            addr,
            sent,
            connections,
        }
    }

    /// Every line any client sent, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Either side of the relay, plain or after STARTTLS.
enum Side {
    Plain(TcpStream),
    Server(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Client(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Gone,
}

impl Side {
    fn stream(&mut self) -> Option<&mut dyn ReadWrite> {
        match self {
            Side::Plain(s) => Some(s),
            Side::Server(s) => Some(s.as_mut()),
            Side::Client(s) => Some(s.as_mut()),
            Side::Gone => None,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A side with what was read from it beyond the last line.
struct Peer {
    side: Side,
    buffer: Vec<u8>,
}

impl Peer {
    fn line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                return Some(self.buffer.drain(..=end).collect());
            }
            if self.buffer.len() > 1 << 20 {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match self.side.stream()?.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// A whole reply: lines up to the one whose fourth byte is not `-`.
    fn reply(&mut self) -> Option<Vec<u8>> {
        let mut reply = Vec::new();
        loop {
            let line = self.line()?;
            let last = line.get(3) != Some(&b'-');
            reply.extend_from_slice(&line);
            if last {
                return Some(reply);
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Option<()> {
        let stream = self.side.stream()?;
        stream.write_all(bytes).ok()?;
        stream.flush().ok()
    }
}

fn relay(client: TcpStream, upstream: SocketAddr, record: &Mutex<Vec<Sent>>) {
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        return;
    };
    for stream in [&client, &server] {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    }
    let mut client = Peer {
        side: Side::Plain(client),
        buffer: Vec::new(),
    };
    let mut server = Peer {
        side: Side::Plain(server),
        buffer: Vec::new(),
    };
    let _ = lockstep(&mut client, &mut server, record);
}

fn lockstep(client: &mut Peer, server: &mut Peer, record: &Mutex<Vec<Sent>>) -> Option<()> {
    let greeting = server.reply()?;
    client.send(&greeting)?;
    let mut tls = false;
    loop {
        let line = client.line()?;
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        record.lock().unwrap().push(Sent {
            line: text.clone(),
            tls,
        });
        server.send(&line)?;
        let reply = server.reply()?;
        client.send(&reply)?;
        if text.eq_ignore_ascii_case("STARTTLS") && reply.starts_with(b"220") {
            upgrade(client, server)?;
            tls = true;
        }
    }
}

fn upgrade(client: &mut Peer, server: &mut Peer) -> Option<()> {
    let (Side::Plain(towards_client), Side::Plain(towards_server)) = (
        std::mem::replace(&mut client.side, Side::Gone),
        std::mem::replace(&mut server.side, Side::Gone),
    ) else {
        return None;
    };
    let connection =
        rustls::ServerConnection::new(super::fault_server::fixture_tls_config(1)).ok()?;
    client.side = Side::Server(Box::new(rustls::StreamOwned::new(
        connection,
        towards_client,
    )));
    let name = ServerName::try_from("relay.invalid").ok()?;
    let connection = rustls::ClientConnection::new(permissive_client(), name).ok()?;
    server.side = Side::Client(Box::new(rustls::StreamOwned::new(
        connection,
        towards_server,
    )));
    Some(())
}

/// A TLS client that accepts any certificate: for the relay, which checks nothing about
/// the lab's certificates (smtpdiag's own view of them is tested elsewhere), and for
/// faults above TLS (HTTP), where the certificate is not the point.
pub fn permissive_client() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
