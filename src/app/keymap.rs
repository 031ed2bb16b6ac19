//! Every key, in one table: [`App::on_key`](super::App::on_key) dispatches through it, the help
//! overlay lists it and the hint line at the bottom is made from it, so the three cannot drift
//! apart. A key means one thing within a tab: no key of a tab's scope is also a key of
//! [`Scope::Everywhere`] (the tests below check the whole table).

use super::Tab;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Live,
    Readout,
    Inspector,
    Events,
    Check,
}

impl Scope {
    /// In the order of the help overlay.
    pub const ALL: [Scope; 6] = [
        Scope::Everywhere,
        Scope::Live,
        Scope::Readout,
        Scope::Inspector,
        Scope::Events,
        Scope::Check,
    ];

    pub fn of(tab: Tab) -> Scope {
        match tab {
            Tab::Live => Scope::Live,
            Tab::Readout => Scope::Readout,
            Tab::Inspector => Scope::Inspector,
            Tab::Events => Scope::Events,
            Tab::Check => Scope::Check,
        }
    }

    /// The title of its group in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Scope::Everywhere => "Everywhere",
            Scope::Live => "Live",
            Scope::Readout => "Readout",
            Scope::Inspector => "Inspector",
            Scope::Events => "Events",
            Scope::Check => "Check",
        }
    }
}

/// What a key does. [`App::on_key`](super::App::on_key) applies it in one `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    ShowTab(Tab),
    NextTab,
    PrevTab,
    /// Closes the help overlay; in the Readout tab cancels a running readout; else dismisses the
    /// notice.
    DismissOrCancel,
    // Live
    ChartKind,
    ChartWindow,
    EnergyScaler,
    CurrentScaler,
    // Readout
    StartReadout,
    /// The next protocol for the readout port.
    ReadoutProtocol,
    /// Scan the M-Bus for meters.
    MbusScan,
    ReadoutPrev,
    ReadoutNext,
    ReadoutCompare,
    /// Values as numbers, or as the meter sent them.
    ReadoutRawValues,
    ScrollUp,
    ScrollDown,
    ScrollPageUp,
    ScrollPageDown,
    ExportCsv,
    /// The commissioning report (HTML), from the Check tab.
    WriteReport,
    /// JSON: the shown readout in the Readout tab, the selected frame in the Inspector.
    Export,
    // Inspector
    SelectUp,
    SelectDown,
    SelectPageUp,
    SelectPageDown,
    SelectFirst,
    SelectLast,
    ToggleFollow,
    ToggleBadOnly,
    DetailScrollUp,
    DetailScrollDown,
}

impl Action {
    /// Every action (the tests check that each one has a key).
    pub const ALL: [Action; 38] = [
        Action::Quit,
        Action::Help,
        Action::ShowTab(Tab::Live),
        Action::ShowTab(Tab::Readout),
        Action::ShowTab(Tab::Inspector),
        Action::ShowTab(Tab::Events),
        Action::ShowTab(Tab::Check),
        Action::NextTab,
        Action::PrevTab,
        Action::DismissOrCancel,
        Action::ChartKind,
        Action::ChartWindow,
        Action::EnergyScaler,
        Action::CurrentScaler,
        Action::StartReadout,
        Action::ReadoutProtocol,
        Action::MbusScan,
        Action::ReadoutPrev,
        Action::ReadoutNext,
        Action::ReadoutCompare,
        Action::ReadoutRawValues,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::ScrollPageUp,
        Action::ScrollPageDown,
        Action::ExportCsv,
        Action::WriteReport,
        Action::Export,
        Action::SelectUp,
        Action::SelectDown,
        Action::SelectPageUp,
        Action::SelectPageDown,
        Action::SelectFirst,
        Action::SelectLast,
        Action::ToggleFollow,
        Action::ToggleBadOnly,
        Action::DetailScrollUp,
        Action::DetailScrollDown,
    ];
}

/// A key, with or without Ctrl. A key without Ctrl matches whatever modifiers come with it
/// (Shift comes with `G`); a Ctrl binding wins over a plain one (Ctrl-C quits, `c` alone does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    fn matches(&self, event: &KeyEvent) -> bool {
        self.code == event.code && (!self.ctrl || event.modifiers.contains(KeyModifiers::CONTROL))
    }

    /// As the help and the hint line show it: `q`, `Ctrl-C`, `↑`, `PgDn`, `space`.
    pub fn label(&self) -> String {
        let name = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            other => format!("{other}"),
        };
        if self.ctrl {
            format!("Ctrl-{name}")
        } else {
            name
        }
    }
}

