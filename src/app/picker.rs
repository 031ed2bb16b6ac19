//! The port picker shown when kamscope starts without a source: every serial port with its USB
//! id, maker, product and serial number, and the demo meter.

use crate::wire::line::PortInfo;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What the user picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Demo,
    /// A serial port path, or a network bridge's `tcp://` / `rfc2217://` address.
    Port(String),
    /// A serial port whose line settings are to be found first (`--detect`).
    Detect(String),
}

impl Choice {
    /// As remembered in the config.
    pub fn config_value(&self) -> String {
        match self {
            Choice::Demo => "demo".into(),
            Choice::Port(p) | Choice::Detect(p) => p.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerAction {
    None,
    Choose(Choice),
    Quit,
}

/// One line of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Port(String),
    Network,
    Demo,
}

#[derive(Debug, Clone)]
pub struct Picker {
    pub ports: Vec<PortInfo>,
    /// Index into the entries: the ports, then the network bridge, then the demo meter.
    pub selected: usize,
    pub last: Option<String>,
    /// Why listing ports failed, if it did.
    pub error: Option<String>,
    /// The network bridge's address as typed (`tcp://HOST:PORT`, `rfc2217://HOST:PORT`).
    pub address: String,
    /// Typing goes into the address.
    pub editing: bool,
    /// What is wrong with the address (said by whoever opens it).
    pub address_error: Option<String>,
}

impl Picker {
    pub fn new(ports: Result<Vec<PortInfo>, String>, last: Option<String>) -> Self {
        let mut p = Picker {
            ports: Vec::new(),
            selected: 0,
            last: last.clone(),
            error: None,
            address: String::new(),
            editing: false,
            address_error: None,
        };
        p.set_ports(ports);
        let entry = match last.as_deref() {
            Some("demo") => Entry::Demo,
            Some(address) if address.contains("://") => {
                p.address = address.to_string();
                Entry::Network
            }
            Some(path) => Entry::Port(path.to_string()),
            None => Entry::Port(String::new()),
        };
        p.select(&entry);
        p
    }

    /// Replaces the port list (a rescan), keeping the selection on the same entry.
    pub fn set_ports(&mut self, ports: Result<Vec<PortInfo>, String>) {
        let current = self.entry();
        match ports {
            Ok(list) => {
                self.ports = list;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        self.select(&current);
    }

    /// The index of the network bridge's line.
    pub fn network_index(&self) -> usize {
        self.ports.len()
    }

    /// The index of the demo meter's line.
    pub fn demo_index(&self) -> usize {
        self.ports.len() + 1
    }

    pub fn entries(&self) -> usize {
        self.ports.len() + 2
    }

    fn entry(&self) -> Entry {
        match self.ports.get(self.selected) {
            Some(p) => Entry::Port(p.path.clone()),
            None if self.selected == self.network_index() => Entry::Network,
            None => Entry::Demo,
        }
    }

    /// Selects `entry` (a port that left selects the first line).
    fn select(&mut self, entry: &Entry) {
        self.selected = match entry {
            Entry::Port(path) => self.ports.iter().position(|x| &x.path == path).unwrap_or(0),
            Entry::Network => self.network_index(),
            Entry::Demo => self.demo_index(),
        };
    }

    pub fn choice(&self) -> Option<Choice> {
        match self.entry() {
            Entry::Port(p) => Some(Choice::Port(p)),
            Entry::Network if self.address.trim().is_empty() => None,
            Entry::Network => Some(Choice::Port(self.address.trim().to_string())),
            Entry::Demo => Some(Choice::Demo),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> PickerAction {
        if key.kind != KeyEventKind::Press {
            return PickerAction::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return PickerAction::Quit;
        }
        if self.editing {
            return self.on_address_key(key.code, ctrl);
        }
        match key.code {
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
            KeyCode::Char('s') => match self.entry() {
                Entry::Port(p) => PickerAction::Choose(Choice::Detect(p)),
                _ => PickerAction::None,
            },
            KeyCode::Char('e') if self.entry() == Entry::Network => {
                self.editing = true;
                PickerAction::None
            }
            KeyCode::Enter if self.entry() == Entry::Network && self.address.trim().is_empty() => {
                self.editing = true;
                PickerAction::None
            }
            KeyCode::Enter => self
                .choice()
                .map_or(PickerAction::None, PickerAction::Choose),
            _ => PickerAction::None,
        }
    }

    /// Typing the network bridge's address.
    fn on_address_key(&mut self, code: KeyCode, ctrl: bool) -> PickerAction {
        self.address_error = None;
        match code {
            KeyCode::Esc => self.editing = false,
            KeyCode::Enter => {
                if let Some(choice) = self.choice() {
                    self.editing = false;
                    return PickerAction::Choose(choice);
                }
            }
            KeyCode::Up | KeyCode::Down => {
                self.editing = false;
                return self.on_key(KeyEvent::new(code, KeyModifiers::NONE));
            }
            KeyCode::Backspace => {
                self.address.pop();
            }
            KeyCode::Char('u') if ctrl => self.address.clear(),
            KeyCode::Char(c) if !ctrl && !c.is_control() && self.address.len() < 200 => {
                self.address.push(c);
            }
            _ => {}
        }
        PickerAction::None
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
        assert_eq!(p.on_key(key(KeyCode::Down)), PickerAction::None);
        assert_eq!(
            p.on_key(key(KeyCode::Enter)),
            PickerAction::Choose(Choice::Demo)
        );
        assert_eq!(
            p.on_key(key(KeyCode::Up)),
            PickerAction::None,
            "the network bridge's line"
        );
        assert_eq!(p.on_key(key(KeyCode::Up)), PickerAction::None);
        assert_eq!(
            p.on_key(key(KeyCode::Char('s'))),
            PickerAction::Choose(Choice::Detect("/dev/ttyUSB1".into()))
        );
        let mut none = Picker::new(Ok(vec![]), Some("demo".into()));
        assert_eq!(
            none.on_key(key(KeyCode::Enter)),
            PickerAction::Choose(Choice::Demo)
        );
        assert_eq!(none.on_key(key(KeyCode::Char('q'))), PickerAction::Quit);
    }

    #[test]
    fn a_network_address_is_typed_and_remembered() {
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let mut p = Picker::new(Ok(vec![port("/dev/ttyUSB0")]), None);
        p.on_key(key(KeyCode::Down));
        assert_eq!(p.choice(), None, "no address yet");
        // Enter on the empty line starts typing; letters are the address, not commands.
        assert_eq!(p.on_key(key(KeyCode::Enter)), PickerAction::None);
        assert!(p.editing);
        for c in "tcp://10.0.0.9:2001x".chars() {
            assert_eq!(p.on_key(key(KeyCode::Char(c))), PickerAction::None);
        }
        p.on_key(key(KeyCode::Backspace));
        assert_eq!(
            p.on_key(key(KeyCode::Enter)),
            PickerAction::Choose(Choice::Port("tcp://10.0.0.9:2001".into()))
        );
        // A rescan keeps the network line selected; the last address comes back next time.
        p.set_ports(Ok(vec![port("/dev/ttyACM0"), port("/dev/ttyUSB0")]));
        assert_eq!(p.selected, p.network_index());
        let again = Picker::new(Ok(vec![]), Some("rfc2217://meter.local:4000".into()));
        assert_eq!(again.selected, again.network_index());
        assert_eq!(
            again.choice(),
            Some(Choice::Port("rfc2217://meter.local:4000".into()))
        );
        // Esc stops typing without quitting.
        let mut p = Picker::new(Ok(vec![]), None);
        p.on_key(key(KeyCode::Enter));
        assert_eq!(p.on_key(key(KeyCode::Esc)), PickerAction::None);
        assert!(!p.editing);
        assert_eq!(p.on_key(key(KeyCode::Esc)), PickerAction::Quit);
    }
}
