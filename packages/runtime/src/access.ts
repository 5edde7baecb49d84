// Who may call which route (docs/architecture.md §15). Every route declares the role it needs in its options,
// `config: { role: 'write' | 'read' | 'analyst-write' | 'admin' | 'public' }`; enforceRoles() is the one place
// that checks it, as an onRequest hook on the process's one server, and refuses to start a server with a route
// that declares no role (nothing is left open by forgetting).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

/** What a route needs. `public`: nothing; the others: a key of a kind that role accepts (see acceptedKinds). */
export const roles = ['public', 'write', 'read', 'analyst-write', 'admin'] as const;
export type Role = (typeof roles)[number];

/** The kinds of key configuration gives out (WRITE_KEYS, READ_KEYS, ANALYST_WRITE_KEYS, ADMIN_KEYS). */
export type KeyKind = 'write' | 'read' | 'analyst-write' | 'admin';

/**
 * The hierarchy: admin ⊇ analyst-write ⊇ read. Write keys stand apart: a source's key opens ingest only, and
 * no other key writes events (an event's source is the name of the write key that sent it).
 */
export const acceptedKinds: Record<Exclude<Role, 'public'>, readonly KeyKind[]> = {
  write: ['write'],
  read: ['read', 'analyst-write', 'admin'],
  'analyst-write': ['analyst-write', 'admin'],
  admin: ['admin'],
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role this route needs; a route without one fails the server's start. */
    role?: Role;
    /** Also accept the key as `?key=` (EventSource cannot send headers). Off unless a route needs it. */
    keyInQuery?: boolean;
    /**
     * Also accept the key as this field of a JSON body when no Authorization header is sent (Segment's browser
     * library puts `writeKey` in a text/plain body to spare the CORS preflight); checked once the body is read.
     */
    keyInBody?: string;
  }
  interface FastifyRequest {
    /** The key that authenticated this request (unset on public routes). */
    caller?: Caller;
  }
  interface FastifyInstance {
    /** Every route registered after enforceRoles, with the role it declares (for the route × role test and /docs). */
    declaredRoutes(): DeclaredRoute[];
  }
}

export interface DeclaredRoute {
  method: string;
  url: string;
  role?: Role;
}

export interface Caller {
  kind: KeyKind;
  /** The name configuration gives the key: the source of a write key, the analyst of a read key, … */
  name: string;
}

/** Key → name per kind. A key is given in clear or as `sha256:<64 hex digits>` (its SHA-256 digest). */
export type AccessKeys = Partial<Record<KeyKind, Record<string, string>>>;

const SHA256_PREFIX = 'sha256:';
const SHA256_HEX = /^sha256:[0-9a-f]{64}$/i;

/** True when a configured key is given as its SHA-256 digest rather than in clear. */
export function isHashedKey(key: string): boolean {
  return SHA256_HEX.test(key);
}

