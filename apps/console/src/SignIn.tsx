import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from './api';

interface Props {
  readonly onSignIn: (key: string) => Promise<void>;
  /** A key this tab signed in with before (sessionStorage), tried at once. */
  readonly remembered: string | null;
  readonly onForget: () => void;
}

/** The API key form. The key is checked against the sync agent (GET /me) before it is kept, in this tab only. */
export function SignIn({ onSignIn, remembered, onForget }: Props) {
  const inputId = useId();
  const helpId = useId();
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const attempt = async (candidate: string, remembered = false) => {
    setBusy(true);
    setError(null);
    try {
      await onSignIn(candidate);
    } catch (failure) {
      // A kept key that no longer works (revoked, or the services' key changed) is forgotten.
      if (remembered) onForget();
      setBusy(false);
      setError(
        failure instanceof ApiError && failure.status === 401
          ? 'That key was not accepted. Check it and try again.'
          : `Could not sign in: ${(failure as Error).message}`,
      );
      input.current?.focus();
    }
  };

  useEffect(() => {
    if (remembered) void attempt(remembered, true);
    // Only on first render: a remembered key is tried once.
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (key.trim()) void attempt(key.trim());
  };

  return (
    <main className="sign-in">
      <h1>HA License Sync console</h1>
      <form onSubmit={submit} aria-describedby={helpId}>
        <label htmlFor={inputId}>API key</label>
        <input
          ref={input}
          id={inputId}
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error !== null}
          aria-describedby={error ? `${helpId}-error` : undefined}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p role="alert" id={`${helpId}-error`} className="error">
            {error}
          </p>
        )}
      </form>
      <p id={helpId} className="muted">
        The key stays in this browser tab only (session storage) and is sent to this server alone. You see what its role and
        account may see.
      </p>
    </main>
  );
}
