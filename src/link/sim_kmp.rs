//! The simulated 685-382's optical port speaking ASCII-hex KMP: silent until a request arrives,
//! then answers as the seed's meter does (hello, the identity memory read, the counters and the
//! tariff energies), paced like 1200 baud 8E2. Its energy comes from the same [`SharedEnergy`]
//! as the IEC 61107 side of the simulator, with the same tariff split, customer number, hour
//! counter and peak power, so a KMP and an IEC readout of the simulated meter agree.

use super::sim::SharedEnergy;
use crate::protocol::kmp::{self, CR, Direction};
use crate::protocol::kmp_register::{Meter685382, ascii_frame};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 1200 baud 8E2: 12 bits a character.
pub const KMP_MS_PER_CHAR: f64 = 12.0 * 1000.0 / 1200.0;

#[derive(Debug, Clone)]
pub struct SimKmp {
    /// Echo each request like a real optical head.
    pub echo: bool,
    pub energy: SharedEnergy,
}

impl SimKmp {
    pub fn new(echo: bool, energy: SharedEnergy) -> Self {
        SimKmp { echo, energy }
    }

    /// The meter's values now (the IEC side's 685-382 shows the same ones).
    pub fn meter(&self) -> Meter685382 {
        let e = *self.energy.lock().expect("energy lock");
        let total = (e[0] / 1000.0).floor() as u32;
        Meter685382 {
            meter_type: *b"685382OK10",
            meter_id: 123_456,
            customer_no: 42,
            total_kwh: total,
            tariff1_kwh: total - total / 1000,
            tariff2_kwh: total / 1000,
            operating_hours: 57_342,
            reset_counter: 0,
            peak_power_w: 1500,
            production_no: 168_339_478,
        }
    }

    /// The answer frame to one request frame; `None` for one the meter leaves unanswered.
    pub fn answer(&self, request: &[u8]) -> Option<Vec<u8>> {
        let f = kmp::parse(request)?;
        if f.direction != Direction::Request || f.checks.iter().any(|c| !c.ok) {
            return None;
        }
        let command = f.command()?;
        let data = self.meter().answer(command, f.data())?;
        Some(ascii_frame(Direction::Response, command, &data))
    }
}

/// Runs the port on `io`: answers every request, until the reader goes away.
pub(crate) async fn run_kmp(
    sim: SimKmp,
    speed: f64,
    mut io: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 256];
    let char_time = Duration::from_secs_f64(KMP_MS_PER_CHAR / 1000.0 / speed);
    loop {
        let n = match io.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(start) = pending.iter().position(|&b| b == b'@') {
            let Some(len) = pending[start..].iter().position(|&b| b == CR) else {
                break;
            };
            let request: Vec<u8> = pending.drain(..start + len + 1).skip(start).collect();
            if sim.echo && io.write_all(&request).await.is_err() {
                return;
            }
            let Some(answer) = sim.answer(&request) else {
                continue;
            };
            tokio::time::sleep(Duration::from_secs_f64(0.05 / speed)).await;
            for piece in answer.chunks(8) {
                if io.write_all(piece).await.is_err() {
                    return;
                }
                tokio::time::sleep(char_time * piece.len() as u32).await;
            }
        }
        // Nothing that can start a request, or a runaway line without CR: start afresh.
        if !pending.contains(&b'@') || pending.len() > 1024 {
            pending.clear();
        }
    }
}

/// The port as an in-process link (tests, the app's demo).
pub struct KmpSimConnector {
    pub sim: SimKmp,
    pub speed: f64,
}

impl super::OpticalConnector for KmpSimConnector {
    fn describe(&self) -> String {
        "demo optical port (685-382 KMP)".into()
    }

    fn open(&self) -> super::OpenOpticalFuture<'_> {
        let (ours, theirs) = tokio::io::duplex(4096);
        tokio::spawn(run_kmp(self.sim.clone(), self.speed.max(0.01), theirs));
        Box::pin(async move { Ok(Box::new(ours) as super::BoxOptical) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::kmp_register::decode_ascii_response;

    #[test]
    fn answers_the_fixture_requests_from_the_shared_energy() {
        let energy = std::sync::Arc::new(std::sync::Mutex::new([9_032_400.0, 0.0, 0.0, 0.0]));
        let sim = SimKmp::new(false, energy);
        assert_eq!(sim.answer(b"@FE0002\r").unwrap(), b"HFE0002010701F7\r");
        // The tariff split of the IEC side: tariff 2 holds a thousandth of the total.
        let a = sim.answer(b"@FE95006D\r").unwrap();
        assert_eq!(a, b"HFE9501000023480000233F0000000996\r");
        let f = kmp::parse(&sim.answer(b"@FE9072\r").unwrap()).unwrap();
        let regs = decode_ascii_response(0x90, None, f.data())
            .unwrap()
            .unwrap();
        assert_eq!(regs[0].value(), Some(9032.0));
        // A damaged request is not answered.
        assert!(sim.answer(b"@FE9073\r").is_none());
        assert!(sim.answer(b"@FE77\r").is_none());
    }
}
