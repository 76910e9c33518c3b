// Small helpers: building elements, formatting numbers, the tiers and list notations of the editor.

/** An element with attributes (undefined ones left out) and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === "") continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const money = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const qty = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 3 });
const pct = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

export const fmtMoney = (x) => (x === null || x === undefined ? "–" : money.format(x));
export const fmtQty = (x) => (x === null || x === undefined ? "–" : qty.format(x));
export const fmtCompact = (x) => compact.format(x);
export const fmtPct = (x) => (x === null || x === undefined ? "–" : pct.format(x));
/** A change of a share, in percentage points: 0.042 -> "+4.2 pts". */
export const fmtPoints = (x) => (x === null || x === undefined ? "–" : `${fmtSigned(100 * x, (v) => v.toFixed(1))} pts`);
export const fmtSigned = (x, f) => (x === null || x === undefined ? "–" : (x > 0 ? "+" : x < 0 ? "−" : "±") + f(Math.abs(x)));

/** Tiers as the editor shows them: `2000 @ 36000; rest @ 34500`. */
export function fmtTiers(tiers) {
  if (!Array.isArray(tiers)) return "";
  return tiers.map((t) => `${t.up_to === null || t.up_to === undefined ? "rest" : t.up_to} @ ${t.unit_price}`).join("; ");
}

const asNumber = (s) => {
  const n = Number(s);
  return s !== "" && Number.isFinite(n) ? n : s; // text the API will reject, with the tier's path
};

export function parseTiers(text) {
  return text
    .split(";")
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [upTo, price] = part.split("@").map((s) => (s || "").trim());
      return {
        up_to: upTo === "" || upTo.toLowerCase() === "rest" ? null : asNumber(upTo),
        unit_price: asNumber(price ?? ""),
      };
    });
}

/** `CN, ru;  KZ` -> ["CN", "RU", "KZ"] (country codes and mineral ids alike; codes are upper-cased by the API). */
export function parseList(text) {
  return text
    .split(/[,;\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `CN=0.5, RU=0.3` -> {CN: 0.5, RU: 0.3} */
export function parsePairs(text) {
  const out = {};
  for (const part of text.split(/[,;]+/)) {
    const [k, v] = part.split("=").map((s) => (s || "").trim());
    if (k) out[k.toUpperCase()] = asNumber(v ?? "");
  }
  return out;
}

export function table(node, headers, rows, { numeric = [] } = {}) {
  const num = new Set(numeric);
  node.replaceChildren(
    el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { scope: "col", class: num.has(i) ? "num" : undefined }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) =>
      i === 0 ? el("th", { scope: "row" }, c) : el("td", { class: num.has(i) ? "num" : undefined }, c))))),
  );
  node.hidden = false;
}
