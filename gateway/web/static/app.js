// The technician page: sign in with a token (session storage only), live view over a WebSocket that
// authenticates in its first message, and the controls the signed-in role may use. No frameworks, no
// network fetches beyond this gateway, no inline script (the CSP forbids it), no HTML built from data.
"use strict";

(function () {
  const TOKEN_KEY = "edge-gateway.token";
  const TREND_WINDOW_S = 300;
  const RECONNECT_MS = [1000, 2000, 5000, 10000];
  const ZONE_COLOURS = ["#1f4e9c", "#b3261e", "#0b6b2e", "#7b3fa0", "#8a4b00", "#00687a", "#5b5b5b", "#c2185b"];
  const STATE_WORDS = {
    off: ["Off", "unknown", "\u25CB"], heating: ["Heating", "warn", "\u25B2"], holding: ["Holding", "ok", "\u2713"],
    fault: ["FAULT", "bad", "\u2716"],
  };

  const $ = (id) => document.getElementById(id);
  let socket = null;
  let permissions = new Set();
  let role = "";
  let reconnectAttempt = 0;
  let reconnectTimer = null;
  let lastZonesKey = "";
  let lastPrintersKey = "";
  const history = new Map(); // zone -> [{t, temp, sp}]

  // ---- helpers -----------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const fmt = (value, digits, unit) =>
    (typeof value === "number" && isFinite(value)) ? value.toFixed(digits) + (unit || "") : "\u2014";
  function badge(node, text, level, icon) {
    node.textContent = text;
    node.dataset.level = level;
    node.dataset.icon = icon || "";
  }
  function can(permission) { return permissions.has(permission); }
  function show(node, visible) { node.hidden = !visible; }

  function notice(text, kind) {
    const box = $("notice");
    box.textContent = text;
    box.className = "message" + (kind ? " " + kind : "");
    box.hidden = !text;
  }

  // ---- sign in / out -----------------------------------------------------------------------------
  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function showSignIn(message) {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    clearTimeout(reconnectTimer);
    sessionStorage.removeItem(TOKEN_KEY);
    permissions = new Set();
    show($("site"), false);
    show($("who"), false);
    show($("estop"), false);
    show($("signin"), true);
    badge($("gw-state"), "not connected", "unknown");
    const error = $("signin-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("token").focus();
  }

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("token").value = "";
    $("signin-error").hidden = true;
    connect();
  });
  $("sign-out").addEventListener("click", () => showSignIn(""));

  // ---- live socket -------------------------------------------------------------------------------
  function connect() {
    const current = token();
    if (!current) { showSignIn(""); return; }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/api/v1/live`);
    let signedIn = false;
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: current }));
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "hello") {
        signedIn = true;
        reconnectAttempt = 0;
        onHello(message);
      } else if (message.type === "snapshot") {
        render(message);
      } else if (message.type === "error") {
        const error = message.error || {};
        if (error.code === "unauthorized" || error.code === "forbidden") {
          showSignIn(signInMessage(error));
        } else if (error.code === "too_many_failures") {
          showSignIn(`Too many failed sign-ins from this device. Wait ${error.retry_after_s || 60} seconds and try again.`);
        } else {
          notice(error.message || "The gateway refused the live view.", "error");
        }
      }
    };
    socket.onclose = () => {
      socket = null;
      if (!token()) return;
      badge($("gw-state"), signedIn ? "reconnecting\u2026" : "not connected", "warn", "\u21BB");
      const delay = RECONNECT_MS[Math.min(reconnectAttempt++, RECONNECT_MS.length - 1)];
      reconnectTimer = setTimeout(connect, delay);
    };
  }

  function signInMessage(error) {
    if (error.code === "forbidden") return "This token cannot open the live view (it is for the cloud connector). Use a technician or viewer token.";
    const text = (error.message || "").toLowerCase();
    if (text.includes("expired")) return "That token has expired. Ask for a new one.";
    if (text.includes("revoked")) return "That token was revoked. Ask for a new one.";
    return "That token was not accepted. Check that you pasted all of it, or ask for a new one.";
  }

  function onHello(message) {
    permissions = new Set(message.permissions || []);
    role = message.role;
    $("who-sub").textContent = message.sub;
    $("who-role").textContent = message.role;
    show($("who"), true);
    show($("signin"), false);
    show($("site"), true);
    show($("estop"), can("extruder:estop"));
    for (const node of document.querySelectorAll(".ctl")) show(node, can("extruder:control"));
    lastZonesKey = "";
    lastPrintersKey = "";
    notice("", "");
  }

  // ---- rendering ---------------------------------------------------------------------------------
  function render(snapshot) {
    renderStatus(snapshot.status, printerList(snapshot.printers));
    renderExtruder(snapshot.extruder, snapshot.ts);
    renderPrinters(snapshot.printers);
  }

  function printerList(printers) {
    return Array.isArray(printers) ? printers : (printers && Array.isArray(printers.printers) ? printers.printers : []);
  }

  // What needs someone's attention: parts the gateway reports degraded or failed (a printer part in words:
  // its name and why its link is stopped), then printers that are not reporting although their part runs.
  function problemsOf(status, printers) {
    const bySerial = new Map(printers.map((p) => [p.serial, p]));
    const problems = [];
    const seen = new Set();
    for (const part of status.parts || []) {
      if (part.state !== "degraded" && part.state !== "failed") continue;
      const serial = part.name.startsWith("printer:") ? part.name.slice("printer:".length) : null;
      const printer = serial === null ? undefined : bySerial.get(serial);
      if (serial !== null) seen.add(serial);
      problems.push({
        what: printer ? `Printer ${printerLabel(printer)}` : (serial !== null ? `Printer ${serial}` : `Part ${part.name}`),
        reason: printer && printer.link_reason ? printer.link_reason : part.state === "failed" ? "failed, restarting" : "not working",
        detail: printer && printer.link_message ? printer.link_message : (part.last_error || ""),
        level: "bad",
      });
    }
    for (const printer of printers) {
      if (seen.has(printer.serial) || printer.link !== "offline") continue;
      problems.push({ what: `Printer ${printerLabel(printer)}`, reason: printer.link_reason || "offline",
        detail: printer.link_message || "", level: "warn" });
    }
    return problems;
  }

  function renderHeader(status, problems) {
    const grave = problems.filter((p) => p.level === "bad");
    const reasons = (list) => [...new Set(list.map((p) => p.reason))].join(", ");
    if (status.state === "ok" && problems.length === 0) {
      badge($("gw-state"), "all parts running", "ok", "\u2713");
    } else if (status.state === "ok") {
      const n = problems.length;
      badge($("gw-state"), `running; ${n} printer${n === 1 ? "" : "s"} not reporting (${reasons(problems)})`, "warn", "!");
    } else if (status.state === "degraded") {
      badge($("gw-state"), grave.length ? `degraded: ${reasons(grave)}` : "degraded", "warn", "!");
    } else {
      badge($("gw-state"), status.state || "unknown", "bad", "!");
    }
    const box = $("problems");
    const list = $("problems-list");
    const key = JSON.stringify(problems);
    if (list.dataset.key !== key) {
      list.replaceChildren(...problems.map((p) => el("li", { dataset: { level: p.level } },
        el("span", { class: "badge", dataset: { level: p.level, icon: p.level === "bad" ? "\u2716" : "!" } }, p.reason),
        " ", el("b", {}, p.what), p.detail ? el("span", { class: "detail" }, p.detail) : null)));
      list.dataset.key = key;
    }
    show(box, problems.length > 0);
  }

  function renderStatus(status, printers) {
    if (!status) return;
    $("gw-id").textContent = `Edge gateway ${status.gateway_id || ""}`;
    renderHeader(status, problemsOf(status, printers || []));
    const health = $("health");
    health.replaceChildren();
    const facts = [["Version", status.version], ["Up for", duration(status.uptime_s)],
      ["Event-loop lag", fmt(status.event_loop && status.event_loop.lag_s * 1000, 1, " ms")]];
    const telemetry = (status.parts || []).find((part) => part.name === "telemetry");
    if (telemetry && telemetry.detail) {
      const d = telemetry.detail;
      facts.push(["Telemetry buffer", `${d.backlog_samples ?? "\u2014"} samples waiting` +
        (typeof d.size_bytes === "number" ? `, ${(d.size_bytes / 1048576).toFixed(1)} of ${(d.max_bytes / 1048576).toFixed(0)} MiB` : "") +
        (d.refusing ? " \u2014 FULL, refusing new samples" : "")]);
    }
    const sync = status.sync;
    if (sync) {
      facts.push(["Upstream sync", !sync.enabled ? "push disabled (pull by the cloud connector)"
        : `${sync.state}${sync.backlog !== null && sync.backlog !== undefined ? `, ${sync.backlog} samples behind` : ""}` +
          (sync.dead_letter_batches ? `, ${sync.dead_letter_batches} batches set aside` : "") +
          (sync.message ? ` \u2014 ${sync.message}` : "")]);
    }
    for (const [name, value] of facts) health.append(el("dt", {}, name), el("dd", {}, value === undefined ? "\u2014" : value));
    const body = $("parts").tBodies[0];
    body.replaceChildren(...(status.parts || []).map((part) => el("tr", {},
      el("td", {}, part.name),
      el("td", {}, el("span", { class: "badge", dataset: { level: part.state === "running" ? "ok" : part.state === "failed" ? "bad" : "warn" } }, part.state)),
      el("td", {}, part.restarts),
      el("td", {}, part.last_error || ""))));
  }

  function duration(seconds) {
    if (typeof seconds !== "number") return "\u2014";
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = Math.floor(seconds % 60);
    return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
  }

  function zoneState(zone) {
    const words = STATE_WORDS[zone.state] || [zone.state || "unknown", "unknown", "?"];
    return el("span", { class: "badge", dataset: { level: words[1], icon: words[2] } },
      words[0] + (zone.fault ? `: ${faultText(zone.fault)}` : ""));
  }

  // A temperature is shown only while it is current: a frozen value from a lost link never looks live.
  function temperatureText(zone) {
    if (zone.temp_c !== null && zone.temp_c !== undefined) return fmt(zone.temp_c, 1, " \u00B0C");
    if (zone.sensor === "unknown") {
      return zone.temp_age_s === null || zone.temp_age_s === undefined ? "unknown"
        : `unknown (last reading ${fmt(zone.temp_age_s, 0, " s")} ago)`;
    }
    if (zone.sensor === "open" || zone.sensor === "short") return `sensor ${zone.sensor}`;
    return "\u2014";
  }

  function faultText(fault) {
    const code = typeof fault === "string" ? fault : (fault.code || "fault");
    return code.replaceAll("_", " ") + (fault.zone !== undefined && fault.zone !== null ? ` (zone ${fault.zone})` : "");
  }

  function renderExtruder(extruder, ts) {
    const available = extruder && !extruder.unavailable && Array.isArray(extruder.zones);
    show($("extruder-unavailable"), !available);
    show($("extruder-body"), !!available);
    if (!available) { badge($("link-state"), "link: not configured", "unknown"); return; }
    const link = extruder.link || {};
    const linkState = typeof link === "string" ? link : (link.state || "unknown");
    badge($("link-state"), `link: ${linkState}`, linkState === "up" ? "ok" : "bad", linkState === "up" ? "\u2713" : "\u2716");

    const zones = extruder.zones;
    const key = zones.map((z) => z.zone).join(",") + "|" + [...permissions].join(",");
    const body = $("zones").tBodies[0];
    if (key !== lastZonesKey) { body.replaceChildren(...zones.map(zoneRow)); lastZonesKey = key; }
    zones.forEach((zone, index) => {
      const row = body.rows[index];
      row.cells[1].textContent = temperatureText(zone);
      row.cells[2].textContent = zone.setpoint_c === null || zone.setpoint_c === undefined ? "off" : fmt(zone.setpoint_c, 1, " \u00B0C");
      row.cells[3].textContent = fmt((zone.output || 0) * 100, 0, " %");
      row.cells[4].replaceChildren(zoneState(zone));
      const series = history.get(zone.zone) || [];
      series.push({ t: ts, temp: zone.temp_c, sp: zone.setpoint_c });
      while (series.length && series[0].t < ts - TREND_WINDOW_S) series.shift();
      history.set(zone.zone, series);
    });
    drawTrend(zones, ts);

    const facts = $("extruder-facts");
    facts.replaceChildren();
    const motor = extruder.motor || {};
    const loop = extruder.timing || {};
    const pairs = [
      ["Screw motor", fmt(motor.rpm, 1, " rpm")],
      ["Melt pressure", fmt(motor.bar, 1, " bar")],
      ["Control loop", extruder.loop_alive === false ? "NOT RUNNING"
        : loop.rate_hz ? `${loop.rate_hz} Hz, jitter p99 ${fmt(loop.jitter_p99_ms, 2, " ms")}, missed ${loop.missed_periods ?? 0}` : "\u2014"],
    ];
    const faults = extruder.faults || [];
    if (faults.length) badge($("gw-state"), `EXTRUDER FAULT: ${faults.map(faultText).join(", ")}`, "bad", "\u2716");
    else if (extruder.loop_alive === false) badge($("gw-state"), "CONTROL LOOP NOT RUNNING", "bad", "\u2716");
    pairs.push(["Latched faults", faults.length ? faults.map(faultText).join(", ") : "none"]);
    for (const [name, value] of pairs) facts.append(el("dt", {}, name), el("dd", {}, value));
  }

  function zoneRow(zone) {
    const input = el("input", { type: "number", step: "1", min: "0", max: zone.max_setpoint_c, "aria-label": `New setpoint for zone ${zone.zone} in \u00B0C` });
    const controls = el("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      if (input.value === "") return;
      act(`Setpoint of zone ${zone.zone}`, "PUT", `/api/v1/extruder/zones/${zone.zone}`, { setpoint_c: Number(input.value) });
    } }, input, el("button", { type: "submit" }, "Set"),
      el("button", { type: "button", onclick: () => act(`Zone ${zone.zone} off`, "PUT", `/api/v1/extruder/zones/${zone.zone}`, { setpoint_c: null }) }, "Off"));
    return el("tr", { dataset: { zone: zone.zone } },
      el("th", { scope: "row" }, `Zone ${zone.zone}`), el("td", { class: "num" }), el("td", { class: "num" }),
      el("td", { class: "num" }), el("td", {}), can("extruder:control") ? el("td", { class: "ctl" }, controls) : el("td", { class: "ctl", hidden: true }));
  }

  function drawTrend(zones, now) {
    const canvas = $("trend");
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, pad = { l: 48, r: 10, t: 10, b: 24 };
    ctx.clearRect(0, 0, w, h);
    let lo = Infinity, hi = -Infinity;
    for (const series of history.values()) for (const p of series) for (const v of [p.temp, p.sp]) {
      if (typeof v === "number" && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!isFinite(lo)) { lo = 0; hi = 100; }
    lo = Math.floor((lo - 5) / 10) * 10; hi = Math.ceil((hi + 5) / 10) * 10;
    const x = (t) => pad.l + (w - pad.l - pad.r) * (1 - (now - t) / TREND_WINDOW_S);
    const y = (v) => h - pad.b - (h - pad.t - pad.b) * (v - lo) / (hi - lo);
    ctx.font = "13px 'DejaVu Sans', sans-serif";
    ctx.fillStyle = "#333"; ctx.strokeStyle = "#d5d8dd"; ctx.lineWidth = 1;
    for (let v = lo; v <= hi; v += Math.max(10, Math.round((hi - lo) / 5 / 10) * 10)) {
      ctx.beginPath(); ctx.moveTo(pad.l, y(v)); ctx.lineTo(w - pad.r, y(v)); ctx.stroke();
      ctx.fillText(`${v}\u00B0`, 4, y(v) + 4);
    }
    ctx.fillText(`last ${TREND_WINDOW_S / 60} min`, w - pad.r - 90, h - 6);
    const legend = $("trend-legend");
    legend.replaceChildren();
    const summary = {};
    zones.forEach((zone, i) => {
      const colour = ZONE_COLOURS[i % ZONE_COLOURS.length];
      const series = history.get(zone.zone) || [];
      for (const [field, dash] of [["temp", []], ["sp", [8, 6]]]) {
        ctx.beginPath(); ctx.setLineDash(dash); ctx.strokeStyle = colour; ctx.lineWidth = field === "temp" ? 3 : 2;
        let started = false;
        for (const p of series) {
          const v = p[field];
          if (typeof v !== "number" || !isFinite(v)) { started = false; continue; }
          if (!started) { ctx.moveTo(x(p.t), y(v)); started = true; } else ctx.lineTo(x(p.t), y(v));
        }
        ctx.stroke();
      }
      ctx.setLineDash([]);
      const temps = series.filter((p) => typeof p.temp === "number");
      summary[zone.zone] = { points: series.length, first_temp: temps.length ? temps[0].temp : null,
        last_temp: temps.length ? temps[temps.length - 1].temp : null, last_setpoint: series.length ? series[series.length - 1].sp : null };
      const solid = el("span", {}, `Zone ${zone.zone} temperature`);
      solid.style.setProperty("--c", colour);
      const dashed = el("span", { class: "dashed" }, `Zone ${zone.zone} setpoint`);
      dashed.style.setProperty("--c", colour);
      legend.append(solid, dashed);
    });
    canvas.dataset.summary = JSON.stringify(summary); // what the trend shows, for assistive tools and tests
  }

  // ---- printers ----------------------------------------------------------------------------------
  // A card says why a printer is down (its link in words), never shows stale values as live (they carry
  // their age, or are hidden before the first report), disables commands the gateway cannot send, and shows
  // each error decoded (module, severity, the vendor's text when the site installed a catalogue, a link).
  const LINK_LEVELS = { online: "ok", connecting: "warn", offline: "warn", auth_failed: "bad", tls_refused: "bad",
    not_configured: "bad" };
  const LINK_ICONS = { ok: "\u2713", warn: "!", bad: "\u2716" };
  const SEVERITY_LEVELS = { fatal: "bad", serious: "bad", common: "warn", info: "unknown" };
  const GCODE_LEVELS = { RUNNING: "ok", PREPARE: "ok", FINISH: "ok", PAUSE: "warn", FAILED: "bad" };
  const LIGHT_NAMES = { chamber_light: "Chamber light", work_light: "Work light" }; // the nodes a command may name
  const LIGHT_LEVELS = { on: "ok", flashing: "warn", off: "unknown" };

  const printerLabel = (p) => p.name || p.serial;
  const lightName = (node) => LIGHT_NAMES[node] || String(node).replaceAll("_", " ");
  const capitalised = (text) => text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
  const isNumber = (v) => typeof v === "number" && isFinite(v);

  function ago(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)} h` + (m ? ` ${m} min` : "");
  }

  function commandsAvailable(p) {
    return typeof p.commands_available === "boolean" ? p.commands_available : p.online !== false;
  }

  function renderPrinters(printers) {
    const list = printerList(printers);
    show($("printers-empty"), list.length === 0);
    const box = $("printers");
    const key = list.map((p) => p.serial).join(",") + "|" + [...permissions].join(",");
    if (key !== lastPrintersKey) { box.replaceChildren(...list.map(printerCard)); lastPrintersKey = key; }
    list.forEach((printer, index) => updatePrinter(box.children[index], printer));
  }

  function printerCard(printer) {
    const card = el("article", { class: "printer", dataset: { serial: printer.serial } },
      el("h3", {}, el("span", { class: "name" }), el("span", { class: "badge state" })),
      el("p", { class: "link" }, el("span", { class: "badge link-badge" }), el("span", { class: "link-detail" })),
      el("p", { class: "age" }),
      el("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, el("div")),
      el("dl", { class: "facts" }),
      el("ul", { class: "errors", "aria-label": "Errors" }),
      el("ul", { class: "lights", "aria-label": "Lights" }));
    if (can("printers:command")) {
      const command = (label, body) => el("button", { type: "button", onclick: () =>
        act(`${label} on ${printerLabel(printer)}`, "POST", commandPath(printer), body) }, label);
      card.append(el("div", { class: "inline commands" }, command("Pause", { command: "pause" }),
        command("Resume", { command: "resume" })), el("p", { class: "commands-note", hidden: true }));
    }
    return card;
  }

  const commandPath = (printer) => `/api/v1/printers/${encodeURIComponent(printer.serial)}/commands`;

  function updatePrinter(card, p) {
    const link = p.link || (p.online === false ? "offline" : "online");
    const online = link === "online" && p.online !== false;
    const hasData = isNumber(p.data_age_s) || isNumber(p.updated_at);
    const stale = !online && hasData;
    const available = commandsAvailable(p);
    const reason = p.link_reason || link.replaceAll("_", " ");
    card.dataset.link = link;
    card.classList.toggle("stale", stale);
    card.querySelector(".name").textContent = printerLabel(p);

    const details = Array.isArray(p.error_details) ? p.error_details : [];
    const codes = Array.isArray(p.errors) ? p.errors : [];
    const decoded = new Set(details.map((d) => d.code));
    const undecoded = codes.filter((code) => !decoded.has(code));
    const grave = details.filter((d) => d.kind === "hms" && SEVERITY_LEVELS[d.severity] === "bad");
    const state = card.querySelector(".state");
    if (!online) {
      badge(state, link === "connecting" ? "CONNECTING" : "OFFLINE", link === "connecting" ? "unknown" : "bad",
        link === "connecting" ? "\u21BB" : "\u2716");
    } else if (grave.length || undecoded.length) {
      const worst = grave.some((d) => d.severity === "fatal") ? "FATAL" : grave.length ? "SERIOUS" : "UNKNOWN";
      badge(state, `${p.gcode_state || "state unknown"} \u2014 ${worst} ERROR`, "bad", "\u2716");
    } else if (details.length) {
      badge(state, `${p.gcode_state || "state unknown"} \u2014 ERROR`, "warn", "!");
    } else {
      badge(state, p.gcode_state || "state unknown", GCODE_LEVELS[p.gcode_state] || "unknown");
    }

    const level = LINK_LEVELS[link] || "unknown";
    const linkBadge = card.querySelector(".link-badge");
    badge(linkBadge, reason, level, LINK_ICONS[level]);
    linkBadge.title = `link: ${link}`;
    const detail = card.querySelector(".link-detail");
    detail.textContent = online ? "" : (p.link_message || "");
    detail.hidden = !detail.textContent;

    const age = card.querySelector(".age");
    age.textContent = stale ? `Last report ${ago(p.data_age_s ?? 0)} ago \u2014 the values below are not live.`
      : !hasData ? (online || link === "connecting" ? "Waiting for the first report." : "No report received from this printer.")
      : "";
    age.hidden = !age.textContent;

    const progress = isNumber(p.progress) ? p.progress : 0;
    const bar = card.querySelector(".progress");
    bar.hidden = !hasData;
    bar.setAttribute("aria-valuenow", String(progress));
    bar.firstChild.style.width = `${Math.max(0, Math.min(100, progress))}%`;
    const facts = card.querySelector(".facts");
    facts.hidden = !hasData;
    facts.replaceChildren();
    if (hasData) {
      const pairs = [];
      if (stale) pairs.push(["Last job state", `${p.gcode_state || "\u2014"} (${ago(p.data_age_s ?? 0)} ago)`]);
      pairs.push(["Progress", `${fmt(p.progress, 0, " %")}, layer ${p.layer ?? "\u2014"} of ${p.total_layers ?? "\u2014"}`],
        ["Remaining", isNumber(p.remaining_min) ? `${p.remaining_min} min` : "\u2014"],
        ["Nozzle", `${fmt(p.nozzle_c, 0, " \u00B0C")} \u2192 ${fmt(p.nozzle_target_c, 0, " \u00B0C")}`],
        ["Bed", `${fmt(p.bed_c, 0, " \u00B0C")} \u2192 ${fmt(p.bed_target_c, 0, " \u00B0C")}`],
        ["Chamber", fmt(p.chamber_c, 0, " \u00B0C")]);
      for (const [name, value] of pairs) facts.append(el("dt", {}, name), el("dd", {}, value));
    }

    updateErrors(card.querySelector(".errors"), details, undecoded);
    updateLights(card, p, available, reason);
    const why = `Commands cannot be sent now: ${reason}.`;
    for (const button of card.querySelectorAll(".commands button")) {
      button.disabled = !available;
      button.title = available ? "" : why;
    }
    const note = card.querySelector(".commands-note");
    if (note) { note.textContent = available ? "" : why; note.hidden = available; }
  }

  function updateErrors(box, details, undecoded) {
    const key = JSON.stringify([details, undecoded]);
    if (box.dataset.key === key) return; // rebuilt only when they change: a link keeps its focus
    box.dataset.key = key;
    box.replaceChildren(...details.map(errorItem), ...undecoded.map((code) => el("li", { class: "error", dataset: { code } },
      el("span", { class: "badge severity", dataset: { level: "bad", icon: "\u2716" } }, "unrecognised"),
      el("span", { class: "text" }, `Error code ${code} (not a known HMS or print error format)`))));
  }

  function errorItem(d) {
    const hms = d.kind === "hms";
    const level = hms ? (SEVERITY_LEVELS[d.severity] || "unknown") : "warn";
    const code = String(d.code || "").replace(/^HMS_/, "");
    const url = typeof d.url === "string" && /^https:\/\//.test(d.url) ? d.url : null; // never a script URL
    return el("li", { class: "error", dataset: { code: d.code, severity: d.severity || "" } },
      el("span", { class: "badge severity", dataset: { level, icon: level === "bad" ? "\u2716" : "!" } },
        hms ? (d.severity || "unknown severity") : "print error"),
      el("span", { class: "module" }, capitalised(d.module || "unknown module")),
      el("span", { class: "text" }, d.text || "No description installed for this code; see the vendor's page."),
      el("span", { class: "code" }, `${hms ? "HMS code" : "Print error"} ${code}`),
      url ? el("a", { class: "vendor", href: url, target: "_blank", rel: "noopener noreferrer" }, "Vendor's page for this code") : null);
  }

  function updateLights(card, p, available, reason) {
    const box = card.querySelector(".lights");
    const lights = (Array.isArray(p.lights) ? p.lights : []).filter((light) => light && light.node);
    const key = lights.map((light) => light.node).join(",");
    if (box.dataset.key !== key) {
      box.replaceChildren(...lights.map((light) => lightItem(p, light.node)));
      box.dataset.key = key;
    }
    box.hidden = lights.length === 0;
    lights.forEach((light, index) => {
      const item = box.children[index];
      const mode = light.mode || "unknown";
      item.dataset.mode = mode;
      badge(item.querySelector(".badge"), mode, LIGHT_LEVELS[mode] || "unknown");
      const button = item.querySelector("button");
      if (!button) return;
      const turnOn = mode === "off";
      button.textContent = turnOn ? "Turn on" : "Turn off";
      button.setAttribute("aria-label", `Turn ${lightName(light.node).toLowerCase()} ${turnOn ? "on" : "off"}`);
      button.disabled = !available;
      button.title = available ? "" : `Commands cannot be sent now: ${reason}.`;
    });
  }

  function lightItem(printer, node) {
    const item = el("li", { dataset: { node } }, el("span", { class: "light-name" }, lightName(node)), el("span", { class: "badge" }));
    if (can("printers:command") && Object.hasOwn(LIGHT_NAMES, node)) {
      item.append(el("button", { type: "button", onclick: () => {
        const on = item.dataset.mode === "off";
        act(`${lightName(node)} ${on ? "on" : "off"} on ${printerLabel(printer)}`, "POST", commandPath(printer),
          { command: "light", node, on });
      } }));
    }
    return item;
  }

  // ---- actions -----------------------------------------------------------------------------------
  async function act(label, method, path, body) {
    notice(`${label}\u2026`, "");
    let response;
    try {
      response = await fetch(path, {
        method, headers: { "Authorization": `Bearer ${token()}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "omit",
      });
    } catch (e) {
      notice(`${label}: the gateway could not be reached. Check the network and try again.`, "error");
      return false;
    }
    if (response.ok) { notice(`${label}: done.`, "ok"); return true; }
    let error = {};
    try { error = (await response.json()).error || {}; } catch (e) { /* not JSON */ }
    notice(`${label}: ${explain(response.status, error)}`, "error");
    if (response.status === 401) showSignIn("Your sign-in is no longer valid. Sign in again.");
    return false;
  }

  function explain(status, error) {
    const message = error.message ? ` (${error.message})` : "";
    switch (status) {
      case 403: return `not allowed for your role (${role}). Ask a technician or an administrator.`;
      case 409: return `refused by the gateway in the current state${message}.`;
      case 422: return `the value is not acceptable${message}.`;
      case 429: return "too many attempts; wait a moment and try again.";
      case 503: return `the part that does this is not available right now${message}.`;
      default: return `failed with status ${status}${message}.`;
    }
  }

  $("estop").addEventListener("click", () => act("EMERGENCY STOP", "POST", "/api/v1/extruder/estop"));
  $("motor-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("Screw motor", "PUT", "/api/v1/extruder/motor", { rpm: Number($("motor-rpm").value) });
  });
  $("motor-stop").addEventListener("click", () => act("Stop motor", "PUT", "/api/v1/extruder/motor", { rpm: 0 }));
  $("reset").addEventListener("click", () => {
    const dialog = $("confirm");
    $("confirm-title").textContent = "Reset latched faults?";
    $("confirm-text").textContent = "Only faults whose cause is gone are cleared. Heaters stay off until you set new setpoints.";
    dialog.returnValue = "";
    dialog.onclose = () => { if (dialog.returnValue === "ok") act("Fault reset", "POST", "/api/v1/extruder/reset"); };
    dialog.showModal();
  });

  if (token()) connect(); else showSignIn("");
})();
