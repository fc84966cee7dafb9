/** Instants as the console shows them: UTC, to the minute (seconds when asked), so every operator reads the same time. */
export function formatInstant(iso: string | number | null, seconds = false): string {
  if (iso === null) return 'never';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const text = date.toISOString().replace('T', ' ');
  return `${seconds ? text.slice(0, 19) : text.slice(0, 16)} UTC`;
}

/** A date only: 2026-03-01. */
export function formatDate(iso: string | number): string {
  return new Date(iso).toISOString().slice(0, 10);
}

/** How an actor (an API key id) reads in the console. */
export function actorLabel(actor: string | null | undefined): string {
  if (actor === null || actor === undefined) return 'system';
  return actor === 'bootstrap-operator' ? 'bootstrap operator key' : `key ${actor.slice(0, 8)}`;
}
