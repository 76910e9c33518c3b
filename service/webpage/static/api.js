// Talking to the service: the API key (asked once, kept for this tab), errors, feature detection.

const KEY = "stockpile.apiKey";
let asking = null; // one key prompt at a time, shared by concurrent calls

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
    this.problems = (body && body.problems) || [];
  }
}

function askForKey(rejected) {
  if (asking) return asking;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  input.value = "";
  dialog.querySelector("p").textContent = rejected
    ? "The server did not accept that API key. Enter another; it is kept for this tab only."
    : "This server needs an API key. It is kept for this tab only.";
  asking = new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        asking = null;
        const key = dialog.returnValue === "ok" ? input.value.trim() : "";
        if (key) sessionStorage.setItem(KEY, key);
        resolve(key);
      },
      { once: true },
    );
  });
  dialog.showModal();
  input.focus();
  return asking;
}

/** fetch with the tab's API key; a 401 asks for a key (once) and retries. Resolves to the Response when ok. */
export async function apiFetch(path, init = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const headers = new Headers(init.headers || {});
    const key = sessionStorage.getItem(KEY);
    if (key) headers.set("Authorization", `Bearer ${key}`);
    const response = await fetch(path, { ...init, headers });
    if (response.status === 401) {
      const hadKey = Boolean(key);
      sessionStorage.removeItem(KEY);
      const entered = await askForKey(hadKey);
      if (!entered) throw new ApiError(401, { detail: "An API key is needed to use this server." });
      continue;
    }
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = { detail: `The server answered ${response.status} ${response.statusText}.` };
      }
      throw new ApiError(response.status, body);
    }
    return response;
  }
  throw new ApiError(401, { detail: "The API key was not accepted." });
}

export async function getJSON(path) {
  return (await apiFetch(path)).json();
}

export async function postJSON(path, body, extra = {}) {
  const response = await apiFetch(path, {
    method: extra.method || "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...(extra.headers || {}) },
    body: JSON.stringify(body),
    signal: extra.signal,
  });
  return extra.raw ? response : response.json();
}

/** Which optional endpoints this server offers, from the API's paths the page came with. */
export function detectFeatures() {
  const paths = new Set(JSON.parse(document.getElementById("api-paths").textContent));
  const has = (p) => paths.has(p);
  return {
    comparisons: has("/v1/comparisons"),
    frontiers: has("/v1/frontiers"),
    policyCosts: has("/v1/policy-costs"),
    stressTests: has("/v1/stress-tests"),
    jobs: has("/v1/jobs") && has("/v1/jobs/{job_id}"),
    scenarios: has("/v1/scenarios/{name}"),
    scenarioList: has("/v1/scenarios"),
    workbookRequest: has("/v1/requests/xlsx"),
  };
}

export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
