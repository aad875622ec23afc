// The dashboard: sign in with a token, then a region (Indonesia, a province, a regency, a
// district) and a period, with a map, a table of its regions and the programme's panels.
// The address (#region=74.71&period=2026…) holds the view, so the back button and a shared
// link work. The services decide what the token may read; the page only offers that.

import { ApiError, call, indicator, setToken } from "./api.js";
import { language, number, setLanguage, t } from "./i18n.js";
import { MAP_INDICATORS, PANELS, byRegion, health } from "./panels.js";
import {
  EMPTY_COLOUR,
  SEQUENTIAL,
  WITHHELD_COLOUR,
  chartOption,
  csvOf,
  download,
  el,
  shown,
  tableElement,
} from "./render.js";
import { boundaries, childLevel, childrenOf, levelOf, nameOf, nameTrail, trail, within } from "./regions.js";

const FIRST_YEAR = 2021;
const TOKEN_KEY = "pulih.dashboard.token";
const LANGUAGE_KEY = "pulih.dashboard.language";

const state = { me: null, view: null, asTable: new Set(), rendering: 0 };
const charts = new Map();
const app = document.getElementById("app");

// ---- the view in the address ------------------------------------------------------------

function today() {
  const now = new Date();
  return { year: now.getFullYear(), month: now.getMonth() + 1 };
}

function defaultView() {
  const { year } = today();
  return { region: state.me?.root ?? "", period: String(year), indicator: "clients_screened", cohort: `${FIRST_YEAR}..${year}` };
}

function readView() {
  const params = new URLSearchParams(location.hash.slice(1));
  const view = { ...defaultView() };
  for (const key of Object.keys(view)) if (params.has(key)) view[key] = params.get(key);
  // Never a region outside the caller's scope: back to their own.
  if (!within(view.region, state.me.root)) view.region = state.me.root;
  if (!MAP_INDICATORS.includes(view.indicator)) view.indicator = "clients_screened";
  const hash = `#${new URLSearchParams(view)}`;
  if (params.toString() && hash !== location.hash) history.replaceState(null, "", hash);
  return view;
}

function go(changes) {
  const view = { ...state.view, ...changes };
  const hash = new URLSearchParams(view).toString();
  if (`#${hash}` === location.hash) render();
  else location.hash = hash;
}

function periodParts(period) {
  let m;
  if ((m = /^(\d{4})\.\.(\d{4})$/.exec(period))) return { kind: "range", from: +m[1], year: +m[2] };
  if ((m = /^(\d{4})-Q([1-4])$/.exec(period))) return { kind: "quarter", year: +m[1], quarter: +m[2] };
  if ((m = /^(\d{4})-(\d{2})$/.exec(period))) return { kind: "month", year: +m[1], month: +m[2] };
  return { kind: "year", year: +period || today().year };
}

function periodOf({ kind, year, quarter, month, from }) {
  if (kind === "quarter") return `${year}-Q${quarter}`;
  if (kind === "month") return `${year}-${String(month).padStart(2, "0")}`;
  if (kind === "range") return `${Math.min(from, year)}..${Math.max(from, year)}`;
  return String(year);
}

// ---- signing in --------------------------------------------------------------------------

async function signIn(token) {
  setToken(token);
  try {
    state.me = await call("/dashboard/me");
  } catch (error) {
    setToken(null);
    sessionStorage.removeItem(TOKEN_KEY);
    throw error;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  shell();
}

function signOut() {
  setToken(null);
  sessionStorage.removeItem(TOKEN_KEY);
  state.me = null;
  for (const chart of charts.values()) chart.dispose();
  charts.clear();
  history.replaceState(null, "", location.pathname);
  login();
}

async function login(message) {
  const w = t();
  const options = await call("/dashboard/login-options", {}, { auth: false }).catch(() => ({ development: false, roles: [] }));
  const error = el("p", { class: "error", role: "alert", id: "login-error" }, message ?? "");
  const tokenField = el("textarea", { id: "token", name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false" });
  const form = el(
    "form",
    {
      class: "login",
      "aria-labelledby": "login-title",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await signIn(tokenField.value.trim());
        } catch (e) {
          error.textContent = `${w.badToken}: ${e.message}`;
        }
      },
    },
    el("h2", { id: "login-title" }, w.login),
    el("p", {}, w.loginLead.split("`").map((piece, i) => (i % 2 ? el("code", {}, piece) : piece))),
    el("label", { for: "token" }, w.token),
    tokenField,
    el("button", { type: "submit" }, w.login),
  );
  const parts = [form];
  if (options.development) {
    const roleField = el("input", { id: "dev-role", name: "role", list: "dev-roles", value: options.roles[0] ?? "" });
    parts.push(
      el(
        "form",
        {
          class: "login dev",
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const minted = await call("/dashboard/development-token", {}, { method: "POST", body: { role: roleField.value.trim() }, auth: false });
              await signIn(minted.token);
            } catch (e) {
              error.textContent = `${w.badToken}: ${e.message}`;
            }
          },
        },
        el("label", { for: "dev-role" }, w.devRole),
        roleField,
        el("datalist", { id: "dev-roles" }, options.roles.map((r) => el("option", { value: r }))),
        el("button", { type: "submit" }, w.devLogin),
      ),
    );
  }
  app.replaceChildren(header(false), el("main", { id: "main" }, parts, error));
  tokenField.focus();
}

