// phaseout dashboard: draws the charts and the site map from JSON data blocks.
// Every label reaches the screen as canvas text (Chart.js) or as a DOM text node (map
// popups): nothing from the data is ever parsed as HTML.
(function () {
  "use strict";
  var palette = ["#b91c1c", "#1d4ed8", "#15803d", "#a16207", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f", "#c2410c", "#334155", "#0369a1", "#9f1239"];

  function readJson(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function drawCharts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var spec = readJson("chart-" + canvas.dataset.chart);
      if (!spec) return;
      var datasets;
      if (spec.series) {
        datasets = spec.series.map(function (s, i) {
          return {label: s.label, data: s.values, type: s.line ? "line" : spec.type,
                  backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length]};
        });
      } else {
        datasets = [{label: "devices", data: spec.values,
                     backgroundColor: spec.type === "doughnut" ? palette : palette[1]}];
      }
      new Chart(canvas, {
        type: spec.type,
        data: {labels: spec.labels, datasets: datasets},
        options: {responsive: true, animation: false, locale: "en-GB",
                  plugins: {legend: {display: spec.type === "doughnut" || !!spec.series}}}
      });
      canvas.dataset.drawn = "1";
    });
  }

  // Absolute scale: a site's colour depends on its own covered devices only, never on the
  // busiest site of the estate (the bands come from the server: the reports use the same).
  function colour(covered, scale) {
    for (var i = 0; i < scale.length; i++) {
      if (covered >= scale[i].min) return scale[i].colour;
    }
    return scale.length ? scale[scale.length - 1].colour : "#15803d";
  }

  function drawLegend() {
    document.querySelectorAll(".legend i[data-colour]").forEach(function (swatch) {
      swatch.style.background = swatch.dataset.colour;
    });
  }

  function drawMap() {
    var el = document.getElementById("site-map");
    var points = readJson("map-points");
    if (!el || !points || typeof L === "undefined" || !points.length) return;
    var map = L.map(el, {preferCanvas: true});
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, {maxZoom: 18}).addTo(map);
    }
    var scale = readJson("map-scale") || [];
    var bounds = [], shown = {};
    points.forEach(function (p) {
      var c = colour(p.covered || 0, scale);
      shown[c] = (shown[c] || 0) + 1;
      var marker = L.circleMarker([p.lat, p.lon], {radius: p.sensitivity === "sensitive" ? 7 : 5,
        color: colour(p.covered || 0, scale), fillColor: colour(p.covered || 0, scale), fillOpacity: 0.85, weight: 1});
      var box = document.createElement("div");
      var link = document.createElement("a");
      link.href = "/sites/" + encodeURIComponent(p.code);
      link.textContent = p.code;
      box.appendChild(link);
      box.appendChild(document.createTextNode(" " + (p.covered || 0).toLocaleString("en-GB") + " covered device(s), risk " +
        Math.round(p.risk).toLocaleString("en-GB") + " (" + p.sensitivity + ")"));
      marker.bindPopup(box);
      marker.addTo(map);
      bounds.push([p.lat, p.lon]);
    });
    map.fitBounds(bounds, {padding: [20, 20]});
    el.dataset.drawn = String(points.length);
    el.dataset.colours = JSON.stringify(shown);  // sites per colour: what the legend explains
  }

  function drawDocs() {
    var el = document.getElementById("swagger-ui");
    if (!el || typeof SwaggerUIBundle === "undefined") return;
    SwaggerUIBundle({url: el.dataset.spec, domNode: el});
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    drawLegend();
    drawMap();
    drawDocs();
  });
  document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });
  document.addEventListener("htmx:configRequest", function (e) {
    var token = document.querySelector("input[name=csrf]");
    if (token) e.detail.headers["X-CSRF-Token"] = token.value;
  });
})();
