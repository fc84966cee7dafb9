import { z } from 'zod';

/** Whether a string holds a C0 control character (U+0000–U+001F) or DEL (U+007F). */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * The one building block for free text in a request body or query (a name, a model, a SKU): a string of
 * `min`-`max` characters without control characters (U+0000–U+001F, U+007F), each refused with a message
 * naming the field. PostgreSQL cannot store U+0000 in text (a NUL in a key's name was a 500), and the others
 * (line breaks, escapes) have no place in a one-line label that logs and terminals print.
 */
export function PlainText(bounds: { readonly min?: number; readonly max: number }) {
  const min = bounds.min ?? 1;
  return z
    .string()
    .min(min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`)
    .max(bounds.max, `must be at most ${bounds.max} characters`)
    .refine((text) => !hasControlCharacter(text), 'must not contain control characters (U+0000-U+001F, U+007F)');
}
