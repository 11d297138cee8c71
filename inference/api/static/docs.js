// Swagger UI over this server's own /openapi.json (no inline script: the page's CSP allows only files from here).
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    validatorUrl: null, // never ask swagger.io to validate the document
    defaultModelsExpandDepth: 0,
  });
});
