//! Issue 8, item 9 (and the "no authentication key" part of item 4): what the Inspector, the
//! text form and the JSON say about cut-off frames, echoes, damaged frames and pushes decrypted
//! without their authentication key. Each says what the bytes show and nothing more.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kamscope::app::App;
use kamscope::protocol::decoder::Unverified;
use kamscope::protocol::dlms::{DecryptError, Keys};
use kamscope::protocol::han::Scaling;
use kamscope::protocol::region::{self, RegionKind};
use kamscope::protocol::{Decoded, Decoder, Framer, Protocols, hdlc};
use kamscope::ui::{self, Theme};
use kamscope::wire::detail::decode_all;
use kamscope::wire::hex::parse as parse_hex;
use kamscope::wire::{Chunk, Direction, HanEvent, Link, OpticalEvent, Pipeline, SpanDetail};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const KEY: &str = "00112233445566778899AABBCCDDEEFF";
const AUTH_KEY: &str = "FFEEDDCCBBAA99887766554433221100";
const COLOR: Theme = Theme { color: true };

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/han")
        .join(name);
    parse_hex(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn key(s: &str) -> [u8; 16] {
    <[u8; 16]>::try_from(parse_hex(s).unwrap()).unwrap()
}

fn text_of(r: &SpanDetail) -> String {
    let mut out = String::new();
    kamscope::wire::text::render(r, &mut out);
    out
}

fn now() -> DateTime<FixedOffset> {
    FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2024, 10, 30, 17, 32, 3)
        .unwrap()
}

fn app() -> App {
    App::new("test".into(), Scaling::default(), None, now(), 3600)
}

/// Feeds HAN bytes through a pipeline (flushed at the end, as when the line goes quiet).
fn feed_han(app: &mut App, bytes: &[u8]) {
    let mut pipeline = Pipeline::new(Link::Han, Protocols::HDLC, Decoder::default(), None);
    let at = now().to_utc();
    let chunk = Chunk {
        t: at,
        link: Link::Han,
        dir: Direction::Rx,
        bytes: bytes.to_vec(),
    };
    let (mut spans, _) = pipeline.records_of(&chunk);
    spans.extend(pipeline.flush_records(at));
    for s in spans {
        app.on_han(HanEvent::Span(Box::new(s)));
    }
}

fn screen(app: &App, w: u16, h: u16) -> (String, Terminal<TestBackend>) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app, &COLOR)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    (out, t)
}

fn press(app: &mut App, c: KeyCode) {
    app.on_key(KeyEvent::new(c, KeyModifiers::NONE));
}

/// The foreground colour of the first cell of `needle` on screen.
fn colour_of(t: &Terminal<TestBackend>, screen: &str, needle: &str) -> Option<Color> {
    colour_in_row(t, screen, needle, needle)
}

/// The foreground colour of `needle` in the first row holding `row`.
fn colour_in_row(
    t: &Terminal<TestBackend>,
    screen: &str,
    row: &str,
    needle: &str,
) -> Option<Color> {
    let buf = t.backend().buffer();
    screen.lines().enumerate().find_map(|(y, l)| {
        if !l.contains(row) {
            return None;
        }
        let byte = l.find(needle)?;
        let x = l[..byte].chars().count();
        Some(buf[(x as u16, y as u16)].fg)
    })
}

// ---- 1, 2: a cut-off frame --------------------------------------------------------------------

/// The first `n` bytes of a 228-byte Kamstrup list 1 frame, then the line goes quiet.
fn cut_frame(n: usize) -> Vec<u8> {
    fixture("kamstrup-no-list1-3p-2022.hex")[..n].to_vec()
}

#[test]
fn a_cut_off_frame_says_where_it_was_cut_not_expected_missing() {
    let r = decode_all(&cut_frame(172), &mut Decoder::default()).remove(0);
    assert_eq!(r.cut_off(), Some((172, 228)));
    let fcs = r.checks.iter().find(|c| c.name == "FCS").unwrap();
    assert_eq!(
        r.cut_off_text(fcs).as_deref(),
        Some("frame cut off after 172 of 228 bytes: no FCS")
    );
    let text = text_of(&r);
    assert!(
        text.contains("FCS BAD (frame cut off after 172 of 228 bytes: no FCS)"),
        "{text}"
    );
    assert!(
        text.contains("end flag BAD (no end flag: frame cut off)"),
        "{text}"
    );
    assert!(!text.contains("missing"), "{text}");

    // In the Inspector.
    let mut app = app();
    feed_han(&mut app, &cut_frame(172));
    press(&mut app, KeyCode::Char('3'));
    let (s, _) = screen(&app, 120, 40);
    assert!(
        s.contains("✖ frame cut off after 172 of 228 bytes: no FCS"),
        "{s}"
    );
    assert!(s.contains("✖ no end flag: frame cut off"), "{s}");
    // At 80x24 the sentence breaks after its colon, the rest indented under it.
    let (s, _) = screen(&app, 80, 24);
    assert!(
        s.contains("│  ✖ frame cut off after 172 of 228 bytes:"),
        "{s}"
    );
    assert!(s.contains("│    no FCS "), "{s}");
    assert!(!s.contains("missing"), "{s}");
}

