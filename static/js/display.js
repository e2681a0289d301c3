/* The customer display (templates/display/screen.html): follows /display/events and
   shows each screen the server sends; runs the idle slideshow. EventSource reconnects
   by itself after a dropped link and the server then sends the screen as it is now; a
   refused stream (the server restarting, the display unpaired) is tried again here. */
(function () {
  "use strict";
  const body = document.body;
  const screen = document.getElementById("screen");
  const lost = document.querySelector("[data-testid=display-link]");
  let source = null;
  let retry = null;
  let slideTimer = null;

  function startSlides() {
    if (slideTimer) { clearInterval(slideTimer); slideTimer = null; }
    const box = screen.querySelector(".slides");
    if (!box) return;
    const slides = box.querySelectorAll(".slide");
    const seconds = parseInt(box.getAttribute("data-slide-seconds"), 10) || 8;
    if (slides.length < 2) return;
    let shown = 0;
    slideTimer = setInterval(function () {
      slides[shown].classList.remove("shown");
      shown = (shown + 1) % slides.length;
      slides[shown].classList.add("shown");
    }, seconds * 1000);
  }

  function show(html) {
    screen.innerHTML = html;
    startSlides();
  }

  function connect() {
    retry = null;
    source = new EventSource(body.getAttribute("data-events"));
    source.addEventListener("hello", function () { lost.hidden = true; });
    source.addEventListener("screen", function (e) { lost.hidden = true; show(e.data); });
    source.addEventListener("revoked", function (e) {
      source.close();
      screen.textContent = e.data;
      retry = setTimeout(connect, 30000);
    });
    source.onerror = function () {
      lost.hidden = false;
      if (source.readyState === EventSource.CLOSED && !retry) {
        retry = setTimeout(connect, 3000);  // refused (e.g. 503 while restarting): try again
      }
    };
  }

  window.addEventListener("pagehide", function () { if (source) source.close(); });
  startSlides();
  if (window.EventSource) connect();
})();
