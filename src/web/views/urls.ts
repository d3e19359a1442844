import { encodePath } from './format.ts';

/** URL builders for repository pages; every user-controlled segment is percent-encoded. */
export interface RepoRef {
  owner_name: string;
  name: string;
}

export const repoUrl = (r: RepoRef) => `/${encodeURIComponent(r.owner_name)}/${encodeURIComponent(r.name)}`;

const join = (ref: string, path: string) => (path ? `${encodePath(ref)}/${encodePath(path)}` : encodePath(ref));

export const treeUrl = (r: RepoRef, ref: string, path = '') => `${repoUrl(r)}/tree/${join(ref, path)}`;
export const blobUrl = (r: RepoRef, ref: string, path: string) => `${repoUrl(r)}/blob/${join(ref, path)}`;
export const rawUrl = (r: RepoRef, ref: string, path: string) => `${repoUrl(r)}/raw/${join(ref, path)}`;
export const blameUrl = (r: RepoRef, ref: string, path: string) => `${repoUrl(r)}/blame/${join(ref, path)}`;
export const commitUrl = (r: RepoRef, sha: string) => `${repoUrl(r)}/commit/${sha}`;

export function commitsUrl(r: RepoRef, ref: string, opts: { path?: string; page?: number } = {}): string {
  const q = new URLSearchParams();
  if (opts.path) q.set('path', opts.path);
  if (opts.page && opts.page > 1) q.set('page', String(opts.page));
  const qs = q.toString();
  return `${repoUrl(r)}/commits/${encodePath(ref)}${qs ? `?${qs}` : ''}`;
}

export const compareUrl = (r: RepoRef, base: string, head: string) => `${repoUrl(r)}/compare/${encodePath(base)}...${encodePath(head)}`;
/** One file's diff between two commits (full ids). */
export const diffFileUrl = (r: RepoRef, from: string, to: string, path: string) => `${repoUrl(r)}/diff-file/${from}/${to}?path=${encodeURIComponent(path)}`;
export const pullsUrl = (r: RepoRef) => `${repoUrl(r)}/pulls`;
export const pullUrl = (r: RepoRef, n: number, tab: '' | 'commits' | 'files' = '') => `${repoUrl(r)}/pull/${n}${tab ? `/${tab}` : ''}`;
/** One file's diff on a pull request's files tab, at the head the page showed ("Load diff"). */
export const pullFileDiffUrl = (r: RepoRef, n: number, head: string, path: string) => `${repoUrl(r)}/pull/${n}/files/diff/${head}?path=${encodeURIComponent(path)}`;
export const issuesUrl = (r: RepoRef) => `${repoUrl(r)}/issues`;
export const issueUrl = (r: RepoRef, n: number) => `${repoUrl(r)}/issues/${n}`;
export const labelsUrl = (r: RepoRef) => `${repoUrl(r)}/labels`;

/** How many hops the graph page shows around its target unless ?depth says otherwise. */
export const GRAPH_DEFAULT_DEPTH = 2;

export interface GraphQuery {
  node?: number;
  /** A capture's evidence node: "<commit sha>:<capture index>". */
  evidence?: string;
  run?: number;
  path?: string;
  depth?: number;
}

/** The graph page: ?node=ID, ?run=N or ?path=P, with ?depth when it is not the default. */
export function graphUrl(repo: RepoRef, q: GraphQuery = {}): string {
  const params = new URLSearchParams();
  if (q.node !== undefined) params.set('node', String(q.node));
  else if (q.evidence !== undefined) params.set('evidence', q.evidence);
  else if (q.run !== undefined) params.set('run', String(q.run));
  else if (q.path !== undefined) params.set('path', q.path);
  if (q.depth !== undefined && q.depth !== GRAPH_DEFAULT_DEPTH) params.set('depth', String(q.depth));
  const qs = params.toString();
  return `${repoUrl(repo)}/graph${qs ? `?${qs}` : ''}`;
}