/// A binding's line in the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Help {
    /// A line of its own with this text.
    Line(&'static str),
    /// The keys join the line of the binding above in the same scope, whose text covers both.
    WithAbove,
}

/// A binding on the one-line hint at the bottom of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Only in the help overlay.
    No,
    /// `KEY label` on the hint line of the binding's tab. When the line is too narrow the lowest
    /// `priority` goes first.
    Show { label: &'static str, priority: u8 },
    /// Like `Show`, on one tab's hint line only: an Everywhere key with a meaning there.
    ShowOn {
        tab: Tab,
        label: &'static str,
        priority: u8,
    },
    /// The binding's first key joins the hint of the binding above (`↑ ↓ select`).
    WithAbove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub scope: Scope,
    /// The first one is the one the hint line shows.
    pub keys: &'static [Key],
    pub action: Action,
    pub help: Help,
    pub hint: Hint,
}

const fn bind(
    scope: Scope,
    keys: &'static [Key],
    action: Action,
    help: Help,
    hint: Hint,
) -> Binding {
    Binding {
        scope,
        keys,
        action,
        help,
        hint,
    }
}

const fn hint(label: &'static str, priority: u8) -> Hint {
    Hint::Show { label, priority }
}

const fn ch(c: char) -> Key {
    Key::plain(KeyCode::Char(c))
}

const fn k(code: KeyCode) -> Key {
    Key::plain(code)
}

use Help::{Line, WithAbove};
use Scope::{Check, Events, Everywhere, Inspector, Live, Readout};

