//! DLMS application layer for push meters: the DataNotification APDU and the general-glo-ciphering
//! envelope that Danish and Swiss meters wrap it in.

use super::axdr::{Data, DecodeError, Reader};
use super::datetime::DateTime;
use std::ops::Range;

pub const DATA_NOTIFICATION: u8 = 0x0F;
pub const GENERAL_GLO_CIPHERING: u8 = 0xDB;
pub const GENERAL_BLOCK_TRANSFER: u8 = 0xE0;

/// How the notification header carried its date-time. Real meters use all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderTime {
    /// `00`: no date-time (Aidon).
    Absent,
    /// `0C` + 12 bytes: an octet-string length and the date-time (Kamstrup today).
    Octet(DateTime),
    /// `09 0C` + 12 bytes: with the octet-string tag (Kaifa, Kamstrup firmware of 2017).
    Tagged(DateTime),
}

impl HeaderTime {
    pub fn datetime(&self) -> Option<&DateTime> {
        match self {
            HeaderTime::Absent => None,
            HeaderTime::Octet(d) | HeaderTime::Tagged(d) => Some(d),
        }
    }

    pub fn form(&self) -> &'static str {
        match self {
            HeaderTime::Absent => "absent (00)",
            HeaderTime::Octet(_) => "0C + 12 bytes",
            HeaderTime::Tagged(_) => "09 0C + 12 bytes",
        }
    }
}

/// A DataNotification to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct DataNotification {
    /// long-invoke-id-and-priority.
    pub invoke_id: u32,
    pub time: HeaderTime,
    pub body: Data,
}

/// A parsed DataNotification: the header, and where its A-XDR body lies. The body is walked by
/// whoever needs it ([`super::han::map`] straight into fields, [`Notification::body_data`] as a
/// tree), so no intermediate copy is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub invoke_id: u32,
    pub time: HeaderTime,
    /// The body, as indices into the APDU given to [`parse_apdu`].
    pub body: Range<usize>,
}

impl Notification {
    /// Decodes the body as a `Data` tree. `base` is the APDU's offset, for error messages.
    pub fn body_data(&self, apdu: &[u8], base: usize) -> Result<Data, DecodeError> {
        super::axdr::decode(&apdu[self.body.clone()], base + self.body.start)
    }
}

/// The clear header of a general-glo-ciphering APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GloCiphering {
    pub system_title: [u8; 8],
    pub security_control: u8,
    pub invocation_counter: u32,
    /// Ciphertext (without the tag), as indices into the buffer given to [`parse_apdu`].
    pub ciphertext: Range<usize>,
    /// The authentication tag (12 bytes) when the security control says authenticated.
    pub tag: Option<[u8; 12]>,
}

impl GloCiphering {
    pub fn encrypted(&self) -> bool {
        self.security_control & 0x20 != 0
    }
    pub fn authenticated(&self) -> bool {
        self.security_control & 0x10 != 0
    }
    /// The manufacturer part of the system title ("KAM"), when printable.
    pub fn manufacturer(&self) -> Option<String> {
        let m = &self.system_title[..3];
        m.iter()
            .all(u8::is_ascii_alphanumeric)
            .then(|| String::from_utf8_lossy(m).into_owned())
    }
}

/// One block of a general-block-transfer (tag E0): a long APDU split into blocks, each of which
/// may arrive in its own HDLC frame (Landis+Gyr E450 pushes). Joined in block-number order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTransfer {
    /// The control byte: last-block bit 0x80, streaming 0x40, window size in the low 6 bits.
    pub control: u8,
    pub block_number: u16,
    pub block_number_ack: u16,
    /// The block data, as indices into the buffer given to [`parse_apdu`].
    pub data: Range<usize>,
}

