//! HAN push lists: turns a DataNotification body into named, scaled fields.
//!
//! Kamstrup sends a structure: the list version string (without OBIS code), then pairs of
//! `OBIS, value`; 1-phase meters either omit the L2/L3 pairs or send `00` placeholders. Scalers and
//! units are not in the frame; they come from the interface description and vary by country and
//! meter type, so they can be overridden. Aidon sends `OBIS, value, {scaler, unit}` per register;
//! Kaifa sends bare values without OBIS codes. The body is walked by its tags, never by position.

use super::axdr::{Data, DecodeError, MAX_DEPTH, Reader, tag};
use super::datetime::DateTime;
use super::dlms::{DataNotification, HeaderTime, Notification};

use super::obis::{Obis, unit_symbol};
use cell::{Cell, Kind};
use std::sync::OnceLock;

mod cell;

/// How raw Kamstrup register values are scaled. Both are 10-exponents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    /// Energy registers: +1 (raw x 10 Wh) in Norway, 0 (plain Wh) in Sweden.
    pub energy_scaler: i8,
    /// Currents: `None` picks by meter type, -2 (0.01 A) or -3 (0.001 A) on CT meters (685-...).
    pub current_scaler: Option<i8>,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            energy_scaler: 1,
            current_scaler: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Kamstrup,
    Aidon,
    Kaifa,
    LandisGyr,
    Iskra,
    Unknown,
}

impl Brand {
    /// The brand a FLAG manufacturer id names: the first three letters of a COSEM logical device
    /// name (0.0.42.0.0.255) and of a P1 identification line (`/ISk5...`: a lower-case third
    /// letter only says the meter answers fast).
    pub fn from_flag_id(id: &str) -> Brand {
        match id.get(..3).map(str::to_ascii_uppercase).as_deref() {
            Some("KAM") => Brand::Kamstrup,
            Some("ADN") => Brand::Aidon,
            Some("KFM") => Brand::Kaifa,
            Some("LGZ") => Brand::LandisGyr,
            Some("ISK") => Brand::Iskra,
            _ => Brand::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Brand::Kamstrup => "Kamstrup",
            Brand::Aidon => "Aidon",
            Brand::Kaifa => "Kaifa",
            Brand::LandisGyr => "Landis+Gyr",
            Brand::Iskra => "Iskra",
            Brand::Unknown => "unknown",
        }
    }
}

/// Which push list a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Instantaneous values (Kamstrup: every 10 s).
    List1,
    /// Instantaneous values plus clock and energy registers (Kamstrup: hourly).
    List2,
    /// A P1 telegram: instantaneous values, clock and registers in every push.
    Telegram,
    /// Nothing recognisable.
    Other,
}

impl ListKind {
    pub fn name(self) -> &'static str {
        match self {
            ListKind::List1 => "list1",
            ListKind::List2 => "list2",
            ListKind::Telegram => "telegram",
            ListKind::Other => "other",
        }
    }
}

/// What the Kamstrup type number says about the installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterKind {
    OnePhaseDirect,
    ThreePhaseDirect,
    ThreePhaseCt,
    Unknown,
}

impl MeterKind {
    pub fn from_type(meter_type: &str) -> Self {
        MeterKind::of_prefix(meter_type.as_bytes())
    }

    /// [`MeterKind::from_type`] of a type number as received: only text says a kind (bytes that
    /// are not UTF-8 are of unknown type). Plain ASCII, as meters send, is UTF-8 without the
    /// full check.
    fn from_type_bytes(meter_type: &[u8]) -> Self {
        if meter_type.is_ascii() || std::str::from_utf8(meter_type).is_ok() {
            MeterKind::of_prefix(meter_type)
        } else {
            MeterKind::Unknown
        }
    }

    /// The kind a type number's first three digits say.
    fn of_prefix(meter_type: &[u8]) -> Self {
        match meter_type.get(..3) {
            Some(b"686") => MeterKind::OnePhaseDirect,
            Some(b"684") => MeterKind::ThreePhaseDirect,
            Some(b"685") => MeterKind::ThreePhaseCt,
            _ => MeterKind::Unknown,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            MeterKind::OnePhaseDirect => "1-phase direct",
            MeterKind::ThreePhaseDirect => "3-phase direct",
            MeterKind::ThreePhaseCt => "3-phase CT meter",
            MeterKind::Unknown => "unknown type",
        }
    }
}

/// One value of a push list.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The OBIS code as sent (`None` when the meter sends none).
    pub obis: Option<Obis>,
    /// For values sent without OBIS code: what the documented list layout says they are.
    pub inferred: Option<Obis>,
    /// The value exactly as received.
    pub value: Data,
    /// 10-exponent applied to numeric values.
    pub scaler: Option<i8>,
    pub unit: Option<&'static str>,
    /// Scaler and unit came in the frame (Aidon) rather than from the tables.
    pub scaler_in_frame: bool,
}

impl Field {
    /// The code that names this field: sent, else inferred.
    pub fn code(&self) -> Option<Obis> {
        self.obis.or(self.inferred)
    }

    pub fn name(&self) -> String {
        match (self.obis, self.inferred) {
            (Some(o), _) => o.name(),
            (None, Some(o)) => o.name(),
            (None, None) => format!("Value ({})", self.value.type_name()),
        }
    }

    /// raw x 10^scaler, for numeric values.
    pub fn scaled(&self) -> Option<f64> {
        scaled(&self.value, self.scaler)
    }

