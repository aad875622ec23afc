// Tables, CSV and charts from a panel's table. What a cell shows is decided once (`shown`), so
// the table, the CSV and the chart's labels say the same thing.

import { dateTime, number, percent, t } from "./i18n.js";

// Okabe–Ito: distinguishable with every common colour-vision deficiency.
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
// A single-hue sequential scale (ColorBrewer Blues) for the map: reads as "more" in any vision.
export const SEQUENTIAL = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
export const WITHHELD_COLOUR = "#bdbdbd";
export const EMPTY_COLOUR = "#ffffff";

export function shown(cell, column = {}) {
  const w = t();
  if (cell === undefined || cell === null) return w.noFigure;
  if ("text" in cell) return cell.text;
  if ("date" in cell) return dateTime(cell.date);
  if (cell.withheld) return `${w.withheldMark} ${w.withheld}`;
  if (cell.value === null || cell.value === undefined) return w.noFigure;
  if (column.percent || cell.percent) return percent(cell.value);
  return number(cell.value, Number.isInteger(cell.value) ? 0 : 1);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}
export { el };

/** The table as HTML: a caption, header cells with scope, suppressed cells marked, and a
 * drill-down button on rows that lead to a region. */
export function tableElement(table, caption, onDrill) {
  const w = t();
  const head = el("tr", {}, table.columns.map((c) => el("th", { scope: "col", class: c.numeric ? "num" : null }, c.label)));
  const body = table.rows.map((row) =>
    el(
      "tr",
      { "data-region": row.drill ?? null },
      table.columns.map((c, i) => {
        const cell = row.cells[c.key];
        const content = shown(cell, c);
        const withheld = Boolean(cell?.withheld);
        const attrs = {
          class: [c.numeric ? "num" : null, withheld ? "withheld" : null].filter(Boolean).join(" ") || null,
          "data-col": c.key,
          "data-withheld": withheld ? "true" : null,
          title: withheld ? w.withheldNote(table.suppression?.k ?? 5, table.suppression?.min_units ?? 3) : null,
        };
        if (i === 0) {
          const label =
            row.drill !== undefined && onDrill
              ? el("button", { type: "button", class: "link", "aria-label": w.drill(content), onclick: () => onDrill(row.drill) }, content)
              : content;
          return el("th", { scope: "row", ...attrs }, label);
        }
        return el("td", attrs, content);
      }),
    ),
  );
  const notes = [];
  const anyWithheld = table.rows.some((r) => Object.values(r.cells).some((c) => c?.withheld));
  if (anyWithheld) {
    notes.push(el("p", { class: "note withheld-note" }, w.withheldNote(table.suppression?.k ?? 5, table.suppression?.min_units ?? 3)));
  }
  if (table.rows.some((r) => Object.values(r.cells).some((c) => c && !("text" in c) && !("date" in c) && !c.withheld && c.value == null))) {
    notes.push(el("p", { class: "note" }, w.noFigureNote));
  }
  if (table.note) notes.push(el("p", { class: "note" }, table.note));
  const wrap = el("div", { class: "table-wrap" }, el("table", {}, el("caption", { class: "visually-hidden" }, caption), el("thead", {}, head), el("tbody", {}, body)));
  return { table: wrap, notes: el("div", { class: "notes" }, notes) };
}

function csvField(value) {
  return /[",\n;]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The table exactly as shown: the same headers, the same texts (a withheld cell as its mark). */
export function csvOf(table) {
  const lines = [table.columns.map((c) => csvField(c.label)).join(",")];
  for (const row of table.rows) lines.push(table.columns.map((c) => csvField(shown(row.cells[c.key], c))).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

export function download(filename, content) {
  const blob = new Blob(["\ufeff", content], { type: "text/csv;charset=utf-8" });
  const link = el("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

const textStyle = { fontFamily: "system-ui, sans-serif", color: "#1a1a1a" };
// No animation: a drill-down shows its figures at once, and nothing moves for people who
// would rather it did not.
const still = { animation: false };

function labelOf(row, key, column) {
  return shown(row.cells[key], column);
}

/** A chart option for the panel's table, by the panel's kind of chart. */
export function chartOption(kind, table) {
  const w = t();
  const axisFormatter = (v) => number(v);
  if (kind === "units") {
    const years = table.rows.map((r) => r.cells.year.text);
    const values = (key) => table.rows.map((r) => (r.cells[key].withheld ? null : r.cells[key].value));
    return {
      ...still,
      textStyle,
      color: [PALETTE[0], PALETTE[5], PALETTE[2]],
      aria: { enabled: true },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v == null ? w.noFigure : number(v)) },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: years },
      yAxis: { type: "value", axisLabel: { formatter: axisFormatter }, minInterval: 1 },
      series: [
        { name: w.cols.formed, type: "bar", data: values("formed"), label: { show: true, position: "top", formatter: (p) => number(p.value) } },
        { name: w.cols.target, type: "line", data: values("target"), lineStyle: { type: "dashed", width: 2 }, symbol: "diamond", symbolSize: 9, connectNulls: true },
        { name: w.cols.cumulative, type: "line", data: values("cumulative"), symbol: "circle", symbolSize: 7 },
      ],
    };
  }
  if (kind === "shares") {
    const rows = table.rows;
    return {
      ...still,
      textStyle,
      color: [PALETTE[2]],
      aria: { enabled: true },
      grid: { left: 160, right: 48, top: 8, bottom: 24 },
      xAxis: { type: "value", max: 1, axisLabel: { formatter: (v) => percent(v) } },
      yAxis: { type: "category", data: rows.map((r) => `${r.cells.measure.text}${r.cells.share.withheld ? ` ${w.withheldMark}` : ""}`), inverse: true },
      series: [
        {
          type: "bar",
          data: rows.map((r) => (r.cells.share.withheld ? null : r.cells.share.value)),
          label: { show: true, position: "right", formatter: (p) => labelOf(rows[p.dataIndex], "share", { percent: true }) },
        },
      ],
    };
  }
  // bars: the first column names the bar, the second is its figure
  const [nameCol, valueCol] = table.columns;
  const rows = table.rows.filter((r) => !r.noChart);
  return {
    ...still,
    textStyle,
    color: [PALETTE[0]],
    aria: { enabled: true },
    grid: { left: 170, right: 64, top: 8, bottom: 24 },
    xAxis: { type: "value", minInterval: 1, axisLabel: { formatter: axisFormatter } },
    yAxis: {
      type: "category",
      inverse: true,
      data: rows.map((r) => `${shown(r.cells[nameCol.key])}${r.cells[valueCol.key]?.withheld ? ` ${w.withheldMark}` : ""}`),
      axisLabel: { width: 150, overflow: "truncate" },
    },
    series: [
      {
        type: "bar",
        // one colour: the axis names each bar, so colour carries no meaning to miss
        data: rows.map((r) => (r.cells[valueCol.key]?.withheld ? null : r.cells[valueCol.key]?.value ?? null)),
        label: { show: true, position: "right", formatter: (p) => labelOf(rows[p.dataIndex], valueCol.key, valueCol) },
      },
    ],
  };
}

