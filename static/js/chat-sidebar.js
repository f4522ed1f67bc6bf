// The conversation sidebar: new items, rename in place, two-step delete, title search.
// Titles go in as text only.
(function () {
  "use strict";

  var GenAI = window.GenAI;
  var $ = GenAI.$, $all = GenAI.$all, el = GenAI.el;
  var ui = (GenAI.chatUI = GenAI.chatUI || {});

  function sidebarItem(conversation) {
    var item = el("li", "conversation");
    item.setAttribute("data-conversation-id", conversation.id);
    var link = el("a", "conversation__link", conversation.title || "New conversation");
    link.href = "/chat/c/" + conversation.id + "/";
    link.setAttribute("data-title", "");
    item.appendChild(link);
    var rename = el("button", "icon-button", "Rename");
    rename.type = "button";
    rename.setAttribute("data-rename", "");
    var remove = el("button", "icon-button icon-button--danger", "Delete");
    remove.type = "button";
    remove.setAttribute("data-delete", "");
    item.appendChild(rename);
    item.appendChild(remove);
    return item;
  }

  function upsertSidebarItem(conversation, moveToTop) {
    var list = $("[data-conversation-list]");
    var item = $('[data-conversation-id="' + conversation.id + '"]', list);
    if (!item) {
      item = sidebarItem(conversation);
    } else {
      $("[data-title]", item).textContent = conversation.title || "New conversation";
    }
    if (moveToTop) { list.insertBefore(item, list.firstChild); }
    $all(".conversation__link", list).forEach(function (link) { link.removeAttribute("aria-current"); });
    if (conversation.id === ui.state.conversationId) { $("[data-title]", item).setAttribute("aria-current", "page"); }
    $("[data-list-empty]").hidden = true;
  }

  function startRename(item) {
    var link = $("[data-title]", item);
    var id = item.getAttribute("data-conversation-id");
    var form = el("form", "rename-form");
    var label = el("label", "visually-hidden", "New title");
    var field = el("input", "input");
    field.type = "text";
    field.value = link.textContent;
    field.maxLength = 80;
    field.id = "rename-" + id;
    label.htmlFor = field.id;
    form.appendChild(label);
    form.appendChild(field);
    link.hidden = true;
    item.insertBefore(form, link.nextSibling);
    field.focus();
    field.select();
    function close() { form.remove(); link.hidden = false; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      GenAI.postJSON("/chat/api/conversations/" + id + "/rename/", { title: field.value }).then(function (body) {
        link.textContent = body.conversation.title;
        if (String(ui.state.conversationId) === id) { ui.heading.textContent = body.conversation.title; }
        close();
        ui.setStatus("Renamed.");
        $("[data-rename]", item).focus();
      }, function (error) { ui.setStatus(error.message); });
    });
    field.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); $("[data-rename]", item).focus(); }
    });
  }

  function confirmDelete(item, button) {
    if (button.getAttribute("data-confirming") !== "true") {
      button.setAttribute("data-confirming", "true");
      button.textContent = "Confirm delete";
      window.setTimeout(function () {
        button.removeAttribute("data-confirming");
        button.textContent = "Delete";
      }, 4000);
      return;
    }
    var id = item.getAttribute("data-conversation-id");
    GenAI.postJSON("/chat/api/conversations/" + id + "/delete/", {}).then(function () {
      item.remove();
      ui.setStatus("Conversation deleted.");
      if (String(ui.state.conversationId) === id) { window.location.href = ui.config.urls.chat; }
      if (!$(".conversation", $("[data-conversation-list]"))) { $("[data-list-empty]").hidden = false; }
    }, function (error) { ui.setStatus(error.message); });
  }

  var searchTimer = null;
  function search(query) {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(function () {
      var url = ui.config.urls.conversations + "?team=" + encodeURIComponent(ui.config.teamId) + "&q=" + encodeURIComponent(query);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(GenAI.readJSON).then(function (body) {
        var list = $("[data-conversation-list]");
        list.textContent = "";
        body.conversations.forEach(function (conversation) { list.appendChild(sidebarItem(conversation)); });
        var empty = $("[data-list-empty]");
        empty.textContent = query ? "No conversation titles match." : "No conversations yet.";
        empty.hidden = body.conversations.length > 0;
        if (ui.state.conversationId) {
          var current = $('[data-conversation-id="' + ui.state.conversationId + '"] [data-title]', list);
          if (current) { current.setAttribute("aria-current", "page"); }
        }
      }, function (error) { ui.setStatus(error.message); });
    }, 200);
  }

  ui.upsertSidebarItem = upsertSidebarItem;
  ui.startRename = startRename;
  ui.confirmDelete = confirmDelete;
  ui.search = search;
})();
