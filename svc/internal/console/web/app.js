// The console never keeps card data: the number and CVV go to the console's own backend
// in one request, are cleared from the form as soon as it is sent, and are never written
// to storage. Only the decision comes back.
"use strict";

const $ = (id) => document.getElementById(id);

async function submitTest(ev) {
  ev.preventDefault();
  const form = ev.target;
  const data = Object.fromEntries(new FormData(form));
  form.elements.card_number.value = "";
  form.elements.cvv.value = "";
  $("error").hidden = true;
  $("submit").disabled = true;
  try {
    // JSON from this origin: the console refuses any other POST (CSRF). A redirect
    // means the ALB's login session ended (it sends the browser to the IdP): fail
    // instead of following it, and ask for a reload, which logs in again.
    const resp = await fetch("/console/api/test-transaction", {
      method: "POST",
      redirect: "error",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({
        merchant_id: data.merchant_id, amount: Number(data.amount), currency: data.currency,
        country: data.country, card_number: data.card_number, expiry_month: Number(data.expiry_month),
        expiry_year: Number(data.expiry_year), cvv: data.cvv,
      }),
    });
    const body = await resp.json();
    if (!resp.ok) {
      // The validator names the field it refused (e.g. card.number): say which one.
      const e = body.error;
      throw new Error(e ? (e.field ? `${e.field}: ${e.message}` : `${e.code}: ${e.message}`) : `HTTP ${resp.status}`);
    }
    $("decision").textContent = body.decision;
    $("decision").className = body.decision;
    $("reasons").textContent = body.reasons.length ? body.reasons.join(", ") : "none";
    $("request-id").textContent = body.request_id;
    $("result").hidden = false;
    refreshRecent();
  } catch (err) {
    $("result").hidden = true;
    $("error").textContent = err instanceof TypeError
      ? "The console did not answer; your login may have expired: reload the page."
      : err.message;
    $("error").hidden = false;
  } finally {
    $("submit").disabled = false;
  }
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

// Test transactions sent from this console are shown, and marked, but not counted above.
function testCell(isTest) {
  const td = document.createElement("td");
  if (isTest) {
    const b = document.createElement("span");
    b.className = "badge-test";
    b.textContent = "test";
    td.append(b);
  }
  return td;
}

// When the audit database (or the console) does not answer, the page says so and blanks
// the counts: it never leaves figures that would read as "no traffic".
function recentFailed(message) {
  $("recent-error").textContent = message;
  $("recent-error").hidden = false;
  for (const d of ["approve", "review", "decline", "test"]) {
    $("count-" + d).textContent = "–";
  }
  $("counts").setAttribute("aria-busy", "true");
  // Rows from before the failure would read as the latest: take them away too.
  $("recent").replaceChildren();
}

async function refreshRecent() {
  let resp, body;
  try {
    resp = await fetch("/console/api/recent", {redirect: "error"});
    body = await resp.json();
  } catch (_) {
    recentFailed("The console did not answer; your login may have expired: reload the page.");
    return;
  }
  if (!resp.ok) {
    recentFailed(body.error && body.error.code === "audit_unavailable"
      ? "The audit database is unavailable: recent decisions cannot be shown. Figures are not zero, they are unknown."
      : `Recent decisions could not be loaded (${body.error ? body.error.message : "HTTP " + resp.status}).`);
    return;
  }
  $("recent-error").hidden = true;
  $("counts").removeAttribute("aria-busy");
  for (const d of ["approve", "review", "decline"]) {
    $("count-" + d).textContent = body.counts[d] || 0;
  }
  $("count-test").textContent = body.tests || 0;
  const rows = body.recent.map((r) => {
    const tr = document.createElement("tr");
    tr.append(cell(formatTime(r.decided_at)), cell(r.merchant_id),
      cell(formatAmount(r.amount_minor, r.currency)), cell(`${r.card_brand} ${r.card_last4 ? "••" + r.card_last4 : ""}`),
      cell(r.decision), cell(r.reasons.join(", ")), testCell(r.test));
    tr.className = r.decision;
    return tr;
  });
  $("recent").replaceChildren(...rows);
}

// Amounts are stored in the currency's minor units: 99000 EUR is €990.00, JPY has none.
function formatAmount(minor, currency) {
  try {
    const f = new Intl.NumberFormat(undefined, {style: "currency", currency});
    return f.format(minor / 10 ** f.resolvedOptions().maximumFractionDigits);
  } catch (_) {
    return `${minor} ${currency} (minor units)`;
  }
}

// Date, time and zone: an investigation compares times across teams and logs.
function formatTime(iso) {
  return new Date(iso).toLocaleString(undefined, {dateStyle: "medium", timeStyle: "long"});
}

let searchQuery = null;

function searchParams(form) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) {
    if (!v) continue;
    q.set(k, k === "from" || k === "to" ? new Date(v).toISOString() : v.trim());
  }
  return q;
}

function showSearchError(message, field) {
  for (const el of $("search-form").elements) el.removeAttribute("aria-invalid");
  const input = field && $("search-form").elements[field];
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
  $("search-error").textContent = message;
  $("search-error").hidden = false;
}

