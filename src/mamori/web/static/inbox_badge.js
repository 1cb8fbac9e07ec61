// The unread count of the security inbox, next to its link in the account menu. Pages that
// know the count render it; elsewhere it is asked for here (an enhancement: without scripts
// the link still works).
(function () {
  "use strict";
  var badge = document.getElementById("inbox-unread");
  if (!badge || badge.getAttribute("data-server") === "1" || !window.fetch) {
    return;
  }
  fetch("/api/v1/me/notices?limit=1", {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (body) {
      if (body && typeof body.unread === "number" && body.unread > 0) {
        badge.textContent = body.unread > 99 ? "99+" : String(body.unread);
        badge.hidden = false;
      }
    })
    .catch(function () {});
})();
