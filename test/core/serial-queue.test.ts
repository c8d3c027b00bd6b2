import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../core/serial-queue.ts';

describe('SerialQueue', () => {
  it('runs tasks one at a time in order, and a failure does not stop the next', async () => {
    const q = new SerialQueue();
    const events: string[] = [];
    let running = 0;
    const task = (name: string, ms: number, fail = false) => async () => {
      running++;
      expect(running).toBe(1);
      events.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`end ${name}`);
      running--;
      if (fail) throw new Error(`${name} failed`);
      return name;
    };
    const a = q.run(task('a', 20));
    const b = q.run(task('b', 5, true));
    const c = q.run(task('c', 1));
    await expect(a).resolves.toBe('a');
    await expect(b).rejects.toThrow('b failed');
    await expect(c).resolves.toBe('c');
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });
});
