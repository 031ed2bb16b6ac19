//! The built-in simulated meter: a Kamstrup OMNIPOWER pushing list 1 every 10 s (at xx:xx:x0) and
//! list 2 every hour (at xx:00:05), with values that follow a daily load shape, noise, occasional
//! export, and optional faults. Frames are built with the protocol encoders and paced like a
//! 2400-baud line. The model is sans-IO (time is passed in); [`SimConnector`] runs it as a link.

use super::{BoxLink, ConnectFuture, Connector};
use crate::protocol::datetime::DateTime;
use crate::protocol::han::{KamstrupList, MissingPhases};
use crate::protocol::p1::{P1Time, SwedishList as P1List};
use chrono::{Datelike, NaiveDateTime, Timelike};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The demo meter's energy registers when it starts: A+, A-, R+, R- in Wh and varh.
pub const START_ENERGY: [f64; 4] = [12_345_678.0, 234_567.0, 1_234_567.0, 345_678.0];

/// Energy counters of one simulated meter, shared by its HAN side (which counts them up) and its
/// optical side (which reads them out), so both show the same registers.
pub type SharedEnergy = std::sync::Arc<std::sync::Mutex<[f64; 4]>>;

/// The registers of a demo meter that has just started.
pub fn demo_energy() -> SharedEnergy {
    std::sync::Arc::new(std::sync::Mutex::new(START_ENERGY))
}

/// Which meter the simulator plays.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MeterProfile {
    /// 684-... 3-phase direct meter.
    #[value(name = "3p")]
    ThreePhase,
    /// 686-... 1-phase direct meter (L2/L3 sent as null placeholders).
    #[value(name = "1p")]
    OnePhase,
    /// 685-... 3-phase CT meter (currents in mA).
    #[value(name = "ct")]
    Ct,
    /// Swedish 3-phase meter pushing HAN-P1 (DSMR-style) telegrams at 115200 8N1.
    #[value(name = "p1")]
    P1,
}

impl MeterProfile {
    pub fn name(self) -> &'static str {
        match self {
            MeterProfile::ThreePhase => "3-phase",
            MeterProfile::OnePhase => "1-phase",
            MeterProfile::Ct => "3-phase CT",
            MeterProfile::P1 => "3-phase P1",
        }
    }

    /// Bytes per second on the meter's HAN line: 2400 8N1 for HAN-NVE, 115200 8N1 for P1.
    pub fn bytes_per_second(self) -> f64 {
        match self {
            MeterProfile::P1 => 11_520.0,
            _ => HAN_BYTES_PER_SECOND,
        }
    }

    fn meter_type(self) -> &'static str {
        match self {
            MeterProfile::ThreePhase | MeterProfile::P1 => "6841131BN243101040",
            MeterProfile::OnePhase => "6861111BN242101040",
            MeterProfile::Ct => "6851131BN243101040",
        }
    }
}

/// Small deterministic generator (xorshift64*): reproducible demos and tests.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal, mean 0, deviation 1.
    fn normal(&mut self) -> f64 {
        (0..6).map(|_| self.unit()).sum::<f64>() - 3.0
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// What happened to a push when faults are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    JunkBefore,
    BitFlip,
    Truncated,
}

/// The simulated meter.
#[derive(Debug, Clone)]
pub struct SimMeter {
    pub profile: MeterProfile,
    pub faults: bool,
    rng: Rng,
    /// A14, A23, R12, R34 in Wh / varh.
    energy: [f64; 4],
    last_t: Option<i64>,
    /// Where the optical side of the same meter reads the registers.
    pub shared_energy: Option<SharedEnergy>,
    /// Phase L2 is lost until this time (a fault).
    phase_lost_until: i64,
    pub last_fault: Fault,
}

/// Instantaneous values of one push.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Values {
    /// P import, P export (W), Q import, Q export (var).
    pub power: [f64; 4],
    pub voltage: [f64; 3],
    pub current: [f64; 3],
}

impl SimMeter {
    pub fn new(profile: MeterProfile, faults: bool, seed: u64) -> Self {
        SimMeter {
            profile,
            faults,
            rng: Rng(seed | 1),
            energy: START_ENERGY,
            last_t: None,
            shared_energy: None,
            phase_lost_until: i64::MIN,
            last_fault: Fault::None,
        }
    }

    /// Household load shape over the day, in W: night base, morning and evening peaks.
    fn load_shape(hour: f64) -> f64 {
        let bump = |centre: f64, width: f64, height: f64| {
            height * (-((hour - centre) / width).powi(2)).exp()
        };
        350.0 + bump(7.5, 1.5, 1800.0) + bump(12.5, 2.0, 600.0) + bump(19.0, 2.2, 2800.0)
    }