// ---- the page ------------------------------------------------------------------------------

function languageSwitch() {
  const select = el(
    "select",
    {
      id: "language",
      onchange: (e) => {
        setLanguage(e.target.value);
        localStorage.setItem(LANGUAGE_KEY, language());
        if (state.me) shell();
        else login();
      },
    },
    el("option", { value: "id", selected: language() === "id" }, "Bahasa Indonesia"),
    el("option", { value: "en", selected: language() === "en" }, "English"),
  );
  return el("div", { class: "field" }, el("label", { for: "language" }, t().language), select);
}

function header(signedIn) {
  const w = t();
  return el(
    "header",
    { class: "top" },
    el("div", {}, el("h1", {}, w.title), el("p", { class: "subtitle" }, w.subtitle)),
    el(
      "div",
      { class: "who" },
      languageSwitch(),
      signedIn
        ? [
            el("span", { id: "signed-in" }, `${w.signedInAs}: ${state.me.roles.join(", ")}`),
            el("button", { type: "button", id: "logout", onclick: signOut }, w.logout),
          ]
        : null,
    ),
  );
}

function select(id, label, options, value, onchange) {
  return el(
    "div",
    { class: "field" },
    el("label", { for: id }, label),
    el(
      "select",
      { id, onchange: (e) => onchange(e.target.value) },
      options.map(([v, text]) => el("option", { value: v, selected: String(v) === String(value) }, text)),
    ),
  );
}

function controls(view) {
  const w = t();
  const now = today();
  const p = periodParts(view.period);
  const years = [];
  for (let y = now.year; y >= FIRST_YEAR; y -= 1) years.push([y, String(y)]);
  const change = (patch) => go({ period: periodOf({ ...p, quarter: p.quarter ?? 1, month: p.month ?? 1, from: p.from ?? FIRST_YEAR, ...patch }) });
  const fields = [
    select("period-kind", w.periodKind, [["year", w.year], ["quarter", w.quarter], ["month", w.month], ["range", w.range]], p.kind, (kind) =>
      change({ kind, from: p.kind === "range" ? p.from : Math.max(FIRST_YEAR, p.year - 2) }),
    ),
  ];
  if (p.kind === "range") fields.push(select("period-from", w.from, years, p.from, (v) => change({ from: +v })));
  fields.push(select("period-year", p.kind === "range" ? w.to : w.year, years, p.year, (v) => change({ year: +v })));
  if (p.kind === "quarter") {
    const quarters = [1, 2, 3, 4].filter((q) => p.year < now.year || (q - 1) * 3 < now.month).map((q) => [q, `Q${q}`]);
    fields.push(select("period-quarter", w.quarter, quarters, p.quarter, (v) => change({ quarter: +v })));
  }
  if (p.kind === "month") {
    const months = w.months.map((m, i) => [i + 1, m]).filter(([i]) => p.year < now.year || i <= now.month);
    fields.push(select("period-month", w.month, months, p.month, (v) => change({ month: +v })));
  }
  const cohorts = [[`${FIRST_YEAR}..${p.year}`, `${FIRST_YEAR}–${p.year}`], ...years.filter(([y]) => y <= p.year).map(([y]) => [String(y), String(y)])];
  fields.push(select("cohort", w.cohort, cohorts, view.cohort, (cohort) => go({ cohort })));
  fields.push(
    select("indicator", w.indicator, MAP_INDICATORS.map((i) => [i, w.indicators[i]]), view.indicator, (indicatorName) => go({ indicator: indicatorName })),
  );
  return el("form", { class: "controls", "aria-label": w.period, onsubmit: (e) => e.preventDefault() }, fields);
}

