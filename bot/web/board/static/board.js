/* The board's only script (the CSP allows no inline script): filters submit on change, the compliance
   chart is drawn from its canvas's data-chart attribute, and DingTalk 免登 asks for an authCode. */
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll("select, input[type=checkbox]"), function (el) {
      el.addEventListener("change", function () { form.submit(); });
    });
  }
  var canvas = document.getElementById("compliance-chart");
  if (canvas && window.Chart) {
    var d = JSON.parse(canvas.getAttribute("data-chart"));
    canvas.chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: d.labels,
        datasets: [
          { label: "按时报送", data: d.on_time, backgroundColor: "#1f9d4c" },
          { label: "逾期报送", data: d.late, backgroundColor: "#e0a100" },
          { label: "未报送", data: d.missing, backgroundColor: "#d92020" }
        ]
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
    canvas.setAttribute("data-drawn", "1");
  }
  var login = document.getElementById("login");
  if (login && login.getAttribute("data-dingtalk-corp") !== null && window.dd && window.dd.runtime) {
    window.dd.runtime.permission.requestAuthCode({
      corpId: login.getAttribute("data-dingtalk-corp"),
      onSuccess: function (r) { window.location.replace("?authCode=" + encodeURIComponent(r.code)); }
    });
  }
})();
