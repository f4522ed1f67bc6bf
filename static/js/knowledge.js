// The knowledge page: drag-and-drop uploads and live ingestion progress (pushed over the
// chat WebSocket as "knowledge.progress" frames). Names and errors go in as text only.
(function () {
  "use strict";

  var GenAI = window.GenAI;
  var config, rows, statusLine;
  var LABELS = { queued: "Queued", parsing: "Parsing", embedding: "Embedding", ready: "Ready", failed: "Failed" };

  function $(selector, root) { return (root || document).querySelector(selector); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function rowFor(id) { return rows ? $('[data-document-id="' + id + '"]', rows) : null; }

  function applyProgress(row, progress) {
    row.setAttribute("data-status", progress.status);
    var status = $("[data-document-status]", row);
    status.textContent = LABELS[progress.status] || progress.status;
    status.className = "doc-status doc-status--" + progress.status;
    var bar = $("[data-document-progress]", row);
    var total = progress.chunks_total || 0;
    bar.max = total || 1;
    bar.value = progress.status === "ready" ? (total || 1) : Math.min(progress.chunks_done || 0, total || 1);
    $("[data-document-count]", row).textContent = (progress.chunks_done || 0) + "/" + total + " passages";
    var error = $("[data-document-error]", row);
    error.textContent = progress.error || "";
    error.hidden = !progress.error;
  }

  function newRow(doc) {
    var row = el("tr");
    row.setAttribute("data-document-id", doc.id);
    var name = el("th");
    name.scope = "row";
    var link = el("a", null, doc.name);
    link.href = doc.url;
    link.setAttribute("data-document-name", "");
    name.appendChild(link);
    row.appendChild(name);
    var statusCell = el("td");
    var status = el("span", "doc-status");
    status.setAttribute("data-document-status", "");
    var error = el("p", "doc-error");
    error.setAttribute("data-document-error", "");
    statusCell.appendChild(status);
    statusCell.appendChild(error);
    row.appendChild(statusCell);
    var progressCell = el("td");
    var bar = el("progress");
    bar.setAttribute("data-document-progress", "");
    bar.setAttribute("aria-label", "Indexing progress of " + doc.name);
    var count = el("span", "muted");
    count.setAttribute("data-document-count", "");
    progressCell.appendChild(bar);
    progressCell.appendChild(document.createTextNode(" "));
    progressCell.appendChild(count);
    row.appendChild(progressCell);
    var actions = el("td");
    var form = el("form");
    form.method = "post";
    form.action = doc.delete_url;
    var token = el("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = GenAI.csrfToken();
    var button = el("button", "button button--small button--danger", "Delete");
    button.type = "submit";
    form.appendChild(token);
    form.appendChild(button);
    actions.appendChild(form);
    row.appendChild(actions);
    applyProgress(row, doc);
    return row;
  }

  function upload(form, files) {
    var status = $("[data-upload-status]", form);
    if (!files || !files.length) { status.textContent = "Choose at least one file."; return; }
    var data = new FormData();
    Array.prototype.forEach.call(files, function (file) { data.append("files", file); });
    status.textContent = "Uploading " + files.length + " file(s)…";
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": GenAI.csrfToken() },
      body: data
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          throw new Error((body.error && body.error.message) || "Upload failed (" + response.status + ").");
        }
        return body;
      });
    }).then(function (body) {
      var empty = $("[data-no-documents]", rows);
      if (empty) { empty.remove(); }
      body.documents.forEach(function (doc) {
        var existing = rowFor(doc.id);
        if (existing) { applyProgress(existing, doc); return; }
        rows.insertBefore(newRow(doc), rows.firstChild);
      });
      status.textContent = "Uploaded. Indexing runs in the background; progress shows below.";
      $("[data-file-input]", form).value = "";
    }, function (error) {
      status.textContent = error.message;
    });
  }

  function setUpDropzone() {
    var form = $("[data-dropzone]");
    if (!form) { return; }
    var input = $("[data-file-input]", form);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      upload(form, input.files);
    });
    input.addEventListener("change", function () { if (input.files.length) { upload(form, input.files); } });
    ["dragenter", "dragover"].forEach(function (name) {
      form.addEventListener(name, function (event) { event.preventDefault(); form.classList.add("is-dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      form.addEventListener(name, function () { form.classList.remove("is-dragging"); });
    });
    form.addEventListener("drop", function (event) {
      event.preventDefault();
      upload(form, event.dataTransfer.files);
    });
  }

  function onFrame(frame) {
    if (frame.type !== "knowledge.progress" || frame.team_id !== config.teamId) { return; }
    var row = rowFor(frame.document_id);
    if (!row) { return; }
    applyProgress(row, frame);
    var name = $("[data-document-name]", row).textContent;
    if (frame.status === "ready") { statusLine.textContent = name + " is ready to answer questions."; }
    if (frame.status === "failed") { statusLine.textContent = name + " failed: " + (frame.error || "unknown reason"); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    config = JSON.parse($("#knowledge-config").textContent);
    rows = $("[data-documents]");
    statusLine = $("[data-live-status]") || el("p");
    setUpDropzone();
    var socket = new GenAI.ChatSocket(config.socket, {
      onFrame: onFrame,
      onOpen: function () { socket.send({ type: "knowledge.subscribe", team_id: config.teamId }); },
      onState: function (name) { document.body.setAttribute("data-socket", name); }
    });
    var picker = $("[data-team-picker]");
    if (picker) { picker.addEventListener("change", function () { $("[data-team-form]").submit(); }); }
  });
})();