function breadcrumb(view) {
  const w = t();
  const codes = trail(view.region).filter((c) => within(c, state.me.root) || c === state.me.root);
  const visible = codes.filter((c) => c.length >= state.me.root.length);
  return el(
    "nav",
    { "aria-label": w.breadcrumb, class: "breadcrumb" },
    el(
      "ol",
      {},
      visible.map((code, i) =>
        el(
          "li",
          {},
          i === visible.length - 1
            ? el("span", { "aria-current": "page" }, `${nameOf(code, w.indonesia)}`)
            : el("a", { href: `#${new URLSearchParams({ ...view, region: code })}`, "data-region": code }, nameOf(code, w.indonesia)),
        ),
      ),
    ),
  );
}

function card(id, title, { wide = false } = {}) {
  const w = t();
  const body = el("div", { class: "card-body", "aria-live": "polite" }, el("p", { class: "loading" }, w.loading));
  const tableButton = el("button", { type: "button", class: "toggle", "aria-pressed": String(state.asTable.has(id)), "data-action": "table" }, w.table);
  const csvButton = el("button", { type: "button", class: "csv", "data-action": "csv", disabled: true }, w.csv);
  const section = el(
    "section",
    { class: `card${wide ? " wide" : ""}`, id: `panel-${id}`, "aria-labelledby": `title-${id}` },
    el("div", { class: "card-head" }, el("h2", { id: `title-${id}` }, title), el("div", { class: "tools" }, tableButton, csvButton)),
    body,
  );
  return { section, body, tableButton, csvButton };
}

function shell() {
  const w = t();
  state.view = readView();
  if (state.me.root === null) {
    app.replaceChildren(header(true), el("main", { id: "main" }, el("p", { role: "alert" }, w.noFigures)));
    return;
  }
  app.replaceChildren(header(true), el("div", { id: "controls" }), el("div", { id: "trail" }), el("main", { id: "main", tabindex: "-1" }));
  render();
}

// ---- drawing a view ------------------------------------------------------------------------

function filename(id) {
  const v = state.view;
  return `pulih-${id}-${v.region || "ID"}-${v.period}.csv`.replaceAll("..", "-");
}

function fill(panel, table, drawChart, caption) {
  const { body, tableButton, csvButton, id } = panel;
  const showTable = !drawChart || state.asTable.has(id);
  const chartBox = el("div", { class: "chart", role: "img", "aria-label": caption, hidden: showTable || null });
  const { table: tableBox, notes } = tableElement(table, caption, panel.onDrill);
  if (drawChart && !showTable) tableBox.hidden = true;
  body.replaceChildren(chartBox, tableBox, notes);
  csvButton.disabled = false;
  csvButton.onclick = () => download(filename(id), csvOf(table));
  if (drawChart) {
    tableButton.onclick = () => {
      const on = !state.asTable.has(id);
      if (on) state.asTable.add(id);
      else state.asTable.delete(id);
      tableButton.setAttribute("aria-pressed", String(on));
      chartBox.hidden = on;
      tableBox.hidden = !on;
      if (!on) charts.get(id)?.resize();
    };
    const chart = window.echarts.init(chartBox, null, { renderer: "svg" });
    charts.get(id)?.dispose();
    charts.set(id, chart);
    chart.setOption(drawChart(table));
  } else {
    tableButton.hidden = true;
  }
}

function failed(panel, error) {
  const w = t();
  const message = error instanceof ApiError && error.noUnits ? w.noUnits : `${w.failed}: ${error.message}`;
  panel.body.replaceChildren(el("p", { class: "note", role: "status" }, message));
}

function classes(values) {
  const max = Math.max(0, ...values);
  if (max === 0) return [];
  const step = Math.max(1, Math.ceil(max / SEQUENTIAL.length));
  return SEQUENTIAL.map((colour, i) => ({ colour, from: i * step + (i ? 1 : 0), to: (i + 1) * step })).filter((c) => c.from <= max);
}

