//! RFC 2217 (Telnet Com Port Control): the serial line settings of a network bridge (ser2net,
//! ESP-link) are set by the client over the same TCP connection as the data. Sans-IO: bytes from
//! the server go in, meter bytes and the bytes to send back come out.
//!
//! Telnet wraps the data: a 0xFF data byte travels as `IAC IAC`; `IAC WILL/WONT/DO/DONT opt`
//! negotiates options; `IAC SB opt ... IAC SE` carries an option's commands. The client asks for
//! binary transmission (8-bit data untouched), suppress-go-ahead and COM-PORT-OPTION (44), then
//! sends `SET-BAUDRATE` (1), `SET-DATASIZE` (2), `SET-PARITY` (3), `SET-STOPSIZE` (4) and
//! `SET-CONTROL` (5, no flow control). The server answers each with code + 100 and the value it
//! set.

pub const IAC: u8 = 255;
pub const DONT: u8 = 254;
pub const DO: u8 = 253;
pub const WONT: u8 = 252;
pub const WILL: u8 = 251;
pub const SB: u8 = 250;
pub const SE: u8 = 240;

/// Telnet options the client uses.
pub const BINARY: u8 = 0;
pub const SUPPRESS_GO_AHEAD: u8 = 3;
pub const COM_PORT_OPTION: u8 = 44;

/// Client-to-server command codes; the server's answer is the code + 100.
const SET_BAUDRATE: u8 = 1;
const SET_DATASIZE: u8 = 2;
const SET_PARITY: u8 = 3;
const SET_STOPSIZE: u8 = 4;
const SET_CONTROL: u8 = 5;
const SERVER_OFFSET: u8 = 100;

/// `SET-CONTROL` value for no flow control (as a serial port is opened here).
const NO_FLOW_CONTROL: u8 = 1;

/// Parity codes of `SET-PARITY`.
pub const PARITY_NONE: u8 = 1;
pub const PARITY_ODD: u8 = 2;
pub const PARITY_EVEN: u8 = 3;

/// One line setting, as sent by the client and confirmed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Baud(u32),
    DataBits(u8),
    /// [`PARITY_NONE`], [`PARITY_ODD`], [`PARITY_EVEN`] (4 mark and 5 space are not used here).
    Parity(u8),
    /// 1 or 2 stop bits (3 means 1.5).
    StopBits(u8),
    /// [`NO_FLOW_CONTROL`] is the only one sent.
    Control(u8),
}

impl Setting {
    fn code(self) -> u8 {
        match self {
            Setting::Baud(_) => SET_BAUDRATE,
            Setting::DataBits(_) => SET_DATASIZE,
            Setting::Parity(_) => SET_PARITY,
            Setting::StopBits(_) => SET_STOPSIZE,
            Setting::Control(_) => SET_CONTROL,
        }
    }

    fn value(self) -> Vec<u8> {
        match self {
            Setting::Baud(b) => b.to_be_bytes().to_vec(),
            Setting::DataBits(v)
            | Setting::Parity(v)
            | Setting::StopBits(v)
            | Setting::Control(v) => {
                vec![v]
            }
        }
    }

    /// The setting a command (`code` without the server offset) carries, if it is one of ours
    /// and its value has the right length.
    fn parse(code: u8, value: &[u8]) -> Option<Setting> {
        match (code, value) {
            (SET_BAUDRATE, &[a, b, c, d]) => Some(Setting::Baud(u32::from_be_bytes([a, b, c, d]))),
            (SET_DATASIZE, &[v]) => Some(Setting::DataBits(v)),
            (SET_PARITY, &[v]) => Some(Setting::Parity(v)),
            (SET_STOPSIZE, &[v]) => Some(Setting::StopBits(v)),
            (SET_CONTROL, &[v]) => Some(Setting::Control(v)),
            _ => None,
        }
    }

    /// The settings that put a port at `baud` with `data_bits`, `parity` (a `PARITY_` code) and
    /// `stop_bits`, without flow control.
    pub fn line(baud: u32, data_bits: u8, parity: u8, stop_bits: u8) -> [Setting; 5] {
        [
            Setting::Baud(baud),
            Setting::DataBits(data_bits),
            Setting::Parity(parity),
            Setting::StopBits(stop_bits),
            Setting::Control(NO_FLOW_CONTROL),
        ]
    }
}

