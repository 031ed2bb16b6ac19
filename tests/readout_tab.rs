//! The Readout tab reads all three protocols: the keys ask for a readout (`p` chooses the
//! protocol, `n` scans the M-Bus, `r` reads the meter picked in a scan), the real readout tasks
//! run against the simulated meter's optical port and M-Bus module, and the tab shows their
//! registers, the scan to pick from, and A+ from every source side by side.

mod common;

use common::{COLOR, app_at, key, oslo, render, text};
use crossterm::event::KeyCode;
use kamscope::app::{App, Effect};
use kamscope::link::sim::demo_energy;
use kamscope::link::sim_kmp::{KmpSimConnector, SimKmp};
use kamscope::link::sim_mbus::{MbusSimConnector, SimMbus};
use kamscope::link::sim_optical::{IecMeter, OpticalFault, OpticalSimConnector, SimOptical};
use kamscope::protocol::iec_session::ReadoutOptions;
use kamscope::protocol::kmp::Variant;
use kamscope::protocol::kmp_session::KmpOptions;
use kamscope::protocol::mbus::session::{MbusOptions, Target};
use kamscope::wire::{ReadoutEvent, ReadoutProtocol};
use std::sync::Arc;

fn app() -> App {
    let mut app = app_at(chrono::Utc::now().with_timezone(&oslo()));
    app.readout.port = Some("demo".into());
    app.on_key(key(KeyCode::Char('2')));
    app
}

/// Runs the readout the effect asks for against the simulated meter (all three sides count the
/// same energy), feeding every event to the app, as the app's loop does.
async fn run(app: &mut App, effects: Vec<Effect>) {
    let energy = demo_energy();
    let Some(Effect::StartReadout {
        protocol,
        mbus_target,
    }) = effects
        .into_iter()
        .find(|e| matches!(e, Effect::StartReadout { .. }))
    else {
        panic!("no readout asked for");
    };
    let speed = 50.0;
    match protocol {
        ReadoutProtocol::Iec => {
            let sim = SimOptical::new(IecMeter::Kam685382, false, OpticalFault::None, energy);
            let connector = Arc::new(OpticalSimConnector { sim, speed });
            let (mut events, _cancel) =
                kamscope::task::optical::spawn(connector, ReadoutOptions::default(), None);
            while let Some(e) = events.recv().await {
                app.on_readout(ReadoutEvent::Iec(e));
            }
        }
        ReadoutProtocol::Kmp => {
            let sim = SimKmp::new(true, energy);
            let connector = Arc::new(KmpSimConnector { sim, speed });
            let options = KmpOptions::new(Variant::AsciiHex);
            let (mut events, _cancel) = kamscope::task::kmp::spawn(connector, options, None);
            while let Some(e) = events.recv().await {
                app.on_readout(ReadoutEvent::Kmp(e));
            }
        }
        ReadoutProtocol::Mbus => {
            let sim = SimMbus::new(5, 12345678, true, energy);
            let connector = Arc::new(MbusSimConnector { sim, speed });
            let options = MbusOptions::for_baud(mbus_target, 2400);
            let (mut events, _cancel) = kamscope::task::mbus::spawn(connector, options, None);
            while let Some(e) = events.recv().await {
                app.on_readout(ReadoutEvent::Mbus(e));
            }
        }
    }
}

#[tokio::test]
async fn the_protocol_key_cycles_and_is_remembered_for_the_port() {
    let mut app = app();
    assert_eq!(app.readout.protocol, ReadoutProtocol::Iec);
    let effects = app.on_key(key(KeyCode::Char('p')));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::RememberReadoutProtocol { port, protocol: ReadoutProtocol::Kmp }] if port == "demo"
        ),
        "{effects:?}"
    );
    app.on_key(key(KeyCode::Char('p')));
    assert_eq!(app.readout.protocol, ReadoutProtocol::Mbus);
    app.on_key(key(KeyCode::Char('p')));
    assert_eq!(app.readout.protocol, ReadoutProtocol::Iec);
    // `n` scans only an M-Bus.
    assert!(app.on_key(key(KeyCode::Char('n'))).is_empty());
    assert!(app.notice.as_deref().unwrap().contains("M-Bus"));
}

