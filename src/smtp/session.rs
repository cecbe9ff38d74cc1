//! One dialogue with one address, and the walk over a domain's mail exchangers in the order
//! a sending MTA would take.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::reader::{ReadError, ReplyReader, WireReply};
use super::tls::{self, Handshake};
use super::{Command, Session, SessionOutcome, SmtpSettings, Stage, Step, StepError};
use crate::dns::mx::MxHost;
use crate::reply::{Reply, ReplyClass};

/// The connection, plain or after STARTTLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Stream {
    /// Acknowledges what the server sends at once, for the reply about to be read. A
    /// TLS 1.3 server writes its session ticket and then, a moment later, its reply to
    /// the next command; with Nagle's algorithm on (Postfix leaves it on) the reply waits
    /// until the ticket is acknowledged, and Linux delays that acknowledgement by 40 ms or
    /// more once the exchange looks interactive. Linux forgets the setting after later
    /// writes, so it is set again before every read: one system call per reply.
    fn acknowledge_promptly(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let tcp = match self {
                Stream::Plain(s) => s,
                Stream::Tls(s) => s.get_ref().0,
            };
            let _ = tcp.set_quickack(true);
        }
    }
}

/// Why the dialogue stopped early; the session already records it.
struct Stopped;

/// A dialogue in progress: the connection, the reader and the session being recorded.
struct Dialogue<'a> {
    stream: Option<Stream>,
    reader: ReplyReader,
    session: Session,
    settings: &'a SmtpSettings,
    deadline: Instant,
    /// The steps being recorded belong to a pipelined group (RFC 2920).
    pipelining: bool,
    /// QUIT went out: the server's reply and close are awaited after the session ends.
    quit_sent: bool,
}