    pub fn text(&self) -> Option<&str> {
        self.value
            .as_bytes()
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// raw x 10^scaler, for a numeric value.
fn scaled(value: &Data, scaler: Option<i8>) -> Option<f64> {
    let scaler = i32::from(scaler.unwrap_or(0));
    if let Some(i) = value.as_i128() {
        // Divide by an exact power of ten so 237 x 10^-2 prints as 2.37.
        let raw = i as f64;
        return Some(if scaler < 0 {
            raw / pow10(-scaler)
        } else {
            raw * pow10(scaler)
        });
    }
    value.as_f64().map(|v| v * pow10(scaler))
}

/// `10f64.powi(n)`, by look-up for 0 <= n <= 22: each of those powers is exact in an f64
/// (5^22 < 2^53), as `powi` computes it too, and the look-up costs less than its call.
fn pow10(n: i32) -> f64 {
    const EXACT: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| EXACT.get(i).copied())
        .unwrap_or_else(|| 10f64.powi(n))
}

/// A decoded push message. Its fields are kept compact as decoded (see [`cell`]); the named
/// fields are made from them the first time [`HanMessage::fields`] is asked.
#[derive(Clone)]
pub struct HanMessage {
    pub brand: Brand,
    pub list: ListKind,
    pub meter_kind: MeterKind,
    pub header_time: HeaderTime,
    /// The fields as decoded, in order.
    cells: Vec<Cell>,
    /// The bytes of the cells' values that are not numbers.
    store: Vec<u8>,
    /// The scalers of numbers whose frame gives none.
    table: ScalerTable,
    /// The named fields, made from the cells when first asked for.
    fields: OnceLock<Vec<Field>>,
    /// `00` null-data placeholders (1-phase Kamstrup meters send them for L2/L3).
    pub null_placeholders: usize,
    /// The current scaler that was applied.
    pub current_scaler: i8,
    /// A P1 telegram's identification line without its `/` (`KAM5 Kamstrup OMNIPOWER`).
    pub identification: Option<String>,
}

impl PartialEq for HanMessage {
    /// Equal when they say the same: the same fields (however their value bytes lie in the
    /// store, whether or not the named fields were made yet).
    fn eq(&self, other: &HanMessage) -> bool {
        self.brand == other.brand
            && self.list == other.list
            && self.meter_kind == other.meter_kind
            && self.header_time == other.header_time
            && self.null_placeholders == other.null_placeholders
            && self.current_scaler == other.current_scaler
            && self.identification == other.identification
            && self.fields() == other.fields()
    }
}

impl std::fmt::Debug for HanMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HanMessage")
            .field("brand", &self.brand)
            .field("list", &self.list)
            .field("meter_kind", &self.meter_kind)
            .field("header_time", &self.header_time)
            .field("fields", &self.fields())
            .field("null_placeholders", &self.null_placeholders)
            .field("current_scaler", &self.current_scaler)
            .field("identification", &self.identification)
            .finish()
    }
}

/// The buffers a push is decoded into, lent from push to push: a message takes them, and gives
/// them back ([`HanMessage::recycle`]) when the next push is decoded in its place, so a stream of
/// pushes is decoded without allocating. Not given back, the next push gets buffers of the last
/// one's sizes (lists repeat their layout): one allocation each, not a vector grown from empty.
#[derive(Debug, Default)]
pub struct Scratch {
    cells: Vec<Cell>,
    store: Vec<u8>,
    /// The fields and value bytes of the last push kept.
    last: (usize, usize),
}

impl HanMessage {
    /// A message of the given named fields (a P1 telegram's, a test's); the rest empty: no
    /// meter kind, header time, placeholders or identification, current scaler 0.
    pub fn from_fields(brand: Brand, list: ListKind, fields: &[Field]) -> HanMessage {
        let mut store = Vec::new();
        let cells = fields
            .iter()
            .map(|f| Cell::of_field(f, &mut store))
            .collect();
        HanMessage {
            brand,
            list,
            meter_kind: MeterKind::Unknown,
            header_time: HeaderTime::Absent,
            cells,
            store,
            // Unused: every field has the scaler it was built with.
            table: ScalerTable {
                brand,
                current: 0,
                energy: 0,
            },
            fields: OnceLock::new(),
            null_placeholders: 0,
            current_scaler: 0,
            identification: None,
        }
    }

    /// The named fields, in the order sent.
    pub fn fields(&self) -> &[Field] {
        self.fields.get_or_init(|| {
            let mut fields = Vec::with_capacity(self.cells.len());
            for cell in &self.cells {
                cell.push_field(&self.store, self.table, &mut fields);
            }
            fields
        })
    }

    /// Gives this message's buffers to `scratch` for the next push to be decoded into.
    pub fn recycle(self, scratch: &mut Scratch) {
        let HanMessage {
            mut cells,
            mut store,
            ..
        } = self;
        cells.clear();
        store.clear();
        if cells.capacity() > scratch.cells.capacity() {
            scratch.cells = cells;
        }
        if store.capacity() > scratch.store.capacity() {
            scratch.store = store;
        }
    }