impl BlockTransfer {
    pub fn last(&self) -> bool {
        self.control & 0x80 != 0
    }
    pub fn streaming(&self) -> bool {
        self.control & 0x40 != 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Apdu {
    DataNotification(Notification),
    GloCiphering(GloCiphering),
    BlockTransfer(BlockTransfer),
}

/// Parses an APDU. `base` is its offset in the frame, for error messages.
pub fn parse_apdu(apdu: &[u8], base: usize) -> Result<Apdu, DecodeError> {
    let mut r = Reader::new(apdu, base);
    match r.u8()? {
        DATA_NOTIFICATION => {
            let invoke_id = u32::from_be_bytes(r.take(4)?.try_into().expect("4 bytes"));
            let time = match r.peek() {
                Some(0x00) => {
                    r.u8()?;
                    HeaderTime::Absent
                }
                Some(0x0C) => {
                    r.u8()?;
                    HeaderTime::Octet(DateTime::from_slice(r.take(12)?).expect("12 bytes"))
                }
                Some(0x09) => {
                    r.u8()?;
                    let len = r.u8()?;
                    if len != 12 {
                        return Err(
                            r.error(format!("header date-time of {len} bytes, expected 12"))
                        );
                    }
                    HeaderTime::Tagged(DateTime::from_slice(r.take(12)?).expect("12 bytes"))
                }
                Some(other) => {
                    return Err(r.error(format!(
                        "header date-time starts with 0x{other:02X}, expected 00, 0C or 09 0C"
                    )));
                }
                None => return Err(r.error("notification ends before its date-time")),
            };
            if r.remaining() == 0 {
                return Err(r.error("notification has no body"));
            }
            Ok(Apdu::DataNotification(Notification {
                invoke_id,
                time,
                body: r.position()..apdu.len(),
            }))
        }
        GENERAL_GLO_CIPHERING => {
            let title_len = r.length()?;
            if title_len != 8 {
                return Err(r.error(format!("system title of {title_len} bytes, expected 8")));
            }
            let system_title: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
            let len = r.length()?;
            let content_start = r.position();
            if len > r.remaining() {
                return Err(r.error(format!(
                    "ciphered content of {len} bytes, only {} present",
                    r.remaining()
                )));
            }
            let security_control = r.u8()?;
            let invocation_counter = u32::from_be_bytes(r.take(4)?.try_into().expect("4 bytes"));
            let content_end = content_start + len;
            let authenticated = security_control & 0x10 != 0;
            let tag_len = if authenticated { 12 } else { 0 };
            let ct_start = r.position();
            if content_end < ct_start + tag_len {
                return Err(r.error("ciphered content too short for its tag"));
            }
            let ct_end = content_end - tag_len;
            let tag =
                authenticated.then(|| apdu[ct_end..content_end].try_into().expect("12 bytes"));
            Ok(Apdu::GloCiphering(GloCiphering {
                system_title,
                security_control,
                invocation_counter,
                ciphertext: ct_start..ct_end,
                tag,
            }))
        }
        GENERAL_BLOCK_TRANSFER => {
            let control = r.u8()?;
            let block_number = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes"));
            let block_number_ack = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes"));
            let len = r.length()?;
            if len != r.remaining() {
                return Err(r.error(format!(
                    "block data of {len} bytes, {} present",
                    r.remaining()
                )));
            }
            Ok(Apdu::BlockTransfer(BlockTransfer {
                control,
                block_number,
                block_number_ack,
                data: r.position()..apdu.len(),
            }))
        }
        other => Err(DecodeError::new(
            base,
            format!("APDU tag 0x{other:02X} is not a DataNotification (0x0F) or ciphered (0xDB)"),
        )),
    }
}

/// The byte map of an APDU starting at frame offset `base`: the header parts [`parse_apdu`] read,
/// then the body as the A-XDR decoder walks it (or the parts of a ciphered envelope). The error
/// is where the walk stopped.
pub fn apdu_regions(
    apdu: &[u8],
    base: usize,
    r: &mut super::region::Regions,
) -> Result<(), DecodeError> {
    use super::region::RegionKind;
    match parse_apdu(apdu, base)? {
        Apdu::DataNotification(n) => {
            r.add(base..base + 1, RegionKind::ApduHeader, "DataNotification");
            r.add(
                base + 1..base + 5,
                RegionKind::ApduHeader,
                "invoke id and priority",
            );
            r.add(
                base + 5..base + n.body.start,
                RegionKind::DateTime,
                match n.time {
                    HeaderTime::Absent => "no date-time".to_string(),
                    t => format!("date-time ({})", t.form()),
                },
            );
            let mut reader = Reader::new(&apdu[n.body.clone()], base + n.body.start);
            reader.data_walk(r)?;
            if reader.remaining() > 0 {
                return Err(reader.error(format!("{} bytes after the body", reader.remaining())));
            }
            Ok(())
        }
        Apdu::GloCiphering(glo) => {
            let sc = glo.ciphertext.start - 5;
            r.add(base..base + 1, RegionKind::Cipher, "general-glo-ciphering");
            r.add(base + 1..base + 10, RegionKind::Cipher, "system title");
            r.add(base + 10..base + sc, RegionKind::Cipher, "length");
            r.add(
                base + sc..base + sc + 1,
                RegionKind::Cipher,
                "security control",
            );
            r.add(
                base + sc + 1..base + glo.ciphertext.start,
                RegionKind::Cipher,
                "invocation counter",
            );
            r.add(
                base + glo.ciphertext.start..base + glo.ciphertext.end,
                RegionKind::Cipher,
                "ciphertext",
            );
            if glo.tag.is_some() {
                r.add(
                    base + glo.ciphertext.end..base + glo.ciphertext.end + 12,
                    RegionKind::Check,
                    "authentication tag",
                );
            }
            Ok(())
        }
        Apdu::BlockTransfer(b) => {
            r.add(
                base..base + 1,
                RegionKind::ApduHeader,
                "general-block-transfer",
            );
            let control = format!(
                "block control 0x{:02X}{}{}",
                b.control,
                if b.last() { ": last block" } else { "" },
                if b.streaming() { ", streaming" } else { "" }
            );
            r.add(base + 1..base + 2, RegionKind::ApduHeader, control);
            r.add(
                base + 2..base + 4,
                RegionKind::ApduHeader,
                format!("block number {}", b.block_number),
            );
            r.add(
                base + 4..base + 6,
                RegionKind::ApduHeader,
                format!("block number acknowledged {}", b.block_number_ack),
            );
            r.add(
                base + 6..base + b.data.start,
                RegionKind::ApduHeader,
                "length",
            );
            r.add(
                base + b.data.start..base + b.data.end,
                RegionKind::Value,
                format!(
                    "block {} data (decoded when the blocks are joined)",
                    b.block_number
                ),
            );
            Ok(())
        }
    }
}

/// Keys for general-glo-ciphering (AES-128-GCM).
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub encryption: [u8; 16],
    pub authentication: Option<[u8; 16]>,
}

/// A key is never printed, not even in a debug dump of the app's state.
impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("encryption", &"<hidden>")
            .field("authentication", &self.authentication.map(|_| "<hidden>"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("decryption failed: wrong key, or the frame was damaged (authentication tag mismatch)")]
    Authentication,
    #[error("security control 0x{0:02X}: unencrypted or unsupported security suite")]
    Unsupported(u8),
    #[error("frame is authenticated but no authentication key was given")]
    NoAuthenticationKey,
}

type Gcm = aes_gcm::AesGcm<
    aes_gcm::aes::Aes128,
    aes_gcm::aes::cipher::consts::U12,
    aes_gcm::aes::cipher::consts::U12,
>;

fn supported(glo: &GloCiphering) -> Result<(), DecryptError> {
    if !glo.encrypted() && !glo.authenticated() || glo.security_control & 0x0F != 0 {
        return Err(DecryptError::Unsupported(glo.security_control));
    }
    Ok(())
}

/// IV = system title || invocation counter.
fn iv(glo: &GloCiphering) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&glo.system_title);
    iv[8..].copy_from_slice(&glo.invocation_counter.to_be_bytes());
    iv
}

