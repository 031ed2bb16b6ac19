//! One verdict type for every integrity check of every protocol (HCS, FCS, BCC, LRC, CS, length,
//! flags...), so the inspector and the `decode` command render them all the same way.

use serde::{Serialize, Serializer};
use std::fmt;

/// A value on either side of a check, kept typed (no allocation) and formatted on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckValue {
    /// One byte, shown as `0x7E`.
    Hex8(u8),
    /// A 16-bit checksum, shown as `0x9A23`.
    Hex16(u16),
    /// Up to four bytes, shown as `E6 E7 00`.
    Bytes { len: u8, bytes: [u8; 4] },
    /// A count of bytes or items, shown in decimal.
    Count(u32),
    /// A fixed description.
    Text(&'static str),
    /// Nothing there to compare (the frame ended first).
    Missing,
}

impl CheckValue {
    pub fn bytes(src: &[u8]) -> Self {
        let (bytes, len) = super::first_four(src);
        CheckValue::Bytes { len, bytes }
    }
}

impl fmt::Display for CheckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckValue::Hex8(v) => write!(f, "0x{v:02X}"),
            CheckValue::Hex16(v) => write!(f, "0x{v:04X}"),
            CheckValue::Bytes { len, bytes } => {
                for (i, b) in bytes[..*len as usize].iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{b:02X}")?;
                }
                Ok(())
            }
            CheckValue::Count(v) => write!(f, "{v}"),
            CheckValue::Text(t) => f.write_str(t),
            CheckValue::Missing => f.write_str("missing"),
        }
    }
}

impl Serialize for CheckValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CheckValue::Missing => s.serialize_none(),
            other => s.collect_str(other),
        }
    }
}

/// One integrity check: what the data says it should be (`expected`, usually computed) against
/// what was received (`actual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub expected: CheckValue,
    pub actual: CheckValue,
    /// Which rule matched, for checks that accept more than one (the IEC 61107 BCC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
}

impl Check {
    /// Passes when both sides are equal and present.
    pub fn compare(name: &'static str, expected: CheckValue, actual: CheckValue) -> Self {
        let ok = expected == actual && actual != CheckValue::Missing;
        Check {
            name,
            ok,
            expected,
            actual,
            rule: None,
        }
    }

    /// A check that failed for a reason the two values alone do not show.
    pub fn failed(name: &'static str, expected: CheckValue, actual: CheckValue) -> Self {
        Check {
            name,
            ok: false,
            expected,
            actual,
            rule: None,
        }
    }

    pub fn with_rule(mut self, rule: Option<&'static str>) -> Self {
        self.rule = rule;
        self
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ok {
            write!(f, "{} ok ({})", self.name, self.actual)?;
        } else if self.actual == CheckValue::Missing {
            write!(f, "{} BAD (missing: frame cut short)", self.name)?;
        } else {
            write!(
                f,
                "{} BAD (expected {}, got {})",
                self.name, self.expected, self.actual
            )?;
        }
        if let Some(rule) = self.rule {
            write!(f, " [{rule}]")?;
        }
        Ok(())
    }
}

/// True when every check passed (and there is at least one).
pub fn all_ok(checks: &[Check]) -> bool {
    !checks.is_empty() && checks.iter().all(|c| c.ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_never_passes() {
        let c = Check::compare("FCS", CheckValue::Missing, CheckValue::Missing);
        assert!(!c.ok);
    }

    #[test]
    fn formats_values() {
        assert_eq!(CheckValue::Hex16(0x9a23).to_string(), "0x9A23");
        assert_eq!(
            CheckValue::bytes(&[0xe6, 0xe7, 0x00]).to_string(),
            "E6 E7 00"
        );
        let json = serde_json::to_string(&Check::compare(
            "HCS",
            CheckValue::Hex16(1),
            CheckValue::Hex16(2),
        ))
        .unwrap();
        assert_eq!(
            json,
            r#"{"name":"HCS","ok":false,"expected":"0x0001","actual":"0x0002"}"#
        );
    }
}