#[test]
fn the_byte_map_and_the_length_check_count_the_same_bytes() {
    let whole = fixture("kamstrup-no-list1-3p-2022.hex");
    for n in 12..=whole.len() {
        let bytes = &whole[..n];
        let mut framer = Framer::default();
        framer.push(bytes);
        framer.finish();
        let span = framer.next_span().unwrap();
        let decoded = Decoder::default().decode(&span);
        let detail = SpanDetail::of(&span, &decoded);
        let regions = region::of_span(span.bytes, &span.content, &decoded);
        let length = detail.checks.iter().find(|c| c.name == "length").unwrap();
        // The map covers exactly the bytes the length check counted as received...
        assert_eq!(length.actual.to_string(), n.to_string());
        assert_eq!(regions.last().unwrap().range.end, n);
        assert_eq!(regions.iter().map(|r| r.range.len()).sum::<usize>(), n);
        // ...and its header names the length the check expected.
        let format = regions
            .iter()
            .find(|r| r.label.starts_with("format"))
            .unwrap();
        assert!(
            format
                .label
                .contains(&format!("= {} bytes", length.expected)),
            "{}",
            format.label
        );
        // No region names an FCS or a closing flag the frame does not have.
        let cut = n < whole.len();
        let fcs = regions.iter().any(|r| r.label == "FCS");
        let flags = regions
            .iter()
            .filter(|r| r.kind == RegionKind::Flag)
            .count();
        assert_eq!(fcs, !cut, "{n} bytes: {regions:#?}");
        assert_eq!(flags, if cut { 1 } else { 2 }, "{n} bytes");
    }
}

#[test]
fn a_frame_short_of_bytes_inside_names_no_fcs_where_its_end_is() {
    // Three bytes dropped inside, the real FCS and flag at the end, the next frame after it.
    let mut stream = fixture("kamstrup-no-list1-3p-2022.hex");
    stream.drain(100..103);
    stream.extend(fixture("kamstrup-no-list1-3p-2021.hex"));
    let mut framer = Framer::default();
    framer.push(&stream);
    framer.finish();
    let span = framer.next_span().unwrap();
    assert_eq!(span.bytes.len(), 225);
    let decoded = Decoder::default().decode(&span);
    let detail = SpanDetail::of(&span, &decoded);
    let regions = region::of_span(span.bytes, &span.content, &decoded);
    assert!(!regions.iter().any(|r| r.label == "FCS"), "{regions:#?}");
    let fcs = detail.checks.iter().find(|c| c.name == "FCS").unwrap();
    let said = detail.cut_off_text(fcs).unwrap();
    assert!(
        said.starts_with("frame cut off after 225 of 228 bytes"),
        "{said}"
    );
}

// ---- 3: the echo ------------------------------------------------------------------------------

fn optical() -> Pipeline {
    kamscope::task::optical::readout_pipeline(None)
}

fn chunk(dir: Direction, bytes: &[u8]) -> Chunk {
    Chunk {
        t: Utc::now(),
        link: Link::Optical,
        dir,
        bytes: bytes.to_vec(),
    }
}

