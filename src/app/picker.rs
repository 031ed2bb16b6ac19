//! The port picker shown when kamscope starts without a source: every serial port with its USB
//! id, maker, product and serial number, and the demo meter.

use crate::wire::line::PortInfo;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What the user picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Demo,
    Port(String),
}

impl Choice {
    /// As remembered in the config.
    pub fn config_value(&self) -> String {
        match self {
            Choice::Demo => "demo".into(),
            Choice::Port(p) => p.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerAction {
    None,
    Choose(Choice),
    Quit,
}

#[derive(Debug, Clone)]
pub struct Picker {
    pub ports: Vec<PortInfo>,
    /// Index into the entries: the ports, then the demo meter.
    pub selected: usize,
    pub last: Option<String>,
    /// Why listing ports failed, if it did.
    pub error: Option<String>,
}

impl Picker {
    pub fn new(ports: Result<Vec<PortInfo>, String>, last: Option<String>) -> Self {
        let mut p = Picker {
            ports: Vec::new(),
            selected: 0,
            last,
            error: None,
        };
        p.set_ports(ports);
        p.selected = match p.last.as_deref() {
            Some("demo") => p.ports.len(),
            Some(path) => p.ports.iter().position(|x| x.path == path).unwrap_or(0),
            None => 0,
        };
        p
    }

    /// Replaces the port list (a rescan), keeping the selection on the same entry.
    pub fn set_ports(&mut self, ports: Result<Vec<PortInfo>, String>) {
        let current = self.choice();
        match ports {
            Ok(list) => {
                self.ports = list;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        self.selected = match current {
            Some(Choice::Port(path)) => self.ports.iter().position(|x| x.path == path).unwrap_or(0),
            Some(Choice::Demo) => self.ports.len(),
            None => 0,
        };
    }

    pub fn entries(&self) -> usize {
        self.ports.len() + 1
    }

    pub fn choice(&self) -> Option<Choice> {
        if self.selected < self.ports.len() {
            Some(Choice::Port(self.ports[self.selected].path.clone()))
        } else if self.selected == self.ports.len() {
            Some(Choice::Demo)
        } else {
            None
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> PickerAction {
        if key.kind != KeyEventKind::Press {
            return PickerAction::None;
        }
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                PickerAction::Quit
            }
            KeyCode::Char('q') | KeyCode::Esc => PickerAction::Quit,
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                PickerAction::None
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.entries() - 1);
                PickerAction::None
            }
            KeyCode::Char('d') => PickerAction::Choose(Choice::Demo),
            KeyCode::Enter => self
                .choice()
                .map_or(PickerAction::None, PickerAction::Choose),
            _ => PickerAction::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(path: &str) -> PortInfo {
        PortInfo {
            path: path.into(),
            usb_id: Some("0403:6001".into()),
            manufacturer: Some("FTDI".into()),
            product: None,
            serial_number: None,
            kind: "usb",
        }
    }

    #[test]
    fn selects_the_last_choice_and_survives_rescans() {
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let mut p = Picker::new(
            Ok(vec![port("/dev/ttyUSB0"), port("/dev/ttyUSB1")]),
            Some("/dev/ttyUSB1".into()),
        );
        assert_eq!(p.choice(), Some(Choice::Port("/dev/ttyUSB1".into())));
        p.set_ports(Ok(vec![
            port("/dev/ttyACM0"),
            port("/dev/ttyUSB0"),
            port("/dev/ttyUSB1"),
        ]));
        assert_eq!(p.choice(), Some(Choice::Port("/dev/ttyUSB1".into())));
        assert_eq!(p.on_key(key(KeyCode::Down)), PickerAction::None);
        assert_eq!(
            p.on_key(key(KeyCode::Enter)),
            PickerAction::Choose(Choice::Demo)
        );
        let mut none = Picker::new(Ok(vec![]), Some("demo".into()));
        assert_eq!(
            none.on_key(key(KeyCode::Enter)),
            PickerAction::Choose(Choice::Demo)
        );
        assert_eq!(none.on_key(key(KeyCode::Char('q'))), PickerAction::Quit);
    }
}
