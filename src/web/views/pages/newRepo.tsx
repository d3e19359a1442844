import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import { Layout } from '../layout.tsx';
import { Avatar, FormAlert, PostForm, fieldInvalid } from '../components.tsx';
import { Icon } from '../icons.tsx';

export interface NewRepoValues {
  name: string;
  description: string;
  visibility: 'public' | 'private';
  autoInit: boolean;
}

export const EMPTY_NEW_REPO: NewRepoValues = { name: '', description: '', visibility: 'public', autoInit: false };

export const NewRepositoryPage: FC<{ ctx: PageContext; values?: NewRepoValues; error?: FormError | null }> = ({ ctx, values = EMPTY_NEW_REPO, error }) => {
  const owner = ctx.user!.username;
  return (
    <Layout ctx={ctx} title="New repository" size="narrow">
      <div class="page-head">
        <h1>Create a new repository</h1>
        <p class="muted">A repository holds your project's files and their history.</p>
      </div>
      <FormAlert error={error} />
      <PostForm ctx={ctx} action="/-/new" class="card card-pad stack">
        <div class="field">
          <label for="repo-name">Repository name</label>
          <div class="owner-name">
            <span class="owner-chip">
              <Avatar name={owner} size="sm" /> {owner}
            </span>
            <span class="owner-slash">/</span>
            <input type="text"
              id="repo-name"
              class="input"
              name="name"
              value={values.name}
              maxlength={100}
              required
              autofocus
              autocomplete="off"
              autocapitalize="none"
              spellcheck={false}
              pattern="[A-Za-z0-9._\-]+"
              aria-invalid={fieldInvalid(error, 'name') ? 'true' : undefined}
            />
          </div>
          <p class="hint">Short and memorable: letters, digits, ".", "-" and "_".</p>
        </div>
        <div class="field">
          <label for="repo-description">
            Description <span class="muted">(optional)</span>
          </label>
          <input type="text" id="repo-description" class="input" name="description" value={values.description} maxlength={2000} aria-invalid={fieldInvalid(error, 'description') ? 'true' : undefined} />
        </div>
        <fieldset class="field choice-group">
          <legend>Visibility</legend>
          <label class="choice">
            <input type="radio" name="visibility" value="public" checked={values.visibility === 'public'} />
            <Icon name="globe" class="choice-icon" />
            <span>
              <strong>Public</strong>
              <span class="hint">Anyone can see this repository. You choose who can push.</span>
            </span>
          </label>
          <label class="choice">
            <input type="radio" name="visibility" value="private" checked={values.visibility === 'private'} />
            <Icon name="lock" class="choice-icon" />
            <span>
              <strong>Private</strong>
              <span class="hint">Only you and the collaborators you add can see it.</span>
            </span>
          </label>
        </fieldset>
        <label class="choice choice-check">
          <input type="checkbox" name="auto_init" value="1" checked={values.autoInit} />
          <span>
            <strong>Add a README file</strong>
            <span class="hint">Start with a first commit so you can clone right away.</span>
          </span>
        </label>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary">
            Create repository
          </button>
          <a class="btn btn-ghost" href="/">
            Cancel
          </a>
        </div>
      </PostForm>
    </Layout>
  );
};
