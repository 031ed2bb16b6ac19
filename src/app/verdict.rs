//! What the whole app says about the site, decided once for every screen: the no-data ladder
//! (which rung the bytes stand on), whether the values are current, the verdicts on the values,
//! and the one-line headline at the top of every tab.

use super::live::limits::{
    BAD_FRAMES_WARN_SHARE, NO_BYTES_AFTER_S, NO_FRAME_AFTER_BYTES, STALE_AFTER_S,
};
use super::live::{self, ClockCheck, Diagnostic, Level, Topic, Wiring};
use super::{App, CipherStatus};
use crate::protocol::Protocol;
use crate::wire::{Link, LinkState};
use chrono::Utc;

/// Why values are no longer current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleWhy {
    /// No push for more than two periods.
    NoPush,
    /// The link failed (the reason from the reader).
    LinkDown(String),
    /// The link dropped and is being opened again.
    Reconnecting,
    /// A replay played to its end (not a fault).
    ReplayFinished,
}

/// Whether the live values are current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// No push with values yet.
    NoValues,
    /// `age`: seconds since the latest push.
    Fresh {
        age: i64,
    },
    Stale {
        age: i64,
        why: StaleWhy,
    },
}

impl Freshness {
    pub fn is_stale(&self) -> bool {
        matches!(self, Freshness::Stale { .. })
    }

    /// The age of stale values, for panel titles.
    pub fn stale_age(&self) -> Option<i64> {
        match self {
            Freshness::Stale { age, .. } => Some(*age),
            _ => None,
        }
    }
}

/// Values are stale when no push came for more than two periods, or the link is down. A replay
/// that ended is not "down": its values go stale by age only.
pub fn freshness(app: &App) -> Freshness {
    let Some(r) = app.live.latest else {
        return Freshness::NoValues;
    };
    let age = (app.now.with_timezone(&Utc) - r.received)
        .num_seconds()
        .max(0);
    let why = match &app.link {
        LinkState::Waiting { reason } => Some(StaleWhy::LinkDown(reason.clone())),
        LinkState::Connecting => Some(StaleWhy::Reconnecting),
        LinkState::Ended if age > STALE_AFTER_S => Some(StaleWhy::ReplayFinished),
        _ if age > STALE_AFTER_S => Some(StaleWhy::NoPush),
        _ => None,
    };
    match why {
        Some(why) => Freshness::Stale { age, why },
        None => Freshness::Fresh { age },
    }
}

fn link(level: Level, text: impl Into<String>) -> Diagnostic {
    Diagnostic::new(level, Topic::Link, text)
}

/// The rung of the no-data ladder the bytes stand on: no bytes at all / bytes but no frames /
/// frames failing HCS / frames failing FCS / encrypted without keys / wrong key / decoded.
pub fn rung(app: &App) -> Diagnostic {
    let s = &app.stats;
    if s.bytes == 0 {
        return no_bytes(app);
    }
    if let Some(d) = encrypted(app) {
        return d;
    }
    if s.good == 0 {
        return no_good_frame(app);
    }
    if app.live.pushes == 0 {
        return link(
            Level::Warn,
            format!(
                "{} good frames, but no meter values in them: not a push list kamscope knows",
                s.good
            ),
        );
    }
    decoded(app)
}

fn no_bytes(app: &App) -> Diagnostic {
    let now = app.now.with_timezone(&Utc);
    match &app.link {
        LinkState::Waiting { reason } => link(
            Level::Bad,
            format!("no bytes at all: {reason}: check the port and the USB cable"),
        )
        .short(format!("no bytes: {reason}")),
        LinkState::Ended => link(Level::Bad, "no bytes at all in the replayed file"),
        LinkState::Connecting => link(Level::Info, "opening the port"),
        LinkState::Connected => {
            let waited = app
                .stats
                .connected_since
                .map_or(0, |c| (now - c).num_seconds());
            if waited < NO_BYTES_AFTER_S {
                link(
                    Level::Info,
                    "connected, waiting for bytes (list 1 comes every 10 s)",
                )
            } else {
                link(
                    Level::Bad,
                    format!(
                        "no bytes at all in {waited} s: check the cable (RJ45 pins 1-2); \
                         is the HAN port enabled by the grid company?"
                    ),
                )
                .short(format!(
                    "no bytes in {waited} s: cable? HAN port enabled by the grid company?"
                ))
            }
        }
    }
}

