// What each principal may do. A tenant key reaches only the memory spaces its tenant owns (the
// engine config's `tenants[].spaces`; unclaimed spaces belong to `default`); everything that
// changes or inspects the engine as a whole needs the admin role; a metrics key only scrapes.
import { EngramError } from '../errors.js';
import type { Principal } from './credentials.js';

/**
 * Who may call a method: `admin` keys only, or `tenant` (admin and tenant keys; the handler checks
 * each space and filters what it answers). Health and reflection are open to all.
 */
export type MethodAccess = 'admin' | 'tenant';

export const METHOD_ACCESS: Record<string, MethodAccess> = {
  'engram.v1.Streaming/ObserveStream': 'tenant',
  'engram.v1.Streaming/Recall': 'tenant',
  'engram.v1.Streaming/Fetch': 'tenant',
  'engram.v1.Admin/GetStats': 'tenant',
  'engram.v1.Admin/GetConfig': 'admin',
  'engram.v1.Admin/ApplyConfig': 'admin',
  'engram.v1.Admin/InjectFault': 'admin',
  'engram.v1.Admin/SetKeys': 'admin',
  'engram.v1.Cluster/GetTopology': 'tenant',
  'engram.v1.Cluster/ApplyPlacement': 'admin',
  'engram.v1.Cluster/ExportSpace': 'admin',
  'engram.v1.Cluster/StartImport': 'admin',
  'engram.v1.Cluster/GetHandoffs': 'admin',
  'engram.v1.Cluster/ReleaseSpace': 'admin',
  'engram.v1.Cluster/ReopenSpace': 'admin',
  'engram.v1.Cluster/SetStreamUsage': 'admin',
};

export function isAdmin(principal: Principal): boolean {
  return principal.kind === 'insecure' || principal.role === 'admin';
}

function describe(principal: Principal): string {
  if (principal.kind === 'insecure') return 'an unauthenticated caller';
  return principal.role === 'tenant' ? `the key '${principal.keyId}' of tenant '${principal.tenant}'` : `the ${principal.role} key '${principal.keyId}'`;
}

/** Refuses a principal the method is not open to (PERMISSION_DENIED). */
export function checkMethod(principal: Principal, method: string): void {
  const access = METHOD_ACCESS[method] ?? 'admin';
  if (isAdmin(principal)) return;
  if (access === 'tenant' && principal.kind === 'key' && principal.role === 'tenant') return;
  throw new EngramError(access === 'admin' ? 'ADMIN_REQUIRED' : 'PERMISSION_DENIED', `${method.split('/')[1]} is not allowed for ${describe(principal)}${access === 'admin' ? ': it needs an admin key' : ''}`);
}

/** Whether the principal may see a space owned by `tenant`. */
export function reaches(principal: Principal, tenant: string): boolean {
  return isAdmin(principal) || (principal.kind === 'key' && principal.role === 'tenant' && principal.tenant === tenant);
}

/**
 * Refuses a space of another tenant (PERMISSION_DENIED). The message names the caller's own tenant
 * only, never the space's owner: a refusal must not tell who owns what.
 */
export function checkSpace(principal: Principal, space: string, tenant: string): void {
  if (reaches(principal, tenant)) return;
  throw new EngramError('SPACE_FORBIDDEN', `memory space '${space}' is not one of ${principal.kind === 'key' && principal.tenant ? `tenant '${principal.tenant}'` : 'your tenant'}'s spaces`);
}

/** A metrics scrape: a metrics or admin key. */
export function checkScrape(principal: Principal): void {
  if (isAdmin(principal) || (principal.kind === 'key' && principal.role === 'metrics')) return;
  throw new EngramError('PERMISSION_DENIED', `metrics are not allowed for ${describe(principal)}: they need a metrics or admin key`);
}
