//! Writes the project's capture corpus (`captures/` by default, or the folder given) from the
//! codec's own encoders with fixed seeds and clock: `cargo run --example gen_captures [DIR]`.

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "captures".to_owned());
    match kmsspec::capture::corpus::write_corpus(std::path::Path::new(&dir)) {
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
