/**
 * The controller's live activations, and why recent ones ended, so a request for one that ended
 * hears why (its server exited, its runner was lost, its lease lapsed) rather than a bare "not
 * found". Ending is first come, first served: whoever ends an activation first does the cleanup.
 */
import { McpWarmError } from '../errors.js';

export type EndReason = 'deleted' | 'lease-expired' | 'runner-lost' | 'server-exited';

const WHY: Record<EndReason, string> = {
  deleted: 'it was deleted',
  'lease-expired': 'its lease lapsed',
  'runner-lost': 'its runner went away',
  'server-exited': 'its MCP server exited',
};

export class ActivationRegistry<A extends { activationId: string; runner: string }> {
  private readonly live = new Map<string, A>();
  private readonly ended = new Map<string, EndReason>();

  /** `rememberEnded`: how many ended activations keep their reason (oldest forgotten first). */
  constructor(private readonly rememberEnded = 1000) {}

  add(activation: A): void {
    this.live.set(activation.activationId, activation);
  }

  list(): A[] {
    return [...this.live.values()];
  }

  has(activationId: string): boolean {
    return this.live.has(activationId);
  }

  /** Whether this registry ended the activation (and still remembers it). */
  hasEnded(activationId: string): boolean {
    return this.ended.has(activationId);
  }

  onRunner(runnerId: string): A | undefined {
    for (const activation of this.live.values()) if (activation.runner === runnerId) return activation;
    return undefined;
  }

  /** The live activation, or INSTANCE_NOT_FOUND (with the reason when it ended recently). */
  get(activationId: string): A {
    const activation = this.live.get(activationId);
    if (activation) return activation;
    const reason = this.ended.get(activationId);
    throw new McpWarmError('INSTANCE_NOT_FOUND', reason ? `activation ${activationId} has ended: ${WHY[reason]}` : `no activation ${activationId}`, {
      details: { activationId, ...(reason ? { ended: reason } : {}) },
    });
  }

  /** Removes a live activation and remembers why; false when it was not live (ended by someone else first). */
  end(activationId: string, reason: EndReason): boolean {
    if (!this.live.delete(activationId)) return false;
    this.ended.set(activationId, reason);
    for (const oldest of this.ended.keys()) {
      if (this.ended.size <= this.rememberEnded) break;
      this.ended.delete(oldest);
    }
    return true;
  }
}
