import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import { type ProtectionRule, patternMatches } from '../../../domain/branchProtection.ts';
import { EmptyState, FormAlert, PostForm, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';

/** The branch protection form's fields (also its values after a failed submit). */
export interface RuleValues {
  pattern: string;
  /** The pattern being edited ('' for a new rule). */
  originalPattern: string;
  requireReviews: boolean;
  reviewCount: string;
  dismissStale: boolean;
  requireChecks: boolean;
  contexts: string;
  strict: boolean;
  enforceAdmins: boolean;
  allowForcePushes: boolean;
  allowDeletions: boolean;
}

export const EMPTY_RULE: RuleValues = {
  pattern: '',
  originalPattern: '',
  requireReviews: true,
  reviewCount: '1',
  dismissStale: false,
  requireChecks: false,
  contexts: '',
  strict: false,
  enforceAdmins: false,
  allowForcePushes: false,
  allowDeletions: false,
};

export function ruleValues(rule: ProtectionRule): RuleValues {
  return {
    pattern: rule.pattern,
    originalPattern: rule.pattern,
    requireReviews: rule.requiredReviews !== null,
    reviewCount: String(rule.requiredReviews?.count ?? 1),
    dismissStale: rule.requiredReviews?.dismissStale ?? false,
    requireChecks: rule.requiredStatusChecks !== null,
    contexts: (rule.requiredStatusChecks?.contexts ?? []).join(', '),
    strict: rule.requiredStatusChecks?.strict ?? false,
    enforceAdmins: rule.enforceAdmins,
    allowForcePushes: rule.allowForcePushes,
    allowDeletions: rule.allowDeletions,
  };
}

/** One line per requirement of a rule, for the list. */
function describeRule(rule: ProtectionRule): string[] {
  const out: string[] = [];
  if (rule.requiredReviews) out.push(rule.requiredReviews.count ? `${rule.requiredReviews.count} approving review${rule.requiredReviews.count === 1 ? '' : 's'}${rule.requiredReviews.dismissStale ? ', stale approvals dismissed' : ''}` : 'Pull request required');
  if (rule.requiredStatusChecks) out.push(rule.requiredStatusChecks.contexts.length ? `Checks: ${rule.requiredStatusChecks.contexts.join(', ')}${rule.requiredStatusChecks.strict ? ' (up to date)' : ''}` : 'Status checks (none named)');
  out.push(rule.allowForcePushes ? 'Force pushes allowed' : 'No force pushes');
  out.push(rule.allowDeletions ? 'Deletion allowed' : 'No deletion');
  if (rule.enforceAdmins) out.push('Administrators included');
  return out;
}

export const RenameSection: FC<{ ctx: PageContext; base: string; name: string; error: FormError | null; redirects: { owner_name: string; lower_name: string }[] }> = ({ ctx, base, name, error, redirects }) => (
  <section class="card" id="rename" aria-labelledby="rename-title">
    <div class="card-head">
      <h2 class="h3" id="rename-title">
        Repository name
      </h2>
    </div>
    <div class="card-pad">
      <FormAlert error={error} />
      <PostForm ctx={ctx} action={`${base}/rename`} class="add-person">
        <div class="field grow">
          <label for="rename-name">Name</label>
          <input type="text" id="rename-name" class="input mono" name="name" value={name} required maxlength={100} autocomplete="off" autocapitalize="none" spellcheck={false} aria-invalid={fieldInvalid(error, 'name') ? 'true' : undefined} />
        </div>
        <button type="submit" class="btn">
          Rename
        </button>
      </PostForm>
      <p class="hint">Links, API paths and git remotes using the old name keep working: they lead here until another repository takes the old name.</p>
      {redirects.length > 0 && (
        <p class="hint" id="old-names">
          Old names leading here: {redirects.map((r, i) => (
            <>
              {i > 0 && ', '}
              <code>
                {r.owner_name}/{r.lower_name}
              </code>
            </>
          ))}
        </p>
      )}
    </div>
  </section>
);

const Check: FC<{ name: string; checked: boolean; label: string; hint?: string }> = ({ name, checked, label, hint }) => (
  <label class="checkbox-line rule-check">
    <input type="checkbox" name={name} value="1" checked={checked} />
    <span>
      {label}
      {hint && <span class="hint"> {hint}</span>}
    </span>
  </label>
);

const RuleForm: FC<{ ctx: PageContext; base: string; values: RuleValues; error: FormError | null; idPrefix: string }> = ({ ctx, base, values, error, idPrefix }) => (
  <PostForm ctx={ctx} action={`${base}/branches`} class="stack rule-form">
    <FormAlert error={error} />
    <input type="hidden" name="original_pattern" value={values.originalPattern} />
    <div class="field">
      <label for={`${idPrefix}-pattern`}>Branch name pattern</label>
      <input type="text" id={`${idPrefix}-pattern`} class="input mono" name="pattern" value={values.pattern} placeholder="main or release/*" required maxlength={255} autocomplete="off" autocapitalize="none" spellcheck={false} aria-invalid={fieldInvalid(error, 'pattern') ? 'true' : undefined} />
      <p class="hint">A branch name, or a glob: <code>*</code> within a path segment, <code>**</code> across segments.</p>
    </div>
    <fieldset class="field rule-group">
      <legend>Protect matching branches</legend>
      <Check name="require_reviews" checked={values.requireReviews} label="Require a pull request before merging" hint="(direct pushes are refused)" />
      <div class="rule-sub">
        <label for={`${idPrefix}-count`}>Required approvals</label>
        <select id={`${idPrefix}-count`} class="input select select-sm" name="review_count" aria-invalid={fieldInvalid(error, 'required_pull_request_reviews.required_approving_review_count') ? 'true' : undefined}>
          {['0', '1', '2', '3', '4', '5', '6'].map((n) => (
            <option value={n} selected={n === values.reviewCount}>
              {n}
            </option>
          ))}
        </select>
        <Check name="dismiss_stale" checked={values.dismissStale} label="Dismiss stale approvals when new commits are pushed" />
      </div>
      <Check name="require_checks" checked={values.requireChecks} label="Require status checks to pass" />
      <div class="rule-sub">
        <label for={`${idPrefix}-contexts`}>Required checks</label>
        <input type="text" id={`${idPrefix}-contexts`} class="input mono" name="contexts" value={values.contexts} placeholder="ci, lint" autocomplete="off" aria-invalid={fieldInvalid(error, 'required_status_checks.contexts') ? 'true' : undefined} />
        <Check name="strict" checked={values.strict} label="Require branches to be up to date before merging" />
      </div>
      <Check name="enforce_admins" checked={values.enforceAdmins} label="Do not allow administrators to bypass the above" />
    </fieldset>
    <fieldset class="field rule-group">
      <legend>Rules applied to everyone, administrators included</legend>
      <Check name="allow_force_pushes" checked={values.allowForcePushes} label="Allow force pushes" />
      <Check name="allow_deletions" checked={values.allowDeletions} label="Allow deletions" />
    </fieldset>
    <div class="form-actions">
      <button type="submit" class="btn btn-primary">
        {values.originalPattern ? 'Save rule' : 'Add rule'}
      </button>
    </div>
  </PostForm>
);

export const BranchProtectionSection: FC<{ ctx: PageContext; base: string; rules: ProtectionRule[]; branches: string[]; values?: RuleValues; error: FormError | null }> = ({ ctx, base, rules, branches, values, error }) => {
  const editing = values?.originalPattern ?? null;
  return (
    <section class="card" id="branches" aria-labelledby="branches-title">
      <div class="card-head">
        <h2 class="h3" id="branches-title">
          Branch protection rules
        </h2>
      </div>
      {rules.length ? (
        <ul class="people-list rule-list">
          {rules.map((rule) => {
            const covered = branches.filter((b) => patternMatches(rule.pattern, b));
            return (
              <li class="person rule-row" data-pattern={rule.pattern}>
                <Icon name="lock" class="muted" />
                <div class="person-name grow">
                  <code class="rule-pattern">{rule.pattern}</code>
                  <div class="muted rule-summary">{describeRule(rule).join(' · ')}</div>
                  <div class="hint rule-covers">{covered.length ? `Applies to ${covered.length} branch${covered.length === 1 ? '' : 'es'}: ${covered.slice(0, 5).join(', ')}${covered.length > 5 ? ' …' : ''}` : 'Applies to no branch yet'}</div>
                  <details class="rule-edit" open={editing === rule.pattern ? true : undefined}>
                    <summary>Edit</summary>
                    <RuleForm ctx={ctx} base={base} values={editing === rule.pattern && values ? values : ruleValues(rule)} error={editing === rule.pattern ? error : null} idPrefix={`rule-${rule.id}`} />
                  </details>
                </div>
                <PostForm ctx={ctx} action={`${base}/branches/remove`} class="inline-form">
                  <input type="hidden" name="pattern" value={rule.pattern} />
                  <button type="submit" class="btn btn-sm btn-danger-outline" aria-label={`Remove the rule on ${rule.pattern}`}>
                    <Icon name="trash" /> <span class="hide-sm">Remove</span>
                  </button>
                </PostForm>
              </li>
            );
          })}
        </ul>
      ) : (
        <EmptyState icon="branch" title="No branch protection rules">
          <p class="muted">Anyone with write access can push, force-push or delete any branch. Add a rule to protect branches such as main.</p>
        </EmptyState>
      )}
      <div class="card-pad card-foot">
        <details class="rule-add" open={editing === '' || rules.length === 0 ? true : undefined}>
          <summary class="h4">Add a rule</summary>
          <RuleForm ctx={ctx} base={base} values={editing === '' && values ? values : EMPTY_RULE} error={editing === '' ? error : null} idPrefix="rule-new" />
        </details>
      </div>
    </section>
  );
};

export const ArchiveRow: FC<{ ctx: PageContext; base: string; archived: boolean }> = ({ ctx, base, archived }) => (
  <div class="danger-row danger-action" id="archive">
    <div>
      <strong>{archived ? 'Unarchive this repository' : 'Archive this repository'}</strong>
      <p class="muted">{archived ? 'Pushes, merges and other changes become possible again.' : 'Mark it read-only: pushes, merges, new pull requests and runs are refused; everything stays readable.'}</p>
    </div>
    <PostForm ctx={ctx} action={`${base}/archive`} class="inline-form">
      <input type="hidden" name="archived" value={archived ? '0' : '1'} />
      <button type="submit" class="btn btn-danger-outline">
        <Icon name="lock" /> {archived ? 'Unarchive this repository' : 'Archive this repository'}
      </button>
    </PostForm>
  </div>
);

export const TransferRow: FC<{ ctx: PageContext; base: string; fullName: string; values?: { newOwner: string; confirm: string }; error: FormError | null }> = ({ ctx, base, fullName, values, error }) => (
  <div class="danger-row danger-action" id="transfer">
    <div class="grow">
      <strong>Transfer ownership</strong>
      <p class="muted">Give this repository to another user. Collaborators keep their access; the old URLs redirect.</p>
      <FormAlert error={error} />
      <PostForm ctx={ctx} action={`${base}/transfer`} class="add-person">
        <div class="field">
          <label for="transfer-owner">New owner</label>
          <input type="text" id="transfer-owner" class="input" name="new_owner" value={values?.newOwner ?? ''} placeholder="username" required autocomplete="off" autocapitalize="none" spellcheck={false} aria-invalid={fieldInvalid(error, 'new_owner') ? 'true' : undefined} />
        </div>
        <div class="field grow">
          <label for="transfer-confirm">
            Type <code class="confirm-name">{fullName}</code> to confirm
          </label>
          <input type="text" id="transfer-confirm" class="input mono" name="confirm" value={values?.confirm ?? ''} required autocomplete="off" autocapitalize="none" spellcheck={false} aria-invalid={fieldInvalid(error, 'confirm') ? 'true' : undefined} />
        </div>
        <button type="submit" class="btn btn-danger-outline">
          Transfer
        </button>
      </PostForm>
    </div>
  </div>
);
