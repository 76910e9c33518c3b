// The page: start (example, workbook, JSON, scenario), edit, solve (directly or as a job), see, compare, save.

import { ApiError, apiFetch, detectFeatures, download, getJSON, postJSON } from "./api.js";
import { Editor, cellFor } from "./editor.js";
import { chartImage, renderResult, statusWords } from "./result.js";
import { el } from "./util.js";
import { WhatIf } from "./whatif.js";

const $ = (id) => document.getElementById(id);
const state = {
  features: {},
  lastRequest: null, // the request of the result shown
  lastResult: null,
  lastJob: null, // the id of the job that solved the result shown, when one did
  solvingJob: null, // the id of the job under way
  workbook: null, // the uploaded file, while the editor still holds what it says
  lastWorkbook: null, // the uploaded file the result shown was solved from
  running: null, // {abort} of the solve under way
  scenarioTags: new Map(), // scenario name -> ETag of the version loaded or saved
};

const editor = new Editor($("editor"), () => {
  state.workbook = null; // edited: the uploaded workbook no longer says what the editor does
});
const whatif = new WhatIf(() => editor.request && editor.value(), (problems) => showProblems(problems));

// ---- tabs (arrow keys move between them, as the ARIA tabs pattern has it)
const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab, focus = true) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
  }
  if (focus) tab.focus();
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    selectTab(tabs[(next + tabs.length) % tabs.length]);
  });
}
const showTab = (name) => selectTab($(`tab-${name}`), false);

// ---- problems: beside their fields, and listed at the top with a way to each
function showProblems(problems, { title } = {}) {
  const unplaced = editor.request ? editor.setProblems(problems) : problems;
  if ([...editor.problems.keys()].some((cell) => cell.startsWith("options."))) $("options").open = true;
  const box = $("problems");
  const placed = problems.filter((p) => !unplaced.includes(p));
  const items = problems.map((p) => {
    const li = el("li", {}, el("code", {}, p.path), `: ${p.message}`);
    const cell = placed.includes(p) ? cellFor(p.path) : null;
    if (cell && editor.problems.has(cell)) {
      li.append(el("button", { type: "button", "data-cell": cell, "aria-label": `Show ${p.path}` }, "Show"));
    }
    return li;
  });
  box.replaceChildren(
    el("h2", {}, title || `The request has ${problems.length} problem${problems.length === 1 ? "" : "s"}`),
    el("p", {}, "Each is marked beside its field where the editor shows one."),
    el("ul", {}, ...items));
  box.hidden = false;
}
$("problems").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-cell]");
  if (!b) return;
  showTab("request");
  editor.reveal(b.dataset.cell);
});
function clearProblems() {
  $("problems").hidden = true;
  $("problems").replaceChildren();
  editor.clearProblems();
}

function say(text) {
  $("solve-status").textContent = text;
}

function loadRequest(request, source) {
  clearProblems();
  editor.load(request);
  whatif.setDefaults(editor.request);
  $("source").textContent = source;
  // long runs go through the jobs API when the server has it (the planner can still choose)
  $("opt-job").checked = Boolean(state.features.jobs) &&
    (request.suppliers.length >= 2000 || (editor.request.options.time_limit_s || 0) > 60);
}

// ---- starting points
function listExamples() {
  const list = JSON.parse($("examples").textContent); // the built-in examples, named in the page
  $("example").replaceChildren(...list.map((e) => el("option", { value: e.name }, `${e.name}: ${e.title}`)));
}
$("load-example").addEventListener("click", async () => {
  const name = $("example").value;
  try {
    const example = await getJSON(`/v1/examples/${encodeURIComponent(name)}`);
    loadRequest(example.request, `Loaded the example "${example.name}": ${example.title}.`);
    say(`Example "${name}" loaded. Press Solve.`);
  } catch (err) {
    say(`Could not load the example: ${err.message}`);
  }
});

$("workbook").addEventListener("change", async () => {
  const file = $("workbook").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  say(`Reading ${file.name}…`);
  try {
    const request = await (await apiFetch("/v1/requests/xlsx", { method: "POST", body: form })).json();
    loadRequest(request, `Loaded the workbook ${file.name}.`);
    state.workbook = file;
    say(`Workbook ${file.name} loaded. Press Solve.`);
  } catch (err) {
    say(`The workbook could not be read: ${err.message}`);
    if (err.problems.length) showProblems(err.problems, { title: `The workbook has ${err.problems.length} problem(s), by sheet and cell` });
  }
});

$("json-file").addEventListener("change", async () => {
  const file = $("json-file").files[0];
  if (!file) return;
  try {
    const data = JSON.parse(await file.text());
    const request = data.request && data.minerals === undefined ? data.request : data;
    if (!Array.isArray(request.minerals) || !Array.isArray(request.suppliers)) throw new Error("it has no minerals and suppliers lists");
    loadRequest(request, `Loaded the request ${file.name}.`);
    say(`Request ${file.name} loaded (${request.suppliers.length} offers). Press Solve.`);
  } catch (err) {
    say(`${file.name} is not a request: ${err.message}`);
  }
});

