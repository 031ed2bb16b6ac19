//! Properties of the KMP codecs: every frame and payload the encoders build decodes back to what
//! went in, stuffing leaves no special byte bare, and arbitrary bytes never panic a decoder.

use kamscope::protocol::Decoder;
use kamscope::protocol::kmp::{self, Direction, Variant};
use kamscope::protocol::kmp_register::{
    self as reg, RegisterValue, decode_ascii_response, decode_binary, decode_register_request,
    decode_register_response, encode_register_request, encode_register_response,
};
use kamscope::protocol::kmp_session::{KmpOptions, KmpSession};
use kamscope::wire::detail::decode_all;
use proptest::prelude::*;

const SPECIAL: [u8; 5] = [0x06, 0x0D, 0x1B, 0x40, 0x80];

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Request), Just(Direction::Response)]
}

fn register_value() -> impl Strategy<Value = RegisterValue> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<bool>(),
        -63i8..=63,
        prop::collection::vec(any::<u8>(), 0..=8),
    )
        .prop_map(|(id, unit, negative, exponent, mantissa)| RegisterValue {
            id,
            unit,
            negative,
            exponent,
            mantissa,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn binary_frames_round_trip_and_stuff_every_special_byte(
        dir in direction(),
        logical in prop::collection::vec(any::<u8>(), 2..40),
    ) {
        let wire = kmp::encode_binary(dir, &logical);
        let inner = &wire[1..wire.len() - 1];
        prop_assert!(inner.iter().all(|b| !SPECIAL.contains(b) || *b == 0x1B));
        // Every 1B escapes a special byte.
        let mut it = inner.iter();
        while let Some(&b) = it.next() {
            if b == 0x1B {
                let next = it.next().copied();
                prop_assert!(next.is_some_and(|n| SPECIAL.contains(&(n ^ 0xFF))));
            }
        }
        let f = kmp::parse(&wire).expect("a frame");
        prop_assert_eq!(f.variant, Variant::Binary);
        prop_assert_eq!(f.direction, dir);
        prop_assert_eq!(&f.logical, &logical);
        prop_assert!(f.checks.iter().all(|c| c.ok));
    }

    #[test]
    fn ascii_hex_frames_round_trip(
        dir in direction(),
        logical in prop::collection::vec(any::<u8>(), 2..100),
    ) {
        let wire = kmp::encode_ascii(dir, &logical);
        let f = kmp::parse(&wire).expect("a frame");
        prop_assert_eq!(f.variant, Variant::AsciiHex);
        prop_assert_eq!(f.direction, dir);
        prop_assert_eq!(&f.logical, &logical);
        prop_assert!(f.checks.iter().all(|c| c.ok));
    }

    #[test]
    fn one_flipped_bit_of_a_binary_frame_is_never_accepted(
        logical in prop::collection::vec(any::<u8>(), 2..30),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut wire = kmp::encode_binary(Direction::Response, &logical);
        let last = wire.len() - 1;
        // Inside the frame (not the start byte or CR).
        let i = 1 + at.index(last - 1);
        wire[i] ^= 1 << bit;
        if let Some(f) = kmp::parse(&wire) {
            prop_assert_ne!(f.logical, logical);
        }
    }

    #[test]
    fn register_payloads_round_trip(
        values in prop::collection::vec(register_value(), 0..8),
        ids in prop::collection::vec(any::<u16>(), 0..8),
    ) {
        let data = encode_register_response(&values);
        prop_assert_eq!(decode_register_response(&data).unwrap(), values.clone());
        for v in &values {
            let r = v.register();
            prop_assert_eq!(r.id, Some(v.id));
            prop_assert_eq!(r.scaler, Some(v.exponent));
            if v.mantissa.iter().any(|b| *b != 0)
                && let Some(x) = r.value()
            {
                prop_assert_eq!(x < 0.0, v.negative);
            }
        }
        let request = encode_register_request(&ids);
        prop_assert_eq!(decode_register_request(&request).unwrap(), ids);
        let frame = reg::binary_frame(Direction::Response, reg::GET_REGISTER, &data);
        if data.len() < 40 {
            let f = kmp::parse(&frame).expect("a frame");
            prop_assert_eq!(f.data(), &data[..]);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_payload_decoder(
        data in prop::collection::vec(any::<u8>(), 0..80),
        command in any::<u8>(),
        request in prop::option::of(prop::collection::vec(any::<u8>(), 0..6)),
    ) {
        let _ = decode_register_response(&data);
        let _ = decode_register_request(&data);
        let _ = decode_binary(Direction::Response, command, &data);
        let _ = decode_binary(Direction::Request, command, &data);
        let _ = decode_ascii_response(command, request.as_deref(), &data);
        let _ = kmp::parse(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_framer_decoder_or_session(
        bytes in prop::collection::vec(
            prop_oneof![any::<u8>(), Just(b'@'), Just(b'H'), Just(0x0D), Just(0x40), Just(0x80), Just(b'F')],
            0..300,
        ),
    ) {
        let _ = decode_all(&bytes, &mut Decoder::default());
        for variant in [Variant::AsciiHex, Variant::Binary] {
            let mut s = KmpSession::new(KmpOptions::new(variant));
            s.start(0);
            let mut now = 0;
            for piece in bytes.chunks(7) {
                now += 10;
                s.on_bytes(piece, now);
                s.on_tick(now);
            }
            s.on_tick(now + 100_000);
            s.on_tick(now + 200_000);
            s.on_tick(now + 300_000);
            // Three tries of the first request at most, then a verdict.
            let ended = s.done().is_some() || s.progress().0 > 0;
            prop_assert!(ended);
        }
    }
}
