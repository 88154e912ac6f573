import { z } from 'zod';

/** Field types shared by the configuration sections. */
export const duration = z.number().int().min(0);
export const positiveDuration = z.number().int().min(1);
export const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');
export const coordinates = z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });
