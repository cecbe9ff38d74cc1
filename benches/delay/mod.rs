//! A delaying proxy for benchmarks: loopback has no latency and `tc netem` is not available,
//! so latency is added in user space. One model for every kind of traffic, a path whose
//! round trip takes `rtt`:
//!
//! - **UDP (DNS)**: each datagram is held `rtt / 2` on the way to the upstream server and
//!   its answer `rtt / 2` on the way back: one query costs one round trip.
//! - **TCP (SMTP, DNS over TCP)**: every chunk of bytes, in either direction, is delivered
//!   `rtt / 2` after the proxy read it, in order. The client's `connect` returns at once (the
//!   kernel accepts), so the handshake's round trip is put where a real one shows: the
//!   upstream connection is opened `1.5 × rtt` after the accept (SYN, SYN-ACK, then the
//!   ACK's one-way trip), and nothing reaches the server before that. A server-first
//!   protocol (the SMTP greeting) then reaches the client `2 × rtt` after it called
//!   `connect`, as on a real path; a client-first one (DNS over TCP) gets its answer at
//!   `2 × rtt` too.
//! - **Acknowledgements of what a server sends** arrive as they would from the client over
//!   the path: half a round trip after the client's own kernel acknowledged the bytes the
//!   proxy handed it. It matters because a server with Nagle's algorithm on holds a small
//!   write until its previous one is acknowledged: Postfix writes its TLS 1.3 session ticket
//!   and then its reply to the next command, and the reply waits for that acknowledgement.
//!   The proxy keeps its kernel in delayed-ACK mode on the server's side, watches the
//!   client's socket until the client has acknowledged everything written to it (its send
//!   queue, asked over netlink, is empty), waits half a round trip and makes its kernel
//!   send the ACK then (`TCP_QUICKACK`), unless server bytes arrived less than a round
//!   trip before (an ACK covers everything received, and no client could have seen
//!   those). A client that acknowledges at once is charged one round trip, as on a real
//!   path; one that delays its ACK is charged its delay, but never more than the proxy
//!   kernel's own delayed-ACK timer (40 ms on Linux), which fires regardless. An
//!   acknowledgement also rides on every chunk the proxy forwards to the server, as it
//!   would on the client's. IPv4 clients only; an IPv6 one is left to the kernel.
//!
//! Bandwidth, loss and the proxy's own Nagle's algorithm are not modelled: the proxy sets
//! `TCP_NODELAY` and writes what it read, as soon as its time comes.
//!
//! Every delay ends at its instant (see [`until`]), not at the next tick of tokio's timer:
//! with the timer alone, each 20 ms round trip took about 23 ms.

#![allow(dead_code)]

use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Waits until `due`. tokio's timer counts whole milliseconds and rounds a deadline up, and
/// its driver sleeps in whole milliseconds too, so a plain `sleep_until` ends up to about
/// two milliseconds late, and the proxy would add that to every half round trip. Sleep on
/// the timer until shortly before, then yield to the runtime until the instant: a short
/// busy wait, but the delay is the one asked for.
pub async fn until(due: Instant) {
    if let Some(early) = due.checked_sub(Duration::from_millis(2)) {
        tokio::time::sleep_until(early).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

/// Relays UDP datagrams from `listen` to `upstream`, one round trip of `rtt` each.
pub async fn udp(
    listen: SocketAddr,
    upstream: SocketAddr,
    rtt: Duration,
) -> io::Result<SocketAddr> {
    let socket = Arc::new(UdpSocket::bind(listen).await?);
    let address = socket.local_addr()?;
    let half = rtt / 2;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        loop {
            let Ok((len, client)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let arrived = Instant::now();
            let query = buf[..len].to_vec();
            let socket = socket.clone();
            tokio::spawn(async move {
                until(arrived + half).await;
                let bind: SocketAddr = if upstream.is_ipv4() {
                    "0.0.0.0:0".parse().unwrap()
                } else {
                    "[::]:0".parse().unwrap()
                };
                let Ok(out) = UdpSocket::bind(bind).await else {
                    return;
                };
                if out.send_to(&query, upstream).await.is_err() {
                    return;
                }
                let mut answer = vec![0u8; 65_535];
                if let Ok(Ok(len)) =
                    tokio::time::timeout(Duration::from_secs(5), out.recv(&mut answer)).await
                {
                    until(Instant::now() + half).await;
                    let _ = socket.send_to(&answer[..len], client).await;
                }
            });
        }
    });
    Ok(address)
}

/// Relays TCP connections from `listen` to `upstream` with the latency model above. When
/// `report_peaks` is set, prints `peak LISTEN N` on stdout each time the number of
/// connections open at once through this listener reaches a new high (a check of the
/// probe's one-connection-per-server rule).
pub async fn tcp(
    listen: SocketAddr,
    upstream: SocketAddr,
    rtt: Duration,
    report_peaks: bool,
) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let open = Arc::new(AtomicUsize::new(0));
    let mut peak = 0;
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
            if report_peaks && now_open > peak {
                peak = now_open;
                println!("peak {address} {peak}");
            }
            tokio::spawn(relay(client, upstream, rtt, open.clone()));
        }
    });
    Ok(address)
}

