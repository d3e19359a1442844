/**
 * Git ref-name rules (git-check-ref-format(1)), checked in-process so that invalid or
 * option-looking names never reach git.
 */
export function isValidBranchName(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255) return false;
  if (name.startsWith('-') || name === 'HEAD') return false;
  if (name.startsWith('refs/')) return false;
  return isValidRefName(`refs/heads/${name}`);
}

export function isValidRefName(ref: string): boolean {
  if (ref.length === 0 || ref.length > 1024) return false;
  if (ref.startsWith('/') || ref.endsWith('/') || ref.endsWith('.')) return false;
  if (ref.includes('..') || ref.includes('//') || ref.includes('@{') || ref === '@') return false;
  // Control characters, space, ~ ^ : ? * [ \ and DEL are forbidden anywhere.
  if (/[\x00-\x20~^:?*[\\\x7f]/.test(ref)) return false;
  for (const component of ref.split('/')) {
    if (component.startsWith('.') || component.endsWith('.lock')) return false;
  }
  return true;
}

export const ZERO_SHA = '0000000000000000000000000000000000000000';

export function isSha(value: string): boolean {
  return /^[0-9a-f]{40}$/.test(value);
}

/** A revision typed by a user: a branch, tag or (abbreviated) sha — never something git could read as an option. */
export function isSafeRevision(rev: string): boolean {
  if (rev.length === 0 || rev.length > 255 || rev.startsWith('-')) return false;
  if (/^[0-9a-f]{4,40}$/i.test(rev)) return true;
  return isValidRefName(rev.startsWith('refs/') ? rev : `refs/heads/${rev}`);
}

export function branchFromRef(ref: string): string | null {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : null;
}
