//! The text form of a span for people (`decode --format text`, `read`): read from the same typed
//! [`SpanDetail`] as the JSON, fitted to 80 columns.

use super::detail::{
    CheckValueText, ClockDetail, Details, FieldName, FieldText, FieldView, Fields, SpanDetail,
    SpanOutput, push_decimal,
};
use crate::protocol::check::Check;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt::{self, Write};

/// Appends the text form of a span to `out`.
pub fn render(r: &SpanDetail, out: &mut String) {
    render_with(r, Fields::Listed(&r.fields), out);
}

/// Appends the text form of a span as `decode` describes it (HAN fields borrowed) to `out`.
pub fn render_output(span: &SpanOutput<'_>, out: &mut String) {
    render_with(&span.detail(), span.fields(), out);
}

/// Appends the text form of a span whose fields are `fields` to `out`.
fn render_with(r: &SpanDetail, fields: Fields<'_>, out: &mut String) {
    let verdict = if r.protocol == "junk" {
        "junk"
    } else if r.ok {
        "ok"
    } else {
        "BAD"
    };
    out.push('@');
    push_decimal(out, r.offset);
    out.push_str(" · ");
    push_decimal(out, r.len as u64);
    out.push_str(if r.len == 1 {
        " byte · "
    } else {
        " bytes · "
    });
    out.extend(r.protocol.chars().map(|c| c.to_ascii_uppercase()));
    if let Some(k) = &r.kind {
        out.push(' ');
        out.push_str(k);
    }
    out.push_str(" · ");
    out.push_str(verdict);
    out.push('\n');
    if !r.checks.is_empty() {
        let mut list = Items::default();
        for c in &r.checks {
            match r.cut_off_text(c) {
                Some(t) => list.add(format_args!("{} BAD ({t})", c.name)),
                None => list.add_check(c),
            }
        }
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
        out.push_str("  meter    id ");
        out.push_str(r.meter_id.as_deref().unwrap_or("-"));
        out.push_str(" · type ");
        out.push_str(r.meter_type.as_deref().unwrap_or("-"));
        if let Some(k) = kind {
            out.push_str(" (");
            out.push_str(k);
            out.push(')');
        }
        out.push('\n');
    }
    if !fields.is_empty() {
        field_table(r, fields, out);
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

/// The items of a wrapped line, written one after the other into one buffer.
struct Items {
    text: String,
    ends: SmallVec<[usize; 12]>,
}

impl Default for Items {
    fn default() -> Self {
        Items {
            text: String::with_capacity(256),
            ends: SmallVec::new(),
        }
    }
}

impl Items {
    fn add(&mut self, item: fmt::Arguments<'_>) {
        let _ = self.text.write_fmt(item);
        self.ends.push(self.text.len());
    }

    /// A check as its `Display` shows it; a passed check with a hex value without `fmt`.
    fn add_check(&mut self, c: &Check) {
        match CheckValueText::of(c.actual).filter(|_| c.ok && c.rule.is_none()) {
            Some(actual) => {
                self.text.push_str(c.name);
                self.text.push_str(" ok (");
                self.text.push_str(actual.as_str());
                self.text.push(')');
                self.ends.push(self.text.len());
            }
            None => self.add(format_args!("{c}")),
        }
    }

    fn add_str(&mut self, item: &str) {
        self.text.push_str(item);
        self.ends.push(self.text.len());
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.text[a..b])
    }
}

/// The M-Bus telegram or KMP frame line.
fn bus_lines(r: &SpanDetail, out: &mut String) {
    let mut parts = Items::default();
    match &r.details {
        Some(Details::Mbus(m)) => {
            let m = &m.mbus;
            parts.add(format_args!(
                "{} ({}) address {} CI {}",
                m.control,
                m.control_name,
                m.address,
                m.ci.as_deref().unwrap_or("-")
            ));
            if let Some(id) = &m.id {
                parts.add(format_args!("id {id}"));
                parts.add(format_args!(
                    "{} v{} · {}",
                    m.manufacturer.as_deref().unwrap_or("-"),
                    m.version.unwrap_or(0),
                    m.medium_name.unwrap_or("-")
                ));
                parts.add(format_args!(
                    "access {} · status {}",
                    m.access_no.unwrap_or(0),
                    m.status.as_deref().unwrap_or("-")
                ));
            }
            wrapped_line("mbus", &parts, out);
        }
        Some(Details::Kmp(k)) => {
            let k = &k.kmp;
            parts.add(format_args!(
                "address {}",
                k.address.as_deref().unwrap_or("-")
            ));
            let command = k.command.as_deref().unwrap_or("-");
            match k.command_name {
                Some(name) => parts.add(format_args!("command {command} ({name})")),
                None => parts.add(format_args!("command {command}")),
            }
            if k.data.len() > 40 {
                parts.add(format_args!(
                    "data {}... ({} bytes)",
                    &k.data[..32],
                    k.data.len() / 2
                ));
            } else {
                parts.add(format_args!("data {}", k.data));
            }
            wrapped_line("kmp", &parts, out);
        }
        Some(Details::P1(p)) => {
            let p = &p.p1;
            parts.add(format_args!("/{}", r.ident.as_deref().unwrap_or("")));
            parts.add(format_args!("manufacturer {}", p.manufacturer));
            if let Some(v) = &p.version {
                parts.add(format_args!("version {v}"));
            }
            parts.add(format_args!(
                "time {}",
                r.time.as_deref().unwrap_or("not sent")
            ));
            parts.add(format_args!("{} lines", p.lines));
            match p.crc {
                "none" => parts.add_str("no CRC (DSMR 2/3)"),
                crc => parts.add_str(crc),
            }
            wrapped_line("p1", &parts, out);
        }
        _ => {}
    }
}

fn hdlc_lines(r: &SpanDetail, d: &super::detail::HdlcDetail, out: &mut String) {
    if let Some(h) = &d.hdlc {
        out.push_str("  hdlc     dest ");
        push_decimal(out, h.dest.into());
        out.push_str(" src ");
        push_decimal(out, h.src.into());
        out.push_str(" control ");
        out.push_str(&h.control);
        out.push_str(" (");
        out.push_str(h.control_name);
        out.push(')');
        if h.segmented {
            out.push_str(" segmented");
        }
        out.push('\n');
    }
    if let Some(c) = &d.cipher {
        let mut parts = Items::default();
        parts.add(format_args!(
            "system title {} ({})",
            c.system_title,
            c.manufacturer.as_deref().unwrap_or("?")
        ));
        parts.add(format_args!("security control {}", c.security_control));
        parts.add(format_args!("invocation counter {}", c.invocation_counter));
        parts.add_str(match (c.decrypted, r.unverified) {
            (true, true) => "decrypted, tag not checked (no authentication key)",
            (true, false) => "decrypted",
            (false, _) => "not decrypted",
        });
        wrapped_line("cipher", &parts, out);
    }
}

/// `Kamstrup list1 · time ... deviation ... · clock status ...`
fn message_line(r: &SpanDetail, out: &mut String) {
    let hdlc = r.hdlc();
    let mut line = String::with_capacity(128);
    match hdlc.and_then(|h| h.brand) {
        Some("unknown") | None => line.push_str("DLMS "),
        Some(b) => {
            line.push_str(b);
            line.push(' ');
        }
    }
    if let Some(l) = r.list {
        line.push_str(l);
    }
    let clock: Option<&ClockDetail> =
        hdlc.and_then(|h| h.header_time.as_ref().or(h.clock.as_ref()));
    if let Some(t) = clock {
        line.push_str(" · time ");
        line.push_str(r.time.as_deref().unwrap_or("unspecified"));
        match t.deviation {
            Some(d) => {
                let _ = write!(line, " deviation {d} min");
            }
            None => line.push_str(" (deviation not specified)"),
        }
        line.push_str(" · clock status ");
        line.push_str(t.status.as_deref().unwrap_or("unspecified"));
        if !t.status_flags.is_empty() {
            let _ = write!(line, " ({})", t.status_flags.join(", "));
        }
    }
    if let Some(n) = hdlc.and_then(|h| h.null_placeholders).filter(|&n| n > 0) {
        let _ = write!(line, " · {n} null placeholders (phases not present)");
    }
    let mut parts = Items::default();
    for part in line.split(" · ") {
        parts.add_str(part);
    }
    wrapped_line("message", &parts, out);
}

/// A field's name as shown: its own text, or the composed one (rare).
fn name_text<'a>(f: &FieldView<'a>) -> Cow<'a, str> {
    match f.name {
        FieldName::Text(t) => Cow::Borrowed(t),
        other => Cow::Owned(other.to_string()),
    }
}

