// The home page's chart (Chart.js, served from the project's static files): registered and paid
// per region and year; the same numbers are in the table beside it.
document.addEventListener("DOMContentLoaded", function () {
  var canvas = document.getElementById("enrollment-chart");
  var source = document.getElementById("enrollment-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        {label: "已登记", data: data.registered, backgroundColor: "#7ea3d6"},
        {label: "已缴费", data: data.paid, backgroundColor: "#1d4f91"}
      ]
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      scales: {y: {beginAtZero: true, ticks: {precision: 0}}}
    }
  });
});