/// Appends `data` to `out` with every 0xFF doubled, as Telnet carries it.
pub fn escape(data: &[u8], out: &mut Vec<u8>) {
    for &b in data {
        out.push(b);
        if b == IAC {
            out.push(IAC);
        }
    }
}

/// Appends a client command that sets `setting` (`IAC SB 44 code value IAC SE`).
pub fn request(setting: Setting, out: &mut Vec<u8>) {
    command(setting.code(), setting, out);
}

/// Appends the server's answer to `setting` (the code + 100), for a server (the tests' bridge).
pub fn answer(setting: Setting, out: &mut Vec<u8>) {
    command(setting.code() + SERVER_OFFSET, setting, out);
}

fn command(code: u8, setting: Setting, out: &mut Vec<u8>) {
    out.extend_from_slice(&[IAC, SB, COM_PORT_OPTION, code]);
    // A baud rate may hold a 0xFF byte: inside SB it is doubled as well.
    escape(&setting.value(), out);
    out.extend_from_slice(&[IAC, SE]);
}

/// What the Telnet stream carries besides data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Telnet {
    /// `IAC WILL/WONT/DO/DONT option`.
    Negotiate { verb: u8, option: u8 },
    /// `IAC SB option payload IAC SE`, the payload unescaped.
    Sub { option: u8, payload: Vec<u8> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    Verb(u8),
    Sub,
    SubIac,
}

/// Splits a Telnet stream into data and Telnet commands; either side (client or server) uses it.
#[derive(Debug, Clone)]
pub struct Parser {
    state: State,
    sub: Vec<u8>,
}

/// Longest subnegotiation kept; a longer one (no COM-PORT command is) is cut, not grown without
/// bound by a server that never sends `IAC SE`.
const MAX_SUB: usize = 64;

impl Default for Parser {
    fn default() -> Self {
        Parser {
            state: State::Data,
            sub: Vec::new(),
        }
    }
}

impl Parser {
    /// Feeds bytes: data goes to `data`, commands to `commands`.
    pub fn feed(&mut self, bytes: &[u8], data: &mut Vec<u8>, commands: &mut Vec<Telnet>) {
        for &b in bytes {
            self.state = match (self.state, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, _) => {
                    data.push(b);
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    State::Data
                }
                (State::Iac, WILL | WONT | DO | DONT) => State::Verb(b),
                (State::Iac, SB) => {
                    self.sub.clear();
                    State::Sub
                }
                // NOP, go-ahead, break and the like carry nothing for a meter link.
                (State::Iac, _) => State::Data,
                (State::Verb(verb), option) => {
                    commands.push(Telnet::Negotiate { verb, option });
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, _) | (State::SubIac, IAC) => {
                    if self.sub.len() < MAX_SUB {
                        self.sub.push(b);
                    }
                    State::Sub
                }
                (State::SubIac, SE) => {
                    if let Some((&option, payload)) = self.sub.split_first() {
                        commands.push(Telnet::Sub {
                            option,
                            payload: payload.to_vec(),
                        });
                    }
                    State::Data
                }
                // `IAC x` inside SB other than IAC IAC and IAC SE: a broken server; the
                // subnegotiation is dropped.
                (State::SubIac, _) => State::Data,
            };
        }
    }
}

/// What the client learned from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server set a line setting (the value it reports).
    Set(Setting),
    /// The server refused COM-PORT-OPTION: it cannot set the line (a plain Telnet server).
    Refused,
}

/// The client side: opens the options, answers the server's negotiation and reads its replies.
#[derive(Debug, Clone)]
pub struct Client {
    parser: Parser,
    commands: Vec<Telnet>,
    /// Options the client has said `WILL` / `DO` to, so that the server's agreement is not
    /// answered again (Telnet's rule against negotiation loops, RFC 854).
    sent_will: [bool; 256],
    sent_do: [bool; 256],
    /// Options the client has refused, each refused once.
    refused: [bool; 256],
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// Options the client accepts in either direction.
fn wanted(option: u8) -> bool {
    matches!(option, BINARY | SUPPRESS_GO_AHEAD | COM_PORT_OPTION)
}

impl Client {
    pub fn new() -> Client {
        Client {
            parser: Parser::default(),
            commands: Vec::new(),
            sent_will: [false; 256],
            sent_do: [false; 256],
            refused: [false; 256],
        }
    }

