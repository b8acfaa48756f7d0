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

  // Tables on a narrow screen (WCAG 1.4.10, reflow): a table wider than its box becomes
  // a stack of cards, one per row, each cell labelled with its column's heading (CSS
  // shows data-label before the cell). A table that fits stays a table, and without
  // script a wide one scrolls inside its box instead of the page. The roles are set
  // explicitly because some browsers drop a table's semantics with its display.
  var NARROW = window.matchMedia("(max-width: 767.98px)");

  function columnHeadings(table) {
    var headings = [];
    var row = table.tHead && table.tHead.rows[0];
    if (!row) {
      return null;
    }
    Array.prototype.forEach.call(row.cells, function (cell) {
      for (var i = 0; i < cell.colSpan; i += 1) {
        headings.push(cell.textContent.replace(/\s+/g, " ").trim());
      }
    });
    return headings;
  }

  var CONTENT = "a, button, input, select, textarea, img, svg, .bi";

  function columnCount(table) {
    var headings = columnHeadings(table);
    return headings ? headings.length : 0;
  }

  function labelCells(table) {
    var headings = columnHeadings(table);
    if (!headings) {
      return false;
    }
    table.setAttribute("role", "table");
    Array.prototype.forEach.call(table.querySelectorAll(":scope > thead, :scope > tbody"), function (group) {
      group.setAttribute("role", "rowgroup");
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.setAttribute("role", "columnheader");
    });
    // Cells spanning rows (a template's name beside its languages) take their column in
    // the rows below too, so each row's cells are placed on a grid, not counted.
    var spanning = [];
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        row.setAttribute("role", "row");
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          while (spanning[column] > 0) {
            spanning[column] -= 1;
            column += 1;
          }
          if (cell.tagName === "TH") {
            cell.setAttribute("role", cell.getAttribute("scope") === "col" ? "columnheader" : "rowheader");
          } else {
            cell.setAttribute("role", "cell");
          }
          if (cell.colSpan === 1 && headings[column]) {
            cell.setAttribute("data-label", headings[column]);
          } else {
            cell.removeAttribute("data-label");
          }
          // One that would not fit the label column (7.25rem) goes above the content.
          cell.toggleAttribute("data-label-above", (headings[column] || "").length > 13);
          // A label with nothing after it is noise on a card (an owner has no actions).
          cell.toggleAttribute("data-empty", !cell.textContent.trim() && !cell.querySelector(CONTENT));
          for (var i = 0; i < cell.colSpan; i += 1) {
            spanning[column + i] = cell.rowSpan - 1;
          }
          column += cell.colSpan;
        });
        for (; column < spanning.length; column += 1) {
          if (spanning[column] > 0) {
            spanning[column] -= 1;
          }
        }
      });
    });
    return true;
  }

  function fitTable(table) {
    var box = table.parentElement;
    table.classList.remove("vigil-stacked");
    // Four columns or more on a phone squeeze words letter by letter even when the table
    // fits, so those are stacked too.
    var crowded = columnCount(table) >= 4 || table.scrollWidth > box.clientWidth + 1;
    if (NARROW.matches && crowded && labelCells(table)) {
      table.classList.add("vigil-stacked");
    }
    // A box that still scrolls must be reachable by keyboard (WCAG 2.1.1), and named
    // unless it sits in a named section already (two regions of one name confuse).
    if (box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight) {
      box.setAttribute("tabindex", "0");
      if (table.caption && !box.hasAttribute("aria-label") && !box.closest("section[aria-labelledby]")) {
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", table.caption.textContent.replace(/\s+/g, " ").trim());
      }
    } else if (box.getAttribute("tabindex") === "0") {
      box.removeAttribute("tabindex");
    }
  }

  function fitTables() {
    Array.prototype.forEach.call(document.querySelectorAll(".table-responsive > table"), fitTable);
  }

  var resizing = false;
  window.addEventListener("resize", function () {
    if (!resizing) {
      resizing = true;
      window.requestAnimationFrame(function () {
        resizing = false;
        fitTables();
      });
    }
  });
  // On the first load, again once the fonts are in (they change the widths), and after
  // every htmx swap (new rows need their labels).
  document.addEventListener("DOMContentLoaded", fitTables);
  if (document.fonts) {
    document.fonts.ready.then(fitTables);
  }
  document.addEventListener("htmx:load", fitTables);
})();

