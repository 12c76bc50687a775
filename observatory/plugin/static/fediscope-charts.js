// Draws every <div class="fs-chart" data-spec="ID"> from the Vega-Lite spec in
// <script type="application/json" id="ID"> with the vendored vega-embed (no CDN).
// Export actions (PNG, SVG) stay; "view source" and "open in editor" (an external site) are off.
(function () {
  "use strict";
  function drawAll() {
    var charts = document.querySelectorAll(".fs-chart[data-spec]");
    Array.prototype.forEach.call(charts, function (element) {
      var source = document.getElementById(element.getAttribute("data-spec"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      vegaEmbed(element, spec, {
        renderer: element.getAttribute("data-renderer") || "svg",
        actions: { export: true, source: false, compiled: false, editor: false },
        downloadFileName: element.getAttribute("data-name") || "fediscope-chart"
      }).then(function () {
        element.setAttribute("data-drawn", "1");
      }).catch(function (error) {
        element.setAttribute("data-drawn", "error");
        element.textContent = "The chart could not be drawn: " + error;
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
