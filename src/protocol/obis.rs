//! OBIS codes (A-B:C.D.E*F) with names and default units.

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obis(pub [u8; 6]);

impl Obis {
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        Some(Obis(b.try_into().ok()?))
    }

    pub const fn new(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8) -> Self {
        Obis([a, b, c, d, e, f])
    }

    pub fn a(&self) -> u8 {
        self.0[0]
    }
    pub fn c(&self) -> u8 {
        self.0[2]
    }
    pub fn d(&self) -> u8 {
        self.0[3]
    }
    pub fn e(&self) -> u8 {
        self.0[4]
    }

    /// The same code with group B (the channel) ignored: Kamstrup uses B=1, others B=0.
    pub fn cde(&self) -> (u8, u8, u8, u8) {
        (self.0[0], self.0[2], self.0[3], self.0[4])
    }

    /// A cumulative energy register (electricity, D = 8).
    pub fn is_energy(&self) -> bool {
        self.a() == 1 && self.d() == 8 && (1..=10).contains(&self.c())
    }

    /// The clock object 0.x.1.0.0.255.
    pub fn is_clock(&self) -> bool {
        self.a() == 0 && self.c() == 1 && self.d() == 0 && self.e() == 0
    }

    pub fn is_meter_id(&self) -> bool {
        matches!(self.cde(), (_, 0, 0, 5) | (0, 96, 1, 0) | (0, 96, 1, 1))
    }

    /// Kamstrup's 1.1.96.1.1 (the type number) and the 0.0.96.1.7 others send; 0.0.96.1.1 is the
    /// equipment identifier in DSMR.
    pub fn is_meter_type(&self) -> bool {
        matches!(self.cde(), (1, 96, 1, 1) | (_, 96, 1, 7))
    }

    pub fn is_list_version(&self) -> bool {
        matches!(self.cde(), (1, 0, 2, 129))
    }

    /// A readable name, from the Kamstrup HAN tables and the standard electricity codes.
    pub fn name(&self) -> String {
        if let Some(n) = self.static_name() {
            return n.to_string();
        }
        let mut out = String::new();
        let _ = self.write_name(&mut out);
        out
    }

    /// The name when it is a fixed text (every code of the Kamstrup lists): no allocation.
    /// `None` for names composed from the code (a tariff, a maximum demand, an unknown code).
    pub fn static_name(&self) -> Option<&'static str> {
        // The electricity quantities first: most fields are one, and no fixed name is.
        if self.a() == 1 && self.e() == 0 {
            let q = quantity(self.c());
            match self.d() {
                7 => return q.map(|q| q.0),
                8 => return q.map(|q| q.1),
                _ => {}
            }
        }
        fixed_name(*self)
    }

    /// Writes the name (as [`Obis::name`]) into `out` without building a `String`.
    pub fn write_name(&self, out: &mut impl fmt::Write) -> fmt::Result {
        if let Some(n) = fixed_name(*self) {
            return out.write_str(n);
        }
        let tariff = |out: &mut dyn fmt::Write, e: u8| match e {
            0 => Ok(()),
            e => write!(out, ", tariff {e}"),
        };
        if self.a() == 1
            && let Some(q) = quantity(self.c())
        {
            return match self.d() {
                7 => {
                    out.write_str(q.0)?;
                    tariff(out, self.e())
                }
                8 => {
                    out.write_str(q.1)?;
                    tariff(out, self.e())
                }
                6 => {
                    write!(out, "{} maximum demand", q.0)?;
                    tariff(out, self.e())
                }
                2 => {
                    write!(out, "{} cumulative maximum demand", q.0)?;
                    tariff(out, self.e())
                }
                4 => write!(out, "{} current average", q.0),
                _ => write!(out, "{} ({})", q.0, self),
            };
        }
        write!(out, "OBIS {self}")
    }

    /// The unit of the quantity, when the code says it.
    #[inline]
    pub fn default_unit(&self) -> Option<&'static str> {
        if self.a() != 1 {
            return None;
        }
        let quantity = UNIT_BY_C[usize::from(self.c())];
        match (quantity, self.d()) {
            (Unit::None, _) => None,
            (Unit::Fixed(unit), _) => Some(unit),
            (Unit::Power { power, .. }, 7 | 6 | 2 | 4) => Some(power),
            (Unit::Power { energy, .. }, 8) => Some(energy),
            (Unit::Power { .. }, _) => None,
        }
    }
}

