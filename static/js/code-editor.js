// The "Write the code" editor, on top of a plain textarea that works without JavaScript. The
// textarea stays the real input (its label, the form, what a screen reader reads); this script adds
// the editing keys and, when the vendored Prism has loaded, a highlighted copy of the text behind
// it (hidden from assistive technology). Without Prism the keys still work and nothing else changes.
//
// Loaded deferred, before Prism's files: Prism reads this setting when it loads and then never
// highlights the page by itself. The editor is set up at DOMContentLoaded, after every deferred
// script has run.
window.Prism = window.Prism || {};
window.Prism.manual = true;

(function () {
  "use strict";

  var INDENT = "    ";
  // After a line that ends with this, Enter indents one level more.
  var OPENS_BLOCK = { python: ":", javascript: "{" };

  function lineStart(text, index) {
    return index === 0 ? 0 : text.lastIndexOf("\n", index - 1) + 1;
  }

  // The whole lines a selection touches; a selection that ends at the start of a line leaves that
  // line out, as editors do.
  function selectedLines(text, start, end) {
    var last = end > start && text.charAt(end - 1) === "\n" ? end - 1 : end;
    var from = lineStart(text, start);
    var to = text.indexOf("\n", last);
    return { from: from, to: to === -1 ? text.length : to };
  }

  // Replaces text[from, to) as one step of the undo history where the browser allows it:
  // execCommand("insertText") is deprecated, but it is the only edit the undo stack records (as
  // typing would be). Where it does nothing, setRangeText makes the same change without undo.
  function replace(editor, from, to, text) {
    editor.setSelectionRange(from, to);
    var done = false;
    try {
      done = text ? document.execCommand("insertText", false, text) : from === to || document.execCommand("delete");
    } catch (error) {
      done = false;
    }
    if (done) return;
    editor.setRangeText(text, from, to, "end");
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Tab: without a line break in the selection, four spaces replace it; otherwise every selected
  // line (blank lines aside) moves right by four spaces and stays selected.
  function indent(editor) {
    var text = editor.value, start = editor.selectionStart, end = editor.selectionEnd;
    if (text.slice(start, end).indexOf("\n") === -1) {
      replace(editor, start, end, INDENT);
      return;
    }
    var block = selectedLines(text, start, end);
    var lines = text.slice(block.from, block.to).split("\n");
    var moved = lines.map(function (line) { return line ? INDENT + line : line; });
    var added = moved.join("\n").length - (block.to - block.from);
    replace(editor, block.from, block.to, moved.join("\n"));
    var firstShift = start > block.from && lines[0] ? INDENT.length : 0;
    editor.setSelectionRange(start + firstShift, end + added);
  }

  // Shift-Tab: every line the selection touches (the caret's line when nothing is selected) moves
  // left by up to four spaces (or one tab); the selection follows the text.
  function dedent(editor) {
    var text = editor.value, start = editor.selectionStart, end = editor.selectionEnd;
    var block = selectedLines(text, start, end);
    var lines = text.slice(block.from, block.to).split("\n");
    var removed = lines.map(function (line) { return (line.match(/^(?: {1,4}|\t)/) || [""])[0].length; });
    if (!removed.some(Boolean)) return;
    var dedented = lines.map(function (line, index) { return line.slice(removed[index]); });

    function shifted(position) {
      var lineFrom = block.from, shift = 0;
      for (var index = 0; index < lines.length; index++) {
        var lineTo = lineFrom + lines[index].length;
        if (position <= lineTo) return position - shift - Math.min(position - lineFrom, removed[index]);
        shift += removed[index];
        lineFrom = lineTo + 1;
      }
      return position - shift;
    }

    var newStart = shifted(start), newEnd = shifted(end);
    replace(editor, block.from, block.to, dedented.join("\n"));
    editor.setSelectionRange(newStart, newEnd);
  }

  // Enter: the new line starts with the current line's indentation, one level more after a line
  // that opens a block.
  function newLine(editor, language) {
    var text = editor.value, start = editor.selectionStart;
    var before = text.slice(lineStart(text, start), start);
    var indentation = before.match(/^[ \t]*/)[0];
    var opener = OPENS_BLOCK[language];
    if (opener && before.replace(/\s+$/, "").slice(-1) === opener) indentation += INDENT;
    replace(editor, start, editor.selectionEnd, "\n" + indentation);
  }

  // Escape releases the editor: the next Tab (or Shift-Tab) leaves it, so the keyboard is never
  // trapped in it (WCAG 2.1.2). The help text under the editor says so.
  function addKeys(editor, language) {
    var released = false;
    editor.addEventListener("focus", function () { released = false; });
    editor.addEventListener("keydown", function (event) {
      if (event.isComposing || event.defaultPrevented) return;
      var key = event.key;
      // Shift pressed on its way to Shift-Tab must not undo Escape.
      if (key === "Shift" || key === "Control" || key === "Alt" || key === "Meta") return;
      if (key === "Escape") {
        released = true;
        return;
      }
      var wasReleased = released;
      released = false;
      var command = event.ctrlKey || event.metaKey;
      if (key === "Enter" && command && !event.altKey && !event.shiftKey) {
        event.preventDefault();
        var submit = editor.form ? editor.form.querySelector('button[value="submit"]') : null;
        if (submit && !submit.disabled) editor.form.requestSubmit(submit);
        return;
      }
      if (key === "Tab" && !command && !event.altKey) {
        if (wasReleased) return;
        event.preventDefault();
        if (event.shiftKey) dedent(editor);
        else indent(editor);
        return;
      }
      if (key === "Enter" && !command && !event.altKey && !event.shiftKey) {
        event.preventDefault();
        newLine(editor, language);
      }
    });
  }

  // Prism's tokens as elements: a span per token (with Prism's class names), the code as text
  // nodes, so nothing the learner types is ever parsed as HTML.
  function appendTokens(parent, tokens) {
    tokens.forEach(function (token) {
      if (typeof token === "string") {
        parent.appendChild(document.createTextNode(token));
        return;
      }
      var span = document.createElement("span");
      span.className = ["token", token.type].concat(token.alias || []).join(" ");
      appendTokens(span, Array.isArray(token.content) ? token.content : [token.content]);
      parent.appendChild(span);
    });
  }

  // The highlighted layer: a <pre> behind the textarea, the same size as the textarea's inside
  // (no border, no scrollbars), with the same font, padding, line height and tab size (the CSS),
  // moved as the textarea scrolls. The textarea's own text is transparent; its caret and selection
  // show over the layer.
  function addHighlighting(editor, grammar, language) {
    var wrap = document.createElement("div");
    wrap.className = "code-editor-wrap";
    var layer = document.createElement("pre");
    layer.className = "code-editor-layer";
    layer.setAttribute("aria-hidden", "true");
    var code = document.createElement("code");
    code.className = "language-" + language;
    layer.appendChild(code);
    editor.parentNode.insertBefore(wrap, editor);
    wrap.appendChild(layer);
    wrap.appendChild(editor);
    editor.classList.add("code-editor-highlighted");

    function follow() {
      layer.style.top = editor.offsetTop + editor.clientTop + "px";
      layer.style.left = editor.offsetLeft + editor.clientLeft + "px";
      layer.style.width = editor.clientWidth + "px";
      layer.style.height = editor.clientHeight + "px";
      code.style.transform = "translate(" + -editor.scrollLeft + "px, " + -editor.scrollTop + "px)";
    }

    var scheduled = false;
    function render() {
      scheduled = false;
      var text = editor.value;
      // A final line break opens an empty last line in the textarea but not in a <pre>.
      if (text.slice(-1) === "\n") text += " ";
      code.textContent = "";
      try {
        appendTokens(code, window.Prism.tokenize(text, grammar));
      } catch (error) {
        // Never a layer that shows other text than the textarea holds: plain, if not highlighted.
        code.textContent = text;
      }
      follow();
    }

    // Input comes at most once a frame: the code is small (20 kB at most), so highlighting all of
    // it each time costs a few milliseconds.
    editor.addEventListener("input", function () {
      if (scheduled) return;
      scheduled = true;
      window.requestAnimationFrame(render);
    });
    editor.addEventListener("scroll", follow);
    if (window.ResizeObserver) new ResizeObserver(follow).observe(editor);
    window.addEventListener("resize", follow);
    render();
  }

  function enhance(editor) {
    if (editor.hasAttribute("data-editor-ready")) return;
    editor.setAttribute("data-editor-ready", "");
    var language = editor.getAttribute("data-language") || "python";
    addKeys(editor, language);
    var prism = window.Prism;
    var grammar = typeof prism.tokenize === "function" && prism.languages ? prism.languages[language] : null;
    if (grammar) addHighlighting(editor, grammar, language);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-code-editor]").forEach(enhance);
  });
})();
