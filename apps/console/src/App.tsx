import { useCallback, useMemo, useState } from 'react';
import { createClient, type Client } from './api';
import { actorLabel } from './format';
import { useRoute, type Route } from './hooks';
import { forgetKey, storedKey, storeKey } from './session';
import { SignIn } from './SignIn';
import type { Principal } from './types';
import { DeadLetters } from './views/DeadLetters';
import { Expiries } from './views/Expiries';
import { Fleet } from './views/Fleet';
import { PairPage } from './views/PairPage';

interface Session {
  readonly client: Client;
  readonly principal: Principal;
}

const NAV: readonly { readonly page: Route['page']; readonly href: string; readonly label: string }[] = [
  { page: 'fleet', href: '#/fleet', label: 'Fleet readiness' },
  { page: 'expiries', href: '#/expiries', label: 'Upcoming expiries' },
  { page: 'dead-letters', href: '#/dead-letters', label: 'Dead letters' },
];

/** Signs in with an API key (checked with GET /me), then shows the page the address names. */
export function App({ makeClient = createClient }: { makeClient?: (key: string) => Client }) {
  const [session, setSession] = useState<Session | null>(null);
  const route = useRoute();
  const signIn = useCallback(
    async (key: string) => {
      const client = makeClient(key);
      const principal = await client.get<Principal>('sync-agent', '/me');
      storeKey(key);
      setSession({ client, principal });
    },
    [makeClient],
  );
  const signOut = useCallback(() => {
    forgetKey();
    setSession(null);
  }, []);
  // A key kept from earlier in this tab signs in again on reload.
  const remembered = useMemo(() => storedKey(), []);

  if (!session) return <SignIn onSignIn={signIn} remembered={remembered} onForget={forgetKey} />;
  const { client, principal } = session;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">HA License Sync</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map((item) => (
              <li key={item.page}>
                <a href={item.href} aria-current={route.page === item.page ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p className="who" aria-label="Signed in as">
          <span className="role">{principal.role}</span>
          {principal.accountId ? <span> · account {principal.accountId}</span> : <span> · every account</span>}
          <span className="muted"> · {actorLabel(principal.keyId)}</span>
        </p>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'fleet' && <Fleet client={client} />}
        {route.page === 'pair' && <PairPage client={client} pairId={route.pairId} />}
        {route.page === 'expiries' && <Expiries client={client} />}
        {route.page === 'dead-letters' && <DeadLetters client={client} principal={principal} />}
      </main>
    </>
  );
}
