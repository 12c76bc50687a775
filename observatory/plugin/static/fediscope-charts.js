// The one chart script: draws every element with data-spec="ID" (the /platforms charts, the
// /map, a server's users per crawl) from the Vega-Lite spec in <script type="application/json"
// id="ID"> with the vendored vega-embed: no CDN, no inline script (the CSP forbids it). A spec
// built at usermeta.fediscope.width pixels shrinks its plots on a narrower screen (text inside
// the chart is already wrapped for phones). "Download PNG/SVG" buttons (data-download,
// data-chart) export the drawn view; data-menu="export" shows vega-embed's own export menu
// instead ("view source" and "open in editor", an external site, stay off).
(function () {
  "use strict";
  var SKIP = { datasets: true, data: true, values: true };

  function shrink(node, delta, square) {
    if (Array.isArray(node)) {
      node.forEach(function (item) { shrink(item, delta, square); });
      return;
    }
    if (!node || typeof node !== "object") { return; }
    Object.keys(node).forEach(function (key) {
      if (SKIP[key]) { return; }
      var value = node[key];
      if (key === "width" && typeof value === "number") {
        node.width = Math.max(120, value - delta);
        if (square && node.height === value) { node.height = node.width; }
      } else if (key !== "height") {
        shrink(value, delta, square);
      }
    });
  }

  function fitted(spec, element, extra) {
    var meta = (spec.usermeta || {}).fediscope || {};
    var available = element.clientWidth - 4;
    if (meta.width && available > 0 && available < meta.width + extra) {
      shrink(spec, meta.width - available + extra, !!meta.square);
    }
    return spec;
  }

  // Axis labels and legends make a chart wider than its plots: when the first drawing still
  // overflows its box, draw it once more with the plots narrower by the overflow.
  function overflow(element) {
    var drawn = element.querySelector("svg, canvas");
    if (!drawn) { return 0; }
    return Math.ceil(drawn.getBoundingClientRect().width - element.clientWidth);
  }

  function download(view, kind, name) {
    view.toImageURL(kind, kind === "png" ? 2 : 1).then(function (url) {
      var link = document.createElement("a");
      link.href = url;
      link.download = name + "." + kind;
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  function embed(element, extra) {
    var source = document.getElementById(element.getAttribute("data-spec"));
    var spec = fitted(JSON.parse(source.textContent), element, extra);
    var menu = element.getAttribute("data-menu") === "export";
    return vegaEmbed(element, spec, {
      renderer: element.getAttribute("data-renderer") || "svg",
      actions: menu ? { export: true, source: false, compiled: false, editor: false } : false,
      downloadFileName: element.getAttribute("data-name") || "fediscope-chart",
      tooltip: { theme: "light" }
    });
  }

  function draw(element) {
    if (!document.getElementById(element.getAttribute("data-spec"))) { return; }
    var name = element.getAttribute("data-name") || "fediscope-chart";
    embed(element, 0).then(function (result) {
      var excess = overflow(element);
      if (excess <= 0) { return result; }
      result.finalize();
      return embed(element, excess + 4);
    }).then(function (result) {
      element.__fsView = result.view;  // for tests that hover a given point
      element.setAttribute("data-drawn", "1");
      var buttons = document.querySelectorAll('[data-download][data-chart="' + element.id + '"]');
      Array.prototype.forEach.call(buttons, function (button) {
        button.disabled = false;
        button.addEventListener("click", function () {
          download(result.view, button.getAttribute("data-download"), name);
        });
      });
    }).catch(function (error) {
      element.setAttribute("data-drawn", "error");
      element.textContent = "The chart could not be drawn: " + error;
    });
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-spec]"), draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