    fn cell_where(&self, pred: impl Fn(&Obis) -> bool) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.code().as_ref().is_some_and(&pred))
    }

    /// The text of the string field with a code `pred` holds for.
    fn text_where(&self, pred: impl Fn(&Obis) -> bool) -> Option<&str> {
        self.cell_where(pred)
            .and_then(|c| c.string(&self.store))
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn list_version(&self) -> Option<&str> {
        self.text_where(Obis::is_list_version)
    }

    /// Meter id (GS1 number on Kamstrup), or the numeric meter number some lists send instead.
    pub fn meter_id(&self) -> Option<String> {
        if let Some(t) = self.text_where(Obis::is_meter_id) {
            return Some(t.to_string());
        }
        self.cell_where(|o| o.c() == 0 && o.d() == 0 && o.e() == 1)
            .and_then(|c| c.data(&self.store).as_i128())
            .map(|n| n.to_string())
    }

    pub fn meter_type(&self) -> Option<&str> {
        self.text_where(Obis::is_meter_type)
    }

    /// Whether the raw values follow the Kamstrup tables, so the scaling settings apply to them
    /// (other brands and P1 telegrams send their scalers or units themselves).
    pub fn kamstrup_scaling(&self) -> bool {
        self.brand == Brand::Kamstrup && !self.cells.iter().any(Cell::scaler_in_frame)
    }

    /// The clock object in the list (Kamstrup list 2 RTC, Aidon clock).
    pub fn clock(&self) -> Option<DateTime> {
        match self.cell_where(Obis::is_clock)?.data(&self.store) {
            Data::DateTime(dt) => Some(dt),
            _ => None,
        }
    }

    /// The meter's time: the header date-time, else the clock in the list.
    pub fn time(&self) -> Option<DateTime> {
        self.header_time
            .datetime()
            .copied()
            .or_else(|| self.clock())
    }

    /// A numeric field by OBIS C and D groups (B ignored), scaled.
    pub fn value(&self, c: u8, d: u8) -> Option<f64> {
        let cell = self.cell_where(|o| o.a() == 1 && o.c() == c && o.d() == d && o.e() == 0)?;
        scaled(&cell.data(&self.store), cell.scaler(self.table))
    }
}

/// Maps a notification to a push message, walking its A-XDR body (in `apdu`, which starts at
/// frame offset `base`) straight into its fields: one pass over the bytes gives the fields and
/// what the brand and list kind are judged by. Units and scalers the frame does not give follow
/// from each field's code, the brand and the meter type when read.
pub fn map(
    notification: &Notification,
    apdu: &[u8],
    base: usize,
    scaling: &Scaling,
) -> Result<HanMessage, DecodeError> {
    map_with(notification, apdu, base, scaling, &mut Scratch::default())
}

/// Walks a notification's body as [`map`] does, with the same errors, and keeps nothing: for
/// counting good and undecodable pushes without building them (`decode --summary`). `scratch`
/// as for [`map_with`].
pub fn check_with(
    notification: &Notification,
    apdu: &[u8],
    base: usize,
    scratch: &mut Scratch,
) -> Result<(), DecodeError> {
    walk_body(notification, apdu, base, &mut Walk::<false>::new(scratch))
}

/// [`map`], walking into `scratch`'s buffers, which the caller keeps from push to push: the
/// message takes the buffers its fields were written into (not copied), and gives them back to
/// `scratch` with [`HanMessage::recycle`].
pub fn map_with(
    notification: &Notification,
    apdu: &[u8],
    base: usize,
    scaling: &Scaling,
    scratch: &mut Scratch,
) -> Result<HanMessage, DecodeError> {
    let mut message = None;
    map_into(notification, apdu, base, scaling, scratch, &mut message)?;
    Ok(message.expect("a mapped push"))
}

/// [`map_with`] into `out` (set when the body decodes), where the caller keeps the message: a
/// message returned and then moved stalls (it was just written by narrow stores).
pub fn map_into(
    notification: &Notification,
    apdu: &[u8],
    base: usize,
    scaling: &Scaling,
    scratch: &mut Scratch,
    out: &mut Option<HanMessage>,
) -> Result<(), DecodeError> {
    let mut walk = Walk::<true>::new(scratch);
    walk_body(notification, apdu, base, &mut walk)?;
    let Walk {
        nulls,
        version,
        mut meter_type,
        mut list2,
        ..
    } = walk;
    // The fields leave with the message (which gives the buffers back when recycled).
    scratch.last = (scratch.cells.len(), scratch.store.len());
    let mut cells = std::mem::take(&mut scratch.cells);
    let store = std::mem::take(&mut scratch.store);
    let body = &apdu[notification.body.clone()];

    let mut brand = match version.and_then(|i| cells[i].string(&store)) {
        Some(v) if v.starts_with(b"Kamstrup") => Brand::Kamstrup,
        Some(v) if v.starts_with(b"AIDON") => Brand::Aidon,
        Some(v) if v.starts_with(b"KFM") => Brand::Kaifa,
        _ => Brand::Unknown,
    };
    // Kaifa's list 1: a structure of one double-long-unsigned, no list id, no OBIS code. Kaifa's
    // documentation names it active power import (1.0.1.7.0.255) in W.
    if brand == Brand::Unknown
        && body.starts_with(&[tag::STRUCTURE, 0x01, tag::DOUBLE_LONG_UNSIGNED])
        && let [only] = cells.as_mut_slice()
        && !only.sent()
        && only.kind == Kind::DoubleLongUnsigned
    {
        brand = Brand::Kaifa;
        only.infer(Obis::new(1, 0, 1, 7, 0, 255));
    }

    if brand == Brand::Unknown {
        brand = brand_by_device_name(&mut cells, &store);
    }

    if brand == Brand::Kamstrup {
        // The interface description names the version object, but it is sent without its code.
        if let Some(c) = cells.iter_mut().find(|c| !c.sent()) {
            c.code = Obis::new(1, 1, 0, 2, 129, 255);
            c.flags |= Cell::SENT;
        }
    }
    if brand == Brand::Kaifa && cells.iter().all(|c| !c.sent()) {
        infer_kaifa_layout(&mut cells);
        meter_type = cells
            .iter()
            .position(|c| c.code().is_some_and(|o| o.is_meter_type()));
        list2 = cells
            .iter()
            .any(|c| c.code().is_some_and(|o| o.is_energy() || o.is_clock()));
    }

    let meter_kind = meter_type
        .and_then(|i| cells[i].string(&store))
        .map_or(MeterKind::Unknown, MeterKind::from_type_bytes);
    let current_scaler = scaling.current_scaler.unwrap_or(match meter_kind {
        MeterKind::ThreePhaseCt => -3,
        _ => -2,
    });

    let list = if cells.is_empty() {
        ListKind::Other
    } else if list2 {
        ListKind::List2
    } else {
        ListKind::List1
    };

    *out = Some(HanMessage {
        brand,
        list,
        meter_kind,
        header_time: notification.time,
        cells,
        store,
        // Fields whose frame gives no scaler get the brand's: when asked (a pass over the
        // fields to set them costs more than the rest of the mapping after the walk).
        table: ScalerTable {
            brand,
            current: current_scaler,
            energy: scaling.energy_scaler,
        },
        fields: OnceLock::new(),
        null_placeholders: nulls,
        current_scaler,
        identification: None,
    });
    Ok(())
}

