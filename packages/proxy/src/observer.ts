import type { IncomingMessage } from 'node:http';
import type { EndpointChoice } from './endpoint-dispatcher.js';
import type { AbortEvent, AttemptEvent, DecisionEvent, ErrorEvent, ResponseEvent } from './events.js';

/** A network attempt as a {@link RequestObserver} sees it: the `attempt` event plus where it goes. */
export interface AttemptStart extends AttemptEvent {
  method: string;
  /** Origin of the region URL (`http://eu.internal:8080`). */
  origin: string;
  /** Path and query sent upstream, region base path included. */
  path: string;
}

/** How a network attempt ended, for {@link AttemptObserver.end}. */
export interface AttemptEnd {
  /** The upstream status, `0` when no response headers arrived. */
  status: number;
  /**
   * - `complete`: the response was relayed whole;
   * - `failed`: the attempt failed (connection, timeout, reset, a body that broke mid-stream);
   * - `cancelled`: dropped by the forwarder (a retryable status before failover, a lost hedge race, the client gone).
   */
  outcome: 'complete' | 'failed' | 'cancelled';
  /** The failure, for `failed`. */
  error: unknown;
  /** For a region with endpoints: the endpoint this attempt went to and why; `undefined` otherwise or when none was picked. */
  endpoint: EndpointChoice | undefined;
}

/** What a {@link RequestObserver} hands back for one attempt. */
export interface AttemptObserver {
  /**
   * Header fields set on this attempt's upstream request, replacing fields of the same name (e.g.
   * `traceparent`); a field given as `undefined` is removed.
   */
  headers?: Readonly<Record<string, string | undefined>>;
  /** Called exactly once when the attempt ends. */
  end?(end: AttemptEnd): void;
}

/** How a request ended, for {@link RequestObserver.end}: the payload of the matching event. */
export type RequestEnd =
  | { type: 'response'; event: ResponseEvent }
  | { type: 'error'; event: ErrorEvent }
  | { type: 'abort'; event: AbortEvent };

/**
 * Hears one request (tracing, per-request metrics): unlike the forwarder's events, every call
 * belongs to the request the observer was made for. Every member is optional; a member that
 * throws is reported with `process.emitWarning` and never breaks forwarding.
 */
export interface RequestObserver {
  /** The routing decision (the `decision` event's payload). */
  decision?(event: DecisionEvent): void;
  /** A network attempt is starting; may return header fields for it and a callback for its end. */
  attempt?(start: AttemptStart): AttemptObserver | undefined | void;
  /** The request ended; called at most once. */
  end?(end: RequestEnd): void;
}

/** Given to `forwarder.observe`: called as each request starts; returns its observer, or `undefined` to skip it. */
export type RequestObserverFactory = (req: IncomingMessage) => RequestObserver | undefined;

/** Reports a throwing observer the way `TypedEmitter` reports a throwing listener. */
export function reportObserverError(error: unknown, member: string): void {
  const err = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(err, { code: 'EDGEKIT_LISTENER_ERROR', detail: `request observer "${member}" threw` });
}

/** A copy of an upstream header list with `fields` set, replacing same-named fields (case-insensitive); `undefined` removes. */
export function withHeaderFields(headers: readonly string[], fields: Readonly<Record<string, string | undefined>>): string[] {
  const names = Object.keys(fields);
  const lower = names.map((n) => n.toLowerCase());
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    let replaced = false;
    // Lengths first: most fields cannot match, and lower-casing them would allocate.
    for (let j = 0; j < lower.length && !replaced; j++) replaced = name.length === lower[j]!.length && name.toLowerCase() === lower[j];
    if (!replaced) out.push(name, headers[i + 1]!);
  }
  for (let i = 0; i < names.length; i++) {
    const value = fields[names[i]!];
    if (value !== undefined) out.push(lower[i]!, value);
  }
  return out;
}

/** Tells each request observer of the routing decision. */
export function observeDecision(observers: readonly RequestObserver[], event: DecisionEvent): void {
  // One loop per member, each calling it by name: the call site stays monomorphic per observer class.
  for (let i = 0; i < observers.length; i++) {
    const observer = observers[i]!;
    if (observer.decision === undefined) continue;
    try {
      observer.decision(event);
    } catch (error) {
      reportObserverError(error, 'decision');
    }
  }
}

/** Tells each request observer how the request ended. */
export function observeEnd(observers: readonly RequestObserver[], end: RequestEnd): void {
  for (let i = 0; i < observers.length; i++) {
    const observer = observers[i]!;
    if (observer.end === undefined) continue;
    try {
      observer.end(end);
    } catch (error) {
      reportObserverError(error, 'end');
    }
  }
}

/**
 * Tells each request observer an attempt starts: the header list for the attempt (`headers` with
 * the observers' fields set) and the handles that want to hear how it ends.
 */
export function observeAttempt(
  observers: readonly RequestObserver[],
  start: AttemptStart,
  headers: string[],
): { headers: string[]; handles: AttemptObserver[] | undefined } {
  let handles: AttemptObserver[] | undefined;
  for (const observer of observers) {
    let handle: AttemptObserver | undefined | void;
    try {
      handle = observer.attempt?.(start);
      if (handle?.headers !== undefined) headers = withHeaderFields(headers, handle.headers);
    } catch (error) {
      reportObserverError(error, 'attempt');
    }
    if (handle != null) (handles ??= []).push(handle);
  }
  return { headers, handles };
}
