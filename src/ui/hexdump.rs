//! Hex dump with every byte coloured by the region it belongs to, and the region legend.

use crate::protocol::region::Region;
use crate::ui::Theme;
use ratatui::text::{Line, Span};

/// Rows of `per_row` bytes: offset, then the bytes coloured by region.
pub fn dump(bytes: &[u8], regions: &[Region], per_row: usize, theme: &Theme) -> Vec<Line<'static>> {
    let style_at = |i: usize| {
        regions
            .iter()
            .find(|r| r.range.contains(&i))
            .map_or(theme.dim(), |r| theme.region(r.kind))
    };
    bytes
        .chunks(per_row.max(1))
        .enumerate()
        .map(|(row, chunk)| {
            let mut spans = vec![Span::styled(format!("{:04X} ", row * per_row), theme.dim())];
            for (j, b) in chunk.iter().enumerate() {
                spans.push(Span::styled(
                    format!(" {b:02X}"),
                    style_at(row * per_row + j),
                ));
            }
            Line::from(spans)
        })
        .collect()
}

/// One line per region: byte range and label, in the region's colour.
pub fn legend(regions: &[Region], theme: &Theme) -> Vec<Line<'static>> {
    regions
        .iter()
        .map(|r| {
            let range = if r.range.len() == 1 {
                format!("{:04X}     ", r.range.start)
            } else {
                format!("{:04X}-{:04X}", r.range.start, r.range.end - 1)
            };
            Line::from(vec![
                Span::styled(format!("{range} "), theme.dim()),
                Span::styled(r.label.clone(), theme.region(r.kind)),
            ])
        })
        .collect()
}
