import { ApiError } from '../api';

/** A read that failed, said plainly (the last good data, if any, stays on screen). */
export function ErrorNote({ error, what }: { error: Error | undefined; what: string }) {
  if (!error) return null;
  const reason =
    error instanceof ApiError
      ? error.status === 403
        ? 'this key’s role may not read it'
        : `${error.code}: ${error.message}`
      : error.message;
  return (
    <p role="alert" className="error">
      Could not read {what}: {reason}.
    </p>
  );
}
