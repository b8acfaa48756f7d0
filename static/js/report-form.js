/* The public report form: the time a person gives is read in their own time zone.
 *
 * The server cannot know it, so the browser names it in the form's hidden "zone"
 * field and the page says which zone the times are in. The time proposed at first
 * (now) becomes the browser's own now, unless the form comes back with the person's
 * answer. Without JavaScript the form keeps the account's zone and says so.
 */
(function () {
  "use strict";

  var form = document.querySelector("[data-report-form]");
  if (!form) {
    return;
  }
  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    return;
  }
  var field = form.querySelector('input[name="zone"]');
  if (!zone || !field || field.value === zone) {
    return;
  }
  field.value = zone;
  form.querySelectorAll("[data-zone-name]").forEach(function (name) {
    name.textContent = zone;
  });

  function local(moment) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return moment.getFullYear() + "-" + pad(moment.getMonth() + 1) + "-" + pad(moment.getDate()) +
      "T" + pad(moment.getHours()) + ":" + pad(moment.getMinutes());
  }
  var when = form.querySelector('input[name="occurred_at"]');
  if (when) {
    var now = new Date();
    when.max = local(new Date(now.getTime() + 5 * 60 * 1000));
    // A first visit proposes now in the account's zone: say now in the person's own.
    if (!form.dataset.bound) {
      when.value = local(now);
    }
  }
})();
