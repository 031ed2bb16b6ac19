//! Turns spans and their decoding into what `kamscope decode` prints: JSON objects (one per span)
//! and a text form for people. The inspector uses the same reports.

use crate::protocol::axdr::Data;
use crate::protocol::check::{Check, all_ok};
use crate::protocol::datetime::DateTime;
use crate::protocol::decoder::{Decoded, SegmentState};
use crate::protocol::framer::{Content, Protocol, Span};
use crate::protocol::han::Field;
use crate::protocol::{iec61107, kmp, mbus};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write;

/// One decoded field, in the shape shared by DLMS and IEC 61107.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldReport {
    /// Six-group dotted OBIS code for DLMS, the id as sent for IEC 61107.
    pub obis: Option<String>,
    pub name: String,
    /// The value as received.
    pub raw: Value,
    pub scaler: Option<i8>,
    /// raw x 10^scaler, when numeric.
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// A reading of non-numeric values (a date-time, flags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// For values sent without an OBIS code: the code the documented list layout gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inferred_obis: Option<String>,
}

impl FieldReport {
    /// The raw value as text: strings as they are, numbers as numbers.
    pub fn raw_text(&self) -> String {
        match &self.raw {
            Value::String(s) => s.clone(),
            Value::Null => "null".into(),
            other => other.to_string(),
        }
    }

    /// The OBIS code (or id) as sent, an inferred code in brackets, or `-`.
    pub fn code_text(&self) -> String {
        self.obis
            .clone()
            .or_else(|| self.inferred_obis.as_ref().map(|o| format!("({o})")))
            .unwrap_or_else(|| "-".into())
    }
}

