// A thin fetch wrapper: adds the API key, parses problem+json into ApiError, and reports 401s.
import { getStoredKey } from "../auth/keyStore";

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

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Use this key instead of the stored one (sign-in checks a key before keeping it). */
  key?: string;
  /** Don't notify the 401 listeners (the sign-in form handles its own 401). */
  quiet401?: boolean;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function readProblem(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => "");
  if (text) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object") {
        const problem = parsed as Problem & { detail?: unknown };
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
    } catch {
      // not JSON: fall through
    }
  }
  return { status: response.status, title: response.statusText || `HTTP ${response.status}`, detail: text.slice(0, 300) || undefined };
}

export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const key = options.key ?? getStoredKey();
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method: options.method ?? "GET", headers, body, signal: options.signal });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, { title: "Network error", detail: "The server could not be reached." });
  }
  if (!response.ok) {
    const problem = await readProblem(response);
    if (response.status === 401 && !options.quiet401) {
      for (const listener of unauthorizedListeners) listener();
    }
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, query: Query = {}, signal?: AbortSignal) => apiRequest<T>(withQuery(path, query), { signal }),
  post: <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
    apiRequest<T>(path, { method: "POST", body, headers }),
  put: <T>(path: string, body: unknown, headers?: Record<string, string>) =>
    apiRequest<T>(path, { method: "PUT", body, headers }),
  patch: <T>(path: string, body: unknown, headers?: Record<string, string>) =>
    apiRequest<T>(path, { method: "PATCH", body, headers }),
  delete: (path: string) => apiRequest<void>(path, { method: "DELETE" }),
};
