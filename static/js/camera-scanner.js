/* Kirana camera scanner: a Camera button (an SVG camera icon) next to every scan field
   (input[data-scan-field]) that opens a docked camera panel and reads barcodes
   continuously with the rear camera.

   * Detector: the browser's BarcodeDetector when getSupportedFormats() lists
     every format we need (Android Chrome); otherwise the vendored
     `barcode-detector` ponyfill with the ZXing WASM, both served from
     /static/vendor/barcode-detector/ and loaded only when the camera is first
     opened (never from a CDN).
   * A read goes through the same path as a keyboard-wedge scan: the field's
     value is set and its form is requestSubmit()-ed (app.js queues forms
     marked data-scan-queue).
   * One showing of a code counts once, on every screen: a code is sent again
     only after it has left the picture, i.e. it was not read for at least
     1 s and over at least 5 frames read since (Presence below). Holding a
     packet still sends it once; to count the next one, take it out of view
     and show it again, or use the screen's own +1 / quantity buttons. A field
     opts out of the camera button with data-scan-camera="off".
   * One sound per scan, the answer's: a screen that answers the scan itself
     (an htmx form) sounds its answer (app.js beep() on the answer's data-beep,
     or its error handling), so the camera makes no sound of its own and its
     status line shows "Checking …" until the answer, then ✓ or ✗. Only an
     answer that came without a sound gets the camera's one sound, matching
     it (2xx ok, else the error buzz); a form that loads a new page gets the
     ok beep at once. Torch button when the camera track reports the
     capability; "Type the code" always available.
   * The camera is stopped when the panel closes or the page is hidden.
   Plain ES2017, no build step; loaded with `defer` after app.js. */
