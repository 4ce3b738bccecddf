import { describe, expect, it } from 'vitest';
import { SubscriptionLedger } from './subscription-ledger.js';

describe('SubscriptionLedger', () => {
  it('tells the server on the first subscribe and the last unsubscribe only', () => {
    const ledger = new SubscriptionLedger<string>();
    expect(ledger.add('a', 'r://1')).toBe(true);
    expect(ledger.add('b', 'r://1')).toBe(false);
    expect(ledger.add('b', 'r://1')).toBe(false);
    expect(ledger.subscribers('r://1').sort()).toEqual(['a', 'b']);
    expect(ledger.heldByOthers('a', 'r://1')).toBe(true);
    expect(ledger.remove('a', 'r://1')).toBe(false);
    expect(ledger.heldByOthers('b', 'r://1')).toBe(false);
    expect(ledger.remove('a', 'r://1')).toBe(false);
    expect(ledger.remove('b', 'r://1')).toBe(true);
    expect(ledger.uris()).toEqual([]);
  });

  it('drops a subscriber and returns what nobody holds any more', () => {
    const ledger = new SubscriptionLedger<string>();
    ledger.add('a', 'r://1');
    ledger.add('a', 'r://2');
    ledger.add('b', 'r://2');
    expect(ledger.drop('a')).toEqual(['r://1']);
    expect(ledger.uris()).toEqual(['r://2']);
    expect(ledger.subscribers('r://2')).toEqual(['b']);
    expect(ledger.drop('nobody')).toEqual([]);
  });
});