/// GCM's keystream without its tag: AES-CTR starting at counter 2.
fn ctr_decrypt(content: &[u8], glo: &GloCiphering, key: &[u8; 16]) -> Vec<u8> {
    use aes_gcm::aes::Aes128;
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let mut ctr_iv = [0u8; 16];
    ctr_iv[..12].copy_from_slice(&iv(glo));
    ctr_iv[15] = 2;
    let mut out = content.to_vec();
    let mut ctr = ctr::Ctr32BE::<Aes128>::new(&(*key).into(), &ctr_iv.into());
    ctr.apply_keystream(&mut out);
    out
}

/// Decrypts (and, when authenticated, verifies) a glo-ciphered APDU's content.
/// IV = system title || invocation counter; AAD = security control || authentication key (and,
/// authenticated only, the content itself).
pub fn decrypt(apdu: &[u8], glo: &GloCiphering, keys: &Keys) -> Result<Vec<u8>, DecryptError> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    supported(glo)?;
    let content = &apdu[glo.ciphertext.clone()];
    let Some(tag) = glo.tag else {
        // Encryption only: nothing to verify.
        return Ok(ctr_decrypt(content, glo, &keys.encryption));
    };
    let ak = keys
        .authentication
        .ok_or(DecryptError::NoAuthenticationKey)?;
    let cipher = Gcm::new_from_slice(&keys.encryption).expect("16-byte key");
    let nonce = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::from(iv(glo));
    let mut aad = vec![glo.security_control];
    aad.extend_from_slice(&ak);
    let mut msg = Vec::with_capacity(content.len() + 12);
    if glo.encrypted() {
        msg.extend_from_slice(content);
    } else {
        // Authenticated only: the content is clear and part of the authenticated data.
        aad.extend_from_slice(content);
    }
    msg.extend_from_slice(&tag);
    let plain = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &msg,
                aad: &aad,
            },
        )
        .map_err(|_| DecryptError::Authentication)?;
    Ok(if glo.encrypted() {
        plain
    } else {
        content.to_vec()
    })
}

