// The panels: each asks reporting for what it needs and answers a table (columns, rows of
// cells). The chart is drawn from that table, and the CSV is that table as shown, so the three
// never disagree. A cell is a figure ({value, withheld}) or a text ({text}).

import { call, indicator } from "./api.js";
import { duration, language, part, t } from "./i18n.js";
import { nameOf } from "./regions.js";

export const MAP_INDICATORS = [
  "clients_screened",
  "units_formed",
  "units_cumulative",
  "admissions",
  "activities",
  "agents_trained",
  "closures",
  "referrals",
  "relapses",
];

const FIRST_YEAR = 2021; // the programme's first formation targets

export const figure = (row) => ({ value: row?.value ?? null, withheld: Boolean(row?.withheld) });
export const text = (value) => ({ text: value });

/** A suppression note applies to a table when any answer behind it is client-derived. */
function suppressionOf(...answers) {
  const applying = answers.filter((a) => a?.suppression?.applies);
  return applying.length ? applying[0].suppression : null;
}

function own(ctx, name, extra = {}) {
  return indicator(name, { period: ctx.period, level: ctx.level, within: ctx.region, ...extra });
}

function ownRow(answer, region, partName = "*") {
  return answer.rows.find((r) => r.region === region && r.part === partName) ?? (partName === "*" ? answer.within : null);
}

/** A count broken down by one dimension, for the region as a whole. */
function breakdown(id, name, by) {
  return {
    id,
    async load(ctx) {
      const answer = await own(ctx, name, { by });
      const w = t();
      return {
        columns: [
          { key: "part", label: w.cols.part },
          { key: "count", label: w.cols.count, numeric: true },
        ],
        rows: answer.rows
          .filter((r) => r.region === ctx.region)
          .map((r) => ({ cells: { part: text(part(r.part)), count: figure(r) } })),
        suppression: suppressionOf(answer),
      };
    },
    chart: "bars",
  };
}