/// What group C says of a quantity's unit.
#[derive(Clone, Copy)]
enum Unit {
    None,
    /// Whatever D says: currents, voltages, frequency.
    Fixed(&'static str),
    /// Power (D = 2, 4, 6, 7) or energy (D = 8).
    Power {
        power: &'static str,
        energy: &'static str,
    },
}

/// The unit of each group C value, looked up once per field (a table: the HAN mapping asks
/// for every value of every push).
static UNIT_BY_C: [Unit; 256] = {
    const ACTIVE: Unit = Unit::Power {
        power: "W",
        energy: "Wh",
    };
    const REACTIVE: Unit = Unit::Power {
        power: "var",
        energy: "varh",
    };
    const APPARENT: Unit = Unit::Power {
        power: "VA",
        energy: "VAh",
    };
    let mut t = [Unit::None; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c {
            1 | 2 | 15 | 16 | 21 | 22 | 41 | 42 | 61 | 62 => ACTIVE,
            3..=8 | 23 | 24 | 43 | 44 | 63 | 64 => REACTIVE,
            9 | 10 | 29 | 30 | 49 | 50 | 69 | 70 => APPARENT,
            31 | 51 | 71 | 91 => Unit::Fixed("A"),
            32 | 52 | 72 => Unit::Fixed("V"),
            14 => Unit::Fixed("Hz"),
            _ => Unit::None,
        };
        c += 1;
    }
    t
};

/// (instantaneous name, energy name) per C group.
fn quantity(c: u8) -> Option<(&'static str, &'static str)> {
    Some(match c {
        1 => ("Active power import (P+)", "Active energy import (A+)"),
        2 => ("Active power export (P-)", "Active energy export (A-)"),
        3 => ("Reactive power import (Q+)", "Reactive energy import (R+)"),
        4 => ("Reactive power export (Q-)", "Reactive energy export (R-)"),
        5 => ("Reactive power Q1", "Reactive energy Q1"),
        6 => ("Reactive power Q2", "Reactive energy Q2"),
        7 => ("Reactive power Q3", "Reactive energy Q3"),
        8 => ("Reactive power Q4", "Reactive energy Q4"),
        9 => ("Apparent power import (S+)", "Apparent energy import"),
        10 => ("Apparent power export (S-)", "Apparent energy export"),
        13 => ("Power factor", "Power factor"),
        14 => ("Frequency", "Frequency"),
        21 => ("Active power import L1", "Active energy import L1"),
        22 => ("Active power export L1", "Active energy export L1"),
        23 => ("Reactive power import L1", "Reactive energy import L1"),
        24 => ("Reactive power export L1", "Reactive energy export L1"),
        31 => ("Current L1 (IL1)", "Current L1"),
        32 => ("Voltage L1 (UL1)", "Voltage L1"),
        33 => ("Power factor L1", "Power factor L1"),
        41 => ("Active power import L2", "Active energy import L2"),
        42 => ("Active power export L2", "Active energy export L2"),
        43 => ("Reactive power import L2", "Reactive energy import L2"),
        44 => ("Reactive power export L2", "Reactive energy export L2"),
        51 => ("Current L2 (IL2)", "Current L2"),
        52 => ("Voltage L2 (UL2)", "Voltage L2"),
        53 => ("Power factor L2", "Power factor L2"),
        61 => ("Active power import L3", "Active energy import L3"),
        62 => ("Active power export L3", "Active energy export L3"),
        63 => ("Reactive power import L3", "Reactive energy import L3"),
        64 => ("Reactive power export L3", "Reactive energy export L3"),
        71 => ("Current L3 (IL3)", "Current L3"),
        72 => ("Voltage L3 (UL3)", "Voltage L3"),
        73 => ("Power factor L3", "Power factor L3"),
        91 => ("Current neutral (IN)", "Current neutral"),
        _ => return None,
    })
}

fn fixed_name(o: Obis) -> Option<&'static str> {
    Some(match o.cde() {
        (1, 0, 2, 129) => "List version",
        (1, 0, 0, 5) => "Meter id (GS1 number)",
        (1, 96, 1, 1) => "Meter type",
        (1, 0, 0, 1) => "Meter number",
        (0, 96, 1, 0) => "Meter id (serial number)",
        (0, 96, 1, 1) => "Meter id",
        (0, 96, 1, 7) => "Meter type",
        (0, 1, 0, 0) => "Clock (RTC)",
        (0, 42, 0, 0) => "Logical device name",
        (0, 25, 9, 0) => "Push setup",
        (0, 96, 14, 0) => "Active tariff",
        (0, 96, 3, 10) => "Disconnector state",
        (0, 96, 1, 4) => "Version information",
        (1, 0, 2, 8) => "P1 version",
        (0, 96, 13, 0) => "Text message",
        (0, 96, 7, 21) => "Number of power failures",
        (0, 96, 7, 9) => "Number of long power failures",
        (1, 99, 97, 0) => "Power failure event log",
        (1, 32, 32, 0) => "Voltage sags L1",
        (1, 52, 32, 0) => "Voltage sags L2",
        (1, 72, 32, 0) => "Voltage sags L3",
        (1, 32, 36, 0) => "Voltage swells L1",
        (1, 52, 36, 0) => "Voltage swells L2",
        (1, 72, 36, 0) => "Voltage swells L3",
        (0, 24, 1, 0) => "M-Bus device type",
        (0, 24, 2, 1) => "M-Bus reading",
        (0, 24, 3, 0) => "M-Bus profile (DSMR 2/3)",
        _ => return None,
    })
}

