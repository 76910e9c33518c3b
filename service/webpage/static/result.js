// The result view: status in words, figures, findings (errors first), the allocation table, coverage and spend charts.

import { el, fmtCompact, fmtMoney, fmtPct, fmtQty, table } from "./util.js";

export const PREMIUM = 0.2; // offers bought this far over their mineral's market price are marked

const STATUS_WORDS = {
  optimal: "Best possible allocation found (optimal).",
  feasible: "A valid allocation, but a limit stopped the search before it was proven best (feasible).",
  infeasible: "No allocation meets every hard requirement (infeasible): the findings say which and by how much.",
  no_solution: "A limit stopped the search before any allocation was found (no solution).",
};
const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };
const charts = new Map();

export function statusWords(status) {
  return STATUS_WORDS[status] || status;
}

let chartLibrary = null;

/** Chart.js, loaded at the first chart rather than with the page (the first view needs none). */
function loadChartLibrary() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL("./vendor/chart.umd.min.js", import.meta.url).href;
      script.onload = () => resolve(window.Chart);
      script.onerror = () => {
        chartLibrary = null;
        reject(new Error("the chart library did not load"));
      };
      document.head.append(script);
    });
  }
  return chartLibrary;
}

/** A Chart.js chart on a canvas, replacing the one drawn there before (the tables beside it hold the same figures). */
export async function drawChart(canvasId, config) {
  let Chart;
  try {
    Chart = await loadChartLibrary();
  } catch {
    return null; // the figures are in the tables beside the charts
  }
  const old = charts.get(canvasId);
  if (old) old.destroy();
  const canvas = document.getElementById(canvasId);
  const chart = new Chart(canvas, {
    ...config,
    options: { responsive: true, maintainAspectRatio: false, animation: false, ...(config.options || {}) },
  });
  charts.set(canvasId, chart);
  canvas.dataset.drawn = "true";
  return chart;
}

export function chartImage(canvasId) {
  const chart = charts.get(canvasId);
  return chart ? chart.toBase64Image("image/png", 1) : null;
}

export function spendByCountry(result) {
  const out = new Map();
  for (const a of result.allocations) out.set(a.country, (out.get(a.country) || 0) + a.spend);
  return [...out.entries()].sort((a, b) => b[1] - a[1]);
}

export function renderResult(result) {
  document.getElementById("result-empty").hidden = true;
  document.getElementById("result").hidden = false;
  const status = document.getElementById("result-status");
  status.className = `result-status ${result.status}`;
  status.textContent = statusWords(result.status);

  const figures = [
    ["Coverage score", result.coverage_score === null ? "–" : fmtPct(result.coverage_score)],
    ["Total spend", fmtMoney(result.total_spend)],
    ["Budget", fmtMoney(result.budget)],
    ["Budget left", fmtMoney(result.budget_remaining)],
    ["Offers used", String(result.allocations.length)],
    ["Solve time", `${result.solve_seconds.toFixed(2)} s`],
  ];
  if (result.mip_gap !== null && result.mip_gap !== undefined) figures.push(["Gap to the bound", fmtPct(result.mip_gap)]);
  document.getElementById("result-figures").replaceChildren(
    ...figures.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));

  const findings = [...result.diagnostics].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  document.getElementById("findings").replaceChildren(
    ...(findings.length
      ? findings.map((f) => el("li", { class: f.severity }, el("span", { class: "sev" }, f.severity), f.message))
      : [el("li", { class: "info" }, "Nothing to report.")]));

  const units = new Map(result.minerals.map((m) => [m.id, m.unit]));
  const rows = result.allocations.map((a) => {
    const premium = a.premium_vs_market;
    const mark = premium !== null && premium !== undefined && premium > PREMIUM
      ? el("span", { class: "premium" }, `▲ premium ${fmtPct(premium)}`)
      : premium === null || premium === undefined ? "–" : fmtPct(premium);
    // the figures a planner reads first come first: on a phone they are on screen, the rest scrolls
    return [a.supplier, a.mineral, `${fmtQty(a.quantity)} ${units.get(a.mineral) || ""}`.trim(), fmtMoney(a.spend),
      a.country, mark, fmtMoney(a.average_unit_price), fmtMoney(a.tariff_cost), a.supplier_id];
  });
  const allocation = document.getElementById("allocation");
  table(allocation, ["Supplier", "Mineral", "Quantity", "Spend", "Country", "Over market price", "Average unit price",
    "Tariff paid", "Offer"], rows, { numeric: [2, 3, 5, 6, 7] });
  if (!rows.length) {
    allocation.tBodies[0].append(el("tr", {}, el("td", { colspan: 9 }, "Nothing is bought.")));
  }

  table(document.getElementById("mineral-summary"),
    ["Mineral", "Quantity", "Target", "Coverage", "Spend", "Offers used", "Largest country share"],
    result.minerals.map((m) => {
      const top = Object.entries(m.share_by_country).sort((a, b) => b[1] - a[1])[0];
      return [m.name, `${fmtQty(m.quantity)} ${m.unit}`, `${fmtQty(m.target)} ${m.unit}`, fmtPct(m.coverage),
        fmtMoney(m.spend), String(m.suppliers_used), top ? `${top[0]} ${fmtPct(top[1])}` : "–"];
    }), { numeric: [1, 2, 3, 4, 5] });

  const countries = spendByCountry(result);
  table(document.getElementById("country-summary"), ["Country", "Spend", "Share of spend"],
    countries.map(([c, s]) => [c, fmtMoney(s), fmtPct(result.total_spend ? s / result.total_spend : 0)]), { numeric: [1, 2] });

  drawChart("coverage-chart", {
    type: "bar",
    data: {
      labels: result.minerals.map((m) => m.name),
      datasets: [{ label: "Coverage of target (%)", data: result.minerals.map((m) => +(100 * m.coverage).toFixed(2)),
        backgroundColor: "#0b57d0" }],
    },
    options: { indexAxis: "y", scales: { x: { min: 0, max: 100, title: { display: true, text: "% of target" } } } },
  });
  drawChart("country-chart", {
    type: "bar",
    data: {
      labels: countries.map(([c]) => c),
      datasets: [{ label: "Spend", data: countries.map(([, s]) => s), backgroundColor: "#5b3c88" }],
    },
    options: { scales: { y: { title: { display: true, text: "spend" }, ticks: { callback: (v) => fmtCompact(v) } } } },
  });
  for (const id of ["coverage-chart", "country-chart"]) {
    document.getElementById(id).setAttribute("aria-describedby", id === "coverage-chart" ? "minerals-heading" : "countries-heading");
  }
}
