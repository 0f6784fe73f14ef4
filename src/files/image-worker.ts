// A child process that cleans images for the server (src/files/images.ts): libvips' memory, its threads and any crash stay out of the server, and a job is stopped by ending the process.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import sharp, { type Sharp } from 'sharp';
import { stripMetadata } from './strip.ts';
import { thumbnailSide, type CleanImage, type ImageFormat } from './inspect.ts';

/** What the server asks: clean the image at `input` (sniffed as `limits.format`) into `output`. */
export type Job = { readonly input: string; readonly output: string; readonly limits: ImageFormat };
type Outcome =
  | { readonly kind: 'clean'; readonly image: CleanImage }
  | { readonly kind: 'undecodable' }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'too_slow' };
/** What the worker answers, with its resident memory after the job (the server retires a worker that grew). */
export type Answer = Outcome & { readonly rss: number };

/** PNG, WebP and GIF files up to this size are cleaned in memory, without decoding; larger ones are re-encoded. */
const strippedInMemory = 64 * 1024 * 1024;

/** sharp's own deadline (whole seconds, from when libvips opens the input) stops libvips where it looks; its codecs' long calls do not look, so the server also ends the process. */
const within = (image: Sharp, limits: ImageFormat) => image.timeout({ seconds: limits.seconds });
/** sharp reports a deadline passed as an error whose text begins `timeout:`. */
const timedOut = (error: unknown) => /^timeout:/m.test(String((error as Error)?.message));

async function reencode(job: Job): Promise<void> {
  const { input, output, limits } = job;
  const clean = within(sharp(input, { autoOrient: true, limitInputPixels: limits.maxPixels, failOn: 'error', animated: true }).keepIccProfile(), limits);
  // Without optimised coding a JPEG is written as it is decoded, in a few MiB, instead of held whole.
  if (limits.format === 'jpeg') await clean.jpeg({ quality: 90, optimiseCoding: false }).toFile(output);
  else if (limits.format === 'png') await clean.png().toFile(output);
  else if (limits.format === 'webp') await clean.webp({ quality: 90 }).toFile(output);
  else if (limits.format === 'gif') await clean.gif().toFile(output);
  else await clean.avif({ quality: 70, effort: 0 }).toFile(output);
}

/**
 * Writes to `output` the same image in the same format without its metadata: no EXIF (GPS position,
 * camera, time), XMP, IPTC, text or comments; only the pixels, upright, with their colour profile and
 * every frame of an animation. Answers its size and a thumbnail; `undecodable` when the bytes do not
 * decode as that format; `too_large` above the format's pixels (read from the header, before decoding).
 *
 * JPEG is re-encoded (turned upright by its EXIF orientation first; quality 90, streamed line by
 * line). PNG, WebP and GIF keep their bytes, without the chunks that carry metadata (stripMetadata):
 * re-encoding them is slow, and lossy for WebP; only one with an orientation to apply, or that does
 * not walk cleanly, is re-encoded. AVIF is re-encoded at the encoder's fastest setting.
 */
async function clean(job: Job): Promise<Outcome> {
  const { input, output, limits } = job;
  const { format } = limits;
  let meta;
  try {
    meta = await sharp(input, { animated: true, limitInputPixels: false }).metadata();
  } catch {
    return { kind: 'undecodable' };
  }
  // file-type and libvips each read the header; a file that one takes for a PNG and the other for something else is not an image.
  if (meta.format !== format || !meta.width || !meta.height) return { kind: 'undecodable' };
  if (meta.width * meta.height > limits.maxPixels) return { kind: 'too_large' };
  const orientation = meta.orientation ?? 1;
  try {
    const strippable = (format === 'png' || format === 'webp' || format === 'gif') && orientation === 1 && (await stat(input)).size <= strippedInMemory;
    const stripped = strippable ? stripMetadata(format, await readFile(input)) : undefined;
    if (stripped) await writeFile(output, stripped, { flag: 'wx', mode: 0o600 });
    else await reencode(job);
    const thumbnail = await within(sharp(output, { autoOrient: true, limitInputPixels: limits.maxPixels, failOn: 'error' }), limits)
      .resize(thumbnailSide, thumbnailSide, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 70 })
      .toBuffer({ resolveWithObject: true });
    const frameHeight = meta.pageHeight ?? meta.height;
    const quarterTurn = orientation >= 5; // EXIF orientations 5–8 turn the image a quarter
    return {
      kind: 'clean',
      image: {
        width: quarterTurn ? frameHeight : meta.width,
        height: quarterTurn ? meta.width : frameHeight,
        thumbnail: { data: thumbnail.data, width: thumbnail.info.width, height: thumbnail.info.height },
      },
    };
  } catch (error) {
    if (timedOut(error)) return { kind: 'too_slow' };
    return { kind: 'undecodable' };
  }
}

if (process.send) {
  // Each upload is new: libvips' cache of operations would only hold memory.
  sharp.cache(false);
  // One libvips thread per image (glibc's allocator fragments with more): the server runs few images at once.
  sharp.concurrency(1);
  // The chat comes first: image work gets the CPU it leaves (where the system lets a process lower its own priority).
  try {
    setPriority(10);
  } catch {
    // a seccomp filter without setpriority: the worker runs at the server's priority
  }
  // Once the server is gone (stopped, or killed), so is its worker.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (job: Job) => {
    void clean(job).then((answer) => process.send!({ ...answer, rss: process.memoryUsage().rss }));
  });
  process.send({ ready: true });
}
