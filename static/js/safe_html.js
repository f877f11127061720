// The one place user-derived HTML enters the page.
//
// Messages carry `html`: their Markdown rendered on the server by markdown-it-py with
// raw HTML off, then cleaned by nh3 down to a short allow-list of tags, with only
// http(s)/mailto links (rooms/formatting.py). That server-side sanitising is what
// makes this safe, and it is the single rendering path for live messages and history
// alike. Everything else on the page is set with textContent.
//
// Even so, the string is never assigned to a live element's innerHTML: it is parsed
// into an inert document (DOMParser runs no scripts and loads no images), walked
// against the same allow-list as a second line of defence, and only then are the
// nodes adopted into the page.

const ALLOWED = {
  P: [],
  BR: [],
  STRONG: [],
  EM: [],
  CODE: [],
  PRE: [],
  A: ["href", "title"],
  BLOCKQUOTE: [],
  UL: [],
  OL: ["start"],
  LI: [],
  SPAN: ["class", "data-mention"],
};
const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

function safeHref(value) {
  try {
    return LINK_PROTOCOLS.has(new URL(value, window.location.href).protocol);
  } catch {
    return false;
  }
}

/** Keep allowed elements and attributes; anything else becomes its plain text. */
function scrub(parent) {
  for (const node of [...parent.childNodes]) {
    if (node.nodeType === Node.TEXT_NODE) continue;
    if (node.nodeType !== Node.ELEMENT_NODE) {
      node.remove(); // comments, processing instructions
      continue;
    }
    const allowed = ALLOWED[node.tagName];
    if (!allowed) {
      node.replaceWith(node.ownerDocument.createTextNode(node.textContent));
      continue;
    }
    for (const attribute of [...node.attributes]) {
      if (!allowed.includes(attribute.name)) node.removeAttribute(attribute.name);
    }
    if (node.tagName === "A") {
      if (!safeHref(node.getAttribute("href") || "")) node.removeAttribute("href");
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
    if (node.tagName === "SPAN" && node.getAttribute("class") !== "mention") {
      node.removeAttribute("class");
      node.removeAttribute("data-mention");
    }
    scrub(node);
  }
}

/** Append the server's sanitised `html` to `target` (see above). */
export function appendSanitizedHtml(target, html) {
  const parsed = new DOMParser().parseFromString(html, "text/html");
  scrub(parsed.body);
  target.append(...[...parsed.body.childNodes].map((node) => document.adoptNode(node)));
}
