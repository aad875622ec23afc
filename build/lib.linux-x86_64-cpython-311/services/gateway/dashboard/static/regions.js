// Regions: their level from the code, their names, and their boundaries for the map.
// Provinces and regencies come with the boundaries (TopoJSON, Kemendagri codes of the
// registry's edition); districts and villages are named by the registry.

import { call } from "./api.js";

export const LEVELS = ["national", "province", "regency", "district", "village"];

export function levelOf(code) {
  return code === "" ? "national" : LEVELS[Math.min(code.split(".").length, 4)];
}

export function childLevel(code) {
  return LEVELS[LEVELS.indexOf(levelOf(code)) + 1] ?? null;
}

/** The codes from Indonesia down to `code`: "74.71.01" → ["", "74", "74.71", "74.71.01"]. */
export function trail(code) {
  const parts = code === "" ? [] : code.split(".");
  return ["", ...parts.map((_, i) => parts.slice(0, i + 1).join("."))];
}

export function within(code, root) {
  return root === "" || code === root || code.startsWith(`${root}.`);
}

const names = new Map();
const shapes = {};

async function loadBoundaries(level) {
  if (!shapes[level]) {
    shapes[level] = fetch(`/dashboard/boundaries/${level}`)
      .then((r) => r.json())
      .then((topology) => {
        const collection = window.topojson.feature(topology, topology.objects[level]);
        for (const f of collection.features) names.set(f.properties.code, f.properties.name);
        return collection;
      });
  }
  return shapes[level];
}

/** Provinces' and regencies' boundaries (and names) as GeoJSON, loaded once. */
export async function boundaries() {
  const [provinces, regencies] = await Promise.all([loadBoundaries("provinces"), loadBoundaries("regencies")]);
  return { provinces, regencies };
}

export function nameOf(code, indonesia) {
  return code === "" ? indonesia : names.get(code) ?? code;
}

/** The regions one level below `code`, with names: from the boundaries for provinces and
 * regencies, from the registry below them. */
export async function childrenOf(code) {
  const level = childLevel(code);
  if (level === "province" || level === "regency") {
    const { provinces, regencies } = await boundaries();
    const features = level === "province" ? provinces.features : regencies.features;
    return features
      .map((f) => ({ code: f.properties.code, name: f.properties.name }))
      .filter((r) => level === "province" || r.code.startsWith(`${code}.`))
      .sort((a, b) => a.code.localeCompare(b.code));
  }
  const answer = await call("/api/registry/regions", { parent: code, level, limit: 1000 });
  for (const r of answer.items) names.set(r.code, r.name);
  return answer.items.map((r) => ({ code: r.code, name: r.name }));
}

/** Make sure the names along the trail to `code` are known (a district's from the registry). */
export async function nameTrail(code) {
  await boundaries();
  await Promise.all(
    trail(code)
      .filter((c) => c !== "" && !names.has(c))
      .map((c) =>
        call(`/api/registry/regions/${c}`)
          .then((r) => names.set(c, r.name))
          .catch(() => undefined),
      ),
  );
}