(function () {
  "use strict";

  const VENDOR = "/static/vendor/barcode-detector/";
  const PONYFILL_URL = VENDOR + "3.2.2/ponyfill.js";
  const WASM_DIR = VENDOR + "zxing-wasm-3.1.3/";
  const FORMATS = ["ean_13", "ean_8", "upc_a", "upc_e", "code_128", "qr_code", "data_matrix"];
  const GONE_MS = 1000; // a code has left the picture when unread this long…
  const GONE_FRAMES = 5; // …over at least this many frames read without it
  const SCAN_GAP_MS = 60; // pause between two detect() calls
  const ANSWER_GRACE_MS = 150; // after an answer arrives, its own sound comes first
  const ANSWER_FORGET_MS = 30000; // a scan not sent by then (held while offline) is let go
  const FIELD_SELECTOR = "input[data-scan-field]";

  // The words are the page's (app.js's word(), from app/core/page_words.py).
  const word = window.kiranaWord || function (key) { return key; };
  const MSG = {
    starting: word("camera.starting"),
    loading: word("camera.loading"),
    ready: word("camera.ready"),
    blocked: word("camera.blocked"),
    missing: word("camera.missing"),
    busy: word("camera.busy"),
    insecure: word("camera.insecure"),
    readerFailed: word("camera.reader_failed"),
    failed: word("camera.failed"),
    noField: word("camera.no_field"),
  };

  /* ---- detector: native when it can read all our formats, else the ponyfill ---- */

  let detectorPromise = null;
  let ponyfillPromise = null;

  function loadPonyfill() {
    if (window.BarcodeDetectionAPI) return Promise.resolve(window.BarcodeDetectionAPI);
    if (!ponyfillPromise) {
      ponyfillPromise = new Promise(function (resolve, reject) {
        const s = document.createElement("script");
        s.src = PONYFILL_URL;
        s.async = true;
        s.onload = function () {
          if (window.BarcodeDetectionAPI) resolve(window.BarcodeDetectionAPI);
          else reject(new Error("barcode-detector ponyfill did not load"));
        };
        s.onerror = function () { reject(new Error("could not load " + PONYFILL_URL)); };
        document.head.appendChild(s);
      }).catch(function (err) {
        ponyfillPromise = null; // let the next open try again
        throw err;
      });
    }
    return ponyfillPromise;
  }

  async function nativeDetector() {
    const Native = window.BarcodeDetector;
    if (typeof Native !== "function" || typeof Native.getSupportedFormats !== "function") return null;
    try {
      const supported = await Native.getSupportedFormats();
      if (!FORMATS.every(function (f) { return supported.indexOf(f) >= 0; })) return null;
      return new Native({ formats: FORMATS });
    } catch (err) {
      return null;
    }
  }

  async function polyfillDetector() {
    const api = await loadPonyfill();
    // Serve the .wasm ourselves; by default the library would fetch it from a CDN.
    await api.prepareZXingModule({
      overrides: {
        locateFile: function (path, prefix) {
          return path.endsWith(".wasm") ? WASM_DIR + path : prefix + path;
        },
      },
      fireImmediately: true,
    });
    return new api.BarcodeDetector({ formats: FORMATS });
  }

  function getDetector() {
    if (!detectorPromise) {
      detectorPromise = nativeDetector()
        .then(function (d) { return d || polyfillDetector(); })
        .catch(function (err) {
          detectorPromise = null;
          throw err;
        });
    }
    return detectorPromise;
  }

  /* ---- the panel ---- */

  let panel = null;
  let ui = null;
  let field = null; // the scan field the camera is delivering to
  let stream = null;
  let session = 0; // bumped on every open/close so stale async work stops
  let torchOn = false;
  let presence = null; // the codes in the picture now (a Presence), new at every open

  /* Which codes are in the picture. A decoder misses a code on some frames (glare,
     a shaking hand), so one frame without it is no proof that it left: it has left
     only when it went unread for GONE_MS and over GONE_FRAMES frames actually read
     (a slow phone or a paused loop gives fewer frames, not fewer absences).
     frame(codes, now) takes the codes read in one frame and returns those that have
     just come into the picture. */
  function Presence(goneMs, goneFrames) {
    const inView = new Map(); // code -> { lastSeen: ms, missed: frames read without it }
    this.frame = function (codes, now) {
      inView.forEach(function (v, code) {
        if (codes.indexOf(code) >= 0) return;
        v.missed += 1;
        if (v.missed >= goneFrames && now - v.lastSeen >= goneMs) inView.delete(code);
      });
      const arrived = [];
      codes.forEach(function (code) {
        if (!inView.has(code) && arrived.indexOf(code) < 0) arrived.push(code);
        inView.set(code, { lastSeen: now, missed: 0 });
      });
      return arrived;
    };
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  /* The camera as an inline SVG in the button's colour (the emoji camera is an empty
     box on a device without an emoji font). */
  function cameraIcon() {
    const svg = iconSvg("icon camera-icon");
    const NS = "http://www.w3.org/2000/svg";
    const body = document.createElementNS(NS, "path");
    body.setAttribute("d", "M4 8h3l2-3h6l2 3h3a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1z");
    const lens = document.createElementNS(NS, "circle");
    lens.setAttribute("cx", "12"); lens.setAttribute("cy", "13"); lens.setAttribute("r", "3.5");
    svg.appendChild(body);
    svg.appendChild(lens);
    return svg;
  }

  // An empty 24x24 line icon in the text's colour, decorative (the button has the words).
  function iconSvg(cls) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    const attrs = { class: cls, viewBox: "0 0 24 24", width: "24", height: "24",
      "aria-hidden": "true", focusable: "false", fill: "none", stroke: "currentColor",
      "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" };
    Object.keys(attrs).forEach(function (k) { svg.setAttribute(k, attrs[k]); });
    return svg;
  }

  function closeIcon() {
    const svg = iconSvg("icon");
    const cross = document.createElementNS("http://www.w3.org/2000/svg", "path");
    cross.setAttribute("d", "M6 6l12 12M18 6L6 18");
    svg.appendChild(cross);
    return svg;
  }

  function buildPanel() {
    panel = el("div", { class: "camera-panel", role: "dialog", "aria-label": word("camera.panel"),
      "data-testid": "camera-panel" });
    panel.hidden = true;
    const view = el("div", { class: "camera-view" });
    const video = el("video", { playsinline: "", muted: "", autoplay: "", "aria-hidden": "true" });
    video.muted = true;
    video.playsInline = true; // iOS: play in the page, not full screen
    view.appendChild(video);
    view.appendChild(el("div", { class: "camera-aim", "aria-hidden": "true" }));
    const status = el("p", { class: "camera-status", role: "status", "aria-live": "polite",
      "data-testid": "camera-status" });
    const actions = el("div", { class: "camera-actions" });
    const torch = el("button", { type: "button", class: "btn btn-quiet camera-torch",
      "aria-pressed": "false" }, word("camera.torch"));
    torch.hidden = true;
    const type = el("button", { type: "button", class: "btn btn-quiet camera-type" }, word("camera.type"));
    const close = el("button", { type: "button", class: "btn btn-primary camera-close",
      "aria-label": word("camera.close"), title: word("camera.close") });
    close.appendChild(closeIcon());
    actions.appendChild(torch);
    actions.appendChild(type);
    actions.appendChild(close);
    panel.appendChild(view);
    panel.appendChild(status);
    panel.appendChild(actions);
    document.body.appendChild(panel);

    close.addEventListener("click", function () { closeCamera(true); });
    type.addEventListener("click", typeInstead);
    torch.addEventListener("click", toggleTorch);
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !panel.hidden) closeCamera(true);
    });
    ui = { video: video, status: status, torch: torch, type: type, close: close };
  }

  function setStatus(text, kind) {
    if (!ui) return;
    ui.status.textContent = text;
    ui.status.className = "camera-status" + (kind ? " camera-status-" + kind : "");
  }

  // The camera could not start: no picture to show, only the message and the buttons.
  function fail(text) {
    session += 1; // stops the scan loop; tapping Camera again retries
    stopStream();
    panel.classList.add("camera-failed");
    setStatus(text, "error");
    ui.type.focus();
  }

  function stopStream() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    torchOn = false;
    if (ui) {
      ui.video.srcObject = null;
      ui.torch.hidden = true;
      ui.torch.setAttribute("aria-pressed", "false");
    }
  }

  function closeCamera(refocus) {
    session += 1;
    stopStream();
    if (panel) panel.hidden = true;
    document.body.classList.remove("camera-open");
    const f = field;
    field = null;
    if (refocus && f && f.isConnected && !f.disabled) f.focus();
  }

  function typeInstead() {
    const f = currentField();
    closeCamera(false);
    if (f && !f.disabled) {
      f.inputMode = "text"; // bring up the on-screen keyboard
      f.blur();
      f.focus();
    }
  }

  async function toggleTorch() {
    const track = stream && stream.getVideoTracks()[0];
    if (!track) return;
    const want = !torchOn;
    try {
      await track.applyConstraints({ advanced: [{ torch: want }] });
      torchOn = want;
      ui.torch.setAttribute("aria-pressed", want ? "true" : "false");
    } catch (err) {
      setStatus(word(want ? "camera.torch_on_failed" : "camera.torch_off_failed"), "error");
    }
  }

  function cameraError(err) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
      return MSG.blocked;
    }
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
      return MSG.missing;
    }
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") return MSG.busy;
    return MSG.failed;
  }

  async function startStream() {
    const md = navigator.mediaDevices;
    if (!md || typeof md.getUserMedia !== "function") {
      throw Object.assign(new Error("no mediaDevices"), { name: window.isSecureContext ? "NotFoundError" : "Insecure" });
    }
    const base = { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } };
    try {
      return await md.getUserMedia({ video: base, audio: false });
    } catch (err) {
      // A camera that cannot meet the size still beats no camera.
      if (err && err.name === "OverconstrainedError") {
        return md.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false });
      }
      throw err;
    }
  }

  function currentField() {
    if (field && field.isConnected) return field;
    // htmx may have swapped the field for a fresh one: take the same id, else the first.
    const id = field && field.id;
    field = (id && document.getElementById(id)) || document.querySelector(FIELD_SELECTOR);
    if (field && !field.matches(FIELD_SELECTOR)) field = null;
    return field;
  }

  async function openCamera(target) {
    if (!panel) buildPanel();
    if (!panel.hidden && stream) { // already running: just deliver to this field now
      field = target;
      return;
    }
    closeCamera(false);
    const mine = ++session;
    field = target;
    presence = new Presence(GONE_MS, GONE_FRAMES); // opening the camera is a fresh start
    panel.classList.remove("camera-failed");
    panel.hidden = false;
    document.body.classList.add("camera-open");
    setStatus(MSG.starting);
    ui.close.focus();
    // Keep the field (and what its scans show below it) in sight above the panel.
    if (target.scrollIntoView && target.getBoundingClientRect().bottom > panel.getBoundingClientRect().top) {
      target.scrollIntoView({ block: "start" });
    }

    const detecting = getDetector(); // loads in parallel with the camera permission
    detecting.catch(function () {}); // handled below; no unhandled rejection meanwhile

    let s;
    try {
      s = await startStream();
    } catch (err) {
      if (mine !== session) return;
      fail(err && err.name === "Insecure" ? MSG.insecure : cameraError(err));
      return;
    }
    if (mine !== session) { s.getTracks().forEach(function (t) { t.stop(); }); return; }
    stream = s;
    const track = s.getVideoTracks()[0];
    if (track) track.addEventListener("ended", function () {
      if (mine === session) fail(MSG.missing);
    });
    const caps = track && typeof track.getCapabilities === "function" ? track.getCapabilities() : {};
    ui.torch.hidden = !(caps && caps.torch);
    ui.video.srcObject = s;
    try { await ui.video.play(); } catch (err) { /* autoplay muted: the frames still arrive */ }
    if (mine !== session) return;

    setStatus(MSG.loading);
    let detector;
    try {
      detector = await detecting;
    } catch (err) {
      if (mine === session) fail(MSG.readerFailed);
      console.warn("Camera scanner: barcode reader failed to load:", err);
      return;
    }
    if (mine !== session) return;
    setStatus(MSG.ready);
    scanLoop(detector, mine);
  }

  async function scanLoop(detector, mine) {
    const video = ui.video;
    let failures = 0;
    while (mine === session) {
      if (video.readyState >= 2 && video.videoWidth > 0) {
        let found = null;
        try {
          const codes = await detector.detect(video);
          failures = 0;
          found = codes.map(function (c) { return c && c.rawValue ? c.rawValue.trim() : ""; })
            .filter(function (raw) { return raw; });
        } catch (err) {
          failures += 1;
          if (failures === 5) {
            setStatus(MSG.readerFailed, "error");
            console.warn("Camera scanner: detect() keeps failing:", err);
          }
        }
        if (mine !== session) return;
        // Only a code that has just come into view is sent; two codes on one label
        // (a barcode and a QR) are one showing: the first is sent.
        const arrived = found ? presence.frame(found, performance.now()) : [];
        if (arrived.length) deliver(arrived[0]);
      }
      await new Promise(function (r) { setTimeout(r, SCAN_GAP_MS); });
    }
  }

  function deliver(code) {
    const f = currentField();
    if (!f) { setStatus(MSG.noField, "error"); return; }
    if (f.disabled || f.readOnly) return;

    if (pageAnswers(f)) {
      const scan = { code: code, name: f.name, xhr: null, ok: false, session: session, timer: 0 };
      scan.timer = setTimeout(function () { letGo(scan); }, ANSWER_FORGET_MS);
      waiting.push(scan);
      setStatus(word("camera.checking", { code: code }));
    } else {
      sound(true);
      setStatus("✓ " + code, "ok");
    }

    f.value = code;
    f.dispatchEvent(new Event("input", { bubbles: true }));
    const form = f.form;
    if (form && typeof form.requestSubmit === "function") form.requestSubmit();
    else if (form) form.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
  }

  /* ---- one sound per scan: the answer's ---- */

  const waiting = []; // camera scans a page will answer: { code, name, xhr, ok, session, timer }
  let ownSound = false; // the camera's own beep is not a page's answer

  function hasHtmxRequest(node) {
    return ["hx-post", "hx-get", "hx-put", "hx-patch"].some(function (a) { return node.hasAttribute(a); });
  }

  // The field's scan goes to the server by htmx (its answer is swapped into this page).
  function pageAnswers(f) {
    if (!window.htmx || !f.name) return false;
    const form = f.form;
    return form ? form.hasAttribute("data-scan-queue") || hasHtmxRequest(form) : hasHtmxRequest(f);
  }

  function sound(ok) {
    ownSound = true;
    try {
      if (window.kirana && window.kirana.beep) window.kirana.beep(ok);
    } finally {
      ownSound = false;
    }
    if (ok && navigator.vibrate) navigator.vibrate(80); // beep(false) vibrates by itself
  }

  function letGo(scan) {
    const i = waiting.indexOf(scan);
    if (i >= 0) waiting.splice(i, 1);
    clearTimeout(scan.timer);
  }

  // pageOk: the page sounded its answer (true/false); null: it answered without a sound.
  function answered(scan, pageOk) {
    if (waiting.indexOf(scan) < 0) return;
    letGo(scan);
    const ok = pageOk === null ? scan.ok : pageOk;
    if (pageOk === null) sound(ok);
    else if (ok && navigator.vibrate) navigator.vibrate(80);
    if (scan.session === session) setStatus((ok ? "✓ " : "✗ ") + scan.code, ok ? "ok" : "error");
  }

  // Which request carries a camera scan: the first one sent with its code in the field's name.
  document.addEventListener("htmx:beforeRequest", function (e) {
    const config = e.detail && e.detail.requestConfig;
    const params = config && config.parameters;
    if (!params || !waiting.length) return;
    const scan = waiting.find(function (w) { return !w.xhr && params[w.name] === w.code; });
    if (scan) scan.xhr = e.detail.xhr;
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    const scan = waiting.find(function (w) { return w.xhr && w.xhr === e.detail.xhr; });
    if (!scan) return;
    scan.ok = !!e.detail.successful;
    clearTimeout(scan.timer);
    // The page sounds its answer after the swap (app.js): give it that moment.
    scan.timer = setTimeout(function () { answered(scan, null); }, ANSWER_GRACE_MS);
  });

  // app.js beep(): the page sounded; that is the answer of the oldest scan already sent.
  document.addEventListener("kirana:beep", function (e) {
    if (ownSound) return;
    const scan = waiting.find(function (w) { return w.xhr; });
    if (scan) answered(scan, !!(e.detail && e.detail.ok));
  });

  /* ---- the buttons ---- */

  const buttons = new WeakMap(); // field -> its camera button

  function addButtons(root) {
    const scope = root && root.querySelectorAll ? root : document;
    const fields = Array.from(scope.querySelectorAll(FIELD_SELECTOR));
    if (scope.matches && scope.matches(FIELD_SELECTOR)) fields.push(scope);
    fields.forEach(function (f) {
      if (f.getAttribute("data-scan-camera") === "off" || f.type === "hidden") return;
      const existing = buttons.get(f);
      if (existing && existing.isConnected) return;
      const next = f.nextElementSibling;
      if (next && next.hasAttribute("data-camera-button")) { buttons.set(f, next); return; }
      const btn = el("button", { type: "button", class: "btn btn-quiet camera-button",
        "aria-label": word("camera.button"), title: word("camera.button"), "data-camera-button": "" });
      btn.appendChild(cameraIcon());
      btn.appendChild(el("span", { class: "camera-button-label" }, " " + word("camera.button_label")));
      btn.addEventListener("click", function () { openCamera(f); });
      f.insertAdjacentElement("afterend", btn);
      buttons.set(f, btn);
    });
  }

  document.addEventListener("htmx:afterSettle", function () {
    addButtons(document);
    if (panel && !panel.hidden && field && !field.isConnected) currentField();
  });

  // Never leave the camera running in the background.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && panel && !panel.hidden) closeCamera(false);
  });
  window.addEventListener("pagehide", function () { closeCamera(false); });

  addButtons(document);

  window.kirana = window.kirana || {};
  window.kirana.camera = { open: openCamera, close: function () { closeCamera(true); },
    Presence: Presence }; // Presence: for tests
})();
