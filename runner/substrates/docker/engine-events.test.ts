import { describe, expect, it } from 'vitest';
import { endedContainer, EventLines } from './engine-events.js';

const ID = 'a'.repeat(64);
const die = JSON.stringify({ status: 'die', id: ID, Type: 'container', Action: 'die', Actor: { ID, Attributes: { exitCode: '137' } } });

describe('EventLines', () => {
  it('gives whole lines, keeping one cut by a chunk until its end arrives', () => {
    const lines = new EventLines();
    expect(lines.push(`${die}\n${die.slice(0, 20)}`)).toEqual([die]);
    expect(lines.push(`${die.slice(20)}\n\n`)).toEqual([die]);
    expect(lines.push(Buffer.from(''))).toEqual([]);
  });
});

describe('endedContainer', () => {
  it('names the container of a die or destroy event, and nothing else', () => {
    expect(endedContainer(die)).toBe(ID);
    expect(endedContainer(JSON.stringify({ Type: 'container', Action: 'destroy', Actor: { ID } }))).toBe(ID);
    expect(endedContainer(JSON.stringify({ Type: 'container', Action: 'start', Actor: { ID } }))).toBeUndefined();
    expect(endedContainer(JSON.stringify({ Type: 'image', Action: 'delete', Actor: { ID } }))).toBeUndefined();
    expect(endedContainer('not json')).toBeUndefined();
  });
});
