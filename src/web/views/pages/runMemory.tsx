import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { MemoryEntry } from '../../../services/memory.ts';
import { PageAssets } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { CitationLink, MemoryKindLabel, MemoryStatusLabel, memoryEntryUrl, memoryUrl } from './memory.tsx';
import type { RepoView } from './repo.tsx';

/** What a run was given from the repository's memory (services/memory.ts memoryGivenToRun). */
export interface RunMemoryGiven {
  entries: Array<{ entry: MemoryEntry; citations_valid: boolean }>;
  section: string | null;
}

/**
 * "What this run knew": the memory entries rendered into the run's prompt, each linked to its page, with
 * whether its citations held at the run's source commit, and the section exactly as the agent read it.
 */
export const RunMemorySection: FC<{ ctx: PageContext; view: RepoView; given: RunMemoryGiven }> = ({ ctx, view, given }) => {
  const repo = view.repo;
  const n = given.entries.length;
  return (
    <section class="card run-memory" id="run-memory" aria-labelledby="run-memory-title">
      <PageAssets ctx={ctx} styles={['memory.css']} />
      <div class="card-head">
        <Icon name="book" />
        <h2 class="h3" id="run-memory-title">
          What this run knew
        </h2>
        <span class="muted" id="run-memory-count">
          {n === 0 ? 'no memory' : `${n} memory ${n === 1 ? 'entry' : 'entries'}`} ·{' '}
          <a href={memoryUrl(repo)} class="muted-link">
            Memory
          </a>
        </span>
      </div>
      {n === 0 ? (
        <p class="card-pad muted run-memory-none">{given.section ? 'The entries this run was given have since been deleted.' : 'No memory entry was relevant to this task when its prompt was rendered.'}</p>
      ) : (
        <ul class="run-memory-list">
          {given.entries.map(({ entry, citations_valid }) => (
            <li class="run-memory-item" id={`run-memory-${entry.id}`} data-id={entry.id}>
              <div class="mem-entry-head">
                <MemoryKindLabel kind={entry.kind} />
                <a class="mem-subject" href={memoryEntryUrl(repo, entry.id)}>
                  {entry.subject}
                </a>
                <MemoryStatusLabel status={entry.status} />
                {entry.citations.length > 0 &&
                  (citations_valid ? (
                    <span class="run-memory-valid" title="Every citation still matched the code at the run's source commit">
                      <Icon name="check" size={12} /> citations held
                    </span>
                  ) : (
                    <span class="run-memory-invalid" title="A citation no longer matched the code at the run's source commit">
                      <Icon name="alert" size={12} /> citations did not hold
                    </span>
                  ))}
              </div>
              <p class="mem-fact">{entry.fact}</p>
              {entry.reason && (
                <p class="mem-reason">
                  <span class="mem-reason-label">Why:</span> {entry.reason}
                </p>
              )}
              {entry.citations.length > 0 && (
                <ul class="mem-cites" aria-label="Citations">
                  {entry.citations.map((c) => (
                    <li>
                      <CitationLink repo={repo} c={c} valid={citations_valid} />
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
      {given.section && (
        <details class="run-memory-section">
          <summary>The memory section of the prompt, as the agent read it</summary>
          <pre class="run-prompt-text" id="run-memory-section">
            {given.section}
          </pre>
        </details>
      )}
    </section>
  );
};
