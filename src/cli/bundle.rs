//! `kamscope bundle RECORDING -o FILE.zip`: one zip an installer can post to a forum or send to
//! support: the recording with the meter ids replaced by pseudonyms (frames still decode), the
//! check of it, the config without its keys, the log, and a README that says what was done.
//! The redaction itself is sans-IO (`protocol::redact`); this is the file side.

use super::keys::KeyArgs;
use super::{UserError, out};
use chrono::Utc;
use kamscope::config::{self, Config};
use kamscope::link::io_reason;
use kamscope::link::replay::{ReplaySource, bad_line_warnings, capture_lines};
use kamscope::protocol::han::Scaling;
use kamscope::protocol::redact::{self, Learned, Pseudonyms, Redacted};
use kamscope::protocol::{Decoder, Protocols};
use kamscope::wire::capture::{self, CaptureLine};
use kamscope::wire::{Chunk, Direction, Link, hex};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct BundleArgs {
    /// The recording (`--record`), or a raw or hex capture, to bundle.
    #[arg(value_name = "RECORDING")]
    input: PathBuf,
    /// The zip to write.
    #[arg(short = 'o', long = "output", value_name = "FILE.zip")]
    output: PathBuf,
    /// Replace the zip if it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    keys: KeyArgs,
}

/// What the framer hunts for on each line, as `decode` frames a recording.
fn protocols(link: Link) -> Protocols {
    match link {
        Link::Han => Protocols::ALL,
        Link::Optical => Protocols::OPTICAL,
    }
}

/// The recording as read: its lines (a kamscope recording) or plain bytes (a raw or hex capture).
enum Input {
    Lines(Vec<CaptureLine>),
    Bytes(Vec<u8>),
}

/// The recording with the ids replaced, and what was done.
struct Redaction {
    input: Input,
    ids: Pseudonyms,
    /// What the first pass saw, on every line.
    learned: Learned,
    /// What the second pass changed, on every line (its bytes are in `input`).
    redacted: Redacted,
}

