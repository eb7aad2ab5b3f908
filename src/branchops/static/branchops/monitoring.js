/* BranchOps monitoring charts: ECharts line charts fed by /api/v1/metrics/query_range/.
 *
 * A chart group ([data-bo-charts]) names a JSON block (written by monitoring/charts.py) with
 * the API address, the time zone, the label matchers, the ranges and, per chart, the metrics
 * to fetch, their units and their series labels. No UI text lives here: titles, labels and
 * messages arrive translated in that JSON. Series labels come from the devices themselves
 * (interface and tunnel names), so every tooltip escapes them.
 */
(function () {
  "use strict";

  var REFRESH_MS = 60 * 1000;
  var TOP_SERIES = 5;
  var PALETTE = [
    "#206bc4",
    "#2fb344",
    "#f76707",
    "#ae3ec9",
    "#17a2b8",
    "#d63939",
    "#f59f00",
    "#0ca678",
    "#d6336c",
    "#4263eb",
  ];

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  // ---- time: the axis shows the configured zone (Asia/Shanghai), whatever the browser's ----

  // Milliseconds to add to a UTC instant to read it as wall-clock time in ``zone``; cached
  // per hour, so a 30-day chart asks Intl about 720 times at most.
  function zoneOffset(zone) {
    var format = null;
    try {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    } catch (error) {
      format = null; // unknown zone: fall back to the browser's own
    }
    var cache = {};
    return function (ms) {
      if (format === null) {
        return -new Date(ms).getTimezoneOffset() * 60000;
      }
      var hour = Math.floor(ms / 3600000);
      if (cache[hour] === undefined) {
        var parts = {};
        format.formatToParts(new Date(hour * 3600000)).forEach(function (part) {
          parts[part.type] = part.value;
        });
        var wall = Date.UTC(
          Number(parts.year),
          Number(parts.month) - 1,
          Number(parts.day),
          Number(parts.hour) % 24,
          Number(parts.minute),
          Number(parts.second)
        );
        cache[hour] = wall - hour * 3600000;
      }
      return cache[hour];
    };
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  // ``ms`` is already shifted to wall-clock time: read it with the UTC getters.
  function wallClock(ms) {
    var d = new Date(ms);
    return (
      d.getUTCFullYear() +
      "-" +
      pad(d.getUTCMonth() + 1) +
      "-" +
      pad(d.getUTCDate()) +
      " " +
      pad(d.getUTCHours()) +
      ":" +
      pad(d.getUTCMinutes()) +
      ":" +
      pad(d.getUTCSeconds())
    );
  }

  // ---- numbers and units -------------------------------------------------------------------

  // A tick value as ECharts chose it (0.02, 250, 1.5), without float noise.
  function tick(value) {
    return String(parseFloat(value.toPrecision(6)));
  }

  function scaled(value, compact) {
    var a = Math.abs(value);
    var steps = [
      [1e9, " G"],
      [1e6, " M"],
      [1e3, " K"],
    ];
    for (var i = 0; i < steps.length; i += 1) {
      if (a >= steps[i][0]) {
        var n = value / steps[i][0];
        return (compact ? tick(n) : n.toFixed(2)) + steps[i][1];
      }
    }
    return (compact ? tick(value) : value.toFixed(0)) + " ";
  }

  // ``compact`` for axis labels (tick values), else for tooltips (fixed precision).
  function formatValue(unit, value, text, compact) {
    if (value === null || value === undefined || isNaN(value)) {
      return "–";
    }
    var a = Math.abs(value);
    switch (unit) {
      case "ms":
        if (compact) {
          return tick(value) + " ms";
        }
        return (a < 10 ? value.toFixed(2) : a < 100 ? value.toFixed(1) : value.toFixed(0)) + " ms";
      case "percent":
        return (compact ? tick(value) : value.toFixed(1)) + " %";
      case "bps":
        return scaled(value, compact) + "bit/s";
      case "state":
        return value >= 0.5 ? text.up : text.down;
      case "days":
        return (compact ? tick(value) : value.toFixed(1)) + " " + text.days;
      default:
        return compact ? scaled(value, true).trim() : Math.round(value).toLocaleString();
    }
  }

  // ---- series ------------------------------------------------------------------------------

  function labelFor(template, labels) {
    return template.replace(/%\((\w+)\)s/g, function (whole, key) {
      return labels[key] !== undefined ? labels[key] : "";
    });
  }

  // Series that would share a name (a device whose region or role changed keeps its old
  // series too) get the labels that tell them apart: "Average (region=gd)".
  function nameApart(items) {
    var groups = {};
    items.forEach(function (item) {
      (groups[item.name] = groups[item.name] || []).push(item);
    });
    Object.keys(groups).forEach(function (name) {
      var group = groups[name];
      if (group.length < 2) {
        return;
      }
      var keys = {};
      group.forEach(function (item) {
        Object.keys(item.labels).forEach(function (key) {
          keys[key] = true;
        });
      });
      var differing = Object.keys(keys)
        .sort()
        .filter(function (key) {
          return group.some(function (item) {
            return item.labels[key] !== group[0].labels[key];
          });
        });
      group.forEach(function (item, index) {
        var parts = differing.map(function (key) {
          return key + "=" + (item.labels[key] === undefined ? "" : item.labels[key]);
        });
        item.name = name + " (" + (parts.length ? parts.join(", ") : String(index + 1)) + ")";
      });
    });
    return items;
  }

  // ``wanted`` maps a label to its value; "" means the label is absent (or empty).
  function matches(labels, wanted) {
    return Object.keys(wanted || {}).every(function (key) {
      return wanted[key] === "" ? !labels[key] : labels[key] === wanted[key];
    });
  }

  function mean(points) {
    if (!points.length) {
      return 0;
    }
    var sum = 0;
    points.forEach(function (p) {
      sum += Math.abs(p.value);
    });
    return sum / points.length;
  }

  // One series per metric and value of ``label``: a tunnel read by the firewall's profile check
  // and by its link's own check is one tunnel (the one with more points stays).
  function onePer(items, label) {
    var kept = {};
    items.forEach(function (item) {
      var key = item.metric + "\u0000" + (item.labels[label] || "");
      if (!kept[key] || item.raw.length > kept[key].raw.length) {
        kept[key] = item;
      }
    });
    return items.filter(function (item) {
      return kept[item.metric + "\u0000" + (item.labels[label] || "")] === item;
    });
  }

  // The few values of ``label`` that matter most: the busiest interfaces by the mean of their
  // series, or for a state (1 up, 0 down) the tunnels that were down the longest.
  function keepTop(items, label, lowest) {
    var load = {};
    items.forEach(function (item) {
      var key = item.labels[label] || "";
      load[key] = (load[key] || 0) + mean(item.raw);
    });
    var top = Object.keys(load)
      .sort(function (a, b) {
        return lowest ? load[a] - load[b] || (a < b ? -1 : 1) : load[b] - load[a];
      })
      .slice(0, TOP_SERIES);
    return items.filter(function (item) {
      return top.indexOf(item.labels[label] || "") !== -1;
    });
  }

  // Points as [time, value, low, high], time shifted to wall clock; a gap of more than three
  // usual steps (the engine was stopped, the device unreachable) breaks the line.
  function toPoints(raw, scale, offset) {
    var steps = [];
    for (var i = 1; i < raw.length; i += 1) {
      steps.push(raw[i].ts - raw[i - 1].ts);
    }
    steps.sort(function (a, b) {
      return a - b;
    });
    var usual = steps.length ? steps[Math.floor(steps.length / 2)] : 0;
    var points = [];
    raw.forEach(function (p, index) {
      var ms = p.ts * 1000;
      if (index > 0 && usual > 0 && p.ts - raw[index - 1].ts > 3 * usual) {
        points.push({ t: ms - 1 + offset(ms), v: null, low: null, high: null });
      }
      points.push({
        t: ms + offset(ms),
        v: p.value * scale,
        low: p.low === null || p.low === undefined ? null : p.low * scale,
        high: p.high === null || p.high === undefined ? null : p.high * scale,
      });
    });
    return points;
  }

  function collect(def, answers, offset) {
    var items = [];
    answers.forEach(function (answer) {
      answer.series.forEach(function (series) {
        if (!matches(series.labels, answer.metric.match)) {
          return;
        }
        items.push({
          metric: answer.metric.name,
          labels: series.labels,
          template: answer.metric.label,
          scale: answer.metric.scale,
          raw: series.points,
        });
      });
    });
    if (def.top) {
      items = keepTop(onePer(items, def.top), def.top, def.unit === "state");
    }
    return nameApart(
      items.map(function (item) {
        return {
          name: labelFor(item.template, item.labels),
          labels: item.labels,
          points: toPoints(item.raw, item.scale, offset),
        };
      })
    );
  }

  // ---- drawing -----------------------------------------------------------------------------

  function seriesOf(def, items) {
    var series = [];
    var band = def.band && items.length <= 2;
    items.forEach(function (item, i) {
      var colour = PALETTE[i % PALETTE.length];
      series.push({
        id: "s" + i,
        name: item.name,
        type: "line",
        data: item.points.map(function (p) {
          return [p.t, p.v];
        }),
        showSymbol: false,
        symbolSize: 4,
        step: def.step ? "end" : false,
        lineStyle: { width: def.step ? 2 : 1.5 },
        itemStyle: { color: colour },
        emphasis: { focus: "series" },
      });
      var withRange = item.points.some(function (p) {
        return p.low !== null && p.high !== null;
      });
      if (band && withRange) {
        // Stacked pair: an invisible line at the minimum, then the (max - min) area on it.
        series.push({
          id: "band-low-" + i,
          type: "line",
          stack: "band-" + i,
          data: item.points.map(function (p) {
            return [p.t, p.low];
          }),
          lineStyle: { opacity: 0 },
          symbol: "none",
          silent: true,
        });
        series.push({
          id: "band-range-" + i,
          type: "line",
          stack: "band-" + i,
          data: item.points.map(function (p) {
            return [p.t, p.low === null || p.high === null ? null : p.high - p.low];
          }),
          lineStyle: { opacity: 0 },
          areaStyle: { color: colour, opacity: 0.15 },
          symbol: "none",
          silent: true,
        });
      }
    });
    return series;
  }

  function optionFor(def, items, range, text) {
    var names = items.map(function (item) {
      return item.name;
    });
    var yAxis = {
      type: "value",
      // Latencies and counts zoom in on their range; amounts start at zero.
      scale: def.unit === "ms" || def.unit === "count",
      axisLabel: {
        formatter: function (value) {
          return formatValue(def.unit, value, text, true);
        },
      },
      splitLine: { lineStyle: { color: "#e6e7e9" } },
    };
    if (def.unit === "percent") {
      yAxis.min = 0;
    }
    if (def.unit === "state") {
      yAxis.min = 0;
      yAxis.max = 1;
      yAxis.interval = 1;
    }
    return {
      animation: false,
      useUTC: true, // times are already shifted to the configured zone
      color: PALETTE,
      grid: {
        left: 8,
        right: 16,
        top: 12,
        bottom: names.length > 1 ? 32 : 8,
        containLabel: true,
      },
      legend: names.length > 1 ? { type: "scroll", bottom: 0, data: names } : { show: false },
      xAxis: {
        type: "time",
        min: range.start,
        max: range.end,
        splitNumber: 4,
        axisLabel: {
          hideOverlap: true,
          formatter: {
            year: "{yyyy}",
            month: "{yyyy}-{MM}",
            day: "{MM}-{dd}",
            hour: "{HH}:{mm}",
            minute: "{HH}:{mm}",
            second: "{HH}:{mm}:{ss}",
          },
        },
      },
      yAxis: yAxis,
      tooltip: {
        trigger: "axis",
        confine: true,
        formatter: function (params) {
          var shown = params.filter(function (p) {
            return String(p.seriesId).indexOf("band-") !== 0;
          });
          if (!shown.length) {
            return "";
          }
          var lines = [escapeHtml(wallClock(shown[0].value[0]))];
          shown.forEach(function (p) {
            lines.push(
              p.marker +
                escapeHtml(p.seriesName) +
                ": <b>" +
                escapeHtml(formatValue(def.unit, p.value[1], text, false)) +
                "</b>"
            );
          });
          return lines.join("<br>");
        },
      },
      series: seriesOf(def, items),
    };
  }

  function note(chart, message) {
    if (message) {
      chart.note.textContent = message;
      chart.note.hidden = false;
    } else {
      chart.note.hidden = true;
    }
  }

  function fetchMetric(config, def, metric, start, end) {
    var params = new URLSearchParams();
    params.set("name", metric.name);
    params.set("start", String(Math.floor(start)));
    params.set("end", String(Math.ceil(end)));
    [config.matchers, def.extra].forEach(function (matchers) {
      Object.keys(matchers || {}).forEach(function (key) {
        params.set(key, matchers[key]);
      });
    });
    return fetch(config.api + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json().then(function (series) {
        return { metric: metric, series: series };
      });
    });
  }

  function load(group) {
    var end = Date.now() / 1000;
    var start = end - group.seconds;
    var token = (group.token += 1);
    group.charts.forEach(function (chart) {
      Promise.all(
        chart.def.metrics.map(function (metric) {
          return fetchMetric(group.config, chart.def, metric, start, end);
        })
      )
        .then(function (answers) {
          if (token !== group.token) {
            return; // a newer range was chosen meanwhile
          }
          var items = collect(chart.def, answers, group.offset);
          var range = {
            start: start * 1000 + group.offset(start * 1000),
            end: end * 1000 + group.offset(end * 1000),
          };
          chart.instance.setOption(optionFor(chart.def, items, range, group.config.text), {
            notMerge: true,
          });
          var empty = !items.some(function (item) {
            return item.points.length;
          });
          // A chart of something the device may not have (tunnels, sessions) goes away
          // when there is no such series at all; the others say "no data".
          chart.box.hidden = chart.def.optional && items.length === 0;
          note(chart, empty ? group.config.text.empty : "");
        })
        .catch(function () {
          if (token === group.token) {
            note(chart, group.config.text.error);
          }
        });
    });
  }

  function setUp(root) {
    if (root.dataset.boReady || typeof window.echarts === "undefined") {
      return;
    }
    var source = document.getElementById(root.dataset.boCharts);
    if (!source) {
      return;
    }
    root.dataset.boReady = "1";
    var config = JSON.parse(source.textContent);
    var group = {
      config: config,
      offset: zoneOffset(config.zone),
      seconds: config.ranges.length ? config.ranges[0].seconds : 3600,
      token: 0,
      charts: [],
    };
    config.charts.forEach(function (def) {
      var el = root.querySelector('[data-bo-chart="' + def.key + '"]');
      if (!el) {
        return;
      }
      var chart = {
        def: def,
        instance: window.echarts.init(el),
        note: el.parentNode.querySelector(".bo-chart-note"),
        box: el.closest("[data-bo-chart-box]") || el.parentNode,
      };
      if (window.ResizeObserver) {
        new window.ResizeObserver(function () {
          chart.instance.resize();
        }).observe(el);
      }
      group.charts.push(chart);
    });
    root.querySelectorAll("[data-bo-range]").forEach(function (button) {
      button.addEventListener("click", function () {
        group.seconds = Number(button.dataset.boRange);
        root.querySelectorAll("[data-bo-range]").forEach(function (other) {
          var active = other === button;
          other.classList.toggle("active", active);
          other.setAttribute("aria-pressed", active ? "true" : "false");
        });
        load(group);
      });
    });
    load(group);
    var timer = window.setInterval(function () {
      if (!root.isConnected) {
        window.clearInterval(timer);
        group.charts.forEach(function (chart) {
          chart.instance.dispose();
        });
        return;
      }
      if (document.visibilityState === "visible") {
        load(group);
      }
    }, REFRESH_MS);
  }

  function scan(root) {
    if (root.matches && root.matches("[data-bo-charts]")) {
      setUp(root);
    }
    root.querySelectorAll("[data-bo-charts]").forEach(setUp);
  }

  if (window.htmx) {
    window.htmx.onLoad(scan);
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      scan(document);
    });
  }
})();
