//! The simulated meter's M-Bus module (seed 002): a Kamstrup electricity meter on the bus,
//! silent until the master asks. It answers SND_NKE and REQ_UD2 at its primary address and at
//! 254, and at 253 once selected by its secondary address (wildcards too), by the rules of
//! [`Slave`]. The readout is the datasheet's standard data telegram (A+, A-, R+, R-, A+ tariffs
//! 1 and 2, max P+ and P- with tariffs, actual P+, meter and serial number, time and date, hour
//! counter), split over two telegrams (the first ends with DIF 1F, "more follows"). The energies
//! come from the same [`SharedEnergy`] the simulated HAN and optical ports show.
//! Paced like 2400 baud 8E1; optionally echoes the master like a level converter.

use super::sim::SharedEnergy;
use crate::protocol::mbus::slave::{Identity, Slave};
use chrono::{Datelike, NaiveDateTime, Timelike};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// KAM packed 5 bits a letter.
pub const KAMSTRUP: u16 = 0x2C2D;
/// Medium 02: electricity.
pub const ELECTRICITY: u8 = 0x02;
/// The primary address a module leaves the factory with (seed 002: "as default primary
/// address 0").
pub const DEFAULT_PRIMARY: u8 = 0;
/// The meter number used as secondary address when none is given.
pub const DEFAULT_SECONDARY: u32 = 71_234_567;
/// The serial number (enhanced secondary address: fixed at production).
const SERIAL: u32 = 57_064_219;
/// Telegrams of one readout.
pub const TELEGRAMS: usize = 2;

/// 2400 baud 8E1: 11 bits a character.
pub const MBUS_MS_PER_CHAR: f64 = 11_000.0 / 2400.0;

#[derive(Debug, Clone)]
pub struct SimMbus {
    pub primary: u8,
    /// Meter number (8 digits), the secondary address.
    pub secondary: u32,
    /// Echo the master's frames like a level converter.
    pub echo: bool,
    pub energy: SharedEnergy,
}

fn int32(out: &mut Vec<u8>, head: &[u8], v: i64) {
    out.extend_from_slice(head);
    out.extend_from_slice(
        &(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32).to_le_bytes(),
    );
}

/// 8 BCD digits, least significant byte first.
fn bcd8(out: &mut Vec<u8>, head: &[u8], v: u32) {
    out.extend_from_slice(head);
    let ident = Identity {
        primary: 0,
        id: v,
        manufacturer: 0,
        version: 0,
        medium: 0,
    };
    out.extend_from_slice(&ident.id_bytes());
}

/// Type F (32-bit date and time): minute, hour, day with the year's low bits, month with the
/// year's high bits.
fn type_f(t: NaiveDateTime) -> [u8; 4] {
    let year = (t.year() % 100) as u8;
    [
        t.minute() as u8,
        t.hour() as u8,
        t.day() as u8 | ((year & 0x07) << 5),
        t.month() as u8 | ((year & 0x78) << 1),
    ]
}

impl SimMbus {
    pub fn new(primary: u8, secondary: u32, echo: bool, energy: SharedEnergy) -> Self {
        SimMbus {
            primary,
            secondary,
            echo,
            energy,
        }
    }

    pub fn identity(&self) -> Identity {
        Identity {
            primary: self.primary,
            id: self.secondary,
            manufacturer: KAMSTRUP,
            version: 0x01,
            medium: ELECTRICITY,
        }
    }

    /// The data records of telegram `n` (0 or 1) at local time `now`.
    pub fn records(&self, n: usize, now: NaiveDateTime) -> Vec<u8> {
        let e = *self.energy.lock().expect("energy lock");
        let [a_plus, a_minus, r_plus, r_minus] = e.map(|x| x.floor() as i64);
        // Tariff 1 (day) carries about 60 % of the import, tariff 2 the rest.
        let t1 = a_plus * 6 / 10;
        let mut r = Vec::with_capacity(96);
        if n == 0 {
            int32(&mut r, &[0x04, 0x03], a_plus); // A+, Wh
            int32(&mut r, &[0x04, 0x83, 0x3C], a_minus); // A-: negative contributions only
            // R+ and R-: reactive energy (FB 02, kvarh) corrected by 10^-3 (VIFE 73): varh.
            int32(&mut r, &[0x04, 0xFB, 0x82, 0x73], r_plus);
            int32(&mut r, &[0x04, 0xFB, 0x82, 0xF3, 0x3C], r_minus);
            int32(&mut r, &[0x84, 0x10, 0x03], t1); // A+ tariff 1
            int32(&mut r, &[0x84, 0x20, 0x03], a_plus - t1); // A+ tariff 2
            r.push(0x1F); // more records follow in the next telegram
        } else {
            int32(&mut r, &[0x14, 0x2B], 7_360); // max P+, W
            int32(&mut r, &[0x14, 0xAB, 0x3C], 2_870); // max P-
            int32(&mut r, &[0x94, 0x10, 0x2B], 7_360); // max P+ tariff 1
            int32(&mut r, &[0x94, 0x20, 0x2B], 5_140); // max P+ tariff 2
            int32(&mut r, &[0x04, 0x2B], 1_280); // actual P+
            bcd8(&mut r, &[0x0C, 0x78], self.secondary); // meter number
            bcd8(&mut r, &[0x0C, 0x79], SERIAL); // serial number
            r.extend_from_slice(&[0x04, 0x6D]);
            r.extend_from_slice(&type_f(now));
            int32(&mut r, &[0x04, 0x22], 23_417); // hour counter, h
        }
        r
    }
}

