//! The readout task against the simulated optical port.

use kamscope::link::sim_optical::{IecMeter, OpticalFault, OpticalSimConnector, SimOptical};
use kamscope::protocol::iec_session::{ReadoutOptions, Verdict};
use kamscope::task::optical;
use kamscope::wire::{Direction, OpticalEvent, ReadoutResult};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn read(meter: IecMeter, echo: bool, fault: OpticalFault) -> (ReadoutResult, Vec<Direction>) {
    let energy = Arc::new(Mutex::new([12_345_678.0, 0.0, 1_234_000.0, 0.0]));
    let connector = OpticalSimConnector {
        sim: SimOptical::new(meter, echo, fault, energy),
        speed: 50.0,
    };
    let options = ReadoutOptions {
        answer_timeout: 300,
        char_timeout: 400,
        ..ReadoutOptions::default()
    };
    let (mut events, _cancel) = optical::spawn(Arc::new(connector), options, None);
    let mut dirs = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .unwrap()
        {
            Some(OpticalEvent::Done(r)) => return (*r, dirs),
            Some(OpticalEvent::Span(s)) => dirs.push(s.dir),
            Some(_) => {}
            None => panic!("readout task ended without a result"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_351_with_echo_reads_completely() {
    let (r, dirs) = read(IecMeter::Combi351, true, OpticalFault::None).await;
    assert!(r.echo_seen);
    assert_eq!(r.ident.as_ref().unwrap().ident, "685351A300100");
    assert!(
        matches!(&r.verdict, Verdict::Complete { bcc } if bcc.rule == Some("xor")),
        "{:?}",
        r.verdict
    );
    assert_eq!(r.block.datasets.len(), 17);
    assert_eq!(r.block.datasets[2].values[0].raw, "0012345");
    assert!(dirs.contains(&Direction::Tx) && dirs.contains(&Direction::Rx));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_685_382_uses_the_additive_rule() {
    let (r, _) = read(IecMeter::Kam685382, false, OpticalFault::None).await;
    assert!(
        matches!(&r.verdict, Verdict::Complete { bcc } if bcc.rule == Some("additive")),
        "{:?}",
        r.verdict
    );
    assert_eq!(r.block.datasets.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_give_the_right_verdicts() {
    let (r, _) = read(IecMeter::Combi351, true, OpticalFault::CutOff).await;
    match &r.verdict {
        Verdict::Incomplete { received, reason } => {
            assert!(*received > 50, "{received}");
            assert!(reason.contains("line"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!r.block.datasets.is_empty(), "what arrived is kept");
    let (r, _) = read(IecMeter::Combi351, false, OpticalFault::BadBcc).await;
    assert!(
        matches!(r.verdict, Verdict::BadBcc { .. }),
        "{:?}",
        r.verdict
    );
    assert_eq!(r.block.datasets.len(), 17);
    let (r, _) = read(IecMeter::Combi351, false, OpticalFault::Garbled).await;
    assert!(!r.verdict.ok(), "{:?}", r.verdict);
    let (r, _) = read(IecMeter::Combi351, false, OpticalFault::NoAnswer).await;
    assert_eq!(r.verdict, Verdict::NoAnswer { attempts: 3 });
    let (r, _) = read(IecMeter::Combi351, true, OpticalFault::NoAnswer).await;
    assert_eq!(r.verdict, Verdict::EchoOnly);
}