/// Walks a notification's body into `walk`. (The walk is filled where the caller keeps it: a
/// walk returned by value is copied out of narrow stores, which stalls.)
fn walk_body<const KEEP: bool>(
    notification: &Notification,
    apdu: &[u8],
    base: usize,
    walk: &mut Walk<'_, KEEP>,
) -> Result<(), DecodeError> {
    let body = &apdu[notification.body.clone()];
    let mut r = Reader::new(body, base + notification.body.start);
    walk.element(&mut r, 0).and_then(|()| match r.remaining() {
        0 => Ok(()),
        n => Err(r.error(format!("{n} bytes after the body"))),
    })
}

/// The fields of a body as the walk finds them, and what the brand and list are judged by.
/// `KEEP`: keep the fields; without, each value is only read (and checked) into `value` (a
/// walk of its own, compiled for counting). The fields are written into the scratch buffers
/// where they lie (not moved in and out: a moved buffer's header is read back right after it was
/// written, which stalls).
struct Walk<'s, const KEEP: bool> {
    cells: &'s mut Vec<Cell>,
    /// The bytes of the kept values that are not numbers.
    store: &'s mut Vec<u8>,
    /// `00` null-data placeholders.
    nulls: usize,
    /// The first string sent without a code, or with the list version's code.
    version: Option<usize>,
    /// The field with the meter type's code.
    meter_type: Option<usize>,
    /// An energy register or the clock came: list 2.
    list2: bool,
    value: Data,
}

/// What a field's code says of its scaler in the brands' tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    Current,
    Voltage,
    Energy,
    Other,
}

impl Quantity {
    fn of(code: Obis) -> Self {
        match (code.c(), code.d()) {
            (31 | 51 | 71, 7) => Quantity::Current,
            (32 | 52 | 72, 7) => Quantity::Voltage,
            (1..=4, 8) => Quantity::Energy,
            _ => Quantity::Other,
        }
    }
}

/// The scalers of a brand's tables, for the numbers whose frame gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScalerTable {
    brand: Brand,
    /// Kamstrup's current scaler (by meter type, or as set).
    current: i8,
    /// Kamstrup's energy scaler (as set).
    energy: i8,
}

impl ScalerTable {
    /// The scaler of a number whose code is `code` (0 without code).
    fn scaler(self, code: Option<Obis>) -> i8 {
        let Some(code) = code else {
            return 0;
        };
        match (self.brand, Quantity::of(code)) {
            (Brand::Kamstrup, Quantity::Current) => self.current,
            (Brand::Kamstrup, Quantity::Energy) => self.energy,
            (Brand::Kaifa, Quantity::Current) => -3,
            (Brand::Kaifa, Quantity::Voltage) => -1,
            // Landis+Gyr E450 pushes without scaler-unit send currents in 0.01 A (a public
            // report of an E450: 1.0.31.7.0.255 = 106 for 1.06 A); W, Wh and V as they are.
            (Brand::LandisGyr, Quantity::Current) => -2,
            _ => 0,
        }
    }
}

impl<'s, const KEEP: bool> Walk<'s, KEEP> {
    /// A walk into `scratch`'s buffers, emptied (and, keeping, of the last push's sizes).
    fn new(scratch: &'s mut Scratch) -> Self {
        scratch.cells.clear();
        scratch.store.clear();
        if KEEP {
            scratch.cells.reserve(scratch.last.0);
            scratch.store.reserve(scratch.last.1);
        }
        Walk {
            cells: &mut scratch.cells,
            store: &mut scratch.store,
            nulls: 0,
            version: None,
            meter_type: None,
            list2: false,
            value: Data::Null,
        }
    }

    /// Adds a field with the next value of `r` (whether it was kept). A clock sent as an octet
    /// string becomes a date-time. (Unit and scaler follow from the code and brand when read,
    /// unless the frame gives them.)
    fn push(&mut self, obis: Option<Obis>, r: &mut Reader<'_>) -> Result<bool, DecodeError> {
        if !KEEP {
            r.scalar_into(&mut self.value)?;
            return Ok(false);
        }
        let at = self.cells.len();
        if let Some(code) = obis {
            self.note_code(code, at);
        }
        // The strings and numbers push lists are made of, read by their pattern; the rest the
        // general way.
        let (kind, value) = match *r.rest() {
            [
                t @ (tag::VISIBLE_STRING | tag::OCTET_STRING),
                n,
                ref after @ ..,
            ] if n < 0x80 && usize::from(n) <= after.len() => {
                let kind = if t == tag::VISIBLE_STRING {
                    Kind::VisibleString
                } else {
                    Kind::OctetString
                };
                let cell = Cell::stored(kind, &after[..usize::from(n)], self.store);
                r.skip(2 + usize::from(n));
                (kind, cell.value)
            }
            ref rest => match plain_number(rest) {
                Some((kind, bits, len)) => {
                    r.skip(len);
                    (kind, bits)
                }
                None => {
                    r.scalar_into(&mut self.value)?;
                    let cell = Cell::of(&self.value, self.store);
                    (cell.kind, cell.value)
                }
            },
        };
        // Made whole here and pushed: a cell made and then changed before its copy into the
        // vector stalls the copy.
        let cell = match obis {
            Some(code) => Cell {
                value,
                unit: None,
                code,
                kind: Cell::clock_kind(kind, value, code),
                flags: Cell::SENT,
                scaler: 0,
            },
            None => Cell::new(kind, value),
        };
        if self.version.is_none()
            && obis.is_none_or(|o| o.is_list_version())
            && matches!(cell.kind, Kind::VisibleString | Kind::OctetString)
        {
            self.version = Some(at);
        }
        self.cells.push(cell);
        Ok(true)
    }