/// What one direction carries: bytes, or the end of the stream, each with its due time.
enum Chunk {
    Data(Instant, Vec<u8>),
    End(Instant),
}

/// `open` counts the connection until the client has closed its side: what the server
/// sees half a round trip later, whereas the relay itself lives on until both sides
/// closed.
async fn relay(client: TcpStream, upstream: SocketAddr, rtt: Duration, open: Arc<AtomicUsize>) {
    let accepted = Instant::now();
    let half = rtt / 2;
    let _ = client.set_nodelay(true);
    let client_ends = match (client.local_addr(), client.peer_addr()) {
        (Ok(SocketAddr::V4(local)), Ok(SocketAddr::V4(peer))) => Some((local, peer)),
        _ => None,
    };
    let (client_read, client_write) = client.into_split();
    // Read the client from the start (its bytes are timed from when they were sent), but
    // deliver nothing before the handshake would have reached the server.
    let (to_server, server_queue) = mpsc::unbounded_channel();
    let counted = open.clone();
    let reading_client = tokio::spawn(async move {
        read_side(client_read, half, to_server, None).await;
        counted.fetch_sub(1, Ordering::SeqCst);
    });
    until(accepted + rtt + half).await;
    let Ok(server) = TcpStream::connect(upstream).await else {
        reading_client.abort();
        if reading_client.await.is_err() {
            // Aborted before the client closed: it is not counted any more either.
            open.fetch_sub(1, Ordering::SeqCst);
        }
        return;
    };
    let _ = server.set_nodelay(true);
    // A second handle on the server's socket, for its acknowledgements (tokio's halves own
    // the first). Only IPv4 clients are watched (see `SendQueue`); the lab's are.
    let acks = client_ends.and_then(|(local, peer)| {
        let server_acks = ServerAcks {
            socket: second_handle(&server)?,
            last_arrival: Mutex::new(Instant::now()),
        };
        Some((SendQueue::new(local, peer).ok()?, Arc::new(server_acks)))
    });
    if let Some((_, server_acks)) = &acks {
        server_acks.delay();
    }
    let (server_read, server_write) = server.into_split();
    let (to_client, client_queue) = mpsc::unbounded_channel();
    let (written_tx, written_rx) = watch::channel(0u64);
    let reading_server = tokio::spawn(read_side(
        server_read,
        half,
        to_client,
        acks.as_ref().map(|(_, socket)| socket.clone()),
    ));
    let writing_server = tokio::spawn(write_side(server_write, server_queue, None));
    let writing_client = tokio::spawn(write_side(client_write, client_queue, Some(written_tx)));
    // It holds a handle on the server's socket: it must not outlive the relay.
    let mirroring = acks.map(|(queue, server_acks)| {
        [
            tokio::spawn(keep_delaying(server_acks.clone())),
            tokio::spawn(mirror_acks(queue, server_acks, rtt, written_rx)),
        ]
    });
    let _ = tokio::join!(
        reading_client,
        reading_server,
        writing_server,
        writing_client
    );
    for task in mirroring.into_iter().flatten() {
        task.abort();
    }
}

/// Another tokio handle on `socket`'s connection (a duplicated descriptor), never read or
/// written: socket options only.
fn second_handle(socket: &TcpStream) -> Option<TcpStream> {
    let descriptor = socket.as_fd().try_clone_to_owned().ok()?;
    TcpStream::from_std(std::net::TcpStream::from(descriptor)).ok()
}

/// The proxy's side of the connection to the server, as far as acknowledgements go.
struct ServerAcks {
    /// A second handle on the socket (tokio's halves own the first), for its options only.
    socket: TcpStream,
    /// When the server's last bytes arrived.
    last_arrival: Mutex<Instant>,
}

impl ServerAcks {
    /// Keeps the kernel from acknowledging at once what arrives: its delayed-ACK mode,
    /// which Linux leaves again on its own (after a quick ACK, or at the connection's
    /// start), so it is set again after every read.
    fn delay(&self) {
        let _ = self.socket.set_quickack(false);
    }

    fn arrived(&self) {
        *self.last_arrival.lock().unwrap() = Instant::now();
        self.delay();
    }

    /// Acknowledges now what the server sent, unless some of it arrived less than a round
    /// trip ago: the kernel acknowledges everything received, and no client could have
    /// acknowledged that yet. A later call, or the kernel's timer, does it then.
    fn acknowledge(&self, rtt: Duration) {
        if *self.last_arrival.lock().unwrap() + rtt > Instant::now() {
            return;
        }
        // Setting it sends the acknowledgement the kernel holds back, at once.
        let _ = self.socket.set_quickack(true);
        self.delay();
    }
}

