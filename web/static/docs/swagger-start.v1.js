// Starts Swagger UI on the API description named by this script tag's data-spec (no inline script: see web/docs.py).
(function () {
  var spec = document.currentScript.dataset.spec;
  window.ui = SwaggerUIBundle({
    url: spec,
    dom_id: "#swagger-container",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
