//! Mutations (byte-level, text, A-XDR aware) and the checks computed again after them, so the
//! damage reaches the decoders behind the checks; ciphered pushes sealed with the test keys.

use crate::inputs::{AUTHENTICATION_KEY, ENCRYPTION_KEY};
use crate::rng::Rng;
use kamscope::protocol::{hdlc, iec61107, p1};

/// Bytes worth trying at a mutated position: flags, starts and ends of every protocol, and the
/// edges of lengths.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x02, 0x03, 0x06, 0x0D, 0x0A, 0x10, 0x15, 0x16, 0x1B, 0x21, 0x2F, 0x40, 0x48, 0x68,
    0x7D, 0x7E, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xA0, 0xA8, 0xE5, 0xFE, 0xFF, b'!', b'(', b')', b'*',
];

/// One to four byte-level mutations: bit flips, byte sets, cuts, inserts, duplicates, splices.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..rng.range(1, 4) {
        let len = bytes.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                bytes[at] = rng.pick(INTERESTING);
            }
            2 if len > 0 => {
                let at = rng.below(len);
                let end = (at + rng.range(1, 16)).min(len);
                bytes.drain(at..end);
            }
            3 => {
                let at = rng.below(len + 1);
                let n = rng.range(1, 8);
                let junk = rng.bytes(n);
                bytes.splice(at..at, junk);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + rng.range(1, 64)).min(len);
                let copy = bytes[at..end].to_vec();
                let to = rng.below(len + 1);
                bytes.splice(to..to, copy);
            }
            5 if len > 0 => bytes.truncate(rng.below(len)),
            6 if !other.is_empty() => {
                // A splice: this input up to a point, the other from a point.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                bytes.truncate(cut);
                bytes.extend_from_slice(&other[from..]);
            }
            _ => {
                let at = rng.below(len + 1);
                bytes.insert(at, rng.byte());
            }
        }
    }
}

/// One of `pool`'s texts mutated, with pieces of another of them; `None` for an empty pool.
pub fn mutated_text(rng: &mut Rng, pool: &[Vec<u8>]) -> Option<Vec<u8>> {
    if pool.is_empty() {
        return None;
    }
    let mut bytes = rng.choose(pool).clone();
    let other = rng.choose(pool).clone();
    mutate_text(rng, &mut bytes, &other);
    Some(bytes)
}

/// Mutations of text protocols: the byte-level ones, and lines changed as lines.
pub fn mutate_text(rng: &mut Rng, bytes: &mut Vec<u8>, other: &[u8]) {
    if rng.one_in(2) {
        mutate(rng, bytes, other);
        return;
    }
    let len = bytes.len();
    let at = rng.below(len + 1);
    let insert: &[u8] = rng.pick(&[
        &b"\r\n"[..],
        b"\n",
        b"(",
        b")",
        b"*",
        b"((((((((((",
        b"99999999999999999999999999999999999999999",
        b"-0.000000000000000000001",
        b"1-0:1.8.0(",
        b"0-0:96.13.0(" as &[u8],
        b"(FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)",
        b"\xC3\xA9\xF0\x9F\x98\x80",
        b"\xFF\xFE",
        b"0-1:24.2.1(999999999999W)(1.0*m3)",
        b"1.8.1(0000000.0*kWh)\r\n",
        b"(1e308*kWh)",
    ]);
    bytes.splice(at..at, insert.iter().copied());
}

