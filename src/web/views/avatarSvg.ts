import { colourSlot } from './format.ts';
import { escapeHtml } from './highlight.ts';

/** The avatar colours of the pages' initials (.avatar-c0 … c7 in gitoku.css), in slot order. */
const COLOURS = ['#5b4bdb', '#0f7b6c', '#c2410c', '#1d6fd1', '#b42318', '#7e22ce', '#3f6212', '#a21caf'];

// Avatar URLs are pure (domain/avatarUrls.ts): the API's shapes below the web layer build them too.
export { avatarPath, userAvatarPath } from '../../domain/avatarUrls.ts';

/**
 * A user's avatar as an SVG: the first letter of the login on the colour the pages use for it. It is
 * made from the name alone (no lookup), so it says nothing about whether the user exists.
 */
export function avatarSvg(login: string): string {
  const letter = escapeHtml(([...login][0] ?? '?').toUpperCase());
  const colour = COLOURS[colourSlot(login) % COLOURS.length]!;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" role="img" aria-label="${escapeHtml(login)}">` +
    `<circle cx="64" cy="64" r="64" fill="${colour}"/>` +
    `<text x="64" y="64" dy="0.35em" text-anchor="middle" font-family="-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif" font-size="60" font-weight="700" fill="#fff">${letter}</text>` +
    `</svg>`
  );
}