/// Asks the kernel how many bytes a TCP connection has written and not yet seen
/// acknowledged (or not yet sent), through `sock_diag` (netlink): SIOCOUTQ would say it
/// directly, but only through `unsafe` code, which this crate forbids, and /proc/net/tcp
/// takes milliseconds to read.
struct SendQueue {
    netlink: socket2::Socket,
    request: Vec<u8>,
}

impl SendQueue {
    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const NLMSG_ERROR: u16 = 2;

    /// The connection from `local` to `peer`, as seen from `local`.
    fn new(local: SocketAddrV4, peer: SocketAddrV4) -> io::Result<SendQueue> {
        let netlink = socket2::Socket::new(
            socket2::Domain::from(16), // AF_NETLINK
            socket2::Type::DGRAM,
            Some(socket2::Protocol::from(Self::NETLINK_SOCK_DIAG)),
        )?;
        // struct nlmsghdr, then struct inet_diag_req_v2 naming the one socket.
        let mut request = Vec::with_capacity(72);
        request.extend_from_slice(&72u32.to_ne_bytes());
        request.extend_from_slice(&Self::SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        request.extend_from_slice(&Self::NLM_F_REQUEST.to_ne_bytes());
        request.extend_from_slice(&[0; 8]); // sequence number, port id
        request.extend_from_slice(&[2, 6, 0, 0]); // AF_INET, IPPROTO_TCP, no extensions
        request.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
        request.extend_from_slice(&local.port().to_be_bytes());
        request.extend_from_slice(&peer.port().to_be_bytes());
        for address in [local.ip(), peer.ip()] {
            request.extend_from_slice(&address.octets());
            request.extend_from_slice(&[0; 12]);
        }
        request.extend_from_slice(&[0; 4]); // any interface
        request.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
        Ok(SendQueue { netlink, request })
    }

    /// The bytes not yet acknowledged; `None` when the kernel no longer knows the
    /// connection.
    fn unacknowledged(&self) -> Option<u32> {
        use std::io::Read;
        self.netlink.send(&self.request).ok()?;
        let mut answer = [0u8; 512];
        let len = (&self.netlink).read(&mut answer).ok()?;
        let kind = u16::from_ne_bytes(answer.get(4..6)?.try_into().ok()?);
        if kind == Self::NLMSG_ERROR {
            return None;
        }
        // struct inet_diag_msg after the 16-byte header: idiag_wqueue at its offset 60.
        let field = answer.get(76..80).filter(|_| len >= 80)?;
        Some(u32::from_ne_bytes(field.try_into().ok()?))
    }
}

/// Puts the server's side back in delayed-ACK mode every few milliseconds: when the
/// kernel's delayed-ACK timer fires (40 ms, before the model's acknowledgement at round
/// trips above 40 ms), Linux leaves that mode, and would then acknowledge the next bytes at
/// once, before any client could.
async fn keep_delaying(server: Arc<ServerAcks>) {
    let mut every = tokio::time::interval(Duration::from_millis(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        server.delay();
    }
}

/// Each time the client has acknowledged everything written to it, acknowledges what the
/// server sent, half a round trip later (the module's model of acknowledgements).
async fn mirror_acks(
    queue: SendQueue,
    server: Arc<ServerAcks>,
    rtt: Duration,
    mut written: watch::Receiver<u64>,
) {
    while written.changed().await.is_ok() {
        written.borrow_and_update();
        // A client that acknowledges at once has done so by the time the write returned,
        // on loopback; a delayed ACK takes 40 ms: look once a millisecond.
        while queue.unacknowledged().is_some_and(|bytes| bytes > 0) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        until(Instant::now() + rtt / 2).await;
        server.acknowledge(rtt);
    }
}

/// Queues what `from` sends, each chunk due half a round trip later. With `acks`, `from` is
/// the server, whose acknowledgements [`mirror_acks`] sends.
async fn read_side(
    mut from: OwnedReadHalf,
    half: Duration,
    queue: mpsc::UnboundedSender<Chunk>,
    acks: Option<Arc<ServerAcks>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = queue.send(Chunk::End(Instant::now() + half));
                return;
            }
            Ok(n) => {
                if let Some(acks) = &acks {
                    acks.arrived();
                }
                if queue
                    .send(Chunk::Data(Instant::now() + half, buf[..n].to_vec()))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Writes each chunk at its time; `written`, when given, counts the bytes written so far.
async fn write_side(
    mut to: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Chunk>,
    written: Option<watch::Sender<u64>>,
) {
    while let Some(chunk) = queue.recv().await {
        match chunk {
            Chunk::Data(due, bytes) => {
                until(due).await;
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
                if let Some(written) = &written {
                    written.send_modify(|total| *total += bytes.len() as u64);
                }
            }
            Chunk::End(due) => {
                until(due).await;
                let _ = to.shutdown().await;
                return;
            }
        }
    }
    let _ = to.shutdown().await;
}
