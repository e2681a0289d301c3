/* The offline page (served by the service worker when the store server cannot be
   reached): try again every 10 seconds, or at once on the button. A file of its own
   because the Content-Security-Policy runs no inline script. */
(function () {
  "use strict";
  setTimeout(function () { window.location.reload(); }, 10000);
  document.querySelectorAll("[data-reload]").forEach(function (button) {
    button.addEventListener("click", function () { window.location.reload(); });
  });
})();