    /// A coded number (of `kind`, its bits `bits`), as [`Walk::push`] adds it.
    #[inline(always)]
    fn push_number(&mut self, code: Obis, kind: Kind, bits: u64) {
        let at = self.cells.len();
        self.note_code(code, at);
        self.cells.push(Cell {
            value: bits,
            unit: None,
            code,
            kind,
            flags: Cell::SENT,
            scaler: 0,
        });
    }

    /// What a field's code tells of the list (the field at `at`): where the meter type is, and
    /// whether an energy register or the clock makes it a list 2.
    #[inline(always)]
    fn note_code(&mut self, code: Obis, at: usize) {
        if code.is_meter_type() && self.meter_type.is_none() {
            self.meter_type = Some(at);
        }
        self.list2 |= code.is_energy() || code.is_clock();
    }

    /// The `{scaler, unit}` structure Aidon sends after a coded value (one of the `left` elements
    /// of the structure being walked), read into the field at `at` (when kept).
    #[inline(always)]
    fn scaler_unit_after(&mut self, r: &mut Reader<'_>, left: &mut usize, at: Option<usize>) {
        if *left > 0
            && let Some([tag::STRUCTURE, 2, tag::INTEGER, scaler, tag::ENUM, unit]) =
                r.peek_n::<6>()
        {
            r.skip(6);
            *left -= 1;
            if let Some(at) = at {
                let cell = &mut self.cells[at];
                cell.give(
                    Some(scaler as i8),
                    unit_symbol(unit).filter(|u| !u.is_empty()),
                );
                cell.flags |= Cell::SCALER_IN_FRAME;
            }
        }
    }

    /// Walks one element: structures and arrays are entered; `OBIS, value` pairs (with an
    /// optional `{scaler, unit}` structure after them, as Aidon sends) become fields with their
    /// code; `00` null-data are counted as placeholders; any other value becomes a field without
    /// code.
    fn element(&mut self, r: &mut Reader<'_>, depth: usize) -> Result<(), DecodeError> {
        match r.peek() {
            Some(tag::STRUCTURE | tag::ARRAY) => {}
            Some(tag::NULL) => {
                r.u8()?;
                self.nulls += 1;
                return Ok(());
            }
            _ => {
                self.push(None, r)?;
                return Ok(());
            }
        }
        if depth >= MAX_DEPTH {
            return Err(r.error("structures nested too deep"));
        }
        let at = r.position();
        r.u8()?;
        let mut left = r.length()?;
        if left > r.remaining() {
            r.rewind_to(at);
            return Err(r.error(format!(
                "{left} elements cannot fit in {} bytes",
                r.remaining()
            )));
        }
        while left > 0 {
            left -= 1;
            match r.peek() {
                Some(tag::STRUCTURE | tag::ARRAY) => self.element(r, depth + 1)?,
                Some(tag::NULL) => {
                    r.u8()?;
                    self.nulls += 1;
                }
                // The common case first (Kamstrup's powers, currents, voltages, energies): a
                // code and a plain number, read by one pattern, the field written whole.
                Some(tag::OCTET_STRING)
                    if left > 0
                        && let Some((obis, kind, bits, len)) = coded_number(r.rest()) =>
                {
                    r.skip(len);
                    left -= 1;
                    let at = self.cells.len();
                    if KEEP {
                        self.push_number(obis, kind, bits);
                    }
                    self.scaler_unit_after(r, &mut left, KEEP.then_some(at));
                }
                Some(tag::OCTET_STRING)
                    if left > 0
                        && let Some(obis) = obis_before_value(r) =>
                {
                    r.skip(8);
                    left -= 1;
                    let at = self.cells.len();
                    let kept = self.push(Some(obis), r)?;
                    self.scaler_unit_after(r, &mut left, kept.then_some(at));
                }
                _ => {
                    self.push(None, r)?;
                }
            }
        }
        Ok(())
    }
}

/// The plain number at the start of `value` (double-long(-unsigned), long(-unsigned): what push
/// lists send their readings as): its kind, its bits as a cell keeps them, and the bytes it
/// takes; other values go the general way.
#[inline(always)]
fn plain_number(value: &[u8]) -> Option<(Kind, u64, usize)> {
    match *value {
        [tag::DOUBLE_LONG_UNSIGNED, a, b, c, d, ..] => Some((
            Kind::DoubleLongUnsigned,
            u32::from_be_bytes([a, b, c, d]).into(),
            5,
        )),
        [tag::LONG_UNSIGNED, a, b, ..] => {
            Some((Kind::LongUnsigned, u16::from_be_bytes([a, b]).into(), 3))
        }
        [tag::DOUBLE_LONG, a, b, c, d, ..] => Some((
            Kind::DoubleLong,
            i64::from(i32::from_be_bytes([a, b, c, d])) as u64,
            5,
        )),
        [tag::LONG, a, b, ..] => {
            Some((Kind::Long, i64::from(i16::from_be_bytes([a, b])) as u64, 3))
        }
        _ => None,
    }
}

