// The home page's charts (Chart.js, served from the project's static files): one per figure
// group, drawn from the same numbers as the table beside it (a json_script block named by the
// canvas's data-chart attribute).
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") return;
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d) {
          return {label: d.label, data: d.data, backgroundColor: d.color, borderColor: d.color};
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {
          x: {stacked: spec.stacked},
          y: {stacked: spec.stacked, beginAtZero: true, ticks: {precision: 0}}
        }
      }
    });
  });
});
