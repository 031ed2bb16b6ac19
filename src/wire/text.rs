//! The text form of a span for people (`decode --format text`, `read`): read from the same typed
//! [`SpanDetail`] as the JSON, fitted to 80 columns.

use super::detail::{ClockDetail, Details, SpanDetail};
use std::fmt::Write;

/// Appends the text form of a span to `out`.
pub fn render(r: &SpanDetail, out: &mut String) {
    let verdict = if r.protocol == "junk" {
        "junk"
    } else if r.ok {
        "ok"
    } else {
        "BAD"
    };
    let _ = write!(
        out,
        "@{} · {} byte{} · {}",
        r.offset,
        r.len,
        if r.len == 1 { "" } else { "s" },
        r.protocol.to_uppercase()
    );
    if let Some(k) = &r.kind {
        let _ = write!(out, " {k}");
    }
    let _ = writeln!(out, " · {verdict}");
    if !r.checks.is_empty() {
        let list: Vec<String> = r
            .checks
            .iter()
            .map(|c| match r.cut_off_text(c) {
                Some(t) => format!("{} BAD ({t})", c.name),
                None => c.to_string(),
            })
            .collect();
        wrapped_line("checks", &list, out);
    }
    if let Some(hdlc) = r.hdlc() {
        hdlc_lines(r, hdlc, out);
    }
    if let Some(i) = r.identification() {
        let _ = writeln!(
            out,
            "  ident    {} · manufacturer {} · mode {} ({} baud)",
            r.ident.as_deref().unwrap_or(""),
            i.manufacturer,
            i.mode,
            i.baud
        );
    }
    bus_lines(r, out);
    if let Some(why) = r.unverified_reason.filter(|_| r.unverified) {
        let _ = writeln!(out, "  values   unverified ({why})");
    }
    if (r.list.is_some() || r.time.is_some()) && r.protocol != "p1" {
        message_line(r, out);
    }
    if r.meter_id.is_some() || r.meter_type.is_some() {
        let kind = r
            .hdlc()
            .and_then(|h| h.meter_kind)
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
        field_table(r, out);
    }
    if let Some(e) = &r.error {
        wrapped_words("error", &e.message, out);
    }
    if let Some(n) = &r.note {
        wrapped_words("note", n, out);
    }
    if !r.ok || r.protocol == "junk" {
        hexdump(&r.hex, r.offset, out);
    }
    out.push('\n');
}

/// The M-Bus telegram or KMP frame line.
fn bus_lines(r: &SpanDetail, out: &mut String) {
    match &r.details {
        Some(Details::Mbus(m)) => {
            let m = &m.mbus;
            let mut parts = vec![format!(
                "{} ({}) address {} CI {}",
                m.control,
                m.control_name,
                m.address,
                m.ci.as_deref().unwrap_or("-")
            )];
            if let Some(id) = &m.id {
                parts.push(format!("id {id}"));
                parts.push(format!(
                    "{} v{} · {}",
                    m.manufacturer.as_deref().unwrap_or("-"),
                    m.version.unwrap_or(0),
                    m.medium_name.unwrap_or("-")
                ));
                parts.push(format!(
                    "access {} · status {}",
                    m.access_no.unwrap_or(0),
                    m.status.as_deref().unwrap_or("-")
                ));
            }
            wrapped_line("mbus", &parts, out);
        }
        Some(Details::Kmp(k)) => {
            let k = &k.kmp;
            let mut data = k.data.clone();
            if data.len() > 40 {
                data = format!("{}... ({} bytes)", &data[..32], data.len() / 2);
            }
            let parts = vec![
                format!("address {}", k.address.as_deref().unwrap_or("-")),
                match k.command_name {
                    Some(name) => {
                        format!("command {} ({name})", k.command.as_deref().unwrap_or("-"))
                    }
                    None => format!("command {}", k.command.as_deref().unwrap_or("-")),
                },
                format!("data {data}"),
            ];
            wrapped_line("kmp", &parts, out);
        }
        Some(Details::P1(p)) => {
            let p = &p.p1;
            let mut parts = vec![
                format!("/{}", r.ident.as_deref().unwrap_or("")),
                format!("manufacturer {}", p.manufacturer),
            ];
            if let Some(v) = &p.version {
                parts.push(format!("version {v}"));
            }
            parts.push(format!("time {}", r.time.as_deref().unwrap_or("not sent")));
            parts.push(format!("{} lines", p.lines));
            parts.push(match p.crc {
                "none" => "no CRC (DSMR 2/3)".to_string(),
                crc => crc.to_string(),
            });
            wrapped_line("p1", &parts, out);
        }
        _ => {}
    }
}

