// The /openapi page: Swagger UI over this server's own description (/openapi.json).
// A file, not an inline script: the server's Content-Security-Policy runs scripts only from
// itself. Nothing outside the server is contacted: no validator badge (validatorUrl null), no
// remote configuration (configUrl and the ?url= query are not read).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return; // the page's own text says where the description is
  }
  var url = root.getAttribute("data-url") || "/openapi.json";
  root.textContent = "";
  window.ui = window.SwaggerUIBundle({
    url: url,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    queryConfigEnabled: false,
    tryItOutEnabled: false,
    withCredentials: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
