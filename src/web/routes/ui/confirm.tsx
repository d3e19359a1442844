import type { Context } from 'hono';
import type { WebEnv } from '../../context.ts';
import { ConfirmPage, type ConfirmStep } from '../../views/pages/confirm.tsx';
import { pageContext, render, type FormFields } from './render.tsx';

/** Whether a destructive form was posted from its confirmation step. */
export function isConfirmed(form: FormFields): boolean {
  return form.get('confirmed') === '1';
}

/** The confirmation page of a destructive action; its form posts the same fields again, confirmed. */
export function askToConfirm(c: Context<WebEnv>, step: ConfirmStep): Promise<Response> {
  return render(c, <ConfirmPage ctx={pageContext(c)} step={step} />);
}
