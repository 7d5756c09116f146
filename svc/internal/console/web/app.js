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
      throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${resp.status}`);
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

async function refreshRecent() {
  try {
    const resp = await fetch("/console/api/recent", {redirect: "error"});
    if (!resp.ok) return;
    const body = await resp.json();
    for (const d of ["approve", "review", "decline"]) {
      $("count-" + d).textContent = body.counts[d] || 0;
    }
    $("count-test").textContent = body.tests || 0;
    const rows = body.recent.map((r) => {
      const tr = document.createElement("tr");
      tr.append(cell(new Date(r.decided_at).toLocaleTimeString()), cell(r.merchant_id),
        cell(`${r.amount_minor} ${r.currency}`), cell(`${r.card_brand} ${r.card_last4 ? "••" + r.card_last4 : ""}`),
        cell(r.decision), cell(r.reasons.join(", ")), testCell(r.test));
      tr.className = r.decision;
      return tr;
    });
    $("recent").replaceChildren(...rows);
  } catch (_) {
    // The next poll tries again.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("test-form").addEventListener("submit", submitTest);
  refreshRecent();
  setInterval(refreshRecent, 2000);
});
