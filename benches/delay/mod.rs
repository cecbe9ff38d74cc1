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
//!
//! Bandwidth, loss and Nagle's algorithm are not modelled: the proxy sets `TCP_NODELAY`
//! and writes what it read, as soon as its time comes. Nor are acknowledgements: the proxy's
//! kernel acknowledges what a server sends at once, or after its delayed-ACK timer.
//!
//! Every delay ends at its instant (see [`until`]), not at the next tick of tokio's timer:
//! with the timer alone, each 20 ms round trip took about 23 ms.

#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
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
    let (client_read, client_write) = client.into_split();
    // Read the client from the start (its bytes are timed from when they were sent), but
    // deliver nothing before the handshake would have reached the server.
    let (to_server, server_queue) = mpsc::unbounded_channel();
    let counted = open.clone();
    let reading_client = tokio::spawn(async move {
        read_side(client_read, half, to_server).await;
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
    let (server_read, server_write) = server.into_split();
    let (to_client, client_queue) = mpsc::unbounded_channel();
    let reading_server = tokio::spawn(read_side(server_read, half, to_client));
    let writing_server = tokio::spawn(write_side(server_write, server_queue));
    let writing_client = tokio::spawn(write_side(client_write, client_queue));
    let _ = tokio::join!(
        reading_client,
        reading_server,
        writing_server,
        writing_client
    );
}

async fn read_side(mut from: OwnedReadHalf, half: Duration, queue: mpsc::UnboundedSender<Chunk>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = queue.send(Chunk::End(Instant::now() + half));
                return;
            }
            Ok(n) => {
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

async fn write_side(mut to: OwnedWriteHalf, mut queue: mpsc::UnboundedReceiver<Chunk>) {
    while let Some(chunk) = queue.recv().await {
        match chunk {
            Chunk::Data(due, bytes) => {
                until(due).await;
                if to.write_all(&bytes).await.is_err() {
                    return;
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
