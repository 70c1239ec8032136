// The interactive API reference: Swagger UI on this server's own OpenAPI document, served
// locally (no CDN). "Authorize" takes the bearer token when the server has one.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  tryItOutEnabled: true,
  // No validator badge: it would send the document to an outside service.
  validatorUrl: null,
});
