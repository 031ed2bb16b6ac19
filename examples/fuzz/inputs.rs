//! The inputs: random bytes, and the project's fixtures mutated with knowledge of their formats,
//! their checks (HCS/FCS, M-Bus checksum, BCC, P1 CRC, KMP LRC/CRC) computed again after the
//! mutation so the damage reaches the decoders behind the checks.

use crate::mutate::{
    mutate, mutate_axdr, mutate_text, mutated_text, nesting, refix_bcc, refix_hdlc, refix_p1, seal,
};
use crate::rng::Rng;
use kamscope::protocol::datetime::DateTime;
use kamscope::protocol::han::{KamstrupList, MissingPhases};
use kamscope::protocol::{Content, Framer, Protocols, hdlc, kmp, mbus};
use std::path::Path;

/// What an input is fed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bytes off a line: every protocol decoder, the sessions, the redaction, the app.
    Stream,
    /// A config file's text.
    Config,
    /// Lines of a capture (JSON Lines).
    Capture,
    /// Hex text, as `decode` reads it.
    Hex,
}

pub struct Input {
    pub kind: Kind,
    /// Which generator made it, for the failure report.
    pub how: &'static str,
    pub bytes: Vec<u8>,
    /// Drawn into the app (extreme values are made for it).
    pub app: bool,
}

/// The published dummy keys of the Danish fixture (tests/fixtures/README.md).
pub const ENCRYPTION_KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];
pub const AUTHENTICATION_KEY: [u8; 16] = [
    0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00,
];

/// An intact HDLC frame taken apart, to be built again around a mutated information field.
struct HdlcParts {
    dest: Vec<u8>,
    src: Vec<u8>,
    control: u8,
    info: Vec<u8>,
}

/// The fixtures, whole and as frames of each protocol.
pub struct Corpus {
    /// Every fixture file's bytes.
    files: Vec<Vec<u8>>,
    hdlc: Vec<HdlcParts>,
    iec: Vec<Vec<u8>>,
    kmp: Vec<kmp::Frame>,
    mbus: Vec<Vec<u8>>,
    p1: Vec<Vec<u8>>,
    config: String,
}

/// A config with every section, as the README documents it.
const SAMPLE_CONFIG: &str = r#"last_source = "/dev/ttyUSB0"
[han]
port = "/dev/ttyUSB0"
baud = 2400
parity = "none"
data_bits = 8
stop_bits = 1
[optical]
port = "/dev/ttyUSB1"
baud = 300
parity = "even"
data_bits = 7
[scaling]
energy_scaler = 1
current_scaler = -3
[chart]
window = "1h"
[site]
fuse_a = 25
name = "Storgata 1, Bergen"
installer = "Kari Nordmann"
[export]
dir = "/home/me/kamscope"
[readout.protocol]
"/dev/ttyUSB1" = "kmp"
[keys]
encryption = "00112233445566778899AABBCCDDEEFF"
authentication = "FFEEDDCCBBAA99887766554433221100"
"#;

