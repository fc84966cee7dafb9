import { describe, expect, it } from '@jest/globals';
import { PlainText, hasControlCharacter } from './text.js';

describe('PlainText', () => {
  const name = PlainText({ max: 10 });

  it.each([['NSA 2700'], ['Zoë’s fw'], ['x'], ['ä'.repeat(10)], ['~!@#$%^&*']])('accepts %j', (text) => {
    expect(name.safeParse(text)).toEqual({ success: true, data: text });
  });

  it.each([
    ['a NUL', 'a\u0000b', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['U+0001', '\u0001', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['a tab', 'a\tb', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['a line feed', 'a\nb', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['a carriage return', 'a\rb', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['an escape', '\u001b[31m', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['U+001F', 'a\u001f', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['DEL', 'a\u007f', 'must not contain control characters (U+0000-U+001F, U+007F)'],
    ['nothing', '', 'must not be empty'],
    ['too much', 'x'.repeat(11), 'must be at most 10 characters'],
  ])('refuses %s', (_, text, message) => {
    const result = name.safeParse(text);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message)).toEqual([message]);
  });

  it('says where the control character is when used in an object', () => {
    const result = PlainText({ max: 5 }).array().safeParse(['ok', 'n\u0000']);
    expect(result.error?.issues.map((i) => i.path)).toEqual([[1]]);
  });
});

describe('hasControlCharacter', () => {
  it('is true exactly for U+0000-U+001F and U+007F', () => {
    const flagged = Array.from({ length: 0x100 }, (_, code) => code).filter((code) =>
      hasControlCharacter(`a${String.fromCharCode(code)}b`),
    );
    expect(flagged).toEqual([...Array.from({ length: 0x20 }, (_, code) => code), 0x7f]);
  });
});
