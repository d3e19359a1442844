import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { checkPattern, decidePush, mergeBlockers, ruleForBranch, type ProtectionRule } from '../../src/domain/branchProtection.ts';
import { parseReceivePackCommands, peekReceivePackCommands } from '../../src/git/receivePackCommands.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

function rule(over: Partial<ProtectionRule> = {}): ProtectionRule {
  return { id: 1, pattern: 'main', requiredStatusChecks: null, requiredReviews: null, enforceAdmins: false, allowForcePushes: false, allowDeletions: false, ...over };
}

const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;

describe('branch protection rules (pure)', () => {
  it('matches exact names before wildcards, the most specific wildcard first', () => {
    const rules = [rule({ id: 1, pattern: 'release/*' }), rule({ id: 2, pattern: 'release/1.0' }), rule({ id: 3, pattern: '**' }), rule({ id: 4, pattern: 'rel*/*' })];
    expect(ruleForBranch(rules, 'release/1.0')?.id).toBe(2);
    expect(ruleForBranch(rules, 'release/2.0')?.id).toBe(1);
    expect(ruleForBranch(rules, 'feature/x/y')?.id).toBe(3);
    expect(ruleForBranch([rule({ pattern: 'release/*' })], 'release/a/b')).toBeNull(); // * stays within a segment
    expect(ruleForBranch([rule({ pattern: 'main' })], 'mainline')).toBeNull();
  });

  it('rejects unusable patterns', () => {
    for (const bad of ['', 'a b', 'refs/heads/main', '/main', 'main/', 'a..b', 'x{y', 'a\\b', 'x'.repeat(256)]) expect(checkPattern(bad), bad).not.toBeNull();
    for (const good of ['main', 'release/*', '**', 'v[0-9]*', 'feature/{a,b}']) expect(checkPattern(good), good).toBeNull();
  });

  it('decides pushes: deletions and force pushes for everyone, checks and reviews bypassed by administrators only without enforce_admins', () => {
    const checks = rule({ requiredStatusChecks: { strict: false, contexts: ['ci', 'lint'] } });
    expect(decidePush(checks, 'admin', 'delete', new Map()).deny).toEqual(['Cannot delete this protected branch']);
    expect(decidePush(checks, 'write', 'update', new Map()).noForce).toBe('Cannot force-push to this branch');
    expect(decidePush(checks, 'admin', 'update', new Map()).noForce).toBe('Cannot force-push to this branch');
    expect(decidePush(checks, 'write', 'create', new Map())).toEqual({ deny: [], noForce: null });
    expect(decidePush(checks, 'write', 'update', new Map([['ci', 'success']])).deny).toEqual(['Required status check "lint" is expected.']);
    expect(decidePush(checks, 'write', 'update', new Map()).deny[0]).toContain('2 of 2 required status checks');
    expect(decidePush(checks, 'admin', 'update', new Map()).deny).toEqual([]);
    expect(decidePush({ ...checks, enforceAdmins: true }, 'admin', 'update', new Map()).deny).toHaveLength(1);
    expect(decidePush(rule({ requiredReviews: { count: 0, dismissStale: false } }), 'write', 'update', new Map()).deny).toEqual(['Changes must be made through a pull request.']);
    expect(decidePush(rule({ allowDeletions: true, allowForcePushes: true }), 'write', 'delete', new Map()).deny).toEqual([]);
  });

  it('counts approvals: the author never, latest verdict per reviewer, stale ones dismissed when asked', () => {
    const r = rule({ requiredReviews: { count: 2, dismissStale: true } });
    const facts = { role: 'write' as const, authorId: 1, headSha: B, upToDate: true, latestStates: new Map<string, string>() };
    const reviews = [
      { authorId: 1, state: 'APPROVED' as const, commitSha: B },
      { authorId: 2, state: 'APPROVED' as const, commitSha: A },
      { authorId: 3, state: 'APPROVED' as const, commitSha: B },
    ];
    expect(mergeBlockers(r, { ...facts, reviews })[0]).toContain('(1 so far)');
    expect(mergeBlockers({ ...r, requiredReviews: { count: 2, dismissStale: false } }, { ...facts, reviews })).toEqual([]);
    const changed = [...reviews, { authorId: 2, state: 'APPROVED' as const, commitSha: B }, { authorId: 3, state: 'CHANGES_REQUESTED' as const, commitSha: B }, { authorId: 3, state: 'COMMENTED' as const, commitSha: B }];
    expect(mergeBlockers(r, { ...facts, reviews: changed })).toContain('Changes were requested by a reviewer.');
    expect(mergeBlockers(r, { ...facts, role: 'admin', reviews: [] })).toEqual([]);
    expect(mergeBlockers(rule({ requiredStatusChecks: { strict: true, contexts: [] } }), { ...facts, upToDate: false, reviews: [] })).toEqual(['The head branch is not up to date with the base branch.']);
  });
});

describe('receive-pack command parsing', () => {
  it('reads the commands up to the flush packet, with capabilities, shallow lines and deletions', () => {
    const body = Buffer.from(pkt(`shallow ${A}\n`) + pkt(`${A} ${B} refs/heads/main\0report-status side-band-64k\n`) + pkt(`${B} ${Z} refs/heads/gone\n`) + '0000' + 'PACK...');
    expect(parseReceivePackCommands(body)).toEqual([
      { before: A, after: B, ref: 'refs/heads/main' },
      { before: B, after: Z, ref: 'refs/heads/gone' },
    ]);
    expect(parseReceivePackCommands(body.subarray(0, 30))).toBe('incomplete');
    expect(parseReceivePackCommands(Buffer.from('zzzz'))).toBeNull();
  });

  it('hands on every byte read, split across chunks', async () => {
    const text = pkt(`${A} ${B} refs/heads/main\0caps\n`) + '0000' + 'PACK-DATA-' + 'x'.repeat(5000);
    const bytes = Buffer.from(text);
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 60), bytes.subarray(60, 100), bytes.subarray(100)];
    const { commands, stream } = await peekReceivePackCommands(Readable.from(chunks));
    expect(commands).toEqual([{ before: A, after: B, ref: 'refs/heads/main' }]);
    const out: Buffer[] = [];
    for await (const c of stream) out.push(c as Buffer);
    expect(Buffer.concat(out).equals(bytes)).toBe(true);
  });

  it('gives up (null) past the limit or at a truncated body, still handing on the bytes', async () => {
    const big = Buffer.from(pkt(`${A} ${B} refs/heads/main\n`).repeat(100));
    const { commands, stream } = await peekReceivePackCommands(Readable.from([big]), 100);
    expect(commands).toBeNull();
    const out: Buffer[] = [];
    for await (const c of stream) out.push(c as Buffer);
    expect(Buffer.concat(out).equals(big)).toBe(true);
  });
});