#[test]
fn the_heads_echo_of_our_request_is_marked_and_nothing_else_is() {
    let mut p = optical();
    let (sent, _) = p.records_of(&chunk(Direction::Tx, b"/?!\r\n"));
    let (rx, _) = p.records_of(&chunk(Direction::Rx, b"/?!\r\n/KAM5685351A300100\r\n"));
    assert_eq!((sent.len(), rx.len()), (1, 2));
    assert!(!sent[0].decoded.echo(), "what we send is not an echo");
    assert!(rx[0].decoded.echo());
    assert!(!rx[1].decoded.echo(), "the identification is the meter's");
    let echo = SpanDetail::of(&rx[0].span(), &rx[0].decoded);
    assert!(echo.echo);
    assert!(
        echo.note
            .as_deref()
            .unwrap()
            .starts_with("echo of our request")
    );
    assert_eq!(serde_json::to_value(&echo).unwrap()["echo"], true);
    let ident = serde_json::to_value(SpanDetail::of(&rx[1].span(), &rx[1].decoded)).unwrap();
    assert!(ident.get("echo").is_none(), "the key only where it is true");

    // A request received with nothing sent before it is not called our echo.
    let mut p = optical();
    let (rx, _) = p.records_of(&chunk(Direction::Rx, b"/?!\r\n"));
    assert!(!rx[0].decoded.echo());
    let d = SpanDetail::of(&rx[0].span(), &rx[0].decoded);
    assert!(!d.note.unwrap().contains("echo of our"));

    // Once the meter has answered, the same bytes again are not the echo.
    let mut p = optical();
    let _ = p.records_of(&chunk(Direction::Tx, b"/?!\r\n"));
    let (rx, _) = p.records_of(&chunk(Direction::Rx, b"/KAM5685351A300100\r\n/?!\r\n"));
    assert!(rx.iter().all(|s| !s.decoded.echo()));
}

#[test]
fn the_inspector_marks_the_echo_in_the_list_and_the_detail() {
    let mut app = app();
    let mut p = optical();
    let (mut spans, _) = p.records_of(&chunk(Direction::Tx, b"/?!\r\n"));
    spans.extend(p.records_of(&chunk(Direction::Rx, b"/?!\r\n")).0);
    for s in spans {
        app.on_optical(OpticalEvent::Span(Box::new(s)));
    }
    press(&mut app, KeyCode::Char('3'));
    for (w, h) in [(80, 24), (120, 40)] {
        let (s, _) = screen(&app, w, h);
        let list: Vec<&str> = s.lines().filter(|l| l.contains("iec61107")).collect();
        assert_eq!(list.len(), 2, "{s}");
        assert!(list[0].contains("ok tx"), "{s}");
        assert!(list[1].contains("ok echo"), "{s}");
        assert!(s.contains("echo of our request"), "{w}x{h}\n{s}");
        assert!(s.contains("request ok · echo"), "{w}x{h}\n{s}");
    }
    // What we sent says so.
    press(&mut app, KeyCode::Up);
    let (s, _) = screen(&app, 120, 40);
    assert!(s.contains("request ok · sent by kamscope"), "{s}");
    assert!(!s.contains("echo of our"), "{s}");
}

// ---- 4: the ASCII column ----------------------------------------------------------------------

#[test]
fn the_hex_dump_shows_text_as_text_at_80x24_and_120x40() {
    let mut app = app();
    let mut p = optical();
    let (spans, _) = p.records_of(&chunk(Direction::Rx, b"/KAM5685351A300100\r\n"));
    for s in spans {
        app.on_optical(OpticalEvent::Span(Box::new(s)));
    }
    press(&mut app, KeyCode::Char('3'));
    let (s, _) = screen(&app, 80, 24);
    assert!(s.contains("ident 685351A300100"), "{s}");
    assert!(
        s.contains("0000  2F 4B 41 4D 35 36 38 35  /KAM5685"),
        "8 a row at 80x24\n{s}"
    );
    assert!(s.contains("0010  30 30 0D 0A"), "{s}");
    let (s, t) = screen(&app, 120, 40);
    assert!(
        s.contains("0000  2F 4B 41 4D 35 36 38 35 33 35 31 41 33 30 30 31  /KAM5685351A3001"),
        "16 a row at 120x40\n{s}"
    );
    assert!(s.contains("0010  30 30 0D 0A"), "{s}");
    let row = s.lines().find(|l| l.contains("0010  30 30 0D 0A")).unwrap();
    assert!(row.contains("  00.."), "CR LF as dots: {row}");
    // The text is coloured like its hex bytes.
    assert_eq!(
        colour_of(&t, &s, "2F 4B"),
        colour_of(&t, &s, "/KAM5685351A3001")
    );
}

// ---- 5: a damaged frame, decoded best-effort --------------------------------------------------

/// Kamstrup list 1 of 2022 with one bit of P14 (raw 826 = 0x033A, at byte 113) flipped.
fn hit_frame() -> Vec<u8> {
    let mut f = fixture("kamstrup-no-list1-3p-2022.hex");
    assert_eq!(&f[110..114], &[0x00, 0x00, 0x03, 0x3A]);
    f[113] ^= 0x04;
    f
}

