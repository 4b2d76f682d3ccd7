//! The inline style sheet and script of every HTML page (no external request: the pages
//! are opened from disk, mailed, attached to CI runs).

/// The style sheet: readable on a laptop screen, and in print (filters hidden, table headers
/// repeated, the problem cases opened by the script before printing with their findings and
/// transcripts; the wire logs and the checks that held stay on screen).
pub(crate) const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
header.top{padding:10px 20px;border-bottom:1px solid var(--line);background:var(--head)}
h1{font-size:20px;margin:0}
.sub{color:var(--muted);margin:2px 0 0}
main{padding:4px 20px 40px}
h2{font-size:17px;margin:22px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
h4{font-size:13px;margin:10px 0 4px}
a{color:#0550ae}
table{border-collapse:collapse}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
th{background:var(--head);font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:var(--mono);font-size:12px}
pre{margin:2px 0;white-space:pre-wrap;overflow-wrap:anywhere}
.facts th{width:9em}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0}
.v{display:inline-block;border-radius:4px;padding:1px 6px;font-weight:600;font-size:12px;white-space:nowrap}
.chips .v{padding:3px 9px;font-size:13px}
.v-total{background:#eaeef2}
.v-pass{background:#dafbe1;color:#116329}
.v-nonstrict{background:#fff1c2;color:#7d4e00}
.v-fail{background:#ffd8d3;color:#a40e26}
.v-xfail{background:#f1e5ff;color:#6639ba}
.v-info{background:#ddf4ff;color:#0550ae}
.v-skip{background:#eaeef2;color:#4b535d}
.v-none{color:#8c959f}
.warn{background:#fff8c5;border:1px solid #e6d48a;padding:6px 10px;border-radius:4px}
.warn.fail{background:#ffebe9;border-color:#ff8182}
.toc td.n{min-width:4.5em}
.filters{position:sticky;top:0;z-index:5;background:#fff;display:flex;flex-wrap:wrap;gap:6px 14px;align-items:center;padding:8px 0;border-bottom:1px solid var(--line)}
.filters[hidden]{display:none}
.filters label{white-space:nowrap}
.filters .v input{margin:0 2px 0 0;vertical-align:-2px}
.lbl{color:var(--muted)}
details.case{border:1px solid var(--line);border-left:5px solid #8c959f;border-radius:4px;margin:4px 0;background:#fff}
details.case.b-pass{border-left-color:#2da44e}
details.case.b-nonstrict{border-left-color:#d4a72c}
details.case.b-fail{border-left-color:#cf222e}
details.case.b-xfail{border-left-color:#8250df}
details.case.b-info{border-left-color:#218bff}
details.case>summary{cursor:pointer;padding:5px 10px;display:grid;grid-template-columns:7.5em minmax(10em,15em) 4.5em 1fr;gap:2px 10px;align-items:baseline}
details.case>summary>.v{text-align:center}
details.case[open]>summary{border-bottom:1px solid var(--line);background:var(--head)}
.cid{font-weight:600}
.lvl{color:var(--muted);font-size:12px}
.rule{grid-column:2/-1;color:var(--muted);font-size:12px}
.body{padding:4px 12px 10px}
.reason{margin:6px 0;padding:5px 8px;background:#fff5f3;border-left:3px solid #cf222e}
details.b-skip .reason,details.b-info .reason,details.b-pass .reason{background:#f6f8fa;border-left-color:#8c959f}
.meta{color:var(--muted);margin:4px 0}
table.findings{width:100%;table-layout:fixed;margin:4px 0}
table.findings th:nth-child(1){width:3.5em}
table.findings th:nth-child(2){width:17%}
table.findings th:nth-child(3){width:9%}
table.findings th:nth-child(4){width:5.5em}
table.findings td{overflow-wrap:anywhere}
table.findings td.val{font-family:var(--mono);font-size:12px}
tr.missed td{background:#fff5f3}
table.xchg{width:100%;margin:4px 0}
table.xchg td{overflow-wrap:anywhere}
table.xchg td:nth-child(1),table.xchg td:nth-child(2),table.xchg td:nth-child(5){white-space:nowrap}
table.xchg td:nth-child(3),table.xchg td:nth-child(4){width:27%}
table.xchg td.val{font-family:var(--mono);font-size:12px}
ul.caps{margin:8px 0}
table.profile{width:100%;margin:4px 0}
table.profile td{overflow-wrap:anywhere}
table.profile td:nth-child(1),table.profile td:nth-child(2){white-space:nowrap}
table.profile td:nth-child(3){width:38%}
table.profile td:nth-child(4),table.profile td:nth-child(5){font-size:12px;overflow-wrap:normal}
table.profile a{white-space:nowrap}
tr.side td{background:#f6f8fa}
.tag{font:11px var(--mono);border:1px solid var(--line);border-radius:3px;padding:0 3px;color:var(--muted)}
details.held>summary,details.wire>summary{cursor:pointer;color:var(--muted);margin:6px 0}
pre.tr{background:var(--head);padding:6px 8px;border-radius:4px}
.pdu{border-top:1px dotted var(--line);padding:4px 0}
.ph{font-family:var(--mono);font-size:12px;font-weight:600}
.pdu.sent .dir{color:#0550ae}.pdu.received .dir{color:#8250df}.pdu.event .ph{font-weight:400;color:var(--muted)}
.conn,.no{color:var(--muted);font-weight:400}
.pb{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 16px;margin-top:2px}
pre.hex{white-space:pre;color:#3d444d;margin:0}
pre.dec{margin:0;padding-left:10px;border-left:2px solid var(--line)}
table.matrix{width:100%}
table.matrix thead th{position:sticky;top:0;z-index:3;box-shadow:0 1px 0 var(--line)}
table.matrix td{vertical-align:middle}
table.matrix tr.fam th{background:#eef1f4;font-size:13px}
table.matrix td.cell{padding:0;text-align:center;width:8.5em}
table.matrix td.cell a{display:block;padding:3px 6px;color:inherit;text-decoration:none;font-weight:600;font-size:12px}
table.matrix td.cell a:hover{outline:2px solid #0969da;outline-offset:-2px}
table.matrix th.run{text-align:center;min-width:8em;max-width:14em;overflow-wrap:anywhere}
table.matrix tbody tr.flt:hover td{filter:brightness(.96)}
table.matrix td.ttl{min-width:16em}
table.runs td{white-space:nowrap}
table.runs td.health{white-space:normal;min-width:13em}
.filters.static{position:static}
section.run{margin-top:34px}
section.run>h2{font-size:19px;border-bottom:2px solid var(--fg)}
[hidden]{display:none !important}
:target{scroll-margin-top:60px}
@media (max-width:900px){details.case>summary{grid-template-columns:7em 1fr}details.case>summary>.lvl{display:none}.ttl,.rule{grid-column:1/-1}.pb{grid-template-columns:1fr}}
@media print{
 body{font-size:10.5px}
 header.top{background:none;padding:0 0 6px}
 main{padding:0}
 .filters,.noprint{display:none !important}
 table.matrix thead th{position:static;box-shadow:none}
 thead{display:table-header-group}
 tr,.pdu{break-inside:avoid}
 details.wire,details.held{display:none}
 details.case{break-inside:auto}
 a{color:inherit;text-decoration:none}
 .v,tr.missed td,.reason,th{print-color-adjust:exact;-webkit-print-color-adjust:exact}
}
"#;

/// The filter script: verdict, family, text and "differs" filters over every element with
/// class `flt`; a family group hides when none of its rows shows; a link to a case opens its
/// details; "expand/collapse all"; before printing, the cases that did not pass are opened.
pub(crate) const JS: &str = r#"
(function(){
var all=function(s){return Array.prototype.slice.call(document.querySelectorAll(s));};
var nav=document.getElementById('filters');if(!nav)return;nav.hidden=false;
var fam=document.getElementById('fam'),q=document.getElementById('q'),diff=document.getElementById('diff'),shown=document.getElementById('shown');
var items=all('.flt'),groups=all('[data-famgroup]');
function apply(){
 var on={};all('input[name=v]').forEach(function(i){if(i.checked)on[i.value]=1;});
 var f=fam.value,t=q.value.trim().toLowerCase(),d=diff&&diff.checked,n=0,rows=0;
 items.forEach(function(el){
  var ok=el.getAttribute('data-v').split(' ').some(function(v){return on[v];})
   &&(!f||el.getAttribute('data-fam')===f)&&(!d||el.getAttribute('data-diff')==='1')
   &&(!t||el.getAttribute('data-k').indexOf(t)>=0);
  el.hidden=!ok;if(el.tagName==='TR'){rows++;if(ok)n++;}
 });
 groups.forEach(function(g){g.hidden=!g.querySelector('.flt:not([hidden])');});
 if(shown)shown.textContent=rows?(n+' of '+rows+' cases shown'):'';
}
all('#filters input,#filters select').forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
function setAll(o){all('details.case').forEach(function(d){if(!d.hidden)d.open=o;});}
document.getElementById('open-all').addEventListener('click',function(){setAll(true);});
document.getElementById('close-all').addEventListener('click',function(){setAll(false);});
function reveal(){
 var id=decodeURIComponent(location.hash.slice(1));var el=id&&document.getElementById(id);if(!el)return;
 for(var p=el;p;p=p.parentElement){if(p.tagName==='DETAILS')p.open=true;if(p.hidden)p.hidden=false;}
 el.scrollIntoView();
}
window.addEventListener('hashchange',reveal);
window.addEventListener('beforeprint',function(){all('details.case.np').forEach(function(d){d.open=true;});});
apply();reveal();
})();
"#;
