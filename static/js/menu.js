/* The header's Menu (templates/base.html) is a native <details>: a tap, Enter or Space
   opens and closes it without this file. This adds what people expect of a menu:
   Escape closes it and puts focus back on the Menu button, and a tap anywhere outside
   it, or on one of its links, closes it. */
(function () {
  "use strict";

  function openMenus() {
    return Array.from(document.querySelectorAll("details[data-menu][open]"));
  }

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    openMenus().forEach(function (menu) {
      menu.open = false;
      const summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) summary.focus();
    });
  });

  document.addEventListener("click", function (e) {
    openMenus().forEach(function (menu) {
      const link = e.target.closest && e.target.closest("a");
      if (!menu.contains(e.target) || (link && menu.contains(link))) menu.open = false;
    });
  });
})();