    /// The bytes that open the session and put the port at `settings`: the client will send
    /// binary and COM-PORT commands, and asks the server for binary and no go-aheads.
    pub fn start(&mut self, settings: &[Setting], out: &mut Vec<u8>) {
        for option in [BINARY, SUPPRESS_GO_AHEAD, COM_PORT_OPTION] {
            self.sent_will[usize::from(option)] = true;
            out.extend_from_slice(&[IAC, WILL, option]);
        }
        for option in [BINARY, SUPPRESS_GO_AHEAD] {
            self.sent_do[usize::from(option)] = true;
            out.extend_from_slice(&[IAC, DO, option]);
        }
        for &s in settings {
            request(s, out);
        }
    }

    /// Feeds bytes from the server: meter data to `data`, answers for the server to `reply`,
    /// what the server did to `events`.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        data: &mut Vec<u8>,
        reply: &mut Vec<u8>,
        events: &mut Vec<Event>,
    ) {
        self.commands.clear();
        self.parser.feed(bytes, data, &mut self.commands);
        for command in self.commands.drain(..) {
            match command {
                Telnet::Negotiate { verb, option } => {
                    let i = usize::from(option);
                    match verb {
                        // The server asks for (or agrees to) an option on the client's side
                        // (DO), or offers (or agrees to) one on its own (WILL).
                        DO | WILL if wanted(option) => {
                            let (said, yes) = if verb == DO {
                                (&mut self.sent_will[i], WILL)
                            } else {
                                (&mut self.sent_do[i], DO)
                            };
                            if !*said {
                                *said = true;
                                reply.extend_from_slice(&[IAC, yes, option]);
                            }
                        }
                        DO | WILL if !self.refused[i] => {
                            self.refused[i] = true;
                            let no = if verb == DO { WONT } else { DONT };
                            reply.extend_from_slice(&[IAC, no, option]);
                        }
                        DONT if option == COM_PORT_OPTION => events.push(Event::Refused),
                        _ => {}
                    }
                }
                Telnet::Sub { option, payload } => {
                    if option != COM_PORT_OPTION {
                        continue;
                    }
                    // NOTIFY-LINESTATE (106), NOTIFY-MODEMSTATE (107) and flow control
                    // notices do not change the data: only the answers to our commands count.
                    if let Some((&code, value)) = payload.split_first()
                        && let Some(setting) = code
                            .checked_sub(SERVER_OFFSET)
                            .and_then(|c| Setting::parse(c, value))
                    {
                        events.push(Event::Set(setting));
                    }
                }
            }
        }
    }
}

