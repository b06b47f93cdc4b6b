// The typed API client: every call names a path and method of the generated `paths` (schema.d.ts), so
// its parameters, body and answer are checked against the back end's OpenAPI document. openapi-fetch
// does the requests; this module adds the API key, turns problem+json answers into ApiError (the error
// type the UI shows beside fields) and reports 401s.
import createClient, { type Middleware } from "openapi-fetch";
import { getStoredKey } from "../auth/keyStore";
import type { paths } from "./schema";

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }

  get fieldErrors(): FieldError[] {
    return this.problem.errors ?? [];
  }
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called whenever any API call answers 401: the app signs out and shows the sign-in page. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}


/** The header the server asks of changes signed in by the session cookie (another site's page cannot
 * send it): sent on every call. */
export const SESSION_HEADER = "X-Tasksched-Request";

// The session cookie (POST /api/session) goes with every call by itself. A key kept in this tab's
// session storage (set by scripts and tests; the sign-in page no longer keeps one) is sent as a bearer
// token, unless the call brings its own Authorization (sign-in sends the key being tried).
const auth: Middleware = {
  onRequest({ request }) {
    const key = getStoredKey();
    if (key && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${key}`);
    request.headers.set(SESSION_HEADER, "1");
    return request;
  },
};

export const http = createClient<paths>({
  // Absolute, because Request objects need one outside a browser page (the tests' jsdom).
  baseUrl: typeof window !== "undefined" ? window.location.origin : "",
  headers: { Accept: "application/json" },
  // Looked up at call time (not captured once), so a test's replacement of fetch is seen.
  fetch: (request) => globalThis.fetch(request),
});
http.use(auth);

/** `Authorization` for a call made with a key that is not (yet) the stored one. */
export function bearer(key: string): Record<string, string> {
  return { Authorization: `Bearer ${key}` };
}

/** Drops empty values ("", null, undefined) so that they are not sent as `?q=`. */
export function compact<T extends object>(query: T): T {
  const result: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    result[name] = value;
  }
  return result as T;
}

function toProblem(response: Response, body: unknown): Problem {
  if (body && typeof body === "object") {
    const problem = body as Problem & { detail?: unknown };
    // FastAPI's own validation errors carry `detail` as a list; normalise them to `errors`.
    if (Array.isArray(problem.detail)) {
      const errors = (problem.detail as { loc?: unknown[]; msg?: string }[]).map((item) => ({
        field: (item.loc ?? []).filter((part) => part !== "body").join("."),
        message: item.msg ?? "invalid",
      }));
      return { status: response.status, title: "Invalid request", errors };
    }
    return { status: response.status, ...problem };
  }
  const text = typeof body === "string" ? body : "";
  return { status: response.status, title: response.statusText || `HTTP ${response.status}`, detail: text.slice(0, 300) || undefined };
}

interface Answer {
  data?: unknown;
  error?: unknown;
  response: Response;
}

export interface CallOptions {
  /** Don't notify the 401 listeners (the sign-in form handles its own 401). */
  quiet401?: boolean;
}

/**
 * Await a typed client call: its data, or an ApiError (status 0 when the server could not be reached).
 * Aborts (a query that is no longer wanted) pass through unchanged.
 */
export async function call<A extends Answer>(request: Promise<A>, options: CallOptions = {}): Promise<Exclude<A["data"], undefined>> {
  let answer: A;
  try {
    answer = await request;
  } catch (error) {
    if (error instanceof Error && error.name === "AbortError") throw error;
    throw new ApiError(0, { title: "Network error", detail: "The server could not be reached." });
  }
  const { response } = answer;
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) {
      for (const listener of unauthorizedListeners) listener();
    }
    throw new ApiError(response.status, toProblem(response, answer.error));
  }
  return answer.data as Exclude<A["data"], undefined>;
}