fn local_now() -> NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// The next whole master frame at the start of `pending` (noise before it is dropped); `None`
/// until one is complete.
fn next_frame(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        let start = pending.iter().position(|&b| b == 0x10 || b == 0x68)?;
        pending.drain(..start);
        let len = match pending[0] {
            0x10 => 5,
            _ => usize::from(*pending.get(1)?) + 6,
        };
        if pending[0] == 0x68
            && pending
                .get(1..4)
                .is_some_and(|h| h[0] != h[1] || h[2] != 0x68)
        {
            pending.remove(0); // not a long frame header: look further
            continue;
        }
        if pending.len() < len {
            return None;
        }
        return Some(pending.drain(..len).collect());
    }
}

/// Runs the bus port on `io`: answers the master until it goes away.
pub(crate) async fn run_mbus(
    sim: SimMbus,
    speed: f64,
    mut io: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
) {
    let mut slave = Slave::new(sim.identity());
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 256];
    let char_time = Duration::from_secs_f64(MBUS_MS_PER_CHAR / 1000.0 / speed);
    loop {
        let n = match io.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        if pending.len() > 1024 {
            pending.clear();
        }
        while let Some(frame) = next_frame(&mut pending) {
            if sim.echo && io.write_all(&frame).await.is_err() {
                return;
            }
            let reply = slave.on_frame(&frame, TELEGRAMS);
            let now = local_now();
            let answer = slave.reply_bytes(reply, |i| sim.records(i, now));
            if answer.is_empty() {
                continue;
            }
            // Reaction time: between 11 bit times and 330 bit times + 50 ms.
            tokio::time::sleep(Duration::from_secs_f64(0.03 / speed)).await;
            for piece in answer.chunks(16) {
                if io.write_all(piece).await.is_err() {
                    return;
                }
                tokio::time::sleep(char_time * piece.len() as u32).await;
            }
        }
    }
}

/// The M-Bus module as an in-process link (a demo, the task's tests).
pub struct MbusSimConnector {
    pub sim: SimMbus,
    pub speed: f64,
}

impl super::OpticalConnector for MbusSimConnector {
    fn describe(&self) -> String {
        format!("demo M-Bus module (primary address {})", self.sim.primary)
    }

    fn open(&self) -> super::OpenOpticalFuture<'_> {
        let (ours, theirs) = tokio::io::duplex(4096);
        tokio::spawn(run_mbus(self.sim.clone(), self.speed.max(0.01), theirs));
        Box::pin(async move { Ok(Box::new(ours) as super::BoxOptical) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Decoder;
    use crate::wire::detail::decode_all;

    fn at() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(10, 42, 0)
            .unwrap()
    }

    #[test]
    fn telegrams_decode_to_the_datasheet_registers() {
        let energy = std::sync::Arc::new(std::sync::Mutex::new([
            12_345_678.0,
            234_567.0,
            1_234_567.0,
            345_678.0,
        ]));
        let sim = SimMbus::new(5, 12_345_678, false, energy);
        let mut slave = Slave::new(sim.identity());
        let first = slave.rsp_ud(&sim.records(0, at()));
        let second = slave.rsp_ud(&sim.records(1, at()));
        let one = &decode_all(&first, &mut Decoder::default())[0];
        let two = &decode_all(&second, &mut Decoder::default())[0];
        assert!(one.ok && one.error.is_none(), "{:?}", one.error);
        assert!(two.ok && two.error.is_none(), "{:?}", two.error);
        let rows = |s: &crate::wire::SpanDetail| -> Vec<(String, Option<f64>, Option<String>)> {
            s.fields
                .iter()
                .map(|f| (f.name.clone(), f.value, f.unit.clone()))
                .collect()
        };
        let one = rows(one);
        assert_eq!(
            one[0],
            ("Energy".into(), Some(12_345_678.0), Some("Wh".into()))
        );
        assert_eq!(one[1].1, Some(234_567.0));
        assert!(one[1].0.contains("negative"), "{}", one[1].0);
        assert_eq!(one[2].1, Some(1_234_567.0));
        assert_eq!(one[2].2.as_deref(), Some("varh"));
        assert_eq!(one[3].1, Some(345_678.0));
        assert_eq!(one[4].1.unwrap() + one[5].1.unwrap(), 12_345_678.0);
        assert!(one[4].0.contains("tariff 1") && one[5].0.contains("tariff 2"));
        assert!(one.last().unwrap().0.contains("Manufacturer"), "{one:?}");
        let two = rows(two);
        assert!(two[0].0.contains("maximum"), "{two:?}");
        assert_eq!(two[4], ("Power".into(), Some(1280.0), Some("W".into())));
        assert_eq!(two[5].1, Some(12_345_678.0));
        let date = decode_all(&second, &mut Decoder::default())[0].fields[7].clone();
        assert_eq!(date.text.as_deref(), Some("2026-12-04T10:42"), "{date:?}");
    }

    #[test]
    fn frames_are_found_in_the_masters_stream() {
        let mut p = vec![0x00, 0x10, 0x40, 0x05, 0x45, 0x16, 0x10, 0x7B];
        assert_eq!(next_frame(&mut p), Some(vec![0x10, 0x40, 0x05, 0x45, 0x16]));
        assert_eq!(next_frame(&mut p), None);
        assert_eq!(p, [0x10, 0x7B]);
        let mut p = vec![0x68, 0x01, 0x02, 0x68];
        assert_eq!(next_frame(&mut p), None);
        assert_eq!(p, [0x68], "a false start is skipped");
    }
}