function colourOf(bands, value) {
  return (bands.find((b) => value <= b.to) ?? bands[bands.length - 1])?.colour ?? SEQUENTIAL[0];
}

const HATCH = { symbol: "rect", dashArrayX: [1, 0], dashArrayY: [2, 4], rotation: Math.PI / 4, color: "rgba(0,0,0,0.45)" };

async function drawMap(view, box, legend) {
  const w = t();
  const root = state.me.root;
  const level = levelOf(view.region);
  // The map shows the regions one level down where boundaries exist, else the regency (and
  // its siblings when the caller may see them) with the current one outlined.
  let mapWithin;
  if (level === "national" || level === "province") mapWithin = view.region;
  else mapWithin = levelOf(root) === "regency" ? root : view.region.slice(0, 2);
  const outlined = level === "regency" || level === "district" ? view.region.slice(0, 5) : null;
  const mapLevel = mapWithin === "" ? "province" : "regency";
  const { provinces, regencies } = await boundaries();
  const features =
    mapWithin === ""
      ? provinces.features
      : regencies.features.filter((f) => within(f.properties.code, mapWithin));
  const mapName = `m-${mapWithin || "ID"}`;
  if (!window.echarts.getMap(mapName)) window.echarts.registerMap(mapName, { type: "FeatureCollection", features });
  const answer = await indicator(view.indicator, { period: view.period, level: mapLevel, within: mapWithin });
  const found = new Map(answer.rows.filter((r) => r.part === "*").map((r) => [r.region, r]));
  const bands = classes([...found.values()].filter((r) => !r.withheld && r.value != null).map((r) => r.value));
  const data = features.map((f) => {
    const code = f.properties.code;
    const row = found.get(code);
    const style = { areaColor: EMPTY_COLOUR };
    if (row?.withheld) Object.assign(style, { areaColor: WITHHELD_COLOUR, decal: HATCH });
    else if (row && row.value != null) style.areaColor = colourOf(bands, row.value);
    if (code === outlined) Object.assign(style, { borderColor: "#000", borderWidth: 2.5 });
    return { name: code, value: row && !row.withheld ? row.value : null, itemStyle: style, row };
  });
  let chart = charts.get("map");
  if (!chart || chart.getDom() !== box) {
    chart?.dispose();
    chart = window.echarts.init(box, null, { renderer: "svg" });
    charts.set("map", chart);
  }
  chart.off("click");
  chart.on("click", (p) => {
    if (p.name && within(p.name, root) && p.name !== view.region) go({ region: p.name });
  });
  chart.setOption(
    {
      animation: false,
      aria: { enabled: true },
      tooltip: {
        formatter: (p) => {
          const row = p.data?.row;
          const value = row ? shown({ value: row.value, withheld: row.withheld }) : w.noUnits;
          return `${nameOf(p.name, w.indonesia)}<br>${w.indicators[view.indicator]}: ${value}`;
        },
      },
      series: [
        {
          type: "map",
          map: mapName,
          nameProperty: "code",
          roam: true,
          selectedMode: false,
          left: 4,
          right: 4,
          top: 4,
          bottom: 4,
          label: { show: false },
          itemStyle: { borderColor: "#4d4d4d", borderWidth: 0.6 },
          emphasis: { label: { show: false }, itemStyle: { areaColor: "#fdb863" } },
          data,
        },
      ],
    },
    true,
  );
  legend.replaceChildren(
    ...bands.map((b) => el("li", {}, el("span", { class: "swatch", style: `background:${b.colour}` }), b.from === b.to ? number(b.from) : `${number(b.from)}–${number(b.to)}`)),
    el("li", {}, el("span", { class: "swatch hatched" }), `${w.withheldMark} ${w.withheld}`),
    el("li", {}, el("span", { class: "swatch", style: `background:${EMPTY_COLOUR}` }), w.legendNone),
  );
  box.setAttribute("aria-label", `${w.map}: ${w.indicators[view.indicator]}, ${nameOf(mapWithin, w.indonesia)}. ${w.mapNote}`);
}

