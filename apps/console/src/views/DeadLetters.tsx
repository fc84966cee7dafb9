import { useState } from 'react';
import { ApiError, type Client, type Service } from '../api';
import { formatInstant } from '../format';
import { usePolled } from '../hooks';
import type { DeadLetter, DeadLetterPage, Principal } from '../types';
import { ErrorNote } from './ErrorNote';

/** The services that consume events, and so keep dead letters. */
const CONSUMERS: readonly { readonly service: Service; readonly name: string }[] = [
  { service: 'sync-agent', name: 'Sync agent' },
  { service: 'licensing', name: 'Licensing' },
];

/** Messages a consumer gave up on, with why; an operator may replay one once its cause is fixed. */
export function DeadLetters({ client, principal }: { client: Client; principal: Principal }) {
  return (
    <section aria-labelledby="dead-letters-title">
      <h1 id="dead-letters-title">Dead letters</h1>
      <p className="muted">
        {principal.role === 'operator'
          ? 'Replay a letter once what refused it is fixed: it is decoded, its signature checked, and applied again.'
          : 'Read only: only an operator key may replay a dead letter.'}
      </p>
      {CONSUMERS.map((c) => (
        <ConsumerLetters
          key={c.service}
          client={client}
          service={c.service}
          name={c.name}
          canReplay={principal.role === 'operator'}
        />
      ))}
    </section>
  );
}

function ConsumerLetters({
  client,
  service,
  name,
  canReplay,
}: {
  client: Client;
  service: Service;
  name: string;
  canReplay: boolean;
}) {
  const letters = usePolled(() => client.get<DeadLetterPage>(service, '/dead-letters?limit=100'), [client, service], 10_000);
  const [outcome, setOutcome] = useState<{ id: number; ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const replay = async (letter: DeadLetter) => {
    setBusy(letter.id);
    try {
      await client.post<DeadLetter>(service, `/dead-letters/${letter.id}/replay`);
      setOutcome({ id: letter.id, ok: true, text: `Dead letter ${letter.id} was replayed.` });
      letters.reload();
    } catch (error) {
      const text = error instanceof ApiError ? `${error.code}: ${error.message}` : (error as Error).message;
      setOutcome({ id: letter.id, ok: false, text: `Dead letter ${letter.id} was not replayed (${text}).` });
    } finally {
      setBusy(null);
    }
  };
  const forbidden = letters.error instanceof ApiError && letters.error.status === 403;
  const headingId = `dead-letters-${service}`;
  return (
    <section aria-labelledby={headingId} className="consumer">
      <h2 id={headingId}>{name}</h2>
      {forbidden ? (
        <p>A dead letter may hold any account’s event: only operator and auditor keys may list them.</p>
      ) : (
        <ErrorNote error={letters.error} what={`the dead letters of ${name.toLowerCase()}`} />
      )}
      {outcome && (
        <p role="status" className={outcome.ok ? 'ok' : 'error'}>
          {outcome.text}
        </p>
      )}
      {letters.value && letters.value.items.length === 0 && <p>None.</p>}
      {letters.value && letters.value.items.length > 0 && (
        <table className="letters">
          <caption className="visually-hidden">Dead letters of {name}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">Reason</th>
              <th scope="col">Detail</th>
              <th scope="col">Subject</th>
              <th scope="col">Deliveries</th>
              {canReplay && (
                <th scope="col">
                  <span className="visually-hidden">Replay</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {letters.value.items.map((letter) => (
              <tr key={letter.id} data-letter-id={letter.id}>
                <td>{letter.id}</td>
                <td>{formatInstant(letter.deadLetteredAt, true)}</td>
                <td>
                  <span className="badge badge-blocking">{letter.reason}</span>
                </td>
                <td className="detail">{letter.detail}</td>
                <td className="mono">{letter.subject}</td>
                <td>{letter.deliveries}</td>
                {canReplay && (
                  <td>
                    <button
                      type="button"
                      onClick={() => void replay(letter)}
                      disabled={busy !== null}
                      aria-label={`Replay dead letter ${letter.id}`}
                    >
                      {busy === letter.id ? 'Replaying…' : 'Replay'}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
