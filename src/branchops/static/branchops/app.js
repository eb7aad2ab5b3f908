/* BranchOps page behaviour: maps of sites and small helpers.
 * No user-facing text lives here: labels arrive translated in the page's JSON data. */
(function () {
  "use strict";

  // Site status colours, matching the badges (Tabler's palette).
  var STATUS_COLOURS = {
    active: "#2fb344",
    planned: "#4299e1",
    suspended: "#f76707",
    closed: "#9aa0ac",
  };
  var geoReady = null;

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  function loadChina(url) {
    if (geoReady === null) {
      geoReady = fetch(url, { credentials: "same-origin" })
        .then(function (response) {
          return response.json();
        })
        .then(function (geojson) {
          window.echarts.registerMap("china", geojson);
        });
    }
    return geoReady;
  }

  function seriesFor(points, labels, size) {
    var byStatus = {};
    points.forEach(function (p) {
      (byStatus[p.status] = byStatus[p.status] || []).push({
        name: p.name,
        value: [p.lon, p.lat],
        url: p.url,
        kind: p.kind,
        branch: p.branch,
      });
    });
    return Object.keys(byStatus).map(function (status) {
      return {
        name: labels[status] || status,
        type: "scatter",
        coordinateSystem: "geo",
        data: byStatus[status],
        symbolSize:
          size ||
          function (value, params) {
            return params.data.branch ? 6 : 11;
          },
        symbol: "circle",
        itemStyle: { color: STATUS_COLOURS[status] || "#667382", opacity: 0.85 },
        emphasis: { scale: 1.6 },
      };
    });
  }

  function drawMap(el) {
    if (el.dataset.drawn || typeof window.echarts === "undefined") {
      return;
    }
    el.dataset.drawn = "1";
    var data = JSON.parse(document.getElementById(el.dataset.boMap).textContent);
    loadChina(el.dataset.geo).then(function () {
      var geo = {
        map: "china",
        roam: true,
        top: 8,
        bottom: data.legend === false ? 8 : 36,
        itemStyle: { areaColor: "#f1f5f9", borderColor: "#c8d3e1" },
        emphasis: { disabled: true },
        label: { show: false },
      };
      if (data.center) {
        geo.center = data.center;
        geo.zoom = data.zoom || 5;
      }
      var chart = window.echarts.init(el);
      chart.setOption({
        animation: false,
        tooltip: {
          trigger: "item",
          formatter: function (params) {
            return escapeHtml(params.name) + "<br>" + escapeHtml(params.seriesName);
          },
        },
        legend: data.legend === false ? { show: false } : { bottom: 0, left: "center" },
        geo: geo,
        series: seriesFor(data.points, data.labels || {}, data.symbolSize),
      });
      chart.on("click", function (params) {
        if (params.data && params.data.url) {
          window.location.href = params.data.url;
        }
      });
      window.addEventListener("resize", function () {
        chart.resize();
      });
    });
  }

  // Filter bars send every field; leave the empty ones out so the pushed address stays short.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") {
      return;
    }
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (name) {
      if (params[name] === "") {
        delete params[name];
      }
    });
  });

  window.htmx.onLoad(function (root) {
    root.querySelectorAll("[data-bo-map]").forEach(drawMap);
    root.querySelectorAll("form[data-bo-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.boConfirm)) {
          event.preventDefault();
        }
      });
    });
  });
})();
