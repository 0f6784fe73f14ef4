// Calling a slash command's server: a signed POST to an allowed https URL, no redirect followed, a deadline each,
// tried again (a bounded number of times, soon) after a failure that may pass, the answer read as {text, response_type?}.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { limits } from '../../protocol/index.ts';
import type { Settings } from '../config.ts';
import { ruleFor, type Checked, type EndpointRule } from '../push/endpoints.ts';
import { createAgents, maxAnswerBytes, post } from '../push/request.ts';
import { signatureHeader, webhookSignature } from '../push/send.ts';

export type CommandAnswer = { readonly response_type: 'ephemeral' | 'in_channel'; readonly text: string };

/** What a command's server is sent: who ran which command where, with what words after it. */
export type CommandRequest = { command: string; text: string; conversation_id: number; username: string; command_id: number };

/** How a call ended: the answer, or why there is none; `attempts`: the POSTs it took (more than 1 after failures that may pass). */
export type CommandCall = { ok: true; answer: CommandAnswer; attempts: number } | { ok: false; problem: string; attempts: number };

/** One POST's end: a failure is `transient` when trying again may help (no answer in time or at all, a 5xx). */
type Attempt = { ok: true; answer: CommandAnswer } | { ok: false; problem: string; transient: boolean };

export type CommandCaller = {
  /**
   * POSTs the request to the command's URL, signed with its secret; after a transient failure, again
   * (`limits.commandAttempts` in all, waiting `limits.commandRetryMs`, then twice that, between them).
   */
  call(url: string, secret: string, request: CommandRequest): Promise<CommandCall>;
  close(): void;
};

/** The header that says which try a call is (1, 2, …): a command's server that acts on a call can tell a retry of one it already acted on. */
export const attemptHeader = 'Parley-Attempt';

/** A command's signing secret: its server checks `Parley-Signature` with it, so it is kept as it is. */
export const newCommandSecret = (): string => randomBytes(32).toString('base64url');

/** A URL a command may be sent to: https, no user name, password or fragment, a host COMMAND_HOSTS allows, written as a URL parser writes it. */
export function checkCommandUrl(text: string, rules: readonly EndpointRule[]): Checked<URL> {
  if (rules.length === 0) return { ok: false, error: 'this server sends slash commands nowhere (COMMAND_HOSTS is empty)' };
  if (text.length > 2048 || !URL.canParse(text)) return { ok: false, error: 'url must be an https URL' };
  const url = new URL(text);
  if (url.protocol !== 'https:') return { ok: false, error: 'url must be an https URL' };
  if (url.username || url.password || url.hash || text.includes('#')) return { ok: false, error: 'url must hold no user name, password or fragment' };
  if (!ruleFor(url, rules)) return { ok: false, error: `url host ${url.host} is not one this server sends commands to (COMMAND_HOSTS)` };
  if (url.href !== text) return { ok: false, error: `url must be written as a URL parser writes it (${JSON.stringify(url.href)})` };
  return { ok: true, value: url };
}

/** The answer's body: empty (nothing to show), or a JSON object with `text` and, optionally, `response_type`. */
function readAnswer(body: string): CommandAnswer | undefined {
  if (body.trim() === '') return { response_type: 'ephemeral', text: '' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { text, response_type = 'ephemeral' } = parsed as Record<string, unknown>;
  if (typeof text !== 'string' || (response_type !== 'ephemeral' && response_type !== 'in_channel')) return undefined;
  return { response_type, text };
}

export function createCommandCaller(settings: Pick<Settings, 'COMMAND_HOSTS' | 'COMMAND_TIMEOUT_MS'>): CommandCaller {
  const agents = createAgents(16);

  async function attempt(url: URL, secret: string, body: Buffer, number: number): Promise<Attempt> {
    const headers = {
      'Content-Type': 'application/json', [signatureHeader]: webhookSignature(secret, body, Math.floor(Date.now() / 1000)), [attemptHeader]: String(number),
    };
    let answer;
    try {
      // A redirect is an answer like any other (3xx): never followed.
      answer = await post(url, headers, body, { agents, timeoutMs: settings.COMMAND_TIMEOUT_MS });
    } catch (error) {
      return { ok: false, problem: (error as Error).message, transient: true };
    }
    if (answer.status < 200 || answer.status > 299) return { ok: false, problem: `its server answered ${answer.status}`, transient: answer.status >= 500 };
    if (Buffer.byteLength(answer.body) >= maxAnswerBytes) return { ok: false, problem: `its server answered more than ${maxAnswerBytes} bytes`, transient: false };
    const read = readAnswer(answer.body);
    if (!read) return { ok: false, problem: 'its server answered something other than JSON {"text": "...", "response_type"?: "ephemeral" | "in_channel"}', transient: false };
    return { ok: true, answer: read };
  }

  return {
    async call(url, secret, request) {
      // Checked again at each call: a host the operator has since removed is refused.
      const checked = checkCommandUrl(url, settings.COMMAND_HOSTS);
      if (!checked.ok) return { ok: false, problem: checked.error, attempts: 0 };
      const body = Buffer.from(JSON.stringify(request));
      for (let number = 1; ; number++) {
        const ended = await attempt(checked.value, secret, body, number);
        if (ended.ok) return { ok: true, answer: ended.answer, attempts: number };
        if (!ended.transient || number >= limits.commandAttempts) return { ok: false, problem: ended.problem, attempts: number };
        await sleep(limits.commandRetryMs * 2 ** (number - 1));
      }
    },
    close() {
      agents.https.destroy();
      agents.http.destroy();
    },
  };
}