pub fn run(args: BundleArgs, log: Option<&Path>) -> Result<ExitCode, UserError> {
    let output_name = args.output.display().to_string();
    if args.output.exists() && !args.force {
        return Err(UserError(format!(
            "{output_name} exists: use --force to replace it"
        )));
    }
    let config_file = ConfigFile::read();
    let config = config_file.parsed.clone().unwrap_or_default();
    let keys = args.keys.keys(|| Ok(config.keys.clone()))?;
    let scaling = Scaling {
        energy_scaler: config.scaling.energy_scaler.unwrap_or(1),
        current_scaler: config.scaling.current_scaler,
    };
    let input = read_input(&args.input)?;
    let redaction = redact_input(input, Decoder::new(scaling, keys.clone()));
    let name = args.input.display().to_string();
    if redaction.learned.frames == 0 {
        return Err(UserError(format!(
            "{name} holds no meter frame: it is not a kamscope recording or capture"
        )));
    }
    let (recording_name, recording) = redaction.recording_file();
    // What was sent, as sent: an id left in a line's bytes is a leak (the event lines' text
    // went through the same replacement as the log).
    let mut left = Vec::new();
    for stream in redaction.streams() {
        left.extend(redaction.ids.found_in(&stream));
    }
    left.sort_unstable();
    left.dedup();
    if !left.is_empty() {
        return Err(UserError(format!(
            "{} meter id(s) in {name} could not be replaced where they are sent: no bundle written",
            left.len()
        )));
    }
    let (verdict, check) = super::check::check_recording(redaction.replay_source(), &config, keys);
    let check_json = redaction
        .ids
        .redact_text(&(serde_json::to_string_pretty(&check).expect("plain data") + "\n"));

    let log_path = log
        .map(Path::to_path_buf)
        .or_else(kamscope::log::default_path);
    let log_text = log_path
        .as_deref()
        .and_then(|p| std::fs::read(p).ok())
        .map(|b| redaction.ids.redact_text(&String::from_utf8_lossy(&b)));
    let config_text = config_file
        .without_keys
        .as_deref()
        .map(|t| redaction.ids.redact_text(t));

    let readme = readme(
        &redaction,
        recording_name,
        verdict.name(),
        &config_file,
        log_text.is_some(),
    );
    let mut entries: Vec<(&str, &[u8])> = vec![
        ("README.txt", readme.as_bytes()),
        (recording_name, recording.as_bytes()),
        ("check.json", check_json.as_bytes()),
    ];
    if let Some(t) = &config_text {
        entries.push(("config.toml", t.as_bytes()));
    }
    if let Some(t) = &log_text {
        entries.push(("kamscope.log", t.as_bytes()));
    }
    write_zip(&args.output, args.force, &entries)?;
    if redaction.learned.kmp_frames > 0 {
        eprintln!(
            "kamscope: note: the KMP readouts in {name} are bundled as they are: their meter ids are not replaced"
        );
    }
    out(&format!(
        "wrote {output_name}: {} meter id(s) replaced, check verdict {}\n",
        redaction.ids.len(),
        verdict.name()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Reads the recording: its lines, or the bytes of a raw or hex capture.
fn read_input(path: &Path) -> Result<Input, UserError> {
    let name = path.display().to_string();
    let data = std::fs::read(path)
        .map_err(|e| UserError(format!("cannot read {name}: {}", io_reason(&e))))?;
    if capture::looks_like_capture(&data) {
        let (lines, bad) = capture_lines(&data);
        // A torn line (full disk, power cut) is left out of the bundle, and said.
        for w in bad_line_warnings(path, &bad, bad.len()) {
            eprintln!("kamscope: {w}");
        }
        return Ok(Input::Lines(lines));
    }
    match ReplaySource::load(path)? {
        ReplaySource::Bytes(bytes) => Ok(Input::Bytes(bytes)),
        // Not a capture by its first line, so never one: read as bytes all the same.
        ReplaySource::Capture(_) | ReplaySource::Chunks(_) => Ok(Input::Bytes(data)),
    }
}

/// Every line's bytes in one direction, joined: a frame split over chunks is one frame here.
fn joined(lines: &[CaptureLine], link: Link, dir: Direction) -> Vec<u8> {
    lines
        .iter()
        .filter_map(|l| match l {
            CaptureLine::Chunk(c) if c.link == link && c.dir == dir => Some(c.bytes.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// The lines of a recording, each direction apart: the HAN line's received bytes, and the optical
/// line's both ways (the reader's requests name the meter too).
const STREAMS: [(Link, Direction); 3] = [
    (Link::Han, Direction::Rx),
    (Link::Optical, Direction::Rx),
    (Link::Optical, Direction::Tx),
];

/// Learns the ids on every line (the HAN line with `decoder`'s keys), then replaces them on each;
/// a recording's chunks are cut back at their own lengths and keep their times.
fn redact_input(input: Input, decoder: Decoder) -> Redaction {
    let mut redaction = Redaction {
        input: Input::Bytes(Vec::new()),
        ids: Pseudonyms::default(),
        learned: Learned::default(),
        redacted: Redacted::default(),
    };
    let streams: Vec<(Link, Direction, Vec<u8>)> = match &input {
        Input::Bytes(bytes) => vec![(Link::Han, Direction::Rx, bytes.clone())],
        Input::Lines(lines) => STREAMS
            .iter()
            .map(|&(link, dir)| (link, dir, joined(lines, link, dir)))
            .collect(),
    };
    let mut han_decoder = Some(decoder);
    for (link, _, bytes) in &streams {
        let mut decoder = match link {
            Link::Han => han_decoder.take().unwrap_or_default(),
            Link::Optical => Decoder::default(),
        };
        let seen = redact::learn(bytes, protocols(*link), &mut decoder, &mut redaction.ids);
        redaction.learned.add(seen);
    }
    let ids = &redaction.ids;
    let mut outs = Vec::new();
    for (link, dir, bytes) in &streams {
        let out = redact::redact_stream(bytes, protocols(*link), ids);
        redaction.redacted.add(&out);
        outs.push((*link, *dir, out.bytes));
    }
    redaction.input = match input {
        Input::Bytes(_) => Input::Bytes(outs.pop().map(|(.., b)| b).unwrap_or_default()),
        Input::Lines(mut lines) => {
            for (link, dir, bytes) in &outs {
                let mut rest = bytes.as_slice();
                for line in &mut lines {
                    if let CaptureLine::Chunk(c) = line
                        && (c.link, c.dir) == (*link, *dir)
                    {
                        let (mine, after) = rest.split_at(c.bytes.len());
                        c.bytes = mine.to_vec();
                        rest = after;
                    }
                }
            }
            for line in &mut lines {
                if let CaptureLine::Event(e) = line {
                    e.event = ids.redact_text(&e.event);
                }
            }
            Input::Lines(lines)
        }
    };
    redaction
}

impl Redaction {
    /// The redacted recording's name in the zip and its text: a recording stays one, a raw or
    /// hex capture becomes hex text (it has no times to keep).
    fn recording_file(&self) -> (&'static str, String) {
        match &self.input {
            Input::Lines(lines) => {
                let mut text = String::new();
                for line in lines {
                    text.push_str(&match line {
                        CaptureLine::Chunk(c) => c.to_json_line(),
                        CaptureLine::Event(e) => e.to_json_line(),
                    });
                    text.push('\n');
                }
                ("recording.jsonl", text)
            }
            Input::Bytes(bytes) => {
                let mut text = String::new();
                for row in bytes.chunks(32) {
                    text.push_str(&hex::encode(row));
                    text.push('\n');
                }
                ("recording.hex", text)
            }
        }
    }

    /// Each line's bytes, redacted, joined.
    fn streams(&self) -> Vec<Vec<u8>> {
        match &self.input {
            Input::Lines(lines) => STREAMS
                .iter()
                .map(|&(link, dir)| joined(lines, link, dir))
                .collect(),
            Input::Bytes(bytes) => vec![bytes.clone()],
        }
    }

    /// The redacted recording as `check --replay` reads it.
    fn replay_source(&self) -> ReplaySource {
        match &self.input {
            Input::Lines(lines) => ReplaySource::Chunks(
                lines
                    .iter()
                    .filter_map(|l| match l {
                        CaptureLine::Chunk(c) => Some(c.clone()),
                        CaptureLine::Event(_) => None,
                    })
                    .collect::<Vec<Chunk>>(),
            ),
            Input::Bytes(bytes) => ReplaySource::Bytes(bytes.clone()),
        }
    }
}

/// The user's config file: parsed (for the check) and as text without its keys (for the zip).
struct ConfigFile {
    /// The config the check used (the defaults when the file is not a valid config).
    parsed: Option<Config>,
    /// Why the file is not a valid config, when it is not.
    invalid: Option<String>,
    without_keys: Option<String>,
    /// Why it is not in the bundle, when it is not.
    left_out: Option<String>,
}

impl ConfigFile {
    fn read() -> Self {
        let left_out = |why: String| ConfigFile {
            parsed: None,
            invalid: None,
            without_keys: None,
            left_out: Some(why),
        };
        let Some(path) = config::path() else {
            return left_out("there is no config directory on this system".into());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return left_out("there is no config file".into());
            }
            Err(e) => {
                return left_out(format!("the config file cannot be read: {}", io_reason(&e)));
            }
        };
        let mut doc = match text.parse::<toml_edit::DocumentMut>() {
            Ok(d) => d,
            Err(_) => {
                return left_out(
                    "the config file is not valid TOML, so its keys could not be taken out".into(),
                );
            }
        };
        // The keys decrypt the meter's pushes: they never leave the machine.
        doc.remove("keys");
        let (parsed, invalid) = match config::load(&path) {
            Ok(c) => (Some(c), None),
            // The path names the user's home: the bundle says only "config.toml".
            Err(e) => (
                None,
                Some(
                    e.to_string()
                        .replace(&path.display().to_string(), "config.toml"),
                ),
            ),
        };
        ConfigFile {
            parsed,
            invalid,
            without_keys: Some(doc.to_string()),
            left_out: None,
        }
    }
}

/// At most the first 7 characters of an id (Kamstrup's GS1 company prefix), the rest as `x`.
fn masked(id: &str) -> String {
    let keep = if id.len() >= 14 { 7 } else { 0 };
    id.chars()
        .enumerate()
        .map(|(i, c)| if i < keep { c } else { 'x' })
        .collect()
}

fn readme(
    r: &Redaction,
    recording_name: &str,
    verdict: &str,
    config: &ConfigFile,
    log: bool,
) -> String {
    let mut t = format!(
        "kamscope support bundle\n\nMade by kamscope {} on {} UTC.\n\nFiles\n",
        env!("CARGO_PKG_VERSION"),
        Utc::now().format("%Y-%m-%d %H:%M")
    );
    let recording_what = match r.input {
        Input::Lines(_) => "the recording, meter ids replaced (times and chunks as recorded)",
        Input::Bytes(_) => "the capture as hex text, meter ids replaced (it had no times)",
    };
    t.push_str(&format!(
        "  {recording_name:<16} {recording_what}; read it with `kamscope decode {recording_name}`\n"
    ));
    t.push_str(&format!(
        "  {:<16} `kamscope check` of that recording (verdict: {verdict})\n",
        "check.json"
    ));
    match &config.left_out {
        None => t.push_str(&format!(
            "  {:<16} the config, without its [keys] section\n",
            "config.toml"
        )),
        Some(why) => t.push_str(&format!("  (no config.toml: {why})\n")),
    }
    if let Some(why) = &config.invalid {
        t.push_str(&format!(
            "  (kamscope cannot use that config, so the check used the defaults: {})\n",
            why
        ));
    }
    if log {
        t.push_str(&format!(
            "  {:<16} the log, meter ids replaced\n",
            "kamscope.log"
        ));
    } else {
        t.push_str("  (no kamscope.log: there is no log file)\n");
    }
    t.push_str("\nWhat was redacted\n");
    if r.ids.is_empty() {
        t.push_str("  No meter id was found in the recording.\n");
    }
    for (real, pseudo) in r.ids.iter() {
        t.push_str(&format!(
            "  meter id {} -> pseudonym {pseudo}\n",
            masked(real)
        ));
    }
    let n = &r.redacted;
    t.push_str(&format!(
        "  HAN push lists (HDLC): the meter id / GS1 number (OBIS 0.0.96.1.0, 0.0.96.1.1, \
         1.1.0.0.5), a meter number sent as a number (x.x.0.0.1) and the serial number in the \
         logical device name (0.0.42.0.0.255; its first three letters, the maker, kept), also \
         where split over frames; HCS/FCS recomputed on {} \
         frame(s).\n\
         \x20 P1 telegrams: the equipment ids (0-0:96.1.1, 0-0:96.1.0, and 0-n:96.1.0 of the meters \
         they relay); CRC recomputed on {} telegram(s).\n\
         \x20 IEC 61107 readouts (optical head): the customer and serial numbers ({}); BCC \
         recomputed on {} data block(s); the device address in {} sign-on request(s).\n\
         \x20 M-Bus readouts: the identification number of responses and secondary-address \
         selections; checksum recomputed on {} frame(s).\n",
        n.hdlc_frames,
        n.p1_telegrams,
        redact::IEC_ID_ADDRESSES.join(", "),
        n.iec_blocks,
        n.iec_requests,
        n.mbus_frames,
    ));
    if r.learned.ciphered_frames > 0 {
        t.push_str(&format!(
            "  {} ciphered frame(s) left as they are (their ids are inside the cipher).\n",
            r.learned.ciphered_frames
        ));
    }
    if r.learned.kmp_frames > 0 {
        t.push_str(&format!(
            "  Not redacted: {} KMP frame(s) of the optical readouts are as they were, meter \
             ids included.\n",
            r.learned.kmp_frames
        ));
    }
    t.push_str(
        "  Kept: the meter type number (it names the model, and kamscope reads the meter kind \
         from it) and every reading.\n\n\
         A pseudonym is made from the id alone, so the same meter gets the same pseudonym in \
         every bundle; it has the id's length, so no frame length changes. A frame that failed \
         a check before still fails it.\n",
    );
    let mut others = vec!["check.json"];
    if config.left_out.is_none() {
        others.push("config.toml");
    }
    if log {
        others.push("kamscope.log");
    }
    t.push_str(&format!(
        "The same ids were replaced in {}. No key is in the bundle.\n",
        others.join(", ")
    ));
    t
}

/// Writes the zip to a new file next to `path`, then moves it there: never over an existing
/// file unless `force`, and never a half-written zip under the asked name.
fn write_zip(path: &Path, force: bool, entries: &[(&str, &[u8])]) -> Result<(), UserError> {
    let name = path.display().to_string();
    let fail = |e: io::Error| UserError(format!("cannot write {name}: {}", io_reason(&e)));
    let file_name = path
        .file_name()
        .ok_or_else(|| UserError(format!("{name} is not a file name")))?;
    let temp: PathBuf = path.with_file_name(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(fail)?;
    let written = zip_into(file, entries).and_then(|()| {
        if force {
            std::fs::rename(&temp, path)
        } else {
            // A link fails where a file already is, so nothing that appeared meanwhile is
            // overwritten.
            std::fs::hard_link(&temp, path).or_else(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists || path.exists() {
                    Err(io::Error::from(io::ErrorKind::AlreadyExists))
                } else {
                    // A file system without hard links (FAT): the check above is as close.
                    std::fs::rename(&temp, path)
                }
            })
        }
    });
    let _ = std::fs::remove_file(&temp);
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(UserError(format!(
            "{name} exists: use --force to replace it"
        ))),
        Err(e) => Err(fail(e)),
    }
}

fn zip_into(file: File, entries: &[(&str, &[u8])]) -> io::Result<()> {
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (name, bytes) in entries {
        zip.start_file(*name, options).map_err(io::Error::other)?;
        zip.write_all(bytes)?;
    }
    zip.finish().map_err(io::Error::other)?.sync_all()
}