/// A-XDR aware mutations of an information field (E6 E7 00 then the APDU): lengths made huge or
/// odd, elements nested deep, types changed.
pub fn mutate_axdr(rng: &mut Rng, info: &mut Vec<u8>) {
    let len = info.len();
    if len < 4 {
        let other = Vec::new();
        mutate(rng, info, &other);
        return;
    }
    // Past the LLC header and the APDU tag.
    let at = rng.range(4, len);
    match rng.below(7) {
        0 => {
            // A BER length where a length or count may be.
            let ber: &[u8] = rng.pick(&[
                &[0x84, 0xFF, 0xFF, 0xFF, 0xFF][..],
                &[0x84, 0x7F, 0xFF, 0xFF, 0xFF],
                &[0x82, 0xFF, 0xFF],
                &[0x81, 0xFF],
                &[0x80],
                &[0x83, 0x01, 0x00, 0x00],
                &[0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                &[0x7F],
            ]);
            info.splice(at..(at + 1).min(len), ber.iter().copied());
        }
        1 => {
            // An array or structure whose count claims more than there is.
            let tag = rng.pick(&[0x01, 0x02]);
            let count = rng.pick(&[0x00, 0x7F, 0x81, 0x82, 0x84]);
            let mut head = vec![tag, count];
            if count > 0x80 {
                head.extend(std::iter::repeat_n(0xFF, usize::from(count - 0x80)));
            }
            info.splice(at..at, head);
        }
        2 => {
            let depth = rng.range(1, 400);
            let nest = nesting(rng, depth);
            info.splice(at..at, nest);
        }
        3 if at < len => {
            // A type tag replaced by another.
            info[at] = rng.pick(&[
                0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x09, 0x0A, 0x0C, 0x0F, 0x10, 0x11, 0x12,
                0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0xFF,
            ]);
        }
        4 => info.truncate(at),
        _ => {
            let other = Vec::new();
            mutate(rng, info, &other);
        }
    }
}

/// Structures of structures (or arrays) `depth` deep around a value.
pub fn nesting(rng: &mut Rng, depth: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(depth * 2 + 8);
    for _ in 0..depth {
        out.push(rng.pick(&[0x02, 0x02, 0x01]));
        out.push(rng.pick(&[0x01, 0x01, 0x02]));
    }
    out.extend_from_slice(&[0x06, 0x00, 0x00, 0x01, 0x00]);
    out
}
/// Computes the HCS of a frame starting with a flag again, and the FCS over its bytes as they
/// are when `fcs` is set.
pub fn refix_hdlc(frame: &mut [u8], fcs: bool) {
    let n = frame.len();
    if let hdlc::HeaderParse::Header(h) = hdlc::parse_header(&frame[1..])
        && 1 + h.len + 2 <= n
    {
        let hcs = hdlc::crc16(&frame[1..1 + h.len]).to_le_bytes();
        frame[1 + h.len..1 + h.len + 2].copy_from_slice(&hcs);
        if fcs && n >= 1 + h.len + 2 + 3 {
            let value = hdlc::crc16(&frame[1..n - 3]).to_le_bytes();
            frame[n - 3..n - 1].copy_from_slice(&value);
        }
    }
}

/// Sets the BCC after the first ETX (after an STX or SOH) by the XOR or the additive rule.
pub fn refix_bcc(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let Some(start) = bytes.iter().position(|b| *b == 0x02 || *b == 0x01) else {
        return;
    };
    let Some(etx) = bytes[start..].iter().position(|b| *b == 0x03 || *b == 0x04) else {
        return;
    };
    let etx = start + etx;
    let covered = &bytes[start + 1..=etx];
    let bcc = if rng.one_in(2) {
        iec61107::bcc_xor(covered)
    } else {
        iec61107::bcc_additive(covered)
    };
    if etx + 1 < bytes.len() {
        bytes[etx + 1] = bcc;
    } else {
        bytes.push(bcc);
    }
}

/// Writes the CRC of a telegram (from `/` through `!`) after its `!`.
pub fn refix_p1(bytes: &mut Vec<u8>) {
    let Some(start) = bytes.iter().position(|b| *b == b'/') else {
        return;
    };
    let Some(end) = bytes[start..].iter().rposition(|b| *b == b'!') else {
        return;
    };
    let end = start + end;
    let crc = format!("{:04X}", p1::crc16(&bytes[start..=end]));
    let old = bytes[end + 1..]
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    bytes.splice(end + 1..end + 1 + old, crc.bytes());
}

type Gcm = aes_gcm::AesGcm<
    aes_gcm::aes::Aes128,
    aes_gcm::aes::cipher::consts::U12,
    aes_gcm::aes::cipher::consts::U12,
>;

/// A general-glo-ciphering APDU around `content` with security control `sc`, sealed with the test
/// keys (IV = system title || invocation counter; AAD = SC || AK, and the content when only
/// authenticated), as a meter seals its push.
pub fn seal(sc: u8, content: &[u8], counter: u32) -> Vec<u8> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    const TITLE: [u8; 8] = *b"KAM\x00\x01\x02\x03\x04";
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&TITLE);
    iv[8..].copy_from_slice(&counter.to_be_bytes());
    let nonce = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::from(iv);
    let cipher = Gcm::new_from_slice(&ENCRYPTION_KEY).expect("16-byte key");
    let mut aad = vec![sc];
    aad.extend_from_slice(&AUTHENTICATION_KEY);
    let sealed = match (sc & 0x20 != 0, sc & 0x10 != 0) {
        (true, true) => cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: content,
                    aad: &aad,
                },
            )
            .expect("sealing in memory"),
        (true, false) => {
            // Encrypted only: GCM's ciphertext without its tag.
            let mut c = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: content,
                        aad: &aad,
                    },
                )
                .expect("sealing in memory");
            c.truncate(content.len());
            c
        }
        (false, true) => {
            aad.extend_from_slice(content);
            let tag = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &[],
                        aad: &aad,
                    },
                )
                .expect("sealing in memory");
            [content, &tag].concat()
        }
        (false, false) => content.to_vec(),
    };
    let mut apdu = vec![kamscope::protocol::dlms::GENERAL_GLO_CIPHERING, 8];
    apdu.extend_from_slice(&TITLE);
    kamscope::protocol::axdr::encode_length(5 + sealed.len(), &mut apdu);
    apdu.push(sc);
    apdu.extend_from_slice(&counter.to_be_bytes());
    apdu.extend_from_slice(&sealed);
    apdu
}