/// A client command as the server sees it (for a server: the tests' bridge).
pub fn requested(command: &Telnet) -> Option<Setting> {
    match command {
        Telnet::Sub { option, payload } if *option == COM_PORT_OPTION => {
            let (&code, value) = payload.split_first()?;
            Setting::parse(code, value)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn client_feed(client: &mut Client, bytes: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<Event>) {
        let (mut data, mut reply, mut events) = (Vec::new(), Vec::new(), Vec::new());
        client.feed(bytes, &mut data, &mut reply, &mut events);
        (data, reply, events)
    }

    #[test]
    fn settings_go_out_as_rfc_2217_commands() {
        let mut out = Vec::new();
        request(Setting::Baud(2400), &mut out);
        assert_eq!(out, [IAC, SB, 44, 1, 0x00, 0x00, 0x09, 0x60, IAC, SE]);
        out.clear();
        request(Setting::Parity(PARITY_EVEN), &mut out);
        assert_eq!(out, [IAC, SB, 44, 3, 3, IAC, SE]);
        // A 0xFF inside a value is doubled like data.
        out.clear();
        request(Setting::Baud(0x0001_C2FF), &mut out);
        assert_eq!(out, [IAC, SB, 44, 1, 0x00, 0x01, 0xC2, 0xFF, 0xFF, IAC, SE]);
        out.clear();
        answer(Setting::DataBits(7), &mut out);
        assert_eq!(out, [IAC, SB, 44, 102, 7, IAC, SE]);
    }

    #[test]
    fn the_client_opens_binary_and_the_com_port_then_sets_the_line() {
        let mut client = Client::new();
        let mut out = Vec::new();
        client.start(&Setting::line(300, 7, PARITY_EVEN, 1), &mut out);
        let mut parser = Parser::default();
        let (mut data, mut commands) = (Vec::new(), Vec::new());
        parser.feed(&out, &mut data, &mut commands);
        assert!(data.is_empty());
        assert!(commands.contains(&Telnet::Negotiate {
            verb: WILL,
            option: COM_PORT_OPTION
        }));
        assert!(commands.contains(&Telnet::Negotiate {
            verb: DO,
            option: BINARY
        }));
        let set: Vec<Setting> = commands.iter().filter_map(requested).collect();
        assert_eq!(
            set,
            [
                Setting::Baud(300),
                Setting::DataBits(7),
                Setting::Parity(PARITY_EVEN),
                Setting::StopBits(1),
                Setting::Control(1)
            ]
        );
    }

    #[test]
    fn server_answers_are_events_and_notifications_are_ignored() {
        let mut client = Client::new();
        client.start(&[], &mut Vec::new());
        let mut from_server = vec![IAC, DO, COM_PORT_OPTION, IAC, WILL, BINARY];
        answer(Setting::Baud(2400), &mut from_server);
        // NOTIFY-LINESTATE and NOTIFY-MODEMSTATE.
        from_server.extend_from_slice(&[IAC, SB, 44, 106, 0x60, IAC, SE]);
        from_server.extend_from_slice(&[IAC, SB, 44, 107, 0x30, IAC, SE]);
        from_server.extend_from_slice(b"A\xFF\xFFB");
        let (data, reply, events) = client_feed(&mut client, &from_server);
        assert_eq!(data, b"A\xFFB");
        assert!(
            reply.is_empty(),
            "agreements to our offers are not answered"
        );
        assert_eq!(events, [Event::Set(Setting::Baud(2400))]);
    }

    #[test]
    fn other_options_are_refused_once() {
        let mut client = Client::new();
        client.start(&[], &mut Vec::new());
        // Terminal type (24) asked of the client, echo (1) offered by the server.
        let (_, reply, _) = client_feed(&mut client, &[IAC, DO, 24, IAC, WILL, 1]);
        assert_eq!(reply, [IAC, WONT, 24, IAC, DONT, 1]);
        let (_, reply, _) = client_feed(&mut client, &[IAC, DO, 24, IAC, WILL, 1]);
        assert!(reply.is_empty(), "no negotiation loop");
        // The server offering its COM port side is accepted, once.
        let (_, reply, _) = client_feed(&mut client, &[IAC, WILL, COM_PORT_OPTION]);
        assert_eq!(reply, [IAC, DO, COM_PORT_OPTION]);
        let (_, _, events) = client_feed(&mut client, &[IAC, DONT, COM_PORT_OPTION]);
        assert_eq!(events, [Event::Refused]);
    }

    #[test]
    fn a_command_split_across_reads_is_whole() {
        let mut stream = vec![b'x'];
        answer(Setting::Parity(PARITY_NONE), &mut stream);
        stream.extend_from_slice(&[IAC, IAC, b'y']);
        let mut client = Client::new();
        let mut got = (Vec::new(), Vec::new());
        for &b in &stream {
            let (data, _, events) = client_feed(&mut client, &[b]);
            got.0.extend(data);
            got.1.extend(events);
        }
        assert_eq!(got.0, b"x\xFFy");
        assert_eq!(got.1, [Event::Set(Setting::Parity(PARITY_NONE))]);
    }

    proptest! {
        #[test]
        fn data_round_trips_through_escaping(data in proptest::collection::vec(
            prop_oneof![Just(0xFFu8), any::<u8>()], 0..300), cut in 0usize..300) {
            let mut wire = Vec::new();
            escape(&data, &mut wire);
            let cut = cut.min(wire.len());
            let mut client = Client::new();
            let (mut got, mut reply, mut events) = (Vec::new(), Vec::new(), Vec::new());
            client.feed(&wire[..cut], &mut got, &mut reply, &mut events);
            client.feed(&wire[cut..], &mut got, &mut reply, &mut events);
            prop_assert_eq!(got, data);
            prop_assert!(reply.is_empty());
            prop_assert!(events.is_empty());
        }

        #[test]
        fn any_bytes_are_taken_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut client = Client::new();
            let (mut data, mut reply, mut events) = (Vec::new(), Vec::new(), Vec::new());
            client.feed(&bytes, &mut data, &mut reply, &mut events);
            prop_assert!(data.len() <= bytes.len());
        }
    }
}
