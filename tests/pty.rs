//! End to end over a pseudo-terminal: the simulated meter on one side, the real tokio-serial
//! reader on the other. The "adapter" is unplugged (terminal closed, device gone) and plugged in
//! again, and the reader recovers by itself.

mod common;

use common::{good_pushes, wait_for};
use kamscope::link::pty::SimPty;
use kamscope::link::serial::SerialConnector;
use kamscope::link::sim::MeterProfile;
use kamscope::task::han::{self, HanConfig};
use kamscope::wire::line::SerialSettings;
use kamscope::wire::{HanEvent, LinkState};
use std::path::Path;
use std::time::Duration;

fn plug(sim: &SimPty, link: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&sim.path, link).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_reader_decodes_the_simulator_and_survives_unplugging() {
    let dir = std::env::temp_dir().join(format!("kamscope-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("ttyHAN");

    let sim = SimPty::open(MeterProfile::ThreePhase, false, 100.0, 1).unwrap();
    plug(&sim, &link);
    let connector = SerialConnector {
        path: link.display().to_string(),
        settings: SerialSettings::HAN,
    };
    let cfg = HanConfig {
        retry: Duration::from_millis(100),
        ..HanConfig::default()
    };
    let (mut events, _commands) = han::spawn(Box::new(connector), cfg);
    wait_for(&mut events, |l| *l == LinkState::Connected).await;
    let ids = good_pushes(&mut events, 3).await;
    assert!(ids.iter().all(|id| id == "5706567000000042"), "{ids:?}");

    // Unplug: the terminal closes and the device node disappears.
    drop(sim);
    std::fs::remove_file(&link).unwrap();
    let state = wait_for(&mut events, |l| matches!(l, LinkState::Waiting { .. })).await;
    println!("after unplug: {state:?}");

    // Plug in again: a new terminal behind the same name.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sim = SimPty::open(MeterProfile::OnePhase, false, 100.0, 2).unwrap();
    plug(&sim, &link);
    wait_for(&mut events, |l| *l == LinkState::Connected).await;
    good_pushes(&mut events, 3).await;
    drop(sim);
    std::fs::remove_dir_all(&dir).ok();
}

/// A missing adapter is waited for, with its reason, without "connecting" in between (the app
/// logs state changes); a port that cannot be a serial port stops a reader asked to stop then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_ports_are_waited_for_and_wrong_ones_are_not() {
    let connector = SerialConnector {
        path: "/dev/kamscope-no-such-tty".into(),
        settings: SerialSettings::HAN,
    };
    let cfg = HanConfig {
        retry: Duration::from_millis(20),
        stop_on_permanent: true,
        ..HanConfig::default()
    };
    let (mut events, _commands) = han::spawn(Box::new(connector), cfg);
    let mut states = Vec::new();
    while states.len() < 5 {
        if let Some(HanEvent::Link(l)) = events.recv().await {
            states.push(l);
        }
    }
    assert_eq!(states[0], LinkState::Connecting);
    for s in &states[1..] {
        assert_eq!(
            *s,
            LinkState::Waiting {
                reason: "no device /dev/kamscope-no-such-tty: is the adapter plugged in?".into()
            }
        );
    }

    let dir = std::env::temp_dir();
    let connector = SerialConnector {
        path: dir.display().to_string(),
        settings: SerialSettings::HAN,
    };
    let cfg = HanConfig {
        retry: Duration::from_millis(20),
        stop_on_permanent: true,
        ..HanConfig::default()
    };
    let (mut events, _commands) = han::spawn(Box::new(connector), cfg);
    let mut states = Vec::new();
    while let Some(e) = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("the reader stops")
    {
        if let HanEvent::Link(l) = e {
            states.push(l);
        }
    }
    assert_eq!(
        states,
        [
            LinkState::Connecting,
            LinkState::Waiting {
                reason: format!("{} is a directory, not a serial port", dir.display())
            }
        ]
    );
}