/// Appends `text` padded with spaces to `width` characters, on the left (`right`) or the right.
fn pad(out: &mut String, text: &str, width: usize, right: bool) {
    let fill = width.saturating_sub(chars(text));
    if right {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    out.push_str(text);
    if !right {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

/// Appends a float as `Display` writes it; whole numbers (most scaled values) without `fmt`.
fn write_f64(out: &mut String, v: f64) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
    if v.fract() == 0.0 && v.abs() < EXACT && !(v == 0.0 && v.is_sign_negative()) {
        if v < 0.0 {
            out.push('-');
        }
        push_decimal(out, v.abs() as u64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// The characters in `text` (its bytes when ASCII, as most are).
fn chars(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// Drops the white space at the end of the line that began at `start`.
fn trim_line_end(out: &mut String, start: usize) {
    let kept = out[start..].trim_end().len();
    out.truncate(start + kept);
}

/// OBIS code, name, raw and scaled value, unit: columns sized to the values.
fn field_table(r: &SpanDetail, fields: Fields<'_>, out: &mut String) {
    let fields: SmallVec<[FieldView<'_>; 24]> = fields.iter().collect();
    let name_w = fields
        .iter()
        .map(|f| chars(&name_text(f)))
        .max()
        .unwrap_or(4)
        .clamp(4, 44);
    let obis_w = fields
        .iter()
        .map(FieldView::code_width)
        .max()
        .unwrap_or(4)
        .max(if r.protocol == "mbus" { 7 } else { 4 });
    // Each row's raw and value text, one after the other in one buffer.
    let mut cells = String::with_capacity(32 * fields.len());
    let mut rows: SmallVec<[(usize, usize, usize); 32]> = SmallVec::new();
    for f in fields.iter() {
        let start = cells.len();
        f.raw.write_text(&mut cells);
        let raw_end = cells.len();
        if let Some(v) = f.value {
            write_f64(&mut cells, v);
        }
        rows.push((start, raw_end, cells.len()));
    }
    let raw = |&(a, b, _): &(usize, usize, usize)| &cells[a..b];
    let value = |&(_, b, c): &(usize, usize, usize)| &cells[b..c];
    // Numbers fill the raw and value columns; a string (no value) spans both.
    let raw_w = rows
        .iter()
        .filter(|r| !value(r).is_empty())
        .map(|r| raw(r).len())
        .max()
        .unwrap_or(3)
        .max(3);
    let value_w = rows
        .iter()
        .map(|r| value(r).len())
        .max()
        .unwrap_or(5)
        .max(5);
    let both_w = raw_w + 2 + value_w;
    let start = out.len();
    out.push_str("  ");
    let code_title = if r.protocol == "mbus" {
        "DIF/VIF"
    } else {
        "OBIS"
    };
    pad(out, code_title, obis_w, false);
    out.push_str("  ");
    pad(out, "name", name_w, false);
    out.push_str("  ");
    pad(out, "raw", raw_w, true);
    out.push_str("  ");
    pad(out, "value", value_w, true);
    out.push_str("  unit");
    trim_line_end(out, start);
    out.push('\n');
    let mut code = String::with_capacity(32);
    for (f, row) in fields.iter().zip(&rows) {
        let start = out.len();
        code.clear();
        f.write_code(&mut code);
        out.push_str("  ");
        pad(out, &code, obis_w, false);
        out.push_str("  ");
        let name = name_text(f);
        let name = match name.char_indices().nth(name_w) {
            Some((cut, _)) => &name[..cut],
            None => &name,
        };
        pad(out, name, name_w, false);
        out.push_str("  ");
        if value(row).is_empty() {
            pad(out, raw(row), both_w, true);
        } else {
            pad(out, raw(row), raw_w, true);
            out.push_str("  ");
            pad(out, value(row), value_w, true);
        }
        out.push_str("  ");
        out.push_str(f.unit.unwrap_or(""));
        trim_line_end(out, start);
        out.push('\n');
        if let Some(t) = &f.text {
            out.push_str("  ");
            pad(out, "", obis_w, false);
            out.push_str("  = ");
            match t {
                FieldText::Text(t) => out.push_str(t),
                other => {
                    let _ = write!(out, "{other}");
                }
            }
            out.push('\n');
        }
    }
    if fields
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
fn wrapped_line(label: &str, items: &Items, out: &mut String) {
    wrapped(label, items.iter(), " · ", out);
}

/// Writes `label` and the items joined by `sep`, wrapped between items to fit 80 columns.
fn wrapped<'a>(label: &str, items: impl Iterator<Item = &'a str>, sep: &str, out: &mut String) {
    const WIDTH: usize = 78;
    const INDENT: usize = 11;
    let mut start = out.len();
    out.push_str("  ");
    pad(out, label, 8, false);
    out.push(' ');
    let mut line_w = chars(&out[start..]);
    let sep_w = chars(sep);
    for (i, item) in items.enumerate() {
        let item_w = chars(item);
        if i > 0 && line_w + sep_w + item_w > WIDTH {
            trim_line_end(out, start);
            out.push('\n');
            start = out.len();
            out.extend(std::iter::repeat_n(' ', INDENT));
            line_w = INDENT;
        } else if i > 0 {
            out.push_str(sep);
            line_w += sep_w;
        }
        out.push_str(item);
        line_w += item_w;
    }
    trim_line_end(out, start);
    out.push('\n');
}

/// Writes `label` and a sentence, wrapped between words to fit 80 columns.
fn wrapped_words(label: &str, text: &str, out: &mut String) {
    wrapped(label, text.split(' '), " ", out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::check::CheckValue;

    /// A check in the text is its `Display`, whether written directly or through `fmt`.
    #[test]
    fn checks_read_as_their_display() {
        let bytes = CheckValue::Bytes {
            len: 3,
            bytes: [0xE6, 0xE7, 0x00, 0x00],
        };
        let mut checks = vec![
            Check::compare("start flag", CheckValue::Hex8(0x7E), CheckValue::Hex8(0x7E)),
            Check::compare("FCS", CheckValue::Hex16(0xA798), CheckValue::Hex16(0xA798)),
            Check::compare("FCS", CheckValue::Hex16(0xA798), CheckValue::Hex16(0x0001)),
            Check::compare("LLC", bytes, bytes),
            Check::compare("length", CheckValue::Count(302), CheckValue::Count(302)),
            Check::compare("end flag", CheckValue::Hex8(0x7E), CheckValue::Missing),
        ];
        let mut with_rule = Check::compare("BCC", CheckValue::Hex8(1), CheckValue::Hex8(1));
        with_rule.rule = Some("additive");
        checks.push(with_rule);
        for c in &checks {
            let mut items = Items::default();
            items.add_check(c);
            assert_eq!(items.iter().collect::<Vec<_>>(), [c.to_string()]);
        }
    }
}