    /// The values at local time `local` (seconds of the day matter) and unix time `t`.
    pub fn values(&mut self, t: i64, local: NaiveDateTime) -> Values {
        let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0;
        let scale = if self.profile == MeterProfile::Ct {
            12.0
        } else {
            1.0
        };
        let mut load = Self::load_shape(hour) * scale * (1.0 + 0.08 * self.rng.normal());
        // Solar export around midday on some days.
        let solar = if (10.5..15.5).contains(&hour) && !local.ordinal().is_multiple_of(3) {
            3200.0 * scale * (1.0 - ((hour - 13.0) / 2.5).powi(2)).max(0.0)
        } else {
            0.0
        };
        load = load.max(40.0);
        let net = load - solar;
        let (p_import, p_export) = if net >= 0.0 { (net, 0.0) } else { (0.0, -net) };
        // Reactive load: a power factor of about 0.98.
        let q = load * 0.18 * (1.0 + 0.05 * self.rng.normal());
        let phases = if self.profile == MeterProfile::OnePhase {
            1
        } else {
            3
        };
        // Per-phase shares of the load, normalised so the phases add up to the total.
        let mut shares = [1.0, 0.0, 0.0];
        if phases == 3 {
            shares =
                [0.42, 0.33, 0.25].map(|s: f64| (s * (1.0 + 0.15 * self.rng.normal())).max(0.02));
            let sum: f64 = shares.iter().sum();
            shares = shares.map(|s| s / sum);
        }
        // Apparent power per phase from what flows through the meter: the net active power (load
        // less solar) and the reactive load. Currents from the load alone would disagree with
        // the metered power at midday, a wiring fault the demo does not have.
        let apparent = net.hypot(q);
        let mut voltage = [0.0; 3];
        let mut current = [0.0; 3];
        for i in 0..phases {
            let s_phase = apparent * shares[i];
            let u = 232.0 - s_phase / 900.0 + 1.2 * self.rng.normal();
            voltage[i] = u;
            current[i] = s_phase / u;
        }
        if self.faults && phases == 3 && t < self.phase_lost_until {
            voltage[1] = 0.0;
            current[1] = 0.0;
        }
        Values {
            power: [p_import, p_export, q.max(0.0), 0.0],
            voltage,
            current,
        }
    }

    /// The bytes the meter sends at unix time `t` (local time `local`), if a push is due then.
    /// Energy registers integrate the power since the previous call.
    pub fn push_at(&mut self, t: i64, local: NaiveDateTime) -> Option<Vec<u8>> {
        let second = local.second();
        let list2 = local.minute() == 0 && second == 5;
        if !(second.is_multiple_of(10) || list2) {
            return None;
        }
        if self.faults && self.rng.chance(0.01) {
            self.phase_lost_until = t + 120;
        }
        let v = self.values(t, local);
        if let Some(prev) = self.last_t {
            let hours = (t - prev).max(0) as f64 / 3600.0;
            for (e, p) in self.energy.iter_mut().zip(v.power) {
                *e += p * hours;
            }
            self.energy[3] += v.power[2] * 0.05 * hours;
        }
        self.last_t = Some(t);
        if let Some(shared) = &self.shared_energy
            && let Ok(mut e) = shared.lock()
        {
            *e = self.energy;
        }
        if self.profile == MeterProfile::P1 {
            // P1 pushes every 10 s, with the energy registers in every telegram.
            if !second.is_multiple_of(10) {
                return None;
            }
            let mut out = self.p1_telegram(local, summer_time(t), &v);
            self.last_fault = Fault::None;
            if self.faults {
                self.inject_fault(&mut out);
            }
            return Some(out);
        }
        let phases = if self.profile == MeterProfile::OnePhase {
            1
        } else {
            3
        };
        let current_unit = if self.profile == MeterProfile::Ct {
            1000.0
        } else {
            100.0
        };
        let phase = |i: usize, x: f64| (i < phases).then_some(x);
        let list = KamstrupList {
            meter_id: "5706567000000042".into(),
            meter_type: self.profile.meter_type().into(),
            time: DateTime::new(
                local.year() as u16,
                local.month() as u8,
                local.day() as u8,
                local.hour() as u8,
                local.minute() as u8,
                second as u8,
                0,
            ),
            power: v.power.map(|p| p.round().max(0.0) as u32),
            currents: std::array::from_fn(|i| {
                phase(i, v.current[i]).map(|c| (c * current_unit).round() as u32)
            }),
            voltages: std::array::from_fn(|i| {
                phase(i, v.voltage[i]).map(|u| u.round().max(0.0) as u16)
            }),
            missing_phases: MissingPhases::NullPlaceholders,
            // Registers in units of 10 Wh (Norway).
            energies: list2.then(|| self.energy.map(|e| (e / 10.0) as u32)),
        };
        let mut out = Vec::with_capacity(320);
        list.encode_frame(&mut out)
            .expect("a Kamstrup list fits a frame");
        self.last_fault = Fault::None;
        if self.faults {
            self.inject_fault(&mut out);
        }
        Some(out)
    }

