/* The session review page: one view for the live review server and the offline HTML report.
 *
 * The page's config (<script id="review-config">) says which: "live" reads the session list
 * and sessions from the server's API (the access token comes from the page's own URL);
 * "report" reads the one session inlined in <script id="session-data">. Charts are uPlot,
 * all on one time axis: the hover cursor and zoom are shared, and a click on a chart or an
 * utterance sets the selected moment everywhere (marker, transcript, thumbnail).
 * Data never goes through innerHTML: every text is set with textContent.
 */
(function () {
  "use strict";

  const EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
  // One colour per emotion, used by every chart, chip and transcript line.
  const COLOURS = {
    angry: "#e03131",
    disgust: "#5c940d",
    fear: "#7048e8",
    happy: "#f59f00",
    sad: "#1971c2",
    surprise: "#e64980",
    neutral: "#868e96",
  };
  const EVENT_COLOURS = {
    disagreement: "#f76707",
    camera_lost: "#c92a2a",
    microphone_lost: "#c92a2a",
    camera_back: "#2b8a3e",
    microphone_back: "#2b8a3e",
    stage_restarted: "#495057",
    sink_failed: "#862e9c",
    long_pause: "#adb5bd",
    looked_away: "#0c8599",
    eye_contact_calibrated: "#2b8a3e",
  };
  const FILLER_COLOUR = "#e8590c";
  const PAUSE_COLOUR = "#868e96";
  const TRANSCRIPT_PAUSE_S = 1.0; // pauses at least this long are marked between the transcript's lines
  const MODALITY_NAMES = { face: "Face", voice: "Voice", text: "Words" };
  const SYNC_KEY = "review";
  const TIME_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

  const state = {
    source: null,
    data: null,
    charts: [],
    view: { min: 0, max: 1 },
    selected: null,
    hiddenEmotions: new Set(),
    scaling: false,
  };

  // ------------------------------------------------------------ small helpers

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "style") Object.assign(node.style, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child == null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clock(seconds, decimals) {
    if (seconds == null || !isFinite(seconds)) return "–";
    const sign = seconds < 0 ? "-" : "";
    // Round to the digits shown before splitting, so 59.96 s reads 1:00.0, not 0:60.0.
    const scale = 10 ** (decimals || 0);
    const rounded = decimals ? Math.round(Math.abs(seconds) * scale) / scale : Math.floor(Math.abs(seconds));
    const h = Math.floor(rounded / 3600);
    const m = Math.floor((rounded - h * 3600) / 60);
    const s = rounded - h * 3600 - m * 60;
    const sec = decimals ? s.toFixed(decimals).padStart(3 + decimals, "0") : String(s).padStart(2, "0");
    return h ? `${sign}${h}:${String(m).padStart(2, "0")}:${sec}` : `${sign}${m}:${sec}`;
  }

  function duration(seconds) {
    if (!seconds) return "0 s";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    return clock(seconds);
  }

  function percent(p) {
    return p == null ? "–" : `${Math.round(p * 100)}\u00a0%`;
  }

  function signed(v) {
    return v == null ? "–" : (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(2);
  }

  function chip(label, extra) {
    if (!label) return el("span", { class: "chip chip-none" }, "no data");
    const colour = COLOURS[label] || "#495057";
    return el("span", { class: "chip", style: { background: colour } }, label, extra ? ` ${extra}` : null);
  }

  function prettyKind(kind) {
    const text = String(kind || "").replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // "Tue 25 Nov 2026, 20:31": the wall clock the session was recorded at, as it was written down.
  function formatStarted(text) {
    const match = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})/.exec(String(text || ""));
    if (!match) return String(text || "");
    const [, year, month, day, hours, minutes] = match;
    const date = new Date(Number(year), Number(month) - 1, Number(day));
    const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return `${days[date.getDay()]} ${Number(day)} ${months[date.getMonth()]} ${year}, ${hours}:${minutes}`;
  }

  // Index of the value in the sorted array `xs` nearest to t (-1 when empty).
  function nearest(xs, t) {
    if (!xs.length) return -1;
    let lo = 0;
    let hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && Math.abs(xs[lo - 1] - t) <= Math.abs(xs[lo] - t) ? lo - 1 : lo;
  }

  function readJSONBlock(id) {
    const node = $(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // ------------------------------------------------------------ data sources

  function liveSource() {
    const token = new URLSearchParams(location.search).get("token") || "";
    const withToken = (path, params) => {
      const query = new URLSearchParams(Object.assign({}, params || {}, { token }));
      return `${path}?${query}`;
    };
    const sessionPath = (id) => `api/sessions/${encodeURIComponent(id)}`;
    async function getJSON(url) {
      const response = await fetch(url, { cache: "no-store" });
      let body = null;
      try {
        body = await response.json();
      } catch (err) {
        body = null;
      }
      if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
      return body;
    }
    return {
      live: true,
      list: () => getJSON(withToken("api/sessions")),
      session: (id) => getJSON(withToken(sessionPath(id))),
      thumbnail: (data, t) => {
        const i = nearest(data.thumbnails.t, t);
        return i < 0 ? null : withToken(`${sessionPath(data.id)}/thumbnail`, { t: data.thumbnails.t[i] });
      },
      exportUrl: (id, format) => withToken(`${sessionPath(id)}/export.${format}`),
    };
  }

  function reportSource(data) {
    return {
      live: false,
      thumbnail: (_, t) => {
        const images = data.thumbnail_images || { t: [], src: [] };
        const i = nearest(images.t, t);
        return i < 0 ? null : images.src[i];
      },
    };
  }

  // ------------------------------------------------------------ the session list (live only)

  function renderList(listing, activeId) {
    const list = $("session-list");
    list.replaceChildren();
    $("folder").textContent = listing.folder;
    if (!listing.sessions.length) {
      list.append(el("li", { class: "muted" }, "No sessions yet. Record one with `emotion-overlay run`."));
    }
    for (const item of listing.sessions) {
      const bad = Boolean(item.problem);
      const button = el(
        "button",
        {
          class: "session-item" + (bad ? " unreadable" : "") + (item.id === activeId ? " active" : ""),
          "data-id": item.id,
          title: bad ? item.problem : item.id,
          onclick: () => openSession(item.id),
        },
        el("span", { class: "session-date" }, formatStarted(item.started) || item.id),
        el(
          "span",
          { class: "session-meta" },
          bad ? el("span", { class: "warning" }, "unreadable") : duration(item.duration_s),
          bad ? null : chip(item.dominant)
        ),
        // An unreadable file is named (its file name: the date alone does not say which file to look at).
        el("span", { class: "session-id" }, bad ? `${item.path.split("/").pop()}: ${item.problem}` : item.id)
      );
      list.append(el("li", {}, button));
    }
  }

  function markActive(id) {
    for (const button of document.querySelectorAll(".session-item")) {
      button.classList.toggle("active", button.dataset.id === id);
    }
  }

  async function openSession(id) {
    markActive(id);
    const params = new URLSearchParams(location.search);
    params.set("session", id);
    history.replaceState(null, "", `?${params}`);
    showMessage("Loading…");
    try {
      const data = await state.source.session(id);
      renderSession(data);
      setExports(id);
    } catch (err) {
      $("exports").hidden = true;
      showMessage(`This session cannot be shown: ${err.message}`, "error");
    }
  }

  function setExports(id) {
    for (const link of document.querySelectorAll("#exports a")) {
      link.href = state.source.exportUrl(id, link.dataset.format);
      link.setAttribute("download", `${id}.${link.dataset.format}`);
    }
    $("exports").hidden = false;
  }

  function showMessage(text, kind) {
    destroyCharts();
    $("session").hidden = true;
    const placeholder = $("placeholder");
    placeholder.hidden = false;
    placeholder.textContent = text;
    placeholder.classList.toggle("error", kind === "error");
    document.body.dataset.state = kind === "error" ? "error" : "loading";
  }

  // ------------------------------------------------------------ one session

  function renderSession(data) {
    destroyCharts();
    state.data = data;
    state.selected = null;
    const end = Math.max(data.summary.duration_s || 0, lastTime(data), 1);
    state.view = { min: 0, max: end };
    $("placeholder").hidden = true;
    $("session").hidden = false;
    renderHead(data);
    renderSummary(data.summary);
    renderDeliverySummary(data);
    renderAttentionSummary(data);
    renderLegend();
    renderCharts(data);
    renderTranscript(data.utterances, deliveryOf(data));
    renderEvents(data.events);
    renderCursor(null);
    showView();
    document.body.dataset.state = "ready";
    document.body.dataset.session = data.id;
    document.body.dataset.delivery = deliveryOf(data).measured ? "measured" : "absent";
    document.body.dataset.attention = attentionOf(data).measured ? "measured" : "absent";
    document.body.dataset.charts = String(state.charts.length);
  }

  function lastTime(data) {
    const ends = [data.fused.t, ...Object.values(data.modalities).map((m) => m.t)]
      .filter((t) => t.length)
      .map((t) => t[t.length - 1]);
    for (const u of data.utterances) ends.push(u.end);
    return Math.max(0, ...ends);
  }

  function renderHead(data) {
    const meta = data.metadata || {};
    $("session-title").textContent = data.id;
    const parts = [formatStarted(data.summary.started)];
    if (meta.kind) parts.push(prettyKind(meta.kind));
    if (meta.source) parts.push(String(meta.source));
    if (data.summary.recognizer) parts.push(`speech: ${data.summary.recognizer}`);
    $("session-subtitle").textContent = parts.filter(Boolean).join(" · ");
    document.title = `${data.id} · emotion-overlay`;
  }

  function card(title, value, note, key) {
    return el(
      "div",
      { class: "card", "data-card": key },
      el("div", { class: "card-title" }, title),
      el("div", { class: "card-value" }, value),
      note ? el("div", { class: "card-note" }, note) : null
    );
  }

  function renderSummary(s) {
    const modalities = el(
      "div",
      { class: "modalities" },
      ["face", "voice", "text"].map((m) =>
        el("span", { class: "modality", "data-modality": m }, el("span", { class: "modality-name" }, MODALITY_NAMES[m]), chip(s.modalities[m]))
      )
    );
    const closed = s.eyes_closed ? `, ${s.eyes_closed} eyes-closed spell${s.eyes_closed > 1 ? "s" : ""}` : "";
    $("summary").replaceChildren(
      card("Length", duration(s.duration_s), null, "duration"),
      card("Dominant", chip(s.dominant_emotion), s.dominant_emotion ? `${percent(s.dominant_share)} of the time` : "no fused readings", "dominant"),
      card("Each modality", modalities, null, "modalities"),
      card("Blinks", String(s.blinks), `${s.blinks_per_minute} per minute${closed}`, "blinks"),
      card("Utterances", String(s.utterances), s.recognizer ? `recognised by ${s.recognizer}` : "no speech recognised", "utterances"),
      card("Disagreements", String(s.disagreements), "face, voice and words apart", "disagreements"),
      card("Valence · arousal", `${signed(s.mean_valence)} · ${signed(s.mean_arousal)}`, "session means, −1 to +1", "mood")
    );
  }

  // ------------------------------------------------------------ delivery (pace, pauses, fillers, pitch, loudness)

  // A session from before delivery was measured has no `delivery` (or one with measured false).
  function deliveryOf(data) {
    return data.delivery && data.delivery.measured ? data.delivery : { measured: false, phrases: [], pauses: [], fillers: [] };
  }

  function renderDeliverySummary(data) {
    const s = data.summary;
    const d = deliveryOf(data);
    const box = $("delivery-summary");
    if (!d.measured) {
      box.replaceChildren(card("Delivery", "not measured", "this session was recorded before emotion-overlay measured pace, pauses and pitch", "delivery"));
      return;
    }
    const [low, high] = d.comfortable_wpm;
    const pace = s.pace_wpm == null ? "–" : `${Math.round(s.pace_wpm)} wpm`;
    const paceNote = s.pace_wpm == null ? "no words recognised" : s.pace_wpm < low ? `slow (comfortable ${low}–${high})` : s.pace_wpm > high ? `fast (comfortable ${low}–${high})` : `comfortable (${low}–${high})`;
    const longPauses = s.long_pauses || [];
    const pitch = s.pitch_range_semitones == null ? "–" : `${s.pitch_range_semitones.toFixed(1)} st`;
    const loud = s.level_dbfs == null ? "–" : `${Math.round(s.level_dbfs)} dBFS`;
    const loudNote = s.level_dbfs == null ? "no speech" : [s.too_quiet ? "too quiet" : "loud enough", s.clipping ? "clipping" : null].filter(Boolean).join(", ");
    box.replaceChildren(
      card("Pace", pace, paceNote, "pace"),
      card("Fillers", String(s.fillers == null ? "–" : s.fillers), s.fillers_per_minute == null ? "no words recognised" : `${s.fillers_per_minute.toFixed(1)} per minute of speaking`, "fillers"),
      card("Long pauses", String(longPauses.length), `of ${d.long_pause_s} s or more; ${s.pauses} pauses in all`, "pauses"),
      card("Pitch range", pitch, s.monotone == null ? "too little voicing" : s.monotone ? "monotone" : "varied", "pitch"),
      card("Loudness", loud, loudNote, "loudness"),
      card("Talk share", percent(s.talk_share), s.speaking_s ? `${duration(s.speaking_s)} speaking` : "no speech", "talk")
    );
  }

  // A phrase's pitch range as a flat segment over its span (null between), split into varied and monotone.
  function pitchSeries(phrases) {
    const t = [];
    const varied = [];
    const monotone = [];
    const push = (time, range, flat) => {
      t.push(t.length ? Math.max(time, t[t.length - 1] + 1e-3) : time);
      varied.push(range != null && !flat ? range : null);
      monotone.push(range != null && flat ? range : null);
    };
    phrases.forEach((p, i) => {
      if (i > 0) push((t[t.length - 1] + p.start) / 2, null, false);
      push(p.start, p.range_st, p.monotone);
      push(p.end, p.range_st, p.monotone);
    });
    return { t, varied, monotone };
  }

  function addDeliveryCharts(data) {
    const d = deliveryOf(data);
    const absent = "Delivery was not measured: the session was recorded by an earlier version.";
    const pace = d.measured ? d.pace : { t: [], wpm: [], window_s: 30 };
    addChart({
      key: "pace",
      title: "Pace",
      note: `words per minute over the last ${pace.window_s} s · band: comfortable · grey: pauses · orange: fillers`,
      x: pace.t,
      series: [{ label: "wpm", stroke: "#1c7ed6", width: 1.8, value: (u, v) => (v == null ? "–" : `${Math.round(v)}`) }],
      values: [pace.wpm],
      range: (u, min, max) => [0, Math.max(200, Math.ceil(((max || 0) * 1.15) / 20) * 20)],
      height: 150,
      draw: (u) => drawDelivery(u, d),
      empty: d.measured ? "No speech was heard." : absent,
    });
    const pitch = pitchSeries(d.phrases.filter((p) => p.range_st != null));
    addChart({
      key: "pitch",
      title: "Pitch range",
      note: `each phrase's pitch range in semitones · red: monotone for this voice · dashed: ${d.monotone_below_st || 3} st`,
      x: pitch.t,
      series: [
        { label: "varied", stroke: "#2b8a3e", width: 3, points: { show: false }, value: (u, v) => (v == null ? "–" : `${v.toFixed(1)} st`) },
        { label: "monotone", stroke: "#e03131", width: 3, points: { show: false }, value: (u, v) => (v == null ? "–" : `${v.toFixed(1)} st`) },
      ],
      values: [pitch.varied, pitch.monotone],
      range: (u, min, max) => [0, Math.max(12, Math.ceil((max || 0) + 2))],
      height: 130,
      draw: (u) => horizontal(u, d.monotone_below_st, "#adb5bd", [5, 4]),
      empty: d.measured ? "Too little voiced speech to follow the pitch." : absent,
    });
  }

  function horizontal(u, value, colour, dash) {
    if (value == null) return;
    const ctx = u.ctx;
    const y = Math.round(u.valToPos(value, "y", true));
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.lineWidth = devicePixelRatio;
    ctx.setLineDash(dash.map((n) => n * devicePixelRatio));
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, y + 0.5);
    ctx.lineTo(u.bbox.left + u.bbox.width, y + 0.5);
    ctx.stroke();
    ctx.restore();
  }

  // The comfortable pace as a band, pauses as grey spans (long ones darker), fillers as orange ticks at the top.
  function drawDelivery(u, d) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    const [low, high] = d.comfortable_wpm;
    const y0 = u.valToPos(high, "y", true);
    const y1 = u.valToPos(low, "y", true);
    ctx.fillStyle = "rgba(43, 138, 62, 0.10)";
    ctx.fillRect(left, y0, width, y1 - y0);
    for (const pause of d.pauses) {
      const x0 = u.valToPos(pause.start, "x", true);
      const x1 = u.valToPos(pause.start + pause.length, "x", true);
      ctx.globalAlpha = pause.long ? 0.35 : 0.15;
      ctx.fillStyle = PAUSE_COLOUR;
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = FILLER_COLOUR;
    for (const filler of d.fillers) {
      const x = u.valToPos(filler.start, "x", true);
      if (x < left || x > left + width) continue;
      ctx.fillRect(Math.round(x) - devicePixelRatio, top, 2 * devicePixelRatio, 10 * devicePixelRatio);
    }
    ctx.restore();
  }

  // ------------------------------------------------------------ attention (eye contact, head, blinks)

  // A session from before eyes and head were followed has no `attention` (or one with measured false).
  function attentionOf(data) {
    return data.attention && data.attention.measured ? data.attention : { measured: false, t: [], yaw: [], pitch: [], eye_contact: [], looked_away: [] };
  }

  function renderAttentionSummary(data) {
    const a = data.summary.attention;
    const box = $("attention-summary");
    if (!attentionOf(data).measured || !a) {
      box.replaceChildren(card("Attention", "not measured", "this session was recorded before emotion-overlay followed the eyes and head", "attention"));
      return;
    }
    const [low, high] = a.blink_band_per_minute;
    const rate = a.blinks_per_minute == null ? "–" : `${Math.round(a.blinks_per_minute)}/min`;
    box.replaceChildren(
      card("Face in view", percent(a.face_present_share), "of the time the camera was read", "face-present"),
      card("Eye contact", a.eye_contact_share == null ? "–" : percent(a.eye_contact_share), "looking into the camera while in view", "eye-contact"),
      card("Looked away", String(a.looked_away), `for over 1 s; ${Math.round(a.looked_away_s)} s in all`, "looked-away"),
      card("Blink rate", rate, a.blink_band == null ? "no face in view" : `${a.blink_band} the ${low}–${high} of rest`, "blink-rate"),
      card("Head movement", a.head_movement_deg == null ? "–" : `${Math.round(a.head_movement_deg)}°`, "spread of where the head pointed", "head")
    );
  }

  // Spans shaded across a chart (looked away).
  function shade(u, spans, colour) {
    const ctx = u.ctx;
    const { top, height } = u.bbox;
    ctx.save();
    ctx.globalAlpha = 0.15;
    ctx.fillStyle = colour;
    for (const span of spans) {
      const x0 = u.valToPos(span.start, "x", true);
      const x1 = u.valToPos(span.end, "x", true);
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    }
    ctx.restore();
  }

  function addAttentionCharts(data) {
    const a = attentionOf(data);
    const absent = "Eyes and head were not followed: the session was recorded by an earlier version.";
    const degrees = (u, v) => (v == null ? "–" : `${Math.round(v)}°`);
    addChart({
      key: "eye-contact",
      title: "Eye contact",
      note: "chance of looking into the camera · dashed: where it counts as eye contact · shaded: looked away over 1 s · gaps: no face",
      x: a.t,
      series: [{ label: "eye contact", stroke: "#0c8599", width: 1.6, value: (u, v) => (v == null ? "–" : `${Math.round(v * 100)}%`) }],
      values: [a.eye_contact],
      range: [0, 1],
      height: 120,
      gap: 1.0,
      draw: (u) => {
        shade(u, a.looked_away, "#0c8599");
        horizontal(u, a.threshold, "#adb5bd", [5, 4]);
      },
      empty: a.measured ? "No face was tracked." : absent,
    });
    addChart({
      key: "head",
      title: "Head",
      note: "degrees · yaw: turned to the person's own right (+) or left (−) · pitch: up (+) or down (−)",
      x: a.t,
      series: [
        { label: "yaw", stroke: "#7048e8", width: 1.4, value: degrees },
        { label: "pitch", stroke: "#e8590c", width: 1.4, value: degrees },
      ],
      values: [a.yaw, a.pitch],
      range: (u, min, max) => {
        const reach = Math.max(20, Math.ceil(Math.max(Math.abs(min || 0), Math.abs(max || 0)) / 10) * 10);
        return [-reach, reach];
      },
      height: 120,
      gap: 1.0,
      empty: a.measured ? "No face was tracked." : absent,
    });
  }

  function renderLegend() {
    const legend = $("legend");
    legend.replaceChildren(
      el("span", { class: "legend-title" }, "Emotions"),
      ...EMOTIONS.map((label) =>
        el(
          "button",
          {
            class: "legend-item" + (state.hiddenEmotions.has(label) ? " off" : ""),
            "data-label": label,
            title: "Show or hide this emotion in every chart",
            onclick: (event) => toggleEmotion(label, event.currentTarget),
          },
          el("span", { class: "swatch", style: { background: COLOURS[label] } }),
          label
        )
      ),
      el("span", { class: "legend-hint muted" }, "Drag on a chart to zoom, double-click to zoom out, click to pick a moment.")
    );
  }

  function toggleEmotion(label, button) {
    const hidden = !state.hiddenEmotions.has(label);
    if (hidden) state.hiddenEmotions.add(label);
    else state.hiddenEmotions.delete(label);
    button.classList.toggle("off", hidden);
    for (const chart of state.charts) {
      if (!chart.emotions) continue;
      chart.plot.setSeries(EMOTIONS.indexOf(label) + 1, { show: !hidden });
    }
  }

  // ------------------------------------------------------------ charts

  function destroyCharts() {
    for (const chart of state.charts) chart.plot.destroy();
    state.charts = [];
    $("charts").replaceChildren();
  }

  function chartWidth() {
    return Math.max(320, $("charts").clientWidth - 2);
  }

  const SPARSE_POINTS = 20;
  const GAP_S = 2.0; // readings further apart than this are not joined (fused 5/s, face up to 10/s, voice every 0.5 s)

  function emotionSeries(points, width) {
    return EMOTIONS.map((label) => ({
      label,
      stroke: COLOURS[label],
      width: width || 1.6,
      show: !state.hiddenEmotions.has(label),
      points: { show: points, size: 5, fill: COLOURS[label] },
      value: (u, v) => percent(v),
    }));
  }

  function renderCharts(data) {
    const fused = data.fused;
    addChart({
      key: "fused",
      title: "Fused emotion",
      note: "the live estimate: face, voice and words combined",
      x: fused.t,
      series: emotionSeries(fused.t.length < SPARSE_POINTS),
      values: EMOTIONS.map((l) => fused.p[l]),
      gap: GAP_S,
      range: [0, 1],
      height: 230,
      emotions: true,
      empty: "No fused readings were recorded.",
    });
    for (const modality of ["face", "voice", "text"]) {
      const series = modality === "text" && data.utterances.length ? utteranceSeries(data.utterances) : data.modalities[modality];
      addChart({
        key: modality,
        title: MODALITY_NAMES[modality],
        note: { face: "facial expression", voice: "tone of voice", text: "emotion of each recognised utterance, over its span" }[modality],
        x: series.t,
        // Dots where there are few readings: a lone reading draws no line.
        series: emotionSeries(
          (modality === "text" && !data.utterances.length) || series.t.length < SPARSE_POINTS,
          modality === "text" ? 2.4 : 1.6,
        ),
        values: EMOTIONS.map((l) => series.p[l]),
        gap: modality === "text" ? null : GAP_S, // the words' chart has its gaps between utterances already
        range: [0, 1],
        height: 150,
        emotions: true,
        bands: modality === "text" ? data.utterances : null,
        empty: `No ${MODALITY_NAMES[modality].toLowerCase()} readings in this session.`,
      });
    }
    addChart({
      key: "valence-arousal",
      title: "Valence & arousal",
      note: "pleasant ↔ unpleasant, calm ↔ excited",
      x: fused.t,
      series: [
        { label: "valence", stroke: "#212529", width: 1.8, value: (u, v) => signed(v) },
        { label: "arousal", stroke: "#0b7285", width: 1.8, dash: [6, 4], value: (u, v) => signed(v) },
      ],
      values: [fused.valence, fused.arousal],
      gap: GAP_S,
      range: [-1, 1],
      height: 150,
      empty: "No fused readings were recorded.",
    });
    addBlinkChart(data);
    addDeliveryCharts(data);
    addAttentionCharts(data);
  }

  // Each utterance's text emotion as a flat segment from its start to its end, with gaps between.
  function utteranceSeries(utterances) {
    const t = [];
    const p = Object.fromEntries(EMOTIONS.map((l) => [l, []]));
    const push = (time, values) => {
      t.push(t.length ? Math.max(time, t[t.length - 1] + 1e-3) : time); // uPlot needs rising times
      for (const l of EMOTIONS) p[l].push(values ? values[l] : null);
    };
    utterances.forEach((u, i) => {
      if (i > 0) push((t[t.length - 1] + u.start) / 2, null);
      push(u.start, u.p);
      push(u.end, u.p);
    });
    return { t, p };
  }

  function addBlinkChart(data) {
    const blinks = data.blinks;
    const rate = blinks.rate;
    const hasFace = data.modalities.face.t.length > 0;
    const times = new Set(hasFace ? rate.t : []);
    for (const b of blinks.events) times.add(b.start);
    const x = [...times].sort((a, b) => a - b);
    const rateAt = new Map(rate.t.map((t, i) => [t, rate.per_minute[i]]));
    const kindAt = new Map(blinks.events.map((b) => [b.start, b.kind]));
    const marker = (kind) => x.map((t) => (kindAt.get(t) === kind ? 0.5 : null));
    const pointsOnly = (label, colour, shapeSize) => ({
      label,
      scale: "marks",
      stroke: colour,
      fill: colour,
      width: 0,
      paths: () => null,
      points: { show: true, size: shapeSize, fill: colour, stroke: colour },
      value: (u, v) => (v == null ? "–" : "●"),
    });
    addChart({
      key: "blinks",
      title: "Blinks",
      note: `markers: each blink · line: blinks per minute over the last ${rate.window_s} s`,
      x,
      series: [
        { label: "per minute", stroke: "#343a40", width: 1.6, spanGaps: true, value: (u, v) => (v == null ? "–" : v.toFixed(1)) },
        pointsOnly("blink", "#1971c2", 7),
        pointsOnly("eyes closed", "#f76707", 9),
      ],
      values: [x.map((t) => (rateAt.has(t) ? rateAt.get(t) : null)), marker("blink"), marker("eyes_closed")],
      range: (u, min, max) => [0, Math.max(30, Math.ceil(((max || 0) * 1.15) / 10) * 10)],
      extraScales: { marks: { range: [0, 8] } },
      height: 140,
      empty: "No face was tracked, so no blinks were counted.",
    });
  }

  function addChart(spec) {
    const box = el(
      "section",
      { class: "chart", "data-chart": spec.key, "data-points": String(spec.x.length) },
      el("h3", {}, spec.title, spec.note ? el("span", { class: "chart-note" }, spec.note) : null)
    );
    $("charts").append(box);
    if (!spec.x.length) {
      box.classList.add("empty");
      box.append(el("p", { class: "no-data" }, spec.empty || "No data."));
      return;
    }
    const plotBox = el("div", { class: "plot" });
    box.append(plotBox);
    const axis = { stroke: "#495057", grid: { stroke: "#e9ecef", width: 1 }, ticks: { stroke: "#dee2e6", width: 1 }, font: "11px system-ui, sans-serif" };
    const options = {
      width: chartWidth(),
      height: spec.height,
      cursor: {
        sync: { key: SYNC_KEY },
        drag: { x: true, y: false, dist: 6 },
        points: { size: 6 },
        bind: { dblclick: () => null }, // our own double-click zooms every chart out to the whole session
      },
      select: { show: true },
      scales: Object.assign({ x: { time: false }, y: { range: spec.range } }, spec.extraScales || {}),
      axes: [
        Object.assign({}, axis, {
          incrs: TIME_STEPS,
          values: (u, splits, ax, space, incr) => splits.map((v) => clock(v, incr < 1 ? 1 : 0)),
        }),
        Object.assign({}, axis, {
          size: 46,
          values: (u, splits) => splits.map((v) => (spec.range && spec.range[1] === 1 && spec.range[0] === 0 ? `${Math.round(v * 100)}%` : String(+v.toFixed(2)))),
        }),
      ],
      series: [{ label: "time", value: (u, v) => clock(v, 1) }, ...spec.series],
      legend: { live: true },
      hooks: {
        draw: [(u) => spec.draw && spec.draw(u), (u) => drawOverlays(u, spec)],
        setScale: [(u, key) => key === "x" && syncZoom(u)],
      },
    };
    const [x, values, gaps] = spec.gap ? brokenAtGaps(spec.x, spec.values, spec.gap) : [spec.x, spec.values, 0];
    box.dataset.gaps = String(gaps);
    const plot = new uPlot(options, [x, ...values], plotBox);
    const chart = { key: spec.key, plot, emotions: Boolean(spec.emotions), box };
    state.charts.push(chart);
    bindClicks(plot);
    state.scaling = true;
    plot.setScale("x", { min: state.view.min, max: state.view.max });
    state.scaling = false;
    box.dataset.drawn = "1";
  }

  // A stretch without readings (paused, no face, silence) is drawn as a break, not as a line
  // joining its two ends: a point with no values goes between readings further apart than `gap` s.
  function brokenAtGaps(x, values, gap) {
    const outX = [];
    const outValues = values.map(() => []);
    let gaps = 0;
    for (let i = 0; i < x.length; i++) {
      outX.push(x[i]);
      values.forEach((column, k) => outValues[k].push(column[i]));
      if (i + 1 < x.length && x[i + 1] - x[i] > gap) {
        outX.push((x[i] + x[i + 1]) / 2);
        outValues.forEach((column) => column.push(null));
        gaps += 1;
      }
    }
    return [outX, outValues, gaps];
  }

  // Vertical lines for events and the selected moment; utterance spans on the words chart.
  function drawOverlays(u, spec) {
    const ctx = u.ctx;
    const { top, height } = u.bbox;
    const line = (t, colour, width, dash) => {
      const x = Math.round(u.valToPos(t, "x", true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
      ctx.save();
      ctx.strokeStyle = colour;
      ctx.lineWidth = width * devicePixelRatio;
      ctx.setLineDash(dash.map((d) => d * devicePixelRatio));
      ctx.beginPath();
      ctx.moveTo(x + 0.5, top);
      ctx.lineTo(x + 0.5, top + height);
      ctx.stroke();
      ctx.restore();
    };
    if (spec.bands) {
      ctx.save();
      for (const u2 of spec.bands) {
        const x0 = u.valToPos(u2.start, "x", true);
        const x1 = u.valToPos(u2.end, "x", true);
        ctx.globalAlpha = 0.12;
        ctx.fillStyle = COLOURS[u2.label] || "#868e96";
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      }
      ctx.restore();
    }
    for (const event of state.data.events) line(event.t, EVENT_COLOURS[event.kind] || "#868e96", 1, [4, 3]);
    if (state.selected != null) line(state.selected, "#212529", 1.5, []);
  }

  function syncZoom(source) {
    if (state.scaling) return;
    const { min, max } = source.scales.x;
    if (min == null || max == null) return;
    state.view = { min, max };
    state.scaling = true;
    for (const chart of state.charts) {
      if (chart.plot !== source) chart.plot.setScale("x", { min, max });
    }
    state.scaling = false;
    showView();
  }

  // Each chart's visible time range, in data- attributes (what tests and curious users can read).
  function showView() {
    for (const chart of state.charts) {
      const scale = chart.plot.scales.x;
      const [min, max] = scale.min == null ? [state.view.min, state.view.max] : [scale.min, scale.max];
      chart.box.dataset.view = `${min.toFixed(2)}-${max.toFixed(2)}`;
    }
  }

  function resetZoom() {
    state.view = { min: 0, max: Math.max(state.data.summary.duration_s || 0, lastTime(state.data), 1) };
    state.scaling = true;
    for (const chart of state.charts) chart.plot.setScale("x", state.view);
    state.scaling = false;
    showView();
  }

  function bindClicks(plot) {
    let down = null;
    plot.over.addEventListener("mousedown", (e) => {
      down = [e.clientX, e.clientY];
    });
    plot.over.addEventListener("click", (e) => {
      if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 4) return; // a drag: zoom, not a pick
      const left = e.clientX - plot.over.getBoundingClientRect().left;
      select(plot.posToVal(left, "x"), "chart");
    });
    plot.over.addEventListener("dblclick", resetZoom);
  }

  function resizeCharts() {
    const width = chartWidth();
    for (const chart of state.charts) {
      if (Math.abs(chart.plot.width - width) > 1) chart.plot.setSize({ width, height: chart.plot.height });
    }
  }

  // ------------------------------------------------------------ transcript, events, the selected moment

  // An utterance's text with its fillers marked (u.fillers: [index, count] of its whitespace-separated words).
  function utteranceText(u) {
    const marks = new Map((u.fillers || []).map(([index, count]) => [index, count]));
    const tokens = u.text.split(/\s+/).filter(Boolean);
    const parts = [];
    for (let i = 0; i < tokens.length; i++) {
      if (parts.length) parts.push(" ");
      const count = marks.get(i);
      if (count) {
        parts.push(el("mark", { class: "filler", title: "filler" }, tokens.slice(i, i + count).join(" ")));
        i += count - 1;
      } else {
        parts.push(tokens[i]);
      }
    }
    return el("span", { class: "utterance-text" }, parts);
  }

  function pauseMarker(pause) {
    return el(
      "li",
      { class: "pause-marker" + (pause.long ? " long" : ""), "data-start": pause.start.toFixed(2), onclick: () => select(pause.start, "transcript") },
      el("span", { class: "time" }, clock(pause.start)),
      `pause ${pause.length.toFixed(1)} s`
    );
  }

  function renderTranscript(utterances, delivery) {
    $("transcript-count").textContent = utterances.length ? String(utterances.length) : "";
    const list = $("transcript");
    list.replaceChildren();
    if (!utterances.length) list.append(el("li", { class: "muted empty-line" }, "No speech was recognised."));
    const pauses = delivery.pauses.filter((p) => p.length >= TRANSCRIPT_PAUSE_S);
    let next = 0;
    utterances.forEach((u, i) => {
      while (next < pauses.length && pauses[next].start < u.start) list.append(pauseMarker(pauses[next++]));
      list.append(
        el(
          "li",
          {
            class: "utterance",
            "data-index": i,
            "data-label": u.label,
            style: { borderLeftColor: COLOURS[u.label] || "#ced4da" },
            title: EMOTIONS.map((l) => `${l} ${percent(u.p[l])}`).join(" · "),
            onclick: () => select(u.start, "transcript"),
          },
          el(
            "span",
            { class: "utterance-head" },
            el("span", { class: "time" }, clock(u.start)),
            chip(u.label, percent(u.p[u.label])),
            delivery.measured && u.wpm != null ? el("span", { class: "utterance-pace muted" }, `${Math.round(u.wpm)} wpm`) : null
          ),
          utteranceText(u)
        )
      );
    });
    while (next < pauses.length) list.append(pauseMarker(pauses[next++]));
  }

  function renderEvents(events) {
    $("events-count").textContent = events.length ? String(events.length) : "";
    const list = $("events");
    list.replaceChildren();
    if (!events.length) list.append(el("li", { class: "muted empty-line" }, "Nothing unusual happened."));
    for (const event of events) {
      list.append(
        el(
          "li",
          { class: "event", "data-kind": event.kind, onclick: () => select(event.t, "events") },
          el("span", { class: "time" }, clock(event.t)),
          el("span", { class: "event-dot", style: { background: EVENT_COLOURS[event.kind] || "#868e96" } }),
          el("span", { class: "event-kind" }, prettyKind(event.kind)),
          event.detail ? el("span", { class: "event-detail muted" }, event.detail) : null
        )
      );
    }
  }

  function select(t, origin) {
    if (t == null || !isFinite(t)) return;
    state.selected = Math.max(0, t);
    for (const chart of state.charts) {
      chart.plot.redraw(false);
      chart.plot.setLegend({ idx: nearest(chart.plot.data[0], state.selected) }); // legend values at that moment
    }
    const index = state.data.utterances.findIndex((u) => u.start <= state.selected + 0.05 && state.selected <= u.end);
    for (const item of document.querySelectorAll("#transcript .utterance")) {
      const active = Number(item.dataset.index) === index;
      item.classList.toggle("active", active);
      if (active && origin !== "transcript") item.scrollIntoView({ block: "nearest" });
    }
    renderCursor(state.selected);
  }

  function renderCursor(t) {
    const data = state.data;
    const image = $("thumbnail");
    document.body.dataset.selected = t == null ? "" : t.toFixed(2);
    $("cursor-time").classList.toggle("unset", t == null);
    if (t == null) {
      $("cursor-time").textContent = "Click a chart or an utterance to pick a moment.";
      $("cursor-state").replaceChildren(data.thumbnails.t.length ? "The face at that moment shows here." : "");
      image.hidden = true;
      return;
    }
    $("cursor-time").textContent = clock(t, 1);
    const fused = data.fused;
    const i = nearest(fused.t, t);
    const parts = [];
    if (i >= 0) {
      const weights = ["face", "voice", "text"]
        .filter((m) => fused.weights[m][i] > 0)
        .map((m) => `${MODALITY_NAMES[m].toLowerCase()} ${percent(fused.weights[m][i])}`)
        .join(", ");
      parts.push(
        el("span", { class: "cursor-line" }, "Fused ", chip(fused.label[i], percent(fused.confidence[i]))),
        el("span", { class: "cursor-line muted" }, `valence ${signed(fused.valence[i])} · arousal ${signed(fused.arousal[i])}`),
        weights ? el("span", { class: "cursor-line muted" }, `weights: ${weights}`) : null
      );
    }
    $("cursor-state").replaceChildren(...parts.filter(Boolean));
    const src = state.source.thumbnail(data, t);
    image.hidden = !src;
    if (src && image.getAttribute("src") !== src) image.src = src;
  }

  // ------------------------------------------------------------ start

  async function startLive() {
    state.source = liveSource();
    let listing;
    try {
      listing = await state.source.list();
    } catch (err) {
      showMessage(`The session list cannot be read: ${err.message}`, "error");
      return;
    }
    const wanted = new URLSearchParams(location.search).get("session");
    const readable = listing.sessions.filter((s) => !s.problem);
    const first = listing.sessions.find((s) => s.id === wanted) || readable[0];
    renderList(listing, first && first.id);
    if (!first) {
      showMessage(listing.sessions.length ? "No readable session: see the list." : "No sessions recorded yet.");
      return;
    }
    await openSession(first.id);
    const moment = parseFloat(new URLSearchParams(location.search).get("t")); // a link to a moment
    if (state.data && isFinite(moment)) select(moment, "link");
  }

  function startReport(config) {
    const data = readJSONBlock("session-data");
    state.source = reportSource(data);
    document.body.classList.add("report");
    $("sidebar").hidden = true;
    $("footer").textContent = `Exported ${config.exported || ""} by emotion-overlay ${config.version || ""}. This file works offline.`;
    renderSession(data);
  }

  function start() {
    const config = readJSONBlock("review-config") || { mode: "live" };
    if (typeof uPlot === "undefined") {
      showMessage("The charting library did not load.", "error");
      return;
    }
    new ResizeObserver(() => requestAnimationFrame(resizeCharts)).observe($("charts"));
    if (config.mode === "report") startReport(config);
    else startLive();
  }

  start();
})();
