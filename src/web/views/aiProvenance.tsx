import type { FC } from 'hono/jsx';
import { raw } from 'hono/html';
import type { AiBlameRange, CaptureView } from '../../services/provenance.ts';
import type { Span } from '../../domain/spans.ts';
import { blobUrl, commitUrl, graphUrl, pullUrl, repoUrl, type RepoRef } from './urls.ts';
import { escapeHtml } from './highlight.ts';
import { Icon } from './icons.tsx';

/**
 * AI provenance surfaces (issue 7): the model badge, the capture popover (a <details>, no script),
 * the commit page's captures panel and the per-line marks of blame, file and pull request views.
 * Prompt and thinking are untrusted text: always rendered as escaped text, never as HTML.
 */

const HUES = 8;

/** A stable colour class per capture. */
export const aiHue = (c: Pick<CaptureView, 'id'>): string => `ai-hue-${((c.id % HUES) + HUES) % HUES}`;

export const aiLabel = (c: Pick<CaptureView, 'source_family' | 'exact_model_name'>): string => (c.exact_model_name ? `${c.source_family} · ${c.exact_model_name}` : c.source_family);

const EVIDENCE_LABEL: Record<string, string> = {
  agent_run: 'gitoku agent run',
  commit_trailer: 'commit trailer',
  git_notes: 'git notes',
  agent_trace: 'Agent Trace',
};

export const evidenceLabel = (kind: string): string => EVIDENCE_LABEL[kind] ?? kind;

const runHref = (repo: RepoRef, n: number) => `${repoUrl(repo)}/runs/${n}`;

function spanText(spans: Span[]): string {
  return spans.map(([a, b]) => (a === b ? `L${a}` : `L${a}–${b}`)).join(', ');
}

/** The badge: source family · exact model, in the capture's colour. */
export const AiBadge: FC<{ capture: CaptureView; extra?: number }> = ({ capture, extra }) => (
  <span class={`ai-badge ${aiHue(capture)}`} title={aiLabel(capture)}>
    <span class="ai-badge-mark" aria-hidden="true">
      AI
    </span>
    <span class="ai-badge-text">{aiLabel(capture)}</span>
    {extra ? <span class="ai-badge-more">+{extra}</span> : null}
  </span>
);

/** What a capture says: model, evidence, confidence, session, run and PR links, thinking and prompt. */
export const AiCaptureDetails: FC<{ repo: RepoRef; capture: CaptureView; showCommit?: boolean; promptOpen?: boolean }> = ({ repo, capture, showCommit, promptOpen = true }) => (
  <div class="ai-capture">
    <dl class="ai-facts">
      <dt>Model</dt>
      <dd>
        <span class={`ai-dot ${aiHue(capture)}`} aria-hidden="true"></span> {capture.source_family}
        {capture.exact_model_name && (
          <>
            {' · '}
            <code>{capture.exact_model_name}</code>
          </>
        )}
      </dd>
      <dt>Evidence</dt>
      <dd>
        <span class="ai-evidence" data-kind={capture.evidence_kind}>
          {evidenceLabel(capture.evidence_kind)}
        </span>
      </dd>
      <dt>Confidence</dt>
      <dd class="ai-confidence">{`${Math.round(capture.capture_confidence * 100)}%`}</dd>
      {capture.session_id && (
        <>
          <dt>Session</dt>
          <dd>
            <code class="ai-session">{capture.session_id}</code>
          </dd>
        </>
      )}
      {showCommit && (
        <>
          <dt>Commit</dt>
          <dd>
            <a class="sha-link" href={commitUrl(repo, capture.commit_sha)}>
              <code class="sha">{capture.commit_sha.slice(0, 7)}</code>
            </a>
          </dd>
        </>
      )}
      <dt>Links</dt>
      <dd class="ai-links">
        {capture.run && (
          <>
            <a class="ai-run-link" href={runHref(repo, capture.run.number)}>
              Run #{capture.run.number}
            </a>
            {' · '}
          </>
        )}
        {capture.pull_request && (
          <>
            <a class="ai-pr-link" href={pullUrl(repo, capture.pull_request.number)}>
              PR #{capture.pull_request.number}
            </a>
            {' · '}
          </>
        )}
        <a class="ai-graph-link" href={graphUrl(repo, { evidence: `${capture.commit_sha}:${capture.capture_index}` })} title="This capture in the knowledge graph">
          Graph
        </a>
      </dd>
    </dl>
    {capture.thinking && (
      <div class="ai-block">
        <div class="ai-block-title">Thinking</div>
        <pre class="ai-thinking">{capture.thinking}</pre>
      </div>
    )}
    {capture.prompt &&
      (promptOpen ? (
        <div class="ai-block">
          <div class="ai-block-title">Prompt</div>
          <pre class="ai-prompt">{capture.prompt}</pre>
        </div>
      ) : (
        <details class="ai-block ai-prompt-details">
          <summary class="ai-block-title">Prompt</summary>
          <pre class="ai-prompt">{capture.prompt}</pre>
        </details>
      ))}
  </div>
);

