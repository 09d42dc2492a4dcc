/**
 * Bearer API keys. Read keys open search, verify, embed and the gallery listing; admin keys
 * open everything (enrolment and deletion too). Keys come from secrets (`API_KEYS`,
 * `ADMIN_KEYS`), are compared in constant time (both sides hashed to fixed-length digests, then
 * `timingSafeEqual`, every key checked), and never logged.
 *
 * With no key configured at all, every route is open: the Node adapter allows that only on a
 * loopback address (and warns at start-up); serverless entry points refuse to start.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors/index.js';

export type Permission = 'read' | 'admin';

export interface AuthKeys {
  readKeys: readonly string[];
  adminKeys: readonly string[];
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** Pre-hashed keys, so a request costs one hash plus one constant-time compare per key. */
export interface KeyRing {
  open: boolean;
  read: Buffer[];
  admin: Buffer[];
}

/**
 * @example
 * const ring = keyRing({ readKeys: ['r-0123456789abcdef'], adminKeys: [] });
 */
export function keyRing(keys: AuthKeys): KeyRing {
  return { open: keys.readKeys.length + keys.adminKeys.length === 0, read: keys.readKeys.map(digest), admin: keys.adminKeys.map(digest) };
}

/** True if `candidate` equals any key, examining every key (no early exit). */
function matchesAny(candidate: Buffer, keys: readonly Buffer[]): boolean {
  let found = false;
  for (const key of keys) found = timingSafeEqual(candidate, key) || found;
  return found;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="twinsearch"' };

/**
 * Checks an Authorization header for a permission; returns the role that matched, or throws
 * 401 (no or unknown key) / 403 (a read key on an admin route).
 *
 * @example
 * authorize('Bearer r-0123456789abcdef', 'read', ring) // 'read'
 * authorize('Bearer r-0123456789abcdef', 'admin', ring) // throws ApiError FORBIDDEN
 */
export function authorize(header: string | undefined | null, permission: Permission, ring: KeyRing): 'open' | Permission {
  if (ring.open) return 'open';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  if (!match) throw new ApiError('UNAUTHORIZED', 'an API key is required: send "Authorization: Bearer <key>"', { headers: CHALLENGE });
  const candidate = digest(match[1]);
  const isAdmin = matchesAny(candidate, ring.admin);
  const isRead = matchesAny(candidate, ring.read);
  if (!isAdmin && !isRead) throw new ApiError('UNAUTHORIZED', 'the API key is not valid', { headers: { 'WWW-Authenticate': 'Bearer realm="twinsearch", error="invalid_token"' } });
  if (permission === 'admin' && !isAdmin) throw new ApiError('FORBIDDEN', 'this route needs an admin key');
  return isAdmin ? 'admin' : 'read';
}

/**
 * Hono middleware requiring `permission`.
 *
 * @example
 * app.post('/v1/gallery/:identity', requirePermission('admin', ring), handler);
 */
export function requirePermission(permission: Permission, ring: KeyRing): MiddlewareHandler {
  return async (c, next) => {
    authorize(credential(c.req.header('authorization'), c.req.header('x-api-key')), permission, ring);
    await next();
  };
}

/**
 * The Bearer credential of a request. When the platform's own authentication holds the
 * Authorization header (a Lambda function URL with AWS_IAM auth: the SigV4 signature), the key
 * travels in `X-Api-Key` instead; a Bearer Authorization header always wins.
 *
 * @example
 * credential('AWS4-HMAC-SHA256 Credential=…', 'r-0123456789abcdef'); // 'Bearer r-0123456789abcdef'
 */
export function credential(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  if (apiKey === undefined || /^Bearer\s/i.test(authorization ?? '')) return authorization;
  return `Bearer ${apiKey}`;
}

/** Loopback addresses the Node adapter may bind without keys. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}
