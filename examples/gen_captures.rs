//! Writes the project's capture corpus from the codec's own encoders with fixed seeds and
//! clock.
//!
//! * `cargo run --example gen_captures [DIR]`: the corpus (default `captures/`).
//! * `cargo run --release --example gen_captures -- --big MB OUT [TEMPLATE.pcap...]`: a large
//!   pcap of at least MB megabytes made of copies of the flows in the template captures (for
//!   example the shared corpus), or of generated v4/v5/v6 flows when none is given. For
//!   benchmarks; never commit these.

use kmsspec::capture::corpus;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--big") {
        let (Some(mb), Some(out)) = (args.get(1).and_then(|m| m.parse::<u64>().ok()), args.get(2))
        else {
            eprintln!("usage: gen_captures --big MB OUT [TEMPLATE.pcap...]");
            std::process::exit(2);
        };
        let mut templates = Vec::new();
        for t in &args[3..] {
            match std::fs::read(t) {
                Ok(b) => templates.extend(corpus::conversations_of(&b)),
                Err(e) => eprintln!("gen_captures: {t}: {e}"),
            }
        }
        if templates.is_empty() {
            templates = corpus::generated_conversations();
        }
        let result = std::fs::File::create(out).and_then(|f| {
            corpus::write_big_capture(std::io::BufWriter::new(f), &templates, mb << 20)
        });
        match result {
            Ok(n) => println!("{out}: {n} bytes from {} template flows", templates.len()),
            Err(e) => {
                eprintln!("gen_captures: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let dir = args
        .first()
        .cloned()
        .unwrap_or_else(|| "captures".to_owned());
    match corpus::write_corpus(std::path::Path::new(&dir)) {
        Ok(names) => {
            for n in names {
                println!("{dir}/{n}");
            }
        }
        Err(e) => {
            eprintln!("gen_captures: {e}");
            std::process::exit(1);
        }
    }
}
