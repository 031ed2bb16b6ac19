//! The frame log: every span that came down the wire, newest last, with selection, follow mode
//! and a bad-frames-only filter.

use crate::reader::SpanRecord;
use std::collections::VecDeque;

/// Spans kept in memory; older ones leave the view (a recording keeps everything).
pub const MAX_SPANS: usize = 20_000;

#[derive(Debug, Clone)]
pub struct InspectorState {
    pub spans: VecDeque<SpanRecord>,
    /// Spans that left the log because it was full.
    pub evicted: u64,
    /// Index into the visible list.
    pub selected: usize,
    /// Keep the newest span selected as frames arrive.
    pub follow: bool,
    pub bad_only: bool,
    /// Scroll of the detail pane (lines).
    pub detail_scroll: u16,
}

impl Default for InspectorState {
    fn default() -> Self {
        InspectorState {
            spans: VecDeque::new(),
            evicted: 0,
            selected: 0,
            follow: true,
            bad_only: false,
            detail_scroll: 0,
        }
    }
}

impl InspectorState {
    pub fn push(&mut self, span: SpanRecord) {
        if self.spans.len() == MAX_SPANS {
            self.spans.pop_front();
            self.evicted += 1;
            if !self.follow {
                self.selected = self.selected.saturating_sub(1);
            }
        }
        self.spans.push_back(span);
        if self.follow {
            self.select_last();
        }
    }

    fn shown(&self, s: &SpanRecord) -> bool {
        !self.bad_only || !s.ok()
    }

    /// Indices (into `spans`) of the spans shown.
    pub fn visible(&self) -> Vec<usize> {
        self.spans
            .iter()
            .enumerate()
            .filter(|(_, s)| self.shown(s))
            .map(|(i, _)| i)
            .collect()
    }

    pub fn visible_len(&self) -> usize {
        if self.bad_only {
            self.spans.iter().filter(|s| !s.ok()).count()
        } else {
            self.spans.len()
        }
    }

    pub fn selected_span(&self) -> Option<&SpanRecord> {
        let vis = self.visible();
        vis.get(self.selected).map(|&i| &self.spans[i])
    }

    pub fn select_last(&mut self) {
        self.selected = self.visible_len().saturating_sub(1);
        self.detail_scroll = 0;
    }

    /// Moves the selection; moving away from the newest span pauses follow mode.
    pub fn move_by(&mut self, delta: isize) {
        let len = self.visible_len();
        if len == 0 {
            return;
        }
        let next = (self.selected as isize + delta).clamp(0, len as isize - 1) as usize;
        self.selected = next;
        self.detail_scroll = 0;
        self.follow = next + 1 == len;
    }

    pub fn toggle_filter(&mut self) {
        self.bad_only = !self.bad_only;
        self.select_last();
        self.follow = true;
    }
}