#[tokio::test]
async fn kmp_readout_shows_registers_and_agrees_with_the_iec_readout() {
    let mut app = app();
    let effects = app.on_key(key(KeyCode::Char('r')));
    run(&mut app, effects).await;
    app.on_key(key(KeyCode::Char('p')));
    let effects = app.on_key(key(KeyCode::Char('r')));
    assert!(
        app.readout.running.is_some(),
        "the tab shows the readout starting"
    );
    run(&mut app, effects).await;
    assert!(app.readout.running.is_none());
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(screen.contains("Readout · KMP · demo"), "{screen}");
    assert!(screen.contains("complete"), "{screen}");
    let total = screen
        .lines()
        .find(|l| l.contains("Total energy "))
        .unwrap();
    assert!(total.contains("kWh"), "{total}");
    // A+ from both readouts of the same simulated meter, side by side, agreeing.
    assert!(screen.contains("Active energy import (A+) from every source"));
    let rows: Vec<&str> = screen.lines().collect();
    let kmp = rows.iter().position(|l| l.contains("KMP  ")).unwrap();
    assert!(rows[kmp + 1].contains("agrees"), "{screen}");
    insta::assert_snapshot!(
        "readout_kmp_80x24",
        without_times(&text(&render(&app, 80, 24, COLOR)))
    );
}

/// The screen with every `hh:mm:ss` clock time and readout duration masked (readouts are timed
/// by the real clock).
fn without_times(screen: &str) -> String {
    let screen = screen
        .split(" in ")
        .enumerate()
        .map(|(i, part)| match part.split_once(" s") {
            Some((n, rest)) if i > 0 && n.parse::<f64>().is_ok() => format!("x.x s{rest}"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" in ");
    let mut out: Vec<char> = screen.chars().collect();

    let digit = |c: &char| c.is_ascii_digit();
    for i in 0..out.len().saturating_sub(7) {
        let w = &out[i..i + 8];
        if digit(&w[0])
            && digit(&w[1])
            && w[2] == ':'
            && digit(&w[3])
            && digit(&w[4])
            && w[5] == ':'
            && digit(&w[6])
            && digit(&w[7])
        {
            out.splice(i..i + 8, "hh:mm:ss".chars());
        }
    }
    out.into_iter().collect()
}

#[tokio::test]
async fn mbus_scan_lists_the_meter_and_r_reads_the_one_picked() {
    let mut app = app();
    app.on_key(key(KeyCode::Char('p')));
    app.on_key(key(KeyCode::Char('p')));
    let effects = app.on_key(key(KeyCode::Char('n')));
    assert!(matches!(
        effects.as_slice(),
        [Effect::StartReadout {
            protocol: ReadoutProtocol::Mbus,
            mbus_target: Target::Scan
        }]
    ));
    run(&mut app, effects).await;
    let screen = text(&render(&app, 80, 24, COLOR));
    assert!(screen.contains("Meters on the bus (1)"), "{screen}");
    let row = screen.lines().find(|l| l.contains("12345678")).unwrap();
    assert!(row.contains('›') && row.contains("KAM") && row.contains("electricity"));

    // r reads the meter picked, by its secondary address.
    let effects = app.on_key(key(KeyCode::Char('r')));
    match effects.as_slice() {
        [
            Effect::StartReadout {
                mbus_target: Target::Secondary(s),
                ..
            },
        ] => assert_eq!(s.to_string(), "12345678"),
        other => panic!("{other:?}"),
    }
    run(&mut app, effects).await;
    let screen = text(&render(&app, 120, 40, COLOR));
    assert!(screen.contains("secondary address 12345678"), "{screen}");
    let energy = screen.lines().find(|l| l.contains("04 03 ")).unwrap();
    assert!(
        energy.contains("Energy") && energy.contains("Wh"),
        "{energy}"
    );
    // The level converter's echoes reached the Inspector marked, with every answer.
    let echoes = app.inspector.spans.iter().filter(|s| s.echo).count();
    assert!(echoes >= 2, "{echoes} echoes marked");
}
