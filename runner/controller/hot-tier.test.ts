import { describe, expect, it } from 'vitest';
import { HotTier, parseHotSpec } from './hot-tier.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('parseHotSpec', () => {
  it.each([
    ['127.0.0.1:5000/mcp/fixture:1=2', { image: '127.0.0.1:5000/mcp/fixture:1', min: 2, max: 2 }],
    ['app@sha256:' + 'a'.repeat(64) + '=1:3', { image: 'app@sha256:' + 'a'.repeat(64), min: 1, max: 3 }],
  ])('reads %s', (spec, expected) => expect(parseHotSpec(spec)).toEqual(expected));

  it.each(['image', 'image=0', 'image=3:2', '=1'])('refuses %s', (spec) =>
    expect(() => parseHotSpec(spec)).toThrowError(expect.objectContaining({ code: 'USAGE_INVALID' })));
});

describe('HotTier', () => {
  it('keeps min instances per image and replaces what is taken', async () => {
    let made = 0;
    const tier = new HotTier([{ image: 'a', min: 2, max: 3 }], async (image) => `${image}-${++made}`, () => undefined);
    tier.refill();
    expect(tier.status()).toEqual([{ image: 'a', ready: 0, making: 2, min: 2, max: 3 }]);
    await flush();
    expect(tier.status()[0]).toMatchObject({ ready: 2, making: 0 });
    expect(tier.take('a')).toBe('a-1');
    expect(tier.take('unknown')).toBeUndefined();
    await flush();
    expect(tier.status()[0]).toMatchObject({ ready: 2, making: 0 });
    expect(made).toBe(3);
  });

  it('reports a failed attempt and tries again on the next refill', async () => {
    const errors: string[] = [];
    let fail = true;
    const tier = new HotTier([{ image: 'b', min: 1, max: 1 }], async () => {
      if (fail) throw new Error('no runner');
      return 'ok';
    }, (image, error) => errors.push(`${image}: ${(error as Error).message}`));
    tier.refill();
    await flush();
    expect(errors).toEqual(['b: no runner']);
    fail = false;
    tier.refill();
    await flush();
    expect(tier.take('b')).toBe('ok');
  });

  it('takes a bad instance off its shelf and replaces it', async () => {
    let made = 0;
    const tier = new HotTier([{ image: 'd', min: 1, max: 1 }], async () => ({ n: ++made }), () => undefined);
    tier.refill();
    await flush();
    const [first] = tier.shelved();
    expect(tier.remove(first!)).toBe(true);
    expect(tier.remove(first!)).toBe(false);
    await flush();
    expect(tier.shelved()).toEqual([{ n: 2 }]);
  });

  it('adopts instances an earlier controller made, up to max, for configured images only', () => {
    const tier = new HotTier([{ image: 'e', min: 1, max: 2 }], async () => 'new', () => undefined);
    expect(tier.adopt('e', 'old-1')).toBe(true);
    expect(tier.adopt('e', 'old-2')).toBe(true);
    expect(tier.adopt('e', 'old-3')).toBe(false);
    expect(tier.adopt('other', 'old-4')).toBe(false);
    tier.refill();
    expect(tier.status()[0]).toMatchObject({ ready: 2, making: 0 });
    expect(tier.take('e')).toBe('old-1');
  });

  it('hands back ready instances when stopped and makes no more', async () => {
    const tier = new HotTier([{ image: 'c', min: 1, max: 1 }], async () => 'x', () => undefined);
    tier.refill();
    await flush();
    expect(await tier.stop()).toEqual(['x']);
    tier.refill();
    expect(tier.status()[0]).toMatchObject({ ready: 0, making: 0 });
  });

  it('cancels the instances being made when stopped, and waits until they gave up', async () => {
    const errors: unknown[] = [];
    const signals: AbortSignal[] = [];
    let givenUp = 0;
    const tier = new HotTier(
      [{ image: 'f', min: 2, max: 2 }],
      (_image, signal) => {
        signals.push(signal);
        return new Promise<string>((_, reject) =>
          signal.addEventListener('abort', () => setImmediate(() => {
            givenUp += 1;
            reject(signal.reason);
          })),
        );
      },
      (_image, error) => errors.push(error),
    );
    tier.refill();
    expect(tier.status()[0]).toMatchObject({ making: 2 });
    expect(signals.every((signal) => !signal.aborted)).toBe(true);
    expect(await tier.stop()).toEqual([]);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    expect(givenUp).toBe(2);
    expect(tier.status()[0]).toMatchObject({ ready: 0, making: 0 });
    // A cancelled instance is not a failure worth reporting.
    expect(errors).toEqual([]);
  });

  it('hands back an instance that was finished as it was cancelled', async () => {
    let finish: (value: string) => void = () => undefined;
    const tier = new HotTier([{ image: 'g', min: 1, max: 1 }], () => new Promise<string>((resolve) => (finish = resolve)), () => undefined);
    tier.refill();
    const stopped = tier.stop();
    finish('late');
    expect(await stopped).toEqual(['late']);
  });
});