/// An `09 06 <obis>` code and the plain number after it, with the bytes both take: the common
/// case (Kamstrup's powers, currents, voltages, energies), read by one pattern.
#[inline(always)]
fn coded_number(rest: &[u8]) -> Option<(Obis, Kind, u64, usize)> {
    let [tag::OCTET_STRING, 6, a, b, c, d, e, f, ref value @ ..] = *rest else {
        return None;
    };
    let (kind, bits, len) = plain_number(value)?;
    Some((Obis([a, b, c, d, e, f]), kind, bits, 8 + len))
}

/// The OBIS code of an `09 06 <obis>` pair whose value is plain (not another code, not a
/// structure), at the reader's position.
#[inline]
fn obis_before_value(r: &Reader<'_>) -> Option<Obis> {
    match *r.rest() {
        [
            tag::OCTET_STRING,
            6,
            a,
            b,
            c,
            d,
            e,
            f,
            value,
            ref after @ ..,
        ] if value != tag::STRUCTURE
            && value != tag::ARRAY
            && !(value == tag::OCTET_STRING && after.first() == Some(&6)) =>
        {
            Some(Obis([a, b, c, d, e, f]))
        }
        _ => None,
    }
}

/// The brand named by the COSEM logical device name, when the list carries one: sent with its code
/// 0.0.42.0.0.255, or as the first value without code (Landis+Gyr and Iskra pushes open with it).
/// A logical device name is 16 characters, the first three the FLAG manufacturer id
/// (IEC 62056-6-2); a string sent without code is taken for one only if it has that shape.
fn brand_by_device_name(cells: &mut [Cell], store: &[u8]) -> Brand {
    const DEVICE_NAME: Obis = Obis::new(0, 0, 42, 0, 0, 255);
    let looks_like_name = |t: &str| {
        t.len() == 16
            && t.bytes().take(3).all(|b| b.is_ascii_alphabetic())
            && t.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let text = |c: &Cell| c.string(store).and_then(|b| std::str::from_utf8(b).ok());
    if let Some(c) = cells
        .iter()
        .find(|c| c.sent() && c.code.cde() == DEVICE_NAME.cde())
    {
        return text(c).map_or(Brand::Unknown, Brand::from_flag_id);
    }
    let Some(first) = cells.first_mut().filter(|c| !c.sent()) else {
        return Brand::Unknown;
    };
    let brand = text(first)
        .filter(|t| looks_like_name(t))
        .map_or(Brand::Unknown, Brand::from_flag_id);
    if brand != Brand::Unknown {
        first.infer(DEVICE_NAME);
    }
    brand
}

/// Kaifa lists carry no OBIS codes; their documented layouts are known by length.
fn infer_kaifa_layout(cells: &mut [Cell]) {
    const VERSION: Obis = Obis::new(1, 1, 0, 2, 129, 255);
    const ID: Obis = Obis::new(0, 0, 96, 1, 0, 255);
    const TYPE: Obis = Obis::new(0, 0, 96, 1, 7, 255);
    const CLOCK: Obis = Obis::new(0, 0, 1, 0, 0, 255);
    let e = |c| Obis::new(1, 0, c, 7, 0, 255);
    let energy = |c| Obis::new(1, 0, c, 8, 0, 255);
    let mut layout = vec![VERSION, ID, TYPE, e(1), e(2), e(3), e(4)];
    match cells.len() {
        9 | 14 => layout.extend([e(31), e(32)]),
        13 | 18 => layout.extend([e(31), e(51), e(71), e(32), e(52), e(72)]),
        _ => return,
    }
    // The hourly lists (14 and 18 values) add the clock and the energy registers.
    if matches!(cells.len(), 14 | 18) {
        layout.extend([CLOCK, energy(1), energy(2), energy(3), energy(4)]);
    }
    for (c, code) in cells.iter_mut().zip(layout) {
        c.infer(code);
    }
}

/// How a 1-phase Kamstrup meter leaves out L2 and L3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingPhases {
    /// `00 00` null-data in place of each missing OBIS/value pair (meters in the field).
    NullPlaceholders,
    /// The pairs are left out (the interface description's example 3).
    Omitted,
}

/// The typed content of a Kamstrup HAN-NVE list, for the simulated meter and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct KamstrupList {
    pub meter_id: String,
    pub meter_type: String,
    /// Trigger time in the notification header (and the RTC of list 2).
    pub time: DateTime,
    /// P14, P23 in W; Q12, Q34 in var.
    pub power: [u32; 4],
    /// IL1..IL3 raw (0.01 A, 0.001 A on CT meters); `None` for a phase the meter does not have.
    pub currents: [Option<u32>; 3],
    /// UL1..UL3 in V.
    pub voltages: [Option<u16>; 3],
    pub missing_phases: MissingPhases,
    /// A14, A23, R12, R34 raw: present makes this list 2.
    pub energies: Option<[u32; 4]>,
}

/// The Kamstrup addresses: client 21 (0x2B), server 16 (0x21), UI frame with P/F (0x13).
pub const KAMSTRUP_DEST: u8 = 0x2B;
pub const KAMSTRUP_SRC: u8 = 0x21;
pub const KAMSTRUP_CONTROL: u8 = 0x13;

impl KamstrupList {
    fn obis(c: u8, d: u8, e: u8) -> Data {
        Data::OctetString(super::axdr::Bytes::from_slice(&[1, 1, c, d, e, 255]))
    }

