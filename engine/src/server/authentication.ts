// Authentication at the gRPC edge: every call's bearer key is checked before its handler runs, and
// the principal it stands for is kept with the call for the handler's per-space checks. Forwarded
// calls carry the client's own key, so the owning engine checks it again.
import type * as grpc from '@grpc/grpc-js';
import { checkMethod } from '../auth/access.js';
import { AUTHORIZATION_HEADER, parseBearer, type Principal } from '../auth/credentials.js';
import type { KeySource } from '../auth/key-source.js';
import { EngramError } from '../errors.js';

export interface Authenticator {
  /** The caller of a method, or an UNAUTHENTICATED / PERMISSION_DENIED EngramError. */
  authorize(metadata: grpc.Metadata, method: string): Principal;
  /**
   * Holds an open stream to its key: `end` is called (once) when the key is revoked, replaced or
   * expires. Returns what stops the watch (call it when the stream ends).
   */
  watch(principal: Principal, end: (why: EngramError) => void): () => void;
  close(): void;
}

/** `--insecure`: every caller may do everything. */
export const INSECURE: Authenticator = { authorize: () => ({ kind: 'insecure' }), watch: () => () => undefined, close: () => undefined };

/** How often open streams are held to the keys in force (revocation and expiry reach them within this). */
export const STREAM_KEY_CHECK_MS = 1000;

export function keyAuthenticator(keys: KeySource, now: () => number = Date.now): Authenticator {
  const open = new Map<object, { principal: Principal; end: (why: EngramError) => void }>();
  const timer = setInterval(() => {
    for (const [token, stream] of open) {
      const lapsed = keys.credentials.lapsed(stream.principal, now());
      if (!lapsed) continue;
      open.delete(token);
      stream.end(lapsed);
    }
  }, STREAM_KEY_CHECK_MS);
  timer.unref();
  return {
    authorize(metadata, method) {
      const principal = keys.credentials.authenticate(bearerToken(metadata), now());
      checkMethod(principal, method);
      return principal;
    },
    watch(principal, end) {
      const token = {};
      open.set(token, { principal, end });
      return () => open.delete(token);
    },
    close: () => clearInterval(timer),
  };
}

/** The token of an `authorization: Bearer <token>` header, or null when there is none. */
export function bearerToken(metadata: grpc.Metadata): string | null {
  const values = metadata.get(AUTHORIZATION_HEADER);
  if (values.length === 0) return null;
  if (values.length > 1) throw new EngramError('CREDENTIALS_INVALID', 'send one authorization header, not several');
  return parseBearer(String(values[0]));
}

const principals = new WeakMap<object, Principal>();

export function rememberPrincipal(call: object, principal: Principal): void {
  principals.set(call, principal);
}

/** The principal the edge authenticated for this call. */
export function principalOf(call: object): Principal {
  const principal = principals.get(call);
  if (!principal) throw new EngramError('INTERNAL', 'call reached its handler without authentication');
  return principal;
}

/** The caller's authorization header, for a call this engine makes on its behalf (forwarding). */
export function callerAuthorization(call: { metadata: grpc.Metadata }): string | null {
  const values = call.metadata.get(AUTHORIZATION_HEADER);
  return values.length === 1 ? String(values[0]) : null;
}
