//! Hex dump with every byte coloured by the region it belongs to, an ASCII column (IEC 61107 is
//! text) coloured the same way, and the region legend.

use crate::protocol::region::Region;
use crate::ui::Theme;
use ratatui::text::{Line, Span};

/// Columns a row of `per_row` bytes takes: offset, the bytes in hex, a gap, the bytes as text.
pub fn row_width(per_row: usize) -> usize {
    5 + per_row * 3 + 2 + per_row
}

/// Bytes per row for a pane `width` columns wide: 16 where they fit, else 8 (80x24).
pub fn per_row(width: usize) -> usize {
    if width >= row_width(16) { 16 } else { 8 }
}

/// A byte as text: printable ASCII as itself, anything else as `.`.
pub fn ascii(b: u8) -> char {
    if (0x20..=0x7E).contains(&b) {
        b as char
    } else {
        '.'
    }
}

/// Rows of `per_row` bytes: offset, the bytes in hex, then as text, each byte coloured by its
/// region.
pub fn dump(bytes: &[u8], regions: &[Region], per_row: usize, theme: &Theme) -> Vec<Line<'static>> {
    let per_row = per_row.max(1);
    let style_at = |i: usize| {
        regions
            .iter()
            .find(|r| r.range.contains(&i))
            .map_or(theme.dim(), |r| theme.region(r.kind))
    };
    bytes
        .chunks(per_row)
        .enumerate()
        .map(|(row, chunk)| {
            let at = row * per_row;
            let mut spans = vec![Span::styled(format!("{at:04X} "), theme.dim())];
            for (j, b) in chunk.iter().enumerate() {
                spans.push(Span::styled(format!(" {b:02X}"), style_at(at + j)));
            }
            // A short last row keeps the text column in place.
            let pad = (per_row - chunk.len()) * 3 + 2;
            spans.push(Span::raw(" ".repeat(pad)));
            for (j, &b) in chunk.iter().enumerate() {
                spans.push(Span::styled(ascii(b).to_string(), style_at(at + j)));
            }
            Line::from(spans)
        })
        .collect()
}

/// One line per region: byte range and label, in the region's colour. A label too long for
/// `width` columns goes on under itself, broken between words.
pub fn legend(regions: &[Region], width: usize, theme: &Theme) -> Vec<Line<'static>> {
    const RANGE: usize = 10;
    let mut out = Vec::with_capacity(regions.len());
    for r in regions {
        let range = if r.range.len() == 1 {
            format!("{:04X}     ", r.range.start)
        } else {
            format!("{:04X}-{:04X}", r.range.start, r.range.end - 1)
        };
        let style = theme.region(r.kind);
        for (i, part) in words_within(&r.label, width.saturating_sub(RANGE))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 {
                Span::styled(format!("{range} "), theme.dim())
            } else {
                Span::raw(" ".repeat(RANGE))
            };
            out.push(Line::from(vec![lead, Span::styled(part, style)]));
        }
    }
    out
}

/// `text` in pieces of at most `width` columns, broken between words (a longer word stays
/// whole, for the terminal to wrap).
fn words_within(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        } else if len > 0 {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push(line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::region::RegionKind;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn rows_carry_the_bytes_as_text_coloured_like_the_hex() {
        let theme = Theme { color: true };
        let bytes = b"/KAM5\r\n\x02";
        let regions = vec![
            Region {
                range: 0..5,
                kind: RegionKind::Text,
                label: "identification".into(),
            },
            Region {
                range: 5..8,
                kind: RegionKind::Check,
                label: "CR LF, STX".into(),
            },
        ];
        let lines = dump(bytes, &regions, 8, &theme);
        assert_eq!(lines.len(), 1);
        assert_eq!(text(&lines[0]), "0000  2F 4B 41 4D 35 0D 0A 02  /KAM5...");
        let k = lines[0].spans.iter().find(|s| s.content == "K").unwrap();
        assert_eq!(k.style, theme.region(RegionKind::Text));
        let cr = lines[0].spans.iter().rev().nth(2).unwrap();
        assert_eq!(
            (cr.content.as_ref(), cr.style),
            (".", theme.region(RegionKind::Check))
        );
    }

    #[test]
    fn a_short_last_row_keeps_the_text_column_in_place() {
        let theme = Theme { color: false };
        let lines = dump(b"0123456789", &[], 8, &theme);
        let (a, b) = (text(&lines[0]), text(&lines[1]));
        assert_eq!(a.find("01234567"), b.find("89"));
        assert!(a.chars().count() <= row_width(8));
    }

    #[test]
    fn long_legend_labels_go_on_under_themselves() {
        let theme = Theme { color: false };
        let regions = [Region {
            range: 0x65..0x6D,
            kind: RegionKind::Obis,
            label: "OBIS 1.1.1.7.0.255 Active power import (P+)".into(),
        }];
        let lines: Vec<String> = legend(&regions, 46, &theme).iter().map(text).collect();
        assert_eq!(
            lines,
            [
                "0065-006C OBIS 1.1.1.7.0.255 Active power",
                "          import (P+)"
            ]
        );
        assert_eq!(legend(&regions, 120, &theme).len(), 1);
    }

    #[test]
    fn eight_bytes_a_row_at_80_columns() {
        // 80x24: the detail pane is 46 columns inside its border.
        assert_eq!(per_row(46), 8);
        assert!(row_width(8) <= 46);
        // 120x40: 74 columns.
        assert_eq!(per_row(74), 16);
    }
}
