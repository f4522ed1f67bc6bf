// Shared by the chat and knowledge pages: the chat WebSocket (/ws/chat/) with
// reconnection, and small DOM and JSON helpers. Frames are JSON objects with a "type";
// see chat/consumers.py for the protocol.
(function () {
  "use strict";

  var GenAI = (window.GenAI = window.GenAI || {});

  GenAI.$ = function (selector, root) { return (root || document).querySelector(selector); };
  GenAI.$all = function (selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  };
  // Elements with text content only: user data never goes in as HTML.
  GenAI.el = function (tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  };

  GenAI.readJSON = function (response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      if (!response.ok) {
        var message = (body && body.error && body.error.message) || ("Request failed (" + response.status + ").");
        throw new Error(message);
      }
      return body;
    });
  };

  GenAI.postJSON = function (url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": GenAI.csrfToken()
      },
      body: JSON.stringify(body || {})
    }).then(GenAI.readJSON);
  };

  GenAI.csrfToken = function () {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  };

  // Handlers: onFrame(frame), onOpen(), onState("connecting" | "open" | "closed").
  // After two failed attempts that never opened, `unavailable` is true: the network (or a
  // proxy) blocks WebSockets, and the chat falls back to Server-Sent Events over HTTP.
  function ChatSocket(path, handlers) {
    this.path = path;
    this.handlers = handlers || {};
    this.socket = null;
    this.everOpened = false;
    this.failures = 0;
    this.unavailable = false;
    this.closedByUs = false;
    this.connect();
  }

  ChatSocket.prototype.url = function () {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + this.path;
  };

  ChatSocket.prototype.state = function (name) {
    if (this.handlers.onState) { this.handlers.onState(name); }
  };

  ChatSocket.prototype.connect = function () {
    var self = this;
    var socket;
    this.state("connecting");
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    var opened = false;
    socket.addEventListener("open", function () {
      opened = true;
      self.everOpened = true;
      self.failures = 0;
      self.unavailable = false;
      self.state("open");
      if (self.handlers.onOpen) { self.handlers.onOpen(); }
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      if (self.handlers.onFrame) { self.handlers.onFrame(frame); }
    });
    socket.addEventListener("close", function (event) {
      self.socket = null;
      self.state("closed");
      if (self.handlers.onClose) { self.handlers.onClose(event); }
      if (event.code === 4401 || self.closedByUs) { return; } // signed out: do not hammer
      if (!opened) {
        self.failures += 1;
        if (!self.everOpened && self.failures >= 2) { self.unavailable = true; }
      }
      self.scheduleReconnect();
    });
  };

  ChatSocket.prototype.scheduleReconnect = function () {
    var self = this;
    var delay = Math.min(10000, 500 * Math.pow(2, Math.min(this.failures, 5)));
    window.setTimeout(function () { self.connect(); }, delay);
  };

  ChatSocket.prototype.isOpen = function () {
    return !!this.socket && this.socket.readyState === WebSocket.OPEN;
  };

  ChatSocket.prototype.send = function (frame) {
    if (!this.isOpen()) { return false; }
    this.socket.send(JSON.stringify(frame));
    return true;
  };

  GenAI.ChatSocket = ChatSocket;
})();