    /// A Swedish HAN-port telegram with the same values a HAN-NVE push would carry, in kW, kvar,
    /// kWh and kvarh.
    fn p1_telegram(&self, local: NaiveDateTime, summer: bool, v: &Values) -> Vec<u8> {
        let kilo = |x: f64| x / 1000.0;
        let share = |i: usize| {
            let s: f64 = v.voltage.iter().zip(v.current).map(|(u, i)| u * i).sum();
            if s > 0.0 {
                v.voltage[i] * v.current[i] / s
            } else {
                0.0
            }
        };
        let list = P1List {
            ident: "KAM5 Kamstrup OMNIPOWER".into(),
            time: P1Time {
                year: local.year() as u16,
                month: local.month() as u8,
                day: local.day() as u8,
                hour: local.hour() as u8,
                minute: local.minute() as u8,
                second: local.second() as u8,
                summer,
            },
            energies: self.energy.map(kilo),
            power: v.power.map(kilo),
            phase_power: std::array::from_fn(|i| Some(v.power.map(|p| kilo(p) * share(i)))),
            voltages: v.voltage.map(Some),
            currents: v.current.map(Some),
        };
        list.encode()
    }

    fn inject_fault(&mut self, frame: &mut Vec<u8>) {
        let roll = self.rng.unit();
        if roll < 0.04 {
            let n = 1 + (self.rng.next() % 6) as usize;
            let junk: Vec<u8> = (0..n).map(|_| self.rng.next() as u8).collect();
            frame.splice(0..0, junk);
            self.last_fault = Fault::JunkBefore;
        } else if roll < 0.07 {
            let at = 1 + (self.rng.next() as usize % (frame.len() - 2));
            frame[at] ^= 1 << (self.rng.next() % 8);
            self.last_fault = Fault::BitFlip;
        } else if roll < 0.09 {
            let keep = 20 + (self.rng.next() as usize % (frame.len() - 40));
            frame.truncate(keep);
            self.last_fault = Fault::Truncated;
        }
    }
}

/// Runs the simulated meter as a link: pushes on the (scaled) wall clock, paced like 2400 baud.
pub struct SimConnector {
    pub profile: MeterProfile,
    pub faults: bool,
    pub speed: f64,
    /// Shared with the simulated optical port, so both sides show the same registers.
    pub energy: Option<SharedEnergy>,
}

impl SimConnector {
    pub fn new(profile: MeterProfile, faults: bool, speed: f64) -> Self {
        SimConnector {
            profile,
            faults,
            speed: speed.max(0.01),
            energy: None,
        }
    }
}

/// Bytes per second on a 2400-baud 8N1 line.
pub const HAN_BYTES_PER_SECOND: f64 = 240.0;

impl Connector for SimConnector {
    fn describe(&self) -> String {
        let mut s = format!("demo {}", self.profile.name());
        if self.faults {
            s.push_str(" +faults");
        }
        if self.speed != 1.0 {
            s.push_str(&format!(" x{}", self.speed));
        }
        s
    }

    fn connect(&mut self) -> ConnectFuture<'_> {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let mut meter = SimMeter::new(self.profile, self.faults, seed_from_clock());
        meter.shared_energy = self.energy.clone();
        let speed = self.speed;
        tokio::spawn(run_meter(meter, speed, theirs));
        Box::pin(async move { Ok(Box::new(ours) as BoxLink) })
    }
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// The simulated clock: starts at the wall clock and runs `speed` times faster.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    start_real: tokio::time::Instant,
    start_sim_ms: i64,
    speed: f64,
}

impl SimClock {
    pub fn new(speed: f64) -> Self {
        SimClock {
            start_real: tokio::time::Instant::now(),
            start_sim_ms: chrono::Utc::now().timestamp_millis(),
            speed,
        }
    }

    pub fn now_ms(&self) -> i64 {
        let elapsed = self.start_real.elapsed().as_secs_f64() * 1000.0 * self.speed;
        self.start_sim_ms + elapsed as i64
    }

    /// The real instant at which the simulated clock reads `sim_ms`.
    pub fn instant_of(&self, sim_ms: i64) -> tokio::time::Instant {
        let real_ms = (sim_ms - self.start_sim_ms).max(0) as f64 / self.speed;
        self.start_real + Duration::from_micros((real_ms * 1000.0) as u64)
    }
}

