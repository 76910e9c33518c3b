// The request editor: budget, minerals, offers (paged), policy; the API's problems shown beside their fields.

import { el, fmtTiers, parseList, parseTiers } from "./util.js";

export const PAGE_SIZE = 50;

const MINERAL_COLUMNS = [
  ["id", "Id", "text"],
  ["name", "Name", "text", "wide"],
  ["unit", "Unit", "text"],
  ["target", "Target", "num"],
  ["weight", "Weight", "num"],
  ["min_quantity", "Floor (min quantity)", "num"],
  ["max_quantity", "Cap (max quantity)", "num"],
  ["max_spend", "Max spend", "num"],
  ["market_price", "Market price", "num"],
];
const OFFER_COLUMNS = [
  ["id", "Id", "text"],
  ["name", "Supplier", "text", "wide"],
  ["mineral", "Mineral", "mineral"],
  ["country", "Country", "text"],
  ["capacity", "Capacity", "num"],
  ["unit_price", "Unit price", "num"],
  ["price_tiers", "Tiers (up to @ price)", "tiers", "wide"],
  ["discount", "Discount", "discount"],
  ["min_order", "Min order", "num"],
  ["lot_size", "Lot size", "num"],
  ["fixed_cost", "Fixed cost", "num"],
];
const OFFER_FIELDS = new Set(OFFER_COLUMNS.map((c) => c[0]));
const MINERAL_FIELDS = new Set(MINERAL_COLUMNS.map((c) => c[0]));

/** `suppliers[3].price_tiers[1].up_to` -> ["suppliers", 3, "price_tiers", 1, "up_to"] */
export function parsePath(path) {
  const out = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return out;
}

/** The editor cell (its data-path) that shows a problem at an API path, or null when none does. */
export function cellFor(path) {
  // the endpoints that take the request inside a body (comparisons, jobs...) name it so
  const t = parsePath(path.replace(/^(request|input)\./, ""));
  if (t[0] === "suppliers" && typeof t[1] === "number") {
    const field = t[2];
    if (field === undefined) return `suppliers[${t[1]}].unit_price`; // the offer as a whole: its price form
    return `suppliers[${t[1]}].${OFFER_FIELDS.has(field) ? field : "id"}`;
  }
  if (t[0] === "minerals" && typeof t[1] === "number") {
    const field = t[2];
    return `minerals[${t[1]}].${MINERAL_FIELDS.has(field) ? field : "id"}`;
  }
  if (t[0] === "policy") {
    if (t[1] === "tariffs" && t[2] !== undefined) return `policy.tariffs.${t[2]}`;
    if (t[1] === "country_caps" && typeof t[2] === "number") {
      const field = ["countries", "max_share", "minerals"].includes(t[3]) ? t[3] : "countries";
      return `policy.country_caps[${t[2]}].${field}`;
    }
    if (["excluded_countries", "max_supplier_share", "max_suppliers"].includes(t[1])) return `policy.${t[1]}`;
    return null;
  }
  if (t[0] === "budget" || t[0] === "objective") return t[0];
  if (t[0] === "options" && (t[1] === "time_limit_s" || t[1] === "mip_gap")) return `options.${t[1]}`;
  return null;
}

function readValue(input) {
  const kind = input.dataset.kind;
  const raw = input.value.trim();
  if (kind === "num" || kind === "int") {
    if (raw === "") return input.validity && input.validity.badInput ? raw : undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw;
  }
  if (kind === "tiers") return raw === "" ? undefined : parseTiers(raw);
  if (kind === "list") return parseList(raw);
  if (kind === "list-or-null") return raw === "" ? null : parseList(raw);
  return raw === "" ? undefined : raw;
}

