// A key in session storage (it survives a reload but not closing the tab) is sent as a bearer token.
// The sign-in page keeps none (it signs the browser in with a cookie the page cannot read, see
// AuthProvider); scripts and tests may still put one here.
const STORAGE_KEY = "tasksched.apiKey";

export function getStoredKey(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) window.sessionStorage.setItem(STORAGE_KEY, key);
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: the key lives only as long as the page
  }
}

/** The session cookie itself is HttpOnly; beside it the server sets `tasksched_signed_in=1` (no secret)
 * so that a new tab knows there is a session to ask /api/auth/me about. */
export function hasSessionHint(): boolean {
  try {
    return document.cookie.split(";").some((part) => part.trim() === "tasksched_signed_in=1");
  } catch {
    return false;
  }
}
