//! The meter's side of the M-Bus link layer, sans-IO: which master frames a slave answers and
//! with what. The simulated meter (`link::sim_mbus`) and the session tests (several slaves on one
//! bus, colliding) share it, so the master is tested against the same rules the simulator plays.
//!
//! A slave answers SND_NKE and REQ_UD2 at its primary address and at 254 (FE, "the one meter on
//! the bus"), never at 255 (broadcast, no answer allowed); a select (CI 52) whose secondary
//! address matches it (nibble F and byte FF are wildcards) makes it answer at 253 (FD) until a
//! select that does not match. REQ_UD2 with the FCB toggled asks for the next telegram; the same
//! FCB again asks for the last one again (the master lost it).

use super::{LONG_START, SHORT_START, STOP, checksum, encode_long};

pub use super::ACK;
/// Control byte of a slave's RSP_UD.
pub const RSP_UD: u8 = 0x08;
/// Address of the slave selected by its secondary address.
pub const SELECTED: u8 = 0xFD;
/// Address every slave answers ("the one meter on the bus").
pub const ANY_ONE: u8 = 0xFE;
/// CI of a select by secondary address.
pub const CI_SELECT: u8 = 0x52;

/// A slave's identity as the fixed data header sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub primary: u8,
    /// Identification number, 8 BCD digits as a number (12345678).
    pub id: u32,
    /// Manufacturer code as sent (KAM = 0x2C2D).
    pub manufacturer: u16,
    pub version: u8,
    pub medium: u8,
}

impl Identity {
    /// The id as sent: 4 BCD bytes, least significant first.
    pub fn id_bytes(&self) -> [u8; 4] {
        let mut out = [0u8; 4];
        let mut v = self.id;
        for b in &mut out {
            let lo = (v % 10) as u8;
            v /= 10;
            let hi = (v % 10) as u8;
            v /= 10;
            *b = (hi << 4) | lo;
        }
        out
    }

    /// Whether a select's 8 address bytes (id, manufacturer, version, medium) name this slave.
    pub fn matches(&self, select: &[u8]) -> bool {
        let Ok(select) = <&[u8; 8]>::try_from(select) else {
            return false;
        };
        let id_ok = select[..4]
            .iter()
            .zip(self.id_bytes())
            .all(|(&want, have)| nibble_match(want >> 4, have >> 4) && nibble_match(want, have));
        let man = self.manufacturer.to_le_bytes();
        let byte_ok = |want: u8, have: u8| want == 0xFF || want == have;
        id_ok
            && byte_ok(select[4], man[0])
            && byte_ok(select[5], man[1])
            && byte_ok(select[6], self.version)
            && byte_ok(select[7], self.medium)
    }
}

fn nibble_match(want: u8, have: u8) -> bool {
    let (want, have) = (want & 0x0F, have & 0x0F);
    want == 0x0F || want == have
}

/// What the slave sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Nothing,
    Ack,
    /// RSP_UD with telegram number `n` (from 0).
    Telegram(usize),
}

/// One slave on the bus.
#[derive(Debug, Clone)]
pub struct Slave {
    pub identity: Identity,
    selected: bool,
    /// FCB of the last REQ_UD2 answered since the last reset.
    last_fcb: Option<bool>,
    /// Telegram sent last.
    current: usize,
    access_no: u8,
}

impl Slave {
    pub fn new(identity: Identity) -> Self {
        Slave {
            identity,
            selected: false,
            last_fcb: None,
            current: 0,
            access_no: 0,
        }
    }

    pub fn selected(&self) -> bool {
        self.selected
    }

    /// The reply to one master frame (a whole frame: a damaged one is not answered), with
    /// `telegrams` telegrams to read out in turn.
    pub fn on_frame(&mut self, frame: &[u8], telegrams: usize) -> Reply {
        let own = |a: u8, selected: bool| {
            a == self.identity.primary || a == ANY_ONE || (a == SELECTED && selected)
        };
        match frame {
            &[SHORT_START, c, a, cs, STOP] if c.wrapping_add(a) == cs => {
                if !own(a, self.selected) {
                    return Reply::Nothing;
                }
                match c {
                    0x40 => {
                        self.reset();
                        Reply::Ack
                    }
                    0x5B | 0x7B => {
                        let fcb = c & 0x20 != 0;
                        match self.last_fcb {
                            Some(last) if last == fcb => {} // a repeat: the same telegram
                            Some(_) => self.current = (self.current + 1) % telegrams.max(1),
                            None => self.current = 0,
                        }
                        self.last_fcb = Some(fcb);
                        Reply::Telegram(self.current)
                    }
                    _ => Reply::Nothing,
                }
            }
            [LONG_START, l, l2, LONG_START, body @ ..]
                if l == l2
                    && body.len() == usize::from(*l) + 2
                    && body[body.len() - 1] == STOP
                    && checksum(&body[..body.len() - 2]) == body[body.len() - 2] =>
            {
                let user = &body[..body.len() - 2];
                match user {
                    [0x53 | 0x73, SELECTED, CI_SELECT, address @ ..] => {
                        self.selected = self.identity.matches(address);
                        if self.selected {
                            self.reset();
                            Reply::Ack
                        } else {
                            Reply::Nothing
                        }
                    }
                    _ => Reply::Nothing,
                }
            }
            _ => Reply::Nothing,
        }
    }

