/** Name rules for users and repositories (pure; shared by API, UI, CLI and git routes). */

const USERNAME = /^[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9])){0,38}$/;
const REPO_NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** Usernames that would shadow top-level routes. */
const RESERVED_USERNAMES = new Set(['api', 'static', 'assets', 'favicon.ico', 'robots.txt', 'healthz', 'ghost', 'search', 'explore', 'notifications']);

export type NameCheck = { ok: true } | { ok: false; reason: string };

export function checkUsername(name: string): NameCheck {
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: 'username is required' };
  if (name.length > 39) return { ok: false, reason: 'username is too long (maximum is 39 characters)' };
  if (!USERNAME.test(name)) {
    return {
      ok: false,
      reason: 'username may only contain letters, digits and single hyphens, underscores or dots between them, and must start and end with a letter or digit',
    };
  }
  if (RESERVED_USERNAMES.has(name.toLowerCase())) return { ok: false, reason: `username "${name}" is reserved` };
  return { ok: true };
}

export function checkRepositoryName(name: string): NameCheck {
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: 'repository name is required' };
  if (name.length > 100) return { ok: false, reason: 'repository name is too long (maximum is 100 characters)' };
  if (!REPO_NAME.test(name)) return { ok: false, reason: 'repository name may only contain letters, digits, ".", "-" and "_"' };
  if (name.includes('..')) return { ok: false, reason: 'repository name may not contain ".."' };
  if (name === '.' || name.startsWith('-')) return { ok: false, reason: 'repository name may not be "." or start with "-"' };
  if (/\.git$/i.test(name)) return { ok: false, reason: 'repository name may not end with ".git"' };
  return { ok: true };
}

export function isValidUsername(name: string): boolean {
  return checkUsername(name).ok;
}

export function isValidRepositoryName(name: string): boolean {
  return checkRepositoryName(name).ok;
}

/** Strips one trailing ".git" from a repository path segment, as git URLs may carry it. */
export function stripGitSuffix(segment: string): string {
  return segment.toLowerCase().endsWith('.git') ? segment.slice(0, -4) : segment;
}

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

export function isValidEmail(email: string): boolean {
  return email.length <= 320 && EMAIL.test(email);
}
