/**
 * dyups_dashboard's page: one self-contained HTML document (its style and script inline, nothing fetched from
 * elsewhere, nothing to build). It refreshes from its own location's `?format=json` (dashboard-data.ts) every
 * second (`?refresh=MS` to change it) and turns the counters into rates between two refreshes. Where the same
 * server also answers the JSON interface (`/api/upstreams`), each server has buttons to mark it down or restore
 * it, and to drain it or end the drain (PATCH of the server's `down` or `drain`); a write the interface refuses (401,
 * 403, 405) is shown, not retried.
 *
 * The page builds its rows with textContent, never markup from the data: group and server names are bytes anyone
 * with write access chose. ASCII only: it is sent as latin1.
 */
export const DASHBOARD_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dyups dashboard</title>
<style>
  :root { --fg: #1d2430; --mute: #6b7280; --line: #e5e7eb; --bg: #f7f8fa; --card: #fff;
          --up: #15803d; --down: #6b7280; --draining: #a16207; --unhealthy: #b91c1c; --unavailable: #c2410c; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; gap: 24px; align-items: baseline; padding: 14px 20px; background: #111827; color: #f9fafb; }
  header h1 { margin: 0; font-size: 18px; font-weight: 600; }
  header .kv { font-size: 13px; color: #d1d5db; }
  header .kv b { color: #fff; font-weight: 600; }
  #status { margin-left: auto; font-size: 12px; color: #fca5a5; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
  section h2 { margin: 0; padding: 10px 14px; font-size: 15px; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: baseline; }
  section h2 .sum { font-weight: 400; font-size: 12px; color: var(--mute); }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: 6px 10px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-size: 12px; font-weight: 600; color: var(--mute); background: #fafafa; }
  th:first-child, td:first-child, th.l, td.l { text-align: left; }
  tr:last-child td { border-bottom: 0; }
  .state { display: inline-block; min-width: 84px; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; text-align: center; }
  .state.up { background: var(--up); } .state.down { background: var(--down); }
  .state.draining { background: var(--draining); } .state.unhealthy { background: var(--unhealthy); } .state.unavailable { background: var(--unavailable); }
  .backup { font-size: 11px; color: var(--mute); margin-left: 6px; }
  button { font: inherit; font-size: 12px; padding: 2px 10px; border-radius: 5px; border: 1px solid #9ca3af; background: #fff; cursor: pointer; }
  button.down { border-color: #b91c1c; color: #b91c1c; } button.restore { border-color: #15803d; color: #15803d; }
  button.drain { border-color: #a16207; color: #a16207; } button.undrain { border-color: #15803d; color: #15803d; }
  button:disabled { opacity: .5; cursor: default; }
  .err { color: #b91c1c; font-size: 12px; }
  .mute { color: var(--mute); }
</style>
</head>
<body data-refreshes="0">
<header>
  <h1>dyups</h1>
  <span class="kv">table version <b id="version">-</b></span>
  <span class="kv">workers <b id="workers">-</b></span>
  <span class="kv">connections <b id="conns">-</b></span>
  <span class="kv">requests/s <b id="rps">-</b></span>
  <span class="kv" id="mode">-</span>
  <span id="status"></span>
</header>
<main id="groups"></main>
<script>
"use strict";
(function () {
  var params = new URLSearchParams(location.search);
  var every = Math.max(100, Number(params.get("refresh")) || 1000);
  var dataUrl = location.pathname + "?format=json";
  var prev = null, refreshes = 0, writable = false, notes = {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function rate(cur, old, dt) { return old === undefined || dt <= 0 ? null : Math.max(0, (cur - old) / dt); }
  function fmtRate(r) { return r === null ? "-" : r >= 100 ? r.toFixed(0) : r.toFixed(1); }
  function fmtBytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
  }
  function key(g, s) { return g + "\\n" + s.server + "\\n" + s.address; }
  function index(d) {
    var m = {};
    if (d) d.upstreams.forEach(function (g) { g.servers.forEach(function (s) { m[key(g.name, s)] = s; }); });
    return m;
  }

  function render(d) {
    var dt = prev ? (d.time_ms - prev.time_ms) / 1000 : 0;
    var old = index(prev);
    document.getElementById("version").textContent = d.version;
    document.getElementById("workers").textContent = d.workers;
    var c = d.connections;
    document.getElementById("conns").textContent = c.active + " (reading " + c.reading + ", writing " + c.writing + ", waiting " + c.waiting + ")";
    var r = prev ? rate(c.requests, prev.connections.requests, dt) : null;
    document.getElementById("rps").textContent = fmtRate(r);
    var main = document.getElementById("groups");
    var frag = document.createDocumentFragment();
    d.upstreams.forEach(function (g) {
      var sec = el("section");
      sec.dataset.upstream = g.name;
      var h = el("h2", "", g.name);
      var up = g.servers.filter(function (s) { return s.state === "up"; }).length;
      h.appendChild(el("span", "sum", up + " of " + g.servers.length + " up" + (g.check ? ", health checks" : "")));
      sec.appendChild(h);
      var t = el("table"), head = el("tr");
      ["Server", "State", "Weight", "Active", "Req/s", "Requests", "2xx", "3xx", "4xx", "5xx", "Failures", "Latency", "Sent", "Received", ""].forEach(function (x, i) {
        head.appendChild(el("th", i === 1 || i === 14 ? "l" : "", x));
      });
      t.appendChild(head);
      g.servers.forEach(function (s) {
        var o = old[key(g.name, s)];
        var tr = el("tr");
        tr.dataset.server = s.address;
        tr.dataset.state = s.state;
        var name = el("td", "", s.server === s.address ? s.server : s.server + " (" + s.address + ")");
        if (s.backup) name.appendChild(el("span", "backup", "backup"));
        tr.appendChild(name);
        var st = el("td", "l"); st.appendChild(el("span", "state " + s.state, s.state)); tr.appendChild(st);
        tr.appendChild(el("td", "", s.weight));
        tr.appendChild(el("td", "", s.active));
        tr.appendChild(el("td", "rps", fmtRate(o ? rate(s.requests, o.requests, dt) : null)));
        tr.appendChild(el("td", "requests", s.requests));
        ["2xx", "3xx", "4xx", "5xx"].forEach(function (k) { tr.appendChild(el("td", "", s.responses[k])); });
        var failed = 0, kinds = [];
        Object.keys(s.failures).forEach(function (k) { if (s.failures[k] > 0) { failed += s.failures[k]; kinds.push(k + " " + s.failures[k]); } });
        var f = el("td", "", failed); if (kinds.length) f.title = kinds.join(", "); tr.appendChild(f);
        var lat = "-";
        if (o && s.response_ms.count > o.response_ms.count) lat = ((s.response_ms.sum - o.response_ms.sum) / (s.response_ms.count - o.response_ms.count)).toFixed(1) + " ms";
        else if (s.response_ms.count > 0) lat = (s.response_ms.sum / s.response_ms.count).toFixed(1) + " ms";
        tr.appendChild(el("td", "latency", lat));
        tr.appendChild(el("td", "", fmtBytes(s.sent_bytes)));
        tr.appendChild(el("td", "", fmtBytes(s.received_bytes)));
        var act = el("td", "l");
        if (writable) {
          var b = el("button", s.down ? "restore" : "down", s.down ? "Restore" : "Down");
          b.title = s.down ? "clear the server's down flag" : "mark the server down: it takes no new requests";
          b.addEventListener("click", function () { mark(g.name, s, { down: !s.down }, b); });
          act.appendChild(b);
          // Drain: no new requests, those in flight finish (a down server takes none either way).
          if (!s.down) {
            var dr = el("button", s.drain ? "undrain" : "drain", s.drain ? "Undrain" : "Drain");
            dr.title = s.drain ? "clear the server's drain flag" : "drain the server: no new requests, those in flight finish";
            dr.addEventListener("click", function () { mark(g.name, s, { drain: !s.drain }, dr); });
            act.appendChild(dr);
          }
        }
        var n = notes[key(g.name, s)];
        if (n) act.appendChild(el("span", "err", " " + n));
        tr.appendChild(act);
        t.appendChild(tr);
      });
      sec.appendChild(t);
      frag.appendChild(sec);
    });
    if (d.upstreams.length === 0) frag.appendChild(el("p", "mute", "No upstream groups."));
    main.replaceChildren(frag);
  }

  function api(path, init) {
    return fetch("/api/upstreams" + path, Object.assign({ cache: "no-store", credentials: "same-origin" }, init || {}));
  }

  // The server's id as the interface numbers it now, found by its name and address.
  function mark(group, s, change, button) {
    button.disabled = true;
    var k = key(group, s), g = "/" + encodeURIComponent(group);
    api(g).then(function (r) {
      if (!r.ok) throw new Error("GET " + r.status);
      return r.json();
    }).then(function (doc) {
      var found = doc.servers.filter(function (x) { return x.server === s.server && x.address === s.address; })[0];
      if (!found) throw new Error("the server is no longer in the group");
      return api(g + "/servers/" + encodeURIComponent(found.id), {
        method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(change),
      });
    }).then(function (r) {
      if (r.ok) { delete notes[k]; return; }
      return r.text().then(function (body) {
        var m = r.status + "";
        try { m += " " + JSON.parse(body).error.message; } catch (e) { m += " " + body.slice(0, 80); }
        notes[k] = (r.status === 401 || r.status === 403 || r.status === 405 ? "not allowed: " : "refused: ") + m;
      });
    }).catch(function (e) { notes[k] = String(e.message || e); })
      .then(function () { button.disabled = false; tick(false); });
  }

  var timer = null;
  function tick(again) {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    fetch(dataUrl, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (d) {
      render(d);
      prev = d;
      refreshes++;
      document.body.dataset.refreshes = String(refreshes);
      document.getElementById("status").textContent = "";
    }).catch(function (e) {
      document.getElementById("status").textContent = "refresh failed: " + (e.message || e);
    }).then(function () {
      if (timer === null) timer = setTimeout(function () { timer = null; tick(true); }, every);
    });
  }

  // Writes only where this server answers the JSON interface.
  api("").then(function (r) {
    writable = r.ok && (r.headers.get("content-type") || "").indexOf("json") >= 0;
  }).catch(function () { writable = false; }).then(function () {
    document.getElementById("mode").textContent = writable ? "interface: here" : "read only";
    document.body.dataset.writable = String(writable);
    tick(true);
  });
})();
</script>
</body>
</html>
`
