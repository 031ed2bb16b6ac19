//! Meters behind a network bridge: raw TCP and RFC 2217 bridges on 127.0.0.1, written here (the
//! RFC 2217 side with the crate's own codec, from the server's side), the HAN reader, optical
//! readouts and the `decode` / `read` commands on top.

mod common;

use common::{command, good_pushes, wait_for};
use kamscope::link::port::connector as port_connector;
use kamscope::protocol::han::sample_stream;
use kamscope::protocol::iec_session::{ReadoutOptions, Verdict};
use kamscope::protocol::iec61107::{self, BccRule, Line};
use kamscope::protocol::rfc2217::{self, COM_PORT_OPTION, DO, IAC, Parser, SB, SE, Setting, WILL};
use kamscope::task::han::{self, HanConfig};
use kamscope::task::optical;
use kamscope::wire::line::SerialSettings;
use kamscope::wire::{LinkState, OpticalEvent};
use std::io::{Read, Write};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The serial line of the bridge, as the client set it through RFC 2217.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct BridgeLine {
    baud: u32,
    data_bits: u8,
    parity: u8,
    stop_bits: u8,
}

impl BridgeLine {
    fn set(&mut self, s: Setting) {
        match s {
            Setting::Baud(b) => self.baud = b,
            Setting::DataBits(d) => self.data_bits = d,
            Setting::Parity(p) => self.parity = p,
            Setting::StopBits(s) => self.stop_bits = s,
            Setting::Control(_) => {}
        }
    }

    fn is(&self, s: SerialSettings) -> bool {
        let parity = match s.parity {
            kamscope::wire::line::Parity::None => rfc2217::PARITY_NONE,
            kamscope::wire::line::Parity::Odd => rfc2217::PARITY_ODD,
            kamscope::wire::line::Parity::Even => rfc2217::PARITY_EVEN,
        };
        *self
            == BridgeLine {
                baud: s.baud,
                data_bits: s.data_bits,
                parity,
                stop_bits: s.stop_bits,
            }
    }
}

/// What sits behind the bridge: given the line as set and the bytes from the client, the bytes
/// the meter sends back (nothing when the line is wrong, as a real meter's bytes would not come
/// through).
type Meter = Box<dyn FnMut(&BridgeLine, &[u8]) -> Vec<u8> + Send>;

/// Serves one RFC 2217 connection: answers the client's settings (each logged to `log`) and
/// passes the meter's bytes through Telnet. Returns when the client goes.
async fn rfc2217_session(mut stream: TcpStream, log: Arc<Mutex<Vec<Setting>>>, mut meter: Meter) {
    // As ser2net opens: COM port control and binary asked for, a terminal type asked for (to
    // be refused), a line state notice (to be ignored).
    let mut out = vec![
        IAC,
        DO,
        COM_PORT_OPTION,
        IAC,
        WILL,
        0,
        IAC,
        DO,
        0,
        IAC,
        DO,
        24,
    ];
    out.extend_from_slice(&[IAC, SB, COM_PORT_OPTION, 106, 0x60, IAC, SE]);
    stream.write_all(&out).await.unwrap();
    let mut parser = Parser::default();
    let mut line = BridgeLine::default();
    let mut buf = [0u8; 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (mut data, mut commands) = (Vec::new(), Vec::new());
        parser.feed(&buf[..n], &mut data, &mut commands);
        let mut out = Vec::new();
        for c in &commands {
            if let Some(s) = rfc2217::requested(c) {
                log.lock().unwrap().push(s);
                line.set(s);
                rfc2217::answer(s, &mut out);
            }
        }
        rfc2217::escape(&meter(&line, &data), &mut out);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// An RFC 2217 bridge on 127.0.0.1 serving each connection with a new meter.
async fn rfc2217_bridge(
    make_meter: impl Fn() -> Meter + Send + 'static,
) -> (u16, Arc<Mutex<Vec<Setting>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let served = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(rfc2217_session(stream, served.clone(), make_meter()));
        }
    });
    (port, log)
}

/// A HAN meter: pushes `frames` frames once the line is 2400 8N1.
fn han_meter(frames: usize) -> Meter {
    let mut sent = false;
    Box::new(move |line, _| {
        if sent || !line.is(SerialSettings::HAN) {
            return Vec::new();
        }
        sent = true;
        sample_stream(frames)
    })
}

