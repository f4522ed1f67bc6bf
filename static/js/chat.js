// The chat page: streaming answers over the WebSocket (or SSE when WebSockets are
// blocked), the conversation sidebar, stop / regenerate / copy / feedback.
//
// Safety: message HTML comes from the server already rendered and sanitised
// (chat/rendering.py) and is the only thing put in as HTML; everything else (titles,
// citation labels, errors, streamed text) goes in as text. The page's CSP allows no
// inline script in any case.
(function () {
  "use strict";

  var GenAI = window.GenAI;
  var $ = GenAI.$, $all = GenAI.$all, el = GenAI.el;
  var ui = (GenAI.chatUI = GenAI.chatUI || {});
  var config, log, input, sendButton, stopButton, statusLine, modelPicker, heading;
  var socket;
  var state = {
    conversationId: null,
    busy: false,
    current: null, // the answer being written: {id, el, body, tail, text, rendered}
    sse: null, // AbortController of an SSE fallback request
    retryTimer: null
  };

  function setStatus(text) { statusLine.textContent = text || ""; }

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  // --- Streaming -----------------------------------------------------------------------

  function setBusy(busy) {
    state.busy = busy;
    sendButton.hidden = busy;
    stopButton.hidden = !busy;
    log.setAttribute("aria-busy", busy ? "true" : "false");
    $all("[data-regenerate]", log).forEach(function (b) { b.disabled = busy; });
  }

  function selectedCollections() {
    return $all("[data-collection]").filter(function (box) { return box.checked; }).map(function (box) { return parseInt(box.value, 10); });
  }

  function ask(text) {
    var frame = {
      type: "ask",
      text: text,
      conversation_id: state.conversationId,
      team_id: config.teamId,
      model: modelPicker ? modelPicker.value : null,
      collections: selectedCollections()
    };
    var pending = ui.messageElement({ id: "pending", role: "user", html: "" });
    $("[data-body]", pending).textContent = text;
    pending.setAttribute("data-pending", "");
    ui.hideEmptyState();
    log.appendChild(pending);
    scrollToEnd();
    dispatch(frame);
  }

  function regenerateLast() {
    if (state.busy || !state.conversationId) { return; }
    dispatch({
      type: "regenerate",
      conversation_id: state.conversationId,
      model: modelPicker ? modelPicker.value : null,
      collections: selectedCollections()
    });
  }

  function dispatch(frame) {
    setBusy(true);
    setStatus("Sending…");
    if (socket && socket.isOpen()) {
      socket.send(frame);
    } else if (socket && !socket.unavailable) {
      // Reconnecting: wait briefly for the socket rather than switching transports.
      var tries = 0;
      var wait = window.setInterval(function () {
        tries += 1;
        if (socket.isOpen()) { window.clearInterval(wait); socket.send(frame); }
        else if (tries > 20) { window.clearInterval(wait); streamOverHTTP(frame); }
      }, 100);
    } else {
      streamOverHTTP(frame);
    }
  }

  // Fallback: the same frames as Server-Sent Events over a POST (fetch can stream a
  // response body; EventSource cannot POST). Stop = abort the request.
  function streamOverHTTP(frame) {
    var controller = new AbortController();
    state.sse = controller;
    fetch(config.urls.stream, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream", "X-CSRFToken": GenAI.csrfToken() },
      body: JSON.stringify(frame),
      signal: controller.signal
    }).then(function (response) {
      if (!response.ok) {
        return GenAI.readJSON(response);
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { return; }
          buffer += decoder.decode(chunk.value, { stream: true });
          var events = buffer.split("\n\n");
          buffer = events.pop();
          events.forEach(function (block) {
            block.split("\n").forEach(function (line) {
              if (line.indexOf("data: ") === 0) {
                try { onFrame(JSON.parse(line.slice(6))); } catch (error) { /* ignore a torn frame */ }
              }
            });
          });
          return pump();
        });
      }
      return pump();
    }).catch(function (error) {
      if (error.name === "AbortError") { return; }
      onFrame({ type: "error", title: "Could not reach the server.", message: error.message, hint: "Check your connection and try again." });
    }).then(function () {
      state.sse = null;
      if (state.busy && !state.current) { setBusy(false); }
    });
  }

  function stop() {
    if (!state.busy) { return; }
    setStatus("Stopping…");
    if (state.sse) {
      state.sse.abort();
      state.sse = null;
      if (state.current) {
        finishCurrent({ status: "stopped", html: null, citations: null });
      }
      setBusy(false);
      return;
    }
    if (socket) { socket.send({ type: "stop" }); }
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "conversation": return onConversation(frame.conversation);
      case "start": return onStart(frame);
      case "served": return setStatus("Answering with " + frame.model + "…");
      case "delta": return onDelta(frame);
      case "render": return onRender(frame);
      case "citations": return state.current && ui.renderCitations(state.current.el, frame.citations);
      case "done": return onDone(frame);
      case "error": return onError(frame);
      default: return undefined;
    }
  }

  function onConversation(conversation) {
    var isNew = state.conversationId !== conversation.id;
    state.conversationId = conversation.id;
    ui.upsertSidebarItem(conversation, true);
    heading.textContent = conversation.title || "New conversation";
    document.title = (conversation.title || "Chat") + " · GenAI Platform";
    if (isNew) {
      window.history.replaceState({}, "", "/chat/c/" + conversation.id + "/");
    }
  }

  function onStart(frame) {
    var pending = $("[data-pending]", log);
    if (frame.regenerate) {
      // Drop the answers after the last question: the server has dropped them too.
      var messages = $all(".msg", log);
      for (var i = messages.length - 1; i >= 0 && messages[i].getAttribute("data-role") === "assistant"; i -= 1) {
        messages[i].remove();
      }
    } else if (pending) {
      pending.removeAttribute("data-pending");
      pending.setAttribute("data-message-id", frame.question_id);
      ui.setHTML($("[data-body]", pending), frame.question_html);
    }
    var article = ui.messageElement({ id: frame.message_id, role: "assistant", status: "streaming" });
    var actions = $(".msg__actions", article);
    if (actions) { actions.remove(); }
    article.setAttribute("data-status", "streaming");
    var body = $("[data-body]", article);
    var tail = el("span", "msg__tail");
    body.appendChild(tail);
    log.appendChild(article);
    state.current = { id: frame.message_id, el: article, body: body, tail: tail, text: "" };
    setStatus("Waiting for the first words…");
    scrollToEnd();
  }

  function onDelta(frame) {
    var current = state.current;
    if (!current || current.id !== frame.message_id) { return; }
    current.text += frame.text;
    current.tail.textContent += frame.text; // text, never HTML, until the server renders it
    if (current.text.length === frame.text.length) { setStatus("Writing…"); }
    scrollToEnd();
  }

  function onRender(frame) {
    var current = state.current;
    if (!current || current.id !== frame.message_id) { return; }
    ui.setHTML(current.body, frame.html);
    current.tail = el("span", "msg__tail");
    current.body.appendChild(current.tail);
  }

  function finishCurrent(frame) {
    var current = state.current;
    if (!current) { return; }
    if (frame.html !== null && frame.html !== undefined) {
      ui.setHTML(current.body, frame.html);
    } else if (current.tail) {
      current.tail.classList.remove("msg__tail");
    }
    current.el._text = current.text;
    ui.finishAssistant(current.el, {
      status: frame.status,
      citations: frame.citations,
      model_used: frame.model_used,
      error: frame.error,
      rating: null
    });
    state.current = null;
    ui.updateRegenerateButtons();
  }

  function onDone(frame) {
    if (state.current && state.current.id === frame.message_id) {
      finishCurrent(frame);
    }
    setBusy(false);
    setStatus(frame.status === "stopped" ? "Stopped." : frame.status === "failed" ? "" : "Answer complete.");
    input.focus();
  }

  function onError(frame) {
    var text = frame.title || frame.message || "Something went wrong.";
    if (frame.hint) { text += " " + frame.hint; }
    var pending = $("[data-pending]", log);
    if (pending) { pending.remove(); }
    if (state.current && frame.message_id === state.current.id) {
      ui.setNote(state.current.el, text, "error");
    } else if (!state.current) {
      setBusy(false);
    }
    showAlert(text, frame.retry_after);
  }

  function showAlert(text, retryAfter) {
    window.clearInterval(state.retryTimer);
    var alert = $("[data-alert]");
    if (!alert) {
      alert = el("p", "chat-alert");
      alert.setAttribute("role", "alert");
      alert.setAttribute("data-alert", "");
      statusLine.parentNode.insertBefore(alert, statusLine);
    }
    alert.hidden = false;
    alert.textContent = text;
    if (retryAfter) {
      var left = retryAfter;
      state.retryTimer = window.setInterval(function () {
        left -= 1;
        if (left <= 0) {
          window.clearInterval(state.retryTimer);
          alert.textContent = "You can send again now.";
        } else {
          alert.textContent = text.replace(/\d+ seconds/, left + " seconds");
        }
      }, 1000);
    }
  }

  function clearAlert() {
    var alert = $("[data-alert]");
    if (alert) { alert.hidden = true; }
  }

  // --- Set-up --------------------------------------------------------------------------

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 240) + "px";
  }

  function setUp() {
    config = JSON.parse($("#chat-config").textContent);
    log = $("[data-log]");
    input = $("[data-input]");
    sendButton = $("[data-send]");
    stopButton = $("[data-stop]");
    statusLine = $("[data-status]");
    modelPicker = $("[data-model]");
    heading = $("[data-heading]");
    state.conversationId = config.conversationId;
    // What chat-messages.js and chat-sidebar.js share with this file.
    ui.config = config;
    ui.state = state;
    ui.log = log;
    ui.heading = heading;
    ui.setStatus = setStatus;
    ui.regenerateLast = regenerateLast;

    JSON.parse($("#chat-messages").textContent).forEach(function (message) {
      log.appendChild(ui.messageElement(message));
    });
    ui.updateRegenerateButtons();
    scrollToEnd();

    socket = new GenAI.ChatSocket(config.urls.socket, {
      onFrame: onFrame,
      onState: function (name) { document.body.setAttribute("data-socket", name); },
      onClose: function () {
        // The socket went away mid-answer: the server stored what was written.
        if (state.busy && !state.sse) {
          if (state.current) { finishCurrent({ status: "stopped", html: null }); }
          setBusy(false);
          setStatus("Connection lost; reconnecting…");
        }
      }
    });

    $("[data-composer]").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value;
      if (state.busy || !text.trim()) { return; }
      clearAlert();
      var knowledge = $("[data-knowledge-switch]");
      if (knowledge) { knowledge.open = false; }
      input.value = "";
      autoGrow();
      ask(text);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("[data-composer]").requestSubmit();
      } else if (event.key === "Escape" && state.busy) {
        stop();
      }
    });
    input.addEventListener("input", autoGrow);
    stopButton.addEventListener("click", stop);

    $("[data-conversation-list]").addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      var item = button.closest(".conversation");
      if (button.hasAttribute("data-rename")) { ui.startRename(item); }
      if (button.hasAttribute("data-delete")) { ui.confirmDelete(item, button); }
    });
    $("[data-search]").addEventListener("input", function (event) { ui.search(event.target.value); });

    var toggle = $("[data-sidebar-toggle]");
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      $("[data-sidebar]").classList.toggle("is-open", open);
    });

    var teamPicker = $("[data-team-picker]");
    if (teamPicker) {
      teamPicker.addEventListener("change", function () { $("[data-team-form]").submit(); });
    }
    $all("[data-collection]").forEach(function (box) {
      box.addEventListener("change", function () {
        var count = selectedCollections().length;
        $("[data-knowledge-count]").textContent = count ? count + " on" : "off";
      });
    });
    if (modelPicker) {
      modelPicker.addEventListener("change", function () {
        var label = $("[data-empty-model]");
        if (label) { label.textContent = modelPicker.value; }
      });
    }
    input.focus();
  }

  document.addEventListener("DOMContentLoaded", setUp);
})();
