import type { FC } from 'hono/jsx';
import type { FormError, PageContext } from '../context.ts';
import { Layout } from '../layout.tsx';
import { FormAlert, PostForm, fieldInvalid } from '../components.tsx';
import { Logo } from '../icons.tsx';

export const LoginPage: FC<{ ctx: PageContext; username?: string; next?: string; error?: FormError | null }> = ({ ctx, username = '', next = '', error }) => (
  <Layout ctx={ctx} title="Sign in" size="narrow">
    <div class="auth">
      <div class="auth-head">
        <Logo size={44} />
        <h1>Sign in to gitoku</h1>
      </div>
      <FormAlert error={error} />
      <div class="card card-pad">
        <PostForm ctx={ctx} action="/-/login" class="stack">
          {next && <input type="hidden" name="next" value={next} />}
          <div class="field">
            <label for="login-username">Username</label>
            <input type="text" id="login-username" class="input" name="username" value={username} autocomplete="username" autocapitalize="none" spellcheck={false} required autofocus={!username} />
          </div>
          <div class="field">
            <label for="login-password">Password</label>
            <input id="login-password" class="input" type="password" name="password" autocomplete="current-password" required autofocus={!!username} />
          </div>
          <button type="submit" class="btn btn-primary btn-block">
            Sign in
          </button>
        </PostForm>
      </div>
      <p class="auth-alt">{ctx.signupEnabled ? <>New to gitoku? <a href="/-/signup">Create an account</a>.</> : <>Accounts are created by the administrator.</>}</p>
    </div>
  </Layout>
);

export interface SignupValues {
  username: string;
  email: string;
}

export const SignupPage: FC<{ ctx: PageContext; values?: SignupValues; error?: FormError | null }> = ({ ctx, values = { username: '', email: '' }, error }) => (
  <Layout ctx={ctx} title="Sign up" size="narrow">
    <div class="auth">
      <div class="auth-head">
        <Logo size={44} />
        <h1>Create your account</h1>
      </div>
      {ctx.signupEnabled ? (
        <>
          <FormAlert error={error} />
          <div class="card card-pad">
            <PostForm ctx={ctx} action="/-/signup" class="stack">
              <div class="field">
                <label for="signup-username">Username</label>
                <input type="text"
                  id="signup-username"
                  class="input"
                  name="username"
                  value={values.username}
                  autocomplete="username"
                  autocapitalize="none"
                  spellcheck={false}
                  maxlength={39}
                  required
                  autofocus
                  aria-invalid={fieldInvalid(error, 'username') ? 'true' : undefined}
                />
                <p class="hint">Letters, digits and single - _ . between them. Your repositories live at /username.</p>
              </div>
              <div class="field">
                <label for="signup-email">
                  Email <span class="muted">(optional)</span>
                </label>
                <input id="signup-email" class="input" type="email" name="email" value={values.email} autocomplete="email" aria-invalid={fieldInvalid(error, 'email') ? 'true' : undefined} />
              </div>
              <div class="field">
                <label for="signup-password">Password</label>
                <input id="signup-password" class="input" type="password" name="password" autocomplete="new-password" minlength={8} required aria-invalid={fieldInvalid(error, 'password') ? 'true' : undefined} />
                <p class="hint">At least 8 characters.</p>
              </div>
              <button type="submit" class="btn btn-primary btn-block">
                Create account
              </button>
            </PostForm>
          </div>
          <p class="auth-alt">
            Already have an account? <a href="/-/login">Sign in</a>.
          </p>
        </>
      ) : (
        <div class="card card-pad notice">
          <p>
            <strong>Sign-up is disabled on this instance.</strong>
          </p>
          <p class="muted">Ask an administrator to create an account for you.</p>
          <a class="btn" href="/-/login">
            Sign in
          </a>
        </div>
      )}
    </div>
  </Layout>
);
