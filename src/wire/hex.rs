//! Hex text: how bytes are written in recordings, JSON output and hex captures, and a streaming
//! decoder for hex input whose digits may be split across chunks.

/// Upper-case hex pairs without separators: `7EA0`.
pub fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    encode_into(bytes, &mut s);
    s
}

/// The two upper-case hex digits of every byte value, built at compile time.
const PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut table = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = [DIGITS[b >> 4], DIGITS[b & 0x0F]];
        b += 1;
    }
    table
};

/// The two upper-case hex digits of a byte.
pub fn pair(b: u8) -> [u8; 2] {
    PAIRS[usize::from(b)]
}

/// One byte as `0x7E`, on the stack.
pub fn byte_0x(b: u8) -> [u8; 4] {
    let [hi, lo] = pair(b);
    [b'0', b'x', hi, lo]
}

/// One byte as `0x7E`.
pub fn byte_text(b: u8) -> String {
    ascii_text(&byte_0x(b))
}

/// A 16-bit value as `0x9A23` (four digits), on the stack.
pub fn half_word_0x(v: u16) -> [u8; 6] {
    let ([hi_1, hi_2], [lo_1, lo_2]) = (pair((v >> 8) as u8), pair(v as u8));
    [b'0', b'x', hi_1, hi_2, lo_1, lo_2]
}

/// A 32-bit value as `0x0000002A` (eight digits), on the stack.
pub fn word_0x(v: u32) -> [u8; 10] {
    let mut out = [0u8; 10];
    out[..2].copy_from_slice(b"0x");
    for (digits, b) in out[2..].chunks_exact_mut(2).zip(v.to_be_bytes()) {
        digits.copy_from_slice(&pair(b));
    }
    out
}

/// A 32-bit value as `0x0000002A` (eight digits).
pub fn word_text(v: u32) -> String {
    ascii_text(&word_0x(v))
}

fn ascii_text(ascii: &[u8]) -> String {
    ascii.iter().map(|&b| char::from(b)).collect()
}

/// Appends the upper-case hex pairs of `bytes` to `out` (as [`encode`], without a new `String`).
pub fn encode_into(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len() * 2);
    encode_blocks(bytes, |block| {
        // Hex digits are ASCII: each block is text as it stands.
        out.push_str(std::str::from_utf8(block).unwrap_or_default())
    });
}

/// Appends the upper-case hex pairs of `bytes` to a byte buffer (JSON output).
pub fn encode_to_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() * 2);
    encode_blocks(bytes, |block| out.extend_from_slice(block));
}

/// The hex digits of `bytes`, a block at a time through a buffer on the stack (one copy a block
/// rather than one a byte).
fn encode_blocks(bytes: &[u8], mut emit: impl FnMut(&[u8])) {
    const BLOCK: usize = 64;
    let mut buf = [[0u8; 2]; BLOCK];
    for block in bytes.chunks(BLOCK) {
        // A pair a store.
        for (digits, &b) in buf.iter_mut().zip(block) {
            *digits = pair(b);
        }
        emit(buf[..block.len()].as_flattened());
    }
}

/// Hex text is only hex digits and white space.
pub fn looks_like_hex(sample: &[u8]) -> bool {
    sample
        .iter()
        .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("{name}: line {line}: '{ch}' is not a hex digit (use --input raw for binary data)")]
    NotHex { name: String, line: usize, ch: char },
    #[error("{name}: odd number of hex digits: the last byte is incomplete")]
    OddHex { name: String },
}

/// Streaming hex decoder: white space and line breaks mean nothing.
#[derive(Debug, Default)]
pub struct HexDecoder {
    pending: Option<u8>,
    line: usize,
}

impl HexDecoder {
    /// Decodes `text` into `out`; `name` names the input in errors.
    pub fn feed(&mut self, name: &str, text: &[u8], out: &mut Vec<u8>) -> Result<(), HexError> {
        for &c in text {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                b'\n' => {
                    self.line += 1;
                    continue;
                }
                c if c.is_ascii_whitespace() => continue,
                other => {
                    return Err(HexError::NotHex {
                        name: name.to_string(),
                        line: self.line + 1,
                        ch: char::from(other),
                    });
                }
            };
            match self.pending.take() {
                Some(hi) => out.push((hi << 4) | v),
                None => self.pending = Some(v),
            }
        }
        Ok(())
    }

    /// The end of the input: an odd digit left over is an error.
    pub fn finish(&self, name: &str) -> Result<(), HexError> {
        match self.pending {
            Some(_) => Err(HexError::OddHex {
                name: name.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// Decodes a whole hex string (recordings, keys, tests).
pub fn parse(text: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut dec = HexDecoder::default();
    dec.feed("input", text.as_bytes(), &mut out)?;
    dec.finish("input")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_split_across_chunks_and_errors() {
        let mut out = Vec::new();
        let mut d = HexDecoder::default();
        d.feed("x", b"7E A", &mut out).unwrap();
        d.feed("x", b"0 e2\n", &mut out).unwrap();
        d.finish("x").unwrap();
        assert_eq!(out, vec![0x7E, 0xA0, 0xE2]);
        assert_eq!(encode(&out), "7EA0E2");
        let all: Vec<u8> = (0..=255).collect();
        let formatted: String = all.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(encode(&all), formatted);
        for b in all {
            assert_eq!(byte_text(b), format!("0x{b:02X}"));
        }
        for v in [0, 0x2A, 0x00FF_1000, u32::MAX] {
            assert_eq!(word_text(v), format!("0x{v:08X}"));
        }
        let mut bytes = Vec::new();
        encode_to_bytes(&(0..=255).collect::<Vec<u8>>(), &mut bytes);
        assert_eq!(String::from_utf8(bytes).unwrap(), formatted);
        // Every length around the blocks.
        let long: Vec<u8> = (0..300u32).map(|i| (i * 97 + 13) as u8).collect();
        for len in (0..5).chain(62..67).chain(126..131).chain([300]) {
            let want: String = long[..len].iter().map(|b| format!("{b:02X}")).collect();
            let mut got = Vec::new();
            encode_to_bytes(&long[..len], &mut got);
            assert_eq!(String::from_utf8(got).unwrap(), want, "{len}");
            assert_eq!(encode(&long[..len]), want);
        }
        assert!(matches!(parse("7E A"), Err(HexError::OddHex { .. })));
        let e = parse("7E\nZZ").unwrap_err().to_string();
        assert_eq!(
            e,
            "input: line 2: 'Z' is not a hex digit (use --input raw for binary data)"
        );
    }
}