    /// The A-XDR body: version string, then OBIS/value pairs.
    pub fn body(&self) -> Data {
        use super::axdr::Bytes;
        let mut items = vec![
            Data::VisibleString(Bytes::from_slice(b"Kamstrup_V0001")),
            Self::obis(0, 0, 5),
            Data::VisibleString(Bytes::from_slice(self.meter_id.as_bytes())),
            Self::obis(96, 1, 1),
            Data::VisibleString(Bytes::from_slice(self.meter_type.as_bytes())),
        ];
        for (c, v) in (1..=4).zip(self.power) {
            items.push(Self::obis(c, 7, 0));
            items.push(Data::DoubleLongUnsigned(v));
        }
        let phase = |items: &mut Vec<Data>, c: u8, value: Option<Data>| match value {
            Some(v) => {
                items.push(Self::obis(c, 7, 0));
                items.push(v);
            }
            None if self.missing_phases == MissingPhases::NullPlaceholders => {
                items.extend([Data::Null, Data::Null]);
            }
            None => {}
        };
        for (c, i) in [31, 51, 71].into_iter().zip(self.currents) {
            phase(&mut items, c, i.map(Data::DoubleLongUnsigned));
        }
        for (c, u) in [32, 52, 72].into_iter().zip(self.voltages) {
            phase(&mut items, c, u.map(Data::LongUnsigned));
        }
        if let Some(energies) = self.energies {
            items.push(Data::OctetString(Bytes::from_slice(&[0, 1, 1, 0, 0, 255])));
            items.push(Data::OctetString(Bytes::from_slice(&self.time.raw)));
            for (c, v) in (1..=4).zip(energies) {
                items.push(Self::obis(c, 8, 0));
                items.push(Data::DoubleLongUnsigned(v));
            }
        }
        Data::Structure(items)
    }

    /// A complete HDLC frame with valid HCS and FCS, as the meter sends it.
    pub fn encode_frame(&self, out: &mut Vec<u8>) -> Result<(), super::hdlc::EncodeError> {
        let mut info = vec![0xE6, 0xE7, 0x00];
        super::dlms::encode_data_notification(
            &DataNotification {
                invoke_id: 0,
                time: HeaderTime::Octet(self.time),
                body: self.body(),
            },
            &mut info,
        );
        super::hdlc::encode(
            &[KAMSTRUP_DEST],
            &[KAMSTRUP_SRC],
            KAMSTRUP_CONTROL,
            &info,
            false,
            out,
        )
    }
}

