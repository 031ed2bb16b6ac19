//! Meters behind a network bridge (ser2net, ESP-link): `tcp://HOST:PORT` carries the meter's
//! bytes as they are, the bridge's serial line set on the bridge; `rfc2217://HOST:PORT` sets the
//! line (2400 8N1 for HAN, 300 7E1 for the optical head, a mode C speed switch) on the bridge
//! through RFC 2217 over the same connection.

use super::serial::PortError;
use super::{BoxLink, BoxOptical, ConnectFuture, Connector, OpenOpticalFuture, OpticalConnector};
use super::{OpticalLink, io_reason};
use crate::protocol::rfc2217::{self, Client, Event, Setting};
use crate::wire::line::{Parity, SerialSettings};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// How long a bridge may take to accept the connection (an unplugged bridge is not waited for
/// the system's two minutes).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an `rfc2217://` bridge may take to confirm the line settings.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The bytes as they are: the bridge's line is set on the bridge.
    Tcp,
    /// Telnet with COM port control: the line is set from here.
    Rfc2217,
}

impl Scheme {
    pub fn prefix(self) -> &'static str {
        match self {
            Scheme::Tcp => "tcp://",
            Scheme::Rfc2217 => "rfc2217://",
        }
    }
}

pub struct NetConnector {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
    /// Set on the bridge with `rfc2217://`; with `tcp://` the bridge's own settings apply.
    pub settings: SerialSettings,
    /// Whether the bridge has answered once: a refusal after that is a bridge restarting.
    answered: bool,
}

impl NetConnector {
    pub fn new(scheme: Scheme, host: String, port: u16, settings: SerialSettings) -> Self {
        NetConnector {
            scheme,
            host,
            port,
            settings,
            answered: false,
        }
    }

    /// `HOST:PORT` (`[::1]:PORT` for an IPv6 address), as the error sentences name it.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn describe(&self) -> String {
        match self.scheme {
            // The line settings are the bridge's: not shown, as they are not known here.
            Scheme::Tcp => format!("tcp://{}", self.address()),
            Scheme::Rfc2217 => format!("rfc2217://{} {}", self.address(), self.settings),
        }
    }

    fn unreachable(&self, reason: &str, permanent: bool) -> io::Error {
        PortError::Unreachable {
            address: self.address(),
            reason: reason.into(),
            permanent,
        }
        .into_io()
    }

    /// Connects, and with `rfc2217://` sets the line and waits for the bridge to confirm it.
    async fn open_link(&self) -> io::Result<NetLink> {
        let first = !self.answered;
        let lookup = tokio::net::lookup_host((self.host.as_str(), self.port));
        let addrs: Vec<_> = match tokio::time::timeout(CONNECT_TIMEOUT, lookup).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(_)) => return Err(self.unreachable("unknown host", first)),
            Err(_) => {
                return Err(self.unreachable(
                    &format!(
                        "no name server answer within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                    false,
                ));
            }
        };
        let stream =
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addrs[..])).await {
                Err(_) => {
                    return Err(self.unreachable(
                        &format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                        false,
                    ));
                }
                Ok(Err(e)) => {
                    let refused = e.kind() == io::ErrorKind::ConnectionRefused;
                    let reason = match e.kind() {
                        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                        io::ErrorKind::HostUnreachable => "host unreachable".to_string(),
                        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
                        _ => io_reason(&e).to_lowercase(),
                    };
                    return Err(self.unreachable(&reason, refused && first));
                }
                Ok(Ok(s)) => s,
            };
        // Sign-on requests and acknowledgements are a few bytes that must not wait.
        stream.set_nodelay(true)?;
        let mut link = NetLink {
            stream,
            address: self.address(),
            telnet: None,
        };
        if self.scheme == Scheme::Rfc2217 {
            link.telnet = Some(TelnetSide::default());
            link.set_line(self.settings).await?;
        }
        Ok(link)
    }
}

impl Connector for NetConnector {
    fn describe(&self) -> String {
        NetConnector::describe(self)
    }

    fn connect(&mut self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let link = self.open_link().await?;
            self.answered = true;
            Ok(Box::new(link) as BoxLink)
        })
    }
}

impl OpticalConnector for NetConnector {
    fn describe(&self) -> String {
        NetConnector::describe(self)
    }

