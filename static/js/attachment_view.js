// A message's files in the log (see rooms/attachments.py for the wire shape): images
// as their thumbnail, at their size from the start (width and height reserve the box,
// so nothing jumps when the picture arrives), linking to the full image; every other
// file as a download card with its name, size and type. Names are set as text only.

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function humanSize(size) {
  if (size >= 1024 * 1024) return `${(size / (1024 * 1024)).toFixed(1)} MB`;
  if (size >= 1024) return `${Math.round(size / 1024)} KB`;
  return `${size} bytes`;
}

function renderImage(file) {
  const link = element("a", "attachment attachment-image");
  link.href = file.url;
  link.target = "_blank";
  link.rel = "noopener";
  const image = element("img");
  image.src = file.thumbnail_url;
  image.alt = file.name;
  image.width = file.thumbnail_width;
  image.height = file.thumbnail_height;
  image.loading = "lazy";
  image.decoding = "async";
  link.title = `${file.name} (${humanSize(file.size)})`;
  link.append(image);
  return link;
}

function renderFile(file) {
  const link = element("a", "attachment attachment-file");
  link.href = file.url;
  link.download = file.name;
  link.append(
    element("span", "attachment-icon", "⬇"),
    element("span", "attachment-name", file.name),
    element("span", "attachment-details", `${humanSize(file.size)} · ${file.content_type}`),
  );
  link.firstChild.setAttribute("aria-hidden", "true");
  return link;
}

/** The element holding a message's files, or null when it has none. */
export function renderAttachments(message) {
  const files = message.deleted ? [] : message.attachments || [];
  if (!files.length) return null;
  const box = element("div", "attachments");
  for (const file of files) box.append(file.thumbnail_url ? renderImage(file) : renderFile(file));
  return box;
}
