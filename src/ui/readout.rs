//! The Readout tab: the IEC 61107 optical readout arrives with the next release.

use crate::app::App;
use crate::ui::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, _app: &App, theme: &Theme) {
    let text = vec![
        Line::from(Span::styled(
            "Optical readout (IEC 61107) is not in this version yet.",
            theme.title(),
        )),
        Line::from(""),
        Line::from("It will read the meter's register list through an optical head on the front"),
        Line::from("(300 baud 7E1): meter id, energy per tariff, peak powers, hour counter, and"),
        Line::from("a verdict on the block check character."),
        Line::from(""),
        Line::from(Span::styled(
            "Saved readouts can already be decoded: kamscope decode readout.bin",
            theme.dim(),
        )),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Readout ")),
        area,
    );
}
