/* The alert console: tick all, and the live refresh that waits while someone is choosing.
 * No user-facing text lives here; the notes it shows are in the page, hidden. */
(function () {
  "use strict";

  var POLLER = "alert-poller";

  function ticked() {
    return document.querySelectorAll('input[name="alert"]:checked').length;
  }

  function menuOpen() {
    return document.querySelector("#object-list .dropdown-menu.show") !== null;
  }

  function showPaused() {
    var note = document.querySelector("[data-bo-paused]");
    if (note) {
      note.hidden = ticked() === 0;
    }
  }

  // The timed refresh would throw away ticks and close an open menu: skip it meanwhile.
  // A refresh asked for by an action (the alerts-changed event) always runs.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== POLLER) {
      return;
    }
    var trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (trigger && trigger.type !== "every" && trigger.type.indexOf("alerts-changed") === 0) {
      return;
    }
    if (ticked() > 0 || menuOpen()) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-bo-select-all]")) {
      document.querySelectorAll('input[name="alert"]').forEach(function (box) {
        box.checked = target.checked;
      });
    }
    if (target.matches && target.matches('[data-bo-select-all], input[name="alert"]')) {
      showPaused();
    }
  });

  // After a bulk action the ticks are spent: clear them so the refresh shows the result.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "bulk-form" && event.detail.successful) {
      document.querySelectorAll('input[name="alert"], [data-bo-select-all]').forEach(function (box) {
        box.checked = false;
      });
      showPaused();
    }
  });
})();
