import type { IncomingMessage } from 'node:http';
import { type HeaderNameSet, type ProblemDetails, RequestTargetError, canonicalizeRequestTarget } from '@edgekit/core';

/** How requests are admitted before any rule sees them. */
export interface IngressSettings {
  /** `;` parameters in paths: kept, or refused because servlet-style origins strip them before routing. */
  readonly pathParameters: 'keep' | 'refuse';
  /** Methods answered 501 at the edge (TRACE echoes credentials back, RFC 9110 §9.3.8). */
  readonly refusedMethods: ReadonlySet<string>;
  /** Header names answered 400: method and URL overrides some origin frameworks obey. */
  readonly refusedHeaders: HeaderNameSet;
  /** Header names that claim a client certificate: removed unless a trusted proxy set them. */
  readonly clientCertificateHeaders: HeaderNameSet;
}

/** A refusal at ingress: the answer and its extra headers. */
export interface IngressRefusal {
  readonly problem: ProblemDetails;
  readonly headers: Record<string, string>;
}

function hasLowerCase(method: string): boolean {
  for (let i = 0; i < method.length; i++) {
    const code = method.charCodeAt(i);
    if (code >= 97 && code <= 122) return true;
  }
  return false;
}

/**
 * Admits a request: refuses the methods the edge does not forward and the headers that would make
 * an origin act on another method or path (`X-HTTP-Method-Override`, `X-Original-URL`), then rewrites `req.url` to its
 * canonical form (absolute-form reduced to the path, dot segments removed after decoding, `//`
 * merged) so that every rule after this point (operator endpoints, auth, limits, cache routes,
 * region selection, upgrades) matches the path the origin receives. A target that cannot be given
 * one meaning is refused with 400 and reaches no rule and no origin.
 */
export function admitRequest(req: IncomingMessage, settings: IngressSettings): IngressRefusal | undefined {
  const method = req.method ?? 'GET';
  // Node's HTTP/1 parser admits only upper-case methods, its HTTP/2 server any token. Rules (and
  // `refusedMethods`) compare methods exactly, as RFC 9110 §9.1 says, but origins that compare them
  // ignoring case would run `post` as a POST no rule saw: such a method is not forwarded.
  if (req.httpVersionMajor === 2 && hasLowerCase(method)) {
    return { problem: { title: 'Not Implemented', status: 501, detail: 'a method with lower-case letters is not served by this gateway' }, headers: {} };
  }
  if (settings.refusedMethods.has(method)) {
    return {
      problem: { title: 'Not Implemented', status: 501, detail: `the ${method} method is not served by this gateway` },
      headers: {},
    };
  }
  const refused = settings.refusedHeaders.firstIn(req.rawHeaders);
  if (refused !== undefined) {
    return {
      problem: { title: 'Bad Request', status: 400, detail: `the ${refused} header is not accepted: route rules apply to the request's own method and path` },
      headers: {},
    };
  }
  try {
    const canonical = canonicalizeRequestTarget(req.url ?? '/', { method, pathParameters: settings.pathParameters });
    if (canonical.form === 'asterisk' || canonical.form === 'authority') {
      return { problem: { title: 'Bad Request', status: 400, detail: `a ${canonical.form}-form request target is not forwarded` }, headers: {} };
    }
    if (canonical.target !== req.url) req.url = canonical.target;
    return undefined;
  } catch (error) {
    if (error instanceof RequestTargetError) return { problem: error.problem, headers: {} };
    throw error;
  }
}

/** The path of a canonical `req.url` (without its query). */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
