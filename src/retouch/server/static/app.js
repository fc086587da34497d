// retouch web page: plain JavaScript, no build step, no external assets.
// Talks to the REST API of the same server (see /openapi.json).
"use strict";

const TYPES = {
  acne: ["Acne", "#ff4d4d"], red_spot: ["Red spots", "#ff9a1f"], dark_spot: ["Dark spots", "#a070ff"],
  mole: ["Moles", "#21c7ff"], freckle: ["Freckles", "#ffe14d"], wrinkle: ["Wrinkles", "#3be38a"],
  under_eye: ["Under-eye", "#f0f0f0"], shine: ["Shine", "#bdbdbd"],
};
const AUTO = { acne: 1, red_spot: 1, dark_spot: 1 };
const PREVIEW_SIDE = 1600;
const $ = (id) => document.getElementById(id);

const S = { id: null, info: null, state: null, tool: "view", compare: 0.5, busy: 0, stroke: null };

// ---------------------------------------------------------------- API
async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, opts);
  const data = r.status === 204 ? null : await r.json().catch(() => ({ detail: r.statusText }));
  if (!r.ok) {
    const d = data && data.detail;
    const msg = typeof d === "string" ? d : Array.isArray(d) ? d.map((e) => e.msg).join("; ") : r.statusText;
    throw new Error(msg || `HTTP ${r.status}`);
  }
  return data;
}

async function busy(text, fn) {
  S.busy++; $("busytext").textContent = text; $("busy").classList.remove("hidden");
  try { return await fn(); }
  catch (e) { say(e.message, "error"); }
  finally { if (--S.busy === 0) $("busy").classList.add("hidden"); }
}

// ---------------------------------------------------------------- opening a photo
async function openFile(file) {
  if (!file) return;
  if (S.id) api("DELETE", `/v1/sessions/${S.id}`).catch(() => {});
  const fd = new FormData(); fd.append("image", file, file.name);
  await busy(`Analyzing ${file.name}…`, async () => {
    const out = await api("POST", "/v1/sessions", fd);
    S.id = out.id; S.info = out.state.info;
    $("chatlog").innerHTML = "";
    const i = S.info;
    $("fileinfo").textContent = `${i.filename} · ${i.width}×${i.height} · ${i.format || "image"}` +
      `${i.bit_depth === 16 ? " · 16-bit" : ""} · ${i.faces.filter((f) => f.retouched).length} face(s)`;
    $("before").src = `/v1/sessions/${S.id}/image?which=original&max_side=${PREVIEW_SIDE}`;
    $("dropzone").classList.add("hidden"); $("stage").classList.remove("hidden");
    await show(out.state);
    say(out.state.reply, "bot");
  });
}

// ---------------------------------------------------------------- state -> page
function show(st) {
  const fresh = !S.state || st.version !== S.state.version || !$("after").src;
  S.state = st;
  $("undo").disabled = !st.can_undo; $("redo").disabled = !st.can_redo;
  const dl = $("download");
  dl.href = `/v1/sessions/${S.id}/image?download=true`;
  dl.setAttribute("download", S.info.filename.replace(/\.[^.]*$/, "") + "_retouched" + S.info.download_ext);
  dl.classList.remove("disabled"); dl.removeAttribute("aria-disabled");
  for (const id of ["auto", "chatinput", "send"]) $(id).disabled = false;
  renderSliders(st.strengths);
  drawOverlay();
  if (!fresh) return Promise.resolve();
  return new Promise((resolve) => {
    const img = $("after");
    img.onload = () => { sizeCanvas(); drawOverlay(); resolve(); };
    img.onerror = () => resolve();
    img.src = `/v1/sessions/${S.id}/image?which=current&max_side=${PREVIEW_SIDE}&v=${st.version}`;
  });
}

function say(text, who) {
  if (!text) return;
  const div = document.createElement("div");
  div.className = `msg ${who}`; div.textContent = text;
  $("chatlog").appendChild(div); $("chatlog").scrollTop = $("chatlog").scrollHeight;
}

