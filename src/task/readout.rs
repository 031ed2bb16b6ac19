//! A readout of any protocol as one task: the readout port opened per protocol, the task started
//! for the protocol asked, and its events in the app's terms. The app's Readout tab and
//! `kamscope check --optical` start readouts through here.

use crate::link::OpticalConnector;
use crate::protocol::iec_session::ReadoutOptions;
use crate::protocol::kmp::Variant;
use crate::protocol::kmp_session::KmpOptions;
use crate::protocol::mbus::session::{MbusOptions, Target};
use crate::wire::{OpticalEvent, ReadoutEvent, ReadoutProtocol, SharedRecorder};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The readout port opened for each protocol at its own line settings (an optical head reads IEC
/// 61107 at 300 7E1 and the 685-382's KMP at 1200 8E2; an M-Bus level converter runs 2400 8E1).
pub struct ReadoutConnectors {
    pub iec: Arc<dyn OpticalConnector>,
    pub kmp: Arc<dyn OpticalConnector>,
    pub mbus: Arc<dyn OpticalConnector>,
    /// The M-Bus line speed, for the answer timeouts.
    pub mbus_baud: u32,
}

/// The events of a readout in progress, each protocol's task in its own terms.
enum Events {
    Iec(mpsc::Receiver<OpticalEvent>),
    Kmp(mpsc::Receiver<crate::wire::kmp::KmpEvent>),
    Mbus(mpsc::Receiver<crate::wire::mbus::MbusEvent>),
}

/// A readout in progress: its events and the way to cancel it.
pub struct Readout {
    events: Events,
    cancel: mpsc::Sender<()>,
}

impl Readout {
    /// Starts a readout of `protocol` on its connector (`mbus_target`: the M-Bus meter asked;
    /// `iec_options`: the IEC 61107 device address and speed switch).
    pub fn start(
        connectors: &ReadoutConnectors,
        protocol: ReadoutProtocol,
        mbus_target: Target,
        iec_options: ReadoutOptions,
        recorder: Option<SharedRecorder>,
    ) -> Readout {
        let (events, cancel) = match protocol {
            ReadoutProtocol::Iec => {
                let (events, cancel) =
                    super::optical::spawn(connectors.iec.clone(), iec_options, recorder);
                (Events::Iec(events), cancel)
            }
            ReadoutProtocol::Kmp => {
                // The 685-382's optical port speaks ASCII-hex KMP, the only KMP meter the
                // Readout tab and `check` read (`kamscope read --protocol kmp` also reads binary).
                let options = KmpOptions::new(Variant::AsciiHex);
                let (events, cancel) = super::kmp::spawn(connectors.kmp.clone(), options, recorder);
                (Events::Kmp(events), cancel)
            }
            ReadoutProtocol::Mbus => {
                let options = MbusOptions::for_baud(mbus_target, connectors.mbus_baud);
                let (events, cancel) =
                    super::mbus::spawn(connectors.mbus.clone(), options, recorder);
                (Events::Mbus(events), cancel)
            }
        };
        Readout { events, cancel }
    }

    /// The next event; `None` once the task ended.
    pub async fn next(&mut self) -> Option<ReadoutEvent> {
        match &mut self.events {
            Events::Iec(events) => events.recv().await.map(ReadoutEvent::Iec),
            Events::Kmp(events) => events.recv().await.map(ReadoutEvent::Kmp),
            Events::Mbus(events) => events.recv().await.map(ReadoutEvent::Mbus),
        }
    }

    /// The next event of the readout if one runs; never ready without one (for `select!`).
    pub async fn next_of(readout: &mut Option<Readout>) -> Option<ReadoutEvent> {
        match readout {
            Some(r) => r.next().await,
            None => std::future::pending().await,
        }
    }

    /// Asks the task to stop (it reports the readout as cancelled).
    pub fn cancel(&self) {
        let _ = self.cancel.try_send(());
    }
}
