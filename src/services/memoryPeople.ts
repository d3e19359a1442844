import type { AppContext } from './app.ts';
import type { User } from '../db/schema.ts';
import { now } from './app.ts';
import { forbidden, invalid } from './errors.ts';
import type { RepositoryAccess } from './repositories.ts';
import { roleAtLeast } from '../domain/permissions.ts';
import { resolveCommit } from '../git/tree.ts';
import { wakeDispatcher } from '../events/wake.ts';
import { recordMemoryEntry, type MemoryEntry, type MemoryKind, type MemoryScope, type NewMemoryCitation } from './memory.ts';
import { resolveCitations } from './memoryValidation.ts';

/** What a person adds through the API or the Memory page. */
export interface PersonMemoryInput {
  kind: MemoryKind;
  subject: string;
  fact: string;
  reason?: string;
  /** Lines of files at `ref` (default: the default branch), or at a citation's own `commit`. */
  citations?: NewMemoryCitation[];
  ref?: string;
  scope?: Partial<MemoryScope>;
  pinned?: boolean;
  confidence?: number;
}

/**
 * A person's entry (source `person`): needs write access; citations are resolved at `ref` (the
 * default branch unless given) — paths inside the repository, lines that exist, hashes computed here.
 */
export async function addMemoryEntry(app: AppContext, access: RepositoryAccess, actor: User, input: PersonMemoryInput): Promise<{ entry: MemoryEntry; contradicts: MemoryEntry[] }> {
  if (!roleAtLeast(access.role, 'write')) throw forbidden('You need write access to change memory');
  let citations: Awaited<ReturnType<typeof resolveCitations>> = [];
  if (input.citations?.length) {
    const ref = input.ref || access.repo.default_branch;
    const commit = (await resolveCommit(access.gitDir, ref)) ?? (await resolveCommit(access.gitDir, `refs/heads/${ref}`));
    if (!commit) throw invalid(`unknown ref "${ref.slice(0, 255)}"`, 'ref');
    citations = await resolveCitations(access.gitDir, commit, input.citations);
  }
  const result = await recordMemoryEntry(
    app.db,
    access.repo.id,
    { kind: input.kind, subject: input.subject, fact: input.fact, reason: input.reason, citations, scope: input.scope, pinned: input.pinned, confidence: input.confidence, source: { type: 'person', id: actor.id, label: `@${actor.username}` }, created_by_id: actor.id },
    now(),
  );
  wakeDispatcher(app);
  return result;
}