/** `sha256:<hex>` of a key: what to put in configuration instead of the key itself. */
export function hashKey(key: string): string {
  return `${SHA256_PREFIX}${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

interface KeyEntry {
  digest: Buffer;
  caller: Caller;
}

export type KeyLookup =
  | { ok: true; caller: Caller }
  /** `presented`: a credential was sent (a key that is not ours), as opposed to none or a malformed header. */
  | { ok: false; presented: boolean; problem?: string };

/**
 * Resolves a presented key against every configured key. Each comparison is crypto.timingSafeEqual over
 * SHA-256 digests, and every configured key is compared (no early exit), so the time taken says nothing about
 * which key or how much of it was right.
 */
export function keyResolver(keys: AccessKeys): (presented: string) => KeyLookup {
  const entries: KeyEntry[] = [];
  for (const kind of Object.keys(keys) as KeyKind[]) {
    for (const [key, name] of Object.entries(keys[kind] ?? {})) {
      const digest = isHashedKey(key) ? Buffer.from(key.slice(SHA256_PREFIX.length), 'hex') : createHash('sha256').update(key, 'utf8').digest();
      entries.push({ digest, caller: { kind, name } });
    }
  }
  return (presented) => {
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: Caller | undefined;
    for (const entry of entries) {
      if (timingSafeEqual(digest, entry.digest) && !found) found = entry.caller;
    }
    return found ? { ok: true, caller: found } : { ok: false, presented: true };
  };
}

/**
 * The credential of a request: `Authorization: Bearer <key>`, or HTTP Basic with the key as user name and an
 * empty password (how Segment's libraries send a write key), or `?key=` where the route allows it.
 */
export function presentedKey(request: FastifyRequest): { key?: string; problem?: string } {
  const header = request.headers.authorization;
  if (header) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) return { key: bearer[1] };
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      if (!user || password) return { problem: 'HTTP Basic credentials must carry the key as user name and an empty password' };
      return { key: user };
    }
    return { problem: 'the Authorization header is neither "Bearer <key>" nor HTTP Basic with the key as user name' };
  }
  if (request.routeOptions.config.keyInQuery) {
    const key = (request.query as Record<string, unknown> | undefined)?.key;
    if (typeof key === 'string' && key) return { key };
  }
  return {};
}

const kindWords: Record<KeyKind, string> = { write: 'a write key', read: 'a read key', 'analyst-write': 'an analyst-write key', admin: 'an admin key' };

function needs(role: Exclude<Role, 'public'>): string {
  return acceptedKinds[role].map((k) => kindWords[k]).join(' or ');
}

function unauthorized(request: FastifyRequest, reply: FastifyReply, message: string) {
  // Challenge in the scheme the client speaks: Segment trackers send Basic (or a writeKey in the body).
  const basic = /^Basic\s/i.test(request.headers.authorization ?? '') || Boolean(request.routeOptions.config.keyInBody);
  return reply.code(401).header('www-authenticate', basic ? 'Basic realm="touchstream"' : 'Bearer realm="touchstream"').send({ code: 'UNAUTHORIZED', message });
}

export interface EnforceRolesOptions {
  keys: AccessKeys;
}

/**
 * Installs the one role check on a server: call it on the root instance before any route or plugin is
 * registered (hooks reach the plugins registered after them). Routes registered afterwards must declare
 * `config.role`; the server's ready() fails listing those that do not.
 */
export function enforceRoles(app: FastifyInstance, opts: EnforceRolesOptions): void {
  const resolve = keyResolver(opts.keys);
  const registered: RouteOptions[] = [];
  // Checked when the server is ready rather than as each route is added: a scope may still assign its routes'
  // role in its own onRoute hook (publicRoutes), which runs after this one.
  app.addHook('onRoute', (route) => {
    registered.push(route);
  });
  app.decorate('declaredRoutes', () =>
    registered.flatMap((r) => [r.method].flat().map((method) => ({ method, url: r.url, role: r.config?.role as Role | undefined }))),
  );
  app.addHook('onReady', async () => {
    const missing = registered.filter((r) => !roles.includes(r.config?.role as Role));
    if (missing.length) {
      const list = missing.map((r) => `${[r.method].flat().join(',')} ${r.url}`).join(', ');
      throw new Error(`routes without a role: ${list}; declare config: { role: 'public' | 'write' | 'read' | 'analyst-write' | 'admin' } in their options`);
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    // Not found: no route, nothing to protect (the 404 handler answers).
    if (request.is404) return;
    const role = request.routeOptions.config.role;
    if (role === 'public') return;
    if (!role || !(role in acceptedKinds)) {
      // Only a route registered before this hook (the CORS preflight route) can get here: served as absent.
      return reply.callNotFound();
    }
    const bodyField = request.routeOptions.config.keyInBody;
    // The key may be in the body: decided in preHandler, once the body is read (bounded by the route's body limit).
    if (bodyField && !request.headers.authorization) return;
    const { key, problem } = presentedKey(request);
    return authorize(request, reply, role, key, problem ? `${problem}; ` : '');
  });
  app.addHook('preHandler', async (request, reply) => {
    const bodyField = request.routeOptions.config.keyInBody;
    const role = request.routeOptions.config.role;
    if (!bodyField || request.caller || !role || role === 'public' || request.headers.authorization) return;
    return authorize(request, reply, role, keyInBody(request.body, bodyField), '', ` or as "${bodyField}" in the body`);
  });

  function authorize(request: FastifyRequest, reply: FastifyReply, role: Exclude<Role, 'public'>, key: string | undefined, problem: string, alternative = '') {
    if (!key) return unauthorized(request, reply, `${problem}send ${needs(role)} as "Authorization: Bearer <key>"${alternative}`);
    const found = resolve(key);
    if (!found.ok) return unauthorized(request, reply, `unknown key: send ${needs(role)} as "Authorization: Bearer <key>"${alternative}`);
    if (!acceptedKinds[role].includes(found.caller.kind)) {
      return reply.code(403).send({ code: 'FORBIDDEN', message: `this route needs ${needs(role)}; the key sent is ${kindWords[found.caller.kind]}` });
    }
    request.caller = found.caller;
  }
}

/** A string field of a JSON body (raw bytes or parsed), or undefined. */
function keyInBody(body: unknown, field: string): string | undefined {
  let value: unknown = body;
  if (Buffer.isBuffer(body)) {
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return undefined;
    }
  }
  const key = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/**
 * Registers a third-party plugin whose routes cannot carry `config` themselves (static files, the OpenAPI UI)
 * with the role `public` on every route it adds.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any plugin with its own options type
export function publicRoutes(plugin: FastifyPluginAsync<any> | FastifyPluginCallback<any>, options: object): FastifyPluginAsync {
  return async function publicScope(scope) {
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, role: route.config?.role ?? 'public' };
    });
    await scope.register(plugin, options);
  };
}