function renderSliders(strengths) {
  const box = $("sliders"); box.innerHTML = "";
  const none = [];
  for (const [t, [label, colour]] of Object.entries(TYPES)) {
    const s = strengths[t]; if (!s) continue;
    if (!s.found) { none.push(label.toLowerCase()); continue; }
    const row = document.createElement("div");
    row.className = "slider" + (s.found ? "" : " none");
    const pct = Math.round(s.strength * 100);
    row.innerHTML = `<span class="dot" style="background:${colour}"></span>
      <span class="name">${label}<span class="count">${s.found ? `${s.treated}/${s.found} treated` : "none found"}</span></span>
      <output>${pct}%</output>
      <input type="range" min="0" max="100" step="5" value="${pct}" data-type="${t}" aria-label="${label} strength" ${s.found ? "" : "disabled"}>`;
    const input = row.querySelector("input"), out = row.querySelector("output");
    input.addEventListener("input", () => { out.textContent = `${input.value}%`; });
    input.addEventListener("change", () => setStrengths({ [t]: input.value / 100 }));
    box.appendChild(row);
  }
  if (none.length) {
    const p = document.createElement("p"); p.className = "hint"; p.textContent = `None found: ${none.join(", ")}.`;
    box.appendChild(p);
  }
}

function drawOverlay() {
  const svg = $("overlay");
  if (!S.info || !S.state) return;
  svg.setAttribute("viewBox", `0 0 ${S.info.width} ${S.info.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const k = S.info.width / Math.max(1, $("after").clientWidth);   // image px per screen px
  let html = "";
  if ($("showoverlay").checked) {
    for (const f of S.info.faces) {
      const [x, y, w, h] = f.bbox;
      html += `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${f.retouched ? "#e0a458" : "#777"}"
        stroke-width="${1.5 * k}" stroke-dasharray="${8 * k} ${5 * k}" rx="${6 * k}"/>`;
    }
    for (const f of S.state.found) {
      const c = (TYPES[f.type] || ["", "#fff"])[1];
      const r = Math.max(f.radius_px * 1.6 + 2 * k, 5 * k);
      html += `<circle class="spot" data-id="${f.id}" cx="${f.center[0]}" cy="${f.center[1]}" r="${r}" fill="none"
        stroke="${c}" stroke-width="${(f.treated ? 2 : 1.2) * k}" ${f.treated ? "" : `stroke-dasharray="${3 * k} ${2 * k}"`}
        opacity="${f.treated ? 0.95 : 0.8}"/>`;
    }
  }
  if (S.cursor && S.tool !== "view") {
    html += `<circle cx="${S.cursor[0]}" cy="${S.cursor[1]}" r="${brushImagePx()}" fill="rgba(224,164,88,.12)"
      stroke="#fff" stroke-width="${1.2 * k}"/>`;
  }
  svg.innerHTML = html;
}

// ---------------------------------------------------------------- before / after
function setCompare(p) {
  S.compare = Math.min(1, Math.max(0, p));
  const pct = (S.compare * 100).toFixed(1);
  $("before").style.clipPath = `inset(0 ${100 - pct}% 0 0)`;
  $("divider").style.left = `${pct}%`;
  $("compare").value = Math.round(S.compare * 100);
  $("compareout").textContent = `${Math.round(S.compare * 100)}%`;
}

// ---------------------------------------------------------------- tools
function setTool(tool) {
  S.tool = tool;
  document.querySelectorAll(".seg").forEach((b) => {
    const on = b.dataset.tool === tool; b.classList.toggle("active", on); b.setAttribute("aria-checked", on);
  });
  const stage = $("stage"); stage.classList.remove("tool-view", "tool-heal", "tool-paint");
  stage.classList.add(`tool-${tool}`);
  $("toolhint").textContent = {
    view: "Drag the divider or the slider to compare.",
    heal: "Click a spot to heal it. Spots I did not find are healed too, at the brush size.",
    paint: "Paint over an area: everything found under the strokes is treated.",
  }[tool];
  if (tool !== "view") setCompare(0);  // work on the result
  drawOverlay();
}

function toImage(ev) {
  const rect = $("after").getBoundingClientRect();
  return [(ev.clientX - rect.left) / rect.width * S.info.width, (ev.clientY - rect.top) / rect.height * S.info.height];
}
function brushImagePx() { return Number($("brush").value) * S.info.width / Math.max(1, $("after").clientWidth); }

function sizeCanvas() {
  // Fit the photo to the workspace (small photos are enlarged too), then match the canvas.
  const img = $("after"), ws = $("workspace"), c = $("paint");
  if (S.info) {
    const k = Math.min((ws.clientWidth - 48) / S.info.width, (ws.clientHeight - 48) / S.info.height);
    img.style.width = `${Math.max(1, Math.floor(S.info.width * k))}px`;
    img.style.height = `${Math.max(1, Math.floor(S.info.height * k))}px`;
  }
  c.width = img.clientWidth; c.height = img.clientHeight;
}

function paintDraw() {
  const c = $("paint"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (!S.stroke) return;
  const k = c.width / S.info.width;
  g.strokeStyle = "rgba(224,164,88,.45)"; g.fillStyle = g.strokeStyle;
  g.lineWidth = 2 * S.stroke.radius * k; g.lineCap = "round"; g.lineJoin = "round";
  g.beginPath();
  S.stroke.points.forEach(([x, y], i) => (i ? g.lineTo(x * k, y * k) : g.moveTo(x * k, y * k)));
  if (S.stroke.points.length === 1) { const [x, y] = S.stroke.points[0]; g.arc(x * k, y * k, S.stroke.radius * k, 0, 7); g.fill(); }
  else g.stroke();
}

async function turn(label, method, path, body) {
  if (!S.id) return;
  await busy(label, async () => { const st = await api(method, path, body); await show(st); say(st.reply, st.kind === "error" ? "error" : "bot"); });
}
const setStrengths = (values) => turn("Applying…", "PUT", `/v1/sessions/${S.id}/strengths`, values);

// ---------------------------------------------------------------- wiring
function wire() {
  $("file").addEventListener("change", (e) => openFile(e.target.files[0]));
  const ws = $("workspace"), dz = $("dropzone");
  ws.addEventListener("dragover", (e) => { e.preventDefault(); dz.classList.add("over"); });
  ws.addEventListener("dragleave", () => dz.classList.remove("over"));
  ws.addEventListener("drop", (e) => { e.preventDefault(); dz.classList.remove("over"); openFile(e.dataTransfer.files[0]); });
  dz.addEventListener("click", (e) => { if (e.target === dz) $("file").click(); });

  $("undo").addEventListener("click", () => turn("Undoing…", "POST", `/v1/sessions/${S.id}/undo`));
  $("redo").addEventListener("click", () => turn("Redoing…", "POST", `/v1/sessions/${S.id}/redo`));
  $("auto").addEventListener("click", () => setStrengths(AUTO));
  $("chatform").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("chatinput").value.trim(); if (!text || !S.id) return;
    $("chatinput").value = ""; say(text, "user");
    turn("Thinking…", "POST", `/v1/sessions/${S.id}/messages`, { text });
  });
  document.querySelectorAll(".seg").forEach((b) => b.addEventListener("click", () => setTool(b.dataset.tool)));
  $("brush").addEventListener("input", () => { $("brushout").textContent = `${$("brush").value} px`; drawOverlay(); });
  $("compare").addEventListener("input", () => setCompare($("compare").value / 100));
  $("showoverlay").addEventListener("change", drawOverlay);
  window.addEventListener("resize", () => { sizeCanvas(); drawOverlay(); });

  // Divider drag (compare tool) and heal / paint on the canvas.
  const canvas = $("paint");
  let dragging = false;
  $("divider").addEventListener("pointerdown", (e) => { dragging = true; e.preventDefault(); });
  canvas.addEventListener("pointerdown", (e) => {
    if (!S.info) return;
    const p = toImage(e);
    if (S.tool === "view") { dragging = true; setCompare(p[0] / S.info.width); return; }
    if (S.tool === "heal") {
      turn("Healing…", "POST", `/v1/sessions/${S.id}/heal`, { x: p[0], y: p[1], radius: brushImagePx() });
      return;
    }
    canvas.setPointerCapture(e.pointerId);
    S.stroke = { points: [p], radius: brushImagePx() }; paintDraw();
  });
  window.addEventListener("pointermove", (e) => {
    if (!S.info) return;
    const p = toImage(e);
    if (dragging) { setCompare(p[0] / S.info.width); return; }
    S.cursor = p;
    if (S.stroke) { S.stroke.points.push(p); paintDraw(); }
    if (S.tool !== "view") drawOverlay();
  });
  window.addEventListener("pointerup", async () => {
    dragging = false;
    if (!S.stroke) return;
    const stroke = S.stroke; S.stroke = null;
    await turn("Treating the painted area…", "POST", `/v1/sessions/${S.id}/paint`, { strokes: [stroke] });
    paintDraw();
  });
  canvas.addEventListener("pointerleave", () => { S.cursor = null; drawOverlay(); });

  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
      e.preventDefault(); (e.shiftKey ? $("redo") : $("undo")).click();
    }
  });
  setCompare(0.5); setTool("view");
}

wire();
