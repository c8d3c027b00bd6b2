import { describe, expect, it } from 'vitest';
import { RepeatFilter } from '../../core/repeat-filter.ts';

describe('RepeatFilter', () => {
  it('lets the first line through, holds back repeats inside the window, and reports how many it held', () => {
    let now = 1_000;
    const f = new RepeatFilter(30_000, () => now);
    expect(f.admit('down')).toBe(0);
    for (let i = 0; i < 31; i++) expect(f.admit('down')).toBeUndefined();
    now += 29_999;
    expect(f.admit('down')).toBeUndefined();
    now += 1;
    expect(f.admit('down')).toBe(32);
    expect(f.admit('down')).toBeUndefined();
  });

  it('keeps different lines apart', () => {
    const f = new RepeatFilter(30_000, () => 0);
    expect(f.admit('a')).toBe(0);
    expect(f.admit('b')).toBe(0);
    expect(f.admit('a')).toBeUndefined();
    expect(f.admit('b')).toBeUndefined();
  });

  it('forgets the oldest line past its bound, so memory stays bounded and that line logs again', () => {
    const f = new RepeatFilter(30_000, () => 0, 2);
    f.admit('a');
    f.admit('b');
    f.admit('c');
    expect(f.admit('a')).toBe(0);
    expect(f.admit('c')).toBeUndefined();
  });
});
