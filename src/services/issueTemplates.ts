import yaml from 'js-yaml';
import type { RepositoryAccess } from './repositories.ts';
import { isBinary, listTree, readBlobAtPath, resolveCommit, type TreeEntry } from '../git/tree.ts';

/**
 * Issue and pull request templates, read from the default branch as GitHub and Gitea do.
 *
 * Issue templates: Markdown files with a YAML front matter (`name`, `about`, `title`, `labels`,
 * `assignees`) in `.gitea/ISSUE_TEMPLATE/` or `.github/ISSUE_TEMPLATE/` (either case); GitHub's YAML
 * issue forms there are turned into the Markdown body they ask for (a heading per field). `config.yml`
 * beside them may switch blank issues off and list contact links. Without a directory, one legacy
 * `ISSUE_TEMPLATE.md` (root, `.gitea/`, `.github/` or `docs/`) is the body of every new issue.
 * Pull request templates: the first `pull_request_template.md` (either case) in `.gitea/`, `.github/`,
 * the root or `docs/` is the body of a new pull request.
 *
 * Everything is read from git objects (never a checkout): links and submodules are skipped, and files
 * are bounded in number and size. A template that cannot be parsed is listed with its error rather
 * than breaking the new-issue page.
 */

const TEMPLATE_DIRS = ['.gitea/ISSUE_TEMPLATE', '.gitea/issue_template', '.github/ISSUE_TEMPLATE', '.github/issue_template'];
const LEGACY_ISSUE_FILES = ['.gitea/ISSUE_TEMPLATE.md', '.gitea/issue_template.md', '.github/ISSUE_TEMPLATE.md', '.github/issue_template.md', 'ISSUE_TEMPLATE.md', 'issue_template.md', 'docs/ISSUE_TEMPLATE.md', 'docs/issue_template.md'];
const PULL_TEMPLATE_FILES = ['.gitea', '.github', '', 'docs'].flatMap((dir) => ['pull_request_template.md', 'PULL_REQUEST_TEMPLATE.md'].map((f) => (dir ? `${dir}/${f}` : f)));
const MAX_TEMPLATES = 30;
const MAX_TEMPLATE_BYTES = 64 * 1024;
const REGULAR_FILE = new Set(['100644', '100755']);

export interface IssueTemplate {
  /** The file name: what `?template=` names. */
  file: string;
  name: string;
  about: string;
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
  /** Why the file could not be read as a template (it is then not offered). */
  error?: string;
}

export interface ContactLink {
  name: string;
  url: string;
  about: string;
}

export interface IssueTemplates {
  templates: IssueTemplate[];
  /** False when config.yml says `blank_issues_enabled: false` (and there are templates to choose). */
  blankIssuesEnabled: boolean;
  contactLinks: ContactLink[];
  /** A legacy single template: the body of every new issue (no chooser). */
  legacyBody: string | null;
}

const NONE: IssueTemplates = { templates: [], blankIssuesEnabled: true, contactLinks: [], legacyBody: null };

async function defaultBranchCommit(access: RepositoryAccess): Promise<string | null> {
  if (access.repo.is_empty) return null;
  return resolveCommit(access.gitDir, `refs/heads/${access.repo.default_branch}`);
}

async function readText(access: RepositoryAccess, commit: string, path: string): Promise<string | null> {
  const blob = await readBlobAtPath(access.gitDir, commit, path, MAX_TEMPLATE_BYTES);
  if (!blob || blob.truncated || !REGULAR_FILE.has(blob.mode) || isBinary(blob.content)) return null;
  return blob.content.toString('utf8');
}

/** The issue templates of the repository's default branch (none for an empty repository). */
export async function loadIssueTemplates(access: RepositoryAccess): Promise<IssueTemplates> {
  const commit = await defaultBranchCommit(access);
  if (!commit) return NONE;
  const templates: IssueTemplate[] = [];
  const seen = new Set<string>();
  let config: Pick<IssueTemplates, 'blankIssuesEnabled' | 'contactLinks'> | null = null;
  for (const dir of TEMPLATE_DIRS) {
    const entries = await listTree(access.gitDir, commit, dir);
    if (!entries) continue;
    for (const entry of entries.filter(isTemplateFile)) {
      const lower = entry.name.toLowerCase();
      if (lower === 'config.yml' || lower === 'config.yaml') {
        if (!config) config = parseConfig((await readText(access, commit, entry.path)) ?? '');
        continue;
      }
      if (seen.has(lower) || templates.length >= MAX_TEMPLATES) continue;
      seen.add(lower);
      const text = await readText(access, commit, entry.path);
      if (text !== null) templates.push(parseTemplate(entry.name, text));
    }
  }
  const usable = templates.filter((t) => !t.error);
  if (templates.length > 0) return { templates, blankIssuesEnabled: usable.length === 0 || (config?.blankIssuesEnabled ?? true), contactLinks: config?.contactLinks ?? [], legacyBody: null };
  for (const path of LEGACY_ISSUE_FILES) {
    const text = await readText(access, commit, path);
    if (text !== null) return { ...NONE, contactLinks: config?.contactLinks ?? [], legacyBody: splitFrontMatter(text).body };
  }
  return { ...NONE, contactLinks: config?.contactLinks ?? [] };
}