impl Corpus {
    /// Reads every `.hex` and `.bin` file under `dir` (tests/fixtures).
    pub fn load(dir: &Path) -> Result<Corpus, String> {
        let mut paths = Vec::new();
        collect(dir, &mut paths)?;
        paths.sort();
        let mut files = Vec::new();
        for path in &paths {
            let bytes = match path.extension().and_then(|e| e.to_str()) {
                Some("hex") => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    kamscope::wire::hex::parse(&text)
                        .map_err(|e| format!("fixture {}: {e}", path.display()))?
                }
                Some("bin") => std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                _ => continue,
            };
            files.push(bytes);
        }
        if files.is_empty() {
            return Err(format!("no .hex or .bin fixtures under {}", dir.display()));
        }
        let mut corpus = Corpus {
            files: Vec::new(),
            hdlc: Vec::new(),
            iec: Vec::new(),
            kmp: Vec::new(),
            mbus: Vec::new(),
            p1: Vec::new(),
            config: SAMPLE_CONFIG.to_string(),
        };
        for bytes in &files {
            corpus.take_frames(bytes);
        }
        corpus.files = files;
        Ok(corpus)
    }

    /// Sorts the intact frames of a fixture by protocol.
    fn take_frames(&mut self, bytes: &[u8]) {
        let mut framer = Framer::new(Protocols::ALL);
        framer.push(bytes);
        framer.finish();
        while let Some(span) = framer.next_span() {
            if !span.content.all_ok() {
                continue;
            }
            match &span.content {
                Content::Hdlc(f) => {
                    if let Some(h) = f.header
                        && !f.shared_start_flag
                    {
                        self.hdlc.push(HdlcParts {
                            dest: h.dest.raw().to_vec(),
                            src: h.src.raw().to_vec(),
                            control: h.control,
                            info: span.bytes[f.info.clone()].to_vec(),
                        });
                    }
                }
                Content::Iec61107(_) => self.iec.push(span.bytes.to_vec()),
                Content::Kmp(f) => self.kmp.push(f.clone()),
                Content::Mbus(_) if span.bytes.len() > 9 => self.mbus.push(span.bytes.to_vec()),
                Content::P1(_) => self.p1.push(span.bytes.to_vec()),
                _ => {}
            }
        }
    }

    pub fn counts(&self) -> String {
        format!(
            "{} fixture files: {} HDLC, {} IEC 61107, {} KMP, {} M-Bus, {} P1 frames",
            self.files.len(),
            self.hdlc.len(),
            self.iec.len(),
            self.kmp.len(),
            self.mbus.len(),
            self.p1.len()
        )
    }

    /// Input number `n` of a run.
    pub fn input(&self, rng: &mut Rng) -> Input {
        let stream = |how, bytes| Input {
            kind: Kind::Stream,
            how,
            bytes,
            app: false,
        };
        match rng.below(100) {
            0..=7 => stream("random bytes", random_bytes(rng)),
            8..=19 => stream("mutated fixture", self.mutated_fixture(rng)),
            20..=34 => stream("hdlc apdu", self.hdlc_apdu(rng)),
            35..=39 => stream("hdlc length", self.hdlc_length(rng)),
            40..=44 => stream("deep nesting", deep_nesting(rng)),
            45..=51 => stream("ciphered", self.ciphered(rng)),
            52..=57 => stream("iec block", self.iec_block(rng)),
            58..=62 => stream("kmp frame", self.kmp_frame(rng)),
            63..=68 => stream("mbus frame", self.mbus_frame(rng)),
            69..=74 => stream("p1 telegram", self.p1_telegram(rng)),
            75..=84 => stream("mixed stream", self.mixed(rng)),
            85..=87 => Input {
                app: true,
                ..stream("extreme list", extreme_lists(rng))
            },
            88..=91 => Input {
                kind: Kind::Config,
                ..stream("config", self.config_text(rng))
            },
            92..=95 => Input {
                kind: Kind::Capture,
                ..stream("capture", self.capture_text(rng))
            },
            _ => Input {
                kind: Kind::Hex,
                ..stream("hex", self.hex_text(rng))
            },
        }
    }

    fn file(&self, rng: &mut Rng) -> Vec<u8> {
        let f = rng.choose(&self.files);
        // A window of the long fixtures, so inputs stay frame-sized.
        if f.len() > 2048 && !rng.one_in(8) {
            let at = rng.below(f.len() - 1024);
            f[at..at + rng.range(1, 1024)].to_vec()
        } else {
            f.clone()
        }
    }

    fn mutated_fixture(&self, rng: &mut Rng) -> Vec<u8> {
        let mut bytes = self.file(rng);
        let other = self.file(rng);
        mutate(rng, &mut bytes, &other);
        bytes
    }

    fn hdlc_parts(&self, rng: &mut Rng) -> Option<&HdlcParts> {
        (!self.hdlc.is_empty()).then(|| rng.choose(&self.hdlc))
    }

    /// An HDLC frame with valid HCS and FCS around a mutated APDU.
    fn hdlc_apdu(&self, rng: &mut Rng) -> Vec<u8> {
        let Some(parts) = self.hdlc_parts(rng) else {
            return random_bytes(rng);
        };
        let mut info = parts.info.clone();
        for _ in 0..rng.range(1, 3) {
            mutate_axdr(rng, &mut info);
        }
        wrap_hdlc(rng, parts, &info)
    }

    /// A frame whose 11-bit length field is changed, the HCS computed again so the framer trusts
    /// it (and sometimes the FCS over the bytes as they are).
    fn hdlc_length(&self, rng: &mut Rng) -> Vec<u8> {
        let Some(parts) = self.hdlc_parts(rng) else {
            return random_bytes(rng);
        };
        let mut frame = wrap_hdlc(rng, parts, &parts.info);
        if rng.one_in(3) {
            let other = self.file(rng);
            mutate(rng, &mut frame, &other);
        }
        if frame.len() < 4 {
            return frame;
        }
        let length = match rng.below(6) {
            0 => 0x7FF,
            1 => rng.below(12),
            2 => frame.len().saturating_sub(2) + rng.range(1, 8),
            3 => frame
                .len()
                .saturating_sub(2)
                .saturating_sub(rng.range(1, 8)),
            _ => rng.below(0x800),
        } as u16;
        let format = (u16::from(frame[1] & 0xF8) << 8) | length;
        frame[1..3].copy_from_slice(&format.to_be_bytes());
        refix_hdlc(&mut frame, rng.one_in(2));
        frame
    }

    /// A glo-ciphered push sealed with the test keys, sometimes damaged after sealing.
    fn ciphered(&self, rng: &mut Rng) -> Vec<u8> {
        let Some(parts) = self.hdlc_parts(rng) else {
            return random_bytes(rng);
        };
        // The plain APDU of a fixture, mutated or not.
        let mut plain = parts.info.get(3..).unwrap_or_default().to_vec();
        if rng.one_in(2) {
            let mut info = parts.info.clone();
            mutate_axdr(rng, &mut info);
            plain = info.get(3..).unwrap_or_default().to_vec();
        }
        let any = rng.byte();
        let sc = rng.pick(&[0x30, 0x30, 0x20, 0x10, 0x00, 0x31, any]);
        let mut apdu = seal(sc, &plain, rng.next_u64() as u32);
        if rng.one_in(4) {
            let n = rng.range(1, 3);
            for _ in 0..n {
                let at = rng.below(apdu.len());
                apdu[at] ^= 1 << rng.below(8);
            }
        }
        let mut info = vec![0xE6, 0xE7, 0x00];
        info.extend_from_slice(&apdu);
        wrap_hdlc(rng, parts, &info)
    }

    /// An IEC 61107 message mutated, its BCC computed again by either rule.
    fn iec_block(&self, rng: &mut Rng) -> Vec<u8> {
        let Some(mut bytes) = mutated_text(rng, &self.iec) else {
            return random_bytes(rng);
        };
        refix_bcc(rng, &mut bytes);
        bytes
    }

    /// A KMP frame around mutated logical bytes, LRC or CRC computed by the encoder.
    fn kmp_frame(&self, rng: &mut Rng) -> Vec<u8> {
        let (mut logical, direction) = match self.kmp.is_empty() {
            true => {
                let n = rng.below(40);
                (rng.bytes(n), kmp::Direction::Response)
            }
            false => {
                let f = rng.choose(&self.kmp);
                (f.logical.clone(), f.direction)
            }
        };
        if !rng.one_in(4) {
            let other = rng.junk(32);
            mutate(rng, &mut logical, &other);
        }
        let direction = if rng.one_in(4) {
            rng.pick(&[kmp::Direction::Request, kmp::Direction::Response])
        } else {
            direction
        };
        if rng.one_in(2) {
            kmp::encode_ascii(direction, &logical)
        } else {
            kmp::encode_binary(direction, &logical)
        }
    }

    /// An M-Bus long frame with mutated records (or L fields), its checksum computed again.
    fn mbus_frame(&self, rng: &mut Rng) -> Vec<u8> {
        if self.mbus.is_empty() {
            return random_bytes(rng);
        }
        let f = rng.choose(&self.mbus);
        let (c, a, ci) = (f[4], f[5], f[6]);
        let mut data = f[7..f.len() - 2].to_vec();
        let other = rng.junk(24);
        mutate(rng, &mut data, &other);
        data.truncate(252);
        let mut frame = mbus::encode_long(c, a, ci, &data);
        if rng.one_in(4) {
            frame[1 + rng.below(2)] = rng.byte();
        }
        if rng.one_in(8) {
            frame[6] = rng.byte();
        }
        let n = frame.len();
        frame[n - 2] = frame[4..n - 2].iter().fold(0u8, |a, b| a.wrapping_add(*b));
        frame
    }

    /// A P1 telegram mutated, its CRC computed again.
    fn p1_telegram(&self, rng: &mut Rng) -> Vec<u8> {
        let Some(mut bytes) = mutated_text(rng, &self.p1) else {
            return random_bytes(rng);
        };
        refix_p1(&mut bytes);
        bytes
    }

    /// Several inputs of the kinds above in one stream, with junk between some of them.
    fn mixed(&self, rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..rng.range(2, 5) {
            let part = match rng.below(8) {
                0 => self.file(rng),
                1 => self.hdlc_apdu(rng),
                2 => self.ciphered(rng),
                3 => self.iec_block(rng),
                4 => self.kmp_frame(rng),
                5 => self.mbus_frame(rng),
                6 => self.p1_telegram(rng),
                _ => self.mutated_fixture(rng),
            };
            out.extend_from_slice(&part);
            if rng.one_in(3) {
                let n = rng.below(8);
                out.extend(rng.bytes(n));
            }
        }
        out
    }

    fn config_text(&self, rng: &mut Rng) -> Vec<u8> {
        let mut text = self.config.clone().into_bytes();
        for _ in 0..rng.range(1, 3) {
            match rng.below(3) {
                0 => {
                    // A value replaced by an extreme one.
                    let lines: Vec<usize> = text
                        .iter()
                        .enumerate()
                        .filter(|(_, b)| **b == b'=')
                        .map(|(i, _)| i + 1)
                        .collect();
                    if let Some(&at) = lines.get(rng.below(lines.len())) {
                        let end = text[at..]
                            .iter()
                            .position(|b| *b == b'\n')
                            .map_or(text.len(), |p| at + p);
                        let value = rng.pick(&[
                            " 99999999999999999999999",
                            " -9223372036854775808",
                            " nan",
                            " -inf",
                            " 1e309",
                            " 0",
                            " -1",
                            " \"\"",
                            " \"\u{202e}\u{0}é\"",
                            " [1, [2, [3]]]",
                            " { a = 1 }",
                            " true",
                            " 1979-05-27T07:32:00Z",
                            " \"x",
                        ]);
                        text.splice(at..end, value.bytes());
                    }
                }
                1 => {
                    let extra = rng.pick(&[
                        "\n[[han]]\n",
                        "\n[han]\nport = 1\n",
                        "\nunknown = 1\n",
                        "\n[readout.protocol]\n\"\" = \"iec\"\n",
                        "\n[readout.protocol]\n\"x\" = \"bogus\"\n",
                        "\n\u{feff}",
                        "\r\n\r",
                    ]);
                    let at = rng.below(text.len() + 1);
                    text.splice(at..at, extra.bytes());
                }
                _ => {
                    let other = self.config.clone().into_bytes();
                    mutate_text(rng, &mut text, &other);
                }
            }
        }
        text
    }

    fn capture_text(&self, rng: &mut Rng) -> Vec<u8> {
        let chunk = kamscope::wire::Chunk {
            t: chrono::DateTime::from_timestamp(rng.below(4_000_000_000) as i64, 0)
                .unwrap_or_default(),
            link: rng.pick(&[kamscope::wire::Link::Han, kamscope::wire::Link::Optical]),
            dir: rng.pick(&[kamscope::wire::Direction::Rx, kamscope::wire::Direction::Tx]),
            bytes: self.file(rng).into_iter().take(256).collect(),
        };
        let mut text = if rng.one_in(4) {
            kamscope::wire::capture::EventLine::new(chunk.t, "link down: gone").to_json_line()
        } else {
            chunk.to_json_line()
        }
        .into_bytes();
        let extreme: &[&str] = &[
            "\"t\":\"+275760-09-13T00:00:00Z\"",
            "\"t\":\"9999-99-99T99:99:99Z\"",
            "\"hex\":\"7\"",
            "\"hex\":\"ZZ\"",
            "\"hex\":\"é\"",
            "\"link\":\"bogus\"",
            "\"t\":1e999",
            "[[[[[[[[[[[[[[[[[[[[[[[[",
            "\"\\ud800\"",
        ];
        if rng.one_in(2) {
            let at = rng.below(text.len() + 1);
            let e = rng.pick(extreme);
            text.splice(at..at, e.bytes());
        } else {
            let other = text.clone();
            mutate_text(rng, &mut text, &other);
        }
        text
    }

    fn hex_text(&self, rng: &mut Rng) -> Vec<u8> {
        let bytes: Vec<u8> = self.file(rng).into_iter().take(512).collect();
        let mut text = kamscope::wire::hex::encode(&bytes).into_bytes();
        let other = b" \n\t\r0fFg\xC3\xA9\xFF".to_vec();
        mutate_text(rng, &mut text, &other);
        text
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let n = match rng.below(4) {
        0 => rng.below(8),
        1 | 2 => rng.below(300),
        _ => rng.below(3000),
    };
    let mut bytes = rng.bytes(n);
    // Start bytes of every protocol, so random input also opens frames.
    for _ in 0..rng.below(n / 16 + 1) {
        if n > 0 {
            let at = rng.below(n);
            bytes[at] = rng.pick(&[0x7E, 0x68, 0x10, 0x16, 0x02, 0x03, b'/', b'!', b'@', b'H']);
        }
    }
    bytes
}