#[test]
fn a_damaged_frame_shows_which_value_was_hit_marked_unverified() {
    let mut decoder = Decoder::default();
    let mut framer = Framer::default();
    framer.push(&hit_frame());
    framer.finish();
    let span = framer.next_span().unwrap();
    let decoded = decoder.decode(&span);
    let Decoded::Hdlc(h) = &decoded else {
        panic!("{decoded:?}")
    };
    // Never a live value, never good.
    assert!(h.message.is_none());
    assert!(h.damaged_message.is_some());
    assert_eq!(h.unverified, Some(Unverified::FcsFailed));
    assert!(!kamscope::protocol::decoder::span_ok(
        &span.content,
        &decoded
    ));

    let r = SpanDetail::of(&span, &decoded);
    assert!(!r.ok);
    assert!(r.error.as_ref().unwrap().message.starts_with("FCS failed"));
    let p14 = r
        .fields
        .iter()
        .find(|f| f.obis.as_deref() == Some("1.1.1.7.0.255"))
        .unwrap();
    assert_eq!(
        p14.raw_text(),
        (826 ^ 4).to_string(),
        "the hit value, as received"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["unverified"], true);
    assert!(
        json["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["unverified"] == true)
    );
    let text = text_of(&r);
    assert!(text.contains("values   unverified (FCS failed)"), "{text}");
    assert!(text.contains("BAD"), "{text}");

    // The app counts it bad and takes no value from it; the Inspector shows the fields in the
    // warning colour.
    let mut app = app();
    feed_han(&mut app, &hit_frame());
    assert_eq!((app.stats.good, app.stats.fcs_bad), (0, 1));
    press(&mut app, KeyCode::Char('3'));
    let (s, t) = screen(&app, 120, 80);
    assert!(s.contains("fields (unverified: FCS failed)"), "{s}");
    let field_row = |l: &&str| l.contains("1.1.1.7.0.255") && l.contains('→');
    let row = s.lines().find(field_row).unwrap();
    assert!(row.contains(&format!("{0} → {0} W", 826 ^ 4)), "{row}");
    for needle in ["1.1.1.7.0.255", "Active power import", "→"] {
        assert_eq!(
            colour_in_row(&t, &s, row, needle),
            Some(Color::Yellow),
            "{needle}\n{s}"
        );
    }
    assert!(s.contains("BAD"), "{s}");
}

#[test]
fn good_frames_carry_no_unverified_key() {
    for name in [
        "kamstrup-no-list1-3p-2022.hex",
        "kamstrup-no-list2-3p.hex",
        "aidon-se-3p.hex",
    ] {
        let r = decode_all(&fixture(name), &mut Decoder::default()).remove(0);
        assert!(r.ok && !r.unverified);
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("unverified"), "{name}");
    }
}

#[test]
fn a_damaged_frame_whose_structure_was_hit_says_where_decoding_stopped() {
    // The structure's element count (byte 30) turned into a huge one.
    let mut f = fixture("kamstrup-no-list1-3p-2022.hex");
    assert_eq!(&f[29..31], &[0x02, 0x19]);
    f[30] = 0x84;
    let r = decode_all(&f, &mut Decoder::default()).remove(0);
    let e = r.error.unwrap();
    assert!(
        e.message
            .starts_with("FCS failed: best-effort decoding stopped at byte"),
        "{e}"
    );
    assert!(e.at.is_some());
    assert!(r.fields.is_empty());
}

// ---- item 4: no authentication key ------------------------------------------------------------

fn encrypted(keys: Keys) -> (Decoded, SpanDetail) {
    let bytes = fixture("kamstrup-dk-encrypted-glo.hex");
    let mut framer = Framer::default();
    framer.push(&bytes);
    framer.finish();
    let span = framer.next_span().unwrap();
    let decoded = Decoder::new(Scaling::default(), Some(keys)).decode(&span);
    let detail = SpanDetail::of(&span, &decoded);
    (decoded, detail)
}

