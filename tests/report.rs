//! The commissioning report (`kamscope::app::report`): made from an app that played a recording
//! built here from Kamstrup lists, checked as text (what it holds, what it must never hold) and in
//! a headless Chromium (it prints on at most two A4 pages, the verdict and meter id read back
//! from the rendered page, no console error).

use chrono::{DateTime, Duration, FixedOffset, Utc};
use kamscope::app::App;
use kamscope::app::check::{self, CheckOptions, Verdict};
use kamscope::app::live::{ClockReference, Level};
use kamscope::app::report::{self, ReportInfo};
use kamscope::protocol::datetime::DateTime as CosemDateTime;
use kamscope::protocol::han::{KamstrupList, MissingPhases, Scaling};
use kamscope::protocol::iec_session::Verdict as ReadoutVerdict;
use kamscope::protocol::iec61107::{bcc_check, parse_data_block, parse_identification};
use kamscope::protocol::{Decoder, Protocols};
use kamscope::wire::{
    Chunk, Direction, HanEvent, Link, LinkState, OpticalEvent, Pipeline, ReadoutResult,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// Norway in winter: UTC+1, standard time (the meter keeps it too).
fn oslo() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap()
}

fn start() -> DateTime<Utc> {
    "2026-01-15T11:00:00Z".parse().unwrap()
}

/// A 4-wire 3-phase Kamstrup meter; the values of push `n` vary around 230 V and 2 kW.
fn push(meter_id: &str, n: i64, at: DateTime<Utc>) -> KamstrupList {
    // The meter keeps local standard time: the recording starts at 12:00:00 on its clock (and
    // stays within the day).
    let s = (at - start()).num_seconds();
    let swing = (n % 9) as u16; // 0..8
    KamstrupList {
        meter_id: meter_id.into(),
        meter_type: "6841131BN243101040".into(),
        time: CosemDateTime::new(
            2026,
            1,
            15,
            (12 + s / 3600) as u8,
            (s / 60 % 60) as u8,
            (s % 60) as u8,
            0,
        ),
        power: [1700 + 40 * u32::from(swing), 0, 0, 0],
        currents: [Some(300 + 4 * u32::from(swing)), Some(300), Some(300)],
        voltages: [Some(228 + swing), Some(231), Some(232)],
        missing_phases: MissingPhases::NullPlaceholders,
        energies: None,
    }
}

/// What was recorded: one HDLC frame per chunk.
struct Recorded {
    at: DateTime<Utc>,
    bytes: Vec<u8>,
}

/// `pushes` list 1 pushes 10 s apart (the 7th one with a damaged FCS), list 2 with the energy
/// registers after the 20th.
fn healthy_recording(meter_id: &str, pushes: i64) -> Vec<Recorded> {
    let mut out = Vec::new();
    for n in 0..pushes {
        let at = start() + Duration::seconds(10 * n) + Duration::milliseconds(300);
        let mut bytes = Vec::new();
        push(meter_id, n, at).encode_frame(&mut bytes).unwrap();
        if n == 6 {
            let i = bytes.len() - 3;
            bytes[i] ^= 0x55;
        }
        out.push(Recorded { at, bytes });
        if n == 19 {
            let at = at + Duration::seconds(5);
            let mut list2 = push(meter_id, n, at);
            list2.energies = Some([1_265_790, 12, 4_567, 89_012]);
            let mut bytes = Vec::new();
            list2.encode_frame(&mut bytes).unwrap();
            out.push(Recorded { at, bytes });
        }
    }
    out
}

