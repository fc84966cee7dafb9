/**
 * The signed-in key lives in sessionStorage only: it is gone when the tab closes, is never written to localStorage
 * or a cookie, and is sent only in the Authorization header of the console's own requests.
 */
const KEY = 'ha-license-sync.console.api-key';

export function storedKey(storage: Storage = sessionStorage): string | null {
  return storage.getItem(KEY);
}

export function storeKey(key: string, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, key);
}

export function forgetKey(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}