/// The latest encrypted push, when it is what the values depend on.
fn encrypted(app: &App) -> Option<Diagnostic> {
    let c = app.cipher.as_ref()?;
    if c.status == CipherStatus::Decrypted
        || app.live.latest.is_some_and(|r| r.received > c.received)
    {
        return None;
    }
    let title = match &c.manufacturer {
        Some(m) => format!("system title {m} {}", c.system_title),
        None => format!("system title {}", c.system_title),
    };
    let what = format!(
        "encrypted push received (general-glo-ciphering, {title}, counter {})",
        c.invocation_counter
    );
    let short = format!(
        "encrypted push ({}counter {})",
        c.manufacturer
            .as_ref()
            .map_or(String::new(), |m| format!("{m}, ")),
        c.invocation_counter
    );
    Some(match &c.status {
        CipherStatus::NeedKeys => {
            link(Level::Bad, format!("{what}: keys needed")).short(format!("{short}: keys needed"))
        }
        CipherStatus::WrongKey => link(
            Level::Bad,
            format!("{what}: wrong key, the authentication tag does not match"),
        )
        .short(format!("{short}: wrong key")),
        CipherStatus::NeedAuthKey => link(
            Level::Warn,
            format!("{what}: decrypted without the authentication key, values unverified"),
        )
        .short(format!("{short}: no authentication key, values unverified")),
        CipherStatus::Unsupported(e) => {
            link(Level::Bad, format!("{what}: {e}")).short(format!("{short}: {e}"))
        }
        CipherStatus::Decrypted => return None,
    })
}

/// Bytes came, no frame passed its checks.
fn no_good_frame(app: &App) -> Diagnostic {
    let s = &app.stats;
    // Joining a line in the middle of a push leaves a cut-off frame or a false start: one bad
    // frame among few bytes is no verdict yet.
    let early = s.bytes < NO_FRAME_AFTER_BYTES;
    let (hcs, fcs) = (s.hcs_bad, s.fcs_bad + s.length_bad);
    let enough = |n: u64| n >= 2 || (n >= 1 && !early);
    if enough(hcs) && hcs >= fcs {
        return link(
            Level::Bad,
            format!(
                "{hcs} frames fail HCS, none good: wrong parity or speed? Kamstrup sends 2400 8N1 \
                 (Aidon, Kaifa 2400 8E1)"
            ),
        )
        .short(format!("{hcs} frames fail HCS: wrong parity or speed?"));
    }
    if enough(fcs) {
        return link(
            Level::Bad,
            format!(
                "{} frames fail FCS, {} cut off, none good: noise, or a badly seated HAN module",
                s.fcs_bad, s.length_bad
            ),
        )
        .short(format!("{fcs} frames fail FCS: noise or module seating"));
    }
    if enough(s.other_bad) {
        return link(
            Level::Bad,
            format!("{} frames fail their checks, none good", s.other_bad),
        );
    }
    if early {
        return link(
            Level::Info,
            format!("{} B so far, no good frame yet", s.bytes),
        );
    }
    // Junk only: say what was seen.
    let flags: usize = app
        .inspector
        .spans
        .iter()
        .filter(|sp| sp.link == Link::Han && sp.protocol == Protocol::Junk)
        .map(|sp| sp.bytes.iter().filter(|&&b| b == 0x7E).count())
        .sum();
    let seen = if flags == 0 {
        format!("{} B without a single 0x7E flag", s.bytes)
    } else {
        format!("{} B with {flags} 0x7E flags but no valid frame", s.bytes)
    };
    link(
        Level::Bad,
        format!("bytes but no frames: {seen}: wrong speed or parity, or not a HAN port?"),
    )
    .short("bytes but no frames: wrong speed or parity?")
}

fn decoded(app: &App) -> Diagnostic {
    let s = &app.stats;
    let bad = s.bad();
    let total = s.good + bad;
    if bad == 0 {
        return link(
            Level::Ok,
            format!("pushes decoded: {}/{total} frames good", s.good),
        );
    }
    let mut kinds = Vec::new();
    for (n, what) in [
        (s.hcs_bad, "HCS"),
        (s.fcs_bad, "FCS"),
        (s.length_bad, "cut off"),
        (s.other_bad, "other"),
    ] {
        if n > 0 {
            kinds.push(format!("{n} {what}"));
        }
    }
    let share = bad as f64 / total as f64;
    let level = if share > BAD_FRAMES_WARN_SHARE {
        Level::Warn
    } else {
        Level::Info
    };
    link(
        level,
        format!(
            "pushes decoded, {}/{total} frames good ({}): noise or module seating",
            s.good,
            kinds.join(", ")
        ),
    )
    .with("bad share", share, "")
    .short(format!(
        "{}/{total} frames good: noise or module seating",
        s.good
    ))
}

