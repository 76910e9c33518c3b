// What-if: variants built from the change vocabulary, the comparison, the budget frontier, the price of each rule,
// the stress test. Each part calls its endpoint; app.js hides the parts the server does not offer.

import { postJSON } from "./api.js";
import { drawChart } from "./result.js";
import { el, fmtCompact, fmtMoney, fmtPct, fmtPoints, fmtSigned, parseList, parsePairs, table } from "./util.js";

const num = (id, label, attrs = {}) => [label, el("input", { id, type: "number", step: "any", ...attrs })];
const text = (id, label) => [label, el("input", { id, type: "text", autocomplete: "off" })];
const choice = (id, label, options) => [label, el("select", { id }, ...options.map((o) => el("option", { value: o }, o)))];

const OP_FIELDS = {
  exclude_countries: () => [text("c-countries", "Countries (comma-separated)")],
  set_budget: () => [num("c-value", "New budget")],
  scale_budget: () => [num("c-factor", "Factor (1.1 = +10%)")],
  set_tariff: () => [text("c-country", "Country"), num("c-rate", "Rate (1 = 100%, 0 removes it)")],
  scale_prices: (minerals) => [num("c-factor", "Factor (1.3 = +30%)"), choice("c-mineral", "Mineral (optional)", ["", ...minerals]),
    text("c-supplier", "Offer id (optional)"), text("c-country", "Country (optional)")],
  scale_capacity: (minerals) => [num("c-factor", "Factor (0 removes the offers)"), choice("c-mineral", "Mineral (optional)", ["", ...minerals]),
    text("c-supplier", "Offer id (optional)"), text("c-country", "Country (optional)")],
  set_mineral: (minerals) => [choice("c-mineral", "Mineral", minerals),
    choice("c-field", "Field", ["target", "weight", "max_spend", "min_quantity", "max_quantity"]),
    num("c-value", "Value (blank removes an optional field)")],
  set_policy: () => [choice("c-field", "Rule", ["max_supplier_share", "max_suppliers", "excluded_countries", "tariffs", "country_caps"]),
    text("c-value", "Value (a number, or JSON; blank removes the rule)")],
};

function readChange(op) {
  const v = (id) => {
    const node = document.getElementById(id);
    return node ? node.value.trim() : "";
  };
  const n = (id) => (v(id) === "" ? null : Number(v(id)));
  const change = { op };
  switch (op) {
    case "exclude_countries": change.countries = parseList(v("c-countries")).map((c) => c.toUpperCase()); break;
    case "set_budget": change.value = n("c-value"); break;
    case "scale_budget": change.factor = n("c-factor"); break;
    case "set_tariff": change.country = v("c-country").toUpperCase(); change.rate = n("c-rate"); break;
    case "scale_prices":
    case "scale_capacity":
      change.factor = n("c-factor");
      for (const f of ["mineral", "supplier", "country"]) if (v(`c-${f}`)) change[f] = f === "country" ? v(`c-${f}`).toUpperCase() : v(`c-${f}`);
      break;
    case "set_mineral": change.mineral = v("c-mineral"); change.field = v("c-field"); change.value = n("c-value"); break;
    case "set_policy": {
      change.field = v("c-field");
      const raw = v("c-value");
      try {
        change.value = raw === "" ? null : JSON.parse(raw);
      } catch {
        change.value = raw.includes(",") || /^[A-Za-z]{2}$/.test(raw) ? parseList(raw) : raw;
      }
      break;
    }
    default: break;
  }
  return change;
}

export function describeChange(c) {
  const filters = ["mineral", "supplier", "country"].filter((f) => c[f] !== undefined && c.op.startsWith("scale_"))
    .map((f) => `${f} ${c[f]}`).join(", ");
  switch (c.op) {
    case "exclude_countries": return `exclude ${c.countries.join(", ")}`;
    case "set_budget": return `budget ${fmtMoney(c.value)}`;
    case "scale_budget": return `budget × ${c.factor}`;
    case "set_tariff": return `tariff on ${c.country} ${fmtPct(c.rate)}`;
    case "scale_prices": return `prices × ${c.factor}${filters ? ` (${filters})` : ""}`;
    case "scale_capacity": return `capacity × ${c.factor}${filters ? ` (${filters})` : ""}`;
    case "set_mineral": return `${c.mineral} ${c.field} = ${c.value ?? "none"}`;
    case "set_policy": return `${c.field} = ${c.value === null ? "none" : JSON.stringify(c.value)}`;
    default: return JSON.stringify(c);
  }
}