/// An app that played `recording` through the HAN pipeline by its own times, as `kamscope check
/// --replay` does: the meter clock judged against the recording.
fn played(recording: &[Recorded]) -> App {
    let first = recording.first().map_or(start(), |r| r.at);
    let mut app = App::new(
        "recording site.jsonl".into(),
        Scaling::default(),
        None,
        first.with_timezone(&oslo()),
        3600,
    );
    app.live.clock_reference = ClockReference::Recording {
        first_chunk: first,
        started: first,
        speed: 1.0,
    };
    app.on_han(HanEvent::Link(LinkState::Connected));
    let mut pipeline = Pipeline::new(
        Link::Han,
        Protocols::HAN,
        Decoder::new(app.scaling, None),
        None,
    );
    for r in recording {
        app.tick(r.at.with_timezone(&oslo()));
        let chunk = Chunk {
            t: r.at,
            link: Link::Han,
            dir: Direction::Rx,
            bytes: r.bytes.clone(),
        };
        let (mut spans, _) = pipeline.records_of(&chunk);
        spans.extend(pipeline.flush_records(r.at));
        app.on_han(HanEvent::Bytes {
            at: r.at,
            count: r.bytes.len(),
        });
        for span in spans {
            app.on_han(HanEvent::Span(Box::new(span)));
        }
    }
    app.on_han(HanEvent::Link(LinkState::Ended));
    app
}

fn info() -> ReportInfo {
    ReportInfo {
        site: Some("Storgata 1, Oslo".into()),
        installer: Some("Kari Nordmann".into()),
        note: Some("new 63 A main fuse".into()),
        generated: "2026-01-15T12:30:00+01:00".parse().unwrap(),
        source: "recording site.jsonl".into(),
    }
}

/// The report of `app` with the default checks, and its verdict.
fn report_of(app: &App, info: &ReportInfo) -> (String, Vec<check::Check>, Verdict) {
    let checks = check::checks(app, CheckOptions::default());
    let verdict = check::verdict(app, &checks);
    (report::html(app, &checks, verdict, info), checks, verdict)
}

const METER_ID: &str = "5706567000000099";

/// An IEC 61107 readout of `block` (a data block from STX to BCC) finished at 12:05 local time
/// by a Kamstrup 351.
fn iec_readout(block: Vec<u8>) -> ReadoutResult {
    let n = block.len();
    ReadoutResult {
        port: "/dev/ttyUSB1 300 7E1".into(),
        started: start() + Duration::minutes(5),
        duration_ms: 11_900,
        ident: parse_identification(b"/KAM 685351A300100\r\n"),
        verdict: ReadoutVerdict::Complete {
            bcc: bcc_check(&block[1..n - 1], block[n - 1]),
        },
        block: parse_data_block(&block),
        raw_block: block,
        baud: 300,
        echo_seen: true,
    }
}

/// The seed document's readout of a Kamstrup 351 (1.8.0 12658 kWh, as list 2 says).
fn seed_readout() -> ReadoutResult {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/iec61107/kamstrup-351-seed-example.bin"
    ))
    .unwrap();
    iec_readout(bytes[20..].to_vec())
}

/// Ten minutes of a healthy site, and an optical readout of the meter.
fn healthy_app() -> App {
    let mut app = played(&healthy_recording(METER_ID, 60));
    app.on_optical(OpticalEvent::Done(Box::new(seed_readout())));
    app
}

fn healthy_report() -> (String, Vec<check::Check>, Verdict) {
    report_of(&healthy_app(), &info())
}

/// Nothing the page could fetch or run: no URL of any kind, no script.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for banned in [
        "http://", "https://", "src=", "<link", "@import", "url(", "<script", "href=",
    ] {
        assert!(!lower.contains(banned), "the report holds {banned}");
    }
}