    fn reset(&mut self) {
        self.last_fcb = None;
        self.current = 0;
    }

    /// An RSP_UD (CI 72) with the fixed header and `records`; each new telegram counts the
    /// access number up.
    pub fn rsp_ud(&mut self, records: &[u8]) -> Vec<u8> {
        self.access_no = self.access_no.wrapping_add(1);
        let id = self.identity;
        let mut data = Vec::with_capacity(12 + records.len());
        data.extend_from_slice(&id.id_bytes());
        data.extend_from_slice(&id.manufacturer.to_le_bytes());
        data.extend_from_slice(&[id.version, id.medium, self.access_no, 0x00, 0x00, 0x00]);
        data.extend_from_slice(records);
        encode_long(RSP_UD, id.primary, 0x72, &data)
    }

    /// The bytes of a reply, `records(n)` giving telegram n's data records.
    pub fn reply_bytes(&mut self, reply: Reply, records: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
        match reply {
            Reply::Nothing => Vec::new(),
            Reply::Ack => vec![ACK],
            Reply::Telegram(n) => self.rsp_ud(&records(n)),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{encode_short, parse};
    use super::*;

    /// A Kamstrup electricity meter (version 1) on the bus.
    pub(in super::super) fn kam(primary: u8, id: u32) -> Slave {
        Slave::new(Identity {
            primary,
            id,
            manufacturer: 0x2C2D,
            version: 1,
            medium: 2,
        })
    }

    fn select(address: [u8; 8]) -> Vec<u8> {
        encode_long(0x53, SELECTED, CI_SELECT, &address)
    }

    #[test]
    fn primary_addresses_and_broadcast() {
        let mut s = kam(5, 12345678);
        assert_eq!(s.on_frame(&encode_short(0x40, 5), 2), Reply::Ack);
        assert_eq!(s.on_frame(&encode_short(0x40, 6), 2), Reply::Nothing);
        assert_eq!(s.on_frame(&encode_short(0x40, 0xFE), 2), Reply::Ack);
        assert_eq!(s.on_frame(&encode_short(0x40, 0xFF), 2), Reply::Nothing);
        assert_eq!(s.on_frame(&encode_short(0x5B, 0xFD), 2), Reply::Nothing);
        let mut bad = encode_short(0x40, 5);
        bad[3] ^= 1;
        assert_eq!(s.on_frame(&bad, 2), Reply::Nothing);
    }

    #[test]
    fn fcb_toggles_to_the_next_telegram_and_repeats_otherwise() {
        let mut s = kam(1, 1);
        s.on_frame(&encode_short(0x40, 1), 2);
        let mut got = Vec::new();
        for c in [0x7B, 0x5B, 0x5B, 0x7B, 0x5B] {
            got.push(s.on_frame(&encode_short(c, 1), 2));
        }
        use Reply::Telegram as T;
        assert_eq!(got, [T(0), T(1), T(1), T(0), T(1)]);
    }

    #[test]
    fn select_with_wildcards() {
        let mut s = kam(0, 12345678);
        assert_eq!(s.identity.id_bytes(), [0x78, 0x56, 0x34, 0x12]);
        let wild = [0xFF; 8];
        assert_eq!(s.on_frame(&select(wild), 1), Reply::Ack);
        assert!(s.selected());
        assert_eq!(
            s.on_frame(&encode_short(0x7B, SELECTED), 1),
            Reply::Telegram(0)
        );
        // 1234567F: the last digit is a wildcard; 1234567 9 is someone else.
        let digit_wild = [0x7F, 0x56, 0x34, 0x12, 0x2D, 0x2C, 0xFF, 0x02];
        assert_eq!(s.on_frame(&select(digit_wild), 1), Reply::Ack);
        let other = [0x79, 0x56, 0x34, 0x12, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(s.on_frame(&select(other), 1), Reply::Nothing);
        assert!(!s.selected(), "a select of someone else deselects");
        let wrong_medium = [0x78, 0x56, 0x34, 0x12, 0xFF, 0xFF, 0xFF, 0x07];
        assert_eq!(s.on_frame(&select(wrong_medium), 1), Reply::Nothing);
    }

    #[test]
    fn rsp_ud_carries_the_identity() {
        let mut s = kam(7, 12345678);
        let frame = s.reply_bytes(Reply::Telegram(0), |_| vec![0x04, 0x03, 1, 0, 0, 0]);
        let t = parse(&frame).unwrap();
        assert_eq!((t.control, t.address, t.ci), (0x08, 7, Some(0x72)));
        let h = t.header.unwrap();
        assert_eq!(
            (h.id.as_str(), h.manufacturer.as_str(), h.version, h.medium),
            ("12345678", "KAM", 1, 2)
        );
        assert_eq!(h.access_no, 1);
        assert_eq!(s.reply_bytes(Reply::Ack, |_| Vec::new()), [ACK]);
    }
}
