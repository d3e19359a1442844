import type { FC } from 'hono/jsx';
import { isRunBranch } from '../../../domain/runs.ts';
import type { FormError, PageContext } from '../context.ts';
import type { CollaboratorRow } from '../../../services/repositories.ts';
import { Avatar, EmptyState, FormAlert, PageAssets, PostForm, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { RepoLayout, type RepoView } from './repo.tsx';
import { type RuleValues, ArchiveRow, BranchProtectionSection, RenameSection, TransferRow } from './repoSettingsSections.tsx';
import type { ProtectionRule } from '../../../domain/branchProtection.ts';

export type { RuleValues };

export type SettingsSection = 'general' | 'collaborators' | 'danger' | 'rename' | 'branches' | 'transfer';

export interface GeneralValues {
  description: string;
  visibility: 'public' | 'private';
  defaultBranch: string;
}

export interface CollaboratorValues {
  username: string;
  role: 'read' | 'write' | 'admin';
}

export interface RepoSettingsProps {
  ctx: PageContext;
  view: RepoView;
  branches: string[];
  collaborators: CollaboratorRow[];
  general?: GeneralValues;
  collaborator?: CollaboratorValues;
  confirm?: string;
  /** The failed section's error (422), shown next to that section's form. */
  error?: { section: SettingsSection; error: FormError } | null;
  /** Branch protection rules (settings/branches). */
  rules?: ProtectionRule[];
  /** Old names that still lead here. */
  redirects?: { owner_name: string; lower_name: string }[];
  rename?: string;
  transfer?: { newOwner: string; confirm: string };
  /** The rule form's values after a failed submit. */
  rule?: RuleValues;
}

const ROLES = [
  { value: 'read', label: 'Read', help: 'Clone and browse' },
  { value: 'write', label: 'Write', help: 'Also push' },
  { value: 'admin', label: 'Admin', help: 'Also manage settings and people' },
] as const;

export const RepoSettingsPage: FC<RepoSettingsProps> = ({ ctx, view, branches, collaborators, general, collaborator, confirm = '', error, rules = [], redirects = [], rename, transfer, rule }) => {
  const { repo } = view;
  const base = `/${repo.owner_name}/${repo.name}/settings`;
  const values: GeneralValues = general ?? { description: repo.description, visibility: repo.is_private ? 'private' : 'public', defaultBranch: repo.default_branch };
  const addValues: CollaboratorValues = collaborator ?? { username: '', role: 'write' };
  const errorFor = (section: SettingsSection) => (error && error.section === section ? error.error : null);
  const fullName = `${repo.owner_name}/${repo.name}`;
  const branchChoices = branches.includes(values.defaultBranch) || branches.length === 0 ? branches : [values.defaultBranch, ...branches];
  return (
    <RepoLayout ctx={ctx} view={view} title={`Settings · ${fullName}`} active="settings" head={<PageAssets ctx={ctx} styles={['repo-settings.css']} />}>
      <div class="repo-body settings">
        <aside class="settings-nav">
          <nav class="card side-links" aria-label="Settings sections">
            <a href="#general">
              <Icon name="gear" /> General
            </a>
            <a href="#collaborators">
              <Icon name="people" /> Collaborators
            </a>
            <a href="#branches">
              <Icon name="branch" /> Branches
            </a>
            <a href={`${base}/hooks`}>
              <Icon name="link" /> Webhooks
            </a>
            <a href="#danger" class="danger-link">
              <Icon name="alert" /> Danger zone
            </a>
          </nav>
        </aside>
        <div class="settings-main">
          <section class="card" id="general" aria-labelledby="general-title">
            <div class="card-head">
              <h2 class="h3" id="general-title">
                General
              </h2>
            </div>
            <div class="card-pad">
              <FormAlert error={errorFor('general')} />
              <PostForm ctx={ctx} action={base} class="stack">
                <div class="field">
                  <label for="settings-description">Description</label>
                  <textarea id="settings-description" class="input" name="description" rows={2} maxlength={2000} aria-invalid={fieldInvalid(errorFor('general'), 'description') ? 'true' : undefined}>
                    {values.description}
                  </textarea>
                </div>
                <fieldset class="field choice-group">
                  <legend>Visibility</legend>
                  <label class="choice">
                    <input type="radio" name="visibility" value="public" checked={values.visibility === 'public'} />
                    <Icon name="globe" class="choice-icon" />
                    <span>
                      <strong>Public</strong>
                      <span class="hint">Anyone can see and clone this repository.</span>
                    </span>
                  </label>
                  <label class="choice">
                    <input type="radio" name="visibility" value="private" checked={values.visibility === 'private'} />
                    <Icon name="lock" class="choice-icon" />
                    <span>
                      <strong>Private</strong>
                      <span class="hint">Only collaborators can see it; everyone else gets "not found".</span>
                    </span>
                  </label>
                </fieldset>
                <div class="field">
                  <label for="settings-branch">Default branch</label>
                  {branchChoices.length ? (
                    <select id="settings-branch" class="input select" name="default_branch" aria-invalid={fieldInvalid(errorFor('general'), 'default_branch') ? 'true' : undefined}>
                      {branchChoices.filter((b) => !isRunBranch(b)).map((b) => (
                        <option value={b} selected={b === values.defaultBranch}>
                          {b}
                        </option>
                      ))}
                      {branchChoices.some(isRunBranch) && (
                        // Agent runs' branches, grouped apart at the end.
                        <optgroup label="Run branches">
                          {branchChoices.filter(isRunBranch).map((b) => (
                            <option value={b} selected={b === values.defaultBranch}>
                              {b}
                            </option>
                          ))}
                        </optgroup>
                      )}
                    </select>
                  ) : (
                    <input type="text" id="settings-branch" class="input mono" name="default_branch" value={values.defaultBranch} aria-invalid={fieldInvalid(errorFor('general'), 'default_branch') ? 'true' : undefined} />
                  )}
                  <p class="hint">{branchChoices.length ? 'The branch shown on the repository page and checked out by git clone.' : 'Nothing has been pushed yet: name the branch your first push will create.'}</p>
                </div>
                <div class="form-actions">
                  <button type="submit" class="btn btn-primary">
                    Save changes
                  </button>
                </div>
              </PostForm>
            </div>
          </section>

          <RenameSection ctx={ctx} base={base} name={rename ?? repo.name} error={errorFor('rename')} redirects={redirects} />

          <section class="card" id="collaborators" aria-labelledby="collaborators-title">
            <div class="card-head">
              <h2 class="h3" id="collaborators-title">
                Collaborators
              </h2>
            </div>
            {collaborators.length ? (
              <ul class="people-list">
                {collaborators.map(({ user, role }) => (
                  <li class="person">
                    <Avatar name={user.username} size="md" />
                    <div class="person-name">
                      <a href={`/${user.username}`}>{user.username}</a>
                      {user.full_name && <span class="muted"> {user.full_name}</span>}
                    </div>
                    <PostForm ctx={ctx} action={`${base}/collaborators/${encodeURIComponent(user.username)}`} class="inline-form">
                      <label class="sr-only" for={`role-${user.id}`}>
                        Role of {user.username}
                      </label>
                      <select id={`role-${user.id}`} class="input select select-sm" name="role">
                        {ROLES.map((r) => (
                          <option value={r.value} selected={r.value === role}>
                            {r.label}
                          </option>
                        ))}
                      </select>
                      <button type="submit" class="btn btn-sm">
                        Update
                      </button>
                    </PostForm>
                    <PostForm ctx={ctx} action={`${base}/collaborators/${encodeURIComponent(user.username)}/remove`} class="inline-form">
                      <button type="submit" class="btn btn-sm btn-danger-outline" aria-label={`Remove ${user.username}`}>
                        <Icon name="trash" /> <span class="hide-sm">Remove</span>
                      </button>
                    </PostForm>
                  </li>
                ))}
              </ul>
            ) : (
              <EmptyState icon="people" title="No collaborators yet">
                <p class="muted">Only {repo.owner_name} (the owner) has access. Add people below.</p>
              </EmptyState>
            )}
            <div class="card-pad card-foot">
              <FormAlert error={errorFor('collaborators')} />
              <PostForm ctx={ctx} action={`${base}/collaborators`} class="add-person">
                <div class="field grow">
                  <label for="collab-username">Add a collaborator</label>
                  <input type="text" id="collab-username" class="input" name="username" value={addValues.username} placeholder="username" required autocomplete="off" autocapitalize="none" spellcheck={false} aria-invalid={fieldInvalid(errorFor('collaborators'), 'username') ? 'true' : undefined} />
                </div>
                <div class="field">
                  <label for="collab-role">Role</label>
                  <select id="collab-role" class="input select" name="role">
                    {ROLES.map((r) => (
                      <option value={r.value} selected={r.value === addValues.role}>
                        {r.label} — {r.help}
                      </option>
                    ))}
                  </select>
                </div>
                <button type="submit" class="btn btn-primary">
                  Add
                </button>
              </PostForm>
            </div>
          </section>

          <BranchProtectionSection ctx={ctx} base={base} rules={rules} branches={branches} values={rule} error={errorFor('branches')} />

          <section class="card danger-zone" id="danger" aria-labelledby="danger-title">
            <div class="card-head">
              <h2 class="h3" id="danger-title">
                Danger zone
              </h2>
            </div>
            <div class="card-pad">
              <ArchiveRow ctx={ctx} base={base} archived={repo.archived === 1} />
              <TransferRow ctx={ctx} base={base} fullName={fullName} values={transfer} error={errorFor('transfer')} />
              <FormAlert error={errorFor('danger')} />
              <div class="danger-row">
                <div>
                  <strong>Delete this repository</strong>
                  <p class="muted">Once deleted, the repository and all its history are gone for good.</p>
                </div>
              </div>
              <PostForm ctx={ctx} action={`${base}/delete`} class="stack">
                <div class="field">
                  <label for="delete-confirm">
                    To confirm, type <code class="confirm-name">{fullName}</code> below
                  </label>
                  <input type="text" id="delete-confirm" class="input mono" name="confirm" value={confirm} autocomplete="off" autocapitalize="none" spellcheck={false} required aria-invalid={errorFor('danger') ? 'true' : undefined} />
                </div>
                <div class="form-actions">
                  <button type="submit" class="btn btn-danger">
                    <Icon name="trash" /> Delete this repository
                  </button>
                </div>
              </PostForm>
            </div>
          </section>
        </div>
      </div>
    </RepoLayout>
  );
};
