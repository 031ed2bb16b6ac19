//! Kaifa list 1: a structure of one double-long-unsigned, no list id, no OBIS code. Kaifa's
//! documentation names it active power import (1.0.1.7.0.255) in W; the Live tab reads it by OBIS.

use kamscope::protocol::axdr::{Bytes, Data};
use kamscope::protocol::decoder::Decoded;
use kamscope::protocol::dlms::{self, DataNotification, HeaderTime};
use kamscope::protocol::han::{Brand, HanMessage};
use kamscope::protocol::{Decoder, Framer, hdlc};

fn decode_body(body: Data) -> HanMessage {
    let mut info = vec![0xE6, 0xE7, 0x00];
    dlms::encode_data_notification(
        &DataNotification {
            invoke_id: 0x4000_0000,
            time: HeaderTime::Absent,
            body,
        },
        &mut info,
    );
    let mut frame = Vec::new();
    hdlc::encode(&[0x01], &[0x02, 0x01], 0x10, &info, false, &mut frame).unwrap();
    let mut framer = Framer::default();
    framer.push(&frame);
    framer.finish();
    let span = framer.next_span().unwrap();
    match Decoder::default().decode(&span) {
        Decoded::Hdlc(h) => h.message.expect("decodes"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_value_is_active_power_import_in_watts() {
    let m = decode_body(Data::Structure(vec![Data::DoubleLongUnsigned(1750)]));
    assert_eq!(m.brand, Brand::Kaifa);
    assert_eq!(m.value(1, 7), Some(1750.0), "the Live tab finds P+ by OBIS");
    let f = &m.fields()[0];
    assert_eq!(f.obis, None, "the code is not sent");
    assert_eq!(
        f.code().map(|o| o.to_string()).as_deref(),
        Some("1.0.1.7.0.255")
    );
    assert_eq!(f.unit, Some("W"));
}

#[test]
fn other_single_values_are_not_guessed() {
    // A signed value, or a value that is not alone in its structure, is not Kaifa's list 1.
    let m = decode_body(Data::Structure(vec![Data::DoubleLong(-5)]));
    assert_eq!(m.brand, Brand::Unknown);
    assert_eq!(m.value(1, 7), None);
    let m = decode_body(Data::Structure(vec![
        Data::DoubleLongUnsigned(5),
        Data::VisibleString(Bytes::from_slice(b"x")),
    ]));
    assert_eq!(m.brand, Brand::Unknown);
    assert_eq!(m.value(1, 7), None);
}