/** The badge that opens the capture's popover (click, no script). Several captures: one section each. */
export const AiPopover: FC<{ repo: RepoRef; captures: CaptureView[]; lines?: string; up?: boolean }> = ({ repo, captures, lines, up }) => {
  const first = captures[0];
  if (!first) return null;
  return (
    <details class={up ? 'ai-pop ai-pop-up' : 'ai-pop'}>
      <summary class="ai-pop-summary" aria-label={`AI-written${lines ? ` (${lines})` : ''}: ${aiLabel(first)}`}>
        <AiBadge capture={first} extra={captures.length - 1} />
      </summary>
      <div class="ai-pop-panel" role="dialog" aria-label="AI provenance">
        {lines && <div class="ai-pop-head muted">{lines} written by AI</div>}
        {captures.map((c) => (
          <AiCaptureDetails repo={repo} capture={c} showCommit />
        ))}
      </div>
    </details>
  );
};

/** Per line: its captures, and whether it starts a range (where the badge goes). */
export interface AiLineMark {
  captures: CaptureView[];
  start: boolean;
  /** "Lines 4–5" of the range the line belongs to. */
  label: string;
}

/** The AI-written lines of an AI blame (ranges with captures), by line number. */
export function aiLineMarks(ranges: readonly Pick<AiBlameRange, 'start_line' | 'end_line' | 'captures'>[]): Map<number, AiLineMark> {
  const out = new Map<number, AiLineMark>();
  for (const r of ranges) {
    if (r.captures.length === 0) continue;
    const label = r.start_line === r.end_line ? `Line ${r.start_line}` : `Lines ${r.start_line}–${r.end_line}`;
    for (let n = r.start_line; n <= r.end_line; n++) out.set(n, { captures: r.captures, start: n === r.start_line, label });
  }
  return out;
}

/** The distinct captures of some marks, in first-seen order. */
export function distinctCaptures(marks: Map<number, AiLineMark>): CaptureView[] {
  const seen = new Map<number, CaptureView>();
  for (const m of marks.values()) for (const c of m.captures) if (!seen.has(c.id)) seen.set(c.id, c);
  return [...seen.values()];
}

/** A code table (escaped highlighted lines) whose AI-written rows carry `ai-line` and the capture's colour. */
export const AiCodeTable: FC<{ lines: string[]; marks: Map<number, AiLineMark> }> = ({ lines, marks }) => {
  let out = '';
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const m = marks.get(n);
    const cls = m ? ` class="ai-line ${aiHue(m.captures[0]!)}" title="${escapeHtml(`AI-written: ${aiLabel(m.captures[0]!)}`)}"` : '';
    out += `<tr id="L${n}"${cls}><td class="ln"><a href="#L${n}" data-line="${n}">${n}</a></td><td class="lc">${lines[i] || ' '}</td></tr>`;
  }
  return (
    <div class="code-scroll">
      <table class="code-table ai-highlight" data-line-anchors="">
        <tbody>{raw(out)}</tbody>
      </table>
    </div>
  );
};

