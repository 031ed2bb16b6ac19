//! `kamscope bundle`: recordings built here from the HAN and P1 fixtures, bundled by the binary,
//! unzipped and decoded again: the same values but the ids, no real id anywhere in the zip.

mod common;

use common::command;
use kamscope::protocol::redact::pseudonym;
use kamscope::wire::{Chunk, Direction, Link};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The ids in the fixtures used here (see tests/fixtures/README.md).
const KAMSTRUP_3P: &str = "5706567326590407";
const KAMSTRUP_1P: &str = "5706567271533207";
const KAIFA: &str = "6970631403275928";
const P1_METER: &str = "KAM00000042";
const P1_GAS: &str = "GAS00001";

/// A fresh folder for one test.
fn dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kamscope-bundle-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A recording of the fixtures' frames, 10 s apart, each cut into 50-byte chunks 40 ms apart
/// (so frames, and the ids in them, are split over chunks), opened by an event line that names
/// the first id.
fn recording(dir: &Path, name: &str, fixtures: &[(&str, &str)]) -> PathBuf {
    let start: chrono::DateTime<chrono::Utc> = "2026-01-15T12:00:00Z".parse().unwrap();
    let mut text = format!(
        "{{\"t\":\"2026-01-15T11:59:59.000Z\",\"event\":\"recording meter {KAMSTRUP_3P}\"}}\n"
    );
    for (n, (proto, fixture)) in fixtures.iter().enumerate() {
        let bytes = common::fixture_in(proto, fixture);
        for (i, piece) in bytes.chunks(50).enumerate() {
            let chunk = Chunk {
                t: start
                    + chrono::Duration::seconds(10 * n as i64)
                    + chrono::Duration::milliseconds(40 * i as i64),
                link: Link::Han,
                dir: Direction::Rx,
                bytes: piece.to_vec(),
            };
            text.push_str(&chunk.to_json_line());
            text.push('\n');
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const MIXED: [(&str, &str); 5] = [
    ("han", "kamstrup-no-list1-3p-2022.hex"),
    ("han", "kamstrup-list1-1p-nulls.hex"),
    ("han", "kamstrup-list2-1p-nulls.hex"),
    ("han", "kaifa-list2-no-obis.hex"),
    ("p1", "p1-dsmr5-1p-log-and-gas.hex"),
];

/// `kamscope bundle` with `args`, the log in `dir` (it names an id), no config unless `config`.
fn bundle(dir: &Path, args: &[&str], config: Option<&Path>) -> Output {
    let log = dir.join("kamscope.log");
    if !log.exists() {
        std::fs::write(&log, format!("INFO push from meter {KAMSTRUP_3P}\n")).unwrap();
    }
    let mut c = command();
    if let Some(config) = config {
        c.env("KAMSCOPE_CONFIG", config);
    }
    c.arg("bundle")
        .args(args)
        .arg("--log")
        .arg(&log)
        .env("TZ", "UTC")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every entry of a zip, by name.
fn unzip(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        out.insert(entry.name().unwrap().to_string(), bytes);
    }
    out
}

/// `decode --format json` of a file: one object per span.
fn decode(path: &Path) -> Vec<Value> {
    let o = command()
        .args(["decode", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A span's decoded values as text with the ids put back, less what redaction must change: the
/// bytes themselves and the values of the checks over them (their verdicts stay).
fn comparable(span: &Value, ids: &[&str]) -> String {
    let mut span = span.clone();
    let o = span.as_object_mut().unwrap();
    o.remove("hex");
    for check in o["checks"].as_array_mut().unwrap() {
        if ["FCS", "HCS", "CRC", "BCC"].contains(&check["name"].as_str().unwrap()) {
            let c = check.as_object_mut().unwrap();
            c.remove("expected");
            c.remove("actual");
        }
    }
    let mut text = span.to_string();
    for id in ids {
        text = text.replace(&pseudonym(id), id);
        // P1 sends its ids hex-encoded: the raw values hold them so.
        text = text.replace(&hex(&pseudonym(id)), &hex(id));
    }
    text
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02X}")).collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn the_redacted_recording_decodes_to_the_same_values_but_the_ids() {
    let d = dir("same-values");
    let input = recording(&d, "site.jsonl", &MIXED);
    let zip = d.join("support.zip");
    let o = bundle(
        &d,
        &[input.to_str().unwrap(), "-o", zip.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let entries = unzip(&zip);
    assert_eq!(
        entries.keys().collect::<Vec<_>>(),
        [
            "README.txt",
            "check.json",
            "kamscope.log",
            "recording.jsonl"
        ]
    );
    let redacted = d.join("recording.jsonl");
    std::fs::write(&redacted, &entries["recording.jsonl"]).unwrap();

    let ids = [KAMSTRUP_3P, KAMSTRUP_1P, KAIFA, P1_METER, P1_GAS];
    let (before, after) = (decode(&input), decode(&redacted));
    assert_eq!(before.len(), MIXED.len(), "one span per fixture");
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a["ok"], true, "a redacted frame failed a check: {a}");
        assert_eq!(comparable(b, &ids), comparable(a, &ids));
    }
    // The ids are pseudonyms: those of the real ids, not the real ids.
    let meter_ids: Vec<&str> = after
        .iter()
        .map(|s| s["meter_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        meter_ids,
        [
            pseudonym(KAMSTRUP_3P),
            pseudonym(KAMSTRUP_1P),
            pseudonym(KAMSTRUP_1P),
            pseudonym(KAIFA),
            pseudonym(P1_METER)
        ]
    );
    // No real id anywhere, as written or hex-encoded (as a recording holds frame bytes).
    for (name, bytes) in &entries {
        for id in ids {
            assert!(!contains(bytes, id), "{id} in {name}");
            assert!(!contains(bytes, &hex(id)), "{id} hex-encoded in {name}");
        }
    }
    // Times and chunk boundaries are kept.
    let lines = |text: &[u8]| -> Vec<(String, usize)> {
        String::from_utf8_lossy(text)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let len = v.get("hex").map_or(0, |h| h.as_str().unwrap().len());
                (v["t"].as_str().unwrap().to_string(), len)
            })
            .collect()
    };
    assert_eq!(
        lines(&std::fs::read(&input).unwrap()),
        lines(&entries["recording.jsonl"])
    );

    let check: Value = serde_json::from_slice(&entries["check.json"]).unwrap();
    assert!(check["verdict"].is_string(), "{check}");
    let log = String::from_utf8_lossy(&entries["kamscope.log"]);
    assert!(log.contains(&pseudonym(KAMSTRUP_3P)), "{log}");
    let readme = String::from_utf8_lossy(&entries["README.txt"]);
    assert!(readme.contains(&format!("pseudonym {}", pseudonym(KAMSTRUP_3P))));
    assert!(
        readme.contains("HCS/FCS recomputed on 4 frame(s)"),
        "{readme}"
    );
    assert!(
        readme.contains("CRC recomputed on 1 telegram(s)"),
        "{readme}"
    );
    assert!(readme.contains("no config.toml"), "{readme}");
}

#[test]
fn the_same_meter_gets_the_same_pseudonym_in_every_bundle() {
    let d = dir("stable");
    let pseudonyms_of = |name: &str, fixture: &str| -> Vec<String> {
        let input = recording(&d, &format!("{name}.jsonl"), &[("han", fixture)]);
        let zip = d.join(format!("{name}.zip"));
        let o = bundle(
            &d,
            &[input.to_str().unwrap(), "-o", zip.to_str().unwrap()],
            None,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let redacted = d.join(format!("{name}-redacted.jsonl"));
        std::fs::write(&redacted, &unzip(&zip)["recording.jsonl"]).unwrap();
        decode(&redacted)
            .iter()
            .map(|s| s["meter_id"].as_str().unwrap().to_string())
            .collect()
    };
    let first = pseudonyms_of("first", "kamstrup-no-list1-3p-2022.hex");
    let again = pseudonyms_of("again", "kamstrup-no-list1-3p-2022.hex");
    let other = pseudonyms_of("other", "kamstrup-list1-1p-nulls.hex");
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_ne!(first, [KAMSTRUP_3P]);
    assert_eq!(first[0].len(), KAMSTRUP_3P.len());
}

#[test]
fn the_config_goes_without_its_keys() {
    let d = dir("config");
    let config = d.join("config.toml");
    std::fs::write(
        &config,
        "# site notes\n[site]\nfuse_a = 35\n\n[keys]\nencryption = \"00112233445566778899AABBCCDDEEFF\"\nauthentication = \"FFEEDDCCBBAA99887766554433221100\"\n",
    )
    .unwrap();
    let input = recording(&d, "in.jsonl", &[("han", "kamstrup-no-list1-3p-2022.hex")]);
    let zip = d.join("out.zip");
    let o = bundle(
        &d,
        &[input.to_str().unwrap(), "-o", zip.to_str().unwrap()],
        Some(&config),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let entries = unzip(&zip);
    let text = String::from_utf8_lossy(&entries["config.toml"]);
    assert!(
        text.contains("fuse_a = 35") && text.contains("# site notes"),
        "{text}"
    );
    assert!(!text.contains("[keys]"), "{text}");
    for (name, bytes) in &entries {
        assert!(
            !contains(bytes, "00112233445566778899AABBCCDDEEFF"),
            "key in {name}"
        );
        assert!(
            !contains(bytes, "FFEEDDCCBBAA99887766554433221100"),
            "key in {name}"
        );
    }
    // The check was made with the config's fuse.
    let check: Value = serde_json::from_slice(&entries["check.json"]).unwrap();
    assert!(check.to_string().contains("35"), "{check}");
}

#[test]
fn an_existing_zip_is_kept_unless_forced() {
    let d = dir("overwrite");
    let input = recording(&d, "in.jsonl", &[("han", "kamstrup-no-list1-3p-2022.hex")]);
    let zip = d.join("out.zip");
    std::fs::write(&zip, "mine").unwrap();
    let args = [input.to_str().unwrap(), "-o", zip.to_str().unwrap()];
    let o = bundle(&d, &args, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("exists: use --force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&zip).unwrap(), b"mine");
    let o = bundle(&d, &[&args[..], &["--force"]].concat(), None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(unzip(&zip).contains_key("recording.jsonl"));
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn bad_input_is_one_sentence_and_exit_code_2() {
    let d = dir("bad-input");
    let zip = d.join("out.zip");
    let not_a_recording = d.join("notes.txt");
    std::fs::write(&not_a_recording, "call the electrician on monday\n").unwrap();
    for input in [d.join("missing.jsonl"), not_a_recording] {
        let o = bundle(
            &d,
            &[input.to_str().unwrap(), "-o", zip.to_str().unwrap()],
            None,
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("kamscope: ") && !err.contains("panicked"),
            "{err}"
        );
        assert!(!zip.exists());
    }
    let input = recording(&d, "in.jsonl", &[("han", "kamstrup-no-list1-3p-2022.hex")]);
    let unwritable = d.join("no-such-dir").join("out.zip");
    let o = bundle(
        &d,
        &[input.to_str().unwrap(), "-o", unwritable.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("kamscope: cannot write"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ciphered_frames_are_counted_and_their_id_kept_out_of_the_check() {
    let d = dir("ciphered");
    let input = recording(&d, "dk.jsonl", &[("han", "kamstrup-dk-encrypted-glo.hex")]);
    let zip = d.join("dk.zip");
    let o = bundle(
        &d,
        &[
            input.to_str().unwrap(),
            "-o",
            zip.to_str().unwrap(),
            "--key",
            "00112233445566778899AABBCCDDEEFF",
            "--auth-key",
            "FFEEDDCCBBAA99887766554433221100",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let entries = unzip(&zip);
    let readme = String::from_utf8_lossy(&entries["README.txt"]);
    assert!(
        readme.contains("1 ciphered frame(s) left as they are (their ids are inside the cipher)"),
        "{readme}"
    );
    // The check decrypted the push with the keys: the meter number it names is a pseudonym.
    let check: Value = serde_json::from_slice(&entries["check.json"]).unwrap();
    let id = check["meter"]["id"].as_str().unwrap();
    assert_eq!(id.len(), "12343400".len());
    assert_ne!(id, "12343400");
    for (name, bytes) in &entries {
        assert!(!contains(bytes, "12343400"), "the meter number in {name}");
    }
    // The ciphered frame is as it came.
    assert_eq!(
        std::fs::read_to_string(&input).unwrap(),
        String::from_utf8_lossy(&entries["recording.jsonl"])
    );
}

#[test]
fn an_optical_readout_is_redacted_too() {
    let d = dir("optical");
    let readout = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/iec61107/kamstrup-685-382-additive-bcc.bin"),
    )
    .unwrap();
    let start: chrono::DateTime<chrono::Utc> = "2026-01-15T12:00:00Z".parse().unwrap();
    let mut text = String::new();
    let sent = b"/?12345678!\r\n".to_vec();
    let mut pieces = vec![(Direction::Tx, sent)];
    pieces.extend(readout.chunks(30).map(|p| (Direction::Rx, p.to_vec())));
    for (i, (dir, bytes)) in pieces.into_iter().enumerate() {
        let chunk = Chunk {
            t: start + chrono::Duration::milliseconds(300 * i as i64),
            link: Link::Optical,
            dir,
            bytes,
        };
        text.push_str(&chunk.to_json_line());
        text.push('\n');
    }
    let input = d.join("readout.jsonl");
    std::fs::write(&input, text).unwrap();
    let zip = d.join("readout.zip");
    let o = bundle(
        &d,
        &[input.to_str().unwrap(), "-o", zip.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let entries = unzip(&zip);
    let redacted = d.join("recording.jsonl");
    std::fs::write(&redacted, &entries["recording.jsonl"]).unwrap();
    let (before, after) = (decode(&input), decode(&redacted));
    assert!(!before.is_empty());
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["ok"], a["ok"], "{a}");
        assert_eq!(comparable(b, &["12345678"]), comparable(a, &["12345678"]));
    }
    for (name, bytes) in &entries {
        assert!(
            !contains(bytes, "12345678"),
            "the customer number in {name}"
        );
        assert!(
            !contains(bytes, &hex("12345678")),
            "the customer number hex-encoded in {name}"
        );
    }
    let readme = String::from_utf8_lossy(&entries["README.txt"]);
    assert!(
        readme.contains("BCC recomputed on 1 data block(s)"),
        "{readme}"
    );
    assert!(
        readme.contains("the device address in 1 sign-on request(s)"),
        "{readme}"
    );
}

#[test]
fn a_hex_capture_is_bundled_as_hex() {
    let d = dir("hex");
    let input =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/han/kaifa-list2-no-obis.hex");
    let zip = d.join("kaifa.zip");
    let o = bundle(
        &d,
        &[input.to_str().unwrap(), "-o", zip.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let entries = unzip(&zip);
    assert!(!entries.contains_key("recording.jsonl"));
    let redacted = d.join("recording.hex");
    std::fs::write(&redacted, &entries["recording.hex"]).unwrap();
    let (before, after) = (decode(&input), decode(&redacted));
    assert_eq!(before.len(), 1);
    assert_eq!(after[0]["ok"], true);
    assert_eq!(after[0]["meter_id"], pseudonym(KAIFA).as_str());
    assert_eq!(
        comparable(&before[0], &[KAIFA]),
        comparable(&after[0], &[KAIFA])
    );
    for (name, bytes) in &entries {
        assert!(!contains(bytes, KAIFA), "{name}");
        assert!(!contains(bytes, &hex(KAIFA)), "{name}");
    }
}
