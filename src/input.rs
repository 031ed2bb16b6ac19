//! Reading what `decode` is given: a file or stdin, as hex text or raw bytes, in chunks so large
//! captures are processed in constant memory.

use std::io::{self, Read};

/// How the input bytes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Hex pairs; white space and line breaks mean nothing.
    Hex,
    /// The bytes as they came off the wire.
    Raw,
}

/// Hex text is only hex digits and white space.
pub fn looks_like_hex(sample: &[u8]) -> bool {
    sample
        .iter()
        .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace())
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{name}: line {line}: '{ch}' is not a hex digit (use --input raw for binary data)")]
    NotHex { name: String, line: usize, ch: char },
    #[error("{name}: odd number of hex digits: the last byte is incomplete")]
    OddHex { name: String },
    #[error("cannot read {name}: {source}")]
    Io { name: String, source: io::Error },
}

/// Streaming hex decoder: digits may be split across chunks.
#[derive(Debug, Default)]
pub struct HexDecoder {
    pending: Option<u8>,
    line: usize,
}

impl HexDecoder {
    pub fn feed(&mut self, name: &str, text: &[u8], out: &mut Vec<u8>) -> Result<(), InputError> {
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
                    return Err(InputError::NotHex {
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

    pub fn finish(&self, name: &str) -> Result<(), InputError> {
        match self.pending {
            Some(_) => Err(InputError::OddHex {
                name: name.to_string(),
            }),
            None => Ok(()),
        }
    }
}

/// The OS error without Rust's "(os error 2)" suffix.
pub fn io_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Decodes a whole hex string (for tests and small inputs).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut dec = HexDecoder::default();
    dec.feed("input", text.as_bytes(), &mut out)?;
    dec.finish("input")?;
    Ok(out)
}

/// Reads `reader` in chunks, detecting hex or raw from the first chunk (unless forced), and
/// calls `sink` with the decoded bytes of each chunk.
pub fn read_chunks(
    name: &str,
    mut reader: impl Read,
    forced: Option<InputKind>,
    mut sink: impl FnMut(&[u8]),
) -> Result<InputKind, InputError> {
    const CHUNK: usize = 64 * 1024;
    let io_err = |source| InputError::Io {
        name: name.to_string(),
        source,
    };
    let mut buf = vec![0u8; CHUNK];
    let mut decoded = Vec::with_capacity(CHUNK / 2);
    let mut kind = forced;
    let mut hex = HexDecoder::default();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        let chunk = &buf[..n];
        let k = *kind.get_or_insert_with(|| {
            if looks_like_hex(chunk) {
                InputKind::Hex
            } else {
                InputKind::Raw
            }
        });
        match k {
            InputKind::Raw => sink(chunk),
            InputKind::Hex => {
                decoded.clear();
                hex.feed(name, chunk, &mut decoded)?;
                sink(&decoded);
            }
        }
    }
    let kind = kind.unwrap_or(InputKind::Hex);
    if kind == InputKind::Hex {
        hex.finish(name)?;
    }
    Ok(kind)
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
        assert!(matches!(parse_hex("7E A"), Err(InputError::OddHex { .. })));
        let e = parse_hex("7E\nZZ").unwrap_err().to_string();
        assert_eq!(
            e,
            "input: line 2: 'Z' is not a hex digit (use --input raw for binary data)"
        );
    }
}
