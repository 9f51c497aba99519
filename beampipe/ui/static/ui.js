// beampipe ui: table sorting, compare selection and live updates. No library, no network
// besides this server. Live updates poll the page's JSON endpoint (body[data-live]); the
// server renders (and escapes) every fragment it sends back.
(function () {
  "use strict";
  function cellValue(row, i) {
    var cell = row.children[i];
    if (!cell) return "";
    var v = cell.getAttribute("data-sort");
    if (v === null) v = cell.getAttribute("data-v");  // the artifact views' sort keys
    if (v === null || v === "") v = cell.textContent.trim();
    var n = parseFloat(v);
    return isNaN(n) || !/^-?[\d.]+(e-?\d+)?$/i.test(v) ? v.toLowerCase() : n;
  }
  function sortBy(table, th) {
    var i = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = !th.classList.contains("sorted-asc");
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
    th.classList.add(asc ? "sorted-asc" : "sorted-desc");
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return !r.classList.contains("section"); });
      rows.sort(function (a, b) {
        var x = cellValue(a, i), y = cellValue(b, i);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  }
  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    if (th.hasAttribute("data-nosort")) return;
    th.addEventListener("click", function () { sortBy(th.closest("table"), th); });
  });

  var compare = document.getElementById("compare-form");
  if (compare) {
    compare.addEventListener("submit", function (ev) {
      var picked = Array.prototype.map.call(document.querySelectorAll("input.compare-pick:checked"),
                                            function (c) { return c.value; });
      if (picked.length < 2) { ev.preventDefault(); alert("pick two or more runs to compare"); return; }
      document.getElementById("compare-runs").value = picked.join(",");
      compare.querySelectorAll("input.compare-pick").forEach(function (c) { c.disabled = true; });
    });
  }

  // A graph a little wider than its box (the penguin DAG on a laptop) is scaled to fit it;
  // a much wider one keeps its size and scrolls. Live updates replace the SVG, not the box.
  document.querySelectorAll(".graph-box").forEach(function (box) {
    var svg = box.querySelector("svg.graph");
    if (svg && svg.width.baseVal.value <= box.clientWidth * 1.6) box.classList.add("fit");
  });

  var live = document.body.getAttribute("data-live");
  if (!live) return;
  function poll() {
    fetch(live, { headers: { "Accept": "application/json" } }).then(function (r) { return r.json(); })
      .then(function (data) {
        var picked = {};
        document.querySelectorAll("input.compare-pick:checked").forEach(function (c) { picked[c.value] = true; });
        Object.keys(data.replace || {}).forEach(function (id) {
          var el = document.getElementById(id);
          if (el) el.innerHTML = data.replace[id];
        });
        Object.keys(data.attrs || {}).forEach(function (id) {
          var el = document.getElementById(id);
          if (!el) return;
          Object.keys(data.attrs[id]).forEach(function (k) { el.setAttribute(k, data.attrs[id][k]); });
        });
        document.querySelectorAll("input.compare-pick").forEach(function (c) { c.checked = !!picked[c.value]; });
        if (data.next) setTimeout(poll, data.next);
      })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, 2000);
})();
