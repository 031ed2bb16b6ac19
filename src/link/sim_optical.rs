//! The simulated meter's optical port: silent until a sign-on request arrives, then answers as a
//! Kamstrup 351 Combi (the seed's register list, XOR BCC) or a 685-382 (short ids, decimal comma,
//! additive BCC), after a realistic reaction time and paced like 300 baud 7E1 (about 33 ms a
//! character). Optionally echoes the request like a real head, and can misbehave on purpose.

use super::{BoxLink, ConnectFuture, Connector};
use crate::protocol::iec61107::{self, BccRule, Line};

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IecMeter {
    /// Kamstrup 351 Combi.
    #[value(name = "351")]
    Combi351,
    /// Kamstrup 685-382.
    #[value(name = "685-382")]
    Kam685382,
}

/// Ways the optical port can misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OpticalFault {
    None,
    /// The meter does not answer.
    NoAnswer,
    /// One byte of the data block is damaged.
    Garbled,
    /// The data block stops half way.
    CutOff,
    /// The block check character is wrong.
    BadBcc,
}

pub use super::sim::{SharedEnergy, demo_energy};

#[derive(Debug, Clone)]
pub struct SimOptical {
    pub meter: IecMeter,
    pub echo: bool,
    pub fault: OpticalFault,
    pub energy: SharedEnergy,
}

/// 300 baud 7E1: 10 bits a character.
pub const OPTICAL_MS_PER_CHAR: f64 = 1000.0 / 30.0;

impl SimOptical {
    pub fn new(meter: IecMeter, echo: bool, fault: OpticalFault, energy: SharedEnergy) -> Self {
        SimOptical {
            meter,
            echo,
            fault,
            energy,
        }
    }

    fn line(address: &str, value: String, unit: Option<&str>) -> Line {
        Line {
            address: address.into(),
            value,
            unit: unit.map(str::to_string),
        }
    }

    /// Identification line and data block, as the meter sends them (before faults).
    pub fn answer(&self) -> Vec<u8> {
        let e = *self.energy.lock().expect("energy lock");
        let kwh = |wh: f64| (wh / 1000.0).floor() as u64;
        let total = kwh(e[0]);
        let t1 = total * 45 / 100;
        let (mut out, lines, rule) = match self.meter {
            IecMeter::Combi351 => {
                let split = [t1, total * 25 / 100, total * 20 / 100];
                let t4 = total - split.iter().sum::<u64>();
                let l = |a: &str, v: String, u: Option<&str>| Self::line(a, v, u);
                (
                    iec61107::encode_identification("KAM", ' ', "685351A300100"),
                    vec![
                        l("0.0.0", "00000042".into(), None),
                        l("0.2.0", "5000D1".into(), None),
                        l("1.8.0", format!("{total:07}"), Some("kWh")),
                        l("1.8.1", format!("{:07}", split[0]), Some("kWh")),
                        l("1.8.2", format!("{:07}", split[1]), Some("kWh")),
                        l("1.8.3", format!("{:07}", split[2]), Some("kWh")),
                        l("1.8.4", format!("{t4:07}"), Some("kWh")),
                        l("3.8.0", format!("{:07}", kwh(e[2])), Some("kvarh")),
                        l("96.8.0", "0012345".into(), Some("h")),
                        l("96.50.1", "0001027".into(), None),
                        l("1.6.0", "000023.4".into(), Some("kW")),
                        l("3.6.0", "000001.5".into(), Some("kvar")),
                        l("1.6.0.1", "000019.8".into(), Some("kW")),
                        l("3.6.0.1", "000001.1".into(), Some("kvar")),
                        l("1.2.0", "000157.0".into(), Some("kW")),
                        l("3.2.0", "000013.2".into(), Some("kvar")),
                        l("0.1", "0000003".into(), None),
                    ],
                    BccRule::Xor,
                )
            }
            IecMeter::Kam685382 => {
                let l = |a: &str, v: String, u: Option<&str>| Self::line(a, v, u);
                (
                    iec61107::encode_identification("KAM", ' ', "685-382-OK-10"),
                    vec![
                        l("0.0", "00000042".into(), None),
                        l("1.20", format!("{total:07}"), Some("kWh")),
                        l(
                            "1.20.1",
                            format!("{:07}", total - total / 1000),
                            Some("kWh"),
                        ),
                        l("1.20.2", format!("{:07}", total / 1000), Some("kWh")),
                        l("1.31", "0057342".into(), Some("h")),
                        l("1.26", "0000000".into(), None),
                        l("1.6", "000001,5".into(), Some("kW")),
                        l("1.6*1", "000002,8".into(), None),
                    ],
                    BccRule::Additive,
                )
            }
        };
        out.extend(iec61107::encode_data_block(&lines, rule));
        out
    }

