import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import type { RunGroup } from '../../../db/schema.ts';
import type { RankedAttempt } from '../../../services/runGroups.ts';
import type { RunLinks } from '../../../services/uiRuns.ts';
import type { RepoView } from './repo.tsx';
import { PostForm, Time } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { DiffView, RunAgent, RunPullLink, RunStatusBadge, RunsLayout, canWriteRuns, formatDuration, runUrl, runsUrl } from './runs.tsx';

export const groupUrl = (view: RepoView, id: number) => `${runsUrl(view)}/groups/${id}`;

const CHECK_LABEL: Record<string, string> = { success: 'passed', failure: 'failed', pending: 'pending', none: 'none' };
const REVIEW_LABEL: Record<string, string> = { APPROVED: 'approved', CHANGES_REQUESTED: 'changes requested', COMMENTED: 'commented' };

/** Best-of-N: the attempts of one task side by side, ranked, with "Keep this one". */
export const RunGroupPage: FC<{ ctx: PageContext; view: RepoView; group: RunGroup; attempts: RankedAttempt[]; links: RunLinks }> = ({ ctx, view, group, attempts, links }) => {
  const write = canWriteRuns(view);
  const kept = attempts.find((a) => a.run.id === group.kept_run_id);
  const best = attempts[0];
  const title = attempts[0]?.run.title.replace(/ \[\d+\/\d+\]$/, '') ?? `Group ${group.id}`;
  return (
    <RunsLayout ctx={ctx} view={view} title={`${title} · best of ${attempts.length}`} refresh={attempts.some((a) => a.run.status === 'queued' || a.run.status === 'running')}>
      <nav class="run-crumbs" aria-label="Breadcrumb">
        <a href={runsUrl(view)}>Tasks</a>
        <span aria-hidden="true">/</span>
        <span>Group {group.id}</span>
      </nav>
      <div class="page-head">
        <h1>
          {title} <span class="muted">· best of {attempts.length}</span>
        </h1>
        <p class="muted">
          Started <Time iso={group.created_at} />. {kept ? <strong id="group-kept">Kept #{kept.run.number}; the other pull requests were closed (their branches stay).</strong> : best ? <span id="group-ranking">Ranked by checks, then the AI review, then the smaller diff: #{best.run.number} ranks first ({best.reason}).</span> : null}
        </p>
      </div>
      <div class="run-group-grid" id="run-group">
        {attempts.map((a) => {
          const pr = a.run.pull_request_id ? links.pulls.get(a.run.pull_request_id) : undefined;
          const isKept = a.run.id === group.kept_run_id;
          return (
            <article class={`card run-attempt${a.rank === 1 ? ' run-attempt-best' : ''}${isKept ? ' run-attempt-kept' : ''}`} data-run={String(a.run.number)} data-rank={String(a.rank)}>
              <header class="run-attempt-head">
                <span class="run-attempt-rank" title="Rank">
                  #{a.rank}
                </span>
                <a href={runUrl(view, a.run.number)} class="run-attempt-link">
                  Task #{a.run.number}
                </a>
                <RunStatusBadge status={a.run.status} />
                {isKept && <span class="badge badge-success">kept</span>}
              </header>
              <p class="run-attempt-reason">{a.reason}</p>
              <dl class="run-facts run-attempt-facts">
                <div>
                  <dt>Agent</dt>
                  <dd>
                    <RunAgent run={a.run} />
                  </dd>
                </div>
                <div>
                  <dt>Diff</dt>
                  <dd class="run-attempt-diff">
                    {a.diff ? (
                      <>
                        {a.diff.files} files <span class="diffstat-add">+{a.diff.additions}</span> <span class="diffstat-del">−{a.diff.deletions}</span>
                      </>
                    ) : (
                      '—'
                    )}
                  </dd>
                </div>
                <div>
                  <dt>Checks</dt>
                  <dd class={`run-attempt-checks run-attempt-checks-${a.checks.state}`} title={a.checks.contexts.map((c) => `${c.context}: ${c.state}`).join('\n')}>
                    {CHECK_LABEL[a.checks.state]}
                  </dd>
                </div>
                <div>
                  <dt>AI review</dt>
                  <dd>{a.review ? REVIEW_LABEL[a.review] : '—'}</dd>
                </div>
                <div>
                  <dt>Tokens</dt>
                  <dd>{a.tokens !== null ? a.tokens.toLocaleString('en') : '—'}</dd>
                </div>
                <div>
                  <dt>Time</dt>
                  <dd>{a.durationMs !== null ? formatDuration(a.durationMs) : '—'}</dd>
                </div>
                <div>
                  <dt>Pull request</dt>
                  <dd>{pr ? <RunPullLink view={view} pr={pr} /> : '—'}</dd>
                </div>
              </dl>
              {a.files.length > 0 && (
                <details class="run-attempt-files">
                  <summary>Files changed</summary>
                  <ul>
                    {a.files.map((f) => (
                      <li class="mono">
                        {f.path} <span class="diffstat-add">+{f.additions}</span> <span class="diffstat-del">−{f.deletions}</span>
                      </li>
                    ))}
                  </ul>
                </details>
              )}
              {write && !kept && a.run.status === 'succeeded' && (
                <PostForm ctx={ctx} action={`${groupUrl(view, group.id)}/keep`} class="inline-form run-attempt-keep">
                  <input type="hidden" name="run" value={String(a.run.number)} />
                  <button type="submit" class={`btn${a.rank === 1 ? ' btn-primary' : ''}`}>
                    <Icon name="check" /> Keep this one
                  </button>
                </PostForm>
              )}
            </article>
          );
        })}
      </div>
      {attempts.some((a) => a.patch && a.patch.files.length > 0) && (
        <section class="run-group-diffs" id="run-group-diffs">
          <h2>The diffs</h2>
          {attempts.length >= 2 && attempts[0]!.run.commit_sha && attempts[1]!.run.commit_sha && (
            <p class="muted">
              <a href={`${runsUrl(view)}/compare?a=${attempts[0]!.run.number}&b=${attempts[1]!.run.number}`}>Compare #{attempts[0]!.run.number} with #{attempts[1]!.run.number}</a> file by file.
            </p>
          )}
          {attempts.map((a) =>
            a.patch ? (
              <details class="run-attempt-diff-full" open={a.rank === 1} data-run={String(a.run.number)}>
                <summary>
                  #{a.rank} · Task #{a.run.number} <RunAgent run={a.run} />
                </summary>
                <DiffView diff={a.patch} anchor={`attempt-${a.run.number}`} empty="This attempt changed nothing." />
              </details>
            ) : null,
          )}
        </section>
      )}
    </RunsLayout>
  );
};
