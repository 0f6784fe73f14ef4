// Serialising envelopes: `{type, success, data}` / `{type, success: false, error, code}`, with `ref` echoed.
import type { ErrorCode, PushData, PushType, Ref } from '../protocol/index.ts';

export function successText(type: string, data: unknown): string {
  return JSON.stringify({ type, success: true, data });
}

export function pushText<T extends PushType>(type: T, data: PushData<T>): string {
  return successText(type, data);
}

/** A logged event's envelope, from its already serialised data: `{type, success, data, seq}`. */
export function eventText(type: string, dataText: string, seq: number): string {
  return `{"type":${JSON.stringify(type)},"success":true,"data":${dataText},"seq":${seq}}`;
}

/** Adds `ref` to a serialised envelope, so a fan-out payload is serialised once and reused as the reply. */
export function withRef(text: string, ref: Ref | undefined): string {
  return ref === undefined ? text : `${text.slice(0, -1)},"ref":${JSON.stringify(ref)}}`;
}

export function failureText(type: string, error: string, code: ErrorCode, ref?: Ref, detail?: string): string {
  return JSON.stringify({ type, success: false, error, code, ...(detail === undefined ? {} : { detail }), ...(ref === undefined ? {} : { ref }) });
}