/** The legend above a file with AI lines highlighted: how many lines, and each capture's popover. */
export const AiLegend: FC<{ repo: RepoRef; marks: Map<number, AiLineMark>; total: number }> = ({ repo, marks, total }) => {
  const captures = distinctCaptures(marks);
  return (
    <div class="ai-legend" id="ai-legend">
      <span class="muted">
        {marks.size === 0 ? 'No AI-written lines in this file.' : `${marks.size} of ${total} ${total === 1 ? 'line' : 'lines'} written by AI`}
      </span>
      {captures.map((c) => (
        <AiPopover repo={repo} captures={[c]} />
      ))}
    </div>
  );
};

/** The commit page panel: each capture with its model, evidence, confidence, the spans it covers, prompt and links. */
export const AiCommitPanel: FC<{ repo: RepoRef; sha: string; captures: CaptureView[]; graphHref?: string | null }> = ({ repo, sha, captures, graphHref }) => {
  if (captures.length === 0) return null;
  return (
    <section class="card ai-panel" id="ai-captures" aria-labelledby="ai-captures-title">
      <h2 class="ai-panel-title" id="ai-captures-title">
        <span class="ai-badge-mark" aria-hidden="true">
          AI
        </span>{' '}
        AI provenance <span class="counter">{captures.length}</span>
        {graphHref && (
          <a class="btn btn-sm ai-panel-graph" href={graphHref} id="ai-graph-link" title="This commit's evidence in the knowledge graph: the runs and agents behind it and the ranges it wrote">
            <Icon name="graph" /> Graph
          </a>
        )}
      </h2>
      <ol class="ai-capture-list">
        {captures.map((c) => {
          const files = [...new Set([...Object.keys(c.modified_line_spans), ...c.modified_files])];
          return (
            <li class={`ai-capture-item ${aiHue(c)}`} id={`ai-capture-${c.capture_index}`}>
              <div class="ai-capture-head">
                <AiBadge capture={c} />
                <span class="muted">
                  {evidenceLabel(c.evidence_kind)} · confidence {`${Math.round(c.capture_confidence * 100)}%`}
                </span>
              </div>
              {files.length > 0 && (
                <ul class="ai-files">
                  {files.map((f) => {
                    const spans = c.modified_line_spans[f];
                    return (
                      <li>
                        <a class="mono" href={blobUrl(repo, sha, f)}>
                          {f}
                        </a>{' '}
                        <span class="muted ai-spans">{spans && spans.length ? spanText(spans) : 'whole change'}</span>
                      </li>
                    );
                  })}
                </ul>
              )}
              <AiCaptureDetails repo={repo} capture={c} promptOpen={false} />
            </li>
          );
        })}
      </ol>
    </section>
  );
};

/**
 * The pull request files view's mark for added lines (DiffHooks.lineMark): AI-written lines get `dl-ai`
 * and the capture's colour; the first shown line of each range carries the badge and its popover.
 */
export function aiDiffLineMark(repo: RepoRef, byPath: Map<string, Map<number, AiLineMark>>): (file: { path: string }, line: number) => { className: string; html?: string } | null {
  const shown = new Set<string>();
  return (file, line) => {
    const m = byPath.get(file.path)?.get(line);
    if (!m) return null;
    const key = `${file.path}\0${m.label}`;
    let html: string | undefined;
    if (!shown.has(key)) {
      shown.add(key);
      const rendered: unknown = (<AiPopover repo={repo} captures={m.captures} lines={m.label} />).toString();
      if (typeof rendered === 'string') html = `<span class="diff-ai-mark">${rendered}</span>`;
    }
    return { className: `dl-ai ${aiHue(m.captures[0]!)}`, html };
  };
}
