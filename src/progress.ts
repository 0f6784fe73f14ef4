// Progress of long administration work, drawn on a terminal; silent when stderr is piped or redirected.

export type Progress = {
  /** `done` of `total` units of the current step; redrawn at most ten times a second. */
  update(done: number, total: number): void;
  /** Ends the step's line. */
  finish(): void;
};

type Terminal = { isTTY?: boolean; write(text: string): unknown };

const silent: Progress = { update() {}, finish() {} };

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * A progress line for one step (`label`), counting `unit`s (`bytes` are shown as sizes). Only a
 * terminal sees it: piped output (logs, scripts, cron mail) stays free of carriage returns.
 */
export function progressLine(label: string, unit: string, stream: Terminal = process.stderr, now = () => Date.now()): Progress {
  if (!stream.isTTY) return silent;
  const show = (count: number) => (unit === 'bytes' ? size(count) : `${count.toLocaleString('en')} ${unit}`);
  let drawnAt = 0;
  let last = '';
  const draw = (done: number, total: number) => {
    const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    last = `${label}: ${String(percent).padStart(3)}% (${show(done)} of ${show(total)})`;
    stream.write(`\r\x1b[2K${last}`);
  };
  let latest: [number, number] = [0, 0];
  return {
    update(done, total) {
      latest = [done, total];
      if (now() - drawnAt < 100) return;
      drawnAt = now();
      draw(done, total);
    },
    finish() {
      draw(latest[1], latest[1]);
      stream.write('\n');
    },
  };
}