/// Every key of kamscope, grouped by scope in the order of the help overlay.
pub const KEYMAP: &[Binding] = &[
    bind(
        Everywhere,
        &[ch('1')],
        Action::ShowTab(Tab::Live),
        Line("the tabs; next / previous tab"),
        Hint::No,
    ),
    bind(
        Everywhere,
        &[ch('2')],
        Action::ShowTab(Tab::Readout),
        WithAbove,
        Hint::No,
    ),
    bind(
        Everywhere,
        &[ch('3')],
        Action::ShowTab(Tab::Inspector),
        WithAbove,
        Hint::No,
    ),
    bind(
        Everywhere,
        &[ch('4')],
        Action::ShowTab(Tab::Events),
        WithAbove,
        Hint::No,
    ),
    bind(
        Everywhere,
        &[ch('5')],
        Action::ShowTab(Tab::Check),
        WithAbove,
        Hint::No,
    ),
    bind(
        Everywhere,
        &[k(KeyCode::Tab)],
        Action::NextTab,
        WithAbove,
        Hint::No,
    ),
    bind(
        Everywhere,
        &[k(KeyCode::BackTab)],
        Action::PrevTab,
        WithAbove,
        Hint::No,
    ),
    bind(
        Everywhere,
        &[ch('?')],
        Action::Help,
        Line("this help; Esc closes it or dismisses a message"),
        Hint::No,
    ),
    bind(
        Everywhere,
        &[k(KeyCode::Esc)],
        Action::DismissOrCancel,
        WithAbove,
        Hint::ShowOn {
            tab: Tab::Readout,
            label: "cancel",
            priority: 7,
        },
    ),
    bind(
        Everywhere,
        &[ch('q'), Key::ctrl('c')],
        Action::Quit,
        Line("quit"),
        Hint::No,
    ),
    // Live
    bind(
        Live,
        &[ch('c')],
        Action::ChartKind,
        Line("chart: power/voltage/current; window 5 min-24 h"),
        hint("chart", 9),
    ),
    bind(
        Live,
        &[ch('w')],
        Action::ChartWindow,
        WithAbove,
        hint("window", 8),
    ),
    bind(
        Live,
        &[ch('e')],
        Action::EnergyScaler,
        Line("energy scaler: x10 Wh (Norway) / Wh (Sweden)"),
        hint("energy scaler", 7),
    ),
    bind(
        Live,
        &[ch('i')],
        Action::CurrentScaler,
        Line("current scaler: by type / 0.01 A / 0.001 A"),
        hint("current scaler", 6),
    ),
    // Readout
    bind(
        Readout,
        &[ch('r'), k(KeyCode::Enter)],
        Action::StartReadout,
        Line("read (Esc cancels); scan the M-Bus (↑ ↓ pick one)"),
        hint("read", 9),
    ),
    bind(
        Readout,
        &[ch('n')],
        Action::MbusScan,
        WithAbove,
        hint("scan", 2),
    ),
    bind(
        Readout,
        &[ch('p')],
        Action::ReadoutProtocol,
        Line("protocol: IEC 61107 / KMP / M-Bus (kept per port)"),
        hint("protocol", 8),
    ),
    bind(
        Readout,
        &[k(KeyCode::Left), ch('h')],
        Action::ReadoutPrev,
        Line("earlier / later; compare to previous; raw values"),
        hint("readouts", 6),
    ),
    bind(
        Readout,
        &[k(KeyCode::Right), ch('l')],
        Action::ReadoutNext,
        WithAbove,
        Hint::WithAbove,
    ),
    bind(
        Readout,
        &[ch('c')],
        Action::ReadoutCompare,
        WithAbove,
        hint("compare", 4),
    ),
    bind(
        Readout,
        &[ch('v')],
        Action::ReadoutRawValues,
        WithAbove,
        hint("raw", 4),
    ),
    bind(
        Readout,
        &[k(KeyCode::Up), ch('k')],
        Action::ScrollUp,
        Line("scroll the registers"),
        hint("scroll", 3),
    ),
    bind(
        Readout,
        &[k(KeyCode::Down), ch('j')],
        Action::ScrollDown,
        WithAbove,
        Hint::WithAbove,
    ),
    bind(
        Readout,
        &[k(KeyCode::PageUp)],
        Action::ScrollPageUp,
        WithAbove,
        Hint::No,
    ),
    bind(
        Readout,
        &[k(KeyCode::PageDown)],
        Action::ScrollPageDown,
        WithAbove,
        Hint::No,
    ),
    bind(
        Readout,
        &[ch('s')],
        Action::ExportCsv,
        Line("export the readout as CSV / JSON"),
        hint("CSV", 8),
    ),
    bind(
        Readout,
        &[ch('x')],
        Action::Export,
        WithAbove,
        hint("JSON", 7),
    ),
    // Inspector
    bind(
        Inspector,
        &[k(KeyCode::Up), ch('k')],
        Action::SelectUp,
        Line("select (pauses following); tx = sent by us"),
        hint("select", 9),
    ),
    bind(
        Inspector,
        &[k(KeyCode::Down), ch('j')],
        Action::SelectDown,
        WithAbove,
        Hint::WithAbove,
    ),
    bind(
        Inspector,
        &[k(KeyCode::PageUp)],
        Action::SelectPageUp,
        Line("page, first, last (G follows again)"),
        Hint::No,
    ),
    bind(
        Inspector,
        &[k(KeyCode::PageDown)],
        Action::SelectPageDown,
        WithAbove,
        Hint::No,
    ),
    bind(
        Inspector,
        &[ch('g'), k(KeyCode::Home)],
        Action::SelectFirst,
        WithAbove,
        Hint::No,
    ),
    bind(
        Inspector,
        &[ch('G'), k(KeyCode::End)],
        Action::SelectLast,
        WithAbove,
        Hint::No,
    ),
    bind(
        Inspector,
        &[ch(' '), ch('p')],
        Action::ToggleFollow,
        Line("pause / follow; bad frames and junk only"),
        hint("pause", 7),
    ),
    bind(
        Inspector,
        &[ch('b')],
        Action::ToggleBadOnly,
        WithAbove,
        hint("bad only", 6),
    ),
    bind(
        Inspector,
        &[ch('x')],
        Action::Export,
        Line("export the frame as JSON; scroll its detail"),
        hint("export", 8),
    ),
    bind(
        Inspector,
        &[ch('['), ch('K')],
        Action::DetailScrollUp,
        WithAbove,
        hint("scroll", 4),
    ),
    bind(
        Inspector,
        &[ch(']'), ch('J')],
        Action::DetailScrollDown,
        WithAbove,
        Hint::WithAbove,
    ),
    bind(
        Events,
        &[k(KeyCode::Up), ch('k')],
        Action::ScrollUp,
        Line("scroll back / forward through the events"),
        hint("scroll", 3),
    ),
    bind(
        Events,
        &[k(KeyCode::Down), ch('j')],
        Action::ScrollDown,
        WithAbove,
        Hint::WithAbove,
    ),
    bind(
        Events,
        &[k(KeyCode::PageUp)],
        Action::ScrollPageUp,
        WithAbove,
        Hint::No,
    ),
    bind(
        Events,
        &[k(KeyCode::PageDown)],
        Action::ScrollPageDown,
        WithAbove,
        Hint::No,
    ),
    bind(
        Check,
        &[ch('w')],
        Action::WriteReport,
        Line("write the commissioning report (HTML, printable)"),
        hint("write report", 5),
    ),
    bind(
        Check,
        &[k(KeyCode::Up), ch('k')],
        Action::ScrollUp,
        Line("scroll the checks"),
        hint("scroll", 3),
    ),
    bind(
        Check,
        &[k(KeyCode::Down), ch('j')],
        Action::ScrollDown,
        WithAbove,
        Hint::WithAbove,
    ),
];

