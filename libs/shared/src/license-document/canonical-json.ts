/**
 * The bytes a license document's signature covers: JSON with object keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers written as ECMAScript's JSON.stringify writes them. For plain JSON data this
 * is exactly the JSON Canonicalization Scheme (RFC 8785), so any JCS implementation reproduces the bytes.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} has no JSON representation`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item, i) => write(item, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object' && isPlainObject(value)) {
    const members = Object.keys(value)
      .sort(compareCodeUnits)
      .map((key) => `${JSON.stringify(key)}:${write((value as Record<string, unknown>)[key], `${path}.${key}`)}`);
    return `{${members.join(',')}}`;
  }
  // undefined, functions, symbols, bigints, Dates, Maps...: JSON.stringify would drop or convert them silently,
  // and a signature over silently changed data would verify something other than what the caller holds.
  throw new TypeError(`${path}: a ${describe(value)} is not plain JSON data`);
}

/** An object literal or JSON.parse result, from this realm or another (vm contexts, structuredClone in jest). */
function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as object | null;
  return (
    prototype === null ||
    (Object.getPrototypeOf(prototype) === null && Object.prototype.toString.call(value) === '[object Object]')
  );
}

/** RFC 8785 orders keys by their UTF-16 code units, which is what `<` on JavaScript strings compares. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null) return (value.constructor as { name?: string } | undefined)?.name ?? 'object';
  return typeof value;
}
