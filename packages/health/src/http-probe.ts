import type { ConnectionOptions } from 'node:tls';
import { EdgekitError, describeValue } from '@edgekit/core';
import { Agent, type Dispatcher } from 'undici';
import { HealthCheckError } from './errors.js';
import { type CompiledExpectation, statusAccepted } from './expect.js';

/** Settings of the built-in HTTP probe, resolved by the checker. */
export interface HttpProbeSettings {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  expectation: CompiledExpectation;
  maxBodyBytes: number;
  keepAliveTimeout: number;
  connections: number;
}

/** Where one target is probed: `origin` plus the full request path. */
export interface HttpProbeTarget {
  readonly name: string;
  readonly origin: string;
  readonly path: string;
  /** TLS options of an `https:` target with its own settings, and their identity (one agent each). */
  readonly tls?: ConnectionOptions;
  readonly tlsKey?: string;
}

/**
 * Probes targets over HTTP with one small keep-alive undici `Agent` shared by every target. The
 * agent is created on first use; request timeouts are the checker's business (through `signal`),
 * so undici's own header and body timers are disabled.
 */
export class HttpProber {
  readonly #settings: HttpProbeSettings;
  #agent: Agent | undefined;
  /** Agents of targets with their own TLS settings, by {@link HttpProbeTarget.tlsKey}. */
  readonly #tlsAgents = new Map<string, Agent>();

  constructor(settings: HttpProbeSettings) {
    this.#settings = settings;
  }

  /** Resolves with the status when the target passes; rejects with the reason it does not. */
  async probe(target: HttpProbeTarget, signal: AbortSignal): Promise<number> {
    const settings = this.#settings;
    const response = await this.#agentOf(target).request({
      origin: target.origin,
      path: target.path,
      method: settings.method,
      headers: settings.headers,
      signal,
    });
    const { statusCode, body } = response;
    const expectation = settings.expectation;
    if (!statusAccepted(expectation, statusCode)) {
      await body.dump().catch(ignore);
      throw new HealthCheckError('EBADSTATUS', `${target.name}: status ${statusCode} is not one of ${expectation.description}`, { target: target.name, status: statusCode });
    }
    if (expectation.body === undefined) {
      // Reads what is left so the keep-alive connection can be reused.
      await body.dump();
      return statusCode;
    }
    const text = await readLimited(target.name, body, settings.maxBodyBytes, statusCode);
    let passed: boolean;
    try {
      passed = (await expectation.body(text, { status: statusCode, headers: response.headers })) === true;
    } catch (error) {
      throw new HealthCheckError('EBADBODY', `${target.name}: expect.body threw: ${messageOf(error)}`, { target: target.name, cause: error, status: statusCode });
    }
    if (!passed) throw new HealthCheckError('EBADBODY', `${target.name}: expect.body rejected the response body`, { target: target.name, status: statusCode });
    return statusCode;
  }

  #agentOf(target: HttpProbeTarget): Agent {
    const key = target.tlsKey;
    if (key === undefined) return (this.#agent ??= this.#newAgent(undefined));
    let agent = this.#tlsAgents.get(key);
    if (agent === undefined) {
      // undici sends each origin's own host name by SNI unless `servername` fixes one.
      agent = this.#newAgent(target.tls);
      this.#tlsAgents.set(key, agent);
    }
    return agent;
  }

  #newAgent(tls: ConnectionOptions | undefined): Agent {
    const settings = this.#settings;
    return new Agent({
      keepAliveTimeout: settings.keepAliveTimeout,
      connections: settings.connections,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(tls !== undefined && { connect: tls as Agent.Options['connect'] }),
    });
  }

  /** Destroys the agents and their sockets; probes in flight must already be aborted. */
  async close(): Promise<void> {
    const agents = [this.#agent, ...this.#tlsAgents.values()];
    this.#agent = undefined;
    this.#tlsAgents.clear();
    await Promise.all(agents.map((agent) => (agent !== undefined && !agent.destroyed ? agent.destroy() : undefined)));
  }
}

async function readLimited(name: string, body: Dispatcher.ResponseData['body'], limit: number, status: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw new HealthCheckError('EBADBODY', `${name}: response body exceeds maxBodyBytes (${limit})`, { target: name, status });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function ignore(): void {}

/** The message of an error-like value, for error messages and `reason` strings. */
export function messageOf(error: unknown): string {
  if (error instanceof EdgekitError) return error.message;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

// Header names are RFC 9110 tokens; values carry no CR, LF or NUL (they would split the request).
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

/** Checks the `headers` option: RFC 9110 names, values a request line cannot be split by; names lower-cased. */
export function checkHeaders(scope: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${scope}: option "headers" must be an object of strings (got ${describeValue(value)})`);
  }
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value)) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`${scope}: option "headers" has an invalid header name ${describeValue(name)}`);
    if (typeof headerValue !== 'string' || HEADER_VALUE_FORBIDDEN.test(headerValue)) {
      throw new TypeError(`${scope}: option "headers[${JSON.stringify(name)}]" must be a string without CR, LF or NUL (got ${describeValue(headerValue)})`);
    }
    headers[name.toLowerCase()] = headerValue;
  }
  return headers;
}
