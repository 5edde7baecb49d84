import { describe, expect, it } from 'vitest';
import { toCsv } from './csv.ts';

describe('toCsv', () => {
  it('quotes fields with commas, quotes and line breaks; null is empty', () => {
    expect(toCsv(['a', 'b'], [['x,y', 'say "hi"'], [null, 'two\nlines'], [1.5, true]])).toBe(
      'a,b\r\n"x,y","say ""hi"""\r\n,"two\nlines"\r\n1.5,true\r\n',
    );
  });

  it('ends lines with LF when asked (the KPI CSV)', () => {
    expect(toCsv(['a', 'b'], [['x', null], ['two\r\nlines', 2]], '\n')).toBe('a,b\nx,\n"two\r\nlines",2\n');
  });
});