    fn open(&self) -> OpenOpticalFuture<'_> {
        Box::pin(async move { Ok(Box::new(self.open_link().await?) as BoxOptical) })
    }
}

/// The Telnet side of an `rfc2217://` link.
#[derive(Default)]
struct TelnetSide {
    client: Client,
    /// Meter bytes taken out of the Telnet stream and not yet read.
    inbox: Vec<u8>,
    /// Bytes for the bridge not yet written: escaped data, commands, negotiation answers.
    outbox: Vec<u8>,
    events: Vec<Event>,
    /// The settings the bridge confirmed last, and whether it refused COM port control.
    confirmed: Vec<Setting>,
    refused: bool,
}

impl TelnetSide {
    fn take(&mut self, raw: &[u8]) {
        self.client
            .feed(raw, &mut self.inbox, &mut self.outbox, &mut self.events);
        for event in self.events.drain(..) {
            match event {
                Event::Set(s) => {
                    self.confirmed
                        .retain(|c| std::mem::discriminant(c) != std::mem::discriminant(&s));
                    self.confirmed.push(s);
                }
                Event::Refused => self.refused = true,
            }
        }
    }
}

/// An open network link: a TCP stream, with Telnet unwrapped for `rfc2217://`.
pub struct NetLink {
    stream: TcpStream,
    address: String,
    telnet: Option<TelnetSide>,
}

fn parity_code(p: Parity) -> u8 {
    match p {
        Parity::None => rfc2217::PARITY_NONE,
        Parity::Odd => rfc2217::PARITY_ODD,
        Parity::Even => rfc2217::PARITY_EVEN,
    }
}

impl NetLink {
    fn closed(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("{} closed the connection", self.address),
        )
    }

    fn no_line_control(&self, reason: String) -> io::Error {
        PortError::NoLineControl {
            address: self.address.clone(),
            reason,
        }
        .into_io()
    }

    /// Opens Telnet, sends the line settings and waits until the bridge confirms each (meter
    /// bytes arriving meanwhile are kept for the reader).
    async fn set_line(&mut self, s: SerialSettings) -> io::Result<()> {
        let settings = Setting::line(s.baud, s.data_bits, parity_code(s.parity), s.stop_bits);
        // Flow control is sent, but not every bridge confirms it: the four line settings are
        // what the meter's bytes depend on.
        let needed = &settings[..4];
        let telnet = self.telnet.as_mut().expect("an rfc2217 link");
        let mut out = Vec::new();
        telnet.client.start(&settings, &mut out);
        self.stream.write_all(&out).await?;
        let hint = "for a raw TCP port use tcp://";
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        let mut raw = [0u8; 512];
        loop {
            let telnet = self.telnet.as_mut().expect("an rfc2217 link");
            if telnet.refused {
                return Err(
                    self.no_line_control(format!("it refused RFC 2217 COM port control ({hint})"))
                );
            }
            if let Some((asked, got)) = needed.iter().find_map(|asked| {
                let got = telnet
                    .confirmed
                    .iter()
                    .find(|c| std::mem::discriminant(*c) == std::mem::discriminant(asked))?;
                (got != asked).then_some((*asked, *got))
            }) {
                return Err(self.no_line_control(format!(
                    "asked for {}, it set {}",
                    setting_text(asked),
                    setting_text(got)
                )));
            }
            if needed.iter().all(|n| telnet.confirmed.contains(n)) {
                break;
            }
            if !telnet.outbox.is_empty() {
                let answers = std::mem::take(&mut telnet.outbox);
                self.stream.write_all(&answers).await?;
            }
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut raw)).await {
                Err(_) => {
                    return Err(self.no_line_control(format!(
                        "no answer to the RFC 2217 line settings within {} s ({hint})",
                        ANSWER_TIMEOUT.as_secs()
                    )));
                }
                Ok(r) => r?,
            };
            if n == 0 {
                return Err(self.closed());
            }
            self.telnet
                .as_mut()
                .expect("an rfc2217 link")
                .take(&raw[..n]);
        }
        Ok(())
    }

    /// Writes what waits in the outbox.
    fn poll_outbox(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(telnet) = self.telnet.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        while !telnet.outbox.is_empty() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &telnet.outbox))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            telnet.outbox.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