/// Every element the report opens it closes (the ones it uses).
fn assert_balanced(html: &str) {
    for tag in [
        "html", "head", "body", "section", "table", "thead", "tbody", "tr", "svg", "figure", "p",
        "header", "footer", "div",
    ] {
        let opened =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let closed = html.matches(&format!("</{tag}>")).count();
        assert_eq!(opened, closed, "<{tag}> opened {opened}, closed {closed}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    for invented in ["NaN", "inf<", "-inf"] {
        assert!(!html.contains(invented), "the report holds {invented}");
    }
}

/// The row of the values table named `name`, its cells as text.
fn row(html: &str, name: &str) -> Vec<String> {
    let start = html
        .find(&format!("<tr><th>{name}</th>"))
        .unwrap_or_else(|| panic!("no row {name}"));
    let end = start + html[start..].find("</tr>").unwrap();
    html[start..end]
        .split("<td class=\"n\">")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_healthy_recording_gives_a_passing_report_with_everything() {
    let (html, checks, verdict) = healthy_report();
    assert_eq!(verdict, Verdict::Pass, "{checks:#?}");
    assert_self_contained(&html);
    assert_balanced(&html);
    assert!(html.contains("kamscope commissioning report"));
    assert!(html.contains(METER_ID));
    assert!(html.contains("6841131BN243101040"));
    assert!(html.contains("4-wire (from the type number)"));
    assert!(html.contains("✔ PASS") && html.contains("Verdict: <b>pass</b>"));
    assert!(html.contains("Storgata 1, Oslo") && html.contains("Kari Nordmann"));
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    assert!(html.contains("2026-01-15 12:30:00 UTC+01:00"));
    assert!(html.contains("meter clock matches the recording"), "{html}");
    for c in &checks {
        let cell = format!(
            "<td class=\"s-{}\">{}</td><td>{}</td>",
            c.status.name(),
            c.status.name(),
            c.id
        );
        assert!(html.contains(&cell), "check {} missing", c.id);
    }
    // The evidence judged: 1 bad frame of 61, said once.
    assert!(html.contains("<td>bad share 0.0164</td>"), "{html}");
    // Three charts, their legends and min/max ticks.
    assert_eq!(html.matches("<svg").count(), 3);
    for legend in [">L1</text>", ">L2</text>", ">L3</text>", ">import</text>"] {
        assert!(html.contains(legend), "legend {legend}");
    }
    assert!(html.contains(">236 V</text>") && html.contains(">228 V</text>"));
    assert!(html.contains("stroke-dasharray"));

    // 60 list 1 pushes and one list 2, one of them damaged: 60 with values.
    assert!(
        html.contains(
            "60 pushes with values, from 2026-01-15 12:00:00 to 2026-01-15 12:09:50 (9 min 50 s)"
        ),
        "{html}"
    );
    // L1 swings 228..236 V: min, mean, max, latest (push 59: 59 % 9 = 5).
    let u1 = row(&html, "U L1 (V)");
    assert_eq!(u1[0], "228.0");
    assert_eq!(u1[2], "236.0");
    assert_eq!(u1[3], "233.0");
    let mean: f64 = u1[1].parse().unwrap();
    assert!((231.0..233.0).contains(&mean), "{mean}");
    assert_eq!(row(&html, "I L3 (A)"), ["3.00", "3.00", "3.00", "3.00"]);
    assert_eq!(row(&html, "P export (W)")[0], "0");

    // List 2: A+ 1523325 x 10 Wh.
    assert!(html.contains("12657.90"), "{html}");
    assert!(html.contains("<td class=\"n\">1265790</td>"));
    // One frame failed its FCS.
    assert!(html.contains("<th class=\"n\">FCS bad</th>"));
    // The readout's registers, and A+ from HAN and the readout side by side.
    assert!(
        html.contains("IEC 61107 readout at 2026-01-15 12:05:11"),
        "{html}"
    );
    assert!(html.contains("<td class=\"t\">1.8.0</td>"));
    assert!(
        html.contains("<td class=\"n\">12658</td><td>kWh</td>"),
        "{html}"
    );
    assert!(html.contains("apart: agrees"), "{html}");
    // The event log, in the report's offset.
    assert!(html.contains("first good frame"));
    assert!(html.contains("12:00:00</td>"));
}

#[test]
fn a_meter_id_and_a_note_are_text_not_markup() {
    let evil = "<script>alert('x')</script>";
    let app = played(&healthy_recording(evil, 4));
    let info = ReportInfo {
        site: Some("\"quoted\" & <b>bold</b>".into()),
        note: Some("it's <i>fine</i>".into()),
        ..info()
    };
    let (html, _, _) = report_of(&app, &info);
    assert_self_contained(&html);
    assert_balanced(&html);
    assert!(!html.contains("<script") && !html.contains("<b>bold") && !html.contains("<i>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"));
    assert!(html.contains("it&#39;s &lt;i&gt;fine&lt;/i&gt;"));
}

#[test]
fn an_app_that_saw_nothing_gives_a_no_data_report() {
    let app = played(&[]);
    let (html, checks, verdict) = report_of(
        &app,
        &ReportInfo {
            site: None,
            installer: None,
            note: None,
            ..info()
        },
    );
    assert_eq!(verdict, Verdict::NoData);
    assert_self_contained(&html);
    assert_balanced(&html);
    assert!(html.contains("NO DATA") && html.contains("Verdict: <b>no-data</b>"));
    assert!(html.contains("no values to chart"));
    assert!(!html.contains("<svg"), "no empty chart boxes");
    assert!(html.contains(&format!("<td>{}</td>", checks[0].id)));
    assert!(html.contains("<tr><th>Meter id</th><td>—</td></tr>"));
    assert!(html.contains("<tr><th>Site</th><td>—</td></tr>"));
    assert!(html.contains("no energy registers came"));
}

#[test]
fn a_long_session_is_charted_with_at_most_600_points_a_line_and_keeps_a_spike() {
    // Ten hours at one push per 10 s; push 1234 jumps to 253 V on L1.
    let mut recording = healthy_recording(METER_ID, 3600);
    let mut spike = push(METER_ID, 1234, recording[1235].at);
    spike.voltages[0] = Some(253);
    recording[1235].bytes.clear();
    spike.encode_frame(&mut recording[1235].bytes).unwrap();
    let (html, _, verdict) = report_of(&played(&recording), &info());
    assert_eq!(verdict, Verdict::Pass);
    for path in html.split("<path d=\"").skip(1) {
        let d = path.split('"').next().unwrap();
        let points = d.matches(['M', 'L']).count();
        assert!(points <= 600, "{points} points in one line");
    }
    assert!(
        html.contains(">253 V</text>"),
        "the spike is the maximum tick"
    );
    assert_eq!(row(&html, "U L1 (V)")[2], "253.0");
}

/// The most a report shows: ten hours of pushes, a full event log, a readout of 70 registers.
fn crowded_app() -> App {
    let mut app = played(&healthy_recording(METER_ID, 3600));
    let mut block = b"\x02".to_vec();
    for i in 0..70 {
        block.extend(format!("1.8.{i}({:07}*kWh)\r\n", 1000 + i).bytes());
    }
    block.extend(b"!\r\n\x03");
    let bcc = block[1..].iter().fold(0, |a, b| a ^ b);
    block.push(bcc);
    app.on_optical(OpticalEvent::Done(Box::new(iec_readout(block))));
    for i in 0..150 {
        app.events.push(
            start() + Duration::seconds(i * 240),
            Level::Bad,
            format!(
                "bad frame: FCS failed, a burst of {i} frames in a row; noise on the line or a \
                 loose RJ45 plug on the HAN port"
            ),
        );
    }
    app
}

// --- The browser ---------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs Chromium headless with `args` and the page, killed after 60 s.
fn chromium(profile: &Path, args: &[&str], page: &Path) -> Output {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    // Read the pipes while waiting, so a full pipe cannot stall it.
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took more than 60 s: {args:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// What the page wrote to the console, uncaught exceptions included. The report runs no script,
/// so any line is a fault: Chromium logs `console.error` as `INFO:CONSOLE` lines too.
fn console_errors(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect()
}

#[test]
fn console_lines_are_caught() {
    // As Chromium 148 logs `console.error("boom")` and an uncaught exception.
    let log = b"[1:1:1204/143805.838700:INFO:CONSOLE:1] \"boom\", source: file:///r.html (1)\n\
        [1:1:1204/143805.838967:INFO:CONSOLE:1] \"Uncaught Error: bad\", source: file:///r.html (1)\n\
        [1:1:1204/143805.9:WARNING:gpu_init.cc(1)] no GPU\n";
    assert_eq!(console_errors(log).len(), 2);
}

/// The pages of a PDF: its page objects (`/Type /Page`, not `/Pages`), checked against the page
/// tree's `/Count` when it has one.
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let compact: String = text.replace("/Type /Page", "/Type/Page");
    let objects = compact
        .match_indices("/Type/Page")
        .filter(|(i, m)| !compact[i + m.len()..].starts_with('s'))
        .count();
    let count = compact
        .match_indices("/Count ")
        .filter_map(|(i, m)| {
            compact[i + m.len()..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max();
    if let Some(count) = count {
        assert_eq!(count, objects, "page tree and page objects disagree");
    }
    objects
}

/// Prints `page` to a PDF next to it; its pages. Chromium must succeed without a console error.
fn print_to_pdf(dir: &Path, page: &Path) -> usize {
    let pdf = page.with_extension("pdf");
    let printed = chromium(
        &dir.join("profile"),
        &[
            &format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer",
        ],
        page,
    );
    let log = String::from_utf8_lossy(&printed.stderr);
    assert!(printed.status.success(), "chromium failed: {log}");
    assert_eq!(console_errors(&printed.stderr), Vec::<String>::new());
    let bytes = std::fs::read(&pdf).unwrap_or_else(|e| panic!("no PDF ({e}): {log}"));
    assert!(bytes.starts_with(b"%PDF"));
    pdf_pages(&bytes)
}

#[test]
fn the_report_prints_on_two_a4_pages_at_most_in_a_headless_browser() {
    if !Path::new(CHROMIUM).exists() {
        if std::env::var("KAMSCOPE_NO_BROWSER").as_deref() == Ok("1") {
            eprintln!("skipped: {CHROMIUM} is missing and KAMSCOPE_NO_BROWSER=1");
            return;
        }
        panic!(
            "{CHROMIUM} is missing: install Debian's chromium package (.ci/run does), \
             or set KAMSCOPE_NO_BROWSER=1 to skip the browser test"
        );
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("kamscope-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (html, _, _) = healthy_report();
    // To look at it (and at the PDF) by hand.
    if let Some(out) = std::env::var_os("KAMSCOPE_REPORT_OUT") {
        std::fs::write(&out, &html).unwrap();
        let (crowded, _, _) = report_of(&crowded_app(), &info());
        std::fs::write(Path::new(&out).with_extension("crowded.html"), crowded).unwrap();
        let (empty, _, _) = report_of(&played(&[]), &info());
        std::fs::write(Path::new(&out).with_extension("empty.html"), empty).unwrap();
    }
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();

    let pages = print_to_pdf(&dir, &page);
    assert!((1..=2).contains(&pages), "{pages} pages");

    let dumped = chromium(&dir.join("profile"), &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dumped.stdout);
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    assert!(dom.contains(METER_ID), "{dom}");
    assert!(
        dom.contains("✔ PASS") && dom.contains("Verdict: <b>pass</b>"),
        "{dom}"
    );
    assert_eq!(console_errors(&dumped.stderr), Vec::<String>::new());

    // The most the report shows still prints on two pages.
    let (html, _, _) = report_of(&crowded_app(), &info());
    assert!(html.contains("Showing the newest 25 of"), "the log is cut");
    assert!(
        html.contains("The first 40 of 70 registers"),
        "the registers are cut"
    );
    let crowded = dir.join("crowded.html");
    std::fs::write(&crowded, &html).unwrap();
    let pages = print_to_pdf(&dir, &crowded);
    assert!(
        (1..=2).contains(&pages),
        "the crowded report takes {pages} pages"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_p1_telegram_shows_its_registers_in_its_own_units() {
    let hex = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/p1/p1-kamstrup-se-h1-3p.hex"
    ))
    .unwrap();
    let telegram = Recorded {
        at: "2025-06-12T12:15:31Z".parse().unwrap(),
        bytes: kamscope::wire::hex::parse(&hex).unwrap(),
    };
    let (html, _, _) = report_of(&played(&[telegram]), &info());
    assert_self_contained(&html);
    assert_balanced(&html);
    assert!(html.contains("KAM5 Kamstrup OMNIPOWER"), "{html}");
    assert!(
        html.contains("From the telegram, meter time 2025-06-12 14:15:30."),
        "{html}"
    );
    // 12345.678 kWh to the Wh, as the telegram sent it; kvarh likewise.
    assert!(
        html.contains("<td class=\"n\">12345.678</td><td>kWh</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"n\">345.678</td><td>kvarh</td>"),
        "{html}"
    );
    assert!(!html.contains("kkWh"));
    // The telegram's own resolution (004.1 A).
    assert_eq!(row(&html, "I L1 (A)")[0], "4.1");
    assert!(
        html.contains("1 push with values, from 2025-06-12 13:15:31 to 2025-06-12 13:15:31 (0 s)"),
        "{html}"
    );
}
