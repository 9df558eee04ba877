// 缴费测算: the 历年参保记录 rows follow the quote year — only years before it are asked.
document.addEventListener("DOMContentLoaded", function () {
  var year = document.getElementById("id_year");
  if (!year) return;
  function follow() {
    var y = parseInt(year.value, 10);
    document.querySelectorAll(".history-row").forEach(function (row) {
      var shown = !isNaN(y) && parseInt(row.dataset.year, 10) < y;
      row.hidden = !shown;
      if (!shown) {
        var select = row.querySelector("select");
        if (select) select.value = "";
      }
    });
    // a break year made up by back-payment is also a year before the quote year
    document.querySelectorAll("#id_repaired_years input[type=checkbox]").forEach(function (box) {
      var shown = !isNaN(y) && parseInt(box.value, 10) < y;
      box.closest("div").hidden = !shown;
      if (!shown) box.checked = false;
    });
  }
  follow();
  year.addEventListener("input", follow);
  year.addEventListener("change", follow);
});
