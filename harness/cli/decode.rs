//! `kmsspec decode`: runs [`decode_capture`] on each file and renders the records as text
//! blocks, JSON Lines or a YAML list, with a progress bar on a terminal for large files.

use std::fs::File;
use std::io::{self, IsTerminal, Write};

use super::{DecodeArgs, DecodeFormat, EXIT_FAIL, EXIT_OK, EXIT_USAGE};
use crate::capture::decode::{decode_capture, DecodeConfig};
use crate::capture::records::{
    interface_text, interface_version_text, ndr_name, result_text, syntax_text, ExchangeRecord,
    Record,
};
use crate::capture::FlowConfig;
use crate::wire::rpc::TransferSyntaxKind;

/// Files at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 16 * 1024 * 1024;

/// Runs `decode`; returns the exit status (0 clean, 1 damage/errors/failed checks, 2 a file
/// that cannot be opened or is not a capture).
pub fn run(args: &DecodeArgs) -> i32 {
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
    for path in &args.captures {
        let name = path.display().to_string();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.flush();
                eprintln!("kmsspec: {name}: cannot open: {e}");
                status = status.max(EXIT_USAGE);
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
            }
        }
    }
    if let Err(e) = out.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("kmsspec: writing output: {e}");
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
        DecodeFormat::Text => text(w, r),
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

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), |x| x.to_string())
}

fn named(id: &str, name: &Option<&str>) -> String {
    match name {
        Some(n) => format!("{n} ({id})"),
        None => format!("unknown ({id})"),
    }
}

fn text_exchange<W: Write>(w: &mut W, x: &ExchangeRecord) -> io::Result<()> {
    writeln!(
        w,
        "exchange {} -> {} call {} ctx {} {}{} packets {}..{}",
        x.flow.client,
        x.flow.server,
        x.call_id,
        x.context_id,
        x.ndr.unwrap_or("?"),
        if x.ndr_guessed { " (guessed)" } else { "" },
        opt(&x.request_packet),
        opt(&x.response_packet)
    )?;
    match &x.request {
        Some(q) => {
            writeln!(
                w,
                "  request  v{} (base v{}) {}",
                q.protocol, q.base_protocol, q.workstation
            )?;
            writeln!(w, "    app  {}", named(&q.app_id, &q.app))?;
            writeln!(w, "    kms  {}", named(&q.kms_id, &q.kms))?;
            writeln!(w, "    sku  {}", named(&q.sku_id, &q.sku))?;
            writeln!(w, "    cmid {} (previous {})", q.cmid, q.previous_cmid)?;
            writeln!(
                w,
                "    time {} N {} status {} grace {} min vm {}",
                q.client_time, q.required_client_count, q.license_status, q.grace_minutes, q.vm
            )?;
        }
        None => writeln!(w, "  request  -")?,
    }
    if let Some(e) = &x.request_error {
        writeln!(w, "    error: {e}")?;
    }
    match &x.response {
        Some(r) => {
            writeln!(w, "  response v{} hresult {}", opt(&r.protocol), r.hresult)?;
            if r.epid.is_some() {
                writeln!(w, "    epid {} hwid {}", opt(&r.epid), opt(&r.hwid))?;
                writeln!(
                    w,
                    "    count {} activation {} min renewal {} min",
                    opt(&r.current_count),
                    opt(&r.activation_interval),
                    opt(&r.renewal_interval)
                )?;
                writeln!(w, "    cmid {} time {}", opt(&r.cmid), opt(&r.time))?;
            }
        }
        None => writeln!(w, "  response -")?,
    }
    if let Some(e) = &x.response_error {
        writeln!(w, "    error: {e}")?;
    }
    if !x.checks.is_empty() {
        let passed = x.checks.passed();
        writeln!(w, "  checks   {passed}/{} passed", x.checks.len())?;
    }
    for f in &x.failed {
        writeln!(
            w,
            "    FAIL {}: observed {}, expected {}",
            f.name, f.observed, f.expected
        )?;
    }
    Ok(())
}

fn text<W: Write>(w: &mut W, r: &Record) -> io::Result<()> {
    match r {
        Record::Exchange(x) => text_exchange(w, x),
        Record::Bind(b) => {
            writeln!(
                w,
                "{} {} -> {} call {} answer {}{}",
                b.pdu,
                b.flow.client,
                b.flow.server,
                b.call_id,
                b.answer,
                if b.kms { " [KMS]" } else { "" }
            )?;
            for c in &b.contexts {
                writeln!(
                    w,
                    "  ctx {} {} v{} proposed [{}] result {} ndr {}",
                    c.id,
                    interface_text(&c.interface),
                    interface_version_text(c.interface_version),
                    c.proposed
                        .iter()
                        .map(|k| syntax_text(TransferSyntaxKind::of(&k.uuid)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    opt(&c.result.map(result_text)),
                    c.syntax.map(ndr_name).unwrap_or("-")
                )?;
            }
            Ok(())
        }
        Record::Fault(f) => writeln!(
            w,
            "fault {} -> {} call {} status {} {} packet {}",
            f.flow.client,
            f.flow.server,
            f.call_id,
            f.status,
            f.status_name.unwrap_or(""),
            f.packet
        ),
        Record::Gap(g) => writeln!(
            w,
            "gap {} -> {} {} {} bytes missing at stream offset {} (packet {})",
            g.flow.client, g.flow.server, g.direction, g.missing, g.offset, g.packet
        ),
        Record::Error(e) => {
            write!(w, "ERROR [{}]", e.layer)?;
            if let Some(f) = &e.flow {
                write!(w, " {} -> {}", f.client, f.server)?;
            }
            if let Some(p) = e.packet {
                write!(w, " packet {p}")?;
            }
            if let Some(o) = e.file_offset {
                write!(w, " file byte {o}")?;
            }
            if let Some(o) = e.stream_offset {
                write!(w, " stream byte {o} {}", e.direction.unwrap_or(""))?;
            }
            writeln!(w, ": {}", e.message)
        }
        Record::Summary(s) => writeln!(
            w,
            "== {}: {} packets, {} flows ({} KMS), {} exchanges ({} answered), {} faults, {} failed checks, {} undecodable, {} gaps, {} errors{}",
            s.capture,
            s.packets,
            s.flows,
            s.kms_flows,
            s.exchanges,
            s.answered,
            s.faults,
            s.failed_checks,
            s.undecodable,
            s.gaps,
            s.errors,
            if s.damaged { ", DAMAGED" } else { "" }
        ),
    }
}
