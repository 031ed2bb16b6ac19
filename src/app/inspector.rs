//! The frame log: every span that came down the wire, newest last, with selection, follow mode, a
//! bad-frames-only filter, and the description of the selected span (computed once, when the
//! selection changes, not on every redraw).

use crate::protocol::dlms::Keys;
use crate::protocol::han::Scaling;
use crate::protocol::region::{self, Region};
use crate::protocol::{Decoded, Decoder};
use crate::wire::{SpanDetail, SpanRecord};
use std::collections::VecDeque;

/// Spans kept in memory; older ones leave the view (a recording keeps everything).
pub const MAX_SPANS: usize = 20_000;

/// What the detail pane shows of the selected span.
#[derive(Debug, Clone)]
pub struct SelectedDetail {
    /// The span's number in this session (spans evicted before it count).
    pub id: u64,
    pub detail: SpanDetail,
    /// Every byte's region, from the parsers.
    pub regions: Vec<Region>,
}

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
    /// The selected span, described (see [`InspectorState::refresh`]).
    pub detail: Option<SelectedDetail>,
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
            detail: None,
        }
    }
}

/// A logged span's description and byte map. A compacted frame (its decoded message dropped to
/// save memory) is decoded again with the scaling and keys in use.
pub fn describe(
    span: &SpanRecord,
    scaling: Scaling,
    keys: Option<Keys>,
) -> (SpanDetail, Vec<Region>) {
    let view = span.span();
    let decoded: Decoded = if span.compact {
        Decoder::new(scaling, keys).decode(&view)
    } else {
        span.decoded.clone()
    };
    let regions = region::of_span(&span.bytes, &span.content, &decoded);
    (SpanDetail::of(&view, &decoded), regions)
}

impl InspectorState {
    /// Adds a span. The span before it gives up its decoded message (the app keeps its values),
    /// so a day of pushes fits in a few megabytes.
    pub fn push(&mut self, span: SpanRecord) {
        if let Some(last) = self.spans.back_mut() {
            last.compact();
        }
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

    fn selected_index(&self) -> Option<usize> {
        if self.bad_only {
            self.visible().get(self.selected).copied()
        } else {
            (self.selected < self.spans.len()).then_some(self.selected)
        }
    }

    pub fn selected_span(&self) -> Option<&SpanRecord> {
        self.selected_index().map(|i| &self.spans[i])
    }

    /// Describes the selected span if the selection changed since the last call (or `force`,
    /// when the scaling or keys changed).
    pub fn refresh(&mut self, scaling: Scaling, keys: Option<&Keys>, force: bool) {
        let Some(i) = self.selected_index() else {
            self.detail = None;
            return;
        };
        let id = self.evicted + i as u64;
        if !force && self.detail.as_ref().is_some_and(|d| d.id == id) {
            return;
        }
        let (detail, regions) = describe(&self.spans[i], scaling, keys.cloned());
        self.detail = Some(SelectedDetail {
            id,
            detail,
            regions,
        });
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