/// A DataNotification whose body is nested deep, in a valid frame.
fn deep_nesting(rng: &mut Rng) -> Vec<u8> {
    let mut info = vec![0xE6, 0xE7, 0x00, 0x0F, 0x00, 0x00, 0x00, 0x01, 0x00];
    let depth = rng.pick(&[1, 8, 15, 16, 17, 32, 100, 500, 1000]);
    info.extend(nesting(rng, depth));
    let parts = HdlcParts {
        dest: vec![0x2B],
        src: vec![0x21],
        control: 0x13,
        info,
    };
    wrap_hdlc(rng, &parts, &parts.info)
}

/// Frames `info` as `parts` were framed (segmenting long ones), checks computed by the encoder.
fn wrap_hdlc(rng: &mut Rng, parts: &HdlcParts, info: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let max = if rng.one_in(3) {
        rng.range(1, 300)
    } else {
        2000
    };
    let chunks: Vec<&[u8]> = if info.is_empty() {
        vec![info]
    } else {
        info.chunks(max).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let segmented = i + 1 < chunks.len();
        if hdlc::encode(
            &parts.dest,
            &parts.src,
            parts.control,
            chunk,
            segmented,
            &mut out,
        )
        .is_err()
        {
            // An address the encoder refuses: the Kamstrup one.
            let _ = hdlc::encode(&[0x2B], &[0x21], 0x13, chunk, segmented, &mut out);
        }
    }
    out
}