async function render() {
  const w = t();
  const rendering = ++state.rendering;
  const started = performance.now();
  const view = readView();
  state.view = view;
  const main = document.getElementById("main");
  main.dataset.state = "loading";
  const root = state.me.root;
  const level = levelOf(view.region);
  const child = childLevel(view.region);
  const year = periodParts(view.period).year;
  const ctx = { region: view.region, level, child, period: view.period, year, cohort: view.cohort, root, rootLevel: levelOf(root) };

  await nameTrail(view.region);
  if (rendering !== state.rendering) return;
  document.getElementById("controls").replaceChildren(controls(view));
  document.getElementById("trail").replaceChildren(breadcrumb(view));
  document.title = `${nameOf(view.region, w.indonesia)} · ${w.title}`;

  // The map and the regions one level down, then the panels, each as it arrives.
  const regionTitle = `${w.panels.regions}: ${w.indicators[view.indicator]} · ${nameOf(view.region, w.indonesia)} · ${view.period}`;
  const mapBox = el("div", { id: "map", class: "map", role: "img" });
  const legend = el("ul", { class: "legend", "aria-label": w.map });
  const regions = card("regions", regionTitle, { wide: true });
  regions.id = "regions";
  regions.onDrill = (code) => go({ region: code });
  const cards = PANELS.map((p) => Object.assign(card(p.id, w.panels[p.id]), { id: p.id }));
  const healthCard = Object.assign(card("health", w.panels.health, { wide: true }), { id: "health" });
  healthCard.onDrill = (code) => go({ region: code });
  const mapSection = el(
    "section",
    { class: "card wide map-card", "aria-labelledby": "map-title" },
    el("h2", { id: "map-title" }, `${w.map}: ${w.indicators[view.indicator]} · ${view.period}`),
    mapBox,
    legend,
    el("p", { class: "note" }, child === "district" || child === "village" ? `${w.mapNote} ${w.noMap}` : w.mapNote),
  );
  main.replaceChildren(el("div", { class: "grid top-grid" }, mapSection, regions.section), el("div", { class: "grid" }, cards.map((c) => c.section)), healthCard.section);

  // The map and the regions' table first: the panels' requests wait until theirs are answered,
  // so a drill-down shows where one is before the rest of the page fills in.
  const first = [];
  if (child) indicator(view.indicator, { period: view.period, level: child, within: view.region }).catch(() => undefined);
  first.push(drawMap(view, mapBox, legend).catch((e) => mapBox.replaceChildren(el("p", { class: "note" }, `${w.failed}: ${e.message}`))));
  if (child) {
    first.push(
      childrenOf(view.region)
        .then((children) => byRegion(ctx, view.indicator, children))
        .then((table) => {
          if (rendering !== state.rendering) return;
          fill(regions, table, null, regionTitle);
          main.dataset.firstMs = String(Math.round(performance.now() - started)); // the regions' table
        })
        .catch((e) => failed(regions, e)),
    );
  } else {
    regions.section.hidden = true;
  }
  await Promise.all(first);
  if (rendering !== state.rendering) return;
  // A drill-down replaced what had the focus: keyboard users go on from the new view.
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
  const jobs = [];
  for (const [i, panel] of PANELS.entries()) {
    jobs.push(
      panel
        .load(ctx)
        .then((table) => rendering === state.rendering && fill(cards[i], table, (tbl) => chartOption(panel.chart, tbl), w.panels[panel.id]))
        .catch((e) => failed(cards[i], e)),
    );
  }
  jobs.push(
    health(ctx)
      .then((table) => rendering === state.rendering && fill(healthCard, table, null, w.panels.health))
      .catch((e) => failed(healthCard, e)),
  );
  await Promise.all(jobs);
  if (rendering !== state.rendering) return;
  main.dataset.state = "ready";
  main.dataset.region = view.region; // what a test (or a person's tool) waits on
  main.dataset.period = view.period;
  main.dataset.lang = language();
  main.dataset.renderMs = String(Math.round(performance.now() - started));
}

// ---- start -----------------------------------------------------------------------------

window.addEventListener("hashchange", () => state.me && render());
window.addEventListener("resize", () => {
  for (const chart of charts.values()) chart.resize();
});
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-region]");
  if (link) {
    event.preventDefault();
    go({ region: link.dataset.region });
  }
});

setLanguage(localStorage.getItem(LANGUAGE_KEY) ?? "id");
const kept = sessionStorage.getItem(TOKEN_KEY);
if (kept) signIn(kept).catch(() => login());
else login();
