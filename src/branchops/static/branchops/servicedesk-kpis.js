/* Service desk: draws the KPI page's charts from the options the page hands over as JSON,
 * and copies the satisfaction link on a ticket's page. No user-facing text lives here. */
(function () {
  "use strict";

  function drawCharts() {
    if (typeof window.echarts === "undefined") {
      return;
    }
    document.querySelectorAll("[data-bo-kpi-chart]").forEach(function (el) {
      if (el.dataset.boDrawn) {
        return;
      }
      var source = document.getElementById(el.dataset.boKpiChart);
      if (!source) {
        return;
      }
      el.dataset.boDrawn = "1";
      var chart = window.echarts.init(el);
      chart.setOption(JSON.parse(source.textContent));
      if (window.ResizeObserver) {
        new window.ResizeObserver(function () {
          chart.resize();
        }).observe(el);
      }
    });
  }

  function copyButtons() {
    document.querySelectorAll("[data-bo-copy]").forEach(function (button) {
      if (button.dataset.boCopyReady) {
        return;
      }
      button.dataset.boCopyReady = "1";
      button.addEventListener("click", function () {
        var field = document.getElementById(button.dataset.boCopy);
        if (!field) {
          return;
        }
        var done = function () {
          button.textContent = button.dataset.boCopied || button.textContent;
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done);
        } else {
          field.select();
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  function ready() {
    drawCharts();
    copyButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  document.addEventListener("htmx:afterSettle", ready);
})();
