// CodeDrill's one script, loaded blocking in <head> so the theme is set before the first paint
// (no flash of the wrong theme); the rest only registers listeners. Enhancements on top of pages
// that work without JavaScript: the theme toggle, answering with keys 1-4, focus after a swap.

// The remembered theme, else the system preference.
(function () {
  var theme = null;
  try { theme = localStorage.getItem("codedrill-theme"); } catch (e) { /* storage may be blocked */ }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.documentElement.setAttribute("data-theme", theme);
})();

(function () {
  "use strict";

  function currentTheme() {
    return document.documentElement.getAttribute("data-theme") === "dark" ? "dark" : "light";
  }

  function labelToggle(button) {
    var next = currentTheme() === "dark" ? "light" : "dark";
    button.setAttribute("aria-label", "Switch to " + next + " theme");
    button.setAttribute("aria-pressed", currentTheme() === "dark" ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-theme-toggle]");
    if (!button) return;
    var next = currentTheme() === "dark" ? "light" : "dark";
    document.documentElement.setAttribute("data-theme", next);
    try { localStorage.setItem("codedrill-theme", next); } catch (e) { /* storage may be blocked */ }
    labelToggle(button);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-theme-toggle]").forEach(labelToggle);
  });

  // Keys 1-4 pick an option of the unanswered challenge (or of the review on screen) and submit
  // it; on a review, the optional "how sure" choice is read from the form as it stands.
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) return;
    if (!/^[1-4]$/.test(event.key)) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) &&
        !(target.type === "radio")) return;
    var form = document.querySelector("form[data-answer-form]");
    if (!form) return;
    var radio = form.querySelector('input[type="radio"][data-key="' + event.key + '"]');
    if (!radio) return;
    event.preventDefault();
    radio.checked = true;
    radio.focus();
    form.requestSubmit();
  });

  // A filter form submits itself when a choice changes. This listener lives in the blocking
  // script, so it works even before htmx has loaded: htmx, once ready, turns the submit into a
  // partial swap; before that, the browser simply loads the filtered page.
  document.addEventListener("change", function (event) {
    var form = event.target && event.target.form;
    if (form && form.hasAttribute("data-submit-on-change")) form.requestSubmit();
  });

  // After an answer (a challenge's or a review's) is graded, move focus to the result so screen
  // readers and keyboards follow.
  document.addEventListener("htmx:afterSwap", function (event) {
    var result = event.target && event.target.querySelector ? event.target.querySelector("[data-result]") : null;
    if (!result && event.detail && event.detail.elt && event.detail.elt.querySelector) {
      result = document.querySelector("#challenge-card [data-result], #review-card [data-result]");
    }
    if (result) result.focus();
  });
})();
