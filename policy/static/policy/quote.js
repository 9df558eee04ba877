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

// 险种: the resident scheme's facts or the flexible-employment scheme's, the other hidden
// (they are ignored by the page's request anyway).
document.addEventListener("DOMContentLoaded", function () {
  var radios = document.querySelectorAll("input[name=scheme]");
  if (!radios.length) return;
  function follow() {
    var checked = document.querySelector("input[name=scheme]:checked");
    var flexible = checked && checked.value === "flexible_employment";
    document.querySelectorAll(".scheme-resident").forEach(function (el) { el.hidden = flexible; });
    document.querySelectorAll(".scheme-flexible").forEach(function (el) { el.hidden = !flexible; });
  }
  follow();
  radios.forEach(function (r) { r.addEventListener("change", follow); });
});
