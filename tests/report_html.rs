//! The HTML reports: every page is parsed with an HTML5 parser (no parse error, every link
//! target present, ids unique, nothing loaded from outside), the run page holds one case
//! block per case with its verdict and wire log, the matrix one row per case and one column
//! per run, hostile text is escaped, bad report files are typed errors, and the page of the
//! embedded run is snapshotted (times, ports and hex dumps redacted).

use assert_cmd::Command;
use kmsspec::host::HostFlaw;
use kmsspec::report::html::{matrix_page, run_page};
use kmsspec::report::{
    CaseReport, Finding, Level, ProfileEntry, RunReport, TargetHealth, Verdict, WireDir, WireEntry,
};
use kmsspec::suite::loader::LoadedCase;
use kmsspec::suite::names::load_default;
use kmsspec::suite::runner::{run_suite, RunOptions};
use kmsspec::target::{EmbeddedConfig, EmbeddedHost};
use scraper::{ElementRef, Html, Selector};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

fn kmsspec() -> Command {
    let mut c = Command::cargo_bin("kmsspec").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kmsspec-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A file in the test's folder holding `text`.
fn file(name: &str, text: &str) -> PathBuf {
    let p = tmp(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect()
}

/// Parses a page and checks what every page must satisfy; returns the document.
fn parse_page(page: &str) -> Html {
    let doc = Html::parse_document(page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    assert!(page.starts_with("<!DOCTYPE html>"));
    let mut ids = HashSet::new();
    for e in doc.select(&sel("[id]")) {
        let id = e.value().id().unwrap();
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
    }
    let mut links = 0;
    for a in doc.select(&sel("a[href]")) {
        let href = a.value().attr("href").unwrap();
        let target = href
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a link that leaves the page: {href}"));
        assert!(ids.contains(target), "link to missing #{target}");
        links += 1;
    }
    assert!(links > 0, "a page without links");
    // Nothing is fetched: no external resource of any kind.
    for bad in ["[src]", "link", "iframe", "object", "embed", "img", "base"] {
        assert_eq!(doc.select(&sel(bad)).count(), 0, "{bad} on the page");
    }
    assert!(!page.contains("url("), "a CSS url()");
    assert!(doc.select(&sel("script")).count() <= 1);
    doc
}

fn cases(filter: &[&str]) -> Vec<LoadedCase> {
    let all = load_default(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs")]).unwrap();
    all.into_iter()
        .filter(|c| filter.iter().any(|f| c.case.id.value.starts_with(f)))
        .collect()
}

fn run_on(flaw: Option<HostFlaw>, cases: &[LoadedCase], name: &str) -> RunReport {
    let cfg = match flaw {
        Some(f) => EmbeddedConfig::with_flaw(f),
        None => EmbeddedConfig::default(),
    };
    let host = EmbeddedHost::start(cfg).unwrap();
    let mut r = run_suite(&host, cases, &RunOptions::default());
    r.name = Some(name.into());
    r
}

/// The run page of the embedded host, from the command line: one case block per case with
/// the JSON's verdict, a wire log with hex and decoded forms, the summary counts.
#[test]
fn run_html_shows_every_case_with_its_verdict_findings_and_wire_log() {
    let html = tmp("run.html");
    let json = tmp("run.json");
    let out = kmsspec()
        .args([
            "run", "--quiet", "--only", "VER-*", "--only", "TIME-*", "--html",
        ])
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["name"], "embedded");
    let page = std::fs::read_to_string(&html).unwrap();
    let doc = parse_page(&page);
    let json_cases = report["cases"].as_array().unwrap();
    let blocks: Vec<ElementRef<'_>> = doc.select(&sel("details.case")).collect();
    assert_eq!(blocks.len(), json_cases.len());
    for (b, c) in blocks.iter().zip(json_cases) {
        let id = c["id"].as_str().unwrap();
        assert_eq!(b.value().id(), Some(format!("r0-{id}").as_str()));
        assert_eq!(b.value().attr("data-v"), c["verdict"].as_str(), "{id}");
        let badge = b.select(&sel("summary .v")).next().unwrap();
        assert_eq!(text(badge), c["verdict"].as_str().unwrap());
        let rule = text(b.select(&sel("summary .rule")).next().unwrap());
        assert!(rule.contains(c["rule"].as_str().unwrap()), "{rule}");
        assert!(rule.contains(c["source"].as_str().unwrap()), "{rule}");
        if c["verdict"] == "SKIP" {
            assert!(text(*b).contains(c["reason"].as_str().unwrap()));
            continue;
        }
        // Every PDU of the JSON wire log is on the page, sent and received, with its hex.
        let wire = c["wire"].as_array().unwrap();
        let pdus = wire.iter().filter(|w| w["dir"] != "event").count();
        assert!(pdus >= 2, "{id}");
        assert_eq!(
            b.select(&sel(".pdu.sent, .pdu.received")).count(),
            pdus,
            "{id}"
        );
        assert_eq!(b.select(&sel("pre.hex")).count(), pdus, "{id}");
        let decoded: String = b.select(&sel("pre.dec")).map(text).collect();
        assert!(decoded.contains("exchange 127.0.0.1:"), "{id}: {decoded}");
    }
    // The summary counts what the JSON counts.
    let chips: Vec<String> = doc.select(&sel("#summary .chips .v")).map(text).collect();
    let pass = report["summary"]["pass"].as_u64().unwrap();
    assert!(chips.contains(&format!("PASS {pass}")), "{chips:?}");
    let families: Vec<String> = doc.select(&sel("table.toc td a")).map(text).collect();
    assert_eq!(families, ["VER", "TIME"]);
    assert!(doc.select(&sel("#filters")).next().is_some());
}

/// The page of an embedded run, snapshotted (times, FILETIMEs, ports, durations and what the
/// time keys — HMACs, the hex dumps of encrypted messages — redacted).
#[test]
fn run_page_snapshot() {
    let report = run_on(
        None,
        &cases(&[
            "VER-V6-1",
            "VER-INNER-1",
            "TIME-STRICT-5H",
            "ROB-LEN-EMPTY-1",
        ]),
        "embedded",
    );
    let page = run_page(&report);
    parse_page(&page);
    insta::with_settings!({
        filters => vec![
            (r"(?s)<pre class=.hex.>.*?</pre>", "<pre class=\"hex\">[hex]</pre>"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
            (r"\b1\d{17}\b", "[filetime]"),
            (r"[0-9a-f]{32} \(slot", "[hmac] (slot"),
            (r" · \d+ ms</p>", " · [n] ms</p>"),
            (r"<th>Duration</th><td>[0-9.]+ s</td>", "<th>Duration</th><td>[s]</td>"),
        ],
        omit_expression => true,
    }, {
        insta::assert_snapshot!("run_page_embedded", page);
    });
}

/// Three runs (the reference host and two mutants) as a matrix from `kmsspec report`: one
/// row per case, one column per run, each cell the run's verdict linking to that run's case.
#[test]
fn report_renders_a_matrix_of_targets_and_cases() {
    let subset = cases(&["RESP-ECHO-", "RESP-V6-", "VER-V6-1", "RPC-BIND-"]);
    let mut runs = [
        run_on(None, &subset, "reference"),
        run_on(Some(HostFlaw::WrongCmidEcho), &subset, "wrong-cmid-echo"),
        run_on(Some(HostFlaw::HmacWrongSlot), &subset, "hmac-wrong-slot"),
    ];
    // A case the third run does not have shows as a missing cell.
    let dropped = runs[2].cases.remove(0).id;
    let files: Vec<PathBuf> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = tmp(&format!("m{i}.json"));
            std::fs::write(&p, kmsspec::report::to_json(r)).unwrap();
            p
        })
        .collect();
    let html = tmp("matrix.html");
    let out = kmsspec()
        .args(["report", "--html"])
        .arg(&html)
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    let doc = parse_page(&page);
    let heads: Vec<String> = doc.select(&sel("table.matrix th.run")).map(text).collect();
    assert_eq!(heads, ["reference", "wrong-cmid-echo", "hmac-wrong-slot"]);
    let rows: Vec<ElementRef<'_>> = doc.select(&sel("table.matrix tr.flt")).collect();
    assert_eq!(rows.len(), subset.len());
    let mut details: HashMap<String, ElementRef<'_>> = HashMap::new();
    for d in doc.select(&sel("details.case")) {
        details.insert(d.value().id().unwrap().to_string(), d);
    }
    assert_eq!(details.len(), 3 * subset.len() - 1);
    let mut differ = 0;
    for (row, case) in rows.iter().zip(&subset) {
        let id = &case.case.id.value;
        assert_eq!(text(row.select(&sel("td.id")).next().unwrap()), *id);
        let cells: Vec<ElementRef<'_>> = row.select(&sel("td.cell")).collect();
        assert_eq!(cells.len(), 3, "{id}");
        let mut labels = Vec::new();
        for (j, cell) in cells.iter().enumerate() {
            let Some(a) = cell.select(&sel("a")).next() else {
                assert!(j == 2 && *id == dropped, "{id} missing in run {j}");
                assert_eq!(text(*cell), "—");
                labels.push("NONE".to_string());
                continue;
            };
            let target = &a.value().attr("href").unwrap()[1..];
            assert_eq!(target, format!("r{}-{id}", j + 1));
            let d = details[target];
            assert_eq!(d.value().attr("data-v").unwrap(), text(a), "{id} run {j}");
            let want = runs[j].cases.iter().find(|c| c.id == *id).unwrap().verdict;
            assert_eq!(text(a), want.as_str(), "{id} run {j}");
            labels.push(text(a));
        }
        let d = labels.iter().any(|l| *l != labels[0]);
        assert_eq!(
            row.value().attr("data-diff"),
            Some(if d { "1" } else { "0" })
        );
        differ += usize::from(d);
    }
    // The mutants are caught: RESP-ECHO-CMID-1 and the three RESP-V6-HMAC cases differ (and
    // the case missing from the third run).
    assert!(differ >= 5, "{differ}");
    let fails = doc.select(&sel("table.matrix td.cell.v-fail")).count();
    assert!(fails >= 4, "{fails}");
    let names: Vec<String> = doc
        .select(&sel("table.runs td:nth-child(2)"))
        .map(text)
        .collect();
    assert_eq!(names, heads);
}

fn hostile_report() -> RunReport {
    let evil = "<script>alert(1)</script>";
    let case = CaseReport {
        id: "EVIL-1\"><u>x</u>".into(),
        family: "EV<x-evil>L".into(),
        title: format!("title {evil}"),
        rule: "rule & <marquee>".into(),
        source: "'src'".into(),
        level: Level::Must,
        verdict: Verdict::Fail,
        reason: Some(format!("observed {evil}")),
        findings: vec![Finding {
            step: 0,
            check: "kms.epid_syntax".into(),
            rule: Some("<r>".into()),
            level: Level::Must,
            passed: false,
            expected: "an ePID".into(),
            observed: evil.into(),
            side: false,
        }],
        transcript: vec![format!("<- response epid={evil}")],
        duration_ms: 1,
        expected_failure: None,
        self_check: false,
        wire: vec![WireEntry {
            conn: 1,
            dir: WireDir::Received,
            summary: evil.into(),
            hex: "3c7363726970743e".into(),
            decoded: vec![format!("epid {evil}\u{0}")],
        }],
    };
    let mut r = RunReport::new(
        format!("host {evil}"),
        "2026-01-01T00:00:00Z".into(),
        1,
        TargetHealth {
            alive_before: true,
            alive_after: true,
            sanity_failure: Some(evil.into()),
            died_after_case: None,
        },
        vec![case],
    );
    r.name = Some(format!("name {evil}"));
    r.host_profile = vec![ProfileEntry {
        check: "kms.epid_syntax".into(),
        rule: Some(format!("rule {evil}")),
        summary: format!("failed 1 of 1 times, observed {evil}"),
        seen_in: vec![r.cases[0].id.clone(), "NOT-IN-THIS-RUN".into()],
        owners: vec![format!("{} FAIL", r.cases[0].id)],
    }];
    r
}

/// Text from a report (a hostile host's ePID, case titles) never becomes markup.
#[test]
fn every_text_is_escaped_even_from_a_hostile_host() {
    let r = hostile_report();
    for page in [run_page(&r), matrix_page(&[r.clone(), r.clone()])] {
        let doc = parse_page(&page);
        let scripts: Vec<ElementRef<'_>> = doc.select(&sel("script")).collect();
        assert_eq!(scripts.len(), 1);
        assert!(text(scripts[0]).starts_with("\n(function(){"));
        for tag in ["u", "x-evil", "marquee", "r"] {
            assert_eq!(doc.select(&sel(tag)).count(), 0, "<{tag}> injected");
        }
        let observed: Vec<String> = doc.select(&sel("tr.missed td.val")).map(text).collect();
        assert!(
            observed.contains(&"<script>alert(1)</script>".to_string()),
            "{observed:?}"
        );
        assert!(text(doc.select(&sel("title")).next().unwrap()).contains("<script>"));
        let dec = text(doc.select(&sel("pre.dec")).next().unwrap());
        assert_eq!(dec, "epid <script>alert(1)</script>\u{FFFD}\n");
        // The host profile links the cases it names (a case not in the run stays text).
        let profile = doc.select(&sel("table.profile")).next().unwrap();
        assert_eq!(profile.select(&sel("a")).count(), 2);
        assert!(text(profile).contains("NOT-IN-THIS-RUN"));
        assert!(text(profile).contains("observed <script>"));
        let hex = text(doc.select(&sel("pre.hex")).next().unwrap());
        assert!(hex.ends_with("<script>\n"), "{hex}");
        assert!(!page.contains("<script>alert"));
        for d in doc.select(&sel("details.case")) {
            let id = d.value().id().unwrap();
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)),
                "{id}"
            );
        }
    }
}