impl Dialogue<'_> {
    fn over_tls(&self) -> bool {
        matches!(self.stream, Some(Stream::Tls(_)))
    }

    /// The time a stage may take: its own limit, cut short by the overall deadline.
    fn limit(&self, stage_limit: Duration) -> Duration {
        stage_limit.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    fn stop(&mut self, outcome: SessionOutcome, stage: Stage) -> Stopped {
        self.session.outcome = outcome;
        self.session.stage = Some(stage);
        Stopped
    }

    fn record(&mut self, stage: Stage, command: Option<&Command>, started: Instant) -> &mut Step {
        let tls = self.over_tls();
        self.session.steps.push(Step {
            stage,
            command: command.cloned(),
            reply: None,
            tls,
            duration: started.elapsed(),
            error: None,
            pipelined: self.pipelining,
        });
        self.session.steps.last_mut().expect("just pushed")
    }

    /// Sends a command (or nothing, for the greeting) and reads the reply.
    async fn exchange(
        &mut self,
        stage: Stage,
        command: Option<&Command>,
        stage_limit: Duration,
    ) -> Result<WireReply, Stopped> {
        let started = Instant::now();
        if let Some(command) = command {
            self.send(&[command], stage_limit, started).await?;
        }
        self.receive(stage, command, stage_limit, started).await
    }

    /// Writes `commands` in one go (one command, or a pipelined group). On failure the
    /// first command's step records why and the dialogue stops.
    async fn send(
        &mut self,
        commands: &[&Command],
        stage_limit: Duration,
        started: Instant,
    ) -> Result<(), Stopped> {
        let limit = self.limit(stage_limit);
        let first = commands[0];
        let stage = first.stage();
        // One command (or one pipelined group) at a time: anything already waiting was
        // sent unasked, and would be read as the reply to this command.
        if let Some(unasked) = self.reader.unsolicited() {
            let step = self.record(stage, Some(first), started);
            step.error = Some(StepError::Read(unasked.to_string()));
            return Err(self.stop(SessionOutcome::ProtocolError, stage));
        }
        let mut wire = String::new();
        for command in commands {
            let line = command.line();
            // Arguments were checked when the configuration was built; this is the last
            // line of defence against a command that would smuggle another one.
            if line.contains(['\r', '\n']) {
                let step = self.record(command.stage(), Some(command), started);
                step.error = Some(StepError::CommandInjection);
                return Err(self.stop(SessionOutcome::ProtocolError, command.stage()));
            }
            wire.push_str(&line);
            wire.push_str("\r\n");
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(self.stop(SessionOutcome::Closed, stage));
        };
        let written = tokio::time::timeout(limit, async {
            stream.write_all(wire.as_bytes()).await?;
            stream.flush().await
        })
        .await;
        let failure = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some((SessionOutcome::Closed, StepError::Send(e.to_string()))),
            Err(_) => Some((SessionOutcome::Timeout, timeout_error(limit, stage_limit))),
        };
        if let Some((outcome, error)) = failure {
            let step = self.record(stage, Some(first), started);
            step.error = Some(error);
            return Err(self.stop(outcome, stage));
        }
        Ok(())
    }

    /// Reads the reply to `command` (already sent) and records the step, timed from
    /// `started`.
    async fn receive(
        &mut self,
        stage: Stage,
        command: Option<&Command>,
        stage_limit: Duration,
        started: Instant,
    ) -> Result<WireReply, Stopped> {
        let limit = self.limit(stage_limit);
        let Some(stream) = self.stream.as_mut() else {
            return Err(self.stop(SessionOutcome::Closed, stage));
        };
        stream.acknowledge_promptly();
        let result = self.reader.read_reply(stream, limit).await;
        match result {
            Ok(reply) => {
                self.session.bare_lf |= reply.bare_lf;
                let step = self.record(stage, command, started);
                step.reply = Some(reply.reply.clone());
                Ok(reply)
            }
            Err(error) => {
                let outcome = match &error {
                    ReadError::Timeout(_) => SessionOutcome::Timeout,
                    ReadError::Closed { .. } | ReadError::Io(_) => SessionOutcome::Closed,
                    _ => SessionOutcome::ProtocolError,
                };
                let step_error = match &error {
                    ReadError::Timeout(_) => timeout_error(limit, stage_limit),
                    other => StepError::Read(other.to_string()),
                };
                let unfinished = match &error {
                    ReadError::Timeout(_) => self.reader.unfinished(),
                    _ => None,
                };
                let step = self.record(stage, command, started);
                step.error = Some(step_error);
                match error {
                    ReadError::Closed { partial } if !partial.is_empty() => {
                        step.reply = Some(Reply {
                            code: None,
                            enhanced: None,
                            lines: partial,
                        });
                    }
                    // A line that began but never ended (trickled, or ended by CR alone):
                    // the transcript shows what did arrive.
                    _ => {
                        if let Some(unfinished) = unfinished {
                            step.reply = Some(Reply {
                                code: None,
                                enhanced: None,
                                lines: vec![unfinished],
                            });
                        }
                    }
                }
                Err(self.stop(outcome, stage))
            }
        }
    }

    /// Sends QUIT and does not wait for the 221: the reply cannot change the diagnosis
    /// (RFC 5321 §4.1.1.10: the server closes either way, and QUIT abandons the
    /// transaction), and waiting for it would cost the user a full round trip — a bound
    /// shorter than the round trip never sees it. Postfix's own client does the same
    /// (`smtp_skip_quit_response = yes`). The step has the command and no reply, never
    /// one read later; a failure to send is recorded without changing how the session
    /// ended. [`dialogue`] waits for the server's close in the background.
    async fn quit(&mut self) {
        let started = Instant::now();
        let outcome = self.session.outcome;
        let stage = self.session.stage;
        let short = Duration::from_secs(2).min(self.settings.timeouts.command);
        if self.send(&[&Command::Quit], short, started).await.is_ok() {
            self.record(Stage::Quit, Some(&Command::Quit), started);
            self.quit_sent = true;
        }
        // A server that hangs up after refusing is normal; keep the real outcome.
        self.session.outcome = outcome;
        self.session.stage = stage;
    }

    async fn starttls(&mut self, host: &str) -> Result<(), Stopped> {
        let started = Instant::now();
        // Anything the server sent after its 220 arrived in the clear: never trust it.
        let injected = self.reader.pending();
        self.reader.clear();
        let handshake = match Handshake::new(&self.settings.trust) {
            Ok(handshake) => handshake,
            Err(e) => {
                let step = self.record(Stage::TlsHandshake, None, started);
                step.error = Some(StepError::TlsSetup(e.to_string()));
                return Err(self.stop(SessionOutcome::TlsFailed, Stage::TlsHandshake));
            }
        };
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            return Err(self.stop(SessionOutcome::Closed, Stage::TlsHandshake));
        };
        let connector = TlsConnector::from(handshake.config.clone());
        let name = tls::server_name(host, self.session.address);
        let limit = self.limit(self.settings.timeouts.command);
        let result = tokio::time::timeout(limit, connector.connect(name, tcp)).await;
        match result {
            Ok(Ok(stream)) => {
                let info = tls::inspect(&handshake, stream.get_ref().1, host);
                self.session.tls = Some(info);
                self.stream = Some(Stream::Tls(Box::new(stream)));
                let step = self.record(Stage::TlsHandshake, None, started);
                if injected > 0 {
                    step.error = Some(StepError::TlsInjected { bytes: injected });
                }
                Ok(())
            }
            Ok(Err(e)) => {
                let step = self.record(Stage::TlsHandshake, None, started);
                step.error = Some(StepError::TlsHandshake(e.to_string()));
                Err(self.stop(SessionOutcome::TlsFailed, Stage::TlsHandshake))
            }
            Err(_) => {
                let error = timeout_error(limit, self.settings.timeouts.command);
                let step = self.record(Stage::TlsHandshake, None, started);
                step.error = Some(error);
                Err(self.stop(SessionOutcome::TlsFailed, Stage::TlsHandshake))
            }
        }
    }
}