/// A stream of `frames` Kamstrup pushes as a meter sends them: list 1 every 10 s with values that
/// vary from frame to frame, list 2 on the hour. For benchmarks and tests.
pub fn sample_stream(frames: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames * 240);
    let mut energy = 12_345_678u32;
    for i in 0..frames {
        let secs = i as u32 * 10;
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        let wobble = (i as u32).wrapping_mul(2_654_435_761) >> 24;
        energy = energy.wrapping_add(1 + wobble / 64);
        let list = KamstrupList {
            meter_id: "5706567326590407".into(),
            meter_type: "6841138BN245101090".into(),
            time: DateTime::new(2024, 5, 1, h as u8, m as u8, s as u8, 0),
            power: [800 + wobble, 0, 100 + wobble / 4, 170],
            currents: [Some(237 + wobble), Some(89), Some(75 + wobble / 2)],
            voltages: [Some(230 + (wobble % 8) as u16), Some(233), Some(236)],
            missing_phases: MissingPhases::NullPlaceholders,
            energies: (m == 0 && s == 0).then_some([energy, 0, energy / 9, energy / 7]),
        };
        list.encode_frame(&mut out).expect("list fits a frame");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_reproduces_a_real_frame() {
        let real = super::super::hex_bytes(include_str!(
            "../../tests/fixtures/han/kamstrup-no-list1-3p-2022.hex"
        ));
        let list = KamstrupList {
            meter_id: "5706567326590407".into(),
            meter_type: "6841138BN245101090".into(),
            time: DateTime {
                raw: [
                    0x07, 0xE6, 0x01, 0x18, 0x01, 0x12, 0x3A, 0x32, 0xFF, 0x80, 0x00, 0x00,
                ],
            },
            power: [826, 0, 104, 176],
            currents: [Some(237), Some(89), Some(75)],
            voltages: [Some(232), Some(233), Some(236)],
            missing_phases: MissingPhases::NullPlaceholders,
            energies: None,
        };
        let mut out = Vec::new();
        list.encode_frame(&mut out).unwrap();
        assert_eq!(out, real);
    }

    #[test]
    fn encoder_reproduces_one_phase_nulls_list2() {
        let real = super::super::hex_bytes(include_str!(
            "../../tests/fixtures/han/kamstrup-list2-1p-nulls.hex"
        ));
        let list = KamstrupList {
            meter_id: "5706567271533207".into(),
            meter_type: "6861111BN242101040".into(),
            time: DateTime::new(2022, 2, 5, 13, 0, 25, 0),
            power: [619, 0, 84, 0],
            currents: [Some(293), None, None],
            voltages: [Some(225), None, None],
            missing_phases: MissingPhases::NullPlaceholders,
            energies: Some([1232787, 0, 36046, 386308]),
        };
        let mut out = Vec::new();
        list.encode_frame(&mut out).unwrap();
        assert_eq!(out, real);
    }

    #[test]
    fn powers_of_ten_are_those_powi_gives() {
        for n in -40..=40 {
            assert_eq!(pow10(n).to_bits(), 10f64.powi(n).to_bits(), "10^{n}");
        }
    }

    #[test]
    fn meter_kind_from_received_bytes_is_the_kind_of_their_text() {
        for t in [
            &b"6841138BN245101090"[..],
            b"6851131BN243101040",
            b"686",
            b"68",
            b"",
            b"abc",
            "685\u{e9}".as_bytes(),
            b"684\xff\xfe",
        ] {
            let by_text = std::str::from_utf8(t).map_or(MeterKind::Unknown, MeterKind::from_type);
            assert_eq!(MeterKind::from_type_bytes(t), by_text, "{t:?}");
        }
        assert_eq!(
            MeterKind::from_type_bytes(b"684\xff"),
            MeterKind::Unknown,
            "not text: no kind"
        );
    }

    /// A value of one of the types the walk reads: numbers it reads by its short pattern, and
    /// others it reads the general way.
    fn arb_value() -> impl proptest::strategy::Strategy<Value = Data> {
        use proptest::prelude::*;
        prop_oneof![
            any::<u32>().prop_map(Data::DoubleLongUnsigned),
            any::<u16>().prop_map(Data::LongUnsigned),
            any::<i32>().prop_map(Data::DoubleLong),
            any::<i16>().prop_map(Data::Long),
            any::<u8>().prop_map(Data::Unsigned),
            prop::sample::select(vec![
                "6841138BN245101090",
                "685",
                "x",
                "a type number too long to keep inline"
            ])
            .prop_map(|t| {
                Data::VisibleString(super::super::axdr::Bytes::from_slice(t.as_bytes()))
            }),
            // A date-time as Kamstrup's list 2 sends its clock: a 12-byte octet string.
            proptest::prelude::any::<[u8; 12]>()
                .prop_map(|raw| Data::OctetString(super::super::axdr::Bytes::from_slice(&raw))),
        ]
    }

    proptest::proptest! {
        /// Coded values of every type, with and without Aidon's `{scaler, unit}` after them,
        /// whichever way the walk reads them: each field has its code, the value sent, the unit
        /// and scaler its code or the frame gives; the meter type and list kind follow the codes.
        #[test]
        fn coded_values_keep_code_value_unit_and_scaler(
            pairs in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        Obis::new(1, 0, 1, 7, 0, 255),
                        Obis::new(1, 0, 31, 7, 0, 255),
                        Obis::new(1, 0, 32, 7, 0, 255),
                        Obis::new(1, 1, 1, 8, 0, 255),
                        Obis::new(0, 0, 1, 0, 0, 255),
                        Obis::new(0, 0, 96, 1, 7, 255),
                        Obis::new(1, 1, 96, 1, 1, 255),
                        Obis::new(0, 0, 96, 1, 0, 255),
                    ]),
                    arb_value(),
                    proptest::option::of((proptest::prelude::any::<i8>(), 27u8..36)),
                ),
                1..12,
            )
        ) {
            let mut body = vec![tag::STRUCTURE];
            let elements: usize = pairs.iter().map(|p| if p.2.is_some() { 3 } else { 2 }).sum();
            super::super::axdr::encode_length(elements, &mut body);
            for (code, value, scaler_unit) in &pairs {
                body.extend_from_slice(&[tag::OCTET_STRING, 6]);
                body.extend_from_slice(&code.0);
                super::super::axdr::encode(value, &mut body);
                if let Some((scaler, unit)) = scaler_unit {
                    body.extend_from_slice(&[tag::STRUCTURE, 2, tag::INTEGER, *scaler as u8, tag::ENUM, *unit]);
                }
            }
            let notification = Notification { invoke_id: 0, time: HeaderTime::Absent, body: 0..body.len() };
            let m = map(&notification, &body, 0, &Scaling::default()).expect("a well-formed body");
            proptest::prop_assert_eq!(m.fields().len(), pairs.len());
            for (f, (code, value, scaler_unit)) in m.fields().iter().zip(&pairs) {
                proptest::prop_assert_eq!(f.obis, Some(*code));
                // A clock sent as a 12-byte octet string is its date-time.
                let value = match value {
                    Data::OctetString(b) if code.is_clock() && b.len() == 12 => {
                        &Data::DateTime(DateTime::from_slice(b).unwrap())
                    }
                    other => other,
                };
                proptest::prop_assert_eq!(&f.value, value);
                match scaler_unit {
                    Some((scaler, unit)) => {
                        proptest::prop_assert_eq!(f.scaler, Some(*scaler));
                        proptest::prop_assert_eq!(f.unit, unit_symbol(*unit).filter(|u| !u.is_empty()));
                        proptest::prop_assert!(f.scaler_in_frame);
                    }
                    None if value.is_numeric() => {
                        proptest::prop_assert_eq!(f.scaler, Some(0));
                        proptest::prop_assert_eq!(f.unit, code.default_unit());
                    }
                    None => {
                        proptest::prop_assert_eq!(f.scaler, None);
                        proptest::prop_assert_eq!(f.unit, None);
                    }
                }
            }
            // The message's look-ups say what its named fields say.
            let field = |pred: &dyn Fn(&Obis) -> bool| m.fields().iter().find(|f| f.code().is_some_and(|o| pred(&o)));
            proptest::prop_assert_eq!(m.meter_type(), field(&Obis::is_meter_type).and_then(Field::text));
            proptest::prop_assert_eq!(m.meter_id(), field(&Obis::is_meter_id).and_then(Field::text).map(str::to_string));
            for (c, d) in [(1, 7), (31, 7), (32, 7), (1, 8)] {
                let scaled = field(&|o| o.a() == 1 && o.c() == c && o.d() == d && o.e() == 0).and_then(Field::scaled);
                proptest::prop_assert_eq!(m.value(c, d).map(f64::to_bits), scaled.map(f64::to_bits));
            }
            proptest::prop_assert_eq!(m.clock(), match field(&Obis::is_clock).map(|f| &f.value) {
                Some(Data::DateTime(dt)) => Some(*dt),
                _ => None,
            });
            let meter_type = pairs.iter().find(|p| p.0.is_meter_type()).map(|p| &p.1);
            let kind = match meter_type {
                Some(Data::VisibleString(t)) => MeterKind::from_type(std::str::from_utf8(t).unwrap()),
                _ => MeterKind::Unknown,
            };
            proptest::prop_assert_eq!(m.meter_kind, kind);
            let list2 = pairs.iter().any(|p| p.0.is_energy() || p.0.is_clock());
            proptest::prop_assert_eq!(m.list, if list2 { ListKind::List2 } else { ListKind::List1 });
        }
    }
}