/// A glo-ciphered APDU's content without checking its authentication tag, for a push whose
/// authentication key was not given: GCM without the tag check is AES-CTR from counter 2, and
/// content that is authenticated only is clear. Nothing proves the result is what the meter sent
/// (a wrong encryption key gives noise that rarely decodes): mark what is decoded from it
/// unverified.
pub fn decrypt_unchecked(
    apdu: &[u8],
    glo: &GloCiphering,
    encryption_key: &[u8; 16],
) -> Result<Vec<u8>, DecryptError> {
    supported(glo)?;
    let content = &apdu[glo.ciphertext.clone()];
    Ok(if glo.encrypted() {
        ctr_decrypt(content, glo, encryption_key)
    } else {
        content.to_vec()
    })
}

/// Appends one general-block-transfer block (tag E0) carrying `data`.
pub fn encode_block_transfer(
    control: u8,
    block_number: u16,
    block_number_ack: u16,
    data: &[u8],
    out: &mut Vec<u8>,
) {
    out.push(GENERAL_BLOCK_TRANSFER);
    out.push(control);
    out.extend_from_slice(&block_number.to_be_bytes());
    out.extend_from_slice(&block_number_ack.to_be_bytes());
    super::axdr::encode_length(data.len(), out);
    out.extend_from_slice(data);
}