/// A mode C IEC 61107 meter: answers the sign-on at 300 7E1 offering 9600 baud, and sends its
/// data block once acknowledged and the line is at 9600 baud.
fn mode_c_meter() -> Meter {
    let mut rx = Vec::new();
    let mut acknowledged = false;
    let mut sent = false;
    Box::new(move |line, data| {
        rx.extend_from_slice(data);
        let at_300 = line.is(SerialSettings::OPTICAL);
        if at_300 && rx.ends_with(b"/?!\r\n") {
            rx.clear();
            return iec61107::encode_identification("LGZ", '5', "ZMD3104107");
        }
        if at_300 && rx.ends_with(&iec61107::option_select(b'5', b'0')) {
            acknowledged = true;
        }
        let at_9600 = line.is(SerialSettings {
            baud: 9600,
            ..SerialSettings::OPTICAL
        });
        if acknowledged && at_9600 && !sent {
            sent = true;
            let lines = [Line {
                address: "1.8.0".into(),
                value: "012345.678".into(),
                unit: Some("kWh".into()),
            }];
            return iec61107::encode_data_block(&lines, BccRule::Xor);
        }
        Vec::new()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn han_through_an_rfc2217_bridge_sets_2400_8n1() {
    let (port, log) = rfc2217_bridge(|| han_meter(3)).await;
    let url = format!("rfc2217://127.0.0.1:{port}");
    let connector = port_connector(&url, SerialSettings::HAN).unwrap();
    let (mut events, _commands) = han::spawn(Box::new(connector), HanConfig::default());
    wait_for(&mut events, |l| *l == LinkState::Connected).await;
    let ids = good_pushes(&mut events, 3).await;
    assert!(ids.iter().all(|id| id == "5706567326590407"), "{ids:?}");
    assert_eq!(
        *log.lock().unwrap(),
        Setting::line(2400, 8, rfc2217::PARITY_NONE, 1)
    );
}

async fn readout(url: &str) -> kamscope::wire::optical::ReadoutResult {
    let connector = port_connector(url, SerialSettings::OPTICAL).unwrap();
    let (mut events, _cancel) =
        optical::spawn(Arc::new(connector), ReadoutOptions::default(), None);
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(OpticalEvent::Done(r))) => return *r,
            Ok(Some(_)) => {}
            other => panic!("the readout did not finish: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mode_c_readout_sets_300_7e1_then_switches_the_bridge_to_9600() {
    let (port, log) = rfc2217_bridge(mode_c_meter).await;
    let result = readout(&format!("rfc2217://127.0.0.1:{port}")).await;
    assert!(
        matches!(result.verdict, Verdict::Complete { .. }),
        "{:?}",
        result.verdict
    );
    assert_eq!(result.baud, 9600);
    assert_eq!(result.block.datasets.len(), 1);
    let mut want = Setting::line(300, 7, rfc2217::PARITY_EVEN, 1).to_vec();
    want.push(Setting::Baud(9600));
    assert_eq!(*log.lock().unwrap(), want);
}

/// A raw TCP bridge (no Telnet) with a mode C meter behind it, its line fixed at 300 7E1: it
/// answers a sign-on with its identification and then stays connected.
async fn raw_mode_c_bridge() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let (mut rx, mut buf) = (Vec::new(), [0u8; 256]);
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            rx.extend_from_slice(&buf[..n]);
            if rx.ends_with(b"/?!\r\n") {
                let ident = iec61107::encode_identification("LGZ", '5', "ZMD3104107");
                stream.write_all(&ident).await.unwrap();
            }
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_tcp_cannot_switch_the_speed_and_says_so() {
    let port = raw_mode_c_bridge().await;
    let result = readout(&format!("tcp://127.0.0.1:{port}")).await;
    assert_eq!(
        result.verdict,
        Verdict::PortError {
            reason: format!(
                "cannot switch to 9600 baud: tcp://127.0.0.1:{port} cannot change the bridge's speed (use rfc2217:// or --no-baud-switch)"
            )
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_that_does_not_speak_rfc2217_is_one_sentence() {
    // A raw TCP port given as rfc2217://: it never answers the settings.
    let port = raw_mode_c_bridge().await;
    let result = readout(&format!("rfc2217://127.0.0.1:{port}")).await;
    assert_eq!(
        result.verdict,
        Verdict::PortError {
            reason: format!(
                "127.0.0.1:{port} does not set the serial line: no answer to the RFC 2217 line settings within 3 s (for a raw TCP port use tcp://)"
            )
        }
    );
}

/// The bridge goes away and comes back: the reader says why the link is down, retries, and
/// reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_han_reader_reconnects_when_the_bridge_is_back() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connector =
        port_connector(&format!("tcp://127.0.0.1:{port}"), SerialSettings::HAN).unwrap();
    let cfg = HanConfig {
        retry: Duration::from_millis(100),
        ..HanConfig::default()
    };
    let (mut events, _commands) = han::spawn(Box::new(connector), cfg);

    // Serve 2 pushes, then drop the connection and stop listening.
    let (mut stream, _) = listener.accept().await.unwrap();
    wait_for(&mut events, |l| *l == LinkState::Connected).await;
    stream.write_all(&sample_stream(2)).await.unwrap();
    good_pushes(&mut events, 2).await;
    drop(stream);
    drop(listener);
    let closed = wait_for(&mut events, |l| matches!(l, LinkState::Waiting { .. })).await;
    assert_eq!(
        closed,
        LinkState::Waiting {
            reason: format!("127.0.0.1:{port} closed the connection")
        }
    );
    // Retrying while nothing listens: the reason changes to the refusal.
    let refused = wait_for(
        &mut events,
        |l| matches!(l, LinkState::Waiting { reason } if reason.contains("refused")),
    )
    .await;
    assert_eq!(
        refused,
        LinkState::Waiting {
            reason: format!("cannot connect to 127.0.0.1:{port}: connection refused")
        }
    );

    // The bridge is back on the same port.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (mut stream, _) = listener.accept().await.unwrap();
    wait_for(&mut events, |l| *l == LinkState::Connected).await;
    stream.write_all(&sample_stream(2)).await.unwrap();
    good_pushes(&mut events, 2).await;
}

/// A raw TCP bridge in a thread: each connection gets the HAN stream, then is held until the
/// client goes.
fn tcp_han_bridge(frames: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                if stream.write_all(&sample_stream(frames)).is_ok() {
                    let _ = stream.read_to_end(&mut Vec::new());
                }
            });
        }
    });
    port
}