async function runSearch(cursor) {
  const q = new URLSearchParams(searchQuery);
  if (cursor) q.set("cursor", cursor);
  $("search-error").hidden = true;
  $("search-submit").disabled = true;
  let resp, body;
  try {
    resp = await fetch("/console/api/decisions?" + q, {redirect: "error"});
    body = await resp.json();
  } catch (_) {
    showSearchError("The console did not answer; your login may have expired: reload the page.");
    return;
  } finally {
    $("search-submit").disabled = false;
  }
  if (!resp.ok) {
    const e = body.error || {};
    showSearchError(e.field ? `${e.field}: ${e.message}` : (e.code === "audit_unavailable"
      ? "The audit database is unavailable: the search was not run. Try again shortly." : e.message || `HTTP ${resp.status}`), e.field);
    return;
  }
  for (const el of $("search-form").elements) el.removeAttribute("aria-invalid");
  const rows = body.decisions.map((r) => {
    const tr = document.createElement("tr");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link";
    open.textContent = "details";
    open.setAttribute("aria-label", `details of ${r.request_id}`);
    open.addEventListener("click", () => showDetail(r.request_id));
    const act = document.createElement("td");
    act.append(open);
    tr.append(cell(formatTime(r.decided_at)), cell(r.merchant_id), cell(formatAmount(r.amount_minor, r.currency)),
      cell(`${r.card_brand} ${r.card_last4 ? "••" + r.card_last4 : ""}`), cell(r.decision),
      cell(r.reasons.join(", ") + (r.test ? " (test)" : "")), act);
    tr.className = r.decision;
    return tr;
  });
  if (cursor) $("results").append(...rows); else $("results").replaceChildren(...rows);
  const shown = $("results").children.length;
  $("results-status").textContent = shown ? `${shown} decisions shown${body.next_cursor ? ", more below" : ""}.` : "No decision matches.";
  $("next-page").hidden = !body.next_cursor;
  $("next-page").onclick = () => runSearch(body.next_cursor);
}

async function showDetail(id) {
  let resp, d;
  try {
    resp = await fetch("/console/api/decisions/" + encodeURIComponent(id), {redirect: "error"});
    d = await resp.json();
  } catch (_) {
    showSearchError("The console did not answer; your login may have expired: reload the page.");
    return;
  }
  if (!resp.ok) {
    showSearchError(d.error ? d.error.message : `HTTP ${resp.status}`);
    return;
  }
  const fields = [
    ["Request id", d.request_id], ["Decision", d.decision], ["Reasons", d.reasons.length ? d.reasons.join(", ") : "none"],
    ["Merchant", d.merchant_id], ["Amount", formatAmount(d.amount_minor, d.currency)], ["Country", d.country],
    ["Card", `${d.card_brand} ${d.card_last4 ? "••" + d.card_last4 : ""}`],
    ["Transaction time", formatTime(d.txn_time)], ["Decided at", formatTime(d.decided_at)],
    ["Decided after the transaction time", `${((new Date(d.decided_at) - new Date(d.txn_time)) / 1000).toFixed(3)} s`],
    ["Test transaction", d.test ? "yes (sent from this console; not counted as traffic)" : "no"],
    ["Decided by replica", d.replica || "not recorded (decided before replicas were recorded)"],
    ["Idempotent replays", d.replays ? `${d.replays}, the latest at ${formatTime(d.last_replay_at)}` : "none"],
  ];
  const dl = $("detail-fields");
  dl.replaceChildren();
  for (const [k, v] of fields) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
  $("detail-id").textContent = d.request_id;
  $("detail").hidden = false;
  $("detail").focus();
}

// The charts are SVG drawn by the server (no script draws them); their numbers come as
// JSON and fill the tables, which are the charts' text alternative. They cover the
// search's range, or the server's default (the last 24 hours); the images are asked
// for exactly the range the numbers came for, so the two always agree.
async function refreshCharts() {
  const q = new URLSearchParams();
  for (const k of ["from", "to"]) {
    if (searchQuery && searchQuery.get(k)) q.set(k, searchQuery.get(k));
  }
  let resp, st;
  try {
    resp = await fetch("/console/api/stats?" + q, {redirect: "error"});
    st = await resp.json();
  } catch (_) {
    resp = null;
  }
  if (!resp || !resp.ok) {
    const e = st && st.error;
    $("charts-error").textContent = e && e.field ? `${e.field}: ${e.message}`
      : "The audit database is unavailable: no charts until it answers.";
    $("charts-error").hidden = false;
    $("charts").hidden = true;
    return;
  }
  $("charts-error").hidden = true;
  $("charts").hidden = false;
  $("charts-range").textContent = `(${formatTime(st.from)} to ${formatTime(st.to)}, bars of ${st.bucket_seconds / 60} min)`;
  let a = 0, r = 0, d = 0;
  $("chart-decisions-table").replaceChildren(...st.buckets.map((b) => {
    a += b.approve; r += b.review; d += b.decline;
    const tr = document.createElement("tr");
    tr.append(cell(formatTime(b.start)), cell(b.approve), cell(b.review), cell(b.decline));
    return tr;
  }));
  $("chart-reasons-table").replaceChildren(...st.top_reasons.map((x) => {
    const tr = document.createElement("tr");
    tr.append(cell(x.reason), cell(x.count));
    return tr;
  }));
  $("chart-decisions").alt = `Decisions over time by outcome: ${a} approve, ${r} review, ${d} decline in the range; numbers in the table below.`;
  $("chart-reasons").alt = st.top_reasons.length
    ? "Top reasons: " + st.top_reasons.map((x) => `${x.reason} ${x.count}`).join(", ") + "."
    : "Top reasons: no reasons were given in this range.";
  const range = new URLSearchParams({from: st.from, to: st.to});
  $("chart-decisions").src = "/console/charts/decisions.svg?" + range;
  $("chart-reasons").src = "/console/charts/reasons.svg?" + range;
}

document.addEventListener("DOMContentLoaded", () => {
  $("test-form").addEventListener("submit", submitTest);
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    searchQuery = searchParams(ev.target);
    runSearch(null);
    refreshCharts();
  });
  refreshCharts();
  setInterval(refreshCharts, 60000);
  refreshRecent();
  setInterval(refreshRecent, 2000);
});