/// A timeout, told apart by whether the overall deadline cut the stage's own limit.
fn timeout_error(limit: Duration, stage_limit: Duration) -> StepError {
    StepError::Timeout {
        limit,
        overall: limit < stage_limit,
    }
}

fn is_positive(reply: &WireReply) -> bool {
    reply.code().class() == ReplyClass::PositiveCompletion
}

async fn connect(
    address: SocketAddr,
    source: Option<IpAddr>,
    limit: Duration,
) -> Result<TcpStream, (SessionOutcome, StepError)> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| {
        (
            SessionOutcome::ConnectFailed,
            StepError::Connect(e.to_string()),
        )
    })?;
    if let Some(source) = source {
        socket.bind(SocketAddr::new(source, 0)).map_err(|e| {
            (
                SessionOutcome::ConnectFailed,
                StepError::Connect(format!("cannot bind to {source}: {e}")),
            )
        })?;
    }
    match tokio::time::timeout(limit, socket.connect(address)).await {
        Ok(Ok(stream)) => {
            // Every write is a whole command or group: send it now, not after the
            // previous segment's acknowledgement (Nagle).
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err((
            match e.kind() {
                io::ErrorKind::ConnectionRefused => SessionOutcome::ConnectRefused,
                io::ErrorKind::TimedOut => SessionOutcome::ConnectTimeout,
                io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                    SessionOutcome::ConnectUnreachable
                }
                io::ErrorKind::ConnectionReset => SessionOutcome::Closed,
                _ => SessionOutcome::ConnectFailed,
            },
            StepError::Connect(e.to_string()),
        )),
        Err(_) => Err((
            SessionOutcome::ConnectTimeout,
            StepError::ConnectTimeout { limit },
        )),
    }
}

/// Holds the whole dialogue with one address: greeting, EHLO (HELO if refused), STARTTLS
/// when offered and `use_starttls`, MAIL FROM and every RCPT TO (pipelined when offered),
/// QUIT (its reply not awaited).
pub async fn dialogue(
    host: &str,
    address: IpAddr,
    settings: &SmtpSettings,
    deadline: Instant,
    use_starttls: bool,
) -> Session {
    let permit = settings.limiter.acquire(address).await;
    let started = Instant::now();
    let mut dialogue = Dialogue {
        stream: None,
        reader: ReplyReader::new(),
        session: Session {
            host: host.to_string(),
            address,
            port: settings.port,
            outcome: SessionOutcome::Completed,
            stage: None,
            steps: Vec::new(),
            extensions: Vec::new(),
            tls: None,
            plain_retry: !use_starttls,
            bare_lf: false,
            duration: Duration::ZERO,
        },
        settings,
        deadline,
        pipelining: false,
        quit_sent: false,
    };
    let _ = run(&mut dialogue, host, use_starttls).await;
    dialogue.session.duration = started.elapsed();
    if let Some(mut stream) = dialogue.stream.take() {
        let _ = tokio::time::timeout(Duration::from_millis(500), stream.shutdown()).await;
        if dialogue.quit_sent {
            // The session is complete and goes back to the caller now; the server's 221
            // and its close are awaited in the background, holding the address's slot, so
            // that the next dialogue with this server starts only once the server has let
            // this one go: never two connections to one server, even for an instant.
            let linger = Duration::from_secs(2).min(settings.timeouts.command);
            tokio::spawn(async move {
                let _permit = permit;
                let _ = tokio::time::timeout(linger, drain(&mut stream)).await;
            });
        }
    }
    dialogue.session
}

