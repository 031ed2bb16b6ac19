//! The frame log: every span that came down the wire, newest last, with selection, follow mode, a
//! bad-frames-only filter, and the description of the selected span (computed once, when the
//! selection changes, not on every redraw).

use crate::protocol::decoder::SegmentState;
use crate::protocol::dlms::Keys;
use crate::protocol::han::Scaling;
use crate::protocol::region::{self, Region};
use crate::protocol::{Content, Decoded, Decoder, Framer, Protocol, Protocols, Span};
use crate::wire::{Direction, Link, SpanDetail, SpanRecord};
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::collections::VecDeque;

/// Spans kept in memory; older ones leave the view (a recording keeps everything).
pub const MAX_SPANS: usize = 20_000;

/// A span in the log: its bytes and what the list, the filter and the counters show of it. The
/// newest span keeps its frame and decoded message whole; an older one keeps only what cannot
/// be computed again from its bytes, so a week of pushes stays small (issue 12): its frame
/// when a fresh framer would not find the same one, its decoded message when decoding it
/// again alone would not say the same (a segment of a longer message, an identification's
/// readout, an echo, a frame decoded with the context of the frames before it).
#[derive(Debug, Clone)]
pub struct LoggedSpan {
    pub link: Link,
    /// Received from the meter, or sent by us (optical readout requests).
    pub dir: Direction,
    pub protocol: Protocol,
    /// Whether the frame passed every check (the framer's and the decoder's).
    pub ok: bool,
    /// The echo of what we sent (optical readouts).
    pub echo: bool,
    /// When the span's last byte arrived.
    pub received: DateTime<Utc>,
    /// Offset of the first byte in this link and direction's stream.
    pub offset: u64,
    pub bytes: Box<[u8]>,
    /// The frame and its checks; `None`: a fresh framer over `bytes` finds exactly this frame
    /// (checked when it was dropped).
    content: Option<Box<Content>>,
    /// The decoded message; `None`: decoded again from the bytes alone when shown, with the
    /// scaling and keys then in use (a whole push whose values the app has taken, junk, a frame
    /// that could not be decoded).
    decoded: Option<Box<Decoded>>,
}

impl LoggedSpan {
    fn new(span: SpanRecord) -> Self {
        LoggedSpan {
            link: span.link,
            dir: span.dir,
            protocol: span.protocol(),
            ok: span.ok(),
            echo: span.decoded.echo(),
            received: span.received,
            offset: span.offset,
            bytes: span.bytes.into_boxed_slice(),
            content: Some(Box::new(span.content)),
            decoded: Some(Box::new(span.decoded)),
        }
    }

    /// Drops what can be computed again from the bytes (see [`LoggedSpan`]).
    fn compact(&mut self) {
        if self
            .decoded
            .as_deref()
            .is_some_and(|d| decodes_again(d) || self.undecodable_alone(d))
        {
            self.decoded = None;
        }
        if self
            .content
            .as_deref()
            .is_some_and(|c| frame_again(self.protocol, &self.bytes).as_ref() == Some(c))
        {
            self.content = None;
        }
    }

    /// Whether `decoded` says only that this HDLC frame could not be decoded, from its bytes
    /// alone: a fresh decoder says the same (no note left by the frames before it), and no
    /// setting could change it (nothing encrypted, no values).
    fn undecodable_alone(&self, decoded: &Decoded) -> bool {
        let Decoded::Hdlc(h) = decoded else {
            return false;
        };
        h.segment == SegmentState::Whole
            && h.cipher.is_none()
            && h.message.is_none()
            && h.damaged_message.is_none()
            && Decoder::default().decode(&self.span()) == *decoded
    }

    /// Whether only the bytes and the list's summary are kept.
    pub fn compacted(&self) -> bool {
        self.content.is_none() && self.decoded.is_none()
    }

    /// The frame and its checks, as the framer found it.
    pub fn content(&self) -> Cow<'_, Content> {
        match &self.content {
            Some(c) => Cow::Borrowed(c),
            // Dropped only after a fresh framer was seen to find this very frame, and the framer
            // is a function of the bytes alone.
            None => Cow::Owned(
                frame_again(self.protocol, &self.bytes)
                    .expect("checked when the frame was dropped"),
            ),
        }
    }

    /// The framer's view of this span, for the protocol code.
    pub fn span(&self) -> Span<'_> {
        Span {
            offset: self.offset,
            bytes: &self.bytes,
            content: self.content().into_owned(),
        }
    }

    /// The decoded message: the one kept, or decoded again with `scaling` and `keys`.
    pub fn decoded(&self, scaling: Scaling, keys: Option<Keys>) -> Cow<'_, Decoded> {
        match &self.decoded {
            Some(d) => Cow::Borrowed(d),
            None => Cow::Owned(Decoder::new(scaling, keys).decode(&self.span())),
        }
    }
}

/// Whether a decoded span may be dropped and decoded again alone when shown: a whole frame
/// whose push the app has taken (HDLC, and a damaged frame's best-effort one) or a P1 telegram
/// with its values, and junk. Anything else may depend on the frames before it and is kept as it
/// was (but see [`LoggedSpan::undecodable_alone`]).
fn decodes_again(decoded: &Decoded) -> bool {
    match decoded {
        Decoded::Junk => true,
        Decoded::Hdlc(h) => {
            h.segment == SegmentState::Whole && (h.message.is_some() || h.damaged_message.is_some())
        }
        Decoded::P1(p) => p.message.is_some(),
        _ => false,
    }
}

/// The one frame a fresh framer of `protocol` finds in `bytes`, when it finds exactly one that
/// spans them all.
fn frame_again(protocol: Protocol, bytes: &[u8]) -> Option<Content> {
    let only = Protocols {
        hdlc: protocol == Protocol::Hdlc,
        iec61107: protocol == Protocol::Iec61107,
        kmp: protocol == Protocol::Kmp,
        mbus: protocol == Protocol::Mbus,
        p1: protocol == Protocol::P1,
    };
    let mut framer = Framer::new(only);
    framer.push(bytes);
    framer.finish();
    let span = framer.next_span()?;
    let whole = span.offset == 0 && span.bytes.len() == bytes.len();
    let content = span.content;
    (whole && framer.next_span().is_none()).then_some(content)
}

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
    pub spans: VecDeque<LoggedSpan>,
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

/// A logged span's description and byte map, its frame and decoded message rebuilt from the
/// bytes when they were dropped (decoded with the scaling and keys in use).
pub fn describe(
    span: &LoggedSpan,
    scaling: Scaling,
    keys: Option<Keys>,
) -> (SpanDetail, Vec<Region>) {
    let view = span.span();
    let decoded = span.decoded(scaling, keys);
    let regions = region::of_span(&span.bytes, &view.content, &decoded);
    (SpanDetail::of(&view, &decoded), regions)
}

impl InspectorState {
    /// Adds a span. The span before it keeps only what cannot be computed again from its bytes
    /// (the app has taken its values), so a week of pushes fits in a few megabytes.
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
        } else if self.spans.capacity() == 0 {
            // The log fills up within hours of pushes: take its full size at once, rather
            // than doubling past it.
            self.spans.reserve_exact(MAX_SPANS);
        }
        self.spans.push_back(LoggedSpan::new(span));
        if self.follow {
            self.select_last();
        }
    }

    fn shown(&self, s: &LoggedSpan) -> bool {
        !self.bad_only || !s.ok
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
            self.spans.iter().filter(|s| !s.ok).count()
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

    pub fn selected_span(&self) -> Option<&LoggedSpan> {
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
