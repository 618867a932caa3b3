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
  if (login && login.getAttribute("data-dingtalk-corp") !== null) {
    dingtalkLogin(login);
  }

  // DingTalk in-app 免登: the vendored dingtalk-jsapi (dingtalk-jsapi.min.js, window.dd) says by its own
  // environment check whether the page is inside DingTalk; there it asks the client for an authCode for
  // the corp and comes back to /board/login/dingtalk?authCode=…, which the server exchanges for the userid.
  function dingtalkLogin(box) {
    var corp = box.getAttribute("data-dingtalk-corp");
    var dd = window.dd;
    var show = function (id, text) {
      Array.prototype.forEach.call(box.querySelectorAll(".dingtalk-state"), function (el) {
        el.hidden = el.id !== id;
      });
      if (text) { document.getElementById("dingtalk-error").textContent = text; }
      box.setAttribute("data-dingtalk-state", id);
    };
    if (!dd || !dd.env || !dd.runtime || dd.env.platform === "notInDingTalk") {
      show("dingtalk-outside");
      return;
    }
    if (!corp) {
      show("dingtalk-unconfigured");
      return;
    }
    var asked = dd.runtime.permission.requestAuthCode({
      corpId: corp,
      onSuccess: function (r) {
        if (!r || !r.code) { show("dingtalk-failed", "未取得授权码"); return; }
        window.location.replace(box.getAttribute("data-dingtalk-url") + "?authCode=" + encodeURIComponent(r.code));
      },
      onFail: function (err) {
        show("dingtalk-failed", (err && (err.errorMessage || err.message)) || "钉钉客户端未返回授权码");
      }
    });
    if (asked && asked.catch) { asked.catch(function () { /* onFail has said it */ }); }
  }
})();