/// What a key press does in this tab: the tab's bindings first, then the Everywhere ones, a
/// Ctrl binding before a plain one. Returns the action and the key it matched.
pub fn lookup(tab: Tab, event: &KeyEvent) -> Option<(Action, Key)> {
    let scope = Scope::of(tab);
    let in_scope = |b: &&Binding| b.scope == scope;
    let everywhere = |b: &&Binding| b.scope == Scope::Everywhere;
    let ordered = KEYMAP
        .iter()
        .filter(in_scope)
        .chain(KEYMAP.iter().filter(everywhere));
    let mut plain = None;
    for b in ordered {
        for key in b.keys.iter().filter(|k| k.matches(event)) {
            if key.ctrl {
                return Some((b.action, *key));
            }
            plain = plain.or(Some((b.action, *key)));
        }
    }
    plain
}

/// One line of the help overlay: the keys (`←/h →/l c`) and what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpLine {
    pub keys: String,
    pub text: &'static str,
}

/// The help overlay's lines for one scope, in table order. The keys of one binding are joined
/// by `/`, those of bindings sharing a line by a space.
pub fn help_lines(scope: Scope) -> Vec<HelpLine> {
    let mut lines: Vec<HelpLine> = Vec::new();
    for b in KEYMAP.iter().filter(|b| b.scope == scope) {
        let keys = b.keys.iter().map(Key::label).collect::<Vec<_>>().join("/");
        match (b.help, lines.last_mut()) {
            (Help::WithAbove, Some(line)) => {
                line.keys.push(' ');
                line.keys.push_str(&keys);
            }
            (Help::Line(text), _) => lines.push(HelpLine { keys, text }),
            // A table error the tests catch; still show the keys.
            (Help::WithAbove, None) => lines.push(HelpLine { keys, text: "" }),
        }
    }
    lines
}

/// One hint of the hint line: `↑ ↓ select`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintItem {
    pub keys: String,
    pub label: &'static str,
    pub priority: u8,
    /// What the hint's first key does.
    pub action: Action,
}

impl HintItem {
    pub fn text(&self) -> String {
        format!("{} {}", self.keys, self.label)
    }
}