/** The pull request template of the default branch, or null. */
export async function loadPullRequestTemplate(access: RepositoryAccess): Promise<string | null> {
  const commit = await defaultBranchCommit(access);
  if (!commit) return null;
  for (const path of PULL_TEMPLATE_FILES) {
    const text = await readText(access, commit, path);
    if (text !== null) return text.replace(/\r\n/g, '\n');
  }
  return null;
}

function isTemplateFile(entry: TreeEntry): boolean {
  return entry.type === 'blob' && REGULAR_FILE.has(entry.mode) && /\.(md|markdown|ya?ml)$/i.test(entry.name);
}

/** `---\nyaml\n---\nbody`: the front matter (as text) and the rest. */
export function splitFrontMatter(text: string): { front: string | null; body: string } {
  const normalized = text.replace(/\r\n/g, '\n').replace(/^\uFEFF/, '');
  const match = /^---\n([\s\S]*?)\n---[ \t]*(?:\n|$)/.exec(normalized);
  if (!match) return { front: null, body: normalized };
  return { front: match[1]!, body: normalized.slice(match[0].length) };
}

function loadYaml(text: string): unknown {
  return yaml.load(text, { schema: yaml.JSON_SCHEMA, json: true });
}

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');
/** A title prefix keeps its trailing space ("[bug] "): the author types after it. */
const titleOf = (v: unknown): string => (typeof v === 'string' ? v.replace(/^\s+/, '').slice(0, 256) : str(v));

/** `labels: bug, ui` or `labels: [bug, ui]` (GitHub accepts both). */
function list(v: unknown): string[] {
  const items = Array.isArray(v) ? v.map(str) : typeof v === 'string' ? v.split(',').map((s) => s.trim()) : [];
  return [...new Set(items.filter((s) => s.length > 0 && s.length <= 100))].slice(0, 20);
}

export function parseTemplate(file: string, text: string): IssueTemplate {
  const fallbackName = file.replace(/\.(md|markdown|ya?ml)$/i, '').replace(/[-_]+/g, ' ');
  const base: IssueTemplate = { file, name: fallbackName, about: '', title: '', body: '', labels: [], assignees: [] };
  try {
    if (/\.ya?ml$/i.test(file)) return { ...base, ...formTemplate(loadYaml(text), fallbackName) };
    const { front, body } = splitFrontMatter(text);
    const meta = front ? loadYaml(front) : {};
    if (meta !== null && meta !== undefined && (typeof meta !== 'object' || Array.isArray(meta))) throw new Error('the front matter is not a mapping');
    const m = (meta ?? {}) as Record<string, unknown>;
    return { ...base, name: str(m.name) || fallbackName, about: str(m.about) || str(m.description), title: titleOf(m.title), body, labels: list(m.labels), assignees: list(m.assignees) };
  } catch (err) {
    return { ...base, error: `${file}: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** A GitHub issue form (YAML) as the Markdown it asks for: its texts, then a heading per field. */
function formTemplate(doc: unknown, fallbackName: string): Partial<IssueTemplate> {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('an issue form must be a mapping');
  const d = doc as Record<string, unknown>;
  const parts: string[] = [];
  for (const item of Array.isArray(d.body) ? d.body : []) {
    if (!item || typeof item !== 'object') continue;
    const { type, attributes } = item as { type?: unknown; attributes?: Record<string, unknown> };
    const a = attributes ?? {};
    if (type === 'markdown') parts.push(str(a.value));
    else if (type === 'checkboxes') parts.push(`### ${str(a.label)}\n\n${(Array.isArray(a.options) ? a.options : []).map((o) => `- [ ] ${str((o as Record<string, unknown>)?.label)}`).join('\n')}`);
    else if (type === 'dropdown') parts.push(`### ${str(a.label)}\n\n${(Array.isArray(a.options) ? a.options.map(str) : []).map((o) => `- ${o}`).join('\n')}`);
    else if (type === 'input' || type === 'textarea') parts.push(`### ${str(a.label)}\n\n${str(a.value)}`);
  }
  return { name: str(d.name) || fallbackName, about: str(d.description) || str(d.about), title: titleOf(d.title), body: `${parts.filter(Boolean).join('\n\n')}\n`, labels: list(d.labels), assignees: list(d.assignees) };
}

function parseConfig(text: string): Pick<IssueTemplates, 'blankIssuesEnabled' | 'contactLinks'> {
  try {
    const c = (loadYaml(text) ?? {}) as Record<string, unknown>;
    const links = (Array.isArray(c.contact_links) ? c.contact_links : [])
      .map((l) => (l && typeof l === 'object' ? (l as Record<string, unknown>) : {}))
      .map((l) => ({ name: str(l.name), url: str(l.url), about: str(l.about) }))
      // Only web links: a template is repository content, and a javascript: URL would run in this site.
      .filter((l) => l.name && /^https?:\/\//i.test(l.url))
      .slice(0, 20);
    return { blankIssuesEnabled: c.blank_issues_enabled !== false, contactLinks: links };
  } catch {
    return { blankIssuesEnabled: true, contactLinks: [] };
  }
}
