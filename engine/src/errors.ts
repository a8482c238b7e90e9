// One catalogue of engine errors. Each code is stable (callers and tests match on it, never on the
// message) and maps to exactly one gRPC status; the cause, when there is one, is kept.
import { status as GrpcStatus } from '@grpc/grpc-js';

export const ErrorCodes = {
  // request validation
  INVALID_SPACE_ID: GrpcStatus.INVALID_ARGUMENT,
  INVALID_VECTOR: GrpcStatus.INVALID_ARGUMENT,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  INVALID_CONFIG: GrpcStatus.INVALID_ARGUMENT,
  PROTOCOL_VIOLATION: GrpcStatus.FAILED_PRECONDITION,
  // who is calling, and what it may do
  CREDENTIALS_MISSING: GrpcStatus.UNAUTHENTICATED,
  /** Unknown or revoked (not told apart: a refusal must not confirm that a key once existed). */
  CREDENTIALS_INVALID: GrpcStatus.UNAUTHENTICATED,
  CREDENTIALS_EXPIRED: GrpcStatus.UNAUTHENTICATED,
  ADMIN_REQUIRED: GrpcStatus.PERMISSION_DENIED,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  /** A memory space of another tenant. */
  SPACE_FORBIDDEN: GrpcStatus.PERMISSION_DENIED,
  /** A key file or key document that cannot be used (names the entry and field). */
  INVALID_CREDENTIALS_FILE: GrpcStatus.INVALID_ARGUMENT,
  /** Keys sent to an engine started with --insecure. */
  AUTHENTICATION_DISABLED: GrpcStatus.FAILED_PRECONDITION,
  // state
  SPACE_NOT_FOUND: GrpcStatus.NOT_FOUND,
  CONFIG_NOT_LIVE: GrpcStatus.FAILED_PRECONDITION,
  FAULT_INJECTION_DISABLED: GrpcStatus.FAILED_PRECONDITION,
  TENANT_MISMATCH: GrpcStatus.PERMISSION_DENIED,
  /** The data directory holds vectors of another dimension or metric than the config (refused at start). */
  DATA_SHAPE_MISMATCH: GrpcStatus.FAILED_PRECONDITION,
  // placement over the pods of a stream
  CLUSTER_DISABLED: GrpcStatus.FAILED_PRECONDITION,
  PLACEMENT_STALE: GrpcStatus.FAILED_PRECONDITION,
  PLACEMENT_ORPHANS: GrpcStatus.FAILED_PRECONDITION,
  /** Sent to clients that route by themselves (`engram-route: direct`): another pod owns the space. */
  SPACE_MOVED: GrpcStatus.FAILED_PRECONDITION,
  /** The pod that owns the space cannot be reached (names both). */
  OWNER_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  SPACE_OWNED: GrpcStatus.FAILED_PRECONDITION,
  /** Reopening a space this engine does not own (its copy is stale once another pod owns it). */
  SPACE_NOT_OWNED: GrpcStatus.FAILED_PRECONDITION,
  HANDOFF_FAILED: GrpcStatus.ABORTED,
  /** A memory space cannot be taken in: this engine lacks the memory for it (the message gives the figures). */
  INSUFFICIENT_MEMORY: GrpcStatus.RESOURCE_EXHAUSTED,
  // capacity
  RECALL_LANE_FULL: GrpcStatus.RESOURCE_EXHAUSTED,
  SPACE_QUOTA_EXCEEDED: GrpcStatus.RESOURCE_EXHAUSTED,
  // lifecycle
  SHUTTING_DOWN: GrpcStatus.UNAVAILABLE,
  STORAGE_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  WORKER_FAILED: GrpcStatus.INTERNAL,
  INTERNAL: GrpcStatus.INTERNAL,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class EngramError extends Error {
  readonly code: ErrorCode;
  /** Extra response metadata for clients that act on it (e.g. the owner's address of a moved space). */
  readonly details: Record<string, string>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, string> }) {
    super(message, options);
    this.name = 'EngramError';
    this.code = code;
    this.details = options?.details ?? {};
  }

  get grpcStatus(): GrpcStatus {
    return ErrorCodes[this.code];
  }
}

export function isEngramError(e: unknown, code?: ErrorCode): e is EngramError {
  return e instanceof EngramError && (code === undefined || e.code === code);
}

const QUOTE_LIMIT = 64;

/**
 * Quotes a value a client sent, for an error message: at most a short prefix, so a message never
 * grows with the input (a 20,000-character name would break clients' metadata limits).
 */
export function quote(value: unknown, limit = QUOTE_LIMIT): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const cut = text.length > limit ? text.slice(0, limit) : text;
  // strings in single quotes (control characters escaped), anything else as its JSON
  const shown = typeof value === 'string' ? `'${JSON.stringify(cut).slice(1, -1)}'` : cut;
  return text.length > limit ? `${shown}… (${text.length} characters)` : shown;
}

/** Wraps anything thrown into an EngramError, keeping the original as `cause`. */
export function toEngramError(e: unknown): EngramError {
  if (e instanceof EngramError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new EngramError('INTERNAL', message, { cause: e });
}