/// Local wall time for a unix time, as the meter shows it (local standard time is close enough
/// for a demo: the real meter ignores daylight saving).
fn local_time(t: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|utc| utc.with_timezone(&chrono::Local).naive_local())
        .unwrap_or_default()
}

/// Whether local time at unix time `t` is summer time (its UTC offset above the year's lower one):
/// the `S` or `W` of a P1 timestamp.
fn summer_time(t: i64) -> bool {
    use chrono::{Local, Offset, TimeZone};
    let offset = |ts: i64| {
        Local
            .timestamp_opt(ts, 0)
            .single()
            .map(|d| d.offset().fix().local_minus_utc())
    };
    let year_start = t - t.rem_euclid(365 * 86_400);
    let standard = [offset(year_start), offset(year_start + 182 * 86_400)]
        .into_iter()
        .flatten()
        .min();
    matches!((offset(t), standard), (Some(now), Some(std)) if now > std)
}

/// Runs the meter on the simulated clock, writing its pushes to `io` until the reader goes away.
pub(crate) async fn run_meter(
    mut meter: SimMeter,
    speed: f64,
    mut io: impl tokio::io::AsyncWrite + Unpin,
) {
    let clock = SimClock::new(speed);
    let bytes_per_second = meter.profile.bytes_per_second();
    // Start at the next whole second.
    let mut t = clock.now_ms().div_euclid(1000) + 1;
    loop {
        tokio::time::sleep_until(clock.instant_of(t * 1000)).await;
        if let Some(bytes) = meter.push_at(t, local_time(t)) {
            // Pace like the line (240 bytes/s at 2400 baud), in pieces of a tenth of a second.
            let piece = (bytes_per_second / 10.0) as usize;
            let piece_time = Duration::from_secs_f64(0.1 / speed);
            for piece in bytes.chunks(piece) {
                if io.write_all(piece).await.is_err() || io.flush().await.is_err() {
                    return; // the reader went away
                }
                if speed <= 50.0 {
                    tokio::time::sleep(piece_time).await;
                }
            }
        }
        t += 1;
        // At high speed, do not fall behind the clock by more than a push.
        let now = clock.now_ms().div_euclid(1000);
        if now > t + 10 {
            t = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Decoder;
    use crate::wire::detail::{Details, decode_all};

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2024, 5, 1)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    #[test]
    fn pushes_on_schedule_and_decode() {
        let mut m = SimMeter::new(MeterProfile::ThreePhase, false, 7);
        assert!(m.push_at(1, at(12, 0, 1)).is_none());
        let l1 = m.push_at(10, at(12, 0, 10)).unwrap();
        let s = decode_all(&l1, &mut Decoder::default());
        assert!(s[0].ok);
        assert_eq!(s[0].list, Some("list1"));
        assert_eq!(s[0].time.as_deref(), Some("2024-05-01T12:00:10"));
        let l2 = m.push_at(3605, at(13, 0, 5)).unwrap();
        let s = decode_all(&l2, &mut Decoder::default());
        assert_eq!(s[0].list, Some("list2"));
    }

    #[test]
    fn one_phase_and_ct_profiles() {
        let mut m = SimMeter::new(MeterProfile::OnePhase, false, 7);
        let s = decode_all(
            &m.push_at(10, at(19, 0, 10)).unwrap(),
            &mut Decoder::default(),
        );
        let Some(Details::Hdlc(h)) = &s[0].details else {
            panic!("HDLC details")
        };
        assert_eq!(h.null_placeholders, Some(8));
        let mut m = SimMeter::new(MeterProfile::Ct, false, 7);
        let s = decode_all(
            &m.push_at(10, at(19, 0, 10)).unwrap(),
            &mut Decoder::default(),
        );
        let Some(Details::Hdlc(h)) = &s[0].details else {
            panic!("HDLC details")
        };
        assert_eq!(h.current_scaler, Some(-3));
    }

    #[test]
    fn faults_show_up_as_bad_frames_or_junk() {
        let mut m = SimMeter::new(MeterProfile::ThreePhase, true, 3);
        let mut stream = Vec::new();
        for i in 0..2000 {
            let t = i * 10;
            stream.extend(
                m.push_at(
                    t,
                    at(
                        (t / 3600 % 24) as u32,
                        (t / 60 % 60) as u32,
                        (t % 60) as u32,
                    ),
                )
                .unwrap(),
            );
        }
        let spans = decode_all(&stream, &mut Decoder::default());
        let bad = spans.iter().filter(|s| !s.ok).count();
        let good = spans.iter().filter(|s| s.ok).count();
        assert!(bad > 20 && good > 1800, "good {good} bad {bad}");
        assert_eq!(spans.iter().map(|s| s.len).sum::<usize>(), stream.len());
    }
}
