/** A variable the parent process (bench/run.ts) always sets for a child; fails loudly if it is missing. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this script is started by bench/run.ts)`);
  return value;
}
