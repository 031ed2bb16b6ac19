//! LF-only line ends in an IEC 61107 identification (a Landis+Gyr E350 read through a logger):
//! the framer, `parse_identification` and the readout session all take it.

use kamscope::protocol::decoder::{Decoded, span_ok};
use kamscope::protocol::iec_session::{Action, ReadoutOptions, ReadoutSession, Verdict};
use kamscope::protocol::iec61107::{self, Kind, Mode};
use kamscope::protocol::{Content, Decoder, Framer};

const IDENT_LF: &[u8] = b"/LGZ5ZMD3104107.B32\n";

/// A data block with LF-only line ends: `STX lines ! LF ETX BCC`.
fn block_lf() -> Vec<u8> {
    let mut b = vec![iec61107::STX];
    b.extend_from_slice(b"0.0.0(31041070)\n1.8.0(001234.5*kWh)\n2.8.0(000000.0*kWh)\n!\n");
    b.push(iec61107::ETX);
    let bcc = iec61107::bcc_xor(&b[1..]);
    b.push(bcc);
    b
}

#[test]
fn parse_identification_takes_lf_alone() {
    for line in [IDENT_LF, b"/LGZ5ZMD3104107.B32\r\n", b"/LGZ5ZMD3104107.B32"] {
        let id = iec61107::parse_identification(line).expect("parses");
        assert_eq!(id.manufacturer, "LGZ");
        assert_eq!(id.ident, "ZMD3104107.B32");
        assert_eq!(id.mode, Mode::C { baud: 9600 });
    }
}

#[test]
fn the_framer_frames_an_lf_only_identification_and_its_block() {
    let mut stream = IDENT_LF.to_vec();
    stream.extend(block_lf());
    for chunk in [1, 3, stream.len()] {
        let mut framer = Framer::default();
        let mut decoder = Decoder::default();
        let mut seen = Vec::new();
        for part in stream.chunks(chunk) {
            framer.push(part);
            while let Some(span) = framer.next_span() {
                let d = decoder.decode(&span);
                seen.push((
                    span.bytes.to_vec(),
                    span.content.clone(),
                    span_ok(&span.content, &d),
                    d,
                ));
            }
        }
        framer.finish();
        while let Some(span) = framer.next_span() {
            let d = decoder.decode(&span);
            seen.push((
                span.bytes.to_vec(),
                span.content.clone(),
                span_ok(&span.content, &d),
                d,
            ));
        }
        assert_eq!(seen.len(), 2, "chunks of {chunk}: {seen:#?}");
        let (bytes, content, ok, decoded) = &seen[0];
        assert_eq!(bytes, IDENT_LF);
        assert!(matches!(content, Content::Iec61107(f) if f.kind == Kind::Identification));
        assert!(ok, "an LF-only line end is tolerated: {content:?}");
        match decoded {
            Decoded::Iec61107(i) => {
                assert_eq!(i.ident.as_ref().unwrap().ident, "ZMD3104107.B32")
            }
            other => panic!("{other:?}"),
        }
        let (_, content, ok, decoded) = &seen[1];
        assert!(matches!(content, Content::Iec61107(f) if f.kind == Kind::DataBlock));
        assert!(ok);
        match decoded {
            Decoded::Iec61107(i) => {
                assert_eq!(i.ident.as_ref().unwrap().manufacturer, "LGZ");
                let block = i.block.as_ref().unwrap();
                assert!(
                    block
                        .datasets
                        .iter()
                        .any(|d| d.address == "1.8.0" && d.values[0].number() == Some(1234.5))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_readout_session_takes_an_lf_only_identification() {
    let mut s = ReadoutSession::new(
        ReadoutOptions {
            no_baud_switch: true,
            ..Default::default()
        },
        0,
    );
    s.start(0);
    let actions = s.on_bytes(IDENT_LF, 50);
    assert_eq!(
        actions,
        vec![Action::Send(vec![
            iec61107::ACK,
            b'0',
            b'0',
            b'0',
            b'\r',
            b'\n'
        ])]
    );
    assert_eq!(s.ident().unwrap().ident, "ZMD3104107.B32");
    s.on_bytes(&block_lf(), 400);
    match s.done() {
        Some(Verdict::Complete { bcc }) => assert!(bcc.ok),
        other => panic!("{other:?}"),
    }
}
