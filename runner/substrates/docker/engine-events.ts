/**
 * The engine's event stream (GET /events): one JSON object per line, cut anywhere by the chunks
 * it arrives in. What the substrate needs from it: the containers that died.
 */

/** Splits the stream into whole lines, keeping a cut line until its end arrives. */
export class EventLines {
  private partial = '';

  push(chunk: Buffer | string): string[] {
    const lines = (this.partial + chunk.toString()).split('\n');
    this.partial = lines.pop() ?? '';
    return lines.filter((line) => line.trim() !== '');
  }
}

/** The id of the container an event line says died (or was destroyed), if it says so. */
export function endedContainer(line: string): string | undefined {
  try {
    const event = JSON.parse(line) as { Type?: unknown; Action?: unknown; id?: unknown; Actor?: { ID?: unknown } };
    if (event.Type !== 'container' || (event.Action !== 'die' && event.Action !== 'destroy')) return undefined;
    const id = event.Actor?.ID ?? event.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}
