//! What a `--port` value means: a serial port path, `tcp://HOST:PORT` (raw TCP to a network
//! bridge) or `rfc2217://HOST:PORT` (the bridge's line set from here). The one place that
//! turns a port string into a connector, for the app, `decode` and `read`.

use super::net::{NetConnector, Scheme};
use super::serial::SerialConnector;
use super::{ConnectFuture, Connector, OpenOpticalFuture, OpticalConnector};
use crate::wire::line::SerialSettings;

/// A serial port or a network bridge, opened at the given line settings.
pub enum PortConnector {
    Serial(SerialConnector),
    Net(NetConnector),
}

/// The connector for `port` at `settings`, or one sentence saying what is wrong with `port`.
pub fn connector(port: &str, settings: SerialSettings) -> Result<PortConnector, String> {
    if port.trim().is_empty() {
        return Err(
            "the port is empty: give a serial port path (/dev/ttyUSB0), tcp://HOST:PORT or rfc2217://HOST:PORT"
                .into(),
        );
    }
    let Some((scheme, rest)) = port.split_once("://") else {
        return Ok(PortConnector::Serial(SerialConnector {
            path: port.to_string(),
            settings,
        }));
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "tcp" => Scheme::Tcp,
        "rfc2217" => Scheme::Rfc2217,
        _ => {
            return Err(format!(
                "{port}: unknown kind of port {scheme}:// (give a serial port path, tcp://HOST:PORT or rfc2217://HOST:PORT)"
            ));
        }
    };
    let needs = || {
        format!(
            "{port} needs a host and a port number, like {}192.168.1.5:2001",
            scheme.prefix()
        )
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, number) = match rest.strip_prefix('[') {
        // An IPv6 address: [::1]:2001.
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(needs)?;
            (host, after.strip_prefix(':').ok_or_else(needs)?)
        }
        None => rest.rsplit_once(':').ok_or_else(needs)?,
    };
    let number: u16 = number.parse().map_err(|_| needs())?;
    if host.is_empty() || host.contains(['/', ' ']) || number == 0 {
        return Err(needs());
    }
    Ok(PortConnector::Net(NetConnector::new(
        scheme,
        host.to_string(),
        number,
        settings,
    )))
}

impl PortConnector {
    /// How the port's error sentences name it: the path, or `HOST:PORT`.
    pub fn name(&self) -> String {
        match self {
            PortConnector::Serial(s) => s.path.clone(),
            PortConnector::Net(n) => n.address(),
        }
    }
}

impl Connector for PortConnector {
    fn describe(&self) -> String {
        match self {
            PortConnector::Serial(s) => Connector::describe(s),
            PortConnector::Net(n) => Connector::describe(n),
        }
    }

    fn connect(&mut self) -> ConnectFuture<'_> {
        match self {
            PortConnector::Serial(s) => s.connect(),
            PortConnector::Net(n) => n.connect(),
        }
    }
}

impl OpticalConnector for PortConnector {
    fn describe(&self) -> String {
        Connector::describe(self)
    }

    fn open(&self) -> OpenOpticalFuture<'_> {
        match self {
            PortConnector::Serial(s) => s.open(),
            PortConnector::Net(n) => n.open(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(port: &str) -> Result<String, String> {
        connector(port, SerialSettings::HAN).map(|c| Connector::describe(&c))
    }

    #[test]
    fn what_a_port_string_means() {
        assert_eq!(described("/dev/ttyUSB0").unwrap(), "/dev/ttyUSB0 2400 8N1");
        // Raw TCP does not claim line settings it does not set.
        assert_eq!(
            described("tcp://192.168.1.5:2001").unwrap(),
            "tcp://192.168.1.5:2001"
        );
        assert_eq!(
            described("RFC2217://meter.local:4001/").unwrap(),
            "rfc2217://meter.local:4001 2400 8N1"
        );
        assert_eq!(described("tcp://[::1]:2001").unwrap(), "tcp://[::1]:2001");
        let c = connector("tcp://[fe80::1]:2001", SerialSettings::HAN).unwrap();
        assert_eq!(c.name(), "[fe80::1]:2001");
        assert_eq!(
            connector("/dev/ttyUSB0", SerialSettings::HAN)
                .unwrap()
                .name(),
            "/dev/ttyUSB0"
        );
    }

    #[test]
    fn a_wrong_port_string_is_one_sentence() {
        for empty in ["", "  "] {
            assert!(
                described(empty)
                    .unwrap_err()
                    .starts_with("the port is empty")
            );
        }
        for bad in [
            "tcp://192.168.1.5",
            "tcp://:2001",
            "tcp://host:http",
            "tcp://host:0",
            "tcp://host:70000",
            "tcp://[::1]2001",
            "rfc2217://",
        ] {
            let e = described(bad).unwrap_err();
            assert!(
                e.starts_with(bad) && e.contains("needs a host and a port"),
                "{e}"
            );
        }
        assert_eq!(
            described("udp://host:1").unwrap_err(),
            "udp://host:1: unknown kind of port udp:// (give a serial port path, tcp://HOST:PORT or rfc2217://HOST:PORT)"
        );
    }
}
