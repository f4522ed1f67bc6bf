// Chat messages: building them, their actions (copy, regenerate, feedback) and sources.
// Only server-sanitised HTML (chat/rendering.py) is ever put in as HTML; see chat.js.
(function () {
  "use strict";

  var GenAI = window.GenAI;
  var $ = GenAI.$, $all = GenAI.$all, el = GenAI.el;
  var ui = (GenAI.chatUI = GenAI.chatUI || {});

  function hideEmptyState() {
    var empty = $("[data-empty-state]");
    if (empty) { empty.hidden = true; }
  }

  function addCodeCopyButtons(body) {
    $all("pre", body).forEach(function (pre) {
      if (pre.querySelector(".code-copy")) { return; }
      var button = el("button", "code-copy", "Copy code");
      button.type = "button";
      button.addEventListener("click", function () {
        var code = pre.querySelector("code");
        copyText(code ? code.textContent : pre.textContent, button, "Copy code");
      });
      pre.appendChild(button);
    });
  }

  function copyText(text, button, label) {
    function done(ok) {
      button.textContent = ok ? "Copied" : "Copy failed";
      window.setTimeout(function () { button.textContent = label; }, 1500);
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
    } else {
      done(false);
    }
  }

  function setHTML(body, html) {
    body.innerHTML = html; // sanitised server-side (chat/rendering.py)
    addCodeCopyButtons(body);
  }

  function renderCitations(article, citations) {
    var old = $(".citations", article);
    if (old) { old.remove(); }
    if (!citations || !citations.length) { return; }
    var wrap = el("div", "citations");
    wrap.appendChild(el("p", "citations__heading", "Sources"));
    var list = el("ol", "citations__list");
    citations.forEach(function (citation) {
      var item = el("li");
      var link = el("a", "citation", citation.label || citation.document_name || "document");
      link.href = citation.url;
      if (citation.number) { item.value = citation.number; }
      item.appendChild(link);
      list.appendChild(item);
    });
    wrap.appendChild(list);
    var actions = $(".msg__actions", article);
    article.insertBefore(wrap, actions || null);
  }

  function messageElement(message) {
    var article = el("article", "msg msg--" + message.role);
    article.setAttribute("data-message-id", message.id);
    article.setAttribute("data-role", message.role);
    article.setAttribute("data-status", message.status || "complete");
    var who = el("p", "msg__who visually-hidden", message.role === "user" ? "You said:" : "Answer:");
    article.appendChild(who);
    var body = el("div", "msg__body md");
    body.setAttribute("data-body", "");
    article.appendChild(body);
    if (message.html !== undefined) { setHTML(body, message.html); }
    article._text = message.text || "";
    if (message.role === "assistant") {
      finishAssistant(article, message);
    }
    return article;
  }

  function setNote(article, text, kind) {
    var note = $(".msg__note", article);
    if (!text) { if (note) { note.remove(); } return; }
    if (!note) {
      note = el("p", "msg__note");
      article.insertBefore(note, $(".citations", article) || $(".msg__actions", article) || null);
    }
    note.className = "msg__note" + (kind ? " msg__note--" + kind : "");
    note.textContent = text;
  }

  function finishAssistant(article, message) {
    article.setAttribute("data-status", message.status);
    if (message.status === "stopped") { setNote(article, "Stopped. This is what was written before you stopped it."); }
    else if (message.status === "failed") { setNote(article, message.error || "This answer failed.", "error"); }
    else { setNote(article, ""); }
    renderCitations(article, message.citations);
    var old = $(".msg__actions", article);
    if (old) { old.remove(); }
    article.appendChild(actionsFor(article, message));
    if (message.model_used) { article.setAttribute("data-model", message.model_used); }
  }

  function actionsFor(article, message) {
    var actions = el("div", "msg__actions");
    var copy = el("button", "icon-button", "Copy");
    copy.type = "button";
    copy.setAttribute("data-copy", "");
    copy.addEventListener("click", function () { copyText(article._text || $("[data-body]", article).textContent, copy, "Copy"); });
    actions.appendChild(copy);

    var regenerate = el("button", "icon-button", "Regenerate");
    regenerate.type = "button";
    regenerate.setAttribute("data-regenerate", "");
    regenerate.addEventListener("click", function () { ui.regenerateLast(); });
    actions.appendChild(regenerate);

    var up = el("button", "icon-button", "Good");
    up.type = "button";
    up.setAttribute("aria-label", "Good answer");
    up.setAttribute("data-thumb-up", "");
    var down = el("button", "icon-button", "Bad");
    down.type = "button";
    down.setAttribute("aria-label", "Bad answer");
    down.setAttribute("data-thumb-down", "");
    up.setAttribute("aria-pressed", message.rating === 1 ? "true" : "false");
    down.setAttribute("aria-pressed", message.rating === -1 ? "true" : "false");
    up.addEventListener("click", function () { sendFeedback(article, 1, "", up, down); });
    down.addEventListener("click", function () { openFeedbackForm(article, up, down); });
    actions.appendChild(up);
    actions.appendChild(down);
    if (message.model_used) { actions.appendChild(el("span", "msg__model muted", message.model_used)); }
    return actions;
  }

  function sendFeedback(article, rating, comment, up, down) {
    var id = article.getAttribute("data-message-id");
    return GenAI.postJSON("/chat/api/messages/" + id + "/feedback/", { rating: rating, comment: comment }).then(function () {
      up.setAttribute("aria-pressed", rating === 1 ? "true" : "false");
      down.setAttribute("aria-pressed", rating === -1 ? "true" : "false");
      ui.setStatus("Thanks for the feedback.");
    }, function (error) { ui.setStatus(error.message); });
  }

  function openFeedbackForm(article, up, down) {
    var existing = $(".feedback-form", article);
    if (existing) { $("textarea", existing).focus(); return; }
    var form = el("form", "feedback-form");
    var id = "feedback-" + article.getAttribute("data-message-id");
    var label = el("label", null, "What was wrong with this answer? (optional)");
    label.htmlFor = id;
    var text = el("textarea", "input");
    text.id = id;
    text.rows = 2;
    text.maxLength = 2000;
    var submit = el("button", "button button--small", "Send feedback");
    submit.type = "submit";
    var cancel = el("button", "button button--small button--secondary", "Cancel");
    cancel.type = "button";
    form.appendChild(label);
    form.appendChild(text);
    form.appendChild(submit);
    form.appendChild(cancel);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendFeedback(article, -1, text.value, up, down).then(function () { form.remove(); down.focus(); });
    });
    cancel.addEventListener("click", function () { form.remove(); down.focus(); });
    article.appendChild(form);
    text.focus();
  }

  function lastAssistant() {
    var all = $all(".msg--assistant", ui.log);
    return all.length ? all[all.length - 1] : null;
  }

  function updateRegenerateButtons() {
    var last = lastAssistant();
    $all("[data-regenerate]", ui.log).forEach(function (button) {
      button.hidden = !last || !last.contains(button);
    });
  }

  ui.hideEmptyState = hideEmptyState;
  ui.copyText = copyText;
  ui.setHTML = setHTML;
  ui.renderCitations = renderCitations;
  ui.messageElement = messageElement;
  ui.setNote = setNote;
  ui.finishAssistant = finishAssistant;
  ui.lastAssistant = lastAssistant;
  ui.updateRegenerateButtons = updateRegenerateButtons;
})();
