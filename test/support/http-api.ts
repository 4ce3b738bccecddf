/** Calls to the project's JSON HTTP APIs (agent, controller) as a client with a bearer token. */

export interface Answer {
  status: number;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
  text: string;
  headers: Headers;
}

/** `body` goes as JSON, or as it is when it is a string (for malformed-input tests); a null token sends none. */
export async function callApi(base: string | URL, token: string | null, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(new URL(path, base), {
    method,
    headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, headers: response.headers };
}
