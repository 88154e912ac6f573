import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Attributes, TextMapGetter } from '@opentelemetry/api';

// OpenTelemetry HTTP semantic conventions (stable since semconv 1.23).
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_URL_SCHEME = 'url.scheme';
export const ATTR_URL_FULL = 'url.full';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original';
export const ATTR_ERROR_TYPE = 'error.type';

/** Methods the semantic conventions know; any other is reported as `_OTHER`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Sets `http.request.method` (and `_original` for unknown methods); returns the span name. */
export function setMethod(attributes: Attributes, method: string): string {
  if (KNOWN_METHODS.has(method)) {
    attributes[ATTR_HTTP_REQUEST_METHOD] = method;
    return method;
  }
  attributes[ATTR_HTTP_REQUEST_METHOD] = '_OTHER';
  attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = method;
  return 'HTTP';
}

/** The path of a request target, without the query (origin-form or absolute-form). */
export function pathOf(target: string): string {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (RFC 9112 §3.2.2): skip scheme and authority.
    const scheme = target.indexOf('://');
    if (scheme === -1) return target === '*' ? '*' : '/';
    const slash = target.indexOf('/', scheme + 3);
    if (slash === -1) return '/';
    start = slash;
  }
  const query = target.indexOf('?', start);
  const fragment = target.indexOf('#', start);
  let end = target.length;
  if (query !== -1) end = query;
  if (fragment !== -1 && fragment < end) end = fragment;
  return target.slice(start, end);
}

/** Host and port of a `Host` header value (`example.com:8080`, `[::1]:80`). */
export function parseHost(host: string): { address: string; port: number | undefined } {
  let address = host;
  let portText: string | undefined;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    address = close === -1 ? host : host.slice(1, close);
    if (close !== -1 && host.charCodeAt(close + 1) === 58 /* : */) portText = host.slice(close + 2);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) {
      address = host.slice(0, colon);
      portText = host.slice(colon + 1);
    }
  }
  const port = portText === undefined ? undefined : Number(portText);
  return { address, port: port !== undefined && Number.isInteger(port) && port > 0 && port < 65_536 ? port : undefined };
}

/** ASCII lower case of a header name, without allocating when it is lower case already. */
function lower(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return name.toLowerCase();
  }
  return name;
}

/**
 * Reads fields from Node's `rawHeaders` (name, value, name, value, ...): `req.headers` is built
 * lazily by Node on first access, and the forwarder never needs it, so tracing must not build it.
 */
export const rawHeadersGetter: TextMapGetter<readonly string[]> = {
  get(raw, key) {
    const wanted = lower(key);
    let found: string | string[] | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length !== wanted.length || lower(name) !== wanted) continue;
      const value = raw[i + 1]!;
      found = found === undefined ? value : Array.isArray(found) ? [...found, value] : [found, value];
    }
    return found;
  },
  keys(raw) {
    const names: string[] = [];
    for (let i = 0; i < raw.length; i += 2) names.push(lower(raw[i]!));
    return names;
  },
};

/** Server-span name and attributes of an incoming request, the edge attributes first. */
export function serverAttributes(req: IncomingMessage, location: string, nodeId: string): { name: string; attributes: Attributes } {
  const encrypted = (req.socket as TLSSocket | undefined)?.encrypted === true;
  // One literal, keys in a fixed order: every server span's attributes share one shape.
  const attributes: Attributes = {
    edge_location: location,
    edge_node_id: nodeId,
    [ATTR_HTTP_REQUEST_METHOD]: '',
    [ATTR_URL_SCHEME]: encrypted ? 'https' : 'http',
    [ATTR_URL_PATH]: pathOf(req.url ?? '/'),
    [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersionMajor === 2 ? '2' : (req.httpVersion ?? '1.1'),
  };
  const name = setMethod(attributes, req.method ?? 'GET');
  let host: string | undefined;
  let userAgent: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const field = raw[i]!;
    if (field.length === 4 && host === undefined && lower(field) === 'host') host = raw[i + 1];
    else if (field.length === 10 && userAgent === undefined && lower(field) === 'user-agent') userAgent = raw[i + 1];
  }
  if (host !== undefined && host !== '') {
    const { address, port } = parseHost(host);
    attributes[ATTR_SERVER_ADDRESS] = address;
    attributes[ATTR_SERVER_PORT] = port ?? (encrypted ? 443 : 80);
  }
  if (userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
  return { name, attributes };
}

/** Address, port and scheme of an upstream origin, parsed once per origin. */
export interface OriginParts {
  address: string;
  port: number;
  scheme: string;
}

export function parseOrigin(origin: string): OriginParts {
  const url = new URL(origin);
  const scheme = url.protocol.slice(0, -1);
  const address = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { address, port: url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port), scheme };
}

/** `error.type` of a failure: its `code` when it has one, else its class name. */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return code;
  const name = (error as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : '_OTHER';
}
