// The API key lives in session storage: it survives a reload but not closing the tab.
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
