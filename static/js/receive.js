/* Receiving (GRN) on a phone: after a scan shows its form, put the cursor where the
   next thing must be typed (a batch the code did not carry), else on the scan field;
   a submitted Add form cannot be sent twice (htmx disables its button while it runs,
   and the server adds a form's request id once anyway). No inline script: the CSP. */
(function () {
  "use strict";
  document.addEventListener("htmx:afterSettle", function (e) {
    const step = document.getElementById("grn-step");
    if (!step || !e.detail || !step.contains(e.detail.elt) && e.detail.elt !== step) return;
    const want = step.querySelector("[data-receive-focus]");
    if (want) want.focus();
  });
})();