fn hdlc_lines(r: &SpanDetail, d: &super::detail::HdlcDetail, out: &mut String) {
    if let Some(h) = &d.hdlc {
        let _ = writeln!(
            out,
            "  hdlc     dest {} src {} control {} ({}){}",
            h.dest,
            h.src,
            h.control,
            h.control_name,
            if h.segmented { " segmented" } else { "" }
        );
    }
    if let Some(c) = &d.cipher {
        let parts = vec![
            format!(
                "system title {} ({})",
                c.system_title,
                c.manufacturer.as_deref().unwrap_or("?")
            ),
            format!("security control {}", c.security_control),
            format!("invocation counter {}", c.invocation_counter),
            match (c.decrypted, r.unverified) {
                (true, true) => "decrypted, tag not checked (no authentication key)".into(),
                (true, false) => "decrypted".into(),
                (false, _) => "not decrypted".into(),
            },
        ];
        wrapped_line("cipher", &parts, out);
    }
}

/// `Kamstrup list1 · time ... deviation ... · clock status ...`
fn message_line(r: &SpanDetail, out: &mut String) {
    let hdlc = r.hdlc();
    let mut line = String::new();
    match hdlc.and_then(|h| h.brand) {
        Some("unknown") | None => line.push_str("DLMS "),
        Some(b) => {
            let _ = write!(line, "{b} ");
        }
    }
    if let Some(l) = r.list {
        line.push_str(l);
    }
    let clock: Option<&ClockDetail> =
        hdlc.and_then(|h| h.header_time.as_ref().or(h.clock.as_ref()));
    if let Some(t) = clock {
        let _ = write!(
            line,
            " · time {}",
            r.time.as_deref().unwrap_or("unspecified")
        );
        match t.deviation {
            Some(d) => {
                let _ = write!(line, " deviation {d} min");
            }
            None => line.push_str(" (deviation not specified)"),
        }
        let _ = write!(
            line,
            " · clock status {}",
            t.status.as_deref().unwrap_or("unspecified")
        );
        if !t.status_flags.is_empty() {
            let _ = write!(line, " ({})", t.status_flags.join(", "));
        }
    }
    if let Some(n) = hdlc.and_then(|h| h.null_placeholders).filter(|&n| n > 0) {
        let _ = write!(line, " · {n} null placeholders (phases not present)");
    }
    let parts: Vec<String> = line.split(" · ").map(str::to_string).collect();
    wrapped_line("message", &parts, out);
}

/// OBIS code, name, raw and scaled value, unit: columns sized to the values.
fn field_table(r: &SpanDetail, out: &mut String) {
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
        .max(if r.protocol == "mbus" { 7 } else { 4 });
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
        if r.protocol == "mbus" {
            "DIF/VIF"
        } else {
            "OBIS"
        },
        "name",
        "raw",
        "value"
    );

    let _ = writeln!(out, "{}", header.trim_end());
    for (f, [code, name, raw, value]) in r.fields.iter().zip(rows) {
        let unit = f.unit.as_deref().unwrap_or("");
        let row = if value.is_empty() {
            format!("  {code:obis_w$}  {name:name_w$}  {raw:>both_w$}  {unit}")
        } else {
            format!("  {code:obis_w$}  {name:name_w$}  {raw:>raw_w$}  {value:>value_w$}  {unit}")
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

/// Writes `label` and the items joined by " · ", wrapped to fit 80 columns.
fn wrapped_line(label: &str, items: &[String], out: &mut String) {
    wrapped(label, items, " · ", out);
}

/// Writes `label` and the items joined by `sep`, wrapped between items to fit 80 columns.
fn wrapped(label: &str, items: &[String], sep: &str, out: &mut String) {
    const WIDTH: usize = 78;
    const INDENT: usize = 11;
    let mut line = format!("  {label:<8} ");
    let sep_w = sep.chars().count();
    for (i, item) in items.iter().enumerate() {
        if i > 0 && line.chars().count() + sep_w + item.chars().count() > WIDTH {
            let _ = writeln!(out, "{}", line.trim_end());
            line = " ".repeat(INDENT);
        } else if i > 0 {
            line.push_str(sep);
        }
        line.push_str(item);
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

/// Writes `label` and a sentence, wrapped between words to fit 80 columns.
fn wrapped_words(label: &str, text: &str, out: &mut String) {
    let words: Vec<String> = text.split(' ').map(str::to_string).collect();
    wrapped(label, &words, " ", out);
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