#[test]
fn without_the_authentication_key_the_push_is_decrypted_and_marked_unverified() {
    let (both, verified) = encrypted(Keys {
        encryption: key(KEY),
        authentication: Some(key(AUTH_KEY)),
    });
    let (decoded, r) = encrypted(Keys {
        encryption: key(KEY),
        authentication: None,
    });
    let Decoded::Hdlc(h) = &decoded else { panic!() };
    assert_eq!(h.error, None);
    assert_eq!(h.unverified, Some(Unverified::TagNotChecked));
    assert_eq!(h.decrypt_error, Some(DecryptError::NoAuthenticationKey));
    assert!(
        !h.decrypted,
        "decrypted and verified is only with both keys"
    );
    let Decoded::Hdlc(hb) = &both else { panic!() };
    assert!(hb.decrypted && hb.unverified.is_none());
    assert_eq!(h.message, hb.message, "the same values as with both keys");

    assert!(r.ok, "the frame itself is good");
    assert!(r.unverified && r.fields.iter().all(|f| f.unverified));
    assert_eq!(r.fields.len(), verified.fields.len());
    assert!(!verified.unverified);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["details"]["cipher"]["decrypted"], true);
    assert_eq!(json["unverified"], true);
    assert!(r.note.as_deref().unwrap().contains("not checked"));
    let text = text_of(&r);
    assert!(
        text.contains("decrypted, tag not checked (no authentication key)"),
        "{text}"
    );
    assert!(
        text.contains("values   unverified (authentication tag not checked)"),
        "{text}"
    );
}

#[test]
fn a_wrong_key_is_told_apart_from_a_missing_authentication_key() {
    // Both keys, the encryption key wrong: the tag fails.
    let (decoded, r) = encrypted(Keys {
        encryption: key(AUTH_KEY),
        authentication: Some(key(AUTH_KEY)),
    });
    let Decoded::Hdlc(h) = &decoded else { panic!() };
    assert_eq!(h.decrypt_error, Some(DecryptError::Authentication));
    assert!(r.fields.is_empty() && !r.unverified);
    // The wrong encryption key alone: nothing to check the tag with, and the content is noise.
    let (decoded, r) = encrypted(Keys {
        encryption: key(AUTH_KEY),
        authentication: None,
    });
    let Decoded::Hdlc(h) = &decoded else { panic!() };
    assert!(h.message.is_none());
    assert!(r.fields.is_empty());
    let e = r.error.unwrap().message;
    assert!(e.contains("wrong encryption key?"), "{e}");
}

#[test]
fn keys_never_appear_in_the_output() {
    for keys in [
        Keys {
            encryption: key(KEY),
            authentication: Some(key(AUTH_KEY)),
        },
        Keys {
            encryption: key(KEY),
            authentication: None,
        },
        Keys {
            encryption: key(AUTH_KEY),
            authentication: None,
        },
    ] {
        let (_, r) = encrypted(keys);
        let all = format!("{}\n{}", serde_json::to_string(&r).unwrap(), text_of(&r));
        for k in [KEY, AUTH_KEY] {
            assert!(!all.to_uppercase().contains(k), "{all}");
            assert!(!all.to_uppercase().replace(' ', "").contains(k));
        }
    }
}

/// The byte map of a frame under test, for the hdlc module's own view of a cut.
#[test]
fn hdlc_knows_when_a_span_is_cut_off() {
    let whole = fixture("kamstrup-no-list1-3p-2022.hex");
    let frame = hdlc::inspect(&whole, false);
    assert!(!frame.cut_off(whole.len()));
    let frame = hdlc::inspect(&whole[..172], false);
    assert!(frame.cut_off(172));
}

#[test]
fn the_inspector_shows_a_push_decrypted_without_the_authentication_key_as_unverified() {
    let keys = Keys {
        encryption: key(KEY),
        authentication: None,
    };
    let mut pipeline = Pipeline::new(
        Link::Han,
        Protocols::HDLC,
        Decoder::new(Scaling::default(), Some(keys)),
        None,
    );
    let chunk = Chunk {
        t: now().to_utc(),
        link: Link::Han,
        dir: Direction::Rx,
        bytes: fixture("kamstrup-dk-encrypted-glo.hex"),
    };
    let mut app = app();
    for s in pipeline.records_of(&chunk).0 {
        app.on_han(HanEvent::Span(Box::new(s)));
    }
    press(&mut app, KeyCode::Char('3'));
    let (s, t) = screen(&app, 120, 120);
    assert!(
        s.contains("fields (unverified: authentication tag not checked)"),
        "{s}"
    );
    assert!(s.contains("tag was not checked"), "{s}");
    let row = s
        .lines()
        .find(|l| l.contains("1.1.1.7.0.255") && l.contains('→'))
        .unwrap();
    assert!(row.contains("1083 → 1083 W"), "{row}");
    assert_eq!(
        colour_in_row(&t, &s, row, "Active power import"),
        Some(Color::Yellow)
    );
}
