/* Ticket pages: a search box over the long site list, and the request type shown only for
 * service requests. No user-facing text lives here: the page hands it over translated. */
(function () {
  "use strict";

  var MAX_ROWS = 8;

  function matches(option, words) {
    var text = option.textContent.toLowerCase();
    return words.every(function (word) {
      return text.indexOf(word) !== -1;
    });
  }

  function visibleOptions(select) {
    return Array.prototype.filter.call(select.options, function (option) {
      return option.value !== "" && !option.hidden;
    });
  }

  function choose(select, option) {
    select.value = option.value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // Typing narrows the list to the options holding every typed word (code or name); Enter
  // or a click picks one. The select stays the real field, so the form works without this.
  function searchable(select) {
    if (select.dataset.boSearchReady) {
      return;
    }
    select.dataset.boSearchReady = "1";
    var box = document.createElement("input");
    box.type = "search";
    box.className = "form-control mb-1";
    box.placeholder = select.dataset.boSearchable;
    box.setAttribute("aria-label", select.dataset.boSearchable);
    box.setAttribute("aria-controls", select.id);
    box.autocomplete = "off";
    box.dataset.boSearchFor = select.id;
    select.parentNode.insertBefore(box, select);

    box.addEventListener("input", function () {
      var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(select.options, function (option) {
        option.hidden = option.value !== "" && words.length > 0 && !matches(option, words);
      });
      var shown = visibleOptions(select).length;
      select.size = words.length ? Math.max(3, Math.min(MAX_ROWS, shown + 1)) : 0;
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault(); // pick a site, do not send the form half-filled
        var first = visibleOptions(select)[0];
        if (first) {
          choose(select, first);
        }
      }
    });
    select.addEventListener("change", function () {
      if (box.value) {
        box.value = "";
        Array.prototype.forEach.call(select.options, function (option) {
          option.hidden = false;
        });
        select.size = 0;
      }
    });
  }

  function requestTypeFollowsKind(root) {
    var kind = root.querySelector("#id_kind");
    var part = root.querySelector("[data-bo-request-only]");
    if (!kind || !part) {
      return;
    }
    var show = function () {
      part.hidden = kind.value !== "request";
      if (part.hidden) {
        part.querySelectorAll("select").forEach(function (select) {
          select.value = "";
        });
      }
    };
    kind.addEventListener("change", show);
    show();
  }

  window.htmx.onLoad(function (root) {
    root.querySelectorAll("select[data-bo-searchable]").forEach(searchable);
    requestTypeFollowsKind(root);
  });
})();