fn setting_text(s: Setting) -> String {
    match s {
        Setting::Baud(b) => format!("{b} baud"),
        Setting::DataBits(d) => format!("{d} data bits"),
        Setting::Parity(p) => match p {
            rfc2217::PARITY_NONE => "no parity".into(),
            rfc2217::PARITY_ODD => "odd parity".into(),
            rfc2217::PARITY_EVEN => "even parity".into(),
            other => format!("parity {other}"),
        },
        Setting::StopBits(s) => format!("{s} stop bits"),
        Setting::Control(c) => format!("flow control {c}"),
    }
}

impl AsyncRead for NetLink {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.telnet.is_none() {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
            if buf.filled().len() == before && buf.remaining() > 0 {
                return Poll::Ready(Err(this.closed()));
            }
            return Poll::Ready(Ok(()));
        }
        loop {
            // Commands queued by `set_baud` and negotiation answers go out while reading:
            // a readout waiting for the meter must not hold back its speed switch.
            if let Poll::Ready(Err(e)) = this.poll_outbox(cx) {
                return Poll::Ready(Err(e));
            }
            let telnet = this.telnet.as_mut().expect("an rfc2217 link");
            if !telnet.inbox.is_empty() {
                let n = telnet.inbox.len().min(buf.remaining());
                buf.put_slice(&telnet.inbox[..n]);
                telnet.inbox.drain(..n);
                return Poll::Ready(Ok(()));
            }
            let mut raw = [0u8; 1024];
            let mut raw_buf = ReadBuf::new(&mut raw);
            ready!(Pin::new(&mut this.stream).poll_read(cx, &mut raw_buf))?;
            if raw_buf.filled().is_empty() {
                return Poll::Ready(Err(this.closed()));
            }
            let filled = raw_buf.filled().len();
            telnet.take(&raw[..filled]);
        }
    }
}

impl AsyncWrite for NetLink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(telnet) = this.telnet.as_mut() else {
            return Pin::new(&mut this.stream).poll_write(cx, buf);
        };
        if !telnet.outbox.is_empty() {
            ready!(this.poll_outbox(cx))?;
        }
        let telnet = this.telnet.as_mut().expect("an rfc2217 link");
        rfc2217::escape(buf, &mut telnet.outbox);
        // Taken: what does not fit now goes out with the next write, flush or read.
        if let Poll::Ready(Err(e)) = this.poll_outbox(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_outbox(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_outbox(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl OpticalLink for NetLink {
    /// With `rfc2217://` the bridge is told the new speed (sent at once if the socket takes it,
    /// else with the next read or write); raw TCP cannot change the bridge's speed.
    fn set_baud(&mut self, baud: u32) -> io::Result<()> {
        let Some(telnet) = self.telnet.as_mut() else {
            return Err(io::Error::other(format!(
                "tcp://{} cannot change the bridge's speed (use rfc2217:// or --no-baud-switch)",
                self.address
            )));
        };
        rfc2217::request(Setting::Baud(baud), &mut telnet.outbox);
        match self.stream.try_write(&telnet.outbox) {
            Ok(n) => {
                telnet.outbox.drain(..n);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permanent(e: &io::Error) -> bool {
        PortError::of("unused", e).permanent()
    }

    /// A refusal before the bridge ever answered is a wrong address (`decode` and `read` stop);
    /// after it had answered, a bridge restarting (waited for).
    #[tokio::test]
    async fn a_refusal_is_permanent_only_before_the_bridge_answered() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut connector =
            NetConnector::new(Scheme::Tcp, "127.0.0.1".into(), port, SerialSettings::HAN);
        let link = connector.connect().await.unwrap();
        drop(link);
        drop(listener);
        let again = connector.connect().await.err().unwrap();
        assert_eq!(
            io_reason(&again),
            format!("cannot connect to 127.0.0.1:{port}: connection refused")
        );
        assert!(!permanent(&again));

        let fresh = NetConnector::new(Scheme::Tcp, "127.0.0.1".into(), port, SerialSettings::HAN);
        let first = OpticalConnector::open(&fresh).await.err().unwrap();
        assert!(permanent(&first));
    }
}
