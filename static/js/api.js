// Calls to the JSON API with the browser session. Unsafe methods carry the CSRF token
// from the csrftoken cookie, as Django asks.

/** The CSRF token Django set in its cookie, for unsafe requests made outside api(). */
export function csrfToken() {
  const entry = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  return entry ? decodeURIComponent(entry.slice("csrftoken=".length)) : "";
}

/** -> {ok, status, data}: `data` is the JSON answer (null for 204); on an error it
 * holds the API's {"detail"} sentence, or one made up for a network failure. */
export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: { detail: "You seem to be offline; try again." } };
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok && !(data && typeof data.detail === "string")) {
    data = { detail: `The server answered ${response.status}; try again.` };
  }
  return { ok: response.ok, status: response.status, data };
}

/** read() -> a function that runs it one at a time: a call while a read is on its way
 * asks for one more after it, since that read may have left the server before the
 * change the call announces (a `read` from another tab right behind the
 * `room_activity` it answers). Failures are dropped: the next call reads again. */
export function oneAtATime(read) {
  let running = null;
  let again = false;
  const run = () => {
    if (running) {
      again = true;
      return running;
    }
    again = false;
    running = Promise.resolve()
      .then(read)
      .catch(() => {})
      .finally(() => {
        running = null;
        if (again) run();
      });
    return running;
  };
  return run;
}
