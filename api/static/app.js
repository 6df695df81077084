// spendwatch dashboard: filters submit on change; writes (silences, feedback) call the JSON API
// with the token typed into the header (kept in this browser's localStorage). No libraries.
"use strict";
(function () {
  const tokenBox = document.getElementById("token");
  if (tokenBox) {
    tokenBox.value = localStorage.getItem("spendwatch-token") || "";
    tokenBox.addEventListener("change", () => localStorage.setItem("spendwatch-token", tokenBox.value.trim()));
  }
  function token() { return (tokenBox && tokenBox.value.trim()) || localStorage.getItem("spendwatch-token") || ""; }

  async function call(method, url, body) {
    const headers = { "Content-Type": "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      let why = data && data.detail;
      if (Array.isArray(why)) why = why.map((d) => (d.loc || []).join(".") + ": " + d.msg).join("; ");
      throw new Error("HTTP " + r.status + (why ? ": " + why : ""));
    }
    return data;
  }

  document.querySelectorAll("form.filters .autosubmit").forEach((el) => {
    el.addEventListener("change", () => {
      const form = el.form;
      // drop empty fields so the address stays readable
      const params = new URLSearchParams();
      new FormData(form).forEach((v, k) => { if (String(v).trim() !== "") params.append(k, String(v).trim()); });
      window.location.search = params.toString();
    });
  });

  const silenceForm = document.getElementById("silence-form");
  if (silenceForm) {
    silenceForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(silenceForm);
      const msg = document.getElementById("silence-msg");
      const matchers = String(f.get("matchers") || "").split(/\n|,/).map((s) => s.trim()).filter(Boolean);
      try {
        const s = await call("POST", "/api/v1/silences", {
          matchers, duration: f.get("duration"), created_by: f.get("created_by"), comment: f.get("comment") || "",
        });
        msg.textContent = "created " + s.id;
        msg.className = "msg ok";
        window.location.reload();
      } catch (e) { msg.textContent = e.message; msg.className = "msg error"; }
    });
  }
  document.querySelectorAll("button.expire").forEach((b) => {
    b.addEventListener("click", async () => {
      try { await call("DELETE", "/api/v1/silences/" + encodeURIComponent(b.dataset.silence)); window.location.reload(); }
      catch (e) { b.textContent = e.message; }
    });
  });

  const actions = document.querySelector(".actions[data-anomaly]");
  if (actions) {
    actions.querySelectorAll("button[data-verdict]").forEach((b) => {
      b.addEventListener("click", async () => {
        const msg = document.getElementById("fb-msg");
        const body = { verdict: b.dataset.verdict, by: document.getElementById("fb-by").value.trim() };
        const reason = document.getElementById("fb-reason").value.trim();
        if (reason) body.reason = reason;
        if (b.dataset.duration) body.duration = b.dataset.duration;
        try {
          await call("POST", "/api/v1/anomalies/" + encodeURIComponent(actions.dataset.anomaly) + "/feedback", body);
          window.location.reload();
        } catch (e) { msg.textContent = e.message; msg.className = "msg error"; }
      });
    });
  }
})();
