//! Counts for `decode --summary`.

use crate::protocol::decoder::{Decoded, span_ok};
use crate::protocol::framer::{Protocol, Span};
use serde::Serialize;

/// Good and bad frames of one protocol.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GoodBad {
    pub bad: u64,
    pub good: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PerProtocol {
    pub hdlc: GoodBad,
    pub iec61107: GoodBad,
    pub kmp: GoodBad,
    pub mbus: GoodBad,
    pub p1: GoodBad,
}

impl PerProtocol {
    fn get_mut(&mut self, p: Protocol) -> Option<&mut GoodBad> {
        match p {
            Protocol::Hdlc => Some(&mut self.hdlc),
            Protocol::Iec61107 => Some(&mut self.iec61107),
            Protocol::Kmp => Some(&mut self.kmp),
            Protocol::Mbus => Some(&mut self.mbus),
            Protocol::P1 => Some(&mut self.p1),
            Protocol::Junk => None,
        }
    }
}

/// Counts of a whole input.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub good: u64,
    pub bad: u64,
    pub junk_bytes: u64,
    pub junk_runs: u64,
    /// Good frames whose content could not be decoded.
    pub undecoded: u64,
    pub protocols: PerProtocol,
}

/// The JSON form: the totals, frames per protocol, and good/bad per protocol (keys in
/// alphabetical order, as scripts have always read them).
#[derive(Serialize)]
struct SummaryJson<'a> {
    bad: u64,
    bytes: u64,
    good: u64,
    hdlc: u64,
    iec61107: u64,
    junk_bytes: u64,
    junk_runs: u64,
    kmp: u64,
    mbus: u64,
    p1: u64,
    protocols: &'a PerProtocol,
    undecoded: u64,
}

impl Summary {
    pub fn add(&mut self, span: &Span<'_>, decoded: &Decoded) {
        let len = span.bytes.len() as u64;
        self.bytes += len;
        let Some(counts) = self.protocols.get_mut(span.protocol()) else {
            self.junk_bytes += len;
            self.junk_runs += 1;
            return;
        };
        if span_ok(&span.content, decoded) {
            counts.good += 1;
            self.good += 1;
            if decoded.error().is_some() {
                self.undecoded += 1;
            }
        } else {
            counts.bad += 1;
            self.bad += 1;
        }
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let p = &self.protocols;
        let total = |c: GoodBad| c.good + c.bad;
        serde_json::to_string(&SummaryJson {
            bad: self.bad,
            bytes: self.bytes,
            good: self.good,
            hdlc: total(p.hdlc),
            iec61107: total(p.iec61107),
            junk_bytes: self.junk_bytes,
            junk_runs: self.junk_runs,
            kmp: total(p.kmp),
            mbus: total(p.mbus),
            p1: total(p.p1),
            protocols: p,
            undecoded: self.undecoded,
        })
        .expect("plain numbers serialize")
    }
}
