import { useCallback, useEffect, useRef, useState } from 'react';

/** The console's pages: `#/fleet`, `#/pairs/<pairId>`, `#/expiries`, `#/dead-letters`. */
export type Route =
  | { readonly page: 'fleet' }
  | { readonly page: 'pair'; readonly pairId: string }
  | { readonly page: 'expiries' }
  | { readonly page: 'dead-letters' };

export function parseRoute(hash: string): Route {
  const pair = /^#\/pairs\/([0-9a-f-]{36})$/i.exec(hash);
  if (pair) return { page: 'pair', pairId: pair[1]!.toLowerCase() };
  if (hash === '#/expiries') return { page: 'expiries' };
  if (hash === '#/dead-letters') return { page: 'dead-letters' };
  return { page: 'fleet' };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** The state of a read: loading, its value, or its error (the last value stays while a refresh fails). */
export interface Loaded<T> {
  readonly value: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  readonly refreshedAt: Date | undefined;
  readonly reload: () => void;
}

/**
 * Runs `load` now and every `intervalMs` (not at all when null), whenever `deps` change; answers from a superseded run
 * are dropped. The page's data stays live without a push channel: a few seconds' staleness is fine for a console.
 */
export function usePolled<T>(load: () => Promise<T>, deps: readonly unknown[], intervalMs: number | null): Loaded<T> {
  const [state, setState] = useState<Omit<Loaded<T>, 'reload'>>({
    value: undefined,
    error: undefined,
    loading: true,
    refreshedAt: undefined,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const value = await loadRef.current();
        if (current) setState({ value, error: undefined, loading: false, refreshedAt: new Date() });
      } catch (error) {
        if (current) setState((s) => ({ ...s, error: error as Error, loading: false }));
      }
      if (current && intervalMs !== null) timer = setTimeout(() => void run(), intervalMs);
    };
    setState((s) => ({ ...s, loading: true }));
    void run();
    return () => {
      current = false;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, intervalMs, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