/// Everything `decode` says about one span.
#[derive(Debug, Clone, Serialize)]
pub struct SpanReport {
    pub offset: u64,
    pub len: usize,
    pub protocol: &'static str,
    pub ok: bool,
    pub kind: Option<String>,
    pub checks: Vec<Check>,
    pub hex: String,
    pub time: Option<String>,
    pub list: Option<&'static str>,
    pub meter_id: Option<String>,
    pub meter_type: Option<String>,
    pub ident: Option<String>,
    pub fields: Vec<FieldReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Protocol details: HDLC addresses, clock fields, cipher header, IEC mode, M-Bus header...
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, Value>,
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn raw_json(d: &Data) -> Value {
    match d {
        Data::Null | Data::DontCare => Value::Null,
        Data::Boolean(b) => json!(b),
        Data::Float32(f) => json!(f),
        Data::Float64(f) => json!(f),
        Data::DateTime(dt) => json!(hex(&dt.raw)),
        Data::Date(b) => json!(hex(b)),
        Data::Time(b) => json!(hex(b)),
        Data::BitString { bytes, .. } => json!(hex(bytes)),
        // Printable strings as text, anything else (binary octet strings) as hex.
        Data::VisibleString(b) | Data::Utf8String(b) | Data::OctetString(b) => match d.as_text() {
            Some(t) => json!(t),
            None => json!(hex(b)),
        },
        Data::Array(items) | Data::Structure(items) => {
            Value::Array(items.iter().map(raw_json).collect())
        }
        other => match other.as_i128() {
            Some(i) if i >= 0 => json!(i as u64),
            Some(i) => json!(i as i64),
            None => Value::Null,
        },
    }
}

fn datetime_text(dt: &DateTime) -> String {
    let mut s = dt
        .iso8601()
        .unwrap_or_else(|| format!("unspecified ({})", hex(&dt.raw)));
    match dt.deviation() {
        Some(d) => {
            let _ = write!(s, " deviation {d} min");
        }
        None => s.push_str(" (deviation not specified)"),
    }
    let flags = dt.status_flags();
    if !flags.is_empty() {
        let _ = write!(s, " [{}]", flags.join(", "));
    }
    s
}

fn field_report(f: &Field) -> FieldReport {
    let text = match &f.value {
        Data::DateTime(dt) => Some(datetime_text(dt)),
        _ => None,
    };
    FieldReport {
        obis: f.obis.map(|o| o.to_string()),
        name: f.name(),
        raw: raw_json(&f.value),
        scaler: f.scaler,
        value: f.scaled(),
        unit: f.unit.map(str::to_string),
        text,
        inferred_obis: if f.obis.is_none() {
            f.inferred.map(|o| o.to_string())
        } else {
            None
        },
    }
}

fn identification_json(id: &iec61107::Identification) -> Value {
    json!({
        "manufacturer": id.manufacturer,
        "baud_char": id.baud_char.to_string(),
        "mode": id.mode.name(),
        "baud": id.mode.baud(),
        "fast_reaction": id.fast_reaction,
    })
}

fn clock_details(dt: &DateTime) -> Value {
    json!({
        "raw": hex(&dt.raw),
        "deviation": dt.deviation(),
        "status": dt.status().map(|s| format!("0x{s:02X}")),
        "status_flags": dt.status_flags(),
        "hundredths": dt.hundredths(),
    })
}

/// The fields of an IEC 61107 data block, named.
pub fn iec_fields(block: &iec61107::DataBlock) -> Vec<FieldReport> {
    let mut out = Vec::new();
    for set in &block.datasets {
        let base_name = iec61107::register_name(&set.address)
            .map(str::to_string)
            .unwrap_or_else(|| format!("Register {}", set.address));
        for (i, v) in set.values.iter().enumerate() {
            let name = if i == 0 {
                base_name.clone()
            } else {
                format!("{base_name} (value {})", i + 1)
            };
            let text = iec61107::is_information_code(&set.address)
                .then(|| iec61107::information_code_flags(&v.raw))
                .flatten()
                .map(|flags| {
                    if flags.is_empty() {
                        "no conditions".to_string()
                    } else {
                        flags.join(", ")
                    }
                });
            let value = v.number();
            out.push(FieldReport {
                obis: Some(set.address.clone()),
                name,
                raw: json!(v.raw),
                scaler: value.map(|_| 0),
                value,
                unit: v.unit.clone(),
                text,
                inferred_obis: None,
            });
        }
    }
    out
}

/// Builds the report of one span.
pub fn span_report(span: &Span<'_>, decoded: &Decoded) -> SpanReport {
    let mut checks: Vec<Check> = span.content.checks().to_vec();
    checks.extend_from_slice(decoded.extra_checks());
    let mut r = SpanReport {
        offset: span.offset,
        len: span.bytes.len(),
        protocol: span.protocol().name(),
        ok: all_ok(&checks),
        kind: None,
        checks,
        hex: hex(span.bytes),
        time: None,
        list: None,
        meter_id: None,
        meter_type: None,
        ident: None,
        fields: Vec::new(),
        error: decoded.error().map(str::to_string),
        note: None,
        details: serde_json::Map::new(),
    };
    match (&span.content, decoded) {
        (Content::Hdlc(frame), Decoded::Hdlc(h)) => {
            r.kind = Some("hdlc-frame".into());
            if let Some(hd) = &frame.header {
                r.details.insert(
                    "hdlc".into(),
                    json!({
                        "dest": hd.dest.value(),
                        "src": hd.src.value(),
                        "dest_raw": hex(hd.dest.raw()),
                        "src_raw": hex(hd.src.raw()),
                        "control": format!("0x{:02X}", hd.control),
                        "control_name": hd.control_name(),
                        "length_field": hd.length,
                        "segmented": hd.segmented,
                        "shared_start_flag": frame.shared_start_flag,
                    }),
                );
            }
            match h.segment {
                SegmentState::Whole => {}
                SegmentState::Partial(n) => {
                    r.details
                        .insert("segment".into(), json!({"n": n, "last": false}));
                }
                SegmentState::Last(n) => {
                    r.details
                        .insert("segment".into(), json!({"n": n, "last": true}));
                }
            }
            r.note.clone_from(&h.note);
            if let Some(glo) = &h.cipher {
                r.kind = Some("general-glo-ciphering".into());
                r.details.insert(
                    "cipher".into(),
                    json!({
                        "system_title": hex(&glo.system_title),
                        "manufacturer": glo.manufacturer(),
                        "security_control": format!("0x{:02X}", glo.security_control),
                        "encrypted": glo.encrypted(),
                        "authenticated": glo.authenticated(),
                        "invocation_counter": glo.invocation_counter,
                        "tag": glo.tag.map(|t| hex(&t)),
                        "decrypted": h.decrypted,
                    }),
                );
            }
            if let Some(id) = h.invoke_id {
                r.details
                    .insert("invoke_id".into(), json!(format!("0x{id:08X}")));
            }
            if let Some(m) = &h.message {
                if h.cipher.is_none() {
                    r.kind = Some("data-notification".into());
                }
                r.time = m.time().and_then(DateTime::iso8601);
                r.list = Some(m.list.name());
                r.meter_id = m.meter_id();
                r.meter_type = m.meter_type().map(str::to_string);
                r.fields = m.fields.iter().map(field_report).collect();
                r.details.insert("brand".into(), json!(m.brand.name()));
                r.details
                    .insert("list_version".into(), json!(m.list_version()));
                r.details
                    .insert("meter_kind".into(), json!(m.meter_kind.description()));
                r.details
                    .insert("header_time_form".into(), json!(m.header_time.form()));
                if let Some(dt) = m.header_time.datetime() {
                    r.details.insert("header_time".into(), clock_details(dt));
                }
                if let Some(dt) = m.clock() {
                    r.details.insert("clock".into(), clock_details(dt));
                }
                r.details
                    .insert("null_placeholders".into(), json!(m.null_placeholders));
                r.details
                    .insert("current_scaler".into(), json!(m.current_scaler));
            }
        }
        (Content::Iec61107(frame), Decoded::Iec61107(d)) => {
            r.kind = Some(frame.kind.name().into());
            if let Some(id) = &d.ident {
                r.ident = Some(id.ident.clone());
                r.details
                    .insert("identification".into(), identification_json(id));
            }
            if frame.kind == iec61107::Kind::Request {
                let text = String::from_utf8_lossy(span.bytes);
                let address = text
                    .trim_end()
                    .trim_start_matches("/?")
                    .trim_end_matches('!');
                r.details.insert("address".into(), json!(address));
                r.note =
                    Some("sign-on request (an optical head echoes what the reader sends)".into());
            }
            if let Some(block) = &d.block {
                r.fields = iec_fields(block);
                r.details
                    .insert("end_marker".into(), json!(block.end_marker));
                if let Some((at, why)) = &block.broke_at {
                    r.error = Some(format!("block broke at byte {at}: {why}"));
                }
            }
        }
        (Content::Kmp(f), _) => {
            r.kind = Some(format!(
                "{} {}",
                match f.variant {
                    kmp::Variant::AsciiHex => "ascii-hex",
                    kmp::Variant::Binary => "binary",
                },
                f.direction.name()
            ));
            let data = f.data();
            let words: Vec<u32> = if data.len() >= 4 {
                let skip = data.len() % 4;
                data[skip..]
                    .chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                Vec::new()
            };
            r.details.insert(
                "kmp".into(),
                json!({
                    "address": f.address().map(|a| format!("0x{a:02X}")),
                    "command": f.command().map(|c| format!("0x{c:02X}")),
                    "data": hex(data),
                    "u32_words": words,
                }),
            );
        }
        (Content::Mbus(f), Decoded::Mbus(t)) => {
            r.kind = Some(match f.kind {
                mbus::Kind::Short => "short-frame".into(),
                mbus::Kind::Long => "long-frame".into(),
            });
            if let Some(t) = t {
                let mut m = json!({
                    "control": format!("0x{:02X}", t.control),
                    "control_name": mbus::control_name(t.control),
                    "address": t.address,
                    "ci": t.ci.map(|c| format!("0x{c:02X}")),
                });
                if let Some(h) = &t.header {
                    m["id"] = json!(h.id);
                    m["manufacturer"] = json!(h.manufacturer);
                    m["version"] = json!(h.version);
                    m["medium"] = json!(format!("0x{:02X}", h.medium));
                    m["medium_name"] = json!(mbus::medium_name(h.medium));
                    m["access_no"] = json!(h.access_no);
                    m["status"] = json!(format!("0x{:02X}", h.status));
                    m["signature"] = json!(format!("0x{:04X}", h.signature));
                    r.meter_id = Some(h.id.clone());
                }
                if !t.records.is_empty() {
                    m["records_hex"] = json!(hex(&span.bytes[t.records.clone()]));
                }
                r.details.insert("mbus".into(), m);
            }
        }
        _ => {}
    }
    r
}

/// Counts for `decode --summary`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub bytes: u64,
    pub good: u64,
    pub bad: u64,
    pub junk_bytes: u64,
    pub junk_runs: u64,
    pub undecoded: u64,
    /// Frames per protocol: (good, bad), indexed like `Protocol::ALL`.
    pub per_protocol: [(u64, u64); 5],
}