/// Reads and discards until the server closes.
async fn drain(stream: &mut Stream) {
    let mut buf = [0u8; 512];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

async fn run(d: &mut Dialogue<'_>, host: &str, use_starttls: bool) -> Result<(), Stopped> {
    let settings = d.settings;
    let timeouts = settings.timeouts;

    let started = Instant::now();
    let target = SocketAddr::new(d.session.address, settings.port);
    match connect(target, settings.source, d.limit(timeouts.connect)).await {
        Ok(stream) => {
            d.stream = Some(Stream::Plain(stream));
            d.record(Stage::Connect, None, started);
        }
        Err((outcome, error)) => {
            let step = d.record(Stage::Connect, None, started);
            step.error = Some(error);
            return Err(d.stop(outcome, Stage::Connect));
        }
    }

    let greeting = d.exchange(Stage::Greeting, None, timeouts.greeting).await?;
    if !is_positive(&greeting) {
        d.stop(SessionOutcome::GreetingRejected, Stage::Greeting);
        // 421 closes the channel (RFC 5321 §3.8); after 554 or 521 the server waits for QUIT.
        if greeting.code().value() != 421 {
            d.quit().await;
        }
        return Err(Stopped);
    }

    if !ehlo_or_helo(d, timeouts.command).await? {
        return Err(Stopped);
    }

    let offers_starttls = offers(&d.session.extensions, "STARTTLS");
    if use_starttls && settings.starttls && offers_starttls {
        let reply = d
            .exchange(Stage::StartTls, Some(&Command::StartTls), timeouts.command)
            .await?;
        if reply.code().value() == 220 {
            d.starttls(host).await?;
            // RFC 3207 §4.2: forget what was learnt in the clear and ask again.
            d.session.extensions.clear();
            if !ehlo_or_helo(d, timeouts.command).await? {
                return Err(Stopped);
            }
        } else if reply.code().value() == 421 {
            return Err(d.stop(SessionOutcome::Closed, Stage::StartTls));
        }
        // Any other refusal (454 and the like): carry on in the clear, as MTAs do.
    }

    // MAIL FROM and every RCPT TO in one group when the server offers PIPELINING (RFC 2920
    // §3.1: they may appear anywhere in a group), one round trip for the whole
    // transaction; the replies come back in order, one step each. Without PIPELINING, one
    // command at a time.
    let mail_from = Command::MailFrom(settings.mail_from.clone());
    let rcpts: Vec<Command> = settings
        .rcpts
        .iter()
        .cloned()
        .map(Command::RcptTo)
        .collect();
    d.pipelining = offers(&d.session.extensions, "PIPELINING") && !rcpts.is_empty();
    let started = Instant::now();
    let mut group = vec![&mail_from];
    if d.pipelining {
        group.extend(&rcpts);
    }
    d.send(&group, timeouts.command, started).await?;
    let reply = d
        .receive(Stage::MailFrom, Some(&mail_from), timeouts.command, started)
        .await?;
    if !is_positive(&reply) {
        // Pipelined RCPT TO commands get replies too (503 and the like); they are not
        // read, and their commands are not listed: the transaction ended here.
        d.pipelining = false;
        d.stop(SessionOutcome::Rejected, Stage::MailFrom);
        if reply.code().value() != 421 {
            d.quit().await;
        }
        return Err(Stopped);
    }

    for rcpt in &rcpts {
        // Pipelined, a step is timed from the previous reply.
        let started = Instant::now();
        if !d.pipelining {
            d.send(&[rcpt], timeouts.command, started).await?;
        }
        let reply = d
            .receive(Stage::RcptTo, Some(rcpt), timeouts.command, started)
            .await?;
        if reply.code().value() == 421 {
            d.pipelining = false;
            return Err(d.stop(SessionOutcome::Closed, Stage::RcptTo));
        }
    }
    d.pipelining = false;

    // The transaction is abandoned here: QUIT aborts it (RFC 5321 §4.1.1.10), so no RSET
    // before it. No command exists that would go further.
    d.quit().await;
    d.session.outcome = SessionOutcome::Completed;
    d.session.stage = None;
    Ok(())
}

/// The server advertised `keyword` in its last EHLO reply.
fn offers(extensions: &[String], keyword: &str) -> bool {
    extensions.iter().any(|e| {
        e.split_ascii_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// EHLO, and HELO when EHLO is refused (RFC 5321 §4.1.4). `Ok(false)` when both were
/// refused (the session is already closed with QUIT).
async fn ehlo_or_helo(d: &mut Dialogue<'_>, limit: Duration) -> Result<bool, Stopped> {
    let helo = d.settings.helo.clone();
    let reply = d
        .exchange(Stage::Ehlo, Some(&Command::Ehlo(helo.clone())), limit)
        .await?;
    if is_positive(&reply) {
        d.session.extensions = reply.reply.lines.iter().skip(1).cloned().collect();
        return Ok(true);
    }
    if reply.code().value() == 421 {
        return Err(d.stop(SessionOutcome::Closed, Stage::Ehlo));
    }
    let reply = d
        .exchange(Stage::Helo, Some(&Command::Helo(helo)), limit)
        .await?;
    if is_positive(&reply) {
        d.session.extensions.clear();
        return Ok(true);
    }
    d.stop(SessionOutcome::Rejected, Stage::Helo);
    if reply.code().value() != 421 {
        d.quit().await;
    }
    Ok(false)
}

impl Session {
    /// The session got as far as MAIL FROM: a sending MTA would not try another host.
    #[must_use]
    pub fn reached_transaction(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.stage == Stage::MailFrom && s.reply.is_some())
    }
}

/// A cheap source of randomness for ordering equal preferences: std's hasher keys are
/// randomised per process.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

/// Talks to the domain's mail exchangers in MTA order, every address of each, stopping at
/// the first session that reaches the transaction unless `all_mx` is set. A failed TLS
/// handshake is followed by a plain session with the same address.
pub async fn probe_hosts(
    hosts: &[MxHost],
    settings: &SmtpSettings,
    deadline: Instant,
) -> Vec<Session> {
    let pending = hosts
        .iter()
        .map(|host| {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            let _ = sender.send(host.clone());
            (host.preference, receiver)
        })
        .collect();
    probe_as_resolved(pending, settings, deadline).await.0
}

/// [`probe_hosts`] over exchangers whose addresses may still be being looked up: each comes
/// with its preference (known from the MX answer) and the receiving end of its lookup. The
/// dialogue with an exchanger starts as soon as its own addresses are known, whatever the
/// others' lookups are doing; an exchanger whose lookup was abandoned (the sender dropped)
/// is passed over. Also returns the time from the first dialogue's start to the end.
pub async fn probe_as_resolved(
    pending: Vec<(u16, tokio::sync::oneshot::Receiver<MxHost>)>,
    settings: &SmtpSettings,
    deadline: Instant,
) -> (Vec<Session>, Duration) {
    // MTA order: by preference, in random order among equal preferences (RFC 5321 §5.1).
    let mut ordered: Vec<(u16, u64, _)> = pending
        .into_iter()
        .map(|(preference, receiver)| (preference, random_u64(), receiver))
        .collect();
    ordered.sort_by_key(|(preference, shuffle, _)| (*preference, *shuffle));
    let mut sessions = Vec::new();
    let mut started: Option<Instant> = None;
    'hosts: for (_, _, receiver) in ordered {
        let Ok(host) = receiver.await else {
            continue;
        };
        for address in &host.addresses {
            if Instant::now() >= deadline {
                break 'hosts;
            }
            started.get_or_insert_with(Instant::now);
            let mut session = dialogue(&host.host, *address, settings, deadline, true).await;
            if session.outcome == SessionOutcome::TlsFailed {
                sessions.push(session);
                session = dialogue(&host.host, *address, settings, deadline, false).await;
            }
            let decisive = session.reached_transaction();
            sessions.push(session);
            if decisive {
                if settings.all_mx {
                    continue 'hosts;
                }
                break 'hosts;
            }
        }
    }
    let elapsed = started.map_or(Duration::ZERO, |started| started.elapsed());
    (sessions, elapsed)
}
