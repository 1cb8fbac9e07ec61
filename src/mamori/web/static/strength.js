// Password strength feedback: asks the server (zxcvbn + the same policy the server enforces).
(function () {
  "use strict";
  var form = document.querySelector("form[data-strength]");
  if (!form) { return; }
  var input = form.querySelector("#" + form.dataset.strength);
  var box = document.getElementById("strength");
  var bar = document.getElementById("strength-bar");
  var label = document.getElementById("strength-label");
  var details = document.getElementById("strength-details");
  var timer = null;
  var latest = 0;  // only the answer to the newest request is shown
  function value(id, fallback) {
    var el = form.querySelector("#" + id);
    return el ? el.value : (fallback || "");
  }
  function show(result) {
    box.hidden = false;
    bar.style.width = ((result.score + 1) * 20) + "%";
    bar.className = "bar s" + result.score;
    label.textContent = result.label;
    details.textContent = "";
    var items = result.details.concat(result.warning ? [result.warning] : []);
    items.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      details.appendChild(li);
    });
  }
  function check() {
    if (!input.value) { box.hidden = true; return; }
    var ticket = ++latest;
    fetch("/api/v1/password/strength", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({
        password: input.value,
        login_id: value("login_id", form.dataset.loginId),
        email: value("email", form.dataset.email)
      })
    }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (result) { if (result && ticket === latest) { show(result); } })
      .catch(function () { box.hidden = true; });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
})();