export const PANELS = [
  {
    id: "units",
    async load(ctx) {
      const w = t();
      const years = [];
      for (let y = Math.max(FIRST_YEAR, ctx.year - 5); y <= ctx.year; y += 1) years.push(y);
      const targeted = ctx.level === "national" || ctx.level === "province"; // targets exist there
      // The cumulative count at the end of the last year, then back a year at a time less
      // that year's formations.
      // Targets (national and provincial) from units_against_target, which has no figure for a
      // year without units; the units formed, 0 in such a year, from units_formed.
      const [last, answers, targets] = await Promise.all([
        own(ctx, "units_cumulative", { period: String(ctx.year) }),
        Promise.all(years.map((y) => own(ctx, "units_formed", { period: String(y) }))),
        targeted
          ? Promise.all(years.map((y) => own(ctx, "units_against_target", { period: String(y) })))
          : years.map(() => null),
      ]);
      const cumulative = new Array(years.length).fill(null);
      let running = ownRow(last, ctx.region)?.value ?? null;
      for (let i = years.length - 1; i >= 0 && running !== null; i -= 1) {
        cumulative[i] = running;
        const formed = ownRow(answers[i], ctx.region)?.value;
        running = formed == null ? null : running - formed;
      }
      return {
        columns: [
          { key: "year", label: w.cols.year },
          { key: "formed", label: w.cols.formed, numeric: true },
          { key: "target", label: w.cols.target, numeric: true },
          { key: "share", label: w.cols.share, numeric: true, percent: true },
          { key: "cumulative", label: w.cols.cumulative, numeric: true },
        ],
        rows: answers.map((formed, i) => {
          const row = ownRow(formed, ctx.region);
          const target = targets[i] && ownRow(targets[i], ctx.region);
          return {
            cells: {
              year: text(String(years[i])),
              formed: figure(row),
              target: { value: target?.target ?? null, withheld: false },
              share: { value: target?.share ?? null, withheld: false },
              cumulative: { value: cumulative[i], withheld: false },
            },
          };
        }),
        suppression: null,
      };
    },
    chart: "units",
  },
  {
    id: "operational",
    async load(ctx) {
      const w = t();
      const cohort = ctx.cohort;
      // Sustained units are operational in a year after the one they were formed in: their
      // cohort ends before the year at the latest.
      const [first, last = first] = cohort.split("..").map(Number);
      const sustainedCohort = first < ctx.year ? `${first}..${Math.min(last, ctx.year - 1)}` : null;
      const [operational, sustained] = await Promise.all([
        own(ctx, "operational_units", { cohort }),
        sustainedCohort
          ? own(ctx, "sustained_units", { period: String(ctx.year), cohort: sustainedCohort })
          : Promise.resolve({ rows: [], within: null }),
      ]);
      const line = (label, answer) => {
        const row = ownRow(answer, ctx.region);
        return {
          cells: {
            measure: text(label),
            numerator: { value: row?.numerator ?? null, withheld: Boolean(row?.withheld) },
            denominator: { value: row?.denominator ?? null, withheld: Boolean(row?.withheld) },
            share: { value: row?.share ?? null, withheld: Boolean(row?.withheld) },
          },
        };
      };
      return {
        columns: [
          { key: "measure", label: w.cols.measure },
          { key: "numerator", label: w.cols.numerator, numeric: true },
          { key: "denominator", label: w.cols.denominator, numeric: true },
          { key: "share", label: w.cols.share, numeric: true, percent: true },
        ],
        rows: [line(w.measures.operational, operational), line(w.measures.sustained, sustained)],
        suppression: suppressionOf(operational, sustained),
        // reporting defines the shares in English only
        note: [operational.definitions, sustained.definitions]
          .filter((d) => d && language() === "en")
          .map((d) => `${d.numerator} / ${d.denominator}`)
          .join(" · "),
      };
    },
    chart: "shares",
  },
  breakdown("risk", "clients_screened", "risk_level"),
  breakdown("substance", "clients_screened", "substance"),
  breakdown("admissions", "admissions", "admission_route"),
  {
    id: "pathway",
    async load(ctx) {
      const w = t();
      const [screened, admitted, closed] = await Promise.all([
        own(ctx, "clients_screened"),
        own(ctx, "admissions"),
        own(ctx, "closures", { by: "outcome" }),
      ]);
      const step = (label, row) => ({ cells: { step: text(label), count: figure(row) } });
      return {
        columns: [
          { key: "step", label: w.cols.step },
          { key: "count", label: w.cols.count, numeric: true },
        ],
        rows: [
          step(w.measures.screened, ownRow(screened, ctx.region)),
          step(w.measures.enrolled, ownRow(admitted, ctx.region)),
          ...["completed", "dropped_out", "referred_out"].map((o) =>
            step(part(o), ownRow(closed, ctx.region, o)),
          ),
        ],
        suppression: suppressionOf(screened, admitted, closed),
      };
    },
    chart: "bars",
  },
  {
    id: "referrals",
    async load(ctx) {
      const w = t();
      const [referred, rate] = await Promise.all([
        own(ctx, "referrals", { by: "destination_type" }),
        own(ctx, "referral_completion_rate"),
      ]);
      const rateRow = ownRow(rate, ctx.region);
      return {
        columns: [
          { key: "part", label: w.cols.part },
          { key: "count", label: w.cols.count, numeric: true },
        ],
        rows: [
          ...referred.rows
            .filter((r) => r.region === ctx.region)
            .map((r) => ({ cells: { part: text(part(r.part)), count: figure(r) } })),
          {
            cells: {
              part: text(w.cols.rate),
              count: { value: rateRow?.value ?? null, withheld: Boolean(rateRow?.withheld), percent: true },
            },
            noChart: true,
          },
        ],
        suppression: suppressionOf(referred, rate),
      };
    },
    chart: "bars",
  },
  breakdown("relapses", "relapses", "source"),
  {
    id: "agents",
    async load(ctx) {
      const w = t();
      const [appointed, trained] = await Promise.all([own(ctx, "agents_appointed"), own(ctx, "agents_trained")]);
      return {
        columns: [
          { key: "measure", label: w.cols.measure },
          { key: "count", label: w.cols.count, numeric: true },
        ],
        rows: [
          { cells: { measure: text(w.measures.appointed), count: figure(ownRow(appointed, ctx.region)) } },
          { cells: { measure: text(w.measures.trained), count: figure(ownRow(trained, ctx.region)) } },
        ],
        suppression: null,
      };
    },
    chart: "bars",
  },
  {
    id: "activities",
    async load(ctx) {
      const w = t();
      const [held, people] = await Promise.all([
        own(ctx, "activities", { by: "activity_type" }),
        own(ctx, "activity_participants"),
      ]);
      return {
        columns: [
          { key: "part", label: w.cols.part },
          { key: "count", label: w.cols.count, numeric: true },
        ],
        rows: [
          ...held.rows
            .filter((r) => r.region === ctx.region)
            .map((r) => ({ cells: { part: text(part(r.part)), count: figure(r) } })),
          { cells: { part: text(w.measures.participants), count: figure(ownRow(people, ctx.region)) }, noChart: true },
        ],
        suppression: null,
      };
    },
    chart: "bars",
  },
];

