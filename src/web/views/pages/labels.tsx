import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import type { Label } from '../../../db/schema.ts';
import { EmptyState, FormAlert, PageAssets, PostForm, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';
import { issuesUrl, labelsUrl } from '../urls.ts';
import { RepoLayout, type RepoView } from './repo.tsx';

// ---------- colours ----------

const HEX = /^[0-9a-f]{6}$/i;

/** A label's colour as `#rrggbb`, or a neutral grey for anything that is not six hex digits. */
export function labelColour(color: string): string {
  return HEX.test(color) ? `#${color.toLowerCase()}` : '#ededed';
}

function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(1 + i * 2, 3 + i * 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
}

/** Dark or white text on a label colour, whichever contrasts more (WCAG contrast ratio). */
export function labelTextColour(color: string): '#1b1f24' | '#ffffff' {
  const l = luminance(labelColour(color));
  const onWhite = 1.05 / (l + 0.05);
  const onDark = (l + 0.05) / (luminance('#1b1f24') + 0.05);
  return onDark >= onWhite ? '#1b1f24' : '#ffffff';
}

/**
 * The repository's label colours as a stylesheet (`.lbl-<id>` classes): the pages' Content-Security-
 * Policy allows no inline styles, so colours come from this sheet, served from the repository's path.
 * Only validated hex digits reach it.
 */
export function labelStylesheet(labels: Pick<Label, 'id' | 'color'>[]): string {
  return labels.map((l) => `.lbl-${l.id}{background:${labelColour(l.color)};color:${labelTextColour(l.color)};border-color:${labelColour(l.color)}}\n`).join('');
}

/** A short version of the label set for the stylesheet's URL (so it can be cached until a label changes). */
export function labelStylesVersion(labels: Pick<Label, 'id' | 'color'>[]): string {
  let h = 2166136261;
  for (const l of labels) for (const ch of `${l.id}:${l.color};`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h.toString(36);
}

/** The stylesheet link for pages that show labels. */
export const LabelStyles: FC<{ view: RepoView; version: string }> = ({ view, version }) => <link rel="stylesheet" href={`${labelsUrl(view.repo)}.css?v=${version}`} />;

/** A label as a coloured chip; a link to the issues carrying it unless `plain`. */
export const LabelChip: FC<{ view: RepoView; label: Pick<Label, 'id' | 'name' | 'color' | 'description'>; plain?: boolean }> = ({ view, label, plain }) =>
  plain ? (
    <span class={`issue-label lbl-${label.id}`} title={label.description || undefined}>
      {label.name}
    </span>
  ) : (
    <a class={`issue-label lbl-${label.id}`} href={`${issuesUrl(view.repo)}?label=${encodeURIComponent(label.name)}`} title={label.description || undefined}>
      {label.name}
    </a>
  );

// ---------- the labels page ----------

export interface LabelFormValues {
  name: string;
  color: string;
  description: string;
}

/** Colours offered to a new label (GitHub's palette); the colour input allows any. */
export const SUGGESTED_COLOURS = ['d73a4a', '0075ca', 'cfd3d7', 'a2eeef', '7057ff', '008672', 'e4e669', 'd876e3', 'fbca04', '0e8a16'];

const LabelFields: FC<{ idPrefix: string; values: LabelFormValues; error?: FormError | null }> = ({ idPrefix, values, error }) => (
  <div class="label-fields">
    <div class="field">
      <label for={`${idPrefix}-name`}>Label name</label>
      <input id={`${idPrefix}-name`} class="input" type="text" name="name" value={values.name} maxlength={50} required aria-invalid={fieldInvalid(error, 'name') ? 'true' : undefined} />
    </div>
    <div class="field">
      <label for={`${idPrefix}-description`}>Description</label>
      <input id={`${idPrefix}-description`} class="input" type="text" name="description" value={values.description} maxlength={100} placeholder="Optional" aria-invalid={fieldInvalid(error, 'description') ? 'true' : undefined} />
    </div>
    <div class="field label-colour-field">
      <label for={`${idPrefix}-color`}>Colour</label>
      <input id={`${idPrefix}-color`} class="input input-colour" type="color" name="color" value={labelColour(values.color)} aria-invalid={fieldInvalid(error, 'color') ? 'true' : undefined} />
    </div>
  </div>
);

export const LabelsPage: FC<{ ctx: PageContext; view: RepoView; labels: Label[]; openCounts: Map<number, number>; canWrite: boolean; stylesVersion: string; newValues: LabelFormValues; error?: FormError | null; editing?: { id: number; values: LabelFormValues; error: FormError | null } | null }> = ({
  ctx,
  view,
  labels,
  openCounts,
  canWrite,
  stylesVersion,
  newValues,
  error,
  editing,
}) => {
  const { repo } = view;
  const base = labelsUrl(repo);
  return (
    <RepoLayout ctx={ctx} view={view} title={`Labels · ${repo.owner_name}/${repo.name}`} active="issues">
      <PageAssets ctx={ctx} styles={['issues.css']} />
      <LabelStyles view={view} version={stylesVersion} />
      <div class="page-title-row">
        <h2 class="page-title">Labels</h2>
        <a class="btn btn-sm" href={issuesUrl(repo)}>
          <Icon name="issueOpen" /> Issues
        </a>
      </div>
      {canWrite && (
        <details class="card new-label" open={!!error} id="new-label">
          <summary class="card-head new-label-summary">
            <Icon name="plus" /> New label
          </summary>
          <PostForm ctx={ctx} action={base} class="card-pad stack" id="new-label-form">
            <FormAlert error={error} />
            <LabelFields idPrefix="new-label" values={newValues} error={error} />
            <div class="form-actions form-actions-end">
              <button type="submit" class="btn btn-primary btn-sm">
                Create label
              </button>
            </div>
          </PostForm>
        </details>
      )}
      <div class="card label-list-card">
        <div class="card-head">
          <strong>
            {labels.length} {labels.length === 1 ? 'label' : 'labels'}
          </strong>
        </div>
        {labels.length === 0 ? (
          <EmptyState icon="tag" title="No labels yet">
            <p class="muted">Labels sort issues and pull requests. A label named agent:&lt;agent&gt; starts that agent on the issues it is added to.</p>
          </EmptyState>
        ) : (
          <ul class="label-list">
            {labels.map((label) => {
              const open = openCounts.get(label.id) ?? 0;
              const edit = editing && editing.id === label.id ? editing : null;
              return (
                <li class="label-row" id={`label-${label.id}`}>
                  <div class="label-row-main">
                    <LabelChip view={view} label={label} />
                    <span class="label-row-desc muted">{label.description}</span>
                    <a class="label-row-count muted" href={`${issuesUrl(repo)}?label=${encodeURIComponent(label.name)}`}>
                      {open > 0 ? `${open} open ${open === 1 ? 'issue' : 'issues'}` : ''}
                    </a>
                    {canWrite && (
                      <span class="label-row-actions">
                        <details class="label-edit" open={!!edit}>
                          <summary class="btn btn-sm btn-ghost">Edit</summary>
                          <PostForm ctx={ctx} action={`${base}/${label.id}`} class="stack label-edit-form">
                            <FormAlert error={edit?.error} />
                            <LabelFields idPrefix={`label-${label.id}`} values={edit?.values ?? { name: label.name, color: label.color, description: label.description }} error={edit?.error} />
                            <div class="form-actions form-actions-end">
                              <button type="submit" class="btn btn-primary btn-sm">
                                Save changes
                              </button>
                            </div>
                          </PostForm>
                        </details>
                        <PostForm ctx={ctx} action={`${base}/${label.id}/delete`} class="inline-form">
                          <button type="submit" class="btn btn-sm btn-ghost text-del" aria-label={`Delete label ${label.name}`}>
                            Delete
                          </button>
                        </PostForm>
                      </span>
                    )}
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </RepoLayout>
  );
};