fn report_fails(files: &[&Path]) -> String {
    let out = kmsspec()
        .args(["report", "--html"])
        .arg(tmp("never.html"))
        .args(files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!tmp("never.html").exists());
    String::from_utf8(out.stderr).unwrap()
}

/// A file that is not a run report is a typed error naming it (line and column for JSON),
/// exit 2, never a panic.
#[test]
fn bad_report_files_are_errors_with_their_location() {
    let bad = file(
        "bad.json",
        "{\n  \"schema\": \"kmsspec-report/1\",\n  \"cases\": [\n",
    );
    let err = report_fails(&[&bad]);
    assert!(err.contains("bad.json:4:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let wrong = file(
        "fuzz.json",
        "{\"format\": \"kmsspec-fuzz-report/1\", \"cases\": 3}",
    );
    let err = report_fails(&[&wrong]);
    assert!(err.contains("kmsspec-fuzz-report/1"), "{err}");
    let shape = file(
        "shape.json",
        "{\"schema\": \"kmsspec-report/1\", \"cases\": {}}",
    );
    let err = report_fails(&[&shape]);
    assert!(err.contains("shape.json:1:"), "{err}");
    let err = report_fails(&[Path::new("/nonexistent/run.json")]);
    assert!(err.contains("/nonexistent/run.json: cannot read"), "{err}");
    // A good report next to a bad one writes nothing either.
    let good = file("good.json", &kmsspec::report::to_json(&hostile_report()));
    report_fails(&[&good, &bad]);
    // The same command from the library, with typed options.
    let cmd = kmsspec::report::command::ReportCommand {
        reports: vec![good.clone()],
        html: tmp("lib.html"),
    };
    assert_eq!(kmsspec::report::command::command(&cmd), 0);
    parse_page(&std::fs::read_to_string(tmp("lib.html")).unwrap());
}

/// Runs `kmsspec ARGS --html FILE`; returns the exit status and the page.
fn page_of(args: &[&str], name: &str) -> (Option<i32>, String) {
    let html = tmp(name);
    let out = kmsspec()
        .args(args)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    (
        out.status.code(),
        std::fs::read_to_string(&html).unwrap_or_default(),
    )
}

/// `decode --html`: per capture its exchanges with their failed checks.
#[test]
fn decode_html_lists_exchanges_and_failed_checks() {
    let (code, page) = page_of(
        &[
            "decode",
            "captures/c01_v4_ndr32_3req.pcap",
            "captures/c13_v4_bad_cmid_echo.pcap",
        ],
        "decode.html",
    );
    assert_eq!(code, Some(1), "c13 has a failed check");
    let doc = parse_page(&page);
    let sections: Vec<ElementRef<'_>> = doc.select(&sel("section.capture")).collect();
    assert_eq!(sections.len(), 2);
    let rows = |s: &ElementRef<'_>| s.select(&sel("table.xchg tbody tr")).count();
    assert_eq!(rows(&sections[0]), 3);
    assert_eq!(sections[0].select(&sel("tr.missed")).count(), 0);
    assert_eq!(rows(&sections[1]), 1);
    let failed = text(sections[1].select(&sel("tr.missed td.val")).next().unwrap());
    assert!(failed.starts_with("cmid_echo: observed "), "{failed}");
}

/// `replay --html`: the judged capture as a run page, its failed exchange a FAIL case.
#[test]
fn replay_html_shows_the_failed_exchange() {
    let (code, page) = page_of(
        &["replay", "--quiet", "captures/c13_v4_bad_cmid_echo.pcap"],
        "replay.html",
    );
    assert_eq!(code, Some(1));
    let doc = parse_page(&page);
    let fails: Vec<ElementRef<'_>> = doc.select(&sel("details.case[data-v=FAIL]")).collect();
    assert_eq!(fails.len(), 1);
    let missed: String = fails[0].select(&sel("tr.missed")).map(text).collect();
    assert!(missed.contains("cmid_echo"), "{missed}");
}

/// Every command's `--help` has an example and its exit statuses.
#[test]
fn every_help_has_examples_and_exit_statuses() {
    for cmd in ["run", "list", "replay", "decode", "fuzz", "report", "serve"] {
        let out = kmsspec().args([cmd, "--help"]).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains(&format!("Examples:\n  kmsspec {cmd}")),
            "{cmd}: {help}"
        );
        assert!(help.contains("Exit status: 0"), "{cmd}: {help}");
    }
}
