import { expect } from 'vitest';
import { McpWarmError } from '../../runner/errors.js';

/** The coded error a promise rejects with (the test fails if it resolves or rejects otherwise). */
export async function caught(promise: Promise<unknown>): Promise<McpWarmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(McpWarmError);
    return error as McpWarmError;
  }
  throw new Error('expected a rejection');
}
