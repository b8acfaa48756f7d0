/* The notice-template editor: a placeholder button inserts `{{ name }}` into the field
 * the person was last writing in (the subject, the text or the HTML body), at the
 * cursor. No inline handlers: the Content Security Policy blocks them.
 */
(function () {
  "use strict";

  var lastField = null;

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-placeholder-target]")) {
      lastField = event.target;
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-placeholder-insert]");
    if (!button) {
      return;
    }
    var field = lastField || document.querySelector("[data-placeholder-target]");
    if (!field) {
      return;
    }
    var text = "{{ " + button.getAttribute("data-placeholder-insert") + " }}";
    var start = field.selectionStart == null ? field.value.length : field.selectionStart;
    var end = field.selectionEnd == null ? start : field.selectionEnd;
    field.setRangeText(text, start, end, "end");
    field.focus();
    // Frameworks and validation listen for input events, not value changes.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
