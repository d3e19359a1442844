import type { AppContext } from './app.ts';
import type { User } from '../db/schema.ts';
import type { Viewer } from '../domain/permissions.ts';
import { authenticateToken } from './tokens.ts';
import { authenticatePassword } from './users.ts';
import { userForSession } from './sessions.ts';
import { authenticateJobToken, JOB_TOKEN_PREFIX } from './jobTokens.ts';
import { type Backoff, createBackoff, type Outcome } from '../domain/backoff.ts';

export interface Identity {
  user: User;
  viewer: Viewer;
  method: 'token' | 'password' | 'session' | 'job';
  /** For job tokens: the job whose agent is acting. */
  jobId?: number;
}

/** `limited`: too many failures lately (see the policy below); the caller answers 429 with Retry-After. */
export type Limited = { kind: 'limited'; retryAfterSeconds: number };

export type CredentialsResult = { kind: 'anonymous' } | { kind: 'invalid' } | Limited | { kind: 'ok'; identity: Identity };

/** `suspended`: the password was right but an administrator has disabled the account. */
export type PasswordResult = { kind: 'ok'; user: User } | { kind: 'invalid' } | { kind: 'suspended' } | Limited;

/** A disabled account signs in nowhere: every credential check below refuses it. */
export function isSuspended(user: Pick<User, 'suspended_at'>): boolean {
  return !!user.suspended_at;
}

/*
 * Brute-force policy. Every password check (the sign-in form, HTTP Basic for git) and every other
 * credential check from the network (tokens in the API and git) goes through this module, which
 * keeps three leaky-bucket back-offs (domain/backoff.ts) per process, with F = authLimits.freeFailures
 * (5), B = backoffMs (1 s), M = maxBackoffMs (15 min):
 *
 * - per (account, address): F free failures, then a lock of B, 2B, 4B … at most M; one failure is
 *   forgiven every M. This is what stops guessing one account's password from one place.
 * - per account, from addresses that never signed in to it: 10·F free, then B … at most M/3; one
 *   forgiven every M/15. Bounds a guesser with many addresses. Addresses where the owner signed in
 *   successfully in the last 30 days are exempt, so a guesser cannot lock the owner out of the place
 *   they use; elsewhere the owner waits at most M/3 (or uses a token, which no password limit holds).
 * - per address, any account and any credential (tokens included): 20·F free, then B … at most M/15;
 *   one forgiven every M/25. Bounds password spraying across accounts and floods of bad tokens, while
 *   a shared address (NAT, an untrusted proxy) is never locked for long.
 *
 * A success empties the pair and the account; it does not empty the address. Usernames that do not
 * exist are treated exactly like those that do (same keys, same scrypt work), so neither the answers
 * nor the 429s say which accounts exist. State lives in memory in each process: with several
 * instances behind a load balancer each keeps its own counts, so the limits multiply by the number
 * of instances (sticky balancing by client address keeps them exact).
 */
interface AuthLimits {
  pair: Backoff;
  account: Backoff;
  address: Backoff;
  /** `account\naddress` → until when that address is known to the account (a successful sign-in). */
  known: Map<string, number>;
}

const KNOWN_ADDRESS_MS = 30 * 24 * 3600 * 1000;
const MAX_KNOWN = 100_000;
const limitsByApp = new WeakMap<AppContext, AuthLimits>();

function limitsOf(app: AppContext): AuthLimits {
  let limits = limitsByApp.get(app);
  if (!limits) {
    const { freeFailures: free, backoffMs: base, maxBackoffMs: max } = app.config.authLimits;
    limits = {
      pair: createBackoff({ free, baseMs: base, maxMs: max, leakMs: max }),
      account: createBackoff({ free: free * 10, baseMs: base, maxMs: Math.max(base, Math.round(max / 3)), leakMs: Math.max(1000, Math.round(max / 15)) }),
      address: createBackoff({ free: free * 20, baseMs: base, maxMs: Math.max(base, Math.round(max / 15)), leakMs: Math.max(1000, Math.round(max / 25)) }),
      known: new Map(),
    };
    limitsByApp.set(app, limits);
  }
  return limits;
}

