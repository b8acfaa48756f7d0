/* Vigil: the little JavaScript every page shares.
 *
 * No inline handlers anywhere (the Content Security Policy blocks them): behaviour is
 * attached here, from data in the markup.
 */
(function () {
  "use strict";

  var UNSAFE_METHODS = ["post", "put", "patch", "delete"];

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Django's CSRF check needs the token on every htmx request that changes something.
  // htmx only sends requests to our own origin (selfRequestsOnly), so the token never
  // leaves the site.
  document.addEventListener("htmx:configRequest", function (event) {
    var method = (event.detail.verb || "").toLowerCase();
    if (UNSAFE_METHODS.indexOf(method) !== -1) {
      event.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });

  // A request that fails should not fail silently: say so, in words a person can act on.
  function showRequestError(message) {
    var box = document.getElementById("request-error");
    if (!box) {
      return;
    }
    box.querySelector("[data-request-error-text]").textContent = message;
    box.hidden = false;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 403) {
      showRequestError("You are not allowed to do that, or your session has expired. Reload the page and sign in again.");
    } else if (status === 404) {
      showRequestError("That item no longer exists. Reload the page.");
    } else {
      showRequestError("Something went wrong on our side (error " + status + "). Try again in a moment.");
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showRequestError("The portal could not be reached. Check your connection and try again.");
  });

  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest("[data-request-error-dismiss]");
    if (dismiss) {
      document.getElementById("request-error").hidden = true;
    }
  });
})();
