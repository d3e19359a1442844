import type { FC } from 'hono/jsx';
import type { PageContext } from '../context.ts';
import { Layout } from '../layout.tsx';
import { PostForm } from '../components.tsx';
import { Icon } from '../icons.tsx';

/** A destructive action waiting for its confirmation: what it does, and the form that does it. */
export interface ConfirmStep {
  /** "Merge pull request #3?" */
  title: string;
  /** What happens, in a sentence. */
  message: string;
  /** Further facts (the method, the branch deleted…), one line each. */
  details?: string[];
  /** The same URL the first form posted to. */
  action: string;
  /** The first form's fields, posted again (the CSRF token is added fresh). */
  fields: [string, string][];
  confirmLabel: string;
  cancelHref: string;
}

/**
 * The confirmation step of a destructive action (merge, revoke, cancel, remove): a page of its own, so
 * it works without JavaScript. Its form posts the same fields again with `confirmed=1`.
 */
export const ConfirmPage: FC<{ ctx: PageContext; step: ConfirmStep }> = ({ ctx, step }) => (
  <Layout ctx={ctx} title={step.title} size="narrow">
    <section class="card card-pad confirm-card" id="confirm" aria-labelledby="confirm-title">
      <h1 class="confirm-title" id="confirm-title">
        <Icon name="alert" /> {step.title}
      </h1>
      <p class="confirm-message">{step.message}</p>
      {step.details && step.details.length > 0 ? (
        <ul class="confirm-details">
          {step.details.map((d) => (
            <li>{d}</li>
          ))}
        </ul>
      ) : null}
      <PostForm ctx={ctx} action={step.action} class="confirm-form">
        {step.fields.map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <input type="hidden" name="confirmed" value="1" />
        <div class="form-actions">
          <button type="submit" class="btn btn-danger" id="confirm-submit" autofocus>
            {step.confirmLabel}
          </button>
          <a class="btn" href={step.cancelHref} id="confirm-cancel">
            Cancel
          </a>
        </div>
      </PostForm>
    </section>
  </Layout>
);