/// Kamstrup lists at the edges of their fields: maximum readings, odd clocks, long ids.
fn extreme_lists(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.range(1, 4) {
        let mut raw = [0u8; 12];
        for b in &mut raw {
            let any = rng.byte();
            *b = rng.pick(&[
                0x00, 0xFF, 0x7F, 0x80, 0x01, 59, 60, 99, 12, 13, 31, 32, any,
            ]);
        }
        if rng.one_in(2) {
            raw = DateTime::new(
                rng.pick(&[0, 1970, 2000, 2038, 2106, 9999, 0xFFFE]),
                rng.range(1, 12) as u8,
                rng.range(1, 31) as u8,
                rng.below(24) as u8,
                rng.below(60) as u8,
                rng.below(60) as u8,
                rng.byte(),
            )
            .raw;
        }
        let big =
            |rng: &mut Rng| rng.pick(&[0, 1, u32::MAX, u32::MAX - 1, i32::MAX as u32, 99_999_999]);
        let id_len = rng.pick(&[0, 1, 16, 40, 120]);
        let list = KamstrupList {
            meter_id: "9".repeat(id_len),
            meter_type: rng
                .pick(&["6841138BN245101090", "685", "", "x"])
                .to_string(),
            time: DateTime { raw },
            power: [big(rng), big(rng), big(rng), big(rng)],
            currents: [Some(big(rng)), rng.one_in(2).then(|| big(rng)), None],
            voltages: [
                Some(rng.pick(&[0, u16::MAX, 230])),
                rng.one_in(2).then_some(u16::MAX),
                None,
            ],
            missing_phases: rng.pick(&[MissingPhases::Omitted, MissingPhases::NullPlaceholders]),
            energies: rng
                .one_in(2)
                .then(|| [big(rng), big(rng), big(rng), big(rng)]),
        };
        let _ = list.encode_frame(&mut out);
    }
    out
}
