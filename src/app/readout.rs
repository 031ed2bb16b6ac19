//! The Readout tab's state: the readout in progress, the readouts taken in this run (so two can
//! be compared), and their exports.

use crate::wire::detail::{FieldDetail, iec_fields};
use crate::wire::{ReadoutResult, ReadoutStatus, SpanDetail};

#[derive(Debug, Clone, Default)]
pub struct ReadoutTab {
    /// The optical port, when one is configured (`--optical`, or the demo meter's).
    pub port: Option<String>,
    pub running: Option<ReadoutStatus>,
    pub results: Vec<ReadoutResult>,
    /// Index into `results` of the readout shown.
    pub selected: usize,
    /// Show the previous readout's values beside the selected one.
    pub compare: bool,
    /// First register row shown.
    pub scroll: u16,
    /// Show the values as sent (`0012345`, `000023,4`) instead of the numbers read from them.
    pub show_raw: bool,
}

impl ReadoutTab {
    pub fn shown(&self) -> Option<&ReadoutResult> {
        self.results.get(self.selected)
    }

    /// The readout before the shown one, for comparison.
    pub fn previous(&self) -> Option<&ReadoutResult> {
        self.selected
            .checked_sub(1)
            .and_then(|i| self.results.get(i))
    }

    pub fn finish(&mut self, result: ReadoutResult) {
        self.running = None;
        self.results.push(result);
        self.selected = self.results.len() - 1;
        self.scroll = 0;
    }

    pub fn select_by(&mut self, delta: isize) {
        if self.results.is_empty() {
            return;
        }
        self.selected =
            (self.selected as isize + delta).clamp(0, self.results.len() as isize - 1) as usize;
        self.scroll = 0;
    }
}

/// The fields of a readout, named as in `decode`.
pub fn fields(r: &ReadoutResult) -> Vec<FieldDetail> {
    iec_fields(&r.block)
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A readout as CSV: one row per value, with the verdict in a comment line first.
pub fn to_csv(r: &ReadoutResult) -> String {
    let mut out = format!(
        "# kamscope readout {} {} · {}\nid,name,raw,value,unit\n",
        r.ident.as_ref().map_or("-", |i| i.ident.as_str()),
        r.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        r.verdict.describe()
    );
    for f in fields(r) {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            csv_cell(f.obis.as_deref().unwrap_or("")),
            csv_cell(&f.name),
            csv_cell(&f.raw_text()),
            f.value.map(|v| v.to_string()).unwrap_or_default(),
            csv_cell(f.unit.as_deref().unwrap_or(""))
        ));
    }
    out
}

/// A readout as JSON, in `kamscope read`'s shape.
pub fn to_json(r: &ReadoutResult) -> String {
    let mut s = serde_json::to_string_pretty(&SpanDetail::of_readout(r)).unwrap_or_default();
    s.push('\n');
    s
}

/// A file name for an export: `kamscope-readout-685351A300100-20240501-100000.csv`.
pub fn export_name(r: &ReadoutResult, ext: &str, offset: &chrono::FixedOffset) -> String {
    let ident: String = r.ident.as_ref().map_or("unknown".into(), |i| {
        i.ident
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect()
    });
    format!(
        "kamscope-readout-{ident}-{}.{ext}",
        r.started.with_timezone(offset).format("%Y%m%d-%H%M%S")
    )
}