impl Summary {
    pub fn add(&mut self, span: &Span<'_>, decoded: &Decoded) {
        let len = span.bytes.len() as u64;
        self.bytes += len;
        let p = span.protocol();
        if p == Protocol::Junk {
            self.junk_bytes += len;
            self.junk_runs += 1;
            return;
        }
        let ok = all_ok(span.content.checks()) && decoded.extra_checks().iter().all(|c| c.ok);
        let i = Protocol::ALL
            .iter()
            .position(|&q| q == p)
            .expect("known protocol");
        if ok {
            self.good += 1;
            self.per_protocol[i].0 += 1;
            if decoded.error().is_some() {
                self.undecoded += 1;
            }
        } else {
            self.bad += 1;
            self.per_protocol[i].1 += 1;
        }
    }

    pub fn to_json(&self) -> Value {
        let mut protocols = serde_json::Map::new();
        let mut v = json!({
            "bytes": self.bytes,
            "good": self.good,
            "bad": self.bad,
            "junk_bytes": self.junk_bytes,
            "junk_runs": self.junk_runs,
            "undecoded": self.undecoded,
        });
        for (p, (good, bad)) in Protocol::ALL.iter().zip(self.per_protocol) {
            if *p == Protocol::Junk {
                continue;
            }
            v[p.name()] = json!(good + bad);
            protocols.insert(p.name().into(), json!({"good": good, "bad": bad}));
        }
        v["protocols"] = Value::Object(protocols);
        v
    }
}

