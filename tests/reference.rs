//! `decode`'s output is a contract with scripts: the JSON (and the text) of every fixture is
//! compared byte for byte with the reference written in `tests/fixtures/reference/` when the output
//! was last changed on purpose. Regenerate with `KAMSCOPE_BLESS=1 cargo test --test reference`,
//! and say why in the CHANGELOG.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const KEY: &str = "00112233445566778899AABBCCDDEEFF";
const AUTH_KEY: &str = "FFEEDDCCBBAA99887766554433221100";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every input with the extra arguments it is decoded with, and the reference's base name.
fn cases() -> Vec<(String, PathBuf, Vec<&'static str>)> {
    let mut out = Vec::new();
    for dir in [
        "tests/fixtures/han",
        "tests/fixtures/iec61107",
        "tests/fixtures/kmp",
        "tests/fixtures/mbus",
        "tests/fixtures/p1",
        "assets",
    ] {
        for path in common::fixture_files(dir) {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            out.push((stem, path, Vec::new()));
        }
    }
    let encrypted = root().join("tests/fixtures/han/kamstrup-dk-encrypted-glo.hex");
    out.push((
        "kamstrup-dk-encrypted-glo-keys".into(),
        encrypted.clone(),
        vec!["--key", KEY, "--auth-key", AUTH_KEY],
    ));
    out.push((
        "kamstrup-dk-encrypted-glo-noauthkey".into(),
        encrypted.clone(),
        vec!["--key", KEY],
    ));
    out.push((
        "kamstrup-dk-encrypted-glo-wrongkey".into(),
        encrypted,
        vec!["--key", AUTH_KEY],
    ));
    out.push((
        "mixed-damaged".into(),
        root().join("tests/fixtures/reference/mixed-damaged.bin"),
        Vec::new(),
    ));
    out
}

fn decode(input: &Path, format: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kamscope"))
        .arg("decode")
        .arg("--format")
        .arg(format)
        .args(extra)
        .arg(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn decode_output_matches_the_references() {
    let bless = std::env::var_os("KAMSCOPE_BLESS").is_some();
    let mut differ = Vec::new();
    let mut compared = 0;
    for (name, input, extra) in cases() {
        for (format, ext) in [("json", "jsonl"), ("text", "txt")] {
            let reference = root().join(format!("tests/fixtures/reference/{name}.{ext}"));
            let got = decode(&input, format, &extra);
            if bless {
                std::fs::write(&reference, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&reference)
                .unwrap_or_else(|e| panic!("{}: {e}", reference.display()));
            compared += 1;
            if got != want {
                let line = got
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .map_or(got.lines().count().min(want.lines().count()), |i| i);
                differ.push(format!(
                    "{name}.{ext} differs from line {}:\n  got  {}\n  want {}",
                    line + 1,
                    got.lines().nth(line).unwrap_or("<end>"),
                    want.lines().nth(line).unwrap_or("<end>")
                ));
            }
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert!(
        bless || compared >= 60,
        "only {compared} references compared"
    );
}

#[test]
fn summary_matches_the_reference() {
    let input = root().join("tests/fixtures/reference/mixed-damaged.bin");
    let out = Command::new(env!("CARGO_BIN_EXE_kamscope"))
        .args(["decode", "--summary"])
        .arg(&input)
        .output()
        .unwrap();
    let got = String::from_utf8(out.stdout).unwrap();
    let reference = root().join("tests/fixtures/reference/mixed-damaged-summary.json");
    if std::env::var_os("KAMSCOPE_BLESS").is_some() {
        std::fs::write(&reference, &got).unwrap();
    }
    assert_eq!(got, std::fs::read_to_string(reference).unwrap());
}
