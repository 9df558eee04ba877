// The export page's 全选 box: ticks or clears every column (templates/admin/import_export/export.html).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".select-toggle").forEach(function (toggle) {
    toggle.addEventListener("change", function () {
      document.querySelectorAll('.selectable-field-export-row input[type="checkbox"]').forEach(function (box) {
        box.checked = toggle.checked;
      });
    });
  });
});