/// The text form of a span for people.
pub fn render_text(r: &SpanReport, out: &mut String) {
    let verdict = if r.protocol == "junk" {
        "junk"
    } else if r.ok {
        "ok"
    } else {
        "BAD"
    };
    let _ = write!(
        out,
        "@{} · {} bytes · {}",
        r.offset,
        r.len,
        r.protocol.to_uppercase()
    );
    if let Some(k) = &r.kind {
        let _ = write!(out, " {k}");
    }
    let _ = writeln!(out, " · {verdict}");
    if !r.checks.is_empty() {
        let list: Vec<String> = r.checks.iter().map(ToString::to_string).collect();
        wrapped_line("checks", &list, out);
    }
    if let Some(h) = r.details.get("hdlc") {
        let _ = writeln!(
            out,
            "  hdlc     dest {} src {} control {} ({}){}",
            h["dest"],
            h["src"],
            h["control"].as_str().unwrap_or(""),
            h["control_name"].as_str().unwrap_or(""),
            if h["segmented"] == json!(true) {
                " segmented"
            } else {
                ""
            }
        );
    }
    if let Some(c) = r.details.get("cipher") {
        let text = |k: &str| c[k].as_str().unwrap_or("?").to_string();
        let parts = vec![
            format!(
                "system title {} ({})",
                text("system_title"),
                text("manufacturer")
            ),
            format!("security control {}", text("security_control")),
            format!("invocation counter {}", c["invocation_counter"]),
            if c["decrypted"] == json!(true) {
                "decrypted".into()
            } else {
                "not decrypted".into()
            },
        ];
        wrapped_line("cipher", &parts, out);
    }
    if let Some(i) = r.details.get("identification") {
        let _ = writeln!(
            out,
            "  ident    {} · manufacturer {} · mode {} ({} baud)",
            r.ident.as_deref().unwrap_or(""),
            i["manufacturer"].as_str().unwrap_or(""),
            i["mode"].as_str().unwrap_or(""),
            i["baud"]
        );
    }
    if let Some(m) = r.details.get("mbus") {
        let text = |k: &str| m[k].as_str().unwrap_or("-").to_string();
        let mut parts = vec![format!(
            "{} ({}) address {} CI {}",
            text("control"),
            text("control_name"),
            m["address"],
            text("ci")
        )];
        if m.get("id").is_some() {
            parts.push(format!("id {}", text("id")));
            parts.push(format!(
                "{} v{} · {}",
                text("manufacturer"),
                m["version"],
                text("medium_name")
            ));
            parts.push(format!(
                "access {} · status {}",
                m["access_no"],
                text("status")
            ));
        }
        wrapped_line("mbus", &parts, out);
    }
    if let Some(k) = r.details.get("kmp") {
        let mut data = k["data"].as_str().unwrap_or("").to_string();
        if data.len() > 40 {
            data = format!("{}... ({} bytes)", &data[..32], data.len() / 2);
        }
        let parts = vec![
            format!("address {}", k["address"].as_str().unwrap_or("-")),
            format!("command {}", k["command"].as_str().unwrap_or("-")),
            format!("data {data}"),
        ];
        wrapped_line("kmp", &parts, out);
    }
    if r.list.is_some() || r.time.is_some() {
        let mut line = String::new();
        match r.details.get("brand").and_then(Value::as_str) {
            Some("unknown") | None => line.push_str("DLMS "),
            Some(b) => {
                let _ = write!(line, "{b} ");
            }
        }
        if let Some(l) = r.list {
            let _ = write!(line, "{l}");
        }
        if let Some(t) = r
            .details
            .get("header_time")
            .or_else(|| r.details.get("clock"))
        {
            let _ = write!(
                line,
                " · time {}",
                r.time.as_deref().unwrap_or("unspecified")
            );
            match t["deviation"].as_i64() {
                Some(d) => {
                    let _ = write!(line, " deviation {d} min");
                }
                None => line.push_str(" (deviation not specified)"),
            }
            let _ = write!(
                line,
                " · clock status {}",
                t["status"].as_str().unwrap_or("unspecified")
            );
            if let Some(flags) = t["status_flags"].as_array().filter(|f| !f.is_empty()) {
                let names: Vec<&str> = flags.iter().filter_map(Value::as_str).collect();
                let _ = write!(line, " ({})", names.join(", "));
            }
        }
        if let Some(n) = r
            .details
            .get("null_placeholders")
            .and_then(Value::as_u64)
            .filter(|&n| n > 0)
        {
            let _ = write!(line, " · {n} null placeholders (phases not present)");
        }
        let parts: Vec<String> = line.split(" · ").map(str::to_string).collect();
        wrapped_line("message", &parts, out);
    }
    if r.meter_id.is_some() || r.meter_type.is_some() {
        let kind = r
            .details
            .get("meter_kind")
            .and_then(Value::as_str)
            .filter(|k| *k != "unknown type");
        let _ = writeln!(
            out,
            "  meter    id {} · type {}{}",
            r.meter_id.as_deref().unwrap_or("-"),
            r.meter_type.as_deref().unwrap_or("-"),
            kind.map(|k| format!(" ({k})")).unwrap_or_default()
        );
    }
    if !r.fields.is_empty() {
        let name_w = r
            .fields
            .iter()
            .map(|f| f.name.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 44);
        let obis_w = r
            .fields
            .iter()
            .map(|f| match (&f.obis, &f.inferred_obis) {
                (Some(o), _) => o.len(),
                (None, Some(o)) => o.len() + 2,
                (None, None) => 1,
            })
            .max()
            .unwrap_or(4)
            .max(4);
        let rows: Vec<[String; 4]> = r
            .fields
            .iter()
            .map(|f| {
                let name: String = f.name.chars().take(name_w).collect();
                let value = f.value.map(|v| v.to_string()).unwrap_or_default();
                [f.code_text(), name, f.raw_text(), value]
            })
            .collect();
        // Numbers fill the raw and value columns; a string (no value) spans both.
        let raw_w = rows
            .iter()
            .filter(|r| !r[3].is_empty())
            .map(|r| r[2].len())
            .max()
            .unwrap_or(3)
            .max(3);
        let value_w = rows.iter().map(|r| r[3].len()).max().unwrap_or(5).max(5);
        let both_w = raw_w + 2 + value_w;
        let header = format!(
            "  {:obis_w$}  {:name_w$}  {:>raw_w$}  {:>value_w$}  unit",
            "OBIS", "name", "raw", "value"
        );
        let _ = writeln!(out, "{}", header.trim_end());
        for (f, [code, name, raw, value]) in r.fields.iter().zip(rows) {
            let unit = f.unit.as_deref().unwrap_or("");
            let row = if value.is_empty() {
                format!("  {code:obis_w$}  {name:name_w$}  {raw:>both_w$}  {unit}")
            } else {
                format!(
                    "  {code:obis_w$}  {name:name_w$}  {raw:>raw_w$}  {value:>value_w$}  {unit}"
                )
            };
            let _ = writeln!(out, "{}", row.trim_end());
            if let Some(t) = &f.text {
                let _ = writeln!(out, "  {:obis_w$}  = {t}", "");
            }
        }
        if r.fields
            .iter()
            .any(|f| f.obis.is_none() && f.inferred_obis.is_some())
        {
            let _ = writeln!(
                out,
                "  (codes in brackets: not sent; named by the documented list layout)"
            );
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  error    {e}");
    }
    if let Some(n) = &r.note {
        let _ = writeln!(out, "  note     {n}");
    }
    if !r.ok || r.protocol == "junk" {
        hexdump(&r.hex, r.offset, out);
    }
    out.push('\n');
}

/// Writes `label` and the items joined by " · ", wrapped to fit 80 columns.
fn wrapped_line(label: &str, items: &[String], out: &mut String) {
    const WIDTH: usize = 78;
    const INDENT: usize = 11;
    let mut line = format!("  {label:<8} ");
    for (i, item) in items.iter().enumerate() {
        if i > 0 && line.chars().count() + 3 + item.chars().count() > WIDTH {
            let _ = writeln!(out, "{}", line.trim_end());
            line = " ".repeat(INDENT);
        } else if i > 0 {
            line.push_str(" · ");
        }
        line.push_str(item);
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

/// A short hex dump for bad frames and junk (the first 256 bytes).
fn hexdump(hex: &str, offset: u64, out: &mut String) {
    const MAX: usize = 256;
    let bytes = hex.len() / 2;
    for (row, chunk) in hex.as_bytes().chunks(32).take(MAX / 16).enumerate() {
        let _ = write!(out, "  {:>8} ", offset + (row as u64) * 16);
        for pair in chunk.chunks(2) {
            out.push(' ');
            out.push(pair[0] as char);
            out.push(pair[1] as char);
        }
        out.push('\n');
    }
    if bytes > MAX {
        let _ = writeln!(out, "  ... {} more bytes", bytes - MAX);
    }
}

/// Frames and decodes a whole buffer at once (tests, small inputs).
pub fn decode_all(bytes: &[u8], decoder: &mut crate::protocol::Decoder) -> Vec<SpanReport> {
    let mut framer = crate::protocol::Framer::default();
    framer.push(bytes);
    framer.finish();
    let mut out = Vec::new();
    while let Some(span) = framer.next_span() {
        let decoded = decoder.decode(&span);
        out.push(span_report(&span, &decoded));
    }
    out
}

/// A short name for a readout verdict, for scripts.
pub fn verdict_kind(v: &crate::protocol::readout::Verdict) -> &'static str {
    use crate::protocol::readout::Verdict;
    match v {
        Verdict::Complete { .. } => "complete",
        Verdict::BadBcc { .. } => "bcc-bad",
        Verdict::Incomplete { .. } => "incomplete",
        Verdict::EchoOnly => "echo-only",
        Verdict::NoAnswer { .. } => "no-answer",
        Verdict::Garbled { .. } => "garbled",
        Verdict::PortError { .. } => "port-error",
        Verdict::Cancelled => "cancelled",
    }
}

/// A finished readout in the shape of `decode`'s spans: `ident`, `fields`, `checks` (the BCC and
/// its rule), plus the verdict.
pub fn readout_report(r: &crate::readout::ReadoutResult) -> SpanReport {
    use crate::protocol::readout::Verdict;
    let checks = match &r.verdict {
        Verdict::Complete { bcc } | Verdict::BadBcc { bcc } => vec![*bcc],
        _ => Vec::new(),
    };
    let mut details = serde_json::Map::new();
    details.insert("port".into(), json!(r.port));
    details.insert("verdict".into(), json!(verdict_kind(&r.verdict)));
    details.insert("verdict_text".into(), json!(r.verdict.describe()));
    details.insert("duration_ms".into(), json!(r.duration_ms));
    details.insert("baud".into(), json!(r.baud));
    details.insert("echo".into(), json!(r.echo_seen));
    details.insert(
        "started".into(),
        json!(
            r.started
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
    );
    if let Some(id) = &r.ident {
        details.insert("identification".into(), identification_json(id));
    }
    SpanReport {
        offset: 0,
        len: r.raw_block.len(),
        protocol: "iec61107",
        ok: r.verdict.ok(),
        kind: Some("readout".into()),
        checks,
        hex: hex(&r.raw_block),
        time: None,
        list: None,
        meter_id: None,
        meter_type: None,
        ident: r.ident.as_ref().map(|i| i.ident.clone()),
        fields: iec_fields(&r.block),
        error: r
            .block
            .broke_at
            .as_ref()
            .map(|(at, why)| format!("block broke at byte {at}: {why}")),
        note: None,
        details,
    }
}