/// Appends a DataNotification APDU.
pub fn encode_data_notification(n: &DataNotification, out: &mut Vec<u8>) {
    out.push(DATA_NOTIFICATION);
    out.extend_from_slice(&n.invoke_id.to_be_bytes());
    match &n.time {
        HeaderTime::Absent => out.push(0x00),
        HeaderTime::Octet(dt) => {
            out.push(0x0C);
            out.extend_from_slice(&dt.raw);
        }
        HeaderTime::Tagged(dt) => {
            out.extend_from_slice(&[0x09, 0x0C]);
            out.extend_from_slice(&dt.raw);
        }
    }
    super::axdr::encode(&n.body, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_never_printed() {
        let keys = Keys {
            encryption: [0x11; 16],
            authentication: Some([0x22; 16]),
        };
        let dump = format!("{keys:?}");
        assert!(!dump.contains("17") && !dump.contains("34") && dump.contains("hidden"));
    }

    const EK: [u8; 16] = *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xAA\xBB\xCC\xDD\xEE\xFF";
    const AK: [u8; 16] = *b"\xFF\xEE\xDD\xCC\xBB\xAA\x99\x88\x77\x66\x55\x44\x33\x22\x11\x00";
    const TITLE: [u8; 8] = *b"KAM\x00\x00\x00\x00\x01";

    /// A glo-ciphered APDU around `content` with security control `sc`, sealed with EK and AK.
    fn seal(sc: u8, content: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let counter = 7u32;
        let mut iv = [0u8; 12];
        iv[..8].copy_from_slice(&TITLE);
        iv[8..].copy_from_slice(&counter.to_be_bytes());
        let nonce = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::from(iv);
        let mut aad = vec![sc];
        aad.extend_from_slice(&AK);
        let sealed = if sc & 0x20 != 0 {
            let cipher = Gcm::new_from_slice(&EK).unwrap();
            let payload = Payload {
                msg: content,
                aad: &aad,
            };
            cipher.encrypt(&nonce, payload).unwrap()
        } else {
            aad.extend_from_slice(content);
            let cipher = Gcm::new_from_slice(&EK).unwrap();
            let payload = Payload {
                msg: &[],
                aad: &aad,
            };
            let tag = cipher.encrypt(&nonce, payload).unwrap();
            [content, &tag].concat()
        };
        let mut apdu = vec![GENERAL_GLO_CIPHERING, 8];
        apdu.extend_from_slice(&TITLE);
        apdu.push((5 + sealed.len()) as u8);
        apdu.push(sc);
        apdu.extend_from_slice(&counter.to_be_bytes());
        apdu.extend_from_slice(&sealed);
        apdu
    }

    fn glo(apdu: &[u8]) -> GloCiphering {
        match parse_apdu(apdu, 0).unwrap() {
            Apdu::GloCiphering(g) => g,
            other => panic!("{other:?}"),
        }
    }

    const CONTENT: &[u8] = b"\x0F\x00\x00\x00\x01\x00\x02\x01\x12\x00\xEB";

    #[test]
    fn encrypted_and_authenticated_with_and_without_the_authentication_key() {
        let apdu = seal(0x30, CONTENT);
        let g = glo(&apdu);
        let both = Keys {
            encryption: EK,
            authentication: Some(AK),
        };
        assert_eq!(decrypt(&apdu, &g, &both).unwrap(), CONTENT);
        let ek_only = Keys {
            encryption: EK,
            authentication: None,
        };
        assert_eq!(
            decrypt(&apdu, &g, &ek_only),
            Err(DecryptError::NoAuthenticationKey)
        );
        // Without the tag check, the same plaintext (GCM is CTR from counter 2).
        assert_eq!(decrypt_unchecked(&apdu, &g, &EK).unwrap(), CONTENT);
        let wrong = Keys {
            encryption: AK,
            authentication: Some(AK),
        };
        assert_eq!(
            decrypt(&apdu, &g, &wrong),
            Err(DecryptError::Authentication)
        );
    }

    #[test]
    fn authenticated_only_content_is_clear_and_its_tag_is_checked() {
        let apdu = seal(0x10, CONTENT);
        let g = glo(&apdu);
        assert!(!g.encrypted() && g.authenticated());
        let both = Keys {
            encryption: EK,
            authentication: Some(AK),
        };
        assert_eq!(decrypt(&apdu, &g, &both).unwrap(), CONTENT);
        assert_eq!(decrypt_unchecked(&apdu, &g, &EK).unwrap(), CONTENT);
        let mut damaged = apdu.clone();
        damaged[20] ^= 1;
        assert_eq!(
            decrypt(&damaged, &glo(&damaged), &both),
            Err(DecryptError::Authentication)
        );
    }
}
