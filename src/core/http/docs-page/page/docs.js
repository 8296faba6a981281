/*
 * Renders this API's own OpenAPI document with Redoc (loaded just before from the same origin).
 * Redoc injects its styles as <style> elements; the page's Content-Security-Policy admits only
 * those carrying this response's nonce, which the server put on this script's tag, and Redoc
 * sets it on each style element it adds. `body[data-state]` says how it went (`ready` or
 * `error`), for people and for the browser test.
 */
(function () {
  var script = document.currentScript;
  var body = document.body;
  if (typeof Redoc === 'undefined') {
    body.setAttribute('data-state', 'error');
    return;
  }
  var options = {
    nonce: script.nonce,
    expandResponses: '200,201',
    requiredPropsFirst: true,
  };
  Redoc.init('/openapi.json', options, document.getElementById('redoc'), function (error) {
    body.setAttribute('data-state', error ? 'error' : 'ready');
  });
})();