export class Editor {
  constructor(root, onEdit) {
    this.root = root;
    this.onEdit = onEdit;
    this.request = null;
    this.tariffs = []; // [[country, rate]], kept in order while the planner edits keys
    this.page = 0;
    this.problems = new Map(); // cell path -> [messages]
    root.addEventListener("change", (e) => this.#changed(e.target));
    document.getElementById("options").addEventListener("change", (e) => this.#changed(e.target));
    root.addEventListener("click", (e) => this.#clicked(e.target.closest("button"))); // the pagers are inside too
  }

  load(request) {
    const r = structuredClone(request);
    r.policy = { tariffs: {}, excluded_countries: [], country_caps: [], max_supplier_share: 1, ...(r.policy || {}) };
    r.options = { time_limit_s: 30, mip_gap: 1e-4, ...(r.options || {}) };
    r.objective = r.objective || "max_coverage";
    this.tariffs = Object.entries(r.policy.tariffs || {});
    this.request = r;
    this.page = 0;
    this.problems.clear();
    this.render();
  }

  /** The request as the API takes it. */
  value() {
    const r = structuredClone(this.request);
    r.policy.tariffs = Object.fromEntries(this.tariffs.filter(([c]) => c !== ""));
    return r;
  }

  get pages() {
    return Math.max(1, Math.ceil(this.request.suppliers.length / PAGE_SIZE));
  }

  setProblems(problems) {
    this.problems.clear();
    const unplaced = [];
    for (const p of problems) {
      const cell = cellFor(p.path);
      if (cell === null) {
        unplaced.push(p);
        continue;
      }
      if (!this.problems.has(cell)) this.problems.set(cell, []);
      this.problems.get(cell).push(p.message);
    }
    this.render();
    return unplaced;
  }

  clearProblems() {
    if (this.problems.size === 0) return;
    this.problems.clear();
    this.render();
  }

  /** Show the cell of a problem: its page of offers, then focus it. */
  reveal(cell) {
    const t = parsePath(cell);
    if (t[0] === "suppliers") {
      const page = Math.floor(t[1] / PAGE_SIZE);
      if (page !== this.page) {
        this.page = page;
        this.renderOffers();
      }
    }
    const input = document.querySelector(`[data-path="${CSS.escape(cell)}"]`);
    if (input) {
      input.scrollIntoView({ block: "center" });
      input.focus();
    }
  }

  render() {
    if (!this.request) return;
    this.renderStatic();
    this.renderMinerals();
    this.renderOffers();
    this.renderTariffs();
    this.renderCaps();
  }

  renderStatic() {
    const r = this.request;
    const set = (id, v) => {
      document.getElementById(id).value = v ?? "";
    };
    set("f-budget", r.budget);
    set("f-objective", r.objective);
    set("f-excluded", (r.policy.excluded_countries || []).join(", "));
    set("f-share", r.policy.max_supplier_share);
    set("f-maxsup", r.policy.max_suppliers);
    set("opt-time", r.options.time_limit_s);
    set("opt-gap", r.options.mip_gap);
    const kinds = { "f-budget": "num", "f-share": "num", "f-maxsup": "int", "opt-time": "num", "opt-gap": "num",
                    "f-excluded": "list", "f-objective": "text" };
    for (const [id, kind] of Object.entries(kinds)) {
      const input = document.getElementById(id);
      input.dataset.kind = kind;
      this.#mark(input, input.dataset.path, input.parentElement);
    }
  }

  #mark(input, cell, container) {
    const old = container.querySelector(`.cell-problem[data-for="${CSS.escape(input.id)}"]`);
    if (old) old.remove();
    const messages = this.problems.get(cell);
    if (messages) {
      const id = `${input.id}-problem`;
      container.append(el("span", { class: "cell-problem", id, "data-for": input.id }, messages.join("; ")));
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }

  #cell(path, kind, value, label, extra = {}) {
    const id = `f-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;
    let input;
    if (kind === "discount") {
      input = el("select", {}, el("option", { value: "incremental" }, "incremental"),
        el("option", { value: "all_units" }, "all units"));
      input.value = value || "incremental";
      input.dataset.kind = "text";
    } else if (kind === "mineral") {
      const ids = this.request.minerals.map((m) => m.id);
      if (value !== undefined && !ids.includes(value)) ids.push(value);
      input = el("select", {}, ...ids.map((m) => el("option", { value: m }, m)));
      input.value = value ?? "";
      input.dataset.kind = "text";
    } else {
      const numeric = kind === "num" || kind === "int";
      input = el("input", {
        type: numeric ? "number" : "text",
        step: numeric ? "any" : undefined,
        inputmode: numeric ? "decimal" : undefined,
        autocomplete: "off",
        class: extra.wide ? "wide" : undefined,
      });
      input.value = kind === "tiers" ? fmtTiers(value) : Array.isArray(value) ? value.join(", ") : (value ?? "");
      input.dataset.kind = kind;
    }
    input.id = id;
    input.dataset.path = path;
    input.setAttribute("aria-label", label);
    const td = el("td", {}, input);
    this.#mark(input, path, td);
    return td;
  }

  renderMinerals() {
    const table = document.getElementById("minerals-table");
    const head = el("tr", {}, ...MINERAL_COLUMNS.map(([, h]) => el("th", { scope: "col" }, h)), el("th", { scope: "col" }, "Remove"));
    const rows = this.request.minerals.map((m, i) =>
      el("tr", {},
        ...MINERAL_COLUMNS.map(([f, h, kind, wide]) =>
          this.#cell(`minerals[${i}].${f}`, kind, m[f], `${h}, mineral ${i + 1}`, { wide })),
        el("td", {}, el("button", { type: "button", "data-action": "remove-mineral", "data-index": i,
          "aria-label": `Remove mineral ${i + 1} (${m.id ?? ""})` }, "Remove"))));
    table.replaceChildren(el("caption", {}, `${this.request.minerals.length} minerals`), el("thead", {}, head), el("tbody", {}, ...rows));
  }

  renderOffers() {
    const table = document.getElementById("offers-table");
    const all = this.request.suppliers;
    this.page = Math.min(this.page, this.pages - 1);
    const start = this.page * PAGE_SIZE;
    const head = el("tr", {}, el("th", { scope: "col", class: "num" }, "#"),
      ...OFFER_COLUMNS.map(([, h]) => el("th", { scope: "col" }, h)), el("th", { scope: "col" }, "Remove"));
    const rows = all.slice(start, start + PAGE_SIZE).map((o, k) => {
      const i = start + k;
      return el("tr", {}, el("td", { class: "num" }, String(i + 1)),
        ...OFFER_COLUMNS.map(([f, h, kind, wide]) =>
          this.#cell(`suppliers[${i}].${f}`, kind, o[f], `${h}, offer ${i + 1}`, { wide })),
        el("td", {}, el("button", { type: "button", "data-action": "remove-offer", "data-index": i,
          "aria-label": `Remove offer ${i + 1} (${o.id ?? ""})` }, "Remove")));
    });
    const end = Math.min(all.length, start + PAGE_SIZE);
    table.replaceChildren(
      el("caption", {}, `Offers ${all.length ? start + 1 : 0} to ${end} of ${all.length}`),
      el("thead", {}, head), el("tbody", {}, ...rows));
    for (const id of ["offers-pager-top", "offers-pager"]) {
      const bottom = id === "offers-pager";
      const pager = document.getElementById(id);
      if (this.pages === 1) {
        pager.replaceChildren();
        continue;
      }
      const pagesWithProblems = new Set([...this.problems.keys()].filter((c) => c.startsWith("suppliers["))
        .map((c) => Math.floor(parsePath(c)[1] / PAGE_SIZE)));
      const others = [...pagesWithProblems].filter((p) => p !== this.page).map((p) => p + 1);
      pager.replaceChildren(
        el("button", { type: "button", "data-action": "page-prev", disabled: this.page === 0 ? "" : undefined,
          "aria-label": bottom ? "Previous page of offers" : "Previous page of offers (top)" }, "Previous page"),
        el("span", { "aria-live": bottom ? "polite" : undefined, class: "page-label" },
          `Page ${this.page + 1} of ${this.pages}`),
        el("button", { type: "button", "data-action": "page-next", disabled: this.page >= this.pages - 1 ? "" : undefined,
          "aria-label": bottom ? "Next page of offers" : "Next page of offers (top)" }, "Next page"),
        others.length ? el("span", { class: "cell-problem" }, `Problems also on page ${others.join(", ")}`) : "");
    }
  }

  renderTariffs() {
    const table = document.getElementById("tariffs-table");
    const rows = this.tariffs.map(([country, rate], i) => {
      const countryInput = el("input", { type: "text", id: `f-tariff-${i}-country`, "aria-label": `Country, tariff ${i + 1}`,
        "data-action-input": "tariff-country", "data-index": i, autocomplete: "off" });
      countryInput.value = country;
      return el("tr", {}, el("td", {}, countryInput),
        this.#cell(`policy.tariffs.${country}`, "num", rate, `Rate, tariff ${i + 1} (1 = 100%)`),
        el("td", {}, el("button", { type: "button", "data-action": "remove-tariff", "data-index": i,
          "aria-label": `Remove tariff ${i + 1} (${country})` }, "Remove")));
    });
    table.replaceChildren(
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Country"), el("th", { scope: "col" }, "Rate (1 = 100%)"),
        el("th", { scope: "col" }, "Remove"))),
      el("tbody", {}, ...rows));
  }

  renderCaps() {
    const table = document.getElementById("caps-table");
    const caps = this.request.policy.country_caps || [];
    const rows = caps.map((c, i) => el("tr", {},
      this.#cell(`policy.country_caps[${i}].countries`, "list", c.countries, `Countries, cap ${i + 1}`, { wide: true }),
      this.#cell(`policy.country_caps[${i}].max_share`, "num", c.max_share, `Most share, cap ${i + 1}`),
      this.#cell(`policy.country_caps[${i}].minerals`, "list-or-null", c.minerals, `Minerals (blank: all), cap ${i + 1}`,
        { wide: true }),
      el("td", {}, el("button", { type: "button", "data-action": "remove-cap", "data-index": i,
        "aria-label": `Remove country cap ${i + 1}` }, "Remove"))));
    table.replaceChildren(
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Countries"), el("th", { scope: "col" }, "Most share (0 to 1)"),
        el("th", { scope: "col" }, "Minerals (blank: all)"), el("th", { scope: "col" }, "Remove"))),
      el("tbody", {}, ...rows));
  }

  #changed(input) {
    if (!this.request || !input) return;
    if (input.dataset.actionInput === "tariff-country") {
      const i = Number(input.dataset.index);
      this.tariffs[i][0] = input.value.trim().toUpperCase();
      this.renderTariffs();
      this.onEdit();
      return;
    }
    const path = input.dataset.path;
    if (!path) return;
    const value = readValue(input);
    const t = parsePath(path);
    if (t[0] === "policy" && t[1] === "tariffs") {
      const row = this.tariffs.find(([c]) => c === t[2]);
      if (row) row[1] = value;
    } else {
      let target = this.request;
      for (const key of t.slice(0, -1)) target = target[key];
      const last = t[t.length - 1];
      if (value === undefined) delete target[last];
      else target[last] = value;
      if (t[0] === "suppliers" && last === "price_tiers" && value !== undefined) delete target.unit_price;
      if (t[0] === "minerals" && last === "id") this.renderOffers(); // the offers' mineral choices
    }
    this.onEdit();
  }

  #clicked(button) {
    if (!button || !button.dataset.action || !this.request) return;
    const i = Number(button.dataset.index);
    const r = this.request;
    switch (button.dataset.action) {
      case "page-prev":
      case "page-next": {
        const pager = button.closest(".pager").id;
        this.page += button.dataset.action === "page-next" ? 1 : -1;
        this.renderOffers();
        const again = document.querySelector(`#${pager} [data-action="${button.dataset.action}"]`);
        if (again && !again.disabled) again.focus();
        return;
      }
      case "remove-mineral": r.minerals.splice(i, 1); break;
      case "remove-offer": r.suppliers.splice(i, 1); break;
      case "remove-tariff": this.tariffs.splice(i, 1); break;
      case "remove-cap": r.policy.country_caps.splice(i, 1); break;
      default: return;
    }
    this.problems.clear(); // positions moved
    this.render();
    this.onEdit();
  }

  addMineral() {
    const n = this.request.minerals.length + 1;
    this.request.minerals.push({ id: `mineral-${n}`, unit: "t", target: 1 });
    this.problems.clear();
    this.render();
    this.reveal(`minerals[${n - 1}].id`);
    this.onEdit();
  }

  addOffer() {
    const r = this.request;
    const n = r.suppliers.length + 1;
    r.suppliers.push({ id: `offer-${n}`, mineral: r.minerals[0] ? r.minerals[0].id : "", country: "US", capacity: 1, unit_price: 1 });
    this.problems.clear();
    this.page = this.pages - 1;
    this.render();
    this.reveal(`suppliers[${n - 1}].id`);
    this.onEdit();
  }

  addTariff() {
    this.tariffs.push(["", 0]);
    this.renderTariffs();
    document.getElementById(`f-tariff-${this.tariffs.length - 1}-country`).focus();
    this.onEdit();
  }

  addCap() {
    this.request.policy.country_caps = this.request.policy.country_caps || [];
    this.request.policy.country_caps.push({ countries: ["CN"], max_share: 0.5, minerals: null });
    this.renderCaps();
    this.reveal(`policy.country_caps[${this.request.policy.country_caps.length - 1}].countries`);
    this.onEdit();
  }
}
