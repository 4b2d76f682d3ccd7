//! Decode + full verification throughput of `decode_capture` on a ~100 MB in-memory pcap made
//! of many copies of real flows (the shared corpus when `KMSSPEC_SHARED` is set, else the
//! generated v4/v5/v6 flows): records built but not rendered (`decode_verify_100mb`), records
//! rendered as JSON lines like `kmsspec decode --format json` (`decode_verify_json_100mb`), and
//! read + reassembly alone as a baseline (`reassemble_only_100mb`).
//! Run: `KMSSPEC_SHARED=/work/shared cargo bench --bench decode`.

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use kmsspec::capture::corpus;
use kmsspec::capture::decode::{decode_capture, DecodeConfig};
use kmsspec::capture::records::Record;

fn main() {
    divan::main();
}

fn templates() -> Vec<Vec<corpus::Message>> {
    let mut t = Vec::new();
    if let Some(dir) = std::env::var_os("KMSSPEC_SHARED") {
        let caps = std::path::Path::new(&dir).join("captures");
        if let Ok(rd) = std::fs::read_dir(caps) {
            let mut files: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for p in files {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                let is_cap = name.ends_with(".pcap") || name.ends_with(".pcapng");
                if is_cap && !name.contains("malformed") {
                    if let Ok(b) = std::fs::read(&p) {
                        t.extend(corpus::conversations_of(&b));
                    }
                }
            }
        }
    }
    if t.is_empty() {
        t = corpus::generated_conversations();
    }
    t
}

fn big() -> Vec<u8> {
    let mut v = Vec::with_capacity(101 << 20);
    corpus::write_big_capture(&mut v, &templates(), 100 << 20).expect("build");
    v
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn decode_verify_100mb(b: Bencher) {
    let file = big();
    b.counter(BytesCount::new(file.len())).bench(|| {
        let mut exchanges = 0u64;
        let sum = decode_capture(
            black_box(&file[..]),
            "big",
            &DecodeConfig::default(),
            |r| {
                if let Record::Exchange(x) = r {
                    exchanges += u64::from(!x.checks.is_empty());
                }
            },
            |_| {},
        )
        .expect("decode");
        assert!(exchanges > 0 && sum.failed_checks == 0);
        black_box(exchanges)
    });
}

/// What `kmsspec decode --format json` does, minus the file reads: decode, verify, and render
/// every record as a JSON line into a reused buffer (`keep_raw` off, as the CLI).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn decode_verify_json_100mb(b: Bencher) {
    let file = big();
    let cfg = DecodeConfig {
        keep_raw: false,
        ..DecodeConfig::default()
    };
    b.counter(BytesCount::new(file.len())).bench(|| {
        let mut out = Vec::with_capacity(1 << 20);
        let mut json = kmsspec::capture::json::JsonWriter::default();
        let mut written = 0usize;
        let sum = decode_capture(
            black_box(&file[..]),
            "big",
            &cfg,
            |r| {
                json.write(&mut out, r);
                out.push(b'\n');
                if out.len() > (1 << 20) - 4096 {
                    written += black_box(&out).len();
                    out.clear();
                }
            },
            |_| {},
        )
        .expect("decode");
        assert!(sum.exchanges > 0 && sum.failed_checks == 0);
        black_box(written + out.len())
    });
}

/// Baseline: the same file through read + reassembly only (no DCE/RPC, no KMS).
#[divan::bench(sample_count = 5, sample_size = 1)]
fn reassemble_only_100mb(b: Bencher) {
    let file = big();
    b.counter(BytesCount::new(file.len())).bench(|| {
        let mut n = 0u64;
        kmsspec::capture::read_capture(
            black_box(&file[..]),
            kmsspec::capture::FlowConfig::default(),
            |_| n += 1,
        )
        .expect("read");
        black_box(n)
    });
}