$("download-request").addEventListener("click", () => {
  if (!editor.request) return;
  download(new Blob([JSON.stringify(editor.value(), null, 2)], { type: "application/json" }), "request.json");
});

$("add-mineral").addEventListener("click", () => editor.request && editor.addMineral());
$("add-offer").addEventListener("click", () => editor.request && editor.addOffer());
$("add-tariff").addEventListener("click", () => editor.request && editor.addTariff());
$("add-cap").addEventListener("click", () => editor.request && editor.addCap());

// ---- solving: directly (Cancel hangs up, and the server stops the solve) or as a job (Cancel deletes it)
function running(on, { job = false } = {}) {
  $("solve").disabled = on;
  $("job").hidden = !on;
  const bar = $("job-progress");
  if (job) bar.value = 0;
  else bar.removeAttribute("value"); // indeterminate
  $("job-status").textContent = "";
}

async function solveDirect(request) {
  const controller = new AbortController();
  state.running = { cancel: () => controller.abort() };
  try {
    return await postJSON("/v1/allocations", request, { signal: controller.signal });
  } catch (err) {
    if (err.name === "AbortError") return null;
    throw err;
  }
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function solveAsJob(request) {
  const job = await postJSON("/v1/jobs", { kind: "allocation", input: request });
  state.solvingJob = job.id;
  let cancelled = false;
  state.running = {
    cancel: async () => {
      cancelled = true;
      await apiFetch(`/v1/jobs/${encodeURIComponent(job.id)}`, { method: "DELETE" });
    },
  };
  for (;;) {
    const doc = await getJSON(`/v1/jobs/${encodeURIComponent(job.id)}`);
    if (typeof doc.progress === "number") $("job-progress").value = doc.progress;
    const done = typeof doc.progress === "number" ? `, ${Math.round(100 * doc.progress)}% done` : "";
    $("job-status").textContent = `Job ${job.id}: ${doc.status}${done}`;
    if (doc.status === "succeeded") return getJSON(`/v1/jobs/${encodeURIComponent(job.id)}/result`);
    if (doc.status === "cancelled" || cancelled) return null;
    if (doc.status === "failed") throw new ApiError(422, { detail: "The job failed.", ...(doc.error || {}) });
    await wait(400);
  }
}

async function solve() {
  if (!editor.request) {
    say("Load an example, a workbook or a request first.");
    return;
  }
  clearProblems();
  const request = editor.value();
  const asJob = state.features.jobs && $("opt-job").checked;
  const workbook = state.workbook;
  running(true, { job: asJob });
  say(asJob ? "Solving as a background job…" : "Solving…");
  try {
    const result = asJob ? await solveAsJob(request) : await solveDirect(request);
    if (result === null) {
      say("Cancelled: nothing was solved.");
      return;
    }
    state.lastRequest = request;
    state.lastResult = result;
    state.lastWorkbook = workbook;
    state.lastJob = asJob ? state.solvingJob : null;
    renderResult(result);
    say(`Solved: ${statusWords(result.status)}`);
    showTab("result");
  } catch (err) {
    if (err.problems && err.problems.length) {
      showProblems(err.problems);
      say(`Not solved: ${err.message}`);
    } else {
      say(`Not solved: ${err.message}`);
    }
  } finally {
    state.running = null;
    running(false);
  }
}
$("solve").addEventListener("click", solve);
$("job-cancel").addEventListener("click", async () => {
  if (!state.running) return;
  $("job-status").textContent = "Cancelling…";
  try {
    await state.running.cancel();
  } catch (err) {
    $("job-status").textContent = `Could not cancel: ${err.message}`;
  }
});

// ---- downloads of the result
$("download-csv").addEventListener("click", async () => {
  if (!state.lastRequest) return;
  try {
    const response = await postJSON("/v1/allocations", state.lastRequest, { raw: true, headers: { Accept: "text/csv" } });
    download(await response.blob(), "allocation.csv");
  } catch (err) {
    say(`The CSV could not be made: ${err.message}`);
  }
});
// The result workbook: an uploaded workbook's own sheets with the result's (its Scenarios sheet compared
// too); else the request's inputs written afresh, from the job that solved it or by Accept on the solve.
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
async function resultWorkbook() {
  if (state.lastWorkbook) {
    const form = new FormData();
    form.append("file", state.lastWorkbook);
    return apiFetch("/v1/allocations/xlsx", { method: "POST", body: form });
  }
  if (state.lastJob) {
    return apiFetch(`/v1/jobs/${encodeURIComponent(state.lastJob)}/result`, { headers: { Accept: XLSX } });
  }
  return postJSON("/v1/allocations", state.lastRequest, { raw: true, headers: { Accept: XLSX } });
}
$("download-xlsx").addEventListener("click", async () => {
  if (!state.lastRequest) return;
  say("Making the result workbook…");
  try {
    const response = await resultWorkbook();
    download(await response.blob(), "allocation-result.xlsx");
    say("The result workbook is downloaded.");
  } catch (err) {
    say(`The workbook could not be made: ${err.message}`);
  }
});
$("download-result-json").addEventListener("click", () => {
  if (!state.lastResult) return;
  download(new Blob([JSON.stringify(state.lastResult, null, 2)], { type: "application/json" }), "result.json");
});
document.addEventListener("click", async (e) => {
  const b = e.target.closest("button.chart-download");
  if (!b) return;
  const url = chartImage(b.dataset.chart);
  if (url) download(await (await fetch(url)).blob(), `${b.dataset.chart}.png`);
});

// ---- scenarios (saved on the server, versioned: If-Match guards against overwriting someone's newer save)
async function refreshScenarios() {
  if (!state.features.scenarioList) return;
  const answer = await getJSON("/v1/scenarios");
  const list = Array.isArray(answer) ? answer : answer.scenarios || answer.items || [];
  const names = list.map((s) => (typeof s === "string" ? s : s.name));
  $("scenario-pick").replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  const tableEl = $("scenarios");
  tableEl.replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Description"),
      el("th", { scope: "col" }, "Load"))),
    el("tbody", {}, ...list.map((s) => {
      const name = typeof s === "string" ? s : s.name;
      return el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, (s && s.description) || ""),
        el("td", {}, el("button", { type: "button", "data-scenario": name, "aria-label": `Load scenario ${name}` }, "Load")));
    })));
}
async function loadScenario(name) {
  const response = await apiFetch(`/v1/scenarios/${encodeURIComponent(name)}`);
  const tag = response.headers.get("ETag");
  if (tag) state.scenarioTags.set(name, tag);
  const scenario = await response.json();
  loadRequest(scenario.request, `Loaded the scenario "${name}".`);
  whatif.setVariants(scenario.variants || []);
  $("sc-name").value = name;
  $("sc-desc").value = scenario.description || "";
  say(`Scenario "${name}" loaded.`);
}
$("load-scenario").addEventListener("click", () => loadScenario($("scenario-pick").value).catch((err) => say(err.message)));
$("scenarios").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-scenario]");
  if (b) loadScenario(b.dataset.scenario).then(() => showTab("request")).catch((err) => say(err.message));
});
$("sc-refresh").addEventListener("click", () => refreshScenarios().catch((err) => ($("sc-status").textContent = err.message)));
$("sc-save").addEventListener("click", async () => {
  const name = $("sc-name").value.trim();
  const status = $("sc-status");
  if (!name || !editor.request) {
    status.textContent = "Give the scenario a name (and load a request) first.";
    return;
  }
  const tag = state.scenarioTags.get(name);
  try {
    const response = await postJSON(`/v1/scenarios/${encodeURIComponent(name)}`,
      { request: editor.value(), variants: whatif.variants, description: $("sc-desc").value.trim() },
      { method: "PUT", raw: true, headers: tag ? { "If-Match": tag } : {} });
    const newTag = response.headers.get("ETag");
    if (newTag) state.scenarioTags.set(name, newTag);
    status.textContent = `Saved "${name}".`;
    await refreshScenarios();
  } catch (err) {
    status.textContent = err.status === 412
      ? `"${name}" was saved by someone else since you loaded it: load it again before saving.`
      : `Not saved: ${err.message}`;
  }
});

