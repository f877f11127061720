// Files in the composer: picked with "Attach files", dropped anywhere on the room, or
// pasted into the box. Each is uploaded at once (POST /api/rooms/{id}/uploads, with a
// progress bar and a Cancel button; a failed one offers Retry), and sent with the
// message's text as one message (POST /api/rooms/{id}/messages with the upload ids).
// A send keeps its client_id until it succeeds, so sending again after a failure
// (a network drop) never stores the message twice. Without files, room.js sends.
import { api, csrfToken } from "./api.js";
import { humanSize } from "./attachment_view.js";

const root = document.getElementById("room");
const roomId = Number(root.dataset.roomId);
const composer = document.getElementById("composer");
const input = document.getElementById("message-input");
const picker = document.getElementById("file-input");
const attachButton = document.getElementById("attach-button");
const tray = document.getElementById("upload-tray");
const errorLine = document.getElementById("composer-error");

const uploads = []; // {file, item, xhr, id, state: "uploading"|"done"|"failed"}
let clientId = null; // this message's, until it is sent
let sending = false;

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function showError(text) {
  errorLine.textContent = text || "";
}

function button(text, label, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "link";
  node.textContent = text;
  node.setAttribute("aria-label", label);
  node.addEventListener("click", onClick);
  return node;
}

function render(upload) {
  const item = upload.item;
  item.replaceChildren();
  item.dataset.state = upload.state;
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = `${upload.file.name || "file"} (${humanSize(upload.file.size)})`;
  item.append(name);
  if (upload.state === "uploading") {
    upload.progress = document.createElement("progress");
    upload.progress.max = 100;
    upload.progress.value = 0;
    upload.progress.setAttribute("aria-label", `Uploading ${upload.file.name || "file"}`);
    item.append(upload.progress, button("Cancel", `Cancel upload of ${upload.file.name}`, () => remove(upload)));
  } else if (upload.state === "failed") {
    const why = document.createElement("span");
    why.className = "upload-error";
    why.textContent = upload.error;
    item.append(why, button("Retry", `Retry upload of ${upload.file.name}`, () => start(upload)));
    item.append(button("Remove", `Remove ${upload.file.name}`, () => remove(upload)));
  } else {
    item.append(button("Remove", `Remove ${upload.file.name}`, () => remove(upload)));
  }
}

function start(upload) {
  clientId = null; // a different set of files is a different message
  upload.state = "uploading";
  upload.id = null;
  render(upload);
  const xhr = new XMLHttpRequest();
  upload.xhr = xhr;
  xhr.open("POST", `/api/rooms/${roomId}/uploads`);
  xhr.setRequestHeader("X-CSRFToken", csrfToken());
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable && upload.progress) upload.progress.value = (100 * event.loaded) / event.total;
  });
  xhr.addEventListener("load", () => {
    let data = null;
    try {
      data = JSON.parse(xhr.responseText);
    } catch {
      data = null;
    }
    if (xhr.status === 201 && data) {
      upload.id = data.id;
      upload.state = "done";
    } else {
      upload.state = "failed";
      upload.error = (data && data.detail) || `The server answered ${xhr.status}; try again.`;
    }
    render(upload);
  });
  xhr.addEventListener("error", () => {
    upload.state = "failed";
    upload.error = "The upload did not get through; try again.";
    render(upload);
  });
  const form = new FormData();
  form.append("file", upload.file, upload.file.name);
  xhr.send(form);
}

function remove(upload) {
  if (upload.state === "uploading") upload.xhr?.abort();
  upload.item.remove();
  uploads.splice(uploads.indexOf(upload), 1);
  clientId = null;
}

export function addFiles(files) {
  if (input.disabled) return;
  showError("");
  for (const file of files) {
    const upload = { file, item: document.createElement("li"), state: "uploading" };
    upload.item.className = "upload";
    uploads.push(upload);
    tray.append(upload.item);
    start(upload);
  }
}

async function send() {
  if (uploads.some((u) => u.state === "uploading")) {
    showError("Wait for the files to finish uploading, then send.");
    return;
  }
  if (uploads.some((u) => u.state === "failed")) {
    showError("A file did not upload: retry or remove it, then send.");
    return;
  }
  clientId ??= newClientId();
  sending = true;
  const answer = await api("POST", `/api/rooms/${roomId}/messages`, {
    body: input.value.trim(),
    client_id: clientId,
    attachments: uploads.map((u) => u.id),
  });
  sending = false;
  if (!answer.ok) {
    showError(answer.data.detail); // the files and the text stay: send again
    return;
  }
  showError("");
  for (const upload of [...uploads]) remove(upload);
  reveal(answer.data.seq);
  input.value = "";
  input.dispatchEvent(new Event("input")); // the draft goes, the box shrinks
  input.focus();
}

/** Scroll your own message into view once the socket has put it in the log (the
 * log keeps its place for messages from others while you read further up). */
function reveal(seq, tries = 50) {
  const item = document.querySelector(`#log article[data-seq="${seq}"]`);
  if (item) item.scrollIntoView({ block: "end" });
  else if (tries > 0) setTimeout(() => reveal(seq, tries - 1), 100);
}

// Before room.js's own submit listener (a capturing one runs first at the target):
// with files, this module sends; without, room.js does as before.
composer.addEventListener(
  "submit",
  (event) => {
    if (!uploads.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!sending && !input.disabled) send();
  },
  true,
);

attachButton.addEventListener("click", () => picker.click());
picker.addEventListener("change", () => {
  addFiles([...picker.files]);
  picker.value = "";
});

function carriesFiles(event) {
  return event.dataTransfer && [...event.dataTransfer.types].includes("Files");
}

root.addEventListener("dragover", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
  root.classList.add("dropping");
});
root.addEventListener("dragleave", (event) => {
  if (event.target === root || !root.contains(event.relatedTarget)) root.classList.remove("dropping");
});
root.addEventListener("drop", (event) => {
  root.classList.remove("dropping");
  if (!carriesFiles(event) || !event.dataTransfer.files.length) return;
  event.preventDefault();
  addFiles([...event.dataTransfer.files]);
});

input.addEventListener("paste", (event) => {
  const files = [...(event.clipboardData?.files || [])];
  if (!files.length) return;
  // A pasted picture becomes an attachment; pasted text still goes into the box.
  if (!event.clipboardData.getData("text/plain")) event.preventDefault();
  addFiles(files);
});
