/* monilog's page: the live view (served by monitoring --web) and the static report (--html).
   Everything that comes from the log is put in the page as text (textContent, text nodes,
   attributes set through the DOM): never as markup. No dependency, no request elsewhere. */
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var STATUS_COLORS = { "1xx": "#8794a3", "2xx": "#3fb96a", "3xx": "#4c9be8", "4xx": "#e8a33d", "5xx": "#f0524f", "other": "#a47ae8" };
  var LATENCY_COLORS = { p50: "#3fb96a", p90: "#4c9be8", p95: "#e8a33d", p99: "#f0524f" };
  var HISTORY_SECONDS = 600;

  // -- formatting ---------------------------------------------------------------------------

  function num(value) { return value == null ? "–" : Math.round(value).toLocaleString("en-US"); }
  function rate(value) {
    if (value == null) { return "–"; }
    return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(value >= 10 ? 1 : 2);
  }
  function pct(share) { return share == null ? "–" : (100 * share).toFixed(1) + "%"; }
  function secs(value) {
    if (value == null) { return "–"; }
    return value < 1 ? (1000 * value).toFixed(value < 0.01 ? 2 : 0) + " ms" : value.toFixed(2) + " s";
  }
  function duration(seconds) {
    if (seconds == null) { return "–"; }
    seconds = Math.round(seconds);
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return h ? h + "h" + two(m) + "m" + two(s) + "s" : m ? m + "m" + two(s) + "s" : s + "s";
  }
  function epochOf(iso) { return iso == null ? null : Date.parse(iso) / 1000; }
  function clockText(epoch, offset, withDate) {
    if (epoch == null) { return "–"; }
    var text = new Date((epoch + offset) * 1000).toISOString();
    return withDate ? text.slice(0, 10) + " " + text.slice(11, 19) : text.slice(11, 19);
  }

  // -- DOM ----------------------------------------------------------------------------------

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text != null) { node.textContent = String(text); }
    return node;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function svgEl(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    return node;
  }
  function card(parent, title, wide, id) {
    var box = add(parent, el("section", wide ? "card wide" : "card"));
    if (id) { box.id = id; }
    add(box, el("h2", null, title));
    return box;
  }
  function empty(parent, text) { add(parent, el("div", "empty", text)); }
  function figure(parent, value, label) {
    var box = add(parent, el("div", "figure"));
    add(box, el("b", null, value));
    add(box, el("span", null, label));
    return box;
  }
  function table(parent, headers, rows, nameColumns, cls) {
    if (!rows.length) { empty(parent, "nothing yet"); return null; }
    var scroll = add(parent, el("div", "scroll"));
    var tab = add(scroll, el("table", cls || null));
    var head = add(add(tab, el("thead")), el("tr"));
    headers.forEach(function (h) { add(head, el("th", null, h)); });
    var body = add(tab, el("tbody"));
    rows.forEach(function (row) {
      var tr = add(body, el("tr", row.cls || null));
      row.cells.forEach(function (cell, index) {
        var kind = index < (nameColumns || 1) ? (row.text ? "text" : "name") : null;
        var td = add(tr, el("td", kind, cell));
        if (kind === "name") { td.title = String(cell); }
      });
    });
    return tab;
  }

  // -- charts -------------------------------------------------------------------------------

  function niceMax(value) {
    if (!(value > 0)) { return 1; }
    var power = Math.pow(10, Math.floor(Math.log10(value))), steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * power >= value) { return steps[i] * power; } }
    return 10 * power;
  }
  var chartWidth = 600;  // measured before each drawing: the tree is built detached, then swapped in

  /* The inner width of a wide card in the page as it is now. */
  function measure() {
    var app = document.getElementById("app"), style = getComputedStyle(app);
    var inner = app.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    chartWidth = Math.max(240, Math.floor(inner - 26));
  }
  var TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

  /* A time chart in ``box``. spec: {first, width: seconds a bin, count, series: [{name, color,
     values (per bin, null for none)}], stacked, threshold, spans: [[start, end]], offset,
     format (y value → text), unit}. Bars when stacked, a line (filled for one series) otherwise. */
  function chart(box, spec) {
    var holder = add(box, el("div", "chart"));
    var total = chartWidth;
    var narrow = total < 500;
    var W = total, H = narrow ? 150 : 190, left = 46, right = 10, top = 10, bottom = 22;
    var plotW = W - left - right, plotH = H - top - bottom;
    var s = svgEl("svg", { viewBox: "0 0 " + W + " " + H, height: H, role: "img" });
    s.setAttribute("aria-label", spec.label || "chart");
    holder.appendChild(s);
    var n = spec.count, x0 = spec.first, x1 = spec.first + spec.width * Math.max(n, 1);
    var top_value = 0, i, j;
    for (i = 0; i < n; i++) {
      var sum = 0;
      for (j = 0; j < spec.series.length; j++) {
        var v = spec.series[j].values[i];
        if (v != null) { sum = spec.stacked ? sum + v : Math.max(sum, v); }
      }
      top_value = Math.max(top_value, sum);
    }
    if (spec.threshold != null) { top_value = Math.max(top_value, spec.threshold * 1.2); }
    var yMax = niceMax(top_value);
    function X(t) { return left + (t - x0) / (x1 - x0) * plotW; }
    function Y(v) { return top + plotH - v / yMax * plotH; }
    (spec.spans || []).forEach(function (span) {
      var a = Math.max(X(span[0]), left), b = Math.min(X(span[1]), left + plotW);
      if (b > a) { s.appendChild(svgEl("rect", { "class": "span", x: a, y: top, width: Math.max(b - a, 1.5), height: plotH })); }
    });
    for (i = 0; i <= 4; i++) {
      var gy = top + plotH * i / 4;
      s.appendChild(svgEl("line", { "class": "gridline", x1: left, x2: left + plotW, y1: gy, y2: gy }));
      var label = add(s, svgEl("text", { x: left - 5, y: gy + 4, "text-anchor": "end" }));
      label.textContent = spec.format(yMax * (4 - i) / 4);
    }
    var span = x1 - x0, step = TIME_STEPS[TIME_STEPS.length - 1];
    for (i = 0; i < TIME_STEPS.length; i++) { if (span / TIME_STEPS[i] <= plotW / (narrow ? 70 : 95)) { step = TIME_STEPS[i]; break; } }
    var withDate = span > 86400 * 2;
    for (var t = Math.ceil((x0 + spec.offset) / step) * step - spec.offset; t <= x1; t += step) {
      var tx = X(t);
      if (tx > left + plotW - 22) { break; }  // a label cut by the edge
      s.appendChild(svgEl("line", { "class": "gridline", x1: tx, x2: tx, y1: top + plotH, y2: top + plotH + 4 }));
      var tick = add(s, svgEl("text", { x: tx, y: H - 5, "text-anchor": "middle" }));
      tick.textContent = withDate ? clockText(t, spec.offset, true).slice(5, 16) : clockText(t, spec.offset, false).slice(0, step < 60 ? 8 : 5);
    }
    var barW = plotW / Math.max(n, 1);
    if (spec.stacked) {
      var base = [];
      for (i = 0; i < n; i++) { base.push(0); }
      spec.series.forEach(function (series) {
        var d = "";
        for (var k = 0; k < n; k++) {
          var value = series.values[k];
          if (!value) { continue; }
          var y1 = Y(base[k]), y2 = Y(base[k] + value);
          d += "M" + (left + k * barW).toFixed(1) + " " + y1.toFixed(1) + "h" + Math.max(barW - (barW > 3 ? 1 : 0), 0.6).toFixed(2) +
            "V" + y2.toFixed(1) + "H" + (left + k * barW).toFixed(1) + "Z";
          base[k] += value;
        }
        if (d) { s.appendChild(svgEl("path", { d: d, fill: series.color })); }
      });
    } else {
      spec.series.forEach(function (series) {
        var d = "", started = false, first = null, last = null;
        for (var k = 0; k < n; k++) {
          var value = series.values[k];
          if (value == null) { started = false; continue; }
          var px = (left + (k + 0.5) * barW).toFixed(1), py = Y(value).toFixed(1);
          d += (started ? "L" : "M") + px + " " + py;
          started = true;
          if (first == null) { first = px; }
          last = px;
        }
        if (!d) { return; }
        if (spec.series.length === 1 && first != null) {
          s.appendChild(svgEl("path", { d: d + "L" + last + " " + (top + plotH) + "L" + first + " " + (top + plotH) + "Z",
            fill: series.color, "fill-opacity": 0.18 }));
        }
        s.appendChild(svgEl("path", { d: d, fill: "none", stroke: series.color, "stroke-width": 1.6, "stroke-linejoin": "round" }));
      });
    }
    if (spec.threshold != null) {
      var ty = Y(spec.threshold);
      s.appendChild(svgEl("line", { "class": "threshold", x1: left, x2: left + plotW, y1: ty, y2: ty }));
      var tl = add(s, svgEl("text", { x: left + plotW - 4, y: ty - 4, "text-anchor": "end" }));
      tl.textContent = "threshold " + spec.format(spec.threshold);
    }
    s.setAttribute("data-points", String(n));
    s.setAttribute("data-first", String(spec.first));
    s.setAttribute("data-width", String(spec.width));
    if (spec.series.length > 1 || spec.legend) {
      var legend = add(box, el("div", "legend"));
      spec.series.forEach(function (series) {
        var item = add(legend, el("span"));
        var swatch = add(item, el("i"));
        swatch.style.background = series.color;
        item.appendChild(document.createTextNode(series.name));
      });
      if (spec.spans && spec.spans.length) {
        var alerts = add(legend, el("span"));
        add(alerts, el("i")).style.background = "rgba(240, 82, 79, 0.35)";
        alerts.appendChild(document.createTextNode("alert"));
      }
    }
    var cursor = svgEl("line", { "class": "cursor", y1: top, y2: top + plotH, visibility: "hidden" });
    s.appendChild(cursor);
    var tip = add(holder, el("div", "tip"));
    s.addEventListener("mousemove", function (event) {
      var rect = s.getBoundingClientRect();
      var px = (event.clientX - rect.left) * W / rect.width;
      var k = Math.floor((px - left) / barW);
      if (k < 0 || k >= n) { cursor.setAttribute("visibility", "hidden"); tip.style.display = "none"; return; }
      var at = spec.first + k * spec.width;
      var lines = [clockText(at, spec.offset, spec.width >= 3600 || withDate) + (spec.width > 1 ? " +" + duration(spec.width) : "")];
      spec.series.forEach(function (series) {
        var value = series.values[k];
        lines.push(series.name + ": " + (value == null ? "–" : spec.format(value)) + (spec.unit || ""));
      });
      tip.textContent = lines.join("\n");
      tip.style.display = "block";
      var cx = left + (k + 0.5) * barW;
      cursor.setAttribute("x1", cx); cursor.setAttribute("x2", cx); cursor.setAttribute("visibility", "visible");
      var screenX = cx * rect.width / W;
      tip.style.left = (screenX > rect.width / 2 ? screenX - tip.offsetWidth - 8 : screenX + 8) + "px";
    });
    s.addEventListener("mouseleave", function () { cursor.setAttribute("visibility", "hidden"); tip.style.display = "none"; });
    return s;
  }

  // -- what both pages show -----------------------------------------------------------------

  /* Alert spans and history rows from alert/recover objects in order. */
  function alertPeriods(events, now) {
    // each rule (and each key of a "by" rule) has its own alerts and recoveries
    var periods = [], opened = {};
    events.forEach(function (event) {
      var which = (event.rule || "") + "\u0000" + (event.key == null ? "" : event.key);
      var open = opened[which] || null;
      if (event.type === "alert") {
        open = { start: epochOf(event.time), end: null, alert: event, recover: null, peak: event.hits };
        periods.push(open);
        opened[which] = open;
      } else if (event.type === "recover") {
        if (!open) {
          open = { start: epochOf(event.started), alert: null, peak: event.peak_hits };
          periods.push(open);
        }
        open.end = epochOf(event.time);
        open.recover = event;
        if (event.peak_hits != null) { open.peak = event.peak_hits; }
        delete opened[which];
      }
    });
    periods.forEach(function (period) { period.shownEnd = period.end == null ? now : period.end; });
    return periods;
  }
  function spansOf(periods) {  // the traffic rule's alerts, shaded on the req/s charts
    return periods.filter(function (p) { return !(p.alert || p.recover).rule; })
      .map(function (p) { return [p.start, p.shownEnd + 1]; });
  }

  function alertTable(parent, periods, offset, withDate) {
    var rows = periods.slice().reverse().map(function (p) {
      var first = p.alert || p.recover;
      var window = first.window;
      return {
        cls: p.end == null ? "ongoing" : null,
        cells: [
          clockText(p.start, offset, withDate),
          p.end == null ? "ongoing" : clockText(p.end, offset, withDate),
          p.end == null ? duration(p.shownEnd - p.start) + "…" : duration(p.end - p.start),
          first.rule ? (first.value == null ? "–" : String(+first.value.toPrecision(4))) :
            p.peak == null ? "–" : rate(p.peak / window) + " req/s",
          first.rule ? first.rule + (first.key == null ? "" : " [" + first.key + "]") :
            "avg > " + rate(first.threshold) + " req/s over " + duration(window)
        ]
      };
    });
    if (!rows.length) { empty(parent, "no alert"); return; }
    table(parent, ["start", "end", "duration", "peak", "rule"], rows, 1, "left");
  }

  function sectionsTable(parent, sections) {
    var latency = sections.some(function (s) { return "p95" in s; });
    var headers = ["section", "hits", "share", "errors"];
    if (latency) { headers.push("p95"); }
    table(parent, headers, sections.map(function (s) {
      var cells = [s.section, num(s.hits), pct(s.share), num(s.errors)];
      if (latency) { cells.push(secs(s.p95)); }
      return { cells: cells };
    }));
  }
  function namedTable(parent, items, key, total) {
    table(parent, [key, "hits", "share"], items.map(function (item) {
      return { cells: [item[key], num(item.hits), total ? pct(item.hits / total) : "–"] };
    }));
  }
  function trafficTables(grid, object, what) {
    sectionsTable(card(grid, "Top sections" + what, false, "sections"), object.sections || []);
    namedTable(card(grid, "Top clients" + what, false, "clients"), object.clients || [], "client", object.hits);
    if ((object.users || []).length) { namedTable(card(grid, "Users" + what, false, "users"), object.users, "user", object.hits); }
    if (object.vhosts) {
      table(card(grid, "Virtual hosts" + what, false, "vhosts"), ["vhost", "hits", "errors"], object.vhosts.map(function (v) {
        return { cells: [v.vhost, num(v.hits), num(v.errors)] };
      }));
    }
    var codes = Object.keys(object.status_codes || {}).map(function (code) { return [code, object.status_codes[code]]; });
    codes.sort(function (a, b) { return b[1] - a[1]; });
    table(card(grid, "Status codes" + what, false, "codes"), ["code", "hits", "share"], codes.slice(0, 10).map(function (c) {
      return { cells: [c[0], num(c[1]), object.hits ? pct(c[1] / object.hits) : "–"] };
    }));
  }
  function latencyTable(parent, object) {
    var rows = [];
    [["requests", object.latency], ["upstream", object.upstream_latency]].forEach(function (pair) {
      var l = pair[1];
      if (l) { rows.push({ cells: [pair[0], secs(l.p50), secs(l.p90), secs(l.p95), secs(l.p99), secs(l.max), num(l.count)] }); }
    });
    table(parent, ["", "p50", "p90", "p95", "p99", "max", "count"], rows);
  }
  function skippedList(parent, skipped) {
    var reasons = Object.keys(skipped || {});
    if (!reasons.length) { add(parent, el("div", "muted small", "no line skipped")); return; }
    table(parent, ["skipped because", "lines"], reasons.map(function (r) { return { cells: [r, num(skipped[r])] }; }));
  }
  function filesList(parent, files) {
    var list = add(parent, el("ul", "plain"));
    files.forEach(function (f) { add(list, el("li", null, f)); });
  }
  function statusSeries(rows) {
    var classes = ["2xx", "3xx", "4xx", "5xx", "1xx", "other"].filter(function (c) {
      return rows.some(function (row) { return row && row[c]; });
    });
    return classes.map(function (c) {
      return { name: c, color: STATUS_COLORS[c], values: rows.map(function (row) { return row ? row[c] || 0 : null; }) };
    });
  }
  function latencySeries(rows) {
    return ["p50", "p90", "p95", "p99"].map(function (p) {
      return { name: p, color: LATENCY_COLORS[p], values: rows.map(function (row) { return row ? row[p] : null; }) };
    });
  }

  // -- the static report ----------------------------------------------------------------------

  function renderReport(app, data) {
    var summary = data.summary, offset = data.utc_offset || 0;
    var first = epochOf(summary.first), last = epochOf(summary.last);
    var periods = alertPeriods(summary.alerts || [], last);
    var spans = spansOf(periods);
    var withDate = last - first > 86400;
    var header = add(app, el("header"));
    add(header, el("h1", null, "monilog report"));
    add(header, el("span", "muted", clockText(first, offset, true) + " → " + clockText(last, offset, true) +
      " (" + duration(summary.duration) + ")"));
    var alertsNow = periods.length;
    add(header, el("span", alertsNow ? "badge alert" : "badge ok", alertsNow ? alertsNow + (alertsNow > 1 ? " alerts" : " alert") : "no alert"));
    var grid = add(app, el("div", "grid"));
    var figures = add(card(grid, "Summary", true, "summary"), el("div", "figures"));
    figure(figures, num(summary.hits), "requests");
    figure(figures, rate(summary.rps), "req/s average");
    figure(figures, num(summary.errors), "errors (" + pct(summary.error_rate) + ")");
    figure(figures, (summary.unique_clients_exact ? "" : "~") + num(summary.unique_clients), "clients");
    figure(figures, summary.bytes < 10485760 ? num(summary.bytes / 1024) : num(summary.bytes / 1048576),
      summary.bytes < 10485760 ? "KiB sent" : "MiB sent");
    figure(figures, num(summary.lines), "lines read");
    figure(figures, num(summary.malformed), "lines skipped");
    figure(figures, String(alertsNow), "alerts");
    if (summary.filters) { add(figures, el("div", "muted small", "filters: " + summary.filters.join(", ") + " (" + num(summary.filtered) + " lines left out)")); }

    var hits = data.hits;
    var perSecond = hits.values.map(function (v) { return v / hits.width; });
    var rpsBox = card(grid, "Requests per second" + (hits.width > 1 ? " (average per " + duration(hits.width) + ")" : ""), true, "rps");
    chart(rpsBox, { first: hits.first, width: hits.width, count: perSecond.length, offset: offset, label: "requests per second",
      series: [{ name: "req/s", color: "#4c9be8", values: perSecond }], threshold: summary.threshold, spans: spans,
      format: rate, unit: " req/s", legend: spans.length > 0 });
    var status = data.status;
    var statusBox = card(grid, "Status classes (req/s per " + duration(status.width) + ")", true, "status");
    chart(statusBox, { first: status.first, width: status.width, count: status.values.length, offset: offset, stacked: true,
      label: "status classes", spans: spans, format: rate, unit: " req/s",
      series: statusSeries(status.values.map(function (row) {
        var scaled = {};
        Object.keys(row).forEach(function (c) { scaled[c] = row[c] / status.width; });
        return scaled;
      })) });
    if (data.latency) {
      var latBox = card(grid, "Latency percentiles (per " + duration(data.latency.width) + ")", true, "latency");
      chart(latBox, { first: data.latency.first, width: data.latency.width, count: data.latency.values.length, offset: offset,
        label: "latency percentiles", spans: spans, format: secs, series: latencySeries(data.latency.values) });
      latencyTable(latBox, summary);
    }
    alertTable(card(grid, "Alerts", true, "alerts"), periods, offset, true);
    trafficTables(grid, summary, " (whole span)");
    var hours = card(grid, "Per hour", true, "hours");
    table(hours, ["hour", "requests", "errors", "top sections", "top clients"], (data.hours || []).map(function (h) {
      function top(items, key) { return items.slice(0, 3).map(function (i) { return i[key] + " " + num(i.hits); }).join(", "); }
      return { text: true, cells: [clockText(epochOf(h.start), offset, withDate).slice(0, withDate ? 16 : 5), num(h.hits), num(h.errors),
        top(h.sections, "section"), top(h.clients, "client")] };
    }), 0, "left");
    var input = card(grid, "Input", false, "input");
    filesList(input, summary.files || []);
    skippedList(input, summary.skipped);
    var notices = Object.keys(summary.notices || {});
    if (notices.length) {
      table(input, ["notices", "count"], notices.map(function (k) { return { cells: [k, num(summary.notices[k])] }; }));
    }
    add(app, el("p", "muted small", "Generated by monilog; times are the log's (UTC" + (offset >= 0 ? "+" : "−") +
      duration(Math.abs(offset)) + ")."));
  }

  // -- the live page ------------------------------------------------------------------------

  var live = { view: null, seconds: {}, last: null, reports: [], alerts: [], notices: [], offset: 0, state: null, pending: null };

  function resetFrom(view) {
    live.view = view;
    live.offset = view.utc_offset || 0;
    live.seconds = {};
    live.last = null;
    var s = view.seconds;
    if (s.first != null) {
      s.hits.forEach(function (h, i) { live.seconds[s.first + i] = h; });
      live.last = s.first + s.hits.length - 1;
    }
    live.reports = view.reports.slice();
    live.alerts = view.alerts.slice();
    live.notices = view.notices.slice();
    live.state = { alerting: view.alerting, window_hits: view.window_hits, window_average: view.window_average,
      threshold: view.threshold, window: view.window, lines: view.lines, parsed: view.parsed };
    live.skipped = Object.assign({}, view.skipped);
  }
  function keyOf(object) { return object.type + " " + (object.time || object.end); }
  function apply(object, kind) {
    if (kind === "tick") {
      var first = object.second - object.hits.length + 1;
      object.hits.forEach(function (h, i) {
        var at = first + i;
        if (!(live.seconds[at] >= h)) { live.seconds[at] = h; }
      });
      live.last = Math.max(live.last == null ? object.second : live.last, object.second);
      Object.keys(live.seconds).forEach(function (at) { if (at <= live.last - HISTORY_SECONDS) { delete live.seconds[at]; } });
      live.state = object;
      return;
    }
    if (object.type === "report") {
      if (!live.reports.some(function (r) { return keyOf(r) === keyOf(object); })) {
        live.reports.push(object);
        var end = epochOf(object.end);
        live.reports = live.reports.filter(function (r) { return epochOf(r.end) >= end - HISTORY_SECONDS; });
        Object.keys(object.skipped).forEach(function (r) { live.skipped[r] = (live.skipped[r] || 0) + object.skipped[r]; });
        live.view.report = object;
      }
    } else if (object.type === "alert" || object.type === "recover") {
      if (!live.alerts.some(function (a) { return keyOf(a) === keyOf(object); })) { live.alerts.push(object); }
      live.state = Object.assign({}, live.state, { alerting: object.type === "alert" });
    } else if (object.type === "notice") {
      live.notices.push(object);
      live.notices = live.notices.slice(-50);
    }
  }

  function renderLive(app) {
    var view = live.view, state = live.state, offset = live.offset;
    var now = live.last == null ? null : live.last;
    var periods = alertPeriods(live.alerts, now == null ? Date.now() / 1000 : now);
    var ongoing = periods.length && periods[periods.length - 1].end == null ? periods[periods.length - 1] : null;
    document.title = (state.alerting ? "ALERT · " : "") + "monilog live";
    var header = add(app, el("header"));
    add(header, el("h1", null, "monilog"));
    var badge = add(header, el("span", state.alerting ? "badge alert" : "badge ok",
      state.alerting ? "ALERT" + (ongoing ? " since " + clockText(ongoing.start, offset, false) : "") : "OK"));
    badge.id = "state";
    add(header, el("span", "muted", now == null ? "waiting for the first line" : "log time " + clockText(now, offset, true)));
    var conn = add(header, el("span", "conn " + connection, connection === "live" ? "● live" : connection));
    conn.id = "connection";

    var grid = add(app, el("div", "grid"));
    var rule = card(grid, "Rule", false, "rule");
    var figures = add(rule, el("div", "figures"));
    figure(figures, rate(state.window_average) + " / " + rate(state.threshold), "req/s over " + duration(state.window) + " (limit)");
    var meter = add(rule, el("div", state.alerting ? "meter over" : "meter"));
    add(meter, el("div")).style.width = Math.min(100, 100 * state.window_average / state.threshold / 1.5) + "%";
    add(rule, el("div", "muted small", "alert when the average over the window exceeds the threshold; the bar's end is 1.5× the limit"));
    var latest = live.reports.length ? live.reports[live.reports.length - 1] : null;
    if (latest && latest.rules && latest.rules.length) {
      table(card(grid, "Rules", false, "rules"), ["rule", "value", "limit", "state"], latest.rules.map(function (r) {
        return { cls: r.alerting.length ? "ongoing" : null,
                 cells: [r.rule, r.value == null ? "no evidence" : String(+r.value.toPrecision(4)), String(r.threshold),
                         r.alerting.length ? "ALERT" + (r.alerting[0] ? " " + r.alerting.join(", ") : "") : "OK"] };
      }), 1, "left");
    }
    var totals = add(card(grid, "Traffic", false, "traffic"), el("div", "figures"));
    var recent = [];
    for (var t = (now || 0) - 10; now != null && t < now; t++) { recent.push(live.seconds[t] || 0); }
    figure(totals, rate(recent.length ? recent.reduce(function (a, b) { return a + b; }, 0) / recent.length : 0), "req/s (last 10 s)");
    figure(totals, num(state.lines), "lines read");
    figure(totals, num(state.parsed), "parsed");
    var skippedTotal = Object.keys(live.skipped).reduce(function (a, r) { return a + live.skipped[r]; }, 0);
    figure(totals, num(skippedTotal), "skipped");
    figure(totals, String(periods.length), "alerts");

    var rpsBox = card(grid, "Requests per second — last 10 minutes", true, "rps");
    if (now == null) {
      empty(rpsBox, "no traffic yet");
    } else {
      var firstSecond = Math.max(now - HISTORY_SECONDS + 1, Math.min.apply(null, Object.keys(live.seconds).map(Number)));
      var values = [];
      for (var at = firstSecond; at <= now; at++) { values.push(live.seconds[at] || 0); }
      chart(rpsBox, { first: firstSecond, width: 1, count: values.length, offset: offset, label: "requests per second",
        series: [{ name: "req/s", color: "#4c9be8", values: values }], threshold: state.threshold, spans: spansOf(periods),
        format: rate, unit: " req/s", legend: true });
    }
    var reports = live.reports;
    var statusBox = card(grid, "Status classes per period (req/s)", true, "status");
    var latency = reports.some(function (r) { return r.latency; });
    if (!reports.length) {
      empty(statusBox, "no report yet (one every period)");
    } else {
      var width = Math.max(1, Math.round(reports[reports.length - 1].duration || 1));
      var base = epochOf(reports[0].start);
      var count = Math.floor((epochOf(reports[reports.length - 1].start) - base) / width) + 1;
      var rows = [], latencies = [];
      for (var k = 0; k < count; k++) { rows.push(null); latencies.push(null); }
      reports.forEach(function (r) {
        var index = Math.floor((epochOf(r.start) - base) / width);
        if (index < 0 || index >= count) { return; }
        var scaled = {};
        Object.keys(r.status).forEach(function (c) { scaled[c] = r.status[c] / (r.duration || width); });
        rows[index] = scaled;
        latencies[index] = r.latency || null;
      });
      chart(statusBox, { first: base, width: width, count: count, offset: offset, stacked: true, label: "status classes",
        series: statusSeries(rows), spans: spansOf(periods), format: rate, unit: " req/s" });
      if (latency) {
        var latBox = card(grid, "Latency percentiles per period", true, "latency");
        chart(latBox, { first: base, width: width, count: count, offset: offset, label: "latency percentiles",
          series: latencySeries(latencies), spans: spansOf(periods), format: secs });
        latencyTable(latBox, view.report || {});
      }
    }
    alertTable(card(grid, "Alert history", true, "alerts"), periods, offset, true);
    var report = view.report;
    if (report) {
      trafficTables(grid, report, " (last " + duration(report.duration) + ")");
    }
    var input = card(grid, "Input", false, "input");
    filesList(input, view.files);
    skippedList(input, live.skipped);
    if (live.notices.length) {
      var list = add(input, el("ul", "plain small"));
      live.notices.slice(-8).reverse().forEach(function (n) { add(list, el("li", "muted", n.message)); });
    }
  }

  var connection = "connecting", source = null, scheduled = false;

  function render() {
    scheduled = false;
    measure();
    var app = document.getElementById("app");
    var fresh = el("main");
    fresh.id = "app";
    if (live.view) { renderLive(fresh); } else { add(fresh, el("p", "muted", connection === "unauthorized" ? "unauthorized: open the page with ?token=…" : "connecting…")); }
    app.parentNode.replaceChild(fresh, app);
    document.body.setAttribute("data-connection", connection);
  }
  function schedule() {
    if (!scheduled) { scheduled = true; setTimeout(render, 150); }
  }
  function setConnection(state) { connection = state; schedule(); }

  function loadView() {
    fetch("api/view", { cache: "no-store", credentials: "same-origin" }).then(function (response) {
      if (response.status === 401) { setConnection("unauthorized"); throw new Error("unauthorized"); }
      return response.json();
    }).then(function (view) {
      var pending = live.pending || [];
      live.pending = null;
      resetFrom(view);
      pending.forEach(function (item) { apply(item[0], item[1]); });
      setConnection("live");
    }).catch(function () { if (connection !== "unauthorized") { setConnection("reconnecting"); } });
  }
  function connect() {
    source = new EventSource("api/events");
    function take(kind) {
      return function (message) {
        var object = JSON.parse(message.data);
        if (live.pending) { live.pending.push([object, kind]); return; }
        if (live.view) { apply(object, kind); schedule(); }
      };
    }
    source.onmessage = take(null);
    source.addEventListener("tick", take("tick"));
    source.onopen = function () { live.pending = []; loadView(); };
    source.onerror = function () {
      setConnection("reconnecting");
      if (source.readyState === EventSource.CLOSED) {  // refused for good (401, restart race): try again
        source.close();
        setTimeout(function () { loadView(); connect(); }, 1500);
      }
    };
  }

  var embedded = document.getElementById("monilog-data");
  if (embedded) {
    var data = JSON.parse(embedded.textContent);
    var draw = function () {
      measure();
      var app = document.getElementById("app");
      var fresh = el("main");
      fresh.id = "app";
      renderReport(fresh, data);
      app.parentNode.replaceChild(fresh, app);
    };
    draw();
    var resized = null;
    window.addEventListener("resize", function () { clearTimeout(resized); resized = setTimeout(draw, 200); });
  } else {
    connect();
    window.addEventListener("resize", schedule);
  }
}());