// ---- what the server offers: hide what it does not, with a short note
function applyFeatures(f) {
  const missing = [];
  const part = (id, on, what) => {
    $(id).hidden = !on;
    if (!on) missing.push(what);
  };
  part("compare-box", f.comparisons, "comparisons");
  part("frontier-box", f.frontiers, "the budget frontier");
  part("costs-box", f.policyCosts, "the price of each rule");
  part("stress-box", f.stressTests, "stress tests");
  $("whatif-note").textContent = missing.length
    ? `This server does not offer ${missing.join(", ")} yet${missing.length === 4 ? "" : "; the rest is below"}.`
    : "";
  for (const node of document.querySelectorAll(".jobs-only")) node.hidden = !f.jobs;
  $("jobs-note").hidden = f.jobs;
  for (const node of document.querySelectorAll(".scenarios-only")) node.hidden = !f.scenarioList;
  $("scenarios-box").hidden = !f.scenarios;
  $("scenarios-note").textContent = f.scenarios ? "" : "This server does not keep scenarios yet.";
  if (!f.workbookRequest) $("workbook").disabled = true;
}

function start() {
  listExamples();
  state.features = detectFeatures();
  applyFeatures(state.features);
  document.body.dataset.ready = "true";
  refreshScenarios().catch(() => {});
}
start();
