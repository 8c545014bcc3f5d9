// Tells GOV.UK Frontend's styles that JavaScript runs (a file, not inline: the CSP forbids inline scripts).
document.body.className +=
  " js-enabled" + ("noModule" in HTMLScriptElement.prototype ? " govuk-frontend-supported" : "");