fn decode_port(url: &str) -> Output {
    command()
        .args(["decode", "--port", url, "--count", "3", "--format", "json"])
        .output()
        .unwrap()
}

#[test]
fn decode_reads_a_raw_tcp_bridge() {
    let port = tcp_han_bridge(3);
    let out = decode_port(&format!("tcp://127.0.0.1:{port}"));
    assert!(out.status.success(), "{}", stderr(&out));
    let spans: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(spans.len(), 3);
    assert!(
        spans
            .iter()
            .all(|s| s["ok"] == true && s["meter_id"] == "5706567326590407"),
        "{spans:?}"
    );
    assert_eq!(
        stderr(&out),
        format!("kamscope: reading tcp://127.0.0.1:{port}\n")
    );
}

#[test]
fn decode_reads_an_rfc2217_bridge() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (port, log) = runtime.block_on(rfc2217_bridge(|| han_meter(3)));
    let out = decode_port(&format!("rfc2217://127.0.0.1:{port}"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    assert_eq!(
        stderr(&out),
        format!("kamscope: reading rfc2217://127.0.0.1:{port} 2400 8N1\n")
    );
    assert_eq!(
        *log.lock().unwrap(),
        Setting::line(2400, 8, rfc2217::PARITY_NONE, 1)
    );
}

#[test]
fn a_closed_port_is_one_sentence_and_exit_2() {
    let port = closed_port();
    let want = format!("kamscope: cannot connect to 127.0.0.1:{port}: connection refused\n");
    for url in [
        format!("tcp://127.0.0.1:{port}"),
        format!("rfc2217://127.0.0.1:{port}"),
    ] {
        let out = decode_port(&url);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(stderr(&out), want);
        assert!(out.stdout.is_empty());
        for protocol in ["iec", "kmp", "mbus"] {
            let out = command()
                .args(["read", "--port", &url, "--protocol", protocol])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{protocol}: {}", stderr(&out));
            assert_eq!(stderr(&out), want, "{protocol}");
        }
    }
}

#[test]
fn a_wrong_network_port_is_one_sentence() {
    let out = decode_port("tcp://127.0.0.1");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "kamscope: tcp://127.0.0.1 needs a host and a port number, like tcp://192.168.1.5:2001\n"
    );
    let out = command()
        .args(["read", "--port", "udp://127.0.0.1:5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown kind of port udp://"));
}