impl fmt::Display for Obis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a}.{b}.{c}.{d}.{e}.{g}")
    }
}

impl Serialize for Obis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// DLMS unit enumeration (IEC 62056-62) to a symbol.
pub fn unit_symbol(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "a",
        2 => "mo",
        3 => "wk",
        4 => "d",
        5 => "h",
        6 => "min",
        7 => "s",
        8 => "°",
        9 => "°C",
        23 => "Pa",
        24 => "bar",
        27 => "W",
        28 => "VA",
        29 => "var",
        30 => "Wh",
        31 => "VAh",
        32 => "varh",
        33 => "A",
        34 => "C",
        35 => "V",
        44 => "Hz",
        56 => "%",
        255 => "",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_units() {
        let p = Obis::new(1, 1, 1, 7, 0, 255);
        assert_eq!(p.to_string(), "1.1.1.7.0.255");
        assert_eq!(p.name(), "Active power import (P+)");
        assert_eq!(p.default_unit(), Some("W"));
        let a = Obis::new(1, 0, 1, 8, 2, 255);
        assert_eq!(a.name(), "Active energy import (A+), tariff 2");
        assert_eq!(a.default_unit(), Some("Wh"));
        assert_eq!(Obis::new(1, 1, 52, 7, 0, 255).default_unit(), Some("V"));
        assert_eq!(Obis::new(0, 1, 1, 0, 0, 255).name(), "Clock (RTC)");
    }

    /// A static name is the one composed from the code's groups, for every C, D and E.
    #[test]
    fn static_and_written_names_agree() {
        let mut fixed = 0;
        for a in [0, 1] {
            for c in 0..=255u8 {
                for d in [0, 1, 2, 4, 6, 7, 8, 96] {
                    for e in [0, 1, 2] {
                        let o = Obis::new(a, 1, c, d, e, 255);
                        let mut written = String::new();
                        o.write_name(&mut written).unwrap();
                        if let Some(n) = o.static_name() {
                            assert_eq!(n, written, "{o}");
                            fixed += 1;
                        }
                    }
                }
            }
        }
        assert!(fixed > 60, "only {fixed} static names");
        assert_eq!(
            Obis::new(1, 0, 1, 6, 1, 255).name(),
            "Active power import (P+) maximum demand, tariff 1"
        );
        assert_eq!(
            Obis::new(1, 0, 1, 4, 0, 255).name(),
            "Active power import (P+) current average"
        );
        assert_eq!(
            Obis::new(1, 0, 1, 9, 0, 255).name(),
            "Active power import (P+) (1.0.1.9.0.255)"
        );
        assert_eq!(Obis::new(0, 0, 99, 9, 0, 255).name(), "OBIS 0.0.99.9.0.255");
    }
}
