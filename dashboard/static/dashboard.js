// ordersync's dashboard: draws each figure.chart from its data-chart attribute with uPlot.
// The server renders every number in the page's tables; the charts show their shape.
// This script builds no HTML from the data: uPlot draws on a canvas, and sets labels as
// text.
(function () {
  "use strict";

  var height = 240;
  var whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var cents = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  // Money arrives in fen; axes show whole yuan, the legend yuan and fen.
  function tick(spec) {
    return function (v) { return spec.money ? whole.format(v / 100) : plain.format(v); };
  }
  function value(spec) {
    return function (u, v) {
      if (v == null) return "–";
      return spec.money ? cents.format(v / 100) : plain.format(v);
    };
  }

  function options(fig, spec, width) {
    var bars = spec.type === "bar";
    var labels = spec.labels;
    var label = function (u, splits) {
      return splits.map(function (i) {
        if (!Number.isInteger(i) || labels[i] === undefined) return "";
        // Days are YYYY-MM-DD; the axis has room for MM-DD.
        return bars ? labels[i] : labels[i].slice(5);
      });
    };
    var xAxis = { values: label, grid: { show: false } };
    if (bars) {
      xAxis.splits = function () { return labels.map(function (_, i) { return i; }); };
      // Names of goods do not fit side by side under ten bars: slant them.
      if (labels.length > 5) {
        xAxis.rotate = -30;
        xAxis.size = 80;
      }
    } else {
      xAxis.incrs = [1, 2, 7, 14, 28, 56, 91];
    }
    return {
      width: width,
      height: height,
      legend: { show: !bars },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: {
          time: false,
          range: function (u, min, max) { return bars ? [min - 0.5, max + 0.5] : [min, max]; },
        },
        y: {
          range: function (u, min, max) {
            var lo = Math.min(0, min * 1.1);
            var hi = max > 0 ? max * 1.1 : 1;
            return [lo, hi];
          },
        },
      },
      axes: [xAxis, { values: function (u, splits) { return splits.map(tick(spec)); }, size: 70 }],
      series: [{ label: bars ? "" : "day", value: function (u, i) { return i == null ? "–" : labels[i]; } }].concat(
        spec.series.map(function (s) {
          return {
            label: s.label,
            stroke: s.color,
            fill: bars ? s.color + "cc" : undefined,
            width: bars ? 1 : 2,
            paths: bars ? uPlot.paths.bars({ size: [0.6, 80] }) : undefined,
            points: { show: !bars && labels.length <= 31 },
            value: value(spec),
          };
        })
      ),
      hooks: {
        // The tests wait for this mark: the chart has drawn its data.
        draw: [function () { fig.dataset.drawn = "true"; }],
      },
    };
  }

  var charts = [];
  document.querySelectorAll("figure.chart[data-chart]").forEach(function (fig) {
    var spec = JSON.parse(fig.dataset.chart);
    var box = fig.querySelector(".plot");
    var data = [spec.labels.map(function (_, i) { return i; })].concat(
      spec.series.map(function (s) { return s.values; })
    );
    charts.push({ box: box, plot: new uPlot(options(fig, spec, box.clientWidth), data, box) });
  });

  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () {
      pending = false;
      charts.forEach(function (c) { c.plot.setSize({ width: c.box.clientWidth, height: height }); });
    });
  });
})();
