/** A firmware version such as `7.0.1`: two to four dot-separated numbers. */
export const FIRMWARE_VERSION_PATTERN = /^\d{1,3}(\.\d{1,4}){1,3}$/;

/** Compares two firmware versions numerically, part by part (`4.10` is after `4.9`). */
export function compareFirmware(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Stateful synchronization needs firmware 4.0 or later on both units. */
export const STATEFUL_SYNC_MIN_FIRMWARE = '4.0';

export function firmwareSupportsStatefulSync(version: string): boolean {
  return compareFirmware(version, STATEFUL_SYNC_MIN_FIRMWARE) >= 0;
}
