// How stored files are named and served: the display name, inline or attachment, and the headers that keep a file from running in Parley's origin.
import { isImageType } from './inspect.ts';

/** Characters a display name keeps, at most (an extension of up to 16 is kept when a longer name is cut). */
export const maxNameLength = 200;

/**
 * Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional controls
 * that make `photo‮gnp.exe` read as `photoexe.png`.
 */
const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * The name a client gave its file, fit for display and for a download's suggested name, never for a
 * path: the last segment of whatever path it came with, without unsafe characters, whitespace runs
 * made one space, at most `maxNameLength` characters. `file` when nothing is left.
 */
export function displayName(given: string): string {
  const name = given
    .replace(/[\ud800-\udfff]/gu, '\ufffd') // a lone surrogate (a `u` pattern matches pairs as one character)
    .normalize('NFC')
    .split(/[/\\]/)
    .at(-1)!
    .replace(unsafe, '')
    .replace(/\s+/gu, ' ')
    .trim();
  const characters = [...name];
  if (name === '' || name === '.' || name === '..') return 'file';
  if (characters.length <= maxNameLength) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? [...name.slice(dot)] : [];
  const keep = extension.length > 1 && extension.length <= 16 ? extension : [];
  return characters.slice(0, maxNameLength - keep.length).join('').trimEnd() + keep.join('');
}

/**
 * Shown in the page, or only ever downloaded. Inline: the images Parley decoded and re-encoded,
 * audio and video (a browser plays them and runs nothing), plain text (with nosniff it stays text).
 * Everything a browser could run or render as a document (HTML, SVG, XML, PDF) and anything unknown
 * is an attachment.
 */
export function presentation(type: string): 'inline' | 'attachment' {
  const inline = isImageType(type) || type === 'text/plain' || type.startsWith('audio/') || type.startsWith('video/');
  return inline ? 'inline' : 'attachment';
}

/** RFC 6266: an ASCII fallback for old clients, and the exact name in UTF-8 (RFC 8187). */
function contentDisposition(how: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${how}; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

/**
 * The headers of every stored file served. `nosniff`: the browser takes the type as given. The CSP's
 * `sandbox` gives a document opened from it a unique origin with no scripts, so even an HTML file
 * navigated to cannot reach Parley's cookies or pages. `private, no-cache`: kept only by the user's
 * browser, and asked again each time (a 304 while the ETag holds), so a member who is removed from
 * a conversation loses its files at once.
 */
export function fileHeaders(type: string, name: string): [string, string][] {
  const text = type === 'text/plain' ? `${type}; charset=utf-8` : type;
  return [
    ['Content-Type', text],
    ['Content-Disposition', contentDisposition(presentation(type), name)],
    ['X-Content-Type-Options', 'nosniff'],
    ['Content-Security-Policy', "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"],
    ['Cache-Control', 'private, no-cache'],
    ['Accept-Ranges', 'bytes'],
  ];
}
