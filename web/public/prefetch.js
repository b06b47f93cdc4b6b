// Starts the first page's API calls while the bundle loads; the app takes the answers by URL
// (src/api/prefetch.ts). Keep the URLs in step with the pages' default queries: /tasks asks for
// limit=50&offset=0&sort=name, /runs for limit=20&offset=0 (src/api/runs.ts firstRunPage). A file,
// not an inline script: the Content-Security-Policy allows scripts from the server's own files only
// (docs/security.md).
(function () {
  try {
    if (!window.fetch) return;
    // A key in this tab's storage, or else the session cookie (HttpOnly, sent by the browser by itself;
    // the page sees only its hint, tasksched_signed_in=1). Neither: nothing to ask.
    var key = window.sessionStorage.getItem("tasksched.apiKey");
    var hint = document.cookie.split(";").some(function (part) {
      return part.trim() === "tasksched_signed_in=1";
    });
    if (!key && !hint) return;
    var headers = key ? { Authorization: "Bearer " + key, Accept: "application/json" } : { Accept: "application/json" };
    var urls = ["/api/auth/me"];
    var path = window.location.pathname;
    if (path === "/tasks" && !window.location.search) urls.push("/api/tasks?limit=50&offset=0&sort=name");
    if (path === "/") urls.push("/api/stats");
    if (path === "/runs" && !window.location.search) urls.push("/api/runs?limit=20&offset=0"); // firstRunPage()
    var pending = {};
    urls.forEach(function (url) {
      pending[url] = window.fetch(url, { headers: headers }).then(
        function (response) {
          return response.ok ? response.json() : null;
        },
        function () {
          return null;
        },
      );
    });
    window.__tasksched_prefetch = pending;
  } catch (error) {
    // no storage, no prefetch: the app fetches as usual
  }
})();
