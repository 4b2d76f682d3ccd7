//! The text form of decode records (`kmsspec decode --format text`): one block per record,
//! for humans. It lives here, below the command line, because `kmsspec serve`'s exchange log
//! and the wire transcripts of `kmsspec run` reports show exchanges in the same form.

use std::io::{self, Write};

use super::records::{
    interface_text, interface_version_text, ndr_name, result_text, syntax_text, ExchangeRecord,
    Record,
};
use crate::wire::rpc::TransferSyntaxKind;

/// One record as `kmsspec decode`'s text block (several lines, each ending in a newline).
pub fn record_text(r: &Record) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_record(&mut out, r);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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

/// Writes one record as `kmsspec decode`'s text block.
pub fn write_record<W: Write>(w: &mut W, r: &Record) -> io::Result<()> {
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
