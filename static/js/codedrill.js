// CodeDrill's one script, loaded blocking in <head> so the theme is set before the first paint
// (no flash of the wrong theme); the rest only registers listeners. Enhancements on top of pages
// that work without JavaScript: the theme toggle, answering with keys 1-4, where focus goes and what
// is announced after a swap, the code blocks' scroll cue, and the phone's folded setup.

// Before the first paint: the remembered theme (else the system's), and the classes that show the
// controls which need this script (html.js) and hide the 1-4 hints when the learner turned them off.
(function () {
  var theme = null;
  var shortcuts = null;
  try {
    theme = localStorage.getItem("codedrill-theme");
    shortcuts = localStorage.getItem("codedrill-shortcuts");
  } catch (e) { /* storage may be blocked */ }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  var root = document.documentElement;
  root.setAttribute("data-theme", theme);
  root.classList.add("js");
  if (shortcuts === "off") root.classList.add("shortcuts-off");
})();

(function () {
  "use strict";

  var root = document.documentElement;
  var PHONE = "(max-width: 760px)";

  function currentTheme() {
    return root.getAttribute("data-theme") === "dark" ? "dark" : "light";
  }

  function labelToggle(button) {
    var next = currentTheme() === "dark" ? "light" : "dark";
    button.setAttribute("aria-label", "Switch to " + next + " theme");
    button.setAttribute("aria-pressed", currentTheme() === "dark" ? "true" : "false");
  }

  function shortcutsOn() {
    return !root.classList.contains("shortcuts-off");
  }

  function setShortcuts(on) {
    root.classList.toggle("shortcuts-off", !on);
    try { localStorage.setItem("codedrill-shortcuts", on ? "on" : "off"); } catch (e) { /* blocked */ }
    announce(on ? "Single-key shortcuts on." : "Single-key shortcuts off.");
  }

  // The page's one status region is updated, never replaced: clearing it first makes the same
  // message ("Right.") twice in a row be read twice.
  function announce(message) {
    var region = document.getElementById("status-message");
    if (!region || !message) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = message; }, 50);
  }

  function isTyping(target) {
    return target && (target.isContentEditable || /^(TEXTAREA|SELECT)$/.test(target.tagName) ||
      (target.tagName === "INPUT" && !/^(radio|checkbox|button|submit)$/.test(target.type)));
  }

  function openHelp() {
    var dialog = document.getElementById("shortcuts-help");
    if (!dialog || dialog.open) return;
    var toggle = dialog.querySelector("[data-shortcuts-toggle]");
    if (toggle) toggle.checked = shortcutsOn();
    dialog.showModal();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-theme-toggle]");
    if (button) {
      var next = currentTheme() === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("codedrill-theme", next); } catch (e) { /* storage may be blocked */ }
      labelToggle(button);
      return;
    }
    if (event.target.closest("[data-shortcuts-open]")) openHelp();
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("[data-shortcuts-toggle]")) {
      setShortcuts(target.checked);
      return;
    }
    // A filter form submits itself when a choice changes. This listener lives in the blocking
    // script, so it works even before htmx has loaded: htmx, once ready, turns the submit into a
    // partial swap; before that, the browser simply loads the filtered page.
    var form = target && target.form;
    if (form && form.hasAttribute("data-submit-on-change")) form.requestSubmit();
    if (form && form.id === "generate-form") describeSetup();
  });

  // Single-key shortcuts act only inside the question they belong to (focus in a
  // [data-answer-scope]: after Generate or Next it is on the question's heading): 1-4 pick that
  // option and submit it. "?" lists them. Both can be turned off in that list (WCAG 2.1.4).
  // Enter on a picked option submits it, shortcuts on or off.
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) return;
    var target = event.target instanceof Element ? event.target : null;
    var scope = target ? target.closest("[data-answer-scope]") : null;
    var form = scope ? scope.querySelector("form[data-answer-form]") : null;
    if (event.key === "Enter" && form && target.matches('input[type="radio"]') && form.contains(target) && target.checked) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (!shortcutsOn() || isTyping(target)) return;
    if (event.key === "?") {
      event.preventDefault();
      openHelp();
      return;
    }
    if (!/^[1-4]$/.test(event.key) || !form) return;
    var radio = form.querySelector('input[type="radio"][data-key="' + event.key + '"]');
    if (!radio) return;
    event.preventDefault();
    radio.checked = true;
    radio.focus();
    form.requestSubmit();
  });

  // Work in flight: the region that will change is marked busy, and the status says what is happening.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail && event.detail.target;
    if (target) target.setAttribute("aria-busy", "true");
    var source = event.detail && event.detail.elt;
    var busy = source && source.closest ? source.closest("[data-busy-message]") : null;
    if (busy) announce(busy.getAttribute("data-busy-message"));
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail && event.detail.target;
    if (target) target.removeAttribute("aria-busy");
  });

  // After a swap, focus goes where the learner's next action is (the new question's heading, the
  // result, the report's thank-you, the first item loaded) and the status says what happened. The
  // server marks both in the new content: data-swap-focus, data-announce. htmx fires afterSettle on
  // each element it put in the page.
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.target;
    if (!(swapped instanceof Element) || !swapped.isConnected) return;
    markOverflow(swapped);
    // A form sent back with its errors: focus goes to them, the next thing to fix (they are an
    // alert already: the status region stays quiet).
    var error = swapped.querySelector('.form-errors[role="alert"]');
    if (error) {
      error.setAttribute("tabindex", "-1");
      error.focus();
      return;
    }
    var spoken = swapped.matches("[data-announce]") ? swapped : swapped.querySelector("[data-announce]");
    if (spoken) announce(spoken.getAttribute("data-announce"));
    var focus = swapped.matches("[data-swap-focus]") ? swapped : swapped.querySelector("[data-swap-focus]");
    if (!focus) return;
    if (focus.getAttribute("data-swap-focus") === "start" && window.matchMedia && window.matchMedia(PHONE).matches) {
      // A new question on a phone: the setup above folds to one line and the question fills the
      // screen, its card at the top.
      foldSetup();
      focus.focus({ preventScroll: true });
      (focus.closest(".card") || focus).scrollIntoView({ block: "start" });
    } else {
      focus.focus();
    }
  });

  function describeSetup() {
    var form = document.getElementById("generate-form");
    var summary = document.querySelector("[data-setup-summary]");
    if (!form || !summary) return;
    var checked = form.querySelector('input[name="difficulty"]:checked');
    var difficulty = checked && checked.parentElement ? checked.parentElement.textContent.trim() : "";
    var topic = form.querySelector('select[name="topic"]');
    var topicText = topic && topic.selectedOptions.length ? topic.selectedOptions[0].textContent.trim() : "";
    summary.textContent = [difficulty, topicText].filter(Boolean).join(" · ") + " (change)";
  }

  function foldSetup() {
    var choices = document.querySelector("[data-setup-choices]");
    if (!choices) return;
    describeSetup();
    choices.open = false;
  }

  // A code block (or table) wider than its card is marked, which shows the cue under it ("scroll
  // sideways"). A table that scrolls also takes focus, named after its section, so the keyboard
  // scrolls it too.
  function markOverflow(container) {
    var blocks = container.querySelectorAll ? container.querySelectorAll("pre.code, .table-scroll") : [];
    blocks.forEach(function (block) {
      var overflowing = block.scrollWidth > block.clientWidth + 1;
      block.toggleAttribute("data-overflowing", overflowing);
      if (!overflowing || !block.classList.contains("table-scroll") || block.hasAttribute("tabindex")) return;
      var heading = block.closest("section") ? block.closest("section").querySelector("h2") : null;
      block.tabIndex = 0;
      block.setAttribute("role", "region");
      block.setAttribute("aria-label", "Table" + (heading ? ": " + heading.textContent.trim() : "") + " (scrolls sideways)");
      var cue = document.createElement("p");
      cue.className = "code-cue";
      cue.setAttribute("aria-hidden", "true");
      cue.textContent = "Scroll sideways to see every column";
      block.after(cue);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-theme-toggle]").forEach(labelToggle);
    describeSetup();
    markOverflow(document);
    // Back to a wide screen: the folded choices open again (their one-line summary is phone-only).
    if (window.matchMedia) {
      window.matchMedia(PHONE).addEventListener("change", function (query) {
        var choices = document.querySelector("[data-setup-choices]");
        if (!query.matches && choices) choices.open = true;
      });
    }
  });
  window.addEventListener("resize", function () { markOverflow(document); });
  document.addEventListener("toggle", function (event) { markOverflow(event.target); }, true);
})();
