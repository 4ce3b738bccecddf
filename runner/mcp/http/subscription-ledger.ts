/**
 * Who subscribed to which resource on one MCP server. A stdio server keeps one set of
 * subscriptions for its process, so when sessions share it, the server is told to subscribe when
 * the first subscriber comes and to unsubscribe only when the last one goes; meanwhile the
 * server's `resources/updated` go to the subscribers alone.
 */
export class SubscriptionLedger<S> {
  private readonly byUri = new Map<string, Set<S>>();

  /** True when nobody held `uri` before: the server must be told. */
  add(subscriber: S, uri: string): boolean {
    const holders = this.byUri.get(uri);
    if (holders) {
      holders.add(subscriber);
      return false;
    }
    this.byUri.set(uri, new Set([subscriber]));
    return true;
  }

  /** True when `subscriber` was the last holder of `uri`: the server must be told. */
  remove(subscriber: S, uri: string): boolean {
    const holders = this.byUri.get(uri);
    if (!holders?.delete(subscriber)) return false;
    if (holders.size > 0) return false;
    this.byUri.delete(uri);
    return true;
  }

  /** Whether someone other than `subscriber` holds `uri`. */
  heldByOthers(subscriber: S, uri: string): boolean {
    const holders = this.byUri.get(uri);
    return holders !== undefined && [...holders].some((holder) => holder !== subscriber);
  }

  /** Forgets every subscription of `subscriber`; returns the URIs nobody holds any more. */
  drop(subscriber: S): string[] {
    return this.uris().filter((uri) => this.byUri.get(uri)!.has(subscriber) && this.remove(subscriber, uri));
  }

  subscribers(uri: string): S[] {
    return [...(this.byUri.get(uri) ?? [])];
  }

  /** Every URI someone holds: what a restarted server must be subscribed to again. */
  uris(): string[] {
    return [...this.byUri.keys()];
  }
}
