// Progressive enhancements for every page. Everything works without this file.
(function () {
  "use strict";

  // "Copy" buttons next to a read-only field (the one-time API key secret).
  function setUpCopyButtons() {
    var buttons = document.querySelectorAll("[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (button) {
      var field = document.getElementById(button.getAttribute("data-copy-target"));
      var status = document.querySelector("[data-copy-status]");
      if (!field || !navigator.clipboard) {
        return; // stays hidden: the field can still be selected and copied by hand
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(
          function () {
            if (status) { status.textContent = "Copied to the clipboard."; }
          },
          function () {
            field.select();
            if (status) { status.textContent = "Could not copy; the key is selected, copy it by hand."; }
          }
        );
      });
    });
  }

  // Select the whole secret on focus, so a keyboard user can copy it in one step.
  function setUpSelectOnFocus() {
    var fields = document.querySelectorAll("input[readonly].secret__value");
    Array.prototype.forEach.call(fields, function (field) {
      field.addEventListener("focus", function () { field.select(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopyButtons();
    setUpSelectOnFocus();
  });
})();