    /// The answer with this simulator's fault applied; `None` for no answer.
    pub fn answer_with_fault(&self) -> Option<Vec<u8>> {
        let mut a = self.answer();
        match self.fault {
            OpticalFault::None => {}
            OpticalFault::NoAnswer => return None,
            OpticalFault::Garbled => {
                let at = a.len() * 2 / 3;
                a[at] ^= 0x04;
            }
            OpticalFault::CutOff => a.truncate(a.len() / 2),
            OpticalFault::BadBcc => {
                let n = a.len();
                a[n - 1] ^= 0x01;
            }
        }
        Some(a)
    }
}

/// Runs the optical port on `io`: answers every sign-on request, until the reader goes away.
pub(crate) async fn run_optical(
    sim: SimOptical,
    speed: f64,
    mut io: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 256];
    let char_time = Duration::from_secs_f64(OPTICAL_MS_PER_CHAR / 1000.0 / speed);
    loop {
        let n = match io.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend(buf[..n].iter().map(|b| b & 0x7F));
        // A sign-on request: `/?` [address] `!` CR LF.
        let Some(start) = pending.windows(2).position(|w| w == b"/?") else {
            if pending.len() > 256 {
                pending.clear();
            }
            continue;
        };
        let Some(end) = pending[start..].windows(3).position(|w| w == b"!\r\n") else {
            continue;
        };
        let request: Vec<u8> = pending.drain(..start + end + 3).skip(start).collect();
        if sim.echo && io.write_all(&request).await.is_err() {
            return;
        }
        let Some(answer) = sim.answer_with_fault() else {
            continue;
        };
        // Reaction time: the 351 answers 20-500 ms after the request.
        tokio::time::sleep(Duration::from_secs_f64(0.18 / speed)).await;
        for piece in answer.chunks(8) {
            if io.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(char_time * piece.len() as u32).await;
        }
    }
}

/// The optical port as an in-process link (for `--demo`).
pub struct OpticalSimConnector {
    pub sim: SimOptical,
    pub speed: f64,
}

impl super::OpticalConnector for OpticalSimConnector {
    fn describe(&self) -> String {
        Connector::describe(self)
    }

    fn open(&self) -> super::OpenOpticalFuture<'_> {
        let (ours, theirs) = tokio::io::duplex(4096);
        tokio::spawn(run_optical(self.sim.clone(), self.speed, theirs));
        Box::pin(async move { Ok(Box::new(ours) as super::BoxOptical) })
    }
}

impl Connector for OpticalSimConnector {
    fn describe(&self) -> String {
        format!(
            "demo optical port ({})",
            match self.sim.meter {
                IecMeter::Combi351 => "351 Combi",
                IecMeter::Kam685382 => "685-382",
            }
        )
    }

    fn connect(&mut self) -> ConnectFuture<'_> {
        let (ours, theirs) = tokio::io::duplex(4096);
        tokio::spawn(run_optical(self.sim.clone(), self.speed, theirs));
        Box::pin(async move { Ok(Box::new(ours) as BoxLink) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Decoder;
    use crate::wire::detail::decode_all;

    fn energy() -> SharedEnergy {
        std::sync::Arc::new(std::sync::Mutex::new([
            123_456_789.0,
            0.0,
            4_567_000.0,
            0.0,
        ]))
    }

    #[test]
    fn answers_decode_with_the_right_rule_and_values() {
        let s = SimOptical::new(IecMeter::Combi351, false, OpticalFault::None, energy());
        let spans = decode_all(&s.answer(), &mut Decoder::default());
        let block = &spans[1];
        assert!(block.ok);
        assert_eq!(block.checks[1].rule, Some("xor"));
        let f = |id: &str| {
            block
                .fields
                .iter()
                .find(|f| f.obis.as_deref() == Some(id))
                .unwrap()
                .value
                .unwrap()
        };
        assert_eq!(f("1.8.0"), 123456.0);
        assert_eq!(f("1.8.1") + f("1.8.2") + f("1.8.3") + f("1.8.4"), 123456.0);

        let s = SimOptical::new(IecMeter::Kam685382, false, OpticalFault::None, energy());
        let spans = decode_all(&s.answer(), &mut Decoder::default());
        assert!(spans[1].ok);
        assert_eq!(spans[1].checks[1].rule, Some("additive"));
        assert_eq!(spans[1].ident.as_deref(), Some("685-382-OK-10"));
    }

    #[test]
    fn faults() {
        let s = |f| SimOptical::new(IecMeter::Combi351, false, f, energy());
        assert!(s(OpticalFault::NoAnswer).answer_with_fault().is_none());
        for f in [
            OpticalFault::Garbled,
            OpticalFault::CutOff,
            OpticalFault::BadBcc,
        ] {
            let spans = decode_all(&s(f).answer_with_fault().unwrap(), &mut Decoder::default());
            assert!(!spans.last().unwrap().ok, "{f:?}");
        }
    }
}