function limited(waitMs: number): Limited {
  return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

/** Usernames are case-insensitive; the key is bounded whatever a client sends. */
function accountKey(username: string): string {
  return username.toLowerCase().slice(0, 200);
}

function isKnown(limits: AuthLimits, pairKey: string, now: number): boolean {
  const until = limits.known.get(pairKey);
  return until !== undefined && until > now;
}

function remember(limits: AuthLimits, pairKey: string, now: number): void {
  limits.known.delete(pairKey);
  limits.known.set(pairKey, now + KNOWN_ADDRESS_MS);
  if (limits.known.size > MAX_KNOWN) {
    // Insertion order: the first key is the one remembered longest ago.
    const oldest = limits.known.keys().next().value;
    if (oldest !== undefined) limits.known.delete(oldest);
  }
}

/**
 * Checks a username/password pair from a client address, under the brute-force policy above. The
 * attempt is counted before the slow scrypt check (so parallel guesses cannot all start before the
 * first fails) and settled after it. Never says which of the two was wrong.
 */
export async function checkPassword(app: AppContext, username: string, password: string, address: string): Promise<PasswordResult> {
  const limits = limitsOf(app);
  const account = accountKey(username);
  const pair = `${account}\n${address}`;
  const start = Date.now();
  const addressWait = limits.address.acquire(address, start);
  if (addressWait > 0) return limited(addressWait);
  let outcome: Outcome = 'neutral';
  try {
    const result = await checkPasswordHeld(app, limits, username, password, account, pair, start);
    if (result.kind === 'invalid') outcome = 'failure';
    return result;
  } finally {
    // A success does not empty the address: one good sign-in must not reset a sprayer's count.
    limits.address.release(address, Date.now(), outcome);
  }
}

/** The password part of a check whose address attempt is already held (the caller settles it). */
async function checkPasswordHeld(app: AppContext, limits: AuthLimits, username: string, password: string, account: string, pair: string, start: number): Promise<PasswordResult> {
  const pairWait = limits.pair.acquire(pair, start);
  if (pairWait > 0) return limited(pairWait);
  const useAccount = !isKnown(limits, pair, start);
  const accountWait = useAccount ? limits.account.acquire(account, start) : 0;
  if (accountWait > 0) {
    limits.pair.release(pair, start, 'neutral');
    return limited(accountWait);
  }
  let outcome: Outcome = 'neutral';
  try {
    const user = await authenticatePassword(app, username, password);
    outcome = user ? 'success' : 'failure';
    if (user) remember(limits, pair, Date.now());
    if (user && isSuspended(user)) return { kind: 'suspended' };
    return user ? { kind: 'ok', user } : { kind: 'invalid' };
  } finally {
    const now = Date.now();
    limits.pair.release(pair, now, outcome);
    if (useAccount) limits.account.release(account, now, outcome);
    else if (outcome === 'success') limits.account.release(account, now, 'success');
  }
}

function viewerOf(user: User, tokenScopes: Viewer['tokenScopes']): Viewer {
  return { userId: user.id, isAdmin: user.is_admin === 1, tokenScopes };
}

/**
 * Resolves an Authorization header from a client address: `Bearer T`, `token T`, or HTTP Basic where
 * the password is a personal access token or (for git clients, `allowPassword`) the account password.
 * Bad credentials count against the address, passwords against the account too (see the policy above).
 * Token checks are fast and tokens unguessable, so they are not held in flight: any number of valid
 * requests may run side by side from one address.
 */
export async function authenticateAuthorizationHeader(app: AppContext, header: string | undefined, allowPassword: boolean, address: string): Promise<CredentialsResult> {
  if (!header) return { kind: 'anonymous' };
  const limits = limitsOf(app);
  const wait = limits.address.waitMs(address, Date.now());
  if (wait > 0) return limited(wait);
  const { result, passwordChecked } = await resolveAuthorization(app, header, allowPassword, address);
  // A password check settled its own counts; any other bad credential counts against the address here.
  if (result.kind === 'invalid' && !passwordChecked) limits.address.fail(address, Date.now());
  return result;
}

async function resolveAuthorization(app: AppContext, header: string, allowPassword: boolean, address: string): Promise<{ result: CredentialsResult; passwordChecked: boolean }> {
  const invalid = { result: { kind: 'invalid' } as const, passwordChecked: false };
  const match = /^(\w+)\s+(.+)$/.exec(header.trim());
  if (!match) return invalid;
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!.trim();
  const ok = (identity: Identity) => ({ result: { kind: 'ok' as const, identity }, passwordChecked: false });
  if (scheme === 'bearer' || scheme === 'token') {
    const job = await jobIdentity(app, value);
    if (job) return ok(job);
    const found = await authenticateToken(app, value);
    return found && !isSuspended(found.user) ? ok({ user: found.user, viewer: viewerOf(found.user, found.scopes), method: 'token' }) : invalid;
  }
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return invalid;
    const username = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const job = await jobIdentity(app, secret);
    if (job) return ok(job);
    const byToken = await authenticateToken(app, secret);
    // The username part is ignored for tokens (git tools send anything there), as GitHub does.
    if (byToken && !isSuspended(byToken.user)) return ok({ user: byToken.user, viewer: viewerOf(byToken.user, byToken.scopes), method: 'token' });
    if (allowPassword && username && secret) {
      const checked = await checkPassword(app, username, secret, address);
      const result: CredentialsResult =
        checked.kind === 'ok' ? { kind: 'ok', identity: { user: checked.user, viewer: viewerOf(checked.user, null), method: 'password' } } : checked.kind === 'suspended' ? { kind: 'invalid' } : checked;
      return { result, passwordChecked: true };
    }
    return invalid;
  }
  return invalid;
}

async function jobIdentity(app: AppContext, presented: string): Promise<Identity | null> {
  if (!presented.startsWith(JOB_TOKEN_PREFIX)) return null;
  const found = await authenticateJobToken(app, presented);
  if (!found || isSuspended(found.user)) return null;
  return {
    user: found.user,
    viewer: { userId: found.user.id, isAdmin: false, tokenScopes: ['repo'], jobScope: { repositoryId: found.repositoryId, allowedRef: found.allowedRef, allowedRefPrefix: found.allowedRefPrefix } },
    method: 'job',
    jobId: found.jobId,
  };
}

export async function authenticateSessionCookie(app: AppContext, cookie: string | undefined): Promise<Identity | null> {
  if (!cookie) return null;
  const user = await userForSession(app, cookie); // null for a suspended account
  return user && !isSuspended(user) ? { user, viewer: viewerOf(user, null), method: 'session' } : null;
}
