//! A bit-level model of an asynchronous serial line (a UART pair), for testing what a receiver
//! set to the wrong line settings makes of a meter's bytes. A pseudo-terminal ignores line
//! settings, so this is how line-setting detection is tested.
//!
//! The transmitter turns bytes into the line's levels, one entry per bit time at its own speed:
//! start bit (low), data bits least significant first, the parity bit, stop bits (high), and
//! idle (high) between bursts. The receiver samples that line the way a 16x-oversampling UART
//! (the 16550 and the USB adapters' chips) does, at its own speed:
//! - it hunts for the start bit by level: the first of its 16x clock ticks where the line is low
//!   begins a start bit, which must still be low half a bit later (else it was a glitch and the
//!   hunt goes on one tick later);
//! - every further bit is sampled once, in its middle, one bit time of the receiver apart;
//! - a parity bit that does not match is a parity error, a low stop bit is a framing error;
//! - the hunt for the next start bit begins at the middle of the (first) stop bit, so after a
//!   framing error a line that is still low starts the next byte at once (as a 16550 does).
//!
//! Every byte comes out with its errors flagged ([`RxByte`]); [`Delivery`] says what the program
//! reading the port then gets, which depends on the termios flags and the driver.

/// Parity of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    None,
    Even,
    Odd,
}

/// The line settings of one end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFormat {
    pub baud: u32,
    /// 5 to 8.
    pub data_bits: u8,
    pub parity: Parity,
    /// 1 or 2.
    pub stop_bits: u8,
}

impl LineFormat {
    /// The parity bit for `data` (its low `data_bits` bits), if the format has one.
    fn parity_bit(&self, data: u8) -> Option<bool> {
        let ones = (data & self.mask()).count_ones();
        match self.parity {
            Parity::None => None,
            Parity::Even => Some(!ones.is_multiple_of(2)),
            Parity::Odd => Some(ones.is_multiple_of(2)),
        }
    }

    fn mask(&self) -> u8 {
        (((1u16) << self.data_bits.clamp(5, 8)) - 1) as u8
    }
}

/// The levels on a line, one per bit time of the transmitter (`true` is high: idle, mark, 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub baud: u32,
    pub levels: Vec<bool>,
}

impl Line {
    /// A quiet line at `baud`.
    pub fn new(baud: u32) -> Self {
        Line {
            baud,
            levels: Vec::new(),
        }
    }

    /// The line stays idle (high) for `bits` bit times.
    pub fn idle(&mut self, bits: usize) {
        self.levels.extend(std::iter::repeat_n(true, bits));
    }

    /// Sends `bytes` back to back in `format` (at this line's speed; the format's own speed is
    /// not looked at, so one stream can be played at any speed).
    pub fn send(&mut self, format: LineFormat, bytes: &[u8]) {
        for &byte in bytes {
            self.levels.push(false);
            let data = byte & format.mask();
            for i in 0..format.data_bits.clamp(5, 8) {
                self.levels.push(data >> i & 1 == 1);
            }
            self.levels.extend(format.parity_bit(data));
            self.idle(usize::from(format.stop_bits.clamp(1, 2)));
        }
    }
}

/// A byte as the receiving UART took it in, with its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxByte {
    /// The data bits as sampled.
    pub value: u8,
    pub parity_error: bool,
    /// A stop bit was low.
    pub framing_error: bool,
}

impl RxByte {
    pub fn error(&self) -> bool {
        self.parity_error || self.framing_error
    }
}

/// What the program reading the port gets for a byte with a parity or framing error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The byte as sampled, errors unseen: Linux without `INPCK`, or a raw line on a USB
    /// adapter (what a port opened without parity usually does).
    AsSampled,
    /// A 0x00 in its place: Linux with `INPCK` and neither `IGNPAR` nor `PARMRK` (what a port
    /// opened with even or odd parity through tokio-serial does).
    Zeroed,
    /// Left out: Linux with `IGNPAR` on a 16550-type UART.
    Dropped,
}

/// Samples `line` with a receiver set to `format` (at `format.baud`) and gives every byte it
/// takes in. Past the end, the line is idle.
pub fn receive(line: &Line, format: LineFormat) -> Vec<RxByte> {
    // Time is counted in the transmitter's bit times.
    let bit = f64::from(line.baud) / f64::from(format.baud.max(1));
    let tick = bit / 16.0;
    let end = line.levels.len() as f64;
    let level = |t: f64| t >= end || t < 0.0 || line.levels[t as usize];
    let data_bits = format.data_bits.clamp(5, 8);
    let mut out = Vec::new();
    let mut t = 0.0;
    while t < end {
        if level(t) {
            t += tick;
            continue;
        }
        let middle = t + bit / 2.0;
        if level(middle) {
            // A glitch, not a start bit.
            t += tick;
            continue;
        }
        let mut sample_at = middle;
        let mut value = 0u8;
        for i in 0..data_bits {
            sample_at += bit;
            if level(sample_at) {
                value |= 1 << i;
            }
        }
        let parity_error = match format.parity_bit(value) {
            Some(expected) => {
                sample_at += bit;
                level(sample_at) != expected
            }
            None => false,
        };
        let mut framing_error = false;
        let mut first_stop = None;
        for _ in 0..format.stop_bits.clamp(1, 2) {
            sample_at += bit;
            first_stop.get_or_insert(sample_at);
            framing_error |= !level(sample_at);
        }
        out.push(RxByte {
            value,
            parity_error,
            framing_error,
        });
        t = first_stop.unwrap_or(sample_at);
    }
    out
}

/// The bytes a program reads from a port set to `format` that hears `line`.
pub fn read(line: &Line, format: LineFormat, delivery: Delivery) -> Vec<u8> {
    receive(line, format)
        .into_iter()
        .filter_map(|b| match (b.error(), delivery) {
            (false, _) | (true, Delivery::AsSampled) => Some(b.value),
            (true, Delivery::Zeroed) => Some(0),
            (true, Delivery::Dropped) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const N81: LineFormat = LineFormat {
        baud: 2400,
        data_bits: 8,
        parity: Parity::None,
        stop_bits: 1,
    };
    const E81: LineFormat = LineFormat {
        parity: Parity::Even,
        ..N81
    };

    #[test]
    fn a_byte_on_the_line() {
        let mut line = Line::new(2400);
        line.send(E81, &[0x03]);
        // start, 1100 0000 (LSB first), even parity of two ones = 0, stop.
        let bits: String = line
            .levels
            .iter()
            .map(|&b| if b { '1' } else { '0' })
            .collect();
        assert_eq!(bits, "01100000001");
    }

    #[test]
    fn same_settings_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        for format in [N81, E81] {
            let mut line = Line::new(format.baud);
            line.idle(3);
            line.send(format, &bytes);
            let rx = receive(&line, format);
            assert!(rx.iter().all(|b| !b.error()));
            assert_eq!(read(&line, format, Delivery::Zeroed), bytes);
        }
    }

    #[test]
    fn a_missing_parity_bit_is_seen() {
        // 0x01 sent 8N1 with idle after: the 8E1 receiver takes the stop bit (1) as parity,
        // where even parity of one 1 is 1: no error; the idle line is its stop bit.
        let mut line = Line::new(2400);
        line.send(N81, &[0x01, 0x03]);
        line.idle(4);
        let rx = receive(&line, E81);
        assert_eq!(rx[0].value, 0x01);
        assert!(!rx[0].parity_error);
        // Back to back, its stop bit falls on the next byte's start bit.
        assert!(rx[0].framing_error);
    }
}