/** Data health of each province in the caller's scope (their own region when narrower), in
 * the month of the period when it is a month, else this month as the platform counts it (the
 * API's default: the month in WIT, which turns first), so the panel and the API agree in the
 * hours when Indonesia has turned the month and the browser's clock has not. */
export async function health(ctx) {
  const w = t();
  const month = /^\d{4}-\d{2}$/.test(ctx.period) ? ctx.period : undefined;
  const answer = await call("/api/reporting/data-health", { within: ctx.root, month });
  const rows = answer.rows.map((r) => ({
    drill: r.region,
    cells: {
      region: text(nameOf(r.region, w.indonesia)),
      asOf: { date: r.latest_event_at },
      received: { date: r.latest_received_at },
      lag: r.median_lag_hours == null ? { value: null, withheld: false } : text(duration(r.median_lag_hours * 3_600_000)),
      arrived: { value: r.received, withheld: false },
      late: { value: r.late, withheld: false },
      restated: text(r.restated_months.join(", ") || w.noFigure),
      reporting: { value: r.units_reporting, withheld: false },
      // Receipts name the province only: below it the count is unknown, not zero.
      rejected: r.rejected == null ? text(w.notAvailable) : { value: r.rejected, withheld: false },
    },
  }));
  return {
    columns: [
      { key: "region", label: w.region },
      { key: "asOf", label: w.cols.asOf },
      { key: "received", label: w.latestReceived },
      { key: "lag", label: w.cols.lag, numeric: true },
      { key: "arrived", label: w.cols.arrived, numeric: true },
      { key: "late", label: w.cols.late, numeric: true },
      { key: "restated", label: w.cols.restated },
      { key: "reporting", label: w.cols.reporting, numeric: true },
      { key: "rejected", label: w.cols.rejected, numeric: true },
    ],
    rows,
    suppression: null,
    note: w.healthNote(answer.month),
  };
}

/** The map's figures: the chosen indicator for each region one level down. */
export async function byRegion(ctx, name, children) {
  const w = t();
  const answer = await indicator(name, { period: ctx.period, level: ctx.child, within: ctx.region });
  const found = new Map(answer.rows.filter((r) => r.part === "*").map((r) => [r.region, r]));
  const table = {
    columns: [
      { key: "region", label: w.levels[ctx.child] ?? w.region },
      { key: "value", label: w.indicators[name] ?? name, numeric: true },
      { key: "asOf", label: w.latestEvent },
    ],
    rows: children.map((c) => {
      const row = found.get(c.code);
      return {
        drill: c.code,
        cells: {
          region: text(c.name),
          value: row ? figure(row) : text(w.noUnits),
          asOf: { date: row?.latest_event_at ?? null },
        },
      };
    }),
    suppression: suppressionOf(answer),
    total: answer.within,
  };
  return table;
}