/// Whether pushes keep coming, in a line (none while they do).
fn push_line(app: &App, fresh: &Freshness) -> Option<Diagnostic> {
    let push = |level, text: String| Diagnostic::new(level, Topic::Push, text);
    let ago = |age: &i64| {
        live::human_seconds(*age)
            .trim_start_matches('+')
            .to_string()
    };
    match fresh {
        Freshness::NoValues => None,
        Freshness::Fresh { .. } if app.link == LinkState::Ended => {
            Some(push(Level::Info, "replay finished".into()))
        }
        Freshness::Fresh { .. } => None,
        Freshness::Stale { age, why } => Some(match (why, ago(age)) {
            (StaleWhy::NoPush, age) => push(
                Level::Bad,
                format!("no push for {age} (list 1 comes every 10 s): values stale"),
            )
            .short(format!("no push for {age}: values stale")),
            (StaleWhy::LinkDown(reason), age) => push(
                Level::Bad,
                format!("link down ({reason}): values stale, last push {age} ago"),
            )
            .short(format!("link down: values stale, last push {age} ago")),
            (StaleWhy::Reconnecting, age) => push(
                Level::Bad,
                format!("reconnecting: values stale, last push {age} ago"),
            ),
            (StaleWhy::ReplayFinished, age) => push(
                Level::Info,
                format!("replay finished: values stale, last push {age} ago"),
            ),
        }),
    }
}

/// Every verdict, for the Diagnostics panel: the ladder's rung first, then whether pushes keep
/// coming, then the verdicts on the values, worst first (marked stale when they are).
pub fn diagnostics(app: &App) -> Vec<Diagnostic> {
    let fresh = freshness(app);
    let mut rung = rung(app);
    if fresh.is_stale() && rung.level == Level::Ok {
        // "Decoded" was true of the last push; no ✔ for it now.
        rung.level = Level::Info;
        rung.stale = true;
    }
    let mut out = vec![rung];
    out.extend(push_line(app, &fresh));
    let mut values = live::diagnostics(&app.live, app.now, app.std_offset);
    if fresh.is_stale() {
        for d in &mut values {
            d.stale = true;
        }
    }
    out.extend(values);
    out
}

/// The line at the top of every tab: a summary when all is well, else the worst problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// The worst level among the verdicts.
    pub level: Level,
    /// The worst problem in a few words, for a line too narrow for its whole text.
    pub short: Option<String>,
    /// Parts to show in order, each with its level (the worst problem alone, first, when there
    /// is one).
    pub parts: Vec<(Level, String)>,
}

impl Headline {
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// "HAN ok · 3 phases ok · clock ok · 12/12 frames good", or the worst problem.
pub fn headline(app: &App) -> Headline {
    let diags = diagnostics(app);
    let worst = diags
        .iter()
        .fold(None::<&Diagnostic>, |w, d| match w {
            Some(w) if w.level >= d.level => Some(w),
            _ => Some(d),
        })
        .map_or(Level::Info, |d| d.level);
    if worst >= Level::Warn {
        let problems: Vec<&Diagnostic> = diags.iter().filter(|d| d.level == worst).collect();
        let first = problems[0];
        let mut text = first.text.clone();
        let mut short = first.short.clone();
        if first.stale {
            text.push_str(" (stale)");
            if let Some(s) = &mut short {
                s.push_str(" (stale)");
            }
        }
        let mut parts = vec![(worst, text)];
        let others = diags.iter().filter(|d| d.level >= Level::Warn).count() - 1;
        if others > 0 {
            parts.push((Level::Info, format!("+{others} more on tab 1")));
        }
        return Headline {
            level: worst,
            short,
            parts,
        };
    }
    Headline {
        level: worst,
        short: None,
        parts: summary(app, &diags),
    }
}

/// The all-well summary, part by part.
fn summary(app: &App, diags: &[Diagnostic]) -> Vec<(Level, String)> {
    let fresh = freshness(app);
    let rung = &diags[0];
    let mut parts = Vec::new();
    parts.push(match (&fresh, &app.link) {
        (Freshness::Stale { age, .. }, _) => (
            Level::Info,
            format!(
                "values stale {}",
                live::human_seconds(*age).trim_start_matches('+')
            ),
        ),
        (_, LinkState::Ended) => (Level::Info, "replay finished".into()),
        (Freshness::NoValues, _) => (rung.level, rung.text.clone()),
        _ => (Level::Ok, "HAN ok".into()),
    });
    let live = &app.live;
    if let Some(r) = live.latest {
        let stale = fresh.is_stale();
        let level = if stale { Level::Info } else { Level::Ok };
        parts.push(match live.wiring() {
            None => (Level::Info, "phases unknown".into()),
            Some(Wiring::OnePhase) => (level, "1 phase ok".into()),
            Some(Wiring::ThreeWire) => (level, "3 phases ok (3-wire)".into()),
            Some(_) => (level, "3 phases ok".into()),
        });
        if stale {
            parts
                .last_mut()
                .expect("just pushed")
                .1
                .push_str(" (stale)");
        }
        let clock = live::clock_check(live, &r, app.now, app.std_offset);
        if clock != ClockCheck::NoTime {
            parts.push((clock.level().unwrap_or(Level::Info), clock.short()));
        }
    }
    let s = &app.stats;
    if s.good + s.bad() > 0 {
        let level = if s.bad() == 0 { Level::Ok } else { Level::Info };
        parts.push((
            level,
            format!("{}/{} frames good", s.good, s.good + s.bad()),
        ));
    }
    parts
}