export class WhatIf {
  constructor(getRequest, showProblems) {
    this.getRequest = getRequest;
    this.showProblems = showProblems;
    this.variants = [];
    this.draft = [];
    document.getElementById("v-op").addEventListener("change", () => this.renderFields());
    document.getElementById("v-add-change").addEventListener("click", () => this.addChange());
    document.getElementById("v-add").addEventListener("click", () => this.addVariant());
    document.getElementById("variants").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-index]");
      if (!b) return;
      this.variants.splice(Number(b.dataset.index), 1);
      this.renderVariants();
    });
    document.getElementById("compare").addEventListener("click", () => this.compare());
    document.getElementById("frontier").addEventListener("click", () => this.frontier());
    document.getElementById("policy-costs").addEventListener("click", () => this.policyCosts());
    document.getElementById("stress").addEventListener("click", () => this.stress());
  }

  minerals() {
    const r = this.getRequest();
    return r ? r.minerals.map((m) => m.id) : [];
  }

  renderFields() {
    const op = document.getElementById("v-op").value;
    const fields = OP_FIELDS[op](this.minerals());
    document.getElementById("v-fields").replaceChildren(
      ...fields.map(([label, input]) => el("div", { class: "field" }, el("label", { for: input.id }, label), input)));
  }

  /** The request's budget as the frontier's default range: half of it to one and a half times it. */
  setDefaults(request) {
    if (!request) return;
    document.getElementById("fr-from").value = request.budget / 2;
    document.getElementById("fr-to").value = request.budget * 1.5;
    this.renderFields();
  }

  addChange() {
    this.draft.push(readChange(document.getElementById("v-op").value));
    document.getElementById("v-draft").textContent = `Changes of the next variant: ${this.draft.map(describeChange).join("; ")}`;
  }

  addVariant() {
    if (!this.draft.length) this.addChange();
    const nameInput = document.getElementById("v-name");
    const name = nameInput.value.trim() || `variant ${this.variants.length + 1}`;
    this.variants.push({ name, changes: this.draft });
    this.draft = [];
    nameInput.value = "";
    document.getElementById("v-draft").textContent = `Variant "${name}" added.`;
    this.renderVariants();
  }

  setVariants(variants) {
    this.variants = structuredClone(variants || []);
    this.renderVariants();
  }

  renderVariants() {
    document.getElementById("variants").replaceChildren(...this.variants.map((v, i) =>
      el("li", {}, el("strong", {}, v.name), `: ${v.changes.map(describeChange).join("; ")} `,
        el("button", { type: "button", "data-index": i, "aria-label": `Remove variant ${v.name}` }, "Remove"))));
  }

  async #run(statusId, label, work) {
    const status = document.getElementById(statusId);
    status.textContent = `${label}…`;
    try {
      await work();
      status.textContent = `${label}: done.`;
    } catch (err) {
      status.textContent = `${label} failed: ${err.message}`;
      if (err.problems && err.problems.length) this.showProblems(err.problems);
    }
  }

  compare() {
    return this.#run("compare-status", "Comparing", async () => {
      const answer = await postJSON("/v1/comparisons", { request: this.getRequest(), variants: this.variants });
      this.renderComparison(answer);
    });
  }

  renderComparison(answer) {
    const scenarios = answer.scenarios;
    const base = scenarios[0].result;
    const minerals = base.minerals.map((m) => [m.id, m.name]);
    const coverage = (r, id) => {
      const m = r.minerals.find((x) => x.id === id);
      return m ? m.coverage : null;
    };
    const headers = ["Scenario", "Changes", "Status", "Coverage score", "Change in coverage score", "Total spend", "Change in spend",
      ...minerals.map(([, name]) => `${name} coverage`)];
    const rows = scenarios.map((s, i) => {
      const r = s.result;
      const dCov = i === 0 || r.coverage_score === null || base.coverage_score === null ? null : r.coverage_score - base.coverage_score;
      const dSpend = i === 0 ? null : r.total_spend - base.total_spend;
      return [s.name, s.changes.length ? s.changes.map(describeChange).join("; ") : "(base)", r.status,
        fmtPct(r.coverage_score), i === 0 ? "–" : fmtPoints(dCov), fmtMoney(r.total_spend),
        i === 0 ? "–" : fmtSigned(dSpend, fmtMoney),
        ...minerals.map(([id]) => {
          const c = coverage(r, id);
          const b = coverage(base, id);
          return i === 0 || c === null || b === null || Math.abs(c - b) < 5e-4 ? fmtPct(c) : `${fmtPct(c)} (${fmtPoints(c - b)})`;
        })];
    });
    table(document.getElementById("comparison"), headers, rows, { numeric: [3, 4, 5, 6] });
  }

  frontier() {
    return this.#run("frontier-status", "Drawing the frontier", async () => {
      const body = {
        request: this.getRequest(),
        from: Number(document.getElementById("fr-from").value),
        to: Number(document.getElementById("fr-to").value),
        points: Number(document.getElementById("fr-points").value),
      };
      this.renderFrontier(await postJSON("/v1/frontiers", body));
    });
  }

  renderFrontier(answer) {
    const knees = new Set(answer.knees || []);
    document.getElementById("frontier-figure").hidden = false;
    drawChart("frontier-chart", {
      type: "line",
      data: {
        datasets: [
          { label: "Coverage score (%)", data: answer.points.map((p) => ({ x: p.budget, y: p.coverage_score === null ? null : 100 * p.coverage_score })),
            borderColor: "#0b57d0", backgroundColor: "#0b57d0", pointStyle: "circle" },
          { label: "Knee", data: answer.points.filter((p) => knees.has(p.budget)).map((p) => ({ x: p.budget, y: 100 * p.coverage_score })),
            showLine: false, pointStyle: "triangle", pointRadius: 9, borderColor: "#a4161a", backgroundColor: "#a4161a" },
        ],
      },
      options: { parsing: false, scales: { x: { type: "linear", title: { display: true, text: "budget" }, ticks: { callback: (v) => fmtCompact(v) } },
        y: { min: 0, max: 100, title: { display: true, text: "coverage score (%)" } } } },
    });
    table(document.getElementById("frontier-table"), ["Budget", "Status", "Coverage score", "Total spend", "Knee"],
      answer.points.map((p) => [fmtMoney(p.budget), p.status, fmtPct(p.coverage_score), fmtMoney(p.total_spend),
        knees.has(p.budget) ? "knee" : ""]), { numeric: [2, 3] });
  }

  policyCosts() {
    return this.#run("costs-status", "Pricing the rules", async () => {
      const answer = await postJSON("/v1/policy-costs", { request: this.getRequest() });
      table(document.getElementById("costs-table"),
        ["Rule", "What it is", "Coverage without it", "Coverage gained", "Spend without it", "Spend saved"],
        answer.rules.map((r) => [r.rule, r.description, fmtPct(r.coverage_score), fmtPoints(r.coverage_gain),
          fmtMoney(r.total_spend), fmtSigned(r.spend_saving, fmtMoney)]), { numeric: [2, 3, 4, 5] });
    });
  }

  stress() {
    return this.#run("stress-status", "Running the stress test", async () => {
      const draws = Number(document.getElementById("st-draws").value);
      const body = {
        request: this.getRequest(),
        plan: "optimal",
        disruptions: { countries: parsePairs(document.getElementById("st-countries").value),
          supplier_failure: Number(document.getElementById("st-failure").value) },
        draws,
        seed: Number(document.getElementById("st-seed").value),
        mode: "hold",
        details: draws <= 10000,
      };
      this.renderStress(await postJSON("/v1/stress-tests", body));
    });
  }

  renderStress(answer) {
    const s = answer.hold || answer.replan;
    if (!s) throw new Error(answer.message || "no draw was done"); // (no figures over zero draws)
    const dist = (d) => [d.mean, d.p5, d.p50, d.p95, d.min].map(fmtPct);
    table(document.getElementById("stress-table"), ["Measure", "Mean", "5th percentile", "Median", "95th percentile", "Worst"],
      [["Coverage score", ...dist(s.coverage_score)], ...s.minerals.map((m) => [`${m.id} coverage`, ...dist(m.coverage)])],
      { numeric: [1, 2, 3, 4, 5] });
    table(document.getElementById("worst-table"), ["Draw", "Coverage score", "What happened"],
      (s.worst || []).map((w) => [String(w.index), fmtPct(w.coverage_score), w.changes.map(describeChange).join("; ") || "nothing"]),
      { numeric: [1] });
    const details = answer.draw_details || [];
    if (details.length) {
      const bins = Array.from({ length: 20 }, () => 0);
      for (const d of details) bins[Math.min(19, Math.floor(20 * d.hold.coverage_score))] += 1;
      document.getElementById("stress-figure").hidden = false;
      drawChart("stress-chart", {
        type: "bar",
        data: { labels: bins.map((_, i) => `${i * 5}–${i * 5 + 5}%`),
          datasets: [{ label: "Draws", data: bins, backgroundColor: "#5b3c88" }] },
        options: { scales: { x: { title: { display: true, text: "coverage score" } }, y: { title: { display: true, text: "draws" } } } },
      });
    }
  }
}
