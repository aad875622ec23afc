// The gateway's routes, called with the person's token. Answers are kept for a minute, so
// going back up the region trail or switching language asks nothing again.

const TTL_MS = 60_000;
const cache = new Map();
let token = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }

  /** Reporting knows a region below province level by its units: none formed there yet. */
  get noUnits() {
    return this.status === 422 && (this.problem.errors ?? []).some((e) => e.rule === "known-region");
  }
}

export function setToken(value) {
  token = value;
  cache.clear();
}

export async function call(path, params = {}, { method = "GET", body, auth = true, fresh = false } = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
  const url = query.size ? `${path}?${query}` : path;
  const key = `${method} ${url}`;
  const kept = method === "GET" && !fresh ? cache.get(key) : undefined;
  if (kept && Date.now() - kept.at < TTL_MS) return kept.answer;
  const headers = { Accept: "application/json" };
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const pending = fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(
    async (response) => {
      const answer = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
      if (!response.ok) throw new ApiError(response.status, answer);
      return answer;
    },
  );
  if (method === "GET") {
    cache.set(key, { at: Date.now(), answer: pending });
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

const PENDING_EVERY_MS = 500;
const PENDING_TRIES = 20;

/** One reporting indicator table: `/api/reporting/indicators/{name}`. A table whose
 * suppression has not run yet (`suppression.pending`: every figure below province level
 * withheld for now, right after reporting starts) is asked again until it has, for up to ten
 * seconds: reporting suppresses in the background and never makes a request wait. */
export async function indicator(name, params) {
  const path = `/api/reporting/indicators/${name}`;
  let answer = await call(path, params);
  for (let tries = 0; answer?.suppression?.pending && tries < PENDING_TRIES; tries++) {
    await new Promise((resolve) => setTimeout(resolve, PENDING_EVERY_MS));
    answer = await call(path, params, { fresh: true });
  }
  return answer;
}