/// The hints of a tab's line, in order: the tab's own bindings, then the Everywhere bindings
/// shown on every tab or on this one.
pub fn hints(tab: Tab) -> Vec<HintItem> {
    let scope = Scope::of(tab);
    let mut items: Vec<HintItem> = Vec::new();
    let ordered = KEYMAP
        .iter()
        .filter(|b| b.scope == scope)
        .chain(KEYMAP.iter().filter(|b| b.scope == Scope::Everywhere));
    let mut last_shown = false;
    for b in ordered {
        let first = b.keys.first().map(Key::label).unwrap_or_default();
        let shown = match b.hint {
            Hint::Show { label, priority } => Some((label, priority)),
            Hint::ShowOn {
                tab: on,
                label,
                priority,
            } if on == tab => Some((label, priority)),
            _ => None,
        };
        if let Some((label, priority)) = shown {
            items.push(HintItem {
                keys: first,
                label,
                priority,
                action: b.action,
            });
            last_shown = true;
        } else if b.hint == Hint::WithAbove && last_shown {
            if let Some(item) = items.last_mut() {
                item.keys.push(' ');
                item.keys.push_str(&first);
            }
        } else {
            last_shown = false;
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn scopes_meet(a: Scope, b: Scope) -> bool {
        a == b || a == Scope::Everywhere || b == Scope::Everywhere
    }

    #[test]
    fn no_key_means_two_things() {
        for (i, a) in KEYMAP.iter().enumerate() {
            for b in &KEYMAP[i + 1..] {
                if !scopes_meet(a.scope, b.scope) {
                    continue;
                }
                for key in a.keys {
                    assert!(
                        !b.keys.contains(key),
                        "{} is {:?} ({:?}) and {:?} ({:?})",
                        key.label(),
                        a.action,
                        a.scope,
                        b.action,
                        b.scope
                    );
                }
            }
            for (j, key) in a.keys.iter().enumerate() {
                assert!(!a.keys[j + 1..].contains(key), "{key:?} twice");
            }
        }
    }

    #[test]
    fn every_action_has_a_key() {
        for action in Action::ALL {
            assert!(
                KEYMAP.iter().any(|b| b.action == action),
                "{action:?} has no key"
            );
        }
        for b in KEYMAP {
            assert!(Action::ALL.contains(&b.action), "{:?} not in ALL", b.action);
            assert!(!b.keys.is_empty(), "{:?} without keys", b.action);
        }
    }

    #[test]
    fn table_is_grouped_and_joins_have_a_line_above() {
        let order: Vec<Scope> = KEYMAP.iter().map(|b| b.scope).collect();
        let mut sorted = order.clone();
        sorted.sort_by_key(|s| Scope::ALL.iter().position(|x| x == s));
        assert_eq!(order, sorted, "grouped by scope in help order");
        for scope in Scope::ALL {
            let first = KEYMAP.iter().find(|b| b.scope == scope).unwrap();
            assert!(matches!(first.help, Help::Line(_)), "{scope:?}");
            assert!(first.hint != Hint::WithAbove, "{scope:?}");
            for line in help_lines(scope) {
                assert!(!line.text.is_empty());
            }
        }
        for b in KEYMAP {
            if let Hint::ShowOn { .. } = b.hint {
                assert_eq!(b.scope, Scope::Everywhere, "{:?}", b.action);
            }
        }
    }

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            state: crossterm::event::KeyEventState::NONE,
        }
    }

    #[test]
    fn lookup_scopes_and_ctrl() {
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        let c = KeyCode::Char('c');
        assert_eq!(
            lookup(Tab::Live, &press(c, none)).unwrap().0,
            Action::ChartKind
        );
        assert_eq!(
            lookup(Tab::Readout, &press(c, none)).unwrap().0,
            Action::ReadoutCompare
        );
        assert_eq!(lookup(Tab::Inspector, &press(c, none)), None);
        for tab in Tab::ALL {
            assert_eq!(
                lookup(tab, &press(c, ctrl)),
                Some((Action::Quit, Key::ctrl('c')))
            );
        }
        let j = KeyCode::Char('j');
        assert_eq!(
            lookup(Tab::Readout, &press(j, none)).unwrap().0,
            Action::ScrollDown
        );
        assert_eq!(
            lookup(Tab::Inspector, &press(j, none)).unwrap().0,
            Action::SelectDown
        );
        let x = KeyCode::Char('x');
        assert_eq!(
            lookup(Tab::Readout, &press(x, none)).unwrap().0,
            Action::Export
        );
        let big_g = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(Tab::Inspector, &big_g).unwrap().0,
            Action::SelectLast
        );
        assert_eq!(
            lookup(Tab::Live, &press(KeyCode::Char('2'), none))
                .unwrap()
                .0,
            Action::ShowTab(Tab::Readout)
        );
    }

    #[test]
    fn help_and_hint_text() {
        let inspector = help_lines(Scope::Inspector);
        assert_eq!(inspector[0].keys, "↑/k ↓/j");
        assert_eq!(inspector[1].keys, "PgUp PgDn g/Home G/End");
        assert_eq!(help_lines(Scope::Everywhere)[2].keys, "q/Ctrl-C");
        let live: Vec<String> = hints(Tab::Live).iter().map(HintItem::text).collect();
        assert_eq!(
            live,
            ["c chart", "w window", "e energy scaler", "i current scaler"]
        );
        let readout: Vec<String> = hints(Tab::Readout).iter().map(HintItem::text).collect();
        assert_eq!(
            readout,
            [
                "r read",
                "n scan",
                "p protocol",
                "← → readouts",
                "c compare",
                "v raw",
                "↑ ↓ scroll",
                "s CSV",
                "x JSON",
                "Esc cancel"
            ]
        );
        let inspector: Vec<String> = hints(Tab::Inspector).iter().map(HintItem::text).collect();
        assert_eq!(
            inspector,
            [
                "↑ ↓ select",
                "space pause",
                "b bad only",
                "x export",
                "[ ] scroll"
            ]
        );
    }
}
