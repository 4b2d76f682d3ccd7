//! `kmsspec decode`: runs [`decode_capture`] on each file and renders the records as text
//! blocks, JSON Lines or a YAML list (and, with `--html`, a page per capture), with a
//! progress bar on a terminal for large files.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use super::{EXIT_FAIL, EXIT_OK, EXIT_USAGE};
use crate::capture::decode::{decode_capture, DecodeConfig};
use crate::capture::records::Record;
use crate::capture::FlowConfig;
use crate::report::html::{decode_page, CapturePage};

/// Files at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 16 * 1024 * 1024;

/// Most records of one capture put on the `--html` page (the totals still count them all).
pub const HTML_MAX_RECORDS: usize = 5_000;

/// Output format of `decode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecodeFormat {
    /// Human-readable blocks.
    #[default]
    Text,
    /// JSON Lines.
    Json,
    /// A YAML transcript.
    Yaml,
}

/// What `kmsspec decode` is asked to do (the command line fills it in `cli/`).
#[derive(Debug, Clone)]
pub struct DecodeCommand {
    /// Capture files (pcap or pcapng).
    pub captures: Vec<PathBuf>,
    /// Output format on stdout.
    pub format: DecodeFormat,
    /// Cap on buffered out-of-order bytes per connection.
    pub max_buffer: usize,
    /// No progress bar.
    pub quiet: bool,
    /// Print only what needs attention, and the summaries.
    pub problems_only: bool,
    /// Also write an HTML page of the captures here.
    pub html: Option<PathBuf>,
}

impl Default for DecodeCommand {
    /// Text output, the default 1 MiB buffer cap, every record.
    fn default() -> Self {
        DecodeCommand {
            captures: Vec::new(),
            format: DecodeFormat::Text,
            max_buffer: 1 << 20,
            quiet: false,
            problems_only: false,
            html: None,
        }
    }
}

/// Runs `decode`; returns the exit status (0 clean, 1 damage/errors/failed checks, 2 a file
/// that cannot be opened or is not a capture, or an output that cannot be written).
pub fn run(args: &DecodeCommand) -> i32 {
    let stdout = io::stdout();
    let mut out = OutBuf::new(stdout.lock());
    let mut status = EXIT_OK;
    let cfg = DecodeConfig {
        flow: FlowConfig {
            max_buffered: args.max_buffer,
            ..FlowConfig::default()
        },
        keep_raw: false,
        ..DecodeConfig::default()
    };
    let mut pages: Vec<CapturePage> = Vec::new();
    for path in &args.captures {
        let name = path.display().to_string();
        let mut page = CapturePage {
            name: name.clone(),
            ..CapturePage::default()
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.flush();
                eprintln!("kmsspec: {name}: cannot open: {e}");
                status = status.max(EXIT_USAGE);
                page.error = Some(format!("cannot open: {e}"));
                pages.push(page);
                continue;
            }
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = (!args.quiet && size >= PROGRESS_MIN_BYTES && io::stderr().is_terminal())
            .then(|| progress_bar(size));
        let mut write_err = None;
        // No BufReader: the capture reader already reads in large blocks into its own buffer,
        // and a second buffer only copied every byte once more.
        let result = decode_capture(
            file,
            &name,
            &cfg,
            |r| {
                let shown =
                    !args.problems_only || r.is_problem() || matches!(r, Record::Summary(_));
                if shown && args.html.is_some() {
                    match r {
                        Record::Summary(s) => page.summary = Some(s.clone()),
                        _ if page.records.len() < HTML_MAX_RECORDS => page.records.push(r.clone()),
                        _ => page.omitted += 1,
                    }
                }
                if shown && write_err.is_none() {
                    let written = match args.format {
                        // JSON lines go straight into the output buffer (no per-line copy).
                        DecodeFormat::Json => out.json_line(r),
                        _ => render(&mut out, args.format, r),
                    };
                    if let Err(e) = written {
                        write_err = Some(e);
                    }
                }
            },
            |off| {
                if let Some(b) = &bar {
                    b.set_position(off);
                }
            },
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(e) = write_err {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return status;
            }
            eprintln!("kmsspec: writing output: {e}");
            return EXIT_USAGE;
        }
        match result {
            Ok(sum) => {
                if !sum.clean() {
                    status = status.max(EXIT_FAIL);
                }
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("kmsspec: {name}: {e}");
                status = status.max(EXIT_USAGE);
                page.error = Some(e.to_string());
            }
        }
        if args.html.is_some() {
            pages.push(page);
        }
    }
    if let Err(e) = out.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("kmsspec: writing output: {e}");
            return EXIT_USAGE;
        }
    }
    if let Some(p) = &args.html {
        if let Err(e) = crate::report::write_html(p, &decode_page(&pages)) {
            eprintln!("kmsspec: {e}");
            return EXIT_USAGE;
        }
    }
    status
}

/// The output buffer of `decode`: records are written into it and it goes to `inner` in
/// blocks of at least [`OutBuf::BLOCK`] bytes.
struct OutBuf<W: Write> {
    buf: Vec<u8>,
    inner: W,
    json: crate::capture::json::JsonWriter,
}

impl<W: Write> OutBuf<W> {
    /// Bytes gathered before a write to the inner writer.
    const BLOCK: usize = 1 << 16;

    fn new(inner: W) -> Self {
        OutBuf {
            buf: Vec::with_capacity(2 * Self::BLOCK),
            inner,
            json: Default::default(),
        }
    }

    /// Appends one record as a JSON line.
    fn json_line(&mut self, r: &Record) -> io::Result<()> {
        self.json.write(&mut self.buf, r);
        self.buf.push(b'\n');
        self.drain_full()
    }

    fn drain_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= Self::BLOCK {
            let res = self.inner.write_all(&self.buf);
            self.buf.clear();
            res?;
        }
        Ok(())
    }
}

impl<W: Write> Write for OutBuf<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.drain_full()?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let res = self.inner.write_all(&self.buf);
        self.buf.clear();
        res?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for OutBuf<W> {
    /// Like `BufWriter`: what is still buffered is written (errors ignored) on early returns.
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.inner.write_all(&self.buf);
        }
    }
}

fn progress_bar(size: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(size),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {bar:40} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Writes one record in `format`.
pub fn render<W: Write>(w: &mut W, format: DecodeFormat, r: &Record) -> io::Result<()> {
    match format {
        DecodeFormat::Json => {
            thread_local! {
                static LINE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            LINE.with_borrow_mut(|line| {
                line.clear();
                crate::capture::json::write_record(line, r);
                line.push(b'\n');
                w.write_all(line)
            })
        }
        DecodeFormat::Yaml => w.write_all(yaml_item(r).as_bytes()),
        DecodeFormat::Text => crate::capture::text::write_record(w, r),
    }
}

/// One record as a YAML sequence item (`- kind: …`); concatenated items form the document.
pub fn yaml_item(r: &Record) -> String {
    serde_saphyr::to_string(&[r]).unwrap_or_else(|e| format!("- kind: error\n  message: {e:?}\n"))
}

/// A whole record list as one YAML document.
pub fn yaml_document(records: &[Record]) -> String {
    records.iter().map(yaml_item).collect()
}
