/* Kirana front-end glue: CSRF for htmx, service worker + update banner,
   barcode-scanner capture, scan-field focus, PIN pad, beeps, offline flag.
   Plain ES2017, no build step; loaded with `defer` after htmx. */
(function () {
  "use strict";

  const SCAN_GAP_MS = 50; // scanners type far faster than people
  const SCAN_MIN_LEN = 4;

  /* The words this script and camera-scanner.js show, in the reader's language: a JSON
     block written by base.html (app/core/page_words.py). No English is kept here; a
     missing key shows as itself, which tests/unit/test_page_words.py keeps from
     happening. word("table.scrolls", {name: "Stock"}) fills %(name)s. */
  const WORDS = (function () {
    const node = document.getElementById("page-words");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (e) { return {}; }
  })();
  function word(key, values) {
    let text = Object.prototype.hasOwnProperty.call(WORDS, key) ? WORDS[key] : key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("%(" + k + ")s").join(values[k]); });
    return text;
  }
  window.kiranaWord = word;

  // Apple keyboards type letters with Option (Alt): see the keyboard shortcuts below.
  const APPLE = /Mac|iPhone|iPad|iPod/.test(navigator.platform || "");

  function isEditable(el) {
    return !!el && (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable);
  }

  function scanField() {
    return document.querySelector("input[data-scan-field]");
  }

  // Focus the scan field unless the user is busy in another field. While a box stands
  // over the page ([data-modal]: the manager's PIN), its first field has the focus.
  function focusScanField() {
    const modal = document.querySelector("[data-modal]");
    if (modal) {
      if (!modal.contains(document.activeElement)) {
        const first = modal.querySelector("select, input:not([type=hidden])");
        if (first) first.focus();
      }
      return;
    }
    const field = scanField();
    if (field && !field.disabled && !isEditable(document.activeElement)) field.focus();
  }

  /* ---- htmx under the Content-Security-Policy (no inline style, no eval): its
     indicator style is in app.css; set before htmx starts at DOMContentLoaded. ---- */
  if (window.htmx) {
    htmx.config.includeIndicatorStyles = false;
    htmx.config.allowEval = false;
  }

  /* ---- CSRF: send the page's token with every htmx request ---- */
  document.addEventListener("htmx:configRequest", function (e) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) e.detail.headers["x-csrftoken"] = meta.content;
  });

  /* ---- Idle sign-out: every htmx request says how long since the last touch, key or
     scan, so a page that polls does not keep an unused device signed in; when the
     role's limit has passed the page reloads and the server sends it to sign-in. ---- */
  let lastUse = Date.now();
  ["pointerdown", "keydown", "input", "wheel"].forEach(function (type) {
    document.addEventListener(type, function () { lastUse = Date.now(); },
                              { capture: true, passive: true });
  });
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["x-kirana-idle-seconds"] = String(Math.floor((Date.now() - lastUse) / 1000));
  });
  const idleMeta = document.querySelector('meta[name="kirana-idle-seconds"]');
  const idleLimit = idleMeta ? Number(idleMeta.content) * 1000 : 0;
  if (idleLimit > 0) {
    setInterval(function () {
      if (Date.now() - lastUse > idleLimit + 5000) {
        window.location.assign(window.location.pathname + window.location.search);
      }
    }, 5000);
  }

  /* ---- Service worker and "new version" banner ---- */
  let updateRequested = false;
  function showUpdateBanner(worker) {
    let banner = document.getElementById("update-banner");
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "update-banner";
      banner.setAttribute("role", "status");
      const reload = document.createElement("button");
      reload.type = "button";
      reload.textContent = word("update.reload");
      banner.append(word("update.ready") + " ", reload);
      document.body.appendChild(banner);
    }
    const button = banner.querySelector("button");
    banner.hidden = false;
    if (!button) return;
    button.onclick = function () {
      button.disabled = true;
      updateRequested = true;
      // Another tab may already have activated it; otherwise the reload
      // follows on controllerchange.
      if (worker.state === "activated") window.location.reload();
      else worker.postMessage({ type: "SKIP_WAITING" });
    };
  }

  function watchInstall(worker) {
    if (!worker) return;
    worker.addEventListener("statechange", function () {
      if (worker.state === "installed" && navigator.serviceWorker.controller) showUpdateBanner(worker);
    });
  }

  if ("serviceWorker" in navigator) {
    const sw = navigator.serviceWorker;
    // Reload only when this tab asked for the update: the first install
    // (clients.claim) also fires controllerchange, and a POS tab must not
    // reload under a cashier mid-sale.
    let reloading = false;
    sw.addEventListener("controllerchange", function () {
      if (updateRequested && !reloading) {
        reloading = true;
        window.location.reload();
      }
    });
    window.addEventListener("load", function () {
      sw.register("/sw.js", { scope: "/" }).then(function (reg) {
        // An update may already be waiting, or be installing since this
        // navigation (then "updatefound" has already fired).
        if (reg.waiting && sw.controller) showUpdateBanner(reg.waiting);
        else if (reg.installing) watchInstall(reg.installing);
        reg.addEventListener("updatefound", function () { watchInstall(reg.installing); });
        // htmx pages rarely navigate, so also look for a new version hourly.
        setInterval(function () { reg.update().catch(function () {}); }, 60 * 60 * 1000);
      }).catch(function (err) { console.warn("Service worker registration failed:", err); });
    });
  }

  /* ---- Keyboard-wedge scanner capture when no field has focus ---- */
  let scanBuf = "";
  let lastKeyAt = 0;
  document.addEventListener("keydown", function (e) {
    if (isEditable(document.activeElement) || e.ctrlKey || e.altKey || e.metaKey) {
      scanBuf = "";
      return;
    }
    const now = e.timeStamp || performance.now();
    const fast = now - lastKeyAt < SCAN_GAP_MS;
    lastKeyAt = now;
    if (e.key === "Enter") {
      const field = scanField();
      if (fast && scanBuf.length >= SCAN_MIN_LEN && field && field.form) {
        e.preventDefault(); // don't also "click" a focused button
        field.value = scanBuf;
        field.focus();
        field.form.requestSubmit(); // fires "submit", so htmx handles it
      }
      scanBuf = "";
    } else if (e.key && e.key.length === 1) {
      // A slow key starts a new buffer: it may be the first char of a scan.
      scanBuf = fast ? scanBuf + e.key : e.key;
    }
  });

  /* ---- Scan fields: keep focus, clear after each submitted scan ----
     Except after a button marked data-keep-focus (the till's −/+ steppers, the picker's
     +1): the focus goes back to that button as redrawn (issue #22: a keyboard user
     stepping a quantity is not thrown back to the scan field; a scanner still works,
     the capture below sends a code typed with no field focused to the scan field). */
  let clickedKeep = null;
  document.addEventListener("click", function (e) {
    clickedKeep = (e.target.closest && e.target.closest("[data-keep-focus]")) || null;
  }, true);
  document.addEventListener("htmx:beforeRequest", function (e) {
    const elt = e.detail.elt;
    if (clickedKeep && elt && elt.contains && elt.contains(clickedKeep) && e.detail.xhr) {
      e.detail.xhr.kiranaKeepFocus = clickedKeep.getAttribute("data-keep-focus");
    }
    clickedKeep = null;
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    const key = e.detail && e.detail.xhr && e.detail.xhr.kiranaKeepFocus;
    if (key && !document.querySelector("[data-modal]")) {
      const again = document.querySelector('[data-keep-focus="' + CSS.escape(key) + '"]');
      if (again && !again.disabled) { again.focus(); return; }
      if (again) {  // a − now disabled (quantity 1): its line's + instead
        const next = again.closest(".stepper") && again.closest(".stepper").querySelector("[data-keep-focus]:not([disabled])");
        if (next) { next.focus(); return; }
      }
    }
    focusScanField();
  });
  // The till's line list scrolls by itself (the page does not): keep the line just
  // scanned or added in view.
  document.addEventListener("htmx:afterSettle", function () {
    const latest = document.querySelector(".cart-scroll [data-latest]");
    if (latest) latest.scrollIntoView({ block: "nearest" });
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    const elt = e.detail.elt;
    if (!elt || !elt.isConnected) return; // swapped away: afterSettle refocuses
    // Only the scan form's own request (or the field's), not other buttons.
    const field = elt.tagName === "FORM" ? elt.querySelector("input[data-scan-field]")
      : elt.matches("input[data-scan-field]") ? elt : null;
    if (!field) return;
    if (field.form && field.form.hasAttribute("data-scan-queue")) return; // cleared at submit
    // On failure keep the code so the cashier can retry it.
    if (e.detail.successful && !field.hasAttribute("data-scan-keep")) field.value = "";
    const active = document.activeElement;
    if (!isEditable(active) || active === field) field.focus();
  });

  /* ---- The till's quick keys: once an Add went in (the server answers with
     HX-Trigger: kirana-added), its weight panel closes and clears, so a second tap
     cannot add the same weight again; a refused weight stays open to be corrected. ---- */
  document.addEventListener("kirana-added", function (e) {
    const form = e.target && e.target.closest ? e.target.closest("form") : null;
    if (!form) return;
    form.reset();
    const panel = form.closest("details");
    if (panel) panel.open = false;
    if (form.contains(document.activeElement)) document.activeElement.blur();
    focusScanField();
  });

  /* ---- A code half typed when its field is redrawn ----
     The picker's task card (scan field included) is redrawn by every answer. A
     scanner that starts the next code before the answer lands typed its first
     characters into the old field, which the swap threw away, and the rest was sent
     as a wrong code. A queue field is emptied when its code is sent, so whatever it
     holds at the swap is the next code being typed: it goes on in the new field, which
     takes the focus at once (the rest of the code must not land on the page). */
  let halfTyped = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    const field = scanField();
    const target = e.detail.target;
    halfTyped = null;
    if (field && field.value && document.activeElement === field && !field.dataset.kept &&
        field.form && field.form.hasAttribute("data-scan-queue") &&
        target && target.contains(field)) {
      halfTyped = field.value;
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (halfTyped === null) return;
    const value = halfTyped;
    halfTyped = null;
    const field = scanField();
    if (!field || field.disabled || field.value) return;
    field.value = value;
    field.focus();
    field.setSelectionRange(value.length, value.length);
  });

  /* ---- Scan queue: a busy till scans faster than the server answers ----
     htmx keeps only the last of several requests queued on one form, and a field
     cleared when a response arrives would wipe the next code being typed. Forms
     marked data-scan-queue take the code and clear the field at once, and send
     scans strictly one after another, so none is lost or reordered. */
  let scanChain = Promise.resolve();
  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (!form.hasAttribute || !form.hasAttribute("data-scan-queue") || !window.htmx) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    const field = form.querySelector("input[data-scan-field]");
    const code = field ? field.value.trim() : "";
    if (!code) return;
    // Enter on a code kept after "Not sent" (untouched since): try it again now,
    // instead of sending it a second time.
    if (field.dataset.kept && unsent.some(function (r) { return r.id === field.dataset.kept; })) {
      probe();
      return;
    }
    field.value = "";
    delete field.dataset.kept;
    field.focus();
    const retry = form.hasAttribute("data-retry");
    const req = {
      verb: "POST", path: form.getAttribute("hx-post") || form.getAttribute("action"),
      target: form.getAttribute("hx-target") || "this", swap: "innerHTML",
      values: { code: code }, include: form.getAttribute("hx-include"), code: code,
      field: field, id: requestId(),
    };
    // A till scan carries an id the server remembers (app/pos/till_requests.py), so it
    // may be sent again after a lost answer without counting twice.
    if (retry) req.values.request_id = req.id;
    scanChain = scanChain.then(function () {
      if (unsent.length && retry) {  // behind the scans still waiting, in order
        unsent.push(req);
        return flush();
      }
      return send(req).then(function (ok) {
        if (ok) return;
        if (retry) unsent.push(req);
        keepInField(req);
        notSent(retry);
      });
    });
  }, true);

  /* ---- Not sent: the store server cannot be reached (issue #16) ----
     A request that does not reach the store server shows a red "Not sent: store server
     unreachable", buzzes, keeps a scan's code in its field, and marks the page
     (body.server-down: the header says "Store server unreachable" instead of the hub's
     state, which it cannot know from here). What is safe to send again waits in
     `unsent` and goes, in order, once /healthz answers: till scans and quick-key adds
     carry an id the server remembers, payments their key, reads change nothing; forms
     marked data-retry say so. Anything else asks to be tapped again. Polls (printer
     alerts, print status) mark the page but do not buzz. */
  const unsent = [];
  let probing = null;

  function requestId() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function valuesOf(req) {
    const values = Object.assign({}, req.values);
    if (req.include) {  // read when sent: a retry goes into the bill open by then
      document.querySelectorAll(req.include).forEach(function (el) {
        if (el.name) values[el.name] = el.value;
      });
    }
    return values;
  }

  function targetOf(req) {
    const t = req.target;
    if (typeof t === "string") return t;
    if (t && t.isConnected) return t;
    return t && t.id ? document.getElementById(t.id) : null;
  }

  // true once the server answered (whatever it said), false when it could not be reached.
  function send(req) {
    const target = targetOf(req);
    if (!target) return Promise.resolve(true);  // nowhere to show it any more: dropped
    return htmx.ajax(req.verb, req.path, {
      target: target, swap: req.swap, values: valuesOf(req),
      headers: { "X-Kirana-Queue": "1" },
    }).then(function () {
      if (req.field && req.field.dataset.kept === req.id) {
        req.field.value = "";
        delete req.field.dataset.kept;
      }
      return true;
    }, function () { return false; });
  }

  function flush() {
    if (!unsent.length) {
      hideNotSent();
      return Promise.resolve();
    }
    return send(unsent[0]).then(function (ok) {
      if (!ok) {
        notSent(true);
        return;
      }
      unsent.shift();
      return flush();
    });
  }

  function keepInField(req) {
    const field = req.field;
    if (!field || !field.isConnected || field.value) return;  // the next code is being typed
    field.value = req.code;
    field.dataset.kept = req.id;
    field.focus();
    field.select();  // the next scan replaces it
  }
  document.addEventListener("input", function (e) {
    if (e.target.dataset && e.target.dataset.kept) delete e.target.dataset.kept;
  });

  function notSentBox() {
    let box = document.getElementById("not-sent");
    if (!box) {
      box = document.createElement("div");
      box.id = "not-sent";
      box.className = "alert alert-error not-sent";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "not-sent");
      const main = document.getElementById("main") || document.body;
      main.insertBefore(box, main.firstChild);
    }
    return box;
  }

  function notSent(willRetry) {
    serverDown();
    const box = notSentBox();
    const codes = unsent.filter(function (r) { return r.code; }).map(function (r) { return r.code; });
    let text = word("unsent.title");
    if (codes.length) text += " " + word("unsent.scans", { codes: codes.join(", ") });
    text += " " + word(willRetry || unsent.length ? "unsent.will_retry" : "unsent.tap_again");
    box.textContent = text;
    box.hidden = false;
    // The last answer's green "Added …" is not true of what was just scanned.
    document.querySelectorAll('[data-testid="pos-message"]').forEach(function (el) { el.remove(); });
    beep(false);
  }

  function hideNotSent() {
    const box = document.getElementById("not-sent");
    if (box) box.hidden = true;
  }

  function serverDown() {
    document.body.classList.add("server-down");
    if (!probing) probing = setInterval(probe, 2000);
  }

  function probe() {
    fetch("/healthz", { cache: "no-store" }).then(function (res) {
      if (res.ok) serverBack();
    }).catch(function () { /* still unreachable */ });
  }

  function serverBack() {
    if (probing) clearInterval(probing);
    probing = null;
    document.body.classList.remove("server-down");
    scanChain = scanChain.then(flush);
  }

  function userMade(event) {
    return !!event && ["submit", "click", "change", "input", "keyup", "search"].indexOf(event.type) >= 0;
  }

  document.addEventListener("htmx:configRequest", function (e) {
    // A form that may be sent again (data-retry) carries an id the server remembers.
    const elt = e.detail.elt;
    if (e.detail.verb !== "get" && elt && elt.closest && elt.closest("[data-retry]")
        && !e.detail.parameters.request_id) {
      e.detail.parameters.request_id = requestId();
    }
  });

  document.addEventListener("htmx:sendError", function (e) {
    const config = e.detail.requestConfig || {};
    if (config.headers && config.headers["X-Kirana-Queue"]) return;  // handled above
    const elt = e.detail.elt;
    if (!userMade(config.triggeringEvent)) {
      serverDown();  // a poll: the header says so, no buzz
      return;
    }
    const safe = config.verb === "get" || !!(elt && elt.closest && elt.closest("[data-retry]"));
    if (safe) {
      const values = {};
      if (config.formData) config.formData.forEach(function (v, k) { values[k] = v; });
      const swapper = elt && elt.closest && elt.closest("[hx-swap]");
      unsent.push({ verb: config.verb, path: config.path, values: values, id: requestId(),
                    target: e.detail.target, swap: swapper ? swapper.getAttribute("hx-swap") : "innerHTML" });
    }
    notSent(safe);
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.xhr && e.detail.xhr.status > 0 && document.body.classList.contains("server-down")) {
      serverBack();  // the server answered a poll before the next /healthz
    }
  });
  window.addEventListener("online", probe);

  /* ---- PIN pad ---- */
  function pinTarget(pad) {
    const sel = pad.getAttribute("data-pinpad-target");
    return sel ? document.querySelector(sel) : pad.querySelector("input");
  }

  function renderPinDots(pad, input) {
    const dots = pad.querySelector("[data-pin-dots]");
    if (!dots || !input) return;
    const len = input.value.length;
    const max = Math.max(input.maxLength, len); // maxLength is -1 when unset
    dots.textContent = "●".repeat(len) + "○".repeat(max - len);
  }

  function initPinpads(root) {
    if (!root.querySelectorAll) return;
    const pads = Array.from(root.querySelectorAll("[data-pinpad]"));
    if (root.matches && root.matches("[data-pinpad]")) pads.push(root);
    pads.forEach(function (pad) {
      // Buttons must never submit the form by themselves.
      pad.querySelectorAll("button[data-key]").forEach(function (b) { b.type = "button"; });
      renderPinDots(pad, pinTarget(pad));
    });
  }

  document.addEventListener("click", function (e) {
    const btn = e.target.closest && e.target.closest("[data-pinpad] [data-key]");
    if (!btn) return;
    const pad = btn.closest("[data-pinpad]");
    const input = pinTarget(pad);
    if (!input || input.disabled) return;
    const key = btn.getAttribute("data-key");
    let value = input.value;
    if (key === "back") value = value.slice(0, -1);
    else if (key === "clear") value = "";
    else if (/^[0-9]$/.test(key) && (input.maxLength < 0 || value.length < input.maxLength)) value += key;
    input.value = value; // reaching maxlength never auto-submits
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // Keep the dots in step whatever changed the input (pad or keyboard).
  document.addEventListener("input", function (e) {
    document.querySelectorAll("[data-pinpad]").forEach(function (pad) {
      if (pinTarget(pad) === e.target) renderPinDots(pad, e.target);
    });
  });

  /* ---- Beeps: window.kirana.beep(ok) ---- */
  let audio = null;
  function audioContext() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!audio && AC) audio = new AC();
    // Audio starts suspended until a user gesture, so unlock it on gestures
    // until it runs.
    if (audio && audio.state === "suspended") audio.resume().catch(function () {});
    return audio;
  }
  document.addEventListener("click", audioContext);
  // Only on Enter: creating the context can block ~100 ms, which must not
  // happen between a scan's keystrokes (a scan ends with Enter).
  document.addEventListener("keydown", function (e) { if (e.key === "Enter") audioContext(); });

  function beep(ok) {
    // Tells the camera scanner that the page answered its scan with a sound (no second).
    document.dispatchEvent(new CustomEvent("kirana:beep", { detail: { ok: !!ok } }));
    const ctx = audioContext();
    if (ctx) {
      // ok: short high sine "bip"; error: longer low square-wave buzz.
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      const t = ctx.currentTime, dur = ok ? 0.08 : 0.35;
      osc.type = ok ? "sine" : "square";
      osc.frequency.value = ok ? 1800 : 160;
      gain.gain.setValueAtTime(0.2, t);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + dur); // no click at the end
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(t);
      osc.stop(t + dur);
    }
    if (!ok && navigator.vibrate) navigator.vibrate([120, 60, 120]);
  }

  // htmx fires afterSwap once per swapped element (main + out-of-band), so
  // collect them and play a single sound per response; an error wins.
  let pendingBeep = null;
  const beeped = new WeakSet(); // an element beeps once, even if swapped around
  document.addEventListener("htmx:afterSwap", function (e) {
    const root = e.target;
    if (!root.querySelectorAll) return; // a swapped text node
    const els = Array.from(root.querySelectorAll("[data-beep]"));
    if (root.hasAttribute("data-beep")) els.push(root);
    els.forEach(function (el) {
      const kind = el.getAttribute("data-beep");
      if (beeped.has(el) || (kind !== "ok" && kind !== "error")) return;
      beeped.add(el);
      pendingBeep = pendingBeep === "error" ? "error" : kind;
    });
    if (pendingBeep) setTimeout(function () {
      if (pendingBeep) beep(pendingBeep === "ok");
      pendingBeep = null;
    }, 0);
  });

  /* ---- Online / offline flag on <body> ---- */
  function updateOnline() { document.body.classList.toggle("offline", !navigator.onLine); }
  window.addEventListener("online", updateOnline);
  window.addEventListener("offline", updateOnline);

  /* ---- What pages once wrote inline: the CSP runs no inline script or handler ---- */

  // [data-keyboard-toggle]: show or hide the on-screen keyboard for a scan field (the
  // attribute's selector, else the scan field of the button's form).
  document.addEventListener("click", function (e) {
    const btn = e.target.closest && e.target.closest("[data-keyboard-toggle]");
    if (!btn) return;
    const sel = btn.getAttribute("data-keyboard-toggle");
    const input = sel ? document.querySelector(sel)
      : btn.form && btn.form.querySelector("[data-scan-field]");
    if (!input) return;
    input.inputMode = input.inputMode === "none" ? "text" : "none";
    input.blur();
    input.focus();
  });

  // [data-css-var="--name:value"]: a CSS custom property for this element (the print
  // preview's paper and code widths), set from script as no style attribute may be.
  function applyCssVars(root) {
    if (!root.querySelectorAll) return;
    const els = Array.from(root.querySelectorAll("[data-css-var]"));
    if (root.matches && root.matches("[data-css-var]")) els.push(root);
    els.forEach(function (el) {
      const spec = el.getAttribute("data-css-var");
      const colon = spec.indexOf(":");
      if (spec.slice(0, 2) === "--" && colon > 2) {
        el.style.setProperty(spec.slice(0, colon).trim(), spec.slice(colon + 1).trim());
      }
    });
  }

  // <select data-autosubmit>: changing it submits its form.
  document.addEventListener("change", function (e) {
    const el = e.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
  });

  // A form htmx has not taken over yet (swapped in a moment ago, and a scanner's Enter
  // came first) must not submit natively: that is a GET of this page with the code in
  // its URL, and the scan is lost. Let htmx take the form now and send it as it would
  // have; if even then it does not, drop the submit rather than leave the page.
  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (e.defaultPrevented || !window.htmx || !form.getAttribute ||
        !form.getAttribute("hx-post")) return;
    e.preventDefault();
    if (form.dataset.resent) return;
    form.dataset.resent = "1";
    try {
      window.htmx.process(form);
      window.htmx.trigger(form, "submit");
    } finally {
      delete form.dataset.resent;
    }
  });

  // <form data-confirm="question">: a plain form that asks first (htmx forms: hx-confirm).
  document.addEventListener("submit", function (e) {
    const question = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  // <a data-back href="...">: back to where the user came from, else to the link.
  document.addEventListener("click", function (e) {
    const link = e.target.closest && e.target.closest("a[data-back]");
    if (link && window.history.length > 1) {
      e.preventDefault();
      window.history.back();
    }
  });

  // [data-live-events="/orders/events"]: server-sent events say when orders changed and
  // the element (with hx-trigger="orders-changed") fetches itself; [data-live-state]
  // names an element that shows the link. Without them (old browser, proxy) the page's
  // own polling or a reload keeps it current.
  function startLiveEvents() {
    if (!window.EventSource || !window.htmx) return;
    document.querySelectorAll("[data-live-events]").forEach(function (target) {
      const stateSel = target.getAttribute("data-live-state");
      const state = stateSel ? document.querySelector(stateSel) : null;
      const source = new EventSource(target.getAttribute("data-live-events"));
      source.addEventListener("hello", function () { if (state) state.textContent = word("live.on"); });
      source.addEventListener("orders", function () { htmx.trigger(target, "orders-changed"); });
      source.onerror = function () { if (state) state.textContent = word("live.reconnecting"); };
      window.addEventListener("pagehide", function () { source.close(); });
    });
  }

  /* ---- Keyboard shortcuts (docs/accessibility.md): a button with aria-keyshortcuts
     "F2 Alt+P" is pressed by F2 or Alt+P. F-keys type nothing, and Alt+letter is read
     by its physical key (e.code: the same key on a Hindi layout), so neither can come
     from a scanner or from typing in the scan field. Only a visible, enabled button. ---- */
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.repeat) return;
    let key = null;
    if (/^F\d+$/.test(e.key) && !e.altKey && !e.shiftKey) key = e.key;
    else if (e.altKey && !e.shiftKey && /^Key[A-Z]$/.test(e.code)) key = "Alt+" + e.code.slice(3);
    if (!key) return;
    // On a Mac, Option+letter types a letter (Option+C is "ç", Option+P "π"): in a text
    // field other than the scan field it is typing (a buyer's name), not a shortcut.
    // F2/F4 always work, and so does Option+letter from the scan field.
    const here = document.activeElement;
    if (key.startsWith("Alt+") && APPLE && e.key.length === 1 && isEditable(here) &&
        !here.hasAttribute("data-scan-field")) return;
    const btn = Array.from(document.querySelectorAll("[aria-keyshortcuts]")).find(function (b) {
      return b.getAttribute("aria-keyshortcuts").split(" ").indexOf(key) >= 0 && !b.disabled &&
        b.getClientRects().length > 0 && !(document.querySelector("[data-modal]") && !b.closest("[data-modal]"));
    });
    if (!btn) return;
    e.preventDefault();
    btn.click();
  });

  /* ---- One small live region per page (#scan-live in base.html) carries only the
     one-line answer to a scan (the element marked data-announce in what came back),
     not the whole redrawn cart, task or list; a screen reader says "Added Soap" or the
     error, once. ---- */
  function announce(root, delay) {
    const live = document.getElementById("scan-live");
    if (!live || !root || !root.querySelector) return;
    const said = root.matches("[data-announce]") ? root : root.querySelector("[data-announce]");
    if (!said) return;
    const text = said.textContent.replace(/\s+/g, " ").trim();
    live.textContent = "";
    if (text) setTimeout(function () { live.textContent = text; }, delay);
  }
  document.addEventListener("htmx:afterSettle", function (e) { announce(e.target, 50); });
  // A page that arrives with an answer (the receipt after Complete sale, a form posted
  // without htmx) says it too, once the region exists to be heard.
  announce(document.getElementById("main"), 300);

  // A table that scrolls sideways (.table-wrap on a phone) can be reached and scrolled
  // by keyboard: a focusable region named after its table's caption or the heading above.
  function labelScrollRegions(root) {
    if (!root.querySelectorAll) return;
    const els = Array.from(root.querySelectorAll(".table-wrap"));
    if (root.matches && root.matches(".table-wrap")) els.push(root);
    els.forEach(function (wrap) {
      if (wrap.hasAttribute("tabindex")) return;
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      if (wrap.hasAttribute("aria-label") || wrap.hasAttribute("aria-labelledby")) return;
      const caption = wrap.querySelector("caption");
      let heading = wrap.previousElementSibling;
      while (heading && !/^H[1-6]$/.test(heading.tagName)) heading = heading.previousElementSibling;
      const name = (caption || heading || {}).textContent || word("table.name");
      wrap.setAttribute("aria-label", word("table.scrolls", { name: name.replace(/\s+/g, " ").trim() }));
    });
  }

  /* On a phone the till's summary (Total, Pay) sticks to the bottom of the screen: a
     field or button tabbed to far down a long bill must not sit under it (WCAG 2.2 SC
     2.4.11). The page's scroll-padding-bottom follows the summary's height while it is
     sticky (scroll-padding-top does the same for the sticky top bar, in app.css). */
  function padUnderStickySummary() {
    const summary = document.querySelector(".cart-summary");
    const sticky = summary && getComputedStyle(summary).position === "sticky";
    document.documentElement.style.scrollPaddingBottom =
      sticky ? Math.ceil(summary.getBoundingClientRect().height) + 8 + "px" : "";
  }
  document.addEventListener("htmx:afterSettle", padUnderStickySummary);
  window.addEventListener("resize", padUnderStickySummary);

  /* ---- Page load (deferred script: the DOM is already parsed) ---- */
  document.addEventListener("htmx:load", function (e) {
    initPinpads(e.target);
    applyCssVars(e.target);
    labelScrollRegions(e.target);
  });
  initPinpads(document);
  applyCssVars(document);
  labelScrollRegions(document);
  padUnderStickySummary();
  startLiveEvents();
  updateOnline();
  focusScanField();

  window.kirana = { beep: beep, focusScanField: focusScanField };
})();
