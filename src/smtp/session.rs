//! One dialogue with one address, and the walk over a domain's mail exchangers in the order
//! a sending MTA would take.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
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

/// Why the dialogue stopped early; the session already records it.
struct Stopped;

/// A dialogue in progress: the connection, the reader and the session being recorded.
struct Dialogue<'a> {
    stream: Option<Stream>,
    reader: ReplyReader,
    session: Session,
    settings: &'a SmtpSettings,
    deadline: Instant,
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
        let limit = self.limit(stage_limit);
        let line = command.map(Command::line);
        let Some(stream) = self.stream.as_mut() else {
            return Err(self.stop(SessionOutcome::Closed, stage));
        };
        if let Some(line) = &line {
            // One command at a time: anything already waiting was sent unasked, and would be
            // read as the reply to this command.
            if let Some(unasked) = self.reader.unsolicited() {
                let step = self.record(stage, command, started);
                step.error = Some(StepError::Read(unasked.to_string()));
                return Err(self.stop(SessionOutcome::ProtocolError, stage));
            }
            // Arguments were checked when the configuration was built; this is the last
            // line of defence against a command that would smuggle another one.
            if line.contains(['\r', '\n']) {
                let step = self.record(stage, command, started);
                step.error = Some(StepError::CommandInjection);
                return Err(self.stop(SessionOutcome::ProtocolError, stage));
            }
            let wire = format!("{line}\r\n");
            let written = tokio::time::timeout(limit, stream.write_all(wire.as_bytes())).await;
            let failure = match written {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some((SessionOutcome::Closed, StepError::Send(e.to_string()))),
                Err(_) => Some((SessionOutcome::Timeout, timeout_error(limit, stage_limit))),
            };
            if let Some((outcome, error)) = failure {
                let step = self.record(stage, command, started);
                step.error = Some(error);
                return Err(self.stop(outcome, stage));
            }
        }
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

    /// Says goodbye after a refusal, without caring much whether it works.
    async fn quit_quietly(&mut self) {
        let short = Duration::from_secs(2).min(self.settings.timeouts.command);
        let outcome = self.session.outcome;
        let stage = self.session.stage;
        if self
            .exchange(Stage::Quit, Some(&Command::Quit), short)
            .await
            .is_err()
        {
            // A server that hangs up after refusing is normal; keep the real outcome.
            self.session.outcome = outcome;
            self.session.stage = stage;
        }
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
        Ok(Ok(stream)) => Ok(stream),
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
/// when offered and `use_starttls`, MAIL FROM, every RCPT TO, RSET, QUIT.
pub async fn dialogue(
    host: &str,
    address: IpAddr,
    settings: &SmtpSettings,
    deadline: Instant,
    use_starttls: bool,
) -> Session {
    let _permit = settings.limiter.acquire(address).await;
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
    };
    let _ = run(&mut dialogue, host, use_starttls).await;
    if let Some(mut stream) = dialogue.stream.take() {
        let _ = tokio::time::timeout(Duration::from_millis(500), stream.shutdown()).await;
    }
    dialogue.session.duration = started.elapsed();
    dialogue.session
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
            d.quit_quietly().await;
        }
        return Err(Stopped);
    }

    if !ehlo_or_helo(d, timeouts.command).await? {
        return Err(Stopped);
    }

    let offers_starttls = d
        .session
        .extensions
        .iter()
        .any(|e| e.eq_ignore_ascii_case("STARTTLS"));
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

    let mail_from = Command::MailFrom(settings.mail_from.clone());
    let reply = d
        .exchange(Stage::MailFrom, Some(&mail_from), timeouts.command)
        .await?;
    if !is_positive(&reply) {
        d.stop(SessionOutcome::Rejected, Stage::MailFrom);
        if reply.code().value() != 421 {
            d.quit_quietly().await;
        }
        return Err(Stopped);
    }

    for rcpt in &settings.rcpts {
        let reply = d
            .exchange(
                Stage::RcptTo,
                Some(&Command::RcptTo(rcpt.clone())),
                timeouts.command,
            )
            .await?;
        if reply.code().value() == 421 {
            return Err(d.stop(SessionOutcome::Closed, Stage::RcptTo));
        }
    }

    // The transaction is abandoned here: RSET then QUIT. No command exists that would
    // go further.
    d.exchange(Stage::Rset, Some(&Command::Rset), timeouts.command)
        .await?;
    let _ = d
        .exchange(Stage::Quit, Some(&Command::Quit), timeouts.command)
        .await;
    d.session.outcome = SessionOutcome::Completed;
    d.session.stage = None;
    Ok(())
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
        d.quit_quietly().await;
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

/// The hosts in the order a sending MTA tries them: by preference, in random order among
/// equal preferences (RFC 5321 §5.1).
fn ordered(hosts: &[MxHost]) -> Vec<&MxHost> {
    let mut keyed: Vec<(u16, u64, &MxHost)> = hosts
        .iter()
        .map(|h| (h.preference, random_u64(), h))
        .collect();
    keyed.sort_by_key(|(preference, shuffle, _)| (*preference, *shuffle));
    keyed.into_iter().map(|(_, _, h)| h).collect()
}

/// Talks to the domain's mail exchangers in MTA order, every address of each, stopping at
/// the first session that reaches the transaction unless `all_mx` is set. A failed TLS
/// handshake is followed by a plain session with the same address.
pub async fn probe_hosts(
    hosts: &[MxHost],
    settings: &SmtpSettings,
    deadline: Instant,
) -> Vec<Session> {
    let mut sessions = Vec::new();
    'hosts: for host in ordered(hosts) {
        for address in &host.addresses {
            if Instant::now() >= deadline {
                break 'hosts;
            }
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
    sessions
}
